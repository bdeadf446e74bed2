"""Audio -> spikes throughput: spikerec's cochlea vs Lauscher, the model that made SHD/SSC (Cramer et al. 2022).

Both turn the same waveform into 700 spiking units: Lauscher with its hydrodynamic basilar membrane,
Meddis hair cells (a per-sample Python loop) and bushy cells, parallelised over channels with its own
process pool (``num_concurrent_jobs = 2``, i.e. both cores); spikerec with an ERB gammatone bank and a
compiled hair-cell/fibre/bushy kernel in one process (one core). The input is a vowel-like harmonic
complex (f0 120 Hz, formants 500/1500/2500 Hz) in pink-ish noise at 20 dB SNR, so every stage sees
realistic activity. Timing: the two alternate in one process, median of ``--repeat`` runs after one
warm-up each (the peer's warm-up compiles its numba kernel). Throughput = seconds of audio per second.

A second row encodes a folder of recordings with ``encode_audio_dataset`` (reading, resampling,
writing included) using 2 worker processes: the figure a user sees for ``spikerec data encode
--workers 2``. Lauscher is not run there: at its speed the folder would take hours.

Run: ``.venv/bin/python -m benchmarks.bench_audio [--clip-s 0.1] [--repeat 3] [--files 16]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import harness

THREADS = 2
FS = 16000


def vowel(seconds: float, seed: int = 0) -> np.ndarray:
    """Harmonic complex at f0 = 120 Hz with formant peaks at 500/1500/2500 Hz plus noise (20 dB SNR)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FS)) / FS
    x = np.zeros_like(t)
    for k in range(1, int(5000 / 120)):
        f = 120.0 * k
        amp = sum(1.0 / (1.0 + ((f - fm) / bw) ** 2) for fm, bw in ((500, 80), (1500, 120), (2500, 160)))
        x += amp * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi))
    noise = np.cumsum(rng.standard_normal(len(t))) * 0.02 + rng.standard_normal(len(t))
    noise -= noise.mean()
    return x + noise * np.sqrt(np.mean(x ** 2) / np.mean(noise ** 2)) * 0.1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-s", type=float, default=0.1, help="clip length for the side-by-side row (Lauscher is slow)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--files", type=int, default=16, help="recordings of 0.8 s for the data-set row")
    args = ap.parse_args(argv)
    harness.set_threads(THREADS)
    from lauscher.audiowaves import MonoAudioWave
    from lauscher.helpers import CommandLineArguments
    from lauscher.transformations.wave2spike import Wave2Spike

    import soundfile

    from spikerec.datasets.audio import Cochlea, encode_audio_dataset

    CommandLineArguments().num_concurrent_jobs = THREADS
    clip = vowel(args.clip_s)
    cochlea = Cochlea()
    counts = {}

    def run_spikerec():
        counts["spikerec"] = len(cochlea.encode(clip, FS, seed=0)[0])

    def run_lauscher():
        counts["lauscher"] = MonoAudioWave(clip.copy(), FS).transform(Wave2Spike(num_channels=700)).spike_times.shape[0]

    run_spikerec(), run_lauscher()  # warm-up: numba compilation on both sides
    times = {"spikerec": [], "lauscher": []}
    for _ in range(args.repeat):  # interleaved, so load changes hit both alike
        for name, fn in (("spikerec", run_spikerec), ("lauscher", run_lauscher)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            print(f"{name}: {times[name][-1]:.3f} s", file=sys.stderr)
    sp, la = statistics.median(times["spikerec"]), statistics.median(times["lauscher"])
    rows = [{"case": f"{args.clip_s:g} s clip -> 700 units (spikerec 1 process, Lauscher 2 processes)",
             "spikerec_s": sp, "lauscher_s": la, "ratio": la / sp,
             "spikerec_audio_sec_per_sec": args.clip_s / sp, "lauscher_audio_sec_per_sec": args.clip_s / la,
             "spikes_per_sec_spikerec": counts["spikerec"] / args.clip_s,
             "spikes_per_sec_lauscher": counts["lauscher"] / args.clip_s}]

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "rec"
        for i in range(args.files):
            d = root / ("a" if i % 2 else "b")
            d.mkdir(parents=True, exist_ok=True)
            soundfile.write(d / f"s{i % 4}_{i}.wav", 0.3 * vowel(0.8, seed=i), 22050 if i % 3 else FS, subtype="PCM_16")
        encode_audio_dataset(root, Path(tmp) / "warm", workers=THREADS, progress=False, speaker_from="prefix")
        t0 = time.perf_counter()
        summary = encode_audio_dataset(root, Path(tmp) / "out", workers=THREADS, progress=False, speaker_from="prefix")
        wall = time.perf_counter() - t0
    rows.append({"case": f"encode_audio_dataset: {args.files} files x 0.8 s, 2 workers (read, resample, write)",
                 "spikerec_s": wall, "lauscher_s": "-", "ratio": "-",
                 "spikerec_audio_sec_per_sec": summary["audio_seconds"] / wall, "lauscher_audio_sec_per_sec": "-",
                 "spikes_per_sec_spikerec": summary["spikes_per_sample_mean"] / 0.8, "spikes_per_sec_lauscher": "-"})
    for r in rows:
        print(r, file=sys.stderr)
    harness.write_result("audio", "Audio to 700-unit spikes: spikerec cochlea vs Lauscher (the SHD model)", rows,
                         {"clip_s": args.clip_s, "repeat": args.repeat, "threads": THREADS, "sample_rate": FS,
                          "lauscher": "1.0.1", "machine_load": "shared 2-core machine, loaded"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
