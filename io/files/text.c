/* Text plumbing for the exports and the Label Studio import: numbers as the exports write them,
 * RFC 4180 quoting and reading, JSON string quoting (into the engine's hitl_buf). Kept free of
 * SQLite, HDF5 and jansson so the Check tests can exercise the quoting rules on their own. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"
#include "hitl_banned.h"

void hitl__text_float(hitl_buf *t, double v)
{
    if (isnan(v)) return;
    /* integers (0 and 1 fill soft labels) skip printf, which costs ~0.2 us a number */
    if (v == (double)(int64_t)v && fabs(v) < 1e15) {
        hitl_buf_int(t, (int64_t)v);
        return;
    }
    hitl_buf_printf(t, "%.9g", v);
}

void hitl__csv_field(hitl_buf *t, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        hitl_buf_puts(t, s);
        return;
    }
    hitl_buf_putc(t, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"') hitl_buf_putc(t, '"');
        hitl_buf_putc(t, *p);
    }
    hitl_buf_putc(t, '"');
}

void hitl__json_quote(hitl_buf *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    hitl_buf_putc(t, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        hitl_buf_put(t, run, (size_t)(p - run));
        run = p + 1;
        char esc[7] = {'\\', 0};
        switch (c) {
        case '"':
        case '\\':
            esc[1] = (char)c;
            break;
        case '\n':
            esc[1] = 'n';
            break;
        case '\r':
            esc[1] = 'r';
            break;
        case '\t':
            esc[1] = 't';
            break;
        case '\b':
            esc[1] = 'b';
            break;
        case '\f':
            esc[1] = 'f';
            break;
        default:
            memcpy(esc + 1, "u00", 3);
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 15];
        }
        hitl_buf_puts(t, esc);
    }
    hitl_buf_puts(t, run);
    hitl_buf_putc(t, '"');
}

/* ---- the reader -------------------------------------------------------------------------- */

hitl_status hitl__csv_open(hitl__csv_reader *r, const char *path, hitl_error *err)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    if (!(r->f = fopen(path, "rb")))
        return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
    return HITL_OK;
}

hitl_status hitl__csv_open_text(hitl__csv_reader *r, const char *text, size_t len, hitl_error *err)
{
    memset(r, 0, sizeof(*r));
    r->path = "<text>";
    if (len == 0) return HITL_OK; /* fmemopen refuses an empty buffer: an empty input */
    if (!(r->f = fmemopen((void *)text, len, "rb")))
        return hitl_error_set(err, HITL_ENOMEM, "cannot read text: %s", strerror(errno));
    return HITL_OK;
}

void hitl__csv_close(hitl__csv_reader *r)
{
    if (r->f) fclose(r->f);
    hitl_buf_release(&r->buf);
    free(r->start);
    memset(r, 0, sizeof(*r));
}

const char *hitl__csv_get(const hitl__csv_reader *r, size_t i)
{
    return i < r->n_fields ? r->buf.p + r->start[i] : "";
}

static int new_field(hitl__csv_reader *r)
{
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
        size_t *v = realloc(r->start, cap * sizeof(*v));
        if (!v) return -1;
        r->start = v;
        r->cap_fields = cap;
    }
    r->start[r->n_fields++] = r->buf.n;
    return 0;
}

/* Ends the current field with a NUL in the buffer. */
static void end_field(hitl__csv_reader *r)
{
    hitl_buf_putc(&r->buf, '\0');
}

hitl_status hitl__csv_next(hitl__csv_reader *r, int *got, hitl_error *err)
{
    *got = 0;
    hitl_buf_reset(&r->buf);
    r->n_fields = 0;
    if (!r->f) return HITL_OK;
    int c = getc_unlocked(r->f);
    if (r->line == 0 && c == 0xEF) { /* a UTF-8 byte order mark, or text (U+F000-U+FEBF...) */
        int c2 = getc_unlocked(r->f);
        if (c2 == 0xBB) {
            if (getc_unlocked(r->f) != 0xBF)
                return hitl_error_set(err, HITL_EDATA, "'%s': line 1: a broken byte order mark",
                                      r->path);
            c = getc_unlocked(r->f);
        } else if (c2 != EOF) {
            ungetc(c2, r->f); /* 0xEF starts the first field */
        }
    }
    if (c == EOF)
        return ferror(r->f)
                   ? hitl_error_set(err, HITL_EIO, "cannot read '%s': %s", r->path, strerror(errno))
                   : HITL_OK;
    r->line++;
    r->record_line = r->line;
    if (new_field(r)) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    int quoted = 0, after_quote = 0;
    for (;; c = getc_unlocked(r->f)) {
        if (quoted) {
            if (c == EOF)
                return hitl_error_set(err, HITL_EDATA,
                                      "'%s': line %lld: a quoted field is never closed", r->path,
                                      (long long)r->record_line);
            if (c == '"') {
                int n = getc_unlocked(r->f);
                if (n == '"') {
                    hitl_buf_putc(&r->buf, '"');
                    continue;
                }
                quoted = 0;
                after_quote = 1;
                c = n; /* handled below as the character after the field */
            } else {
                if (c == '\n') r->line++;
                hitl_buf_putc(&r->buf, (char)c);
                continue;
            }
        }
        if (c == ',' || c == '\n' || c == EOF) {
            /* a CR right before the end of a record belongs to its CRLF */
            if (!after_quote && r->buf.n > r->start[r->n_fields - 1] && c != ',' &&
                r->buf.p[r->buf.n - 1] == '\r')
                r->buf.n--;
            end_field(r);
            after_quote = 0;
            if (c != ',') break;
            if (new_field(r)) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
            continue;
        }
        if (after_quote) {
            if (c == '\r') {
                int n = getc_unlocked(r->f);
                if (n == '\n' || n == EOF) {
                    end_field(r);
                    break;
                }
                c = n;
            }
            return hitl_error_set(err, HITL_EDATA,
                                  "'%s': line %lld: text after the closing quote of a field",
                                  r->path, (long long)r->line);
        }
        if (c == '"' && r->buf.n == r->start[r->n_fields - 1]) {
            quoted = 1;
            continue;
        }
        hitl_buf_putc(&r->buf, (char)c);
    }
    if (r->buf.oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (ferror(r->f))
        return hitl_error_set(err, HITL_EIO, "cannot read '%s': %s", r->path, strerror(errno));
    *got = 1;
    return HITL_OK;
}
