/* Diverse batches: k-center greedy over embeddings and its margin-first hybrid. Distances come
 * from BLAS (sgemv per new centre, sgemm against the starting centres) over row blocks, with one
 * running minimum per candidate: memory is O(n + block), never an n x n matrix. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

#define SEL_BLOCK 256

typedef struct kc {
    const float *xc; /* [m, d] candidates: x itself or a gathered copy */
    size_t m, d, block;
    const int64_t *row; /* candidate -> row of x; NULL: identity */
    float *xn;          /* [m] squared norms */
    float *mind;        /* [m] squared distance to the nearest centre; -1: never pick */
    float *dots;        /* [block] */
} kc;

static int64_t row_of(const kc *k, size_t i)
{
    return k->row ? k->row[i] : (int64_t)i;
}

/* mind = min(mind, ||x_i - c||^2) for every candidate; returns the farthest one left (ties to
 * the lower row), or SIZE_MAX when none is left. */
static size_t update(kc *k, const float *c, float cn)
{
    size_t best = SIZE_MAX;
    float bestd = -1;
    for (size_t r0 = 0; r0 < k->m; r0 += k->block) {
        size_t b = k->m - r0 < k->block ? k->m - r0 : k->block;
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)b, (int)k->d, 1.0f, k->xc + r0 * k->d,
                    (int)k->d, c, 1, 0.0f, k->dots, 1);
        for (size_t i = 0; i < b; i++) {
            float *md = &k->mind[r0 + i];
            if (*md < 0) continue;
            float dist = k->xn[r0 + i] + cn - 2.0f * k->dots[i];
            if (dist < 0) dist = 0;
            if (dist < *md) *md = dist;
            if (*md > bestd || (*md == bestd && row_of(k, r0 + i) < row_of(k, best))) {
                bestd = *md;
                best = r0 + i;
            }
        }
    }
    return best;
}

/* mind = min over the selected rows, by sgemm of candidate blocks against blocks of centres. */
static hitl_status init_selected(kc *k, const float *x, const int64_t *sel, size_t ns,
                                 hitl_error *err)
{
    size_t d = k->d, bs = k->block;
    float *sb = malloc(SEL_BLOCK * d * sizeof(float)), *sn = malloc(SEL_BLOCK * sizeof(float));
    float *prod = malloc(bs * SEL_BLOCK * sizeof(float));
    if (!sb || !sn || !prod) {
        free(sb);
        free(sn);
        free(prod);
        return hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
    }
    for (size_t s0 = 0; s0 < ns; s0 += SEL_BLOCK) {
        size_t q = ns - s0 < SEL_BLOCK ? ns - s0 : SEL_BLOCK;
        for (size_t j = 0; j < q; j++) {
            memcpy(sb + j * d, x + (size_t)sel[s0 + j] * d, d * sizeof(float));
            sn[j] = cblas_sdot((int)d, sb + j * d, 1, sb + j * d, 1);
        }
        for (size_t r0 = 0; r0 < k->m; r0 += bs) {
            size_t b = k->m - r0 < bs ? k->m - r0 : bs;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)q, (int)d, 1.0f,
                        k->xc + r0 * d, (int)d, sb, (int)d, 0.0f, prod, (int)q);
            for (size_t i = 0; i < b; i++) {
                float *md = &k->mind[r0 + i];
                if (*md < 0) continue;
                for (size_t j = 0; j < q; j++) {
                    float dist = k->xn[r0 + i] + sn[j] - 2.0f * prod[i * q + j];
                    if (dist < 0) dist = 0;
                    if (dist < *md) *md = dist;
                }
            }
        }
    }
    free(sb);
    free(sn);
    free(prod);
    return HITL_OK;
}

static hitl_status bad_row(hitl_error *err, int64_t row)
{
    hitl_error_set(err, HITL_EDATA, "kcenter: row %lld has a non-finite value", (long long)row);
    if (err) err->row = row;
    return HITL_EDATA;
}

