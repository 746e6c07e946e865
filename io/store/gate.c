/* Live decisions ("gates"): a service asks before a risky action. The store routes it by risk
 * (above route high: it waits for approvals; above medium: it proceeds and is flagged for
 * review; the rest proceed, a seeded share to blind review), records the reviewers' votes, and
 * escalates a rejection or a missed deadline to the admins, who settle it.
 *
 * Two states per decision: `status`, what the caller acts on (pending, approved, rejected,
 * escalated, expired, proceeded), and `review`, what the reviewers work on (pending, approved,
 * rejected, escalated, expired; none when nothing is reviewed). A decision that must be
 * approved has the two equal; one that proceeded keeps status proceeded whatever its review.
 *
 * Each change is one transaction at synchronous=FULL (the service acts on the answer: it is on
 * disk before anyone is told), with an audit event carrying the decision's whole state after
 * it, so that verify can compare the table with the chain row by row. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static const char *const status_names[HITL_GATE_N_STATUS] = {
    "none", "pending", "approved", "rejected", "escalated", "expired", "proceeded"};
/* by hitl_route: NONE proceeds, REVIEW waits for approval, FLAG is reviewed after */
static const char *const route_names[] = {"proceed", "approve", "flag"};

const char *hitl_gate_status_name(hitl_gate_status s)
{
    return (unsigned)s < HITL_GATE_N_STATUS ? status_names[s] : "unknown";
}

