/* Check tests for io/text.c: RFC 4180 quoting and reading (hand-made cases, then random fields
 * written and read back), JSON string quoting, and every malformed-input error. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "text_internal.h"

static const char *field(const char *s)
{
    static hitl_buf t;
    hitl_buf_release(&t);
    hitl__csv_field(&t, s);
    return t.p ? t.p : "";
}

static const char *jq(const char *s)
{
    static hitl_buf t;
    hitl_buf_release(&t);
    hitl__json_quote(&t, s);
    return t.p;
}

/* Reads `text` and checks the records against want (fields separated by '|', records by '\0'
 * in a list ending with NULL). */
static void expect_records(const char *text, const char *const *want)
{
    hitl__csv_reader r;
    hitl_error err;
    ck_assert_int_eq(hitl__csv_open_text(&r, text, strlen(text), &err), HITL_OK);
    for (size_t k = 0;; k++) {
        int got;
        ck_assert_int_eq(hitl__csv_next(&r, &got, &err), HITL_OK);
        if (!want[k]) {
            ck_assert_int_eq(got, 0);
            break;
        }
        ck_assert_int_eq(got, 1);
        char *copy = strdup(want[k]), *save = NULL;
        size_t i = 0;
        for (char *tok = strtok_r(copy, "|", &save); tok; tok = strtok_r(NULL, "|", &save), i++)
            ck_assert_str_eq(hitl__csv_get(&r, i), strcmp(tok, "<>") == 0 ? "" : tok);
        ck_assert_uint_eq(r.n_fields, i);
        free(copy);
    }
    hitl__csv_close(&r);
}

/* ---- core ---------------------------------------------------------------------------------- */

START_TEST(csv_quotes_only_when_needed)
{
    ck_assert_str_eq(field("plain text"), "plain text");
    ck_assert_str_eq(field(""), "");
    ck_assert_str_eq(field(NULL), "");
    ck_assert_str_eq(field("a,b"), "\"a,b\"");
    ck_assert_str_eq(field("say \"hi\""), "\"say \"\"hi\"\"\"");
    ck_assert_str_eq(field("two\nlines"), "\"two\nlines\"");
    ck_assert_str_eq(field("cr\r"), "\"cr\r\"");
    ck_assert_str_eq(field("\""), "\"\"\"\"");
    ck_assert_str_eq(field(" padded "), " padded "); /* spaces are data, not a reason to quote */
    ck_assert_str_eq(field("caf\xc3\xa9"), "caf\xc3\xa9");
}
END_TEST

START_TEST(json_quote_escapes)
{
    ck_assert_str_eq(jq("abc"), "\"abc\"");
    ck_assert_str_eq(jq(""), "\"\"");
    ck_assert_str_eq(jq("q\"b\\"), "\"q\\\"b\\\\\"");
    ck_assert_str_eq(jq("a\nb\tc\rd\be\ff"), "\"a\\nb\\tc\\rd\\be\\ff\"");
    ck_assert_str_eq(jq("\x01\x1f"), "\"\\u0001\\u001f\"");
    ck_assert_str_eq(jq("\xe2\x82\xac/"), "\"\xe2\x82\xac/\""); /* UTF-8 and '/' as they are */
}
END_TEST

START_TEST(float_text_round_trips_float32)
{
    hitl_buf t = {0};
    tu_rng rng;
    tu_rng_seed(&rng, 7);
    for (int i = 0; i < 10000; i++) {
        float v = (float)((tu_rng_uniform(&rng) - 0.5) * pow(10, (double)(i % 20) - 10));
        hitl_buf_reset(&t);
        hitl__text_float(&t, v);
        ck_assert_float_eq(strtof(t.p, NULL), v);
    }
    hitl_buf_reset(&t);
    hitl__text_float(&t, NAN);
    ck_assert_uint_eq(t.n, 0);
    hitl_buf_release(&t);
}
END_TEST

