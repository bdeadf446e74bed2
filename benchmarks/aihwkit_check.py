"""Cross-check of spikerec's crossbar device model against IBM aihwkit (optional; aihwkit is not installed
by default — see docs/crossbar.md for how to build it).

The same matrix ``W [64, 128]`` (one tile in both simulators) is read with binary inputs ``x``:

1. noise-free: aihwkit ``AnalogLinear`` (``InferenceRPUConfig`` with a perfect forward pass and a
   ``PCMLikeNoiseModel`` with all noise scales 0) vs spikerec's ``ideal`` preset: max |difference|.
2. PCM statistics at several inference times: aihwkit ``PCMLikeNoiseModel`` (defaults, g_max 25 uS) vs
   spikerec's ``pcm`` preset, both with ideal periphery (no ADC/IO noise) and no drift compensation, over
   ``reps`` independent programmings. Reported per simulator: the output scale (least-squares slope of
   ``y`` on ``W x``, drift shrinks it) and the residual std relative to ``std(W x)`` (programming + 1/f noise).

Run: ``.venv/bin/python -m benchmarks.aihwkit_check [--reps 20]``;
writes ``benchmarks/results/aihwkit_check.{json,md}``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

N_OUT, N_IN = 64, 128
TIMES_S = (0.0, 3600.0, 86400.0 * 30)


def problem(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The shared matrix [N_OUT, N_IN] and binary reads [512, N_IN]."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 0.5, (N_OUT, N_IN)), (rng.random((512, N_IN)) < 0.3).astype(np.float64)


def aihwkit_outputs(w: np.ndarray, x: np.ndarray, t_inference: float, noisy: bool, seed: int) -> np.ndarray:
    """``AnalogLinear`` outputs for ``x`` after programming ``w`` and drifting to ``t_inference`` seconds."""
    import torch
    from aihwkit.inference import PCMLikeNoiseModel
    from aihwkit.nn import AnalogLinear
    from aihwkit.simulator.configs import InferenceRPUConfig

    torch.manual_seed(seed)
    rpu = InferenceRPUConfig()
    rpu.forward.is_perfect = True  # isolate the device model: no IO noise, DAC/ADC or bounds
    rpu.drift_compensation = None
    scale = 1.0 if noisy else 0.0
    rpu.noise_model = PCMLikeNoiseModel(g_max=25.0, prog_noise_scale=scale, read_noise_scale=scale,
                                        drift_scale=scale)
    layer = AnalogLinear(w.shape[1], w.shape[0], bias=False, rpu_config=rpu)
    layer.set_weights(torch.tensor(w, dtype=torch.float32), None)
    layer.eval()
    layer.program_analog_weights()
    layer.drift_analog_weights(t_inference)
    with torch.no_grad():
        return layer(torch.tensor(x, dtype=torch.float32)).double().numpy()


def spikerec_outputs(w: np.ndarray, x: np.ndarray, t_inference: float, noisy: bool, seed: int) -> np.ndarray:
    """The same read with spikerec's crossbar (``pcm`` preset, ideal periphery; ``ideal`` when not noisy)."""
    from spikerec.hardware.simulators.crossbar import get_config, map_matrix

    cfg = get_config("pcm" if noisy else "ideal", adc_bits=None, drift_compensation=False, t_inference_s=t_inference)
    return map_matrix(w, cfg, seed=seed).read(x)[0]


def error_statistics(y: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    """Output scale (slope of y on the exact output) and residual std relative to the exact output's std."""
    scale = float((y * reference).sum() / (reference * reference).sum())
    return {"scale": scale, "rel_residual_std": float(np.std(y - scale * reference) / np.std(reference))}


def compare(reps: int = 10) -> list[dict]:
    """Rows: the noise-free difference, then per inference time the PCM statistics of both simulators."""
    w, x = problem()
    exact = x @ w.T
    rows = [{"check": "noise-free max abs(aihwkit - spikerec) / max abs(Wx)",
             "aihwkit": float(np.abs(aihwkit_outputs(w, x, 0.0, False, 0) - spikerec_outputs(w, x, 0.0, False, 0)).max()
                              / np.abs(exact).max()), "spikerec": 0.0}]
    for t in TIMES_S:
        stats = {}
        for name, fn in (("aihwkit", aihwkit_outputs), ("spikerec", spikerec_outputs)):
            per_rep = [error_statistics(fn(w, x, t, True, seed), exact) for seed in range(reps)]
            stats[name] = {k: float(np.mean([r[k] for r in per_rep])) for k in per_rep[0]}
        for key in ("scale", "rel_residual_std"):
            rows.append({"check": f"PCM t={t:g}s {key}", "aihwkit": stats["aihwkit"][key],
                         "spikerec": stats["spikerec"][key]})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=20)
    args = parser.parse_args(argv)
    try:
        import aihwkit  # noqa: F401
    except ImportError:
        print("aihwkit is not installed; see docs/crossbar.md ('aihwkit cross-check') for how to build it",
              file=sys.stderr)
        return 1
    from benchmarks import harness

    rows = compare(args.reps)
    for row in rows:
        print(f"{row['check']:<48} aihwkit {row['aihwkit']:.4g}   spikerec {row['spikerec']:.4g}")
    harness.write_result("aihwkit_check", "Crossbar device model vs IBM aihwkit PCMLikeNoiseModel", rows,
                         {"matrix": f"{N_OUT}x{N_IN}", "reads": 512, "reps": args.reps},
                         ["check", "aihwkit", "spikerec"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
