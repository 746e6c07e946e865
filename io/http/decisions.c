/* Live decisions over HTTP: a service (system account) submits and waits; reviewers and admins
 * list, approve and reject. A waiting request is suspended (libmicrohttpd holds its connection,
 * no thread) and resumed by the request that settles its decision, or by the timer when its wait
 * ends; the timer also expires overdue reviews once a second. The store's gate.c does the rules
 * and makes each change durable before it is answered. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_store_json.h"
#include "http_internal.h"
#include "hitl_banned.h"

#define WAIT_MAX       300.0 /* seconds a request may wait */
#define OUTSIDE_LOOK_S 0.25  /* how often, while requests wait, to look for votes from elsewhere */

/* ---- waiters ------------------------------------------------------------------------------- */

/* Resumes and drops waiter i; under the lock. */
static void resume_at(http_waiters *w, size_t i)
{
    MHD_resume_connection(w->v[i].c);
    w->v[i] = w->v[--w->n];
}

uint64_t http_wakes(hitl_http *h)
{
    pthread_mutex_lock(&h->waiters.mu);
    uint64_t n = h->waiters.wakes;
    pthread_mutex_unlock(&h->waiters.mu);
    return n;
}

void http_wake(hitl_http *h, int64_t gate)
{
    http_waiters *w = &h->waiters;
    pthread_mutex_lock(&w->mu);
    w->wakes++;
    for (size_t i = w->n; i-- > 0;)
        if (gate < 0 || w->v[i].gate == gate) resume_at(w, i);
    pthread_mutex_unlock(&w->mu);
}

/* Suspends the request until its decision settles or `until`: 0. -1 when it cannot wait; 1
 * when a wake came after the caller read the decision (`seen`, the wake count before it read):
 * read it again, the vote may have settled it. */
