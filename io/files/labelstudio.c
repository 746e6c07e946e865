/* Label Studio interchange: tasks for the items still open (payload plus our stable id inside
 * "data", the model's confidence as the prediction score), and a reader for the export forms
 * Label Studio writes (JSON, JSON_MIN, CSV, TSV), streamed one task at a time. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "export_internal.h"
#include "text_internal.h"
#include "hitl_banned.h"

#define IO_BUFFER ((size_t)1 << 20)

/* ---- export: one task per item still open ------------------------------------------------ */

typedef struct ls_writer {
    hitl_record_writer base;
    const hitl_record_file *file;
    FILE *f;
    char *iobuf;
    char *json; /* one task's JSON text */
    size_t cap;
    int64_t n; /* tasks written */
} ls_writer;

static void ls_release(ls_writer *w)
{
    if (w->f) fclose(w->f);
    free(w->iobuf);
    free(w->json);
    free(w);
}

static hitl_status ls_write_error(ls_writer *w, hitl_error *err)
{
    return hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", w->file->name, strerror(errno));
}

static hitl_status ls_add_task(hitl_record_writer *base, const hitl_ls_task *t, hitl_error *err)
{
    ls_writer *w = (ls_writer *)base;
    json_t *d = t->data ? json_loads(t->data, 0, NULL) : NULL;
    if (!json_is_object(d)) {
        json_decref(d);
        d = json_object();
    }
    json_object_set_new(d, "hitl_id", json_string(t->id));
    json_t *result = json_array();
    if (t->prediction)
        json_array_append_new(result, json_pack("{s:s, s:s, s:s, s:{s:[s]}}", "from_name",
                                                t->from_name, "to_name", t->to_name, "type",
                                                "choices", "value", "choices", t->prediction));
    json_t *pr = json_pack("{s:s, s:f, s:o}", "model_version", t->model_version, "score", t->score,
                           "result", result);
    json_t *task = json_pack("{s:o, s:[o]}", "data", d, "predictions", pr);
    if (task && w->file->audit_head)
        json_object_set_new(task, "meta",
                            json_pack("{s:s}", "hitl_audit_head", w->file->audit_head));
    if (!task)
        return hitl_error_set(err, HITL_EDATA, "item '%s': cannot be written as JSON", t->id);
    size_t len = json_dumpb(task, w->json, w->cap, JSON_COMPACT | JSON_REAL_PRECISION(9));
    if (len > w->cap) {
        char *p = realloc(w->json, len * 2);
        if (!p) {
            json_decref(task);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
        w->json = p;
        w->cap = len * 2;
        len = json_dumpb(task, w->json, w->cap, JSON_COMPACT | JSON_REAL_PRECISION(9));
    }
    json_decref(task);
    if (fputs(w->n ? ",\n" : "\n", w->f) == EOF || fwrite(w->json, 1, len, w->f) != len)
        return ls_write_error(w, err);
    w->n++;
    return HITL_OK;
}

static hitl_status ls_close(hitl_record_writer *base, int ok, hitl_error *err)
{
    ls_writer *w = (ls_writer *)base;
    hitl_status s = HITL_OK;
    if (ok && fputs("\n]\n", w->f) == EOF) s = ls_write_error(w, err);
    int bad = fclose(w->f) != 0;
    w->f = NULL;
    if (ok && s == HITL_OK && bad) s = ls_write_error(w, err);
    ls_release(w);
    return s;
}

static const hitl__writer_ops ls_ops = {NULL, ls_add_task, ls_close};

hitl_status hitl__writer_ls_open(const hitl_record_file *file, hitl_record_writer **out,
                                 hitl_error *err)
{
    *out = NULL;
    ls_writer *w = calloc(1, sizeof(*w));
    if (!w) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    w->base.ops = &ls_ops;
    w->file = file;
    if (!(w->f = fopen(file->path, "wb"))) {
        hitl_status s = ls_write_error(w, err);
        free(w);
        return s;
    }
    if ((w->iobuf = malloc(IO_BUFFER))) setvbuf(w->f, w->iobuf, _IOFBF, IO_BUFFER);
    if (fputs("[", w->f) == EOF) {
        hitl_status s = ls_write_error(w, err);
        ls_release(w);
        return s;
    }
    *out = &w->base;
    return HITL_OK;
}

/* ---- reading: shared ----------------------------------------------------------------------- */

typedef struct reader {
    const char *path, *from, *to;
    hitl_ls_annotation_fn fn;
    void *ctx;
    char where[96], id_buf[64], ann_buf[64], who_buf[64];
} reader;

/* A JSON string or integer as text (NULL otherwise); integers are printed into buf. */
static const char *id_text(json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v)) return json_string_value(v);
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    return NULL;
}

