/* Check tests for io/files/text.c: RFC 4180 and JSON quoting; the CSV/TSV reader one rule at a
 * time on hand-made records (fields and lines worked out by hand), then random fields written
 * and read back from blocks, its limits, and every malformed-input error with its line. */
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

/* Reads `len` bytes of `text` with options `o` (NULL: the defaults) and checks the records
 * against want, a NULL-terminated list of records, each its fields joined by '|' ("" is one
 * empty field: a blank line), and, when lines is not NULL, the line each record starts on. */
static void expect_records_n(const hitl__csv_opts *o, const char *text, size_t len,
                             const char *const *want, const int64_t *lines)
{
    hitl__csv_reader r;
    hitl_error err;
    ck_assert_int_eq(hitl__csv_open_text(&r, text, len, o, &err), HITL_OK);
    for (size_t k = 0;; k++) {
        int got;
        hitl_status st = hitl__csv_next(&r, &got, &err);
        ck_assert_msg(st == HITL_OK, "record %zu: '%s'", k, err.msg);
        if (!want[k]) {
            ck_assert_int_eq(got, 0);
            break;
        }
        ck_assert_int_eq(got, 1);
        size_t i = 0;
        for (const char *f = want[k];; i++) {
            const char *bar = strchr(f, '|');
            size_t n = bar ? (size_t)(bar - f) : strlen(f);
            ck_assert_msg(i < r.n_fields, "record %zu: %zu fields, want more", k, r.n_fields);
            const char *got_f = hitl__csv_get(&r, i);
            ck_assert_msg(strlen(got_f) == n && memcmp(got_f, f, n) == 0,
                          "record %zu field %zu: '%s', want '%.*s'", k, i, got_f, (int)n, f);
            if (!bar) break;
            f = bar + 1;
        }
        ck_assert_uint_eq(r.n_fields, i + 1);
        if (lines) ck_assert_int_eq(r.record_line, lines[k]);
    }
    hitl__csv_close(&r);
}

static void expect_records(const char *text, const char *const *want, const int64_t *lines)
{
    expect_records_n(NULL, text, strlen(text), want, lines);
}

/* Reads `len` bytes of `text` with options `o` to the end, as text and from a file: both must
 * give exactly `msg` ("'<text>' line N: ...", the file's name in its place), or read when msg
 * is NULL. */
static void expect_error_n(const hitl__csv_opts *o, const char *text, size_t len, const char *msg)
{
    const char *path = tu_tmp_path("bad.csv");
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
    for (int from_file = 0; from_file < 2; from_file++) {
        hitl__csv_reader r;
        hitl_error err;
        hitl_error_clear(&err);
        int got;
        hitl_status st = from_file ? hitl__csv_open(&r, path, o, &err)
                                   : hitl__csv_open_text(&r, text, len, o, &err);
        while (st == HITL_OK && (st = hitl__csv_next(&r, &got, &err)) == HITL_OK && got)
            ;
        hitl__csv_close(&r);
        if (!msg) {
            ck_assert_msg(st == HITL_OK, "unexpected '%s'", err.msg);
            continue;
        }
        ck_assert_int_eq(st, HITL_EDATA);
        char want[512];
        if (from_file)
            snprintf(want, sizeof(want), "'%s'%s", path, msg + strlen("'<text>'"));
        else
            snprintf(want, sizeof(want), "%s", msg);
        ck_assert_str_eq(err.msg, want);
    }
    unlink(path);
}

static void expect_error(const char *text, const char *msg)
{
    expect_error_n(NULL, text, strlen(text), msg);
}

#define LIT(s) s, sizeof(s) - 1 /* a literal that may hold NUL bytes, and its length */

static const hitl__csv_opts strict = {',', 1}, tsv = {'\t', 0}, strict_tsv = {'\t', 1};

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

/* ---- the reader, one rule at a time ------------------------------------------------------- */

/* Fields split at commas; an empty field between two commas, or at the end, is "". */
START_TEST(reader_splits_fields_at_commas)
{
    const char *want[] = {"a|b|c", "1||3", "x||", NULL};
    const int64_t lines[] = {1, 2, 3};
    expect_records("a,b,c\n1,,3\nx,,\n", want, lines);
}
END_TEST

