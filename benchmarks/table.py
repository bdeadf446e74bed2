"""Regenerate the README's benchmark section from ``benchmarks/results/*.json``.

The section lives between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in README.md: a headline table
(one row per speed claim, the ratio read from its result file next to the goal it was set) and a list of every
benchmark with a link to its full table (``results/NAME.md``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"

# (label, result name, the row's identifying fields, goal, where its 1-thread CPU-time ratio is: a column of that
# row, or the fields that pick another row of the same result). Ratio = peer time / spikerec time.
HEADLINES = [
    ("`DelayedLinear` fwd+bwd, initial sigma, vs `dcls` `Dcls1d`", "delays",
     {"case": "train fwd+bwd, sigma=12 (initial)"}, ">= 2x", "ratio_cpu1"),
    ("`DelayedLinear` fwd+bwd + input grad, initial sigma, vs `Dcls1d`", "delays",
     {"case": "train fwd+bwd + input grad, sigma=12"}, ">= 2x", "ratio_cpu1"),
    ("integer-delay inference vs conv1d with a one-hot kernel", "delays",
     {"case": "integer-delay inference (no grad)"}, ">= 5x", "ratio_cpu1"),
    ("one `shd-delays` epoch, early phase, vs SpikingJelly + `Dcls1d` reference", "epoch",
     {"phase": "early (sigma=K//2, epoch 0)", "timing": "2 threads, wall"}, ">= 2x", {"timing": "1 thread, CPU time"}),
    ("one `shd-delays` epoch, weighted over a 150-epoch run", "epoch",
     {"phase": "full 150-epoch run (weighted)", "timing": "2 threads, wall"}, "", {"timing": "1 thread, CPU time"}),
    ("`LIF` fwd+bwd (dense gradient) vs SpikingJelly `LIFNode`", "lif",
     {"layer": "LIF", "peer": "SpikingJelly 2.0 LIFNode (step_mode='m')", "spikerec": "compiled C kernel"}, ">= 4x",
     "ratio_1thread_cpu"),
    ("`RecurrentLIF` fwd+bwd vs snntorch `RLeaky`", "lif",
     {"layer": "RecurrentLIF (N x N recurrent weights)", "spikerec": "compiled C kernel"}, ">= 8x", "ratio_1thread_cpu"),
    ("`AdaptiveLIF` fwd+bwd vs the same equations in plain autograd", "lif",
     {"layer": "AdaptiveLIF (recurrent, learnable tau/a/b)", "spikerec": "compiled C kernel"}, "", "ratio_1thread_cpu"),
    ("SHD events -> frames vs tonic `ToFrame`", "binning",
     {"case": "events -> frames (tonic: build event array + ToFrame)"}, ">= 5x", None),
]


def _row(result: dict, match: dict) -> dict | None:
    return next((r for r in result["rows"] if all(r.get(k) == v for k, v in match.items())), None)


def _load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.is_file() else None


def headline_table() -> str:
    lines = ["| workload | ratio (2 threads, wall) | ratio (1 thread, CPU time) | goal | measured |",
             "|---|---|---|---|---|"]
    for label, name, match, goal, one_thread_at in HEADLINES:
        result = _load(name)
        row = None if result is None else _row(result, match)
        if row is None:
            lines.append(f"| {label} | not measured | | {goal} | |")
            continue
        if isinstance(one_thread_at, dict):
            twin = _row(result, {**match, **one_thread_at})
            one_thread = None if twin is None else twin["ratio"]
        else:
            one_thread = row.get(one_thread_at) if one_thread_at else None
        lines.append(f"| {label} | {row['ratio']:.2f}x | {'' if one_thread is None else f'{one_thread:.2f}x'} | "
                     f"{goal} | [{result['date']}](benchmarks/results/{name}.md) |")
    return "\n".join(lines)


def index() -> str:
    lines = []
    for path in sorted(RESULTS.glob("*.json")):
        result = json.loads(path.read_text())
        lines.append(f"- [{result['title']}](benchmarks/results/{path.stem}.md) — `benchmarks/bench_{path.stem}.py`"
                     if (ROOT / "benchmarks" / f"bench_{path.stem}.py").is_file()
                     else f"- [{result['title']}](benchmarks/results/{path.stem}.md)")
    return "\n".join(lines)


def render() -> str:
    if not any(RESULTS.glob("*.json")):
        return "_No benchmark results yet: run `make bench`._"
    return (f"Ratios are peer time / spikerec time (> 1: spikerec is faster), medians of interleaved runs on a "
            f"shared 2-core CPU.\n\n{headline_table()}\n\nEvery benchmark, with its full table:\n\n{index()}")


def update_readme(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.DOTALL)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: markers {START} ... {END} not found")
    readme.write_text(pattern.sub(lambda _: f"{START}\n{render()}\n{END}", text))


if __name__ == "__main__":
    update_readme()
