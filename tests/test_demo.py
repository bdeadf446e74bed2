"""``spikerec demo --quick``: every stage runs and the report folder holds what the README promises."""

from __future__ import annotations

import json

import pytest

from spikerec.cli import main


@pytest.mark.slow
def test_quick_demo_writes_a_complete_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert result["event_sim"]["agreement"] == 1.0  # exported network spikes exactly like the torch model
    assert result["data"]["classes"] >= 2
    for key in ("train_delays", "train_no-delays", "eval", "pruning", "export", "crossbar", "energy"):
        assert key in result, key
    assert 0.0 < result["pruning"]["synapse_sparsity"] < 1.0
    assert result["energy"]["hardware"]["digital-45nm"]["memory_inclusive_joules"] > 0

    report = (out / "report.md").read_text()
    for section in ("## Training: what delays buy", "## Integer delays", "## Event-driven simulation",
                    "## Memristive crossbar", "## Energy"):
        assert section in report
    for artefact in ("network.h5", "network.nir", "raster.png", "runs/delays/confusion_test.png",
                     "runs/delays/curves.png", "energy/energy.png", "summary.json"):
        assert (out / artefact).is_file(), artefact
        assert f"({artefact})" in report or f"`{artefact}`" in report