START_TEST(int_text_matches_printf)
{
    hitl_buf t = {0};
    char want[32];
    tu_rng rng;
    tu_rng_seed(&rng, 13);
    int64_t cases[] = {0, 1, -1, 9, 10, -10, INT64_MAX, INT64_MIN, 1234567890123LL};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]) + 1000; i++) {
        int64_t v =
            i < sizeof(cases) / sizeof(cases[0]) ? cases[i] : (int64_t)tu_rng_u64(&rng) >> (i % 60);
        hitl_buf_reset(&t);
        hitl_buf_int(&t, v);
        snprintf(want, sizeof(want), "%lld", (long long)v);
        ck_assert_str_eq(t.p, want);
    }
    hitl_buf_reset(&t);
    hitl__text_float(&t, -3.0); /* integral numbers print as integers */
    hitl__text_float(&t, 0.0);
    ck_assert_str_eq(t.p, "-30");
    hitl_buf_release(&t);
}
END_TEST

START_TEST(reader_rfc4180_cases)
{
    const char *want1[] = {"a|b|c", "1|<>|3", NULL};
    expect_records("a,b,c\r\n1,,3\r\n", want1);
    const char *want2[] = {"x,y|say \"hi\"|z", "two\nlines|end", NULL};
    expect_records("\"x,y\",\"say \"\"hi\"\"\",z\n\"two\nlines\",end", want2);
    const char *want3[] = {"id|v", "<>", "7|8", NULL}; /* BOM skipped, blank line kept */
    expect_records("\xef\xbb\xbfid,v\n\n7,8\n", want3);
    /* fuzz_text: a first field starting with U+F000-U+FEBF (0xEF, not 0xBB) is text, not a
     * broken byte order mark: U+FF71 (halfwidth katakana) and the reproducer's invalid 0xEF 0xDB */
    const char *want7[] = {"\xef\xbd\xb1"
                           "d|v",
                           "7|8", NULL};
    expect_records("\xef\xbd\xb1"
                   "d,v\n7,8\n",
                   want7);
    const char *want8[] = {"\xef\xdb"
                           "d7|x",
                           NULL};
    expect_records("\xef\xdb"
                   "d7,x\n",
                   want8);
    const char *want9[] = {"\xef", NULL};
    expect_records("\xef", want9);
    const char *want4[] = {"<>|<>", NULL};
    expect_records("\"\",\n", want4);
    const char *want5[] = {"a\"b|c", NULL}; /* a quote inside an unquoted field is data */
    expect_records("a\"b,c\r\n", want5);
    const char *want6[] = {"q|r", NULL};
    expect_records("\"q\",\"r\"\r\n", want6);
}
END_TEST

