"""Shared machinery of the scaling benchmarks (``bench_scaling_*``): the points of each curve, the memory a
step adds (measured in a fresh process), and the log-log growth exponent of a curve.

A curve varies one axis (``T``, ``B``, ``N``, ``density``, ...) around a base point with the others fixed.
"""

from __future__ import annotations

import ctypes
import gc
import json
import math
import multiprocessing as mp
import os
import queue as queue_module
import sys
import time
from typing import Any, Callable, Iterator

from benchmarks import harness

Point = dict[str, Any]


def axis_points(base: Point, values: dict[str, list], axes: list[str]) -> Iterator[tuple[str, Any, Point]]:
    """``(axis, value, point)`` for every value of every axis in ``axes``; ``point`` is ``base`` with that
    axis set to ``value``."""
    for axis in axes:
        for value in values[axis]:
            yield axis, value, {**base, axis: value}


def growth_exponent(xs, ys) -> float | None:
    """Least-squares slope of log(y) against log(x) (the growth exponent of a curve); None under two points."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x > 0 and y and y > 0]
    if len(pts) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    den = sum((p[0] - mx) ** 2 for p in pts)
    return sum((p[0] - mx) * (p[1] - my) for p in pts) / den if den else None


def _rss_kib() -> int:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def _memory_child(queue, make: Callable[[Point], Callable[[], Any]], plan: list, threads: int) -> None:
    harness.set_threads(threads)
    trim = getattr(ctypes.CDLL(None), "malloc_trim", None)  # glibc: hand freed heap pages back to the OS
    out = {}
    for axis, value, point in plan:
        run = make(point)
        run()  # warm-up: lazy allocations, kernel libraries, JIT compilation
        gc.collect()
        if trim is not None:
            trim(0)  # else a step's small per-time-step tensors reuse freed heap already counted as resident
        before = _rss_kib()
        harness.reset_peak_rss()
        run()
        out[f"{axis}={value}"] = (harness.vm_hwm_kib() - before) / 1024.0
        del run
        gc.collect()
    queue.put(out)


def step_memory_mib(make: Callable[[Point], Callable[[], Any]], plan: list, threads: int) -> dict[str, float]:
    """``{"axis=value": MiB}``: the peak resident memory one call of ``make(point)()`` adds above what its inputs
    and parameters already hold (``VmHWM`` after ``/proc/self/clear_refs``, minus ``VmRSS`` before the call),
    for every point of ``plan`` (from :func:`axis_points`), in one fresh spawned process (no allocator state
    shared with the peers). glibc's mmap threshold is fixed and ``malloc_trim`` runs before each call, so every
    library is charged for all it allocates. ``make`` must be picklable (module level, or a ``functools.partial``
    of one).
    """
    os.environ.setdefault("MALLOC_MMAP_THRESHOLD_", str(128 * 1024))  # inherited by the spawned child
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_memory_child, args=(queue, make, plan, threads))
    proc.start()
    while True:  # poll, so a child that died (an exception, the OOM killer) fails the run instead of hanging it
        try:
            out = queue.get(timeout=5)
            break
        except queue_module.Empty:
            if not proc.is_alive():
                raise RuntimeError(f"memory measurement process exited with code {proc.exitcode}") from None
    proc.join()
    return out


def add_arguments(ap) -> None:
    """The options every scaling benchmark takes (``--axes`` is the benchmark's own: its choices differ)."""
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--points", type=int, default=None, help="only the first K values of each axis (a quick run)")
    ap.add_argument("--threads", type=int, default=1, help="1: thread CPU time; more: wall clock")
    ap.add_argument("--no-memory", action="store_true")
    ap.add_argument("--no-plots", action="store_true")


def measure(plan: list, makers: dict[str, Callable[[Point], Callable[[], Any]]], repeat: int, threads: int,
            with_memory: bool, tag: dict | None = None) -> list[dict]:
    """Every point of ``plan`` for every library in ``makers`` (``{name: make(point) -> zero-arg run}``, picklable):
    ``{**tag, "axis", "value", "library", **point, "time_s", "peak_mib"}``. Memory first (a fresh process per
    library), then time: the libraries of a point interleaved, median of ``repeat`` after one warm-up, on
    ``threads`` threads (one: that thread's CPU time, which a loaded machine disturbs least; more: wall clock)."""
    from tqdm import tqdm

    memory = {}
    if with_memory:
        for lib, make in makers.items():
            print(f"memory: {' / '.join(map(str, (tag or {}).values()))} {lib} ...", file=sys.stderr, flush=True)
            memory[lib] = step_memory_mib(make, plan, threads)
    harness.set_threads(threads)
    clock = time.thread_time if threads == 1 else time.perf_counter
    points = []
    for axis, value, point in tqdm(plan, desc="timing", file=sys.stderr):
        runs = {lib: make(point) for lib, make in makers.items()}
        timed = harness.time_interleaved(runs, repeat=repeat, warmup=1, clock=clock)
        for lib in runs:
            points.append({**(tag or {}), "axis": axis, "value": value, "library": lib, **point,
                           "time_s": timed[lib]["median_s"], "peak_mib": memory.get(lib, {}).get(f"{axis}={value}")})
        del runs
    return points


def plot_curves(path, axes: list[str], points: list[dict], base: Point, title: str, *,
                time_label: str = "time (ms)", xlabels: dict[str, str] | None = None,
                ideal: Callable[[str], str] | None = None) -> None:
    """Time (top) and peak extra memory (bottom) of every library's curve against each axis, log-log; the first
    library (spikerec) drawn heavier. ``ideal(axis)`` (a growth exponent such as ``"1"``; a range such as ``"0..1"``
    draws nothing) adds a dashed line through the first library's value at the base point."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullLocator

    libs = list(dict.fromkeys(q["library"] for q in points))
    fig, grid = plt.subplots(2, len(axes), figsize=(3.6 * len(axes), 6.4), squeeze=False)
    for col, axis in enumerate(axes):
        xs = []
        for lib in libs:
            pts = [q for q in points if q["axis"] == axis and q["library"] == lib]
            xs = [q["value"] for q in pts]
            style = {"marker": "o", "lw": 2 if lib == libs[0] else 1.2}
            grid[0][col].plot(xs, [q["time_s"] * 1e3 for q in pts], label=lib, **style)
            if pts and all(q.get("peak_mib") is not None for q in pts):
                grid[1][col].plot(xs, [max(q["peak_mib"], 1e-2) for q in pts], label=lib, **style)
        exponent = ideal(axis) if ideal else None
        at_base = next((q for q in points if q["axis"] == axis and q["library"] == libs[0]
                        and q["value"] == base[axis]), None)
        if exponent and ".." not in exponent and not exponent.startswith("<") and at_base is not None:
            e = float(exponent)
            grid[0][col].plot(xs, [at_base["time_s"] * 1e3 * (x / base[axis]) ** e for x in xs], "--", color="grey",
                              lw=1, label=f"ideal ~ {axis}^{exponent}")
        for row, ylabel in ((0, time_label), (1, "peak extra memory (MiB)")):
            ax = grid[row][col]
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xticks(xs, [f"{x:g}" for x in xs])
            ax.xaxis.set_minor_locator(NullLocator())  # only the measured values are labelled on x
            ax.grid(True, alpha=0.3)
            ax.set_xlabel((xlabels or {}).get(axis, axis))
            if col == 0:
                ax.set_ylabel(ylabel)
        others = ", ".join(f"{k}={v:g}" for k, v in base.items() if k != axis)
        grid[0][col].set_title(f"vs {axis}  ({others})", fontsize=7)
        grid[0][col].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


CURVE_COLUMNS = ["axis", "library", "range", "time_exponent", "ideal_exponent", "memory_exponent", "time_at_max_s",
                 "peak_mib_at_max", "ratio_min", "ratio_max"]


def curve_rows(points: list[dict], axes: list[str], ideal: Callable[[str, str], str]) -> list[dict]:
    """One row per (axis, library): growth exponents of time and memory beside ``ideal(library, axis)``, the values
    at the largest point, and the library's time over the first library's (spikerec's), min..max over the curve."""
    libs = list(dict.fromkeys(q["library"] for q in points))
    rows = []
    for axis in axes:
        ours = [q for q in points if q["axis"] == axis and q["library"] == libs[0]]
        for lib in libs:
            pts = [q for q in points if q["axis"] == axis and q["library"] == lib]
            xs = [q["value"] for q in pts]
            ratios = [q["time_s"] / o["time_s"] for q, o in zip(pts, ours)]
            rows.append({"axis": axis, "library": lib, "range": f"{xs[0]:g}..{xs[-1]:g}",
                         "time_exponent": growth_exponent(xs, [q["time_s"] for q in pts]),
                         "ideal_exponent": ideal(lib, axis),
                         "memory_exponent": growth_exponent(xs, [q["peak_mib"] for q in pts]),
                         "time_at_max_s": pts[-1]["time_s"], "peak_mib_at_max": pts[-1]["peak_mib"],
                         "ratio_min": min(ratios), "ratio_max": max(ratios)})
    return rows


def write_curves(name: str, title: str, rows: list[dict], config: dict, points: list[dict]):
    """``results/NAME.{json,md}`` with the summary ``rows`` (:data:`CURVE_COLUMNS`) and every measured point."""
    path = harness.write_result(name, title, rows, config, CURVE_COLUMNS)
    payload = json.loads(path.read_text())
    payload["points"] = points
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
