/* Diverse batches: k-center greedy over embeddings (lazy, exact), its margin-first hybrid, and
 * BADGE. Distances come from BLAS (sgemv per new centre, sgemm against the starting centres) over
 * row blocks, with one running minimum per candidate: memory is O(n + block), never n x n. */
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
    int mind_kept;      /* the caller keeps mind: leave it exact for every pick */
} kc;

/* The row of x that candidate i is. */
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

/* HITL_EDATA naming `row` of x (also in err->row) as non-finite, the message prefixed `what`. */
static hitl_status bad_row(hitl_error *err, const char *what, int64_t row)
{
    hitl_error_set(err, HITL_EDATA, "%s: row %lld has a non-finite value", what, (long long)row);
    if (err) err->row = row;
    return HITL_EDATA;
}

/* The picks after the first, lazily (the "lazy greedy" of submodular maximisation, exact here):
 * mind[i] only ever decreases, so a stale value is an upper bound. Rows sit in a max-heap on
 * (mind, -row) and remember how many of this call's centres their mind has seen (seen[i]); the
 * top row is brought up to date (its distances to the centres it has not seen, one sgemv) and
 * sifted down, until the top is up to date: its exact distance then beats every other row's
 * bound, and ties go to the lower row as in the eager pass. In high dimensions a new centre
 * lowers few rows' minimum, so a pick touches a few rows instead of all n. */
typedef struct lazy {
    kc *k;
    int32_t *heap; /* candidates, max-heap on (mind, -row) */
    size_t nh;
    uint32_t *seen; /* [m] centres of cbuf applied to mind[i] */
    float *cbuf;    /* [k, d] this call's centres */
    float *cn;      /* [k] their squared norms */
    size_t nc;
    float *dots; /* [k] */
} lazy;

/* The heap's order: candidate a before b when farther from the centres, ties to the lower row. */
static int above(const kc *k, int32_t a, int32_t b)
{
    return k->mind[a] > k->mind[b] || (k->mind[a] == k->mind[b] && row_of(k, a) < row_of(k, b));
}

/* Moves heap entry i down to its place in the max-heap (order: above()). */
static void sift_down(lazy *z, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, top = i;
        if (l < z->nh && above(z->k, z->heap[l], z->heap[top])) top = l;
        if (r < z->nh && above(z->k, z->heap[r], z->heap[top])) top = r;
        if (top == i) return;
        int32_t t = z->heap[i];
        z->heap[i] = z->heap[top];
        z->heap[top] = t;
        i = top;
    }
}

/* mind[i] = min over the centres row i has not seen; then it has seen them all. */
static void catch_up(lazy *z, int32_t i)
{
    kc *k = z->k;
    size_t from = z->seen[i], q = z->nc - from, d = k->d;
    if (q == 0) return;
    cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)q, (int)d, 1.0f, z->cbuf + from * d, (int)d,
                k->xc + (size_t)i * d, 1, 0.0f, z->dots, 1);
    for (size_t j = 0; j < q; j++) {
        float dist = k->xn[i] + z->cn[from + j] - 2.0f * z->dots[j];
        if (dist < 0) dist = 0;
        if (dist < k->mind[i]) k->mind[i] = dist;
    }
    z->seen[i] = (uint32_t)z->nc;
}

/* Every row's mind up to date with all of this call's centres, by sgemm over row blocks (for a
 * caller that keeps mind across calls). */
static hitl_status catch_up_all(lazy *z, hitl_error *err)
{
    kc *k = z->k;
    size_t d = k->d, bs = k->block, q = z->nc;
    float *prod = malloc(bs * q * sizeof(float));
    if (!prod) return hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
    for (size_t r0 = 0; r0 < k->m; r0 += bs) {
        size_t b = k->m - r0 < bs ? k->m - r0 : bs;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)b, (int)q, (int)d, 1.0f,
                    k->xc + r0 * d, (int)d, z->cbuf, (int)d, 0.0f, prod, (int)q);
        for (size_t i = 0; i < b; i++) {
            float *md = &k->mind[r0 + i];
            if (*md < 0) continue;
            for (size_t j = z->seen[r0 + i]; j < q; j++) {
                float dist = k->xn[r0 + i] + z->cn[j] - 2.0f * prod[i * q + j];
                if (dist < 0) dist = 0;
                if (dist < *md) *md = dist;
            }
        }
    }
    free(prod);
    return HITL_OK;
}

/* Picks until k (*got counts the first pick, `first`, already made). `seen_first`: every row's
 * mind already includes the first pick. */
