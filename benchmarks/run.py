"""Run every ``benchmarks/bench_*.py`` (or those named on the command line), then refresh the README table.

Each benchmark runs in its own process (``python -m benchmarks.bench_x``) so peers never share
state; each writes its own results file.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.table import update_readme

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    names = argv or sorted(p.stem for p in HERE.glob("bench_*.py"))
    failed = []
    for name in names:
        print(f"== {name}", file=sys.stderr, flush=True)
        if subprocess.call([sys.executable, "-m", f"benchmarks.{name}"], cwd=HERE.parent) != 0:
            failed.append(name)
    update_readme()
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
