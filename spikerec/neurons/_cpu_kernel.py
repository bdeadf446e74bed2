"""Compiled CPU kernels for the LIF family: LIF, recurrent LIF and adaptive LIF, forward and backward.

Why our own C instead of torch ops: a neuron update is a handful of flops per element per step,
so a loop of torch ops pays per-op overhead and one memory pass per op; one vectorised pass of plain
C does a whole step (or the whole sequence) with no temporaries. The source is compiled once with
the system C compiler (``-O3 -march=native``) by :mod:`spikerec.kernel_cache` (verified,
crash-proof cache) and loaded with ``ctypes`` (no torch headers: builds in seconds, independent of
the torch version).

Layout of the work: every kernel is one C call per thread over the whole sequence; threads take
disjoint batch rows (rows never interact, forward or backward), ``torch.get_num_threads()`` of them,
GIL released by ctypes. With recurrent weights ``W`` ``[N, N]`` each step also needs a product with
``W``, computed inside the same loop:

- forward, ``S[t-1] @ W^T``: spikes are binary, so when few neurons spiked only the rows of ``W^T``
  of those that did are added (event-driven, cost ~ spike count x N); above ``DENSE_FRACTION`` of
  active entries a register-blocked dense product is cheaper. Both sum the same terms in the same
  order with exact products (0 or 1 times a weight), so they give bit-identical results.
- backward, ``(dL/dI[t+1]) @ W``: dense (the surrogate gradient is), the same register-blocked
  product: 4 batch rows x 64 columns of sums in vector registers, fused multiply-adds, the weights
  packed once per call in column blocks (rows ``N`` apart would map onto a few cache sets). For the
  skinny ``[B, N] x [N, N]`` of a step MKL's sgemm repacks ``W`` on every call; this product ran
  ~1.7x faster in an ad-hoc C timing at B=32, N=1024 (end to end: benchmarks/bench_lif.py). The
  weight gradient is one large GEMM afterwards (BLAS, in functional).

Forward results equal the pure-torch path of :mod:`spikerec.neurons.functional` bit for bit
without recurrence (same float operations in the same order, ``-ffp-contract=off``); with recurrence
BLAS sums the recurrent input in another order, so they agree to rounding. Gradients agree to rounding.
"""

from __future__ import annotations

import ctypes
import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from spikerec.kernel_cache import build_library

# Fraction of active (nonzero) presynaptic entries above which the forward's recurrent input uses the dense
# product instead of the event-driven sum (bitwise the same result; measured crossover on AVX-512: ~0.2).
DENSE_FRACTION = 0.2

# ---------------------------------------------------------------------------------------------------------------
# C source. Templates are specialised per float type (REAL, suffix), reset mode, input decay (LIF) and
# surrogate (backward), so the inner loops have no branches and vectorise. Macros (a, b, c_ are arguments):
#   RESET(h, s, th)   membrane after reset;  DVDS/DVDH: its derivative wrt the spike / the membrane
#   INPUT(i, k)       the input term of H;   GX: dH/dI times the adjoint;  DHDB_INPUT: input part of dH/dbeta
#   SOFT_TH(gv, s)    the soft reset's direct threshold term;  SURR(z) the surrogate derivative at z = h - th
# The previous step's (H, S) at t = 0 come from the caller (initial state), so there is no t == 0 branch.

