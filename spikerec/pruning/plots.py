"""Plots of a pruning report (matplotlib, Agg backend, files written atomically)."""

from __future__ import annotations

from pathlib import Path

from spikerec.io import atomic_path


def _ci_error(rows: list[dict]) -> tuple[list[float], list[list[float]]]:
    """Means and asymmetric error bars of lambda_max from report rows with a ``lyapunov`` entry."""
    means = [r["lyapunov"]["lambda_max"] for r in rows]
    lower = [m - r["lyapunov"]["lambda_max_ci"][0] for m, r in zip(means, rows)]
    upper = [r["lyapunov"]["lambda_max_ci"][1] - m for m, r in zip(means, rows)]
    return means, [lower, upper]


def plot_report(report: dict, directory: str | Path) -> list[Path]:
    """Write ``lyapunov_spectrum.png`` (mean leading exponents before/after, the largest with its
    confidence interval) and, for LNP, ``stages.png`` (neurons, synapses, lambda_max with interval
    and firing rate after each stage). Returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for key, style in (("before", "o-"), ("after", "s--")):
        lyap = report[key]["lyapunov"]
        exps = lyap["exponents_mean"]
        line, = ax.plot(range(1, len(exps) + 1), exps, style, label=f"{key} ({report[key]['neurons']} neurons)")
        mean, err = _ci_error([report[key]])
        ax.errorbar([1], mean, yerr=err, color=line.get_color(), capsize=4)
    ax.set_xlabel("exponent index")
    ax.set_ylabel(f"Lyapunov exponent [{report['before']['lyapunov']['unit']}]")
    ax.set_title(f"{report['method']}: leading exponents ({report['before']['lyapunov']['method']})")
    ax.legend()
    fig.tight_layout()
    written.append(_save(fig, directory / "lyapunov_spectrum.png"))
    plt.close(fig)
    if report.get("stages"):
        rows = [report["before"]] + report["stages"]
        names = ["dense"] + [s["stage"].replace("_", "\n") for s in report["stages"]]
        fig, axes = plt.subplots(1, 4, figsize=(14, 3.5))
        for ax, key in zip(axes, ("neurons", "synapses", "lyapunov_max", "rate")):
            if key == "lyapunov_max":
                mean, err = _ci_error(rows)
                ax.errorbar(range(len(rows)), mean, yerr=err, fmt="o-", capsize=3)
            else:
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
