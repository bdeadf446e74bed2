"""DelayedLinear vs DCLS Dcls1d (SNN-delays padding), SHD first-layer shape, CPU.

Workload: B=64, 140 -> 256, K=25 taps, T=100 steps, binary input spikes at 10 % density (SHD's first
layer sees ~13 %, the hidden layers ~8 % after dropout). Rows:

- training step (forward + backward to weights and positions) at the initial sigma (K // 2, a wide
  Gaussian: every tap carries weight) and at the final sigma (0.23, std 0.5 steps), each also with
  input gradients (a hidden layer); the backward gets a fixed dense random upstream gradient
  ``g ~ N(0, 1)`` on every output (``(y * g).sum()``), the general case;
- integer-delay inference (no grad) against ``conv1d`` with the one-hot kernel of the same delays
  (what ``Dcls1d`` computes once its positions are rounded).

Timing: 2 threads, wall clock, spikerec and the peer interleaved round-robin
(``harness.time_interleaved``), median of ``--repeat`` after 2 warm-up rounds; then 1 thread on CPU
time (``time.thread_time``), the steadier ratio on a shared, loaded machine. ``ratio`` = peer /
spikerec (> 1: spikerec faster). Memory: peak RSS of a fresh process (baseline included) and the
working memory of one call above the resident size after warm-up.
Run: ``.venv/bin/python -m benchmarks.bench_delays [--repeat 7] [--no-memory]``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time

import torch
import torch.nn.functional as F

from benchmarks import harness

B, CIN, COUT, K, T, DENSITY = 64, 140, 256, 25, 100, 0.1
THREADS = 2
SIGMA_INITIAL, SIGMA_FINAL = float(K // 2), 0.23


def spikes():
    return (torch.rand(T, B, CIN, generator=torch.Generator().manual_seed(1)) < DENSITY).float()


def make_ours(sigma: float):
    from spikerec.delays import DelayedLinear

    torch.manual_seed(0)
    return DelayedLinear(CIN, COUT, max_delay_ms=float(K), dt_ms=1.0, sigma=sigma)


def make_peer(sigma: float):
    """Dcls1d initialised like SNN-delays (kaiming weights, uniform clamped positions, fixed SIG).

    Built without importing spikerec so the peer's peak memory is its own.
    """
    from DCLS.construct.modules import Dcls1d

    torch.manual_seed(0)
    peer = Dcls1d(CIN, COUT, kernel_count=1, groups=1, dilated_kernel_size=K, bias=False, version="gauss")
    with torch.no_grad():
        torch.nn.init.kaiming_uniform_(peer.weight, nonlinearity="relu")
        torch.nn.init.uniform_(peer.P, (-K) // 2, K // 2)
        peer.clamp_parameters()
        peer.SIG.fill_(sigma)
    peer.SIG.requires_grad_(False)  # the reference anneals SIG by hand, it is not trained
    return peer


def setup(case: str, side: str):
    """Zero-argument callable running one unit of work for ``case`` on ``side`` ("spikerec"/"peer")."""
    sigma = SIGMA_FINAL if case in ("train_final", "train_final_xgrad", "integer") else SIGMA_INITIAL
    x = spikes()
    if case == "integer":
        if side == "spikerec":
            ours = make_ours(sigma)
            ours.integer_mode = True
            forward = ours
        else:  # dense conv1d with the one-hot kernel of integer delays (what Dcls1d runs at inference)
            peer = make_peer(sigma)
            with torch.no_grad():
                d = (K - 1 - K // 2) - peer.P[0].round().long()
                kernel = torch.zeros(COUT, CIN, K).scatter_(2, K - 1 - d, peer.weight)

            def forward(inp):
                return F.conv1d(F.pad(inp.permute(1, 2, 0), (K - 1, 0)), kernel).permute(2, 0, 1)

        def run():
            with torch.no_grad():
                return forward(x)

        return run
    x.requires_grad_(case.endswith("xgrad"))
    module = make_ours(sigma) if side == "spikerec" else make_peer(sigma)
    forward = module if side == "spikerec" else (lambda inp: module(F.pad(inp.permute(1, 2, 0), (K - 1, 0))).permute(2, 0, 1))
    g = torch.randn(T, B, COUT, generator=torch.Generator().manual_seed(2))

    def run():
        module.zero_grad(set_to_none=True)
        x.grad = None
        (forward(x) * g).sum().backward()

    return run


def _working_child(queue, case: str, side: str) -> None:
    harness.set_threads(THREADS)
    fn = setup(case, side)  # imports, layers, input
    fn()  # warm-up: compiled-code loading, allocator caches
    with open("/proc/self/statm") as f:
        resident_kib = int(f.read().split()[1]) * resource.getpagesize() / 1024
    harness.reset_peak_rss()
    fn()
    queue.put((harness.vm_hwm_kib() - resident_kib) / 1024)


def working_mib(case: str, side: str) -> float:
    """Peak RSS of one call above the resident size after setup and warm-up: the memory the
    computation itself needs, without the fixed cost of imported libraries."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_working_child, args=(queue, case, side))
    proc.start()
    value = queue.get(timeout=1800)
    proc.join()
    return round(value, 1)