/* completed_by / annotator: an email, a user id, or an object with either. */
static const char *annotator_text(json_t *v, char *buf, size_t cap)
{
    if (json_is_object(v)) {
        json_t *email = json_object_get(v, "email");
        if (json_is_string(email) && json_string_length(email)) return json_string_value(email);
        v = json_object_get(v, "id");
    }
    const char *s = id_text(v, buf, cap);
    return s && *s ? s : "unknown";
}

static int truthy(json_t *v)
{
    return json_is_true(v) || (json_is_integer(v) && json_integer_value(v) != 0);
}

/* Collects the choices in `v`: a string, a {"choices": [...]} object or a list of either.
 * Returns the count (the first in *choice) or -1 when v has another shape. */
static int collect_choices(json_t *v, const char **choice)
{
    if (json_is_string(v)) {
        *choice = json_string_value(v);
        return 1;
    }
    if (json_is_object(v)) v = json_object_get(v, "choices");
    if (!json_is_array(v)) return -1;
    int n = 0;
    for (size_t i = 0; i < json_array_size(v); i++) {
        json_t *e = json_array_get(v, i);
        const char *c = NULL;
        int k = json_is_string(e) ? (c = json_string_value(e), 1) : collect_choices(e, &c);
        if (k < 0) return -1;
        if (k > 0 && n == 0) *choice = c;
        n += k;
    }
    return n;
}

static hitl_status too_many(reader *rd, const char *ann, int n, hitl_error *err)
{
    return hitl_error_set(err, HITL_EDATA,
                          "'%s': %s: annotation %s has %d choices for '%s' (hitl takes one label "
                          "per item)",
                          rd->path, rd->where, ann ? ann : "?", n, rd->from);
}

/* ---- reading: JSON (full and JSON_MIN) --------------------------------------------------- */

typedef struct stream {
    FILE *f;
    char *buf;
    size_t len, pos, cap;
    int eof;
} stream;

/* Keeps [keep, len) and reads more after it, growing the buffer when full. -1 on a read error
 * or no memory; *keep is moved with the data. */
static int refill(stream *s, size_t *keep)
{
    if (s->eof) return 0;
    if (*keep > 0) {
        memmove(s->buf, s->buf + *keep, s->len - *keep);
        s->len -= *keep;
        s->pos -= *keep;
        *keep = 0;
    }
    if (s->len == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : IO_BUFFER;
        char *p = realloc(s->buf, cap);
        if (!p) return -1;
        s->buf = p;
        s->cap = cap;
    }
    size_t got = fread(s->buf + s->len, 1, s->cap - s->len, s->f);
    s->len += got;
    if (got == 0) {
        if (ferror(s->f)) return -1;
        s->eof = 1;
    }
    return 0;
}

/* The next byte that is not white space, consumed, or EOF. */
static int next_char(stream *s, hitl_status *st)
{
    for (;;) {
        while (s->pos < s->len) {
            char c = s->buf[s->pos++];
            if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return (unsigned char)c;
        }
        if (s->eof) return EOF;
        size_t keep = s->pos;
        if (refill(s, &keep)) {
            *st = HITL_EIO;
            return EOF;
        }
    }
}

