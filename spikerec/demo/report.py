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
    if "synapse_pruning" in r:
        q = r["synapse_pruning"]
        lines += ["## Synapse pruning of the trained delay SNN", "",
                  f"`spikerec prune --run runs/delays --method {q['method']}`: the network loses "
                  f"{_pct(q['synapse_sparsity'])} of its synapses, the same share from every weight matrix "
                  f"(smallest BatchNorm-folded magnitude first); "
                  f"{q['synapses_after']} of {q['synapses_before']} are left; masked, so they stay pruned while the "
                  f"network is fine-tuned for {q['finetune_epochs']} epochs.", ""]
        lines += _table(["dense test accuracy", "pruned, before fine-tuning", "after fine-tuning"],
                        [[_pct(q["dense_test_accuracy"]), _pct(q["pruned_test_accuracy"]), _pct(q["test_accuracy"])]])
    names = r.get("networks", {})  # run name -> what the report calls it
    if "export" in r:
        lines += ["## Export", "",
                  "Each network as `network*.h5` (sparse Network IR: CSR where at most half the weights remain) and "
                  "`network*.nir` (NIR): integer delays, BatchNorm folded into the weights, pruned synapses gone.", ""]
        lines += _table(["network", "file", "synapses", "max delay (steps)", "recurrent"],
                        [[names.get(k, k), f"`{Path(x['network_file']).name}`", x["synapses"], x["max_delay_steps"],
                          "yes" if x["recurrent"] else "no"] for k, x in r["export"].items()])
    if "event_sim" in r:
        lines += ["## Event-driven simulation", "",
                  "Each exported network on the test set, compared spike for spike with its trained torch model "
                  "(float64, integer delays).", ""]
        lines += _table(["network", "accuracy", "identical spike trains", "identical predictions",
                         "synaptic events / sample"],
                        [[names.get(k, k), _pct(e["accuracy"]), f"**{_pct(e['agreement'])}**",
                          _pct(e["prediction_agreement"]), f"{e['synaptic_ops']:.0f}"]
                         for k, e in r["event_sim"].items()])
    if "crossbar" in r:
        c = r["crossbar"]
        lines += ["## Memristive crossbar", "",
                  f"Accuracy on `{c['preset']}` crossbars: {_pct(c['accuracy'])} (ideal devices: "
                  f"{_pct(c['ideal_accuracy'])}). Sweep of `{c['sweep_param']}`:", ""]
        lines += _table([c["sweep_param"], "accuracy"],
                        [[v, _pct(a)] for v, a in zip(c["sweep_values"], c["sweep_accuracy"])])
    if "energy" in r:
        hardware = list(next(iter(r["energy"].values()))["hardware"])
        lines += ["## Energy", "", "Memory-inclusive joules per test sample, measured workloads:", ""]
        lines += _table(["network", "synaptic ops / sample", *hardware],
                        [[names.get(k, k), f"{e['synaptic_ops']:.0f}",
                          *(f"{e['hardware'][h]['memory_inclusive_joules']:.3g}" for h in hardware)]
                         for k, e in r["energy"].items()])
        for k, e in r["energy"].items():
            lines += [f"### {names.get(k, k)}", "", e["table"], ""]
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
