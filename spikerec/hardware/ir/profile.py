"""Fixed-point target profiles: what number formats a chip computes in, as plain TOML data files with sources.

Packaged profiles live in ``spikerec/hardware/targets/NAME.toml`` (``loihi2``, ``xylo``, ``int8``); a path to any
``.toml`` file in the same layout works the same way. A profile names its integer neuron ``family`` (the update
rule, :mod:`spikerec.hardware.ir.integer_dynamics`) and the widths and limits of that family's numbers::

    name, family = "multiply" | "shift", description, sources = [...]
    [weights]     bits (signed mantissa), lsb (stored value = lsb * mantissa), exponent = [min, max]
    [activation]  shift, bits, overflow = "wrap" | "saturate"   (synaptic input / synaptic current)
    [membrane]    bits, overflow
    [threshold]   bits, shift, compare = ">" | ">="
    [decay]       multiply: bits, max (v <- trunc(v (2^bits - d) / 2^bits), d <= max)
                  shift: bits (dash in [0, 2^bits - 1]), synapse (the synaptic-current dash the IR maps to)
    [bias]        bits, exponent = [min, max]   (absent: the target has no neuron bias)
    [spikes]      input_bits (largest input count 2^bits - 1), max_per_step, max_per_step_output
    [reset]       modes = ["hard", "soft"] (the resets the target implements)
    [delays]      max_steps, layer_latency (steps each layer after the first lags; a pure time shift)
    [limits]      inputs, hidden_neurons, outputs, fan_out (0 or absent: unlimited)

Every key is checked on load; an unknown or missing key raises :class:`~spikerec.errors.ConfigError` naming the
file and the key. ``TargetProfile.to_dict()`` round-trips through :func:`profile_from_dict` (the quantised network
file embeds its profile this way).
"""

from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from spikerec.errors import ConfigError

__all__ = ["TargetProfile", "FAMILIES", "load_profile", "list_profiles", "profile_from_dict"]

FAMILIES = ("multiply", "shift")
OVERFLOWS = ("wrap", "saturate")
PACKAGE = "spikerec.hardware"  # profiles live in its targets/ folder


@dataclass(frozen=True)
class TargetProfile:
    """A fixed-point target. Integer ranges follow from the bit widths (see the module docstring)."""

    name: str
    family: str
    description: str
    sources: tuple[str, ...]
    weight_bits: int
    weight_lsb: int
    weight_exponent: tuple[int, int]
    activation_shift: int
    activation_bits: int
    activation_overflow: str
    membrane_bits: int
    membrane_overflow: str
    threshold_bits: int
    threshold_shift: int
    threshold_compare: str
    decay_bits: int
    decay_max: int  # multiply: largest decay register value; shift: largest dash
    synapse_dash: int  # shift family: the synaptic-current dash; 0 for multiply
    bias_bits: int  # 0: no neuron bias
    bias_exponent: tuple[int, int]
    input_bits: int
    max_spikes: int
    max_spikes_output: int
    reset_modes: tuple[str, ...]
    max_delay: int
    layer_latency: int
    limits: dict[str, int] = field(default_factory=dict)
    path: str = field(default="", compare=False)  # where it was loaded from (not part of its identity)

    # -- integer ranges ---------------------------------------------------------------------------
    @property
    def weight_range(self) -> tuple[int, int]:
        """Smallest and largest stored weight value (multiples of ``weight_lsb``)."""
        half = 1 << (self.weight_bits - 1)
        return -half * self.weight_lsb, (half - 1) * self.weight_lsb

    @property
    def membrane_max(self) -> int:
        """Largest membrane magnitude (saturating membranes are symmetric, as Lava's and xylosim's are)."""
        return (1 << (self.membrane_bits - 1)) - 1

    @property
    def threshold_max(self) -> int:
        """Largest threshold register value (unsigned for ``>`` comparisons, signed positive otherwise)."""
        return (1 << self.threshold_bits) - 1 if self.threshold_compare == ">" else (1 << (self.threshold_bits - 1)) - 1

    @property
    def input_max(self) -> int:
        return (1 << self.input_bits) - 1

    def limit(self, name: str) -> int:
        """A size limit (0 = unlimited)."""
        return int(self.limits.get(name, 0))

    def to_dict(self) -> dict[str, Any]:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items() if k != "path"}


