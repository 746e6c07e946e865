/* The uncertainty kernels, compiled once per instruction set (CMake sets HITL_ISA and HITL_VL,
 * the rows per vector), so every vector type maps to real registers. Lanes are rows: the loops
 * over classes run outside and the loops over rows inside, straight-line and vectorisable. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "uncertainty_impl.h"
#include "hitl_banned.h"

#ifndef HITL_ISA
#define HITL_ISA generic
#endif
#ifndef HITL_VL
#define HITL_VL 4
#endif
#define CAT2(a, b) a##b
#define CAT(a, b)  CAT2(a, b)
#define KERNEL     CAT(hitl__score_rows_, HITL_ISA)

#define TILE          HITL__TILE
#define TILE_MAX_C    HITL__TILE_MAX_C
#define ALWAYS_INLINE static inline __attribute__((always_inline))
typedef hitl__tile_stats tile_stats;
typedef hitl__score_ctx run_ctx;

/* ln x for normal positive x, Cephes' logf polynomial on the mantissa in [sqrt(1/2), sqrt(2)):
 * within 2 ulp. Subnormals and zero give finite garbage; callers mask them. */
ALWAYS_INLINE float poly_logf(float x)
{
    int32_t ix;
    memcpy(&ix, &x, sizeof(ix));
    int32_t e = (ix - 0x3f3504f3) >> 23; /* exponent with the mantissa in [sqrt(1/2), sqrt(2)) */
    int32_t im = ix - (int32_t)((uint32_t)e << 23);
    float m;
    memcpy(&m, &im, sizeof(m));
    float f = m - 1.0f, z = f * f, fe = (float)e;
    float y = 7.0376836292E-2f;
    y = y * f - 1.1514610310E-1f;
    y = y * f + 1.1676998740E-1f;
    y = y * f - 1.2420140846E-1f;
    y = y * f + 1.4249322787E-1f;
    y = y * f - 1.6668057665E-1f;
    y = y * f + 2.0000714765E-1f;
    y = y * f - 2.4999993993E-1f;
    y = y * f + 3.3333331174E-1f;
    y = y * f * z;
    y += -2.12194440E-4f * fe;
    y += -0.5f * z;
    return f + y + 0.693359375f * fe;
}

/* e^x for x <= 0, Cephes' expf polynomial: within 2 ulp; 0 below -87.3 (e^x < FLT_MIN). A
 * bad row's x (NaN, or positive: its values are not shifted by a max) is clamped into range so
 * the conversion to int stays defined; the checked path scores that row again anyway. */
ALWAYS_INLINE float poly_expf_neg(float x)
{
    float keep = x >= -87.3f ? 1.0f : 0.0f;
    x = x >= -87.3f ? x : -87.3f;
    x = x <= 0.0f ? x : 0.0f;
    int32_t n = -(int32_t)(0.5f - x * 1.44269504088896341f); /* round(x log2 e), x <= 0 */
    float fn = (float)n;
    float r = x - fn * 0.693359375f + fn * 2.12194440E-4f;
    float y = 1.9875691500E-4f;
    y = y * r + 1.3981999507E-3f;
    y = y * r + 8.3334519073E-3f;
    y = y * r + 4.1665795894E-2f;
    y = y * r + 1.6666665459E-1f;
    y = y * r + 5.0000001201E-1f;
    y = y * r * r + r + 1.0f;
    int32_t bits = (n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof(scale));
    return y * scale * keep;
}

/* Lanes are rows: a tile is first transposed to xt[class][row], then every loop over classes
 * runs outside and every loop over the tile's rows inside, as a straight-line, contiguous,
 * vectorisable update of per-row state. */
ALWAYS_INLINE void transpose_tile(const float *x, size_t n, size_t c, float *xt)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < c; j++)
            xt[j * TILE + i] = x[i * c + j];
}

/* GCC/Clang vector extensions: one vector is VL rows. The state of a group of rows stays in
 * registers across the loop over classes; each clone maps a vector to its widest registers. */
#define VL HITL_VL
typedef float vf __attribute__((vector_size(VL * sizeof(float))));
typedef int32_t vi __attribute__((vector_size(VL * sizeof(int32_t))));

ALWAYS_INLINE vf vblend(vi mask, vf a, vf b) /* mask ? a : b, lane by lane */
{
    return (vf)(((vi)a & mask) | ((vi)b & ~mask));
}

/* Top two, argmax, validity and (probs) the float sum of each row of the tile. Both kinds share
 * it; the sum is only used to validate probabilities, so float suffices at these class counts. */
