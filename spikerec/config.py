"""Training recipes: typed dataclasses, TOML loading with validation, ``key=value`` overrides.

A recipe is a plain TOML file with the sections ``[data] [model] [neuron] [delays] [optim] [train]``.
Every key has a typed default here; a file names only what it changes. Unknown keys, wrong
types and out-of-range choices raise :class:`~spikerec.errors.ConfigError` naming the key.
Packaged recipes live in ``spikerec/recipes/NAME.toml``; a path to any ``.toml`` file works too.
"""

from __future__ import annotations

import dataclasses
import sys
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

from spikerec.errors import ConfigError

RECIPES_DIR = Path(__file__).resolve().parent / "recipes"


@dataclass
class DataConfig:
    """Which data set and how spike events become frames (see ``spikerec.datasets``)."""

    dataset: str = "shd"
    bin_ms: float = 10.0
    pool: int = 5
    max_duration_ms: float = 0.0  # 0 = keep every sample's full length
    window: str = "sample"  # a sample's frames: its own ("sample") or max_duration_ms cropped/padded ("fixed")
    drain_steps: int = -1  # input-free steps after each sample's frames; -1 = the network's end-to-end delay
    binary: bool = False
    val_fraction: float = 0.1  # SHD has no validation split: hold out this fraction of train
    val_by: str = ""  # "" = dataset default (SHD: stratified fraction; SSC: ssc_valid.h5); "speaker"; "test"
    cache_dir: str = ""  # "" = DATA/.spikerec_cache
    num_workers: int = 0


@dataclass
class ModelConfig:
    """Network architecture; ``kind`` picks a builder in :mod:`spikerec.models`."""

    kind: str = "delay_snn"
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    dropout: float = 0.4
    batchnorm: bool = True
    bias: bool = False
    delays: bool = True  # False: the same network with plain (undelayed) synapses, for comparison


@dataclass
class NeuronConfig:
    """Spiking-neuron settings shared by the hidden layers (and readout time constant)."""

    tau_ms: float = 10.05
    threshold: float = 1.0
    reset: str = "hard"
    v_reset: float = 0.0  # reset potential (hard reset) and resting level; recipes before 0.2 called it reset_value
    detach_reset: bool = True
    surrogate: str = "atan"
    surrogate_alpha: float = 5.0
    decay_input: bool = False
    learn_tau: bool = False
    readout_tau_ms: float = 10.05
    tau_adapt_ms: float = 200.0  # adaptive LIF / meta-neuron only
    adapt_a: float = 0.5
    adapt_b: float = 1.0
    meta_eval: str = "sample"  # meta-neuron evaluation: "sample" (the trained stochastic neuron) | "mean" (deterministic)


@dataclass
class DelayConfig:
    """Learnable per-synapse delays (DCLS) and their sigma schedule."""

    max_delay_ms: float = 250.0
    sigma_start: float = 0.0  # 0 = max_delay_steps // 2 (the reference's sigInit)
    sigma_final: float = 0.23
    anneal_fraction: float = 0.25  # sigma reaches its final value after epochs * fraction
    interpolation: str = "gauss"
    kernel_count: int = 1
    init_positions: str = "uniform"
    clamp: bool = True  # clamp positions into range after every optimiser step
    integer_eval: bool = True  # evaluate with rounded integer delays


@dataclass
class OptimConfig:
    """Per-parameter-group optimisers: weights (Adam + OneCycle) and delay positions (Adam + cosine)."""

    lr: float = 1e-3
    weight_decay: float = 1e-5  # never applied to BatchNorm parameters, biases or positions
    schedule: str = "onecycle"
    max_lr: float = 5e-3
    positions_lr: float = 0.1
    positions_schedule: str = "cosine"
    grad_clip: float = 0.0  # max global grad norm; 0 = off


@dataclass
class TrainConfig:
    """Loop settings: epochs, batches, devices, memory mode, model selection."""

    epochs: int = 150
    batch_size: int = 256
    seed: int = 0
    device: str = "auto"
    amp: bool = False  # CUDA only
    compile: bool = False  # CUDA only
    sltt: bool = False  # memory-efficient online training (spatial gradients only)
    sltt_k: int = 0  # SLTT-K: backpropagate at this many random steps per batch; 0 = every step
    early_stop_patience: int = 0  # epochs without val improvement before stopping; 0 = off
    select_on: str = "val"  # split whose accuracy picks the best checkpoint: val | test | last
    qat_weight_bits: int = 0  # quantisation-aware training: synaptic weights rounded to N bits (spikerec.training.qat); 0 = off


@dataclass
class Recipe:
    """A complete, resolved training configuration."""

    name: str = "custom"
    description: str = ""
    reference: str = ""  # what the paper reports for this configuration
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    neuron: NeuronConfig = field(default_factory=NeuronConfig)
    delays: DelayConfig = field(default_factory=DelayConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=TrainConfig)


