"""``spikerec data encode``: folders and CSVs of recordings -> SHD-layout files that info, train and eval accept;
speaker-disjoint splits; unreadable files named (or skipped and counted); the espeak-ng speech set."""

from __future__ import annotations

import csv
import json
import shutil
import sys

import numpy as np
import pytest
import soundfile

from spikerec.cli import main
from spikerec.datasets import build_frame_datasets, dataset_info, load_events
from spikerec.datasets.audio import CochleaConfig, encode_audio_dataset, read_audio, read_manifest, split_items
from spikerec.errors import ConfigError, DataError

SMALL = CochleaConfig(n_units=100, fibres_per_place=5, f_min_hz=100.0, f_max_hz=5000.0)
CLASSES = {"high": 2500.0, "low": 300.0}


def _tone(freq, seconds, rate, rng):
    t = np.arange(int(seconds * rate)) / rate
    return 0.5 * np.sin(2 * np.pi * freq * (1 + 0.03 * rng.standard_normal()) * t) + 0.01 * rng.standard_normal(len(t))


@pytest.fixture()
def recordings(tmp_path):
    """Two classes x 5 speakers x 2 takes of 0.12 s tones: wav (int16, 22.05 kHz) and flac (16 kHz)."""
    rng = np.random.default_rng(0)
    root = tmp_path / "rec"
    for name, freq in CLASSES.items():
        (root / name).mkdir(parents=True)
        for spk in range(5):
            for take in range(2):
                if take == 0:
                    soundfile.write(root / name / f"spk{spk}_{take}.wav", _tone(freq, 0.12, 22050, rng), 22050,
                                    subtype="PCM_16")
                else:
                    soundfile.write(root / name / f"spk{spk}_{take}.flac", _tone(freq, 0.12, 16000, rng), 16000)
    return root


def test_folder_to_shd_files_with_disjoint_speakers(recordings, tmp_path):
    out = tmp_path / "enc"
    summary = encode_audio_dataset(recordings, out, config=SMALL, speaker_from="prefix", test_fraction=0.2,
                                   progress=False)
    assert summary["samples"] == {"train": 16, "test": 4} and summary["skipped"] == 0
    assert summary["class_names"] == ["high", "low"] and summary["speakers"] == 5
    train, test = load_events(out / "shd_train.h5", n_channels=100), load_events(out / "shd_test.h5", n_channels=100)
    assert set(train.speakers).isdisjoint(test.speakers)
    assert train.class_names == ["high", "low"]
    info = dataset_info(out / "shd_test.h5", n_channels=100)
    assert info["samples"] == 4 and info["speakers"] == 1 and info["duration_ms"]["max"] < 120.0
    # the tone classes land on different places: low tones on high unit indices (apex), high tones near the base
    for label, events in ((0, train), (1, train)):
        rows = np.flatnonzero(events.labels == label)
        units = np.concatenate([events.sample(r)[1] for r in rows])
        median = np.median(units)
        assert (median < 50) if label == 0 else (median > 50)
    prov = json.loads((out / "shd_encoding.json").read_text())
    assert len(prov["unit_cf_hz"]) == 100 and prov["config"]["n_units"] == 100
    assert sorted(prov["split_members"]) == ["test", "train"]


def test_same_result_with_two_workers(recordings, tmp_path):
    a = encode_audio_dataset(recordings, tmp_path / "a", config=SMALL, progress=False)
    b = encode_audio_dataset(recordings, tmp_path / "b", config=SMALL, progress=False, workers=2)
    assert a["samples"] == b["samples"]
    ea, eb = load_events(tmp_path / "a" / "shd_train.h5", 100), load_events(tmp_path / "b" / "shd_train.h5", 100)
    np.testing.assert_array_equal(ea.times_ms, eb.times_ms)
    np.testing.assert_array_equal(ea.units, eb.units)


def test_unreadable_file_is_named_or_skipped_and_counted(recordings, tmp_path):
    bad = recordings / "low" / "spk9_0.wav"
    bad.write_bytes(b"RIFF this is not a wav file")
    soundfile.write(recordings / "high" / "spk9_1.wav", np.zeros(1), 16000)  # one sample: too short for any spike
    with pytest.raises(DataError, match=r"spk9_\d"):  # the first bad file in order is named
        encode_audio_dataset(recordings, tmp_path / "x", config=SMALL, progress=False)
    summary = encode_audio_dataset(recordings, tmp_path / "y", config=SMALL, on_error="skip", progress=False)
    assert summary["skipped"] == 2
    assert any("spk9_0.wav" in k for k in summary["skipped_files"])
    assert any("no spikes" in v for v in summary["skipped_files"].values())
    assert sum(summary["samples"].values()) == 20