_LIMIT_KEYS = ("inputs", "hidden_neurons", "outputs", "fan_out")


def list_profiles() -> list[str]:
    """Names of the packaged profiles."""
    return sorted(p.name[:-5] for p in resources.files(PACKAGE).joinpath("targets").iterdir() if p.name.endswith(".toml"))


def load_profile(name_or_path: str | Path) -> TargetProfile:
    """A packaged profile by name (``"loihi2"``) or a profile TOML file by path."""
    path = Path(name_or_path)
    if path.suffix == ".toml" and path.exists():
        text, where = path.read_text(), str(path)
    else:
        entry = resources.files(PACKAGE).joinpath("targets", f"{name_or_path}.toml")
        if not entry.is_file():
            raise ConfigError(f"unknown target profile {str(name_or_path)!r}; packaged: {list_profiles()} "
                              f"(or pass a path to a .toml file)")
        text, where = entry.read_text(), f"targets/{name_or_path}.toml"
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{where}: not valid TOML: {err}") from err
    return _parse(raw, where)


def profile_from_dict(raw: dict[str, Any], where: str = "profile") -> TargetProfile:
    """Inverse of :meth:`TargetProfile.to_dict` (validated)."""
    keys = {f for f in TargetProfile.__dataclass_fields__ if f != "path"}
    if set(raw) != keys:
        raise ConfigError(f"{where}: profile keys differ from this spikerec's (missing {sorted(keys - set(raw))}, "
                          f"unknown {sorted(set(raw) - keys)}); re-quantise the network")
    values = {k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items()}
    profile = TargetProfile(**values)
    _check(profile, where)
    return profile


# -- parsing ----------------------------------------------------------------------------------------

class _Table:
    """A TOML table read key by key: type-checked, and every key must be used (unknown keys are errors)."""

    def __init__(self, raw: Any, where: str, prefix: str):
        if not isinstance(raw, dict):
            raise ConfigError(f"{where}: [{prefix.rstrip('.')}] must be a table")
        self.raw, self.where, self.prefix, self.used = raw, where, prefix, set()

    def get(self, key: str, kind: type, default: Any = ...) -> Any:
        self.used.add(key)
        if key not in self.raw:
            if default is ...:
                raise ConfigError(f"{self.where}: key '{self.prefix}{key}' is missing")
            return default
        value = self.raw[key]
        ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        if kind is tuple:
            ok = isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)
        elif kind is list:
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        if not ok:
            want = {int: "an integer", str: "a string", tuple: "a pair [min, max] of integers",
                    list: "a list of strings"}[kind]
            raise ConfigError(f"{self.where}: key '{self.prefix}{key}' must be {want}, got {value!r}")
        return tuple(value) if kind in (tuple, list) else value

    def done(self) -> None:
        unknown = sorted(set(self.raw) - self.used)
        if unknown:
            raise ConfigError(f"{self.where}: unknown key(s) {[self.prefix + k for k in unknown]}")


def _parse(raw: dict[str, Any], where: str) -> TargetProfile:
    top = _Table(raw, where, "")
    family = top.get("family", str)
    tables = {name: _Table(top.get(name, dict, {}), where, f"{name}.") for name in
              ("weights", "activation", "membrane", "threshold", "decay", "bias", "spikes", "reset", "delays", "limits")}
    w, a, m, th, d, b, s, r, dl, lim = tables.values()
    shift = family == "shift"
    has_bias = "bias" in raw
    profile = TargetProfile(
        name=top.get("name", str), family=family, description=top.get("description", str),
        sources=top.get("sources", list), weight_bits=w.get("bits", int), weight_lsb=w.get("lsb", int, 1),
        weight_exponent=w.get("exponent", tuple, (0, 0)), activation_shift=a.get("shift", int, 0),
        activation_bits=a.get("bits", int), activation_overflow=a.get("overflow", str),
        membrane_bits=m.get("bits", int), membrane_overflow=m.get("overflow", str),
        threshold_bits=th.get("bits", int), threshold_shift=th.get("shift", int, 0),
        threshold_compare=th.get("compare", str, ">="), decay_bits=d.get("bits", int),
        decay_max=(1 << d.get("bits", int)) - 1 if shift else d.get("max", int),
        synapse_dash=d.get("synapse", int) if shift else 0,
        bias_bits=b.get("bits", int) if has_bias else 0, bias_exponent=b.get("exponent", tuple, (0, 0)),
        input_bits=s.get("input_bits", int), max_spikes=s.get("max_per_step", int, 1),
        max_spikes_output=s.get("max_per_step_output", int, 1), reset_modes=r.get("modes", list),
        max_delay=dl.get("max_steps", int), layer_latency=dl.get("layer_latency", int, 0),
        limits={k: lim.get(k, int) for k in _LIMIT_KEYS if k in lim.raw}, path=where)
    for table in (top, *tables.values()):
        table.done()
    _check(profile, where)
    return profile


