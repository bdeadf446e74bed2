"""Crossbar device and periphery statistics: each non-ideality does what its documented equation says."""

from __future__ import annotations

import numpy as np
import pytest

from spikerec.errors import ConfigError, ShapeError
from spikerec.hardware.simulators.crossbar import devices, periphery
from spikerec.hardware.simulators.crossbar.devices import PRESETS, get_config
from spikerec.hardware.simulators.crossbar.tiles import map_matrix


def test_pcm_preset_carries_aihwkit_constants_and_sources():
    pcm = get_config("pcm")
    assert pcm.prog_noise_coeffs_us == (0.26348, 1.9650, -1.1731) and pcm.g_max_us == 25.0
    assert pcm.t0_s == 20.0 and pcm.t_read_s == 250e-9 and pcm.read_noise_1f == (0.0088, 0.65, 0.2)
    # sigma_p at g = 0 and g = g_max straight from the polynomial
    assert devices.programming_noise_std(np.array([0.0, 25.0]), pcm) == pytest.approx([0.26348, 1.05538])
    for name in PRESETS:
        assert get_config(name).source, name
    assert "Nandakumar" in pcm.source and "Wan" in get_config("rram").source


def test_programming_noise_std_follows_the_polynomial():
    rng = np.random.default_rng(0)
    for name in ("pcm", "rram"):
        cfg = get_config(name, read_noise_1f=None)
        for g in (0.2, 0.5, 0.8) * np.array(cfg.g_max_us):
            samples = devices.program(np.full(40_000, g), cfg, rng)
            expected = devices.programming_noise_std(np.array([g]), cfg)[0]
            assert samples.std() == pytest.approx(expected, rel=0.03), (name, g)
            assert samples.mean() == pytest.approx(g, abs=4 * expected / 200)
    # rescaled with g_max the way aihwkit rescales from its reference g_max
    half = get_config("pcm", g_max_us=12.5)
    assert devices.programming_noise_std(np.array([6.25]), half)[0] == pytest.approx(
        0.5 * devices.programming_noise_std(np.array([12.5]), get_config("pcm"))[0])


def test_drift_exponent_recovered_from_a_fit_over_inference_times():
    cfg = dict(prog_noise_scale=0.0, read_noise_1f=None, drift_compensation=False,
               drift_nu_mean=(0.0, 0.06, 0.0, 1.0), drift_nu_std=(0.0, 0.01, 0.0, 1.0))
    w = np.random.default_rng(1).uniform(0.2, 1.0, (100, 100))  # positive: G- stays at g_min = 0
    times = np.array([1e2, 1e4, 1e6, 1e8])
    g = np.stack([map_matrix(w, get_config("pcm", t_inference_s=t, **cfg), seed=3).g_pos for t in times])
    x = np.log((times + 20.0) / 20.0)
    slope = np.polyfit(x, np.log(g.reshape(len(times), -1)), 1)[0]
    nu = -slope
    assert nu.mean() == pytest.approx(0.06, abs=0.001)
    assert nu.std() == pytest.approx(0.01, rel=0.05)
    # PCM preset: mean exponent at g_max is clip(0.0244, 0.049, 0.1) = 0.049, spread 0.008
    nu_pcm = devices.drift_exponents(np.full(50_000, 25.0), get_config("pcm"), np.random.default_rng(2))
    assert nu_pcm.mean() == pytest.approx(0.049, abs=5e-4) and nu_pcm.std() == pytest.approx(0.008, rel=0.05)


def test_stuck_at_fractions_and_values():
    cfg = get_config("ideal", p_stuck_min=0.02, p_stuck_max=0.05)
    g = np.full(200_000, 10.0)
    out, code = devices.stuck_at_faults(g, cfg, np.random.default_rng(0))
    n = g.size
    for value, p, c in ((cfg.g_min_us, 0.02, -1), (cfg.g_max_us, 0.05, 1)):
        frac = np.mean(code == c)
        assert abs(frac - p) < 5 * np.sqrt(p * (1 - p) / n)
        assert np.all(out[code == c] == value)
    assert np.all(out[code == 0] == 10.0)
    mapped = map_matrix(np.ones((100, 100)), cfg, seed=0)
    assert np.mean(mapped.stuck == 1) == pytest.approx(0.05, abs=0.006)