_PRODUCTS = r"""
/* Packed weights: P[blk][k][c] = M[k, blk*CW + c] for a K x N matrix M, zero-padded to whole column blocks of
   CW (256 bytes: 4 vectors of 64 bytes). Sums live in explicit vector registers (GCC/Clang vector extension). */
typedef REAL vec_DSUF __attribute__((vector_size(64), aligned(sizeof(REAL))));
#define NV 4

/* out[r, c] = sum_k a[r, k] M[k, c] for rows r < nr: 4 rows x CW columns of sums in 16 vector registers,
   fused multiply-adds (only here: the elementwise kernels keep -ffp-contract=off). Terms run in chunks of KC
   (a KC x CW block of weights, 32 KiB of floats, stays in L1/L2 while every group of 4 rows uses it), the
   partial sums parked in part (nr x CW) between chunks: the same operations in the same order as one pass. */
#define KC 128
FMA_FN static void matmul_DSUF(const REAL* restrict a, long lda, const REAL* restrict P, long K, long N, long nr,
                               REAL* restrict out, long ldo, REAL* restrict part) {
    FMA_PRAGMA
    vec_DSUF* pv = (vec_DSUF*)part;
    for (long c0 = 0; c0 < N; c0 += CW) {
        const vec_DSUF* blk = (const vec_DSUF*)(P + c0 * K);
        long cw = N - c0 < CW ? N - c0 : CW;
        for (long k0 = 0; k0 < K; k0 += KC) {
            long k1 = K - k0 < KC ? K : k0 + KC;
            for (long r = 0; r < nr; r += 4) {
                long m = nr - r < 4 ? nr - r : 4;  /* a short last group repeats its first row: its copies */
                long d1 = m > 1, d2 = m > 2 ? 2 : 0, d3 = m > 3 ? 3 : 0;  /* compute and store the same values */
                const REAL *a0 = a + r * lda, *a1 = a0 + d1 * lda, *a2 = a0 + d2 * lda, *a3 = a0 + d3 * lda;
                vec_DSUF *p0 = pv + r * NV, *p1 = p0 + d1 * NV, *p2 = p0 + d2 * NV, *p3 = p0 + d3 * NV;
                vec_DSUF c00 = {0}, c01 = {0}, c02 = {0}, c03 = {0}, c10 = {0}, c11 = {0}, c12 = {0}, c13 = {0},
                         c20 = {0}, c21 = {0}, c22 = {0}, c23 = {0}, c30 = {0}, c31 = {0}, c32 = {0}, c33 = {0};
                if (k0) {
                    c00 = p0[0]; c01 = p0[1]; c02 = p0[2]; c03 = p0[3]; c10 = p1[0]; c11 = p1[1]; c12 = p1[2];
                    c13 = p1[3]; c20 = p2[0]; c21 = p2[1]; c22 = p2[2]; c23 = p2[3]; c30 = p3[0]; c31 = p3[1];
                    c32 = p3[2]; c33 = p3[3];
                }
                for (long k = k0; k < k1; k++) {  /* named sums: compilers keep them in registers, arrays spill */
                    const vec_DSUF* w = blk + k * NV;
                    vec_DSUF w0 = w[0], w1 = w[1], w2 = w[2], w3 = w[3];
                    REAL s0 = a0[k], s1 = a1[k], s2 = a2[k], s3 = a3[k];
                    c00 += s0 * w0; c01 += s0 * w1; c02 += s0 * w2; c03 += s0 * w3;
                    c10 += s1 * w0; c11 += s1 * w1; c12 += s1 * w2; c13 += s1 * w3;
                    c20 += s2 * w0; c21 += s2 * w1; c22 += s2 * w2; c23 += s2 * w3;
                    c30 += s3 * w0; c31 += s3 * w1; c32 += s3 * w2; c33 += s3 * w3;
                }
                p3[0] = c30; p3[1] = c31; p3[2] = c32; p3[3] = c33; p2[0] = c20; p2[1] = c21; p2[2] = c22;
                p2[3] = c23; p1[0] = c10; p1[1] = c11; p1[2] = c12; p1[3] = c13; p0[0] = c00; p0[1] = c01;
                p0[2] = c02; p0[3] = c03;
            }
        }
        for (long i = 0; i < nr; i++)
            for (long c = 0; c < cw; c++) out[i * ldo + c0 + c] = part[i * CW + c];
    }
}
#undef KC

/* out[b] = x[b] + sum_j W[:, j] s[b, j] for rows b in [b0, b1), s binary (spikes), wp = W^T packed. Few spikes:
   event-driven, per column block the presynaptic j run in order, each row wp[blk][j] is loaded once and added
   to the partial sums acc[b] (in L1) of the rows where j spiked (scratch: lists nb x N, cnt N, acc nb x CW).
   Many spikes: the dense product (acc holds its partial sums). Same terms, same order, exact products: the
   same bits either way. */
static void recurrent_input_DSUF(const REAL* restrict x, const REAL* restrict s, const REAL* restrict wp,
                                 int* restrict lists, int* restrict cnt, REAL* restrict acc, REAL dense_frac,
                                 long N, long b0, long b1, REAL* restrict out) {
    long nb = b1 - b0, active = 0;
    for (long i = b0 * N; i < b1 * N; i++) active += s[i] != 0;
    if (active > dense_frac * (REAL)(nb * N)) {
        matmul_DSUF(s + b0 * N, N, wp, N, N, nb, out + b0 * N, N, acc);
        for (long i = b0 * N; i < b1 * N; i++) out[i] = x[i] + out[i];
        return;
    }
    for (long j = 0; j < N; j++) cnt[j] = 0;
    for (long b = b0; b < b1; b++) {
        const REAL* sb = s + b * N;
        for (long j = 0; j < N; j++)
            if (sb[j] != 0) lists[j * nb + cnt[j]++] = (int)(b - b0);
    }
    for (long c0 = 0; c0 < N; c0 += CW) {
        const vec_DSUF* blk = (const vec_DSUF*)(wp + c0 * N);
        long cw = N - c0 < CW ? N - c0 : CW;
        vec_DSUF* a = (vec_DSUF*)acc;
        for (long i = 0; i < nb * NV; i++) a[i] = (vec_DSUF){0};
        for (long j = 0; j < N; j++) {
            const int* lj = lists + j * nb;
            vec_DSUF w[NV];
            for (long v = 0; v < NV; v++) w[v] = blk[j * NV + v];
            for (int q = 0; q < cnt[j]; q++) {
                vec_DSUF* ab = a + lj[q] * NV;
                for (long v = 0; v < NV; v++) ab[v] += w[v];
            }
        }
        for (long b = b0; b < b1; b++)
            for (long c = 0; c < cw; c++)
                out[b * N + c0 + c] = x[b * N + c0 + c] + acc[(b - b0) * CW + c];
    }
}
#undef NV

/* The total input of step t >= 0 for rows [b0, b1): x0 (from the caller) at t = 0, else X[t], plus S[t-1] W^T
   with recurrence (wp), written to xin[t] when the backward keeps it, else to the one-step buffer xbuf. */
static const REAL* step_input_DSUF(long t, const REAL* x, const REAL* x0, const REAL* Sp, const REAL* wp,
                                   REAL* xin, REAL* xbuf, int* lists, int* cnt, REAL* acc, REAL dense_frac,
                                   long B, long N, long b0, long b1) {
    if (t == 0) return x0;
    if (!wp) return x + t * B * N;
    REAL* I = xin ? xin + t * B * N : xbuf;
    recurrent_input_DSUF(x + t * B * N, Sp, wp, lists, cnt, acc, dense_frac, N, b0, b1, I);
    return I;
}
"""

