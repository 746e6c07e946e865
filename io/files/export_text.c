/* The JSONL and CSV exports: one line (or RFC 4180 record) per record, streamed through a large
 * stdio buffer. Both are written field by field with the quoting of io/text.c; CSV fields are
 * quoted only when they must be, and lists inside a CSV field are JSON arrays. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export_internal.h"
#include "text_internal.h"
#include "hitl_banned.h"

#define IO_BUFFER ((size_t)1 << 20)

typedef struct text_writer {
    hitl_record_writer base;
    const hitl_record_file *ctx;
    FILE *f;
    char *iobuf;
    hitl_buf line;
} text_writer;

static const char *class_name(const hitl_record_file *ctx, int32_t c)
{
    return c >= 0 && (size_t)c < ctx->n_classes ? ctx->classes[c] : NULL;
}

static hitl_status put_line(text_writer *w, const char *p, size_t n, hitl_error *err)
{
    if (fwrite(p, 1, n, w->f) != n)
        return hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", w->ctx->name,
                              strerror(errno));
    return HITL_OK;
}

static void release(text_writer *w)
{
    if (w->f) fclose(w->f);
    free(w->iobuf);
    hitl_buf_release(&w->line);
    free(w);
}

static hitl_status text_close(hitl_record_writer *base, int ok, hitl_error *err)
{
    text_writer *w = (text_writer *)base;
    hitl_status st = HITL_OK;
    if (w->f) {
        int bad = fflush(w->f) != 0 || ferror(w->f);
        bad = fclose(w->f) != 0 || bad;
        w->f = NULL;
        if (ok && bad)
            st = hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", w->ctx->name,
                                strerror(errno));
    }
    release(w);
    return st;
}

static hitl_status open_file(const hitl_record_file *ctx, text_writer **out, hitl_error *err)
{
    text_writer *w = calloc(1, sizeof(*w));
    if (!w) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    w->ctx = ctx;
    if (!(w->f = fopen(ctx->path, "wb"))) {
        hitl_status st =
            hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", ctx->name, strerror(errno));
        free(w);
        return st;
    }
    if ((w->iobuf = malloc(IO_BUFFER))) setvbuf(w->f, w->iobuf, _IOFBF, IO_BUFFER);
    *out = w;
    return HITL_OK;
}

/* ---- JSONL ------------------------------------------------------------------------------- */

/* ,"key": */
static void j_key(hitl_buf *t, const char *key)
{
    hitl_buf_put(t, ",\"", 2);
    hitl_buf_puts(t, key);
    hitl_buf_put(t, "\":", 2);
}

/* "key": then a string, or null. */
static void j_str(hitl_buf *t, const char *key, const char *v)
{
    j_key(t, key);
    if (v)
        hitl__json_quote(t, v);
    else
        hitl_buf_puts(t, "null");
}

/* "key": then a number (9 significant digits: a float32 reads back exactly), or null. */
static void j_num(hitl_buf *t, const char *key, double v)
{
    j_key(t, key);
    if (isfinite(v))
        hitl__text_float(t, v);
    else
        hitl_buf_puts(t, "null");
}

/* One object per line, written field by field: jansson would build and free some thirty values
 * per record, twice the time of the whole export. Strings go through hitl__json_quote; the
 * payload is the JSON text the store holds (written by jansson when it was attached). */
