"""Synthetic generators and the `spikerec data` CLI."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest

from spikerec.cli import main
from spikerec.datasets import load_events, synthesize
from spikerec.datasets.synthetic import _DelayMotifs
from spikerec.errors import ConfigError


def test_deterministic_official_layout_and_disjoint_speakers(tmp_path):
    a = synthesize("shd", tmp_path / "a", n_train=60, n_test=20, seed=5)
    b = synthesize("shd", tmp_path / "b", n_train=60, n_test=20, seed=5)
    c = synthesize("shd", tmp_path / "c", n_train=60, n_test=20, seed=6)
    assert a["train"].name == "shd_train.h5" and a["test"].name == "shd_test.h5"
    ea, eb, ec = (load_events(p["train"]) for p in (a, b, c))
    np.testing.assert_array_equal(ea.times_ms, eb.times_ms)
    np.testing.assert_array_equal(ea.units, eb.units)
    assert len(ea.times_ms) != len(ec.times_ms) or not np.array_equal(ea.times_ms, ec.times_ms)
    with h5py.File(a["train"], "r") as f:
        assert f["spikes/times"].dtype.metadata["vlen"] == np.float16
        assert f["spikes/units"].dtype.metadata["vlen"] == np.uint16
        assert len(f["extra/keys"]) == 20
    test = load_events(a["test"])
    assert not set(ea.speakers) & set(test.speakers)
    assert ea.units.max() < 700 and ea.times_ms.min() >= 0


def test_shd_needs_temporal_order(tmp_path):
    """Classes 2k and 2k+1 use the same phonemes in reverse order: similar channel histograms."""
    p = synthesize("shd", tmp_path, n_train=400, n_test=20, seed=0)
    ev = load_events(p["train"])
    hist = np.stack([np.bincount(ev.units[ev.offsets[i]:ev.offsets[i + 1]], minlength=700) for i in range(len(ev))])
    mean = np.stack([hist[ev.labels == c].mean(0) for c in range(20)])
    corr = np.corrcoef(mean)
    paired = np.mean([corr[2 * k, 2 * k + 1] for k in range(10)])
    other = np.mean([corr[i, j] for i in range(20) for j in range(20) if i != j and i // 2 != j // 2])
    assert paired > 0.9 and other < paired - 0.2


def test_ssc_splits_and_delay_motifs_counts(tmp_path):
    s = synthesize("ssc", tmp_path / "ssc", n_train=70, n_valid=35, n_test=35)
    assert sorted(s) == ["test", "train", "valid"]
    speakers = [set(load_events(s[k]).speakers) for k in ("train", "valid", "test")]
    assert not (speakers[0] & speakers[1] or speakers[0] & speakers[2] or speakers[1] & speakers[2])
    assert load_events(s["train"]).class_names.__len__() == 35
    m = synthesize("delay-motifs", tmp_path / "dm", n_train=400, n_test=40, seed=0)
    ev = load_events(m["train"])
    # only timing differs: total spike counts have the same distribution in every class
    counts = np.diff(ev.offsets)
    per_class = np.array([counts[ev.labels == c].mean() for c in range(8)])
    assert per_class.std() / per_class.mean() < 0.05
    # ... but the relative timing of the group volleys is fixed within a class and differs between classes
    groups = _DelayMotifs.group_channels_for(700)
    rel = []
    for i in range(len(ev)):
        t, u = ev.times_ms[ev.offsets[i]:ev.offsets[i + 1]], ev.units[ev.offsets[i]:ev.offsets[i + 1]]
        med = np.array([np.median(t[np.isin(u, g)]) for g in groups])
        rel.append(med - med.min())
    rel = np.array(rel)
    means = np.stack([rel[ev.labels == c].mean(0) for c in range(8)])
    assert max(rel[ev.labels == c].std(0).max() for c in range(8)) < 5.0
    assert min(np.abs(means[i] - means[j]).max() for i in range(8) for j in range(i)) > 30.0
    with pytest.raises(ConfigError):
        synthesize("delay-motifs", tmp_path / "x", n_classes=25)
    with pytest.raises(ConfigError):
        synthesize("shd", tmp_path / "x", n_valid=3)


def test_cli_synth_info_bin(tmp_path, capsys):
    assert main(["data", "synth", "--kind", "shd", "--out", str(tmp_path), "--train", "40", "--test", "10",
                 "--classes", "4", "--seed", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["files"]["train"].endswith("shd_train.h5")
    assert main(["data", "info", str(tmp_path / "shd_train.h5"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert info["samples"] == 40 and info["classes"] == 4 and info["channels"] == 700
    assert sum(info["label_histogram"].values()) == 40
    sp = info["spikes_per_sample"]
    assert 0 < sp["min"] <= sp["median"] <= sp["max"] and info["duration_ms"]["max"] > 0
    assert main(["data", "info", str(tmp_path / "shd_test.h5")]) == 0
    assert "samples" in capsys.readouterr().out
    assert main(["data", "bin", str(tmp_path / "shd_test.h5"), "--pool", "5", "--json"]) == 0
    binned = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert binned["samples"] == 10 and binned["channels"] == 140
    (tmp_path / "junk.h5").write_text("junk")
    assert main(["data", "info", str(tmp_path / "junk.h5")]) == 2
    assert "junk.h5" in capsys.readouterr().err
