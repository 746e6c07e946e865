/* Unit tests for diverse batches: k-center greedy, margin-k-center and BADGE against plain-loop
 * references (double distances, ties to the lower row) on random and tie-heavy integer data, for
 * several shapes and block sizes; the reported distances against naive ones; the error paths. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

static double dist2(const float *a, const float *b, size_t d)
{
    double s = 0;
    for (size_t k = 0; k < d; k++) {
        double t = (double)a[k] - b[k];
        s += t * t;
    }
    return s;
}

/* The definition in hitl_engine.h, written the obvious way. cand NULL: every row. */
static size_t ref_kcenter(const float *x, size_t n, size_t d, size_t k, const int64_t *sel,
                          size_t ns, const int64_t *cand, size_t nc, int64_t *out, double *d2)
{
    size_t m = cand ? nc : n;
    double *md = malloc(m * sizeof(double));
    for (size_t i = 0; i < m; i++) {
        int64_t r = cand ? cand[i] : (int64_t)i;
        md[i] = INFINITY;
        for (size_t j = 0; j < ns; j++)
            md[i] = sel[j] == r ? -1 : fmin(md[i], dist2(x + r * d, x + sel[j] * d, d));
    }
    if (ns == 0) {
        double *mean = calloc(d, sizeof(double));
        float *meanf = malloc(d * sizeof(float));
        for (size_t i = 0; i < m; i++)
            for (size_t t = 0; t < d; t++)
                mean[t] += x[(cand ? cand[i] : (int64_t)i) * d + t] / (double)m;
        for (size_t t = 0; t < d; t++)
            meanf[t] = (float)mean[t];
        for (size_t i = 0; i < m; i++)
            md[i] = dist2(x + (cand ? cand[i] : (int64_t)i) * d, meanf, d);
        free(mean);
        free(meanf);
    }
    size_t got = 0;
    while (got < k) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < m; i++) {
            if (md[i] < 0) continue;
            int64_t r = cand ? cand[i] : (int64_t)i;
            if (best == SIZE_MAX || md[i] > md[best] ||
                (md[i] == md[best] && r < (cand ? cand[best] : (int64_t)best)))
                best = i;
        }
        if (best == SIZE_MAX) break;
        int64_t rb = cand ? cand[best] : (int64_t)best;
        out[got] = rb;
        d2[got++] = md[best];
        if (got == 1 && ns == 0)
            for (size_t i = 0; i < m; i++)
                md[i] = INFINITY;
        md[best] = -1;
        for (size_t i = 0; i < m; i++)
            if (md[i] >= 0)
                md[i] = fmin(md[i], dist2(x + (cand ? cand[i] : (int64_t)i) * d, x + rb * d, d));
    }
    free(md);
    return got;
}

static void compare(const float *x, size_t n, size_t d, size_t k, const int64_t *sel, size_t ns,
                    const int64_t *cand, size_t nc, size_t block, double tol)
{
    int64_t *out = malloc(k * sizeof(int64_t)), *ref = malloc(k * sizeof(int64_t));
    float *d2 = malloc(k * sizeof(float));
    double *rd2 = malloc(k * sizeof(double));
    hitl_kcenter_opts o = {.selected = sel,
                           .n_selected = ns,
                           .candidates = cand,
                           .n_candidates = nc,
                           .block_rows = block};
    size_t got;
    ck_assert_int_eq(hitl_kcenter_greedy(x, n, d, k, &o, out, d2, &got, NULL), HITL_OK);
    size_t want = ref_kcenter(x, n, d, k, sel, ns, cand, nc, ref, rd2);
    ck_assert_uint_eq(got, want);
    for (size_t i = 0; i < got; i++) {
        ck_assert_msg(out[i] == ref[i], "n=%zu d=%zu k=%zu block=%zu pick %zu: row %lld vs %lld", n,
                      d, k, block, i, (long long)out[i], (long long)ref[i]);
        /* ||x||^2 + ||c||^2 - 2 x.c in float32 against the naive double sum of squares */
        ck_assert_msg(fabs(d2[i] - rd2[i]) <= tol * (1 + rd2[i]), "pick %zu: d2 %g vs %g", i, d2[i],
                      rd2[i]);
    }
    free(out);
    free(ref);
    free(d2);
    free(rd2);
}

static float *random_x(size_t n, size_t d, uint64_t seed, int grid)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    float *x = malloc(n * d * sizeof(float));
    for (size_t i = 0; i < n * d; i++)
        x[i] = grid ? (float)(tu_rng_u64(&r) % 3) : (float)(tu_rng_uniform(&r) * 2 - 1);
    return x;
}

