"""The README works as written: every code block marked ``<!-- runnable -->`` runs in a fresh directory
(with ``examples/`` linked in, as if run from the repository root)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"<!-- runnable -->\s*```(python|bash)\n(.*?)```", re.S)


def runnable_blocks() -> list[tuple[str, str]]:
    return BLOCK.findall(README.read_text())


def test_readme_marks_both_kinds_of_block():
    assert {lang for lang, _ in runnable_blocks()} == {"python", "bash"}


def test_readme_starts_with_the_two_setup_commands():
    first_block = README.read_text().split("```bash\n", 1)[1].split("```", 1)[0].splitlines()
    assert [line.split("#")[0].strip() for line in first_block] == ["make demo", "make test"]


@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(runnable_blocks())))
def test_readme_block_runs(index, tmp_path):
    lang, code = runnable_blocks()[index]
    (tmp_path / "examples").symlink_to(README.parent / "examples")  # README commands run from the repo root
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-c", code] if lang == "python" else ["bash", "-euo", "pipefail", "-c", code]
    proc = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"README {lang} block {index} failed:\n{code}\n--- stderr ---\n{proc.stderr[-3000:]}"