/* Finds the end of the object starting at s->pos ('{'): leaves s->pos past it. Returns 0, 1
 * when the input ends inside it, -1 on a read error. */
static int scan_object(stream *s, size_t *start)
{
    *start = s->pos;
    int depth = 0, in_str = 0, esc = 0;
    size_t i = s->pos;
    for (;;) {
        for (; i < s->len; i++) {
            char c = s->buf[i];
            if (in_str) {
                if (esc)
                    esc = 0;
                else if (c == '\\')
                    esc = 1;
                else if (c == '"')
                    in_str = 0;
            } else if (c == '"') {
                in_str = 1;
            } else if (c == '{' || c == '[') {
                depth++;
            } else if (c == '}' || c == ']') {
                if (--depth == 0) {
                    s->pos = i + 1;
                    return 0;
                }
            }
        }
        if (s->eof) return 1;
        size_t off = i - *start;
        if (refill(s, start)) return -1;
        i = *start + off;
    }
}

static hitl_status full_task(reader *rd, json_t *task, int64_t index, hitl_error *err)
{
    json_t *data = json_object_get(task, "data");
    if (data && !json_is_null(data) && !json_is_object(data)) /* absent: Label Studio takes it */
        return hitl_error_set(err, HITL_EDATA, "'%s': %s: \"data\" is not an object", rd->path,
                              rd->where);
    hitl_ls_annotation a = {.task = index, .where = rd->where};
    a.hitl_id = id_text(json_object_get(data, "hitl_id"), rd->id_buf, sizeof(rd->id_buf));
    json_t *anns = json_object_get(task, "annotations");
    if (!anns) anns = json_object_get(task, "completions"); /* before Label Studio 1.0 */
    if (!anns || json_is_null(anns)) return HITL_OK;
    if (!json_is_array(anns))
        return hitl_error_set(err, HITL_EDATA, "'%s': %s: \"annotations\" is not a list", rd->path,
                              rd->where);
    for (size_t j = 0; j < json_array_size(anns); j++) {
        json_t *an = json_array_get(anns, j);
        if (!json_is_object(an))
            return hitl_error_set(err, HITL_EDATA, "'%s': %s: annotation %zu is not an object",
                                  rd->path, rd->where, j);
        a.annotation = id_text(json_object_get(an, "id"), rd->ann_buf, sizeof(rd->ann_buf));
        a.annotator =
            annotator_text(json_object_get(an, "completed_by"), rd->who_buf, sizeof(rd->who_buf));
        a.cancelled =
            truthy(json_object_get(an, "was_cancelled")) || truthy(json_object_get(an, "skipped"));
        json_t *ca = json_object_get(an, "created_at");
        a.created_at = json_is_string(ca) ? json_string_value(ca) : NULL;
        json_t *lt = json_object_get(an, "lead_time");
        a.lead_time = json_is_number(lt) ? json_number_value(lt) : NAN;
        a.choice = NULL;
        int n = 0;
        json_t *result = json_object_get(an, "result");
        for (size_t k = 0; json_is_array(result) && k < json_array_size(result); k++) {
            json_t *r = json_array_get(result, k);
            json_t *fn = json_object_get(r, "from_name"), *tn = json_object_get(r, "to_name");
            if (!json_is_string(fn) || strcmp(json_string_value(fn), rd->from) != 0) continue;
            if (rd->to && (!json_is_string(tn) || strcmp(json_string_value(tn), rd->to) != 0))
                continue;
            const char *c = NULL;
            int got = collect_choices(json_object_get(json_object_get(r, "value"), "choices"), &c);
            if (got > 0 && n == 0) a.choice = c;
            n += got > 0 ? got : 0;
        }
        if (n > 1) return too_many(rd, a.annotation, n, err);
        hitl_status s = rd->fn(rd->ctx, &a, err);
        if (s != HITL_OK) return s;
    }
    return HITL_OK;
}

