/* The JSON API under /api/v1: each endpoint checks the role, reads its body (only the fields
 * it knows, all strings), calls the store as the commands do, and answers JSON. A request acts
 * as its account: no body names another actor. Writes take the server's write lock, so workers
 * never wait on each other inside SQLite. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_nbexport.h"
#include "hitl_store_json.h"
#include "http_internal.h"
#include "hitl_banned.h"

#define HISTORY_LIMIT      20
#define ADJUDICATION_LIMIT 50

/* ---- roles --------------------------------------------------------------------------------- */

/* Who may call a route: the lowest of annotator < reviewer < admin; services (system) only
 * what says so. */
typedef enum { ANY_PERSON, REVIEWER, ADMIN, ANYONE } need;

static need need_of(hitl_route_id id)
{
    switch (id) {
    case HITL_R_ME:
    case HITL_R_DECISION_SUBMIT: /* decisions.c checks each decision route's roles */
    case HITL_R_DECISION_LIST:
    case HITL_R_DECISION:
    case HITL_R_DECISION_APPROVE:
    case HITL_R_DECISION_REJECT:
    case HITL_R_DECISION_OVERRIDE:
        return ANYONE;
    case HITL_R_ADJUDICATION:
    case HITL_R_ADJUDICATE:
    case HITL_R_ITEM:
    case HITL_R_STATUS:
        return REVIEWER;
    case HITL_R_HEALTH:
    case HITL_R_CHART_CALIBRATION:
    case HITL_R_CHART_AGREEMENT:
        return ADMIN;
    default:
        return ANY_PERSON;
    }
}

static int allowed(hitl_role role, need n)
{
    if (n == ANYONE) return 1;
    if (role == HITL_ROLE_SYSTEM) return 0;
    if (n == REVIEWER) return role == HITL_ROLE_REVIEWER || role == HITL_ROLE_ADMIN;
    if (n == ADMIN) return role == HITL_ROLE_ADMIN;
    return 1;
}

/* ---- small views --------------------------------------------------------------------------- */