def _check(p: TargetProfile, where: str) -> None:
    def bad(msg: str) -> None:
        raise ConfigError(f"{where}: {msg}")

    if p.family not in FAMILIES:
        bad(f"family must be one of {list(FAMILIES)}, got {p.family!r}")
    for name in ("activation_overflow", "membrane_overflow"):
        if getattr(p, name) not in OVERFLOWS:
            bad(f"{name.replace('_', '.', 1)} must be one of {list(OVERFLOWS)}, got {getattr(p, name)!r}")
    if p.threshold_compare not in (">", ">="):
        bad(f"threshold.compare must be '>' or '>=', got {p.threshold_compare!r}")
    if not 2 <= p.weight_bits <= 16 or p.weight_lsb < 1:
        bad(f"weights.bits must be in 2..16 and weights.lsb >= 1, got {p.weight_bits}, {p.weight_lsb}")
    for name in ("activation_bits", "membrane_bits", "threshold_bits"):
        if not 2 <= getattr(p, name) <= 48:
            bad(f"{name.replace('_', '.', 1)} must be in 2..48, got {getattr(p, name)}")
    if not 1 <= p.input_bits <= 32:
        bad(f"spikes.input_bits must be in 1..32, got {p.input_bits}")
    lo, hi = p.weight_exponent
    if lo > hi or (p.family == "shift" and lo < 0):
        bad(f"weights.exponent [{lo}, {hi}] must be ordered (and >= 0 for the shift family: left shifts)")
    if p.family == "multiply" and not (1 <= p.decay_bits <= 16 and 0 <= p.decay_max <= (1 << p.decay_bits)):
        bad(f"decay.bits must be in 1..16 and decay.max in [0, 2^bits], got {p.decay_bits}, {p.decay_max}")
    if p.family == "shift" and not (1 <= p.decay_bits <= 5 and 1 <= p.synapse_dash <= p.decay_max):
        bad(f"decay.bits must be in 1..5 and decay.synapse in [1, 2^bits - 1], got {p.decay_bits}, {p.synapse_dash}")
    if p.family == "shift" and p.bias_bits:
        bad("the shift family has no neuron bias; remove [bias]")
    if p.max_spikes < 1 or p.max_spikes_output < 1 or (p.family == "multiply" and max(p.max_spikes, p.max_spikes_output) > 1):
        bad("spikes.max_per_step must be >= 1 (and 1 for the multiply family, which has binary spikes)")
    if not p.reset_modes or set(p.reset_modes) - {"hard", "soft"}:
        bad(f"reset.modes must be a non-empty subset of ['hard', 'soft'], got {list(p.reset_modes)}")
    if p.family == "shift" and p.reset_modes != ("soft",):
        bad("the shift family resets by subtraction only: reset.modes = ['soft']")
    if p.family == "shift" and p.max_delay:
        bad("the shift family has no synaptic delays (its saturating adds happen in arrival order): delays.max_steps = 0")
    if p.max_delay < 0 or p.layer_latency < 0:
        bad("delays.max_steps and delays.layer_latency must be >= 0")
    if any(v < 0 for v in p.limits.values()):
        bad(f"limits must be >= 0 (0 = unlimited), got {p.limits}")
