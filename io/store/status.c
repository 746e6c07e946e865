/* The queue's progress in one read snapshot: items, labels, skips and leases, per batch and in
 * total, each annotator's labels and skips, and each actor's decisions and override rate; the
 * item stream the report's histograms read; and each annotator's throughput. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static int64_t scalar(hitl_store *st, const char *sql, hitl_status *r, hitl_error *err)
{
    sqlite3_stmt *q;
    if (*r != HITL_OK || (*r = hitl__store_prepare(st, sql, &q, err)) != HITL_OK) return 0;
    int rc = sqlite3_step(q);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : 0;
    if (rc != SQLITE_ROW) *r = hitl__store_sqlerr(st, rc, err, "cannot count");
    hitl__store_finish(st, q);
    return v;
}

static int annotator_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    hitl_store_annotator *a = dst;
    a->labels = sqlite3_column_int64(q, 1);
    a->skips = sqlite3_column_int64(q, 2);
    a->last_hour = sqlite3_column_int64(q, 3);
    a->last_day = sqlite3_column_int64(q, 4);
    return !(a->name = hitl__col_dup(q, 0));
}

static int actor_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    hitl_store_actor *a = dst;
    a->decisions = sqlite3_column_int64(q, 1);
    a->overrides = sqlite3_column_int64(q, 2);
    a->rate = a->decisions ? (double)a->overrides / (double)a->decisions : 0;
    a->alert = 0; /* override_alerts() sets it */
    return !(a->name = hitl__col_dup(q, 0));
}

static int batch_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    hitl_store_batch_stats *b = dst;
    b->queued = sqlite3_column_int64(q, 1);
    b->complete = sqlite3_column_int64(q, 2);
    b->blind = sqlite3_column_int64(q, 3);
    b->awaiting_adjudication = sqlite3_column_int64(q, 4);
    b->queue_depth = sqlite3_column_int64(q, 5);
    return !(b->batch = hitl__col_dup(q, 0));
}

/* Each actor's alert: 1 where the scorecard finds actor i's override rate
 * too high: the engine's rule and default thresholds, as hitl health judges them. */
static hitl_status override_alerts(hitl_store_stats *s, const hitl_health_thresholds *t,
                                   hitl_error *err)
{
    hitl_health_actor *acts = calloc(s->n_actors + 1, sizeof(*acts));
    if (!acts) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_actors; i++) {
        acts[i] =
            (hitl_health_actor){s->actors[i].name, s->actors[i].decisions, s->actors[i].overrides};
    }
    hitl_health_metrics m = {.actors = acts, .n_actors = s->n_actors, .chain_ok = 1, .alpha = NAN};
    hitl_health_verdict v;
    hitl_status st = hitl_health_evaluate(&m, t, &v, err);
    for (size_t k = 0; st == HITL_OK && k < v.n_reasons; k++)
        if (v.reasons[k].rule == HITL_HEALTH_OVERRIDES) s->actors[v.reasons[k].subject].alert = 1;
    if (st == HITL_OK) hitl_health_verdict_release(&v);
    free(acts);
    return st;
}

