"""Streaming inference: feed a trained, exported SNN one 10 ms frame at a time through the
event-driven simulator, as an always-on device would, and check it against the batched run.

    python examples/streaming_event_sim.py --data data/synth --out runs/stream-example
    python examples/streaming_event_sim.py --run runs/synth --data data/synth --sample 3

Trains the small `synthetic` delay SNN (or loads `--run`), exports it with `network_from_model`
(integer delays, BatchNorm folded), and runs `EventSimulator.initial_state(1)` / `step(frame_t)` on
one test sample: its frames, then the network's `drain_steps` empty frames (the sample window, see
spikerec.window: delayed spikes still reach the readout after the input ends). Per step it reports the
latency, the spikes of every layer and the running prediction (argmax of sum_t softmax of the readout
membrane, the network's `readout` rule). At the end it checks that the streamed spikes, readout membrane
and prediction equal `EventSimulator.run` on a padded batch of several samples (the sample's numbers must
not depend on its batch), and writes per-step numbers to stream.json in --out.
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

    from spikerec.hardware import EventSimulator, network_from_model
    from spikerec.io import write_json

    out = Path(args.out)
    model, recipe = trained_or_loaded(args)
    network = network_from_model(model)
    batch = test_batch(recipe, args.data, max(args.sample + 1, 8), network.drain_steps)
    n_frames, window = int(batch.lengths[args.sample]), int(batch.window[args.sample])
    sample = batch.frames[:n_frames, args.sample].numpy()  # [T, n_inputs]: the sample's own frames
    drain = np.zeros((window - n_frames, network.n_inputs))
    label = int(batch.labels[args.sample])

    sim = EventSimulator(network)
    state = sim.initial_state(batch_size=1)
    score = np.zeros(network.n_classes)
    steps, membranes, streamed = [], [], [[] for _ in network.layers]
    log(f"streaming test sample {args.sample} (label {label}): {n_frames} frames + {len(drain)} drain steps "
        f"of {network.dt_ms} ms")
    for t, frame in enumerate(np.concatenate([sample, drain])):
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
                      "spikes_per_layer": n_spikes, "prediction": int(score.argmax()), "drain": t >= n_frames})
        if t % args.every == 0 or t == window - 1:
            print(f"step {t:4d}{' (drain)' if t >= n_frames else '        '}: {latency * 1e6:8.1f} us, input events "
                  f"{steps[-1]['input_events']:4d}, spikes per layer {n_spikes}, running prediction {int(score.argmax())}")
    prediction = int(score.argmax())

    batched = sim.run(batch.frames, batch.window)  # the same sample inside a padded batch
    spikes_equal = all(np.array_equal(np.stack([np.isin(np.arange(layer.n_out), s) for s in streamed[li]]),
                                      batched.spikes[li][:window, args.sample].astype(bool))
                       for li, layer in enumerate(network.layers) if batched.spikes[li] is not None)
    membrane_gap = float(np.abs(np.stack(membranes) - batched.membrane[-1][:window, args.sample]).max())
    same_prediction = prediction == int(batched.predictions[args.sample])
    latencies = np.array([s["latency_s"] for s in steps[1:]] or [steps[0]["latency_s"]])
    summary = {"sample": args.sample, "label": label, "prediction": prediction, "frames": n_frames,
               "drain_steps": int(network.drain_steps), "steps": len(steps),
               "batch_size_compared": int(batch.frames.shape[1]),
               "median_step_latency_s": float(np.median(latencies)), "max_step_latency_s": float(latencies.max()),
               "first_step_latency_s": steps[0]["latency_s"],
               "matches_batched_run": bool(spikes_equal and same_prediction),
               "spikes_equal": bool(spikes_equal), "readout_membrane_max_abs_diff": membrane_gap,
               "per_step": steps}
    write_json(out / "stream.json", summary)
    print(f"final prediction {prediction} (label {label}); batched run (batch of {summary['batch_size_compared']}) "
          f"predicts {int(batched.predictions[args.sample])}; spikes identical: {spikes_equal}; readout membrane "
          f"max |diff| {membrane_gap:.2e}")
    print(f"step latency: median {summary['median_step_latency_s'] * 1e6:.1f} us, "
          f"max {summary['max_step_latency_s'] * 1e6:.1f} us over {len(steps)} steps; wrote {out / 'stream.json'}")
    return 0 if summary["matches_batched_run"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