static hitl_status min_task(reader *rd, json_t *rec, int64_t index, hitl_error *err)
{
    hitl_ls_annotation a = {.task = index, .where = rd->where};
    a.hitl_id = id_text(json_object_get(rec, "hitl_id"), rd->id_buf, sizeof(rd->id_buf));
    a.annotation = id_text(json_object_get(rec, "annotation_id"), rd->ann_buf, sizeof(rd->ann_buf));
    a.annotator =
        annotator_text(json_object_get(rec, "annotator"), rd->who_buf, sizeof(rd->who_buf));
    a.cancelled = truthy(json_object_get(rec, "was_cancelled"));
    json_t *ca = json_object_get(rec, "created_at");
    a.created_at = json_is_string(ca) ? json_string_value(ca) : NULL;
    json_t *lt = json_object_get(rec, "lead_time");
    a.lead_time = json_is_number(lt) ? json_number_value(lt) : NAN;
    json_t *v = json_object_get(rec, rd->from);
    if (v && !json_is_null(v)) {
        int n = collect_choices(v, &a.choice);
        if (n < 0)
            return hitl_error_set(err, HITL_EDATA, "'%s': %s: '%s' holds no choice", rd->path,
                                  rd->where, rd->from);
        if (n > 1) return too_many(rd, a.annotation, n, err);
        if (n == 0) a.choice = NULL;
    }
    return rd->fn(rd->ctx, &a, err);
}

static hitl_status read_json(reader *rd, FILE *f, const char **form, int64_t *tasks,
                             hitl_error *err)
{
    stream s = {.f = f};
    hitl_status st = HITL_OK;
    int is_full = -1;
    int c = next_char(&s, &st);
    /* a list of tasks, or one task object (what Label Studio's cloud storage writes per task) */
    int single = c == '{';
    if (c != '[' && !single) {
        free(s.buf);
        if (st != HITL_OK) return hitl_error_set(err, HITL_EIO, "cannot read '%s'", rd->path);
        return hitl_error_set(err, HITL_EDATA,
                              "'%s': not a Label Studio export (want a JSON list of tasks, or one "
                              "task object)",
                              rd->path);
    }
    if (single) s.pos--; /* the object's '{' is read below */
    int64_t index = 0;
    for (;;) {
        snprintf(rd->where, sizeof(rd->where), "task %lld", (long long)index);
        c = next_char(&s, &st);
        if (c == ']' && index == 0) break;
        if (c == EOF) {
            st = st != HITL_OK
                     ? hitl_error_set(err, HITL_EIO, "cannot read '%s'", rd->path)
                     : hitl_error_set(err, HITL_EDATA,
                                      "'%s': %s: the file ends where a task should be (truncated "
                                      "JSON?)",
                                      rd->path, rd->where);
            break;
        }
        if (c != '{') {
            st = hitl_error_set(err, HITL_EDATA, "'%s': %s is not a JSON object", rd->path,
                                rd->where);
            break;
        }
        s.pos--; /* back to the '{' */
        size_t start;
        int r = scan_object(&s, &start);
        if (r != 0) {
            st = r < 0 ? hitl_error_set(err, HITL_EIO, "cannot read '%s'", rd->path)
                       : hitl_error_set(err, HITL_EDATA,
                                        "'%s': %s: the file ends inside the task (truncated JSON)",
                                        rd->path, rd->where);
            break;
        }
        json_error_t je;
        json_t *task = json_loadb(s.buf + start, s.pos - start, 0, &je);
        if (!task) {
            st = hitl_error_set(err, HITL_EDATA, "'%s': %s: bad JSON: %s", rd->path, rd->where,
                                je.text);
            break;
        }
        if (is_full < 0) {
            is_full = json_object_get(task, "data") || json_object_get(task, "annotations") ||
                      json_object_get(task, "completions");
            *form = is_full ? "json" : "json-min";
        }
        st = is_full ? full_task(rd, task, index, err) : min_task(rd, task, index, err);
        json_decref(task);
        if (st != HITL_OK) break;
        index++;
        if (single) break;
        c = next_char(&s, &st);
        if (c == ',') continue;
        if (c == ']') break;
        st = c == EOF && st == HITL_OK
                 ? hitl_error_set(err, HITL_EDATA,
                                  "'%s': the file ends after task %lld (truncated JSON: no ']')",
                                  rd->path, (long long)(index - 1))
             : c == EOF ? hitl_error_set(err, HITL_EIO, "cannot read '%s'", rd->path)
                        : hitl_error_set(err, HITL_EDATA,
                                         "'%s': after task %lld: want ',' or ']', got '%c'",
                                         rd->path, (long long)(index - 1), c);
        break;
    }
    if (st == HITL_OK && (c = next_char(&s, &st)) != EOF)
        st = hitl_error_set(err, HITL_EDATA, "'%s': text after the %s", rd->path,
                            single ? "task" : "list of tasks");
    if (!*form) *form = "json";
    *tasks = index;
    free(s.buf);
    return st;
}

