"""Energy model tables (packaged and user TOML), the estimate arithmetic and the report files."""

from __future__ import annotations

import json
import re
import tomllib

import numpy as np
import pytest

from spikerec.errors import ConfigError
from spikerec.hardware.energy.counts import CrossbarGeometry, count_workload
from spikerec.hardware.energy import energy_report, estimate_energy, list_models, load_model, markdown_report, \
    parse_model, write_report
from spikerec.hardware.energy.report import crossbar_geometry, resolve_models

from test_energy_counts import FRAMES, tiny_network

USER_MODEL = """
name = "toy"
kind = "snn"
[constants]
acc = { value = 1.0, unit = "pJ", source = "made up for the test" }
upd = { value = 2.0, unit = "nJ", source = "made up for the test" }
[memory]
weight_bits = 32
state_bits = 16
[[memory.sram]]
max_bytes = 16
access_bits = 64
energy = { value = 8.0, unit = "pJ", source = "made up" }
[[memory.sram]]
max_bytes = inf
access_bits = 64
energy = { value = 80.0, unit = "pJ", source = "made up" }
[[terms]]
count = ["synaptic_ops", "recurrent_ops"]
energy = "acc"
category = "compute"
synops = true
[[terms]]
count = "neuron_updates"
energy = ["upd", "acc"]
category = "compute"
[[terms]]
count = "weight_reads"
memory = "weights"
category = "memory"
[[terms]]
count = "spikes_out"
memory = "state"
per = 3
category = "periphery"
"""


def test_packaged_models_load_with_sources():
    assert {"digital-45nm", "ann-45nm", "loihi", "crossbar-pcm"} <= set(list_models())
    for name in list_models():
        model = load_model(name)
        assert model.name == name
        assert all(row["source"].strip() for row in model.sources())
    ann, digital = load_model("ann-45nm"), load_model("digital-45nm")
    assert ann.constants["mac_fp32"].joules == pytest.approx(4.6e-12)  # Horowitz ISSCC 2014
    assert digital.constants["add_fp32"].joules == pytest.approx(0.9e-12)
    assert digital.sram_level(8192).energy.joules == pytest.approx(10e-12)
    assert digital.sram_level(8193).energy.joules == pytest.approx(20e-12)
    assert all(c.secondary for c in load_model("loihi").constants.values())  # flagged: quoted, not re-checked
    assert load_model("crossbar-pcm").needs_crossbar and not digital.needs_crossbar


def test_estimate_arithmetic_by_hand(tmp_path):
    path = tmp_path / "toy.toml"
    path.write_text(USER_MODEL)
    model = load_model(path)
    w = count_workload(tiny_network(), FRAMES)  # hidden0: synops 4, rec 2, updates 6, spikes 5; readout: synops 7
    est = estimate_energy(w, model).layers
    # hidden0: 5 synapses x 32 bit = 20 bytes -> second SRAM level: 80 pJ * 32/64 per read; state 2 x 16 bit -> first
    assert est["hidden0"]["compute"] == pytest.approx((4 + 2) * 1e-12 + 6 * (2e-9 + 1e-12))
    assert est["hidden0"]["memory"] == pytest.approx(6 * 40e-12)
    assert est["hidden0"]["periphery"] == pytest.approx(5 * 3 * 8e-12 * 16 / 64)
    assert est["hidden0"]["synops_only"] == pytest.approx(6e-12)
    assert est["readout"]["memory"] == pytest.approx(7 * 8e-12 * 32 / 64)  # 3 synapses = 12 bytes: first level
    total = estimate_energy(w, model)
    assert total.memory_inclusive_joules == pytest.approx(sum(total.by_category.values()))
    assert total.synops_only_joules == pytest.approx((6 + 7) * 1e-12)


@pytest.mark.parametrize("edit,key", [
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d.update(kind="gpu"), "kind"),
    (lambda d: d["constants"]["acc"].pop("unit"), "constants.acc.unit"),
    (lambda d: d["constants"]["acc"].update(unit="kWh"), "constants.acc.unit"),
    (lambda d: d["constants"]["acc"].update(value=-1.0), "constants.acc.value"),
    (lambda d: d["constants"]["acc"].update(source=" "), "constants.acc.source"),
    (lambda d: d["terms"][0].update(count="flops"), "terms[0].count"),
    (lambda d: d["terms"][1].update(energy=["upd", "nope"]), "terms[1].energy"),
    (lambda d: d["terms"][0].update(category="misc"), "terms[0].category"),
    (lambda d: d["terms"][0].update(synops=False), "terms"),
    (lambda d: d["terms"][2].update(memory="cache"), "terms[2].memory"),
    (lambda d: d["terms"][2].update(energy="acc"), "terms[2].energy"),
    (lambda d: d["terms"][3].update(count="adc_conversions"), "terms[3].count"),
    (lambda d: d["memory"]["sram"].reverse(), "memory.sram[1].max_bytes"),
    (lambda d: d["memory"].update(weight_bits="32"), "memory.weight_bits"),
])
def test_user_model_errors_name_the_key(edit, key):
    data = tomllib.loads(USER_MODEL)
    edit(data)
    with pytest.raises(ConfigError, match=re.escape(f"key '{key}'")):
        parse_model(data, "toy.toml")


def test_unknown_model_and_bad_toml(tmp_path):
    with pytest.raises(ConfigError, match="packaged"):
        load_model("tpu-v9")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_model(bad)


def test_crossbar_model_follows_the_crossbar_simulator_config():
    from spikerec.hardware.simulators.crossbar import get_config

    base = load_model("crossbar-pcm")
    model = base.with_crossbar_config(get_config("pcm", tile_rows=64, tile_cols=32, adc_bits=6))
    assert model.crossbar == CrossbarGeometry(64, 32) and model.adc_bits == 6
    assert model.constants["adc_conversion"].joules == pytest.approx(base.constants["adc_conversion"].joules / 4)
    assert base.with_crossbar_config(get_config("ideal")).adc_bits == base.adc_bits  # ideal ADC: keep the model's
    w = count_workload(tiny_network(), FRAMES)  # counted without crossbar geometry
    with pytest.raises(ConfigError, match="crossbar"):
        estimate_energy(w, model)
    w = count_workload(tiny_network(), FRAMES, crossbar=model.crossbar)
    assert estimate_energy(w, model).by_category["periphery"] > 0


def test_report_json_markdown_and_plot(tmp_path):
    models = resolve_models(["digital-45nm", "loihi", "crossbar-pcm"], "ann-45nm")
    assert [m.name for m in models][-1] == "ann-45nm"
    w = count_workload(tiny_network(), FRAMES, crossbar=crossbar_geometry(models))
    report = energy_report(w, models)
    assert report["synaptic_ops"] == 4 + 2 + 7
    assert report["hardware"]["ann-45nm"]["memory_inclusive_vs_baseline"] == pytest.approx(1.0)
    for row in report["hardware"].values():
        assert 0 < row["synops_only_joules"] <= row["memory_inclusive_joules"]
    table = markdown_report(report)
    assert "| digital-45nm | snn |" in table and "| hidden0 |" in table
    files = write_report(report, tmp_path / "out")
    assert json.loads(open(files["json"]).read())["hardware"].keys() == report["hardware"].keys()
    assert open(files["plot"], "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    assert np.isfinite(report["activation_sparsity"])
