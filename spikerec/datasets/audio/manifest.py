"""Which recordings make a data set: a folder with one sub-folder per class, or a CSV of path,label[,speaker];
and how they are split into train/test (and valid) with disjoint speakers when speakers are known.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from spikerec.datasets.audio.audiofile import AUDIO_EXTENSIONS
from spikerec.datasets.frames import fraction_split, speaker_split
from spikerec.datasets.readers import DATASET_SPLITS
from spikerec.errors import ConfigError, DataError

SPEAKER_PRESETS = {"prefix": r"^([^_]+)_"}  # Speech Commands style names: {speaker}_nohash_{n}.wav


@dataclass(frozen=True)
class AudioItem:
    """One recording: file, class name and speaker (``None`` when unknown)."""

    path: Path
    label: str
    speaker: str | None = None


@dataclass
class Manifest:
    """The recordings kept (``items``), the class names in label order, and how many were left out by ``labels``."""

    items: list[AudioItem]
    class_names: list[str]
    excluded: int = 0

    @property
    def has_speakers(self) -> bool:
        return bool(self.items) and all(it.speaker is not None for it in self.items)


def read_manifest(source: str | os.PathLike, labels: Sequence[str] | None = None,
                  speaker_from: str | None = None) -> Manifest:
    """Recordings from a folder (``source/CLASS/**/*.wav|flac|ogg``) or a CSV with a header row
    ``path,label[,speaker]`` (paths relative to the CSV's folder).

    ``labels``: the classes to keep, in label order (default: every class, sorted by name); recordings
    of other classes are counted in ``Manifest.excluded``. ``speaker_from``: a regular expression whose
    first group (or whole match) is the speaker, searched in each file name; ``"prefix"`` takes the text
    before the first underscore. It overrides a CSV's speaker column.
    """
    source = Path(source)
    if source.is_dir():
        items = _from_folder(source)
    elif source.is_file():
        items = _from_csv(source)
    else:
        raise DataError("no such folder or CSV file", path=str(source))
    if speaker_from is not None:
        items = [AudioItem(it.path, it.label, _speaker_of(it.path, speaker_from)) for it in items]
    if not items:
        raise DataError(f"no audio files ({', '.join(AUDIO_EXTENSIONS)}) found", path=str(source))
    present = sorted({it.label for it in items})
    if labels is None:
        class_names = present
    else:
        class_names = [str(x) for x in labels]
        if len(set(class_names)) != len(class_names):
            raise ConfigError(f"--labels names a class twice: {class_names}")
        unknown = sorted(set(class_names) - set(present))
        if unknown:
            raise DataError(f"--labels names classes with no recordings: {unknown} (found: {present})", path=str(source))
    kept = [it for it in items if it.label in set(class_names)]
    unnamed = [it for it in kept if it.speaker is None]
    if unnamed and len(unnamed) < len(kept):
        raise DataError(f"{len(unnamed)} of {len(kept)} recordings have no speaker (first: {unnamed[0].path}); "
                        "name every speaker or none, so the split can keep speakers apart", path=str(source))
    if len(class_names) < 2:
        raise ConfigError(f"need at least 2 classes, found {class_names}")
    return Manifest(kept, class_names, excluded=len(items) - len(kept))


def _from_folder(root: Path) -> list[AudioItem]:
    items = []
    for class_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for f in sorted(class_dir.rglob("*")):
            if f.is_file() and f.suffix.lower() in AUDIO_EXTENSIONS:
                items.append(AudioItem(f, class_dir.name))
    return items


def _from_csv(path: Path) -> list[AudioItem]:
    try:
        with open(path, newline="") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise DataError(f"cannot read the CSV manifest: {err}", path=str(path)) from None
    items = []
    for i, row in enumerate(rows):
        if not row.get("path") or not row.get("label"):
            raise DataError(f"row {i + 2} needs 'path' and 'label' (header path,label[,speaker]); got {row}",
                            path=str(path))
        f = Path(row["path"])
        items.append(AudioItem(f if f.is_absolute() else path.parent / f, row["label"], row.get("speaker") or None))
    return items


def _speaker_of(path: Path, speaker_from: str) -> str:
    pattern = SPEAKER_PRESETS.get(speaker_from, speaker_from)
    try:
        m = re.search(pattern, path.name)
    except re.error as err:
        raise ConfigError(f"--speaker-from is not a valid regular expression: {pattern!r} ({err})") from None
    if m is None:
        raise DataError(f"file name does not match --speaker-from {pattern!r}", path=str(path))
    return m.group(1) if m.groups() else m.group(0)


def split_items(manifest: Manifest, dataset: str = "shd", test_fraction: float = 0.2, valid_fraction: float = 0.1,
                seed: int = 0) -> tuple[dict[str, np.ndarray], str]:
    """Indices of ``manifest.items`` per split of ``dataset`` (shd: train/test; ssc: train/valid/test).

    With speakers: whole speakers are held out (seeded order) until about ``test_fraction`` (and
    ``valid_fraction``) of the recordings, so no speaker is in two splits. Without: a seeded,
    class-stratified split. Returns ``(indices per split, how the split was made)``.
    """
    if dataset not in DATASET_SPLITS:
        raise ConfigError(f"dataset name must be one of {sorted(DATASET_SPLITS)}, got {dataset!r}")
    held_out = [("test", test_fraction)] + ([("valid", valid_fraction)] if "valid" in DATASET_SPLITS[dataset] else [])
    for split, frac in held_out:
        if not 0.0 < frac < 1.0:
            raise ConfigError(f"{split} fraction must be in (0, 1), got {frac}")
    rest = np.arange(len(manifest.items))
    out: dict[str, np.ndarray] = {}
    by_speaker = manifest.has_speakers
    labels = np.array([manifest.class_names.index(it.label) for it in manifest.items])
    if by_speaker:
        names = sorted({it.speaker for it in manifest.items})
        speakers = np.array([names.index(it.speaker) for it in manifest.items])
        total = len(rest)
        for split, frac in held_out:
            keep, held, _ = speaker_split(speakers[rest], frac * total / len(rest), seed)
            out[split], rest = rest[held], rest[keep]
        how = f"disjoint speakers (seed {seed})"
    else:
        total = len(rest)
        for split, frac in held_out:
            keep, held = fraction_split(labels[rest], frac * total / len(rest), seed)
            out[split], rest = rest[held], rest[keep]
        how = f"class-stratified random (no speakers known; seed {seed})"
    out["train"] = rest
    for split in DATASET_SPLITS[dataset]:
        if len(out[split]) == 0:
            raise DataError(f"split '{split}' would be empty ({len(manifest.items)} recordings"
                            f"{', %d speakers' % len(set(speakers)) if by_speaker else ''}); "
                            "add recordings or change the fractions")
    return {s: np.sort(out[s]) for s in DATASET_SPLITS[dataset]}, how
