/* Unit tests for the uncertainty scores: hand-computed golden rows, every ISA kernel against a
 * plain double-precision reference on random data, the logits path against the probs path, and
 * every bad-row rule. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

static const char *const isas[] = {"generic", "avx2", "avx512"};

typedef struct {
    float s[HITL_METHOD_COUNT];
    int32_t pred;
    float p1;
} row_scores;

/* Scores one row through the engine with every method. */
static hitl_status score_rows(const float *x, size_t n, size_t c, hitl_input_kind kind,
                              int normalize, row_scores *res, hitl_error *err)
{
    float *sc[HITL_METHOD_COUNT];
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        sc[m] = malloc(n * sizeof(float));
    int32_t *pred = malloc(n * sizeof(int32_t));
    float *p1 = malloc(n * sizeof(float));
    hitl_score_opts o = {.kind = kind, .methods = HITL_METHODS_ALL, .normalize_entropy = normalize};
    hitl_score_out out = {{sc[0], sc[1], sc[2], sc[3]}, pred, p1};
    hitl_status st = hitl_scores_compute(&o, x, n, c, 0, &out, NULL, err);
    for (size_t i = 0; st == HITL_OK && i < n; i++) {
        for (int m = 0; m < HITL_METHOD_COUNT; m++)
            res[i].s[m] = sc[m][i];
        res[i].pred = pred[i];
        res[i].p1 = p1[i];
    }
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        free(sc[m]);
    free(pred);
    free(p1);
    return st;
}

/* The definitions, in double, one row at a time. */
static void reference(const float *r, size_t c, double out[HITL_METHOD_COUNT], int32_t *pred)
{
    double a = -1, b = -1, h = 0;
    int32_t arg = 0;
    for (size_t j = 0; j < c; j++) {
        double v = r[j];
        if (v > a) {
            b = a;
            a = v;
            arg = (int32_t)j;
        } else if (v > b) {
            b = v;
        }
        if (v > 0) h -= v * log(v);
    }
    out[HITL_METHOD_LC] = 1 - a;
    out[HITL_METHOD_MARGIN] = 1 - (a - b);
    out[HITL_METHOD_RATIO] = b / a;
    out[HITL_METHOD_ENTROPY] = h;
    *pred = arg;
}

static void check_golden(const float *row, size_t c, double lc, double margin, double ratio,
                         double entropy, int32_t pred)
{
    row_scores r;
    hitl_error err;
    ck_assert_int_eq(score_rows(row, 1, c, HITL_INPUT_PROBS, 0, &r, &err), HITL_OK);
    ck_assert_double_eq_tol(r.s[HITL_METHOD_LC], lc, 1e-6);
    ck_assert_double_eq_tol(r.s[HITL_METHOD_MARGIN], margin, 1e-6);
    ck_assert_double_eq_tol(r.s[HITL_METHOD_RATIO], ratio, 1e-6);
    ck_assert_double_eq_tol(r.s[HITL_METHOD_ENTROPY], entropy, 1e-6);
    ck_assert_int_eq(r.pred, pred);
}

/* Hand-computed: -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1) = 0.249672 + 0.321888 + 0.230259. */
START_TEST(test_golden_three_classes)
{
    const float row[] = {0.2f, 0.7f, 0.1f};
    check_golden(row, 3, 0.3, 0.5, 0.2 / 0.7, 0.801819, 1);
}
END_TEST

/* A tied top: margin 1, ratio 1, the lower index predicted. */
START_TEST(test_golden_tie)
{
    const float row[] = {0.2f, 0.4f, 0.4f};
    check_golden(row, 3, 0.6, 1.0, 1.0, 1.054920, 1);
}
END_TEST

/* One-hot with zeros: 0 ln 0 = 0, nothing uncertain. */
START_TEST(test_golden_one_hot)
{
    const float row[] = {0, 0, 1, 0};
    check_golden(row, 4, 0, 0, 0, 0, 2);
}
END_TEST

START_TEST(test_golden_two_classes)
{
    const float row[] = {0.5f, 0.5f};
    check_golden(row, 2, 0.5, 1, 1, log(2.0), 0);
    const float row2[] = {0.9f, 0.1f};
    check_golden(row2, 2, 0.1, 0.2, 0.1 / 0.9, -(0.9 * log(0.9) + 0.1 * log(0.1)), 0);
}
END_TEST

