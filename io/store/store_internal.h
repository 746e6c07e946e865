/* Internal to io/store, in two layers. The core (clock.c, db.c, schema.c, settings.c): the
 * handle, statements, transactions, errors and time; it knows nothing of the audit chain. The
 * chain (audit.c) appends to it through the core; the operations (project.c, queue.c, label.c,
 * review.c, import.c, export.c) change the tables and append their events in one transaction. */
#ifndef HITL_STORE_INTERNAL_H
#define HITL_STORE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>

#include "hitl_store.h"

/* ---- the core ------------------------------------------------------------------------------ */

#define HITL__STORE_STMTS 64 /* prepared statements kept for the handle's life */

struct hitl_store {
    sqlite3 *db;
    const char *stmt_sql[HITL__STORE_STMTS]; /* the literal each cached statement came from */
    sqlite3_stmt *stmts[HITL__STORE_STMTS];
    size_t n_stmts;
    char *path;
    hitl_store_settings settings; /* read at open; settings changes go through the database */
    hitl_rng jitter;              /* busy-handler back-off jitter */
    int read_only;                /* opened for reading: writes fail with SQLITE_READONLY */
    int schema;                   /* the file's schema version (1: its chain covers no rows) */
    double busy_since;            /* when the current wait for the write lock began */
    int group;                    /* in hitl_store_group_begin's transaction */
    int group_durable;            /* that transaction commits at synchronous=FULL */
    int savepoints;               /* hitl__store_begin/read levels open inside the group */
};

/* Fills err from the connection's last error: "'<path>': <what>: <sqlite message>". A full
 * disk, a locked file or corruption get their own status. Returns the status. */
hitl_status hitl__store_sqlerr(hitl_store *st, int rc, hitl_error *err, const char *what);

/* BEGIN IMMEDIATE (waits for the write lock through the busy handler), COMMIT (rolls back when
 * it fails), ROLLBACK (a no-op outside a transaction). A read snapshot is hitl__store_read()
 * (BEGIN: deferred), ended by hitl__store_rollback(). Inside a group (hitl_store_group_begin)
 * the three are SAVEPOINT, RELEASE and ROLLBACK TO: each write stays all or nothing, and the
 * group's one COMMIT makes them durable together. */
hitl_status hitl__store_begin(hitl_store *st, hitl_error *err);
hitl_status hitl__store_read(hitl_store *st, hitl_error *err);
hitl_status hitl__store_commit(hitl_store *st, hitl_error *err);
void hitl__store_rollback(hitl_store *st);

/* The prepared statement for `sql`, a string literal: prepared once per handle and kept (its
 * address is its key), in *q. Give it back with hitl__store_finish(), which resets it (NULL is
 * a no-op). On error *q is NULL and the status says why. */
hitl_status hitl__store_prepare(hitl_store *st, const char *sql, sqlite3_stmt **q, hitl_error *err);
void hitl__store_finish(hitl_store *st, sqlite3_stmt *q);
/* Steps q, expected to finish without rows, and resets it; `what` names the failure. */
hitl_status hitl__store_step_done(hitl_store *st, sqlite3_stmt *q, hitl_error *err,
                                  const char *what);
/* Runs `sql` (no rows) once. */
hitl_status hitl__store_exec(hitl_store *st, const char *sql, hitl_error *err);
/* A copy of column i's text (caller frees); NULL for SQL NULL or out of memory. */
char *hitl__col_dup(sqlite3_stmt *q, int i);
/* Runs `sql` and appends one element of `size` bytes per row to *items (grown as needed; *n
 * counts them), filled by row(ctx, element, statement): non-zero from it means out of memory.
 * `what` names the rows in an error. The elements already filled stay for the caller to free. */
typedef int (*hitl__row_fn)(void *ctx, void *dst, sqlite3_stmt *q);
hitl_status hitl__store_collect(hitl_store *st, const char *sql, void **items, size_t *n,
                                size_t size, hitl__row_fn row, void *ctx, const char *what,
                                hitl_error *err);
