/* What the quality commands read from the store, each in one read snapshot: the labels as a
 * ratings table with the final labels (agreement, aggregate), the blind sample with the model's
 * guess at queue time (calibrate), and the review metrics that health judges. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static int grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap * 2 : 64;
    while (c < need)
        c *= 2;
    void *v = realloc(*p, c * size);
    if (!v) return -1;
    *p = v;
    *cap = c;
    return 0;
}

static hitl_status oom(hitl_error *err)
{
    return hitl_error_set(err, HITL_ENOMEM, "out of memory");
}

/* The distinct values of one text column, in SQLite's BINARY order (strcmp's). */
static hitl_status read_names(hitl_store *st, const char *sql, char ***out, size_t *n,
                              hitl_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = 0;
    sqlite3_stmt *q;
    hitl_status s = hitl__store_prepare(st, sql, &q, err);
    if (s != HITL_OK) return s;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (grow((void **)out, &cap, *n + 1, sizeof(char *)) ||
            !((*out)[*n] = strdup((const char *)sqlite3_column_text(q, 0)))) {
            s = oom(err);
            break;
        }
        (*n)++;
    }
    if (s == HITL_OK && rc != SQLITE_DONE) s = hitl__store_sqlerr(st, rc, err, "cannot read");
    hitl__store_finish(st, q);
    if (s != HITL_OK) {
        hitl_strings_free(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return s;
}

static size_t find_name(char *const *names, size_t n, const char *who)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(names[mid], who) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && strcmp(names[lo], who) == 0 ? lo : SIZE_MAX;
}

static hitl_status ratings_in_snapshot(hitl_store *st, hitl_ratings_file *out, int32_t **final,
                                       hitl_error *err)
{
    int32_t *ti = NULL, *ta = NULL, *tl = NULL, *fin = NULL;
    size_t n = 0, cap_t = 0, cap_a = 0, cap_l = 0, cap_items = 0, cap_fin = 0;
    hitl_status s = read_names(st, "SELECT DISTINCT annotator FROM labels ORDER BY annotator",
                               &out->annotators, &out->n_annotators, err);
    if (s != HITL_OK) return s;
    size_t C = st->settings.n_classes;
    out->labels = calloc(C ? C : 1, sizeof(char *));
    if (!out->labels) return oom(err);
    for (size_t k = 0; k < C; k++)
        if (!(out->labels[out->n_labels++] = strdup(st->settings.classes[k]))) return oom(err);
    sqlite3_stmt *q;
    if ((s = hitl__store_prepare(st,
                                 "SELECT l.item, i.pool_id, i.final_label, l.annotator, l.label"
                                 " FROM labels l JOIN items i ON i.id = l.item"
                                 " ORDER BY l.item, l.annotator",
                                 &q, err)) != HITL_OK)
        return s;
    int64_t last = -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t item = sqlite3_column_int64(q, 0);
        if (item != last) {
            if (grow((void **)&out->items, &cap_items, out->n_items + 1, sizeof(char *)) ||
                grow((void **)&fin, &cap_fin, out->n_items + 1, sizeof(int32_t)) ||
                !(out->items[out->n_items] = strdup((const char *)sqlite3_column_text(q, 1)))) {
                s = oom(err);
                break;
            }
            fin[out->n_items++] =
                sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 2);
            last = item;
        }
        size_t a =
            find_name(out->annotators, out->n_annotators, (const char *)sqlite3_column_text(q, 3));
        if (a == SIZE_MAX) {
            s = hitl_error_set(err, HITL_EINTERNAL, "'%s': an annotator vanished", st->path);
            break;
        }
        if (grow((void **)&ti, &cap_t, n + 1, sizeof(int32_t)) ||
            grow((void **)&ta, &cap_a, n + 1, sizeof(int32_t)) ||
            grow((void **)&tl, &cap_l, n + 1, sizeof(int32_t))) {
            s = oom(err);
            break;
        }
        ti[n] = (int32_t)(out->n_items - 1);
        ta[n] = (int32_t)a;
        tl[n++] = sqlite3_column_int(q, 4);
    }
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read labels");
    hitl__store_finish(st, q);
    if (s == HITL_OK) {
        s = hitl_ratings_build(&out->table, out->n_items, out->n_annotators, C, ti, ta, tl, n, NULL,
                               err);
        if (s == HITL_EINVAL || s == HITL_EDATA) {
            hitl_error_prefix(err, "'%s': the labels table is inconsistent", st->path);
            s = HITL_EDATA;
        }
    }
    free(ti);
    free(ta);
    free(tl);
    if (s == HITL_OK && final && !fin && !(fin = malloc(sizeof(int32_t)))) s = oom(err);
    if (s == HITL_OK && final) {
        *final = fin;
        fin = NULL;
    }
    free(fin);
    return s;
}

