/* The queue and the annotators' side of the store: enqueue a batch, lease the next item
 * (breadth-first so overlap completes), label, skip and undo. Each call is one short
 * BEGIN IMMEDIATE transaction that also appends its audit event. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define SQLERR(st, rc, err, what) hitl__store_sqlerr(st, rc, err, what)

/* Steps a statement expected to finish without rows. */
static hitl_status step_done(hitl_store *st, sqlite3_stmt *q, hitl_error *err, const char *what)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? HITL_OK : SQLERR(st, rc, err, what);
}

hitl_status hitl_store_known(hitl_store *st, char *const *ids, size_t n, uint8_t *out,
                             hitl_error *err)
{
    sqlite3_stmt *q = hitl__store_prepare(st, "SELECT 1 FROM items WHERE pool_id = ?1", err);
    if (!q) return err ? err->status : HITL_EIO;
    hitl_status r = HITL_OK;
    hitl__store_exec(st, "BEGIN", NULL); /* one snapshot for all the lookups */
    for (size_t i = 0; i < n && r == HITL_OK; i++) {
        sqlite3_bind_text(q, 1, ids[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            out[i] = 1;
        else if (rc == SQLITE_DONE)
            out[i] = 0;
        else
            r = SQLERR(st, rc, err, "cannot read the queue");
        sqlite3_reset(q);
    }
    hitl__store_rollback(st);
    hitl__store_finish(st, q);
    return r;
}

/* The rows and the batch's audit event, inside the caller's write transaction. */
static hitl_status enqueue_rows(hitl_store *st, const hitl_queue_batch *b,
                                const hitl_queue_row *rows, size_t n, size_t *added,
                                hitl_error *err)
{
    hitl_status r = HITL_OK;
    sqlite3_stmt *pos = NULL, *ins = NULL;
    int64_t base = 0;
    size_t n_added = 0, n_blind = 0, n_review = 0, n_flag = 0;
    char now[32];
    hitl__now_iso(now);
    if (!(pos = hitl__store_prepare(st, "SELECT coalesce(max(position), -1) + 1 FROM items", err)))
        goto fail;
    int rc = sqlite3_step(pos);
    if (rc != SQLITE_ROW) {
        r = SQLERR(st, rc, err, "cannot read the queue");
        goto fail;
    }
    base = sqlite3_column_int64(pos, 0);
    ins = hitl__store_prepare(
        st,
        "INSERT INTO items(pool_id, pool_row, batch, reason, score, method, model, seed, source,"
        " pred, p1, route, required, position, queued_at, data)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16)"
        " ON CONFLICT(pool_id) DO NOTHING",
        err);
    if (!ins) goto fail;
    sqlite3_bind_text(ins, 3, b->batch, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 6, b->method, -1, SQLITE_STATIC);
    if (b->model) sqlite3_bind_text(ins, 7, b->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 8, (sqlite3_int64)b->seed);
    if (b->source) sqlite3_bind_text(ins, 9, b->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 15, now, -1, SQLITE_STATIC);
    for (size_t i = 0; i < n; i++) {
        const hitl_queue_row *q = &rows[i];
        sqlite3_bind_text(ins, 1, q->pool_id, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 2, q->row);
        sqlite3_bind_int(ins, 4, q->reason);
        sqlite3_bind_double(ins, 5, q->score);
        if (q->pred >= 0)
            sqlite3_bind_int(ins, 10, q->pred);
        else
            sqlite3_bind_null(ins, 10);
        sqlite3_bind_double(ins, 11, q->p1);
        if (q->route)
            sqlite3_bind_text(ins, 12, q->route, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 12);
        sqlite3_bind_int(ins, 13, q->required > 0 ? q->required : st->settings.overlap);
        sqlite3_bind_int64(ins, 14, base + (int64_t)i);
        if (q->data)
            sqlite3_bind_text(ins, 16, q->data, -1, SQLITE_STATIC);
        else
            sqlite3_bind_null(ins, 16);
        if ((r = step_done(st, ins, err, "cannot enqueue")) != HITL_OK) goto fail;
        if (sqlite3_changes(st->db) == 1) {
            n_added++;
            n_blind += q->reason == HITL_REASON_BLIND;
            n_review += q->route && strcmp(q->route, "review") == 0;
            n_flag += q->route && strcmp(q->route, "flag") == 0;
        }
    }
    json_t *payload = json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                                "batch", b->batch, "method", b->method, "model", b->model, "source",
                                b->source, "seed", (json_int_t)b->seed, "added",
                                (json_int_t)n_added, "uncertain", (json_int_t)(n_added - n_blind),
                                "blind", (json_int_t)n_blind, "review", (json_int_t)n_review,
                                "flag", (json_int_t)n_flag, "proceed", (json_int_t)b->n_proceed);
    if ((r = hitl__audit_append(st, b->actor, "human", "queue", NULL, payload, err)) != HITL_OK)
        goto fail;
    hitl__store_finish(st, pos);
    hitl__store_finish(st, ins);
    *added = n_added;
    return HITL_OK;
fail:
    if (r == HITL_OK) r = err ? err->status : HITL_EIO;
    hitl__store_finish(st, pos);
    hitl__store_finish(st, ins);
    return r;
}

/* The payloads and their audit event, inside the caller's write transaction. */
static hitl_status attach_rows(hitl_store *st, const char *jsonl, size_t *attached, size_t *ignored,
                               hitl_error *err)
{
    hitl_status r = HITL_OK;
    sqlite3_stmt *up =
        hitl__store_prepare(st, "UPDATE items SET data = ?2 WHERE pool_id = ?1", err);
    if (!up) return err ? err->status : HITL_EIO;
    size_t lineno = 0;
    for (const char *p = jsonl; *p && r == HITL_OK;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        json_error_t je;
        json_t *o = NULL;
        size_t k = 0;
        while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < len) { /* blank lines are allowed */
            o = json_loadb(p, len, 0, &je);
            json_t *id = o ? json_object_get(o, "id") : NULL;
            char idbuf[32];
            const char *ids = NULL;
            if (json_is_string(id))
                ids = json_string_value(id);
            else if (json_is_integer(id)) {
                snprintf(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(id));
                ids = idbuf;
            }
            if (!o || !json_is_object(o))
                r = hitl_error_set(err, HITL_EDATA, "line %zu: not a JSON object%s%s", lineno,
                                   o ? "" : ": ", o ? "" : je.text);
            else if (!ids)
                r = hitl_error_set(err, HITL_EDATA, "line %zu: no \"id\" (string or integer)",
                                   lineno);
            else {
                char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
                sqlite3_bind_text(up, 1, ids, -1, SQLITE_TRANSIENT);
                sqlite3_bind_text(up, 2, text, -1, SQLITE_TRANSIENT);
                free(text);
                r = step_done(st, up, err, "cannot attach data");
                if (sqlite3_changes(st->db))
                    (*attached)++;
                else
                    (*ignored)++;
            }
            json_decref(o);
        }
        p += len + (nl ? 1 : 0);
    }
    hitl__store_finish(st, up);
    if (r == HITL_OK)
        r = hitl__audit_append(st, "hitl", "system", "data", NULL,
                               json_pack("{s:I, s:I}", "attached", (json_int_t)*attached, "ignored",
                                         (json_int_t)*ignored),
                               err);
    return r;
}