static hitl_status lazy_picks(kc *k, size_t want, size_t first, int seen_first, int64_t *out,
                              float *d2, size_t *got, hitl_error *err)
{
    lazy z = {.k = k};
    z.heap = malloc(k->m * sizeof(int32_t));
    z.seen = malloc(k->m * sizeof(uint32_t));
    z.cbuf = malloc(want * k->d * sizeof(float));
    z.cn = malloc(want * sizeof(float));
    z.dots = malloc(want * sizeof(float));
    hitl_status rc = HITL_OK;
    if (!z.heap || !z.seen || !z.cbuf || !z.cn || !z.dots) {
        rc = hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
        goto done;
    }
    memcpy(z.cbuf, k->xc + first * k->d, k->d * sizeof(float));
    z.cn[0] = k->xn[first];
    z.nc = 1;
    for (size_t i = 0; i < k->m; i++) {
        z.seen[i] = seen_first ? 1 : 0;
        if (k->mind[i] >= 0) z.heap[z.nh++] = (int32_t)i;
    }
    for (size_t i = z.nh / 2; i-- > 0;)
        sift_down(&z, i);
    while (*got < want && z.nh > 0) {
        int32_t top = z.heap[0];
        if (z.seen[top] < z.nc) {
            catch_up(&z, top);
            sift_down(&z, 0);
            continue;
        }
        out[*got] = row_of(k, (size_t)top);
        if (d2) d2[*got] = k->mind[top];
        (*got)++;
        k->mind[top] = -1;
        z.heap[0] = z.heap[--z.nh];
        sift_down(&z, 0);
        memcpy(z.cbuf + z.nc * k->d, k->xc + (size_t)top * k->d, k->d * sizeof(float));
        z.cn[z.nc++] = k->xn[top];
    }
    if (k->mind_kept) rc = catch_up_all(&z, err);
done:
    free(z.heap);
    free(z.seen);
    free(z.cbuf);
    free(z.cn);
    free(z.dots);
    return rc;
}

/* The candidates: pos[row] = its candidate index (-1 for a row that is not one) and, with
 * opts->candidates, their rows gathered into *gathered (caller frees) as state->xc; else xc = x.
 * HITL_EINVAL for a candidate out of range or repeated. */
static hitl_status gather_candidates(kc *state, const float *x, size_t n,
                                     const hitl_kcenter_opts *opts, int32_t *pos, float **gathered,
                                     hitl_error *err)
{
    size_t d = state->d;
    for (size_t i = 0; i < n; i++)
        pos[i] = opts->candidates ? -1 : (int32_t)i;
    state->xc = x;
    if (!opts->candidates) return HITL_OK;
    *gathered = malloc(state->m * d * sizeof(float));
    if (!*gathered) return hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
    for (size_t i = 0; i < state->m; i++) {
        int64_t row = opts->candidates[i];
        if (row < 0 || (size_t)row >= n || pos[row] >= 0)
            return hitl_error_set(err, HITL_EINVAL,
                                  "kcenter: candidate %zu (row %lld) is out of range or repeated",
                                  i, (long long)row);
        pos[row] = (int32_t)i;
        memcpy(*gathered + i * d, x + (size_t)row * d, d * sizeof(float));
    }
    state->xc = *gathered;
    return HITL_OK;
}

/* The candidates' squared norms (and mind = INFINITY unless the caller keeps it), then the
 * selected rows checked and taken out of the candidates (mind -1). HITL_EDATA for a non-finite
 * row, HITL_EINVAL for a selected row out of range. */
static hitl_status norms_and_selected(kc *state, const float *x, size_t n,
                                      const hitl_kcenter_opts *opts, const int32_t *pos,
                                      hitl_error *err)
{
    size_t d = state->d;
    for (size_t i = 0; i < state->m; i++) {
        state->xn[i] = cblas_sdot((int)d, state->xc + i * d, 1, state->xc + i * d, 1);
        if (!isfinite(state->xn[i])) return bad_row(err, "kcenter", row_of(state, i));
        if (!opts->mind) state->mind[i] = INFINITY;
    }
    for (size_t j = 0; j < opts->n_selected; j++) {
        int64_t row = opts->selected[j];
        if (row < 0 || (size_t)row >= n)
            return hitl_error_set(err, HITL_EINVAL, "kcenter: selected row %lld is out of range",
                                  (long long)row);
        const float *xr = x + (size_t)row * d;
        if (!isfinite(cblas_sdot((int)d, xr, 1, xr, 1))) return bad_row(err, "kcenter", row);
        if (pos[row] >= 0) state->mind[pos[row]] = -1;
    }
    return HITL_OK;
}

