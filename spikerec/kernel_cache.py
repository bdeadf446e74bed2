"""Build C source into a shared library once per machine and load it with ctypes, never crashing.

:func:`build_library` returns a loaded ``ctypes.CDLL``, or ``None`` (after a ``RuntimeWarning``)
when no working compiler is at hand, so callers keep a pure-Python/torch fallback. Failures it
turns into a warning instead of a crash or a hang:

- A damaged cached library. ``dlopen`` maps a truncated ``.so`` past its end and the process dies
  of SIGBUS, which no ``try`` can catch; so every library's SHA-256 is recorded when it is built
  and checked before it is loaded. A mismatch, an unreadable or malformed record, or a ``dlopen``
  error rebuilds the entry (with a warning); a library is never loaded unverified.
- A hung compiler: the compiler (and its ``--version`` query) runs in its own process group under
  a timeout (``SPIKEREC_CC_TIMEOUT`` seconds, default 120); on expiry the whole group is killed.
- A changed compiler: the cache key hashes the source, flags, the compiler command (``$CC`` or
  ``cc``), its ``--version`` output, the platform and the CPU's flags (``-march=native`` code only
  runs on the CPU it was built for).

Layout of the cache directory (``$SPIKEREC_CACHE/kernels``, default ``~/.cache/spikerec/kernels``)::

    NAME-KEY.sha256              hex SHA-256 of the library built for KEY (written last)
    NAME-KEY-DIGEST16.so         the library, named by its content

Files are written to a temporary name in the same directory and moved into place with
``os.replace``, so concurrent builders never see a half-written file, and as the library's name
holds its own digest, two builders racing on one key can never pair a record with the other's
library. If the cache directory cannot be written, the library is built into a private temporary
directory for this process only.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

__all__ = ["build_library", "cache_dir", "compiler_timeout"]

_FORMAT = "spikerec-kernel-cache-v2"  # bump to invalidate every cached library at once
_DEFAULT_TIMEOUT_S = 120.0


class _CompilerError(Exception):
    """The compiler is missing, failed, or timed out (turned into a warning by build_library)."""


def cache_dir() -> Path:
    """Directory of cached kernels: ``$SPIKEREC_CACHE/kernels`` or ``$XDG_CACHE_HOME/spikerec/kernels``."""
    root = os.environ.get("SPIKEREC_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "spikerec")
    return Path(root) / "kernels"


def compiler_timeout() -> float:
    """Seconds the compiler may run (``SPIKEREC_CC_TIMEOUT``, default 120)."""
    raw = os.environ.get("SPIKEREC_CC_TIMEOUT")
    try:
        value = float(raw) if raw else _DEFAULT_TIMEOUT_S
    except ValueError:
        value = -1.0
    if not value > 0:
        warnings.warn(f"spikerec: ignoring SPIKEREC_CC_TIMEOUT={raw!r} (not a positive number of seconds); "
                      f"using {_DEFAULT_TIMEOUT_S:g}", RuntimeWarning, stacklevel=3)
        return _DEFAULT_TIMEOUT_S
    return value


def _run(cmd: list[str], timeout: float) -> bytes:
    """Run ``cmd`` in a new process group; return stdout or raise ``_CompilerError``."""
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
    except OSError as exc:
        raise _CompilerError(f"cannot run {cmd[0]!r} ({exc.strerror or exc})") from exc
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the driver and whatever it spawned (cc1, as, ld)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise _CompilerError(f"{shlex.join(cmd[:2])} ... did not finish within {timeout:g} s and was killed "
                             "(raise SPIKEREC_CC_TIMEOUT if the machine is just slow)") from None
    if proc.returncode != 0:
        detail = err.decode(errors="replace").strip()[-600:]
        raise _CompilerError(f"{shlex.join(cmd[:2])} ... exited with status {proc.returncode}: {detail}")
    return out


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line for line in fh if line.startswith("flags")), platform.processor())
    except OSError:
        return platform.processor()


def _cache_key(source: str, args: list[str], cc: list[str], version: bytes) -> str:
    h = hashlib.sha256()
    for part in (_FORMAT, source, *args, *cc, sys.platform, platform.machine(), _cpu_flags()):
        h.update(part.encode())
        h.update(b"\0")
    h.update(version)
    return h.hexdigest()[:20]


def _warn(message: str) -> None:
    warnings.warn(f"spikerec: {message}", RuntimeWarning, stacklevel=4)


def _load_verified(directory: Path, name: str, key: str) -> ctypes.CDLL | None:
    """The cached library for ``key`` if its recorded hash matches; else None (warns unless absent)."""
    record = directory / f"{name}-{key}.sha256"
    try:
        digest = record.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        _warn(f"cannot read the kernel hash record {record} ({exc}); rebuilding")
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", digest):
        _warn(f"the kernel hash record {record} is damaged; rebuilding")
        return None
    path = directory / f"{name}-{key}-{digest[:16]}.so"
    try:
        data = path.read_bytes()
    except OSError as exc:
        _warn(f"the cached kernel {path} is unreadable ({exc.strerror or exc}); rebuilding")
        return None
    if hashlib.sha256(data).hexdigest() != digest:
        _warn(f"the cached kernel {path} does not match its recorded SHA-256 (truncated or damaged); rebuilding")
        return None
    try:
        return ctypes.CDLL(str(path))
    except OSError as exc:
        _warn(f"the cached kernel {path} failed to load ({exc}); rebuilding")
        return None


def _compile_into(directory: Path, name: str, key: str, source: str, cmd_head: list[str], libs: list[str],
                  timeout: float) -> Path:
    """Compile into ``directory`` (temporary names, then ``os.replace``); returns the library path."""
    with tempfile.TemporaryDirectory(dir=directory, prefix=f".{name}-build-") as tmp:
        c_file = Path(tmp) / f"{name}.c"
        c_file.write_text(source)
        built = Path(tmp) / f"{name}.so"
        _run([*cmd_head, str(c_file), "-o", str(built), *libs], timeout)
        digest = hashlib.sha256(built.read_bytes()).hexdigest()
        path = directory / f"{name}-{key}-{digest[:16]}.so"
        os.replace(built, path)
        record_tmp = Path(tmp) / "record"
        record_tmp.write_text(digest + "\n")
        os.replace(record_tmp, directory / f"{name}-{key}.sha256")  # last: the entry is complete
    return path


def build_library(name: str, source: str, flags: list[str], libs: list[str] = ("-lm",)) -> ctypes.CDLL | None:
    """Compile ``source`` with ``$CC`` (default ``cc``) and ``flags`` into a cached shared library and load it.

    ``name`` prefixes the cache files (letters, digits, ``_``). Returns the loaded library, or None
    with a ``RuntimeWarning`` saying why (no compiler, compile error, timeout, unloadable result).
    """
    if not re.fullmatch(r"[A-Za-z0-9_]+", name):
        raise ValueError(f"kernel library name must be letters, digits and '_', got {name!r}")
    libs = list(libs)
    timeout = compiler_timeout()
    cc = shlex.split(os.environ.get("CC") or "cc")
    try:
        version = _run([*cc, "--version"], timeout)
    except _CompilerError as exc:
        _warn(f"no usable C compiler for the {name} kernels ({exc})")
        return None
    key = _cache_key(source, [*flags, *libs], cc, version)
    directory = cache_dir()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        writable = os.access(directory, os.W_OK)
    except OSError:
        writable = False
    if writable:
        lib = _load_verified(directory, name, key)
        if lib is not None:
            return lib
    try:
        if writable:
            path = _compile_into(directory, name, key, source, [*cc, *flags], libs, timeout)
            return ctypes.CDLL(str(path))
        _warn(f"the kernel cache {directory} is not writable (set SPIKEREC_CACHE); building for this process only")
        with tempfile.TemporaryDirectory(prefix=f"spikerec-{name}-") as private:
            path = _compile_into(Path(private), name, key, source, [*cc, *flags], libs, timeout)
            return ctypes.CDLL(str(path))  # the mapping outlives the deleted file
    except (_CompilerError, OSError) as exc:
        _warn(f"could not build the {name} kernels ({exc})")
        return None
