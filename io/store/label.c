/* The annotators' side of the store: lease the next item (breadth-first, so overlap
 * completes), label, skip and undo, and settling an item whose labels are all in. Each call is
 * one short BEGIN IMMEDIATE transaction that also appends its audit events. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* Runs one parameterised statement without rows: ?1 an item's id, ?2 an annotator (when not
 * NULL). */
static hitl_status item_update(hitl_store *st, const char *sql, sqlite3_int64 item,
                               const char *annotator, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, sql, &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, item);
    if (annotator) sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot update the item");
    hitl__store_finish(st, q);
    return r;
}

/* Gives an annotator's lease on an item back (the row and the item's count). */
static hitl_status lease_drop(hitl_store *st, sqlite3_int64 item, const char *annotator,
                              hitl_error *err)
{
    hitl_status r = item_update(st, "DELETE FROM leases WHERE item = ?1 AND annotator = ?2", item,
                                annotator, err);
    if (r == HITL_OK)
        r = item_update(st, "UPDATE items SET n_leases = n_leases - 1 WHERE id = ?1", item, NULL,
                        err);
    return r;
}

/* Expired leases go back to the pool, each audited as a system event. */
static hitl_status expire_leases(hitl_store *st, double now, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT l.item, l.annotator, i.pool_id FROM leases l JOIN items i ON i.id = l.item "
        "WHERE l.expires < ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_double(q, 1, now);
    int rc;
    while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *who = (const char *)sqlite3_column_text(q, 1);
        const char *pid = (const char *)sqlite3_column_text(q, 2);
        if ((r = lease_drop(st, sqlite3_column_int64(q, 0), who, err)) == HITL_OK)
            r = hitl__audit_append(st, "hitl", "system", "lease_expired", pid,
                                   json_pack("{s:s}", "annotator", who), err);
    }
    if (r == HITL_OK && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot expire leases");
    hitl__store_finish(st, q);
    return r;
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

/* The item an annotator's lease is on, else the first one offered to them: ?1 the annotator.
 * Columns: id, pool_id, data, pred, reason, position, held. */
static const char held_sql[] =
    "SELECT i.id, i.pool_id, i.data, i.pred, i.reason, i.position, 1 FROM leases l"
    " JOIN items i ON i.id = l.item WHERE l.annotator = ?1"
    " ORDER BY l.leased_at DESC, i.position LIMIT 1";
static const char pick_sql[] =
    "SELECT id, pool_id, data, pred, reason, position, 0 FROM items WHERE avail = 1"
    " AND NOT EXISTS (SELECT 1 FROM labels WHERE item = items.id AND annotator = ?1)"
    " AND NOT EXISTS (SELECT 1 FROM skips WHERE item = items.id AND annotator = ?1)"
    " ORDER BY started DESC, position LIMIT 1";

/* hitl_store_next inside its transaction. */
static hitl_status lease_next(hitl_store *st, const char *annotator, hitl_lease *out, int *found,
                              hitl_error *err)
{
    double now = hitl__now(), expires = now + st->settings.lease_seconds;
    hitl_status r = expire_leases(st, now, err);
    if (r != HITL_OK) return r;
    /* an annotator who already holds a lease gets that item again, its lease renewed */
    sqlite3_stmt *q = NULL;
    int rc = SQLITE_DONE;
    for (int pass = 0; pass < 2 && rc == SQLITE_DONE; pass++) {
        hitl__store_finish(st, q);
        if ((r = hitl__store_prepare(st, pass == 0 ? held_sql : pick_sql, &q, err)) != HITL_OK)
            return r;
        sqlite3_bind_text(q, 1, annotator, -1, SQLITE_STATIC);
        rc = sqlite3_step(q);
    }
    if (rc != SQLITE_ROW) {
        if (rc != SQLITE_DONE) r = hitl__store_sqlerr(st, rc, err, "cannot pick the next item");
        hitl__store_finish(st, q);
        return r; /* nothing left: expiries may still have been written */
    }
    sqlite3_int64 item = sqlite3_column_int64(q, 0);
    int held = sqlite3_column_int(q, 6);
    int blind = sqlite3_column_int(q, 4) == HITL_REASON_BLIND;
    out->pool_id = hitl__col_dup(q, 1);
    out->data = hitl__col_dup(q, 2);
    out->position = sqlite3_column_int64(q, 5);
    int pred = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
    int show = hitl_prediction_shown(st->settings.show_prediction, blind);
    if (show && pred >= 0 && (size_t)pred < st->settings.n_classes)
        out->prediction = strdup(st->settings.classes[pred]);
    hitl__store_finish(st, q);
    char iso[32];
    hitl__time_iso(expires, iso);
    out->expires = strdup(iso);
    if (!out->pool_id || !out->expires) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    r = hitl__store_prepare(
        st,
        held ? "UPDATE leases SET expires = ?3 WHERE item = ?1 AND annotator = ?2"
             : "INSERT INTO leases(item, annotator, leased_at, expires)"
               " VALUES(?1, ?2, ?4, ?3)",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 3, expires);
    sqlite3_bind_double(q, 4, now);
    r = hitl__store_step_done(st, q, err, "cannot lease");
    hitl__store_finish(st, q);
    if (r == HITL_OK && !held)
        r = item_update(st, "UPDATE items SET n_leases = n_leases + 1 WHERE id = ?1", item, NULL,
                        err);
    if (r == HITL_OK)
        r = hitl__audit_append(st, annotator, "human", held ? "lease_renewed" : "lease",
                               out->pool_id, json_pack("{s:s}", "expires", iso), err);
    if (r == HITL_OK) *found = 1;
    return r;
}

hitl_status hitl_store_next(hitl_store *st, const char *annotator, hitl_lease *out, int *found,
                            hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    *found = 0;
    hitl_status r = hitl_name_check(annotator, "the annotator's name", err);
    if (r != HITL_OK) return r;
    r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if ((r = lease_next(st, annotator, out, found, err)) == HITL_OK)
        r = hitl__store_commit(st, err);
    else
        hitl__store_rollback(st);
    if (r != HITL_OK) {
        hitl_lease_release(out);
        *found = 0;
    }
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
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT id, state, n_labels, n_leases, required,"
        " EXISTS (SELECT 1 FROM leases WHERE item = items.id AND annotator = ?2),"
        " EXISTS (SELECT 1 FROM labels WHERE item = items.id AND annotator = ?2),"
        " EXISTS (SELECT 1 FROM skips WHERE item = items.id AND annotator = ?2)"
        " FROM items WHERE pool_id = ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, pool_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, annotator ? annotator : "", -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
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
        r = hitl__store_sqlerr(st, rc, err, "cannot read the item");
    }
    hitl__store_finish(st, q);
    return r;
}

