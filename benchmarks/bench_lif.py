"""LIF forward+backward, spikerec vs SpikingJelly / snntorch / norse, plus recurrent LIF vs snntorch RLeaky.

Workload: ``T=100, B=32, N=1024`` float32 input currents (leaf tensor with requires_grad), one
forward over the whole sequence and ``spikes.sum().backward()``. Peers are configured to the same
dynamics (tau = 2 steps, hard reset to 0, threshold 1, arctan surrogate where the peer has it) and
used as their users do: SpikingJelly ``LIFNode(step_mode='m')`` on the whole sequence, snntorch
``Leaky``/``RLeaky`` and norse ``LIFBoxCell`` looped over T in Python. Peak memory is the peak RSS
of a fresh process running one warm-up and one timed call (``harness.peak_rss_mib``).

Run: ``.venv/bin/python -m benchmarks.bench_lif [--device cuda] [--repeat 7] [--no-memory]``.
"""

from __future__ import annotations

import argparse
import sys

import torch

from benchmarks import harness

T, B, N = 100, 32, 1024
THREADS = 2


def _input(device: str) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return (torch.randn(T, B, N, generator=g) * 0.5 + 0.6).to(device)


def _step(fn, x0: torch.Tensor):
    """Zero-arg callable: fresh leaf input, forward, spikes.sum().backward()."""

    def run():
        x = x0.detach().clone().requires_grad_(True)
        out = fn(x)
        out.sum().backward()

    return run


def make_spikerec(device: str = "cpu", backend: str = "auto"):
    from spikerec.neurons import LIF
    from spikerec.neurons import functional as NF

    lif = LIF(N, tau_ms=2.0, dt_ms=1.0, threshold=1.0, reset="hard", surrogate="atan").to(device)

    def fn(x):
        with NF.backend(backend):
            spikes = lif(x)
        # the backward runs outside the block: the kernel choice is fixed at forward time
        return spikes

    return _step(fn, _input(device))


def make_spikingjelly(device: str = "cpu"):
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate_function=surrogate.ATan(),
                          step_mode="m").to(device)

    def fn(x):
        functional.reset_net(node)
        return node(x)

    return _step(fn, _input(device))


def make_snntorch(device: str = "cpu"):
    import snntorch
    from snntorch import surrogate

    leaky = snntorch.Leaky(beta=0.5, threshold=1.0, spike_grad=surrogate.atan(), reset_mechanism="zero",
                           reset_delay=False).to(device)

    def fn(x):
        mem = leaky.reset_mem()
        spikes = []
        for t in range(x.shape[0]):
            spk, mem = leaky(x[t], mem)
            spikes.append(spk)
        return torch.stack(spikes)

    return _step(fn, _input(device))


def make_norse(device: str = "cpu"):
    from norse.torch import LIFBoxCell, LIFBoxParameters

    cell = LIFBoxCell(LIFBoxParameters(tau_mem_inv=torch.as_tensor(500.0), v_th=torch.as_tensor(1.0),
                                       v_reset=torch.as_tensor(0.0)), dt=0.001).to(device)

    def fn(x):
        state = None
        spikes = []
        for t in range(x.shape[0]):
            z, state = cell(x[t], state)
            spikes.append(z)
        return torch.stack(spikes)

    return _step(fn, _input(device))


def make_spikerec_recurrent(device: str = "cpu"):
    from spikerec.neurons import RecurrentLIF

    torch.manual_seed(0)
    layer = RecurrentLIF(N, tau_ms=2.0, dt_ms=1.0, threshold=1.0, reset="hard", decay_input=False).to(device)
    return _step(layer, _input(device))


def make_snntorch_recurrent(device: str = "cpu"):
    import snntorch
    from snntorch import surrogate

    torch.manual_seed(0)
    rleaky = snntorch.RLeaky(beta=0.5, linear_features=N, threshold=1.0, spike_grad=surrogate.atan(),
                             reset_mechanism="zero", all_to_all=True).to(device)

    def fn(x):
        spk, mem = rleaky.reset_mem()
        spikes = []
        for t in range(x.shape[0]):
            spk, mem = rleaky(x[t], spk, mem)
            spikes.append(spk)
        return torch.stack(spikes)

    return _step(fn, _input(device))


def _available(module: str) -> bool:
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocess measurements")
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    sync = torch.cuda.synchronize if args.device.startswith("cuda") else None
    measure_memory = not args.no_memory and args.device == "cpu"  # RSS says nothing about GPU memory

    cases = {"ours": (make_spikerec, ()), "ours_torch": (make_spikerec, ("torch",))}
    peers = [("spikingjelly", "SpikingJelly 2.0 LIFNode (step_mode='m')", make_spikingjelly),
             ("snntorch", "snntorch Leaky (looped over T)", make_snntorch),
             ("norse", "norse LIFBoxCell (looped over T)", make_norse)]
    for module, _, make_peer in peers:
        if _available(module):
            cases[module] = (make_peer, ())
        else:
            print(f"skipping {module}: not installed", file=sys.stderr)
    if _available("snntorch"):
        cases["ours_rec"] = (make_spikerec_recurrent, ())
        cases["snntorch_rec"] = (make_snntorch_recurrent, ())
    # Memory first: a spawned child inherits the parent's peak RSS (ru_maxrss survives exec), so the
    # parent must not have run any workload yet when the children are measured.
    mib = {name: (round(harness.peak_rss_mib(make, args.device, *margs, threads=THREADS), 1) if measure_memory else None)
           for name, (make, margs) in cases.items()}
    secs = {name: harness.time_median(make(args.device, *margs), repeat=args.repeat, warmup=2, sync=sync)["median_s"]
            for name, (make, margs) in cases.items()}

    rows = []
    for module, peer_name, _ in peers:
        if module not in secs:
            continue
        variants = [("compiled C kernel", "ours")] + ([("pure-torch kernel", "ours_torch")] if module == "spikingjelly" else [])
        for variant, key in variants:
            rows.append({"layer": "LIF", "peer": peer_name, "spikerec": variant, "spikerec_s": secs[key],
                         "peer_s": secs[module], "ratio": secs[module] / secs[key], "spikerec_mib": mib[key],
                         "peer_mib": mib[module]})
    if "ours_rec" in secs:
        rows.append({"layer": "RecurrentLIF (N x N recurrent weights)", "peer": "snntorch RLeaky all_to_all (looped)",
                     "spikerec": "torch ops + fused backward", "spikerec_s": secs["ours_rec"],
                     "peer_s": secs["snntorch_rec"], "ratio": secs["snntorch_rec"] / secs["ours_rec"],
                     "spikerec_mib": mib["ours_rec"], "peer_mib": mib["snntorch_rec"]})
    for row in rows:
        print(row, file=sys.stderr)
    name = "lif" if args.device == "cpu" else f"lif_{args.device.split(':')[0]}"
    harness.write_result(
        name, f"LIF forward+backward ({args.device})", rows,
        {"T": T, "B": B, "N": N, "dtype": "float32", "threads": THREADS, "device": args.device,
         "repeat": args.repeat, "work": "forward + spikes.sum().backward()"},
        ["layer", "peer", "spikerec", "spikerec_s", "peer_s", "ratio", "spikerec_mib", "peer_mib"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