static int wait_on(hitl_http *h, struct MHD_Connection *c, http_req *rq, int64_t gate,
                   uint64_t seen)
{
    http_waiters *w = &h->waiters;
    int rc = 0;
    pthread_mutex_lock(&w->mu);
    if (w->stop) {
        rc = -1;
    } else if (w->wakes != seen) {
        rc = 1;
    } else {
        if (w->n == w->cap) {
            size_t cap = w->cap ? 2 * w->cap : 64;
            http_waiter *grown = realloc(w->v, cap * sizeof(*grown));
            if (grown) {
                w->v = grown;
                w->cap = cap;
            }
        }
        if (w->n < w->cap) {
            w->v[w->n++] = (http_waiter){gate, c, rq->wait_until};
            rq->suspended = 1;
            MHD_suspend_connection(c);
            pthread_cond_signal(&w->cv); /* the timer may need to wake sooner */
        } else {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&w->mu);
    return rc;
}

/* The writes of this file, each run by http_write in a (durable) group commit. */
static hitl_status expire_write(hitl_store *w, void *n, hitl_error *err)
{
    return hitl_gate_expire(w, n, err);
}

typedef struct submit_args {
    const hitl_gate_request *q;
    hitl_gate *g;
    int *fresh;
} submit_args;

static hitl_status submit_write(hitl_store *w, void *arg, hitl_error *err)
{
    submit_args *a = arg;
    return hitl_gate_submit(w, a->q, a->g, a->fresh, err);
}

typedef struct vote_args {
    int64_t id;
    const http_req *rq;
    int approve, override;
    const char *reason;
    hitl_gate *g;
} vote_args;

static hitl_status vote_write(hitl_store *w, void *arg, hitl_error *err)
{
    vote_args *a = arg;
    return a->override ? hitl_gate_override(w, a->id, a->rq->account, a->rq->role, a->approve,
                                            a->reason, a->g, err)
                       : hitl_gate_vote(w, a->id, a->rq->account, a->rq->role, a->approve,
                                        a->reason, a->g, err);
}

static void own_changes(hitl_http *h, int64_t n)
{
    pthread_mutex_lock(&h->waiters.mu);
    h->waiters.own_changes += n;
    pthread_mutex_unlock(&h->waiters.mu);
}

/* Expires overdue reviews (at most every second) and wakes everyone when some did. */
static void expire_tick(hitl_http *h)
{
    hitl_error err;
    size_t n = 0;
    http_write(h, expire_write, &n, 1, &err);
    own_changes(h, (int64_t)n);
    if (n) http_wake(h, -1);
}

/* While requests wait: has another process voted (hitl decide on the same store)? Its votes
 * come with no request to wake anyone, so the store's change count is compared with the
 * server's own changes; when it grew by more, every waiter reads its decision again. */
static void outside_tick(hitl_http *h)
{
    hitl_error err;
    hitl_store *st = http_store_get(h, &err);
    int64_t n = 0;
    hitl_status s = st ? hitl_gate_changes(st, &n, &err) : HITL_EIO;
    http_store_put(h, st);
    if (s != HITL_OK) return;
    http_waiters *w = &h->waiters;
    pthread_mutex_lock(&w->mu);
    int64_t outside = n - w->own_changes;
    int grew = outside > w->outside_seen;
    w->outside_seen = outside;
    pthread_mutex_unlock(&w->mu);
    if (grew) http_wake(h, -1);
}

static void *timer_main(void *arg)
{
    hitl_http *h = arg;
    http_waiters *w = &h->waiters;
    double next_expiry = http_now() + 1.0;
    pthread_mutex_lock(&w->mu);
    while (!w->stop) {
        double now = http_now(), soonest = next_expiry;
        for (size_t i = w->n; i-- > 0;) {
            if (w->v[i].until <= now)
                resume_at(w, i); /* its wait ended: it answers what the decision is now */
            else if (w->v[i].until < soonest)
                soonest = w->v[i].until;
        }
        if (now >= next_expiry) {
            pthread_mutex_unlock(&w->mu);
            expire_tick(h);
            pthread_mutex_lock(&w->mu);
            next_expiry = http_now() + 1.0;
            continue;
        }
        if (w->n && now >= w->next_look) { /* only while someone waits */
            pthread_mutex_unlock(&w->mu);
            outside_tick(h);
            pthread_mutex_lock(&w->mu);
            w->next_look = http_now() + OUTSIDE_LOOK_S;
            continue;
        }
        if (w->n && w->next_look < soonest) soonest = w->next_look;
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        double wait = soonest - now;
        ts.tv_sec += (time_t)wait;
        ts.tv_nsec += (long)((wait - floor(wait)) * 1e9);
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cv, &w->mu, &ts);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

int http_waiters_start(hitl_http *h)
{
    http_waiters *w = &h->waiters;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    int bad = pthread_mutex_init(&w->mu, NULL) || pthread_cond_init(&w->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (bad || pthread_create(&w->timer, NULL, timer_main, h) != 0) return -1;
    w->running = 1;
    return 0;
}

void http_waiters_stop(hitl_http *h)
{
    http_waiters *w = &h->waiters;
    if (!w->running) return;
    pthread_mutex_lock(&w->mu);
    w->stop = 1;
    while (w->n)
        resume_at(w, w->n - 1);
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->timer, NULL);
    w->running = 0;
    free(w->v);
    pthread_cond_destroy(&w->cv);
    pthread_mutex_destroy(&w->mu);
}

/* ---- the routes ---------------------------------------------------------------------------- */

static int reviewer(hitl_role r)
{
    return r == HITL_ROLE_REVIEWER || r == HITL_ROLE_ADMIN;
}

/* POST /decisions {"id", "action", "payload", "risk", "model"}: a service files a decision. */
static enum MHD_Result submit(hitl_http *h, struct MHD_Connection *c, http_req *rq)
{
    if (rq->role != HITL_ROLE_SYSTEM)
        return http_reply_error(c, rq, 403, "only a system account submits decisions");
    json_error_t je;
    json_t *b = rq->n ? json_loadb(rq->body, rq->n, JSON_REJECT_DUPLICATES, &je) : NULL;
    if (!json_is_object(b)) {
        json_decref(b);
        return http_reply_error(c, rq, 400, "the body must be a JSON object");
    }
    const char *key;
    json_t *v;
    json_object_foreach(b, key, v)
    {
        int ok = (!strcmp(key, "id") || !strcmp(key, "action") || !strcmp(key, "model"))
                     ? json_is_string(v)
                 : !strcmp(key, "risk")    ? json_is_number(v)
                 : !strcmp(key, "payload") ? json_is_object(v)
                                           : -1;
        if (ok != 1) {
            enum MHD_Result res = http_reply_error(c, rq, 400,
                                                   ok < 0 ? "unknown field '%.64s' in the body"
                                                          : "the field '%.64s' has the wrong type",
                                                   key);
            json_decref(b);
            return res;
        }
    }
    json_t *pl = json_object_get(b, "payload");
    char *payload = pl ? json_dumps(pl, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    hitl_gate_request q = {
        rq->account,
        json_string_value(json_object_get(b, "id")),
        json_string_value(json_object_get(b, "action")),
        payload,
        json_object_get(b, "risk") ? json_number_value(json_object_get(b, "risk")) : NAN,
        json_string_value(json_object_get(b, "model"))};
    hitl_gate g = {0}; /* filled by the write: released also when the group commit fails */
    int fresh = 0;
    hitl_error err;
    hitl_error_clear(&err);
    submit_args a = {&q, &g, &fresh};
    hitl_status s = http_write(h, submit_write, &a, 1, &err);
    free(payload);
    json_decref(b);
    if (s != HITL_OK) {
        hitl_gate_release(&g);
        return http_reply_status(c, rq, s, &err);
    }
    json_t *j = hitl_gate_json(&g);
    hitl_gate_release(&g);
    return http_reply_json(c, rq, fresh ? 201 : 200, j);
}

/* GET /decisions/N[?wait=S]: at once when settled (or not asked to wait), else when a vote
 * settles it or the wait ends. A service sees only its own decisions. */
static enum MHD_Result get_one(hitl_http *h, struct MHD_Connection *c, http_req *rq, int64_t id,
                               hitl_store *st)
{
    if (rq->role != HITL_ROLE_SYSTEM && !reviewer(rq->role))
        return http_reply_error(c, rq, 403, "the %s '%s' may not read decisions",
                                hitl_role_name(rq->role), rq->account);
    hitl_gate g;
    hitl_error err;
    hitl_error_clear(&err);
again:;
    uint64_t seen = http_wakes(h); /* before the read: a vote after it is seen below */
    hitl_status s = hitl_gate_get(st, id, &g, &err);
    if (s == HITL_OK && rq->role == HITL_ROLE_SYSTEM && strcmp(g.submitter, rq->account) != 0) {
        hitl_gate_release(&g);
        s = hitl_error_set(&err, HITL_ENOTFOUND, "no decision %lld", (long long)id);
    }
    if (s != HITL_OK) return http_reply_status(c, rq, s, &err);
    if (!rq->suspended) { /* first time here: how long may it wait */
        const char *wait = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
        double secs = 0;
        if (wait) {
            char *end;
            errno = 0;
            secs = strtod(wait, &end);
            if (errno || end == wait || *end || !(secs >= 0 && secs <= WAIT_MAX)) {
                hitl_gate_release(&g);
                return http_reply_error(c, rq, 400, "wait must be 0..%g seconds", WAIT_MAX);
            }
        }
        rq->wait_until = http_now() + secs;
    }
    if (g.status == HITL_GATE_PENDING && http_now() < rq->wait_until &&
        !atomic_load(&h->stopping)) {
        int w = wait_on(h, c, rq, id, seen);
        if (w >= 0) hitl_gate_release(&g);
        if (w == 0) return MHD_YES; /* suspended: answered when resumed */
        if (w == 1) goto again;     /* a vote came between the read and now */
    }
    json_t *j = hitl_gate_json(&g);
    hitl_gate_release(&g);
    return http_reply_json(c, rq, 200, j);
}

static enum MHD_Result list(struct MHD_Connection *c, http_req *rq, hitl_store *st)
{
    if (!reviewer(rq->role))
        return http_reply_error(c, rq, 403, "the %s '%s' may not list decisions",
                                hitl_role_name(rq->role), rq->account);
    const char *name = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "status");
    hitl_gate_status want = HITL_GATE_NONE;
    if (name && hitl_gate_status_parse(name, &want) != HITL_OK)
        return http_reply_error(c, rq, 400,
                                "unknown status '%.32s' (pending, approved, rejected, escalated, "
                                "expired, proceeded)",
                                name);
    hitl_gate *v;
    size_t n;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_gate_list(st, name ? (int)want : -1, &v, &n, &err);
    if (s != HITL_OK) return http_reply_status(c, rq, s, &err);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(a, hitl_gate_json(&v[i]));
        hitl_gate_release(&v[i]);
    }
    free(v);
    return http_reply_json(c, rq, 200, json_pack("{s:o}", "decisions", a));
}

/* POST /decisions/N/approve|reject {"reason"}, /decisions/N/override {"decision": "approve" or
 * "reject", "reason"} */
static enum MHD_Result vote(hitl_http *h, struct MHD_Connection *c, http_req *rq, int64_t id,
                            int approve, int override)
{
    static const char *const fields[] = {"reason", NULL};
    static const char *const override_fields[] = {"decision", "reason", NULL};
    json_t *b;
    char why[200];
    if (hitl_http_body(rq->body, rq->n, override ? override_fields : fields, &b, why,
                       sizeof(why)) != HITL_OK)
        return http_reply_error(c, rq, 400, "%s", why);
    if (override) {
        const char *d = json_string_value(json_object_get(b, "decision"));
        approve = d && strcmp(d, "approve") == 0;
        if (!approve && !(d && strcmp(d, "reject") == 0)) {
            json_decref(b);
            return http_reply_error(c, rq, 400,
                                    "the body needs {\"decision\": \"approve\" or \"reject\","
                                    " \"reason\": TEXT}");
        }
    }
    hitl_gate g = {0};
    hitl_error err;
    hitl_error_clear(&err);
    vote_args a = {id, rq, approve, override, json_string_value(json_object_get(b, "reason")), &g};
    own_changes(h, 1); /* before it is written: a look between the two sees no outsider */
    hitl_status s = http_write(h, vote_write, &a, 1, &err);
    if (s != HITL_OK) own_changes(h, -1);
    json_decref(b);
    if (s != HITL_OK) {
        hitl_gate_release(&g);
        return http_reply_status(c, rq, s, &err);
    }
    http_wake(h, id); /* durable first (gate.c), then the waiting caller hears it */
    json_t *j = hitl_gate_json(&g);
    hitl_gate_release(&g);
    return http_reply_json(c, rq, 200, j);
}

enum MHD_Result http_decisions(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                               const hitl_http_match *r, hitl_store *st)
{
    int64_t id = r->arg[0] ? strtoll(r->arg, NULL, 10) : -1;
    switch (r->id) {
    case HITL_R_DECISION_SUBMIT:
        return submit(h, c, rq);
    case HITL_R_DECISION_LIST:
        return list(c, rq, st);
    case HITL_R_DECISION:
        return get_one(h, c, rq, id, st);
    case HITL_R_DECISION_APPROVE:
        return vote(h, c, rq, id, 1, 0);
    case HITL_R_DECISION_OVERRIDE:
        return vote(h, c, rq, id, 0, 1);
    default:
        return vote(h, c, rq, id, 0, 0);
    }
}
