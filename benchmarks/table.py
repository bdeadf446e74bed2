"""Regenerate the README's benchmark section from ``benchmarks/results/*.md``.

The section lives between ``<!-- bench:start -->`` and ``<!-- bench:end -->`` in README.md.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def render() -> str:
    parts = [p.read_text().strip() for p in sorted(RESULTS.glob("*.md"))]
    return "\n\n".join(parts) if parts else "_No benchmark results yet: run `make bench`._"


def update_readme(readme: Path = ROOT / "README.md") -> None:
    text = readme.read_text()
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        raise SystemExit(f"{readme}: markers {START} ... {END} not found")
    readme.write_text(pattern.sub(lambda _: f"{START}\n{render()}\n{END}", text))


if __name__ == "__main__":
    update_readme()
