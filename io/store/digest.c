/* The digests that let the audit chain cover rows too numerous for one event each: a queued
 * item's fixed fields and an item's display payload, each as one line whose SHA-256 over a
 * batch of items the batch's event records. The writers (queue.c) and verify.c share them. */
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* A text field, or \N for NULL; tabs and newlines inside it cannot fake a field boundary: each
 * line ends in the SHA-256 of nothing else, and ids are single lines (names.c). */
static void field(hitl_buf *b, const char *s)
{
    hitl_buf_puts(b, s ? s : "\\N");
    hitl_buf_putc(b, '\t');
}

/* A real as the 16 hex digits of its IEEE-754 bits: exact, and without printf (a million items
 * cost a second of %.17g). */
static void number(hitl_buf *b, double v)
{
    static const char hex[] = "0123456789abcdef";
    if (isnan(v)) {
        hitl_buf_puts(b, "\\N\t");
        return;
    }
    uint64_t bits;
    memcpy(&bits, &v, sizeof(bits));
    char out[17];
    for (int i = 15; i >= 0; i--, bits >>= 4)
        out[i] = hex[bits & 15];
    out[16] = '\t';
    hitl_buf_put(b, out, 17);
}

void hitl__item_line(hitl_buf *b, const hitl__item_fields *f)
{
    field(b, f->pool_id);
    hitl_buf_int(b, f->pool_row);
    hitl_buf_putc(b, '\t');
    field(b, f->batch);
    hitl_buf_int(b, f->reason);
    hitl_buf_putc(b, '\t');
    number(b, f->score);
    field(b, f->method);
    field(b, f->model);
    hitl_buf_int(b, f->seed);
    hitl_buf_putc(b, '\t');
    field(b, f->source);
    if (f->pred >= 0)
        hitl_buf_int(b, f->pred);
    else
        hitl_buf_puts(b, "\\N");
    hitl_buf_putc(b, '\t');
    number(b, f->p1);
    field(b, f->route);
    hitl_buf_int(b, f->required);
    hitl_buf_putc(b, '\t');
    hitl_buf_int(b, f->position);
    hitl_buf_putc(b, '\t');
    hitl_buf_puts(b, f->queued_at ? f->queued_at : "\\N");
    hitl_buf_putc(b, '\n');
}

/* SHA-256, fetched from OpenSSL's provider once: OpenSSL 3 fetches the implementation again at
 * every EVP_DigestInit_ex(EVP_sha256()), which cost verify a sixth of its time. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

const EVP_MD *hitl__sha256(void)
{
    pthread_once(&sha256_once, fetch_sha256);
    return sha256_md ? sha256_md : EVP_sha256();
}

int hitl__sha256_hex(const void *data, size_t len, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_Digest(data, len, md, &n, hitl__sha256(), NULL) && n == 32;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = ok ? hex[md[i] >> 4] : '!';
        out[2 * i + 1] = ok ? hex[md[i] & 15] : '!';
    }
    out[64] = '\0';
    return ok ? 0 : -1;
}

void hitl__data_line(hitl_buf *b, const char *pool_id, const char *data)
{
    char h[65];
    hitl__sha256_hex(data, strlen(data), h);
    hitl_buf_puts(b, pool_id);
    hitl_buf_putc(b, '\t');
    hitl_buf_puts(b, h);
    hitl_buf_putc(b, '\n');
}

int hitl__digest_init(hitl__digest *d)
{
    d->n = 0;
    d->ctx = EVP_MD_CTX_new();
    return d->ctx && EVP_DigestInit_ex2(d->ctx, hitl__sha256(), NULL) ? 0 : -1;
}

void hitl__digest_add(hitl__digest *d, const hitl_buf *line)
{
    EVP_DigestUpdate(d->ctx, line->p, line->n);
    d->n++;
}

int hitl__digest_final(hitl__digest *d, char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = d->ctx && EVP_DigestFinal_ex(d->ctx, md, &n) && n == 32;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = ok ? hex[md[i] >> 4] : '!';
        out[2 * i + 1] = ok ? hex[md[i] & 15] : '!';
    }
    out[64] = '\0';
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
    return ok ? 0 : -1;
}

void hitl__digest_release(hitl__digest *d)
{
    EVP_MD_CTX_free(d->ctx);
    d->ctx = NULL;
}

/* The rows of `sql` (?1 = seq), each made a line by `line_of`, digested in order. */
static hitl_status digest_rows(hitl_store *st, const char *sql, int64_t seq,
                               void (*line_of)(hitl_buf *b, sqlite3_stmt *q), char out[65],
                               int64_t *count, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, sql, &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, seq);
    hitl__digest d = {0};
    hitl_buf line = {0};
    if (hitl__digest_init(&d)) r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    int rc = SQLITE_DONE;
    while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        hitl_buf_reset(&line);
        line_of(&line, q);
        hitl__digest_add(&d, &line);
    }
    if (r == HITL_OK && rc != SQLITE_DONE) r = hitl__store_sqlerr(st, rc, err, "cannot read items");
    if (r == HITL_OK && line.oom) r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    *count = d.n;
    hitl__digest_final(&d, out);
    hitl_buf_release(&line);
    hitl__store_finish(st, q);
    return r;
}

static const char *text_or_null(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static double real_or_nan(sqlite3_stmt *q, int i)
{
    return sqlite3_column_type(q, i) == SQLITE_NULL ? NAN : sqlite3_column_double(q, i);
}

void hitl__item_fields_of(hitl__item_fields *f, sqlite3_stmt *q, int first)
{
    f->pool_id = text_or_null(q, first);
    f->pool_row = sqlite3_column_int64(q, first + 1);
    f->batch = text_or_null(q, first + 2);
    f->reason = sqlite3_column_int(q, first + 3);
    f->score = real_or_nan(q, first + 4);
    f->method = text_or_null(q, first + 5);
    f->model = text_or_null(q, first + 6);
    f->seed = sqlite3_column_int64(q, first + 7);
    f->source = text_or_null(q, first + 8);
    f->pred =
        sqlite3_column_type(q, first + 9) == SQLITE_NULL ? -1 : sqlite3_column_int(q, first + 9);
    f->p1 = real_or_nan(q, first + 10);
    f->route = text_or_null(q, first + 11);
    f->required = sqlite3_column_int(q, first + 12);
    f->position = sqlite3_column_int64(q, first + 13);
    f->queued_at = text_or_null(q, first + 14);
}

static void item_row_line(hitl_buf *b, sqlite3_stmt *q)
{
    hitl__item_fields f;
    hitl__item_fields_of(&f, q, 0);
    hitl__item_line(b, &f);
}

static void data_row_line(hitl_buf *b, sqlite3_stmt *q)
{
    hitl__data_line(b, text_or_null(q, 0), text_or_null(q, 1));
}

hitl_status hitl__items_digest(hitl_store *st, int64_t seq, char out[65], int64_t *count,
                               hitl_error *err)
{
    return digest_rows(st,
                       "SELECT " HITL__ITEM_COLUMNS " FROM items WHERE queued_seq = ?1 ORDER BY id",
                       seq, item_row_line, out, count, err);
}

hitl_status hitl__data_digest(hitl_store *st, int64_t seq, char out[65], int64_t *count,
                              hitl_error *err)
{
    return digest_rows(st, "SELECT pool_id, data FROM items WHERE data_seq = ?1 ORDER BY id", seq,
                       data_row_line, out, count, err);
}
