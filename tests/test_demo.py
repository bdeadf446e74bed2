"""``spikerec demo --quick``: every stage runs and the report folder holds what the README promises."""

from __future__ import annotations

import json

import pytest

from spikerec.cli import main
from spikerec.demo.pipeline import DemoSizes


@pytest.mark.slow
def test_quick_demo_writes_a_complete_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--quick", "--out", str(out), "--json"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    networks = ("delays", "delays-pruned", "hrsnn-lnp")  # the delay SNN, its synapse-pruned twin, the LNP HRSNN
    for name in networks:  # every exported network spikes exactly like its torch model
        assert result["event_sim"][name]["agreement"] == 1.0, name
        assert result["energy"][name]["hardware"]["digital-45nm"]["memory_inclusive_joules"] > 0, name
        assert result["energy"][name]["synaptic_ops"] == result["event_sim"][name]["synaptic_ops"], name
    assert result["data"]["classes"] >= 2
    for key in ("train_delays", "train_no-delays", "eval", "pruning", "synapse_pruning", "export", "crossbar",
                "energy"):
        assert key in result, key
    assert 0.0 < result["pruning"]["synapse_sparsity"] < 1.0
    kept = 1.0 - DemoSizes.for_mode(quick=True).synapse_sparsity
    assert result["export"]["delays-pruned"]["synapses"] == result["synapse_pruning"]["synapses_after"]
    assert result["synapse_pruning"]["synapses_after"] <= kept * result["export"]["delays"]["synapses"]
    assert result["export"]["hrsnn-lnp"]["recurrent"]
    dense, pruned = result["energy"]["delays"], result["energy"]["delays-pruned"]
    assert pruned["synaptic_ops"] < dense["synaptic_ops"]
    assert (pruned["hardware"]["digital-45nm"]["memory_inclusive_joules"]
            < dense["hardware"]["digital-45nm"]["memory_inclusive_joules"])

    report = (out / "report.md").read_text()
    for section in ("## Training: what delays buy", "## Integer delays", "## Synapse pruning", "## Event-driven simulation",
                    "## Memristive crossbar", "## Energy"):
        assert section in report
    for artefact in ("network.h5", "network.nir", "network-delays-pruned.h5", "network-hrsnn-lnp.nir", "raster.png",
                     "runs/delays/confusion_test.png", "runs/delays/curves.png", "energy/energy.png",
                     "energy-hrsnn-lnp/energy.png", "summary.json"):
        assert (out / artefact).is_file(), artefact
        assert f"({artefact})" in report or f"`{artefact}`" in report
