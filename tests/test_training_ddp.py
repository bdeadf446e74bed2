"""DistributedDataParallel on CPU: ``torchrun`` launches 2 gloo processes of ``spikerec train``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from spikerec.datasets.synthetic import synthesize
from spikerec.training.metrics import read_metrics


def test_torchrun_two_cpu_processes(tmp_path):
    data = tmp_path / "data"
    synthesize("shd", data, n_train=32, n_test=8, n_classes=4, seed=1)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
           "-m", "spikerec.cli", "train", "--recipe", "synthetic", "--data", str(data), "--out", str(run),
           "--epochs", "1", "--device", "cpu", "--json", "--quiet",
           "--set", "model.hidden_sizes=[8]", "--set", "delays.max_delay_ms=30.0", "--set", "train.batch_size=8",
           "--set", "data.max_duration_ms=200.0", "--set", "data.val_fraction=0.25"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # only rank 0 reports
    summary = json.loads(lines[0])
    assert summary["world_size"] == 2 and summary["epochs"] == 1
    assert 0 <= summary["test_accuracy"] <= 1 and 0 <= summary["val_accuracy"] <= 1
    assert [row["epoch"] for row in read_metrics(run)] == [0]
    assert (run / "best.pt").is_file() and (run / "summary.json").is_file()