/* ---- reading: CSV and TSV ---------------------------------------------------------------- */

/* The delimiter of the header, the first line of `f` (read from where it stands): a tab when it
 * has more tabs than commas outside quotes, else a comma. Label Studio writes its TSV export
 * with the CSV writer and a tab, quoting fields that hold a tab, a quote or a line break, so
 * the header's column names (data keys, from_name, annotator, ...) are joined by tabs there. */
static char header_delimiter(FILE *f)
{
    size_t tabs = 0, commas = 0;
    int quoted = 0, c;
    while ((c = getc(f)) != EOF) {
        if (c == '"')
            quoted = !quoted; /* a doubled quote flips twice */
        else if (!quoted && (c == '\n' || c == '\r'))
            break;
        else if (!quoted && c == '\t')
            tabs++;
        else if (!quoted && c == ',')
            commas++;
    }
    return tabs > commas ? '\t' : ',';
}

static hitl_status read_csv(reader *rd, char delimiter, const char **form, int64_t *tasks,
                            hitl_error *err)
{
    *form = delimiter == '\t' ? "tsv" : "csv";
    const hitl__csv_opts opts = {delimiter, 0}; /* a stray quote in a data field is text */
    hitl__csv_reader r;
    hitl_status st = hitl__csv_open(&r, rd->path, &opts, err);
    if (st != HITL_OK) return st;
    int got;
    enum { C_ID, C_FROM, C_WHO, C_ANN, C_AT, C_LEAD, C_CANCEL, C_N };
    const char *names[C_N] = {"hitl_id",    "",          "annotator",    "annotation_id",
                              "created_at", "lead_time", "was_cancelled"};
    names[C_FROM] = rd->from;
    long col[C_N];
    for (int i = 0; i < C_N; i++)
        col[i] = -1;
    if ((st = hitl__csv_next(&r, &got, err)) != HITL_OK) goto done;
    if (!got) {
        st = hitl_error_set(err, HITL_EDATA, "'%s': empty file", rd->path);
        goto done;
    }
    for (size_t j = 0; j < r.n_fields; j++)
        for (int i = 0; i < C_N; i++)
            if (col[i] < 0 && strcmp(hitl__csv_get(&r, j), names[i]) == 0) col[i] = (long)j;
    for (int i = 0; i < 2; i++)
        if (col[i] < 0) {
            st = hitl_error_set(err, HITL_EDATA, "'%s': line 1: no '%s' column%s", rd->path,
                                names[i], i == C_FROM ? " (see --from-name)" : "");
            goto done;
        }
    const size_t n_cols = r.n_fields;
    int64_t index = 0;
    while ((st = hitl__csv_next(&r, &got, err)) == HITL_OK && got) {
        if (hitl__csv_blank(&r)) continue;
        if ((st = hitl__csv_check_fields(&r, n_cols, err)) != HITL_OK) break;
        snprintf(rd->where, sizeof(rd->where), "line %lld (record %lld)", (long long)r.record_line,
                 (long long)index);
        hitl_ls_annotation a = {.task = index, .where = rd->where, .lead_time = NAN};
#define FIELD(i) (col[i] >= 0 ? hitl__csv_get(&r, (size_t)col[i]) : "")
        a.hitl_id = *FIELD(C_ID) ? FIELD(C_ID) : NULL;
        a.annotator = *FIELD(C_WHO) ? FIELD(C_WHO) : "unknown";
        a.annotation = *FIELD(C_ANN) ? FIELD(C_ANN) : NULL;
        a.created_at = *FIELD(C_AT) ? FIELD(C_AT) : NULL;
        const char *cancel = FIELD(C_CANCEL);
        a.cancelled =
            strcmp(cancel, "True") == 0 || strcmp(cancel, "true") == 0 || strcmp(cancel, "1") == 0;
        char *end;
        double lt = strtod(FIELD(C_LEAD), &end);
        if (*FIELD(C_LEAD) && !*end) a.lead_time = lt;
        const char *v = FIELD(C_FROM);
        json_t *j = NULL;
        if (*v == '{' || *v == '[') { /* several choices: Label Studio writes them as JSON */
            if (!(j = json_loads(v, 0, NULL))) {
                st = hitl_error_set(err, HITL_EDATA, "'%s': %s: bad JSON in '%s'", rd->path,
                                    rd->where, rd->from);
                break;
            }
            int n = collect_choices(j, &a.choice);
            if (n > 1) st = too_many(rd, a.annotation, n, err);
            if (n <= 0) a.choice = NULL;
        } else if (*v) {
            a.choice = v;
        }
#undef FIELD
        if (st == HITL_OK) st = rd->fn(rd->ctx, &a, err);
        json_decref(j);
        if (st != HITL_OK) break;
        index++;
    }
    *tasks = index;
done:
    hitl__csv_close(&r);
    return st;
}