def test_levels_round_onto_the_grid():
    cfg = get_config("ideal", levels=5)
    g = np.random.default_rng(0).uniform(0, 25, 1000)
    q = devices.quantize_levels(g, cfg)
    assert set(np.unique(q)) <= {0.0, 6.25, 12.5, 18.75, 25.0}
    assert np.abs(q - g).max() <= 6.25 / 2 + 1e-12


def test_adc_quantisation_error_bound_and_clipping():
    y = np.random.default_rng(0).uniform(-10, 10, 100_000)
    for bits in (3, 6, 10):
        q, clipped = periphery.adc_convert(y.copy(), bits, 8.0)
        step = periphery.adc_step(bits, 8.0)
        inside = np.abs(y) <= 8.0
        assert np.abs(q[inside] - y[inside]).max() <= step / 2 + 1e-12
        assert clipped == np.count_nonzero(~inside) and np.all(np.abs(q[~inside]) == 8.0)
        assert len(np.unique(q)) <= 2 ** bits - 1
    assert periphery.adc_convert(y, None, 8.0)[0] is y
    # through a multi-tile matrix: error <= row_tiles * step/2 * w_max, no clipping
    rng = np.random.default_rng(1)
    w = rng.normal(size=(20, 50))
    x = (rng.random((200, 50)) < 0.2).astype(float)
    cfg = get_config("ideal", tile_rows=16, tile_cols=8, adc_bits=6, adc_range=16.0)
    out, clipped, conversions = map_matrix(w, cfg).read(x)
    bound = 4 * periphery.adc_step(6, 16.0) / 2 * np.abs(w).max()
    assert clipped == 0 and conversions == 200 * 20 * 4
    assert np.abs(out - x @ w.T).max() <= bound + 1e-9
    assert np.abs(out - x @ w.T).max() > 0


def test_ir_drop_equals_a_hand_computed_2x2_tile():
    """I'_c = sum_r x_r g_rc (1 - ir_drop (p_r + q_c)/2 I_c / I_full), worked out by hand for one read of a 2x2
    tile: g (rows = word lines) [[10, 20], [30, 40]] uS, both lines driven, positions p = q = [0.5, 1],
    ir_drop 0.2, I_full = 2 rows x 50 uS.
    column 0: I = 40, 10 (1 - 0.2 * 0.5 * 0.4) + 30 (1 - 0.2 * 0.75 * 0.4) = 9.6 + 28.2 = 37.8
    column 1: I = 60, 20 (1 - 0.2 * 0.75 * 0.6) + 40 (1 - 0.2 * 1.0 * 0.6) = 18.2 + 35.2 = 53.4"""
    from spikerec.hardware.simulators.crossbar.periphery import column_currents, tile_positions

    g_t = np.array([[10.0, 20.0], [30.0, 40.0]])
    pos = tile_positions(2, 2)
    np.testing.assert_allclose(pos, [0.5, 1.0])
    out = column_currents(np.ones((1, 2)), g_t, pos, pos, ir_drop=0.2, i_full=2 * 50.0)
    np.testing.assert_allclose(out, [[37.8, 53.4]], rtol=1e-12)
    np.testing.assert_allclose(column_currents(np.ones((1, 2)), g_t, pos, pos, 0.0, 100.0), [[40.0, 60.0]])


def test_ir_drop_attenuates_monotonically_and_more_for_far_devices():
    rng = np.random.default_rng(0)
    w = rng.uniform(0.1, 1.0, (32, 64))
    x = (rng.random((100, 64)) < 0.5).astype(float)
    exact = x @ w.T
    previous = exact
    for ir in (0.0, 0.05, 0.2, 0.5):
        out = map_matrix(w, get_config("ideal", tile_rows=64, tile_cols=32, ir_drop=ir)).read(x)[0]
        if ir == 0:
            np.testing.assert_allclose(out, exact, rtol=1e-12)
        else:
            assert np.all(out < previous + 1e-12) and np.all(out > (1 - ir) * exact)
        previous = out
    # a single active device: the farther from the driver, the larger the loss
    ones = np.ones((32, 64))
    m = map_matrix(ones, get_config("ideal", tile_rows=64, tile_cols=32, ir_drop=0.3))
    near, far = np.zeros((1, 64)), np.zeros((1, 64))
    near[0, 0], far[0, 63] = 1, 1
    y_near, y_far = m.read(near)[0][0], m.read(far)[0][0]
    assert np.all(y_far < y_near) and np.all(np.diff(y_near) < 0)  # columns farther along the word line lose more