hitl_status hitl_gate_status_parse(const char *name, hitl_gate_status *out)
{
    for (int i = 0; name && i < HITL_GATE_N_STATUS; i++)
        if (strcmp(name, status_names[i]) == 0) {
            *out = (hitl_gate_status)i;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

const char *hitl_gate_route_name(hitl_route r)
{
    return (unsigned)r < 3 ? route_names[r] : "unknown";
}

static hitl_gate_status status_of(const char *s)
{
    hitl_gate_status g = HITL_GATE_NONE;
    hitl_gate_status_parse(s, &g);
    return g;
}

static hitl_route route_of(const char *s)
{
    for (int i = 0; s && i < 3; i++)
        if (strcmp(s, route_names[i]) == 0) return (hitl_route)i;
    return HITL_ROUTE_NONE;
}

void hitl_gate_release(hitl_gate *g)
{
    if (!g) return;
    free(g->caller_id);
    free(g->submitter);
    free(g->action);
    free(g->payload);
    free(g->model);
    free(g->created_at);
    free(g->deadline);
    free(g->settled_at);
    free(g->settled_by);
    for (size_t i = 0; i < g->n_votes; i++) {
        free(g->votes[i].reviewer);
        free(g->votes[i].reason);
        free(g->votes[i].at);
    }
    free(g->votes);
    memset(g, 0, sizeof(*g));
}

/* ---- reading ------------------------------------------------------------------------------ */

#define GATE_COLUMNS                                                                               \
    "SELECT id, caller_id, submitter, action, payload, risk, model, route, blind, status,"         \
    " review, required, approvals, created_at, deadline_ms, settled_at, settled_by FROM gates "

/* The row q stands on (GATE_COLUMNS) and its votes into g. */
static hitl_status gate_fill(hitl_store *st, sqlite3_stmt *q, hitl_gate *g, hitl_error *err)
{
    g->id = sqlite3_column_int64(q, 0);
    g->caller_id = hitl__col_dup(q, 1);
    g->submitter = hitl__col_dup(q, 2);
    g->action = hitl__col_dup(q, 3);
    g->payload = hitl__col_dup(q, 4);
    g->risk = sqlite3_column_double(q, 5);
    g->model = hitl__col_dup(q, 6);
    g->route = route_of((const char *)sqlite3_column_text(q, 7));
    g->blind = sqlite3_column_int(q, 8);
    g->status = status_of((const char *)sqlite3_column_text(q, 9));
    g->review = status_of((const char *)sqlite3_column_text(q, 10));
    g->required = sqlite3_column_int(q, 11);
    g->approvals = sqlite3_column_int(q, 12);
    g->created_at = hitl__col_dup(q, 13);
    g->deadline_ms = sqlite3_column_int64(q, 14);
    char iso[32];
    hitl__time_iso((double)g->deadline_ms / 1000.0, iso);
    g->deadline = strdup(iso);
    g->settled_at = hitl__col_dup(q, 15);
    g->settled_by = hitl__col_dup(q, 16);
    if (!g->caller_id || !g->submitter || !g->action || !g->created_at || !g->deadline)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    sqlite3_stmt *v;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT reviewer, vote, reason, created_at FROM gate_votes WHERE gate = ?1 ORDER BY seq",
        &v, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(v, 1, g->id);
    int rc;
    while (r == HITL_OK && (rc = sqlite3_step(v)) == SQLITE_ROW) {
        hitl_gate_ballot *grown = realloc(g->votes, (g->n_votes + 1) * sizeof(*grown));
        if (!grown) {
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        g->votes = grown;
        hitl_gate_ballot *x = &g->votes[g->n_votes++];
        x->reviewer = hitl__col_dup(v, 0);
        const char *vote = (const char *)sqlite3_column_text(v, 1);
        x->override = vote && strncmp(vote, "override-", 9) == 0;
        x->approve = vote && strcmp(vote + (x->override ? 9 : 0), "approve") == 0;
        x->reason = hitl__col_dup(v, 2);
        x->at = hitl__col_dup(v, 3);
        if (!x->reviewer || !x->reason || !x->at)
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    if (r == HITL_OK && rc != SQLITE_DONE) r = hitl__store_sqlerr(st, rc, err, "cannot read votes");
    hitl__store_finish(st, v);
    return r;
}

/* The decision with `id`, or (id < 0) the one `submitter` filed as `caller_id`: *found 0 when
 * there is none. Inside the caller's transaction or snapshot. */
static hitl_status gate_find(hitl_store *st, int64_t id, const char *submitter,
                             const char *caller_id, hitl_gate *g, int *found, hitl_error *err)
{
    memset(g, 0, sizeof(*g));
    *found = 0;
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st,
                            id >= 0 ? GATE_COLUMNS "WHERE id = ?1"
                                    : GATE_COLUMNS "WHERE submitter = ?2 AND caller_id = ?3",
                            &q, err);
    if (r != HITL_OK) return r;
    if (id >= 0) {
        sqlite3_bind_int64(q, 1, id);
    } else {
        sqlite3_bind_text(q, 2, submitter, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, caller_id, -1, SQLITE_STATIC);
    }
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        *found = 1;
        r = gate_fill(st, q, g, err);
    } else if (rc != SQLITE_DONE) {
        r = hitl__store_sqlerr(st, rc, err, "cannot read the decision");
    }
    hitl__store_finish(st, q);
    if (r != HITL_OK) hitl_gate_release(g);
    return r;
}

hitl_status hitl_gate_get(hitl_store *st, int64_t id, hitl_gate *out, hitl_error *err)
{
    hitl_status r = hitl__store_read(st, err);
    int found = 0;
    if (r == HITL_OK) r = gate_find(st, id, NULL, NULL, out, &found, err);
    hitl__store_rollback(st);
    if (r == HITL_OK && !found)
        r = hitl_error_set(err, HITL_ENOTFOUND, "no decision %lld", (long long)id);
    return r;
}

hitl_status hitl_gate_list(hitl_store *st, int status, hitl_gate **out, size_t *n, hitl_error *err)
{
    *out = NULL;
    *n = 0;
    hitl_gate *v = NULL;
    size_t cap = 0, k = 0;
    hitl_status r = hitl__store_read(st, err);
    sqlite3_stmt *q = NULL;
    if (r == HITL_OK)
        r = hitl__store_prepare(st,
                                GATE_COLUMNS "WHERE ?1 IS NULL OR status = ?1 OR review = ?1"
                                             " ORDER BY id",
                                &q, err);
    if (r == HITL_OK) {
        if (status >= 0)
            sqlite3_bind_text(q, 1, hitl_gate_status_name((hitl_gate_status)status), -1,
                              SQLITE_STATIC);
        int rc;
        while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
            if (k == cap) {
                size_t c = cap ? 2 * cap : 16;
                hitl_gate *grown = realloc(v, c * sizeof(*grown));
                if (!grown) {
                    r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                    break;
                }
                memset(grown + cap, 0, (c - cap) * sizeof(*grown));
                v = grown;
                cap = c;
            }
            r = gate_fill(st, q, &v[k++], err);
        }
        if (r == HITL_OK && rc != SQLITE_DONE)
            r = hitl__store_sqlerr(st, rc, err, "cannot list decisions");
        hitl__store_finish(st, q);
    }
    hitl__store_rollback(st);
    if (r != HITL_OK) {
        for (size_t i = 0; i < k; i++)
            hitl_gate_release(&v[i]);
        free(v);
        return r;
    }
    *out = v;
    *n = k;
    return HITL_OK;
}

/* ---- writing ------------------------------------------------------------------------------ */

/* The audit event of a change: the decision's whole state after it (what verify compares the
 * row with), plus the vote when there is one. */
static hitl_status gate_event(hitl_store *st, const char *actor, const char *actor_type,
                              const char *event, const hitl_gate *g, const char *vote,
                              const char *reason, hitl_error *err)
{
    char digest[65];
    const char *pl = g->payload ? g->payload : "";
    hitl__sha256_hex(pl, strlen(pl), digest);
    json_t *p = json_pack("{s:I, s:s, s:s, s:s, s:s, s:f, s:s?, s:s, s:b, s:s, s:s, s:i, s:i, s:I}",
                          "decision", (json_int_t)g->id, "caller_id", g->caller_id, "submitter",
                          g->submitter, "action", g->action, "payload_sha256", digest, "risk",
                          g->risk, "model", g->model, "route", hitl_gate_route_name(g->route),
                          "blind", g->blind, "status", hitl_gate_status_name(g->status), "review",
                          hitl_gate_status_name(g->review), "required", g->required, "approvals",
                          g->approvals, "deadline_ms", (json_int_t)g->deadline_ms);
    if (p) /* null until someone settles it */
        json_object_set_new(p, "settled_by",
                            g->settled_by ? json_string(g->settled_by) : json_null());
    if (p && vote) json_object_set_new(p, "vote", json_string(vote));
    if (p && reason) json_object_set_new(p, "reason", json_string(reason));
    return hitl__audit_append(st, actor, actor_type, event, NULL, p, err);
}

/* The row's changing fields from g. */
static hitl_status gate_update(hitl_store *st, const hitl_gate *g, const char *by, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st,
                            "UPDATE gates SET status = ?2, review = ?3, approvals = ?4,"
                            " settled_at = CASE WHEN ?5 IS NULL THEN settled_at ELSE ?6 END,"
                            " settled_by = coalesce(?5, settled_by) WHERE id = ?1",
                            &q, err);
    if (r != HITL_OK) return r;
    char now[32];
    hitl__now_iso(now);
    sqlite3_bind_int64(q, 1, g->id);
    sqlite3_bind_text(q, 2, hitl_gate_status_name(g->status), -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, hitl_gate_status_name(g->review), -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 4, g->approvals);
    if (by) sqlite3_bind_text(q, 5, by, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 6, now, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot update the decision");
    hitl__store_finish(st, q);
    return r;
}

/* Reviews past their deadline expire (and the caller's status with them on the approve
 * route); each an audited system event. *n counts them (may be NULL). */
static hitl_status expire_due(hitl_store *st, size_t *n, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st, "SELECT id FROM gates WHERE review = 'pending' AND deadline_ms < ?1", &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, (sqlite3_int64)llround(hitl__now() * 1000.0));
    int64_t ids[64];
    size_t k = 0;
    int rc;
    while (k < 64 && (rc = sqlite3_step(q)) == SQLITE_ROW)
        ids[k++] = sqlite3_column_int64(q, 0);
    hitl__store_finish(st, q);
    for (size_t i = 0; r == HITL_OK && i < k; i++) {
        hitl_gate g;
        int found;
        if ((r = gate_find(st, ids[i], NULL, NULL, &g, &found, err)) != HITL_OK || !found) continue;
        g.review = HITL_GATE_EXPIRED;
        if (g.route == HITL_ROUTE_REVIEW) g.status = HITL_GATE_EXPIRED;
        r = gate_update(st, &g, NULL, err);
        if (r == HITL_OK) r = gate_event(st, "hitl", "system", "gate_expired", &g, NULL, NULL, err);
        hitl_gate_release(&g);
    }
    if (n) *n = k;
    return r;
}

