"""Compiled CPU delay kernels: load the C library of ``_csrc`` and call it on torch tensors.

The library is built once per machine by ``spikerec.kernel_cache.build_library`` (hash-checked
cache, compiler timeout, falls back with a warning); ``library()`` returns None when it cannot be
built or ``SPIKEREC_KERNEL=torch`` is set, and ``kernels`` then runs pure torch ops. Each function
here takes contiguous float32 CPU tensors (callers check with ``available``), splits one dimension
over ``torch.get_num_threads()`` Python threads (ctypes releases the GIL during the C call) and
returns new tensors; shapes follow ``kernels``: x, y [T, B, C]; kall [Cin, K, Cout].
"""

from __future__ import annotations

import concurrent.futures
import ctypes
import os
import threading

import torch

from spikerec.delays._csrc import SOURCE

_FLAGS = ["-O3", "-march=native", "-shared", "-fPIC", "-std=gnu11", "-fno-math-errno"]
_P, _L, _I, _D = ctypes.c_void_p, ctypes.c_long, ctypes.c_int, ctypes.c_double
_SIGNATURES = {
    "dl_build_kernel": [_P, _P, _L, _L, _L, _L, _D, _I, _L, _P, _L, _L],
    "dl_build_kernel_grad": [_P, _P, _L, _L, _L, _L, _D, _I, _L, _P, _P, _P, _L, _L],
    "dl_forward": [_P, _P, _P, _L, _L, _L, _L, _L, _L, _L],
    "dl_kernel_grad": [_P, _P, _P, _L, _L, _L, _L, _L, _L, _L],
    "dl_integer_forward": [_P, _P, _P, _P, _L, _L, _L, _L, _L, _L, _L, _L],
    "dl_time_filter": [_P, _P, _P, _L, _L, _L, _L, _L, _L, _L, _L, _L],
}
_RESTYPES = {"dl_count_nonzero": ([_P, _L], ctypes.c_long)}

_lock = threading.Lock()
_lib: ctypes.CDLL | None = None
_tried = False


def library() -> ctypes.CDLL | None:
    """The compiled delay kernels (built on first use), or None (pure-torch fallback)."""
    global _lib, _tried
    if _tried:
        return _lib
    with _lock:
        if not _tried:
            if os.environ.get("SPIKEREC_KERNEL", "").lower() != "torch":
                from spikerec.kernel_cache import build_library

                lib = build_library("delays", SOURCE, _FLAGS)
                if lib is not None:
                    for name, argtypes in _SIGNATURES.items():
                        fn = getattr(lib, name)
                        fn.argtypes, fn.restype = argtypes, ctypes.c_int
                    for name, (argtypes, restype) in _RESTYPES.items():
                        fn = getattr(lib, name)
                        fn.argtypes, fn.restype = argtypes, restype
                _lib = lib
            _tried = True
    return _lib


def available(*tensors: torch.Tensor) -> bool:
    """True when the compiled kernels can serve these tensors (CPU, float32) and the library built."""
    return all(t.device.type == "cpu" and t.dtype == torch.float32 for t in tensors) and library() is not None


_pool: concurrent.futures.ThreadPoolExecutor | None = None
_pool_key = (0, 0)  # (process id, workers): a forked child (DataLoader worker) builds its own pool


