/* The reviewers' side of the store: adjudication of disagreements and overrides of final labels
 * or review-routed predictions (always with a justification), and the status counts with each
 * actor's override rate. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

hitl_status hitl_store_adjudicate(hitl_store *st, const char *pool_id, const char *label,
                                  const char *actor, const char *justification, int *overrode,
                                  hitl_error *err)
{
    if (overrode) *overrode = 0;
    int cls = hitl__store_class(st, label);
    if (cls < 0) return hitl_error_set(err, HITL_EDATA, "unknown label '%s'", label);
    size_t jlen = justification ? strlen(justification) : 0;
    if (jlen < (size_t)st->settings.min_justification)
        return hitl_error_set(
            err, HITL_EDATA, "a decision needs a justification of at least %d characters (got %zu)",
            st->settings.min_justification, jlen);
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    sqlite3_stmt *q = hitl__store_prepare(
        st, "SELECT id, state, final_label, pred, route, n_labels FROM items WHERE pool_id = ?1",
        err);
    if (!q) goto fail;
    sqlite3_bind_text(q, 1, pool_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        r = rc == SQLITE_DONE ? hitl_error_set(err, HITL_ENOTFOUND, "unknown item '%s'", pool_id)
                              : hitl__store_sqlerr(st, rc, err, "cannot read the item");
        hitl__store_finish(st, q);
        goto fail;
    }
    sqlite3_int64 item = sqlite3_column_int64(q, 0);
    int state = sqlite3_column_int(q, 1);
    int final = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 2);
    int pred = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
    int review = sqlite3_column_type(q, 4) != SQLITE_NULL &&
                 strcmp((const char *)sqlite3_column_text(q, 4), "review") == 0;
    int n_labels = sqlite3_column_int(q, 5);
    hitl__store_finish(st, q);
    /* what this decision replaces: a final label, else (review-routed, unlabelled) the model's */
    const char *kind;
    int previous;
    if (state == 2) {
        kind = "override";
        previous = final;
    } else if (state == 1) {
        kind = "adjudicate";
        previous = -1;
    } else if (review && n_labels == 0) {
        kind = "override";
        previous = pred;
    } else {
        r = hitl_error_set(err, HITL_ECONFLICT,
                           "item '%s' has no disagreement, final label or review-routed prediction "
                           "to decide on yet",
                           pool_id);
        goto fail;
    }
    int changed = strcmp(kind, "override") == 0 && previous != cls;
    char now[32];
    hitl__now_iso(now);
    q = hitl__store_prepare(st,
                            "INSERT INTO decisions(item, actor, label, previous, overrode, kind,"
                            " justification, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            err);
    if (!q) goto fail;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, cls);
    if (previous >= 0) sqlite3_bind_int(q, 4, previous);
    sqlite3_bind_int(q, 5, changed);
    sqlite3_bind_text(q, 6, kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, justification, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    if (rc != SQLITE_DONE) {
        r = hitl__store_sqlerr(st, rc, err, "cannot record the decision");
        goto fail;
    }
    q = hitl__store_prepare(st,
                            "UPDATE items SET state = 2, final_label = ?2, final_kind = ?3,"
                            " final_by = ?4, final_at = ?5 WHERE id = ?1",
                            err);
    if (!q) goto fail;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_int(q, 2, cls);
    sqlite3_bind_text(q, 3, strcmp(kind, "override") == 0 ? "override" : "adjudicated", -1,
                      SQLITE_STATIC);
    sqlite3_bind_text(q, 4, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, now, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    if (rc != SQLITE_DONE) {
        r = hitl__store_sqlerr(st, rc, err, "cannot set the final label");
        goto fail;
    }
    const char *before = previous >= 0 ? st->settings.classes[previous] : NULL;
    json_t *payload = json_pack("{s:s?, s:s, s:s, s:b}", "before", before, "after", label,
                                "justification", justification, "changed", changed);
    if ((r = hitl__audit_append(st, actor, "human", kind, pool_id, payload, err)) != HITL_OK)
        goto fail;
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    if (overrode) *overrode = changed;
    return HITL_OK;
fail:
    if (r == HITL_OK) r = err ? err->status : HITL_EIO;
    hitl__store_rollback(st);
    return r;
}

static int64_t scalar(hitl_store *st, const char *sql, hitl_status *r, hitl_error *err)
{
    if (*r != HITL_OK) return 0;
    sqlite3_stmt *q = hitl__store_prepare(st, sql, err);
    if (!q) {
        *r = err ? err->status : HITL_EIO;
        return 0;
    }
    int rc = sqlite3_step(q);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    if (rc != SQLITE_ROW) *r = hitl__store_sqlerr(st, rc, err, "cannot count");
    hitl__store_finish(st, q);
    return v;
}

/* Runs `sql` and hands each row to `row` (ctx, statement, index); grows *items of `size`. */
static hitl_status collect(hitl_store *st, const char *sql, void **items, size_t *n, size_t size,
                           void (*row)(void *dst, sqlite3_stmt *q), hitl_error *err)
{
    sqlite3_stmt *q = hitl__store_prepare(st, sql, err);
    if (!q) return err ? err->status : HITL_EIO;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 8;
            void *v = realloc(*items, cap * size);
            if (!v) {
                hitl__store_finish(st, q);
                return hitl_error_set(err, HITL_ENOMEM, "out of memory");
            }
            *items = v;
        }
        row((char *)*items + (*n)++ * size, q);
    }
    hitl__store_finish(st, q);
    return rc == SQLITE_DONE ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot read status");
}

