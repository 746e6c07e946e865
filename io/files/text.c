/* Text plumbing for the exports, the ratings CSV and the Label Studio import: numbers as the
 * exports write them, RFC 4180 quoting, JSON string quoting and the one CSV/TSV record reader.
 * Kept free of SQLite, HDF5 and jansson so the Check tests can exercise every rule on its own. */
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

#define BLOCK ((size_t)1 << 20) /* bytes read from a file at a time */

/* Bytes that end a run inside a quoted field. */
static const unsigned char quoted_stop[256] = {[0] = 1, ['\n'] = 1, ['"'] = 1};

static hitl_status reader_init(hitl__csv_reader *r, const char *path, const hitl__csv_opts *o,
                               hitl_error *err)
{
    memset(r, 0, sizeof(*r));
    r->path = path;
    r->line = 1;
    r->opts.delimiter = o && o->delimiter ? o->delimiter : ',';
    r->opts.strict = o ? o->strict : 0;
    if (r->opts.delimiter != ',' && r->opts.delimiter != '\t')
        return hitl_error_set(err, HITL_EINVAL, "'%s': the delimiter must be ',' or a tab", path);
    r->stop[(unsigned char)r->opts.delimiter] = 1;
    r->stop['\n'] = r->stop['\r'] = r->stop[0] = 1;
    if (r->opts.strict) r->stop['"'] = 1;
    return HITL_OK;
}

hitl_status hitl__csv_open(hitl__csv_reader *r, const char *path, const hitl__csv_opts *o,
                           hitl_error *err)
{
    hitl_status st = reader_init(r, path, o, err);
    if (st != HITL_OK) return st;
    if (!(r->f = fopen(path, "rb")))
        return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (!(r->block = malloc(BLOCK))) {
        hitl__csv_close(r);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    r->in = r->block;
    return HITL_OK;
}

hitl_status hitl__csv_open_text(hitl__csv_reader *r, const char *text, size_t len,
                                const hitl__csv_opts *o, hitl_error *err)
{
    hitl_status st = reader_init(r, "<text>", o, err);
    r->in = (const unsigned char *)text;
    r->len = text ? len : 0;
    r->eof = 1;
    return st;
}

void hitl__csv_close(hitl__csv_reader *r)
{
    if (r->f) fclose(r->f);
    free(r->block);
    hitl_buf_release(&r->text);
    free(r->start);
    memset(r, 0, sizeof(*r));
}

const char *hitl__csv_get(const hitl__csv_reader *r, size_t i)
{
    return i < r->n_fields ? r->text.p + r->start[i] : "";
}

int hitl__csv_blank(const hitl__csv_reader *r)
{
    return r->n_fields == 1 && r->text.p[r->start[0]] == '\0';
}

hitl_status hitl__csv_check_fields(const hitl__csv_reader *r, size_t n, hitl_error *err)
{
    if (r->n_fields == n) return HITL_OK;
    return hitl_error_set(err, HITL_EDATA, "'%s' line %lld: %zu field%s, the header has %zu",
                          r->path, (long long)r->record_line, r->n_fields,
                          r->n_fields == 1 ? "" : "s", n);
}

/* Reads the next block after the unread bytes [pos, len), which move to the front. 1 when there
 * are new bytes, 0 at the end of the input or on a read error (kept in read_errno). */
static int refill(hitl__csv_reader *r)
{
    if (r->eof) return 0;
    size_t keep = r->len - r->pos;
    if (keep) memmove(r->block, r->block + r->pos, keep);
    r->pos = 0;
    r->len = keep;
    size_t got = fread(r->block + keep, 1, BLOCK - keep, r->f);
    r->len += got;
    if (got > 0) return 1;
    r->eof = 1;
    if (ferror(r->f)) r->read_errno = errno ? errno : EIO;
    return 0;
}

/* The next byte, not consumed, or EOF. */
static inline int peek(hitl__csv_reader *r)
{
    return r->pos < r->len || refill(r) ? r->in[r->pos] : EOF;
}

static hitl_status read_error(const hitl__csv_reader *r, hitl_error *err)
{
    return hitl_error_set(err, HITL_EIO, "cannot read '%s': %s", r->path, strerror(r->read_errno));
}

/* Bad data in the current record, named by the line it starts on (a read error first: it may
 * be why the data looks bad). */
static hitl_status fail(const hitl__csv_reader *r, hitl_error *err, const char *what)
{
    if (r->read_errno) return read_error(r, err);
    return hitl_error_set(err, HITL_EDATA, "'%s' line %lld: %s", r->path, (long long)r->record_line,
                          what);
}

static hitl_status no_memory(const hitl__csv_reader *r, hitl_error *err)
{
    return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", r->path);
}

/* Appends `n` bytes to the field that starts at offset `field` of the record. */
static inline hitl_status append(hitl__csv_reader *r, const void *s, size_t n, size_t field,
                                 hitl_error *err)
{
    if (r->text.n - field + n > HITL__CSV_MAX_FIELD)
        return fail(r, err, "a field longer than 1 MiB");
    if (r->text.n + n > HITL__CSV_MAX_RECORD) return fail(r, err, "a record longer than 16 MiB");
    hitl_buf_put(&r->text, s, n);
    return r->text.oom ? no_memory(r, err) : HITL_OK;
}

/* An unquoted field up to the byte that ends it (the delimiter, CR, LF, or EOF), left in *end
 * and not consumed. */
static hitl_status unquoted(hitl__csv_reader *r, size_t field, int *end, hitl_error *err)
{
    for (;;) {
        const unsigned char *p = r->in + r->pos, *e = r->in + r->len, *q = p;
        while (q < e && !r->stop[*q])
            q++;
        if (q > p) {
            hitl_status st = append(r, p, (size_t)(q - p), field, err);
            if (st != HITL_OK) return st;
        }
        r->pos = (size_t)(q - r->in);
        if (q < e) {
            if (*q == '"') /* only a stop when strict */
                return fail(r, err,
                            "a quote inside an unquoted field (quote the field and double the "
                            "quote)");
            if (*q == '\0') return fail(r, err, "a NUL byte in a field");
            *end = *q;
            return HITL_OK;
        }
        if (!refill(r)) {
            *end = EOF;
            return HITL_OK;
        }
    }
}

/* A quoted field after its opening quote, up to and past its closing quote. */
static hitl_status quoted(hitl__csv_reader *r, size_t field, hitl_error *err)
{
    hitl_status st;
    for (;;) {
        const unsigned char *p = r->in + r->pos, *e = r->in + r->len, *q = p;
        while (q < e && !quoted_stop[*q])
            q++;
        if (q > p && (st = append(r, p, (size_t)(q - p), field, err)) != HITL_OK) return st;
        r->pos = (size_t)(q - r->in);
        if (q == e) {
            if (!refill(r)) return fail(r, err, "a quoted field is never closed");
            continue;
        }
        r->pos++;
        if (*q == '\0') return fail(r, err, "a NUL byte in a field");
        if (*q == '\n') {
            r->line++;
            if ((st = append(r, "\n", 1, field, err)) != HITL_OK) return st;
            continue;
        }
        if (peek(r) != '"') return HITL_OK; /* the closing quote */
        r->pos++;                           /* a doubled quote is one quote */
        if ((st = append(r, "\"", 1, field, err)) != HITL_OK) return st;
    }
}

/* Starts field n_fields at the end of the record's text. */
static hitl_status new_field(hitl__csv_reader *r, hitl_error *err)
{
    if (r->n_fields == HITL__CSV_MAX_FIELDS)
        return fail(r, err, "more than 100000 fields in a record");
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 16;
        size_t *v = realloc(r->start, cap * sizeof(*v));
        if (!v) return no_memory(r, err);
        r->start = v;
        r->cap_fields = cap;
    }
    r->start[r->n_fields++] = r->text.n;
    return HITL_OK;
}

