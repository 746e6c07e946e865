/* Final labels out of the store: one read snapshot, three ordered cursors (items, labels,
 * decisions) merged so memory is one item, and the final-label rule applied (adjudicated,
 * majority, Dawid-Skene). Also the ratings table Dawid-Skene and the report's agreement read. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static const char *const rule_names[HITL_FINAL_COUNT] = {"adjudicated", "majority", "dawid-skene"};

const char *hitl_final_rule_name(hitl_final_rule r)
{
    return (unsigned)r < HITL_FINAL_COUNT ? rule_names[r] : "unknown";
}

hitl_status hitl_final_rule_parse(const char *name, hitl_final_rule *out)
{
    for (int i = 0; name && i < HITL_FINAL_COUNT; i++) {
        if (strcmp(name, rule_names[i]) == 0) {
            *out = (hitl_final_rule)i;
            return HITL_OK;
        }
    }
    return HITL_EINVAL;
}

/* ---- the ratings table ------------------------------------------------------------------- */

static hitl_status grow(void **v, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return HITL_OK;
    size_t c = *cap ? *cap : 1024;
    while (c < need)
        c *= 2;
    void *p = realloc(*v, c * size);
    if (!p) return HITL_ENOMEM;
    *v = p;
    *cap = c;
    return HITL_OK;
}

hitl_status hitl__store_ratings(hitl_store *st, hitl_ratings *r, int64_t **item_ids,
                                char ***annotators, size_t *n_annotators, hitl_error *err)
{
    memset(r, 0, sizeof(*r));
    if (item_ids) *item_ids = NULL;
    *annotators = NULL;
    *n_annotators = 0;
    char **names = NULL;
    size_t n_names = 0, cap_names = 0;
    int32_t *ti = NULL, *ta = NULL, *tl = NULL;
    int64_t *ids = NULL;
    size_t n = 0, cap_t = 0, cap_a = 0, cap_l = 0, n_items = 0, cap_ids = 0;
    hitl_status s = HITL_OK;
    int rc;
    sqlite3_stmt *q;
    s = hitl__store_prepare(st, "SELECT DISTINCT annotator FROM labels ORDER BY annotator", &q,
                            err);
    if (s != HITL_OK) return s;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (grow((void **)&names, &cap_names, n_names + 1, sizeof(char *)) ||
            !(names[n_names] = strdup((const char *)sqlite3_column_text(q, 0)))) {
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        n_names++;
    }
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read labels");
    hitl__store_finish(st, q);
    if (s != HITL_OK) goto fail;
    s = hitl__store_prepare(
        st, "SELECT item, annotator, label FROM labels ORDER BY item, annotator", &q, err);
    if (s != HITL_OK) goto fail;
    int64_t last = -1;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t item = sqlite3_column_int64(q, 0);
        const char *who = (const char *)sqlite3_column_text(q, 1);
        int label = sqlite3_column_int(q, 2);
        if (item != last) {
            if (grow((void **)&ids, &cap_ids, n_items + 1, sizeof(int64_t))) {
                s = HITL_ENOMEM;
                break;
            }
            ids[n_items++] = item;
            last = item;
        }
        size_t lo = 0, hi = n_names; /* SQLite's BINARY order is strcmp's */
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (strcmp(names[mid], who) < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
        if (lo == n_names || strcmp(names[lo], who) != 0) {
            s = hitl_error_set(err, HITL_EINTERNAL, "'%s': annotator '%s' vanished", st->path, who);
            break;
        }
        if (grow((void **)&ti, &cap_t, n + 1, sizeof(int32_t)) ||
            grow((void **)&ta, &cap_a, n + 1, sizeof(int32_t)) ||
            grow((void **)&tl, &cap_l, n + 1, sizeof(int32_t))) {
            s = HITL_ENOMEM;
            break;
        }
        ti[n] = (int32_t)(n_items - 1);
        ta[n] = (int32_t)lo;
        tl[n] = label;
        n++;
    }
    if (s == HITL_ENOMEM) s = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu labels", n);
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read labels");
    hitl__store_finish(st, q);
    if (s == HITL_OK)
        s = hitl_ratings_build(r, n_items, n_names, st->settings.n_classes, ti, ta, tl, n, NULL,
                               err);
    if (s != HITL_OK) {
        if (s == HITL_EINVAL || s == HITL_EDATA)
            hitl_error_prefix(err, "'%s': the labels table is inconsistent", st->path);
        goto fail;
    }
    free(ti);
    free(ta);
    free(tl);
    if (item_ids)
        *item_ids = ids;
    else
        free(ids);
    *annotators = names;
    *n_annotators = n_names;
    return HITL_OK;
fail:
    free(ti);
    free(ta);
    free(tl);
    free(ids);
    hitl_strings_free(names, n_names);
    hitl_ratings_release(r);
    return s;
}