CHOICES: dict[str, tuple[str, ...]] = {
    "data.dataset": ("shd", "ssc"),
    "data.val_by": ("", "fraction", "speaker", "test"),
    "data.window": ("sample", "fixed"),
    "model.kind": ("delay_snn", "lif_rsnn", "adlif_rsnn", "meta_snn", "hrsnn"),
    "neuron.reset": ("hard", "soft"),
    "neuron.meta_eval": ("sample", "mean"),
    "neuron.surrogate": ("atan", "fast_sigmoid", "sigmoid", "triangle", "gaussian"),
    "delays.interpolation": ("gauss", "linear"),
    "optim.schedule": ("onecycle", "cosine", "constant"),
    "optim.positions_schedule": ("cosine", "constant"),
    "train.device": ("auto", "cpu", "cuda"),
    "train.select_on": ("val", "test", "last"),
}

# Keys renamed since a release; recipes (and run directories) written with the old name still load.
RENAMED_KEYS: dict[str, str] = {"neuron.reset_value": "neuron.v_reset"}

SECTIONS: dict[str, type] = {"data": DataConfig, "model": ModelConfig, "neuron": NeuronConfig,
                             "delays": DelayConfig, "optim": OptimConfig, "train": TrainConfig}
TOP_LEVEL = ("name", "description", "reference")


def _check_value(key: str, expected: Any, value: Any) -> Any:
    """Return ``value`` coerced to ``expected`` (int -> float only), else raise ConfigError."""
    origin = typing.get_origin(expected)
    if origin is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"recipe key '{key}' must be a list of {item_type.__name__}, got {value!r}")
        return [_check_value(f"{key}[{i}]", item_type, v) for i, v in enumerate(value)]
    if expected is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if expected is int and isinstance(value, bool) or not isinstance(value, expected):
        raise ConfigError(f"recipe key '{key}' must be {expected.__name__}, got {type(value).__name__} {value!r}")
    if key in CHOICES and value not in CHOICES[key]:
        raise ConfigError(f"recipe key '{key}' must be one of {list(CHOICES[key])}, got {value!r}")
    return value


def _section_from_dict(name: str, cls: type, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"recipe section '[{name}]' must be a table, got {values!r}")
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for key, value in values.items():
        key = RENAMED_KEYS.get(f"{name}.{key}", f"{name}.{key}").split(".", 1)[1]
        if key not in hints:
            raise ConfigError(f"unknown recipe key '{name}.{key}'; known keys: {sorted(hints)}")
        kwargs[key] = _check_value(f"{name}.{key}", hints[key], value)
    return cls(**kwargs)


def recipe_from_dict(raw: dict[str, Any]) -> Recipe:
    """Build a validated :class:`Recipe` from nested dicts (as parsed from TOML)."""
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in SECTIONS:
            kwargs[key] = _section_from_dict(key, SECTIONS[key], value)
        elif key in TOP_LEVEL:
            kwargs[key] = _check_value(key, str, value)
        else:
            raise ConfigError(f"unknown recipe key '{key}'; known: {sorted([*TOP_LEVEL, *SECTIONS])}")
    recipe = Recipe(**kwargs)
    validate(recipe)
    return recipe


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """Nested plain-data form of a recipe (round-trips through :func:`recipe_from_dict`)."""
    return dataclasses.asdict(recipe)


# Per model kind: recipe keys the kind's builder does not read, with the one value it behaves as if
# given (None: the key's default). Setting such a key to anything else is a ConfigError: a recipe
# never silently asks for something the model does not do.
UNUSED_KEYS: dict[str, dict[str, Any]] = {
    "hrsnn": {"model.delays": False, "model.bias": None, "neuron.tau_adapt_ms": None, "neuron.adapt_a": None,
              "neuron.adapt_b": None, **{f"delays.{f.name}": None for f in dataclasses.fields(DelayConfig)}},
}


def check_unused_keys(recipe: Recipe) -> None:
    """Raise ``ConfigError`` naming every key set for a model kind that does not use it (UNUSED_KEYS)."""
    defaults = recipe_to_dict(Recipe())
    current = recipe_to_dict(recipe)
    unused = UNUSED_KEYS.get(recipe.model.kind, {})
    wrong = []
    for key, allowed in unused.items():
        section, name = key.split(".")
        expected = defaults[section][name] if allowed is None else allowed
        if current[section][name] != expected:
            wrong.append(f"{key}={current[section][name]!r} (the only value it can have is {expected!r})")
    if recipe.model.kind == "hrsnn" and len(recipe.model.hidden_sizes) != 1:
        wrong.append(f"model.hidden_sizes={recipe.model.hidden_sizes!r} (an HRSNN has one recurrent layer: give one size)")
    if wrong:
        raise ConfigError(f"model.kind={recipe.model.kind!r} does not use: {'; '.join(wrong)}; remove them from the recipe")