hitl_status hitl_store_stats_get(hitl_store *st, hitl_store_stats *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    hitl_status r = hitl__store_read(st, err);             /* one snapshot */
    if (r == HITL_OK) r = hitl__settings_refresh(st, err); /* the alert's thresholds */
    out->labels = scalar(st, "SELECT count(*) FROM labels", &r, err);
    out->skips = scalar(st, "SELECT count(*) FROM skips", &r, err);
    out->leases = scalar(st, "SELECT count(*) FROM leases", &r, err);
    if (r == HITL_OK)
        r = hitl__store_collect(
            st,
            /* throughput: labels in the last hour and day, by the label's time (created:
             * seconds since 1970, as SQLite's julianday('now') gives them) */
            "SELECT name, sum(l), sum(s), sum(l AND t >= now - 3600), sum(l AND t >= now - 86400)"
            " FROM (SELECT annotator AS name, 1 AS l, 0 AS s, created AS t FROM labels"
            " UNION ALL SELECT annotator, 0, 1, NULL FROM skips),"
            " (SELECT (julianday('now') - 2440587.5) * 86400.0 AS now) GROUP BY name"
            " ORDER BY name",
            (void **)&out->annotators, &out->n_annotators, sizeof(hitl_store_annotator),
            annotator_row, NULL, "cannot read status", err);
    if (r == HITL_OK)
        r = hitl__store_collect(
            st,
            "SELECT actor, count(*), sum(overrode) FROM decisions GROUP BY actor"
            " ORDER BY actor",
            (void **)&out->actors, &out->n_actors, sizeof(hitl_store_actor), actor_row, NULL,
            "cannot read status", err);
    /* one scan of the items gives every batch's counts, and the totals are their sums */
    if (r == HITL_OK)
        r = hitl__store_collect(
            st,
            "SELECT batch, count(*), sum(state = 2), sum(reason = 1), sum(state = 1),"
            " sum(state = 0) FROM items GROUP BY batch ORDER BY min(position)",
            (void **)&out->batches, &out->n_batches, sizeof(hitl_store_batch_stats), batch_row,
            NULL, "cannot read status", err);
    for (size_t i = 0; r == HITL_OK && i < out->n_batches; i++) {
        const hitl_store_batch_stats *b = &out->batches[i];
        out->items_queued += b->queued;
        out->items_complete += b->complete;
        out->awaiting_adjudication += b->awaiting_adjudication;
        out->queue_depth += b->queue_depth;
    }
    hitl__store_rollback(st);
    if (r == HITL_OK) r = override_alerts(out, &st->settings.health, err);
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

/* ---- the item stream and throughput ------------------------------------------------------ */

hitl_status hitl_store_items_each(hitl_store *st, hitl_item_fn fn, void *ctx, hitl_error *err)
{
    hitl_status s = hitl__store_read(st, err);
    if (s != HITL_OK) return s;
    sqlite3_stmt *q;
    s = hitl__store_prepare(
        st,
        "SELECT pool_id, reason, score, p1, pred, state, n_labels, method FROM items ORDER BY id",
        &q, err);
    if (s != HITL_OK) {
        hitl__store_rollback(st);
        return s;
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hitl_item_brief it;
        it.pool_id = (const char *)sqlite3_column_text(q, 0);
        it.blind = sqlite3_column_int(q, 1) == HITL_REASON_BLIND;
        it.score =
            sqlite3_column_type(q, 2) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(q, 2);
        it.p1 = sqlite3_column_type(q, 3) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(q, 3);
        it.pred = sqlite3_column_type(q, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 4);
        it.state = sqlite3_column_int(q, 5);
        it.n_labels = sqlite3_column_int(q, 6);
        it.method = (const char *)sqlite3_column_text(q, 7);
        if (fn(ctx, &it)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) s = hitl__store_sqlerr(st, rc, err, "cannot read items");
    hitl__store_finish(st, q);
    hitl__store_rollback(st);
    return s;
}

void hitl_store_throughput_free(hitl_store_throughput *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].first_at);
        free(v[i].last_at);
    }
    free(v);
}

static char *dup_text(sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    return s ? strdup((const char *)s) : NULL;
}

hitl_status hitl_store_throughput_get(hitl_store *st, hitl_store_throughput **out, size_t *n,
                                      hitl_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    hitl_status s = hitl__store_prepare(
        st,
        "SELECT name, sum(l), sum(s), sum(timed), sum(secs), min(at), max(at) FROM ("
        " SELECT annotator AS name, 1 AS l, 0 AS s, leased_at IS NOT NULL AS timed,"
        "  CASE WHEN leased_at IS NOT NULL THEN created - leased_at END AS secs,"
        "  created_at AS at FROM labels"
        " UNION ALL SELECT annotator, 0, 1, 0, NULL, NULL FROM skips)"
        " GROUP BY name ORDER BY name",
        &q, err);
    if (s != HITL_OK) return s;
    hitl_store_throughput *v = NULL;
    size_t cap = 0, k = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            hitl_store_throughput *p = realloc(v, cap * sizeof(*v));
            if (!p) {
                s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                break;
            }
            v = p;
        }
        hitl_store_throughput *t = &v[k++];
        t->name = dup_text(q, 0);
        t->labels = sqlite3_column_int64(q, 1);
        t->skips = sqlite3_column_int64(q, 2);
        t->timed = sqlite3_column_int64(q, 3);
        t->mean_seconds = t->timed ? sqlite3_column_double(q, 4) / (double)t->timed : NAN;
        t->first_at = dup_text(q, 5);
        t->last_at = dup_text(q, 6);
        if (!t->name) {
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
    }
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read labels");
    hitl__store_finish(st, q);
    if (s != HITL_OK) {
        hitl_store_throughput_free(v, k);
        return s;
    }
    *out = v;
    *n = k;
    return HITL_OK;
}
