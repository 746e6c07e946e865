/* Unit tests for the streaming score pass: identical results for every block size and thread
 * count, the earliest bad row reported whatever the slice order, and no score file left behind
 * by a failed pass. */
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hitl_io.h"
#include "testutil.h"

#define N 30011
#define C 5

/* Writes probs [N, C] (contiguous) to path:/probs; bad rows (if any) get a NaN. */
static void write_pool(const char *path, const size_t *bad, size_t nbad)
{
    tu_rng rng;
    tu_rng_seed(&rng, 99);
    float *x = malloc(sizeof(float) * N * C);
    tu_random_probs(&rng, x, N, C);
    for (size_t i = 0; i < nbad; i++)
        x[bad[i] * C + 1] = NAN;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    hsize_t dims[2] = {N, C};
    hid_t sp = H5Screate_simple(2, dims, NULL);
    hid_t d = H5Dcreate2(f, "probs", H5T_NATIVE_FLOAT, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Dwrite(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, x) >= 0);
    H5Dclose(d);
    H5Sclose(sp);
    H5Fclose(f);
    free(x);
}

/* Field by field: the struct has padding. */
static void check_same_rows(const hitl_scored *a, const hitl_scored *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(a[i].row, b[i].row);
        ck_assert_float_eq(a[i].score, b[i].score);
        ck_assert_float_eq(a[i].p1, b[i].p1);
        ck_assert_int_eq(a[i].pred, b[i].pred);
    }
}

static hitl_score_pass_opts base_opts(const char *path)
{
    hitl_score_pass_opts o = {.path = path, .dset = "probs", .kind = HITL_POOL_PROBS};
    o.score.methods = HITL_METHODS_ALL;
    o.rank_by = HITL_METHOD_ENTROPY;
    o.top_k = 250;
    o.use_threshold = 1;
    o.threshold = 1.4f;
    return o;
}

START_TEST(test_same_for_any_block_and_threads)
{
    char path[512];
    snprintf(path, sizeof(path), "%s", tu_tmp_path("pass.h5"));
    write_pool(path, NULL, 0);
    static const size_t blocks[] = {0, 1, 999, 4096, N};
    static const int threads[] = {1, 2, 3};
    hitl_score_pass_result first;
    int have_first = 0;
    for (size_t bi = 0; bi < 5; bi++) {
        for (size_t ti = 0; ti < 3; ti++) {
            if (blocks[bi] == 1 && threads[ti] != 2) continue; /* slow; one run is enough */
            hitl_score_pass_opts o = base_opts(path);
            o.block_rows = blocks[bi];
            o.threads = threads[ti];
            hitl_score_pass_result r;
            hitl_error err;
            ck_assert_int_eq(hitl_score_pass(&o, &r, &err), HITL_OK);
            ck_assert_uint_eq(r.n_rows, N);
            ck_assert_uint_eq(r.n_classes, C);
            if (!have_first) {
                first = r;
                have_first = 1;
                ck_assert_uint_eq(r.n_top[HITL_METHOD_ENTROPY], 250);
                ck_assert_uint_gt(r.above.n, 0);
                continue;
            }
            for (int m = 0; m < HITL_METHOD_COUNT; m++) {
                ck_assert_uint_eq(r.n_top[m], first.n_top[m]);
                check_same_rows(r.top[m], first.top[m], r.n_top[m]);
            }
            ck_assert_uint_eq(r.above.n, first.above.n);
            check_same_rows(r.above.v, first.above.v, r.above.n);
            hitl_score_pass_result_release(&r);
        }
    }
    /* the threshold rows are every row above it, best first */
    for (size_t i = 0; i < first.above.n; i++) {
        ck_assert_float_gt(first.above.v[i].score, 1.4f);
        if (i) ck_assert(hitl_scored_before(&first.above.v[i - 1], &first.above.v[i]));
    }
    hitl_score_pass_result_release(&first);
    unlink(path);
}
END_TEST

START_TEST(test_earliest_bad_row_reported)
{
    char path[512], out[512];
    snprintf(path, sizeof(path), "%s", tu_tmp_path("bad.h5"));
    snprintf(out, sizeof(out), "%s", tu_tmp_path("bad-out.h5"));
    const size_t bad[] = {29000, 17777, 5003};
    write_pool(path, bad, 3);
    for (int threads = 1; threads <= 3; threads++) {
        hitl_score_pass_opts o = base_opts(path);
        o.threads = threads;
        o.block_rows = 6000;
        o.out_path = out;
        hitl_score_pass_result r;
        hitl_error err;
        hitl_error_clear(&err);
        ck_assert_int_eq(hitl_score_pass(&o, &r, &err), HITL_EDATA);
        ck_assert_int_eq(err.row, 5003);
        ck_assert_msg(strstr(err.msg, "row 5003") && strstr(err.msg, "/probs"), "%s", err.msg);
        ck_assert_int_ne(access(out, F_OK), 0); /* no half-written score file */
    }
    hitl_score_pass_opts o = base_opts(path);
    o.score.renormalize = 1;
    hitl_score_pass_result r;
    ck_assert_int_eq(hitl_score_pass(&o, &r, NULL), HITL_OK);
    ck_assert_uint_eq(r.n_skipped, 3);
    ck_assert_int_eq(r.first_skipped, 5003);
    for (size_t i = 0; i < r.n_top[HITL_METHOD_ENTROPY]; i++) {
        int64_t row = r.top[HITL_METHOD_ENTROPY][i].row;
        ck_assert(row != 5003 && row != 17777 && row != 29000);
    }
    hitl_score_pass_result_release(&r);
    unlink(path);
}
END_TEST

START_TEST(test_rank_by_must_be_computed)
{
    hitl_score_pass_opts o = base_opts("unused.h5");
    o.score.methods = HITL_METHOD_BIT(HITL_METHOD_LC);
    hitl_score_pass_result r;
    ck_assert_int_eq(hitl_score_pass(&o, &r, NULL), HITL_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io_score_pass");
    TCase *core = tcase_create("core");
    tcase_set_timeout(core, 120);
    tcase_add_test(core, test_same_for_any_block_and_threads);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_earliest_bad_row_reported);
    tcase_add_test(errors, test_rank_by_must_be_computed);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
