/* Unit tests for top-k and threshold selection: equal to a full sort on random data for many
 * block sizes and any split across workers, ties to the lower row, NaN never ranked. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

/* Full sort of all rows: the truth top-k is compared with. */
static hitl_scored *sorted_all(const float *s, size_t n, size_t *kept)
{
    hitl_scored *v = malloc(n * sizeof(*v));
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(s[i])) continue;
        hitl_scored x = {s[i], 0, 0, (int64_t)i};
        v[m++] = x;
    }
    hitl_scored_sort(v, m);
    *kept = m;
    return v;
}

/* Random scores drawn from few values, so ties are common, plus some NaN. */
static float *tie_heavy_scores(tu_rng *rng, size_t n)
{
    float *s = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        uint64_t u = tu_rng_u64(rng);
        s[i] = (u % 97 == 0) ? NAN : (float)(u % 50) / 50.0f;
    }
    return s;
}

START_TEST(test_topk_equals_full_sort)
{
    const size_t n = 10007;
    static const size_t ks[] = {1, 5, 100, 1000, 20000};
    static const size_t blocks[] = {1, 7, 64, 1000, 10007};
    static const size_t workers[] = {1, 2, 3, 8};
    tu_rng rng;
    tu_rng_seed(&rng, 3);
    float *s = tie_heavy_scores(&rng, n);
    size_t m;
    hitl_scored *truth = sorted_all(s, n, &m);
    for (size_t ki = 0; ki < 5; ki++) {
        size_t k = ks[ki], want = k < m ? k : m;
        for (size_t bi = 0; bi < 5; bi++) {
            for (size_t wi = 0; wi < 4; wi++) {
                size_t nw = workers[wi], b = blocks[bi];
                hitl_topk part[8], all;
                for (size_t w = 0; w < nw; w++)
                    ck_assert_int_eq(hitl_topk_init(&part[w], k), 0);
                /* blocks dealt round-robin to workers, like a parallel loop */
                for (size_t r0 = 0, blk = 0; r0 < n; r0 += b, blk++) {
                    size_t len = n - r0 < b ? n - r0 : b;
                    hitl_topk_offer_block(&part[blk % nw], s + r0, NULL, NULL, len, (int64_t)r0);
                }
                ck_assert_int_eq(hitl_topk_init(&all, k), 0);
                for (size_t w = nw; w-- > 0;)
                    hitl_topk_merge(&all, &part[w]);
                hitl_scored *got = malloc((k ? k : 1) * sizeof(*got));
                ck_assert_uint_eq(hitl_topk_drain(&all, got), want);
                for (size_t i = 0; i < want; i++) {
                    ck_assert_int_eq(got[i].row, truth[i].row);
                    ck_assert_float_eq(got[i].score, truth[i].score);
                }
                free(got);
                for (size_t w = 0; w < nw; w++)
                    hitl_topk_release(&part[w]);
                hitl_topk_release(&all);
            }
        }
    }
    free(truth);
    free(s);
}
END_TEST

START_TEST(test_ties_to_lower_row)
{
    const float s[] = {0.5f, 0.9f, 0.5f, 0.9f, 0.1f};
    hitl_topk t;
    hitl_topk_init(&t, 3);
    /* offered in reverse order: the result must not depend on it */
    for (size_t i = 5; i-- > 0;)
        hitl_topk_offer_block(&t, s + i, NULL, NULL, 1, (int64_t)i);
    hitl_scored got[3];
    ck_assert_uint_eq(hitl_topk_drain(&t, got), 3);
    ck_assert_int_eq(got[0].row, 1);
    ck_assert_int_eq(got[1].row, 3);
    ck_assert_int_eq(got[2].row, 0);
    hitl_topk_release(&t);
}
END_TEST

START_TEST(test_pred_and_p1_carried)
{
    const float s[] = {0.1f, 0.8f};
    const int32_t pred[] = {4, 2};
    const float p1[] = {0.9f, 0.3f};
    hitl_topk t;
    hitl_topk_init(&t, 1);
    hitl_topk_offer_block(&t, s, pred, p1, 2, 100);
    hitl_scored got;
    ck_assert_uint_eq(hitl_topk_drain(&t, &got), 1);
    ck_assert_int_eq(got.row, 101);
    ck_assert_int_eq(got.pred, 2);
    ck_assert_float_eq(got.p1, 0.3f);
    hitl_topk_release(&t);
}
END_TEST

