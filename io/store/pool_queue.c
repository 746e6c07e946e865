/* hitl_store_queue: a batch from a pool file. The uncertainty pass (and k-center or BADGE) runs
 * outside any transaction; the rows already queued are then read again, the batch planned and
 * inserted in one write transaction, so what it reports is what it inserted. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* What one call works on: every pool row's score, prediction and top probability, its id, and
 * whether an item of that id is queued already. */
typedef struct pool {
    size_t n;
    float *score, *p1;
    int32_t *pred;
    char **ids;
    hitl_strmap index; /* id -> row */
    uint8_t *taken;
} pool;

static void pool_release(pool *p)
{
    free(p->score);
    free(p->p1);
    free(p->pred);
    hitl_strings_free(p->ids, p->ids ? p->n : 0);
    hitl_strmap_release(&p->index);
    free(p->taken);
}

/* The pool's item ids as text (the id dataset or the row numbers), indexed by id; a pool that
 * names two rows alike is HITL_EDATA (they would be one item). */
static hitl_status read_ids(const hitl_queue_opts *o, pool *p, hitl_error *err)
{
    size_t n = p->n;
    if (!(p->ids = calloc(n ? n : 1, sizeof(char *))))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ids", n);
    hitl_status s = HITL_OK;
    hitl_ids v = {0};
    if (o->ids) {
        int64_t *rows = malloc((n ? n : 1) * sizeof(int64_t));
        if (!rows) return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ids", n);
        for (size_t i = 0; i < n; i++)
            rows[i] = (int64_t)i;
        s = hitl_ids_read_rows(o->pass.path, o->ids, n, rows, n, &v, err);
        free(rows);
    }
    for (size_t i = 0; s == HITL_OK && i < n; i++) {
        char buf[24];
        const char *id = buf;
        if (o->ids && v.is_string)
            id = v.strs[i];
        else
            snprintf(buf, sizeof(buf), "%lld", o->ids ? (long long)v.ints[i] : (long long)i);
        size_t len = strlen(id);
        int64_t at = hitl_strmap_intern(&p->index, id, len);
        if (!(p->ids[i] = strdup(id)) || at < 0)
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ids", n);
        else if ((size_t)at != i)
            s = hitl_error_set(err, HITL_EDATA, "'%s:%s': rows %lld and %zu have the same id '%s'",
                               o->pass.path, o->ids, (long long)at, i, id);
    }
    hitl_ids_release(&v);
    return s;
}

/* Marks the pool rows whose id is queued already (one scan of the queue) and counts them. */
static hitl_status read_taken(hitl_store *st, pool *p, size_t *n_taken, hitl_error *err)
{
    memset(p->taken, 0, p->n ? p->n : 1);
    *n_taken = 0;
    sqlite3_stmt *q;
    hitl_status s = hitl__store_prepare(st, "SELECT pool_id FROM items", &q, err);
    if (s != HITL_OK) return s;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(q, 0);
        int64_t row = hitl_strmap_find(&p->index, id, (size_t)sqlite3_column_bytes(q, 0));
        if (row >= 0 && !p->taken[row]) {
            p->taken[row] = 1;
            (*n_taken)++;
        }
    }
    if (rc != SQLITE_DONE) s = hitl__store_sqlerr(st, rc, err, "cannot read the queue");
    hitl__store_finish(st, q);
    return s;
}

/* Every row's class probabilities [n, *c] for BADGE, from what the pass read: the --probs
 * dataset, the softmax of the logits (with the temperature), or the head applied to the
 * features (x, already read, when they are the embeddings). Caller frees *out. */
static hitl_status pool_probs(const hitl_queue_opts *o, size_t n, const float *x, size_t d,
                              float **out, size_t *c, hitl_error *err)
{
    const hitl_score_pass_opts *ps = &o->pass;
    hitl_matrix *m = NULL;
    hitl_head h = {0};
    float *p = NULL, *feat = NULL;
    hitl_status s = HITL_OK;
    *out = NULL;
    if (ps->kind == HITL_POOL_FEATURES) {
        if ((s = hitl_head_load(&h, ps->head_path, err)) != HITL_OK) return s;
        if (strcmp(o->embeddings, ps->dset) != 0) { /* the head's input is not the embeddings */
            if ((s = hitl_matrix_open(&m, ps->path, ps->dset, err)) == HITL_OK)
                s = hitl_matrix_load(m, &feat, err);
            if (s == HITL_OK && hitl_matrix_cols(m) != h.d)
                s = hitl_error_set(err, HITL_ESHAPE, "'%s': %zu features for a head of %zu",
                                   hitl_matrix_name(m), hitl_matrix_cols(m), h.d);
        } else if (d != h.d) {
            s = hitl_error_set(err, HITL_ESHAPE, "%zu features for a head of %zu", d, h.d);
        }
        *c = h.c;
        if (s == HITL_OK && !(p = malloc(n * h.c * sizeof(float) + 1)))
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu x %zu logits", n, h.c);
        if (s == HITL_OK) s = hitl_head_logits(feat ? feat : x, n, h.d, h.w, h.b, h.c, p, err);
    } else {
        if ((s = hitl_matrix_open(&m, ps->path, ps->dset, err)) == HITL_OK)
            s = hitl_matrix_load(m, &p, err);
        if (s == HITL_OK) *c = hitl_matrix_cols(m);
    }
    if (s == HITL_OK && ps->kind != HITL_POOL_PROBS)
        hitl_softmax_rows(p, n, *c, ps->score.temperature);
    hitl_matrix_close(m);
    hitl_head_release(&h);
    free(feat);
    if (s != HITL_OK) {
        free(p);
        return s;
    }
    *out = p;
    return HITL_OK;
}

