"""Recipes: packaged presets load, hold the reference values, validate keys/types, take overrides."""

from __future__ import annotations

import pytest

from spikerec.config import (ConfigError, Recipe, apply_overrides, list_recipes, load_recipe, recipe_from_dict,
                             recipe_to_dict, save_recipe)


def test_packaged_recipes_load():
    names = list_recipes()
    assert {"shd-delays", "ssc-delays", "shd-adlif", "shd-meta", "synthetic"} <= set(names)
    for name in names:
        recipe = load_recipe(name)
        assert recipe.name == name and recipe.reference


def test_shd_delays_matches_reference_configuration():
    r = load_recipe("shd-delays")
    assert (r.data.bin_ms, r.data.pool, r.model.hidden_sizes, r.model.dropout) == (10.0, 5, [256, 256], 0.4)
    assert (r.neuron.tau_ms, r.neuron.decay_input, r.neuron.threshold, r.neuron.reset) == (10.05, False, 1.0, "hard")
    assert r.neuron.detach_reset and r.neuron.surrogate == "atan" and r.neuron.surrogate_alpha == 5.0
    assert (r.delays.max_delay_ms, r.delays.sigma_final, r.delays.anneal_fraction) == (250.0, 0.23, 0.25)
    assert (r.optim.lr, r.optim.weight_decay, r.optim.max_lr, r.optim.positions_lr) == (1e-3, 1e-5, 5e-3, 0.1)
    assert (r.optim.schedule, r.optim.positions_schedule) == ("onecycle", "cosine")
    assert (r.train.epochs, r.train.batch_size) == (150, 256)
    s = load_recipe("ssc-delays")
    assert (s.model.hidden_sizes, s.model.dropout, s.neuron.tau_ms, s.delays.max_delay_ms) == ([512] * 3, 0.25, 15.0, 310.0)
    assert (s.train.epochs, s.train.batch_size) == (60, 128)


def test_overrides_are_typed_by_existing_value():
    r = load_recipe("shd-delays", ["train.epochs=3", "model.hidden_sizes=[8, 4]", "model.delays=false",
                                   "optim.lr=2", "neuron.surrogate=sigmoid"])
    assert r.train.epochs == 3 and r.model.hidden_sizes == [8, 4] and r.model.delays is False
    assert r.optim.lr == 2.0 and isinstance(r.optim.lr, float) and r.neuron.surrogate == "sigmoid"


@pytest.mark.parametrize("override, fragment", [
    ("train.epoch=3", "train.epoch"),
    ("bogus.key=1", "bogus.key"),
    ("train.epochs=2.5", "train.epochs"),
    ("train.epochs=many", "train.epochs"),
    ("model.delays=maybe", "model.delays"),
    ("train.device=tpu", "train.device"),
    ("model.dropout=1.5", "model.dropout"),
    ("noequals", "section.key=value"),
])
def test_bad_overrides_raise_config_error_naming_the_key(override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_recipe("synthetic", [override])


def test_toml_file_validation(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('[train]\nepochs = 2\n[model]\nhidden_sizes = [4]\n')
    r = load_recipe(path)
    assert r.name == "mine" and r.train.epochs == 2 and r.model.hidden_sizes == [4]
    path.write_text('[train]\nepochs = "two"\n')
    with pytest.raises(ConfigError, match="train.epochs"):
        load_recipe(path)
    path.write_text('[model]\nhiden_sizes = [4]\n')
    with pytest.raises(ConfigError, match="model.hiden_sizes"):
        load_recipe(path)
    path.write_text('[train\n')
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_recipe(path)
    with pytest.raises(ConfigError, match="unknown recipe 'nope'"):
        load_recipe("nope")


def test_resolved_recipe_round_trips_through_toml(tmp_path):
    r = apply_overrides(load_recipe("shd-adlif"), ["description=with \"quotes\"", "train.seed=7"])
    save_recipe(r, tmp_path / "recipe.toml")
    assert load_recipe(tmp_path / "recipe.toml") == r
    assert recipe_from_dict(recipe_to_dict(r)) == r
    assert recipe_from_dict({}) == Recipe()


def test_renamed_keys_still_load(tmp_path):
    """Run directories written before the rename keep loading: neuron.reset_value is now neuron.v_reset."""
    old = tmp_path / "old.toml"
    old.write_text('name = "old"\n\n[neuron]\nreset_value = -0.25\n')
    assert load_recipe(old).neuron.v_reset == -0.25
    assert load_recipe("shd-delays", ["neuron.reset_value=0.5"]).neuron.v_reset == 0.5