START_TEST(test_kcenter_matches_reference)
{
    static const size_t shapes[][3] = {{50, 3, 10}, {1000, 16, 50}, {3001, 64, 40}, {257, 5, 257}};
    for (size_t s = 0; s < 4; s++) {
        size_t n = shapes[s][0], d = shapes[s][1], k = shapes[s][2];
        float *x = random_x(n, d, 7 + s, 0);
        compare(x, n, d, k, NULL, 0, NULL, 0, 0, 1e-4);
        compare(x, n, d, k, NULL, 0, NULL, 0, 7, 1e-4);
        int64_t sel[3] = {0, (int64_t)n / 2, (int64_t)n - 1};
        compare(x, n, d, k, sel, 3, NULL, 0, 100, 1e-4);
        free(x);
    }
}
END_TEST

START_TEST(test_kcenter_ties)
{
    /* coordinates in {0, 1, 2}: duplicates everywhere and float arithmetic exact, so every tie
     * is a true tie and must go to the lower row */
    static const size_t shapes[][3] = {{200, 2, 9}, {500, 3, 40}, {64, 4, 64}};
    for (size_t s = 0; s < 3; s++) {
        size_t n = shapes[s][0], d = shapes[s][1], k = shapes[s][2];
        float *x = random_x(n, d, 40 + s, 1);
        int64_t sel[2] = {5, 17};
        compare(x, n, d, k, sel, 2, NULL, 0, 0, 0);
        compare(x, n, d, k, sel, 1, NULL, 0, 3, 0);
        free(x);
    }
}
END_TEST

START_TEST(test_kcenter_candidates)
{
    size_t n = 800, d = 12, nc = 300;
    float *x = random_x(n, d, 3, 0);
    int64_t cand[300], sel[4] = {1, 2, 600, 799};
    for (size_t i = 0; i < nc; i++) /* a scrambled subset including two selected rows */
        cand[i] = (int64_t)((i * 397 + 1) % n);
    compare(x, n, d, 25, NULL, 0, cand, nc, 0, 1e-4);
    compare(x, n, d, 25, sel, 4, cand, nc, 64, 1e-4);
    compare(x, n, d, 400, sel, 4, cand, nc, 64, 1e-4); /* k beyond the candidates left */
    free(x);
}
END_TEST

START_TEST(test_margin_kcenter)
{
    size_t n = 2000, d = 8, m = 150, k = 20;
    float *x = random_x(n, d, 21, 0), *score = malloc(n * sizeof(float));
    uint8_t *taken = calloc(n, 1);
    tu_rng r;
    tu_rng_seed(&r, 5);
    for (size_t i = 0; i < n; i++)
        score[i] = (float)(tu_rng_u64(&r) % 500) / 500.0f; /* many tied scores */
    score[3] = NAN;
    for (size_t i = 0; i < n; i += 7)
        taken[i] = 1;
    /* the m most uncertain free rows, ties to the lower row, by a selection sort */
    int64_t cand[150];
    uint8_t *used = calloc(n, 1);
    for (size_t t = 0; t < m; t++) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < n; i++) {
            if (used[i] || taken[i] || isnan(score[i])) continue;
            if (best == SIZE_MAX || score[i] > score[best]) best = i;
        }
        used[best] = 1;
        cand[t] = (int64_t)best;
    }
    int64_t out[20], ref[20], sel[2] = {0, 7};
    float d2[20];
    double rd2[20];
    size_t got;
    hitl_kcenter_opts o = {.selected = sel, .n_selected = 2};
    ck_assert_int_eq(hitl_margin_kcenter(x, n, d, score, taken, m, k, &o, out, d2, &got, NULL),
                     HITL_OK);
    ck_assert_uint_eq(got, ref_kcenter(x, n, d, k, sel, 2, cand, m, ref, rd2));
    for (size_t i = 0; i < got; i++)
        ck_assert_int_eq(out[i], ref[i]);
    free(x);
    free(score);
    free(taken);
    free(used);
}
END_TEST

