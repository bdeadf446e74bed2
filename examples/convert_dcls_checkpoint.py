"""Bring an SNN-delays checkpoint (Hammouamri et al.'s code, built from `DCLS` `Dcls1d` layers) into
spikerec with `DelayedLinear.from_dcls`, and show that the converted layers compute the same outputs.

    python examples/convert_dcls_checkpoint.py --data data/synth --out runs/dcls-example
    python examples/convert_dcls_checkpoint.py --checkpoint my_snn_delays.pt   # your own Dcls1d state dict

Without `--checkpoint` the script builds an SNN-delays-style stack (140 -> hidden -> hidden -> 20
`Dcls1d` layers, 25 taps at dt = 10 ms, positions uniform and clamped, sigma = 0.23 as after
annealing) and saves its state dict to --out/snn_delays.pt, as the reference code does. It loads
the checkpoint into freshly built `Dcls1d` layers, converts each with `DelayedLinear.from_dcls`,
and feeds both the same test frames: the reference pads K-1 zero frames on the left and works on
[B, C, T] (`Dcls1d(F.pad(x.permute(1, 2, 0), (K - 1, 0)))`), spikerec works time-major on
[T, B, C]. Between layers both use the same spike function (x >= 0.25) on the *reference's*
activations, so every layer is compared on identical input; the end-to-end readout is compared
too. Prints the largest absolute difference per layer and writes the converted state dict to
--out/converted.pt.
"""

from __future__ import annotations

from pathlib import Path

from _common import ensure_data, log, parser, small_recipe, test_batch

K, DT_MS, SIGMA = 25, 10.0, 0.23
THRESHOLD = 0.25  # spike function between layers: x >= THRESHOLD (Kaiming-scale weights, no neuron state)


def build_dcls_stack(sizes: list[int]):
    """Dcls1d layers as SNN-delays builds them (no bias, gauss, one shared, frozen SIG)."""
    import torch
    from DCLS.construct.modules import Dcls1d

    layers = torch.nn.ModuleList()
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        m = Dcls1d(n_in, n_out, kernel_count=1, groups=1, dilated_kernel_size=K, bias=False, version="gauss")
        with torch.no_grad():
            torch.nn.init.uniform_(m.P, -(K // 2), K // 2)
            m.clamp_parameters()
            m.SIG.fill_(SIGMA)
        m.SIG.requires_grad_(False)
        layers.append(m)
    return layers


def reference_forward(m, x):
    """SNN-delays' causal use of Dcls1d on time-major x [T, B, C] -> [T, B, Cout]."""
    import torch.nn.functional as F

    k = int(m.dilated_kernel_size[0])
    return m(F.pad(x.permute(1, 2, 0), (k - 1, 0))).permute(2, 0, 1)


def main() -> int:
    p = parser(__doc__, out_default="runs/dcls-example")
    p.add_argument("--checkpoint", default=None, help="a state dict of the Dcls1d stack (default: build and save one)")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--tolerance", type=float, default=1e-4, help="largest accepted absolute difference")
    args = p.parse_args()

    import torch

    from spikerec.delays import DelayedLinear

    torch.manual_seed(args.seed)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = ensure_data(args.data, args.seed)
    frames = test_batch(small_recipe(args.quick, args.seed), data, 8 if args.quick else 32).frames
    hidden = 16 if args.quick else args.hidden
    sizes = [frames.shape[2], hidden, hidden, 20]

    checkpoint = Path(args.checkpoint) if args.checkpoint else out / "snn_delays.pt"
    if not args.checkpoint:
        torch.save(build_dcls_stack(sizes).state_dict(), checkpoint)
        log(f"saved an SNN-delays-style Dcls1d checkpoint to {checkpoint}")
    reference = build_dcls_stack(sizes)
    reference.load_state_dict(torch.load(checkpoint, weights_only=True))
    converted = torch.nn.ModuleList(DelayedLinear.from_dcls(m, dt_ms=DT_MS) for m in reference)
    torch.save(converted.state_dict(), out / "converted.pt")
    log(f"converted {len(converted)} layers: max delay {converted[0].max_delay_steps} steps of {DT_MS} ms, "
        f"sigma {converted[0].sigma}")

    worst = 0.0
    x_ref = x_ours = frames
    with torch.no_grad():
        for i, (m, layer) in enumerate(zip(reference, converted)):
            y_ref = reference_forward(m, x_ref)
            gap = float((layer(x_ref) - y_ref).abs().max())
            worst = max(worst, gap)
            print(f"layer {i} ({m.in_channels} -> {m.out_channels}): max |spikerec - Dcls1d| = {gap:.2e} "
                  f"(outputs up to {float(y_ref.abs().max()):.3g})")
            y_ours = layer(x_ours)
            if i < len(reference) - 1:  # same spike function on both sides
                y_ref, y_ours = (y_ref >= THRESHOLD).float(), (y_ours >= THRESHOLD).float()
                log(f"  layer {i} spike rate {float(y_ref.mean()):.3f}")
            x_ref, x_ours = y_ref, y_ours
    end_to_end = float((x_ours - x_ref).abs().max())
    print(f"end to end (spikes between layers): max readout difference {end_to_end:.2e}")
    ok = worst <= args.tolerance
    print(f"{'outputs match' if ok else 'outputs DIFFER'} within {args.tolerance:g}; "
          f"checkpoint {checkpoint}, converted state dict {out / 'converted.pt'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