START_TEST(test_golden_uniform)
{
    float row[10];
    for (int j = 0; j < 10; j++)
        row[j] = 0.1f;
    check_golden(row, 10, 0.9, 1, 1, log(10.0), 0);
    row_scores r;
    ck_assert_int_eq(score_rows(row, 1, 10, HITL_INPUT_PROBS, 1, &r, NULL), HITL_OK);
    ck_assert_double_eq_tol(r.s[HITL_METHOD_ENTROPY], 1.0, 1e-6); /* normalised by ln C */
}
END_TEST

/* Every kernel equals the double reference on random rows, for class counts on both sides of
 * the tile/row-path switch and row counts that are not a multiple of the tile. */
START_TEST(test_kernels_match_reference)
{
    static const size_t cs[] = {2, 3, 7, 10, 16, 31, 32, 33, 100, 1000};
    const size_t n = 203;
    tu_rng rng;
    tu_rng_seed(&rng, 42);
    for (size_t ci = 0; ci < sizeof(cs) / sizeof(cs[0]); ci++) {
        size_t c = cs[ci];
        float *x = malloc(n * c * sizeof(float));
        row_scores *r = malloc(n * sizeof(*r));
        tu_random_probs(&rng, x, n, c);
        for (size_t k = 0; k < 3; k++) {
            if (hitl_scores_set_isa(isas[k]) != HITL_OK) continue; /* not on this CPU */
            ck_assert_int_eq(score_rows(x, n, c, HITL_INPUT_PROBS, 0, r, NULL), HITL_OK);
            for (size_t i = 0; i < n; i++) {
                double ref[HITL_METHOD_COUNT];
                int32_t pred;
                reference(x + i * c, c, ref, &pred);
                for (int m = 0; m < HITL_METHOD_COUNT; m++)
                    ck_assert_msg(fabs(r[i].s[m] - ref[m]) <= 2e-6 * (1 + fabs(ref[m])),
                                  "isa %s c=%zu row %zu %s: %g vs %g", isas[k], c, i,
                                  hitl_method_name(m), r[i].s[m], ref[m]);
                ck_assert_int_eq(r[i].pred, pred);
            }
        }
        free(x);
        free(r);
    }
    hitl_scores_set_isa("generic");
    hitl_scores_set_isa("avx2");
    hitl_scores_set_isa("avx512");
}
END_TEST

/* Wide rows whose largest value is tied at two columns, anywhere (the same vector lane, the
 * lanes of two vectors, the tail): the first column is the prediction and the second largest
 * equals the largest, in every kernel, as in the reference. And rows of one value throughout. */
START_TEST(test_wide_row_ties)
{
    static const size_t cs[] = {33, 64, 100, 1000, 1001};
    static const size_t at[] = {0, 1, 7, 8, 15, 16, 17, 31, 32, 33, 48, 500, 999, 1000};
    const size_t n_at = sizeof(at) / sizeof(at[0]);
    for (size_t ci = 0; ci < 5; ci++) {
        size_t c = cs[ci], n = 0;
        float *x = malloc((n_at * n_at + 1) * c * sizeof(float));
        for (size_t a = 0; a < n_at; a++) {
            for (size_t b = 0; b < n_at; b++) {
                if (at[a] >= c || at[b] >= c || at[a] == at[b]) continue;
                float *r = x + n * c, w = 0; /* the other columns share 0.4, unevenly */
                for (size_t j = 0; j < c; j++)
                    w += r[j] = j == at[a] || j == at[b] ? 0.0f : 1.0f + (float)(j % 5);
                for (size_t j = 0; j < c; j++)
                    r[j] *= 0.4f / w;
                r[at[a]] = r[at[b]] = 0.3f;
                n++;
            }
        }
        for (size_t j = 0; j < c; j++) /* one value throughout */
            x[n * c + j] = 1.0f / (float)c;
        n++;
        row_scores *res = malloc(n * sizeof(*res));
        for (size_t k = 0; k < 3; k++) {
            if (hitl_scores_set_isa(isas[k]) != HITL_OK) continue;
            ck_assert_int_eq(score_rows(x, n, c, HITL_INPUT_PROBS, 0, res, NULL), HITL_OK);
            for (size_t i = 0; i < n; i++) {
                double ref[HITL_METHOD_COUNT];
                int32_t pred;
                reference(x + i * c, c, ref, &pred);
                ck_assert_msg(res[i].pred == pred, "isa %s c=%zu row %zu: pred %d, want %d",
                              isas[k], c, i, res[i].pred, pred);
                ck_assert_msg(res[i].s[HITL_METHOD_MARGIN] == 1.0f, "isa %s c=%zu row %zu: %g",
                              isas[k], c, i, res[i].s[HITL_METHOD_MARGIN]);
                for (int m = 0; m < HITL_METHOD_COUNT; m++)
                    ck_assert_msg(fabs(res[i].s[m] - ref[m]) <= 2e-6 * (1 + fabs(ref[m])),
                                  "isa %s c=%zu row %zu %s: %g vs %g", isas[k], c, i,
                                  hitl_method_name(m), res[i].s[m], ref[m]);
            }
        }
        free(res);
        free(x);
    }
    hitl_scores_set_isa("generic");
    hitl_scores_set_isa("avx2");
    hitl_scores_set_isa("avx512");
}
END_TEST