static json_t *classes_of(const hitl_store_settings *s)
{
    json_t *a = json_array();
    for (size_t i = 0; i < s->n_classes; i++)
        json_array_append_new(a, json_string(s->classes[i]));
    return a;
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

/* ---- endpoints ----------------------------------------------------------------------------- */

typedef struct call {
    hitl_http *h;
    struct MHD_Connection *c;
    http_req *rq;
    const hitl_http_match *r;
    hitl_store *st;
    json_t *body;
    hitl_error err;
} call;

static const char *field(const call *k, const char *name)
{
    return json_string_value(json_object_get(k->body, name));
}

static enum MHD_Result fail(call *k, hitl_status s)
{
    return http_reply_status(k->c, k->rq, s, &k->err);
}

static enum MHD_Result me(call *k)
{
    json_t *j =
        json_pack("{s:s, s:s}", "name", k->rq->account, "role", hitl_role_name(k->rq->role));
    if (k->rq->role != HITL_ROLE_SYSTEM) {
        hitl_progress p;
        hitl_status s = hitl_store_progress(k->st, k->rq->account, &p, &k->err);
        if (s != HITL_OK) {
            json_decref(j);
            return fail(k, s);
        }
        json_object_set_new(j, "progress",
                            json_pack("{s:I, s:I, s:I}", "labelled", (json_int_t)p.labelled,
                                      "skipped", (json_int_t)p.skipped, "left",
                                      (json_int_t)p.left));
    }
    return http_reply_json(k->c, k->rq, 200, j);
}

/* The writes of this file, each run by http_write in a group commit; the route says which. */
typedef struct api_write {
    call *k;
    hitl_lease lease; /* next */
    int found;
    char *undone; /* undo */
    int overrode; /* adjudicate */
} api_write;

/* Never on an item the reviewer labelled themself: checked in the write's own transaction. */
static hitl_status adjudicate_write(hitl_store *w, api_write *a, hitl_error *err)
{
    const char *id = a->k->r->arg, *who = a->k->rq->account;
    hitl_item_review v;
    hitl_status s = hitl_store_item_review(w, id, &v, err);
    if (s != HITL_OK) return s;
    int own = 0;
    for (size_t i = 0; i < v.n_labels; i++)
        own |= strcmp(v.labels[i].annotator, who) == 0;
    hitl_item_review_release(&v);
    if (own)
        return hitl_error_set(err, HITL_ECONFLICT,
                              "you labelled item '%s': another reviewer must decide it", id);
    return hitl_store_adjudicate(w, id, field(a->k, "label"), who, field(a->k, "justification"),
                                 &a->overrode, err);
}

static hitl_status api_write_fn(hitl_store *w, void *arg, hitl_error *err)
{
    api_write *a = arg;
    call *k = a->k;
    const char *id = k->r->arg, *who = k->rq->account;
    switch (k->r->id) {
    case HITL_R_NEXT:
        return hitl_store_next(w, who, &a->lease, &a->found, err);
    case HITL_R_LABEL:
        return hitl_store_label(w, id, field(k, "label"), who, err);
    case HITL_R_SKIP:
        return hitl_store_skip(w, id, who, field(k, "reason"), err);
    case HITL_R_UNDO:
        return hitl_store_undo(w, who, id, &a->undone, err);
    case HITL_R_ADJUDICATE:
        return adjudicate_write(w, a, err);
    default:
        return hitl_error_set(err, HITL_EINTERNAL, "not a write");
    }
}

/* GET next: the same keys in the same order for every item, blind or not; the prediction only
 * where the store shows it on every item (`always`), so that its absence marks nothing. */
static enum MHD_Result next(call *k)
{
    api_write a = {k, {0}, 0, NULL, 0};
    hitl_status s = http_write(k->h, api_write_fn, &a, 0, &k->err);
    if (s != HITL_OK) {
        hitl_lease_release(&a.lease);
        return fail(k, s);
    }
    hitl_lease l = a.lease;
    int found = a.found;
    const hitl_store_settings *set = &k->h->settings;
    json_t *j = json_pack("{s:o, s:o, s:o, s:o}", "item", str_or_null(found ? l.pool_id : NULL),
                          "payload", found ? hitl_payload_json(l.data) : json_null(), "classes",
                          classes_of(set), "lease_expires", str_or_null(found ? l.expires : NULL));
    if (set->show_prediction == HITL_SHOW_ALWAYS)
        json_object_set_new(j, "prediction", str_or_null(found ? l.prediction : NULL));
    hitl_lease_release(&l);
    return http_reply_json(k->c, k->rq, 200, j);
}

static enum MHD_Result history(call *k)
{
    hitl_history_entry *h;
    size_t n;
    hitl_status s = hitl_store_history(k->st, k->rq->account, HISTORY_LIMIT, &h, &n, &k->err);
    if (s != HITL_OK) return fail(k, s);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:o, s:s}", "item", h[i].pool_id, "action",
                                           h[i].skipped ? "skip" : "label", "label",
                                           str_or_null(h[i].label), "at", h[i].at));
    hitl_history_release(h, n);
    return http_reply_json(k->c, k->rq, 200, json_pack("{s:o}", "history", a));
}

/* POST items/ID/label, skip, undo: the account's own work. */
static enum MHD_Result act(call *k)
{
    const char *id = k->r->arg, *label = field(k, "label");
    if (k->r->id == HITL_R_LABEL && !label)
        return http_reply_error(k->c, k->rq, 400, "the body needs {\"label\": NAME}");
    api_write a = {k, {0}, 0, NULL, 0};
    hitl_status s = http_write(k->h, api_write_fn, &a, 0, &k->err);
    free(a.undone);
    if (s != HITL_OK) return fail(k, s);
    json_t *j = json_pack("{s:s}", "item", id);
    if (k->r->id == HITL_R_LABEL) json_object_set_new(j, "label", json_string(label));
    return http_reply_json(k->c, k->rq, 200, j);
}

static enum MHD_Result adjudication(call *k)
{
    hitl_item_review *v;
    size_t n;
    hitl_store_settings set;
    hitl_status s = hitl_store_settings_get(k->st, &set, &k->err);
    if (s != HITL_OK) return fail(k, s);
    s = hitl_store_adjudication_queue(k->st, ADJUDICATION_LIMIT, &v, &n, &k->err);
    if (s != HITL_OK) {
        hitl_store_settings_release(&set);
        return fail(k, s);
    }
    json_t *items = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(items, hitl_item_review_json(&v[i]));
        hitl_item_review_release(&v[i]);
    }
    free(v);
    json_t *j = json_pack("{s:o, s:i, s:o}", "classes", classes_of(&set), "min_justification",
                          set.min_justification, "items", items);
    hitl_store_settings_release(&set);
    return http_reply_json(k->c, k->rq, 200, j);
}

