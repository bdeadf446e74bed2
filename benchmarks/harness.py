"""Shared machinery for side-by-side benchmarks.

Every benchmark runs spikerec and a peer library in the same process run, with a fixed thread
count, times each ``repeat`` times after ``warmup`` untimed calls, and reports medians and the
ratio peer/spikerec (> 1 means spikerec is faster). Results go to ``benchmarks/results/NAME.json``
plus a markdown table ``NAME.md`` that ``benchmarks/table.py`` stitches into the README.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any, Callable

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def set_threads(n: int) -> None:
    """Fix intra-op threads for torch and BLAS so runs are comparable."""
    import torch

    os.environ["OMP_NUM_THREADS"] = str(n)
    os.environ["MKL_NUM_THREADS"] = str(n)
    torch.set_num_threads(n)


def time_median(fn: Callable[[], Any], repeat: int = 7, warmup: int = 2, sync: Callable[[], None] | None = None) -> dict:
    """Median wall time of ``fn()`` in seconds over ``repeat`` runs after ``warmup`` runs.

    ``sync`` (e.g. ``torch.cuda.synchronize``) is called after each run before the clock stops.
    """
    for _ in range(warmup):
        fn()
        if sync:
            sync()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        if sync:
            sync()
        times.append(time.perf_counter() - t0)
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "repeat": repeat}


def time_interleaved(fns: dict[str, Callable[[], Any]], repeat: int = 7, warmup: int = 2,
                     sync: Callable[[], None] | None = None, clock: Callable[[], float] = time.perf_counter) -> dict:
    """Median time of each ``fns[name]()``, run round-robin (A, B, C, A, B, C, ...) after ``warmup`` rounds.

    Interleaving spreads the slow phases of a shared, loaded machine over every case alike, so the
    ratios stay meaningful when absolute times do not. ``clock``: ``time.perf_counter`` (wall) or
    ``time.thread_time`` (CPU time of the calling thread: load-insensitive, valid for one-thread work).
    Returns ``{name: {"median_s", "min_s", "max_s", "repeat"}}``.
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
            if sync:
                sync()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            t0 = clock()
            fn()
            if sync:
                sync()
            times[name].append(clock() - t0)
    return {name: {"median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts), "repeat": repeat}
            for name, ts in times.items()}


def vm_hwm_kib() -> int:
    """This process's peak resident set size (VmHWM) in KiB, from /proc."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise RuntimeError("VmHWM not found in /proc/self/status")


def reset_peak_rss() -> None:
    """Reset VmHWM to the current RSS (Linux >= 4.0), so the peak measured next belongs to what runs next."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def _peak_rss_child(queue, setup, setup_args, threads):
    set_threads(threads)
    fn = setup(*setup_args)
    fn()  # warm-up: lazy allocations, kernel caches
    reset_peak_rss()
    fn()
    queue.put(vm_hwm_kib())


def peak_rss_mib(setup: Callable[..., Callable[[], Any]], *setup_args, threads: int = 2) -> float:
    """Peak resident memory (MiB) of a fresh process while it runs one call of ``setup(*args)()``.

    Runs in a spawned process so peers do not share allocator state. ``ru_maxrss`` would be wrong
    here: it survives ``exec`` and reports the parent's peak, so the child resets the kernel's
    high-water mark (``/proc/self/clear_refs``) after setup and one warm-up call, then reads ``VmHWM``.
    The figure includes the process baseline (interpreter, torch, inputs), which is what a user sees.
    ``setup`` must be a module-level function (picklable).
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_peak_rss_child, args=(queue, setup, setup_args, threads))
    proc.start()
    peak_kib = queue.get(timeout=1800)
    proc.join()
    return peak_kib / 1024.0


def machine_info() -> dict:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cpu": platform.processor() or platform.machine(),
        "cores": os.cpu_count(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def fmt_seconds(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.2f} ms"
    return f"{s * 1e6:.1f} µs"


def write_result(name: str, title: str, rows: list[dict], config: dict, columns: list[str] | None = None) -> Path:
    """Write ``results/NAME.json`` and ``results/NAME.md``.

    ``rows`` are dicts; the markdown table shows ``columns`` (default: all keys of the first row).
    Float values ending in ``_s`` are formatted as times, ``ratio`` values as ``N.NNx``.
    """
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    payload = {"name": name, "title": title, "config": config, "machine": machine_info(), "rows": rows,
               "date": time.strftime("%Y-%m-%d")}
    (RESULTS_DIR / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    columns = columns or list(rows[0].keys())

    def cell(key, value):
        if isinstance(value, float) and key.endswith("_s"):
            return fmt_seconds(value)
        if isinstance(value, float) and "ratio" in key:
            return f"{value:.2f}x"
        if isinstance(value, float):
            return f"{value:.4g}"
        return str(value)

    lines = [f"**{title}** — {config_summary(config)}", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(cell(c, row.get(c, "")) for c in columns) + " |")
    (RESULTS_DIR / f"{name}.md").write_text("\n".join(lines) + "\n")
    return RESULTS_DIR / f"{name}.json"


def config_summary(config: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items())