hitl_status hitl_labelstudio_read(const char *path, const char *from_name, const char *to_name,
                                  hitl_ls_annotation_fn fn, void *ctx, const char **form,
                                  int64_t *tasks, hitl_error *err)
{
    *form = NULL;
    *tasks = 0;
    reader rd = {.path = path,
                 .from = from_name ? from_name : "choice",
                 .to = to_name,
                 .fn = fn,
                 .ctx = ctx};
    FILE *f = fopen(path, "rb");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
    /* JSON starts with '[' (after blanks and a byte order mark); anything else is CSV or TSV */
    int c;
    do
        c = getc(f);
    while (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == 0xEF || c == 0xBB || c == 0xBF);
    if (c == EOF) {
        fclose(f);
        return hitl_error_set(err, HITL_EDATA, "'%s': empty file", path);
    }
    hitl_status st;
    if (c == '[' || c == '{') {
        rewind(f);
        int b = getc(f); /* a byte order mark */
        if (b == 0xEF) {
            getc(f);
            getc(f);
        } else {
            ungetc(b, f);
        }
        st = read_json(&rd, f, form, tasks, err);
        fclose(f);
    } else {
        rewind(f); /* a byte order mark holds no tab, comma, quote or line break */
        char delimiter = header_delimiter(f);
        fclose(f);
        st = read_csv(&rd, delimiter, form, tasks, err);
    }
    return st;
}

/* ---- the user map ---------------------------------------------------------------------- */

