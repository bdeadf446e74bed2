"""Optional compiled CPU kernel for the (non-recurrent) LIF forward and backward.

Why our own C instead of torch ops: the LIF recurrence is a handful of flops per element per step,
so a loop of torch ops pays per-op overhead and one memory pass per op; one vectorised pass of plain
C over ``[T, B*N]`` does the whole forward (or backward, surrogate included) with no temporaries
(measured: ~18 ms vs ~107 ms CPU time for the benchmark workload on one thread). The source is
compiled once with the system C compiler (``cc`` or ``$CC``, ``-O3 -march=native``; about a second)
into a per-user cache keyed by source, flags and CPU, and loaded with ``ctypes`` (no torch headers,
so it builds fast and does not depend on the torch version). Threads: the batch rows are split
across ``torch.get_num_threads()`` Python threads; ctypes releases the GIL during the call.

If no compiler is available, or ``SPIKEREC_KERNEL=torch`` is set, the pure-torch path in
:mod:`spikerec.neurons.functional` runs instead; forward results are bitwise identical (same
float operations in the same order, compiled with ``-ffp-contract=off``) and gradients agree to
rounding (tests cover both paths).
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import subprocess
import sys
import tempfile
import threading
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

# Templates: REAL is the float type, SUF the name suffix; SURR(z) the surrogate derivative (pname p, scale c).
# Flags (soft reset, decay_input) and the surrogate are compile-time specialisations so the inner loops
# vectorise; the previous membrane at t = 0 comes from (v0, zeros), so there is no t == 0 branch.
_FWD_TEMPLATE = r"""
void lif_fwd_SUF(const REAL* restrict x, const REAL* restrict v0, const REAL* restrict zeros,
                 const REAL* restrict beta, const REAL* restrict th, REAL vr, long T, long B, long N,
                 long b0, long b1, REAL* restrict H, REAL* restrict S, long* restrict nonfinite) {
    long BN = B * N, bad = 0;
    for (long t = 0; t < T; t++) {
        for (long b = b0; b < b1; b++) {
            const REAL* xt = x + t * BN + b * N;
            REAL* Ht = H + t * BN + b * N;
            REAL* St = S + t * BN + b * N;
            const REAL* Hp = t ? Ht - BN : v0 + b * N;
            const REAL* Sp = t ? St - BN : zeros;
            for (long n = 0; n < N; n++) {
                REAL bt = beta[n], thr = th[n], k = (REAL)1 - bt;
                REAL v = RESET(Hp[n], Sp[n], thr);
                REAL h = v * bt + INPUT(xt[n], k);
                Ht[n] = h;
                St[n] = h >= thr ? (REAL)1 : (REAL)0;
                bad += (h - h) != 0;  /* NaN or inf */
            }
        }
    }
    *nonfinite = bad;
}
"""

_BWD_TEMPLATE = r"""
void lif_bwd_SUF(const REAL* restrict x, const REAL* restrict v0, const REAL* restrict zeros,
                 const REAL* restrict beta, const REAL* restrict th, REAL vr, int detach, REAL p, REAL c,
                 long T, long B, long N, long b0, long b1, const REAL* restrict H, const REAL* restrict S,
                 const REAL* restrict gS, long gS_st, long gS_sb, const REAL* restrict gH, int need_beta, int need_th,
                 REAL* restrict gnext, REAL* restrict gx, REAL* restrict gv0, REAL* restrict accb, REAL* restrict acct) {
    long BN = B * N;
    REAL keep = detach ? (REAL)0 : (REAL)1;
    for (long t = T - 1; t >= 0; t--) {
        for (long b = b0; b < b1; b++) {
            long o = t * BN + b * N;
            REAL* gn = gnext + b * N;
            const REAL* gSt = gS ? gS + t * gS_st + b * gS_sb : zeros;
            const REAL* gHt = gH ? gH + o : zeros;
            const REAL* Hp = t ? H + o - BN : v0 + b * N;
            const REAL* Sp = t ? S + o - BN : zeros;
            REAL* at = acct + b * N;
            for (long n = 0; n < N; n++) {
                REAL bt = beta[n], thr = th[n], k = (REAL)1 - bt;
                REAL h = H[o + n], s = h >= thr ? (REAL)1 : (REAL)0;  /* recomputed: one stream less to read */
                REAL gv = bt * gn[n];
                REAL z = h - thr;
                REAL sg = SURR(z);
                REAL gs = gSt[n] + gv * keep * DVDS(h, thr);
                REAL gh = gHt[n] + gv * DVDH(s) + gs * sg;
                gx[o + n] = GX(gh, k);
                at[n] += -gs * sg - SOFT_TH(gv, s);
                gn[n] = gh;
            }
            if (need_beta)  /* separate loop: reads x only when tau is learned */
                for (long n = 0; n < N; n++)
                    accb[b * N + n] += gn[n] * (RESET(Hp[n], Sp[n], th[n]) - DHDB_INPUT(x[o + n]));
        }
    }
    for (long b = b0; b < b1; b++)
        for (long n = 0; n < N; n++) gv0[b * N + n] = beta[n] * gnext[b * N + n];
}
"""

# Surrogate derivatives in C, same formulas as spikerec.neurons.surrogate (z = h - threshold).
_SURR_C = {
    "atan": "((p / 2) / (1 + ((REAL)(1.5707963267948966 * (double)p) * z) * ((REAL)(1.5707963267948966 * (double)p) * z)) * c)",
    "fast_sigmoid": "(c / ((p * FABS(z) + 1) * (p * FABS(z) + 1)))",
    "sigmoid": "(c * p * (1 / (1 + EXP(-p * z))) * (1 - 1 / (1 + EXP(-p * z))))",
    "triangle": "(c * ((1 - FABS(z) / p) > 0 ? (1 - FABS(z) / p) : 0) / p)",
    "gaussian": "(c * EXP((REAL)-0.5 * (z / p) * (z / p)) / (p * (REAL)2.5066282746310002))",
}


def _variant(template: str, suffix: str, real: str, soft: bool, decay_input: bool, surr: str | None = None) -> str:
    macros = {
        "RESET": "(a - c_ * b)" if soft else "(b > 0 ? vr : a)",
        "INPUT": "((a + vr) * k_)" if decay_input else "(a + k_ * vr)",
        "DVDS": "(-c_)" if soft else "(vr - a)",
        "DVDH": "((REAL)1)" if soft else "((REAL)1 - a)",
        "GX": "(a * k_)" if decay_input else "(a)",
        "DHDB_INPUT": "(a + vr)" if decay_input else "(vr)",
        "SOFT_TH": "(a * b)" if soft else "((REAL)0)",
    }
    params = {"RESET": "(a, b, c_)", "INPUT": "(a, k_)", "DVDS": "(a, c_)", "DVDH": "(a)", "GX": "(a, k_)",
              "DHDB_INPUT": "(a)", "SOFT_TH": "(a, b)"}
    head = "".join(f"#define {m}{params[m]} {body}\n" for m, body in macros.items())
    if surr is not None:
        head += f"#define SURR(z) {_SURR_C[surr]}\n"
    head += f"#define REAL {real}\n#define FABS {'fabsf' if real == 'float' else 'fabs'}\n"
    head += f"#define EXP {'expf' if real == 'float' else 'exp'}\n"
    undef = "".join(f"#undef {m}\n" for m in [*macros, "SURR", "REAL", "FABS", "EXP"])
    return head + template.replace("SUF", suffix) + undef


def _name(kind: str, dtype_suffix: str, soft: bool, decay_input: bool, surr: str | None = None) -> str:
    return "_".join([kind, dtype_suffix, "soft" if soft else "hard", "di" if decay_input else "nodi"]
                    + ([surr] if surr else []))


def _source() -> str:
    parts = ["#include <math.h>\n"]
    for real, dsuf, _ in _TYPES.values():
        for soft in (False, True):
            for di in (False, True):
                parts.append(_variant(_FWD_TEMPLATE, _name("fwd", dsuf, soft, di)[4:], real, soft, di))
                for surr in _SURR_C:
                    parts.append(_variant(_BWD_TEMPLATE, _name("bwd", dsuf, soft, di, surr)[4:], real, soft, di, surr))
    return "\n".join(parts)


_SURROGATE_PARAM = {"atan": "alpha", "fast_sigmoid": "slope", "sigmoid": "alpha", "triangle": "width",
                    "gaussian": "sigma"}
_TYPES = {torch.float32: ("float", "f32", ctypes.c_float), torch.float64: ("double", "f64", ctypes.c_double)}
_FLAGS = ["-O3", "-march=native", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off", "-fno-math-errno"]


def _cache_dir() -> Path:
    root = os.environ.get("SPIKEREC_CACHE") or os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "spikerec")
    return Path(root) / "kernels"


_lock = threading.Lock()
_lib = None
_failed = False
_pool: ThreadPoolExecutor | None = None


def _cpu_id() -> str:
    # -march=native code is only valid on this CPU model: key the cache on it.
    try:
        with open("/proc/cpuinfo") as fh:
            return next((line for line in fh if line.startswith("flags")), platform.processor())
    except OSError:
        return platform.processor()


def _compile() -> ctypes.CDLL:
    src = _source()
    cc = os.environ.get("CC", "cc")
    key = hashlib.sha256("\0".join([src, *_FLAGS, cc, sys.platform, platform.machine(), _cpu_id()]).encode()).hexdigest()[:16]
    out = _cache_dir() / f"lif_{key}.so"
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
            c_file = Path(tmp) / "lif.c"
            c_file.write_text(src)
            so_tmp = Path(tmp) / "lif.so"
            subprocess.run([cc, *_FLAGS, str(c_file), "-o", str(so_tmp), "-lm"], check=True, capture_output=True)
            os.replace(so_tmp, out)  # atomic: concurrent builders never see a half-written library
    lib = ctypes.CDLL(str(out))
    P, L, I = ctypes.c_void_p, ctypes.c_long, ctypes.c_int
    for real, dsuf, creal in _TYPES.values():
        for soft in (False, True):
            for di in (False, True):
                getattr(lib, _name("lif_fwd", dsuf, soft, di)).argtypes = [P, P, P, P, P, creal, L, L, L, L, L, P, P, P]
                for surr in _SURR_C:
                    getattr(lib, _name("lif_bwd", dsuf, soft, di, surr)).argtypes = [
                        P, P, P, P, P, creal, I, creal, creal, L, L, L, L, L, P, P, P, L, L, P, I, I, P, P, P, P, P]
    return lib


def library():
    """The compiled kernel library (built on first use), or None when no compiler is available."""
    global _lib, _failed
    if _lib is not None or _failed:
        return _lib
    with _lock:
        if _lib is None and not _failed:
            try:
                _lib = _compile()
            except (OSError, subprocess.CalledProcessError) as exc:
                _failed = True
                detail = getattr(exc, "stderr", b"") or b""
                warnings.warn(f"spikerec: C kernel unavailable ({exc}; {detail.decode(errors='replace')[:200]}); "
                              "using the pure-torch LIF kernel", RuntimeWarning, stacklevel=2)
    return _lib


def supports(x: torch.Tensor, surrogate) -> bool:
    """True when the compiled kernel can run this call (CPU, float32/64, a built-in surrogate)."""
    from spikerec.neurons import surrogate as surrogates

    return (x.device.type == "cpu" and x.dtype in _TYPES and type(surrogate) in surrogates.BUILTIN
            and library() is not None)


def _run_rows(fn, B: int) -> None:
    """Call ``fn(i, b0, b1)`` over batch-row chunks on the torch thread count (GIL released in C)."""
    global _pool
    n = max(1, min(torch.get_num_threads(), B))
    if n == 1:
        fn(0, 0, B)
        return
    if _pool is None or _pool._max_workers < n:
        _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="spikerec-lif")
    bounds = [B * i // n for i in range(n + 1)]
    futures = [_pool.submit(fn, i, bounds[i], bounds[i + 1]) for i in range(1, n)]
    fn(0, bounds[0], bounds[1])
    for f in futures:
        f.result()


def _ptr(t: torch.Tensor | None):
    return None if t is None else t.data_ptr()


def _per_neuron(t: torch.Tensor, N: int, dtype: torch.dtype) -> torch.Tensor:
    """[N] contiguous in ``dtype``: the C code reads every buffer with the element type of ``x``."""
    return t.detach().to(dtype).expand(N).contiguous()


def _rows(g: torch.Tensor | None, N: int):
    """``(tensor, stride_t, stride_b)`` with contiguous rows of N; keeps broadcast (stride-0) T/B dims,
    so the expanded gradient of ``spikes.sum()`` is not materialised at full size."""
    if g is None:
        return None, 0, 0
    if g.stride(2) != 1:
        if g.stride(2) == 0 and g.stride(1) == 0 and g.stride(0) == 0:
            return g[0, 0].expand(N).contiguous(), 0, 0
        g = g.contiguous()
    if g.stride(1) not in (0, N) and g.shape[1] > 1:
        g = g.contiguous()
    return g, g.stride(0), g.stride(1)


def lif_forward(x, v0, beta, threshold, cfg):
    """Fused forward; returns ``(S, H, n_nonfinite)`` where ``n_nonfinite`` counts NaN/inf membranes."""
    T, B, N = x.shape
    dsuf, creal = _TYPES[x.dtype][1], _TYPES[x.dtype][2]
    x, v0 = x.contiguous(), v0.to(x.dtype).contiguous()  # the C code reads v0 with x's element type
    beta_c, th_c = _per_neuron(beta, N, x.dtype), _per_neuron(threshold, N, x.dtype)
    zeros = torch.zeros(N, dtype=x.dtype)
    H = torch.empty_like(x)
    S = torch.empty_like(x)
    bad = torch.zeros(max(1, min(torch.get_num_threads(), B)) + 1, dtype=torch.long)
    fn = getattr(library(), _name("lif_fwd", dsuf, cfg.reset == "soft", cfg.decay_input))

    def rows(i, b0, b1):
        fn(x.data_ptr(), v0.data_ptr(), zeros.data_ptr(), beta_c.data_ptr(), th_c.data_ptr(), creal(cfg.v_reset),
           T, B, N, b0, b1, H.data_ptr(), S.data_ptr(), bad[i:].data_ptr())

    _run_rows(rows, B)
    return S, H, int(bad.sum())


def lif_backward(x, v0, beta, threshold, H, S, gS, gH, cfg, need_beta: bool, need_th: bool):
    """Fused backward; returns ``(gx, gv0, gbeta [B, N] or None, gth [B, N] or None)`` (sum the last two over B)."""
    T, B, N = H.shape
    dsuf, creal = _TYPES[H.dtype][1], _TYPES[H.dtype][2]
    sur = cfg.surrogate
    gS, gS_st, gS_sb = _rows(gS, N)
    gH = None if gH is None else gH.contiguous()
    x, v0 = x.contiguous(), v0.to(x.dtype).contiguous()  # the C code reads v0 with x's element type
    beta_c, th_c = _per_neuron(beta, N, H.dtype), _per_neuron(threshold, N, H.dtype)
    zeros = torch.zeros(N, dtype=H.dtype)
    gx = torch.empty_like(H)
    gv0 = torch.empty_like(H[0])
    gnext = torch.zeros_like(H[0])
    accb = torch.zeros_like(H[0]) if need_beta else None
    acct = torch.zeros_like(H[0])  # accumulated even when unused: keeps the hot loop branch-free
    fn = getattr(library(), _name("lif_bwd", dsuf, cfg.reset == "soft", cfg.decay_input, sur.name))

    def rows(i, b0, b1):
        fn(x.data_ptr(), v0.data_ptr(), zeros.data_ptr(), beta_c.data_ptr(), th_c.data_ptr(), creal(cfg.v_reset),
           int(cfg.detach_reset), creal(getattr(sur, _SURROGATE_PARAM[sur.name])), creal(sur.scale), T, B, N, b0, b1,
           H.data_ptr(), S.data_ptr(), _ptr(gS), gS_st, gS_sb, _ptr(gH), int(need_beta), int(need_th),
           gnext.data_ptr(), gx.data_ptr(), gv0.data_ptr(), _ptr(accb), acct.data_ptr())

    _run_rows(rows, B)
    return gx, gv0, accb, acct if need_th else None