CASES = [
    ("train_initial", f"train fwd+bwd, sigma={SIGMA_INITIAL:g} (initial)", "Dcls1d gauss"),
    ("train_final", f"train fwd+bwd, sigma={SIGMA_FINAL:g} (final, std 0.5)", "Dcls1d gauss"),
    ("train_initial_xgrad", f"train fwd+bwd + input grad, sigma={SIGMA_INITIAL:g}", "Dcls1d gauss"),
    ("train_final_xgrad", f"train fwd+bwd + input grad, sigma={SIGMA_FINAL:g}", "Dcls1d gauss"),
    ("integer", "integer-delay inference (no grad)", "conv1d, one-hot kernel of the same delays"),
]


def timings(threads: int, clock, repeat: int, warmup: int) -> dict:
    """{(case, side): median seconds}, every case and side interleaved round-robin."""
    harness.set_threads(threads)
    runs = {(case, side): setup(case, side) for case, _, _ in CASES for side in ("spikerec", "peer")}
    result = harness.time_interleaved(runs, repeat=repeat, warmup=warmup, clock=clock)
    return {key: value["median_s"] for key, value in result.items()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-memory child processes")
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    memory, working = {}, {}
    if not args.no_memory:
        # Peak memory first, while this parent process is still small: a spawned child's ru_maxrss
        # starts at its parent's resident size (fork + exec keep the high-water mark).
        memory = {(case, side): round(harness.peak_rss_mib(setup, case, side, threads=THREADS), 1)
                  for case, _, _ in CASES for side in ("spikerec", "peer")}
        working = {(case, side): working_mib(case, side) for case, _, _ in CASES for side in ("spikerec", "peer")}
    started = time.perf_counter()
    wall = timings(THREADS, time.perf_counter, args.repeat, warmup=2)
    cpu1 = timings(1, time.thread_time, args.repeat, warmup=1)
    print(f"timing took {time.perf_counter() - started:.0f} s", file=sys.stderr)
    rows = []
    for case, title, peer_name in CASES:
        rows.append({"case": title, "peer": peer_name, "spikerec_s": wall[case, "spikerec"], "peer_s": wall[case, "peer"],
                     "ratio": wall[case, "peer"] / wall[case, "spikerec"],
                     "spikerec_cpu1_s": cpu1[case, "spikerec"], "peer_cpu1_s": cpu1[case, "peer"],
                     "ratio_cpu1": cpu1[case, "peer"] / cpu1[case, "spikerec"],
                     "spikerec_mib": memory.get((case, "spikerec")), "peer_mib": memory.get((case, "peer")),
                     "spikerec_work_mib": working.get((case, "spikerec")), "peer_work_mib": working.get((case, "peer"))})
        print(rows[-1], file=sys.stderr, flush=True)
    config = {"B": B, "Cin": CIN, "Cout": COUT, "K": K, "T": T, "density": DENSITY, "threads": THREADS,
              "repeat": args.repeat, "device": "cpu", "timing": "interleaved; ratio: 2 threads wall, ratio_cpu1: "
              "1 thread CPU time", "upstream_grad": "dense N(0,1)"}
    harness.write_result("delays", "DelayedLinear vs Dcls1d (cpu)", rows, config,
                         ["case", "peer", "spikerec_s", "peer_s", "ratio", "spikerec_cpu1_s", "peer_cpu1_s", "ratio_cpu1",
                          "spikerec_mib", "peer_mib", "spikerec_work_mib", "peer_work_mib"])
    summary = ", ".join(f"{r['case']}: {r['ratio']:.2f}x ({r['ratio_cpu1']:.2f}x cpu1)" for r in rows)
    print(f"ratio peer/spikerec: {summary}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