hitl_status hitl_kcenter_greedy(const float *x, size_t n, size_t d, size_t k,
                                const hitl_kcenter_opts *opts, int64_t *out, float *d2,
                                size_t *n_out, hitl_error *err)
{
    hitl_kcenter_opts none = {0};
    if (!opts) opts = &none;
    if (n_out) *n_out = 0;
    if (!x || !out || !n_out || d == 0 || (opts->n_selected && !opts->selected) ||
        (opts->candidates && opts->n_candidates == 0 && n > 0))
        return hitl_error_set(err, HITL_EINVAL, "kcenter: missing argument or empty shape");
    if (n > INT32_MAX || d > INT32_MAX)
        return hitl_error_set(err, HITL_ESHAPE, "kcenter: shape too large for BLAS");
    if (k == 0 || n == 0) return HITL_OK;

    size_t m = opts->candidates ? opts->n_candidates : n;
    kc st = {.m = m, .d = d, .row = opts->candidates};
    st.block = opts->block_rows ? opts->block_rows : 1024;
    int32_t *pos = malloc(n * sizeof(int32_t)); /* row -> candidate, -1 when not one */
    float *gathered = NULL;
    st.xn = malloc(m * sizeof(float));
    st.mind = malloc(m * sizeof(float));
    st.dots = malloc(st.block * sizeof(float));
    hitl_status rc = HITL_OK;
    if (!pos || !st.xn || !st.mind || !st.dots) {
        rc = hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        pos[i] = opts->candidates ? -1 : (int32_t)i;
    if (opts->candidates) {
        gathered = malloc(m * d * sizeof(float));
        if (!gathered) {
            rc = hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
            goto done;
        }
        for (size_t i = 0; i < m; i++) {
            int64_t r = opts->candidates[i];
            if (r < 0 || (size_t)r >= n || pos[r] >= 0) {
                rc = hitl_error_set(err, HITL_EINVAL,
                                    "kcenter: candidate %zu (row %lld) is out of range or repeated",
                                    i, (long long)r);
                goto done;
            }
            pos[r] = (int32_t)i;
            memcpy(gathered + i * d, x + (size_t)r * d, d * sizeof(float));
        }
        st.xc = gathered;
    } else {
        st.xc = x;
    }
    for (size_t i = 0; i < m; i++) {
        st.xn[i] = cblas_sdot((int)d, st.xc + i * d, 1, st.xc + i * d, 1);
        if (!isfinite(st.xn[i])) {
            rc = bad_row(err, row_of(&st, i));
            goto done;
        }
        st.mind[i] = INFINITY;
    }
    for (size_t j = 0; j < opts->n_selected; j++) {
        int64_t r = opts->selected[j];
        if (r < 0 || (size_t)r >= n) {
            rc = hitl_error_set(err, HITL_EINVAL, "kcenter: selected row %lld is out of range",
                                (long long)r);
            goto done;
        }
        const float *xr = x + (size_t)r * d;
        if (!isfinite(cblas_sdot((int)d, xr, 1, xr, 1))) {
            rc = bad_row(err, r);
            goto done;
        }
        if (pos[r] >= 0) st.mind[pos[r]] = -1;
    }

    size_t best;
    if (opts->n_selected) {
        rc = init_selected(&st, x, opts->selected, opts->n_selected, err);
        if (rc != HITL_OK) goto done;
        /* a pass with a far-away centre that changes nothing finds the first pick; cheaper
         * to scan directly */
        best = SIZE_MAX;
        for (size_t i = 0; i < m; i++) {
            if (st.mind[i] < 0) continue;
            if (best == SIZE_MAX || st.mind[i] > st.mind[best] ||
                (st.mind[i] == st.mind[best] && row_of(&st, i) < row_of(&st, best)))
                best = i;
        }
    } else {
        /* first pick: the candidate farthest from the candidates' mean (mean = X^T 1 / m) */
        float *mean = malloc(d * sizeof(float)), *ones = malloc(st.block * sizeof(float));
        if (!mean || !ones) {
            free(mean);
            free(ones);
            rc = hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
            goto done;
        }
        for (size_t i = 0; i < st.block; i++)
            ones[i] = 1.0f / (float)m;
        memset(mean, 0, d * sizeof(float));
        for (size_t r0 = 0; r0 < m; r0 += st.block) {
            size_t b = m - r0 < st.block ? m - r0 : st.block;
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)b, (int)d, 1.0f, st.xc + r0 * d, (int)d,
                        ones, 1, 1.0f, mean, 1);
        }
        best = update(&st, mean, cblas_sdot((int)d, mean, 1, mean, 1));
        free(mean);
        free(ones);
    }

    size_t got = 0;
    while (got < k && best != SIZE_MAX) {
        out[got] = row_of(&st, best);
        if (d2) d2[got] = st.mind[best];
        got++;
        if (got == 1 && !opts->n_selected) {
            for (size_t i = 0; i < m; i++) /* distances to the mean were only for the first */
                st.mind[i] = st.mind[i] < 0 ? -1 : INFINITY;
        }
        st.mind[best] = -1;
        if (got == k) break;
        best = update(&st, st.xc + best * d, st.xn[best]);
    }
    *n_out = got;
done:
    free(pos);
    free(gathered);
    free(st.xn);
    free(st.mind);
    free(st.dots);
    return rc;
}

hitl_status hitl_margin_kcenter(const float *x, size_t n, size_t d, const float *score,
                                const uint8_t *taken, size_t m, size_t k,
                                const hitl_kcenter_opts *opts, int64_t *out, float *d2,
                                size_t *n_out, hitl_error *err)
{
    if (n_out) *n_out = 0;
    if (!x || !score || !out || !n_out || (opts && opts->candidates))
        return hitl_error_set(err, HITL_EINVAL, "margin-kcenter: missing or bad argument");
    if (m < k) m = k;
    if (k == 0 || n == 0) return HITL_OK;
    hitl_topk top;
    if (hitl_topk_init(&top, m) != HITL_OK)
        return hitl_error_set(err, HITL_ENOMEM, "margin-kcenter: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (taken && taken[i]) continue;
        hitl_scored s = {.score = score[i], .p1 = 0, .pred = -1, .row = (int64_t)i};
        hitl_topk_offer(&top, &s);
    }
    hitl_scored *best = malloc((top.n ? top.n : 1) * sizeof(*best));
    int64_t *cand = malloc((top.n ? top.n : 1) * sizeof(*cand));
    hitl_status rc = HITL_OK;
    if (!best || !cand) {
        rc = hitl_error_set(err, HITL_ENOMEM, "margin-kcenter: out of memory");
    } else {
        size_t nc = hitl_topk_drain(&top, best);
        for (size_t i = 0; i < nc; i++)
            cand[i] = best[i].row;
        hitl_kcenter_opts o = {0};
        if (opts) o = *opts;
        o.candidates = cand;
        o.n_candidates = nc;
        if (nc > 0) rc = hitl_kcenter_greedy(x, n, d, k, &o, out, d2, n_out, err);
    }
    free(best);
    free(cand);
    hitl_topk_release(&top);
    return rc;
}