hitl_status hitl_store_ratings_file(hitl_store *st, hitl_ratings_file *out, int32_t **final,
                                    hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    if (final) *final = NULL;
    hitl_status s = hitl__store_read(st, err);
    if (s != HITL_OK) return s;
    s = ratings_in_snapshot(st, out, final, err);
    hitl__store_rollback(st);
    if (s != HITL_OK) hitl_ratings_file_release(out);
    return s;
}

/* ---- the items a person decided ---------------------------------------------------------- */

static int decided_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    hitl_decided_item *d = dst;
    d->pool_id = hitl__col_dup(q, 0);
    d->label = sqlite3_column_int(q, 1);
    d->kind = hitl__col_dup(q, 2);
    d->by = hitl__col_dup(q, 3);
    if (d->pool_id && d->kind && d->by) return 0;
    free(d->pool_id); /* not counted: freed here */
    free(d->kind);
    free(d->by);
    return 1;
}

void hitl_decided_release(hitl_decided_item *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].pool_id);
        free(v[i].kind);
        free(v[i].by);
    }
    free(v);
}

hitl_status hitl_store_decided(hitl_store *st, hitl_decided_item **out, size_t *n, hitl_error *err)
{
    *out = NULL;
    *n = 0;
    hitl_status s = hitl__store_collect(
        st,
        "SELECT pool_id, final_label, final_kind, coalesce(final_by, '') FROM items"
        " WHERE state = 2 AND final_kind IN ('adjudicated', 'override') ORDER BY id",
        (void **)out, n, sizeof(hitl_decided_item), decided_row, NULL, "cannot read items", err);
    if (s != HITL_OK) {
        hitl_decided_release(*out, *n);
        *out = NULL;
        *n = 0;
    }
    return s;
}

/* ---- the blind sample -------------------------------------------------------------------- */

void hitl_blind_sample_release(hitl_blind_sample *b)
{
    if (!b) return;
    hitl_strings_free(b->pool_ids, b->n);
    free(b->rows);
    free(b->pred);
    free(b->p1);
    free(b->label);
    memset(b, 0, sizeof(*b));
}

hitl_status hitl_store_blind_sample(hitl_store *st, hitl_blind_sample *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *q;
    hitl_status s = hitl__store_prepare(
        st,
        "SELECT pool_id, pool_row, pred, p1, final_label FROM items"
        " WHERE reason = 1 AND state = 2 AND final_label IS NOT NULL ORDER BY id",
        &q, err);
    if (s != HITL_OK) return s;
    size_t cap[5] = {0};
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (sqlite3_column_type(q, 2) == SQLITE_NULL || sqlite3_column_type(q, 3) == SQLITE_NULL ||
            sqlite3_column_type(q, 1) == SQLITE_NULL) {
            out->n_unscored++;
            continue;
        }
        size_t i = out->n;
        if (grow((void **)&out->pool_ids, &cap[0], i + 1, sizeof(char *)) ||
            grow((void **)&out->rows, &cap[1], i + 1, sizeof(int64_t)) ||
            grow((void **)&out->pred, &cap[2], i + 1, sizeof(int32_t)) ||
            grow((void **)&out->p1, &cap[3], i + 1, sizeof(float)) ||
            grow((void **)&out->label, &cap[4], i + 1, sizeof(int32_t)) ||
            !(out->pool_ids[i] = strdup((const char *)sqlite3_column_text(q, 0)))) {
            s = oom(err);
            break;
        }
        out->rows[i] = sqlite3_column_int64(q, 1);
        out->pred[i] = sqlite3_column_int(q, 2);
        out->p1[i] = (float)sqlite3_column_double(q, 3);
        out->label[i] = sqlite3_column_int(q, 4);
        out->n++;
    }
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read the blind items");
    hitl__store_finish(st, q);
    if (s != HITL_OK) hitl_blind_sample_release(out);
    return s;
}

/* ---- review health ----------------------------------------------------------------------- */

void hitl_store_health_release(hitl_store_health *h)
{
    if (!h) return;
    for (size_t i = 0; i < h->n_annotators; i++)
        free((char *)h->annotators[i].name);
    for (size_t i = 0; i < h->n_actors; i++)
        free((char *)h->actors[i].name);
    for (size_t i = 0; i < h->n_reviewers; i++)
        free((char *)h->reviewers[i].name);
    free(h->annotators);
    free(h->actors);
    free(h->latency);
    free(h->reviewers);
    free(h->review_latency);
    memset(h, 0, sizeof(*h));
}

/* Rows for hitl__store_collect: an actor's decisions and overrides, a reviewer's votes and
 * approvals, a number of seconds. */