/* The same with `arg` bound to ?1 (NULL: nothing bound). */
hitl_status hitl__store_collect_with(hitl_store *st, const char *sql, const char *arg, void **items,
                                     size_t *n, size_t size, hitl__row_fn row, void *ctx,
                                     const char *what, hitl_error *err);

/* How hitl__store_connect opens the file. */
enum {
    HITL__CONNECT_WRITE = 0,
    HITL__CONNECT_CREATE,    /* a new file */
    HITL__CONNECT_READ,      /* read-only, with the usual locks */
    HITL__CONNECT_IMMUTABLE, /* read-only media: no locks, no -shm (SQLite's immutable=1) */
};
/* Opens the SQLite file at `path`: the busy handler, extended result codes. *out is set even on
 * failure (close it). */
hitl_status hitl__store_connect(hitl_store **out, const char *path, int mode, hitl_error *err);
/* Closes the connection and frees the handle, without the WAL truncation hitl_store_close
 * does; NULL is a no-op. */
void hitl__store_disconnect(hitl_store *st);

/* The schema (schema.c): creates every table in an empty database inside the caller's
 * transaction and stamps it with the application id and schema version; checks an existing
 * file's stamp and gives its version (HITL_EDATA not a hitl store, HITL_ECONFLICT newer than
 * this build). */
hitl_status hitl__schema_create(hitl_store *st, hitl_error *err);
hitl_status hitl__schema_check(hitl_store *st, int *version, hitl_error *err);
/* Adds what later schema versions hold to a store of version `from`, inside the caller's write
 * transaction (project.c then records the upgrade in the chain). */
hitl_status hitl__schema_upgrade(hitl_store *st, int from, hitl_error *err);

/* Settings (settings.c): the defaults, their text as stored in meta, and reading them (with
 * the classes) into st->settings at open. */
extern const char *const hitl__setting_keys[];
#define HITL__N_SETTINGS 11
void hitl__setting_text(const hitl_store_settings *s, const char *key, char *buf, size_t cap);
hitl_status hitl__settings_load(hitl_store *st, hitl_error *err);
/* The settings (not the classes) as the store holds them now, into st->settings: a long-lived
 * handle (hitl serve's) sees a `hitl set` made since it opened. In the caller's transaction or
 * snapshot. */
hitl_status hitl__settings_refresh(hitl_store *st, hitl_error *err);
hitl_status hitl__meta_write(hitl_store *st, const char *key, const char *value, hitl_error *err);

/* Class index of `name` in the settings, -1 when unknown. */
int hitl__store_class(const hitl_store *st, const char *name);

/* Time (clock.c): now as UTC ISO-8601 with milliseconds ("2026-11-24T15:04:05.123Z") and as
 * Unix seconds. */
void hitl__now_iso(char out[32]);
double hitl__now(void);
void hitl__time_iso(double t, char out[32]);

/* ---- the chain (audit.c) ------------------------------------------------------------------- */

typedef struct evp_md_ctx_st EVP_MD_CTX;

/* The hash before the first event: 64 zeros. */
extern const char hitl__audit_genesis[65];

/* Appends an audit event inside the caller's open transaction: the next sequence number, the
 * time `ts` (ISO-8601; NULL: now; the rows the event describes carry the same), actor and its
 * type ("human" or "system"), event type, item (pool id or NULL), payload (steals; a JSON
 * object, stored as compact JSON with sorted keys), chained by SHA-256 to the previous event.
 * HITL_EDATA when a text is not UTF-8. */
hitl_status hitl__audit_append_at(hitl_store *st, const char *ts, const char *actor,
                                  const char *actor_type, const char *event, const char *item,
                                  json_t *payload, hitl_error *err);
hitl_status hitl__audit_append(hitl_store *st, const char *actor, const char *actor_type,
                               const char *event, const char *item, json_t *payload,
                               hitl_error *err);
/* The sequence number the next appended event gets, inside the caller's transaction (rows an
 * event explains record it before the event is appended). */
