"""Frame datasets for training: binned SHD/SSC samples as ``(frames [T_i, C] float32, label)``.

``build_frame_datasets`` returns train/val/test datasets. SHD ships without a validation split, so
one is held out of the training file (a seeded, class-stratified fraction, or whole speakers);
SSC uses its official ``ssc_valid.h5``. The test set is used for validation only when asked
(``val_by="test"``), and ``.val_source`` always says where the validation samples came from.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from spikerec.datasets.binning import bin_ragged, check_params
from spikerec.datasets.cache import CachedFrames, cached_frames
from spikerec.datasets.readers import DATASET_SPLITS, N_CHANNELS, SpikeFile
from spikerec.errors import ConfigError, DataError
from spikerec.window import window_lengths

VAL_BY_CHOICES = ("fraction", "speaker", "test")
DEFAULT_CACHE_SUBDIR = ".spikerec_cache"
BLOCK_SAMPLES = 4096  # samples read and binned at a time


class FrameDataset(Dataset):
    """Binned samples of one split; item ``i`` is ``(FloatTensor [T_i, n_channels], int label)``.

    ``frames`` [sum T, C] counts (may be a memory map), ``offsets`` [N + 1] frame offsets per file
    sample, ``rows``: which of those samples belong to this split (default: all).
    """

    def __init__(self, frames: np.ndarray, offsets: np.ndarray, labels: np.ndarray, n_classes: int,
                 rows: np.ndarray | None = None, val_source: str = "", speakers: np.ndarray | None = None,
                 class_names: Sequence[str] | None = None, source: str = "", skipped: dict[int, str] | None = None,
                 dropped_events: int = 0):
        self._frames = frames
        self._frames_file = getattr(frames, "filename", None)  # memory map: reopened per process
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.rows = np.arange(len(labels)) if rows is None else np.asarray(rows, dtype=np.int64)
        self.labels = np.asarray(labels, dtype=np.int64)[self.rows]
        self.speakers = None if speakers is None else np.asarray(speakers)[self.rows]
        self.n_channels = int(frames.shape[1])
        self.n_classes = int(n_classes)
        self.val_source = val_source
        self.class_names = list(class_names) if class_names is not None else None
        self.source = source
        self.skipped = dict(skipped or {})
        self.dropped_events = int(dropped_events)

    @property
    def frames(self) -> np.ndarray:
        if self._frames is None:
            self._frames = np.load(self._frames_file, mmap_mode="r")
        return self._frames

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        if self._frames_file is not None:  # do not copy a memory map into each spawned worker
            state["_frames"] = None
        return state

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def lengths(self) -> np.ndarray:
        """Frames per sample [N]."""
        return np.diff(self.offsets)[self.rows]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        r = self.rows[i]
        x = np.asarray(self.frames[self.offsets[r]:self.offsets[r + 1]], dtype=np.float32)
        return torch.from_numpy(x), int(self.labels[i])

    def subset(self, rows: np.ndarray, val_source: str | None = None) -> "FrameDataset":
        """A dataset over some of this dataset's items (indices into this dataset)."""
        sub = FrameDataset.__new__(FrameDataset)
        sub.__dict__.update(self.__dict__)
        sub.rows = self.rows[np.asarray(rows, dtype=np.int64)]
        sub.labels = self.labels[np.asarray(rows, dtype=np.int64)]
        sub.speakers = None if self.speakers is None else self.speakers[np.asarray(rows, dtype=np.int64)]
        if val_source is not None:
            sub.val_source = val_source
        return sub


class Batch(NamedTuple):
    """A collated batch; ``frames`` is padded to the longest window of the batch (see :mod:`spikerec.window`)."""

    frames: torch.Tensor  # [T, B, C] float32, T = max(window)
    labels: torch.Tensor  # [B] int64
    window: torch.Tensor  # [B] int64: steps of each sample's window (own frames + drain)
    lengths: torch.Tensor  # [B] int64: each sample's own frames (after a fixed-duration crop/pad)


@dataclass(frozen=True)
class WindowCollate:
    """Collate ``(frames [T_i, C], label)`` items into a :class:`Batch` of sample windows.

    Sample ``i`` keeps its ``T_i`` frames (``fixed_steps > 0``: cropped or zero-padded to exactly
    ``fixed_steps``), then ``drain_steps`` zero frames; ``window[i] = T_i + drain_steps``. The batch is
    zero-padded to the longest window; steps past a sample's window are padding that no consumer reads.
    """

    drain_steps: int = 0
    fixed_steps: int = 0

    def __post_init__(self):
        if self.drain_steps < 0 or self.fixed_steps < 0:
            raise ConfigError(f"WindowCollate: drain_steps and fixed_steps must be >= 0, got "
                              f"{self.drain_steps}, {self.fixed_steps}")

    def __call__(self, batch: Sequence[tuple[torch.Tensor, int]]) -> Batch:
        if len(batch) == 0:
            raise ConfigError("collate got an empty batch")
        own = [x.shape[0] for x, _ in batch]
        lengths = torch.tensor([self.fixed_steps or n for n in own], dtype=torch.long)
        window = window_lengths(lengths, self.drain_steps)
        c = batch[0][0].shape[1]
        out = torch.zeros(int(window.max()), len(batch), c, dtype=torch.float32)
        for b, (x, _) in enumerate(batch):
            n = int(lengths[b])
            out[: min(n, x.shape[0]), b] = x[:n]
        labels = torch.tensor([int(y) for _, y in batch], dtype=torch.long)
        return Batch(out, labels, window, lengths)


