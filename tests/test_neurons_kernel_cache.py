"""The compiled-kernel cache never takes the process down: damaged libraries, hung or missing compilers.

Every case runs in a fresh interpreter (a regression that crashes dlopen, e.g. with SIGBUS, fails the
test instead of killing the runner). The interpreter loads ``spikerec/kernel_cache.py`` by path (standard
library only, no torch import) and builds a one-function library into a cache under ``tmp_path``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from spikerec import kernel_cache as _kernel_cache

MODULE = Path(_kernel_cache.__file__)
CC = shutil.which(os.environ.get("CC") or "cc")
needs_cc = pytest.mark.skipif(CC is None, reason="no C compiler on this machine")

_RUNNER = r"""
import importlib.util, json, sys, warnings
spec = importlib.util.spec_from_file_location("kernel_cache", sys.argv[1])
kc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(kc)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    lib = kc.build_library("tiny", "int add(int a, int b) { return a + b; }\n", ["-O1", "-shared", "-fPIC"])
print(json.dumps({"loaded": lib is not None, "works": lib is not None and lib.add(2, 3) == 5,
                  "warnings": [str(w.message) for w in caught]}))
"""


def build(cache: Path, timeout: float = 60, **env) -> dict:
    """Run build_library in a fresh interpreter; it must exit normally (no signal, no hang)."""
    full_env = {**os.environ, "SPIKEREC_CACHE": str(cache), **env}
    result = subprocess.run([sys.executable, "-c", _RUNNER, str(MODULE)], env=full_env, capture_output=True,
                            text=True, timeout=timeout)
    assert result.returncode == 0, f"interpreter died (status {result.returncode}): {result.stderr[-2000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def entry(cache: Path) -> tuple[Path, Path]:
    """The (record, library) pair of the single cached key."""
    records = sorted((cache / "kernels").glob("tiny-*.sha256"))
    assert len(records) == 1, records
    digest = records[0].read_text().strip()
    return records[0], records[0].with_name(f"{records[0].stem}-{digest[:16]}.so")


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie (a killed orphan may wait for a reaper)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


def script(path: Path, body: str) -> str:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@needs_cc
def test_fresh_build_then_verified_reuse(tmp_path):
    first = build(tmp_path)
    assert first == {"loaded": True, "works": True, "warnings": []}
    record, lib = entry(tmp_path)
    mtime = lib.stat().st_mtime_ns
    assert build(tmp_path) == first
    assert lib.stat().st_mtime_ns == mtime  # loaded from the cache, not rebuilt
    assert not list((tmp_path / "kernels").glob(".tiny-build-*"))  # no temporary left behind


@needs_cc
def test_truncated_library_is_rebuilt_not_loaded(tmp_path):
    build(tmp_path)
    _, lib = entry(tmp_path)
    good = lib.read_bytes()
    lib.write_bytes(good[: len(good) // 3])
    # the damage is real: loading this file directly kills the interpreter (SIGBUS) or fails
    raw = subprocess.run([sys.executable, "-c", f"import ctypes; ctypes.CDLL({str(lib)!r})"], capture_output=True,
                         timeout=60)
    assert raw.returncode != 0
    out = build(tmp_path)
    assert out["works"] and any("does not match its recorded SHA-256" in w for w in out["warnings"])
    assert lib.read_bytes() == good  # rebuilt in place (same compiler, same bytes)
    assert build(tmp_path)["warnings"] == []


@needs_cc
def test_garbage_library_is_rebuilt(tmp_path):
    build(tmp_path)
    _, lib = entry(tmp_path)
    lib.write_bytes(os.urandom(lib.stat().st_size))
    out = build(tmp_path)
    assert out["works"] and any("does not match" in w for w in out["warnings"])


@needs_cc
def test_garbage_with_a_forged_hash_fails_to_load_and_is_rebuilt(tmp_path):
    # A record that matches garbage passes the hash check; dlopen then refuses it with an error, not a crash.
    build(tmp_path)
    record, _ = entry(tmp_path)
    garbage = b"this is not an ELF file" * 100
    digest = hashlib.sha256(garbage).hexdigest()
    record.with_name(f"{record.stem}-{digest[:16]}.so").write_bytes(garbage)
    record.write_text(digest + "\n")
    out = build(tmp_path)
    assert out["works"] and any("failed to load" in w for w in out["warnings"])


@needs_cc
def test_missing_or_damaged_hash_record_rebuilds(tmp_path):
    build(tmp_path)
    record, lib = entry(tmp_path)
    record.unlink()  # an unverifiable library is never loaded: built again, record written again
    assert build(tmp_path)["works"]
    assert entry(tmp_path)[0].exists()
    entry(tmp_path)[0].write_text("not a hash\n")
    out = build(tmp_path)
    assert out["works"] and any("record" in w and "damaged" in w for w in out["warnings"])


def test_missing_compiler_falls_back_with_a_warning(tmp_path):
    out = build(tmp_path, CC=str(tmp_path / "no-such-cc"))
    assert not out["loaded"] and any("no usable C compiler" in w for w in out["warnings"])


def test_hung_compiler_is_killed_after_the_timeout(tmp_path):
    pid_file = tmp_path / "pid"
    # answers --version, then "compiles" forever in a child process (as real drivers spawn cc1/as/ld)
    cc = script(tmp_path / "slow-cc", f'if [ "$1" = "--version" ]; then echo "slow-cc 1.0"; exit 0; fi\n'
                                      f'sleep 300 &\necho $! > {pid_file}\nwait\n')
    t0 = time.monotonic()
    out = build(tmp_path / "cache", CC=cc, SPIKEREC_CC_TIMEOUT="2")
    assert time.monotonic() - t0 < 60
    assert not out["loaded"] and any("did not finish within 2 s" in w for w in out["warnings"])
    # the whole process group was killed, the grandchild included
    pid = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid)
    assert not list((tmp_path / "cache" / "kernels").glob("tiny-*"))


def test_hung_version_query_is_killed_too(tmp_path):
    cc = script(tmp_path / "stuck-cc", "exec sleep 300\n")
    out = build(tmp_path, CC=cc, SPIKEREC_CC_TIMEOUT="1")
    assert not out["loaded"] and any("did not finish within 1 s" in w for w in out["warnings"])


@needs_cc
def test_compiler_version_is_part_of_the_key(tmp_path):
    cc = script(tmp_path / "versioned-cc",
                f'if [ "$1" = "--version" ]; then echo "cc $FAKE_VERSION"; exit 0; fi\nexec {CC} "$@"\n')
    cache = tmp_path / "cache"
    assert build(cache, CC=cc, FAKE_VERSION="1.0")["works"]
    assert build(cache, CC=cc, FAKE_VERSION="1.0")["warnings"] == []
    assert len(list((cache / "kernels").glob("tiny-*.sha256"))) == 1
    assert build(cache, CC=cc, FAKE_VERSION="2.0")["works"]  # a new compiler version: a new entry
    assert len(list((cache / "kernels").glob("tiny-*.sha256"))) == 2


@needs_cc
def test_unwritable_cache_builds_for_the_process_only(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = build(blocker / "cache")  # the cache path lies under a regular file: it cannot be created
    assert out["works"] and any("not writable" in w for w in out["warnings"])


def test_bad_timeout_setting_warns_and_uses_the_default(monkeypatch):
    monkeypatch.setenv("SPIKEREC_CC_TIMEOUT", "soon")
    with pytest.warns(RuntimeWarning, match="SPIKEREC_CC_TIMEOUT"):
        assert _kernel_cache.compiler_timeout() == 120.0


def test_neuron_layers_fall_back_to_torch_without_a_compiler(tmp_path):
    # The real neuron kernels in a fresh interpreter with no compiler: one warning, then the torch path.
    code = ("import warnings, torch\n"
            "from spikerec.neurons import LIF, AdaptiveLIF\n"
            "from spikerec.neurons import _cpu_kernel\n"
            "with warnings.catch_warnings(record=True) as w:\n"
            "    warnings.simplefilter('always')\n"
            "    s = LIF(4)(torch.ones(3, 2, 4) * 30)\n"
            "    a = AdaptiveLIF(4, recurrent=True)(torch.ones(3, 2, 4) * 30)\n"
            "assert _cpu_kernel.library() is None\n"
            "assert sum('no usable C compiler' in str(x.message) for x in w) == 1, [str(x.message) for x in w]\n"
            "assert s.shape == (3, 2, 4) and s.sum() > 0 and a.sum() > 0\n")
    env = {**os.environ, "CC": str(tmp_path / "no-such-cc"), "SPIKEREC_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]