hitl_status hitl__audit_next_seq(hitl_store *st, int64_t *seq, hitl_error *err);
/* The head recorded in meta, inside the caller's transaction. */
hitl_status hitl__audit_head(hitl_store *st, hitl_audit_head *h, hitl_error *err);
/* The canonical line of one event into b (reset first): the JSON object of its fields with sorted
 * keys, the payload text as stored. -1 when a field is not UTF-8 or memory ran out. */
int hitl__audit_canonical(hitl_buf *b, int64_t seq, const char *ts, const char *actor,
                          const char *actor_type, const char *event, const char *item,
                          const char *payload_text);
/* sha256(prev_hash "\n" line) as 64 hex digits into out, with a caller's digest context. */
int hitl__audit_hash(EVP_MD_CTX *ctx, const char *prev_hash, const char *line, size_t len,
                     char out[65]);
/* Reads the audit chain in order on a thread of its own, checking that each event links to the
 * one before (prev_hash) and hashes to what it says, and calls fn(ctx, event) for every event
 * that checks, in order, on the calling thread, up to the first break (the rest cannot be
 * trusted). `want`, when not NULL, is a head saved elsewhere: res->head_found says whether its
 * event is there with its hash (1), there with another (-1) or absent (0). The store's
 * connection belongs to the walk until it returns. Returns res->status: a failure to read, not a
 * break (res->broken). */
enum { HITL__CHAIN_OK = 0, HITL__CHAIN_GAP, HITL__CHAIN_EDITED };
typedef struct hitl__chain_event {
    int64_t seq;
    const char *ts, *actor, *event, *item, *prev, *payload; /* item NULL when the event has none */
} hitl__chain_event;
typedef struct hitl__chain_result {
    int64_t events;  /* events that checked */
    int64_t bad_seq; /* where the chain breaks, or -1 */
    int broken;      /* HITL__CHAIN_* */
    int head_found;
    char last_hash[65]; /* the hash of the last event that checked (the genesis when none) */
    hitl_status status;
    hitl_error err;
} hitl__chain_result;
typedef void (*hitl__chain_fn)(void *ctx, const hitl__chain_event *e);
hitl_status hitl__chain_walk(hitl_store *st, const hitl_audit_head *want, hitl__chain_fn fn,
                             void *ctx, hitl__chain_result *res);

/* `s` as a JSON string literal, as jansson writes it with JSON_ENSURE_ASCII; -1 for invalid
 * UTF-8. */
int hitl__json_quote_ascii(hitl_buf *b, const char *s);

/* Signed checkpoints (checkpoint.c): the Ed25519 public key in a PEM file (caller frees with
 * EVP_PKEY_free); 1 when sig_b64 is its signature of the head SEQ:HASH. */
typedef struct evp_pkey_st EVP_PKEY;
hitl_status hitl__checkpoint_key(const char *pubkey_path, EVP_PKEY **out, hitl_error *err);
int hitl__checkpoint_valid(EVP_PKEY *pub, int64_t seq, const char *hash, const char *sig_b64);

/* ---- digests of many rows (digest.c) -------------------------------------------------------- */

/* A queued item's fixed fields: what its queue event's digest covers. */
typedef struct hitl__item_fields {
    const char *pool_id;
    int64_t pool_row;
    const char *batch;
    int reason;
    double score; /* NaN: NULL */
    const char *method, *model;
    int64_t seed;
    const char *source;
    int pred; /* -1: NULL */
    double p1;
    const char *route;
    int required;
    int64_t position;
    const char *queued_at;
} hitl__item_fields;

/* One tab-separated line of an item's fixed fields (\N for NULL, reals as the hex digits of their
 * bits), appended. */
void hitl__item_line(hitl_buf *b, const hitl__item_fields *f);
/* "pool_id <TAB> sha256(data) <NL>", appended: an item's display payload in a data digest. */
void hitl__data_line(hitl_buf *b, const char *pool_id, const char *data);
/* OpenSSL's SHA-256, fetched once per process. */
typedef struct evp_md_st EVP_MD;
const EVP_MD *hitl__sha256(void);
/* SHA-256 of len bytes as 64 hex digits. */
int hitl__sha256_hex(const void *data, size_t len, char out[65]);