def test_csv_manifest_labels_and_ssc_splits(recordings, tmp_path):
    manifest = tmp_path / "m.csv"
    with open(manifest, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["path", "label", "speaker"])
        for f in sorted(recordings.rglob("*.*")):
            w.writerow([f.relative_to(tmp_path), f.parent.name, f.stem.split("_")[0]])
        w.writerow([(recordings / "low" / "spk0_0.wav").relative_to(tmp_path), "other", "spk0"])
    m = read_manifest(manifest, labels=["low", "high"])
    assert m.class_names == ["low", "high"] and m.excluded == 1 and m.has_speakers
    splits, how = split_items(m, "ssc", test_fraction=0.2, valid_fraction=0.2, seed=1)
    assert "disjoint speakers" in how and sorted(splits) == ["test", "train", "valid"]
    spk = np.array([it.speaker for it in m.items])
    assert len({frozenset(spk[v]) for v in splits.values()}) == 3
    for a in splits:
        for b in splits:
            if a != b:
                assert set(spk[splits[a]]).isdisjoint(spk[splits[b]])
    summary = encode_audio_dataset(manifest, tmp_path / "ssc", name="ssc", config=SMALL, labels=["low", "high"],
                                   valid_fraction=0.2, progress=False)
    assert sorted(summary["files"]) == ["test", "train", "valid"] and summary["excluded_by_labels"] == 1
    with pytest.raises(DataError, match="nope"):
        read_manifest(manifest, labels=["low", "nope"])
    with open(manifest, "a", newline="") as fh:  # one recording without a speaker: the split cannot keep speakers apart
        csv.writer(fh).writerow([(recordings / "low" / "spk1_0.wav").relative_to(tmp_path), "low", ""])
    with pytest.raises(DataError, match="no speaker"):
        read_manifest(manifest)


def test_split_without_speakers_is_class_stratified(recordings):
    m = read_manifest(recordings)
    assert not m.has_speakers
    splits, how = split_items(m, "shd", test_fraction=0.2)
    labels = np.array([m.class_names.index(it.label) for it in m.items])
    assert "stratified" in how and np.bincount(labels[splits["test"]]).tolist() == [2, 2]
    with pytest.raises(ConfigError):
        split_items(m, "shd", test_fraction=1.5)


def test_speaker_regex_must_match(recordings):
    with pytest.raises(DataError, match="does not match"):
        read_manifest(recordings, speaker_from=r"^speaker(\d+)")
    m = read_manifest(recordings, speaker_from=r"spk(\d)")
    assert {it.speaker for it in m.items} == {"0", "1", "2", "3", "4"}


def test_read_audio_mono_mixdown_and_scipy_fallback(tmp_path, monkeypatch):
    stereo = np.stack([np.full(100, 0.5), np.full(100, -0.25)], axis=1)
    soundfile.write(tmp_path / "s.wav", stereo, 8000, subtype="PCM_16")
    x, rate = read_audio(tmp_path / "s.wav")
    assert rate == 8000 and x.shape == (100,)
    np.testing.assert_allclose(x, 0.125, atol=1e-4)
    monkeypatch.setitem(sys.modules, "soundfile", None)  # as if soundfile were not installed
    y, rate = read_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(y, x, atol=1e-4)
    (tmp_path / "a.flac").write_bytes(b"fLaC")
    with pytest.raises(DataError, match="soundfile"):
        read_audio(tmp_path / "a.flac")
    with pytest.raises(DataError, match="not found"):
        read_audio(tmp_path / "missing.wav")


def test_cli_encode_then_info_train_eval(recordings, tmp_path, capsys):
    out, run = tmp_path / "enc", tmp_path / "run"
    rc = main(["data", "encode", "--audio", str(recordings), "--out", str(out), "--speaker-from", "prefix",
               "--channels", "100", "--fibres", "5", "--json"])
    assert rc == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert result["samples"]["train"] + result["samples"]["test"] == 20 and result["channels"] == 100
    assert main(["data", "info", str(out / "shd_train.h5"), "--channels", "100", "--json"]) == 0
    capsys.readouterr()
    # 100 units < 700: the readers and recipes take the file as it is (the unused units stay silent)
    ds = build_frame_datasets(out, "shd", bin_ms=10.0, pool=5, cache_dir=False)
    assert ds["train"].n_channels == 140 and ds["test"].n_classes == 2
    assert main(["train", "--recipe", "synthetic", "--data", str(out), "--out", str(run), "--epochs", "1",
                 "--set", "model.hidden_sizes=[8]", "--set", "train.batch_size=8", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["eval", str(run), "--data", str(out), "--batch-size", "1", "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    summary = json.loads((run / "summary.json").read_text())  # the trainer's test score of the selected model
    assert report["accuracy"] == summary["test_accuracy"] and report["n"] == result["samples"]["test"]


def test_cli_names_an_unreadable_file(recordings, tmp_path, capsys):
    (recordings / "low" / "broken.flac").write_bytes(b"\x00" * 64)
    rc = main(["data", "encode", "--audio", str(recordings), "--out", str(tmp_path / "o"), "--channels", "100"])
    assert rc == 2 and "broken.flac" in capsys.readouterr().err
    rc = main(["data", "encode", "--audio", str(recordings), "--out", str(tmp_path / "o"), "--channels", "100",
               "--skip-bad", "--json"])
    assert rc == 0 and json.loads(capsys.readouterr().out.strip().splitlines()[-1])["skipped"] == 1


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed")
def test_espeak_speech_set(tmp_path):
    from spikerec.datasets.audio.speechset import build_speech_set

    summary = build_speech_set(tmp_path / "wav", n_speakers=2, words=["yes", "no"], seed=0)
    assert summary["recordings"] == 4
    rows = list(csv.DictReader(open(tmp_path / "wav" / "manifest.csv")))
    assert {r["label"] for r in rows} == {"yes", "no"} and len({r["speaker"] for r in rows}) == 2
    x, rate = read_audio(tmp_path / "wav" / rows[0]["path"])
    assert rate == 22050 and 0.2 < len(x) / rate < 2.0 and np.abs(x).max() <= 0.9 + 1e-3
