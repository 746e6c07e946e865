/* What one person's work looks like from the store, for `hitl serve`: an annotator's progress
 * and recent decisions, and a reviewer's view of an item with every label on it (the
 * adjudication queue is a list of those). Reads only, each in one snapshot. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* One integer from a query with ?1 bound to `who`. */
static hitl_status count_of(hitl_store *st, const char *sql, const char *who, int64_t *out,
                            hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, sql, &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, who, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else
        r = hitl__store_sqlerr(st, rc, err, "cannot count the work");
    hitl__store_finish(st, q);
    return r;
}

hitl_status hitl_store_progress(hitl_store *st, const char *annotator, hitl_progress *out,
                                hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    hitl_status r = hitl__store_read(st, err);
    if (r != HITL_OK) return r;
    r = count_of(st, "SELECT count(*) FROM labels WHERE annotator = ?1", annotator, &out->labelled,
                 err);
    if (r == HITL_OK)
        r = count_of(st, "SELECT count(*) FROM skips WHERE annotator = ?1", annotator,
                     &out->skipped, err);
    /* what `next` could still give them: open items with room (or their lease on it) that they
     * neither labelled nor skipped; an expired lease of someone else's counts as taken */
    if (r == HITL_OK)
        r = count_of(st,
                     "SELECT count(*) FROM items WHERE state = 0"
                     " AND (n_labels + n_leases < required"
                     " OR EXISTS (SELECT 1 FROM leases WHERE item = items.id AND annotator = ?1))"
                     " AND NOT EXISTS (SELECT 1 FROM labels WHERE item = items.id"
                     " AND annotator = ?1)"
                     " AND NOT EXISTS (SELECT 1 FROM skips WHERE item = items.id"
                     " AND annotator = ?1)",
                     annotator, &out->left, err);
    hitl__store_rollback(st);
    return r;
}

void hitl_history_release(hitl_history_entry *h, size_t n)
{
    for (size_t i = 0; h && i < n; i++) {
        free(h[i].pool_id);
        free(h[i].label);
        free(h[i].at);
    }
    free(h);
}