/* The columns of an item's fixed fields, in hitl__item_fields order, for a SELECT; and those
 * fields read from a statement's columns `first`... */
#define HITL__ITEM_COLUMNS                                                                         \
    "pool_id, pool_row, batch, reason, score, method, model, seed, source, pred, p1, route,"       \
    " required, position, queued_at"
void hitl__item_fields_of(hitl__item_fields *f, sqlite3_stmt *q, int first);
/* The digest (and count) of the items the event `seq` queued, or whose payload it set, in queue
 * order: what that event recorded when the rows are as it wrote them. */
hitl_status hitl__items_digest(hitl_store *st, int64_t seq, char out[65], int64_t *count,
                               hitl_error *err);
hitl_status hitl__data_digest(hitl_store *st, int64_t seq, char out[65], int64_t *count,
                              hitl_error *err);

/* A running SHA-256 over lines, counting them. */
typedef struct hitl__digest {
    EVP_MD_CTX *ctx;
    int64_t n;
} hitl__digest;
int hitl__digest_init(hitl__digest *d);
void hitl__digest_add(hitl__digest *d, const hitl_buf *line);
/* The hex digest; releases the context. */
int hitl__digest_final(hitl__digest *d, char out[65]);
void hitl__digest_release(hitl__digest *d);

/* A display payload: one JSON object, no key twice (names.c). HITL_EDATA naming the item. */
hitl_status hitl__payload_check(const char *text, const char *item, hitl_error *err);

/* ---- flat JSON objects (flatjson.c) ---------------------------------------------------------- */

/* One key and its scalar value, as raw slices of the text (strings with their quotes). */
typedef struct hitl__fj_pair {
    const char *key;
    size_t klen;
    char type; /* 's' string, 'n' number, 't' true, 'f' false, '0' null */
    const char *val;
    size_t vlen;
} hitl__fj_pair;

#define HITL__FJ_BAD    (-1) /* not JSON, or a key given twice */
#define HITL__FJ_NESTED (-2) /* an object or array inside: read it with jansson */

/* Splits `s`, one JSON object with scalar values, into at most max pairs; their count, or
 * HITL__FJ_BAD / HITL__FJ_NESTED. scratch: a buffer for comparing escaped keys. */
int hitl__fj_parse(const char *s, hitl__fj_pair *pairs, int max, hitl_buf *scratch);
/* The pair of `key` (spelled without escapes), or NULL. */
const hitl__fj_pair *hitl__fj_get(const hitl__fj_pair *pairs, int n, const char *key);
/* A string literal's value (quotes included in lit) as UTF-8 into b (reset first); -1 when it
 * holds a lone surrogate or \u0000. */
int hitl__fj_unescape(hitl_buf *b, const char *lit, size_t len);

/* ---- shared by the operations ---------------------------------------------------------------- */

/* After a label (label.c, from `hitl label` or an import): an item with all its labels becomes
 * final when they agree, else waits for adjudication; audited. Inside the caller's
 * transaction. */
hitl_status hitl__store_settle(hitl_store *st, sqlite3_int64 item, const char *pool_id,
                               hitl_error *err);

/* The queue (queue.c), inside the caller's write transaction: the rows (ids already queued are
 * skipped; *added counts the new ones) with the batch's audit event; the JSONL payloads with
 * theirs. */
hitl_status hitl__store_enqueue_rows(hitl_store *st, const hitl_queue_batch *b,
                                     const hitl_queue_row *rows, size_t n, size_t *added,
                                     hitl_error *err);
hitl_status hitl__store_attach_rows(hitl_store *st, const char *jsonl, size_t *attached,
                                    size_t *ignored, hitl_error *err);

/* The labels as a ratings table inside the caller's read snapshot (records.c): items with
 * labels in queue order, *item_ids[u] item u's items.id (may be NULL), annotators sorted by
 * name (caller owns, hitl_strings_free()). */
hitl_status hitl__store_ratings(hitl_store *st, hitl_ratings *r, int64_t **item_ids,
                                char ***annotators, size_t *n_annotators, hitl_error *err);

#endif /* HITL_STORE_INTERNAL_H */