/* A quoted field holds the delimiter, a doubled quote (one quote) and a line break; the next
 * record starts on the line after the break. */
START_TEST(reader_quoted_field_doubled_quote_and_newline)
{
    const char *want[] = {"id|text", "7|say \"hi\",\nthen go", "8|\"", NULL};
    const int64_t lines[] = {1, 2, 4};
    expect_records("id,text\n7,\"say \"\"hi\"\",\nthen go\"\n8,\"\"\"\"\n", want, lines);
}
END_TEST

/* CRLF ends a record and leaves no CR in the last field; inside quotes it is data. */
START_TEST(reader_crlf_ends_records)
{
    const char *want[] = {"a|b", "c|d\r\ne", "f|", NULL};
    const int64_t lines[] = {1, 2, 4};
    expect_records("a,b\r\nc,\"d\r\ne\"\r\nf,\r\n", want, lines);
}
END_TEST

/* A lone CR ends a record and a line, as Python's csv module reads it; inside quotes it is
 * data and no line. */
START_TEST(reader_lone_cr_ends_records)
{
    const char *want[] = {"a", "b|c", "", "d\re|f", NULL};
    const int64_t lines[] = {1, 2, 3, 4};
    expect_records("a\rb,c\r\r\"d\re\",f\r", want, lines);
}
END_TEST

