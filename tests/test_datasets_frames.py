"""build_frame_datasets / FrameDataset / pad_collate: API contract, validation splits, cache keying."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch

from spikerec.datasets import WindowCollate, build_frame_datasets, load_events, pad_collate, synthesize
from spikerec.datasets.binning import bin_events
from spikerec.datasets.cache import cache_key
from spikerec.datasets.writers import write_spike_file
from spikerec.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def shd_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("shd")
    synthesize("shd", d, n_train=120, n_test=40, seed=1)
    return d


def test_contract_shapes_and_values(shd_dir, tmp_path):
    ds = build_frame_datasets(shd_dir, "shd", bin_ms=10.0, pool=5, cache_dir=tmp_path / "c")
    assert set(ds) == {"train", "val", "test"}
    assert len(ds["train"]) + len(ds["val"]) == 120 and len(ds["test"]) == 40
    for d in ds.values():
        assert d.n_channels == 140 and d.n_classes == 20 and "shd_train.h5" in d.val_source
    x, y = ds["test"][3]
    assert x.dtype == torch.float32 and x.ndim == 2 and x.shape[1] == 140 and isinstance(y, int)
    ev = load_events(shd_dir / "shd_test.h5")  # same frames as binning the raw events directly
    t, u = ev.sample(3)
    np.testing.assert_array_equal(x.numpy(), bin_events(t, u, 700, 10.0, pool=5))
    assert y == ev.labels[3]


def test_pad_collate():
    batch = [(torch.ones(3, 4), 1), (torch.full((5, 4), 2.0), 0)]
    frames, labels, window, lengths = pad_collate(batch)
    assert frames.shape == (5, 2, 4) and frames.dtype == torch.float32
    assert labels.tolist() == [1, 0] and labels.dtype == torch.long and lengths.tolist() == [3, 5]
    assert window.tolist() == [3, 5]  # no drain
    assert frames[:3, 0].eq(1).all() and frames[3:, 0].eq(0).all() and frames[:, 1].eq(2).all()


def test_window_collate_adds_the_drain_and_crops_or_pads_a_fixed_duration():
    batch = [(torch.ones(3, 4), 1), (torch.full((5, 4), 2.0), 0)]
    b = WindowCollate(drain_steps=4)(batch)
    assert b.lengths.tolist() == [3, 5] and b.window.tolist() == [7, 9] and b.frames.shape == (9, 2, 4)
    assert b.frames[:3, 0].eq(1).all() and b.frames[3:, 0].eq(0).all()
    assert b.frames[:5, 1].eq(2).all() and b.frames[5:, 1].eq(0).all()
    fixed = WindowCollate(drain_steps=2, fixed_steps=4)(batch)
    assert fixed.lengths.tolist() == [4, 4] and fixed.window.tolist() == [6, 6] and fixed.frames.shape == (6, 2, 4)
    assert fixed.frames[:3, 0].eq(1).all() and fixed.frames[3:, 0].eq(0).all()  # padded to 4 frames
    assert fixed.frames[:4, 1].eq(2).all() and fixed.frames[4:, 1].eq(0).all()  # cropped to 4 frames
    with pytest.raises(ConfigError):
        WindowCollate(drain_steps=-1)


def test_dataloader_with_workers(shd_dir, tmp_path):
    ds = build_frame_datasets(shd_dir, "shd", pool=5, binary=True, cache_dir=tmp_path / "c")
    loader = torch.utils.data.DataLoader(ds["val"], batch_size=4, num_workers=2, collate_fn=pad_collate)
    seen = 0
    for frames, labels, window, lengths in loader:
        assert frames.shape[1:] == (len(labels), 140) and frames.max() <= 1 and frames.shape[0] == lengths.max()
        assert window.equal(lengths)
        seen += len(labels)
    assert seen == len(ds["val"])


def test_pickles_without_copying_the_memory_map(shd_dir, tmp_path):
    ds = build_frame_datasets(shd_dir, "shd", pool=5, cache_dir=tmp_path / "c")["val"]
    blob = pickle.dumps(ds)  # what a spawned DataLoader worker receives
    assert len(blob) < 100_000 < ds.frames.nbytes
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone[2][0], ds[2][0])
    assert clone[2][1] == ds[2][1] and clone.val_source == ds.val_source


def test_validation_splits(shd_dir, tmp_path):
    cache = tmp_path / "c"
    a = build_frame_datasets(shd_dir, val_fraction=0.25, seed=3, cache_dir=cache)
    b = build_frame_datasets(shd_dir, val_fraction=0.25, seed=3, cache_dir=cache)
    c = build_frame_datasets(shd_dir, val_fraction=0.25, seed=4, cache_dir=cache)
    assert np.array_equal(a["val"].rows, b["val"].rows) and not np.array_equal(a["val"].rows, c["val"].rows)
    assert not set(a["val"].rows) & set(a["train"].rows)
    assert abs(len(a["val"]) - 30) <= 5 and len(set(a["val"].labels)) == 20  # stratified
    sp = build_frame_datasets(shd_dir, val_by="speaker", val_fraction=0.2, cache_dir=cache)
    assert not set(sp["val"].speakers) & set(sp["train"].speakers) and "speakers" in sp["val"].val_source
    te = build_frame_datasets(shd_dir, val_by="test", cache_dir=cache)
    assert len(te["val"]) == 40 and "TEST" in te["val"].val_source and len(te["train"]) == 120
    with pytest.raises(ConfigError):
        build_frame_datasets(shd_dir, val_fraction=0.0, cache_dir=cache)


def test_ssc_uses_official_valid_file(tmp_path):
    synthesize("ssc", tmp_path, n_train=70, n_valid=35, n_test=35, seed=0)
    ds = build_frame_datasets(tmp_path, "ssc", pool=7, cache_dir=False)
    assert (len(ds["train"]), len(ds["val"]), len(ds["test"])) == (70, 35, 35)
    assert ds["val"].n_classes == 35 and ds["val"].n_channels == 100 and "ssc_valid.h5" in ds["val"].val_source


def test_missing_files_say_what_to_do(tmp_path):
    with pytest.raises(DataError, match="spikerec data download"):
        build_frame_datasets(tmp_path, "shd")


def test_cache_hits_and_can_never_be_stale(tmp_path):
    d = tmp_path / "data"
    synthesize("delay-motifs", d, n_train=30, n_test=10, seed=0)
    cache = tmp_path / "cache"
    first = build_frame_datasets(d, bin_ms=5.0, cache_dir=cache)
    files = sorted(os.listdir(cache))
    assert len(files) == 4  # frames + index for train and test
    again = build_frame_datasets(d, bin_ms=5.0, cache_dir=cache)
    assert sorted(os.listdir(cache)) == files
    np.testing.assert_array_equal(again["test"][0][0], first["test"][0][0])
    build_frame_datasets(d, bin_ms=5.0, pool=2, cache_dir=cache)  # any parameter change -> new entry
    assert len(os.listdir(cache)) == 8
    # Rewrite the test file with different content but the same size and mtime: the cache must notice.
    path = d / "shd_test.h5"
    stat = path.stat()
    ev = load_events(path)
    mirrored = [(ev.sample(i)[0].max() - ev.sample(i)[0]) / 1000.0 for i in range(len(ev))]  # same sizes
    write_spike_file(path, mirrored, [ev.sample(i)[1] for i in range(len(ev))], ev.labels, ev.speakers,
                     ev.class_names)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_size == stat.st_size and path.stat().st_mtime_ns == stat.st_mtime_ns
    fresh = build_frame_datasets(d, bin_ms=5.0, cache_dir=cache)
    x = fresh["test"][0][0].numpy()
    t, u = load_events(path).sample(0)
    np.testing.assert_array_equal(x, bin_events(t, u, 700, 5.0))
    old = first["test"][0][0].numpy()
    assert x.shape != old.shape or not np.array_equal(x, old)


def test_cache_key_covers_parameters(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc")
    base = {"bin_ms": 10.0, "pool": 1}
    assert cache_key(f, base) == cache_key(f, dict(base))
    assert cache_key(f, base) != cache_key(f, {**base, "pool": 5})
    before = cache_key(f, base)
    f.write_bytes(b"abd")  # same size, new content
    assert cache_key(f, base) != before


def test_block_wise_build_equals_one_block_and_keeps_file_indices(shd_dir, tmp_path, monkeypatch):
    from spikerec.datasets import frames as frames_mod

    src = load_events(shd_dir / "shd_test.h5")
    times = [src.sample(i)[0] / 1000.0 for i in range(len(src))]
    units = [src.sample(i)[1].copy() for i in range(len(src))]
    units[23][0] = 701  # a bad sample in a later block
    path = tmp_path / "shd_test.h5"
    write_spike_file(path, times, units, src.labels, src.speakers, src.class_names)
    with pytest.warns(UserWarning, match="skipped 1 bad sample"):  # reported, not silent
        whole = frames_mod.load_frames(path, pool=5, on_error="skip")
    monkeypatch.setattr(frames_mod, "BLOCK_SAMPLES", 7)
    with pytest.warns(UserWarning, match="skipped 1 bad sample"):
        blocks = frames_mod.load_frames(path, pool=5, on_error="skip")
    np.testing.assert_array_equal(blocks.frames, whole.frames)
    np.testing.assert_array_equal(blocks.offsets, whole.offsets)
    np.testing.assert_array_equal(blocks.labels, whole.labels)
    assert list(blocks.skipped) == [23] and 23 not in blocks.index and len(blocks.index) == len(src) - 1
    with pytest.raises(DataError) as err:
        frames_mod.load_frames(path, pool=5)
    assert err.value.sample == 23


def test_unwritable_or_damaged_cache_falls_back_to_correct_frames(shd_dir, tmp_path):
    from spikerec.datasets.frames import load_frames

    reference = load_frames(shd_dir / "shd_test.h5", pool=5)
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.warns(UserWarning, match="could not write the frame cache"):
        entry = load_frames(shd_dir / "shd_test.h5", pool=5, cache_dir=blocker / "cache")
    np.testing.assert_array_equal(entry.frames, reference.frames)
    cache = tmp_path / "cache"
    load_frames(shd_dir / "shd_test.h5", pool=5, cache_dir=cache)
    (index,) = cache.glob("*.index.npz")
    index.write_bytes(b"garbage")
    again = load_frames(shd_dir / "shd_test.h5", pool=5, cache_dir=cache)
    assert not again.from_cache
    np.testing.assert_array_equal(again.frames, reference.frames)
    assert load_frames(shd_dir / "shd_test.h5", pool=5, cache_dir=cache).from_cache