/* BEGIN IMMEDIATE at synchronous=FULL: the commit is on disk before the caller is answered. */
static hitl_status begin_durable(hitl_store *st, hitl_error *err)
{
    if (st->group && !st->group_durable) /* its savepoint would commit at NORMAL */
        return hitl_error_set(err, HITL_EINTERNAL,
                              "a decision written in a group that is not "
                              "durable");
    hitl_status r = st->group ? HITL_OK : hitl__store_exec(st, "PRAGMA synchronous=FULL", err);
    if (r == HITL_OK) r = hitl__store_begin(st, err);
    if (r == HITL_OK && (r = hitl__settings_refresh(st, err)) != HITL_OK) hitl__store_rollback(st);
    return r;
}

static hitl_status end_durable(hitl_store *st, hitl_status r, hitl_error *err)
{
    if (r == HITL_OK)
        r = hitl__store_commit(st, err);
    else
        hitl__store_rollback(st);
    if (!st->group) hitl__store_exec(st, "PRAGMA synchronous=NORMAL", NULL);
    return r;
}

hitl_status hitl_gate_changes(hitl_store *st, int64_t *out, hitl_error *err)
{
    *out = 0;
    if (st->schema < 4) return HITL_OK;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st,
                                        "SELECT (SELECT coalesce(max(seq), 0) FROM gate_votes)"
                                        " + (SELECT count(*) FROM gates WHERE review = 'expired')",
                                        &q, err);
    if (r != HITL_OK) return r;
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW)
        *out = sqlite3_column_int64(q, 0);
    else
        r = hitl__store_sqlerr(st, rc, err, "cannot read the decisions");
    hitl__store_finish(st, q);
    return r;
}