static int actor_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    hitl_health_actor *a = dst;
    a->decisions = sqlite3_column_int64(q, 1);
    a->overrides = (int64_t)sqlite3_column_double(q, 2);
    return !(a->name = hitl__col_dup(q, 0));
}

static int reviewer_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    hitl_health_reviewer *r = dst;
    r->votes = (int64_t)sqlite3_column_double(q, 1);
    r->approvals = (int64_t)sqlite3_column_double(q, 2);
    r->recent = (int64_t)sqlite3_column_double(q, 3);
    r->recent_overrides = (int64_t)sqlite3_column_double(q, 4);
    return !(r->name = hitl__col_dup(q, 0));
}

static int seconds_row(void *ctx, void *dst, sqlite3_stmt *q)
{
    (void)ctx;
    *(double *)dst = sqlite3_column_double(q, 0);
    return 0;
}

static hitl_status health_in_snapshot(hitl_store *st, hitl_store_health *h, hitl_error *err)
{
    /* labels shown with the model's prediction: items with one that the setting shows it on
     * (hitl_prediction_shown, as SQL's shown()); counted only when the store shows predictions
     * at all. Approval is
     * judged against the final label (engine/health.c says why): on final items, whether the
     * final label kept the suggestion (right) or not (wrong), and whether the label was it */
    sqlite3_stmt *q;
    hitl_status s = hitl__store_prepare(
        st,
        "SELECT annotator, COUNT(*), TOTAL(shown), TOTAL(shown AND approved),"
        " TOTAL(shown AND kept), TOTAL(shown AND kept AND approved),"
        " TOTAL(shown AND rejected), TOTAL(shown AND rejected AND approved)"
        " FROM (SELECT l.annotator, shown(?1, i.reason) AND i.pred IS NOT NULL AS shown,"
        " l.label = i.pred AS approved,"
        " i.state = 2 AND i.final_label IS NOT NULL AND i.final_label = i.pred AS kept,"
        " i.state = 2 AND i.final_label IS NOT NULL AND i.final_label != i.pred AS rejected"
        " FROM labels l JOIN items i ON i.id = l.item)"
        " GROUP BY annotator ORDER BY annotator",
        &q, err);
    if (s != HITL_OK) return s;
    sqlite3_bind_int(q, 1, (int)st->settings.show_prediction);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hitl_health_annotator a = {0};
        if (grow((void **)&h->annotators, &cap, h->n_annotators + 1, sizeof(a)) ||
            !(a.name = strdup((const char *)sqlite3_column_text(q, 0)))) {
            s = oom(err);
            break;
        }
        a.labels = sqlite3_column_int64(q, 1);
        if (h->prediction_shown) {
            a.shown = (int64_t)sqlite3_column_double(q, 2);
            a.agreed = (int64_t)sqlite3_column_double(q, 3);
            a.right = (int64_t)sqlite3_column_double(q, 4);
            a.right_approved = (int64_t)sqlite3_column_double(q, 5);
            a.wrong = (int64_t)sqlite3_column_double(q, 6);
            a.wrong_approved = (int64_t)sqlite3_column_double(q, 7);
        }
        h->annotators[h->n_annotators++] = a;
    }
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read labels");
    hitl__store_finish(st, q);
    if (s != HITL_OK) return s;

    if ((s = hitl__store_collect(st,
                                 "SELECT actor, COUNT(*), TOTAL(overrode) FROM decisions"
                                 " GROUP BY actor ORDER BY actor",
                                 (void **)&h->actors, &h->n_actors, sizeof(hitl_health_actor),
                                 actor_row, NULL, "cannot read decisions", err)) != HITL_OK ||
        (s = hitl__store_collect(st,
                                 "SELECT created - leased_at FROM labels"
                                 " WHERE leased_at IS NOT NULL ORDER BY id",
                                 (void **)&h->latency, &h->n_latency, sizeof(double), seconds_row,
                                 NULL, "cannot read labels", err)) != HITL_OK)
        return s;

    /* a label is audited when its annotator's "label" event for the item is in the trail */
    if ((s = hitl__store_prepare(
             st,
             "SELECT COUNT(*), TOTAL(EXISTS(SELECT 1 FROM audit a WHERE a.item = i.pool_id"
             " AND a.event = 'label' AND a.actor = l.annotator))"
             " FROM labels l JOIN items i ON i.id = l.item",
             &q, err)) != HITL_OK)
        return s;
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        h->labels = sqlite3_column_int64(q, 0);
        h->labels_audited = (int64_t)sqlite3_column_double(q, 1);
    } else {
        s = hitl__store_sqlerr(st, rc, err, "cannot read the audit trail");
    }
    hitl__store_finish(st, q);
    return s;
}