ALWAYS_INLINE void top2_tile(const float *xt, size_t c, int probs, tile_stats *t)
{
    const vf zero = {0}, ninf = zero - INFINITY, pinf = zero + INFINITY, big = zero + FLT_MAX;
    for (size_t g = 0; g < TILE; g += VL) {
        vf m1 = ninf, m2 = ninf, s = zero, mn = pinf;
        vi arg = {0};
        for (size_t j = 0; j < c; j++) {
            vf v;
            memcpy(&v, xt + j * TILE + g, sizeof(v));
            vi gt = v > m1, gt2 = v > m2;
            m2 = vblend(gt, m1, vblend(gt2, v, m2));
            arg = (gt & (int32_t)j) | (~gt & arg);
            m1 = vblend(gt, v, m1);
            mn = vblend(v < mn, v, mn);
            s += v;
        }
        /* probs: NaN, negative or +Inf; logits: NaN or +-Inf. A NaN anywhere makes the sum NaN;
         * m1 and mn skip NaN, so they see every infinity and negative value */
        vi bad = (s != s) | (m1 > big) | (probs ? mn < zero : mn < -big);
        memcpy(t->m1 + g, &m1, sizeof(m1));
        memcpy(t->m2 + g, &m2, sizeof(m2));
        memcpy(t->arg + g, &arg, sizeof(arg));
        memcpy(t->bad + g, &bad, sizeof(bad));
        for (size_t i = 0; i < VL; i++)
            t->sum[g + i] = s[i];
    }
}

/* Top two, argmax, sum and validity of `n` probability rows; with want_h also sum p ln p. */
ALWAYS_INLINE void probs_tile(const float *xt, size_t c, int want_h, tile_stats *t)
{
    top2_tile(xt, c, 1, t);
    for (size_t i = 0; i < TILE; i++) /* finish_tile computes entropy from it either way */
        t->h[i] = 0;
    if (!want_h) return;
    for (size_t j = 0; j < c; j++) {
        const float *col = xt + j * TILE;
#pragma omp simd
        for (size_t i = 0; i < TILE; i++) {
            float v = col[i];
            /* 0 ln 0 = 0; subnormals count as 0 */
            float pl = v >= FLT_MIN ? v * poly_logf(v >= FLT_MIN ? v : 1.0f) : 0.0f;
            t->h[i] += pl;
        }
    }
}

/* Top two and argmax of `n` logit rows, then the softmax normaliser around the max. */
ALWAYS_INLINE void logits_tile(const float *xt, size_t c, float inv_t, int want_h, tile_stats *t)
{
    top2_tile(xt, c, 0, t);
    float mx[TILE];
    for (size_t i = 0; i < TILE; i++) {
        mx[i] = t->bad[i] ? 0.0f : t->m1[i];
        t->sum[i] = 0;
        t->h[i] = 0;
    }
    for (size_t j = 0; j < c; j++) {
        const float *col = xt + j * TILE;
#pragma omp simd
        for (size_t i = 0; i < TILE; i++) {
            float sj = (col[i] - mx[i]) * inv_t;
            float e = poly_expf_neg(sj);
            t->sum[i] += e;
            if (want_h) t->h[i] += e * sj;
        }
    }
}

/* Turns a tile's statistics into scores. Tiles of valid rows (nearly all) take a vectorised path
 * with one loop per output; any doubt sends the tile to the row-by-row checked path. */
