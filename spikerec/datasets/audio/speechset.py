"""A realistic spoken-command set anyone can build offline: espeak-ng words, many voices, noise.

Each *speaker* is one espeak-ng voice (an English accent x a voice variant) with its own base pitch
and speed; each utterance varies pitch and speed around the speaker's, starts after a random pause,
and is mixed with white or pink noise at a random signal-to-noise ratio. Recordings are written as
16-bit wav files at espeak-ng's 22.05 kHz (so encoding exercises resampling) under
``{out}/{word}/{speaker}_{repeat}.wav``, plus ``{out}/manifest.csv`` (path,label,speaker) for
``spikerec data encode --audio {out}/manifest.csv``.

The words are 24 of the Speech Commands keywords (Warden 2018): the ten digits, the ten commands and
four auxiliary words, so results sit next to SSC-style tasks.
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spikerec.errors import ConfigError, DataError

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
         "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go",
         "forward", "backward", "follow", "learn")
ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-029",
           "en-us-nyc")  # espeak-ng's English voices that need no MBROLA data
VARIANTS = ("m1", "m2", "m3", "m4", "m5", "m6", "m7", "f1", "f2", "f3", "f4", "f5",
            "klatt", "klatt2", "klatt3", "klatt4")  # espeak-ng voice variants (formant and Klatt synthesis)
PITCH_RANGE = (15, 85)  # espeak-ng -p (0-99, default 50): each speaker's base pitch
SPEED_RANGE = (120, 200)  # espeak-ng -s words per minute (default 175): each speaker's base speed
PITCH_JITTER, SPEED_JITTER = 8, 15  # per-utterance variation around the speaker's base
PAUSE_MS = (50.0, 250.0)  # silence before the word (its onset varies) and after it
SNR_DB = (5.0, 25.0)  # speech-to-noise ratio of the added noise, uniform in this range


@dataclass(frozen=True)
class Speaker:
    name: str
    voice: str  # espeak-ng -v argument, accent+variant
    pitch: int
    speed: int


def espeak_binary() -> str:
    """Path of ``espeak-ng``, or a ``DataError`` that says how to install it."""
    path = shutil.which("espeak-ng")
    if path is None:
        raise DataError("espeak-ng is not installed: `apt-get install espeak-ng` (Debian/Ubuntu), "
                        "`brew install espeak-ng` (macOS), or `make speech-data`, which installs it when it can")
    return path


def make_speakers(n: int, rng: np.random.Generator) -> list[Speaker]:
    """``n`` distinct accent x variant voices with random base pitch and speed."""
    combos = [(a, v) for a in ACCENTS for v in VARIANTS]
    if not 2 <= n <= len(combos):
        raise ConfigError(f"number of speakers must be in [2, {len(combos)}], got {n}")
    pick = rng.choice(len(combos), n, replace=False)
    return [Speaker(f"s{i:03d}", f"{combos[j][0]}+{combos[j][1]}", int(rng.integers(*PITCH_RANGE, endpoint=True)),
                    int(rng.integers(*SPEED_RANGE, endpoint=True))) for i, j in enumerate(pick)]


def synthesize_word(word: str, voice: str, pitch: int, speed: int, binary: str = "espeak-ng") -> tuple[np.ndarray, int]:
    """espeak-ng speech of ``word``: ``(waveform [N] float64 in [-1, 1], sample rate)``, edges' silence trimmed."""
    import soundfile

    proc = subprocess.run([binary, "-v", voice, "-p", str(pitch), "-s", str(speed), "--stdout", word],
                          capture_output=True, timeout=60)
    if proc.returncode != 0 or not proc.stdout:
        raise DataError(f"espeak-ng failed for {word!r} with voice {voice}: {proc.stderr.decode(errors='replace')}")
    x, rate = soundfile.read(io.BytesIO(proc.stdout), dtype="float64")
    loud = np.flatnonzero(np.abs(x) > 1e-3 * np.abs(x).max())
    return x[loud[0]:loud[-1] + 1], int(rate)


def add_noise(speech: np.ndarray, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Pad ``speech`` with random pauses and mix in white or pink noise at a random SNR (dB)."""
    pre, post = (int(rng.uniform(*PAUSE_MS) * rate / 1000) for _ in range(2))
    x = np.concatenate([np.zeros(pre), speech, np.zeros(post)])
    white = rng.standard_normal(len(x))
    if rng.random() < 0.5:  # pink: 1/f power, shaped in the frequency domain
        spec = np.fft.rfft(white)
        f = np.arange(len(spec), dtype=np.float64)
        f[0] = 1.0
        noise = np.fft.irfft(spec / np.sqrt(f), len(x))
    else:
        noise = white
    snr_db = rng.uniform(*SNR_DB)
    gain = np.sqrt(np.mean(speech ** 2) / np.mean(noise ** 2)) * 10 ** (-snr_db / 20)
    x = x + gain * noise
    return 0.9 * x / np.abs(x).max()


def build_speech_set(out_dir: str | os.PathLike, n_speakers: int = 64, repeats: int = 1,
                     words: Sequence[str] = WORDS, seed: int = 0, threads: int = 2) -> dict:
    """Write the recordings and ``manifest.csv`` under ``out_dir``; returns a summary dict."""
    import soundfile

    binary = espeak_binary()
    if repeats < 1:
        raise ConfigError(f"repeats must be >= 1, got {repeats}")
    rng = np.random.default_rng(seed)
    speakers = make_speakers(n_speakers, rng)
    jobs = []
    for spk in speakers:
        for word in words:
            for rep in range(repeats):
                pitch = int(np.clip(spk.pitch + rng.integers(-PITCH_JITTER, PITCH_JITTER, endpoint=True), 0, 99))
                speed = int(max(80, spk.speed + rng.integers(-SPEED_JITTER, SPEED_JITTER, endpoint=True)))
                jobs.append((spk, word, rep, pitch, speed, int(rng.integers(2 ** 31))))
    out = Path(out_dir)

    def run(job) -> tuple[str, str, str, float]:
        spk, word, rep, pitch, speed, noise_seed = job
        speech, rate = synthesize_word(word, spk.voice, pitch, speed, binary)
        x = add_noise(speech, rate, np.random.default_rng(noise_seed))
        rel = Path(word) / f"{spk.name}_{rep}.wav"
        (out / word).mkdir(parents=True, exist_ok=True)
        soundfile.write(str(out / rel), x, rate, subtype="PCM_16")
        return str(rel), word, spk.name, len(x) / rate

    with ThreadPoolExecutor(max(1, threads)) as pool:  # espeak-ng runs as a subprocess: threads suffice
        rows = list(pool.map(run, jobs))
    with open(out / "manifest.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["path", "label", "speaker"])
        writer.writerows(r[:3] for r in rows)
    with open(out / "speakers.csv", "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["speaker", "voice", "pitch", "speed"])
        writer.writerows((s.name, s.voice, s.pitch, s.speed) for s in speakers)
    return {"out": str(out), "recordings": len(rows), "words": len(words), "speakers": len(speakers),
            "audio_seconds": float(sum(r[3] for r in rows)), "manifest": str(out / "manifest.csv")}
