"""Binning a full SHD-sized train set (8156 samples, 700 channels) into 10 ms frames: spikerec vs tonic.

Data: ``spikerec data synth --kind shd`` with 8156 training samples, generated once in a temp dir and
read once (reading is not timed: both pipelines start from the same in-memory events).

- spikerec: ``bin_ragged`` on all samples at once (one flat index per event, chunked bincount).
- tonic: what ``tonic.datasets.SHD`` + ``tonic.transforms.ToFrame`` do per sample: build the structured
  event array (t in µs), then ``ToFrame(sensor_size=(700, 1, 1), time_window=10_000, start_time=0,
  end_time=..., include_incomplete=True)`` so frames start at t = 0 and include the last partial bin,
  exactly spikerec's definition. A second row times ``ToFrame`` alone on pre-built event arrays.

Before timing, every sample's tonic frames are checked to be identical to spikerec's (a correctness
check, not a timing assertion). Run: ``.venv/bin/python -m benchmarks.bench_binning``.
"""

from __future__ import annotations

import sys
import tempfile

import numpy as np

from benchmarks.harness import set_threads, time_median, write_result

N_TRAIN = 8156
N_CHANNELS = 700
BIN_MS = 10.0
THREADS = 2
REPEAT = 5


def main() -> int:
    set_threads(THREADS)
    import tonic

    from spikerec.datasets import bin_ragged, load_events, synthesize
    from spikerec.datasets.tonic_interop import SENSOR_SIZE, to_tonic_events

    with tempfile.TemporaryDirectory() as tmp:
        print(f"generating {N_TRAIN} synthetic SHD samples ...", file=sys.stderr, flush=True)
        paths = synthesize("shd", tmp, n_train=N_TRAIN, n_test=1, seed=0)
        ev = load_events(paths["train"])
    n_events = len(ev.times_ms)
    window_us = int(BIN_MS * 1000)
    samples = [ev.sample(i) for i in range(len(ev))]

    def spikerec_bin():
        return bin_ragged(ev.times_ms, ev.units, ev.offsets, N_CHANNELS, BIN_MS)

    def tonic_frames(events):
        n_bins = int(events["t"][-1]) // window_us + 1  # frames up to and including the last event's bin
        to_frame = tonic.transforms.ToFrame(sensor_size=SENSOR_SIZE, time_window=window_us, start_time=0,
                                            end_time=n_bins * window_us, include_incomplete=True)
        return to_frame(events)

    def tonic_pipeline():
        for t, u in samples:
            tonic_frames(to_tonic_events(t, u))

    prebuilt = [to_tonic_events(t, u) for t, u in samples]

    def tonic_to_frame_only():
        for events in prebuilt:
            tonic_frames(events)

    ours = spikerec_bin()
    for i, events in enumerate(prebuilt):  # identical frames, sample by sample
        theirs = tonic_frames(events)[:, 0, :]
        if not np.array_equal(ours.sample(i), theirs):
            raise SystemExit(f"frames differ from tonic's at sample {i}: shapes {ours.sample(i).shape} vs {theirs.shape}")
    print(f"frames identical to tonic ToFrame for all {len(prebuilt)} samples", file=sys.stderr, flush=True)

    t_ours = time_median(spikerec_bin, repeat=REPEAT, warmup=1)
    t_pipe = time_median(tonic_pipeline, repeat=REPEAT, warmup=1)
    t_frame = time_median(tonic_to_frame_only, repeat=REPEAT, warmup=1)
    rows = [
        {"case": "events -> frames (tonic: build event array + ToFrame)", "spikerec_s": t_ours["median_s"],
         "tonic_s": t_pipe["median_s"], "ratio": t_pipe["median_s"] / t_ours["median_s"], "identical": True},
        {"case": "tonic ToFrame alone (event arrays pre-built, untimed)", "spikerec_s": t_ours["median_s"],
         "tonic_s": t_frame["median_s"], "ratio": t_frame["median_s"] / t_ours["median_s"], "identical": True},
    ]
    config = {"samples": len(ev), "events": n_events, "channels": N_CHANNELS, "bin_ms": BIN_MS,
              "frames": int(ours.offsets[-1]), "threads": THREADS, "repeat": REPEAT, "tonic": tonic.__version__}
    write_result("binning", "Binning SHD-sized data into 10 ms frames (spikerec vs tonic ToFrame)", rows, config,
                 columns=["case", "spikerec_s", "tonic_s", "ratio", "identical"])
    for row in rows:
        print(f"{row['case']}: spikerec {row['spikerec_s']:.3f} s, tonic {row['tonic_s']:.3f} s, "
              f"ratio {row['ratio']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