def _parallel(fn, n: int) -> None:
    """Run ``fn(start, stop)`` (a C call returning a status) over [0, n) in torch.get_num_threads() chunks."""
    global _pool, _pool_key
    parts = max(1, min(torch.get_num_threads(), n))
    bounds = [n * j // parts for j in range(parts + 1)]
    if parts == 1:
        statuses = [fn(0, n)]
    else:
        with _lock:
            if _pool_key[0] != os.getpid() or _pool_key[1] < parts - 1:
                _pool = concurrent.futures.ThreadPoolExecutor(max_workers=parts - 1, thread_name_prefix="spikerec-delays")
                _pool_key = (os.getpid(), parts - 1)
            pool = _pool
        futures = [pool.submit(fn, bounds[j], bounds[j + 1]) for j in range(1, parts)]
        statuses = [fn(bounds[0], bounds[1])] + [f.result() for f in futures]
    if -1 in statuses:
        raise MemoryError("spikerec delay kernel: could not allocate its scratch memory")
    if any(statuses):
        raise ValueError(f"spikerec delay kernel: invalid arguments (status {max(statuses, key=abs)})")


def _c(t: torch.Tensor) -> torch.Tensor:
    return t.detach().contiguous()


def count_nonzero(x: torch.Tensor) -> int:
    """Number of non-zero entries of x (one vectorised pass; torch's count_nonzero is ~5x slower here)."""
    x = _c(x)
    return int(library().dl_count_nonzero(x.data_ptr(), x.numel()))


def build_kernel(weight: torch.Tensor, positions: torch.Tensor, std: float, gauss: bool, window: int,
                 kernel_size: int) -> torch.Tensor:
    """kall [Cin, K, Cout] from weight/positions [Cout, Cin, kc] (DCLS construction, see ``_csrc``)."""
    w, p = _c(weight), _c(positions)
    n_out, n_in, kc = w.shape
    kall = torch.empty(n_in, kernel_size, n_out)
    _parallel(lambda a, b: library().dl_build_kernel(w.data_ptr(), p.data_ptr(), n_out, n_in, kc, kernel_size, std,
                                                     int(gauss), window, kall.data_ptr(), a, b), n_in)
    return kall


def build_kernel_grad(weight: torch.Tensor, positions: torch.Tensor, std: float, gauss: bool, window: int,
                      gkall: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(dL/dweight, dL/dpositions) [Cout, Cin, kc] from dL/dkall [Cin, K, Cout]."""
    w, p, g = _c(weight), _c(positions), _c(gkall)
    n_out, n_in, kc = w.shape
    gw, gp = torch.empty_like(w), torch.empty_like(p)
    _parallel(lambda a, b: library().dl_build_kernel_grad(w.data_ptr(), p.data_ptr(), n_out, n_in, kc, g.shape[1], std,
                                                          int(gauss), window, g.data_ptr(), gw.data_ptr(),
                                                          gp.data_ptr(), a, b), n_in)
    return gw, gp


def forward(x: torch.Tensor, kall: torch.Tensor) -> torch.Tensor:
    """y[t, b, o] = sum_{i,d} kall[i, d, o] x[t - d, b, i], touching only non-zero x."""
    x, kall = _c(x), _c(kall)
    n_t, n_b, n_in = x.shape
    n_k, n_out = kall.shape[1:]
    y = torch.empty(n_t, n_b, n_out)
    _parallel(lambda a, b: library().dl_forward(x.data_ptr(), kall.data_ptr(), y.data_ptr(), n_t, n_b, n_in, n_k,
                                                n_out, a, b), n_b)
    return y


def kernel_grad(x: torch.Tensor, gy: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """gk[i, d, o] = sum_{t,b} x[t, b, i] gy[t + d, b, o] [Cin, K, Cout], touching only non-zero x."""
    x, gy = _c(x), _c(gy)
    n_t, n_b, n_in = x.shape
    n_out = gy.shape[2]
    c16 = -(-n_out // 16) * 16
    gk = torch.empty(n_in, kernel_size, c16)
    _parallel(lambda a, b: library().dl_kernel_grad(x.data_ptr(), gy.data_ptr(), gk.data_ptr(), n_t, n_b, n_in,
                                                    kernel_size, n_out, a, b), n_in)
    return gk if c16 == n_out else gk[:, :, :n_out].contiguous()


def time_filter(gy: torch.Tensor, basis: torch.Tensor, t0: int, t1: int, out: torch.Tensor | None = None) -> torch.Tensor:
    """h[t - t0, b, r, o] = sum_{d, t+d<T} basis[d, r] gy[t + d, b, o] for t0 <= t < t1.

    gy [T, B, Cout] (contiguous float32), basis [K, r] float32; returns ``out`` (or a new tensor) of
    shape [t1 - t0, B, r, c16], Cout padded to c16 (a multiple of 16) with zeros.
    """
    n_t, n_b, n_out = gy.shape
    n_k, rank = basis.shape
    shape = (t1 - t0, n_b, rank, -(-n_out // 16) * 16)
    h = torch.empty(shape) if out is None else out.view(shape)
    _parallel(lambda a, b: library().dl_time_filter(gy.data_ptr(), basis.data_ptr(), h.data_ptr(), n_t, n_b, n_out,
                                                    n_k, rank, t0, t1, a, b), n_b)
    return h


def integer_forward(x: torch.Tensor, weight: torch.Tensor, delays: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """y[t, b, o] = sum_{i,c} W[o,i,c] x[t - D[o,i,c], b, i]; weight/delays [Cout, Cin, kc], zero weights skipped."""
    x, w, d = _c(x), _c(weight), _c(delays).to(torch.long)
    n_t, n_b, n_in = x.shape
    n_out, _, kc = w.shape
    y = torch.empty(n_t, n_b, n_out)
    _parallel(lambda a, b: library().dl_integer_forward(x.data_ptr(), w.data_ptr(), d.data_ptr(), y.data_ptr(), n_t,
                                                        n_b, n_in, n_out, kc, kernel_size, a, b), n_b)
    return y