/* The last record needs no line end; a blank line is one empty field (hitl__csv_blank). */
START_TEST(reader_last_record_and_blank_lines)
{
    const char *want[] = {"h|v", "", "", "x|y", NULL};
    const int64_t lines[] = {1, 2, 3, 4};
    expect_records("h,v\n\r\n\nx,y", want, lines);
    hitl__csv_reader r;
    int got;
    ck_assert_int_eq(hitl__csv_open_text(&r, LIT("h\n\n,\n"), NULL, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert(!hitl__csv_blank(&r));
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert(hitl__csv_blank(&r));
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert(!hitl__csv_blank(&r)); /* two empty fields */
    hitl__csv_close(&r);
}
END_TEST

/* A UTF-8 byte order mark before the first field is skipped; 0xEF not followed by 0xBB starts
 * text (U+F000-U+FEBF, or not UTF-8 at all). */
START_TEST(reader_skips_byte_order_mark)
{
    const char *want1[] = {"id|v", "7|8", NULL};
    expect_records("\xef\xbb\xbfid,v\n7,8\n", want1, NULL);
    const char *want2[] = {"\xef\xbd\xb1"
                           "d|v",
                           NULL}; /* U+FF71, halfwidth katakana */
    expect_records("\xef\xbd\xb1"
                   "d,v\n",
                   want2, NULL);
    const char *want3[] = {"\xef\xdb"
                           "d7|x",
                           NULL}; /* fuzz_text's reproducer: invalid UTF-8 */
    expect_records("\xef\xdb"
                   "d7,x\n",
                   want3, NULL);
    const char *want4[] = {"\xef", NULL};
    expect_records("\xef", want4, NULL);
    const char *want5[] = {"a|\xef\xbb\xbf", NULL}; /* only at the start */
    expect_records("a,\xef\xbb\xbf", want5, NULL);
}
END_TEST

/* A quote inside an unquoted field is text by default, an error when strict; a field that
 * starts with a quote is quoted in both. */
START_TEST(reader_stray_quote_lenient_or_strict)
{
    const char *want1[] = {"a\"b|c\"", NULL};
    expect_records("a\"b,c\"\r\n", want1, NULL);
    const char *want2[] = {"q\"r|s|", NULL};
    expect_records_n(&strict, LIT("\"q\"\"r\",s,\n"), want2, NULL);
    expect_error_n(&strict, LIT("a,b\r\n1,x\"y\r\n"),
                   "'<text>' line 2: a quote inside an unquoted field (quote the field and double "
                   "the quote)");
}
END_TEST

/* A tab as the delimiter (Label Studio's TSV): commas are text, a quoted field holds tabs. */
START_TEST(reader_tab_delimiter)
{
    const char *want1[] = {"a|b,c|x\ty", "|", NULL};
    expect_records_n(&tsv, LIT("a\tb,c\t\"x\ty\"\r\n\t\n"), want1, NULL);
    const char *want2[] = {"q\"r|s|", NULL};
    expect_records_n(&strict_tsv, LIT("\"q\"\"r\"\ts\t\n"), want2, NULL);
    const char *want3[] = {"a\"b|c", NULL};
    expect_records_n(&tsv, LIT("a\"b\tc\n"), want3, NULL);
    /* the same header read as CSV is one field */
    const char *want4[] = {"annotator\tchoice", NULL};
    expect_records("annotator\tchoice\n", want4, NULL);
    hitl__csv_reader r;
    hitl_error err;
    const hitl__csv_opts semicolon = {';', 0};
    ck_assert_int_eq(hitl__csv_open_text(&r, "a", 1, &semicolon, &err), HITL_EINVAL);
    ck_assert_str_eq(err.msg, "'<text>': the delimiter must be ',' or a tab");
    hitl__csv_close(&r);
}
END_TEST

/* A record with more or fewer fields than the header is refused naming the line it starts on
 * (line 4 for the short one: the record before it spans lines 2 and 3). */
START_TEST(reader_field_count_names_the_line)
{
    const char *text = "a,b,c\n\"1\n2\",x,y\n3,z\n4,5,6,7\n";
    hitl__csv_reader r;
    hitl_error err;
    int got;
    ck_assert_int_eq(hitl__csv_open_text(&r, text, strlen(text), NULL, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    const size_t n = r.n_fields;
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_check_fields(&r, n, &err), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_check_fields(&r, n, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "'<text>' line 4: 2 fields, the header has 3");
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_check_fields(&r, n, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "'<text>' line 5: 4 fields, the header has 3");
    hitl__csv_close(&r);
    ck_assert_int_eq(hitl__csv_open_text(&r, LIT("a,b\r\nx\r\n"), NULL, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_check_fields(&r, 2, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "'<text>' line 2: 1 field, the header has 2");
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
    ck_assert_int_eq(hitl__csv_open(&r, path, NULL, NULL), HITL_OK);
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

/* Quotes `s` for a reader with delimiter `delim`: the exports' quoting, plus tabs for TSV. */
static void put_field(hitl_buf *t, const char *s, char delim)
{
    if (delim == ',' || !strchr(s, '\t')) {
        hitl__csv_field(t, s);
        return;
    }
    hitl_buf_putc(t, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"') hitl_buf_putc(t, '"');
        hitl_buf_putc(t, *p);
    }
    hitl_buf_putc(t, '"');
}

/* Several MiB of random records read from a file, in every mode: fields and quoted line breaks
 * fall across the reader's blocks, and the file reads exactly as the same bytes as text. */
START_TEST(blocks_read_like_text)
{
    static const char alphabet[] = "ab,\t\"\r\n xy\xc3\xa9";
    enum { RECORDS = 60000, FIELDS = 5 };
    for (int mode = 0; mode < 4; mode++) {
        const hitl__csv_opts o = {mode & 1 ? '\t' : ',', mode >> 1};
        tu_rng rng;
        tu_rng_seed(&rng, 21 + (uint64_t)mode);
        hitl_buf out = {0}, want = {0}; /* want: each field, NUL-terminated */
        for (int i = 0; i < RECORDS; i++) {
            for (int j = 0; j < FIELDS; j++) {
                char v[40];
                size_t len = tu_rng_u64(&rng) % (j == 2 ? sizeof(v) : 8);
                for (size_t k = 0; k < len; k++)
                    v[k] = alphabet[tu_rng_u64(&rng) % (sizeof(alphabet) - 1)];
                v[len] = '\0';
                if (j) hitl_buf_putc(&out, o.delimiter);
                put_field(&out, v, o.delimiter);
                hitl_buf_put(&want, v, len + 1);
            }
            hitl_buf_puts(&out, i % 3 == 0 ? "\r\n" : i % 3 == 1 ? "\n" : "\r");
        }
        ck_assert(!out.oom && !want.oom);
        ck_assert_uint_gt(out.n, (size_t)2 << 20);
        const char *path = tu_tmp_path("blocks.csv");
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(out.p, 1, out.n, f), out.n);
        fclose(f);
        hitl__csv_reader rf, rt;
        ck_assert_int_eq(hitl__csv_open(&rf, path, &o, NULL), HITL_OK);
        ck_assert_int_eq(hitl__csv_open_text(&rt, out.p, out.n, &o, NULL), HITL_OK);
        const char *w = want.p;
        for (int i = 0; i < RECORDS; i++) { /* plain tests: a Check assertion costs a write */
            int got_f, got_t;
            hitl_status sf = hitl__csv_next(&rf, &got_f, NULL),
                        st = hitl__csv_next(&rt, &got_t, NULL);
            if (sf != HITL_OK || st != HITL_OK || !got_f || !got_t || rf.n_fields != FIELDS ||
                rt.n_fields != FIELDS || rf.record_line != rt.record_line)
                ck_abort_msg("mode %d record %d: status %d/%d, %zu/%zu fields", mode, i, sf, st,
                             rf.n_fields, rt.n_fields);
            for (size_t j = 0; j < FIELDS; j++) {
                if (strcmp(hitl__csv_get(&rf, j), w) || strcmp(hitl__csv_get(&rt, j), w))
                    ck_abort_msg("mode %d record %d field %zu: '%s' / '%s', want '%s'", mode, i, j,
                                 hitl__csv_get(&rf, j), hitl__csv_get(&rt, j), w);
                w += strlen(w) + 1;
            }
        }
        int got;
        ck_assert_int_eq(hitl__csv_next(&rf, &got, NULL), HITL_OK);
        ck_assert_int_eq(got, 0);
        hitl__csv_close(&rf);
        hitl__csv_close(&rt);
        hitl_buf_release(&out);
        hitl_buf_release(&want);
        unlink(path);
    }
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
    ck_assert_int_eq(hitl__csv_open_text(&r, t.p, t.n, NULL, NULL), HITL_OK);
    ck_assert_int_eq(hitl__csv_next(&r, &got, NULL), HITL_OK);
    ck_assert_uint_eq(r.n_fields, 10001);
    ck_assert_uint_eq(strlen(hitl__csv_get(&r, 0)), big);
    ck_assert_str_eq(hitl__csv_get(&r, 10000), "c");
    ck_assert_str_eq(hitl__csv_get(&r, 10001), ""); /* past the end */
    hitl__csv_close(&r);
    hitl_buf_release(&t);
}
END_TEST

/* The limits every user gets, each refused naming the line its record starts on. */
START_TEST(limits_refused)
{
    const size_t mib = (size_t)1 << 20;
    hitl_buf t = {0};
    char want[128];
    /* a field of 1 MiB + 1, unquoted and quoted (with a line break: still the record's line) */
    for (int q = 0; q < 2; q++) {
        hitl_buf_reset(&t);
        hitl_buf_puts(&t, "h\nx,");
        if (q) hitl_buf_puts(&t, "\"\n");
        for (size_t i = q; i < mib + 1; i++)
            hitl_buf_putc(&t, 'a');
        if (q) hitl_buf_putc(&t, '"');
        hitl_buf_putc(&t, '\n');
        ck_assert(!t.oom);
        expect_error_n(NULL, t.p, t.n, "'<text>' line 2: a field longer than 1 MiB");
        t.n -= 2 + (size_t)q; /* one byte less: read */
        hitl_buf_puts(&t, q ? "\"\n" : "\n");
        expect_error_n(NULL, t.p, t.n, NULL);
    }
    /* 16 fields of 1 MiB: 16 MiB of text and 16 NULs */
    hitl_buf_reset(&t);
    hitl_buf_puts(&t, "h\n\n");
    for (int f = 0; f < 16; f++) {
        if (f) hitl_buf_putc(&t, ',');
        for (size_t i = 0; i < mib; i++)
            hitl_buf_putc(&t, 'b');
    }
    ck_assert(!t.oom);
    expect_error_n(NULL, t.p, t.n, "'<text>' line 3: a record longer than 16 MiB");
    t.n -= mib + 1; /* 15 fields read */
    expect_error_n(NULL, t.p, t.n, NULL);
    /* 100,000 fields read, 100,001 do not */
    hitl_buf_reset(&t);
    hitl_buf_puts(&t, "h\r\n");
    for (int f = 0; f < HITL__CSV_MAX_FIELDS; f++)
        hitl_buf_puts(&t, f ? ",c" : "c");
    expect_error_n(NULL, t.p, t.n, NULL);
    hitl_buf_puts(&t, ",c");
    snprintf(want, sizeof(want), "'<text>' line 2: more than %d fields in a record",
             HITL__CSV_MAX_FIELDS);
    expect_error_n(NULL, t.p, t.n, want);
    hitl_buf_release(&t);
}
END_TEST

START_TEST(empty_input)
{
    hitl__csv_reader r;
    int got = 1;
    ck_assert_int_eq(hitl__csv_open_text(&r, "", 0, NULL, NULL), HITL_OK);
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

/* Each names the line the record starts on, however many lines it spans, read as text or from
 * a file alike. */
START_TEST(error_quoted_field_never_closed)
{
    expect_error("a,b\n\"open,\nstill open", "'<text>' line 2: a quoted field is never closed");
    expect_error_n(&tsv, LIT("a\n\"x\"\"\n"), "'<text>' line 2: a quoted field is never closed");
}
END_TEST

START_TEST(error_text_after_closing_quote)
{
    expect_error("a,b\nok,1\n\"q\"x,2\n",
                 "'<text>' line 3: text after the closing quote of a field (quote the whole "
                 "field)");
    expect_error("h\n\"a\nb\" x\n", "'<text>' line 2: text after the closing quote of a field "
                                    "(quote the whole field)");
    /* a TSV read as CSV: the tab is text after the quote; and a comma in a TSV */
    expect_error("\"annotator\"\t\"choice\"\r\n", "'<text>' line 1: text after the closing "
                                                  "quote of a field (quote the whole field)");
    expect_error_n(&tsv, LIT("a\t\"b\",c\n"),
                   "'<text>' line 1: text after the closing quote of a field (quote the whole "
                   "field)");
}
END_TEST

START_TEST(error_broken_byte_order_mark)
{
    expect_error("\xef\xbb"
                 "x,y\n",
                 "'<text>' line 1: a broken byte order mark");
    expect_error("\xef\xbb", "'<text>' line 1: a broken byte order mark");
}
END_TEST

START_TEST(error_nul_byte)
{
    expect_error_n(NULL, LIT("a,b\n1,x\0y\n"), "'<text>' line 2: a NUL byte in a field");
    expect_error_n(&strict, LIT("a,b\n1,\"x\ny\0\"\n"), "'<text>' line 2: a NUL byte in a field");
}
END_TEST

START_TEST(missing_file)
{
    hitl__csv_reader r;
    hitl_error err;
    ck_assert_int_eq(hitl__csv_open(&r, "/nonexistent/x.csv", NULL, &err), HITL_EIO);
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
    tcase_add_test(core, reader_splits_fields_at_commas);
    tcase_add_test(core, reader_quoted_field_doubled_quote_and_newline);
    tcase_add_test(core, reader_crlf_ends_records);
    tcase_add_test(core, reader_lone_cr_ends_records);
    tcase_add_test(core, reader_last_record_and_blank_lines);
    tcase_add_test(core, reader_skips_byte_order_mark);
    tcase_add_test(core, reader_stray_quote_lenient_or_strict);
    tcase_add_test(core, reader_tab_delimiter);
    tcase_add_test(core, reader_field_count_names_the_line);
    tcase_add_test(core, random_fields_round_trip);
    tcase_add_test(core, blocks_read_like_text);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, long_fields_and_many_columns);
    tcase_add_test(limits, limits_refused);
    tcase_add_test(limits, empty_input);
    tcase_add_test(limits, text_printf_grows);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, error_quoted_field_never_closed);
    tcase_add_test(errors, error_text_after_closing_quote);
    tcase_add_test(errors, error_broken_byte_order_mark);
    tcase_add_test(errors, error_nul_byte);
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
