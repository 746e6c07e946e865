/* hitl_http: the web side of a store. `hitl serve` runs it: the JSON API under /api/v1 for
 * annotators, reviewers and admins (accounts in the store, tokens or a session cookie), the
 * annotation page compiled into the binary, and the read-only media directory.
 *
 * It is neither a kernel (engine/), a file adapter (io/files) nor the store (io/store): it
 * speaks HTTP through GNU libmicrohttpd and calls the store as every command does. It never
 * prints: what a command-line front end shows of each request comes through the log callback. */
#ifndef HITL_HTTP_H
#define HITL_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "hitl_store.h"

/* One served request, for the log: never a token, never a body. */
typedef struct hitl_http_log {
    const char *time;    /* ISO-8601 UTC, when the request ended */
    const char *method;  /* as sent, at most 16 characters shown */
    const char *path;    /* as sent, without the query */
    int status;          /* the HTTP status answered */
    double ms;           /* from the first byte read to the response queued */
    const char *account; /* the account that acted, or "-" */
    const char *client;  /* the peer's address */
} hitl_http_log;
typedef void (*hitl_http_log_fn)(void *ctx, const hitl_http_log *line);

typedef struct hitl_http_opts {
    const char *db;       /* the store */
    const char *host;     /* address to bind, numeric (default 127.0.0.1) */
    unsigned short port;  /* 0: the system picks one (see hitl_http_port) */
    const char *tls_cert; /* PEM files: both or neither */
    const char *tls_key;
    const char *media;        /* directory served read-only under /media/, or NULL */
    unsigned threads;         /* worker threads (0: 16) */
    size_t body_limit;        /* bytes a request body may have (0: 64 KiB) */
    unsigned timeout_seconds; /* idle connection timeout (0: 30) */
    unsigned session_seconds; /* cookie session lifetime (0: 12 h) */
    hitl_http_log_fn log;     /* may be NULL */
    void *log_ctx;
} hitl_http_opts;

typedef struct hitl_http hitl_http;

/* Opens the store and starts serving on worker threads; returns once the socket listens.
 * HITL_EIO when the store cannot be opened or the address bound, HITL_EINVAL for bad options
 * (one TLS file without the other, a media path that is not a directory). */
hitl_status hitl_http_start(const hitl_http_opts *o, hitl_http **out, hitl_error *err);
/* The port it listens on. */
unsigned short hitl_http_port(const hitl_http *h);
/* Stops accepting, lets the requests in flight finish, closes the store. NULL is a no-op. */
void hitl_http_stop(hitl_http *h);

/* ---- the router (pure: no I/O; the fuzz harness drives it) --------------------------------- */
typedef enum {
    HITL_R_NONE = 0, /* no such path: 404 */
    HITL_R_ASSET,    /* a file of the page: asset is its index */
    HITL_R_MEDIA,    /* /media/...: arg is the decoded relative path */
    HITL_R_LOGIN,
    HITL_R_LOGOUT,
    HITL_R_ME,
    HITL_R_NEXT,
    HITL_R_HISTORY,
    HITL_R_LABEL, /* items/ID/label: arg is ID */
    HITL_R_SKIP,
    HITL_R_UNDO,
    HITL_R_ADJUDICATE,
    HITL_R_ITEM, /* items/ID */
    HITL_R_ADJUDICATION,
    HITL_R_STATUS,
    HITL_R_HEALTH,
    HITL_R_CHART_CALIBRATION,
    HITL_R_CHART_AGREEMENT,
    HITL_R_DECISION_SUBMIT,  /* POST /api/v1/decisions */
    HITL_R_DECISION_LIST,    /* GET /api/v1/decisions[?status=S] */
    HITL_R_DECISION,         /* GET /api/v1/decisions/N[?wait=S]: arg is N */
    HITL_R_DECISION_APPROVE, /* POST /api/v1/decisions/N/approve */
    HITL_R_DECISION_REJECT,
    HITL_R_DECISION_OVERRIDE, /* POST /api/v1/decisions/N/override */
    HITL_R_COUNT
} hitl_route_id;

typedef struct hitl_http_match {
    hitl_route_id id;
    int post;       /* the route's method is POST (else GET) */
    int bad_method; /* the path exists but not for this method: 405 */
    int asset;
    char arg[1024]; /* the decoded item id or media path */
} hitl_http_match;

/* Matches `method` and the raw (still percent-encoded) `path`. HITL_EINVAL (400) for a path
 * that cannot be decoded (bad escapes, NUL, an argument over 1023 bytes), else HITL_OK with
 * r->id HITL_R_NONE when nothing matches. */
hitl_status hitl_http_route(const char *method, const char *path, hitl_http_match *r);

/* The page's files, compiled in (io/http/static/, embedded by CMake). */
typedef struct hitl_asset {
    const char *path; /* "/", "/app.js", ... */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t size;
} hitl_asset;
extern const hitl_asset hitl_assets[];
extern const size_t hitl_n_assets;

#endif