/* The k-center picks: K rows spread over the embeddings (kcenter), or over the most uncertain
 * rows (margin-kcenter), starting from the rows already queued; or BADGE's. The embeddings are
 * read whole: n x d floats in memory. Caller frees *out. */
static hitl_status diverse_picks(const hitl_queue_opts *o, const pool *p, int64_t **out,
                                 size_t *n_out, hitl_error *err)
{
    hitl_matrix *m = NULL;
    float *x = NULL;
    int64_t *sel = NULL, *cand = NULL;
    size_t n = p->n, k = o->top_k;
    hitl_status s = hitl_matrix_open(&m, o->pass.path, o->embeddings, err);
    if (s != HITL_OK) return s;
    size_t d = hitl_matrix_cols(m), ns = 0, nc = 0;
    if (hitl_matrix_rows(m) != n) {
        s = hitl_error_set(err, HITL_ESHAPE, "'%s': %zu rows of embeddings for %zu pool rows",
                           hitl_matrix_name(m), hitl_matrix_rows(m), n);
        goto done;
    }
    if ((s = hitl_matrix_load(m, &x, err)) != HITL_OK) goto done;
    sel = malloc((n ? n : 1) * sizeof(int64_t));
    cand = malloc((n ? n : 1) * sizeof(int64_t));
    *out = malloc((k ? k : 1) * sizeof(int64_t));
    if (!sel || !cand || !*out) {
        s = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu rows", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (p->taken[i])
            sel[ns++] = (int64_t)i;
        else if (!isnan(p->score[i]))
            cand[nc++] = (int64_t)i;
    }
    hitl_kcenter_opts ko = {.selected = sel,
                            .n_selected = ns,
                            .candidates = o->pick == HITL_PICK_KCENTER ? cand : NULL,
                            .n_candidates = o->pick == HITL_PICK_KCENTER ? nc : 0};
    if (o->pick == HITL_PICK_BADGE) {
        uint8_t *skip = malloc(n ? n : 1); /* queued rows and rows the pass skipped */
        float *probs = NULL;
        size_t c = 0;
        if (!skip) {
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            skip[i] = p->taken[i] || isnan(p->score[i]);
        s = pool_probs(o, n, x, d, &probs, &c, err);
        if (s == HITL_OK)
            s = hitl_badge_select(x, n, d, probs, c, skip, k, o->seed, *out, n_out, err);
        free(skip);
        free(probs);
    } else if (o->pick == HITL_PICK_KCENTER) {
        s = hitl_kcenter_greedy(x, n, d, k, &ko, *out, NULL, n_out, err);
    } else {
        s = hitl_margin_kcenter(x, n, d, p->score, p->taken, o->candidates ? o->candidates : 10 * k,
                                k, &ko, *out, NULL, n_out, err);
    }
done:
    hitl_matrix_close(m);
    free(x);
    free(sel);
    free(cand);
    if (s != HITL_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* The whole of a text file, NUL-terminated (caller frees). */
static hitl_status read_text_file(const char *path, char **out, hitl_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
        return hitl_error_set(err, HITL_EINVAL, "'%s' is a directory, not a JSONL file", path);
    FILE *f = fopen(path, "rb");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot open '%s'", path);
    hitl_buf b = {0};
    char chunk[1 << 16];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0)
        hitl_buf_put(&b, chunk, got);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        hitl_buf_release(&b);
        return hitl_error_set(err, HITL_EIO, "cannot read '%s'", path);
    }
    if (b.oom || !b.p) {
        int oom = b.oom;
        hitl_buf_release(&b);
        if (oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory reading '%s'", path);
        *out = strdup("");
        return *out ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    *out = b.p;
    return HITL_OK;
}

static const char *pick_name(const hitl_queue_opts *o)
{
    switch (o->pick) {
    case HITL_PICK_KCENTER:
        return "kcenter";
    case HITL_PICK_MARGIN_KCENTER:
        return "margin-kcenter";
    case HITL_PICK_BADGE:
        return "badge";
    default:
        return hitl_method_name(o->pass.rank_by);
    }
}

/* How this store's items are named: "rows" (the pool's row numbers) or "ids:DSET"; recorded by
 * the first queue. One pool row named both ways would be two items, so a run naming them the
 * other way is refused (HITL_EDATA). */
static hitl_status check_naming(hitl_store *st, const hitl_queue_opts *o, char *naming, size_t cap,
                                hitl_error *err)
{
    snprintf(naming, cap, "%s%s", o->ids ? "ids:" : "rows", o->ids ? o->ids : "");
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st, "SELECT value FROM meta WHERE key = 'pool_ids'", &q, err);
    if (r != HITL_OK) return r;
    int rc = sqlite3_step(q);
    char before[256] = "";
    if (rc == SQLITE_ROW) snprintf(before, sizeof(before), "%s", sqlite3_column_text(q, 0));
    hitl__store_finish(st, q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hitl__store_sqlerr(st, rc, err, "cannot read settings");
    if (!before[0]) return hitl__meta_write(st, "pool_ids", naming, err);
    if (strcmp(before, naming) == 0) return HITL_OK;
    int by_ids = strncmp(before, "ids:", 4) == 0;
    return hitl_error_set(err, HITL_EDATA,
                          "this store names items by %s%s; this run names them by %s%s: one pool "
                          "row would become two items",
                          by_ids ? "the ids in " : "row number", by_ids ? before + 4 : "",
                          o->ids ? "the ids in " : "row number", o->ids ? o->ids : "");
}

/* Inside the write transaction: the rows queued now, the plan over the others (k-center picks
 * queued meanwhile are dropped), the rows and payloads inserted. */
static hitl_status plan_and_insert(hitl_store *st, const hitl_queue_opts *o, pool *p,
                                   int64_t *picks, size_t n_picks, const char *data,
                                   hitl_queue_result *res, hitl_batch_entry **plan_out,
                                   size_t *n_plan, hitl_error *err)
{
    char naming[300];
    hitl_status s = check_naming(st, o, naming, sizeof(naming), err);
    if (s == HITL_OK) s = read_taken(st, p, &res->already_queued, err);
    if (s != HITL_OK) return s;
    size_t kept = 0;
    for (size_t i = 0; i < n_picks; i++)
        if (!p->taken[picks[i]]) picks[kept++] = picks[i];
    hitl_batch_opts bo = {.use_top_k = o->use_top_k,
                          .top_k = o->top_k,
                          .blind = o->blind,
                          .seed = o->seed,
                          .route = o->route,
                          .high = o->high,
                          .medium = o->medium,
                          .overlap = st->settings.overlap,
                          .chosen = o->pick != HITL_PICK_SCORE ? picks : NULL,
                          .n_chosen = o->pick != HITL_PICK_SCORE ? kept : 0};
    hitl_batch_entry *plan = NULL;
    size_t nr = 0;
    hitl_batch_counts counts;
    s = hitl_batch_plan(p->score, p->pred, p->p1, p->taken, p->n, &bo, &plan, &nr, &counts, err);
    if (s != HITL_OK) return s;
    hitl_queue_row *rows = calloc(nr ? nr : 1, sizeof(*rows));
    if (!rows) {
        free(plan);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    static const char *const route_names[] = {NULL, "review", "flag"};
    size_t nq = 0; /* the rows queued: the plan less those that proceed */
    for (size_t i = 0; i < nr; i++) {
        const hitl_batch_entry *e = &plan[i];
        if (e->proceed) continue;
        rows[nq++] = (hitl_queue_row){p->ids[e->row],
                                      e->row,
                                      e->blind ? HITL_REASON_BLIND : HITL_REASON_UNCERTAIN,
                                      e->score,
                                      e->pred,
                                      e->p1,
                                      e->required,
                                      route_names[e->route],
                                      NULL};
    }
    char source[1024];
    snprintf(source, sizeof(source), "%s:%s", o->pass.path, o->pass.dset ? o->pass.dset : "");
    hitl_queue_batch qb = {res->batch, res->method, o->model,       source,
                           o->seed,    o->actor,    counts.proceed, naming};
    s = hitl__store_enqueue_rows(st, &qb, rows, nq, &res->added, err);
    /* the rows queued before are marked taken, and the pool's ids are unique: every planned row
     * is new */
    if (s == HITL_OK && res->added != nq)
        s = hitl_error_set(err, HITL_EINTERNAL, "'%s': %zu of %zu planned rows were inserted",
                           st->path, res->added, nq);
    if (s == HITL_OK && data &&
        (s = hitl__store_attach_rows(st, data, &res->data_attached, &res->data_ignored, err)) !=
            HITL_OK)
        hitl_error_prefix(err, "'%s'", o->data);
    if (s == HITL_OK) {
        res->uncertain = counts.uncertain;
        res->blind = counts.blind;
        res->review = counts.review;
        res->flag = counts.flag;
        res->proceed = counts.proceed;
    }
    free(rows);
    if (s == HITL_OK && plan_out) { /* the caller records the routing once committed */
        *plan_out = plan;
        *n_plan = nr;
    } else {
        free(plan);
    }
    return s;
}

hitl_status hitl_store_queue(hitl_store *st, const hitl_queue_opts *o, hitl_queue_result *res,
                             hitl_error *err)
{
    memset(res, 0, sizeof(*res));
    res->overlap = st->settings.overlap;
    res->method = pick_name(o);
    if (o->batch) {
        snprintf(res->batch, sizeof(res->batch), "%s", o->batch);
    } else {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        size_t len = strftime(res->batch, sizeof(res->batch), "batch-%Y%m%dT%H%M%SZ", &tm);
        snprintf(res->batch + len, sizeof(res->batch) - len, "-%ld", (long)getpid());
    }
    pool p = {0};
    hitl_matrix *m = NULL;
    hitl_status s = hitl_matrix_open(&m, o->pass.path, o->pass.dset, err);
    if (s != HITL_OK) return s;
    p.n = res->pool_rows = hitl_matrix_rows(m);
    hitl_matrix_close(m);
    size_t n1 = p.n ? p.n : 1;
    p.score = malloc(n1 * sizeof(float));
    p.p1 = malloc(n1 * sizeof(float));
    p.pred = malloc(n1 * sizeof(int32_t));
    p.taken = calloc(n1, 1);
    if (!p.score || !p.p1 || !p.pred || !p.taken) {
        pool_release(&p);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu rows", p.n);
    }
    hitl_score_pass_opts pass = o->pass;
    pass.all_scores = p.score;
    pass.all_pred = p.pred;
    pass.all_p1 = p.p1;
    hitl_score_pass_result scored = {0};
    int64_t *picks = NULL;
    size_t n_picks = 0, n_known = 0;
    char *data = NULL;
    s = hitl_score_pass(&pass, &scored, err);
    if (s == HITL_OK && scored.n_classes != st->settings.n_classes)
        s = hitl_error_set(err, HITL_ESHAPE, "the pool has %zu classes, the project %zu",
                           scored.n_classes, st->settings.n_classes);
    hitl_score_pass_result_release(&scored);
    if (s == HITL_OK) s = read_ids(o, &p, err);
    if (s == HITL_OK && o->data) s = read_text_file(o->data, &data, err);
    /* k-center and BADGE are slow: chosen against the queue as it is now, outside the write
     * lock; rows queued meanwhile are dropped from the picks inside it */
    if (s == HITL_OK && o->pick != HITL_PICK_SCORE) {
        if ((s = hitl__store_read(st, err)) == HITL_OK) {
            s = read_taken(st, &p, &n_known, err);
            hitl__store_rollback(st);
        }
        if (s == HITL_OK) s = diverse_picks(o, &p, &picks, &n_picks, err);
    }
    hitl_batch_entry *plan = NULL;
    size_t n_plan = 0;
    if (s == HITL_OK && (s = hitl__store_begin(st, err)) == HITL_OK) {
        s = plan_and_insert(st, o, &p, picks, n_picks, data, res, o->routes_out ? &plan : NULL,
                            &n_plan, err);
        if (s == HITL_OK)
            s = hitl__store_commit(st, err);
        else
            hitl__store_rollback(st);
    }
    if (s == HITL_OK && o->routes_out &&
        (s = hitl_routes_save(o->routes_out, plan, n_plan, p.ids, st->settings.classes,
                              st->settings.n_classes, err)) != HITL_OK)
        hitl_error_prefix(err, "the batch is queued, but its routing file is not written");
    free(plan);
    free(picks);
    free(data);
    pool_release(&p);
    if (s != HITL_OK) {
        hitl_queue_result keep = *res;
        memset(res, 0, sizeof(*res));
        memcpy(res->batch, keep.batch, sizeof(res->batch));
        res->method = keep.method;
    }
    return s;
}
