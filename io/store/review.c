/* The reviewers' side of the store: adjudication of disagreements and overrides of final labels
 * or review-routed predictions, always with a justification. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* What a decision on an item replaces, read inside the decision's transaction. */
typedef struct decided_item {
    sqlite3_int64 id;
    const char *kind; /* "adjudicate" (a disagreement) or "override" */
    int previous;     /* the final label, or the model's class it overrides; -1 when none */
} decided_item;

/* The item and what a decision on it would replace: its final label, else its disagreement,
 * else (review-routed and unlabelled) the model's prediction. HITL_ENOTFOUND, HITL_ECONFLICT
 * when there is nothing to decide yet. */
static hitl_status item_to_decide(hitl_store *st, const char *pool_id, decided_item *d,
                                  hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT id, state, final_label, pred, route = 'review', n_labels FROM items"
        " WHERE pool_id = ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, pool_id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc != SQLITE_ROW) {
        hitl__store_finish(st, q);
        return rc == SQLITE_DONE ? hitl_error_set(err, HITL_ENOTFOUND, "unknown item '%s'", pool_id)
                                 : hitl__store_sqlerr(st, rc, err, "cannot read the item");
    }
    d->id = sqlite3_column_int64(q, 0);
    int state = sqlite3_column_int(q, 1);
    int final = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 2);
    int pred = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
    int review = sqlite3_column_int(q, 4) == 1, n_labels = sqlite3_column_int(q, 5);
    hitl__store_finish(st, q);
    if (state == 2) {
        d->kind = "override";
        d->previous = final;
    } else if (state == 1) {
        d->kind = "adjudicate";
        d->previous = -1;
    } else if (review && n_labels == 0) {
        d->kind = "override";
        d->previous = pred;
    } else {
        return hitl_error_set(err, HITL_ECONFLICT,
                              "item '%s' has no disagreement, final label or review-routed "
                              "prediction to decide on yet",
                              pool_id);
    }
    return HITL_OK;
}

/* hitl_store_adjudicate inside its transaction: cls is the label's class index. */
static hitl_status decide(hitl_store *st, const char *pool_id, const char *label, int cls,
                          const char *actor, const char *justification, int *changed,
                          hitl_error *err)
{
    decided_item d = {0};
    hitl_status r = item_to_decide(st, pool_id, &d, err);
    if (r != HITL_OK) return r;
    int override = strcmp(d.kind, "override") == 0;
    *changed = override && d.previous != cls;
    char now[32];
    hitl__now_iso(now);
    sqlite3_stmt *q;
    r = hitl__store_prepare(st,
                            "INSERT INTO decisions(item, actor, label, previous, overrode, kind,"
                            " justification, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                            &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, d.id);
    sqlite3_bind_text(q, 2, actor, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, cls);
    if (d.previous >= 0) sqlite3_bind_int(q, 4, d.previous);
    sqlite3_bind_int(q, 5, *changed);
    sqlite3_bind_text(q, 6, d.kind, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, justification, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, now, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot record the decision");
    hitl__store_finish(st, q);
    if (r != HITL_OK) return r;
    r = hitl__store_prepare(st,
                            "UPDATE items SET state = 2, final_label = ?2, final_kind = ?3,"
                            " final_by = ?4, final_at = ?5 WHERE id = ?1",
                            &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, d.id);
    sqlite3_bind_int(q, 2, cls);
    sqlite3_bind_text(q, 3, override ? "override" : "adjudicated", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, now, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot set the final label");
    hitl__store_finish(st, q);
    if (r != HITL_OK) return r;
    const char *before = d.previous >= 0 ? st->settings.classes[d.previous] : NULL;
    return hitl__audit_append_at(st, now, actor, "human", d.kind, pool_id,
                                 json_pack("{s:s?, s:s, s:s, s:b}", "before", before, "after",
                                           label, "justification", justification, "changed",
                                           *changed),
                                 err);
}

hitl_status hitl_store_adjudicate(hitl_store *st, const char *pool_id, const char *label,
                                  const char *actor, const char *justification, int *overrode,
                                  hitl_error *err)
{
    if (overrode) *overrode = 0;
    hitl_status r = hitl_name_check(actor, "the actor's name", err);
    if (r != HITL_OK) return r;
    int cls = hitl__store_class(st, label);
    if (cls < 0) return hitl_error_set(err, HITL_EDATA, "unknown label '%s'", label);
    /* what a person wrote: characters that are neither spaces nor control characters */
    int64_t visible = hitl_text_visible(justification);
    if (visible < 0) return hitl_error_set(err, HITL_EDATA, "the justification is not valid UTF-8");
    if (visible < st->settings.min_justification)
        return hitl_error_set(err, HITL_EDATA,
                              "a decision needs a justification of at least %d characters, not "
                              "counting spaces (got %lld)",
                              st->settings.min_justification, (long long)visible);
    r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    int changed = 0;
    if ((r = decide(st, pool_id, label, cls, actor, justification, &changed, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    if (overrode) *overrode = changed;
    return HITL_OK;
}