hitl_status hitl_gate_expire(hitl_store *st, size_t *n, hitl_error *err)
{
    if (n) *n = 0;
    hitl_status r = begin_durable(st, err);
    if (r != HITL_OK) return r;
    return end_durable(st, expire_due(st, n, err), err);
}

/* A seeded draw in [0, 1) for the blind share: SHA-256 of the submitter and the caller's id,
 * so that a retried submission draws the same. */
static double blind_draw(const char *submitter, const char *caller_id)
{
    char buf[600], hex[65];
    int n = snprintf(buf, sizeof(buf), "%s\n%s", submitter, caller_id);
    hitl__sha256_hex(buf, n > 0 && (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1, hex);
    uint64_t x = 0;
    for (int i = 0; i < 13; i++) /* 52 bits */
        x = x * 16 + (uint64_t)(hex[i] <= '9' ? hex[i] - '0' : hex[i] - 'a' + 10);
    return (double)x / 4503599627370496.0;
}

static hitl_status submit_in(hitl_store *st, const hitl_gate_request *q, hitl_gate *g, int *fresh,
                             hitl_error *err)
{
    hitl_status r = expire_due(st, NULL, err);
    int found = 0;
    if (r == HITL_OK) r = gate_find(st, -1, q->submitter, q->caller_id, g, &found, err);
    if (r != HITL_OK || found) return r; /* a retry: the first answer */
    const hitl_store_settings *s = &st->settings;
    double now = hitl__now();
    hitl_route route = hitl_route_by_risk(q->risk, s->route_high, s->route_medium);
    int blind =
        route == HITL_ROUTE_NONE && blind_draw(q->submitter, q->caller_id) < s->decision_blind_rate;
    int reviewed = route != HITL_ROUTE_NONE || blind;
    int required = route == HITL_ROUTE_REVIEW ? s->approvals_high
                   : reviewed                 ? s->approvals_flag
                                              : 0;
    int deadline = route == HITL_ROUTE_REVIEW ? s->deadline_high : s->deadline_flag;
    int64_t deadline_ms = (int64_t)llround((now + deadline) * 1000.0);
    char created[32];
    hitl__time_iso(now, created);
    sqlite3_stmt *ins;
    if ((r = hitl__store_prepare(st,
                                 "INSERT INTO gates(caller_id, submitter, action, payload, risk,"
                                 " model, route, blind, status, review, required, approvals,"
                                 " created_at, deadline_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7,"
                                 " ?8, ?9, ?10, ?11, 0, ?12, ?13)",
                                 &ins, err)) != HITL_OK)
        return r;
    hitl_gate_status status = route == HITL_ROUTE_REVIEW ? HITL_GATE_PENDING : HITL_GATE_PROCEEDED;
    hitl_gate_status review = reviewed ? HITL_GATE_PENDING : HITL_GATE_NONE;
    sqlite3_bind_text(ins, 1, q->caller_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 2, q->submitter, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 3, q->action, -1, SQLITE_STATIC);
    if (q->payload) sqlite3_bind_text(ins, 4, q->payload, -1, SQLITE_STATIC);
    sqlite3_bind_double(ins, 5, q->risk);
    if (q->model) sqlite3_bind_text(ins, 6, q->model, -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 7, hitl_gate_route_name(route), -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 8, blind);
    sqlite3_bind_text(ins, 9, hitl_gate_status_name(status), -1, SQLITE_STATIC);
    sqlite3_bind_text(ins, 10, hitl_gate_status_name(review), -1, SQLITE_STATIC);
    sqlite3_bind_int(ins, 11, required);
    sqlite3_bind_text(ins, 12, created, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 13, deadline_ms);
    r = hitl__store_step_done(st, ins, err, "cannot record the decision");
    hitl__store_finish(st, ins);
    sqlite3_int64 id = sqlite3_last_insert_rowid(st->db);
    if (r == HITL_OK) r = gate_find(st, id, NULL, NULL, g, &found, err);
    if (r == HITL_OK) r = gate_event(st, q->submitter, "system", "gate", g, NULL, NULL, err);
    if (r == HITL_OK) *fresh = 1;
    return r;
}

hitl_status hitl_gate_submit(hitl_store *st, const hitl_gate_request *q, hitl_gate *out, int *fresh,
                             hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    *fresh = 0;
    hitl_status r = hitl_name_check(q->submitter, "the submitting account", err);
    if (r == HITL_OK && (!q->caller_id || !q->caller_id[0] || strlen(q->caller_id) > 256 ||
                         !hitl_text_utf8(q->caller_id)))
        r = hitl_error_set(err, HITL_EINVAL, "the decision's id must be 1..256 bytes of UTF-8");
    if (r == HITL_OK &&
        (!q->action || !q->action[0] || strlen(q->action) > 1000 || !hitl_text_utf8(q->action)))
        r = hitl_error_set(err, HITL_EINVAL, "the action must be 1..1000 bytes of UTF-8");
    if (r == HITL_OK && !(q->risk >= 0 && q->risk <= 1))
        r = hitl_error_set(err, HITL_EINVAL, "risk must be a number in 0..1");
    if (r == HITL_OK && q->model && !hitl_text_utf8(q->model))
        r = hitl_error_set(err, HITL_EINVAL, "the model is not valid UTF-8");
    if (r == HITL_OK && q->payload) r = hitl__payload_check(q->payload, q->caller_id, err);
    if (r != HITL_OK) return r;
    if ((r = begin_durable(st, err)) != HITL_OK) return r;
    r = end_durable(st, submit_in(st, q, out, fresh, err), err);
    if (r != HITL_OK) hitl_gate_release(out);
    return r;
}

/* The decision a review acts on, found after expiring what is due: HITL_EDATA for a reason
 * under the store's minimum, HITL_ENOTFOUND, HITL_EPERM for its submitter. */
static hitl_status review_target(hitl_store *st, int64_t id, const char *reviewer,
                                 const char *reason, hitl_gate *g, hitl_error *err)
{
    int64_t visible = hitl_text_visible(reason ? reason : "");
    int need = st->settings.min_justification > 0 ? st->settings.min_justification : 1;
    if (visible < need)
        return hitl_error_set(err, HITL_EDATA,
                              "a review needs a reason of at least %d visible characters (got "
                              "%lld)",
                              need, (long long)visible);
    hitl_status r = expire_due(st, NULL, err);
    int found = 0;
    if (r == HITL_OK) r = gate_find(st, id, NULL, NULL, g, &found, err);
    if (r != HITL_OK) return r;
    if (!found) return hitl_error_set(err, HITL_ENOTFOUND, "no decision %lld", (long long)id);
    if (strcmp(g->submitter, reviewer) == 0)
        return hitl_error_set(err, HITL_EPERM, "'%s' submitted decision %lld and cannot review it",
                              reviewer, (long long)id);
    return HITL_OK;
}

/* Records the ballot `vote` ("approve", "reject", "override-approve", "override-reject") and
 * the decision's new state g (settled by `reviewer` when `settled`), with its audit event; then
 * g is the decision as it now is, its ballot included. */
static hitl_status record_review(hitl_store *st, hitl_gate *g, const char *reviewer,
                                 const char *vote, const char *reason, int settled,
                                 const char *event, hitl_error *err)
{
    char now[32];
    hitl__now_iso(now);
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st,
                                        "INSERT INTO gate_votes(gate, reviewer, vote, reason,"
                                        " created_at) VALUES(?1, ?2, ?3, ?4, ?5)",
                                        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, g->id);
    sqlite3_bind_text(q, 2, reviewer, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, vote, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, reason, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, now, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot record the vote");
    hitl__store_finish(st, q);
    if (settled) { /* the event records who settled it, as the row does */
        free(g->settled_by);
        if (!(g->settled_by = strdup(reviewer)))
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    if (r == HITL_OK) r = gate_update(st, g, settled ? reviewer : NULL, err);
    if (r == HITL_OK) r = gate_event(st, reviewer, "human", event, g, vote, reason, err);
    if (r == HITL_OK) {
        int64_t id = g->id;
        int found;
        hitl_gate_release(g);
        r = gate_find(st, id, NULL, NULL, g, &found, err);
    }
    return r;
}

static hitl_status vote_in(hitl_store *st, int64_t id, const char *reviewer, hitl_role role,
                           int approve, const char *reason, hitl_gate *g, hitl_error *err)
{
    hitl_status r = review_target(st, id, reviewer, reason, g, err);
    if (r != HITL_OK) return r;
    int escalated = g->review == HITL_GATE_ESCALATED || g->review == HITL_GATE_EXPIRED;
    if (g->review == HITL_GATE_NONE)
        return hitl_error_set(err, HITL_ECONFLICT, "decision %lld proceeded without review",
                              (long long)id);
    if (g->review == HITL_GATE_APPROVED || g->review == HITL_GATE_REJECTED)
        return hitl_error_set(err, HITL_ECONFLICT, "decision %lld is already %s", (long long)id,
                              hitl_gate_status_name(g->review));
    if (escalated && role != HITL_ROLE_ADMIN)
        return hitl_error_set(err, HITL_EPERM, "decision %lld is %s: an admin settles it",
                              (long long)id, hitl_gate_status_name(g->review));
    for (size_t i = 0; !escalated && i < g->n_votes; i++)
        if (strcmp(g->votes[i].reviewer, reviewer) == 0)
            return hitl_error_set(err, HITL_ECONFLICT, "'%s' already reviewed decision %lld",
                                  reviewer, (long long)id);
    hitl_gate_status next = g->review;
    if (escalated)
        next = approve ? HITL_GATE_APPROVED : HITL_GATE_REJECTED; /* an admin settles it */
    else if (!approve)
        next = HITL_GATE_ESCALATED; /* any rejection goes to the admins */
    else if (g->approvals + 1 >= g->required)
        next = HITL_GATE_APPROVED;
    if (approve && !escalated) g->approvals++;
    g->review = next;
    if (g->route == HITL_ROUTE_REVIEW) g->status = next;
    return record_review(st, g, reviewer, approve ? "approve" : "reject", reason,
                         next == HITL_GATE_APPROVED || next == HITL_GATE_REJECTED, "gate_vote",
                         err);
}

static hitl_status override_in(hitl_store *st, int64_t id, const char *reviewer, int approve,
                               const char *reason, hitl_gate *g, hitl_error *err)
{
    hitl_status r = review_target(st, id, reviewer, reason, g, err);
    if (r != HITL_OK) return r;
    if (g->review != HITL_GATE_APPROVED && g->review != HITL_GATE_REJECTED)
        return hitl_error_set(err, HITL_ECONFLICT, "decision %lld is %s, not settled: %s",
                              (long long)id, hitl_gate_status_name(g->review),
                              g->review == HITL_GATE_NONE ? "it proceeded without review"
                                                          : "review it instead");
    hitl_gate_status next = approve ? HITL_GATE_APPROVED : HITL_GATE_REJECTED;
    if (g->review == next)
        return hitl_error_set(err, HITL_ECONFLICT, "decision %lld is already %s", (long long)id,
                              hitl_gate_status_name(next));
    g->review = next;
    if (g->route == HITL_ROUTE_REVIEW) g->status = next;
    return record_review(st, g, reviewer, approve ? "override-approve" : "override-reject", reason,
                         1, "gate_override", err);
}

/* The checks every review makes before its transaction. */
static hitl_status review_check(const char *reviewer, hitl_role role, const char *reason,
                                hitl_error *err)
{
    hitl_status r = hitl_name_check(reviewer, "the reviewer's name", err);
    if (r != HITL_OK) return r;
    if (role != HITL_ROLE_REVIEWER && role != HITL_ROLE_ADMIN)
        return hitl_error_set(err, HITL_EPERM, "a %s cannot review decisions",
                              hitl_role_name(role));
    if (!hitl_text_utf8(reason ? reason : ""))
        return hitl_error_set(err, HITL_EDATA, "the reason is not valid UTF-8");
    return HITL_OK;
}

/* A vote or an override, each in its durable transaction. */
static hitl_status review(hitl_store *st, int64_t id, const char *reviewer, hitl_role role,
                          int approve, int override, const char *reason, hitl_gate *out,
                          hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    hitl_status r = review_check(reviewer, role, reason, err);
    if (r == HITL_OK && (r = begin_durable(st, err)) == HITL_OK)
        r = end_durable(st,
                        override ? override_in(st, id, reviewer, approve, reason, out, err)
                                 : vote_in(st, id, reviewer, role, approve, reason, out, err),
                        err);
    if (r != HITL_OK) hitl_gate_release(out);
    return r;
}

hitl_status hitl_gate_vote(hitl_store *st, int64_t id, const char *reviewer, hitl_role role,
                           int approve, const char *reason, hitl_gate *out, hitl_error *err)
{
    return review(st, id, reviewer, role, approve, 0, reason, out, err);
}

hitl_status hitl_gate_override(hitl_store *st, int64_t id, const char *reviewer, hitl_role role,
                               int approve, const char *reason, hitl_gate *out, hitl_error *err)
{
    return review(st, id, reviewer, role, approve, 1, reason, out, err);
}
