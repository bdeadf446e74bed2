"""DistributedDataParallel on CPU: ``torchrun`` launches 2 gloo processes of ``spikerec train``, and the
result must equal one process training on the same global batches.

Rank ``r`` reads every other sample of the epoch's permutation, so the two ranks' batches of 8 together are
exactly the single process's batch of 16, and DDP averages their mean-loss gradients into the mean over the
16 samples. Without BatchNorm (per-process statistics) and dropout (per-process RNG) both runs compute the
same updates, up to float32 summation order.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch

from spikerec.datasets.synthetic import synthesize
from spikerec.training.checkpoint import load_checkpoint
from spikerec.training.metrics import read_metrics

SETTINGS = ["--set", "model.hidden_sizes=[8]", "--set", "delays.max_delay_ms=30.0", "--set", "data.max_duration_ms=200.0",
            "--set", "data.val_fraction=0.25", "--set", "model.batchnorm=false", "--set", "model.dropout=0.0"]


def _train(data, run, nproc: int, batch_size: int, extra: tuple[str, ...] = ()) -> dict:
    launch = ["-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(nproc)] if nproc > 1 else []
    cmd = [sys.executable, *launch, "-m", "spikerec.cli", "train", "--recipe", "synthetic", "--data", str(data),
           "--out", str(run), "--epochs", "2", "--device", "cpu", "--json", "--quiet",
           "--set", f"train.batch_size={batch_size}", *SETTINGS, *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=400)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 1  # only rank 0 reports
    return json.loads(lines[0])


@pytest.mark.parametrize("extra", [(), ("--set", "train.sltt=true")], ids=["bptt", "sltt"])
def test_torchrun_two_cpu_processes_equal_one_process(tmp_path, extra):
    """SLTT runs the bare model and averages the gradients itself (``average_gradients``): the same contract."""
    data = tmp_path / "data"
    synthesize("shd", data, n_train=32, n_test=8, n_classes=4, seed=1)
    ddp = _train(data, tmp_path / "ddp", nproc=2, batch_size=8, extra=extra)
    single = _train(data, tmp_path / "single", nproc=1, batch_size=16, extra=extra)
    assert ddp["world_size"] == 2 and single["world_size"] == 1 and ddp["epochs"] == single["epochs"] == 2
    for a, b in zip(read_metrics(tmp_path / "ddp"), read_metrics(tmp_path / "single")):
        assert abs(a["train_loss"] - b["train_loss"]) <= 1e-4 * abs(b["train_loss"])
        assert a["val_accuracy"] == b["val_accuracy"]  # evaluation sharded over ranks and summed: same count
    ours = load_checkpoint(tmp_path / "ddp" / "last.pt")["model"]
    theirs = load_checkpoint(tmp_path / "single" / "last.pt")["model"]
    assert ours.keys() == theirs.keys()
    for key in ours:
        torch.testing.assert_close(ours[key], theirs[key], rtol=1e-4, atol=1e-5, msg=key)
    assert ddp["test_accuracy"] == single["test_accuracy"]