hitl_status hitl_store_enqueue_data(hitl_store *st, const hitl_queue_batch *b,
                                    const hitl_queue_row *rows, size_t n, const char *jsonl,
                                    const char *jsonl_name, hitl_queue_counts *counts,
                                    hitl_error *err)
{
    memset(counts, 0, sizeof(*counts));
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    size_t added = 0, attached = 0, ignored = 0;
    r = enqueue_rows(st, b, rows, n, &added, err);
    if (r == HITL_OK && jsonl && (r = attach_rows(st, jsonl, &attached, &ignored, err)) != HITL_OK)
        hitl_error_prefix(err, "'%s'", jsonl_name ? jsonl_name : "data");
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    counts->added = added;
    counts->attached = attached;
    counts->ignored = ignored;
    return HITL_OK;
}

hitl_status hitl_store_enqueue(hitl_store *st, const hitl_queue_batch *b,
                               const hitl_queue_row *rows, size_t n, size_t *added, hitl_error *err)
{
    hitl_queue_counts c;
    hitl_status r = hitl_store_enqueue_data(st, b, rows, n, NULL, NULL, &c, err);
    if (added) *added = c.added;
    return r;
}

hitl_status hitl_store_attach_data(hitl_store *st, const char *jsonl, size_t *attached,
                                   size_t *ignored, hitl_error *err)
{
    *attached = *ignored = 0;
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    size_t a = 0, i = 0;
    if ((r = attach_rows(st, jsonl, &a, &i, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    *attached = a;
    *ignored = i;
    return HITL_OK;
}

/* Expired leases go back to the pool, each audited as a system event. */
static hitl_status expire_leases(hitl_store *st, double now, hitl_error *err)
{
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "SELECT l.item, l.annotator, i.pool_id FROM leases l JOIN items i ON i.id = l.item "
        "WHERE l.expires < ?1",
        err);
    sqlite3_stmt *del =
        hitl__store_prepare(st, "DELETE FROM leases WHERE item = ?1 AND annotator = ?2", err);
    sqlite3_stmt *dec =
        hitl__store_prepare(st, "UPDATE items SET n_leases = n_leases - 1 WHERE id = ?1", err);
    hitl_status r = (q && del && dec) ? HITL_OK : (err ? err->status : HITL_EIO);
    if (r == HITL_OK) sqlite3_bind_double(q, 1, now);
    int rc = SQLITE_DONE;
    while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        sqlite3_int64 item = sqlite3_column_int64(q, 0);
        const char *who = (const char *)sqlite3_column_text(q, 1);
        const char *pid = (const char *)sqlite3_column_text(q, 2);
        sqlite3_bind_int64(del, 1, item);
        sqlite3_bind_text(del, 2, who, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(dec, 1, item);
        if ((r = step_done(st, del, err, "cannot expire a lease")) == HITL_OK &&
            (r = step_done(st, dec, err, "cannot expire a lease")) == HITL_OK)
            r = hitl__audit_append(st, "hitl", "system", "lease_expired", pid,
                                   json_pack("{s:s}", "annotator", who), err);
    }
    if (r == HITL_OK && rc != SQLITE_DONE) r = SQLERR(st, rc, err, "cannot expire leases");
    hitl__store_finish(st, q);
    hitl__store_finish(st, del);
    hitl__store_finish(st, dec);
    return r;
}

static char *dup_col(sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    return s ? strdup((const char *)s) : NULL;
}

void hitl_lease_release(hitl_lease *l)
{
    if (!l) return;
    free(l->pool_id);
    free(l->data);
    free(l->prediction);
    free(l->expires);
    memset(l, 0, sizeof(*l));
}

hitl_status hitl_store_next(hitl_store *st, const char *annotator, hitl_lease *out, int *found,
                            hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    *found = 0;
    double now = hitl__now(), expires = now + st->settings.lease_seconds;
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if ((r = expire_leases(st, now, err)) != HITL_OK) goto fail;
    /* an annotator who already holds a lease gets that item again, its lease renewed */
    static const char held_sql[] =
        "SELECT i.id, i.pool_id, i.data, i.pred, i.reason, i.position, 1 FROM leases l"
        " JOIN items i ON i.id = l.item WHERE l.annotator = ?1 ORDER BY i.position LIMIT 1";
    static const char pick_sql[] =
        "SELECT id, pool_id, data, pred, reason, position, 0 FROM items WHERE avail = 1"
        " AND NOT EXISTS (SELECT 1 FROM labels WHERE item = items.id AND annotator = ?1)"
        " AND NOT EXISTS (SELECT 1 FROM skips WHERE item = items.id AND annotator = ?1)"
        " ORDER BY started DESC, position LIMIT 1";
    sqlite3_stmt *q = NULL;
    int rc = SQLITE_DONE;
    for (int pass = 0; pass < 2 && rc != SQLITE_ROW; pass++) {
        hitl__store_finish(st, q);
        if (!(q = hitl__store_prepare(st, pass == 0 ? held_sql : pick_sql, err))) goto fail;
        sqlite3_bind_text(q, 1, annotator, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
    }
    if (rc == SQLITE_DONE) {
        hitl__store_finish(st, q);
        return hitl__store_commit(st, err); /* expiries may have been written */
    }
    if (rc != SQLITE_ROW) {
        r = SQLERR(st, rc, err, "cannot pick the next item");
        hitl__store_finish(st, q);
        goto fail;
    }
    sqlite3_int64 item = sqlite3_column_int64(q, 0);
    int held = sqlite3_column_int(q, 6);
    int blind = sqlite3_column_int(q, 4) == HITL_REASON_BLIND;
    out->pool_id = dup_col(q, 1);
    out->data = dup_col(q, 2);
    out->position = sqlite3_column_int64(q, 5);
    int pred = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
    int show = st->settings.show_prediction != HITL_SHOW_NEVER && !blind; /* blind stays blind */
    if (show && pred >= 0 && (size_t)pred < st->settings.n_classes)
        out->prediction = strdup(st->settings.classes[pred]);
    hitl__store_finish(st, q);
    char iso[32];
    hitl__time_iso(expires, iso);
    out->expires = strdup(iso);
    q = hitl__store_prepare(
        st,
        held ? "UPDATE leases SET expires = ?3 WHERE item = ?1 AND annotator = ?2"
             : "INSERT INTO leases(item, annotator, leased_at, expires)"
               " VALUES(?1, ?2, ?4, ?3)",
        err);
    if (!q) goto fail;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 3, expires);
    sqlite3_bind_double(q, 4, now);
    r = step_done(st, q, err, "cannot lease");
    hitl__store_finish(st, q);
    if (r != HITL_OK) goto fail;
    if (!held) {
        q = hitl__store_prepare(st, "UPDATE items SET n_leases = n_leases + 1 WHERE id = ?1", err);
        if (!q) goto fail;
        sqlite3_bind_int64(q, 1, item);
        r = step_done(st, q, err, "cannot lease");
        hitl__store_finish(st, q);
        if (r != HITL_OK) goto fail;
    }
    if ((r = hitl__audit_append(st, annotator, "human", held ? "lease_renewed" : "lease",
                                out->pool_id, json_pack("{s:s}", "expires", iso), err)) != HITL_OK)
        goto fail;
    if ((r = hitl__store_commit(st, err)) != HITL_OK) goto fail_committed;
    *found = 1;
    return HITL_OK;
fail:
    if (r == HITL_OK) r = err ? err->status : HITL_EIO;
    hitl__store_rollback(st);
fail_committed:
    hitl_lease_release(out);
    return r;
}

/* The item's id, state, counts and whether `annotator` holds a lease on / labelled / skipped
 * it; HITL_ENOTFOUND when no such item is queued. */
typedef struct item_view {
    sqlite3_int64 id;
    int state, n_labels, n_leases, required, held, labelled, skipped;
} item_view;

static hitl_status view_item(hitl_store *st, const char *pool_id, const char *annotator,
                             item_view *v, hitl_error *err)
{
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "SELECT id, state, n_labels, n_leases, required,"
        " EXISTS (SELECT 1 FROM leases WHERE item = items.id AND annotator = ?2),"
        " EXISTS (SELECT 1 FROM labels WHERE item = items.id AND annotator = ?2),"
        " EXISTS (SELECT 1 FROM skips WHERE item = items.id AND annotator = ?2)"
        " FROM items WHERE pool_id = ?1",
        err);
    if (!q) return err ? err->status : HITL_EIO;
    sqlite3_bind_text(q, 1, pool_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, annotator ? annotator : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    hitl_status r = HITL_OK;
    if (rc == SQLITE_ROW) {
        v->id = sqlite3_column_int64(q, 0);
        v->state = sqlite3_column_int(q, 1);
        v->n_labels = sqlite3_column_int(q, 2);
        v->n_leases = sqlite3_column_int(q, 3);
        v->required = sqlite3_column_int(q, 4);
        v->held = sqlite3_column_int(q, 5);
        v->labelled = sqlite3_column_int(q, 6);
        v->skipped = sqlite3_column_int(q, 7);
    } else if (rc == SQLITE_DONE) {
        r = hitl_error_set(err, HITL_ENOTFOUND, "unknown item '%s' (not in the queue)", pool_id);
    } else {
        r = SQLERR(st, rc, err, "cannot read the item");
    }
    hitl__store_finish(st, q);
    return r;
}

/* Runs one parameterised update: ?1 item id, ?2 annotator (may be unused). */
static hitl_status item_update(hitl_store *st, const char *sql, sqlite3_int64 item,
                               const char *annotator, hitl_error *err)
{
    sqlite3_stmt *q = hitl__store_prepare(st, sql, err);
    if (!q) return err ? err->status : HITL_EIO;
    sqlite3_bind_int64(q, 1, item);
    if (annotator) sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    hitl_status r = step_done(st, q, err, "cannot update the item");
    hitl__store_finish(st, q);
    return r;
}

/* After a label: an item with all its labels becomes final when they agree, else waits for
 * adjudication. */
hitl_status hitl__store_settle(hitl_store *st, sqlite3_int64 item, const char *pool_id,
                               hitl_error *err)
{
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "SELECT i.n_labels >= i.required, count(DISTINCT l.label), min(l.label) FROM items i"
        " JOIN labels l ON l.item = i.id WHERE i.id = ?1",
        err);
    if (!q) return err ? err->status : HITL_EIO;
    sqlite3_bind_int64(q, 1, item);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        hitl__store_finish(st, q);
        return SQLERR(st, rc, err, "cannot settle the item");
    }
    int full = sqlite3_column_int(q, 0), distinct = sqlite3_column_int(q, 1);
    int label = sqlite3_column_int(q, 2);
    hitl__store_finish(st, q);
    if (!full) return HITL_OK;
    char now[32];
    hitl__now_iso(now);
    if (distinct > 1) {
        hitl_status r =
            item_update(st, "UPDATE items SET state = 1 WHERE id = ?1", item, NULL, err);
        if (r != HITL_OK) return r;
        return hitl__audit_append(st, "hitl", "system", "disagreement", pool_id,
                                  json_pack("{s:i}", "distinct_labels", distinct), err);
    }
    q = hitl__store_prepare(st,
                            "UPDATE items SET state = 2, final_label = ?2, final_kind = 'agreed',"
                            " final_by = NULL, final_at = ?3 WHERE id = ?1",
                            err);
    if (!q) return err ? err->status : HITL_EIO;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_int(q, 2, label);
    sqlite3_bind_text(q, 3, now, -1, SQLITE_STATIC);
    hitl_status r = step_done(st, q, err, "cannot finalise the item");
    hitl__store_finish(st, q);
    if (r != HITL_OK) return r;
    return hitl__audit_append(
        st, "hitl", "system", "final", pool_id,
        json_pack("{s:s, s:s}", "label", st->settings.classes[label], "kind", "agreed"), err);
}

