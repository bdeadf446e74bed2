"""The demo pipeline: one small function per stage, each reading and extending a shared ``Demo`` record.

Stages: synthetic data -> train the delay SNN and the same network without delays -> evaluate with
integer delays -> LNP-prune a random HRSNN and train it -> export -> simulate -> energy -> report.
Every stage prints one progress line to stderr; every number lands in ``summary.json`` and ``report.md``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from spikerec.io import write_json


@dataclass(frozen=True)
class DemoSizes:
    """Data and model sizes; ``quick`` fits in about a minute on 2 CPU cores, the default in about five."""

    n_train: int
    n_test: int
    epochs: int
    hidden: int
    hrsnn_neurons: int
    hrsnn_epochs: int

    @classmethod
    def for_mode(cls, quick: bool) -> "DemoSizes":
        if quick:
            return cls(n_train=200, n_test=80, epochs=4, hidden=32, hrsnn_neurons=64, hrsnn_epochs=2)
        return cls(n_train=800, n_test=240, epochs=12, hidden=64, hrsnn_neurons=160, hrsnn_epochs=6)


@dataclass
class Demo:
    """What the stages share: where to write, the sizes, and the results so far."""

    out: Path
    sizes: DemoSizes
    seed: int
    results: dict[str, Any] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.out / "data"

    def run_dir(self, name: str) -> Path:
        return self.out / "runs" / name


def log(message: str) -> None:
    print(f"[demo] {message}", file=sys.stderr, flush=True)


def make_data(demo: Demo) -> None:
    """Delay-motif classes in the SHD layout: only the relative timing of channel groups differs."""
    from spikerec.datasets import dataset_info, synthesize

    paths = synthesize("delay-motifs", demo.data_dir, n_train=demo.sizes.n_train, n_test=demo.sizes.n_test,
                       seed=demo.seed)
    info = dataset_info(paths["train"])
    demo.results["data"] = {"kind": "delay-motifs", "train_samples": info["samples"],
                            "test_samples": dataset_info(paths["test"])["samples"], "classes": info["classes"],
                            "channels": info["channels"], "dir": demo.data_dir}


def _recipe(demo: Demo, extra: list[str]):
    from spikerec.config import load_recipe

    s = demo.sizes
    return load_recipe("synthetic", [f"train.epochs={s.epochs}", f"model.hidden_sizes=[{s.hidden}]",
                                     f"train.seed={demo.seed}", *extra])


def train_models(demo: Demo) -> None:
    """The delay SNN and the same network with plain synapses, same data, seed and epochs."""
    from spikerec.training import train

    for name, extra in (("delays", []), ("no-delays", ["model.delays=false"])):
        summary = train(_recipe(demo, extra), demo.data_dir, demo.run_dir(name), progress=False)
        demo.results[f"train_{name}"] = {key: summary[key] for key in
                                         ("val_accuracy", "test_accuracy", "epochs", "seconds", "n_parameters")}
        demo.figures[f"curves_{name}"] = demo.run_dir(name) / "curves.png"
        log(f"  {name}: test accuracy {summary['test_accuracy']:.3f} in {summary['seconds']:.1f} s")


def evaluate_integer_delays(demo: Demo) -> None:
    """Test accuracy with rounded integer delays (what hardware runs) and with continuous positions."""
    from spikerec.training import evaluate_run

    run = demo.run_dir("delays")
    continuous = evaluate_run(run, demo.data_dir, split="test", integer_delays=False)
    integer = evaluate_run(run, demo.data_dir, split="test", integer_delays=True)
    demo.results["eval"] = {"integer_delay_accuracy": integer["accuracy"],
                            "continuous_delay_accuracy": continuous["accuracy"], "samples": integer["n"]}
    demo.figures["confusion"] = Path(integer["confusion_png"])


def plot_raster(demo: Demo) -> None:
    """Input and hidden-layer spikes of the first test sample, from the trained delay SNN."""
    from spikerec.demo.plots import raster_png

    demo.figures["raster"] = raster_png(demo.run_dir("delays"), demo.data_dir, demo.out / "raster.png")


def prune_and_train_hrsnn(demo: Demo) -> None:
    """LNP-prune a random HRSNN without task data, then train its readout and input on the task."""
    from spikerec.config import load_recipe
    from spikerec.models.hrsnn import HRSNN, HRSNNConfig
    from spikerec.pruning import LNPConfig, LyapunovNoisePruning
    from spikerec.pruning.plots import plot_report
    from spikerec.training import Trainer, load_datasets

    recipe = load_recipe("synthetic", [f"train.epochs={demo.sizes.hrsnn_epochs}", f"train.seed={demo.seed}",
                                       "model.kind=hrsnn", f"model.hidden_sizes=[{demo.sizes.hrsnn_neurons}]"])
    datasets = load_datasets(recipe, demo.data_dir)
    train_set = datasets["train"]
    dense = HRSNN(HRSNNConfig(n_inputs=train_set.n_channels, n_neurons=demo.sizes.hrsnn_neurons,
                              n_outputs=train_set.n_classes, dt_ms=recipe.data.bin_ms, seed=demo.seed))
    result = LyapunovNoisePruning(LNPConfig(seed=demo.seed)).prune(dense)
    out = demo.out / "pruning"
    result.model.save(out)
    write_json(out / "report.json", result.report)
    for plot in plot_report(result.report, out):
        demo.figures[f"pruning_{plot.stem}"] = plot
    trainer = Trainer(result.model, recipe, datasets, demo.run_dir("hrsnn-lnp"), n_classes=train_set.n_classes,
                      progress=False, val_source=datasets["val"].val_source)
    summary = trainer.fit()
    rep = result.report
    demo.results["pruning"] = {
        "neuron_sparsity": rep["neuron_sparsity"], "synapse_sparsity": rep["synapse_sparsity"],
        "lyapunov_max_before": rep["lyapunov_max_before"], "lyapunov_max_after": rep["lyapunov_max_after"],
        "test_accuracy": summary["test_accuracy"], "val_accuracy": summary["val_accuracy"]}


STAGES: list[tuple[str, Callable[[Demo], None]]] = [
    ("generate synthetic delay-motif data", make_data),
    ("train the delay SNN and the same network without delays", train_models),
    ("evaluate with integer delays", evaluate_integer_delays),
    ("plot a spike raster", plot_raster),
    ("LNP-prune a random HRSNN and train it", prune_and_train_hrsnn),
]


def run_demo(out: str | Path = "demo-out", quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run every stage into ``out``; returns the results (also ``out/summary.json`` and ``out/report.md``)."""
    from spikerec.demo.report import write_report

    demo = Demo(out=Path(out), sizes=DemoSizes.for_mode(quick), seed=seed)
    demo.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for i, (title, stage) in enumerate(STAGES, 1):
        log(f"{i}/{len(STAGES)} {title} ...")
        t0 = time.perf_counter()
        stage(demo)
        demo.results.setdefault("stage_seconds", {})[stage.__name__] = time.perf_counter() - t0
    demo.results["seconds"] = time.perf_counter() - start
    demo.results["quick"] = quick
    write_json(demo.out / "summary.json", demo.results)
    write_report(demo)
    return demo.results
