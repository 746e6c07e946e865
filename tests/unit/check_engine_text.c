/* Unit tests for the engine's text utilities: hitl_strmap (names interned into dense indices,
 * checked against a plain linear search) and hitl_buf (growth, formatting, the sticky oom). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"

/* 50,000 names, each interned twice in a shuffled order: the first sight numbers them 0, 1, ...
 * in order, the second returns the same index, find agrees, and names read back. */
START_TEST(test_strmap_dense_indices)
{
    hitl_strmap m = {0};
    enum { N = 50000 };
    char name[32];
    for (int i = 0; i < N; i++) {
        int len = snprintf(name, sizeof(name), "item-%d", i * 7919 % N);
        ck_assert_int_eq(hitl_strmap_intern(&m, name, (size_t)len), i);
    }
    ck_assert_uint_eq(m.n, N);
    for (int i = N - 1; i >= 0; i--) {
        int len = snprintf(name, sizeof(name), "item-%d", i * 7919 % N);
        ck_assert_int_eq(hitl_strmap_intern(&m, name, (size_t)len), i);
        ck_assert_int_eq(hitl_strmap_find(&m, name, (size_t)len), i);
        ck_assert_str_eq(hitl_strmap_name(&m, (size_t)i), name);
    }
    ck_assert_uint_eq(m.n, N);
    hitl_strmap_release(&m);
    ck_assert_ptr_null(m.arena);
}
END_TEST

/* A prefix, the empty name, bytes past len and names that differ in their last byte are all
 * told apart; find never adds. */
START_TEST(test_strmap_limits)
{
    hitl_strmap m = {0};
    ck_assert_int_eq(hitl_strmap_find(&m, "a", 1), -1); /* an empty map */
    ck_assert_int_eq(hitl_strmap_intern(&m, "abc", 3), 0);
    ck_assert_int_eq(hitl_strmap_intern(&m, "abcdef", 2), 1); /* "ab" */
    ck_assert_int_eq(hitl_strmap_intern(&m, "", 0), 2);
    ck_assert_int_eq(hitl_strmap_intern(&m, "abd", 3), 3);
    ck_assert_int_eq(hitl_strmap_find(&m, "ab", 2), 1);
    ck_assert_int_eq(hitl_strmap_find(&m, "a", 1), -1);
    ck_assert_int_eq(hitl_strmap_find(&m, "", 0), 2);
    ck_assert_str_eq(hitl_strmap_name(&m, 1), "ab");
    ck_assert_uint_eq(m.n, 4);
    hitl_strmap_release(&m);
    hitl_strmap_release(&m); /* a released map releases again */
}
END_TEST

START_TEST(test_buf_appends)
{
    hitl_buf b = {0};
    hitl_buf_puts(&b, "n=");
    hitl_buf_int(&b, -9223372036854775807LL - 1);
    hitl_buf_putc(&b, ' ');
    hitl_buf_printf(&b, "%s|%05.1f", "x", 3.14159);
    ck_assert_str_eq(b.p, "n=-9223372036854775808 x|003.1");
    ck_assert_uint_eq(b.n, strlen(b.p));
    /* a formatted piece longer than the small stack buffer */
    char big[300];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hitl_buf_reset(&b);
    hitl_buf_printf(&b, "<%s>", big);
    ck_assert_uint_eq(b.n, 301);
    ck_assert_int_eq(b.p[300], '>');
    hitl_buf_put(&b, "ab\0cd", 5); /* bytes, NUL included */
    ck_assert_uint_eq(b.n, 306);
    ck_assert_int_eq(b.p[306], '\0');
    ck_assert_int_eq(b.oom, 0);
    hitl_buf_release(&b);
}
END_TEST

/* A size no allocation can hold sets oom, and later appends do nothing until a reset. */
START_TEST(test_buf_oom_sticks)
{
    hitl_buf b = {0};
    hitl_buf_puts(&b, "kept");
    hitl_buf_put(&b, "x", SIZE_MAX / 2);
    ck_assert_int_eq(b.oom, 1);
    hitl_buf_puts(&b, "lost");
    ck_assert_str_eq(b.p, "kept");
    hitl_buf_reset(&b);
    ck_assert_int_eq(b.oom, 0);
    hitl_buf_puts(&b, "again");
    ck_assert_str_eq(b.p, "again");
    hitl_buf_release(&b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("engine_text");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_strmap_dense_indices);
    tcase_add_test(core, test_buf_appends);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_strmap_limits);
    tcase_add_test(limits, test_buf_oom_sticks);
    suite_add_tcase(s, limits);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