/* Live decisions (schema 4): each reviewer's votes and approvals, their reviews (votes and
 * overrides) since the override window began and the overrides among them, the counts, and
 * the seconds from filing to the first vote. */
static hitl_status decisions_in_snapshot(hitl_store *st, hitl_store_health *h, hitl_error *err)
{
    sqlite3_stmt *q;
    char since[32];
    hitl__time_iso(hitl__now() - 86400.0 * st->settings.override_days, since);
    hitl_status s = hitl__store_collect_with(
        st,
        "SELECT reviewer, TOTAL(vote IN ('approve', 'reject')), TOTAL(vote = 'approve'),"
        " TOTAL(created_at >= ?1), TOTAL(created_at >= ?1 AND vote LIKE 'override-%')"
        " FROM gate_votes GROUP BY reviewer ORDER BY reviewer",
        since, (void **)&h->reviewers, &h->n_reviewers, sizeof(hitl_health_reviewer), reviewer_row,
        NULL, "cannot read decision votes", err);
    if (s != HITL_OK) return s;
    int rc;
    if ((s = hitl__store_prepare(st,
                                 "SELECT COUNT(*), TOTAL(status = 'pending'),"
                                 " TOTAL(review = 'escalated'), TOTAL(review = 'expired'),"
                                 " TOTAL(route = 'approve'), TOTAL(route = 'flag'), TOTAL(blind)"
                                 " FROM gates",
                                 &q, err)) != HITL_OK)
        return s;
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t *dst[] = {&h->gates,         &h->gates_pending, &h->gates_escalated,
                          &h->gates_expired, &h->gates_approve, &h->gates_flag,
                          &h->gates_blind};
        for (int i = 0; i < 7; i++)
            *dst[i] = (int64_t)sqlite3_column_double(q, i);
    } else {
        s = hitl__store_sqlerr(st, rc, err, "cannot count decisions");
    }
    hitl__store_finish(st, q);
    if (s != HITL_OK) return s;
    /* audit completeness: each decision with its "gate" event, each vote or override with its
     * reviewer's event on that decision */
    if ((s = hitl__store_prepare(
             st,
             "SELECT (SELECT count(*) FROM gates) + (SELECT count(*) FROM gate_votes),"
             " (SELECT count(*) FROM gates WHERE id IN (SELECT json_extract(payload, '$.decision')"
             "   FROM audit WHERE event = 'gate'))"
             " + (SELECT count(*) FROM gate_votes WHERE (gate, reviewer) IN"
             "   (SELECT json_extract(payload, '$.decision'), actor FROM audit"
             "    WHERE event IN ('gate_vote', 'gate_override')))",
             &q, err)) != HITL_OK)
        return s;
    if ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        h->gate_records = sqlite3_column_int64(q, 0);
        h->gate_records_audited = sqlite3_column_int64(q, 1);
    } else {
        s = hitl__store_sqlerr(st, rc, err, "cannot read the audit trail");
    }
    hitl__store_finish(st, q);
    if (s != HITL_OK) return s;
    return hitl__store_collect(st,
                               "SELECT (julianday(min(v.created_at)) - julianday(g.created_at))"
                               " * 86400.0 FROM gates g JOIN gate_votes v ON v.gate = g.id"
                               " GROUP BY g.id ORDER BY g.id",
                               (void **)&h->review_latency, &h->n_review_latency, sizeof(double),
                               seconds_row, NULL, "cannot read decision votes", err);
}

hitl_status hitl_store_health_get(hitl_store *st, hitl_store_health *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->show_prediction = st->settings.show_prediction;
    out->prediction_shown = st->settings.show_prediction != HITL_SHOW_NEVER;
    hitl_status s = hitl__store_read(st, err);
    if (s != HITL_OK) return s;
    s = hitl__settings_refresh(st, err); /* the override window as the store holds it now */
    out->override_days = st->settings.override_days;
    if (s == HITL_OK) s = health_in_snapshot(st, out, err);
    if (s == HITL_OK && st->schema >= 4) s = decisions_in_snapshot(st, out, err);
    hitl__store_rollback(st);
    if (s == HITL_OK) { /* its own snapshot: the chain is read whole */
        hitl_error e2;
        hitl_error_clear(&e2);
        hitl_verify_report vr;
        s = hitl_audit_verify(st, NULL, &vr, &e2);
        out->chain_bad_seq = vr.bad_seq;
        out->n_events = vr.events;
        out->chain_ok = s == HITL_OK;
        if (s == HITL_EDATA)
            s = HITL_OK; /* a broken chain is a finding, not a failure */
        else if (s != HITL_OK && err)
            *err = e2;
    }
    if (s != HITL_OK) hitl_store_health_release(out);
    return s;
}
