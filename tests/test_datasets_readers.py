"""SHD/SSC reader: official layout round trip, bad input -> DataError naming file and sample, skip mode, fork safety."""

from __future__ import annotations

import os
import pickle

import h5py
import numpy as np
import pytest
import torch

from spikerec.datasets.readers import SpikeFile, load_events
from spikerec.datasets.tonic_interop import TonicEvents
from spikerec.datasets.writers import write_spike_file
from spikerec.errors import DataError


def _write(path, times, units, labels, names=("a", "b", "c"), speakers=None):
    write_spike_file(path, times, units, labels, speakers=speakers, class_names=list(names))
    return path


def _good(n=5):
    rng = np.random.default_rng(0)
    times = [np.sort(rng.uniform(0, 0.5, 20 + i)) for i in range(n)]
    units = [rng.integers(0, 700, 20 + i) for i in range(n)]
    return times, units, [i % 3 for i in range(n)]


def test_round_trip_official_layout(tmp_path):
    times, units, labels = _good()
    path = _write(tmp_path / "shd_train.h5", times, units, labels, speakers=[7, 7, 8, 8, 9])
    with h5py.File(path, "r") as f:  # the exact official dtypes: ragged float16 seconds, ragged uint16 units
        assert f["spikes/times"].dtype.metadata["vlen"] == np.float16
        assert f["spikes/units"].dtype.metadata["vlen"] == np.uint16
        assert set(f["extra"].keys()) == {"keys", "speaker"}
    ev = load_events(path)
    assert len(ev) == 5 and ev.class_names == ["a", "b", "c"]
    for i in range(5):
        t, u = ev.sample(i)
        # float16 -> float64 before scaling: exactly the stored value times 1000
        np.testing.assert_array_equal(t, times[i].astype(np.float16).astype(np.float64) * 1000.0)
        np.testing.assert_array_equal(u, units[i])
    np.testing.assert_array_equal(ev.speakers, [7, 7, 8, 8, 9])
    f = SpikeFile(path)
    t, u, y = f.sample(3)
    np.testing.assert_array_equal(t, ev.sample(3)[0])
    assert y == 0 and len(f) == 5 and f.n_classes == 3


BAD_SAMPLES = {
    "units >= channels": (lambda t, u, y: u[2].__setitem__(0, 700), "unit >= channel count"),
    "negative time": (lambda t, u, y: t[2].__setitem__(0, -0.1), "negative, NaN"),
    "NaN time": (lambda t, u, y: t[2].__setitem__(1, np.nan), "negative, NaN"),
    "label out of range": (lambda t, u, y: y.__setitem__(2, 3), "out of range"),
    "mismatched lengths": (lambda t, u, y: u.__setitem__(2, u[2][:-1]), "units"),
    "empty sample": (lambda t, u, y: (t.__setitem__(2, t[2][:0]), u.__setitem__(2, u[2][:0])), "empty"),
}


@pytest.mark.parametrize("case", sorted(BAD_SAMPLES))
def test_bad_sample_names_file_and_index_or_is_counted(tmp_path, case):
    times, units, labels = _good()
    corrupt, message = BAD_SAMPLES[case]
    corrupt(times, units, labels)
    path = _write(tmp_path / "bad.h5", times, units, labels)
    with pytest.raises(DataError, match=message) as err:
        load_events(path)
    assert err.value.sample == 2 and err.value.path == str(path) and "sample 2" in str(err.value)
    with pytest.raises(DataError, match=message):
        SpikeFile(path).sample(2)
    ev = load_events(path, on_error="skip")  # opt-in: counted, reported, rest intact
    assert ev.skipped.count == 1 and 2 in ev.skipped.reasons and "skipped 1" in ev.skipped.summary()
    np.testing.assert_array_equal(ev.index, [0, 1, 3, 4])
    good = load_events(_write(tmp_path / "good.h5", *_good()))
    for row, i in enumerate(ev.index):
        np.testing.assert_array_equal(ev.sample(row)[0], good.sample(i)[0])
        np.testing.assert_array_equal(ev.sample(row)[1], good.sample(i)[1])


def test_file_level_errors(tmp_path):
    with pytest.raises(DataError, match="not found"):
        SpikeFile(tmp_path / "missing.h5")
    text = tmp_path / "notes.h5"
    text.write_text("not an hdf5 file")
    with pytest.raises(DataError, match="not a readable HDF5") as err:
        load_events(text)
    assert err.value.path == str(text)
    full = _write(tmp_path / "full.h5", *_good(50))
    cut = tmp_path / "cut.h5"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    with pytest.raises(DataError, match="truncated|damaged") as err:
        load_events(cut)
    assert err.value.path == str(cut)
    nolabels = tmp_path / "nolabels.h5"
    with h5py.File(nolabels, "w") as f:
        f.create_dataset("spikes/times", data=np.empty(0, object), dtype=h5py.vlen_dtype(np.float16))
        f.create_dataset("spikes/units", data=np.empty(0, object), dtype=h5py.vlen_dtype(np.uint16))
    with pytest.raises(DataError, match="missing dataset 'labels'"):
        load_events(nolabels)


def test_handle_reopens_after_fork_and_pickles(tmp_path):
    path = _write(tmp_path / "f.h5", *_good())
    f = SpikeFile(path)
    first = f.sample(0)
    f._pid = -1  # as seen from a forked worker: the handle belongs to another process
    old = f._file
    np.testing.assert_array_equal(f.sample(0)[0], first[0])
    assert f._file is not old and f._pid == os.getpid()
    clone = pickle.loads(pickle.dumps(f))  # spawn start method: no handle travels
    assert clone._file is None and clone.sample(1)[2] == 1


def test_multiworker_dataloader_reads_every_sample(tmp_path):
    times, units, labels = _good(12)
    path = _write(tmp_path / "f.h5", times, units, labels)
    ds = TonicEvents(path)
    loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=2, collate_fn=lambda item: item)
    got = sorted((int(ev["t"][0]), len(ev), y) for ev, y in loader)
    want = sorted((int(np.rint(times[i].astype(np.float16).astype(np.float64).min() * 1e6)), len(times[i]), labels[i]) for i in range(12))
    assert got == want


def test_compensating_length_mismatches_do_not_misattribute_errors(tmp_path):
    times, units, labels = _good(6)
    times[1] = np.append(times[1], 0.4)  # one time too many ...
    units[2] = units[2][:-1]  # ... one unit too few: the flat arrays still have equal length
    units[4][0] = 900
    path = _write(tmp_path / "f.h5", times, units, labels)
    ev = load_events(path, on_error="skip")
    assert sorted(ev.skipped.reasons) == [1, 2, 4] and "unit" in ev.skipped.reasons[4]
    np.testing.assert_array_equal(ev.index, [0, 3, 5])
    np.testing.assert_array_equal(ev.sample(1)[1], units[3])


def test_info_reports_skipped_samples(tmp_path):
    from spikerec.datasets.info import dataset_info

    times, units, labels = _good(6)
    times[4][0] = np.nan
    path = _write(tmp_path / "f.h5", times, units, labels, speakers=[1, 1, 2, 2, 3, 3])
    with pytest.raises(DataError, match="sample 4"):
        dataset_info(path)
    info = dataset_info(path, on_error="skip")
    assert info["samples"] == 5 and info["skipped"] == 1 and "4" in info["skipped_samples"]
    assert info["spikes_total"] == sum(len(t) for i, t in enumerate(times) if i != 4) and info["speakers"] == 3
    assert info["label_histogram"] == {"0": 2, "1": 1, "2": 2}