_LIF_FWD = r"""
void lif_fwd_SUF(const REAL* restrict x, const REAL* restrict x0, const REAL* restrict hp0,
                 const REAL* restrict sp0, const REAL* restrict beta, const REAL* restrict th, REAL vr,
                 const REAL* restrict wp, REAL* restrict xin, REAL* restrict xbuf, int* restrict lists,
                 int* restrict cnt, REAL* restrict acc, REAL dense_frac, long T, long B, long N, long b0, long b1,
                 REAL* restrict H, REAL* restrict S, long* restrict nonfinite) {
    long BN = B * N, bad = 0;
    for (long t = 0; t < T; t++) {
        const REAL* Hp = t ? H + (t - 1) * BN : hp0;
        const REAL* Sp = t ? S + (t - 1) * BN : sp0;
        const REAL* in = step_input_DSUF(t, x, x0, Sp, wp, xin, xbuf, lists, cnt, acc, dense_frac, B, N, b0, b1);
        for (long b = b0; b < b1; b++) {
            long o = b * N;
            REAL* Ht = H + t * BN + o;
            REAL* St = S + t * BN + o;
            for (long n = 0; n < N; n++) {
                REAL bt = beta[n], thr = th[n], k = (REAL)1 - bt;
                REAL h = RESET(Hp[o + n], Sp[o + n], thr) * bt + INPUT(in[o + n], k);
                Ht[n] = h;
                St[n] = h >= thr ? (REAL)1 : (REAL)0;
                bad += (h - h) != 0;  /* NaN or inf */
            }
        }
    }
    *nonfinite = bad;
}
"""

# Backward: gnext holds dL/dH[t+1] (in), dL/dH[0] (out); gx gets dL/dI. With wpb (W packed), each step first
# computes gR = gx[t+1] @ W, the gradient reaching the spikes S[t] through the next step's recurrent input.
_LIF_BWD = r"""
void lif_bwd_SUF(const REAL* restrict x, const REAL* restrict hp0, const REAL* restrict sp0,
                 const REAL* restrict zeros, const REAL* restrict beta, const REAL* restrict th, REAL vr,
                 int detach, REAL p, REAL c, long T, long B, long N, long b0, long b1,
                 const REAL* restrict H, const REAL* restrict S, const REAL* restrict gS, long gS_st, long gS_sb,
                 const REAL* restrict gH, const REAL* restrict wpb, REAL* restrict gR, REAL* restrict part,
                 int need_beta,
                 REAL* restrict gnext, REAL* restrict gx, REAL* restrict accb, REAL* restrict acct) {
    long BN = B * N;
    REAL keep = detach ? (REAL)0 : (REAL)1;
    for (long t = T - 1; t >= 0; t--) {
        int rec = wpb && t < T - 1;
        if (rec) matmul_DSUF(gx + (t + 1) * BN + b0 * N, N, wpb, N, N, b1 - b0, gR + b0 * N, N, part);
        for (long b = b0; b < b1; b++) {
            long o = t * BN + b * N;
            REAL* gn = gnext + b * N;
            const REAL* gSt = gS ? gS + t * gS_st + b * gS_sb : zeros;
            const REAL* gHt = gH ? gH + o : zeros;
            const REAL* gRt = rec ? gR + b * N : zeros;
            REAL* at = acct + b * N;
            for (long n = 0; n < N; n++) {
                REAL bt = beta[n], thr = th[n], k = (REAL)1 - bt;
                REAL h = H[o + n], s = h >= thr ? (REAL)1 : (REAL)0;  /* recomputed: one stream less to read */
                REAL gv = bt * gn[n];
                REAL z = h - thr;
                REAL sg = SURR(z);
                REAL gs = gSt[n] + gRt[n] + gv * keep * DVDS(h, thr);
                REAL gh = gHt[n] + gv * DVDH(s) + gs * sg;
                gx[o + n] = GX(gh, k);
                at[n] += -gs * sg - SOFT_TH(gv, s);
                gn[n] = gh;
            }
            if (need_beta) {  /* separate loop: reads x and the previous step only when tau is learned */
                const REAL* Hp = t ? H + o - BN : hp0 + b * N;
                const REAL* Sp = t ? S + o - BN : sp0 + b * N;
                for (long n = 0; n < N; n++)
                    accb[b * N + n] += gn[n] * (RESET(Hp[n], Sp[n], th[n]) - DHDB_INPUT(x[o + n]));
            }
        }
    }
}
"""

