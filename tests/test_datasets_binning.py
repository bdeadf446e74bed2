"""Binning: fuzzed against a plain reference loop, spike conservation, pooling equivalence, tonic ToFrame parity."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spikerec.datasets.binning import bin_events, bin_ragged
from spikerec.errors import ConfigError, DataError


def reference(times_ms, units, n_channels, bin_ms, max_duration_ms=None, pool=1, binary=False):
    """One event at a time: the definition in spikerec.datasets.binning's docstring."""
    keep = [(t, u) for t, u in zip(times_ms, units) if max_duration_ms is None or t < max_duration_ms]
    t_cap = math.ceil(max_duration_ms / bin_ms - 1e-9) if max_duration_ms is not None else None
    keep = [(t, u) for t, u in keep if t_cap is None or math.floor(t / bin_ms) < t_cap]
    n_bins = max([math.floor(t / bin_ms) + 1 for t, _ in keep], default=1)
    out = np.zeros((n_bins, -(-n_channels // pool)), dtype=np.int64)
    for t, u in keep:
        out[math.floor(t / bin_ms), u // pool] += 1
    return np.minimum(out, 1) if binary else out


samples = st.lists(
    st.lists(st.tuples(st.floats(0, 300, allow_nan=False), st.integers(0, 12)), min_size=0, max_size=40),
    min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(samples=samples, bin_ms=st.sampled_from([0.5, 1.0, 3.0, 10.0, 25.0]), pool=st.integers(1, 5),
       binary=st.booleans(), max_duration=st.one_of(st.none(), st.floats(1, 400)))
def test_matches_reference_loop(samples, bin_ms, pool, binary, max_duration):
    n_channels = 13
    times = np.array([t for s in samples for t, _ in s], dtype=np.float64)
    units = np.array([u for s in samples for _, u in s], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in samples])])
    out = bin_ragged(times, units, offsets, n_channels, bin_ms, max_duration_ms=max_duration, pool=pool, binary=binary)
    assert len(out) == len(samples)
    for i, s in enumerate(samples):
        ref = reference([t for t, _ in s], [u for _, u in s], n_channels, bin_ms, max_duration, pool, binary)
        np.testing.assert_array_equal(out.sample(i), ref)
        late = sum(t >= max_duration for t, _ in s) if max_duration is not None else 0
        assert out.dropped_events[i] == late
        if not binary:  # conservation: every event is in a frame or counted as dropped
            assert out.sample(i).sum() + out.dropped_events[i] == len(s)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 400), pool=st.integers(2, 7), seed=st.integers(0, 2**16))
def test_pooling_equals_summing_channel_groups(n, pool, seed):
    rng = np.random.default_rng(seed)
    times = rng.uniform(0, 200, n)
    units = rng.integers(0, 700, n)
    full = bin_events(times, units, 700, 4.0).astype(np.int64)
    pooled = bin_events(times, units, 700, 4.0, pool=pool).astype(np.int64)
    pad = (-700) % pool
    grouped = np.pad(full, ((0, 0), (0, pad))).reshape(full.shape[0], -1, pool).sum(-1)
    np.testing.assert_array_equal(pooled, grouped)
    assert pooled.sum() == n


def test_unsorted_times_and_batch_equals_single_samples():
    rng = np.random.default_rng(1)
    parts = [(rng.uniform(0, 500, k), rng.integers(0, 700, k)) for k in (5, 300, 1, 77)]
    offsets = np.concatenate([[0], np.cumsum([len(t) for t, _ in parts])])
    out = bin_ragged(np.concatenate([t for t, _ in parts]), np.concatenate([u for _, u in parts]), offsets, 700, 10.0)
    for i, (t, u) in enumerate(parts):
        np.testing.assert_array_equal(out.sample(i), bin_events(t, u, 700, 10.0))
        np.testing.assert_array_equal(out.sample(i), reference(t, u, 700, 10.0))


def test_time_major_lengths_and_dtypes():
    t = np.array([0.0, 9.99, 10.0, 35.0])
    f = bin_events(t, np.array([0, 0, 1, 2]), 3, 10.0)
    np.testing.assert_array_equal(f, [[2, 0, 0], [0, 1, 0], [0, 0, 0], [0, 0, 1]])  # bins counted from t = 0
    assert f.dtype == np.uint8
    assert bin_events(t, np.array([0, 0, 1, 2]), 3, 10.0, binary=True).max() == 1
    many = bin_events(np.zeros(300), np.zeros(300, int), 3, 10.0)  # counts above 255 never wrap
    assert many[0, 0] == 300 and many.dtype == np.uint16


def test_bad_parameters_and_events_are_rejected():
    t, u = np.array([1.0]), np.array([0])
    for bad in ({"bin_ms": 0}, {"bin_ms": float("nan")}, {"pool": 0}, {"max_duration_ms": -1.0}):
        kwargs = {"bin_ms": 1.0, **bad}
        with pytest.raises(ConfigError):
            bin_events(t, u, 700, **kwargs)
    with pytest.raises(DataError):
        bin_events(np.array([-1.0]), u, 700, 1.0)
    with pytest.raises(DataError):
        bin_events(np.array([np.inf]), u, 700, 1.0)
    with pytest.raises(DataError):
        bin_events(t, np.array([700]), 700, 1.0)


def test_identical_to_tonic_to_frame():
    tonic = pytest.importorskip("tonic")
    from spikerec.datasets.tonic_interop import SENSOR_SIZE, to_tonic_events

    rng = np.random.default_rng(3)
    for _ in range(20):
        n = int(rng.integers(1, 400))
        t_ms = np.sort(rng.uniform(0, 1.2, n).astype(np.float16).astype(np.float64)) * 1000.0  # as read from SHD
        units = rng.integers(0, 700, n)
        ours = bin_events(t_ms, units, 700, 10.0)
        to_frame = tonic.transforms.ToFrame(sensor_size=SENSOR_SIZE, time_window=10_000, start_time=0,
                                            end_time=ours.shape[0] * 10_000, include_incomplete=True)
        theirs = to_frame(to_tonic_events(t_ms, units))[:, 0, :]
        np.testing.assert_array_equal(ours, theirs)