/* ln p plus any per-row constant gives the same softmax: the logits path equals the probs path. */
START_TEST(test_logits_equal_probs)
{
    static const size_t cs[] = {2, 10, 33, 1000};
    const size_t n = 150;
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    for (size_t ci = 0; ci < 4; ci++) {
        size_t c = cs[ci];
        float *p = malloc(n * c * sizeof(float)), *z = malloc(n * c * sizeof(float));
        row_scores *rp = malloc(n * sizeof(*rp)), *rz = malloc(n * sizeof(*rz));
        tu_random_probs(&rng, p, n, c);
        for (size_t i = 0; i < n; i++) {
            double shift = 20 * tu_rng_uniform(&rng) - 10;
            for (size_t j = 0; j < c; j++)
                z[i * c + j] = (float)(log(p[i * c + j]) + shift);
        }
        ck_assert_int_eq(score_rows(p, n, c, HITL_INPUT_PROBS, 0, rp, NULL), HITL_OK);
        for (size_t k = 0; k < 3; k++) {
            if (hitl_scores_set_isa(isas[k]) != HITL_OK) continue;
            ck_assert_int_eq(score_rows(z, n, c, HITL_INPUT_LOGITS, 0, rz, NULL), HITL_OK);
            for (size_t i = 0; i < n; i++) {
                for (int m = 0; m < HITL_METHOD_COUNT; m++)
                    ck_assert_msg(fabs(rz[i].s[m] - rp[i].s[m]) <= 1e-6 * (1 + fabs(rp[i].s[m])),
                                  "isa %s c=%zu row %zu %s: %.9g vs %.9g", isas[k], c, i,
                                  hitl_method_name(m), rz[i].s[m], rp[i].s[m]);
                ck_assert_int_eq(rz[i].pred, rp[i].pred);
            }
        }
        free(p);
        free(z);
        free(rp);
        free(rz);
    }
}
END_TEST

/* softmax(z / T) computed in double against the engine's temperature. */
START_TEST(test_logits_temperature)
{
    const float z[] = {2.0f, 0.5f, -1.0f, 1.5f};
    const double t = 2.5;
    double e[4], s = 0;
    for (int j = 0; j < 4; j++)
        s += (e[j] = exp(z[j] / t));
    double p[4];
    float pf[4];
    for (int j = 0; j < 4; j++)
        pf[j] = (float)(p[j] = e[j] / s);
    double ref[HITL_METHOD_COUNT];
    int32_t pred;
    reference(pf, 4, ref, &pred);
    float sc[HITL_METHOD_COUNT][1];
    int32_t got_pred = -1;
    hitl_score_opts o = {
        .kind = HITL_INPUT_LOGITS, .methods = HITL_METHODS_ALL, .temperature = (float)t};
    hitl_score_out out = {{sc[0], sc[1], sc[2], sc[3]}, &got_pred, NULL};
    ck_assert_int_eq(hitl_scores_compute(&o, z, 1, 4, 0, &out, NULL, NULL), HITL_OK);
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        ck_assert_double_eq_tol(sc[m][0], ref[m], 1e-6);
    ck_assert_int_eq(got_pred, pred);
    ck_assert_int_eq(got_pred, 0);
}
END_TEST

