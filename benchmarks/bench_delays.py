"""DelayedLinear vs DCLS Dcls1d (SNN-delays padding), SHD first-layer shape, 2 CPU threads.

Rows: training step (forward + backward to weights and positions) at the initial sigma (K // 2)
and at the final sigma (0.23, std 0.5 steps), the same with input gradients (a hidden layer), and
integer-delay inference against the dense conv1d path with the same integer delays.
Run: ``.venv/bin/python -m benchmarks.bench_delays``.
"""

from __future__ import annotations

import multiprocessing as mp
import resource

import torch
import torch.nn.functional as F

from benchmarks.harness import reset_peak_rss, vm_hwm_kib, peak_rss_mib, set_threads, time_median, write_result

B, CIN, COUT, K, T, DENSITY = 64, 140, 256, 25, 100, 0.1
THREADS, REPEAT, WARMUP = 2, 7, 2
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
    set_threads(THREADS)
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
    set_threads(THREADS)
    fn = setup(case, side)  # imports, layers, input
    fn()  # warm-up: compiled-code loading, allocator caches
    with open("/proc/self/statm") as f:
        resident_kib = int(f.read().split()[1]) * resource.getpagesize() / 1024
    reset_peak_rss()
    fn()
    queue.put((vm_hwm_kib() - resident_kib) / 1024)


def working_mib(case: str, side: str) -> float:
    """Peak RSS of one call above the resident size after setup and warm-up: the memory the
    computation itself needs, without the fixed cost of imported libraries (numba's LLVM for us)."""
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


def main() -> None:
    set_threads(THREADS)
    # Peak memory first, while this parent process is still small: a spawned child's ru_maxrss
    # starts at its parent's resident size (fork + exec keep the high-water mark).
    memory = {(case, side): round(peak_rss_mib(setup, case, side, threads=THREADS), 1)
              for case, _, _ in CASES for side in ("spikerec", "peer")}
    working = {(case, side): working_mib(case, side) for case, _, _ in CASES for side in ("spikerec", "peer")}
    rows = []
    for case, title, peer_name in CASES:
        t_ours = time_median(setup(case, "spikerec"), repeat=REPEAT, warmup=WARMUP)["median_s"]
        t_peer = time_median(setup(case, "peer"), repeat=REPEAT, warmup=WARMUP)["median_s"]
        rows.append({"case": title, "peer": peer_name, "spikerec_s": t_ours, "peer_s": t_peer,
                     "ratio": t_peer / t_ours, "spikerec_mib": memory[case, "spikerec"],
                     "peer_mib": memory[case, "peer"], "spikerec_work_mib": working[case, "spikerec"],
                     "peer_work_mib": working[case, "peer"]})
        print(rows[-1], flush=True)
    config = {"B": B, "Cin": CIN, "Cout": COUT, "K": K, "T": T, "density": DENSITY, "threads": THREADS,
              "repeat": REPEAT, "device": "cpu"}
    write_result("delays", "DelayedLinear vs Dcls1d (cpu)", rows, config,
                 ["case", "peer", "spikerec_s", "peer_s", "ratio", "spikerec_mib", "peer_mib", "spikerec_work_mib",
                  "peer_work_mib"])


if __name__ == "__main__":
    main()
