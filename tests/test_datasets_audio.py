"""The cochlea front end against independent references: Glasberg & Moore's ERB values, scipy's
gammatone FIR, the gammatone's analytic magnitude response, direct convolution, Meddis's closed-form
resting state, the dead-time renewal rate, scipy's binomial pmf, and known responses to tones,
chirps and silence."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import scipy.stats

from spikerec.datasets.audio.cochlea import Cochlea, CochleaConfig, resample
from spikerec.datasets.audio.erb import erb_bandwidth, erb_number, erb_number_to_hz, erb_space
from spikerec.datasets.audio.gammatone import GammatoneBank, gammatone_impulse_responses
from spikerec.datasets.audio.periphery import MeddisParams, PeripheryState, binomial_inverse, periphery_block
from spikerec.errors import ConfigError, ShapeError

FS = 16000


def tone(freq_hz, seconds, fs=FS):
    return np.sin(2 * np.pi * freq_hz * np.arange(int(seconds * fs)) / fs)


# -- ERB scale ---------------------------------------------------------------------------------------
def test_erb_matches_glasberg_moore_values():
    assert erb_bandwidth(1000.0) == pytest.approx(132.639)  # 24.7 * (4.37 + 1), G&M (1990) eq. 3
    assert erb_number(1000.0) == pytest.approx(21.4 * np.log10(5.37))
    f = np.array([50.0, 440.0, 7000.0])
    np.testing.assert_allclose(erb_number_to_hz(erb_number(f)), f, rtol=1e-12)
    cf = erb_space(100.0, 4000.0, 9)
    assert cf[0] == pytest.approx(100.0) and cf[-1] == pytest.approx(4000.0)
    np.testing.assert_allclose(np.diff(erb_number(cf)), np.diff(erb_number(cf))[0], rtol=1e-9)


# -- gammatone ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("fc", [100.0, 1000.0, 5000.0])
def test_gammatone_impulse_response_is_scipys_fir_up_to_scale(fc):
    ours = gammatone_impulse_responses(np.array([fc]), FS)[0]
    ref, _ = scipy.signal.gammatone(fc, "fir", order=4, numtaps=min(len(ours), 2000), fs=FS)
    n = len(ref)
    scale = np.dot(ours[:n], ref) / np.dot(ref, ref)
    # scipy writes ERB = 24.7 + f / 9.265, G&M's 24.7 (4.37 f / 1000 + 1) rounded: 1e-5 agreement
    np.testing.assert_allclose(ours[:n], scale * ref, atol=1e-5 * np.abs(ours).max())


def test_gammatone_unit_gain_at_cf_and_analytic_skirts():
    fc = np.array([500.0, 1000.0, 2000.0])
    ir = gammatone_impulse_responses(fc, FS)
    t = np.arange(ir.shape[1]) / FS
    b = 1.019 * erb_bandwidth(fc)
    for mult in (0.0, 0.5, 1.0, 2.0):
        for sign in (-1, 1):
            f = fc + sign * mult * b
            gain = np.abs(np.sum(ir * np.exp(-2j * np.pi * f[:, None] * t), axis=1))
            analytic = (1 + mult ** 2) ** -2  # (1 + ((f - fc) / b)^2)^(-n/2), n = 4
            np.testing.assert_allclose(gain, analytic, rtol=0.03)


def test_block_filtering_equals_direct_convolution():
    rng = np.random.default_rng(0)
    bank = GammatoneBank(np.array([80.0, 700.0, 3000.0]), FS)
    x = rng.standard_normal(5000)
    ref = np.stack([np.convolve(x, h)[:len(x)] for h in bank.impulse_responses])
    for block in (97, 1024, 8192):  # blocks shorter than the filter tail, and longer
        y = np.concatenate(list(bank.blocks(x, block)), axis=1)
        np.testing.assert_allclose(y, ref, atol=2e-4 * np.abs(ref).max())
    assert bank.filter(np.zeros(0)).shape == (3, 0)


def test_gammatone_rejects_bad_frequencies():
    with pytest.raises(ConfigError):
        gammatone_impulse_responses(np.array([9000.0]), FS)
    with pytest.raises(ConfigError):
        CochleaConfig(f_max_hz=9000.0)


# -- hair cell, fibres, bushy cells ------------------------------------------------------------------
def test_meddis_rest_state_is_the_fixed_point_of_the_update():
    m = MeddisParams()
    q, c, w = m.rest_state()
    # Meddis (1986): c = M y k0 / (l k0 + y (l + r)), k0 = g A / (A + B); spontaneous rate h c ~ 65 /s
    k0 = 2000 * 5 / 305
    assert c == pytest.approx(5.05 * k0 / (2500 * k0 + 5.05 * 9080))
    assert m.spontaneous_rate_hz() == pytest.approx(64.77, abs=0.01)
    state = PeripheryState(1, m, ring_len=0)
    spikes = np.zeros((1, 4000), np.uint8)
    periphery_block(np.zeros((1, 4000), np.float32), np.ones(1), np.ones((1, 4000), np.float32), 0, state.q, state.c,
                    state.w, state.busy, state.ring, state.v, state.isyn, state.refr,
                    (m.A, m.B, m.g, m.y, m.l, m.r, m.x, m.M, m.h), 1, 0.0, 0.0, 0.0, 0, 1 / FS, spikes)
    np.testing.assert_allclose([state.q[0], state.c[0], state.w[0]], [q, c, w], rtol=1e-9)


def test_binomial_inverse_matches_scipy_pmf():
    n, p = 40, 0.07
    u = (np.arange(200000) + 0.5) / 200000  # a uniform grid: the empirical pmf is the exact CDF inversion
    draws = np.array([binomial_inverse(n, p, float(x)) for x in u])
    emp = np.bincount(draws, minlength=n + 1) / len(u)
    np.testing.assert_allclose(emp, scipy.stats.binom.pmf(np.arange(n + 1), n, p), atol=2e-5)
    assert binomial_inverse(0, 0.5, 0.3) == 0 and binomial_inverse(5, 1.0, 0.99) == 5


def _fibre_as_output(**kw) -> CochleaConfig:
    """A cochlea whose output unit spikes exactly when its single auditory-nerve fibre does."""
    return CochleaConfig(n_units=200, fibres_per_place=1, anf_per_unit=1, bushy_tau_mem_ms=1e-6,
                         bushy_tau_syn_ms=1e-6, bushy_refractory_ms=0.0, bushy_weight=1e12, **kw)


def test_spontaneous_fibre_rate_matches_dead_time_renewal_theory():
    cfg = _fibre_as_output()
    times, units = Cochlea(cfg).encode_prepared(np.zeros(2 * FS), seed=3)
    p = MeddisParams().spontaneous_rate_hz() / FS  # per-sample firing probability at rest
    dead = 16  # 1 ms at 16 kHz: a fibre that fired at sample j is silent at j+1 .. j+15
    expected_hz = p / (1 + (dead - 1) * p) * FS  # renewal process with geometric waits after a dead time
    measured_hz = len(times) / (cfg.n_units * 2.0)
    assert measured_hz == pytest.approx(expected_hz, rel=0.03)
    samples = np.round(times * FS).astype(int)
    for u in range(0, cfg.n_units, 17):
        assert np.all(np.diff(samples[units == u]) >= dead)


def test_state_carries_across_blocks():
    cfg = CochleaConfig(n_units=20, fibres_per_place=2)
    coch = Cochlea(cfg)
    x = coch.prepare(tone(800, 0.2), FS)
    drive = coch.bank.filter(x)
    uniforms = np.random.default_rng(0).random((cfg.n_units, drive.shape[1]), dtype=np.float32)

    def run(cuts):
        st = PeripheryState(cfg.n_units, cfg.meddis, coch._ring_len)
        out = np.zeros((cfg.n_units, drive.shape[1]), np.uint8)
        for a, b in zip(cuts[:-1], cuts[1:]):
            periphery_block(np.ascontiguousarray(drive[:, a:b]), coch.class_gain, np.ascontiguousarray(uniforms[:, a:b]),
                            a, st.q, st.c, st.w, st.busy, st.ring, st.v, st.isyn, st.refr, coch._mp, cfg.anf_per_unit,
                            cfg.bushy_weight / cfg.anf_per_unit / FS, coch._a_mem, coch._a_syn, coch._bushy_refr,
                            1 / FS, out[:, a:b])
        return out

    n = drive.shape[1]
    whole = run([0, n])
    assert whole.sum() > 0
    np.testing.assert_array_equal(run([0, 7, 1000, 1013, n]), whole)


# -- the whole cochlea -------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cochlea():
    return Cochlea()


@pytest.mark.parametrize("freq", [250.0, 1000.0, 4000.0])
def test_pure_tone_excites_places_near_its_frequency(cochlea, freq):
    times, units = cochlea.encode(tone(freq, 0.25), FS, seed=1)
    per_place = np.bincount(units // 5, minlength=cochlea.config.n_places)
    best = cochlea.place_cf_hz[per_place.argmax()]
    assert abs(erb_number(best) - erb_number(freq)) < 1.0  # within one ERB (4.5 places)
    far = np.abs(erb_number(cochlea.place_cf_hz) - erb_number(freq)) > 6  # six ERBs away: skirts far below
    assert per_place[far].mean() < 0.05 * per_place.max()


def test_chirp_sweeps_across_places_in_time(cochlea):
    t = np.arange(int(1.0 * FS)) / FS
    x = scipy.signal.chirp(t, f0=200.0, t1=1.0, f1=5000.0, method="logarithmic")
    times, units = cochlea.encode(x, FS, seed=2)
    centres = []
    for a in np.arange(0.05, 0.95, 0.1):
        sel = (times >= a) & (times < a + 0.1) & (units % 5 == 2)  # a mid-threshold class: less spread
        centres.append(np.median(erb_number(cochlea.unit_cf_hz[units[sel]])))
    assert np.all(np.diff(centres) > 0)
    # a log chirp moves at a steady rate in log frequency: compare with its instantaneous frequency
    inst = 200.0 * 25.0 ** (np.arange(0.1, 1.0, 0.1))
    np.testing.assert_allclose(centres, erb_number(inst), atol=1.5)


def test_silence_gives_only_sparse_spontaneous_spikes(cochlea):
    times, _ = cochlea.encode(np.zeros(FS), FS, seed=0)
    rate = len(times) / (cochlea.config.n_units * 1.0)
    assert rate < 3.0  # spikes per unit per second (the bushy cells need coincident fibre spikes)
    loud, _ = cochlea.encode(tone(1000, 1.0), FS, seed=0)
    assert len(loud) > 1.5 * len(times)


def test_threshold_classes_are_recruited_by_level():
    counts = []
    for level in (40.0, 55.0, 70.0, 85.0):
        coch = Cochlea(CochleaConfig(level_db_spl=level))
        _, units = coch.encode(tone(1000, 0.25), FS, seed=4)
        near = np.abs(erb_number(coch.unit_cf_hz[units]) - erb_number(1000.0)) < 1.5
        counts.append(np.bincount(units[near] % 5, minlength=5))
    counts = np.array(counts)  # [level, threshold class]
    assert np.all(np.diff(counts[:, 1:], axis=0) > 0)  # every less sensitive class gains spikes with level
    assert counts[0, 0] > 5 * counts[0, 4]  # quiet: only the sensitive classes respond
    assert counts[-1, 4] > 0.5 * counts[-1, 0]  # loud: the least sensitive class has joined


def test_encode_is_deterministic_per_seed_and_sorted(cochlea):
    x = tone(600, 0.2) + 0.3 * tone(2500, 0.2)
    t1, u1 = cochlea.encode(x, FS, seed=7)
    t2, u2 = cochlea.encode(x, FS, seed=7)
    t3, _ = cochlea.encode(x, FS, seed=8)
    np.testing.assert_array_equal(t1, t2)
    np.testing.assert_array_equal(u1, u2)
    assert not np.array_equal(t1, t3) or len(t1) != len(t3)
    assert np.all(np.diff(t1) >= 0) and u1.max() < 700 and t1.max() < 0.2


def test_level_normalisation_and_silence_floor(cochlea):
    x = tone(1000, 0.2)
    np.testing.assert_allclose(cochlea.prepare(0.01 * x, FS), cochlea.prepare(x, FS), rtol=1e-9)
    assert np.all(cochlea.prepare(np.zeros(1000), FS) == 0)
    quiet = cochlea.prepare(1e-6 * x, FS)  # 120 dB below full scale: scaled as if at the -60 dBFS floor
    assert np.sqrt(np.mean(quiet ** 2)) < 10 ** ((65 - 60) / 20)
    with pytest.raises(ShapeError):
        cochlea.encode(np.zeros((10, 2)), FS)


def test_resample_keeps_a_tone_at_its_frequency():
    x = tone(440.0, 0.5, fs=22050)
    y = resample(x, 22050, 16000)
    assert len(y) == 8000
    ref = tone(440.0, 0.5, fs=16000)
    np.testing.assert_allclose(y[500:-500], ref[500:-500], atol=2e-3)
    with pytest.raises(ConfigError):
        resample(x, 22050.5, 16000)


def test_config_validation():
    with pytest.raises(ConfigError):
        CochleaConfig(n_units=700, fibres_per_place=3)
    with pytest.raises(ConfigError):
        CochleaConfig(sample_rate_hz=8000.0, f_max_hz=3000.0)  # hair-cell update unstable at 8 kHz
    assert CochleaConfig(n_units=64, fibres_per_place=4).n_places == 16
