"""Download SHD/SSC from the official host: resumable, md5-verified, atomic.

Files live at ``https://zenkelab.org/datasets/`` as ``{dataset}_{split}.h5.zip`` and
``{dataset}_{split}.h5.gz`` (tonic and SpikingJelly use the zip archives, norse and the authors'
tutorial the gzip ones). Archive md5 sums, cross-checked against the installed peers:

- zip, SHD: tonic 1.7 (``tonic/datasets/hsd.py``) and SpikingJelly 2.0 (``datasets/shd.py``) agree.
- zip, SSC: tonic 1.7. SpikingJelly 2.0's SSC class lists the SHD archives (a bug we do not copy:
  each dataset here has its own file names).
- gz, SHD: norse 1.1 (``dataset/spiking_heidelberg.py``).
- gz, SSC: no installed peer records them; they are read from the host's ``md5sums.txt``
  (what the authors' tutorial does) at download time.

A transfer streams into ``NAME.part``; an interrupted run resumes it with an HTTP Range request.
Only after the md5 matches is it renamed to the archive name and decompressed (atomically) to
``{dataset}_{split}.h5``. A folder that already holds the ``.h5`` files downloads nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Callable

from spikerec.datasets.readers import DATASET_SPLITS
from spikerec.errors import ConfigError, DownloadError
from spikerec.io import atomic_path

OFFICIAL_BASE_URL = "https://zenkelab.org/datasets/"
VARIANTS = ("zip", "gz")
MD5SUMS_NAME = "md5sums.txt"
ARCHIVE_MD5 = {
    "shd_train.h5.zip": "f3252aeb598ac776c1b526422d90eecb",
    "shd_test.h5.zip": "1503a5064faa34311c398fb0a1ed0a6f",
    "ssc_train.h5.zip": "d102be95e7144fcc0553d1f45ba94170",
    "ssc_valid.h5.zip": "b4eee3516a4a90dd0c71a6ac23a8ae43",
    "ssc_test.h5.zip": "a35ff1e9cffdd02a20eb850c17c37748",
    "shd_train.h5.gz": "d47c9825dee33347913e8ce0f2be08b0",
    "shd_test.h5.gz": "3062a80ec0c5719404d5b02e166543b1",
}
_CHUNK = 1 << 20


def _by_hand(url: str, archive: Path) -> str:
    """What to do by hand when ``url`` (saved as ``archive``, e.g. ``shd_train.h5.gz``) cannot be fetched."""
    h5_name = archive.name.removesuffix(".gz").removesuffix(".zip")
    return (f"download {url} by hand (browser, curl -C - -O), decompress it to {h5_name} "
            f"and put it in {archive.parent}; then pass --data {archive.parent} and nothing is downloaded")


def file_md5(path: str | os.PathLike) -> str:
    h = hashlib.md5()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            h.update(block)
    return h.hexdigest()


def published_md5s(base_url: str, timeout: float = 30.0) -> dict[str, str]:
    """The host's ``md5sums.txt`` as {file name: md5}."""
    url = base_url + MD5SUMS_NAME
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            text = resp.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        raise DownloadError(f"cannot fetch the checksum list {url} ({err}); check your connection, or "
                            "download and verify the files by hand") from None
    sums = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0].lower()
    return sums


