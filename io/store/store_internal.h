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
    double busy_since;            /* when the current wait for the write lock began */
};

/* Fills err from the connection's last error: "'<path>': <what>: <sqlite message>". A full
 * disk, a locked file or corruption get their own status. Returns the status. */
hitl_status hitl__store_sqlerr(hitl_store *st, int rc, hitl_error *err, const char *what);

/* BEGIN IMMEDIATE (waits for the write lock through the busy handler), COMMIT (rolls back when
 * it fails), ROLLBACK (a no-op outside a transaction). A read snapshot is hitl__store_read()
 * (BEGIN: deferred), ended by hitl__store_rollback(). */
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

/* Opens the SQLite file at `path` (creating it when `create`): the busy handler, extended
 * result codes, no checkpoint on close. *out is set even on failure (close it). */
hitl_status hitl__store_connect(hitl_store **out, const char *path, int create, hitl_error *err);
/* Closes the connection and frees the handle, without the WAL truncation hitl_store_close
 * does; NULL is a no-op. */
void hitl__store_disconnect(hitl_store *st);

/* The schema (schema.c): creates every table in an empty database inside the caller's
 * transaction and stamps it with the application id and schema version; checks an existing
 * file's stamp (HITL_EDATA not a hitl store, HITL_ECONFLICT newer than this build). */
hitl_status hitl__schema_create(hitl_store *st, hitl_error *err);
hitl_status hitl__schema_check(hitl_store *st, hitl_error *err);

/* Settings (settings.c): the defaults, their text as stored in meta, and reading them (with
 * the classes) into st->settings at open. */
extern const char *const hitl__setting_keys[];
#define HITL__N_SETTINGS 4
void hitl__settings_default(hitl_store_settings *s);
void hitl__setting_text(const hitl_store_settings *s, const char *key, char *buf, size_t cap);
hitl_status hitl__settings_load(hitl_store *st, hitl_error *err);
hitl_status hitl__meta_write(hitl_store *st, const char *key, const char *value, hitl_error *err);
const char *hitl__show_name(hitl_show_prediction s);

/* Class index of `name` in the settings, -1 when unknown. */
int hitl__store_class(const hitl_store *st, const char *name);

/* Time (clock.c): now as UTC ISO-8601 with milliseconds ("2026-11-24T15:04:05.123Z") and as
 * Unix seconds. */
void hitl__now_iso(char out[32]);
double hitl__now(void);
void hitl__time_iso(double t, char out[32]);

/* ---- the chain (audit.c) ------------------------------------------------------------------- */

/* Appends an audit event inside the caller's open transaction: the next sequence number, UTC
 * time, actor and its type ("human" or "system"), event type, item (pool id or NULL), payload
 * (steals; a JSON object), chained by SHA-256 to the previous event. */
hitl_status hitl__audit_append(hitl_store *st, const char *actor, const char *actor_type,
                               const char *event, const char *item, json_t *payload,
                               hitl_error *err);
/* The canonical line of one event (caller frees) and its chained hash (65 bytes, hex). */
char *hitl__audit_canonical(int64_t seq, const char *ts, const char *actor, const char *actor_type,
                            const char *event, const char *item, const char *payload_text);
void hitl__audit_hash(const char *prev_hash, const char *canonical, char out[65]);

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
