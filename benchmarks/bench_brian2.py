"""spikerec's event simulator against Brian2 (numpy and cython code generation) on the same network and input.

Workload: bench_event_sim's SHD delay SNN (140 inputs -> 256 -> 256 -> 20 LI readout, per-synapse delays up to 24
steps at 10 ms bins, thresholds calibrated so every layer fires at the target activity), one sample of ``--steps``
steps. Each case runs the whole sample, round-robin (harness.time_interleaved):

* ``event``: ``EventSimulator.run`` (events x fan-out + neuron updates, numba);
* ``brian2 numpy`` / ``brian2 cython``: the network built once by ``spikerec.hardware.ir.brian2_model.build`` and
  stored; each timed run is ``restore()`` + ``run(T dt)`` (Brian2's per-run preparation of its code objects
  included; the cython target's compiled extensions come from its cache after warm-up). ``*_build_s``: building
  the network and its first run (code generation, and for cython compilation when the cache is cold), once;
  ``*_loop_per_sim_s``: the time Brian2's profiler counts inside its step loop (the run without its preparation).

Reported per case: wall time per simulated second, and per synaptic event delivered; ``ratio_*`` = Brian2 time /
event time (> 1: the event simulator is faster). Every Brian2 target is checked spike for spike against the event
simulator first (``agree``). Run: ``.venv/bin/python -m benchmarks.bench_brian2 [--repeat 5] [--steps 100]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from benchmarks import harness
from benchmarks.bench_event_sim import N_IN, HIDDEN, N_OUT, T_CAL, build

THREADS = 1  # Brian2's numpy and cython targets run one thread; so does the event simulator's run


def _stored_brian2(params: dict, x: np.ndarray, target: str):
    """Build the Brian2 network of ``params`` fed ``x``, run it once (code generation) and store it; returns a
    function that restores and reruns it with ``target``."""
    import brian2 as b2

    from spikerec.hardware.ir import brian2_model

    b2.prefs.codegen.target = target
    net, _ = brian2_model.build(params, x)
    dt = float(params["dt_ms"]) * b2.ms
    net.store()
    net.run(x.shape[0] * dt)

    def run(profile: bool = False) -> float:
        """Restore and rerun; returns the seconds Brian2's profiler counts inside the step loop (``profile``)."""
        b2.prefs.codegen.target = target
        net.restore()
        net.run(x.shape[0] * dt, profile=profile)
        return float(sum(float(t) for _, t in net.profiling_info)) if profile else 0.0

    return run


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--steps", type=int, default=T_CAL, help="time steps of the sample")
    parser.add_argument("--activities", default="0.02,0.05,0.1")
    parser.add_argument("--targets", default="numpy,cython")
    args = parser.parse_args(argv)
    harness.set_threads(THREADS)
    from spikerec.hardware import EventSimulator
    from spikerec.hardware.ir import brian2_model
    from spikerec.hardware.ir.brian2 import network_params

    targets = args.targets.split(",")
    rows = []
    for activity in [float(a) for a in args.activities.split(",")]:
        _, net, frames = build(activity)
        x = frames[: args.steps].numpy().astype(np.float64)
        sim, params = EventSimulator(net), network_params(net)
        ref = sim.run(x)
        sim_s = x.shape[0] * net.dt_ms * 1e-3
        events = ref.counts["total"]["synaptic_events"]
        row = {"activity": activity, "measured_rates": ", ".join(f"{float(s.mean()):.3f}" for s in ref.spikes
                                                                   if s is not None),
               "syn_events_per_sim_second": events / sim_s,
               "agree": all(np.array_equal(a, b) for tgt in targets
                            for a, b in zip(brian2_model.run(params, x, tgt)[0], ref.spikes) if b is not None)}
        fns = {"event": lambda: sim.run(x)}
        for tgt in targets:
            t0 = time.perf_counter()
            fns[tgt] = _stored_brian2(params, x, tgt)
            row[f"brian2_{tgt}_build_s"] = time.perf_counter() - t0
        times = harness.time_interleaved(fns, repeat=args.repeat, warmup=1)
        row["event_per_sim_s"] = times["event"]["median_s"] / sim_s
        row["event_ns_per_syn_event"] = times["event"]["median_s"] / events * 1e9
        for tgt in targets:
            row[f"brian2_{tgt}_per_sim_s"] = times[tgt]["median_s"] / sim_s
            row[f"brian2_{tgt}_ns_per_syn_event"] = times[tgt]["median_s"] / events * 1e9
            row[f"ratio_{tgt}"] = times[tgt]["median_s"] / times["event"]["median_s"]
            loop = float(np.median([fns[tgt](profile=True) for _ in range(args.repeat)]))
            row[f"brian2_{tgt}_loop_per_sim_s"] = loop / sim_s
            row[f"ratio_{tgt}_loop"] = loop / times["event"]["median_s"]
        rows.append(row)
        print(row, file=sys.stderr, flush=True)
    columns = ["activity", "measured_rates", "syn_events_per_sim_second", "agree", "event_per_sim_s", "event_ns_per_syn_event"]
    for tgt in targets:
        columns += [f"brian2_{tgt}_build_s", f"brian2_{tgt}_per_sim_s", f"brian2_{tgt}_ns_per_syn_event", f"ratio_{tgt}",
                    f"brian2_{tgt}_loop_per_sim_s", f"ratio_{tgt}_loop"]
    harness.write_result(
        "brian2", "Event simulator vs Brian2 (numpy / cython targets), one sample, time per simulated second", rows,
        {"network": f"{N_IN}-{'-'.join(map(str, HIDDEN))}-{N_OUT} delays<=24 steps, dt 10 ms", "threads": THREADS,
         "repeat": args.repeat, "steps": args.steps, "brian2_time": "restore + run (build and first run: *_build_s)"}, columns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
