/* What the server's files share: the server, one request, sessions, replies. Not installed. */
#ifndef HITL_HTTP_INTERNAL_H
#define HITL_HTTP_INTERNAL_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>

#include "hitl_http.h"

#define HITL_HTTP_POOL        32 /* store handles kept open for the workers */
#define HITL_HTTP_FAILS       10 /* failed logins an address may make per window */
#define HITL_HTTP_FAIL_WINDOW 60.0
#define HITL_HTTP_FAIL_SLOTS  256 /* addresses remembered */
#define HITL_HTTP_COOKIE      "hitl_session"

/* Monotonic seconds: session expiry, failed-login windows, request times, waits. */
double http_now(void);

/* ---- sessions (session.c) ------------------------------------------------------------------
 * Cookie sessions live in memory: a restart logs everyone out, which is safe. The id is 256
 * random bits; the account is looked up again on every request, so a revoked token's sessions
 * die at once. */
typedef struct http_session {
    char id[65];
    char account[260];
    double expires;
} http_session;

typedef struct http_fail {
    char client[64];
    double since;
    int count;
} http_fail;

typedef struct http_sessions {
    pthread_mutex_t mu;
    http_session *v;
    size_t n, cap;
    http_fail fails[HITL_HTTP_FAIL_SLOTS];
} http_sessions;

int http_sessions_init(http_sessions *s);
void http_sessions_release(http_sessions *s);
/* A new session for `account` lasting `seconds`: its id into id[65]; -1 out of memory or
 * randomness. */
int http_session_new(http_sessions *s, const char *account, double seconds, char id[65]);
/* The account of a live session into account[260]: 0 found, -1 not (or expired: dropped). */
int http_session_find(http_sessions *s, const char *id, char account[260]);
void http_session_end(http_sessions *s, const char *id);
/* 1 when `client` made too many failed logins in the window. */
int http_fail_blocked(http_sessions *s, const char *client);
void http_fail_count(http_sessions *s, const char *client);

/* ---- waiting for a decision (decisions.c) --------------------------------------------------
 * A GET /decisions/N?wait=S on an unsettled decision suspends its connection (libmicrohttpd's
 * suspend/resume: a waiting request holds no thread) and waits here until a vote settles it
 * (http_wake) or its wait ends (the timer thread). */
typedef struct http_waiter {
    int64_t gate;
    struct MHD_Connection *c;
    double until; /* monotonic seconds */
} http_waiter;

typedef struct http_waiters {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    http_waiter *v;
    size_t n, cap;
    pthread_t timer;
    int running, stop;
    uint64_t wakes; /* http_wake calls so far: a waiter that read before one re-reads */
    /* another process's votes (hitl decide): the store's change count (hitl_gate_changes) less
     * the server's own changes, at the last look; own counts a vote before it is written */
    int64_t own_changes, outside_seen;
    double next_look;
} http_waiters;

typedef struct http_checkpointer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int inited, running, stop;
} http_checkpointer;

/* ---- the server (server.c) ----------------------------------------------------------------- */
struct hitl_http {
    struct MHD_Daemon *daemon;
    hitl_http_opts o;
    char *db, *media; /* owned copies; media resolved (realpath) */
    char *cert_pem, *key_pem;
    unsigned short port;
    pthread_mutex_t pool_mu;
    hitl_store *pool[HITL_HTTP_POOL];
    int n_pool;
    pthread_mutex_t write_mu; /* one writer at a time: no SQLite busy waits between workers */
    pthread_cond_t write_cv;  /* a group was committed */
    hitl_store *writer;       /* the handle every write goes through (group.c) */
    struct http_write *queue, *queue_tail; /* writes waiting for the next group */
    int leading;                           /* a group is running */
    http_checkpointer checkpointer;        /* copies the writer's log into the file */
    http_sessions sessions;
    hitl_store_settings settings; /* the classes and settings, read at start */
    atomic_int in_flight;         /* requests begun and not yet completed */
    atomic_int stopping;          /* hitl_http_stop has begun */
    http_waiters waiters;
};

/* One request: its body as it arrives, who made it, what was answered. */
typedef struct http_req {
    hitl_http *server;
    double t0;
    char *body;
    size_t n, cap;
    int too_large;
    int status;
    char account[260];
    hitl_role role;
    char client[64];
    char method[16], path[256]; /* for the log */
    int suspended;              /* waiting for a decision; resumed by a wake or the timer */
    double wait_until;
} http_req;

/* A store handle for this worker (opened on first need); give it back with http_store_put. */
hitl_store *http_store_get(hitl_http *h, hitl_error *err);
/* ---- writes (group.c) ---------------------------------------------------------------------- */
/* One write: a store function call on the server's writer handle. */
typedef hitl_status (*http_write_fn)(hitl_store *w, void *arg, hitl_error *err);
/* Runs fn(writer, arg, err) in the next group commit and returns its status once the group is
 * committed (durable: at synchronous=FULL). err must not be NULL. */
hitl_status http_write(hitl_http *h, http_write_fn fn, void *arg, int durable, hitl_error *err);
/* The checkpointer thread; stop also when start failed (0 started, -1 not). */
int http_checkpointer_start(hitl_http *h);
void http_checkpointer_stop(hitl_http *h);
void http_store_put(hitl_http *h, hitl_store *st);

/* Replies: each queues the response and returns MHD's answer. reply_json steals j. */
enum MHD_Result http_reply_json(struct MHD_Connection *c, http_req *rq, int status, json_t *j);
enum MHD_Result http_reply_error(struct MHD_Connection *c, http_req *rq, int status,
                                 const char *fmt, ...);
/* The HTTP status of a library status, and an error reply carrying err's message. */
int http_status_of(hitl_status s);
enum MHD_Result http_reply_status(struct MHD_Connection *c, http_req *rq, hitl_status s,
                                  const hitl_error *err);
enum MHD_Result http_reply_bytes(struct MHD_Connection *c, http_req *rq, int status,
                                 const char *type, void *data, size_t n, int must_free,
                                 const char *set_cookie);

/* The waiters and their timer (which also expires overdue reviews every second). */
int http_waiters_start(hitl_http *h);
/* Resumes every waiting request (the server is stopping), ends the timer. */
void http_waiters_stop(hitl_http *h);
/* Resumes the requests waiting on decision `gate` (-1: all). */
void http_wake(hitl_http *h, int64_t gate);
/* The wake count now: read before reading a decision a request may wait on. */
uint64_t http_wakes(hitl_http *h);
/* The decision routes (role checks included). */
enum MHD_Result http_decisions(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                               const hitl_http_match *r, hitl_store *st);

/* ---- the API (api.c) ----------------------------------------------------------------------- */
/* Answers an authenticated API request (rq->account, rq->role set) for route r. */
enum MHD_Result http_api(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                         const hitl_http_match *r);
/* POST /api/v1/login and /logout (no account yet). */
enum MHD_Result http_login(hitl_http *h, struct MHD_Connection *c, http_req *rq);
enum MHD_Result http_logout(hitl_http *h, struct MHD_Connection *c, http_req *rq);

/* A request body as a JSON object whose keys are all in `fields` (NULL-ended) and whose values
 * are strings; an empty body is {}. HITL_EINVAL with the reason in why, else *out is owned.
 * (router.c; pure, fuzzed.) */
hitl_status hitl_http_body(const char *body, size_t n, const char *const *fields, json_t **out,
                           char *why, size_t why_cap);

#endif