pad_collate = WindowCollate()
"""Collate with no drain: ``Batch(frames [T_max, B, C], labels [B], window = lengths [B], lengths [B])``."""


def frame_params(bin_ms: float, pool: int, max_duration_ms: float | None, binary: bool, n_channels: int,
                 n_classes: int | None, on_error: str) -> dict:
    """Every parameter that changes the binned frames (the cache key is built from this)."""
    return {"bin_ms": float(bin_ms), "pool": int(pool), "binary": bool(binary), "n_channels": int(n_channels),
            "max_duration_ms": None if max_duration_ms is None else float(max_duration_ms),
            "n_classes": n_classes, "on_error": on_error}


def load_frames(path: str | os.PathLike, bin_ms: float = 10.0, pool: int = 1, max_duration_ms: float | None = None,
                binary: bool = False, n_channels: int = N_CHANNELS, n_classes: int | None = None,
                on_error: str = "raise", cache_dir: str | os.PathLike | None = None) -> CachedFrames:
    """Read, validate and bin one HDF5 file (through the cache when ``cache_dir`` is given)."""
    check_params(bin_ms, pool, max_duration_ms)

    def build() -> CachedFrames:
        # Block by block, so peak memory is one block's events plus the (small) frames, even for SSC.
        parts, frame_rows, dropped, skipped = [], 0, 0, {}
        with SpikeFile(path, n_channels=n_channels, n_classes=n_classes) as f:
            class_names = f.class_names
            for ev in f.blocks(BLOCK_SAMPLES, on_error=on_error):
                binned = bin_ragged(ev.times_ms, ev.units, ev.offsets, n_channels, bin_ms,
                                    max_duration_ms=max_duration_ms, pool=pool, binary=binary)
                parts.append((binned.frames, binned.offsets[1:] + frame_rows, ev))
                frame_rows += int(binned.offsets[-1])
                dropped += int(binned.dropped_events.sum())
                skipped.update(ev.skipped.reasons)
        if not parts:
            raise DataError("file holds no samples", path=str(path))
        speakers = None if parts[0][2].speakers is None else np.concatenate([p[2].speakers for p in parts])
        return CachedFrames(frames=np.concatenate([p[0] for p in parts]),
                            offsets=np.concatenate([[0]] + [p[1] for p in parts]).astype(np.int64),
                            labels=np.concatenate([p[2].labels for p in parts]), speakers=speakers,
                            index=np.concatenate([p[2].index for p in parts]), dropped_events=dropped,
                            skipped=skipped, class_names=class_names, from_cache=False)

    params = frame_params(bin_ms, pool, max_duration_ms, binary, n_channels, n_classes, on_error)
    entry = cached_frames(path, params, cache_dir, build)
    if entry.skipped:
        shown = ", ".join(f"#{i}: {r}" for i, r in list(entry.skipped.items())[:5])
        warnings.warn(f"{path}: skipped {len(entry.skipped)} bad sample(s) ({shown})", stacklevel=2)
    return entry


def split_files(data_dir: str | os.PathLike, dataset: str) -> dict[str, Path]:
    if dataset not in DATASET_SPLITS:
        raise ConfigError(f"dataset must be one of {sorted(DATASET_SPLITS)}, got {dataset!r}")
    return {split: Path(data_dir) / f"{dataset}_{split}.h5" for split in DATASET_SPLITS[dataset]}