/* Only the requested methods are written. */
START_TEST(test_only_requested_methods)
{
    const float row[] = {0.6f, 0.4f};
    float sc[HITL_METHOD_COUNT] = {-7, -7, -7, -7};
    hitl_score_opts o = {.kind = HITL_INPUT_PROBS, .methods = HITL_METHOD_BIT(HITL_METHOD_MARGIN)};
    hitl_score_out out = {{&sc[0], &sc[1], &sc[2], &sc[3]}, NULL, NULL};
    ck_assert_int_eq(hitl_scores_compute(&o, row, 1, 2, 0, &out, NULL, NULL), HITL_OK);
    ck_assert_float_eq(sc[HITL_METHOD_LC], -7);
    ck_assert_float_eq_tol(sc[HITL_METHOD_MARGIN], 0.8f, 1e-6f);
    ck_assert_float_eq(sc[HITL_METHOD_ENTROPY], -7);
}
END_TEST

START_TEST(test_one_class_refused)
{
    const float row[] = {1.0f};
    hitl_error err;
    ck_assert_int_eq(score_rows(row, 1, 1, HITL_INPUT_PROBS, 0, NULL, &err), HITL_ESHAPE);
    ck_assert_ptr_nonnull(strstr(err.msg, "at least 2 classes"));
}
END_TEST

START_TEST(test_empty_block)
{
    ck_assert_int_eq(score_rows(NULL, 0, 5, HITL_INPUT_PROBS, 0, NULL, NULL), HITL_OK);
}
END_TEST

/* A bad value at row 77, column `col`, of 130 rows of `c` classes, seen at row offset 1000. */
static void check_bad_at(float value, hitl_input_kind kind, const char *why, size_t c, size_t col)
{
    const size_t n = 130;
    float *x = malloc(n * c * sizeof(float));
    for (size_t i = 0; i < n * c; i++)
        x[i] = kind == HITL_INPUT_PROBS ? 1.0f / (float)c : 0.5f;
    x[77 * c + col] = value;
    float sc[130];
    hitl_score_opts o = {.kind = kind, .methods = HITL_METHOD_BIT(HITL_METHOD_MARGIN)};
    hitl_score_out out = {{NULL, sc, NULL, NULL}, NULL, NULL};
    hitl_error err;
    hitl_error_clear(&err);
    ck_assert_int_eq(hitl_scores_compute(&o, x, n, c, 1000, &out, NULL, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 1077);
    ck_assert_msg(strstr(err.msg, "row 1077") && strstr(err.msg, why), "c=%zu col %zu: %s", c, col,
                  err.msg);
    free(x);
}

/* The same in narrow rows (the tile path) and wide ones (the row path, with a tail), at the
 * first, a middle and the last column, in every kernel. */
static void check_bad(float value, hitl_input_kind kind, const char *why)
{
    static const size_t cs[] = {3, 33, 1000, 1001};
    for (size_t k = 0; k < 3; k++) {
        if (hitl_scores_set_isa(isas[k]) != HITL_OK) continue;
        for (size_t ci = 0; ci < 4; ci++) {
            size_t c = cs[ci], cols[3] = {0, c / 2, c - 1};
            for (int j = 0; j < 3; j++)
                check_bad_at(value, kind, why, c, cols[j]);
        }
    }
    hitl_scores_set_isa("generic");
    hitl_scores_set_isa("avx2");
    hitl_scores_set_isa("avx512");
}

START_TEST(test_bad_rows_named)
{
    check_bad(NAN, HITL_INPUT_PROBS, "NaN");
    check_bad(INFINITY, HITL_INPUT_PROBS, "infinite");
    check_bad(-0.1f, HITL_INPUT_PROBS, "negative");
    check_bad(0.9f, HITL_INPUT_PROBS, "sum to");
    check_bad(NAN, HITL_INPUT_LOGITS, "NaN");
    check_bad(-INFINITY, HITL_INPUT_LOGITS, "infinite");
    check_bad(INFINITY, HITL_INPUT_LOGITS, "infinite");
}
END_TEST

/* Within the tolerance passes, just past it fails. */
START_TEST(test_sum_tolerance)
{
    float row[] = {0.5f, 0.5009f};
    float sc[1];
    hitl_score_opts o = {.kind = HITL_INPUT_PROBS, .methods = HITL_METHOD_BIT(HITL_METHOD_LC)};
    hitl_score_out out = {{sc, NULL, NULL, NULL}, NULL, NULL};
    ck_assert_int_eq(hitl_scores_compute(&o, row, 1, 2, 0, &out, NULL, NULL), HITL_OK);
    row[1] = 0.5011f;
    ck_assert_int_eq(hitl_scores_compute(&o, row, 1, 2, 0, &out, NULL, NULL), HITL_EDATA);
}
END_TEST

/* --renormalize: off-sum rows rescaled, impossible rows skipped with NaN scores. */
START_TEST(test_renormalize)
{
    float x[4 * 3] = {2,    6,    2, /* sums to 10: becomes .2 .6 .2 */
                      0.2f, 0.6f, 0.2f, NAN, 0.5f, 0.5f, 0, 0, 0};
    float sc[HITL_METHOD_COUNT][4];
    int32_t pred[4];
    hitl_score_opts o = {.kind = HITL_INPUT_PROBS, .methods = HITL_METHODS_ALL, .renormalize = 1};
    hitl_score_out out = {{sc[0], sc[1], sc[2], sc[3]}, pred, NULL};
    size_t skipped = 0;
    ck_assert_int_eq(hitl_scores_compute(&o, x, 4, 3, 0, &out, &skipped, NULL), HITL_OK);
    ck_assert_uint_eq(skipped, 2);
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        ck_assert_double_eq_tol(sc[m][0], sc[m][1], 1e-6);
        ck_assert(isnan(sc[m][2]) && isnan(sc[m][3]));
    }
    ck_assert_int_eq(pred[0], 1);
    ck_assert_int_eq(pred[2], -1);
}
END_TEST