START_TEST(test_kcenter_errors)
{
    float x[12] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
    int64_t out[6], bad[2] = {0, 9}, rep[2] = {1, 1};
    size_t got = 99;
    hitl_error err;
    ck_assert_int_eq(hitl_kcenter_greedy(x, 6, 2, 0, NULL, out, NULL, &got, NULL), HITL_OK);
    ck_assert_uint_eq(got, 0);
    ck_assert_int_eq(hitl_kcenter_greedy(x, 6, 2, 6, NULL, out, NULL, &got, NULL), HITL_OK);
    ck_assert_uint_eq(got, 6);
    ck_assert_int_eq(out[0], 0); /* rows 0 and 5 are equally far from the mean: the lower */
    ck_assert_int_eq(out[1], 5);
    hitl_kcenter_opts o = {.selected = bad, .n_selected = 2};
    ck_assert_int_eq(hitl_kcenter_greedy(x, 6, 2, 2, &o, out, NULL, &got, &err), HITL_EINVAL);
    hitl_kcenter_opts oc = {.candidates = rep, .n_candidates = 2};
    ck_assert_int_eq(hitl_kcenter_greedy(x, 6, 2, 2, &oc, out, NULL, &got, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_kcenter_greedy(x, 6, 0, 2, NULL, out, NULL, &got, &err), HITL_EINVAL);
    x[7] = INFINITY;
    ck_assert_int_eq(hitl_kcenter_greedy(x, 6, 2, 2, NULL, out, NULL, &got, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 3);
    float score[6] = {0};
    ck_assert_int_eq(hitl_margin_kcenter(x, 6, 2, score, NULL, 3, 2, &oc, out, NULL, &got, &err),
                     HITL_EINVAL);
}
END_TEST

START_TEST(test_kcenter_mind_carried)
{
    /* picking 4 batches of 10 with the distances carried over equals one call picking 40 */
    size_t n = 700, d = 12, k = 40;
    float *x = random_x(n, d, 99, 0);
    int64_t sel[2] = {3, 500}, one[40], batches[40];
    size_t got;
    hitl_kcenter_opts o = {.selected = sel, .n_selected = 2};
    ck_assert_int_eq(hitl_kcenter_greedy(x, n, d, k, &o, one, NULL, &got, NULL), HITL_OK);
    ck_assert_uint_eq(got, k);
    float *mind = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        mind[i] = INFINITY;
    for (size_t b = 0; b < 4; b++) {
        hitl_kcenter_opts ob = {.selected = sel, .n_selected = b == 0 ? 2 : 0, .mind = mind};
        ck_assert_int_eq(hitl_kcenter_greedy(x, n, d, 10, &ob, batches + 10 * b, NULL, &got, NULL),
                         HITL_OK);
        ck_assert_uint_eq(got, 10);
    }
    for (size_t i = 0; i < k; i++)
        ck_assert_int_eq(batches[i], one[i]);
    ck_assert(mind[3] < 0 && mind[500] < 0 && mind[one[39]] < 0);
    /* without centres, a carried array of INFINITY starts from the mean as a plain call */
    for (size_t i = 0; i < n; i++)
        mind[i] = INFINITY;
    hitl_kcenter_opts om = {.mind = mind};
    ck_assert_int_eq(hitl_kcenter_greedy(x, n, d, 5, &om, batches, NULL, &got, NULL), HITL_OK);
    ck_assert_int_eq(hitl_kcenter_greedy(x, n, d, 5, NULL, one, NULL, &got, NULL), HITL_OK);
    for (size_t i = 0; i < 5; i++)
        ck_assert_int_eq(batches[i], one[i]);
    hitl_kcenter_opts bad = {.mind = mind, .candidates = sel, .n_candidates = 2};
    ck_assert_int_eq(hitl_kcenter_greedy(x, n, d, 5, &bad, one, NULL, &got, NULL), HITL_EINVAL);
    free(mind);
    free(x);
}
END_TEST

/* BADGE written the obvious way: the gradient embeddings materialised in double, k-means++
 * with the engine's generator and the same draw rule. */
static size_t ref_badge(const float *x, size_t n, size_t d, const float *p, size_t c,
                        const uint8_t *taken, size_t k, uint64_t seed, int64_t *out)
{
    size_t e = c * (d + 1);
    double *g = calloc(n * e, sizeof(double)), *md = malloc(n * sizeof(double));
    size_t left = 0, best = SIZE_MAX, got = 0;
    for (size_t i = 0; i < n; i++) {
        size_t top = 0;
        for (size_t j = 1; j < c; j++)
            if (p[i * c + j] > p[i * c + top]) top = j;
        for (size_t j = 0; j < c; j++) {
            double a = p[i * c + j] - (j == top);
            for (size_t t = 0; t < d; t++)
                g[i * e + j * (d + 1) + t] = a * x[i * d + t];
            g[i * e + j * (d + 1) + d] = a;
        }
        md[i] = taken && taken[i] ? -1 : INFINITY;
        if (md[i] < 0) continue;
        left++;
        double nb = best == SIZE_MAX ? -1 : 0, ni = 0;
        for (size_t t = 0; t < e; t++) {
            ni += g[i * e + t] * g[i * e + t];
            if (best != SIZE_MAX) nb += g[best * e + t] * g[best * e + t];
        }
        if (ni > nb) best = i;
    }
    hitl_rng rng;
    hitl_rng_seed(&rng, seed);
    while (got < k && got < left) {
        out[got++] = (int64_t)best;
        md[best] = -1;
        if (got == k || got == left) break;
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            if (md[i] < 0) continue;
            double s = 0;
            for (size_t t = 0; t < e; t++) {
                double v = g[i * e + t] - g[best * e + t];
                s += v * v;
            }
            md[i] = fmin(md[i], s);
            total += md[i];
        }
        best = SIZE_MAX;
        if (total > 0) {
            double u = hitl_rng_uniform(&rng) * total, acc = 0;
            for (size_t i = 0; i < n; i++) {
                if (md[i] <= 0) continue;
                best = i;
                acc += md[i];
                if (acc > u) break;
            }
        } else {
            uint64_t t = hitl_rng_below(&rng, left - got);
            for (size_t i = 0; i < n && best == SIZE_MAX; i++)
                if (md[i] >= 0 && t-- == 0) best = i;
        }
    }
    free(g);
    free(md);
    return got;
}

START_TEST(test_badge_matches_reference)
{
    /* features in {0, 1, 2} and probabilities in quarters: every product and sum is exact in
     * float32 and double alike, so the factored distances and the draws must agree exactly */
    size_t n = 300, d = 5, c = 4, k = 30;
    float *x = random_x(n, d, 5, 1), *p = malloc(n * c * sizeof(float));
    static const float rows[][4] = {{0.25f, 0.25f, 0.25f, 0.25f},
                                    {0.5f, 0.25f, 0.25f, 0},
                                    {0.75f, 0.25f, 0, 0},
                                    {0, 0.5f, 0.5f, 0},
                                    {1, 0, 0, 0}};
    tu_rng r;
    tu_rng_seed(&r, 11);
    uint8_t *taken = calloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        size_t t = tu_rng_u64(&r) % 5, shift = tu_rng_u64(&r) % 4;
        for (size_t j = 0; j < c; j++)
            p[i * c + j] = rows[t][(j + shift) % c];
        taken[i] = tu_rng_u64(&r) % 7 == 0;
    }
    int64_t out[300], ref[300];
    for (uint64_t seed = 1; seed <= 3; seed++) {
        size_t got, want;
        ck_assert_int_eq(hitl_badge_select(x, n, d, p, c, taken, k, seed, out, &got, NULL),
                         HITL_OK);
        want = ref_badge(x, n, d, p, c, taken, k, seed, ref);
        ck_assert_uint_eq(got, want);
        for (size_t i = 0; i < got; i++) {
            ck_assert_msg(out[i] == ref[i], "seed %d pick %zu: %lld vs %lld", (int)seed, i,
                          (long long)out[i], (long long)ref[i]);
            ck_assert(!taken[out[i]]);
        }
    }
    /* every row left: each picked once, then no more */
    size_t got, left = 0;
    for (size_t i = 0; i < n; i++)
        left += !taken[i];
    ck_assert_int_eq(hitl_badge_select(x, n, d, p, c, taken, n, 9, out, &got, NULL), HITL_OK);
    ck_assert_uint_eq(got, left);
    uint8_t *seen = calloc(n, 1);
    for (size_t i = 0; i < got; i++) {
        ck_assert(!taken[out[i]] && !seen[out[i]]);
        seen[out[i]] = 1;
    }
    p[7 * c] = NAN;
    taken[7] = 0;
    hitl_error err;
    ck_assert_int_eq(hitl_badge_select(x, n, d, p, c, taken, k, 1, out, &got, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 7);
    ck_assert_int_eq(hitl_badge_select(x, n, d, p, 1, taken, k, 1, out, &got, &err), HITL_EINVAL);
    free(seen);
    free(x);
    free(p);
    free(taken);
}
END_TEST

START_TEST(test_badge_random_data)
{
    /* continuous data: the same picks as the explicit embeddings for a seed (the draws agree
     * unless a float rounding moves a boundary, which these seeds do not hit) */
    size_t n = 400, d = 8, c = 3, k = 25;
    float *x = random_x(n, d, 21, 0), *p = malloc(n * c * sizeof(float));
    tu_rng r;
    tu_rng_seed(&r, 3);
    tu_random_probs(&r, p, n, c);
    int64_t out[25], ref[25];
    size_t got;
    ck_assert_int_eq(hitl_badge_select(x, n, d, p, c, NULL, k, 42, out, &got, NULL), HITL_OK);
    ck_assert_uint_eq(ref_badge(x, n, d, p, c, NULL, k, 42, ref), got);
    for (size_t i = 0; i < got; i++)
        ck_assert_int_eq(out[i], ref[i]);
    free(x);
    free(p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_diversity");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_test(core, test_kcenter_matches_reference);
    tcase_add_test(core, test_margin_kcenter);
    tcase_add_test(core, test_kcenter_mind_carried);
    tcase_add_test(core, test_badge_matches_reference);
    tcase_add_test(core, test_badge_random_data);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_kcenter_ties);
    tcase_add_test(limits, test_kcenter_candidates);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_kcenter_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