START_TEST(test_k_zero_and_nan)
{
    const float s[] = {NAN, NAN};
    hitl_topk t;
    ck_assert_int_eq(hitl_topk_init(&t, 0), HITL_OK);
    hitl_topk_offer_block(&t, s, NULL, NULL, 2, 0);
    ck_assert_uint_eq(t.n, 0);
    hitl_topk_release(&t);
    ck_assert_int_eq(hitl_topk_init(&t, 4), HITL_OK);
    hitl_topk_offer_block(&t, s, NULL, NULL, 2, 0);
    ck_assert_uint_eq(t.n, 0);
    hitl_topk_release(&t);
    hitl_topk_release(NULL);
}
END_TEST

START_TEST(test_threshold)
{
    const float s[] = {0.2f, 0.71f, NAN, 0.7f, 0.95f};
    hitl_scored_vec v = {0};
    ck_assert_int_eq(hitl_select_above(&v, s, NULL, NULL, 5, 10, 0.7f), HITL_OK);
    ck_assert_uint_eq(v.n, 2); /* strictly above: 0.7 itself proceeds */
    hitl_scored_sort(v.v, v.n);
    ck_assert_int_eq(v.v[0].row, 14);
    ck_assert_int_eq(v.v[1].row, 11);
    hitl_scored_vec_release(&v);
}
END_TEST

START_TEST(test_threshold_many)
{
    const size_t n = 100000;
    float *s = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++)
        s[i] = (float)(i % 1000) / 1000.0f;
    hitl_scored_vec v = {0};
    for (size_t r0 = 0; r0 < n; r0 += 999) {
        size_t len = n - r0 < 999 ? n - r0 : 999;
        ck_assert_int_eq(hitl_select_above(&v, s + r0, NULL, NULL, len, (int64_t)r0, 0.9f), 0);
    }
    ck_assert_uint_eq(v.n, 100 * 99); /* 0.901 .. 0.999 in each of 100 runs */
    hitl_scored_vec_release(&v);
    free(s);
}
END_TEST

/* Merging sorted lists as the MPI reduction does: rows split into contiguous ranges (a rank's),
 * each range's best k sorted, then merged pairwise in any order: always the whole pool's best k. */
START_TEST(test_merge_top_equals_full_sort)
{
    const size_t n = 5003;
    tu_rng rng;
    tu_rng_seed(&rng, 11);
    float *s = tie_heavy_scores(&rng, n);
    size_t m;
    hitl_scored *truth = sorted_all(s, n, &m);
    static const size_t ks[] = {1, 3, 64, 2000, 6000};
    static const size_t parts[] = {1, 2, 3, 7};
    for (size_t ki = 0; ki < 5; ki++) {
        for (size_t pi = 0; pi < 4; pi++) {
            size_t k = ks[ki], np = parts[pi], want = k < m ? k : m;
            hitl_scored *acc = malloc(k * sizeof(*acc)), *part = malloc(k * sizeof(*part));
            size_t n_acc = 0;
            for (size_t p = np; p-- > 0;) { /* the last range first: order must not matter */
                size_t r0 = n * p / np, r1 = n * (p + 1) / np;
                hitl_topk t;
                ck_assert_int_eq(hitl_topk_init(&t, k), 0);
                hitl_topk_offer_block(&t, s + r0, NULL, NULL, r1 - r0, (int64_t)r0);
                size_t n_part = hitl_topk_drain(&t, part);
                hitl_topk_release(&t);
                n_acc = hitl_scored_merge_top(acc, n_acc, part, n_part, k);
            }
            ck_assert_uint_eq(n_acc, want);
            for (size_t i = 0; i < want; i++) {
                ck_assert_int_eq(acc[i].row, truth[i].row);
                ck_assert_float_eq(acc[i].score, truth[i].score);
            }
            free(acc);
            free(part);
        }
    }
    /* an empty side, and k smaller than either list */
    hitl_scored a[3] = {{0.9f, 0, 0, 4}, {0.5f, 0, 0, 1}, {0.5f, 0, 0, 7}};
    hitl_scored b[2] = {{0.5f, 0, 0, 2}, {0.1f, 0, 0, 0}};
    ck_assert_uint_eq(hitl_scored_merge_top(a, 3, b, 0, 3), 3);
    ck_assert_uint_eq(hitl_scored_merge_top(a, 3, b, 2, 3), 3);
    ck_assert_int_eq(a[0].row, 4);
    ck_assert_int_eq(a[1].row, 1); /* 0.5 ties go to the lower row: 1, then 2 from b */
    ck_assert_int_eq(a[2].row, 2);
    free(truth);
    free(s);
}
END_TEST

static Suite *topk_suite(void)
{
    Suite *s = suite_create("engine_topk");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_topk_equals_full_sort);
    tcase_add_test(core, test_ties_to_lower_row);
    tcase_add_test(core, test_pred_and_p1_carried);
    tcase_add_test(core, test_threshold);
    tcase_add_test(core, test_merge_top_equals_full_sort);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_k_zero_and_nan);
    tcase_add_test(limits, test_threshold_many);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topk_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