static char *text_dup(sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    return strdup(s ? (const char *)s : "");
}

static void annotator_row(void *dst, sqlite3_stmt *q)
{
    hitl_store_annotator *a = dst;
    a->name = text_dup(q, 0);
    a->labels = sqlite3_column_int64(q, 1);
    a->skips = sqlite3_column_int64(q, 2);
}

static void actor_row(void *dst, sqlite3_stmt *q)
{
    hitl_store_actor *a = dst;
    a->name = text_dup(q, 0);
    a->decisions = sqlite3_column_int64(q, 1);
    a->overrides = sqlite3_column_int64(q, 2);
    a->rate = a->decisions ? (double)a->overrides / (double)a->decisions : 0;
}

static void batch_row(void *dst, sqlite3_stmt *q)
{
    hitl_store_batch_stats *b = dst;
    b->batch = text_dup(q, 0);
    b->queued = sqlite3_column_int64(q, 1);
    b->complete = sqlite3_column_int64(q, 2);
    b->blind = sqlite3_column_int64(q, 3);
    b->awaiting_adjudication = sqlite3_column_int64(q, 4);
    b->queue_depth = sqlite3_column_int64(q, 5);
}

hitl_status hitl_store_stats_get(hitl_store *st, hitl_store_stats *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    hitl_status r = hitl__store_exec(st, "BEGIN", err); /* one snapshot */
    out->labels = scalar(st, "SELECT count(*) FROM labels", &r, err);
    out->skips = scalar(st, "SELECT count(*) FROM skips", &r, err);
    out->leases = scalar(st, "SELECT count(*) FROM leases", &r, err);
    if (r == HITL_OK)
        r = collect(st,
                    "SELECT name, sum(l), sum(s) FROM (SELECT annotator AS name, 1 AS l, 0 AS s"
                    " FROM labels UNION ALL SELECT annotator, 0, 1 FROM skips) GROUP BY name"
                    " ORDER BY name",
                    (void **)&out->annotators, &out->n_annotators, sizeof(hitl_store_annotator),
                    annotator_row, err);
    if (r == HITL_OK)
        r = collect(st,
                    "SELECT actor, count(*), sum(overrode) FROM decisions GROUP BY actor"
                    " ORDER BY actor",
                    (void **)&out->actors, &out->n_actors, sizeof(hitl_store_actor), actor_row,
                    err);
    /* one scan of the items gives every batch's counts, and the totals are their sums */
    if (r == HITL_OK)
        r = collect(st,
                    "SELECT batch, count(*), sum(state = 2), sum(reason = 1), sum(state = 1),"
                    " sum(state = 0) FROM items GROUP BY batch ORDER BY min(position)",
                    (void **)&out->batches, &out->n_batches, sizeof(hitl_store_batch_stats),
                    batch_row, err);
    for (size_t i = 0; r == HITL_OK && i < out->n_batches; i++) {
        const hitl_store_batch_stats *b = &out->batches[i];
        out->items_queued += b->queued;
        out->items_complete += b->complete;
        out->awaiting_adjudication += b->awaiting_adjudication;
        out->queue_depth += b->queue_depth;
    }
    hitl__store_rollback(st);
    if (r != HITL_OK) hitl_store_stats_release(out);
    return r;
}

void hitl_store_stats_release(hitl_store_stats *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->n_annotators; i++)
        free(s->annotators[i].name);
    for (size_t i = 0; i < s->n_actors; i++)
        free(s->actors[i].name);
    for (size_t i = 0; i < s->n_batches; i++)
        free(s->batches[i].batch);
    free(s->annotators);
    free(s->actors);
    free(s->batches);
    memset(s, 0, sizeof(*s));
}
