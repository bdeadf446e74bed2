"""Apply an :class:`~spikerec.hardware.energy.tables.EnergyModel` to measured workload counts.

Energies are joules per sample (the workload's per-sample means). Per layer and category
(compute / memory / periphery) plus the two headline numbers: ``synops_only_joules`` (terms marked
``synops``: the field's "SynOps x pJ" habit) and ``memory_inclusive_joules`` (all terms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from spikerec.errors import ConfigError
from spikerec.hardware.energy.counts import LayerStructure, Workload
from spikerec.hardware.energy.tables import CATEGORIES, EnergyModel, Term

__all__ = ["EnergyEstimate", "estimate_energy", "term_joules"]


@dataclass
class EnergyEstimate:
    """Joules per sample of one workload on one energy model."""

    model: EnergyModel
    layers: dict[str, dict[str, float]]  # {layer: {category: J, "synops_only": J}}
    terms: dict[str, float]  # {term name: J} summed over layers

    @property
    def by_category(self) -> dict[str, float]:
        return {c: sum(layer[c] for layer in self.layers.values()) for c in CATEGORIES}

    @property
    def memory_inclusive_joules(self) -> float:
        return sum(self.by_category.values())

    @property
    def synops_only_joules(self) -> float:
        return sum(layer["synops_only"] for layer in self.layers.values())

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.model.name, "kind": self.model.kind, "description": self.model.description,
                "weight_bits": self.model.weight_bits, "state_bits": self.model.state_bits,
                "synops_only_joules": self.synops_only_joules,
                "memory_inclusive_joules": self.memory_inclusive_joules,
                "by_category_joules": self.by_category, "terms_joules": self.terms,
                "layers": self.layers, "sources": self.model.sources()}


def term_joules(model: EnergyModel, term: Term, layer: LayerStructure, counts: dict[str, float]) -> float:
    """Energy of one term on one layer for the given (per-sample) counts."""
    n = sum(counts[c] for c in term.counts) * term.per
    if term.memory is None:
        return n * sum(model.constants[c].joules for c in term.constants)
    if term.memory == "weights":
        bits = model.weight_bits
        size_bits = (layer.n_synapses + layer.n_recurrent_synapses) * bits
    else:
        bits = model.state_bits
        size_bits = layer.n_state * bits
    return n * model.sram_level(size_bits / 8).access_joules(bits)


def estimate_energy(workload: Workload, model: EnergyModel) -> EnergyEstimate:
    """Per-sample energy of ``workload`` on ``model``.

    A model using crossbar counts needs a workload counted with the model's geometry
    (``count_workload(..., crossbar=model.crossbar)``).
    """
    if model.needs_crossbar and workload.crossbar != model.crossbar:
        raise ConfigError(f"energy model {model.name!r} needs crossbar counts for geometry {model.crossbar}; count the "
                          f"workload with count_workload(..., crossbar=model.crossbar) (got {workload.crossbar})")
    per = workload.per_sample()
    layers: dict[str, dict[str, float]] = {}
    terms: dict[str, float] = {}
    for structure in workload.structure:
        counts = per[structure.name]
        row = {c: 0.0 for c in CATEGORIES}
        row["synops_only"] = 0.0
        for term in model.terms:
            joules = term_joules(model, term, structure, counts)
            row[term.category] += joules
            if term.synops:
                row["synops_only"] += joules
            terms[term.name] = terms.get(term.name, 0.0) + joules
        layers[structure.name] = row
    return EnergyEstimate(model, layers, terms)
