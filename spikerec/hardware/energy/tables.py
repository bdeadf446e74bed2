"""Energy models as data: TOML tables of sourced constants and terms (count x energy), validated on load.

A model file (see ``models/*.toml`` for the packaged ones) holds::

    name, description, kind = "snn" | "ann"
    [constants]  NAME = { value, unit ("fJ" | "pJ" | "nJ" | "uJ" | "mJ" | "J"), source, secondary?, note? }
    [memory]     weight_bits, state_bits, [[memory.sram]] { max_bytes (inf allowed), access_bits, energy = {...} }
    [crossbar]   tile_rows, tile_cols (column pairs), adc_bits   (only for models using crossbar counts)
    [[terms]]    name, count = KEY | [KEYS], category = "compute" | "memory" | "periphery",
                 energy = CONSTANT | [CONSTANTS]  or  memory = "weights" | "state",  per = 1.0, synops = false

A term costs ``sum(counts) x per x (sum of its constants | SRAM access energy)``. ``memory = "weights"``
picks the SRAM entry that holds the layer's synapses (``weight_bits`` each), ``"state"`` the one that
holds its neurons (``state_bits`` each); an access costs ``energy x bits / access_bits``. Terms marked
``synops = true`` make the SynOps-only estimate; all terms together the memory-inclusive one.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from spikerec.errors import ConfigError
from spikerec.hardware.energy.counts import COUNT_KEYS, CROSSBAR_KEYS, CrossbarGeometry

__all__ = ["Constant", "EnergyModel", "SramLevel", "Term", "list_models", "load_model", "parse_model"]

UNITS = {"fJ": 1e-15, "pJ": 1e-12, "nJ": 1e-9, "uJ": 1e-6, "mJ": 1e-3, "J": 1.0}
CATEGORIES = ("compute", "memory", "periphery")
KINDS = ("snn", "ann")
MEMORIES = ("weights", "state")
PACKAGE = "spikerec.hardware.energy"  # model files live in its models/ folder


@dataclass(frozen=True)
class Constant:
    """An energy per operation, in joules, with where it comes from."""

    name: str
    joules: float
    value: float
    unit: str
    source: str
    secondary: bool = False
    note: str = ""


@dataclass(frozen=True)
class SramLevel:
    max_bytes: float
    access_bits: int
    energy: Constant

    def access_joules(self, bits: int) -> float:
        """Energy of one access of a ``bits``-wide word."""
        return self.energy.joules * bits / self.access_bits


@dataclass(frozen=True)
class Term:
    name: str
    counts: tuple[str, ...]
    category: str
    constants: tuple[str, ...] = ()
    memory: str | None = None
    per: float = 1.0
    synops: bool = False


@dataclass
class EnergyModel:
    name: str
    description: str
    kind: str
    constants: dict[str, Constant]
    terms: list[Term]
    weight_bits: int = 32
    state_bits: int = 32
    sram: list[SramLevel] = field(default_factory=list)
    crossbar: CrossbarGeometry | None = None
    adc_bits: int | None = None
    path: str = ""

    @property
    def needs_crossbar(self) -> bool:
        return any(k in CROSSBAR_KEYS for t in self.terms for k in t.counts)

    def sram_level(self, n_bytes: float) -> SramLevel:
        """The smallest SRAM level holding ``n_bytes``."""
        for level in self.sram:
            if n_bytes <= level.max_bytes:
                return level
        raise ConfigError(f"energy model {self.name!r}: no [[memory.sram]] level holds {n_bytes:.0f} bytes; add one "
                          f"with max_bytes = inf")

    def sources(self) -> list[dict[str, Any]]:
        """Every constant with value, unit, source and the secondary-source flag (for reports)."""
        rows = [vars(c) for c in self.constants.values()]
        rows += [{**vars(level.energy), "name": f"sram<= {level.max_bytes:g} B ({level.access_bits}-bit access)"}
                 for level in self.sram]
        return rows

    def with_crossbar_config(self, config: Any) -> "EnergyModel":
        """This model re-targeted to a crossbar configuration: a
        :class:`spikerec.hardware.simulators.crossbar.CrossbarConfig` (``tile_rows``, ``tile_cols``, ``adc_bits``) or a
        dict with the same keys. The ADC energy is rescaled by ``2**(adc_bits - model
        adc_bits)`` (constant Walden figure of merit); ``adc_bits = None`` (ideal ADC) keeps the model's.
        """
        if self.crossbar is None:
            raise ConfigError(f"energy model {self.name!r} has no [crossbar] section to configure")
        get = (lambda k: config.get(k)) if isinstance(config, dict) else (lambda k: getattr(config, k, None))
        rows = _given_or(get, "tile_rows", self.crossbar.tile_rows)
        cols = _given_or(get, "tile_cols", self.crossbar.tile_cols)
        bits = _given_or(get, "adc_bits", self.adc_bits)
        constants = dict(self.constants)
        if bits is not None and self.adc_bits is not None and "adc_conversion" in constants and bits != self.adc_bits:
            c = constants["adc_conversion"]
            scale = 2.0 ** (int(bits) - self.adc_bits)
            constants["adc_conversion"] = Constant(c.name, c.joules * scale, c.value * scale, c.unit, c.source,
                                                   c.secondary, f"{c.note}; rescaled x{scale:g} to {bits}-bit ADC")
        return EnergyModel(self.name, self.description, self.kind, constants, self.terms, self.weight_bits,
                           self.state_bits, self.sram, CrossbarGeometry(int(rows), int(cols)),
                           None if bits is None else int(bits), self.path)


    def with_word_bits(self, weight_bits: int, state_bits: int) -> "EnergyModel":
        """This model storing each weight in ``weight_bits`` and each neuron state in ``state_bits`` (the number
        formats of a quantised network's target profile) instead of its table's widths."""
        return replace(self, weight_bits=int(weight_bits), state_bits=int(state_bits))


def _given_or(get, key, default):
    value = get(key)
    return default if value is None else value


# -- parsing and validation -------------------------------------------------------------------------

def _fail(where: str, key: str, msg: str):
    raise ConfigError(f"{where}: key '{key}': {msg}")


def _typed(where: str, table: dict, key: str, types, required: bool = True, default=None, prefix: str = ""):
    full = f"{prefix}{key}"
    if key not in table:
        if required:
            _fail(where, full, "is missing")
        return default
    value = table[key]
    if isinstance(value, bool) and bool not in (types if isinstance(types, tuple) else (types,)):
        _fail(where, full, f"must be {_type_names(types)}, got a boolean")
    if not isinstance(value, types):
        _fail(where, full, f"must be {_type_names(types)}, got {type(value).__name__} {value!r}")
    return value


def _type_names(types) -> str:
    names = {int: "an integer", float: "a number", str: "a string", bool: "true/false", list: "a list", dict: "a table"}
    types = types if isinstance(types, tuple) else (types,)
    return " or ".join(dict.fromkeys(names.get(t, t.__name__) for t in types))


def _unknown(where: str, table: dict, allowed, prefix: str) -> None:
    extra = sorted(set(table) - set(allowed))
    if extra:
        _fail(where, f"{prefix}{extra[0]}", f"is not a known key here; known: {sorted(allowed)}")


def _constant(where: str, name: str, raw: Any, prefix: str) -> Constant:
    if not isinstance(raw, dict):
        _fail(where, prefix.rstrip("."), f"must be a table {{ value, unit, source }}, got {type(raw).__name__}")
    _unknown(where, raw, ("value", "unit", "source", "secondary", "note"), prefix)
    value = float(_typed(where, raw, "value", (int, float), prefix=prefix))
    if not math.isfinite(value) or value < 0:
        _fail(where, f"{prefix}value", f"must be a finite energy >= 0, got {value}")
    unit = _typed(where, raw, "unit", str, prefix=prefix)
    if unit not in UNITS:
        _fail(where, f"{prefix}unit", f"must be one of {list(UNITS)}, got {unit!r}")
    source = _typed(where, raw, "source", str, prefix=prefix)
    if not source.strip():
        _fail(where, f"{prefix}source", "must say where the number comes from")
    return Constant(name, value * UNITS[unit], value, unit, source,
                    bool(_typed(where, raw, "secondary", bool, required=False, default=False, prefix=prefix)),
                    _typed(where, raw, "note", str, required=False, default="", prefix=prefix))


def _names(where: str, raw: Any, key: str) -> tuple[str, ...]:
    values = [raw] if isinstance(raw, str) else raw
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        _fail(where, key, f"must be a name or a non-empty list of names, got {raw!r}")
    return tuple(values)


def parse_model(data: dict, where: str = "energy model") -> EnergyModel:
    """Validate a parsed TOML table into an :class:`EnergyModel`; ``ConfigError`` names the bad key."""
    _unknown(where, data, ("name", "description", "kind", "constants", "memory", "crossbar", "terms"), "")
    name = _typed(where, data, "name", str)
    description = _typed(where, data, "description", str, required=False, default="")
    kind = _typed(where, data, "kind", str)
    if kind not in KINDS:
        _fail(where, "kind", f"must be one of {list(KINDS)}, got {kind!r}")
    constants = {}
    for cname, raw in _typed(where, data, "constants", dict, required=False, default={}).items():
        constants[cname] = _constant(where, cname, raw, f"constants.{cname}.")
    memory = _typed(where, data, "memory", dict, required=False, default={})
    _unknown(where, memory, ("weight_bits", "state_bits", "sram", "note"), "memory.")
    bits = {}
    for key in ("weight_bits", "state_bits"):
        bits[key] = _typed(where, memory, key, int, required=False, default=32, prefix="memory.")
        if bits[key] < 1:
            _fail(where, f"memory.{key}", f"must be >= 1, got {bits[key]}")
    sram = []
    for i, level in enumerate(_typed(where, memory, "sram", list, required=False, default=[], prefix="memory.")):
        prefix = f"memory.sram[{i}]."
        if not isinstance(level, dict):
            _fail(where, prefix.rstrip("."), "must be a table")
        _unknown(where, level, ("max_bytes", "access_bits", "energy"), prefix)
        max_bytes = float(_typed(where, level, "max_bytes", (int, float), prefix=prefix))
        access_bits = _typed(where, level, "access_bits", int, prefix=prefix)
        if max_bytes <= 0 or access_bits < 1:
            _fail(where, f"{prefix}max_bytes", "max_bytes must be > 0 and access_bits >= 1")
        if sram and max_bytes <= sram[-1].max_bytes:
            _fail(where, f"{prefix}max_bytes", "SRAM levels must be listed by increasing max_bytes")
        sram.append(SramLevel(max_bytes, access_bits, _constant(where, f"sram{i}", level.get("energy"),
                                                                f"{prefix}energy.")))
    crossbar, adc_bits = None, None
    if "crossbar" in data:
        cb = _typed(where, data, "crossbar", dict)
        _unknown(where, cb, ("tile_rows", "tile_cols", "adc_bits"), "crossbar.")
        geometry = {k: _typed(where, cb, k, int, prefix="crossbar.") for k in ("tile_rows", "tile_cols")}
        crossbar = CrossbarGeometry(**geometry)
        adc_bits = _typed(where, cb, "adc_bits", int, required=False, prefix="crossbar.")
    terms = []
    raw_terms = _typed(where, data, "terms", list)
    if not raw_terms:
        _fail(where, "terms", "needs at least one [[terms]] entry")
    known_counts = COUNT_KEYS + CROSSBAR_KEYS
    for i, raw in enumerate(raw_terms):
        prefix = f"terms[{i}]."
        if not isinstance(raw, dict):
            _fail(where, prefix.rstrip("."), "must be a table")
        _unknown(where, raw, ("name", "count", "category", "energy", "memory", "per", "synops"), prefix)
        counts = _names(where, raw.get("count"), f"{prefix}count")
        for c in counts:
            if c not in known_counts:
                _fail(where, f"{prefix}count", f"unknown count {c!r}; known: {list(known_counts)}")
            if c in CROSSBAR_KEYS and crossbar is None:
                _fail(where, f"{prefix}count", f"count {c!r} needs a [crossbar] section (tile_rows, tile_cols)")
        category = _typed(where, raw, "category", str, prefix=prefix)
        if category not in CATEGORIES:
            _fail(where, f"{prefix}category", f"must be one of {list(CATEGORIES)}, got {category!r}")
        if ("energy" in raw) == ("memory" in raw):
            _fail(where, f"{prefix}energy", "give exactly one of 'energy' (constant names) or 'memory' (weights|state)")
        names: tuple[str, ...] = ()
        mem = None
        if "energy" in raw:
            names = _names(where, raw["energy"], f"{prefix}energy")
            for n in names:
                if n not in constants:
                    _fail(where, f"{prefix}energy", f"constant {n!r} is not defined in [constants] "
                                                    f"(defined: {sorted(constants)})")
        else:
            mem = _typed(where, raw, "memory", str, prefix=prefix)
            if mem not in MEMORIES:
                _fail(where, f"{prefix}memory", f"must be one of {list(MEMORIES)}, got {mem!r}")
            if not sram:
                _fail(where, f"{prefix}memory", "memory terms need [[memory.sram]] levels")
        per = float(_typed(where, raw, "per", (int, float), required=False, default=1.0, prefix=prefix))
        if not math.isfinite(per) or per < 0:
            _fail(where, f"{prefix}per", f"must be a finite number >= 0, got {per}")
        terms.append(Term(_typed(where, raw, "name", str, required=False, default=f"term {i}", prefix=prefix),
                          counts, category, names, mem, per,
                          _typed(where, raw, "synops", bool, required=False, default=False, prefix=prefix)))
    if not any(t.synops for t in terms):
        _fail(where, "terms", "mark at least one term 'synops = true' (the SynOps-only estimate)")
    return EnergyModel(name, description, kind, constants, terms, bits["weight_bits"], bits["state_bits"], sram,
                       crossbar, adc_bits)


def _models_dir():
    """The packaged models/ folder via importlib.resources (works from wheels and editable installs)."""
    return resources.files(PACKAGE).joinpath("models")


def list_models() -> list[str]:
    """Names of the packaged energy models."""
    return sorted(p.name[:-5] for p in _models_dir().iterdir() if p.name.endswith(".toml"))


def load_model(name_or_path: str | Path) -> EnergyModel:
    """A packaged model by name (``"digital-45nm"``) or a user TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" or path.exists():
        if not path.exists():
            raise ConfigError(f"{path}: energy model file not found")
        text, where = path.read_text(encoding="utf-8"), str(path)
    else:
        ref = _models_dir().joinpath(f"{name_or_path}.toml")
        if not ref.is_file():
            raise ConfigError(f"unknown energy model {str(name_or_path)!r}; packaged: {list_models()} "
                              f"(or give a path to your own .toml)")
        text, where = ref.read_text(encoding="utf-8"), f"energy model {name_or_path!r}"
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML ({err})") from None
    model = parse_model(data, where)
    model.path = where
    return model