static hitl_status jsonl_add(hitl_record_writer *base, const hitl_record *r, hitl_error *err)
{
    text_writer *w = (text_writer *)base;
    const hitl_record_file *ctx = w->ctx;
    hitl_buf *t = &w->line;
    hitl_buf_reset(t);
    hitl_buf_puts(t, "{\"id\":");
    hitl__json_quote(t, r->pool_id);
    j_key(t, "row");
    hitl_buf_int(t, r->row);
    j_str(t, "label", class_name(ctx, r->label));
    j_key(t, "label_index");
    hitl_buf_int(t, r->label);
    j_str(t, "final", r->final_kind);
    hitl_buf_puts(t, ",\"soft_label\":{");
    for (size_t c = 0; c < ctx->n_classes; c++) {
        if (c) hitl_buf_putc(t, ',');
        hitl__json_quote(t, ctx->classes[c]);
        hitl_buf_putc(t, ':');
        hitl__text_float(t, r->soft[c]);
    }
    hitl_buf_putc(t, '}');
    j_key(t, "n_labels");
    hitl_buf_int(t, r->n_labels);
    j_num(t, "agreement", r->agreement);
    hitl_buf_puts(t, ",\"labels\":[");
    for (int32_t i = 0; i < r->n_labels; i++) {
        hitl_buf_puts(t, i ? ",{\"annotator\":" : "{\"annotator\":");
        hitl__json_quote(t, r->annotators[i]);
        j_str(t, "label", class_name(ctx, r->votes[i]));
        j_str(t, "at", r->voted_at[i]);
        hitl_buf_putc(t, '}');
    }
    hitl_buf_putc(t, ']');
    j_str(t, "labelled_at", r->labelled_at);
    j_str(t, "adjudicator", r->adjudicator);
    j_str(t, "justification", r->justification);
    j_str(t, "decided_at", r->decided_at);
    j_str(t, "reason", r->blind ? "blind" : "uncertain");
    j_num(t, "score", r->score);
    j_str(t, "method", r->method);
    j_str(t, "pred", class_name(ctx, r->pred));
    j_num(t, "p1", r->p1);
    j_str(t, "model", r->model);
    j_str(t, "batch", r->batch);
    j_str(t, "route", r->route);
    j_str(t, "source", r->source);
    j_str(t, "queued_at", r->queued_at);
    j_str(t, "final_at", r->final_at);
    hitl_buf_puts(t, ",\"data\":");
    hitl_buf_puts(t, r->data ? r->data : "null");
    hitl_buf_puts(t, "}\n");
    if (t->oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return put_line(w, t->p, t->n, err);
}

static const hitl__writer_ops jsonl_ops = {jsonl_add, NULL, text_close};

hitl_status hitl__writer_jsonl_open(const hitl_record_file *ctx, hitl_record_writer **out,
                                    hitl_error *err)
{
    *out = NULL;
    text_writer *w = NULL;
    hitl_status st = open_file(ctx, &w, err);
    if (st != HITL_OK) return st;
    w->base.ops = &jsonl_ops;
    *out = &w->base;
    return HITL_OK;
}

/* ---- CSV --------------------------------------------------------------------------------- */

static const char *const csv_columns[] = {
    "id",         "row",        "label", "label_index", "final",       "n_labels",
    "agreement",  "annotators", "votes", "labelled_at", "adjudicator", "justification",
    "decided_at", "reason",     "score", "method",      "pred",        "p1",
    "model",      "batch",      "route", "source",      "queued_at",   "final_at"};

/* A JSON array of strings, itself one CSV field. */
static void csv_list(hitl_buf *t, hitl_buf *tmp, const char *const *v, const int32_t *cls,
                     const hitl_record_file *ctx, int32_t n)
{
    hitl_buf_reset(tmp);
    hitl_buf_putc(tmp, '[');
    for (int32_t i = 0; i < n; i++) {
        if (i) hitl_buf_putc(tmp, ',');
        const char *s = v ? v[i] : class_name(ctx, cls[i]);
        hitl__json_quote(tmp, s ? s : "");
    }
    hitl_buf_putc(tmp, ']');
    hitl__csv_field(t, tmp->p);
}

typedef struct csv_writer {
    text_writer t;
    hitl_buf tmp;
} csv_writer;

static hitl_status csv_add(hitl_record_writer *base, const hitl_record *r, hitl_error *err)
{
    csv_writer *cw = (csv_writer *)base;
    text_writer *w = &cw->t;
    const hitl_record_file *ctx = w->ctx;
    hitl_buf *t = &w->line;
    hitl_buf_reset(t);
    hitl__csv_field(t, r->pool_id);
    hitl_buf_putc(t, ',');
    hitl_buf_int(t, r->row);
    hitl_buf_putc(t, ',');
    hitl__csv_field(t, class_name(ctx, r->label));
    hitl_buf_putc(t, ',');
    hitl_buf_int(t, r->label);
    hitl_buf_putc(t, ',');
    hitl__csv_field(t, r->final_kind);
    hitl_buf_putc(t, ',');
    hitl_buf_int(t, r->n_labels);
    hitl_buf_putc(t, ',');
    hitl__text_float(t, r->agreement);
    hitl_buf_putc(t, ',');
    csv_list(t, &cw->tmp, r->annotators, NULL, ctx, r->n_labels);
    hitl_buf_putc(t, ',');
    csv_list(t, &cw->tmp, NULL, r->votes, ctx, r->n_labels);
    const char *mid[] = {r->labelled_at, r->adjudicator, r->justification, r->decided_at,
                         r->blind ? "blind" : "uncertain"};
    for (size_t i = 0; i < 5; i++) {
        hitl_buf_putc(t, ',');
        hitl__csv_field(t, mid[i]);
    }
    hitl_buf_putc(t, ',');
    hitl__text_float(t, r->score);
    hitl_buf_putc(t, ',');
    hitl__csv_field(t, r->method);
    hitl_buf_putc(t, ',');
    hitl__csv_field(t, class_name(ctx, r->pred));
    hitl_buf_putc(t, ',');
    hitl__text_float(t, r->p1);
    const char *tail[] = {r->model, r->batch, r->route, r->source, r->queued_at, r->final_at};
    for (size_t i = 0; i < 6; i++) {
        hitl_buf_putc(t, ',');
        hitl__csv_field(t, tail[i]);
    }
    for (size_t c = 0; c < ctx->n_classes; c++) {
        hitl_buf_putc(t, ',');
        hitl__text_float(t, r->soft[c]);
    }
    hitl_buf_put(t, "\r\n", 2);
    if (t->oom || cw->tmp.oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return put_line(w, t->p, t->n, err);
}

static hitl_status csv_close(hitl_record_writer *base, int ok, hitl_error *err)
{
    csv_writer *cw = (csv_writer *)base;
    hitl_buf_release(&cw->tmp);
    return text_close(base, ok, err);
}

static const hitl__writer_ops csv_ops = {csv_add, NULL, csv_close};

hitl_status hitl__writer_csv_open(const hitl_record_file *ctx, hitl_record_writer **out,
                                  hitl_error *err)
{
    *out = NULL;
    csv_writer *cw = calloc(1, sizeof(*cw));
    if (!cw) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    text_writer *w = &cw->t;
    w->base.ops = &csv_ops;
    w->ctx = ctx;
    if (!(w->f = fopen(ctx->path, "wb"))) {
        hitl_status st =
            hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", ctx->name, strerror(errno));
        free(cw);
        return st;
    }
    if ((w->iobuf = malloc(IO_BUFFER))) setvbuf(w->f, w->iobuf, _IOFBF, IO_BUFFER);
    hitl_buf *t = &w->line;
    for (size_t i = 0; i < sizeof(csv_columns) / sizeof(csv_columns[0]); i++) {
        if (i) hitl_buf_putc(t, ',');
        hitl_buf_puts(t, csv_columns[i]);
    }
    for (size_t c = 0; c < ctx->n_classes; c++) {
        hitl_buf_putc(t, ',');
        hitl_buf_reset(&cw->tmp);
        hitl_buf_printf(&cw->tmp, "p_%s", ctx->classes[c]);
        hitl__csv_field(t, cw->tmp.p);
    }
    hitl_buf_put(t, "\r\n", 2);
    hitl_status st = t->oom || cw->tmp.oom ? hitl_error_set(err, HITL_ENOMEM, "out of memory")
                                           : put_line(w, t->p, t->n, err);
    if (st != HITL_OK) {
        csv_close(&w->base, 0, NULL);
        return st;
    }
    *out = &w->base;
    return HITL_OK;
}

/* ---- a queue run's routing ------------------------------------------------------------- */

hitl_status hitl_routes_save(const char *path, const hitl_batch_entry *e, size_t n,
                             char *const *ids, char *const *classes, size_t n_classes,
                             hitl_error *err)
{
    static const char *const routes[] = {"uncertain", "review", "flag"};
    hitl_buf t = {0};
    hitl_buf_puts(&t, "row,id,route,score,pred,p1\n");
    for (size_t i = 0; i < n && !t.oom; i++) {
        hitl_buf_int(&t, e[i].row);
        hitl_buf_putc(&t, ',');
        hitl__csv_field(&t, ids[e[i].row]);
        hitl_buf_putc(&t, ',');
        hitl_buf_puts(&t, e[i].proceed ? "proceed"
                          : e[i].blind ? "blind"
                                       : routes[(unsigned)e[i].route < 3 ? e[i].route : 0]);
        hitl_buf_putc(&t, ',');
        hitl__text_float(&t, e[i].score);
        hitl_buf_putc(&t, ',');
        if (classes && e[i].pred >= 0 && (size_t)e[i].pred < n_classes)
            hitl__csv_field(&t, classes[e[i].pred]);
        else if (e[i].pred >= 0)
            hitl_buf_int(&t, e[i].pred);
        hitl_buf_putc(&t, ',');
        hitl__text_float(&t, e[i].p1);
        hitl_buf_putc(&t, '\n');
    }
    hitl_buf_putc(&t, '\0');
    hitl_status st = t.oom ? hitl_error_set(err, HITL_ENOMEM, "out of memory writing '%s'", path)
                           : hitl_text_save(path, t.p, err);
    hitl_buf_release(&t);
    return st;
}
