"""Energy report of one network on one data split: JSON, a markdown table and a per-layer bar plot.

``energy_report(workload, models, baseline="ann-45nm")`` -> dict (joules per sample);
``markdown_report(report)`` -> str; ``plot_report(report, path)`` writes the PNG: one panel per
hardware model, three bars per layer — SynOps-only, memory-inclusive (stacked compute / memory /
periphery) and the ANN baseline (stacked, hatched); ``write_report(report, out_dir)`` writes
``energy.json``, ``energy.md`` and ``energy.png`` atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

from spikerec.errors import ConfigError
from spikerec.hardware.energy.counts import Workload
from spikerec.hardware.energy.estimate import estimate_energy
from spikerec.hardware.energy.tables import CATEGORIES, EnergyModel, load_model
from spikerec.io import atomic_path, atomic_write_text, write_json

__all__ = ["energy_report", "markdown_report", "plot_report", "write_report", "DEFAULT_HARDWARE", "BASELINE"]

DEFAULT_HARDWARE = ("digital-45nm", "loihi", "crossbar-pcm")
BASELINE = "ann-45nm"
COUNT_COLUMNS = ("input_spikes", "synaptic_ops", "recurrent_ops", "neuron_updates", "spikes_out", "dense_macs",
                 "ann_macs")


def resolve_models(hardware: Sequence[str | EnergyModel], baseline: str | EnergyModel | None = BASELINE,
                   crossbar_config: Any = None) -> list[EnergyModel]:
    """Load models by name/path (baseline last, deduplicated); apply ``crossbar_config`` to crossbar models."""
    items = list(hardware) + ([baseline] if baseline is not None else [])
    models, seen = [], set()
    for item in items:
        model = item if isinstance(item, EnergyModel) else load_model(item)
        if model.name in seen:
            continue
        seen.add(model.name)
        if crossbar_config is not None and model.crossbar is not None:
            model = model.with_crossbar_config(crossbar_config)
        models.append(model)
    return models


def crossbar_geometry(models: Sequence[EnergyModel]):
    """The one crossbar geometry the models need (None if none needs one)."""
    geometries = {m.crossbar for m in models if m.needs_crossbar}
    if len(geometries) > 1:
        raise ConfigError(f"energy models need different crossbar geometries {sorted(map(str, geometries))}; "
                          f"report them in separate runs")
    return next(iter(geometries), None)


def energy_report(workload: Workload, models: Sequence[EnergyModel], baseline: str | None = BASELINE) -> dict[str, Any]:
    """Per-sample counts and energies of ``workload`` on each model, with ratios to ``baseline``."""
    estimates = {m.name: estimate_energy(workload, m) for m in models}
    if baseline is not None and baseline not in estimates:
        raise ConfigError(f"baseline model {baseline!r} is not among the models {sorted(estimates)}")
    counts = workload.to_dict()
    hardware = {name: est.to_dict() for name, est in estimates.items()}
    if baseline is not None:
        base = estimates[baseline].memory_inclusive_joules
        base_ops = estimates[baseline].synops_only_joules
        for name, row in hardware.items():
            row["memory_inclusive_vs_baseline"] = row["memory_inclusive_joules"] / base if base else float("nan")
            row["synops_only_vs_baseline"] = row["synops_only_joules"] / base_ops if base_ops else float("nan")
    return {
        "synaptic_ops": counts["synaptic_ops"],
        "activation_sparsity": counts["activation_sparsity"],
        "connection_sparsity": counts["connection_sparsity"],
        "parameter_count": counts["parameter_count"],
        "footprint_bytes": counts["footprint_bytes"],
        "n_samples": counts["n_samples"],
        "baseline": baseline,
        "counts": counts,
        "hardware": hardware,
        "units": "joules per sample; counts are per-sample means",
    }


def _eng(x: float) -> str:
    return "n/a" if x != x else f"{x:.3g}"


def markdown_report(report: dict[str, Any]) -> str:
    """Two markdown tables: energy per hardware model, then per-layer counts."""
    lines = [f"Energy per sample ({report['n_samples']} samples; synaptic ops {_eng(report['synaptic_ops'])}, "
             f"activation sparsity {report['activation_sparsity']:.4f}, connection sparsity "
             f"{report['connection_sparsity']:.4f})", "",
             "| hardware | kind | SynOps-only (J) | memory-inclusive (J) | compute (J) | memory (J) | periphery (J) "
             "| vs ANN baseline |", "|---|---|---|---|---|---|---|---|"]
    for name, row in report["hardware"].items():
        cat = row["by_category_joules"]
        ratio = row.get("memory_inclusive_vs_baseline")
        lines.append(f"| {name} | {row['kind']} | {_eng(row['synops_only_joules'])} | "
                     f"{_eng(row['memory_inclusive_joules'])} | " + " | ".join(_eng(cat[c]) for c in CATEGORIES)
                     + f" | {'' if ratio is None else f'{ratio:.3g}x'} |")
    per = report["counts"]["per_sample"]
    lines += ["", "| layer | " + " | ".join(COUNT_COLUMNS) + " |", "|---" * (len(COUNT_COLUMNS) + 1) + "|"]
    for name, row in per.items():
        lines.append(f"| {name} | " + " | ".join(_eng(row[c]) for c in COUNT_COLUMNS) + " |")
    return "\n".join(lines) + "\n"


def plot_report(report: dict[str, Any], path: str | Path) -> Path:
    """Per-layer stacked bars (compute / memory / periphery) per hardware model, beside SynOps-only and the
    ANN baseline; joules per sample on a log axis (the three differ by orders of magnitude), totals on the bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    baseline = report.get("baseline")
    names = [n for n in report["hardware"] if n != baseline] or list(report["hardware"])
    layers = list(next(iter(report["hardware"].values()))["layers"])
    colours = {"compute": "#4c72b0", "memory": "#dd8452", "periphery": "#55a868"}
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 4.0), squeeze=False)
    x = np.arange(len(layers))
    width = 0.27
    for ax, name in zip(axes[0], names):
        rows = report["hardware"][name]["layers"]
        ax.bar(x - width, [rows[la]["synops_only"] for la in layers], width, color="#999999", label="SynOps-only")
        bars = [(x, rows, "", name)]
        if baseline is not None and baseline != name:
            bars.append((x + width, report["hardware"][baseline]["layers"], "//", baseline))
        for pos, data, hatch, label in bars:
            bottom = np.zeros(len(layers))
            for cat in CATEGORIES:
                values = np.array([data[la][cat] for la in layers])
                ax.bar(pos, values, width, bottom=bottom, color=colours[cat], hatch=hatch, edgecolor="white",
                       label=f"{cat} ({'ANN baseline' if hatch else 'memory-incl.'})")
                bottom += values
            for xi, total in zip(pos, bottom):
                ax.annotate(f"{total:.2g}", (xi, total), ha="center", va="bottom", fontsize=7)
        ax.set_yscale("log")
        ax.set_xticks(x, layers)
        ax.set_title(name)
        ax.set_ylabel("J per sample")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7, frameon=False)
    fig.suptitle("Energy per layer: SynOps-only | memory-inclusive | ANN baseline (hatched)", fontsize=10)
    fig.tight_layout(rect=(0, 0.1, 1, 1))
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def write_report(report: dict[str, Any], out_dir: str | Path) -> dict[str, str]:
    """Write ``energy.json``, ``energy.md`` and ``energy.png`` into ``out_dir``; returns their paths."""
    out = Path(out_dir)
    paths = {"json": out / "energy.json", "markdown": out / "energy.md", "plot": out / "energy.png"}
    write_json(paths["json"], report)
    atomic_write_text(paths["markdown"], markdown_report(report))
    plot_report(report, paths["plot"])
    return {k: str(v) for k, v in paths.items()}
