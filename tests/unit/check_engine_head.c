/* Unit tests for the linear head: the sgemm path against a plain triple loop on random data,
 * with and without bias, for shapes that are not multiples of any blocking. */
#include <check.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "hitl_engine.h"
#include "testutil.h"

static void check_shape(size_t n, size_t d, size_t c, int with_bias)
{
    tu_rng rng;
    tu_rng_seed(&rng, n * 31 + d * 7 + c);
    float *x = malloc(n * d * sizeof(float)), *w = malloc(d * c * sizeof(float));
    float *b = malloc(c * sizeof(float)), *z = malloc(n * c * sizeof(float));
    for (size_t i = 0; i < n * d; i++)
        x[i] = (float)(tu_rng_uniform(&rng) * 2 - 1);
    for (size_t i = 0; i < d * c; i++)
        w[i] = (float)(tu_rng_uniform(&rng) * 2 - 1);
    for (size_t i = 0; i < c; i++)
        b[i] = (float)(tu_rng_uniform(&rng) * 4 - 2);
    ck_assert_int_eq(hitl_head_logits(x, n, d, w, with_bias ? b : NULL, c, z, NULL), HITL_OK);
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < c; j++) {
            double ref = with_bias ? b[j] : 0;
            for (size_t k = 0; k < d; k++)
                ref += (double)x[i * d + k] * w[k * c + j];
            /* float32 dot products of length d: error grows like sqrt(d) ulp */
            ck_assert_msg(fabs(z[i * c + j] - ref) <= 1e-5 * (1 + sqrt((double)d) * 4),
                          "n=%zu d=%zu c=%zu [%zu,%zu]: %g vs %g", n, d, c, i, j, z[i * c + j],
                          ref);
        }
    }
    free(x);
    free(w);
    free(b);
    free(z);
}

START_TEST(test_sgemm_matches_loop)
{
    check_shape(1, 1, 2, 1);
    check_shape(17, 64, 10, 1);
    check_shape(257, 33, 7, 0);
    check_shape(1000, 512, 10, 1);
    check_shape(64, 768, 1000, 1);
}
END_TEST

/* Turning BLAS down to one thread (as the score pass does around its own threads) leaves
 * OpenMP's default team alone: OpenBLAS's OpenMP build sets that too, and a parallel region
 * after the call would then run on one thread. */
START_TEST(test_blas_threads_keep_openmp_team)
{
    omp_set_num_threads(3);
    int before = hitl_blas_set_threads(1);
    ck_assert_int_eq(omp_get_max_threads(), 3);
    ck_assert_int_eq(hitl_blas_set_threads(before), 1);
    ck_assert_int_eq(omp_get_max_threads(), 3);
    check_shape(64, 768, 1000, 1);
}
END_TEST

START_TEST(test_head_errors)
{
    float x[4] = {0}, w[4] = {0}, z[4];
    ck_assert_int_eq(hitl_head_logits(x, 0, 2, w, NULL, 2, z, NULL), HITL_OK);
    hitl_error err;
    ck_assert_int_eq(hitl_head_logits(x, 2, 0, w, NULL, 2, z, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_head_logits(NULL, 2, 2, w, NULL, 2, z, &err), HITL_EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_head");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_sgemm_matches_loop);
    tcase_add_test(core, test_blas_threads_keep_openmp_team);
    suite_add_tcase(s, core);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_head_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