/* POST items/ID/adjudicate: never on an item the reviewer labelled themself. */
static enum MHD_Result adjudicate(call *k)
{
    const char *id = k->r->arg, *label = field(k, "label"), *why = field(k, "justification");
    if (!label || !why)
        return http_reply_error(k->c, k->rq, 400,
                                "the body needs {\"label\": NAME, \"justification\": TEXT}");
    api_write a = {k, {0}, 0, NULL, 0};
    hitl_status s = http_write(k->h, api_write_fn, &a, 0, &k->err);
    if (s != HITL_OK) return fail(k, s);
    return http_reply_json(
        k->c, k->rq, 200,
        json_pack("{s:s, s:s, s:b}", "item", id, "label", label, "overrode", a.overrode));
}

static enum MHD_Result item(call *k)
{
    hitl_item_review v;
    hitl_status s = hitl_store_item_review(k->st, k->r->arg, &v, &k->err);
    if (s != HITL_OK) return fail(k, s);
    json_t *j = hitl_item_review_json(&v);
    hitl_item_review_release(&v);
    return http_reply_json(k->c, k->rq, 200, j);
}

static enum MHD_Result status(call *k)
{
    hitl_store_stats s;
    hitl_status r = hitl_store_stats_get(k->st, &s, &k->err);
    if (r != HITL_OK) return fail(k, r);
    json_t *j = hitl_stats_json(&s, &k->err);
    hitl_store_stats_release(&s);
    return j ? http_reply_json(k->c, k->rq, 200, j) : fail(k, k->err.status);
}

static enum MHD_Result health(call *k)
{
    hitl_scorecard sc;
    hitl_status r = hitl_store_scorecard(k->st, NULL, &sc, &k->err);
    if (r != HITL_OK) return fail(k, r);
    char *copy = strdup(k->h->db);
    json_t *j = hitl_scorecard_json(&sc, copy ? basename(copy) : "store");
    free(copy);
    hitl_scorecard_release(&sc);
    return http_reply_json(k->c, k->rq, 200, j);
}

/* The charts hitl report draws (notebooks-export), as SVG: reliability on the blind items, and
 * the annotators' pairwise agreement. A chart with nothing to draw yet is 404 with the reason. */
static enum MHD_Result chart(call *k)
{
    char *svg = NULL;
    hitl_status s;
    if (k->r->id == HITL_R_CHART_CALIBRATION) {
        hitl_blind_sample b;
        hitl_reliability rel;
        if ((s = hitl_store_blind_sample(k->st, &b, &k->err)) != HITL_OK) return fail(k, s);
        if ((s = hitl_reliability_init(&rel, HITL_CALIB_BINS, &k->err)) == HITL_OK) {
            for (size_t i = 0; i < b.n; i++)
                hitl_reliability_add(&rel, b.p1[i], b.pred[i] == b.label[i]);
            s = b.n ? hitl_svg_reliability(&rel, "Reliability on the blind items", &svg, &k->err)
                    : hitl_error_set(&k->err, HITL_ENOTFOUND,
                                     "no blind item has a final label yet");
            hitl_reliability_release(&rel);
        }
        hitl_blind_sample_release(&b);
    } else {
        hitl_ratings ratings = {0};
        char **names = NULL;
        size_t n_names = 0;
        hitl_agreement a;
        hitl_agreement_opts ao = {.level = HITL_LEVEL_NOMINAL};
        s = hitl_store_ratings_get(k->st, &ratings, &names, &n_names, &k->err);
        if (s == HITL_OK && (s = hitl_agreement_compute(&ratings, &ao, &a, &k->err)) == HITL_OK) {
            s = a.n_annotators < 2
                    ? hitl_error_set(&k->err, HITL_ENOTFOUND, "fewer than two annotators")
                    : hitl_svg_pair_agreement(&a, (const char *const *)names, 40,
                                              "Pairwise agreement (share of common items)", &svg,
                                              &k->err);
            hitl_agreement_release(&a);
        } else if (s == HITL_EDATA) { /* too few labels to compute: nothing to draw yet */
            s = HITL_ENOTFOUND;
            k->err.status = s;
        }
        hitl_strings_free(names, n_names);
        hitl_ratings_release(&ratings);
    }
    if (s != HITL_OK) return fail(k, s);
    return http_reply_bytes(k->c, k->rq, 200, "image/svg+xml", svg, strlen(svg), 1, NULL);
}

/* The fields each POST body may hold. */
static const char *const *fields_of(hitl_route_id id)
{
    static const char *const label[] = {"label", NULL};
    static const char *const skip[] = {"reason", NULL};
    static const char *const none[] = {NULL};
    static const char *const adjudicate[] = {"label", "justification", NULL};
    switch (id) {
    case HITL_R_LABEL:
        return label;
    case HITL_R_SKIP:
        return skip;
    case HITL_R_ADJUDICATE:
        return adjudicate;
    default:
        return none;
    }
}

