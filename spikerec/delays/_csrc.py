"""C source of the compiled delay kernels (built and cached by ``spikerec.kernel_cache``).

Every product here is "output-stationary": a block of outputs stays in vector registers while
the inputs that reach it are summed in, so each multiply-add costs one load (the original scatter
loops paid two loads and a store). Blocks are 16 floats wide (``v16``, a GCC/Clang vector type:
one AVX-512 register, two AVX2 registers elsewhere) and operands are copied into small padded
tiles that stay in the L1 cache while they are reused.

Layouts (float32, C-contiguous): x, y [T, B, Cin|Cout] time-major; ``kall`` [Cin, K, Cout] with
``kall[i, d, o]`` the weight of input ``i`` delayed by ``d`` steps onto output ``o``.
Functions take a ``[start, stop)`` range of the dimension their caller splits across threads and
return 0, or -1 when scratch memory cannot be allocated.
"""

SOURCE = r"""
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __AVX512F__
#include <immintrin.h>
#endif

typedef float v16 __attribute__((vector_size(64), aligned(4)));  /* 16 floats at any 4-byte alignment */
#define VLOAD(p) (*(const v16 *)(p))
#define VSTORE(p, v) (*(v16 *)(p) = (v))
#define VB 16                  /* floats per block */
#define FWD_ROWS 8             /* output time steps a forward register tile holds */
#define TILE_BYTES 24576       /* operand tile kept in L1 (of 32-48 KB) */

static long lmin(long a, long b) { return a < b ? a : b; }
/* 64-byte aligned scratch (free() releases it): tile rows then never straddle two cache lines */
static void *amalloc(size_t bytes) {
    void *p = NULL;
    return posix_memalign(&p, 64, bytes ? bytes : 64) ? NULL : p;
}
static long lmax(long a, long b) { return a > b ? a : b; }

/* Indices of the non-zero entries of xr[0 .. n) into idx (ascending); returns their number. With
 * AVX-512: 16 compares, one mask and one compress-store per 16 entries; otherwise a branch-free loop. */
static long row_nonzeros(const float *xr, long n, int *idx) {
    long count = 0, i = 0;
#ifdef __AVX512F__
    const __m512 zero = _mm512_setzero_ps();
    __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    const __m512i step = _mm512_set1_epi32(16);
    for (; i + 16 <= n; i += 16) {
        const __mmask16 m = _mm512_cmp_ps_mask(_mm512_loadu_ps(xr + i), zero, _CMP_NEQ_UQ);
        _mm512_mask_compressstoreu_epi32(idx + count, m, lane);
        count += __builtin_popcount((unsigned)m);
        lane = _mm512_add_epi32(lane, step);
    }
#endif
    for (; i < n; i++) {
        idx[count] = (int)i;
        count += xr[i] != 0.0f;
    }
    return count;
}

/* number of non-zero entries of x[0 .. n) (decides between the event-driven and the dense products) */
long dl_count_nonzero(const float *x, long n) {
    long count = 0;
#ifdef __AVX512F__
    const __m512 zero = _mm512_setzero_ps();
    for (; n >= 16; n -= 16, x += 16)
        count += __builtin_popcount((unsigned)_mm512_cmp_ps_mask(_mm512_loadu_ps(x), zero, _CMP_NEQ_UQ));
#endif
    for (long i = 0; i < n; i++) count += x[i] != 0.0f;
    return count;
}

/* Spike lists (CSR): every non-zero x[t, b, i] with b0 <= b < b1, i0 <= i < i1 goes to list
 * kc[i - i0] + kr[b - b0] + kt t as the entry (offset oc[i - i0] + orow[b - b0] + ot t, value x).
 * Within a list, entries are in (b, t, i) order. Returns 0, or -1 when memory runs out. */
typedef struct { long *ptr; int *off; float *val; } spike_lists;

static void free_spike_lists(spike_lists *s) { free(s->ptr); free(s->off); free(s->val); }

static int bucket_spikes(const float *x, long T, long B, long Cin, long b0, long b1, long i0, long i1,
                         const long *kc, const long *kr, long kt, const int *oc, const int *orow, int ot,
                         long nkey, spike_lists *s) {
    const long ni = i1 - i0;
    int *nz = malloc((ni + 1) * sizeof(int));
    long *cur = NULL;
    s->ptr = calloc(nkey + 1, sizeof(long));
    s->off = NULL; s->val = NULL;
    if (!nz || !s->ptr) goto fail;
    for (long b = b0; b < b1; b++)  /* count, prefix sum, fill */
        for (long t = 0; t < T; t++) {
            long *p = s->ptr + 1 + kr[b - b0] + kt * t;
            const long n = row_nonzeros(x + (t * B + b) * Cin + i0, ni, nz);
            for (long j = 0; j < n; j++) p[kc[nz[j]]]++;
        }
    for (long k = 0; k < nkey; k++) s->ptr[k + 1] += s->ptr[k];
    s->off = malloc((s->ptr[nkey] + 1) * sizeof(int));
    s->val = malloc((s->ptr[nkey] + 1) * sizeof(float));
    cur = malloc((nkey + 1) * sizeof(long));
    if (!s->off || !s->val || !cur) goto fail;
    memcpy(cur, s->ptr, nkey * sizeof(long));
    for (long b = b0; b < b1; b++)
        for (long t = 0; t < T; t++) {
            const float *xr = x + (t * B + b) * Cin + i0;
            long *c = cur + kr[b - b0] + kt * t;
            const int o = orow[b - b0] + ot * (int)t;
            const long n = row_nonzeros(xr, ni, nz);
            for (long j = 0; j < n; j++) {
                const long e = c[kc[nz[j]]]++;
                s->off[e] = oc[nz[j]] + o;
                s->val[e] = xr[nz[j]];
            }
        }
    free(nz); free(cur);
    return 0;
fail:
    free(nz); free(cur); free_spike_lists(s);
    return -1;
}

/* ---- kernel construction (DCLS): kall[i, K-1-k, o] = sum_c W[o,i,c] g_k(P[o,i,c]) ----
 * g_k = e_k / (sum_j e_j + 1e-7) over the `window` taps nearest the centre c = P + K/2, with
 * gauss: e_k = exp(-((k - c) / std)^2 / 2), linear: e_k = max(0, 1 - |k - c|); computed in double.
 * Threads split the input channels [i0, i1). */
#define NORM_EPS 1e-7
#define TINY 1e-30  /* smaller entries would be float32 denormals (slow to multiply) and change nothing */

static long first_tap(double centre, int gauss, long window, long K) {
    if (window >= K) return 0;
    double start = gauss ? nearbyint(centre) - (double)(window / 2) : floor(centre);  /* half to even */
    return (long)fmin(fmax(start, 0.0), (double)(K - window));
}

/* e[j] = unnormalised weight of tap k0 + j. Gaussian taps use exp(-(u+1)^2/2s^2) = exp(-u^2/2s^2)
 * exp(-(2u+1)/2s^2), whose second factor shrinks by exp(-1/s^2) per tap: four exp calls per
 * position instead of one per tap, walking outwards from the tap nearest the centre. */
static void taps(double centre, long k0, double std, int gauss, long window, double *e) {
    if (!gauss) {
        for (long j = 0; j < window; j++) e[j] = fmax(0.0, 1.0 - fabs((double)(k0 + j) - centre));
        return;
    }
    const double inv = 1.0 / (2.0 * std * std), q = exp(-2.0 * inv);
    const long m = (long)fmin(fmax(nearbyint(centre), (double)k0), (double)(k0 + window - 1)) - k0;
    const double u = (double)(k0 + m) - centre;
    e[m] = exp(-u * u * inv);
    double r = exp(-(2.0 * u + 1.0) * inv);
    for (long j = m + 1; j < window; j++) { e[j] = e[j - 1] * r; r *= q; }
    r = exp(-(1.0 - 2.0 * u) * inv);
    for (long j = m - 1; j >= 0; j--) { e[j] = e[j + 1] * r; r *= q; }
}

/* d e / d centre, with u = k - centre */
static double tap_dc(double u, double e, double std, int gauss) {
    if (gauss) return e * u / (std * std);
    return (fabs(u) < 1.0 && u != 0.0) ? (u > 0 ? 1.0 : -1.0) : 0.0;
}

int dl_build_kernel(const float *w, const float *p, long Cout, long Cin, long kc, long K, double std, int gauss,
                    long window, float *kall, long i0, long i1) {
    double *e = malloc(window * sizeof(double));
    if (!e) return -1;
    for (long i = i0; i < i1; i++) {
        float *ki = kall + i * K * Cout;
        memset(ki, 0, K * Cout * sizeof(float));
        for (long o = 0; o < Cout; o++)
            for (long c = 0; c < kc; c++) {
                const long s = (o * Cin + i) * kc + c;
                const double centre = (double)p[s] + (double)(K / 2);
                const long k0 = first_tap(centre, gauss, window, K);
                taps(centre, k0, std, gauss, window, e);
                double total = 0.0;
                for (long j = 0; j < window; j++) total += e[j];
                const double scale = (double)w[s] / (total + NORM_EPS);
                for (long j = 0; j < window; j++) {
                    const double value = e[j] * scale;
                    if (fabs(value) > TINY) ki[(K - 1 - (k0 + j)) * Cout + o] += value;
                }
            }
    }
    free(e);
    return 0;
}

/* Gradients of dl_build_kernel (gw, gp [Cout, Cin, kc] overwritten for channels [i0, i1)). With
 * u_k = k - c, e_k' = de_k/dc, S = sum e + 1e-7 and G_k = dL/dkall[i, K-1-k, o]:
 * dL/dW = sum_k G_k e_k / S;  dL/dP = W (sum_k G_k e_k' / S - (sum_k G_k e_k)(sum_k e_k') / S^2). */
int dl_build_kernel_grad(const float *w, const float *p, long Cout, long Cin, long kc, long K, double std,
                         int gauss, long window, const float *gkall, float *gw, float *gp, long i0, long i1) {
    double *e = malloc(window * sizeof(double));
    if (!e) return -1;
    for (long i = i0; i < i1; i++) {
        const float *gi = gkall + i * K * Cout;
        for (long o = 0; o < Cout; o++)
            for (long c = 0; c < kc; c++) {
                const long s = (o * Cin + i) * kc + c;
                const double centre = (double)p[s] + (double)(K / 2);
                const long k0 = first_tap(centre, gauss, window, K);
                taps(centre, k0, std, gauss, window, e);
                double total = 0.0, ge = 0.0, gde = 0.0, de_sum = 0.0;
                for (long j = 0; j < window; j++) {
                    const double de = tap_dc((double)(k0 + j) - centre, e[j], std, gauss);
                    const double g = gi[(K - 1 - (k0 + j)) * Cout + o];
                    total += e[j]; ge += g * e[j]; gde += g * de; de_sum += de;
                }
                const double sum = total + NORM_EPS;
                gw[s] = (float)(ge / sum);
                gp[s] = (float)((double)w[s] * (gde / sum - ge * de_sum / (sum * sum)));
            }
    }
    free(e);
    return 0;
}

/* ---- event-driven forward: y[t, b, o] = sum_{i, d} kall[i, d, o] x[t - d, b, i] over non-zero x ----
 * Output tile: FWD_ROWS steps x 16 outputs in registers. Inputs are split into groups of `ic`
 * channels whose kernel rows, zero-padded by FWD_ROWS - 1 rows on each side (so a spike needs no
 * bounds test), form an L1 tile [ic][kp][16]. Spikes are listed by (group, batch row, step); the
 * spikes reaching one output tile are then one contiguous run of the list, each entry holding the
 * tile offset of its channel minus its step. Loop order: output block, channel group, batch, time;
 * partial sums of earlier groups wait in `part` [nb][tr][16]. Threads split the batch [b0, b1). */
int dl_forward(const float *x, const float *kall, float *y, long T, long B, long Cin, long K, long Cout,
               long b0, long b1) {
    const long R = FWD_ROWS, kp = K + 2 * (R - 1), nb = b1 - b0, tr = (T + R - 1) / R * R;
    const long ic = lmin(Cin, lmax(1, TILE_BYTES / (kp * VB * (long)sizeof(float))));
    const long ng = (Cin + ic - 1) / ic, nkey = ng * nb * T;
    if (nb <= 0) return 0;
    spike_lists sl = {NULL, NULL, NULL};
    long *kc = malloc(Cin * sizeof(long)), *kr = malloc(nb * sizeof(long));
    int *oc = malloc(Cin * sizeof(int)), *orow = calloc(nb, sizeof(int));
    float *tile = amalloc(ic * kp * VB * sizeof(float));
    float *part = ng > 1 ? amalloc(nb * tr * VB * sizeof(float)) : NULL;
    int status = -1;
    if (!kc || !kr || !oc || !orow || !tile || (ng > 1 && !part)) goto done;
    for (long i = 0; i < Cin; i++) {
        kc[i] = (i / ic) * nb * T;          /* lists keyed (channel group, batch row, step) */
        oc[i] = (int)((i % ic) * kp * VB);  /* entry: tile offset of the channel minus the step's */
    }
    for (long bl = 0; bl < nb; bl++) kr[bl] = bl * T;
    if (bucket_spikes(x, T, B, Cin, b0, b1, 0, Cin, kc, kr, 1, oc, orow, -VB, nkey, &sl)) goto done;
    const long *ptr = sl.ptr;
    const int *off = sl.off;
    const float *val = sl.val;
    for (long o0 = 0; o0 < Cout; o0 += VB) {
        const long m = lmin(VB, Cout - o0);
        for (long g = 0; g < ng; g++) {
            /* tile[il][R - 1 + d][:] = kall[g * ic + il, d, o0 : o0 + m], zero elsewhere */
            memset(tile, 0, ic * kp * VB * sizeof(float));
            for (long il = 0; il < ic && g * ic + il < Cin; il++)
                for (long d = 0; d < K; d++)
                    memcpy(tile + (il * kp + R - 1 + d) * VB, kall + ((g * ic + il) * K + d) * Cout + o0,
                           m * sizeof(float));
            const int last = g == ng - 1;
            for (long b = b0; b < b1; b++) {
                const long *pb = ptr + (g * nb + (b - b0)) * T;
                float *pp = part ? part + (b - b0) * tr * VB : NULL;
                for (long t0 = 0; t0 < T; t0 += R) {
                    v16 a[FWD_ROWS];
                    for (int r = 0; r < FWD_ROWS; r++) a[r] = g ? VLOAD(pp + (t0 + r) * VB) : (v16){0};
                    /* spikes at steps t0 - K + 1 .. t0 + R - 1; a spike at s adds kernel row t0 + r - s to step t0 + r */
                    const float *kt = tile + (t0 + R - 1) * VB;
                    const long e1 = pb[lmin(T, t0 + R)];
                    for (long e = pb[lmax(0, t0 - K + 1)]; e < e1; e++) {
                        const float *kr = kt + off[e];
                        const float v = val[e];
                        for (int r = 0; r < FWD_ROWS; r++) a[r] += v * VLOAD(kr + r * VB);
                    }
                    if (!last) {
                        for (int r = 0; r < FWD_ROWS; r++) VSTORE(pp + (t0 + r) * VB, a[r]);
                    } else {
                        for (int r = 0; r < FWD_ROWS && t0 + r < T; r++) {
                            float *yr = y + ((t0 + r) * B + b) * Cout + o0;
                            if (m == VB) VSTORE(yr, a[r]);
                            else for (long o = 0; o < m; o++) yr[o] = a[r][o];
                        }
                    }
                }
            }
        }
    }
    status = 0;
done:
    free_spike_lists(&sl); free(kc); free(kr); free(oc); free(orow); free(tile); free(part);
    return status;
}

/* ---- event-driven kernel gradient: gk[i, d, o] = sum_{t, b} x[t, b, i] gy[t + d, b, o] over non-zero x ----
 * Register tile: R delays x 16 outputs of one input channel (R = ceil(K / ceil(K / 16)), so every
 * K up to 16 is one tile). gy is copied per (output block, group of `nbt` batch rows) into an L1
 * tile [nbt][tg][16] padded with zero steps so t + d never needs a bounds test; partial sums of
 * earlier batch groups are re-read from gk. Threads split the input channels [i0, i1). gk is
 * [Cin][K][c16] with c16 = Cout rounded up to 16. */
#define KGRAD_TILE(RR)                                                                                   \
static void kgrad_tile_##RR(const float *gt, const long *pb, const int *off, const float *val,         \
                            float *gk, long K, long c16, long d0, int first) {                          \
    v16 a[RR];                                                                                          \
    for (int r = 0; r < RR; r++) a[r] = (first || d0 + r >= K) ? (v16){0} : VLOAD(gk + (d0 + r) * c16); \
    for (long e = pb[0]; e < pb[1]; e++) {                                                              \
        const float *p = gt + off[e] + d0 * VB;                                                         \
        const float v = val[e];                                                                         \
        for (int r = 0; r < RR; r++) a[r] += v * VLOAD(p + r * VB);                                     \
    }                                                                                                   \
    for (int r = 0; r < RR && d0 + r < K; r++) VSTORE(gk + (d0 + r) * c16, a[r]);                       \
}
KGRAD_TILE(1) KGRAD_TILE(2) KGRAD_TILE(3) KGRAD_TILE(4) KGRAD_TILE(5) KGRAD_TILE(6) KGRAD_TILE(7)
KGRAD_TILE(8) KGRAD_TILE(9) KGRAD_TILE(10) KGRAD_TILE(11) KGRAD_TILE(12) KGRAD_TILE(13) KGRAD_TILE(14)
KGRAD_TILE(15) KGRAD_TILE(16)
typedef void (*kgrad_tile_fn)(const float *, const long *, const int *, const float *, float *, long, long,
                              long, int);
static const kgrad_tile_fn KGRAD_TILES[17] = {
    NULL, kgrad_tile_1, kgrad_tile_2, kgrad_tile_3, kgrad_tile_4, kgrad_tile_5, kgrad_tile_6, kgrad_tile_7,
    kgrad_tile_8, kgrad_tile_9, kgrad_tile_10, kgrad_tile_11, kgrad_tile_12, kgrad_tile_13, kgrad_tile_14,
    kgrad_tile_15, kgrad_tile_16};

int dl_kernel_grad(const float *x, const float *gy, float *gk, long T, long B, long Cin, long K, long Cout,
                   long i0, long i1) {
    const long ntile = (K + VB - 1) / VB, R = (K + ntile - 1) / ntile, tg = T + ntile * R;
    const long c16 = (Cout + VB - 1) / VB * VB, ni = i1 - i0;
    const long nbt = lmin(B, lmax(1, TILE_BYTES / (tg * VB * (long)sizeof(float))));
    const long ngb = (B + nbt - 1) / nbt, nkey = ngb * ni;
    const kgrad_tile_fn tile_fn = KGRAD_TILES[R];
    if (ni <= 0) return 0;
    spike_lists sl = {NULL, NULL, NULL};
    long *kc = malloc(ni * sizeof(long)), *kr = malloc(B * sizeof(long));
    int *oc = calloc(ni, sizeof(int)), *orow = malloc(B * sizeof(int));
    float *gt = amalloc(nbt * tg * VB * sizeof(float));
    int status = -1;
    if (!kc || !kr || !oc || !orow || !gt) goto done;
    for (long i = 0; i < ni; i++) kc[i] = i;  /* lists keyed (batch group, channel) */
    for (long b = 0; b < B; b++) {
        kr[b] = (b / nbt) * ni;
        orow[b] = (int)((b % nbt) * tg * VB);  /* entry: offset of the spike's row and step in gt */
    }
    if (bucket_spikes(x, T, B, Cin, 0, B, i0, i1, kc, kr, 0, oc, orow, VB, nkey, &sl)) goto done;
    const long *ptr = sl.ptr;
    const int *off = sl.off;
    const float *val = sl.val;
    for (long o0 = 0; o0 < c16; o0 += VB) {
        const long m = lmin(VB, Cout - o0);
        for (long g = 0; g < ngb; g++) {
            /* gt[bl][t][:] = gy[t, g * nbt + bl, o0 : o0 + m], zero elsewhere */
            memset(gt, 0, nbt * tg * VB * sizeof(float));
            for (long bl = 0; bl < nbt && g * nbt + bl < B; bl++)
                for (long t = 0; t < T; t++)
                    memcpy(gt + (bl * tg + t) * VB, gy + (t * B + g * nbt + bl) * Cout + o0, m * sizeof(float));
            for (long i = i0; i < i1; i++) {
                const long *pb = ptr + g * ni + (i - i0);
                for (long d0 = 0; d0 < K; d0 += R)
                    tile_fn(gt, pb, off, val, gk + i * K * c16 + o0, K, c16, d0, g == 0);
            }
        }
    }
    status = 0;
done:
    free_spike_lists(&sl); free(kc); free(kr); free(oc); free(orow); free(gt);
    return status;
}

/* ---- temporal filtering: h[t - t0, b, r, o] = sum_{d < K, t + d < T} V[d, r] gy[t + d, b, o], t0 <= t < t1 ----
 * The input gradient of a kernel of rank nr in the delay axis (kall[i, d, o] = sum_r A[i, o, r] V[d, r])
 * is one matrix product of h with A; this builds h for a block of steps (the caller multiplies
 * block by block so h stays in cache). Per batch row, gy steps t0 .. t1 + K - 2 are copied into a
 * zero-padded [t1 - t0 + K - 1][c16] buffer; a register tile holds the nr filter outputs of 16
 * channels. h is [t1 - t0, B, nr, c16] (c16 = C rounded up to 16, zero lanes). Threads split the
 * batch [b0, b1). */
#define FILTER_TILE(NR)                                                                                  \
static void filter_tile_##NR(const float *rows, const float *V, float *out, long K, long c16) {         \
    v16 a[NR];                                                                                          \
    for (int r = 0; r < NR; r++) a[r] = (v16){0};                                                       \
    for (long d = 0; d < K; d++) {                                                                      \
        const v16 g = VLOAD(rows + d * c16);                                                            \
        for (int r = 0; r < NR; r++) a[r] += V[d * NR + r] * g;                                         \
    }                                                                                                   \
    for (int r = 0; r < NR; r++) VSTORE(out + r * c16, a[r]);                                           \
}
FILTER_TILE(1) FILTER_TILE(2) FILTER_TILE(3) FILTER_TILE(4) FILTER_TILE(5) FILTER_TILE(6) FILTER_TILE(7)
FILTER_TILE(8) FILTER_TILE(9) FILTER_TILE(10) FILTER_TILE(11) FILTER_TILE(12) FILTER_TILE(13) FILTER_TILE(14)
FILTER_TILE(15) FILTER_TILE(16)
typedef void (*filter_tile_fn)(const float *, const float *, float *, long, long);
static const filter_tile_fn FILTER_TILES[17] = {
    NULL, filter_tile_1, filter_tile_2, filter_tile_3, filter_tile_4, filter_tile_5, filter_tile_6, filter_tile_7,
    filter_tile_8, filter_tile_9, filter_tile_10, filter_tile_11, filter_tile_12, filter_tile_13, filter_tile_14,
    filter_tile_15, filter_tile_16};
#define MAX_RANK 16

int dl_time_filter(const float *gy, const float *V, float *h, long T, long B, long C, long K, long nr,
                   long t0, long t1, long b0, long b1) {
    const long c16 = (C + VB - 1) / VB * VB, nt = t1 - t0, rows = lmin(T, t1 + K - 1) - t0;
    if (nr < 1 || nr > MAX_RANK || nt < 1 || rows < 1) return -2;
    float *buf = amalloc((nt + K - 1) * c16 * sizeof(float));
    if (!buf) return -1;
    memset(buf, 0, (nt + K - 1) * c16 * sizeof(float));
    for (long b = b0; b < b1; b++) {
        for (long t = 0; t < rows; t++) memcpy(buf + t * c16, gy + ((t0 + t) * B + b) * C, C * sizeof(float));
        for (long t = 0; t < nt; t++)
            for (long o0 = 0; o0 < c16; o0 += VB)
                FILTER_TILES[nr](buf + t * c16 + o0, V, h + (t * B + b) * nr * c16 + o0, K, c16);
    }
    free(buf);
    return 0;
}

/* ---- integer delays: y[t, b, o] = sum_{i, c} W[o, i, c] x[t - D[o, i, c], b, i] ----
 * Dense in time, vectorised over it: per batch row, x is transposed into xt [Cin][tx] with K - 1
 * leading zero steps, so synapse (o, i, c) reads the contiguous run xt[i][K - 1 - D + t]. Each
 * thread first lists the non-zero synapses of every output (zero weights, e.g. pruned synapses, are
 * skipped) as (offset i * tx - D, weight). Loop order: block of INT_STEPS output steps (the
 * K - 1 + INT_STEPS columns of xt it reads stay in L1), output, synapses four at a time into separate
 * accumulators (hides the add latency). w, D: [Cout][Cin][kc]. Threads split the batch [b0, b1). */
#define INT_VECS 2
#define INT_STEPS (INT_VECS * VB)
int dl_integer_forward(const float *x, const float *w, const long *D, float *y, long T, long B, long Cin,
                       long Cout, long kc, long K, long b0, long b1) {
    const long tc = (T + INT_STEPS - 1) / INT_STEPS * INT_STEPS, tx = K - 1 + tc, ns = Cin * kc;
    float *xt = amalloc(Cin * tx * sizeof(float));
    float *yo = amalloc(Cout * tc * sizeof(float));
    float *sw = malloc((Cout * ns + 1) * sizeof(float));
    int *soff = malloc((Cout * ns + 1) * sizeof(int));
    long *optr = malloc((Cout + 1) * sizeof(long));
    int status = -1;
    if (!xt || !yo || !sw || !soff || !optr) goto done;
    optr[0] = 0;
    for (long o = 0; o < Cout; o++) {
        long n = optr[o];
        for (long s = 0; s < ns; s++)
            if (w[o * ns + s] != 0.0f) {
                soff[n] = (int)((s / kc) * tx - D[o * ns + s]);
                sw[n++] = w[o * ns + s];
            }
        optr[o + 1] = n;
    }
    memset(xt, 0, Cin * tx * sizeof(float));
    for (long b = b0; b < b1; b++) {
        for (long t = 0; t < T; t++) {
            const float *xr = x + (t * B + b) * Cin;
            for (long i = 0; i < Cin; i++) xt[i * tx + K - 1 + t] = xr[i];
        }
        for (long t0 = 0; t0 < tc; t0 += INT_STEPS) {
            const float *base = xt + K - 1 + t0;
            for (long o = 0; o < Cout; o++) {
                v16 a[4][INT_VECS];
                for (int u = 0; u < 4; u++)
                    for (int r = 0; r < INT_VECS; r++) a[u][r] = (v16){0};
                long e = optr[o];
                const long e1 = optr[o + 1];
                for (; e + 3 < e1; e += 4)
                    for (int u = 0; u < 4; u++) {
                        const float *p = base + soff[e + u];
                        const float wu = sw[e + u];
                        for (int r = 0; r < INT_VECS; r++) a[u][r] += wu * VLOAD(p + r * VB);
                    }
                for (; e < e1; e++) {
                    const float *p = base + soff[e];
                    for (int r = 0; r < INT_VECS; r++) a[0][r] += sw[e] * VLOAD(p + r * VB);
                }
                for (int r = 0; r < INT_VECS; r++)
                    VSTORE(yo + o * tc + t0 + r * VB, (a[0][r] + a[1][r]) + (a[2][r] + a[3][r]));
            }
        }
        for (long t = 0; t < T; t++) {
            float *yr = y + (t * B + b) * Cout;
            for (long o = 0; o < Cout; o++) yr[o] = yo[o * tc + t];
        }
    }
    status = 0;
done:
    free(xt); free(yo); free(sw); free(soff); free(optr);
    return status;
}
"""