def fraction_split(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Seeded, class-stratified split of indices into (train, val) with round(fraction * N) in val.

    Each class gives ``fraction`` of its samples (largest-remainder rounding, so the total is exact).
    """
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    quota = fraction * counts
    take = np.floor(quota).astype(np.int64)
    extra = int(round(fraction * len(labels))) - int(take.sum())
    if extra > 0:  # largest fractional parts first, ties broken by the seed
        order = np.lexsort((rng.random(len(classes)), -(quota - take)))
        take[order[:extra]] += 1
    take = np.minimum(take, np.maximum(counts - 1, 0))  # every class keeps a training sample
    val = [rng.permutation(np.flatnonzero(labels == c))[:k] for c, k in zip(classes, take)]
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, np.int64)
    return np.setdiff1d(np.arange(len(labels)), val_idx), val_idx


def speaker_split(speakers: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Hold out whole speakers (seeded order) until ~``fraction`` of samples are in val."""
    ids = np.unique(speakers)
    if len(ids) < 2:
        raise ConfigError(f"val_by='speaker' needs at least 2 speakers in the training file, found {len(ids)}")
    order = np.random.default_rng(seed).permutation(ids)
    held: list[int] = []
    n_val = 0
    for s in order[:-1]:  # always keep at least one speaker for training
        if held and n_val >= fraction * len(speakers):
            break
        held.append(int(s))
        n_val += int(np.sum(speakers == s))
    is_val = np.isin(speakers, held)
    return np.flatnonzero(~is_val), np.flatnonzero(is_val), sorted(held)


def build_frame_datasets(data_dir: str | os.PathLike, dataset: str = "shd", bin_ms: float = 10.0, pool: int = 1,
                         max_duration_ms: float | None = None, binary: bool = False, val_fraction: float = 0.1,
                         val_by: str | None = None, seed: int = 0, cache_dir: str | os.PathLike | bool | None = None,
                         download: bool = False, on_error: str = "raise",
                         n_channels: int = N_CHANNELS) -> dict[str, FrameDataset]:
    """Train/val/test ``FrameDataset``s from ``{data_dir}/{dataset}_{split}.h5``.

    Validation split: SSC uses ``ssc_valid.h5`` unless ``val_by`` is given. For SHD (or an explicit
    ``val_by``): ``"fraction"`` (default) holds out a seeded class-stratified ``val_fraction`` of
    train; ``"speaker"`` holds out whole training speakers (~``val_fraction`` of samples);
    ``"test"`` validates on the test set (only when you really want that).
    ``cache_dir``: None -> ``{data_dir}/.spikerec_cache``; False -> no cache.
    ``download=True`` fetches missing files from the official host first.
    """
    files = split_files(data_dir, dataset)
    if val_by is not None and val_by not in VAL_BY_CHOICES:
        raise ConfigError(f"val_by must be one of {VAL_BY_CHOICES} or None, got {val_by!r}")
    use_official_val = dataset == "ssc" and val_by is None
    val_by = val_by or "fraction"
    if not use_official_val and val_by != "test" and not 0.0 < val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in (0, 1), got {val_fraction}")
    missing = [p for p in files.values() if not p.is_file()]
    if missing:
        if not download:
            raise DataError(f"missing {', '.join(p.name for p in missing)}; run `spikerec data download --dataset "
                            f"{dataset} --data {data_dir}` (or pass download=True), or make synthetic data with "
                            f"`spikerec data synth --kind {dataset} --out {data_dir}`", path=str(data_dir))
        from spikerec.datasets.download import download_dataset
        download_dataset(dataset, data_dir)
    if cache_dir is None:
        cache_dir = Path(data_dir) / DEFAULT_CACHE_SUBDIR
    elif cache_dir is False:
        cache_dir = None

    entries = {split: load_frames(path, bin_ms=bin_ms, pool=pool, max_duration_ms=max_duration_ms, binary=binary,
                                  n_channels=n_channels, on_error=on_error, cache_dir=cache_dir)
               for split, path in files.items()}
    n_classes = max(len(e.class_names) if e.class_names else int(e.labels.max()) + 1 for e in entries.values())

    def make(split: str) -> FrameDataset:
        e = entries[split]
        return FrameDataset(e.frames, e.offsets, e.labels, n_classes, speakers=e.speakers,
                            class_names=e.class_names, source=str(files[split]), skipped=e.skipped,
                            dropped_events=e.dropped_events)

    train, test = make("train"), make("test")
    train_name = files["train"].name
    if use_official_val:
        val = make("valid")
        source = f"{files['valid'].name} (official SSC validation split)"
    elif val_by == "test":
        val = test
        source = f"{files['test'].name} (the TEST set, as requested with val_by='test')"
    elif val_by == "speaker":
        if train.speakers is None:
            raise DataError("val_by='speaker' needs extra/speaker in the file", path=str(files["train"]))
        tr, va, held = speaker_split(train.speakers, val_fraction, seed)
        source = (f"{train_name}: speakers {held} held out ({len(va)} of {len(train)} samples, seed {seed})")
        train, val = train.subset(tr), train.subset(va)
    else:
        tr, va = fraction_split(train.labels, val_fraction, seed)
        source = f"{train_name}: seeded class-stratified {val_fraction:.0%} of samples (seed {seed}, {len(va)} samples)"
        train, val = train.subset(tr), train.subset(va)
    out = {"train": train, "val": val, "test": test}
    for ds in out.values():
        ds.val_source = source
    if val is test:  # separate objects so that setting an attribute on one does not change the other
        out["val"] = test.subset(np.arange(len(test)))
    return out
