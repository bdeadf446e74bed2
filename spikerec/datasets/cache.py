"""On-disk cache of binned frames, keyed so that a stale entry cannot be read.

The key is a SHA-256 over: the cache format version, every parameter that changes the frames
(bin width, max duration, pooling, binary, channel count, class count, bad-sample policy) and the
identity of the source file (size and a BLAKE2 hash of its full content). Hashing the content,
rather than trusting size + mtime, is what makes staleness impossible: a file rewritten in place
with the same size and timestamp still gets a new key. The content hash costs one sequential read
(about a second per GB), far less than reading and binning the file again.

An entry is two files written atomically: ``{stem}-{key}.frames.npy`` (frames, memory-mappable,
so DataLoader workers share pages instead of copying) and ``{stem}-{key}.index.npz`` (offsets,
labels, speakers, file indices, skip report). The index is written last and acts as the commit
marker: an entry without it is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from spikerec.io import atomic_path

FORMAT_VERSION = 1
_HASH_BLOCK = 1 << 22


@dataclass
class CachedFrames:
    """A loaded (or freshly built) cache entry. ``frames`` may be a read-only memory map."""

    frames: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray | None
    index: np.ndarray
    dropped_events: int
    skipped: dict[int, str]
    class_names: list[str] | None
    from_cache: bool


def content_hash(path: str | os.PathLike) -> str:
    """BLAKE2b digest of a file's full content."""
    h = hashlib.blake2b(digest_size=20)
    with open(path, "rb") as fh:
        while block := fh.read(_HASH_BLOCK):
            h.update(block)
    return h.hexdigest()


def cache_key(source: str | os.PathLike, params: dict[str, Any]) -> str:
    """Key of the frames made from ``source`` with ``params`` (all of them must be JSON-serialisable)."""
    identity = {"format": FORMAT_VERSION, "size": os.path.getsize(source), "content": content_hash(source),
                "params": params}
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def cached_frames(source: str | os.PathLike, params: dict[str, Any], cache_dir: str | os.PathLike | None,
                  build: Callable[[], CachedFrames]) -> CachedFrames:
    """Load the entry for (source, params) from ``cache_dir`` or ``build()`` it and store it.

    ``cache_dir=None`` disables caching (always builds).
    """
    if cache_dir is None:
        return build()
    key = cache_key(source, params)
    base = Path(cache_dir) / f"{Path(source).stem}-{key}"
    frames_path, index_path = base.with_suffix(".frames.npy"), base.with_suffix(".index.npz")
    if frames_path.is_file() and index_path.is_file():
        try:
            return _load(frames_path, index_path)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile):  # damaged from outside: rebuild it
            pass
    entry = build()
    try:
        return _store(entry, frames_path, index_path, params, source)
    except OSError as err:  # read-only data folder, full disk: the frames are still correct, just not cached
        warnings.warn(f"could not write the frame cache in {cache_dir} ({err}); continuing without it. "
                      "Pass cache_dir= (recipe data.cache_dir) to a writable folder to cache.", stacklevel=3)
        return entry


def _store(entry: CachedFrames, frames_path: Path, index_path: Path, params: dict[str, Any],
           source: str | os.PathLike) -> CachedFrames:
    with atomic_path(frames_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, np.ascontiguousarray(entry.frames))
    meta = {"skipped": {str(k): v for k, v in entry.skipped.items()}, "class_names": entry.class_names,
            "dropped_events": int(entry.dropped_events), "params": params, "source": str(source)}
    arrays = {"offsets": entry.offsets, "labels": entry.labels, "index": entry.index,
              "meta": np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)}
    if entry.speakers is not None:
        arrays["speakers"] = entry.speakers
    with atomic_path(index_path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, **arrays)
    loaded = _load(frames_path, index_path)  # memory-mapped, like every later cache hit
    loaded.from_cache = False
    return loaded


def _load(frames_path: Path, index_path: Path) -> CachedFrames:
    with np.load(index_path) as z:
        meta = json.loads(z["meta"].tobytes().decode())
        speakers = z["speakers"] if "speakers" in z.files else None
        return CachedFrames(frames=np.load(frames_path, mmap_mode="r"), offsets=z["offsets"], labels=z["labels"],
                            speakers=speakers, index=z["index"], dropped_events=meta["dropped_events"],
                            skipped={int(k): v for k, v in meta["skipped"].items()},
                            class_names=meta["class_names"], from_cache=True)