enum MHD_Result http_api(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                         const hitl_http_match *r)
{
    if (!allowed(rq->role, need_of(r->id)))
        return http_reply_error(c, rq, 403, "the %s '%s' may not do this", hitl_role_name(rq->role),
                                rq->account);
    call k = {h, c, rq, r, NULL, NULL, {0}};
    hitl_error_clear(&k.err);
    int decision = r->id >= HITL_R_DECISION_SUBMIT && r->id <= HITL_R_DECISION_OVERRIDE;
    if (r->post && !decision) { /* decisions.c reads its own bodies */
        char why[200];
        if (hitl_http_body(rq->body, rq->n, fields_of(r->id), &k.body, why, sizeof(why)) != HITL_OK)
            return http_reply_error(c, rq, 400, "%s", why);
    }
    if (!(k.st = http_store_get(h, &k.err))) {
        json_decref(k.body);
        return fail(&k, k.err.status);
    }
    enum MHD_Result res;
    if (decision) {
        res = http_decisions(h, c, rq, r, k.st);
        http_store_put(h, k.st);
        return res;
    }
    switch (r->id) {
    case HITL_R_ME:
        res = me(&k);
        break;
    case HITL_R_NEXT:
        res = next(&k);
        break;
    case HITL_R_HISTORY:
        res = history(&k);
        break;
    case HITL_R_LABEL:
    case HITL_R_SKIP:
    case HITL_R_UNDO:
        res = act(&k);
        break;
    case HITL_R_ADJUDICATION:
        res = adjudication(&k);
        break;
    case HITL_R_ADJUDICATE:
        res = adjudicate(&k);
        break;
    case HITL_R_ITEM:
        res = item(&k);
        break;
    case HITL_R_STATUS:
        res = status(&k);
        break;
    case HITL_R_HEALTH:
        res = health(&k);
        break;
    case HITL_R_CHART_CALIBRATION:
    case HITL_R_CHART_AGREEMENT:
        res = chart(&k);
        break;
    default:
        res = http_reply_error(c, rq, 404, "no such endpoint");
        break;
    }
    http_store_put(h, k.st);
    json_decref(k.body);
    return res;
}

/* ---- login and logout ---------------------------------------------------------------------- */

enum MHD_Result http_login(hitl_http *h, struct MHD_Connection *c, http_req *rq)
{
    static const char *const fields[] = {"token", NULL};
    json_t *body;
    char why[200];
    if (hitl_http_body(rq->body, rq->n, fields, &body, why, sizeof(why)) != HITL_OK)
        return http_reply_error(c, rq, 400, "%s", why);
    const char *token = json_string_value(json_object_get(body, "token"));
    hitl_error err;
    hitl_error_clear(&err);
    hitl_account a;
    hitl_store *st = http_store_get(h, &err);
    hitl_status s = !st      ? err.status
                    : !token ? hitl_error_set(&err, HITL_EAUTH, "the body needs {\"token\": ...}")
                             : hitl_account_auth(st, token, &a, &err);
    http_store_put(h, st);
    json_decref(body);
    if (s == HITL_EAUTH) http_fail_count(&h->sessions, rq->client);
    if (s != HITL_OK) return http_reply_status(c, rq, s, &err);
    char id[65], cookie[200];
    if (http_session_new(&h->sessions, a.name, h->o.session_seconds, id) != 0)
        return http_reply_error(c, rq, 500, "cannot start a session");
    snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%u%s",
             HITL_HTTP_COOKIE, id, h->o.session_seconds, h->cert_pem ? "; Secure" : "");
    snprintf(rq->account, sizeof(rq->account), "%s", a.name);
    json_t *j = json_pack("{s:s, s:s}", "name", a.name, "role", hitl_role_name(a.role));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text) return http_reply_error(c, rq, 500, "out of memory");
    return http_reply_bytes(c, rq, 200, "application/json", text, strlen(text), 1, cookie);
}

enum MHD_Result http_logout(hitl_http *h, struct MHD_Connection *c, http_req *rq)
{
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HITL_HTTP_COOKIE);
    if (cookie) http_session_end(&h->sessions, cookie);
    static const char empty[] = "{}";
    return http_reply_bytes(c, rq, 200, "application/json", (void *)empty, 2, 0,
                            HITL_HTTP_COOKIE "=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
}