ALWAYS_INLINE hitl_status finish_tile(run_ctx *ctx, const tile_stats *t, size_t base, size_t n,
                                      const float *x, const hitl_score_out *out)
{
    const hitl_score_opts *o = ctx->opts;
    int logits = o->kind == HITL_INPUT_LOGITS;
    int32_t doubt = 0;
    float tol = (float)ctx->tol;
#pragma omp simd reduction(| : doubt)
    for (size_t k = 0; k < n; k++)
        doubt |= t->bad[k] | (!logits & !(fabsf((float)t->sum[k] - 1.0f) <= tol));
    if (doubt) return hitl__finish_tile_checked(ctx, t, base, n, x, out);

    float p1[TILE], p2[TILE], ent[TILE];
    float norm = o->normalize_entropy ? (float)ctx->inv_ln_c : 1.0f;
#pragma omp simd
    for (size_t k = 0; k < n; k++) {
        if (logits) {
            float inv_s = (float)(1.0 / t->sum[k]);
            p1[k] = inv_s;
            p2[k] = poly_expf_neg((t->m2[k] - t->m1[k]) * ctx->inv_t) * inv_s;
            ent[k] = poly_logf((float)t->sum[k]) - (float)t->h[k] * inv_s;
        } else {
            p1[k] = t->m1[k];
            p2[k] = t->m2[k];
            ent[k] = -(float)t->h[k];
        }
        ent[k] = (ent[k] > 0 ? ent[k] : 0) * norm; /* rounding on one-hot rows */
    }
    float *sc;
    if ((sc = out->scores[HITL_METHOD_LC]))
        for (size_t k = 0; k < n; k++)
            sc[base + k] = 1.0f - p1[k];
    if ((sc = out->scores[HITL_METHOD_MARGIN]))
        for (size_t k = 0; k < n; k++)
            sc[base + k] = 1.0f - (p1[k] - p2[k]);
    if ((sc = out->scores[HITL_METHOD_RATIO]))
        for (size_t k = 0; k < n; k++)
            sc[base + k] = p2[k] / p1[k];
    if ((sc = out->scores[HITL_METHOD_ENTROPY]))
        for (size_t k = 0; k < n; k++)
            sc[base + k] = ent[k];
    if (out->pred) memcpy(out->pred + base, t->arg, n * sizeof(int32_t));
    if (out->p1) memcpy(out->p1 + base, p1, n * sizeof(float));
    return HITL_OK;
}

/* Each lane's running state over one row: its two largest values, the position of its first
 * largest, its smallest real value and its sum. */
typedef struct lane_state {
    vf m1, m2, lo, s;
    vi at;
} lane_state;

/* One vector of a row, its values at positions `posv`, into the lanes' state; lanes not in
 * `real` (the tail's idle ones hold -inf) are neither summed nor taken as the smallest. */
ALWAYS_INLINE void lane_add(lane_state *a, vf v, vi posv, vi real)
{
    const vf zero = {0}, pinf = zero + INFINITY;
    vi gt = v > a->m1;
    vf low = vblend(gt, a->m1, v); /* min(m1, v): what v leaves for second place */
    a->m2 = vblend(low > a->m2, low, a->m2);
    a->m1 = vblend(gt, v, a->m1);
    a->at = (vi)vblend(gt, (vf)posv, (vf)a->at); /* strictly larger: the first stays */
    vf r = vblend(real, v, pinf);
    a->lo = vblend(r < a->lo, r, a->lo);
    a->s += vblend(real, v, zero);
}

/* Lane by lane, b's state merged into a's; where the largest values are equal, the smaller
 * position wins. */
ALWAYS_INLINE void lane_merge(lane_state *a, const lane_state *b)
{
    vi gt = b->m1 > a->m1, eq = b->m1 == a->m1;
    vf low = vblend(gt, a->m1, b->m1); /* min(m1a, m1b) */
    vf hi2 = vblend(b->m2 > a->m2, b->m2, a->m2);
    a->m2 = vblend(low > hi2, low, hi2);
    vi take = gt | (eq & (b->at < a->at));
    a->at = (vi)vblend(take, (vf)b->at, (vf)a->at);
    a->m1 = vblend(gt, b->m1, a->m1);
    a->lo = vblend(b->lo < a->lo, b->lo, a->lo);
    a->s += b->s;
}

/* Row path for many classes: one vectorised pass, two vectors at a time in two independent
 * lane states, keeps each lane's two largest values (the two largest of a row are the two
 * largest of its lanes' pairs, ties included) with the first position of its largest, its
 * smallest value and its sum. Validity follows from the smallest and the sum: a NaN or an
 * infinity makes the sum non-finite, and only then is the row checked value by value (finite
 * values can overflow a sum too). Then, only when needed, one more pass for entropy or the
 * softmax normaliser. Two states, not one, so that the loop is not one chain of dependent
 * compares: 1M x 1000 floats, one thread, 0.62 -> 0.41 s. */