def test_per_read_noise_matches_its_column_std():
    w = np.random.default_rng(0).normal(size=(10, 40))
    cfg = get_config("ideal", read_noise_rel=0.05)
    m = map_matrix(w, cfg, seed=0)
    x = np.zeros((20_000, 40))
    x[:, :15] = 1
    out = m.read(x)[0]
    dg = cfg.g_max_us - cfg.g_min_us
    expected = 0.05 * np.sqrt((m.g_pos[:, :15] ** 2 + m.g_neg[:, :15] ** 2).sum(1)) / dg * m.w_max
    np.testing.assert_allclose(out.std(0), expected, rtol=0.04)
    np.testing.assert_allclose(out.mean(0), x[0] @ w.T, atol=4 * expected.max() / np.sqrt(20_000) + 1e-12)


def test_same_seed_same_devices_and_stage_streams_are_independent():
    w = np.random.default_rng(0).normal(size=(30, 30))
    a = map_matrix(w, get_config("pcm"), seed=7)
    b = map_matrix(w, get_config("pcm"), seed=7)
    c = map_matrix(w, get_config("pcm"), seed=8)
    np.testing.assert_array_equal(a.g_pos, b.g_pos)
    assert not np.array_equal(a.g_pos, c.g_pos)
    # changing the ADC does not change a single device draw
    d = map_matrix(w, get_config("pcm", adc_bits=4), seed=7)
    np.testing.assert_array_equal(a.g_pos, d.g_pos)


def test_drift_compensation_restores_the_output_scale():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(64, 128))
    x = (rng.random((500, 128)) < 0.3).astype(float)
    exact = x @ w.T
    common = dict(prog_noise_scale=0.0, read_noise_scale=0.0, adc_bits=None, t_inference_s=3.15e7)
    raw = map_matrix(w, get_config("pcm", drift_compensation=False, **common), seed=0).read(x)[0]
    comp = map_matrix(w, get_config("pcm", drift_compensation=True, **common), seed=0).read(x)[0]
    scale = lambda y: float((y * exact).sum() / (exact * exact).sum())  # noqa: E731
    assert scale(raw) < 0.55  # a year of drift at nu ~ 0.05-0.1 roughly halves the conductances
    # one global gain: exact for a uniform exponent, within a few % when nu depends on g (small weights drift more)
    assert scale(comp) == pytest.approx(1.0, abs=0.05)


def test_config_errors_are_typed():
    with pytest.raises(ConfigError, match="unknown crossbar device preset"):
        get_config("flash")
    with pytest.raises(ConfigError, match="unknown crossbar parameter"):
        get_config("pcm", adc_bitz=4)
    for bad in (dict(g_min_us=30.0), dict(levels=1), dict(p_stuck_min=0.7, p_stuck_max=0.7), dict(ir_drop=1.0),
                dict(adc_bits=1), dict(prog_noise_scale=-1.0)):
        with pytest.raises(ConfigError):
            get_config("pcm", **bad)
    with pytest.raises(ShapeError):
        map_matrix(np.ones(3), get_config("ideal"))
    with pytest.raises(ShapeError):
        map_matrix(np.ones((3, 4)), get_config("ideal")).read(np.ones((2, 5)))


@pytest.mark.parametrize("overrides", [{}, {"ir_drop": 0.2, "adc_bits": 6}])
def test_sparse_and_dense_reads_agree(overrides):
    import scipy.sparse as sp

    from spikerec.hardware.simulators.crossbar import tiles

    rng = np.random.default_rng(0)
    w = rng.normal(size=(20, 70))
    x = (rng.random((300, 70)) < 0.05).astype(float)  # below the sparse threshold
    m = map_matrix(w, get_config("pcm", tile_rows=32, **overrides), seed=0)
    dense_threshold = tiles._SPARSE_DENSITY
    try:
        tiles._SPARSE_DENSITY = 0.0  # force the dense product
        dense = m.read(x)
    finally:
        tiles._SPARSE_DENSITY = dense_threshold
    for sparse in (m.read(x), m.read(sp.csr_array(x))):
        np.testing.assert_allclose(sparse[0], dense[0], rtol=1e-9, atol=1e-9)
        assert sparse[1:] == dense[1:]
