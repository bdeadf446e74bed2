"""LIF family forward+backward under a dense upstream gradient: spikerec vs SpikingJelly / snntorch / norse.

Workload: ``T=100, B=32, N=1024`` float32 input currents (a leaf with requires_grad), one forward
over the whole sequence, then a backward with a fixed dense random upstream gradient ``g ~ N(0, 1)``
on the spikes (``spikes.backward(g)``; a layer that also returns its membrane gets a second dense
gradient on it). ``spikes.sum()`` as the loss would hand the backward a constant gradient, which the
compiled kernel reads as one broadcast row: a special case, not the general one.

Rows:

- ``LIF`` vs SpikingJelly ``LIFNode(step_mode='m')`` on the whole sequence, snntorch ``Leaky`` and norse
  ``LIFBoxCell`` looped over T (as their users run them); tau = 2 steps, hard reset to 0, threshold 1,
  arctan surrogate where the peer has it.
- ``RecurrentLIF`` (N x N recurrent weights, no input decay) vs snntorch ``RLeaky(all_to_all=True)``,
  same dynamics and the same weight distribution (uniform +-1/sqrt(N)).
- ``AdaptiveLIF`` (recurrent, learnable time constants and adaptation, spikes and membrane out) vs the
  same equations written as a plain autograd loop (no peer library has this adLIF); currents x4.

Timing: 2 threads, wall clock, all cases interleaved round-robin (``harness.time_interleaved``),
median of ``--repeat`` after 2 warm-up rounds; then the same with 1 thread on CPU time
(``time.thread_time``), the steadier ratio on a shared, loaded machine. ``ratio`` = peer / spikerec
(> 1: spikerec faster). Memory: peak RSS of a fresh process doing one warm-up and one measured call.

Run: ``.venv/bin/python -m benchmarks.bench_lif [--device cuda] [--repeat 7] [--no-memory]``.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from benchmarks import harness

T, B, N = 100, 32, 1024
THREADS = 2


def _input(device: str, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return ((torch.randn(T, B, N, generator=g) * 0.5 + 0.6) * scale).to(device)


def _step(fn, device: str, scale: float = 1.0):
    """Zero-arg callable: fresh leaf input, forward, backward with fixed dense gradients (one per output).
    ``run.stats["spike_rate"]`` holds the spike rate of the last forward."""
    x0 = _input(device, scale)
    gen = torch.Generator().manual_seed(1)
    grads = [torch.randn(T, B, N, generator=gen).to(device) for _ in range(2)]

    def run():
        x = x0.detach().clone().requires_grad_(True)
        out = fn(x)
        outs = out if isinstance(out, tuple) else (out,)
        torch.autograd.backward(outs, grads[:len(outs)])
        run.stats["spike_rate"] = outs[0].detach().mean().item()

    run.stats = {}
    return run


def make_spikerec(device: str = "cpu", backend: str = "auto"):
    from spikerec.neurons import LIF
    from spikerec.neurons import functional as NF

    lif = LIF(N, tau_ms=2.0, dt_ms=1.0, threshold=1.0, reset="hard", surrogate="atan").to(device)

    def fn(x):
        with NF.backend(backend):  # the backward follows the forward's choice
            return lif(x)

    return _step(fn, device)


def spikingjelly_lif(device: str = "cpu"):
    """SpikingJelly ``LIFNode`` (multi-step) as ``x -> spikes``: tau 2 steps, hard reset to 0, threshold 1, arctan."""
    from spikingjelly.activation_based import functional, neuron, surrogate

    node = neuron.LIFNode(tau=2.0, v_threshold=1.0, v_reset=0.0, surrogate_function=surrogate.ATan(),
                          step_mode="m").to(device)

    def fn(x):
        functional.reset_net(node)
        return node(x)

    return fn


def snntorch_leaky(device: str = "cpu"):
    """snntorch ``Leaky`` looped over T as ``x -> spikes`` (beta 0.5, reset to zero without delay, arctan)."""
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

    return fn


def norse_lif(device: str = "cpu"):
    """norse ``LIFBoxCell`` looped over T as ``x -> spikes`` (the same decay, threshold and reset)."""
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

    return fn


def snntorch_rleaky(n: int, device: str = "cpu"):
    """snntorch ``RLeaky(all_to_all=True)`` looped over T as ``x -> spikes``, configured to RecurrentLIF's dynamics
    (no input decay, reset to zero without delay, no recurrent bias, weights uniform +-1/sqrt(n))."""
    import snntorch
    from snntorch import surrogate

    torch.manual_seed(0)
    rleaky = snntorch.RLeaky(beta=0.5, linear_features=n, threshold=1.0, spike_grad=surrogate.atan(),
                             reset_mechanism="zero", all_to_all=True, reset_delay=False).to(device)
    with torch.no_grad():
        rleaky.recurrent.bias.zero_()
    rleaky.recurrent.bias.requires_grad_(False)

    def fn(x):
        spk, mem = rleaky.reset_mem()
        spikes = []
        for t in range(x.shape[0]):
            spk, mem = rleaky(x[t], spk, mem)
            spikes.append(spk)
        return torch.stack(spikes)

    return fn


def autograd_adlif(layer, return_membrane: bool = True):
    """The equations of a spikerec ``AdaptiveLIF`` (soft reset, recurrent) as a plain autograd loop over its
    parameters: ``x -> spikes`` or ``(spikes, membrane)``."""
    surrogate = layer.cfg.surrogate

    def fn(x):
        alpha, beta = layer.tau.decay(), layer.tau_adapt.decay()
        a, b, th, w_rec = layer.a.clamp(-1, 1), layer.b.clamp(0, 2), layer.threshold, layer.recurrent_weight
        h = s = w = torch.zeros(x.shape[1:], device=x.device)
        spikes, membrane = [], []
        for t in range(x.shape[0]):
            w = beta * w + a * h + b * s
            h = alpha * (h - th * s) + (1 - alpha) * (x[t] + s @ w_rec.t() - w)
            s = surrogate(h - th)
            spikes.append(s)
            membrane.append(h)
        return (torch.stack(spikes), torch.stack(membrane)) if return_membrane else torch.stack(spikes)

    return fn


def make_spikingjelly(device: str = "cpu"):
    return _step(spikingjelly_lif(device), device)


def make_snntorch(device: str = "cpu"):
    return _step(snntorch_leaky(device), device)


def make_norse(device: str = "cpu"):
    return _step(norse_lif(device), device)


def make_spikerec_recurrent(device: str = "cpu", backend: str = "auto"):
    from spikerec.neurons import RecurrentLIF
    from spikerec.neurons import functional as NF

    torch.manual_seed(0)
    layer = RecurrentLIF(N, tau_ms=2.0, dt_ms=1.0, threshold=1.0, reset="hard", decay_input=False).to(device)

    def fn(x):
        with NF.backend(backend):
            return layer(x)

    return _step(fn, device)


def make_snntorch_recurrent(device: str = "cpu"):
    return _step(snntorch_rleaky(N, device), device)


ADLIF_SCALE = 4.0  # tau = 20 ms and spike-triggered adaptation: larger currents for a few % spikes


def _adlif_layer(device: str):
    from spikerec.neurons import AdaptiveLIF

    torch.manual_seed(0)
    return AdaptiveLIF(N, tau_ms=20.0, tau_adapt_ms=150.0, recurrent=True).to(device)  # a = 0, b = 1


def make_spikerec_adaptive(device: str = "cpu", backend: str = "auto"):
    from spikerec.neurons import functional as NF

    layer = _adlif_layer(device)

    def fn(x):
        with NF.backend(backend):
            return layer(x, return_membrane=True)

    return _step(fn, device, ADLIF_SCALE)


def make_autograd_adaptive(device: str = "cpu"):
    return _step(autograd_adlif(_adlif_layer(device)), device, ADLIF_SCALE)


# key -> (setup, its extra arguments, the module it needs)
CASES = {
    "ours": (make_spikerec, (), None),
    "ours_torch": (make_spikerec, ("torch",), None),
    "spikingjelly": (make_spikingjelly, (), "spikingjelly"),
    "snntorch": (make_snntorch, (), "snntorch"),
    "norse": (make_norse, (), "norse"),
    "ours_rec": (make_spikerec_recurrent, (), None),
    "ours_rec_torch": (make_spikerec_recurrent, ("torch",), None),
    "snntorch_rec": (make_snntorch_recurrent, (), "snntorch"),
    "ours_ad": (make_spikerec_adaptive, (), None),
    "ours_ad_torch": (make_spikerec_adaptive, ("torch",), None),
    "autograd_ad": (make_autograd_adaptive, (), None),
}
# (layer, peer description, [(spikerec variant, key)], peer key)
ROWS = [
    ("LIF", "SpikingJelly 2.0 LIFNode (step_mode='m')",
     [("compiled C kernel", "ours"), ("pure-torch kernel", "ours_torch")], "spikingjelly"),
    ("LIF", "snntorch Leaky (looped over T)", [("compiled C kernel", "ours")], "snntorch"),
    ("LIF", "norse LIFBoxCell (looped over T)", [("compiled C kernel", "ours")], "norse"),
    ("RecurrentLIF (N x N recurrent weights)", "snntorch RLeaky all_to_all (looped over T)",
     [("compiled C kernel", "ours_rec"), ("pure-torch kernel", "ours_rec_torch")], "snntorch_rec"),
    ("AdaptiveLIF (recurrent, learnable tau/a/b)", "same equations, plain autograd loop",
     [("compiled C kernel", "ours_ad"), ("pure-torch kernel", "ours_ad_torch")], "autograd_ad"),
]


def available(module: str | None) -> bool:
    """True if ``module`` (a peer library; None: nothing needed) imports; else says it is skipped."""
    if module is None:
        return True
    try:
        __import__(module)
        return True
    except ImportError:
        print(f"skipping {module}: not installed", file=sys.stderr)
        return False


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--no-memory", action="store_true", help="skip the peak-RSS subprocess measurements")
    args = ap.parse_args(argv)
    cuda = args.device.startswith("cuda")
    sync = torch.cuda.synchronize if cuda else None
    cases = {k: v for k, v in CASES.items() if available(v[2])}
    harness.set_threads(THREADS)
    # Memory first: a spawned child inherits the parent's peak RSS (ru_maxrss survives exec), so the
    # parent must not have run any workload yet when the children are measured.
    measure_memory = not args.no_memory and not cuda  # RSS says nothing about GPU memory
    mib = {k: round(harness.peak_rss_mib(make, args.device, *margs, threads=THREADS), 1) if measure_memory else None
           for k, (make, margs, _) in cases.items()}
    runs = {k: make(args.device, *margs) for k, (make, margs, _) in cases.items()}
    print(f"timing {len(runs)} cases, {THREADS} threads, wall clock ...", file=sys.stderr)
    wall = harness.time_interleaved(runs, repeat=args.repeat, warmup=2, sync=sync)
    cpu1 = None
    if not cuda:
        print("timing again, 1 thread, CPU time ...", file=sys.stderr)
        harness.set_threads(1)
        cpu1 = harness.time_interleaved(runs, repeat=args.repeat, warmup=1, clock=time.thread_time)

    rows = []
    for layer, peer_name, variants, peer in ROWS:
        if peer not in runs:
            continue
        for variant, key in variants:
            row = {"layer": layer, "peer": peer_name, "spikerec": variant,
                   "spikerec_s": wall[key]["median_s"], "peer_s": wall[peer]["median_s"],
                   "ratio": wall[peer]["median_s"] / wall[key]["median_s"]}
            if cpu1 is not None:
                row["ratio_1thread_cpu"] = cpu1[peer]["median_s"] / cpu1[key]["median_s"]
                row["spikerec_1thread_cpu_s"] = cpu1[key]["median_s"]
                row["peer_1thread_cpu_s"] = cpu1[peer]["median_s"]
            row.update({"spikerec_mib": mib[key], "peer_mib": mib[peer],
                        "spike_rate": round(runs[key].stats["spike_rate"], 3),
                        "peer_spike_rate": round(runs[peer].stats["spike_rate"], 3)})
            rows.append(row)
            print(row, file=sys.stderr)
    name = "lif" if args.device == "cpu" else f"lif_{args.device.split(':')[0]}"
    columns = ["layer", "peer", "spikerec", "spikerec_s", "peer_s", "ratio"]
    columns += ["ratio_1thread_cpu"] if cpu1 is not None else []
    columns += ["spikerec_mib", "peer_mib", "spike_rate"]
    harness.write_result(
        name, f"LIF family forward+backward, dense upstream gradient ({args.device})", rows,
        {"T": T, "B": B, "N": N, "dtype": "float32", "threads": THREADS, "device": args.device,
         "repeat": args.repeat, "work": "forward + backward of a fixed dense random gradient on every output",
         "timing": "interleaved medians; ratio: wall clock at 2 threads; ratio_1thread_cpu: thread CPU time, 1 thread"},
        columns)
    return 0


if __name__ == "__main__":
    sys.exit(main())
