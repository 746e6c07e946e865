/* The router: a method and a raw path to a route, and the JSON bodies the API accepts. Pure
 * functions (no I/O), so tests/fuzz drives them with any bytes. Paths arrive still
 * percent-encoded (the server turns libmicrohttpd's unescaping off) so that an item id holding
 * "/" or "?" (as %2F, %3F) stays one segment. */
#include <stdio.h>
#include <string.h>

#include "http_internal.h"
#include "hitl_banned.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..n) (percent escapes; '+' stays '+') into out (cap bytes with its NUL): -1 for a
 * bad escape, a NUL, or no room. */
static int decode(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n) return -1;
            int hi = hexval((unsigned char)s[i + 1]), lo = hexval((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = hi * 16 + lo;
            i += 2;
        }
        if (c == 0 || k + 1 >= cap) return -1;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return 0;
}

typedef struct fixed_route {
    const char *path;
    hitl_route_id id;
    int post;
} fixed_route;

static const fixed_route fixed[] = {
    {"/api/v1/login", HITL_R_LOGIN, 1},
    {"/api/v1/logout", HITL_R_LOGOUT, 1},
    {"/api/v1/me", HITL_R_ME, 0},
    {"/api/v1/next", HITL_R_NEXT, 0},
    {"/api/v1/history", HITL_R_HISTORY, 0},
    {"/api/v1/adjudication", HITL_R_ADJUDICATION, 0},
    {"/api/v1/status", HITL_R_STATUS, 0},
    {"/api/v1/health", HITL_R_HEALTH, 0},
    {"/api/v1/charts/calibration.svg", HITL_R_CHART_CALIBRATION, 0},
    {"/api/v1/charts/agreement.svg", HITL_R_CHART_AGREEMENT, 0},
};

/* items/ID/ACTION: the actions after an item id */
static const fixed_route item_actions[] = {
    {"label", HITL_R_LABEL, 1},
    {"skip", HITL_R_SKIP, 1},
    {"undo", HITL_R_UNDO, 1},
    {"adjudicate", HITL_R_ADJUDICATE, 1},
};

/* r->id and r->post from a match, checking the method. */
static void matched(hitl_http_match *r, hitl_route_id id, int post, int is_post, int is_get)
{
    r->id = id;
    r->post = post;
    r->bad_method = post ? !is_post : !is_get;
}

/* decisions/N[/approve|/reject|/override]: N is hitl's decision number (digits only). */
static hitl_status route_decision(const char *rest, hitl_http_match *r, int is_post, int is_get)
{
    size_t n = strspn(rest, "0123456789");
    if (n == 0 || n > 18) return HITL_OK;
    memcpy(r->arg, rest, n);
    r->arg[n] = '\0';
    if (!rest[n]) {
        matched(r, HITL_R_DECISION, 0, is_post, is_get);
    } else if (strcmp(rest + n, "/approve") == 0) {
        matched(r, HITL_R_DECISION_APPROVE, 1, is_post, is_get);
    } else if (strcmp(rest + n, "/reject") == 0) {
        matched(r, HITL_R_DECISION_REJECT, 1, is_post, is_get);
    } else if (strcmp(rest + n, "/override") == 0) {
        matched(r, HITL_R_DECISION_OVERRIDE, 1, is_post, is_get);
    } else {
        r->arg[0] = '\0';
    }
    return HITL_OK;
}

static hitl_status route_item(const char *rest, hitl_http_match *r, int is_post, int is_get)
{
    const char *slash = strchr(rest, '/');
    size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
    if (n == 0) return HITL_OK; /* items/ */
    if (decode(rest, n, r->arg, sizeof(r->arg)) != 0) return HITL_EINVAL;
    if (!slash) {
        matched(r, HITL_R_ITEM, 0, is_post, is_get);
        return HITL_OK;
    }
    for (size_t i = 0; i < sizeof(item_actions) / sizeof(item_actions[0]); i++)
        if (strcmp(slash + 1, item_actions[i].path) == 0) {
            matched(r, item_actions[i].id, 1, is_post, is_get);
            return HITL_OK;
        }
    r->arg[0] = '\0';
    return HITL_OK;
}

hitl_status hitl_http_route(const char *method, const char *path, hitl_http_match *r)
{
    memset(r, 0, sizeof(*r));
    r->asset = -1;
    int is_post = strcmp(method, "POST") == 0;
    int is_get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
    const char *q = strchr(path, '?');
    size_t len = q ? (size_t)(q - path) : strlen(path);
    char p[4096]; /* room for a 1,023-byte id with every byte escaped (%XX) */
    if (len >= sizeof(p)) return HITL_EINVAL;
    memcpy(p, path, len);
    p[len] = '\0';
    for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
        if (strcmp(p, fixed[i].path) == 0) {
            matched(r, fixed[i].id, fixed[i].post, is_post, is_get);
            return HITL_OK;
        }
    if (strncmp(p, "/api/v1/items/", 14) == 0) return route_item(p + 14, r, is_post, is_get);
    if (strcmp(p, "/api/v1/decisions") == 0) { /* one path, two methods */
        if (is_post)
            matched(r, HITL_R_DECISION_SUBMIT, 1, is_post, is_get);
        else
            matched(r, HITL_R_DECISION_LIST, 0, is_post, is_get);
        return HITL_OK;
    }
    if (strncmp(p, "/api/v1/decisions/", 18) == 0)
        return route_decision(p + 18, r, is_post, is_get);
    if (strncmp(p, "/media/", 7) == 0) {
        if (decode(p + 7, len - 7, r->arg, sizeof(r->arg)) != 0) return HITL_EINVAL;
        if (r->arg[0]) matched(r, HITL_R_MEDIA, 0, is_post, is_get);
        return HITL_OK;
    }
    for (size_t i = 0; i < hitl_n_assets; i++)
        if (strcmp(p, hitl_assets[i].path) == 0 ||
            (strcmp(p, "/index.html") == 0 && strcmp(hitl_assets[i].path, "/") == 0)) {
            matched(r, HITL_R_ASSET, 0, is_post, is_get);
            r->asset = (int)i;
            return HITL_OK;
        }
    return HITL_OK;
}

/* ---- bodies ------------------------------------------------------------------------------ */

hitl_status hitl_http_body(const char *body, size_t n, const char *const *fields, json_t **out,
                           char *why, size_t why_cap)
{
    *out = NULL;
    if (n == 0) { /* no body: an empty object */
        *out = json_object();
        return *out ? HITL_OK : HITL_ENOMEM;
    }
    json_error_t je;
    /* a duplicate key is an error, not "the last one wins": what is read is what was sent */
    json_t *j = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (!j) {
        snprintf(why, why_cap, "the body is not JSON: %s", je.text);
        return HITL_EINVAL;
    }
    if (!json_is_object(j)) {
        json_decref(j);
        snprintf(why, why_cap, "the body must be a JSON object");
        return HITL_EINVAL;
    }
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        int known = 0;
        for (size_t i = 0; fields[i] && !known; i++)
            known = strcmp(key, fields[i]) == 0;
        if (!known) {
            snprintf(why, why_cap, "unknown field '%.64s' in the body", key);
            json_decref(j);
            return HITL_EINVAL;
        }
        if (!json_is_string(v)) {
            snprintf(why, why_cap, "the field '%.64s' must be a string", key);
            json_decref(j);
            return HITL_EINVAL;
        }
    }
    *out = j;
    return HITL_OK;
}