hitl_status hitl_user_map_read(const char *path, char ***ids, char ***names, size_t *n,
                               hitl_error *err)
{
    *ids = *names = NULL;
    *n = 0;
    hitl__csv_reader r;
    hitl_status st = hitl__csv_open(&r, path, NULL, err);
    if (st != HITL_OK) return st;
    size_t cap = 0;
    hitl_strmap seen = {0};
    int got, first = 1;
    while ((st = hitl__csv_next(&r, &got, err)) == HITL_OK && got) {
        if (hitl__csv_blank(&r)) continue;
        const char *id = hitl__csv_get(&r, 0), *name = hitl__csv_get(&r, 1);
        if (first && strcmp(id, "id") == 0 && strcmp(name, "name") == 0 && r.n_fields == 2) {
            first = 0; /* the header */
            continue;
        }
        first = 0;
        if (r.n_fields != 2 || !*id || !*name) {
            st = hitl_error_set(err, HITL_EDATA, "'%s' line %lld: want id,name", path,
                                (long long)r.record_line);
            break;
        }
        size_t before = seen.n;
        if (hitl_strmap_intern(&seen, id, strlen(id)) < 0) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        if (seen.n == before) {
            st = hitl_error_set(err, HITL_EDATA, "'%s' line %lld: user '%s' is mapped twice", path,
                                (long long)r.record_line, id);
            break;
        }
        if (*n == cap) {
            size_t c = cap ? 2 * cap : 16;
            char **a = realloc(*ids, c * sizeof(char *)),
                 **b = a ? realloc(*names, c * sizeof(char *)) : NULL;
            if (a) *ids = a;
            if (b) *names = b;
            if (!a || !b) {
                st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                break;
            }
            cap = c;
        }
        (*ids)[*n] = strdup(id);
        (*names)[*n] = strdup(name);
        if (!(*ids)[*n] || !(*names)[*n]) {
            free((*ids)[*n]);
            free((*names)[*n]);
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        (*n)++;
    }
    hitl__csv_close(&r);
    hitl_strmap_release(&seen);
    if (st != HITL_OK) {
        hitl_strings_free(*ids, *n);
        hitl_strings_free(*names, *n);
        *ids = *names = NULL;
        *n = 0;
    }
    return st;
}

/* ---- the labelling config -------------------------------------------------------------- */

static void xml_attr(FILE *f, const char *s)
{
    for (; *s; s++)
        switch (*s) {
        case '&':
            fputs("&amp;", f);
            break;
        case '<':
            fputs("&lt;", f);
            break;
        case '>':
            fputs("&gt;", f);
            break;
        case '"':
            fputs("&quot;", f);
            break;
        case '\'':
            fputs("&apos;", f);
            break;
        default:
            fputc(*s, f);
        }
}

hitl_status hitl_ls_config_write(const char *path, char *const *classes, size_t n_classes,
                                 const char *from_name, const char *to_name, hitl_error *err)
{
    const char *from = from_name ? from_name : "choice", *to = to_name ? to_name : "text";
    static const char *const images[] = {"image", "img", "picture", "photo"};
    const char *tag = "Text";
    for (size_t i = 0; i < sizeof(images) / sizeof(images[0]); i++)
        if (strcmp(to, images[i]) == 0) tag = "Image";
    FILE *f = fopen(path, "w");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", path, strerror(errno));
    fputs(
        "<!-- written by hitl export: the tasks' data carry hitl_id, which hitl import needs -->\n"
        "<View>\n  <",
        f);
    fputs(tag, f);
    fputs(" name=\"", f);
    xml_attr(f, to);
    fputs("\" value=\"$", f);
    xml_attr(f, to);
    fputs("\"/>\n  <Choices name=\"", f);
    xml_attr(f, from);
    fputs("\" toName=\"", f);
    xml_attr(f, to);
    fputs("\" choice=\"single-radio\" showInline=\"true\">\n", f);
    for (size_t i = 0; i < n_classes; i++) {
        fputs("    <Choice value=\"", f);
        xml_attr(f, classes[i]);
        fputs("\"/>\n", f);
    }
    fputs("  </Choices>\n</View>\n", f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad)
        return hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", path, strerror(errno));
    return HITL_OK;
}