# Adaptive LIF (Bittar & Garner 2022):  W = bw Wp + a Hp + b Sp;  H = bt R(Hp, Sp) + (1 - bt)(I - W);  S = H >= th.
_ADLIF_FWD = r"""
void adlif_fwd_SUF(const REAL* restrict x, const REAL* restrict x0, const REAL* restrict hp0,
                   const REAL* restrict sp0, const REAL* restrict wp0, const REAL* restrict beta,
                   const REAL* restrict bw, const REAL* restrict aa, const REAL* restrict bb, const REAL* restrict th,
                   REAL vr, const REAL* restrict wp, REAL* restrict xin, REAL* restrict xbuf, int* restrict lists,
                   int* restrict cnt, REAL* restrict acc, REAL dense_frac, long T, long B, long N, long b0, long b1,
                   REAL* restrict H, REAL* restrict S, REAL* restrict Wa, long* restrict nonfinite) {
    long BN = B * N, bad = 0;
    for (long t = 0; t < T; t++) {
        const REAL* Hp = t ? H + (t - 1) * BN : hp0;
        const REAL* Sp = t ? S + (t - 1) * BN : sp0;
        const REAL* Wp = t ? Wa + (t - 1) * BN : wp0;
        const REAL* in = step_input_DSUF(t, x, x0, Sp, wp, xin, xbuf, lists, cnt, acc, dense_frac, B, N, b0, b1);
        for (long b = b0; b < b1; b++) {
            long o = b * N;
            REAL* Ht = H + t * BN + o;
            REAL* St = S + t * BN + o;
            REAL* Wt = Wa + t * BN + o;
            for (long n = 0; n < N; n++) {
                REAL bt = beta[n], thr = th[n], k = (REAL)1 - bt;
                REAL hp = Hp[o + n], sp = Sp[o + n];
                REAL w = bw[n] * Wp[o + n];
                w = w + aa[n] * hp;
                w = w + bb[n] * sp;
                REAL h = RESET(hp, sp, thr) * bt + (in[o + n] - w) * k;
                Wt[n] = w;
                Ht[n] = h;
                St[n] = h >= thr ? (REAL)1 : (REAL)0;
                bad += (h - h) != 0;
            }
        }
    }
    *nonfinite = bad;
}
"""

