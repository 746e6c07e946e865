/* Unit tests for the seeded generator: the published xoshiro256** and splitmix64 test vectors
 * (the reference implementations' first outputs), and unbiased bounded draws. */
#include <check.h>
#include <stdlib.h>

#include "hitl_engine.h"

/* xoshiro256** from state {1, 2, 3, 4}: 11520, 0, 1509978240, 1215971899390074240. */
START_TEST(test_xoshiro_reference_vector)
{
    hitl_rng r = {{1, 2, 3, 4}};
    ck_assert_uint_eq(hitl_rng_next(&r), 11520u);
    ck_assert_uint_eq(hitl_rng_next(&r), 0u);
    ck_assert_uint_eq(hitl_rng_next(&r), 1509978240u);
    ck_assert_uint_eq(hitl_rng_next(&r), 1215971899390074240ull);
}
END_TEST

/* splitmix64 from 1234567: 6457827717110365317, 3203168211198807973, 9817491932198370423. */
START_TEST(test_splitmix_seeding)
{
    hitl_rng r;
    hitl_rng_seed(&r, 1234567);
    ck_assert_uint_eq(r.s[0], 6457827717110365317ull);
    ck_assert_uint_eq(r.s[1], 3203168211198807973ull);
    ck_assert_uint_eq(r.s[2], 9817491932198370423ull);
    /* a seed's stream is fixed forever: queues are reproduced from it */
    hitl_rng_seed(&r, 42);
    ck_assert_uint_eq(hitl_rng_next(&r), 1546998764402558742ull);
    ck_assert_uint_eq(hitl_rng_next(&r), 6990951692964543102ull);
}
END_TEST

/* 600,000 draws below 6: each face within 5 standard deviations of 100,000. */
START_TEST(test_below_uniform)
{
    hitl_rng r;
    hitl_rng_seed(&r, 7);
    long count[6] = {0};
    for (int i = 0; i < 600000; i++) {
        uint64_t v = hitl_rng_below(&r, 6);
        ck_assert_uint_lt(v, 6);
        count[v]++;
    }
    for (int k = 0; k < 6; k++)
        ck_assert_int_lt(labs(count[k] - 100000), 5 * 289);
    ck_assert_uint_eq(hitl_rng_below(&r, 0), 0);
    ck_assert_uint_eq(hitl_rng_below(&r, 1), 0);
    for (int i = 0; i < 1000; i++) {
        double u = hitl_rng_uniform(&r);
        ck_assert(u >= 0 && u < 1);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_rng");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_xoshiro_reference_vector);
    tcase_add_test(core, test_splitmix_seeding);
    tcase_add_test(core, test_below_uniform);
    suite_add_tcase(s, core);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