/* The first pick into *best (SIZE_MAX when no candidate is left). With centres, the candidate
 * farthest from them (mind is exact): a pass with a far-away centre that changes nothing would
 * find it too, at more cost. Without, the candidate farthest from the candidates' mean
 * (mean = X^T 1 / m), which leaves mind holding distances to the mean. */
static hitl_status first_pick(kc *state, int centres, size_t *best, hitl_error *err)
{
    size_t m = state->m, d = state->d;
    if (centres) {
        *best = SIZE_MAX;
        for (size_t i = 0; i < m; i++) {
            if (state->mind[i] < 0) continue;
            if (*best == SIZE_MAX || state->mind[i] > state->mind[*best] ||
                (state->mind[i] == state->mind[*best] && row_of(state, i) < row_of(state, *best)))
                *best = i;
        }
        return HITL_OK;
    }
    float *mean = malloc(d * sizeof(float)), *ones = malloc(state->block * sizeof(float));
    if (!mean || !ones) {
        free(mean);
        free(ones);
        return hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
    }
    for (size_t i = 0; i < state->block; i++)
        ones[i] = 1.0f / (float)m;
    memset(mean, 0, d * sizeof(float));
    for (size_t r0 = 0; r0 < m; r0 += state->block) {
        size_t rows = m - r0 < state->block ? m - r0 : state->block;
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)rows, (int)d, 1.0f, state->xc + r0 * d, (int)d,
                    ones, 1, 1.0f, mean, 1);
    }
    *best = update(state, mean, cblas_sdot((int)d, mean, 1, mean, 1));
    free(mean);
    free(ones);
    return HITL_OK;
}

