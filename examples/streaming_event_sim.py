"""Streaming inference: feed a trained, exported SNN one 10 ms frame at a time through the
event-driven simulator, as an always-on device would, and check it against the batched run.

    python examples/streaming_event_sim.py --data data/synth --out runs/stream-example
    python examples/streaming_event_sim.py --run runs/synth --data data/synth --sample 3

Trains the small `synthetic` delay SNN (or loads `--run`), exports it with `Network.from_model`
(integer delays, BatchNorm folded), and runs `EventSimulator.initial_state(1)` / `step(frame_t)` on
one test sample: per step it reports the latency, the spikes of every layer and the running
prediction (argmax of sum_t softmax of the readout membrane, the network's `readout` rule).
At the end it checks that the streamed spikes, readout membrane and prediction equal
`EventSimulator.run` on the whole sample, and writes per-step numbers to stream.json in --out.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from _common import log, parser, test_batch, trained_or_loaded


def softmax(v: np.ndarray) -> np.ndarray:
    e = np.exp(v - v.max())
    return e / e.sum()


def main() -> int:
    p = parser(__doc__, out_default="runs/stream-example")
    p.add_argument("--run", default=None, help="a trained run directory to use instead of training one")
    p.add_argument("--sample", type=int, default=0, help="index of the test sample to stream")
    p.add_argument("--every", type=int, default=10, help="print every N-th step")
    args = p.parse_args()

    from spikerec.hardware import EventSimulator, Network
    from spikerec.io import write_json

    out = Path(args.out)
    model, recipe = trained_or_loaded(args)
    network = Network.from_model(model)
    frames, labels, lengths = test_batch(recipe, args.data, args.sample + 1)
    sample = frames[:int(lengths[args.sample]), args.sample].numpy()  # [T, n_inputs], unpadded
    label = int(labels[args.sample])

    sim = EventSimulator(network)
    state = sim.initial_state(batch_size=1)
    score = np.zeros(network.n_classes)
    steps, membranes, streamed = [], [], [[] for _ in network.layers]
    log(f"streaming test sample {args.sample} (label {label}): {len(sample)} steps of {network.dt_ms} ms")
    for t, frame in enumerate(sample):
        start = time.perf_counter()
        result, state = sim.step(frame, state)
        latency = time.perf_counter() - start
        membrane = result["output"][0]
        score += softmax(membrane) if network.readout == "softmax_sum" else membrane
        for li, spikes in enumerate(result["spikes"]):
            streamed[li].append(spikes[0])
        membranes.append(membrane)
        n_spikes = [len(s[0]) for s in result["spikes"]]
        steps.append({"t": t, "latency_s": latency, "input_events": int(np.count_nonzero(frame)),
                      "spikes_per_layer": n_spikes, "prediction": int(score.argmax())})
        if t % args.every == 0 or t == len(sample) - 1:
            print(f"step {t:4d}: {latency * 1e6:8.1f} us, input events {steps[-1]['input_events']:4d}, "
                  f"spikes per layer {n_spikes}, running prediction {int(score.argmax())}")
    prediction = int(score.argmax())

    batched = sim.run(sample[:, None, :])
    spikes_equal = all(np.array_equal(np.stack([np.isin(np.arange(layer.n_out), s) for s in streamed[li]]),
                                      batched.spikes[li][:, 0].astype(bool))
                       for li, layer in enumerate(network.layers) if batched.spikes[li] is not None)
    membrane_gap = float(np.abs(np.stack(membranes) - batched.membrane[-1][:, 0]).max())
    same_prediction = prediction == int(batched.predictions[0])
    latencies = np.array([s["latency_s"] for s in steps[1:]] or [steps[0]["latency_s"]])
    summary = {"sample": args.sample, "label": label, "prediction": prediction, "steps": len(steps),
               "median_step_latency_s": float(np.median(latencies)), "max_step_latency_s": float(latencies.max()),
               "first_step_latency_s": steps[0]["latency_s"],
               "matches_batched_run": bool(spikes_equal and same_prediction),
               "spikes_equal": bool(spikes_equal), "readout_membrane_max_abs_diff": membrane_gap,
               "per_step": steps}
    write_json(out / "stream.json", summary)
    print(f"final prediction {prediction} (label {label}); batched run predicts {int(batched.predictions[0])}; "
          f"spikes identical: {spikes_equal}; readout membrane max |diff| {membrane_gap:.2e}")
    print(f"step latency: median {summary['median_step_latency_s'] * 1e6:.1f} us, "
          f"max {summary['max_step_latency_s'] * 1e6:.1f} us over {len(steps)} steps; wrote {out / 'stream.json'}")
    return 0 if summary["matches_batched_run"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
