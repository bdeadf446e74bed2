"""Cross-check with IBM aihwkit (optional extra; skipped when aihwkit is not installed)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("aihwkit", reason="aihwkit is an optional extra (see docs/crossbar.md); cross-check skipped")

from benchmarks import aihwkit_check as check  # noqa: E402


def test_noise_free_outputs_match_aihwkit():
    w, x = check.problem()
    ours = check.spikerec_outputs(w, x, 0.0, noisy=False, seed=0)
    theirs = check.aihwkit_outputs(w, x, 0.0, noisy=False, seed=0)
    np.testing.assert_allclose(ours, x @ w.T, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(theirs, ours, atol=1e-4 * np.abs(ours).max())


@pytest.mark.parametrize("t_inference", [0.0, 86400.0])
def test_pcm_error_statistics_comparable_to_aihwkit(t_inference):
    w, x = check.problem()
    exact = x @ w.T
    stats = {}
    for name, fn in (("ours", check.spikerec_outputs), ("aihwkit", check.aihwkit_outputs)):
        per_rep = [check.error_statistics(fn(w, x, t_inference, True, seed), exact) for seed in range(6)]
        stats[name] = {k: np.mean([r[k] for r in per_rep]) for k in per_rep[0]}
    assert stats["ours"]["scale"] == pytest.approx(stats["aihwkit"]["scale"], abs=0.02)
    assert stats["ours"]["rel_residual_std"] == pytest.approx(stats["aihwkit"]["rel_residual_std"], rel=0.15)
    if t_inference > 0:
        assert stats["ours"]["scale"] < 0.9  # a day of drift without compensation shrinks the outputs
