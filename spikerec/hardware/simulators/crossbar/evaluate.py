"""Accuracy of a Network on crossbars, optionally swept over one non-ideality, with a plot.

This is what ``spikerec simulate FILE --backend crossbar --device-preset NAME [--sweep p=v1,v2]`` calls.
Every sweep point re-programs the crossbars from the same seed; each random stage has its own stream
(see :func:`~spikerec.hardware.simulators.crossbar.tiles.map_matrix`), so points differ only by the swept parameter.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from spikerec.errors import ConfigError, ShapeError
from spikerec.hardware.simulators.crossbar.devices import CrossbarConfig, get_config, sweepable_parameters
from spikerec.hardware.simulators.crossbar.simulate import CrossbarSimulator
from spikerec.hardware.ir.network import Network
from spikerec.io import atomic_path

__all__ = ["simulate_crossbar", "parse_sweep", "coerce_parameter", "plot_sweep"]

_INT_FIELDS = {"tile_rows", "tile_cols", "levels", "adc_bits"}
_OPTIONAL_FIELDS = {"levels", "adc_bits"}
_BOOL_FIELDS = {"drift_compensation"}
_LOG_AXIS = {"t_inference_s"}


def coerce_parameter(name: str, value: Any) -> Any:
    """Convert a CLI string (or number) to the type of crossbar parameter ``name``."""
    if name not in sweepable_parameters():
        raise ConfigError(f"unknown crossbar parameter {name!r}; valid: {sweepable_parameters()}")
    if isinstance(value, str):
        text = value.strip().lower()
        if name in _OPTIONAL_FIELDS and text in ("none", "ideal", "inf"):
            return None
        if name in _BOOL_FIELDS:
            if text not in ("true", "false", "1", "0", "yes", "no"):
                raise ConfigError(f"crossbar parameter {name}: expected true/false, got {value!r}")
            return text in ("true", "1", "yes")
        try:
            value = float(text)
        except ValueError:
            raise ConfigError(f"crossbar parameter {name}: {value!r} is not a number") from None
    if name in _INT_FIELDS and value is not None:
        if float(value) != int(float(value)):
            raise ConfigError(f"crossbar parameter {name} takes integers, got {value!r}")
        return int(float(value))
    if name in _BOOL_FIELDS:
        return bool(value)
    return value if value is None else float(value)


def parse_sweep(sweep: str | dict[str, Iterable] | None) -> tuple[str, list[Any]] | None:
    """``"adc_bits=4,6,8"`` or ``{"adc_bits": [4, 6, 8]}`` -> ``("adc_bits", [4, 6, 8])``."""
    if sweep is None:
        return None
    if isinstance(sweep, str):
        name, sep, values = sweep.partition("=")
        if not sep or not values.strip():
            raise ConfigError(f"--sweep must look like param=v1,v2,... (e.g. adc_bits=4,6,8), got {sweep!r}")
        items: dict[str, Iterable] = {name.strip(): values.split(",")}
    else:
        items = dict(sweep)
    if len(items) != 1:
        raise ConfigError(f"a sweep varies exactly one parameter, got {sorted(items)}")
    (name, values), = items.items()
    values = [coerce_parameter(name, v) for v in values]
    if not values:
        raise ConfigError(f"sweep over {name!r} has no values")
    return name, values


def _batches(frames, labels, window=None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """One batch from arrays, or every (frames, labels, window, ...) batch of an iterable, as compact numpy."""
    def as_numpy(a):
        return a.detach().cpu().numpy() if hasattr(a, "detach") else np.asarray(a)

    if labels is not None or hasattr(frames, "shape"):
        if labels is None:
            raise ShapeError("simulate_crossbar: labels [B] are required when frames is one [T, B, C] array")
        triples = [(frames, labels, window)]
    else:
        triples = [(batch[0], batch[1], batch[2] if len(batch) > 2 else None) for batch in frames]
    out = []
    for f, y, w in triples:
        f, y = as_numpy(f), as_numpy(y).astype(np.int64).reshape(-1)
        if f.ndim != 3 or f.shape[1] != y.size:
            raise ShapeError(f"simulate_crossbar: frames [T, B, C] and labels [B] disagree: "
                             f"{list(f.shape)} vs {y.size}")
        out.append((f.astype(np.int32) if np.all(f == np.round(f)) else f, y, None if w is None else as_numpy(w)))
    return out


def _evaluate(network: Network, cfg: CrossbarConfig, batches, seed: int) -> dict[str, Any]:
    """Predictions (concatenated over batches), accuracy, per-layer report and ADC clipping for one config."""
    sim = CrossbarSimulator(network, cfg, seed=seed)
    predictions = []
    clipped = np.zeros(len(network.layers), dtype=np.int64)
    conversions = np.zeros(len(network.layers), dtype=np.int64)
    for f, _, w in batches:
        res = sim.run(f, w)
        predictions.append(res.predictions)
        clipped += res.clipped
        conversions += res.conversions
    predictions = np.concatenate(predictions) if predictions else np.zeros(0, dtype=np.int64)
    labels = np.concatenate([y for _, y, _ in batches]) if batches else np.zeros(0, dtype=np.int64)
    layers = sim.layer_report()
    for entry, c, n in zip(layers, clipped, conversions):
        entry["adc_clipped_fraction"] = float(c / n) if n else 0.0
    return {"accuracy": float(np.mean(predictions == labels)) if labels.size else math.nan,
            "predictions": predictions, "layers": layers,
            "adc_clipped_fraction": float(clipped.sum() / max(conversions.sum(), 1))}


def _agreement(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(a == b)) if a.size else math.nan


def _tick_label(param: str, value: Any) -> str:
    if value is None:
        return "ideal"
    if param == "t_inference_s" and value > 0:
        for unit, seconds in (("y", 31_536_000.0), ("d", 86_400.0), ("h", 3_600.0), ("min", 60.0)):
            if value >= seconds:
                return f"{value / seconds:.3g} {unit}"
        return f"{value:g} s"
    return f"{value:g}" if isinstance(value, float) else str(value)


def plot_sweep(param: str, values: list[Any], accuracies: list[float], path: str | Path, title: str = "",
               reference: float | None = None) -> Path:
    """Accuracy vs the swept parameter, as a PNG (matplotlib Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    xs = [float("nan") if v is None else float(v) for v in values]
    labels = [_tick_label(param, v) for v in values]
    fig, ax = plt.subplots(figsize=(5.0, 3.4), dpi=120)
    positions = xs
    if any(v is None for v in values) or (param in _LOG_AXIS and any(x <= 0 for x in xs)):
        positions = list(range(len(values)))  # categorical axis (ideal ADC, t = 0 ...)
        ax.set_xticks(positions, labels)
    elif param in _LOG_AXIS:
        ax.set_xscale("log")
    ax.plot(positions, [100 * a for a in accuracies], "o-", color="tab:blue", label="crossbar")
    if reference is not None:
        ax.axhline(100 * reference, color="gray", ls="--", lw=1, label="ideal crossbar")
        ax.legend(frameon=False, fontsize=8)
    ax.set_xlabel(param)
    ax.set_ylabel("accuracy (%)")
    ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return path


def _plot_title(preset: str, param: str, overrides: dict[str, Any]) -> str:
    fixed = ", ".join(f"{k}={v}" for k, v in sorted(overrides.items()) if k != param)
    return f"{preset} crossbar: accuracy vs {param}" + (f" ({fixed})" if fixed else "")


def simulate_crossbar(network: Network, frames, labels=None, preset: str = "pcm", sweep=None, seed: int = 0,
                      out_dir: str | Path | None = None, window=None, **overrides: Any) -> dict[str, Any]:
    """Accuracy of ``network`` run on crossbars with device ``preset`` (+ ``overrides``).

    ``frames``: ``[T, B, n_inputs]`` (numpy/torch, binary or integer counts) with ``labels`` ``[B]`` and
    optionally ``window`` ``[B]`` (steps of each sample's window), or an iterable of batches
    ``(frames, labels, window, ...)`` (:class:`~spikerec.datasets.Batch`). ``sweep``: ``"param=v1,v2"`` or ``{param: [...]}``.
    Returns ``accuracy``, ``ideal_accuracy`` (same network and data on the ideal preset, which reproduces the
    event simulator), ``agreement_with_ideal`` (fraction of samples with the ideal crossbar's prediction),
    ``n_samples``, ``preset``, ``source``, ``seed``, ``config``, ``layers`` (tiles, stuck devices, ADC clipping
    per layer), ``adc_clipped_fraction``, and for a sweep ``sweep = {param, values, accuracy,
    agreement_with_ideal, adc_clipped_fraction}`` plus ``plot`` (PNG path in ``out_dir``, None without it).
    """
    overrides = {k: coerce_parameter(k, v) for k, v in overrides.items()}
    cfg = get_config(preset, **overrides)
    batches = _batches(frames, labels, window)
    base = _evaluate(network, cfg, batches, seed)
    ideal = base if cfg == get_config("ideal") else _evaluate(network, get_config("ideal"), batches, seed)
    result: dict[str, Any] = {"backend": "crossbar", "preset": cfg.name, "seed": seed, "accuracy": base["accuracy"],
                              "ideal_accuracy": ideal["accuracy"],
                              "agreement_with_ideal": _agreement(base["predictions"], ideal["predictions"]),
                              "n_samples": int(sum(y.size for _, y, _ in batches)), "source": cfg.source,
                              "config": {k: v for k, v in cfg.as_dict().items() if k != "source"},
                              "layers": base["layers"], "adc_clipped_fraction": base["adc_clipped_fraction"],
                              "sweep": None, "plot": None}
    parsed = parse_sweep(sweep)
    if parsed is None:
        return result
    param, values = parsed
    points = []
    for value in values:
        point = dataclasses.replace(cfg, **{param: value})
        points.append(base if point == cfg else _evaluate(network, point, batches, seed))
    accuracies = [p["accuracy"] for p in points]
    result["sweep"] = {"param": param, "values": values, "accuracy": accuracies,
                       "agreement_with_ideal": [_agreement(p["predictions"], ideal["predictions"]) for p in points],
                       "adc_clipped_fraction": [p["adc_clipped_fraction"] for p in points]}
    if out_dir is not None:
        result["plot"] = str(plot_sweep(param, values, accuracies, Path(out_dir) / f"crossbar_sweep_{param}.png",
                                        title=_plot_title(cfg.name, param, overrides), reference=ideal["accuracy"]))
    return result