def fetch(url: str, dest: str | os.PathLike, md5: str, timeout: float = 30.0,
          progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download ``url`` to ``dest`` via ``dest.part``, resuming a partial file; verify ``md5``; rename."""
    dest = Path(dest)
    part = dest.with_name(dest.name + ".part")
    dest.parent.mkdir(parents=True, exist_ok=True)
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        resp = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and have:  # nothing left to fetch: the part file may already be complete
            resp = None
        else:
            raise DownloadError(f"{url}: HTTP {err.code} {err.reason}; {_by_hand(url, dest)}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as err:
        reason = getattr(err, "reason", err)
        raise DownloadError(f"cannot reach {url} ({reason}): offline or host down; {_by_hand(url, dest)}") from None
    if resp is not None:
        with resp:
            resumed = resp.status == 206
            length = resp.headers.get("Content-Length")
            total = (have if resumed else 0) + int(length) if length is not None else None
            received = have if resumed else 0
            try:
                with open(part, "ab" if resumed else "wb") as fh:
                    while block := resp.read(_CHUNK):
                        fh.write(block)
                        received += len(block)
                        if progress:
                            progress(received, total)
            except (OSError, http.client.HTTPException) as err:
                raise DownloadError(f"{url}: transfer interrupted after {received} bytes ({err}); "
                                    "run the same command again to resume") from None
            if total is not None and received < total:
                raise DownloadError(f"{url}: transfer interrupted after {received} of {total} bytes; "
                                    "run the same command again to resume")
    got = file_md5(part)
    if got != md5.lower():
        part.unlink()
        raise DownloadError(f"{url}: md5 mismatch (expected {md5}, got {got}); the partial file was deleted, "
                            f"run again to re-download, or {_by_hand(url, dest)}")
    os.replace(part, dest)
    return dest


def extract(archive: str | os.PathLike, target: str | os.PathLike) -> Path:
    """Decompress a ``.h5.gz`` or ``.h5.zip`` archive to ``target`` atomically."""
    archive, target = Path(archive), Path(target)
    with atomic_path(target) as tmp:
        with open(tmp, "wb") as out:
            if archive.suffix == ".gz":
                with gzip.open(archive, "rb") as src:
                    shutil.copyfileobj(src, out, _CHUNK)
            else:
                with zipfile.ZipFile(archive) as zf:
                    names = [n for n in zf.namelist() if Path(n).name == target.name]
                    if not names:
                        raise DownloadError(f"{archive}: no {target.name} inside (found {zf.namelist()})")
                    with zf.open(names[0]) as src:
                        shutil.copyfileobj(src, out, _CHUNK)
    return target


def download_dataset(dataset: str, data_dir: str | os.PathLike, variant: str = "zip",
                     base_url: str = OFFICIAL_BASE_URL, md5s: dict[str, str] | None = None,
                     keep_archive: bool = False, timeout: float = 30.0, verbose: bool = False) -> dict[str, Path]:
    """Make sure ``{data_dir}/{dataset}_{split}.h5`` exist for every split; returns {split: path}.

    Existing ``.h5`` files are used as they are. ``md5s`` overrides the archive checksums
    (name -> md5); names missing from both it and the built-in table are looked up in the host's
    ``md5sums.txt``.
    """
    if dataset not in DATASET_SPLITS:
        raise ConfigError(f"dataset must be one of {sorted(DATASET_SPLITS)}, got {dataset!r}")
    if variant not in VARIANTS:
        raise ConfigError(f"variant must be one of {VARIANTS}, got {variant!r}")
    if not base_url.endswith("/"):
        base_url += "/"
    data_dir = Path(data_dir)
    known = {**ARCHIVE_MD5, **(md5s or {})}
    published: dict[str, str] | None = None
    paths = {}
    for split in DATASET_SPLITS[dataset]:
        target = data_dir / f"{dataset}_{split}.h5"
        paths[split] = target
        if target.is_file():
            continue
        name = f"{target.name}.{variant}"
        url = base_url + name
        md5 = known.get(name)
        if md5 is None:
            published = published if published is not None else published_md5s(base_url, timeout)
            if name not in published:
                raise DownloadError(f"no md5 for {name} in {base_url}{MD5SUMS_NAME}; {_by_hand(url, target)}")
            md5 = published[name]
        archive = data_dir / name

        def report(done: int, total: int | None, name=name) -> None:
            if verbose:
                of = f" of {total / 2**20:.0f}" if total else ""
                print(f"\r{name}: {done / 2**20:.0f}{of} MiB", end="", file=sys.stderr, flush=True)

        if not archive.is_file():
            fetch(url, archive, md5, timeout=timeout, progress=report)
            if verbose:
                print(file=sys.stderr)
        elif file_md5(archive) != md5:
            archive.unlink()
            raise DownloadError(f"{archive}: md5 does not match {md5}; removed it, run again to re-download")
        extract(archive, target)
        if not keep_archive:
            archive.unlink()
    return paths