_ADLIF_BWD = r"""
void adlif_bwd_SUF(const REAL* restrict x, const REAL* restrict hp0, const REAL* restrict sp0,
                   const REAL* restrict wp0, const REAL* restrict zeros, const REAL* restrict beta,
                   const REAL* restrict bw, const REAL* restrict aa, const REAL* restrict bb,
                   const REAL* restrict th, REAL vr, int detach, REAL p, REAL c, long T, long B, long N,
                   long b0, long b1, const REAL* restrict H, const REAL* restrict S, const REAL* restrict Wa,
                   const REAL* restrict gS, long gS_st, long gS_sb, const REAL* restrict gH,
                   const REAL* restrict gW, const REAL* restrict wpb, REAL* restrict gR, REAL* restrict part,
                   int need_params,
                   REAL* restrict gnext, REAL* restrict gwnext, REAL* restrict gx, REAL* restrict acc_al,
                   REAL* restrict acc_bw, REAL* restrict acc_a, REAL* restrict acc_b, REAL* restrict acc_th) {
    long BN = B * N;
    REAL keep = detach ? (REAL)0 : (REAL)1;
    for (long t = T - 1; t >= 0; t--) {
        int rec = wpb && t < T - 1;
        if (rec) matmul_DSUF(gx + (t + 1) * BN + b0 * N, N, wpb, N, N, b1 - b0, gR + b0 * N, N, part);
        for (long b = b0; b < b1; b++) {
            long o = t * BN + b * N, r = b * N;
            const REAL* gSt = gS ? gS + t * gS_st + b * gS_sb : zeros;
            const REAL* gHt = gH ? gH + o : zeros;
            const REAL* gWt = gW ? gW + o : zeros;
            const REAL* gRt = rec ? gR + r : zeros;
            for (long n = 0; n < N; n++) {
                REAL bt = beta[n], thr = th[n], k = (REAL)1 - bt;
                REAL h = H[o + n], s = h >= thr ? (REAL)1 : (REAL)0;
                REAL gn = gnext[r + n], gwn = gwnext[r + n];
                REAL gv = bt * gn;
                REAL z = h - thr;
                REAL sg = SURR(z);
                REAL gs = gSt[n] + gRt[n] + gv * keep * DVDS(h, thr) + bb[n] * gwn;
                REAL gh = gHt[n] + gv * DVDH(s) + aa[n] * gwn + gs * sg;
                REAL gw = bw[n] * gwn - k * gh + gWt[n];
                gx[o + n] = k * gh;
                acc_th[r + n] += -gs * sg - SOFT_TH(gv, s);
                gnext[r + n] = gh;
                gwnext[r + n] = gw;
            }
            if (need_params) {  /* dH/dalpha = R(Hp, Sp) - I + W; dW/d(bw, a, b) = (Wp, Hp, Sp) */
                const REAL* Hp = t ? H + o - BN : hp0 + r;
                const REAL* Sp = t ? S + o - BN : sp0 + r;
                const REAL* Wp = t ? Wa + o - BN : wp0 + r;
                for (long n = 0; n < N; n++) {
                    REAL gh = gnext[r + n], gw = gwnext[r + n];
                    acc_al[r + n] += gh * (RESET(Hp[n], Sp[n], th[n]) - x[o + n] + Wa[o + n]);
                    acc_bw[r + n] += gw * Wp[n];
                    acc_a[r + n] += gw * Hp[n];
                    acc_b[r + n] += gw * Sp[n];
                }
            }
        }
    }
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
_SURROGATE_PARAM = {"atan": "alpha", "fast_sigmoid": "slope", "sigmoid": "alpha", "triangle": "width",
                    "gaussian": "sigma"}
_TYPES = {torch.float32: ("float", "f32", ctypes.c_float), torch.float64: ("double", "f64", ctypes.c_double)}
_FLAGS = ["-O3", "-march=native", "-shared", "-fPIC", "-std=c99", "-ffp-contract=off", "-fno-math-errno"]


def _macros(soft: bool, decay_input: bool) -> dict[str, tuple[str, str]]:
    return {
        "RESET": ("(a, b, c_)", "(a - c_ * b)" if soft else "(b > 0 ? vr : a)"),
        "INPUT": ("(a, k_)", "((a + vr) * k_)" if decay_input else "(a + k_ * vr)"),
        "DVDS": ("(a, c_)", "(-c_)" if soft else "(vr - a)"),
        "DVDH": ("(a)", "((REAL)1)" if soft else "((REAL)1 - a)"),
        "GX": ("(a, k_)", "(a * k_)" if decay_input else "(a)"),
        "DHDB_INPUT": ("(a)", "(a + vr)" if decay_input else "(vr)"),
        "SOFT_TH": ("(a, b)", "(a * b)" if soft else "((REAL)0)"),
    }


def _types_head(real: str, dsuf: str) -> tuple[str, str]:
    fl = real == "float"
    head = (f"#define REAL {real}\n#define FABS {'fabsf' if fl else 'fabs'}\n#define EXP {'expf' if fl else 'exp'}\n"
            f"#define CW {64 if fl else 32}\n")
    return head, "#undef REAL\n#undef FABS\n#undef EXP\n#undef CW\n"


# Fused multiply-add in the dense product only (GCC: per-function option; Clang: a pragma in the body).
_HEADER = r"""#include <math.h>
#if defined(__clang__)
#define FMA_FN
#define FMA_PRAGMA _Pragma("clang fp contract(fast)")
#elif defined(__GNUC__)
#define FMA_FN __attribute__((optimize("fp-contract=fast")))
#define FMA_PRAGMA
#else
#define FMA_FN
#define FMA_PRAGMA
#endif
"""


def _variant(template: str, name: str, dsuf: str, soft: bool, decay_input: bool, surr: str | None) -> str:
    macros = _macros(soft, decay_input)
    head = "".join(f"#define {m}{args} {body}\n" for m, (args, body) in macros.items())
    if surr is not None:
        head += f"#define SURR(z) {_SURR_C[surr]}\n"
    body = template.replace("_SUF", "_" + name).replace("_DSUF", "_" + dsuf)
    return head + body + "".join(f"#undef {m}\n" for m in [*macros, "SURR"])


def _name(kind: str, dsuf: str, soft: bool, decay_input: bool | None = None, surr: str | None = None) -> str:
    """C symbol of one specialisation, e.g. ``lif_bwd_f32_hard_di_atan`` or ``adlif_fwd_f64_soft``."""
    parts = [kind, dsuf, "soft" if soft else "hard"]
    if decay_input is not None:
        parts.append("di" if decay_input else "nodi")
    return "_".join(parts + ([surr] if surr else []))


def _specialisations():
    """``(template, symbol, dsuf, soft, decay_input, surrogate)`` for every function in the library."""
    for _, dsuf, _ in _TYPES.values():
        for soft in (False, True):
            for di in (False, True):
                yield _LIF_FWD, _name("lif_fwd", dsuf, soft, di), dsuf, soft, di, None
                for surr in _SURR_C:
                    yield _LIF_BWD, _name("lif_bwd", dsuf, soft, di, surr), dsuf, soft, di, surr
            yield _ADLIF_FWD, _name("adlif_fwd", dsuf, soft), dsuf, soft, True, None
            for surr in _SURR_C:
                yield _ADLIF_BWD, _name("adlif_bwd", dsuf, soft, None, surr), dsuf, soft, True, surr


def _source() -> str:
    parts = [_HEADER]
    for real, dsuf, _ in _TYPES.values():
        head, tail = _types_head(real, dsuf)
        parts.append(head + _PRODUCTS.replace("_DSUF", "_" + dsuf) + tail)
        for template, sym, d, soft, di, surr in _specialisations():
            if d == dsuf:
                parts.append(head + _variant(template, sym.split("_", 2)[2], dsuf, soft, di, surr) + tail)
    return "\n".join(parts)


# ctypes signatures: P pointer, L long, I int, R the float type.
_SIGNATURES = {
    "lif_fwd": "PPPPPPRPPPPPPRLLLLLPPP",
    "lif_bwd": "PPPPPPRIRRLLLLLPPPLLPPPPIPPPP",
    "adlif_fwd": "PPPPPPPPPPRPPPPPPRLLLLLPPPP",
    "adlif_bwd": "PPPPPPPPPPRIRRLLLLLPPPPLLPPPPPIPPPPPPPP",
}

_lock = threading.Lock()
_lib = None
_failed = False
_pool: ThreadPoolExecutor | None = None


def _declare(lib: ctypes.CDLL) -> None:
    for _, sym, dsuf, _, _, _ in _specialisations():
        creal = next(c for _, d, c in _TYPES.values() if d == dsuf)
        codes = {"P": ctypes.c_void_p, "L": ctypes.c_long, "I": ctypes.c_int, "R": creal}
        kind = "_".join(sym.split("_", 2)[:2])
        getattr(lib, sym).argtypes = [codes[ch] for ch in _SIGNATURES[kind]]


def library():
    """The compiled kernel library (built on first use), or None when it cannot be built (warned once)."""
    global _lib, _failed
    if _lib is not None or _failed:
        return _lib
    with _lock:
        if _lib is None and not _failed:
            lib = build_library("neurons", _source(), _FLAGS)
            if lib is None:
                _failed = True
            else:
                _declare(lib)
                _lib = lib
    return _lib


def supports(x: torch.Tensor, surrogate) -> bool:
    """True when the compiled kernels can run this call (CPU, float32/64, a built-in surrogate)."""
    from spikerec.neurons import surrogate as surrogates

    return (x.device.type == "cpu" and x.dtype in _TYPES and type(surrogate) in surrogates.BUILTIN
            and library() is not None)


def _run_rows(fn, B: int, elements: int) -> None:
    """Call ``fn(b0, b1)`` over batch-row chunks on up to ``torch.get_num_threads()`` threads (GIL released
    in C); small calls (under ~64K elements per thread) stay on the calling thread."""
    global _pool
    n = max(1, min(torch.get_num_threads(), B, elements // 65536))
    if n == 1:
        fn(0, B)
        return
    if _pool is None or _pool._max_workers < n:
        _pool = ThreadPoolExecutor(max_workers=n, thread_name_prefix="spikerec-kernel")
    bounds = [B * i // n for i in range(n + 1)]
    futures = [_pool.submit(fn, bounds[i], bounds[i + 1]) for i in range(1, n)]
    fn(bounds[0], bounds[1])
    for f in futures:
        f.result()


def _ptr(t: torch.Tensor | None):
    return None if t is None else t.data_ptr()


def _per_neuron(t: torch.Tensor, N: int, dtype: torch.dtype) -> torch.Tensor:
    """``[N]`` contiguous in ``dtype``: the C code reads every buffer with the element type of the input."""
    return t.detach().to(dtype).expand(N).contiguous()


def _state(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """A ``[B, N]`` state contiguous in ``dtype`` (a float32 state with float64 input must be cast first)."""
    return t.detach().to(dtype).contiguous()


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


def _fn(kind: str, dtype: torch.dtype, soft: bool, decay_input: bool | None = None, surrogate=None):
    dsuf = _TYPES[dtype][1]
    return getattr(library(), _name(kind, dsuf, soft, decay_input, surrogate.name if surrogate else None))


def _surrogate_args(cfg, creal):
    sur = cfg.surrogate
    return creal(getattr(sur, _SURROGATE_PARAM[sur.name])), creal(sur.scale)


def _pack(m: torch.Tensor) -> torch.Tensor:
    """``m`` ``[K, N]`` packed in column blocks for the C products: ``P[blk, k, c] = m[k, blk*CW + c]``."""
    K, N = m.shape
    cw = 64 if m.dtype == torch.float32 else 32  # CW in the C source: 256 bytes
    n_blk = -(-N // cw)
    padded = torch.zeros(K, n_blk * cw, dtype=m.dtype)
    padded[:, :N] = m
    return padded.reshape(K, n_blk, cw).transpose(0, 1).contiguous()


class _Recurrence:
    """Inputs of the forward's recurrent input for ``x`` ``[T, B, N]`` and ``weight`` ``[N, N]`` (or none).

    ``x0`` is the first step's total input ``X[0] + s0 @ W^T`` (``s0`` may be any state, not only spikes; the
    same ``torch.mm`` as the torch path, so step 0 agrees bitwise), ``xin`` the total input of every step when
    the backward needs it; ``pointers(b0)`` the packed ``W^T`` and the work areas of the thread owning row b0."""

    def __init__(self, x: torch.Tensor, s0: torch.Tensor | None, weight: torch.Tensor | None, save_input: bool):
        T, B, N = x.shape
        self.packed = self.xin = self.xbuf = None
        self.x0 = x[0]
        if weight is None:
            return
        w = weight.detach().to(x.dtype)
        if s0 is not None:
            self.x0 = torch.mm(_state(s0, x.dtype), w.t()).add_(x[0])
        self.packed = _pack(w.t())
        if save_input:
            self.xin = torch.empty_like(x)
            self.xin[0] = self.x0
        else:
            self.xbuf = torch.empty_like(x[0])
        self._lists = torch.empty(B, N, dtype=torch.int32)
        self._cnt = torch.empty(B, N, dtype=torch.int32)
        self._acc = torch.empty(B, self.packed.shape[2], dtype=x.dtype)

    def pointers(self, b0: int, creal):
        """``(packed, xin, xbuf, lists, cnt, acc, dense_fraction)`` for the thread that owns rows from ``b0``."""
        if self.packed is None:
            return None, None, None, None, None, None, creal(DENSE_FRACTION)
        return (self.packed.data_ptr(), _ptr(self.xin), _ptr(self.xbuf), self._lists[b0].data_ptr(),
                self._cnt[b0].data_ptr(), self._acc[b0].data_ptr(), creal(DENSE_FRACTION))


def lif_forward(x, v0, s0, beta, threshold, cfg, weight=None, save_input: bool = False):
    """Fused LIF forward over ``x`` ``[T, B, N]``; ``weight`` ``[N, N]`` adds ``S[t-1] @ weight^T`` (``s0``
    before the first step). Returns ``(S, H, I, n_nonfinite)``: ``I`` the total input ``X + S[t-1] W^T``
    when ``weight`` is given and ``save_input`` (else None), ``n_nonfinite`` counts NaN/inf membranes."""
    T, B, N = x.shape
    creal = _TYPES[x.dtype][2]
    x, v0 = x.contiguous(), _state(v0, x.dtype)
    rec = _Recurrence(x, s0, weight, save_input)
    zeros = torch.zeros_like(v0)  # v0 is the membrane after reset: no spike resets it again
    beta_c, th_c = _per_neuron(beta, N, x.dtype), _per_neuron(threshold, N, x.dtype)
    H, S = torch.empty_like(x), torch.empty_like(x)
    bad = torch.zeros(B, dtype=torch.long)
    fn = _fn("lif_fwd", x.dtype, cfg.reset == "soft", cfg.decay_input)

    def rows(b0, b1):
        fn(x.data_ptr(), rec.x0.data_ptr(), v0.data_ptr(), zeros.data_ptr(), beta_c.data_ptr(), th_c.data_ptr(),
           creal(cfg.v_reset), *rec.pointers(b0, creal), T, B, N, b0, b1, H.data_ptr(), S.data_ptr(),
           bad[b0:].data_ptr())

    _run_rows(rows, B, _work(T, B, N, weight))
    return S, H, rec.xin, int(bad.sum())


def _work(T: int, B: int, N: int, weight) -> int:
    """Rough size of a call (element updates, or multiply-adds/16 with recurrence), to choose the thread count."""
    return T * B * N * (1 if weight is None else 1 + N // 16)


class _BackwardRecurrence:
    """For the backward's per-step ``gx[t+1] @ W``: ``W`` packed, the product ``gR`` ``[B, N]`` and the partial
    sums ``[B, CW]`` (each thread uses the rows it owns); all None without recurrence."""

    def __init__(self, weight, like: torch.Tensor):
        self.packed = self.gR = self.part = None
        if weight is not None:
            self.packed = _pack(weight.detach().to(like.dtype))
            self.gR = torch.empty_like(like)
            self.part = torch.empty(like.shape[0], self.packed.shape[2], dtype=like.dtype)

    def pointers(self, b0: int):
        if self.packed is None:
            return None, None, None
        return self.packed.data_ptr(), self.gR.data_ptr(), self.part[b0].data_ptr()


def lif_backward(x, v0, beta, threshold, H, S, gS, gH, cfg, need_beta: bool, weight=None):
    """Fused LIF backward; ``x`` is the total input (``I`` of :func:`lif_forward` with recurrence; read only
    for the decay gradient). Returns ``(gI, gH0, gbeta [B, N] or None, gth [B, N])``: ``gI = dL/dI``
    ``[T, B, N]``, ``gH0 = dL/dH[0]`` ``[B, N]``; sum the per-row accumulators over B."""
    T, B, N = H.shape
    creal = _TYPES[H.dtype][2]
    gS, gS_st, gS_sb = _rows(gS, N)
    gH = None if gH is None else gH.contiguous()
    x, v0 = x.contiguous(), _state(v0, H.dtype)
    sp0 = torch.zeros_like(v0)
    beta_c, th_c = _per_neuron(beta, N, H.dtype), _per_neuron(threshold, N, H.dtype)
    zeros = torch.zeros(N, dtype=H.dtype)
    rec = _BackwardRecurrence(weight, v0)
    gx = torch.empty_like(H)
    gnext = torch.zeros_like(H[0])
    accb = torch.zeros_like(H[0]) if need_beta else None
    acct = torch.zeros_like(H[0])  # accumulated even when unused: keeps the hot loop branch-free
    fn = _fn("lif_bwd", H.dtype, cfg.reset == "soft", cfg.decay_input, cfg.surrogate)
    p, c = _surrogate_args(cfg, creal)

    def rows(b0, b1):
        fn(x.data_ptr(), v0.data_ptr(), sp0.data_ptr(), zeros.data_ptr(), beta_c.data_ptr(), th_c.data_ptr(),
           creal(cfg.v_reset), int(cfg.detach_reset), p, c, T, B, N, b0, b1, H.data_ptr(), S.data_ptr(), _ptr(gS),
           gS_st, gS_sb, _ptr(gH), *rec.pointers(b0), int(need_beta), gnext.data_ptr(), gx.data_ptr(), _ptr(accb),
           acct.data_ptr())

    _run_rows(rows, B, _work(T, B, N, weight))
    return gx, gnext, accb, acct


def adlif_forward(x, h0, s0, w0, beta, beta_w, a, b, threshold, cfg, weight=None, save_input: bool = False):
    """Fused adaptive-LIF forward over ``x`` ``[T, B, N]`` from the state ``(h0, s0, w0)`` ``[B, N]``.
    Returns ``(S, H, Wa, I, n_nonfinite)`` (``I`` as in :func:`lif_forward`)."""
    T, B, N = x.shape
    creal = _TYPES[x.dtype][2]
    x = x.contiguous()
    h0, s0, w0 = (_state(t, x.dtype) for t in (h0, s0, w0))
    rec = _Recurrence(x, s0, weight, save_input)
    bt, bw, aa, bb, th = (_per_neuron(t, N, x.dtype) for t in (beta, beta_w, a, b, threshold))
    H, S, Wa = torch.empty_like(x), torch.empty_like(x), torch.empty_like(x)
    bad = torch.zeros(B, dtype=torch.long)
    fn = _fn("adlif_fwd", x.dtype, cfg.reset == "soft")

    def rows(b0, b1):
        fn(x.data_ptr(), rec.x0.data_ptr(), h0.data_ptr(), s0.data_ptr(), w0.data_ptr(), bt.data_ptr(),
           bw.data_ptr(), aa.data_ptr(), bb.data_ptr(), th.data_ptr(), creal(cfg.v_reset), *rec.pointers(b0, creal),
           T, B, N, b0, b1, H.data_ptr(), S.data_ptr(), Wa.data_ptr(), bad[b0:].data_ptr())

    _run_rows(rows, B, _work(T, B, N, weight))
    return S, H, Wa, rec.xin, int(bad.sum())


def adlif_backward(x, h0, s0, w0, beta, beta_w, a, b, threshold, H, S, Wa, gS, gH, gWa, cfg, need_params: bool,
                   weight=None):
    """Fused adaptive-LIF backward; ``x`` is the total input (read only for the parameter gradients).
    Returns ``(gI, gH0, gW0, acc)``: ``gI = dL/dI`` ``[T, B, N]``, ``gH0``/``gW0`` the adjoints of ``H[0]`` and
    ``W[0]`` ``[B, N]``, ``acc`` per-row ``[B, N]`` accumulators ``{"beta", "beta_w", "a", "b"}`` (when
    ``need_params``) and ``"th"``; sum them over B."""
    T, B, N = H.shape
    creal = _TYPES[H.dtype][2]
    gS, gS_st, gS_sb = _rows(gS, N)
    gH = None if gH is None else gH.contiguous()
    gWa = None if gWa is None else gWa.contiguous()
    x = x.contiguous()
    h0, s0, w0 = (_state(t, H.dtype) for t in (h0, s0, w0))
    bt, bw, aa, bb, th = (_per_neuron(t, N, H.dtype) for t in (beta, beta_w, a, b, threshold))
    zeros = torch.zeros(N, dtype=H.dtype)
    rec = _BackwardRecurrence(weight, h0)
    gx = torch.empty_like(H)
    gnext, gwnext = torch.zeros_like(H[0]), torch.zeros_like(H[0])
    names = ("beta", "beta_w", "a", "b") if need_params else ()
    acc = {name: torch.zeros_like(H[0]) for name in (*names, "th")}
    fn = _fn("adlif_bwd", H.dtype, cfg.reset == "soft", None, cfg.surrogate)
    p, c = _surrogate_args(cfg, creal)

    def rows(b0, b1):
        fn(x.data_ptr(), h0.data_ptr(), s0.data_ptr(), w0.data_ptr(), zeros.data_ptr(), bt.data_ptr(), bw.data_ptr(),
           aa.data_ptr(), bb.data_ptr(), th.data_ptr(), creal(cfg.v_reset), int(cfg.detach_reset), p, c, T, B, N,
           b0, b1, H.data_ptr(), S.data_ptr(), Wa.data_ptr(), _ptr(gS), gS_st, gS_sb, _ptr(gH), _ptr(gWa),
           *rec.pointers(b0), int(need_params), gnext.data_ptr(), gwnext.data_ptr(), gx.data_ptr(),
           *(_ptr(acc.get(k)) for k in ("beta", "beta_w", "a", "b")), acc["th"].data_ptr())

    _run_rows(rows, B, _work(T, B, N, weight))
    return gx, gnext, gwnext, acc
