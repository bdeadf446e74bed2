"""Synthetic spike data in the exact SHD/SSC layout, for offline use, tests and the demo.

Kinds:

- ``shd``: spoken-digit-like. Each class is a sequence of three "phonemes"; a phoneme is three
  formant-like sweeps across the 700 channels. Classes come in pairs that use the same phonemes in
  reverse order, so a model that only counts spikes per channel (no temporal integration) cannot
  tell the two apart. Per-speaker variation: channel shift, tempo, timing jitter, spike dropout,
  gain and background noise; train and test speakers are disjoint. Utterance lengths vary like SHD's
  (about 0.3 s to 1.4 s), so batches mix short and long samples.
- ``ssc``: the same generator with 35 classes and train/valid/test splits of disjoint speakers.
- ``delay-motifs``: four channel groups each fire one synchronous volley; classes differ ONLY in
  the relative timing of the volleys (offsets 0/40/80/120 ms permuted across groups), at a random
  onset. Spike counts per channel have the same distribution in every class, and volleys are
  40 ms or more apart, so a feedforward LIF network (membrane tau ~10-20 ms) without delays sees
  the same thing for every class; learnable delays can align the volleys into a coincidence.

Output is deterministic given the seed and sizes.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spikerec.datasets.readers import N_CHANNELS
from spikerec.datasets.writers import write_spike_file
from spikerec.errors import ConfigError

KINDS = ("shd", "ssc", "delay-motifs")
DEFAULT_SIZES = {  # kind -> (classes, {split: samples}); full SHD is 8156 train / 2264 test
    "shd": (20, {"train": 1000, "test": 300}),
    "ssc": (35, {"train": 1750, "valid": 350, "test": 350}),
    "delay-motifs": (8, {"train": 800, "test": 200}),
}
FILE_PREFIX = {"shd": "shd", "ssc": "ssc", "delay-motifs": "shd"}
_KIND_CODE = {"shd": 1, "ssc": 2, "delay-motifs": 3}
_SPLIT_CODE = {"train": 1, "valid": 2, "test": 3}


@dataclass
class _Speaker:
    shift: float        # channels
    tempo: float        # duration multiplier
    jitter_ms: float
    dropout: float      # probability a signal spike is lost
    gain: float         # spike-rate multiplier
    noise_hz: float     # background rate per channel


def _speakers(rng: np.random.Generator, n: int) -> list[_Speaker]:
    return [_Speaker(shift=rng.uniform(-25, 25), tempo=rng.uniform(0.8, 1.25), jitter_ms=rng.uniform(0.5, 3.0),
                     dropout=rng.uniform(0.05, 0.25), gain=rng.uniform(0.7, 1.3), noise_hz=rng.uniform(0.5, 2.5))
            for _ in range(n)]


class _SpeechLike:
    """Formant-sweep generator shared by ``shd`` and ``ssc``."""

    n_phonemes = 12
    formants = 3
    rate_hz = 2200.0     # spikes/s per formant at gain 1
    width_ch = 6.0       # formant spread across channels
    log_tempo = (np.log(0.5), np.log(2.0))  # per-utterance tempo: lengths ~0.3-1.4 s, as in SHD

    def __init__(self, rng: np.random.Generator, n_classes: int):
        # phoneme p, formant f: start channel, end channel, curvature, base duration (ms)
        self.start = rng.uniform(40, N_CHANNELS - 40, (self.n_phonemes, self.formants))
        self.end = np.clip(self.start + rng.uniform(-160, 160, self.start.shape), 20, N_CHANNELS - 20)
        self.curve = rng.uniform(-60, 60, self.start.shape)
        self.dur_ms = rng.uniform(110, 230, self.n_phonemes)
        self.classes = self._class_sequences(rng, n_classes)

    def _class_sequences(self, rng, n_classes):
        seqs: list[tuple[int, ...]] = []
        while len(seqs) < n_classes:
            seq = tuple(int(p) for p in rng.choice(self.n_phonemes, 3, replace=False))
            pair = [seq, seq[::-1]]  # same phonemes, reverse order: needs temporal integration
            for s in pair:
                if s not in seqs and len(seqs) < n_classes:
                    seqs.append(s)
        return seqs

    def sample(self, rng: np.random.Generator, label: int, spk: _Speaker) -> tuple[np.ndarray, np.ndarray]:
        seq = self.classes[label]
        tempo = spk.tempo * np.exp(rng.uniform(*self.log_tempo))  # utterance lengths spread like SHD's
        seg_ms = self.dur_ms[list(seq)] * tempo * rng.uniform(0.9, 1.1, 3)
        seg_start = rng.uniform(10, 80) + np.concatenate([[0.0], np.cumsum(seg_ms)[:-1]])
        # one row per (segment, formant)
        ph = np.repeat(seq, self.formants)
        fm = np.tile(np.arange(self.formants), 3)
        row_start = np.repeat(seg_start, self.formants)
        row_dur = np.repeat(seg_ms, self.formants)
        lam = self.rate_hz * spk.gain * row_dur / 1000.0 * (1.0 - spk.dropout)
        counts = rng.poisson(lam)
        rows = np.repeat(np.arange(len(counts)), counts)
        u = rng.random(len(rows))
        c0, c1, cv = self.start[ph, fm][rows], self.end[ph, fm][rows], self.curve[ph, fm][rows]
        ch = c0 + (c1 - c0) * u + cv * u * (1 - u) + spk.shift + rng.normal(0, self.width_ch, len(rows))
        t = row_start[rows] + u * row_dur[rows] + rng.normal(0, spk.jitter_ms, len(rows))
        duration = seg_start[-1] + seg_ms[-1] + 30.0
        n_noise = rng.poisson(spk.noise_hz * N_CHANNELS * duration / 1000.0)
        t = np.concatenate([t, rng.uniform(0, duration, n_noise)])
        ch = np.concatenate([ch, rng.integers(0, N_CHANNELS, n_noise)])
        keep = (ch >= 0) & (ch < N_CHANNELS) & (t >= 0)
        return _finish(t[keep], ch[keep])


class _DelayMotifs:
    """Volleys in four channel groups; the class is the permutation of their relative offsets."""

    groups = 4
    group_size = 24
    offsets_ms = np.array([0.0, 40.0, 80.0, 120.0])
    spikes_per_channel = 2
    fire_prob = 0.9

    def __init__(self, rng: np.random.Generator, n_classes: int):
        perms = list(itertools.permutations(range(self.groups)))
        if n_classes > len(perms):
            raise ConfigError(f"delay-motifs supports at most {len(perms)} classes, got {n_classes}")
        pick = rng.choice(len(perms), n_classes, replace=False)
        self.classes = [self.offsets_ms[list(perms[i])] for i in pick]
        self.group_channels = self.group_channels_for(N_CHANNELS)

    @classmethod
    def group_channels_for(cls, n_channels: int) -> np.ndarray:
        """Channel indices [groups, group_size] of the volley groups, spread over the channel range."""
        starts = np.linspace(40, n_channels - 40 - cls.group_size, cls.groups).astype(int)
        return starts[:, None] + np.arange(cls.group_size)[None, :]

    def sample(self, rng: np.random.Generator, label: int, spk: _Speaker) -> tuple[np.ndarray, np.ndarray]:
        onset = rng.uniform(5.0, 100.0)
        ch = np.repeat(self.group_channels.ravel(), self.spikes_per_channel)
        grp = np.repeat(np.arange(self.groups), self.group_size * self.spikes_per_channel)
        t = onset + self.classes[label][grp] + rng.normal(0, 1.0 + 0.3 * spk.jitter_ms, len(ch))
        keep = rng.random(len(ch)) < self.fire_prob
        duration = onset + self.offsets_ms.max() + 30.0
        n_noise = rng.poisson(0.2 * N_CHANNELS * duration / 1000.0)
        t = np.concatenate([t[keep], rng.uniform(0, duration, n_noise)])
        ch = np.concatenate([ch[keep], rng.integers(0, N_CHANNELS, n_noise)])
        return _finish(np.clip(t, 0, None), ch)


def _finish(t_ms: np.ndarray, ch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort by time and convert to file units: float16 seconds, uint16 channels."""
    order = np.argsort(t_ms, kind="stable")
    return (t_ms[order] / 1000.0).astype(np.float16), ch[order].astype(np.uint16)