/* Ends the current field with a NUL, which counts towards the record's size. */
static hitl_status end_field(hitl__csv_reader *r, hitl_error *err)
{
    if (r->text.n + 1 > HITL__CSV_MAX_RECORD) return fail(r, err, "a record longer than 16 MiB");
    hitl_buf_putc(&r->text, '\0');
    return r->text.oom ? no_memory(r, err) : HITL_OK;
}

/* Skips a UTF-8 byte order mark at the start of the input; 0xEF followed by anything but 0xBB
 * is text (U+F000-U+FEBF, or not UTF-8 at all). */
static hitl_status skip_bom(hitl__csv_reader *r, hitl_error *err)
{
    while (r->len - r->pos < 3 && refill(r))
        ;
    const unsigned char *p = r->in + r->pos;
    size_t n = r->len - r->pos;
    if (n < 2 || p[0] != 0xEF || p[1] != 0xBB) return HITL_OK;
    if (n < 3 || p[2] != 0xBF) return fail(r, err, "a broken byte order mark");
    r->pos += 3;
    return HITL_OK;
}

hitl_status hitl__csv_next(hitl__csv_reader *r, int *got, hitl_error *err)
{
    *got = 0;
    r->n_fields = 0;
    hitl_buf_reset(&r->text);
    r->record_line = r->line;
    hitl_status st;
    if (!r->started) {
        r->started = 1;
        if ((st = skip_bom(r, err)) != HITL_OK) return st;
    }
    const int delimiter = (unsigned char)r->opts.delimiter;
    int c = peek(r);
    if (c == EOF) return r->read_errno ? read_error(r, err) : HITL_OK;
    for (;;) {
        if ((st = new_field(r, err)) != HITL_OK) return st;
        size_t field = r->text.n;
        if (c == '"') {
            r->pos++;
            if ((st = quoted(r, field, err)) != HITL_OK) return st;
            c = peek(r);
            if (c != delimiter && c != '\n' && c != '\r' && c != EOF)
                return fail(r, err,
                            "text after the closing quote of a field (quote the whole "
                            "field)");
        } else if ((st = unquoted(r, field, &c, err)) != HITL_OK) {
            return st;
        }
        if ((st = end_field(r, err)) != HITL_OK) return st;
        if (c != delimiter) break;
        r->pos++;
        c = peek(r);
    }
    if (c == '\r' || c == '\n') { /* LF, CRLF or a lone CR */
        r->pos++;
        if (c == '\r' && peek(r) == '\n') r->pos++;
        r->line++;
    }
    if (r->read_errno) return read_error(r, err);
    *got = 1;
    return HITL_OK;
}