hitl_status hitl_store_ratings_get(hitl_store *st, hitl_ratings *r, char ***annotators,
                                   size_t *n_annotators, hitl_error *err)
{
    hitl_status s = hitl__store_read(st, err);
    if (s != HITL_OK) return s;
    s = hitl__store_ratings(st, r, NULL, annotators, n_annotators, err);
    hitl__store_rollback(st);
    return s;
}

/* ---- the cursor -------------------------------------------------------------------------- */

struct hitl_records {
    hitl_store *st;
    hitl_final_rule rule;
    size_t c;
    sqlite3_stmt *items, *labels, *decisions;
    int label_row, decision_row; /* the cursor stands on a row not consumed yet */
    int done;
    hitl_record rec;
    hitl_buf arena; /* the current record's strings, NUL-separated */
    size_t *ann_off, *at_off;
    const char **ann, **at;
    int32_t *votes;
    size_t cap_votes;
    float *soft;
    int64_t *counts;
    /* dawid-skene */
    int have_ds;
    hitl_ds_result ds;
    int64_t *ds_ids;
    size_t ds_pos;
    hitl_records_counts n;
};

static const char items_sql[] =
    "SELECT id, pool_id, pool_row, batch, reason, score, method, model, pred, p1, route, source,"
    " queued_at, state, final_label, final_kind, final_at, data FROM items WHERE state >= ?1"
    " ORDER BY id";
static const char labels_sql[] =
    "SELECT item, annotator, label, created_at FROM labels ORDER BY item, annotator";
static const char decisions_sql[] =
    "SELECT item, actor, justification, created_at FROM decisions ORDER BY item, id";

void hitl_records_close(hitl_records *rc)
{
    if (!rc) return;
    hitl__store_finish(rc->st, rc->items);
    hitl__store_finish(rc->st, rc->labels);
    hitl__store_finish(rc->st, rc->decisions);
    hitl__store_rollback(rc->st);
    hitl_buf_release(&rc->arena);
    free(rc->ann_off);
    free(rc->at_off);
    free(rc->ann);
    free(rc->at);
    free(rc->votes);
    free(rc->soft);
    free(rc->counts);
    free(rc->ds_ids);
    if (rc->have_ds) hitl_ds_result_release(&rc->ds);
    free(rc);
}

/* Room for twice as many labels per item in every per-label array. */
static int grow_votes(hitl_records *rc)
{
    size_t cap = rc->cap_votes ? rc->cap_votes * 2 : 16;
    size_t *ao = realloc(rc->ann_off, cap * sizeof(size_t));
    if (ao) rc->ann_off = ao;
    size_t *to = realloc(rc->at_off, cap * sizeof(size_t));
    if (to) rc->at_off = to;
    int32_t *v = realloc(rc->votes, cap * sizeof(int32_t));
    if (v) rc->votes = v;
    const char **a = realloc(rc->ann, cap * sizeof(char *));
    if (a) rc->ann = a;
    const char **t = realloc(rc->at, cap * sizeof(char *));
    if (t) rc->at = t;
    if (!ao || !to || !v || !a || !t) return -1;
    rc->cap_votes = cap;
    return 0;
}

static hitl_status step_side(hitl_records *rc, sqlite3_stmt *q, int *has_row, hitl_error *err)
{
    int s = sqlite3_step(q);
    if (s == SQLITE_ROW) {
        *has_row = 1;
        return HITL_OK;
    }
    *has_row = 0;
    return s == SQLITE_DONE ? HITL_OK : hitl__store_sqlerr(rc->st, s, err, "cannot read labels");
}