ALWAYS_INLINE void row_stats(const float *r, size_t c, int probs, int want_h, float inv_t,
                             tile_stats *t, size_t k)
{
    const vf zero = {0}, ninf = zero - INFINITY, pinf = zero + INFINITY;
    vi lane;
    int32_t idx[VL];
    for (int32_t i = 0; i < VL; i++)
        idx[i] = i;
    memcpy(&lane, idx, sizeof(lane));
    const vi all = lane >= 0, step = (lane & 0) + VL;
    lane_state a = {ninf, ninf, pinf, zero, lane}, b = {ninf, ninf, pinf, zero, lane + VL};
    vi posa = lane, posb = lane + VL;
    size_t pos = 0;
    for (; pos + 2 * VL <= c; pos += 2 * VL) {
        vf va, vb;
        memcpy(&va, r + pos, sizeof(va));
        memcpy(&vb, r + pos + VL, sizeof(vb));
        lane_add(&a, va, posa, all);
        lane_add(&b, vb, posb, all);
        posa += 2 * step;
        posb += 2 * step;
    }
    for (; pos < c; pos += VL) { /* the tail: idle lanes hold -inf */
        vf v = ninf;
        size_t m = c - pos < VL ? c - pos : VL;
        memcpy(&v, r + pos, m * sizeof(float));
        lane_add(&a, v, posa, lane < (int32_t)m);
        posa += step;
    }
    lane_merge(&a, &b);
    float m1 = -INFINITY, m2 = -INFINITY, fs = 0, lo = INFINITY;
    int32_t top = 0, arg = INT32_MAX;
    for (int i = 0; i < VL; i++) {
        if (a.m1[i] > m1) {
            m1 = a.m1[i];
            top = i;
        }
        fs += a.s[i];
        lo = a.lo[i] < lo ? a.lo[i] : lo;
    }
    for (int i = 0; i < VL; i++) {
        float o = i == top ? a.m2[i] : (a.m1[i] > a.m2[i] ? a.m1[i] : a.m2[i]);
        m2 = o > m2 ? o : m2;
        if (a.m1[i] == m1 && a.at[i] < arg) arg = a.at[i]; /* the first index of the max */
    }
    int32_t bad = probs && lo < 0;
    if (!isfinite(fs)) { /* probs: NaN, negative or +Inf; logits: NaN or +-Inf */
        for (size_t j = 0; j < c; j++) {
            float v = r[j];
            bad |= v != v || v > FLT_MAX || (probs ? v < 0 : v < -FLT_MAX);
        }
    }
    if (arg == INT32_MAX) arg = 0; /* not reached: the top lane holds the max */
    /* pass 4, only when needed: entropy (double), or the softmax normaliser of logits */
    double s = fs, h = 0;
    if (probs && want_h) {
#pragma omp simd reduction(+ : h)
        for (size_t j = 0; j < c; j++) {
            float v = r[j];
            h += v >= FLT_MIN ? v * poly_logf(v >= FLT_MIN ? v : 1.0f) : 0.0f;
        }
    } else if (!probs) {
        float mx = bad ? 0.0f : m1;
        s = 0;
#pragma omp simd reduction(+ : s, h)
        for (size_t j = 0; j < c; j++) {
            float sj = (r[j] - mx) * inv_t;
            float e = poly_expf_neg(sj);
            s += e;
            if (want_h) h += e * sj;
        }
    }
    t->m1[k] = m1;
    t->m2[k] = m2;
    t->arg[k] = arg;
    t->bad[k] = bad;
    t->sum[k] = s;
    t->h[k] = h;
}

hitl_status KERNEL(run_ctx *ctx, const float *x, size_t n, const hitl_score_out *out)
{
    const hitl_score_opts *o = ctx->opts;
    size_t c = ctx->c;
    int want_h = (o->methods & HITL_METHOD_BIT(HITL_METHOD_ENTROPY)) != 0;
    int probs = o->kind != HITL_INPUT_LOGITS;
    tile_stats t;
    float xt[TILE * TILE_MAX_C];
    for (size_t base = 0; base < n; base += TILE) {
        size_t m = n - base < TILE ? n - base : TILE;
        const float *xb = x + base * c;
        if (c > TILE_MAX_C) {
            for (size_t k = 0; k < m; k++) {
                if (want_h)
                    row_stats(xb + k * c, c, probs, 1, ctx->inv_t, &t, k);
                else
                    row_stats(xb + k * c, c, probs, 0, ctx->inv_t, &t, k);
            }
        } else {
            if (m < TILE) memset(xt, 0, c * TILE * sizeof(float)); /* idle lanes stay finite */
            transpose_tile(xb, m, c, xt);
            if (probs) {
                if (want_h)
                    probs_tile(xt, c, 1, &t);
                else
                    probs_tile(xt, c, 0, &t);
            } else {
                if (want_h)
                    logits_tile(xt, c, ctx->inv_t, 1, &t);
                else
                    logits_tile(xt, c, ctx->inv_t, 0, &t);
            }
        }
        hitl_status st = finish_tile(ctx, &t, base, m, x, out);
        if (st != HITL_OK) return st;
    }
    return HITL_OK;
}