hitl_status hitl_kcenter_greedy(const float *x, size_t n, size_t d, size_t k,
                                const hitl_kcenter_opts *opts, int64_t *out, float *d2,
                                size_t *n_out, hitl_error *err)
{
    hitl_kcenter_opts none = {0};
    if (!opts) opts = &none;
    if (n_out) *n_out = 0;
    if (!x || !out || !n_out || d == 0 || (opts->n_selected && !opts->selected) ||
        (opts->candidates && opts->n_candidates == 0 && n > 0) || (opts->mind && opts->candidates))
        return hitl_error_set(err, HITL_EINVAL, "kcenter: missing argument or empty shape");
    if (n > INT32_MAX || d > INT32_MAX)
        return hitl_error_set(err, HITL_ESHAPE, "kcenter: shape too large for BLAS");
    if (k == 0 || n == 0) return HITL_OK;

    size_t n_cand = opts->candidates ? opts->n_candidates : n;
    kc state = {.m = n_cand, .d = d, .row = opts->candidates, .mind_kept = opts->mind != NULL};
    state.block = opts->block_rows ? opts->block_rows : 1024;
    int32_t *pos = malloc(n * sizeof(int32_t)); /* row -> candidate, -1 when not one */
    float *gathered = NULL;
    state.xn = malloc(n_cand * sizeof(float));
    state.mind = opts->mind ? opts->mind : malloc(n_cand * sizeof(float));
    state.dots = malloc(state.block * sizeof(float));
    hitl_status rc = HITL_OK;
    if (!pos || !state.xn || !state.mind || !state.dots) {
        rc = hitl_error_set(err, HITL_ENOMEM, "kcenter: out of memory");
        goto done;
    }
    rc = gather_candidates(&state, x, n, opts, pos, &gathered, err);
    if (rc == HITL_OK) rc = norms_and_selected(&state, x, n, opts, pos, err);
    if (rc != HITL_OK) goto done;

    int centres = opts->n_selected > 0; /* else the first pick is the farthest from the mean */
    for (size_t i = 0; opts->mind && !centres && i < n_cand; i++)
        centres = state.mind[i] >= 0 && state.mind[i] < INFINITY;
    if (opts->n_selected) rc = init_selected(&state, x, opts->selected, opts->n_selected, err);
    size_t best = SIZE_MAX, got = 0;
    if (rc == HITL_OK) rc = first_pick(&state, centres, &best, err);
    if (rc != HITL_OK) goto done;
    if (best != SIZE_MAX) {
        out[got] = row_of(&state, best);
        if (d2) d2[got] = state.mind[best];
        got++;
        if (!centres) { /* distances to the mean were only for the first pick */
            for (size_t i = 0; i < n_cand; i++)
                state.mind[i] = state.mind[i] < 0 ? -1 : INFINITY;
            state.mind[best] = -1;
            update(&state, state.xc + best * d, state.xn[best]); /* every row exact: cheap */
        }
        state.mind[best] = -1;
        if (got < k || opts->mind) rc = lazy_picks(&state, k, best, !centres, out, d2, &got, err);
    }
    *n_out = got;
done:
    free(pos);
    free(gathered);
    free(state.xn);
    if (!opts->mind) free(state.mind);
    free(state.dots);
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

/* BADGE: D^2 sampling over gradient embeddings, with the distances factored as in the header.
 * a = p - onehot(argmax p) [n, c] is small; x stays the caller's. */
hitl_status hitl_badge_select(const float *x, size_t n, size_t d, const float *probs, size_t c,
                              const uint8_t *taken, size_t k, uint64_t seed, int64_t *out,
                              size_t *n_out, hitl_error *err)
{
    if (n_out) *n_out = 0;
    if (!x || !probs || !out || !n_out || d == 0 || c < 2)
        return hitl_error_set(err, HITL_EINVAL, "badge: missing argument or empty shape");
    if (n > INT32_MAX || d > INT32_MAX || c > INT32_MAX)
        return hitl_error_set(err, HITL_ESHAPE, "badge: shape too large for BLAS");
    if (k == 0 || n == 0) return HITL_OK;
    const size_t block = 1024;
    float *a = malloc(n * c * sizeof(float)), *xn = malloc(n * sizeof(float));
    float *an = malloc(n * sizeof(float)), *mind = malloc(n * sizeof(float));
    float *dx = malloc(block * sizeof(float)), *da = malloc(block * sizeof(float));
    hitl_status rc = HITL_OK;
    if (!a || !xn || !an || !mind || !dx || !da) {
        rc = hitl_error_set(err, HITL_ENOMEM, "badge: out of memory for %zu rows", n);
        goto done;
    }
    size_t left = 0, best = SIZE_MAX;
    for (size_t i = 0; i < n; i++) {
        const float *p = probs + i * c;
        float *ai = a + i * c;
        size_t top = 0;
        for (size_t j = 0; j < c; j++) {
            ai[j] = p[j];
            if (p[j] > p[top]) top = j;
        }
        ai[top] -= 1.0f;
        an[i] = cblas_sdot((int)c, ai, 1, ai, 1);
        xn[i] = cblas_sdot((int)d, x + i * d, 1, x + i * d, 1) + 1.0f;
        mind[i] = taken && taken[i] ? -1.0f : INFINITY;
        if (mind[i] < 0) continue;
        if (!isfinite(an[i]) || !isfinite(xn[i])) {
            rc = bad_row(err, "badge", (int64_t)i);
            goto done;
        }
        left++;
        if (best == SIZE_MAX || an[i] * xn[i] > an[best] * xn[best]) best = i;
    }
    hitl_rng rng;
    hitl_rng_seed(&rng, seed);
    size_t got = 0;
    while (got < k && got < left) {
        out[got++] = (int64_t)best;
        mind[best] = -1;
        if (got == k || got == left) break;
        /* mind = min(mind, ||g_i - g_best||^2), summed for the draw */
        const float *xb = x + best * d, *ab = a + best * c;
        float gb = an[best] * xn[best];
        double total = 0;
        for (size_t r0 = 0; r0 < n; r0 += block) {
            size_t b = n - r0 < block ? n - r0 : block;
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)b, (int)d, 1.0f, x + r0 * d, (int)d, xb,
                        1, 0.0f, dx, 1);
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)b, (int)c, 1.0f, a + r0 * c, (int)c, ab,
                        1, 0.0f, da, 1);
            for (size_t i = 0; i < b; i++) {
                float *md = &mind[r0 + i];
                if (*md < 0) continue;
                float dist = an[r0 + i] * xn[r0 + i] + gb - 2.0f * da[i] * (dx[i] + 1.0f);
                if (dist < 0) dist = 0;
                if (dist < *md) *md = dist;
                total += *md;
            }
        }
        /* the next pick: P(i) = mind_i / total; uniform among the rows left when all are 0 */
        best = SIZE_MAX;
        if (total > 0) {
            double u = hitl_rng_uniform(&rng) * total, acc = 0;
            for (size_t i = 0; i < n; i++) {
                if (mind[i] <= 0) continue;
                best = i; /* the last positive row, should rounding leave u beyond the sum */
                acc += mind[i];
                if (acc > u) break;
            }
        } else {
            uint64_t t = hitl_rng_below(&rng, left - got);
            for (size_t i = 0; i < n; i++)
                if (mind[i] >= 0 && t-- == 0) {
                    best = i;
                    break;
                }
        }
    }
    *n_out = got;
done:
    free(a);
    free(xn);
    free(an);
    free(mind);
    free(dx);
    free(da);
    return rc;
}