hitl_status hitl_store_label(hitl_store *st, const char *pool_id, const char *label,
                             const char *annotator, hitl_error *err)
{
    int cls = hitl__store_class(st, label);
    if (cls < 0) {
        char list[512] = "";
        for (size_t i = 0, n = 0; i < st->settings.n_classes && n < sizeof(list); i++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                                  st->settings.classes[i]);
        return hitl_error_set(err, HITL_EDATA, "unknown label '%s' (classes: %s)", label, list);
    }
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if ((r = expire_leases(st, hitl__now(), err)) != HITL_OK) goto fail;
    item_view v;
    if ((r = view_item(st, pool_id, annotator, &v, err)) != HITL_OK) goto fail;
    if (v.labelled) {
        r = hitl_error_set(err, HITL_ECONFLICT, "'%s' already labelled item '%s'", annotator,
                           pool_id);
        goto fail;
    }
    if (v.state != 0) {
        r = hitl_error_set(err, HITL_ECONFLICT, "item '%s' already has its %d labels%s", pool_id,
                           v.required, v.state == 2 ? " and a final label" : "");
        goto fail;
    }
    if (!v.held && v.n_labels + v.n_leases >= v.required) {
        r = hitl_error_set(err, HITL_ECONFLICT,
                           "'%s' holds no lease on item '%s' and it is fully leased", annotator,
                           pool_id);
        goto fail;
    }
    double leased_at = 0;
    if (v.held) {
        sqlite3_stmt *q = hitl__store_prepare(
            st, "DELETE FROM leases WHERE item = ?1 AND annotator = ?2 RETURNING leased_at", err);
        if (!q) goto fail;
        sqlite3_bind_int64(q, 1, v.id);
        sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) leased_at = sqlite3_column_double(q, 0);
        hitl__store_finish(st, q);
        if ((r = item_update(st, "UPDATE items SET n_leases = n_leases - 1 WHERE id = ?1", v.id,
                             NULL, err)) != HITL_OK)
            goto fail;
    }
    char now_iso[32];
    double now = hitl__now();
    hitl__time_iso(now, now_iso);
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "INSERT INTO labels(item, annotator, label, leased_at, created, created_at)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
        err);
    if (!q) goto fail;
    sqlite3_bind_int64(q, 1, v.id);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, cls);
    if (leased_at > 0) sqlite3_bind_double(q, 4, leased_at);
    sqlite3_bind_double(q, 5, now);
    sqlite3_bind_text(q, 6, now_iso, -1, SQLITE_STATIC);
    r = step_done(st, q, err, "cannot record the label");
    hitl__store_finish(st, q);
    if (r != HITL_OK) goto fail;
    if ((r = item_update(st, "UPDATE items SET n_labels = n_labels + 1 WHERE id = ?1", v.id, NULL,
                         err)) != HITL_OK)
        goto fail;
    json_t *payload = json_pack("{s:s, s:b}", "label", label, "leased", v.held);
    if (leased_at > 0) json_object_set_new(payload, "seconds", json_real(now - leased_at));
    if ((r = hitl__audit_append(st, annotator, "human", "label", pool_id, payload, err)) != HITL_OK)
        goto fail;
    if ((r = hitl__store_settle(st, v.id, pool_id, err)) != HITL_OK) goto fail;
    return hitl__store_commit(st, err);
