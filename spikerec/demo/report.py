"""``report.md`` for a demo run: the numbers as tables, the figures inline, every artefact listed."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from spikerec.io import atomic_write_text


def _pct(value: Any) -> str:
    return "n/a" if value is None else f"{100 * float(value):.1f} %"


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _sections(r: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    if "data" in r:
        d = r["data"]
        lines += ["## Data", "",
                  f"Synthetic `{d['kind']}` set in the SHD file layout: {d['train_samples']} training and "
                  f"{d['test_samples']} test samples, {d['classes']} classes, {d['channels']} channels. Classes differ "
                  "only in the relative timing of channel groups, which is what synaptic delays can learn.", ""]
    if "train_delays" in r:
        lines += ["## Training: what delays buy", ""]
        rows = [[name, _pct(r[f"train_{key}"]["val_accuracy"]), _pct(r[f"train_{key}"]["test_accuracy"]),
                 r[f"train_{key}"]["n_parameters"], f"{r[f'train_{key}']['seconds']:.1f}"]
                for name, key in (("learned delays", "delays"), ("no delays", "no-delays"))]
        lines += _table(["model", "val accuracy", "test accuracy", "parameters", "train s"], rows)
    if "eval" in r:
        e = r["eval"]
        lines += ["## Integer delays, one sample at a time (what hardware runs)", "",
                  f"Deployed test accuracy (rounded integer delays, batch size 1): **{_pct(e['deployed_accuracy'])}**; "
                  f"the same at batch size {e['batch_size']}: {_pct(e['integer_delay_accuracy'])} (equal by "
                  f"construction: each sample is read from its own frames plus {e['drain_steps']} drain steps); "
                  f"continuous positions: {_pct(e['continuous_delay_accuracy'])}; {e['samples']} samples.", ""]
    if "pruning" in r:
        p = r["pruning"]
        lines += ["## Lyapunov noise pruning of a heterogeneous recurrent SNN", "",
                  "Pruned without task data (noise only), then given task input/readout layers and trained. It has "
                  "no synaptic delays, so on delay motifs it relies on recurrent memory alone.", ""]
        lines += _table(["neurons", "synapses", "neuron sparsity", "synapse sparsity", "lambda_max before (1/ms)",
                         "lambda_max after (1/ms)", "test accuracy"],
                        [[p["neurons"], p["synapses"], f"{p['neuron_sparsity']:.2f}", f"{p['synapse_sparsity']:.2f}",
                          f"{p['lyapunov_max_before']:.4f}", f"{p['lyapunov_max_after']:.4f}",
                          _pct(p["test_accuracy"])]])
    if "export" in r:
        x = r["export"]
        lines += ["## Export", "",
                  f"`network.h5` (sparse Network IR) and `network.nir` (NIR): {x['synapses']} synapses, integer "
                  f"delays up to {x['max_delay_steps']} steps, BatchNorm folded into the weights.", ""]
    if "event_sim" in r:
        e = r["event_sim"]
        lines += ["## Event-driven simulation", "",
                  f"Accuracy {_pct(e['accuracy'])} on {e['n_samples']} test samples; identical spike trains to the "
                  f"{e['reference']} for **{_pct(e['agreement'])}** of samples, identical predictions for "
                  f"{_pct(e['prediction_agreement'])}; {e['synaptic_ops']:.0f} synaptic events per sample.", ""]
    if "crossbar" in r:
        c = r["crossbar"]
        lines += ["## Memristive crossbar", "",
                  f"Accuracy on `{c['preset']}` crossbars: {_pct(c['accuracy'])} (ideal devices: "
                  f"{_pct(c['ideal_accuracy'])}). Sweep of `{c['sweep_param']}`:", ""]
        lines += _table([c["sweep_param"], "accuracy"],
                        [[v, _pct(a)] for v, a in zip(c["sweep_values"], c["sweep_accuracy"])])
    if "energy" in r:
        lines += ["## Energy", "", r["energy"]["table"], ""]
    return lines


def write_report(demo) -> Path:
    """Write ``demo.out/report.md`` from ``demo.results`` and ``demo.figures``."""
    r = demo.results
    lines = ["# spikerec demo report", "",
             f"{'Quick' if r.get('quick') else 'Full'} run, seed {demo.seed}, {r.get('seconds', 0):.0f} s in total.", ""]
    lines += _sections(r)
    if demo.figures:
        lines += ["## Figures", ""]
        for name, path in demo.figures.items():
            lines += [f"### {name.replace('_', ' ')}", "", f"![{name}]({os.path.relpath(path, demo.out)})", ""]
    lines += ["## Artefacts", ""]
    for path in sorted(p for p in demo.out.rglob("*") if p.is_file() and ".spikerec_cache" not in p.parts):
        lines.append(f"- `{path.relative_to(demo.out)}`")
    report = demo.out / "report.md"
    atomic_write_text(report, "\n".join(lines) + "\n")
    return report
