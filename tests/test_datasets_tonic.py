"""tonic interop: events in tonic's format (t in µs), tonic transforms on our files, tonic data into our binning."""

from __future__ import annotations

import numpy as np
import pytest

from spikerec.datasets import bin_ragged, load_events, synthesize
from spikerec.datasets.tonic_interop import TONIC_DTYPE, TonicEvents, from_tonic_events, ragged_from_tonic, to_tonic_events
from spikerec.errors import DataError

tonic = pytest.importorskip("tonic")


def test_round_trip_and_dtype():
    t = np.array([3.5, 0.25, 1000.0])
    ev = to_tonic_events(t, np.array([5, 1, 699]))
    assert ev.dtype == TONIC_DTYPE and ev["t"].tolist() == [250, 3500, 1_000_000] and ev["x"].tolist() == [1, 5, 699]
    back_t, back_u = from_tonic_events(ev)
    np.testing.assert_array_equal(back_t, [0.25, 3.5, 1000.0])
    np.testing.assert_array_equal(back_u, [1, 5, 699])
    with pytest.raises(DataError):
        from_tonic_events(np.zeros(3, dtype=[("t", int), ("p", int)]))


def test_tonic_transforms_work_on_our_files(tmp_path):
    paths = synthesize("shd", tmp_path, n_train=20, n_test=5, seed=0)
    to_frame = tonic.transforms.ToFrame(sensor_size=TonicEvents.sensor_size, time_window=10_000)
    ds = TonicEvents(paths["test"], transform=tonic.transforms.Compose([tonic.transforms.CropTime(max=400_000),
                                                                        to_frame]))
    frames, label = ds[0]
    assert frames.ndim == 3 and frames.shape[1:] == (1, 700) and label == load_events(paths["test"]).labels[0]
    # tonic's own dataset code path: data -> our ragged arrays -> our binning == binning our file directly
    raw = TonicEvents(paths["train"])
    ragged = ragged_from_tonic(raw)
    direct = load_events(paths["train"])
    a = bin_ragged(ragged.times_ms, ragged.units, ragged.offsets, 700, 10.0)
    b = bin_ragged(direct.times_ms, direct.units, direct.offsets, 700, 10.0)
    np.testing.assert_array_equal(a.frames, b.frames)
    np.testing.assert_array_equal(ragged.labels, direct.labels)
