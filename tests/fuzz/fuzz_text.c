/* libFuzzer harness for io/text.c: the RFC 4180 record reader on the input (comma and tab,
 * lenient and strict), and the CSV and JSON quoting of every field it yields (checked to be well
 * formed and to read back). */
#include <stdint.h>
#include <string.h>

#include "text_internal.h"

/* hitl__csv_field output read back by the reader must give the field again. */
static void check_csv_round_trip(const char *field)
{
    hitl_buf t = {0};
    hitl__csv_field(&t, field);
    hitl_buf_puts(&t, ",x\n");
    if (t.oom) goto out;
    hitl__csv_reader r;
    int got = 0;
    if (hitl__csv_open_text(&r, t.p, t.n, NULL, NULL) != HITL_OK) goto out;
    if (hitl__csv_next(&r, &got, NULL) != HITL_OK || !got || r.n_fields != 2 ||
        strcmp(hitl__csv_get(&r, 0), field) != 0 || strcmp(hitl__csv_get(&r, 1), "x") != 0) {
        /* a field the reader cannot give back: at the very start, 0xEF 0xBB is read as a byte
         * order mark (skipped, or refused when broken) */
        if (!(field[0] == '\xef' && field[1] == '\xbb')) __builtin_trap();
    }
    hitl__csv_close(&r);
out:
    hitl_buf_release(&t);
}

/* hitl__json_quote output: quoted, no raw control character, no unescaped quote. */
static void check_json_quote(const char *field)
{
    hitl_buf t = {0};
    hitl__json_quote(&t, field);
    if (!t.oom) {
        if (t.n < 2 || t.p[0] != '"' || t.p[t.n - 1] != '"') __builtin_trap();
        for (size_t i = 1; i + 1 < t.n; i++) {
            unsigned char c = (unsigned char)t.p[i];
            if (c < 0x20) __builtin_trap();
            if (c == '\\')
                i++;
            else if (c == '"')
                __builtin_trap();
        }
    }
    hitl_buf_release(&t);
}

/* Reads the whole input with options `o`; the fields of the comma, lenient reading are quoted
 * and read back. Every field is within the limits, and past the last field there is "". */
static void read_all(const uint8_t *data, size_t size, const hitl__csv_opts *o, int quote_back)
{
    hitl__csv_reader r;
    hitl_error err;
    if (hitl__csv_open_text(&r, (const char *)data, size, o, &err) != HITL_OK) __builtin_trap();
    int got = 1, records = 0;
    while (got && records < 10000) {
        if (hitl__csv_next(&r, &got, &err) != HITL_OK) break;
        if (!got) break;
        records++;
        if (r.n_fields == 0 || r.n_fields > HITL__CSV_MAX_FIELDS) __builtin_trap();
        for (size_t i = 0; i < r.n_fields && i < 64; i++) {
            const char *field = hitl__csv_get(&r, i);
            if (strlen(field) > HITL__CSV_MAX_FIELD) __builtin_trap();
            if (!quote_back) continue;
            check_csv_round_trip(field);
            check_json_quote(field);
        }
        if (hitl__csv_get(&r, r.n_fields)[0] != '\0') __builtin_trap();
    }
    hitl__csv_close(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const hitl__csv_opts modes[4] = {{',', 0}, {',', 1}, {'\t', 0}, {'\t', 1}};
    for (int m = 0; m < 4; m++)
        read_all(data, size, &modes[m], m == 0);
    hitl_buf r2 = {0};
    hitl_buf_int(&r2, (int64_t)size * (size & 1 ? -1 : 1));
    hitl__text_float(&r2, size ? (double)data[0] / 7.0 : 0.0);
    hitl_buf_release(&r2);
    return 0;
}