hitl_status hitl_store_history(hitl_store *st, const char *annotator, size_t limit,
                               hitl_history_entry **out, size_t *n, hitl_error *err)
{
    *out = NULL;
    *n = 0;
    hitl_history_entry *h = calloc(limit ? limit : 1, sizeof(*h));
    if (!h) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        /* the newest by time, then in the chain's order (times tie within a millisecond) */
        "SELECT pool_id, skipped, label, at FROM (SELECT i.pool_id, 0 AS skipped, c.name AS label,"
        " l.created_at AS at FROM labels l JOIN items i ON i.id = l.item"
        " JOIN classes c ON c.idx = l.label WHERE l.annotator = ?1"
        " UNION ALL SELECT i.pool_id, 1, NULL, s.created_at FROM skips s"
        " JOIN items i ON i.id = s.item WHERE s.annotator = ?1 ORDER BY 4 DESC LIMIT ?2 + 8) t"
        " ORDER BY at DESC, (SELECT max(seq) FROM audit WHERE item = t.pool_id AND actor = ?1"
        " AND event IN ('label', 'skip')) DESC LIMIT ?2",
        &q, err);
    if (r != HITL_OK) {
        free(h);
        return r;
    }
    sqlite3_bind_text(q, 1, annotator, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, (sqlite3_int64)limit);
    int rc;
    size_t k = 0;
    while (r == HITL_OK && k < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        hitl_history_entry *e = &h[k++];
        e->skipped = sqlite3_column_int(q, 1);
        e->pool_id = hitl__col_dup(q, 0);
        e->label = hitl__col_dup(q, 2);
        e->at = hitl__col_dup(q, 3);
        if (!e->pool_id || !e->at || (!e->skipped && !e->label))
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    if (r == HITL_OK && k < limit && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot read the history");
    hitl__store_finish(st, q);
    if (r != HITL_OK) {
        hitl_history_release(h, k);
        return r;
    }
    *out = h;
    *n = k;
    return HITL_OK;
}

void hitl_item_review_release(hitl_item_review *v)
{
    if (!v) return;
    free(v->pool_id);
    free(v->data);
    free(v->prediction);
    free(v->final_label);
    free(v->final_kind);
    free(v->final_by);
    for (size_t i = 0; i < v->n_labels; i++) {
        free(v->labels[i].annotator);
        free(v->labels[i].label);
        free(v->labels[i].at);
    }
    free(v->labels);
    memset(v, 0, sizeof(*v));
}

/* Columns: id, pool_id, data, prediction, state, final label, kind, by */
#define REVIEW_COLUMNS                                                                             \
    "SELECT i.id, i.pool_id, i.data, p.name, i.state, f.name, i.final_kind, i.final_by"            \
    " FROM items i LEFT JOIN classes p ON p.idx = i.pred LEFT JOIN classes f"                      \
    " ON f.idx = i.final_label "

/* The row q stands on, and its labels, into v. */
static hitl_status review_fill(hitl_store *st, sqlite3_stmt *q, hitl_item_review *v,
                               hitl_error *err)
{
    sqlite3_int64 id = sqlite3_column_int64(q, 0);
    v->pool_id = hitl__col_dup(q, 1);
    v->data = hitl__col_dup(q, 2);
    v->prediction = hitl__col_dup(q, 3);
    v->state = sqlite3_column_int(q, 4);
    v->final_label = hitl__col_dup(q, 5);
    v->final_kind = hitl__col_dup(q, 6);
    v->final_by = hitl__col_dup(q, 7);
    if (!v->pool_id) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    sqlite3_stmt *l;
    hitl_status r = hitl__store_prepare(st,
                                        "SELECT l.annotator, c.name, l.created_at FROM labels l"
                                        " JOIN classes c ON c.idx = l.label WHERE l.item = ?1"
                                        " ORDER BY l.id",
                                        &l, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(l, 1, id);
    int rc;
    while (r == HITL_OK && (rc = sqlite3_step(l)) == SQLITE_ROW) {
        hitl_item_label *grown = realloc(v->labels, (v->n_labels + 1) * sizeof(*grown));
        if (!grown) {
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        v->labels = grown;
        hitl_item_label *x = &v->labels[v->n_labels++];
        x->annotator = hitl__col_dup(l, 0);
        x->label = hitl__col_dup(l, 1);
        x->at = hitl__col_dup(l, 2);
        if (!x->annotator || !x->label || !x->at)
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    if (r == HITL_OK && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot read the labels");
    hitl__store_finish(st, l);
    return r;
}

hitl_status hitl_store_item_review(hitl_store *st, const char *pool_id, hitl_item_review *out,
                                   hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    hitl_status r = hitl__store_read(st, err);
    if (r != HITL_OK) return r;
    sqlite3_stmt *q;
    if ((r = hitl__store_prepare(st, REVIEW_COLUMNS "WHERE i.pool_id = ?1", &q, err)) == HITL_OK) {
        sqlite3_bind_text(q, 1, pool_id, -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            r = review_fill(st, q, out, err);
        else if (rc == SQLITE_DONE)
            r = hitl_error_set(err, HITL_ENOTFOUND, "unknown item '%s' (not in the queue)",
                               pool_id);
        else
            r = hitl__store_sqlerr(st, rc, err, "cannot read the item");
        hitl__store_finish(st, q);
    }
    hitl__store_rollback(st);
    if (r != HITL_OK) hitl_item_review_release(out);
    return r;
}

hitl_status hitl_store_adjudication_queue(hitl_store *st, size_t limit, hitl_item_review **out,
                                          size_t *n, hitl_error *err)
{
    *out = NULL;
    *n = 0;
    hitl_item_review *v = NULL;
    size_t cap = 0;
    hitl_status r = hitl__store_read(st, err);
    sqlite3_stmt *q = NULL;
    if (r == HITL_OK)
        r = hitl__store_prepare(st, REVIEW_COLUMNS "WHERE i.state = 1 ORDER BY i.position LIMIT ?1",
                                &q, err);
    size_t k = 0;
    if (r == HITL_OK) {
        sqlite3_bind_int64(q, 1, limit > INT64_MAX ? -1 : (sqlite3_int64)limit);
        int rc = SQLITE_DONE;
        while (r == HITL_OK && k < limit && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (k == cap) {
                size_t c = cap ? 2 * cap : 16;
                hitl_item_review *grown = realloc(v, c * sizeof(*grown));
                if (!grown) {
                    r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                    break;
                }
                memset(grown + cap, 0, (c - cap) * sizeof(*grown));
                v = grown;
                cap = c;
            }
            r = review_fill(st, q, &v[k++], err);
        }
        if (r == HITL_OK && k < limit && rc != SQLITE_DONE)
            r = hitl__store_sqlerr(st, rc, err, "cannot read the adjudication queue");
        hitl__store_finish(st, q);
    }
    hitl__store_rollback(st);
    if (r != HITL_OK) {
        for (size_t i = 0; i < k; i++)
            hitl_item_review_release(&v[i]);
        free(v);
        return r;
    }
    *out = v;
    *n = k;
    return HITL_OK;
}
