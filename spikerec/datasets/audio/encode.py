"""Encode a folder or CSV of recordings into SHD-layout spike files (``spikerec data encode``).

Writes ``{out}/{name}_{split}.h5`` with the project's writer (so every reader, binning path and recipe
works on them) plus ``{out}/{name}_encoding.json``: the cochlea configuration, each unit's centre
frequency and threshold class, class and speaker names, the split and every skipped file.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path
from typing import Sequence

import numpy as np
from tqdm import tqdm

from spikerec.datasets.audio.cochlea import Cochlea, CochleaConfig
from spikerec.datasets.audio.jobs import encode_file, init_worker
from spikerec.datasets.audio.manifest import read_manifest, split_items
from spikerec.datasets.readers import ON_ERROR_CHOICES
from spikerec.datasets.writers import write_spike_file
from spikerec.errors import ConfigError, DataError
from spikerec.io import write_json


def encode_audio_dataset(source: str | os.PathLike, out_dir: str | os.PathLike, name: str = "shd",
                         config: CochleaConfig | None = None, labels: Sequence[str] | None = None,
                         speaker_from: str | None = None, test_fraction: float = 0.2, valid_fraction: float = 0.1,
                         seed: int = 0, on_error: str = "raise", workers: int = 1, progress: bool = True) -> dict:
    """Encode every recording of ``source`` (see :func:`.manifest.read_manifest`) and write the split files.

    ``name``: ``"shd"`` writes train/test, ``"ssc"`` train/valid/test (the names ``spikerec train``
    looks for). Speakers are disjoint across splits when known. ``on_error="raise"`` stops at the first
    unreadable file with a ``DataError`` naming it; ``"skip"`` leaves it out and counts it. Recording
    ``i`` is encoded with seed ``(seed, i)``, so the result does not depend on ``workers``.
    Returns a summary (files, samples, classes, speakers, skipped, audio seconds, throughput).
    """
    if on_error not in ON_ERROR_CHOICES:
        raise ConfigError(f"on_error must be one of {ON_ERROR_CHOICES}, got {on_error!r}")
    if workers < 1:
        raise ConfigError(f"workers must be >= 1, got {workers}")
    config = config or CochleaConfig()
    manifest = read_manifest(source, labels=labels, speaker_from=speaker_from)
    splits, split_how = split_items(manifest, name, test_fraction, valid_fraction, seed)

    t0 = time.perf_counter()
    results = _encode_all(manifest, config, seed, workers, progress, on_error)
    encode_s = time.perf_counter() - t0
    skipped = {str(manifest.items[i].path): err for i, (_, _, _, err) in sorted(results.items()) if err}

    speaker_names = sorted({it.speaker for it in manifest.items}) if manifest.has_speakers else None
    out = Path(out_dir)
    files, counts = {}, {}
    spikes = []
    for split, idx in splits.items():
        ok = [i for i in idx if results[i][3] is None]
        if not ok:
            raise DataError(f"every recording of split '{split}' was skipped; nothing to write", path=str(source))
        labels_i = [manifest.class_names.index(manifest.items[i].label) for i in ok]
        speakers_i = [speaker_names.index(manifest.items[i].speaker) for i in ok] if speaker_names else None
        path = out / f"{name}_{split}.h5"
        write_spike_file(path, [results[i][0] for i in ok], [results[i][1] for i in ok], labels_i, speakers_i,
                         manifest.class_names)
        files[split], counts[split] = str(path), len(ok)
        spikes += [len(results[i][0]) for i in ok]
    audio_s = float(sum(r[2] for r in results.values()))
    cochlea = Cochlea(config)
    summary = {
        "source": str(source), "out": str(out), "files": files, "samples": counts,
        "classes": len(manifest.class_names), "class_names": manifest.class_names,
        "speakers": len(speaker_names) if speaker_names else None, "split": split_how,
        "excluded_by_labels": manifest.excluded, "skipped": len(skipped), "skipped_files": skipped,
        "channels": config.n_units, "spikes_per_sample_mean": float(np.mean(spikes)),
        "audio_seconds": audio_s, "encode_seconds": encode_s, "workers": workers,
        "audio_seconds_per_second": audio_s / encode_s if encode_s > 0 else None,
    }
    provenance = dict(summary, config=config.to_dict(), speaker_names=speaker_names,
                      unit_cf_hz=cochlea.unit_cf_hz.round(2).tolist(),
                      unit_threshold_db=cochlea.unit_threshold_db.tolist(),
                      split_members={s: [str(manifest.items[i].path) for i in idx] for s, idx in splits.items()})
    write_json(out / f"{name}_encoding.json", provenance)
    return summary


def _encode_all(manifest, config: CochleaConfig, seed: int, workers: int, progress: bool, on_error: str) -> dict:
    """{item index: (times_s, units, audio seconds, error or None)}; raises on the first error unless skipping."""
    jobs = [(i, str(it.path), seed) for i, it in enumerate(manifest.items)]
    results = {}
    bar = tqdm(total=len(jobs), desc="encoding audio", unit="file", disable=not progress, leave=False)

    def collect(res) -> None:
        i, times, units, seconds, err = res
        if err is not None and on_error == "raise":
            raise DataError(err + " (pass --skip-bad / on_error='skip' to leave unreadable or silent recordings out and count them)")
        results[i] = (times, units, seconds, err)
        bar.update(1)

    try:
        if workers == 1:
            init_worker(config)
            for job in jobs:
                collect(encode_file(job))
        else:
            with multiprocessing.Pool(workers, initializer=init_worker, initargs=(config,)) as pool:
                for res in pool.imap_unordered(encode_file, jobs, chunksize=4):
                    collect(res)
    finally:
        bar.close()
    return results
