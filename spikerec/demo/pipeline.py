"""The demo pipeline: one small function per stage, each reading and extending a shared ``Demo`` record.

Stages: synthetic data -> train the delay SNN and the same network without delays -> evaluate with
integer delays -> LNP-prune a random HRSNN and train it -> synapse-prune the trained delay SNN and fine-tune
it -> export, event-simulate and price all three hardware networks (the delay SNN, its pruned twin, the
pruned HRSNN) -> crossbar simulation of the delay SNN -> report. Every stage prints one progress line to
stderr; every number lands in ``summary.json`` and ``report.md``.
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
    """Data and model sizes. On 2 CPU cores ``quick`` takes under a minute (the test runs it), the default
    about one to two minutes (the issue allows five)."""

    n_train: int
    n_test: int
    epochs: int
    hidden: int
    hrsnn_neurons: int
    hrsnn_epochs: int
    lnp_trials: int
    synapse_sparsity: float
    finetune_epochs: int

    @classmethod
    def for_mode(cls, quick: bool) -> "DemoSizes":
        if quick:
            return cls(n_train=320, n_test=160, epochs=12, hidden=48, hrsnn_neurons=64, hrsnn_epochs=4, lnp_trials=4,
                       synapse_sparsity=0.7, finetune_epochs=8)
        return cls(n_train=1200, n_test=400, epochs=30, hidden=64, hrsnn_neurons=200, hrsnn_epochs=20, lnp_trials=20,
                   synapse_sparsity=0.7, finetune_epochs=10)


# The networks that go to hardware: run name -> what the report calls it.
HARDWARE_RUNS = {"delays": "delay SNN", "delays-pruned": "delay SNN, synapse-pruned", "hrsnn-lnp": "LNP-pruned HRSNN"}


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

    def network_file(self, name: str, suffix: str = "h5") -> Path:
        """Where the exported network of run ``name`` goes (``network.h5`` for the delay SNN)."""
        return self.out / (f"network.{suffix}" if name == "delays" else f"network-{name}.{suffix}")


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
    """Test accuracy with rounded integer delays (what hardware runs) and with continuous positions, and the
    deployed accuracy: integer delays, one sample at a time (batch size 1, as streaming hardware runs it)."""
    from spikerec.training import evaluate_run

    run = demo.run_dir("delays")
    continuous = evaluate_run(run, demo.data_dir, split="test", integer_delays=False)
    integer = evaluate_run(run, demo.data_dir, split="test", integer_delays=True)
    deployed = evaluate_run(run, demo.data_dir, split="test", integer_delays=True, batch_size=1)
    demo.results["eval"] = {"integer_delay_accuracy": integer["accuracy"],
                            "continuous_delay_accuracy": continuous["accuracy"],
                            "deployed_accuracy": deployed["accuracy"], "batch_size": integer["batch_size"],
                            "drain_steps": integer["window"]["drain_steps"], "samples": integer["n"]}
    demo.figures["confusion"] = Path(integer["confusion_png"])


def plot_raster(demo: Demo) -> None:
    """Input and hidden-layer spikes of the first test sample, from the trained delay SNN."""
    from spikerec.demo.plots import raster_png

    demo.figures["raster"] = raster_png(demo.run_dir("delays"), demo.data_dir, demo.out / "raster.png")


def prune_and_train_hrsnn(demo: Demo) -> None:
    """LNP-prune a random HRSNN without task data, then give it task input/readout layers and train it."""
    from spikerec.config import load_recipe
    from spikerec.models.hrsnn import HRSNN, HRSNNConfig
    from spikerec.pruning import LNPConfig
    from spikerec.pruning.run import run_pruning, save_result
    from spikerec.pruning.train import train_pruned

    s = demo.sizes
    recipe = load_recipe("hrsnn-lnp", [f"train.epochs={s.hrsnn_epochs}", f"train.seed={demo.seed}",
                                       f"model.hidden_sizes=[{s.hrsnn_neurons}]", "train.batch_size=32",
                                       "data.val_fraction=0.2"])
    dense = HRSNN(HRSNNConfig(n_neurons=s.hrsnn_neurons, dt_ms=recipe.data.bin_ms, seed=demo.seed))
    result = run_pruning("lnp", dense, seed=demo.seed,
                         lnp_config=LNPConfig(seed=demo.seed, timescale_trials=s.lnp_trials))
    files = save_result(result, demo.out / "pruning")
    demo.figures.update({f"pruning_{name}": path for name, path in files.items() if path.suffix == ".png"})
    summary = train_pruned(demo.out / "pruning", recipe, demo.data_dir, demo.run_dir("hrsnn-lnp"), progress=False)
    rep = result.report
    demo.results["pruning"] = {
        "neuron_sparsity": rep["neuron_sparsity"], "synapse_sparsity": rep["synapse_sparsity"],
        "lyapunov_max_before": rep["lyapunov_max_before"], "lyapunov_max_after": rep["lyapunov_max_after"],
        "neurons": summary["neurons"], "synapses": summary["synapses"],
        "test_accuracy": summary["test_accuracy"], "val_accuracy": summary["val_accuracy"]}


def prune_synapses_of_delay_snn(demo: Demo) -> None:
    """Remove the smallest-magnitude synapses of the trained delay SNN and fine-tune what is left."""
    from spikerec.pruning.prune_run import prune_run

    s = demo.sizes
    result = prune_run(demo.run_dir("delays"), "magnitude", s.synapse_sparsity, demo.data_dir, s.finetune_epochs,
                       demo.run_dir("delays-pruned"), seed=demo.seed, progress=False)
    demo.results["synapse_pruning"] = {key: result[key] for key in
                                       ("method", "synapse_sparsity", "synapses_before", "synapses_after",
                                        "finetune_epochs", "dense_test_accuracy", "pruned_test_accuracy",
                                        "test_accuracy")}
    log(f"  {result['synapses_after']} of {result['synapses_before']} synapses kept: test accuracy "
        f"{result['pruned_test_accuracy']:.3f} pruned, {result['test_accuracy']:.3f} after fine-tuning")


def export_network(demo: Demo) -> None:
    """Every hardware network as the sparse Network IR (HDF5) and as NIR (per-synapse delays exact)."""
    from spikerec.hardware.ir.export import export_run

    demo.results["export"] = {}
    for name in HARDWARE_RUNS:
        network = export_run(demo.run_dir(name), "network", demo.network_file(name))
        export_run(demo.run_dir(name), "nir", demo.network_file(name, "nir"))
        s = network["network"]
        demo.results["export"][name] = {"network_file": demo.network_file(name),
                                        "nir_file": demo.network_file(name, "nir"), "synapses": s["n_synapses"],
                                        "max_delay_steps": s["max_delay_steps"],
                                        "recurrent": any(layer["recurrent"] for layer in s["layers"])}


def _test_loader(demo: Demo, name: str = "delays"):
    from spikerec.hardware.ir.load import load_network_file, network_data_loader

    network = load_network_file(demo.network_file(name))
    return network, network_data_loader(network, demo.data_dir, "test")


def simulate_events(demo: Demo) -> None:
    """Event-driven simulation of every exported network, compared spike for spike with its torch model."""
    from spikerec.hardware.simulators.agreement import simulate_event

    demo.results["event_sim"] = {}
    for name in HARDWARE_RUNS:
        network, loader = _test_loader(demo, name)
        result = simulate_event(network, loader, str(demo.run_dir(name)))
        demo.results["event_sim"][name] = {key: result[key] for key in
                                           ("accuracy", "agreement", "prediction_agreement", "synaptic_ops",
                                            "n_samples", "reference")}


def simulate_crossbars(demo: Demo) -> None:
    """The exported network on PCM crossbars, sweeping ADC resolution."""
    from spikerec.hardware.simulators.crossbar import simulate_crossbar

    network, loader = _test_loader(demo)
    result = simulate_crossbar(network, loader, preset="pcm", sweep="adc_bits=2,4,6,8", seed=demo.seed,
                               out_dir=demo.out)
    sweep = result["sweep"]
    demo.results["crossbar"] = {"preset": "pcm", "accuracy": result["accuracy"],
                                "ideal_accuracy": result["ideal_accuracy"], "sweep_param": sweep["param"],
                                "sweep_values": sweep["values"], "sweep_accuracy": sweep["accuracy"]}
    demo.figures["crossbar_sweep"] = Path(result["plot"])


def estimate_energy(demo: Demo) -> None:
    """Measured workload of every hardware network on the test set, priced on several hardware models."""
    from spikerec.hardware.energy.report import markdown_report
    from spikerec.hardware.energy.measure import run_energy

    demo.results["energy"] = {}
    for name in HARDWARE_RUNS:
        out = demo.out / "energy" if name == "delays" else demo.out / f"energy-{name}"
        report = run_energy(demo.run_dir(name), demo.data_dir, out_dir=out)
        demo.results["energy"][name] = {"synaptic_ops": report["synaptic_ops"],
                                        "activation_sparsity": report["activation_sparsity"],
                                        "hardware": report["hardware"], "table": markdown_report(report)}
        demo.figures[f"energy_{name}".replace("-", "_")] = Path(report["files"]["plot"])


STAGES: list[tuple[str, Callable[[Demo], None]]] = [
    ("generate synthetic delay-motif data", make_data),
    ("train the delay SNN and the same network without delays", train_models),
    ("evaluate with integer delays", evaluate_integer_delays),
    ("plot a spike raster", plot_raster),
    ("LNP-prune a random HRSNN and train it", prune_and_train_hrsnn),
    ("synapse-prune the delay SNN and fine-tune it", prune_synapses_of_delay_snn),
    ("export the three networks to the Network format and NIR", export_network),
    ("event-driven simulation of the three networks", simulate_events),
    ("crossbar simulation of the delay SNN", simulate_crossbars),
    ("energy reports of the three networks", estimate_energy),
]


def run_demo(out: str | Path = "demo-out", quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Run every stage into ``out``; returns the results (also ``out/summary.json`` and ``out/report.md``)."""
    from spikerec.demo.report import write_report

    demo = Demo(out=Path(out), sizes=DemoSizes.for_mode(quick), seed=seed)
    demo.out.mkdir(parents=True, exist_ok=True)
    demo.results["networks"] = dict(HARDWARE_RUNS)
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
