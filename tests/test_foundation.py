"""The shared foundation: typed errors through the CLI, atomic file writes, JSON output, benchmark table."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from spikerec import cli
from spikerec.errors import DataError, ParameterError, ShapeError, SpikerecError
from spikerec.io import atomic_path, atomic_write_text, print_result, to_jsonable, write_json


def test_data_error_names_file_and_sample():
    err = DataError("units out of range", path="x/shd_train.h5", sample=17)
    assert str(err) == "x/shd_train.h5: sample 17: units out of range"
    assert isinstance(err, SpikerecError)


def test_value_errors_are_also_valueerror():
    assert issubclass(ShapeError, ValueError) and issubclass(ParameterError, ValueError)


def test_atomic_write_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "first")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half-written")
            raise RuntimeError("crash while writing")
    assert target.read_text() == "first"
    assert [p.name for p in target.parent.iterdir()] == ["f.txt"]  # no temp file left behind


def test_atomic_write_gives_the_umask_mode_not_0600(tmp_path):
    import os

    old = os.umask(0o022)
    try:
        atomic_write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert (tmp_path / "shared.txt").stat().st_mode & 0o777 == 0o644


def test_to_jsonable_handles_numpy_torch_and_nan(tmp_path):
    import torch

    obj = {"a": np.float32(1.5), "b": np.arange(3), "c": torch.tensor([1, 2]), "d": float("nan"), 3: (1, 2)}
    assert to_jsonable(obj) == {"a": 1.5, "b": [0, 1, 2], "c": [1, 2], "d": None, "3": [1, 2]}
    write_json(tmp_path / "o.json", obj)
    assert json.loads((tmp_path / "o.json").read_text())["b"] == [0, 1, 2]


def _failing_command(args):
    raise DataError("labels out of range", path="f.h5", sample=3)


def test_cli_prints_typed_error_as_one_line_and_exits_nonzero(monkeypatch, capsys):
    real_build = cli.build_parser

    def build_with_failing_command():
        parser = real_build()
        sub = next(a for a in parser._actions if a.dest == "command")
        sub.add_parser("boom").set_defaults(func=_failing_command)
        return parser

    monkeypatch.setattr(cli, "build_parser", build_with_failing_command)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "spikerec boom: error: f.h5: sample 3: labels out of range"
    assert "Traceback" not in err


def test_print_result_json_is_last_line(capsys):
    print_result({"accuracy": np.float64(0.5)}, as_json=True)
    out = capsys.readouterr().out.strip().splitlines()
    assert json.loads(out[-1]) == {"accuracy": 0.5}


def test_console_script_help_lists_subcommands():
    proc = subprocess.run([sys.executable, "-m", "spikerec.cli", "--help"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "data" in proc.stdout


def test_benchmark_table_is_stitched_between_markers(tmp_path, monkeypatch):
    import json

    from benchmarks import table

    results = tmp_path / "results"
    results.mkdir()
    row = {"case": "integer-delay inference (no grad)", "ratio": 6.5, "ratio_cpu1": 7.25}
    (results / "delays.json").write_text(json.dumps({"title": "Delays", "date": "2026-01-02", "rows": [row]}))
    readme = tmp_path / "README.md"
    readme.write_text(f"head\n{table.START}\nold\n{table.END}\ntail\n")
    monkeypatch.setattr(table, "RESULTS", results)
    table.update_readme(readme)
    text = readme.read_text()
    assert "old" not in text and text.startswith("head") and text.endswith("tail\n")
    assert "| integer-delay inference vs conv1d with a one-hot kernel | 6.50x | 7.25x | >= 5x |" in text
    assert "| `LIF` fwd+bwd (dense gradient) vs SpikingJelly `LIFNode` | not measured |" in text  # no lif.json
    assert "[Delays](benchmarks/results/delays.md)" in text
