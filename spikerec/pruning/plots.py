"""Plots of a pruning report (matplotlib, Agg backend, files written atomically)."""

from __future__ import annotations

from pathlib import Path

from spikerec.io import atomic_path


def plot_report(report: dict, directory: str | Path) -> list[Path]:
    """Write ``lyapunov_spectrum.png`` (leading exponents before/after) and, for LNP,
    ``stages.png`` (neurons, synapses, lambda_max and spectral radius per stage). Returns paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, style in (("before", "o-"), ("after", "s--")):
        exps = report[key]["lyapunov"]["exponents"]
        ax.plot(range(1, len(exps) + 1), exps, style, label=f"{key} ({report[key]['neurons']} neurons)")
    ax.axhline(0.0, color="grey", lw=0.8)
    ax.set_xlabel("exponent index")
    ax.set_ylabel(f"Lyapunov exponent [{report['before']['lyapunov']['unit']}]")
    ax.set_title(f"{report['method']}: leading Lyapunov exponents")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, directory / "lyapunov_spectrum.png"))
    plt.close(fig)
    if report.get("stages"):
        names = ["dense"] + [s["stage"].replace("_", "\n") for s in report["stages"]]
        rows = [report["before"]] + report["stages"]
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
        for ax, key in zip(axes, ("neurons", "synapses", "lyapunov_max", "spectral_radius")):
            ax.plot(range(len(rows)), [r[key] for r in rows], "o-")
            ax.set_xticks(range(len(rows)), names, fontsize=6)
            ax.set_title(key)
        fig.tight_layout()
        written.append(_save(fig, directory / "stages.png"))
        plt.close(fig)
    return written


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path