fail:
    if (r == HITL_OK) r = err ? err->status : HITL_EIO;
    hitl__store_rollback(st);
    return r;
}

hitl_status hitl_store_skip(hitl_store *st, const char *pool_id, const char *annotator,
                            const char *reason, hitl_error *err)
{
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    item_view v;
    if ((r = view_item(st, pool_id, annotator, &v, err)) != HITL_OK) goto fail;
    if (v.labelled || v.skipped) {
        r = hitl_error_set(err, HITL_ECONFLICT, "'%s' already %s item '%s'", annotator,
                           v.labelled ? "labelled" : "skipped", pool_id);
        goto fail;
    }
    if (v.held && ((r = item_update(st, "DELETE FROM leases WHERE item = ?1 AND annotator = ?2",
                                    v.id, annotator, err)) != HITL_OK ||
                   (r = item_update(st, "UPDATE items SET n_leases = n_leases - 1 WHERE id = ?1",
                                    v.id, NULL, err)) != HITL_OK))
        goto fail;
    char now[32];
    hitl__now_iso(now);
    sqlite3_stmt *q = hitl__store_prepare(
        st, "INSERT INTO skips(item, annotator, reason, created_at) VALUES(?1, ?2, ?3, ?4)", err);
    if (!q) goto fail;
    sqlite3_bind_int64(q, 1, v.id);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    if (reason) sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, now, -1, SQLITE_STATIC);
    r = step_done(st, q, err, "cannot record the skip");
    hitl__store_finish(st, q);
    if (r != HITL_OK) goto fail;
    if ((r = hitl__audit_append(st, annotator, "human", "skip", pool_id,
                                json_pack("{s:s?}", "reason", reason), err)) != HITL_OK)
        goto fail;
    return hitl__store_commit(st, err);