hitl_status hitl_records_open(hitl_store *st, hitl_final_rule rule, const hitl_ds_opts *ds,
                              hitl_records **out, hitl_error *err)
{
    *out = NULL;
    if ((unsigned)rule >= HITL_FINAL_COUNT)
        return hitl_error_set(err, HITL_EINVAL, "unknown final-label rule %d", (int)rule);
    hitl_records *rc = calloc(1, sizeof(*rc));
    if (!rc) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    rc->st = st;
    rc->rule = rule;
    rc->c = st->settings.n_classes;
    rc->soft = malloc(rc->c * sizeof(float));
    rc->counts = malloc(rc->c * sizeof(int64_t));
    if (!rc->soft || !rc->counts) {
        free(rc->soft);
        free(rc->counts);
        free(rc);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_status s = hitl__store_read(st, err); /* one snapshot for every cursor */
    if (s == HITL_OK) s = hitl__audit_head(st, &rc->n.head, err);
    if (s != HITL_OK) hitl__store_rollback(st);
    if (s != HITL_OK) {
        free(rc->soft);
        free(rc->counts);
        free(rc);
        return s;
    }
    if (rule == HITL_FINAL_DAWID_SKENE) {
        hitl_ratings r;
        char **names = NULL;
        size_t n_names = 0;
        s = hitl__store_ratings(st, &r, &rc->ds_ids, &names, &n_names, err);
        hitl_strings_free(names, n_names);
        if (s == HITL_OK && r.n_ratings == 0) {
            rc->have_ds = 0; /* nothing to fit: only decisions can be exported */
        } else if (s == HITL_OK) {
            hitl_ds_opts o = ds ? *ds : (hitl_ds_opts){0};
            s = hitl_dawid_skene(&r, &o, &rc->ds, err);
            if (s == HITL_OK) {
                rc->have_ds = 1;
                rc->n.ds_iterations = rc->ds.iterations;
                rc->n.ds_converged = rc->ds.converged;
            } else {
                hitl_error_prefix(err, "dawid-skene");
            }
        }
        hitl_ratings_release(&r);
        if (s != HITL_OK) {
            hitl_records_close(rc);
            return s;
        }
    }
    /* items with labels and no final label under this rule */
    sqlite3_stmt *q;
    s = hitl__store_prepare(st, "SELECT count(*) FROM items WHERE state < ?1 AND n_labels > 0", &q,
                            err);
    if (s != HITL_OK) {
        hitl_records_close(rc);
        return s;
    }
    sqlite3_bind_int(q, 1, rule == HITL_FINAL_ADJUDICATED ? 2 : 1);
    int step = sqlite3_step(q);
    rc->n.pending = step == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    hitl__store_finish(st, q);
    if (step != SQLITE_ROW) {
        s = hitl__store_sqlerr(st, step, err, "cannot count items");
        hitl_records_close(rc);
        return s;
    }
    if ((s = hitl__store_prepare(st, items_sql, &rc->items, err)) != HITL_OK ||
        (s = hitl__store_prepare(st, labels_sql, &rc->labels, err)) != HITL_OK ||
        (s = hitl__store_prepare(st, decisions_sql, &rc->decisions, err)) != HITL_OK) {
        hitl_records_close(rc);
        return s;
    }
    sqlite3_bind_int(rc->items, 1, rule == HITL_FINAL_ADJUDICATED ? 2 : 1);
    if ((s = step_side(rc, rc->labels, &rc->label_row, err)) != HITL_OK ||
        (s = step_side(rc, rc->decisions, &rc->decision_row, err)) != HITL_OK) {
        hitl_records_close(rc);
        return s;
    }
    *out = rc;
    return HITL_OK;
}

void hitl_records_counts_get(const hitl_records *rc, hitl_records_counts *out)
{
    *out = rc->n;
}

/* Copies column i of q (text or NULL) into the arena; returns its offset or (size_t)-1. */
static size_t keep(hitl_records *rc, sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    if (!s) return (size_t)-1;
    size_t off = rc->arena.n;
    hitl_buf_put(&rc->arena, (const char *)s, (size_t)sqlite3_column_bytes(q, i) + 1);
    return off;
}

static const char *at(const hitl_records *rc, size_t off)
{
    return off == (size_t)-1 ? NULL : rc->arena.p + off;
}

static const char *col(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

/* Consumes the labels cursor up to item id, keeping the item's labels in the per-label arrays:
 * *nv of them, *last_at the arena offset of the latest one's time. */
static hitl_status read_votes(hitl_records *rc, int64_t id, size_t *nv, size_t *last_at,
                              hitl_error *err)
{
    hitl_status s;
    *nv = 0;
    *last_at = (size_t)-1;
    while (rc->label_row && sqlite3_column_int64(rc->labels, 0) <= id) {
        if (sqlite3_column_int64(rc->labels, 0) == id) {
            size_t i = *nv;
            if (i == rc->cap_votes && grow_votes(rc))
                return hitl_error_set(err, HITL_ENOMEM, "out of memory");
            rc->ann_off[i] = keep(rc, rc->labels, 1);
            rc->votes[i] = sqlite3_column_int(rc->labels, 2);
            rc->at_off[i] = keep(rc, rc->labels, 3);
            /* the latest label: times are ISO-8601 UTC, so text order is time order */
            if (*last_at == (size_t)-1 ||
                (rc->at_off[i] != (size_t)-1 && strcmp(col(rc->labels, 3), at(rc, *last_at)) > 0))
                *last_at = rc->at_off[i];
            (*nv)++;
        }
        if ((s = step_side(rc, rc->labels, &rc->label_row, err)) != HITL_OK) return s;
    }
    return HITL_OK;
}

/* An item's latest decision, as arena offsets ((size_t)-1: none). */
typedef struct decision {
    size_t by, why, at; /* adjudicator, justification, time */
} decision;

/* Consumes the decisions cursor up to item id, keeping the item's latest decision. */
static hitl_status read_decision(hitl_records *rc, int64_t id, decision *d, hitl_error *err)
{
    hitl_status s;
    *d = (decision){(size_t)-1, (size_t)-1, (size_t)-1};
    while (rc->decision_row && sqlite3_column_int64(rc->decisions, 0) <= id) {
        if (sqlite3_column_int64(rc->decisions, 0) == id) {
            d->by = keep(rc, rc->decisions, 1);
            d->why = keep(rc, rc->decisions, 2);
            d->at = keep(rc, rc->decisions, 3);
        }
        if ((s = step_side(rc, rc->decisions, &rc->decision_row, err)) != HITL_OK) return s;
    }
    return HITL_OK;
}

/* What the final-label rule makes of the current item. */
typedef struct verdict {
    int final;          /* the final label; -1 or out of range: none */
    const char *kind;   /* how it was reached; NULL: no rule applied (not counted as a tie) */
    int decided;        /* a decision (not agreement) set it */
    const double *post; /* under Dawid-Skene, the item's posterior in the fit; else NULL */
} verdict;

/* The final label of the current item (id, with its nv votes counted in rc->counts) under the
 * rule. HITL_EINTERNAL when the Dawid-Skene fit lacks the item. */
static hitl_status final_label(hitl_records *rc, int64_t id, size_t nv, verdict *v, hitl_error *err)
{
    sqlite3_stmt *q = rc->items;
    int state = sqlite3_column_int(q, 13);
    const char *kind_col = col(q, 15);
    v->final = sqlite3_column_type(q, 14) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 14);
    v->kind = NULL;
    v->decided = state == 2 && kind_col && strcmp(kind_col, "agreed") != 0;
    v->post = NULL;
    if (rc->rule == HITL_FINAL_DAWID_SKENE && nv > 0) {
        /* the posterior: the soft label, and its argmax the final one, unless a decision
         * set it */
        while (rc->have_ds && rc->ds_pos < rc->ds.n_items && rc->ds_ids[rc->ds_pos] < id)
            rc->ds_pos++;
        if (!rc->have_ds || rc->ds_pos >= rc->ds.n_items || rc->ds_ids[rc->ds_pos] != id)
            return hitl_error_set(err, HITL_EINTERNAL, "'%s': item %lld missing from the fit",
                                  rc->st->path, (long long)id);
        v->post = rc->ds.posterior + rc->ds_pos * rc->c;
    }
    if (v->post && !v->decided) {
        v->final = 0; /* the posterior's argmax (the first of a tie), so the two agree */
        for (size_t c = 1; c < rc->c; c++)
            if (v->post[c] > v->post[v->final]) v->final = (int)c;
        v->kind = "dawid-skene";
    } else if (state == 2) {
        v->kind = kind_col ? kind_col : "agreed";
    } else if (rc->rule == HITL_FINAL_MAJORITY && nv > 0) {
        int64_t top = 0;
        int n_top = 0;
        for (size_t c = 0; c < rc->c; c++)
            top = rc->counts[c] > top ? rc->counts[c] : top;
        for (size_t c = 0; c < rc->c; c++)
            if (rc->counts[c] == top) {
                n_top++;
                v->final = (int)c;
            }
        if (n_top != 1) v->final = -1;
        v->kind = "majority";
    }
    return HITL_OK;
}

/* The soft label into rc->soft: a decision's final label is certain (one-hot), whatever the
 * votes or the posterior said, so a soft-label trainer learns the reviewer's label; else the
 * posterior, else the share of the nv votes. */
static void soft_label(hitl_records *rc, const verdict *v, size_t nv)
{
    if (v->decided || nv == 0) {
        for (size_t c = 0; c < rc->c; c++)
            rc->soft[c] = (size_t)v->final == c ? 1.0f : 0.0f;
    } else if (v->post) {
        for (size_t c = 0; c < rc->c; c++)
            rc->soft[c] = (float)v->post[c];
    } else {
        for (size_t c = 0; c < rc->c; c++)
            rc->soft[c] = (float)((double)rc->counts[c] / (double)nv);
    }
}

/* rc->rec from the current item's row, its nv votes, its decision and its verdict. */
static void fill_record(hitl_records *rc, size_t nv, size_t last_at, const decision *d,
                        const verdict *v)
{
    sqlite3_stmt *q = rc->items;
    hitl_record *r = &rc->rec;
    for (size_t i = 0; i < nv; i++) {
        rc->ann[i] = at(rc, rc->ann_off[i]);
        rc->at[i] = at(rc, rc->at_off[i]);
    }
    r->pool_id = col(q, 1);
    r->row = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 2);
    r->label = v->final;
    r->final_kind = v->kind;
    r->soft = rc->soft;
    r->n_labels = (int32_t)nv;
    r->agreement = nv ? (double)rc->counts[v->final] / (double)nv : NAN;
    r->annotators = rc->ann;
    r->votes = rc->votes;
    r->voted_at = rc->at;
    r->labelled_at = at(rc, last_at);
    r->adjudicator = at(rc, d->by);
    r->justification = at(rc, d->why);
    r->decided_at = at(rc, d->at);
    r->batch = col(q, 3);
    r->blind = sqlite3_column_int(q, 4) == HITL_REASON_BLIND;
    r->score = sqlite3_column_type(q, 5) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(q, 5);
    r->method = col(q, 6);
    r->model = col(q, 7);
    r->pred = sqlite3_column_type(q, 8) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 8);
    r->p1 = sqlite3_column_type(q, 9) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(q, 9);
    r->route = col(q, 10);
    r->source = col(q, 11);
    r->queued_at = col(q, 12);
    r->final_at = col(q, 16);
    r->data = col(q, 17);
}