def validate(recipe: Recipe) -> None:
    """Range checks that the type system cannot express, and keys the model kind would ignore."""
    checks = [
        ("data.bin_ms", recipe.data.bin_ms > 0, "> 0"),
        ("data.pool", recipe.data.pool >= 1, ">= 1"),
        ("data.val_fraction", 0 <= recipe.data.val_fraction < 1, "in [0, 1)"),
        ("data.drain_steps", recipe.data.drain_steps >= -1, ">= 0, or -1 for the network's end-to-end delay"),
        ("data.max_duration_ms", recipe.data.window != "fixed" or recipe.data.max_duration_ms > 0,
         "> 0 when data.window = 'fixed' (the fixed duration)"),
        ("model.hidden_sizes", len(recipe.model.hidden_sizes) >= 1 and min(recipe.model.hidden_sizes) >= 1,
         "a non-empty list of positive sizes"),
        ("model.dropout", 0 <= recipe.model.dropout < 1, "in [0, 1)"),
        ("neuron.tau_ms", recipe.neuron.tau_ms > 0, "> 0"),
        ("delays.max_delay_ms", recipe.delays.max_delay_ms >= recipe.data.bin_ms, ">= data.bin_ms"),
        ("delays.anneal_fraction", 0 <= recipe.delays.anneal_fraction <= 1, "in [0, 1]"),
        ("optim.lr", recipe.optim.lr > 0, "> 0"),
        ("optim.grad_clip", recipe.optim.grad_clip >= 0, ">= 0"),
        ("train.epochs", recipe.train.epochs >= 1, ">= 1"),
        ("train.batch_size", recipe.train.batch_size >= 1, ">= 1"),
        ("train.early_stop_patience", recipe.train.early_stop_patience >= 0, ">= 0"),
        ("train.qat_weight_bits", recipe.train.qat_weight_bits == 0 or 2 <= recipe.train.qat_weight_bits <= 16,
         "0 (off) or in 2..16"),
        ("train.sltt_k", recipe.train.sltt_k >= 0, ">= 0"),
    ]
    for key, ok, what in checks:
        if not ok:
            section, name = key.split(".")
            value = getattr(getattr(recipe, section), name)
            raise ConfigError(f"recipe key '{key}' must be {what}, got {value!r}")
    check_unused_keys(recipe)


def list_recipes() -> list[str]:
    """Names of the packaged recipes."""
    return sorted(p.stem for p in RECIPES_DIR.glob("*.toml"))


def _parse_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err


def load_recipe(name_or_path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Load a packaged recipe by name (``"shd-delays"``) or a TOML file by path, then apply overrides.

    ``overrides`` are ``"section.key=value"`` strings, typed by the recipe's existing value.
    """
    path = Path(name_or_path)
    if not (path.suffix == ".toml" and path.exists()):
        path = RECIPES_DIR / f"{name_or_path}.toml"
        if not path.exists():
            raise ConfigError(f"unknown recipe '{name_or_path}'; packaged recipes: {list_recipes()} "
                              "(or pass a path to a .toml file)")
    raw = _parse_toml(path)
    raw.setdefault("name", path.stem)
    recipe = recipe_from_dict(raw)
    return apply_overrides(recipe, overrides or [])


def _parse_override_value(key: str, text: str, current: Any) -> Any:
    """Interpret ``text`` with the type of ``current`` (the recipe's existing value)."""
    if isinstance(current, bool):
        lowered = text.strip().lower()
        if lowered in ("true", "1", "yes", "on"):
            return True
        if lowered in ("false", "0", "no", "off"):
            return False
        raise ConfigError(f"override '{key}={text}': expected true/false")
    if isinstance(current, (int, float, list)):
        try:
            return tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"override '{key}={text}': not a valid {type(current).__name__}") from err
    return text


def apply_overrides(recipe: Recipe, overrides: list[str]) -> Recipe:
    """Return a new recipe with ``section.key=value`` overrides applied and re-validated."""
    raw = recipe_to_dict(recipe)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override '{item}' must look like section.key=value (e.g. train.epochs=5)")
        key, text = item.split("=", 1)
        key = RENAMED_KEYS.get(key.strip(), key.strip())
        parts = key.split(".")
        if len(parts) == 1 and parts[0] in TOP_LEVEL:
            raw[parts[0]] = text
            continue
        if len(parts) != 2 or parts[0] not in SECTIONS:
            raise ConfigError(f"unknown recipe key '{key}'; use section.key with a section in {sorted(SECTIONS)}")
        section, name = parts
        if name not in raw[section]:
            raise ConfigError(f"unknown recipe key '{key}'; known keys: {sorted(raw[section])}")
        raw[section][name] = _parse_override_value(key, text, raw[section][name])
    return recipe_from_dict(raw)


def save_recipe(recipe: Recipe, path: str | Path) -> None:
    """Write the resolved recipe as TOML (atomically), so a run directory is self-describing."""
    from spikerec.io import atomic_write_text

    atomic_write_text(path, to_toml(recipe_to_dict(recipe)))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def to_toml(raw: dict[str, Any]) -> str:
    """Serialise a two-level dict of scalars/lists as TOML (enough for recipes; no dependency)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in raw.items() if not isinstance(v, dict)]
    for section, values in raw.items():
        if isinstance(values, dict):
            lines += ["", f"[{section}]"] + [f"{k} = {_toml_value(v)}" for k, v in values.items()]
    return "\n".join(lines) + "\n"
