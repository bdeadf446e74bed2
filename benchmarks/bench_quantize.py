"""Fixed-point targets: float vs quantised accuracy per target profile, accuracy against weight bits, and the
bit-exact agreement of spikerec's integer Xylo simulation with SynSense's ``xylosim``.

Two trained runs on synthetic data (``spikerec.datasets.synthesize``, seed 0, 800 train / 300 test samples):

- ``shd-delays``: the packaged recipe (2 x 256 LIF with learnable delays up to 25 steps, BatchNorm, 140 inputs) on
  the 20-class synthetic ``shd`` set, ``--epochs`` epochs at batch size 32 (CPU-sized; the recipe trains 150).
  It is quantised for ``int8``, ``loihi2`` and ``xylo`` (``spikerec.hardware.simulators.quantized.
  quantize_target``: scales calibrated on 256 training samples, accuracy over the test split's sample windows).
  Xylo cannot hold it (140 inputs > 16, delays, BatchNorm biases): the typed error is the result.
  Accuracy against weight bits: user profiles equal to ``int8`` with ``weights.bits`` in ``--bits``.
- ``xylo-fit``: the packaged ``synthetic`` recipe made to fit Xylo (16 inputs by pooling 700 channels by 44, one
  hidden layer of 64 without delays, BatchNorm or bias, soft reset, tau 40 ms) on an 8-class synthetic ``shd`` set.
  It is quantised for ``xylo`` and every test sample is run on ``xylosim.v1.XyloLayer`` (in a child process) and on
  spikerec's integer simulator: hidden spike counts and readout membranes compared at every step. A diagnostic
  profile ``xylo`` with ``spikes.max_per_step = 1`` (not a chip) isolates the effect of Xylo's multi-spike neurons.

Quantisation-aware training: ``shd-delays`` trained again with ``train.qat_weight_bits = b`` for each b in
``--qat-bits`` (same data, epochs and seed), then quantised with the b-bit profile.

Run: ``nice -n 10 .venv/bin/python -m benchmarks.bench_quantize`` (about an hour on 2 loaded cores, mostly
training); ``--shd-run DIR --xylo-run DIR`` reuse trained runs; runs already in ``--work`` (with a summary.json) are
reused, and ``--reuse`` also reuses the quantisation reports kept there.
Writes ``benchmarks/results/quantize.json`` / ``.md`` and ``docs/fixed_point_bits.png``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from importlib import resources
from pathlib import Path

from benchmarks.harness import set_threads, write_result

DOCS = Path(__file__).resolve().parent.parent / "docs"
XYLO_FIT = ["data.pool=44", "model.delays=false", "model.batchnorm=false", "model.bias=false", "neuron.reset=soft",
            "neuron.tau_ms=40.0", "neuron.readout_tau_ms=40.0", "model.hidden_sizes=[64]"]


def _data(work: Path, name: str, classes: int) -> Path:
    from spikerec.datasets.synthetic import synthesize

    out = work / name
    if not (out / "shd_test.h5").exists():
        synthesize("shd", out, n_train=800, n_test=300, n_classes=classes, seed=0)
    return out


def _train(recipe_name: str, overrides: list[str], data: Path, run: Path) -> dict:
    from spikerec.config import load_recipe
    from spikerec.training.runs import train

    if (run / "summary.json").exists():
        return json.loads((run / "summary.json").read_text())
    return train(load_recipe(recipe_name, overrides), data, run, progress=True)


def _profile(work: Path, base: str, name: str, **changes) -> Path:
    """A user profile file: packaged ``base`` with {"table.key": value} changes."""
    from spikerec.config import to_toml

    raw = tomllib.loads(resources.files("spikerec.hardware").joinpath("targets", f"{base}.toml").read_text())
    raw["name"] = name
    for key, value in changes.items():
        table, k = key.split(".")
        raw[table][k] = value
    path = work / f"{name}.toml"
    path.write_text(to_toml(raw))
    return path


def _quantize(run: Path, target, data: Path, out: Path, reuse: bool) -> dict:
    """quantize_target's report (the typed error's message when the target cannot hold the network); kept beside
    ``out`` as ``<out>.json`` and read back from there when ``reuse``."""
    from spikerec.errors import SpikerecError
    from spikerec.hardware.simulators.quantized import quantize_target

    cached = out.with_suffix(".json")
    if reuse and cached.exists():
        return json.loads(cached.read_text())
    try:
        r = quantize_target(run, target, out, data, progress=True)
        r = {k: r[k] for k in ("profile", "accuracy_float", "accuracy_quantized", "prediction_agreement", "n_samples",
                               "saturated", "rounded", "rounded_delays")}
    except SpikerecError as err:
        r = {"error": str(err)}
    cached.write_text(json.dumps(r, indent=2))
    return r


def _plot(bits: list[int], acc: list[float], qat: dict[int, float], float_acc: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.plot(bits, [100 * a for a in acc], "o-", label="post-training quantisation")
    if qat:
        ax.plot(list(qat), [100 * a for a in qat.values()], "s", ms=7, label="trained with train.qat_weight_bits = b")
    ax.axhline(100 * float_acc, color="k", ls="--", lw=1, label="float network (event simulator)")
    ax.set_xlabel("weight bits b (int8 profile with weights.bits = b)")
    ax.set_ylabel("test accuracy (%), integer simulation")
    ax.set_title("shd-delays on synthetic SHD")
    ax.set_xticks(bits)
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--work", default="/tmp/spikerec_bench_quantize", help="data, runs and quantised files")
    ap.add_argument("--shd-run", help="a trained shd-delays run directory to reuse")
    ap.add_argument("--xylo-run", help="a trained Xylo-sized run directory to reuse (trained on the 8-class set)")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--bits", default="2,3,4,5,6,8")
    ap.add_argument("--qat-bits", default="3,4", help="weight bits to train shd-delays with train.qat_weight_bits")
    ap.add_argument("--reuse", action="store_true", help="reuse the quantisation reports of an earlier run in --work")
    args = ap.parse_args(argv)
    set_threads(1)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    data20, data8 = _data(work, "data20", 20), _data(work, "data8", 8)
    shd_run = Path(args.shd_run) if args.shd_run else work / "shd-delays"
    xylo_run = Path(args.xylo_run) if args.xylo_run else work / "xylo-fit"
    shd = _train("shd-delays", [f"train.epochs={args.epochs}", "train.batch_size=32"], data20, shd_run)
    xy = _train("synthetic", ["train.epochs=15"] + XYLO_FIT, data8, xylo_run)
    print(f"trained: shd-delays test {shd['test_accuracy']:.4f}, xylo-fit test {xy['test_accuracy']:.4f}",
          file=sys.stderr)

    rows, profiles = [], {}
    for target in ("int8", "loihi2", "xylo"):
        r = _quantize(shd_run, target, data20, work / f"shd_{target}.h5", args.reuse)
        profiles[target] = r
        rows.append({"model": "shd-delays", "target": target, "accuracy_float": r.get("accuracy_float", ""),
                     "accuracy_quantized": r.get("accuracy_quantized", ""),
                     "prediction_agreement": r.get("prediction_agreement", ""),
                     "note": r.get("error", f"{r.get('rounded', {}).get('weights_zeroed')} weights rounded to 0; "
                                            f"overflows {sum(r.get('saturated', {}).get('simulation', {}).values())}")})
    bits = [int(b) for b in args.bits.split(",")]
    sweep = []
    for b in bits:
        r = _quantize(shd_run, _profile(work, "int8", f"int8-w{b}", **{"weights.bits": b}), data20,
                      work / f"shd_w{b}.h5", args.reuse)
        sweep.append(r)
        rows.append({"model": "shd-delays", "target": f"int8, {b}-bit weights", "accuracy_float": r["accuracy_float"],
                     "accuracy_quantized": r["accuracy_quantized"], "prediction_agreement": r["prediction_agreement"],
                     "note": "post-training"})
    qat = {}
    for b in [int(b) for b in args.qat_bits.split(",") if b]:
        run = work / f"shd-delays-qat{b}"
        trained = _train("shd-delays", [f"train.epochs={args.epochs}", "train.batch_size=32",
                                        f"train.qat_weight_bits={b}"], data20, run)
        r = _quantize(run, _profile(work, "int8", f"int8-w{b}", **{"weights.bits": b}), data20,
                      work / f"shd_qat{b}_w{b}.h5", args.reuse)
        qat[b] = r["accuracy_quantized"]
        rows.append({"model": f"shd-delays, QAT {b} bits", "target": f"int8, {b}-bit weights",
                     "accuracy_float": r["accuracy_float"], "accuracy_quantized": r["accuracy_quantized"],
                     "prediction_agreement": r["prediction_agreement"],
                     "note": f"trained with train.qat_weight_bits={b} (float test {trained['test_accuracy']:.4f})"})
    float_acc = profiles["int8"]["accuracy_float"]
    _plot(bits, [r["accuracy_quantized"] for r in sweep], qat, float_acc, DOCS / "fixed_point_bits.png")

    from spikerec.hardware.ir.load import network_data_loader
    from spikerec.hardware.ir.network import Network
    from spikerec.hardware.simulators.xylosim import compare_with_xylosim

    xr = _quantize(xylo_run, "xylo", data8, work / "xylo.h5", args.reuse)
    one = _quantize(xylo_run, _profile(work, "xylo", "xylo-1spike", **{"spikes.max_per_step": 1}), data8,
                    work / "xylo1.h5", args.reuse)
    for name, r in (("xylo", xr), ("xylo-1spike (diagnostic, not a chip)", one)):
        rows.append({"model": "xylo-fit", "target": name, "accuracy_float": r["accuracy_float"],
                     "accuracy_quantized": r["accuracy_quantized"], "prediction_agreement": r["prediction_agreement"],
                     "note": f"overflows {r['saturated']['simulation']}"})
    qnet = Network.load(work / "xylo.h5")
    totals = {"samples": 0, "identical_samples": 0, "hidden_spikes": 0, "spike_mismatches": 0,
              "readout_mismatches": 0, "steps": 0}
    for frames, _, window, *_ in network_data_loader(qnet, data8, "test", 64):
        part = compare_with_xylosim(qnet, frames, window)
        for k in totals:
            totals[k] += part[k]
    rows.append({"model": "xylo-fit", "target": "xylo vs xylosim", "accuracy_float": "", "accuracy_quantized": "",
                 "prediction_agreement": "",
                 "note": f"{totals['identical_samples']}/{totals['samples']} samples bit-identical "
                         f"({totals['hidden_spikes']} hidden spikes, {totals['steps']} steps; "
                         f"{totals['spike_mismatches']} spike and {totals['readout_mismatches']} readout mismatches)"})
    config = {"data": "synthetic shd, seed 0, 800 train / 300 test", "shd_delays_epochs": args.epochs,
              "calibration": "256 train samples", "threads": 1}
    write_result("quantize", "Fixed-point targets: float vs integer accuracy, xylosim agreement", rows, config,
                 ["model", "target", "accuracy_float", "accuracy_quantized", "prediction_agreement", "note"])
    extra = json.loads((Path(__file__).resolve().parent / "results" / "quantize.json").read_text())
    extra.update({"trained": {"shd-delays": {k: shd[k] for k in ("test_accuracy", "val_accuracy", "epochs")},
                              "xylo-fit": {k: xy[k] for k in ("test_accuracy", "val_accuracy", "epochs")}},
                  "profiles": profiles, "weight_bits": [{"bits": b, **r} for b, r in zip(bits, sweep)], "qat": qat,
                  "xylo": xr, "xylo_1spike": one, "xylosim_agreement": totals})
    (Path(__file__).resolve().parent / "results" / "quantize.json").write_text(json.dumps(extra, indent=2) + "\n")
    print(json.dumps({"xylosim_agreement": totals, "float": float_acc,
                      "quantized": {t: r.get("accuracy_quantized") for t, r in profiles.items()}}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