/* After a label: an item with all its labels becomes final when they agree, else waits for
 * adjudication. */
hitl_status hitl__store_settle(hitl_store *st, sqlite3_int64 item, const char *pool_id,
                               hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT i.n_labels >= i.required, count(DISTINCT l.label), min(l.label) FROM items i"
        " JOIN labels l ON l.item = i.id WHERE i.id = ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, item);
    int rc = sqlite3_step(q), full = 0, distinct = 0, label = 0;
    if (rc == SQLITE_ROW) {
        full = sqlite3_column_int(q, 0);
        distinct = sqlite3_column_int(q, 1);
        label = sqlite3_column_int(q, 2);
    }
    hitl__store_finish(st, q);
    if (rc != SQLITE_ROW) return hitl__store_sqlerr(st, rc, err, "cannot settle the item");
    if (!full) return HITL_OK;
    if (distinct > 1) {
        r = item_update(st, "UPDATE items SET state = 1 WHERE id = ?1", item, NULL, err);
        if (r != HITL_OK) return r;
        return hitl__audit_append(st, "hitl", "system", "disagreement", pool_id,
                                  json_pack("{s:i}", "distinct_labels", distinct), err);
    }
    char now[32];
    hitl__now_iso(now);
    r = hitl__store_prepare(st,
                            "UPDATE items SET state = 2, final_label = ?2, final_kind = 'agreed',"
                            " final_by = NULL, final_at = ?3 WHERE id = ?1",
                            &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_int(q, 2, label);
    sqlite3_bind_text(q, 3, now, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot finalise the item");
    hitl__store_finish(st, q);
    if (r != HITL_OK) return r;
    return hitl__audit_append_at(
        st, now, "hitl", "system", "final", pool_id,
        json_pack("{s:s, s:s}", "label", st->settings.classes[label], "kind", "agreed"), err);
}

/* "unknown label 'x' (classes: a, b, c)". */
static hitl_status unknown_label(const hitl_store *st, const char *label, hitl_error *err)
{
    char list[512] = "";
    for (size_t i = 0, n = 0; i < st->settings.n_classes && n < sizeof(list); i++)
        n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                              st->settings.classes[i]);
    return hitl_error_set(err, HITL_EDATA, "unknown label '%s' (classes: %s)", label, list);
}

/* hitl_store_label inside its transaction: cls is the label's class index. */
static hitl_status record_label(hitl_store *st, const char *pool_id, const char *label, int cls,
                                const char *annotator, hitl_error *err)
{
    hitl_status r = expire_leases(st, hitl__now(), err);
    item_view v;
    if (r == HITL_OK) r = view_item(st, pool_id, annotator, &v, err);
    if (r != HITL_OK) return r;
    if (v.labelled)
        return hitl_error_set(err, HITL_ECONFLICT, "'%s' already labelled item '%s'", annotator,
                              pool_id);
    if (v.skipped)
        return hitl_error_set(err, HITL_ECONFLICT, "'%s' skipped item '%s'", annotator, pool_id);
    if (v.state != 0)
        return hitl_error_set(err, HITL_ECONFLICT, "item '%s' already has its %d labels%s", pool_id,
                              v.required, v.state == 2 ? " and a final label" : "");
    if (!v.held && v.n_labels + v.n_leases >= v.required)
        return hitl_error_set(err, HITL_ECONFLICT,
                              "'%s' holds no lease on item '%s' and it is fully leased", annotator,
                              pool_id);
    sqlite3_stmt *q;
    double leased_at = 0;
    if (v.held) {
        r = hitl__store_prepare(
            st, "SELECT leased_at FROM leases WHERE item = ?1 AND annotator = ?2", &q, err);
        if (r != HITL_OK) return r;
        sqlite3_bind_int64(q, 1, v.id);
        sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
        if (sqlite3_step(q) == SQLITE_ROW) leased_at = sqlite3_column_double(q, 0);
        hitl__store_finish(st, q);
        if ((r = lease_drop(st, v.id, annotator, err)) != HITL_OK) return r;
    }
    char now_iso[32];
    double now = hitl__now();
    hitl__time_iso(now, now_iso);
    r = hitl__store_prepare(st,
                            "INSERT INTO labels(item, annotator, label, leased_at, created,"
                            " created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                            &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, v.id);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, cls);
    if (leased_at > 0) sqlite3_bind_double(q, 4, leased_at);
    sqlite3_bind_double(q, 5, now);
    sqlite3_bind_text(q, 6, now_iso, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot record the label");
    hitl__store_finish(st, q);
    if (r == HITL_OK)
        r = item_update(st, "UPDATE items SET n_labels = n_labels + 1 WHERE id = ?1", v.id, NULL,
                        err);
    if (r != HITL_OK) return r;
    json_t *payload = json_pack("{s:s, s:b}", "label", label, "leased", v.held);
    if (payload && leased_at > 0)
        json_object_set_new(payload, "seconds", json_real(now - leased_at));
    if ((r = hitl__audit_append_at(st, now_iso, annotator, "human", "label", pool_id, payload,
                                   err)) != HITL_OK)
        return r;
    return hitl__store_settle(st, v.id, pool_id, err);
}

hitl_status hitl_store_label(hitl_store *st, const char *pool_id, const char *label,
                             const char *annotator, hitl_error *err)
{
    hitl_status r = hitl_name_check(annotator, "the annotator's name", err);
    if (r != HITL_OK) return r;
    int cls = hitl__store_class(st, label);
    if (cls < 0) return unknown_label(st, label, err);
    r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if ((r = record_label(st, pool_id, label, cls, annotator, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    return hitl__store_commit(st, err);
}

/* hitl_store_skip inside its transaction. */
static hitl_status record_skip(hitl_store *st, const char *pool_id, const char *annotator,
                               const char *reason, hitl_error *err)
{
    item_view v;
    hitl_status r = view_item(st, pool_id, annotator, &v, err);
    if (r != HITL_OK) return r;
    if (v.labelled || v.skipped)
        return hitl_error_set(err, HITL_ECONFLICT, "'%s' already %s item '%s'", annotator,
                              v.labelled ? "labelled" : "skipped", pool_id);
    if (v.held && (r = lease_drop(st, v.id, annotator, err)) != HITL_OK) return r;
    char now[32];
    hitl__now_iso(now);
    sqlite3_stmt *q;
    r = hitl__store_prepare(
        st, "INSERT INTO skips(item, annotator, reason, created_at) VALUES(?1, ?2, ?3, ?4)", &q,
        err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, v.id);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    if (reason) sqlite3_bind_text(q, 3, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, now, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot record the skip");
    hitl__store_finish(st, q);
    if (r != HITL_OK) return r;
    return hitl__audit_append_at(st, now, annotator, "human", "skip", pool_id,
                                 json_pack("{s:s?}", "reason", reason), err);
}

hitl_status hitl_store_skip(hitl_store *st, const char *pool_id, const char *annotator,
                            const char *reason, hitl_error *err)
{
    hitl_status r = hitl_name_check(annotator, "the annotator's name", err);
    if (r == HITL_OK && !hitl_text_utf8(reason))
        r = hitl_error_set(err, HITL_EDATA, "the reason is not valid UTF-8");
    if (r != HITL_OK) return r;
    r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if ((r = record_skip(st, pool_id, annotator, reason, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    return hitl__store_commit(st, err);
}

/* Leases an item whose label was just undone back to its annotator, so that `next` shows it
 * again first (held leases come newest first). */
static hitl_status lease_back(hitl_store *st, sqlite3_int64 item, const char *annotator,
                              const char *pool_id, hitl_error *err)
{
    double now = hitl__now(), expires = now + st->settings.lease_seconds;
    char iso[32];
    hitl__time_iso(expires, iso);
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st,
                                        "INSERT INTO leases(item, annotator, leased_at,"
                                        " expires) VALUES(?1, ?2, ?3, ?4)",
                                        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, annotator, -1, SQLITE_STATIC);
    sqlite3_bind_double(q, 3, now);
    sqlite3_bind_double(q, 4, expires);
    r = hitl__store_step_done(st, q, err, "cannot lease");
    hitl__store_finish(st, q);
    if (r == HITL_OK)
        r = item_update(st, "UPDATE items SET n_leases = n_leases + 1 WHERE id = ?1", item, NULL,
                        err);
    if (r == HITL_OK)
        r = hitl__audit_append(st, annotator, "human", "lease", pool_id,
                               json_pack("{s:s}", "expires", iso), err);
    return r;
}

/* hitl_store_undo inside its transaction: the annotator's label on `item` (NULL: their last
 * label) goes, and the item is leased back to them. *pool_id (caller frees) names the item,
 * NULL when the annotator has no label to undo. */
static hitl_status undo_label(hitl_store *st, const char *annotator, const char *item_id,
                              char **pool_id, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT l.id, l.item, i.pool_id, i.state, l.label, coalesce(i.final_kind, '')"
        " FROM labels l JOIN items i ON i.id = l.item WHERE l.annotator = ?1"
        " AND (?2 IS NULL OR i.pool_id = ?2) ORDER BY l.id DESC LIMIT 1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, annotator, -1, SQLITE_STATIC);
    if (item_id) sqlite3_bind_text(q, 2, item_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        hitl__store_finish(st, q);
        if (rc != SQLITE_DONE) return hitl__store_sqlerr(st, rc, err, "cannot find the label");
        if (!item_id) return HITL_OK;
        item_view v; /* HITL_ENOTFOUND for an unknown item, else a conflict */
        if ((r = view_item(st, item_id, annotator, &v, err)) != HITL_OK) return r;
        return hitl_error_set(err, HITL_ECONFLICT, "'%s' has no label on item '%s' to undo",
                              annotator, item_id);
    }
    sqlite3_int64 label_id = sqlite3_column_int64(q, 0), item = sqlite3_column_int64(q, 1);
    *pool_id = hitl__col_dup(q, 2);
    int state = sqlite3_column_int(q, 3), label = sqlite3_column_int(q, 4);
    /* a final label the labels agreed on goes back with the label; a person's decision stays */
    int decided = state == 2 && strcmp((const char *)sqlite3_column_text(q, 5), "agreed") != 0;
    hitl__store_finish(st, q);
    if (!*pool_id) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (decided)
        return hitl_error_set(
            err, HITL_ECONFLICT,
            "item '%s' has an adjudicated final label: ask an adjudicator to override", *pool_id);
    r = item_update(st, "DELETE FROM labels WHERE id = ?1", label_id, NULL, err);
    if (r == HITL_OK)
        r = item_update(st,
                        "UPDATE items SET n_labels = n_labels - 1, state = 0, final_label = NULL,"
                        " final_kind = NULL, final_by = NULL, final_at = NULL WHERE id = ?1",
                        item, NULL, err);
    if (r == HITL_OK)
        r = hitl__audit_append(st, annotator, "human", "undo", *pool_id,
                               json_pack("{s:s}", "label", st->settings.classes[label]), err);
    if (r == HITL_OK) r = lease_back(st, item, annotator, *pool_id, err);
    return r;
}

hitl_status hitl_store_undo(hitl_store *st, const char *annotator, const char *item, char **pool_id,
                            hitl_error *err)
{
    *pool_id = NULL;
    hitl_status r = hitl_name_check(annotator, "the annotator's name", err);
    if (r != HITL_OK) return r;
    r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if ((r = undo_label(st, annotator, item, pool_id, err)) == HITL_OK && *pool_id)
        r = hitl__store_commit(st, err);
    else
        hitl__store_rollback(st);
    if (r != HITL_OK) {
        free(*pool_id);
        *pool_id = NULL;
    }
    return r;
}