fail:
    if (r == HITL_OK) r = err ? err->status : HITL_EIO;
    hitl__store_rollback(st);
    return r;
}

hitl_status hitl_store_undo(hitl_store *st, const char *annotator, char **pool_id, hitl_error *err)
{
    *pool_id = NULL;
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "SELECT l.id, l.item, i.pool_id, i.state, l.label, coalesce(i.final_kind, '')"
        " FROM labels l JOIN items i"
        " ON i.id = l.item WHERE l.annotator = ?1 ORDER BY l.id DESC LIMIT 1",
        err);
    if (!q) goto fail;
    sqlite3_bind_text(q, 1, annotator, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_DONE) {
        hitl__store_finish(st, q);
        hitl__store_rollback(st);
        return HITL_OK;
    }
    if (rc != SQLITE_ROW) {
        r = SQLERR(st, rc, err, "cannot find the last label");
        hitl__store_finish(st, q);
        goto fail;
    }
    sqlite3_int64 label_id = sqlite3_column_int64(q, 0), item = sqlite3_column_int64(q, 1);
    char *pid = dup_col(q, 2);
    int state = sqlite3_column_int(q, 3), label = sqlite3_column_int(q, 4);
    /* a final label the labels agreed on goes back with the label; a person's decision stays */
    int decided = state == 2 && strcmp((const char *)sqlite3_column_text(q, 5), "agreed") != 0;
    hitl__store_finish(st, q);
    if (decided) {
        r = hitl_error_set(
            err, HITL_ECONFLICT,
            "item '%s' has an adjudicated final label: ask an adjudicator to override",
            pid ? pid : "?");
        free(pid);
        goto fail;
    }
    if ((r = item_update(st, "DELETE FROM labels WHERE id = ?1", label_id, NULL, err)) != HITL_OK ||
        (r = item_update(st,
                         "UPDATE items SET n_labels = n_labels - 1, state = 0, final_label = NULL,"
                         " final_kind = NULL, final_by = NULL, final_at = NULL WHERE id = ?1",
                         item, NULL, err)) != HITL_OK ||
        (r = hitl__audit_append(st, annotator, "human", "undo", pid,
                                json_pack("{s:s}", "label", st->settings.classes[label]), err)) !=
            HITL_OK) {
        free(pid);
        goto fail;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) {
        free(pid);
        return r;
    }
    *pool_id = pid;
    return HITL_OK;
fail:
    if (r == HITL_OK) r = err ? err->status : HITL_EIO;
    hitl__store_rollback(st);
    return r;
}