hitl_status hitl_records_next(hitl_records *rc, const hitl_record **rec, hitl_error *err)
{
    *rec = NULL;
    hitl_store *st = rc->st;
    hitl_status s;
    while (!rc->done) {
        int step = sqlite3_step(rc->items);
        if (step == SQLITE_DONE) {
            rc->done = 1;
            break;
        }
        if (step != SQLITE_ROW) return hitl__store_sqlerr(st, step, err, "cannot read items");
        int64_t id = sqlite3_column_int64(rc->items, 0);
        hitl_buf_reset(&rc->arena);
        size_t nv, last_at;
        if ((s = read_votes(rc, id, &nv, &last_at, err)) != HITL_OK) return s;
        decision d;
        if ((s = read_decision(rc, id, &d, err)) != HITL_OK) return s;
        memset(rc->counts, 0, rc->c * sizeof(int64_t));
        for (size_t i = 0; i < nv; i++)
            if (rc->votes[i] >= 0 && (size_t)rc->votes[i] < rc->c) rc->counts[rc->votes[i]]++;
        verdict v;
        if ((s = final_label(rc, id, nv, &v, err)) != HITL_OK) return s;
        if (v.final < 0 || (size_t)v.final >= rc->c) {
            if (v.kind) rc->n.ties++;
            continue;
        }
        if (rc->arena.oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        soft_label(rc, &v, nv);
        fill_record(rc, nv, last_at, &d, &v);
        rc->n.records++;
        *rec = &rc->rec;
        return HITL_OK;
    }
    return HITL_OK;
}
