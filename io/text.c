/* Text plumbing for the exports and the Label Studio import: a growable buffer, RFC 4180 quoting
 * and reading, JSON string quoting. Kept free of SQLite, HDF5 and jansson so the Check tests can
 * exercise the quoting rules on their own. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "text_internal.h"
#include "hitl_banned.h"

void hitl__text_release(hitl__text *t)
{
    free(t->p);
    memset(t, 0, sizeof(*t));
}

void hitl__text_reset(hitl__text *t)
{
    t->n = 0;
    if (t->p) t->p[0] = '\0';
}

static int reserve(hitl__text *t, size_t more)
{
    if (t->oom) return -1;
    if (more > SIZE_MAX / 2 - t->n) {
        t->oom = 1;
        return -1;
    }
    if (t->n + more + 1 <= t->cap) return 0;
    size_t cap = t->cap ? t->cap : 256;
    while (cap < t->n + more + 1)
        cap *= 2;
    char *p = realloc(t->p, cap);
    if (!p) {
        t->oom = 1;
        return -1;
    }
    t->p = p;
    t->cap = cap;
    return 0;
}

void hitl__text_put(hitl__text *t, const char *s, size_t n)
{
    if (reserve(t, n)) return;
    memcpy(t->p + t->n, s, n);
    t->n += n;
    t->p[t->n] = '\0';
}

void hitl__text_puts(hitl__text *t, const char *s)
{
    hitl__text_put(t, s, strlen(s));
}

void hitl__text_putc(hitl__text *t, char c)
{
    if (reserve(t, 1)) return;
    t->p[t->n++] = c;
    t->p[t->n] = '\0';
}

void hitl__text_printf(hitl__text *t, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (len < 0) return;
    if ((size_t)len < sizeof(small)) {
        hitl__text_put(t, small, (size_t)len);
        return;
    }
    if (reserve(t, (size_t)len)) return;
    va_start(ap, fmt);
    vsnprintf(t->p + t->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    t->n += (size_t)len;
}

void hitl__text_int(hitl__text *t, int64_t v)
{
    char buf[24], *p = buf + sizeof(buf);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    hitl__text_put(t, p, (size_t)(buf + sizeof(buf) - p));
}

void hitl__text_float(hitl__text *t, double v)
{
    if (isnan(v)) return;
    /* integers (0 and 1 fill soft labels) skip printf, which costs ~0.2 us a number */
    if (v == (double)(int64_t)v && fabs(v) < 1e15) {
        hitl__text_int(t, (int64_t)v);
        return;
    }
    hitl__text_printf(t, "%.9g", v);
}

void hitl__csv_field(hitl__text *t, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        hitl__text_puts(t, s);
        return;
    }
    hitl__text_putc(t, '"');
    for (const char *p = s; *p; p++) {
        if (*p == '"') hitl__text_putc(t, '"');
        hitl__text_putc(t, *p);
    }
    hitl__text_putc(t, '"');
}

void hitl__json_quote(hitl__text *t, const char *s)
{
    static const char hex[] = "0123456789abcdef";
    hitl__text_putc(t, '"');
    const char *run = s;
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c >= 0x20 && c != '"' && c != '\\') continue;
        hitl__text_put(t, run, (size_t)(p - run));
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
        hitl__text_puts(t, esc);
    }
    hitl__text_puts(t, run);
    hitl__text_putc(t, '"');
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
    hitl__text_release(&r->buf);
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
    hitl__text_putc(&r->buf, '\0');
}

hitl_status hitl__csv_next(hitl__csv_reader *r, int *got, hitl_error *err)
{
    *got = 0;
    hitl__text_reset(&r->buf);
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
                    hitl__text_putc(&r->buf, '"');
                    continue;
                }
                quoted = 0;
                after_quote = 1;
                c = n; /* handled below as the character after the field */
            } else {
                if (c == '\n') r->line++;
                hitl__text_putc(&r->buf, (char)c);
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
        hitl__text_putc(&r->buf, (char)c);
    }
    if (r->buf.oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (ferror(r->f))
        return hitl_error_set(err, HITL_EIO, "cannot read '%s': %s", r->path, strerror(errno));
    *got = 1;
    return HITL_OK;
}