START_TEST(reader_counts_lines_in_quoted_fields)
{
    const char *text = "h\n\"a\nb\nc\"\nnext\n";
    hitl__csv_reader r;
    int got;
    ck_assert_int_eq(hitl__csv_open_text(&r, text, strlen(text), NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(r.record_line, 1);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(r.record_line, 2);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(r.record_line, 5);
    ck_assert_str_eq(hitl__csv_get(&r, 0), "next");
    hitl__csv_close(&r);
}
END_TEST

/* Random fields over an alphabet full of separators survive quoting and reading back, from a
 * file, with LF and CRLF records. */
START_TEST(random_fields_round_trip)
{
    static const char alphabet[] = "ab,\"\r\n x\xc3\xa9;";
    tu_rng rng;
    tu_rng_seed(&rng, 11);
    enum { RECORDS = 500, FIELDS = 6 };
    char *values[RECORDS][FIELDS];
    hitl_buf out = {0};
    for (int i = 0; i < RECORDS; i++) {
        for (int j = 0; j < FIELDS; j++) {
            size_t len = tu_rng_u64(&rng) % 12;
            char *v = malloc(len + 1);
            for (size_t k = 0; k < len; k++)
                v[k] = alphabet[tu_rng_u64(&rng) % (sizeof(alphabet) - 1)];
            v[len] = '\0';
            values[i][j] = v;
            if (j) hitl_buf_putc(&out, ',');
            hitl__csv_field(&out, v);
        }
        hitl_buf_puts(&out, i % 2 ? "\r\n" : "\n");
    }
    const char *path = tu_tmp_path("roundtrip.csv");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(out.p, 1, out.n, f), out.n);
    fclose(f);
    hitl__csv_reader r;
    ck_assert_int_eq(hitl__csv_open(&r, path, NULL), HITL_OK);
    for (int i = 0; i < RECORDS; i++) {
        int got;
        ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
        ck_assert_int_eq(got, 1);
        ck_assert_uint_eq(r.n_fields, FIELDS);
        for (int j = 0; j < FIELDS; j++) {
            ck_assert_str_eq(hitl__csv_get(&r, (size_t)j), values[i][j]);
            free(values[i][j]);
        }
    }
    int got;
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(got, 0);
    hitl__csv_close(&r);
    hitl_buf_release(&out);
    unlink(path);
}
END_TEST

/* ---- limits -------------------------------------------------------------------------------- */

START_TEST(long_fields_and_many_columns)
{
    size_t big = (size_t)1 << 20;
    hitl_buf t = {0};
    hitl_buf_putc(&t, '"');
    for (size_t i = 0; i < big; i++)
        hitl_buf_putc(&t, i % 1000 == 999 ? '\n' : (char)('a' + i % 26));
    hitl_buf_puts(&t, "\"");
    for (int i = 0; i < 10000; i++)
        hitl_buf_puts(&t, ",c");
    hitl_buf_putc(&t, '\n');
    ck_assert(!t.oom);
    hitl__csv_reader r;
    int got;
    ck_assert_int_eq(hitl__csv_open_text(&r, t.p, t.n, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_uint_eq(r.n_fields, 10001);
    ck_assert_uint_eq(strlen(hitl__csv_get(&r, 0)), big);
    ck_assert_str_eq(hitl__csv_get(&r, 10000), "c");
    ck_assert_str_eq(hitl__csv_get(&r, 10001), ""); /* past the end */
    hitl__csv_close(&r);
    hitl_buf_release(&t);
}
END_TEST

START_TEST(empty_input)
{
    hitl__csv_reader r;
    int got = 1;
    ck_assert_int_eq(hitl__csv_open_text(&r, "", 0, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(got, 0);
    hitl__csv_close(&r);
}
END_TEST

START_TEST(text_printf_grows)
{
    hitl_buf t = {0};
    char big[600];
    memset(big, 'z', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    hitl_buf_printf(&t, "[%s]%d", big, 42);
    ck_assert_uint_eq(t.n, strlen(big) + 4);
    ck_assert_str_eq(t.p + t.n - 3, "]42");
    hitl_buf_release(&t);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

static void expect_error(const char *text, hitl_status want, const char *msg_part)
{
    hitl__csv_reader r;
    hitl_error err;
    hitl_error_clear(&err);
    int got;
    hitl_status st = hitl__csv_open_text(&r, text, strlen(text), &err);
    while (st == HITL_OK && (st = hitl__csv_next(&r, &got, &err)) == HITL_OK && got)
        ;
    ck_assert_int_eq(st, want);
    ck_assert_msg(strstr(err.msg, msg_part), "message '%s' lacks '%s'", err.msg, msg_part);
    hitl__csv_close(&r);
}

START_TEST(malformed_input)
{
    expect_error("a,b\n\"open,\nstill open", HITL_EDATA, "line 2: a quoted field is never closed");
    expect_error("a,b\nok,1\n\"q\"x,2\n", HITL_EDATA, "line 3: text after the closing quote");
    expect_error("\xef\xbb"
                 "x,y\n",
                 HITL_EDATA, "line 1: a broken byte order mark");
}
END_TEST

START_TEST(missing_file)
{
    hitl__csv_reader r;
    hitl_error err;
    ck_assert_int_eq(hitl__csv_open(&r, "/nonexistent/x.csv", &err), HITL_EIO);
    ck_assert_ptr_nonnull(strstr(err.msg, "cannot open '/nonexistent/x.csv'"));
    hitl__csv_close(&r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("io_text");
    TCase *core = tcase_create("core");
    tcase_add_test(core, csv_quotes_only_when_needed);
    tcase_add_test(core, json_quote_escapes);
    tcase_add_test(core, float_text_round_trips_float32);
    tcase_add_test(core, int_text_matches_printf);
    tcase_add_test(core, reader_rfc4180_cases);
    tcase_add_test(core, reader_counts_lines_in_quoted_fields);
    tcase_add_test(core, random_fields_round_trip);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, long_fields_and_many_columns);
    tcase_add_test(limits, empty_input);
    tcase_add_test(limits, text_printf_grows);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, malformed_input);
    tcase_add_test(errors, missing_file);
    suite_add_tcase(s, errors);
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