START_TEST(test_bad_temperature)
{
    const float z[] = {1, 2};
    float sc[1];
    hitl_score_opts o = {.kind = HITL_INPUT_LOGITS, .methods = 1, .temperature = -1};
    hitl_score_out out = {{sc, NULL, NULL, NULL}, NULL, NULL};
    ck_assert_int_eq(hitl_scores_compute(&o, z, 1, 2, 0, &out, NULL, NULL), HITL_EINVAL);
}
END_TEST

START_TEST(test_method_names)
{
    hitl_method m;
    for (int k = 0; k < HITL_METHOD_COUNT; k++) {
        ck_assert_int_eq(hitl_method_parse(hitl_method_name(k), &m), HITL_OK);
        ck_assert_int_eq(m, k);
    }
    ck_assert_int_eq(hitl_method_parse("bald", &m), HITL_EINVAL);
    ck_assert_str_eq(hitl_status_str(HITL_EDATA), "bad data");
    ck_assert_str_eq(hitl_status_str((hitl_status)999), "unknown status");
}
END_TEST

static Suite *uncertainty_suite(void)
{
    Suite *s = suite_create("engine_uncertainty");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_golden_three_classes);
    tcase_add_test(core, test_golden_tie);
    tcase_add_test(core, test_golden_one_hot);
    tcase_add_test(core, test_golden_two_classes);
    tcase_add_test(core, test_golden_uniform);
    tcase_add_test(core, test_kernels_match_reference);
    tcase_add_test(core, test_wide_row_ties);
    tcase_add_test(core, test_logits_equal_probs);
    tcase_add_test(core, test_logits_temperature);
    tcase_add_test(core, test_only_requested_methods);
    tcase_add_test(core, test_method_names);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_empty_block);
    tcase_add_test(limits, test_sum_tolerance);
    tcase_add_test(limits, test_renormalize);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_one_class_refused);
    tcase_add_test(errors, test_bad_rows_named);
    tcase_add_test(errors, test_bad_temperature);
    suite_add_tcase(s, errors);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(uncertainty_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