def synthesize(kind: str, out_dir: str | os.PathLike, n_train: int | None = None, n_test: int | None = None,
               n_valid: int | None = None, n_classes: int | None = None, seed: int = 0) -> dict[str, Path]:
    """Write a synthetic data set; returns {split: path}. Files: ``{prefix}_{split}.h5``.

    ``shd`` and ``delay-motifs`` write ``shd_train.h5``/``shd_test.h5``; ``ssc`` also ``ssc_valid.h5``.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown synthetic kind {kind!r}; choose one of {KINDS}")
    default_classes, default_sizes = DEFAULT_SIZES[kind]
    sizes = dict(default_sizes)
    for split, n in (("train", n_train), ("test", n_test), ("valid", n_valid)):
        if n is not None:
            if split not in sizes:
                raise ConfigError(f"kind {kind!r} has no {split} split (only {sorted(sizes)})")
            if n < 1:
                raise ConfigError(f"--{split} must be >= 1, got {n}")
            sizes[split] = int(n)
    n_classes = default_classes if n_classes is None else int(n_classes)
    if n_classes < 2:
        raise ConfigError(f"need at least 2 classes, got {n_classes}")

    rng = np.random.default_rng([seed, _KIND_CODE[kind]])
    gen = _DelayMotifs(rng, n_classes) if kind == "delay-motifs" else _SpeechLike(rng, n_classes)
    n_per_split = {"shd": 6, "ssc": 12, "delay-motifs": 4}[kind]
    splits = list(sizes)
    speakers = _speakers(rng, n_per_split * len(splits))  # disjoint speaker ids per split
    names = [f"class-{c:02d}" for c in range(n_classes)]
    out = Path(out_dir)
    paths = {}
    for s, split in enumerate(splits):
        srng = np.random.default_rng([seed, _KIND_CODE[kind], _SPLIT_CODE[split]])
        n = sizes[split]
        labels = srng.permutation(np.arange(n) % n_classes)
        spk_ids = s * n_per_split + srng.integers(0, n_per_split, n)
        times, units = [], []
        for label, sid in zip(labels, spk_ids):
            t, u = gen.sample(srng, int(label), speakers[sid])
            times.append(t)
            units.append(u)
        path = out / f"{FILE_PREFIX[kind]}_{split}.h5"
        write_spike_file(path, times, units, labels, spk_ids, names)
        paths[split] = path
    return paths
