/* Internal to the annotation store (io/store*.c): the handle, transactions with a short-sleep
 * busy handler, the audit append that every change calls inside its own transaction, and
 * small SQLite helpers. */
#ifndef HITL_STORE_INTERNAL_H
#define HITL_STORE_INTERNAL_H

#include <jansson.h>
#include <sqlite3.h>

#include "hitl_io.h"

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

/* BEGIN IMMEDIATE (waits for the write lock through the busy handler), COMMIT, ROLLBACK. */
hitl_status hitl__store_begin(hitl_store *st, hitl_error *err);
hitl_status hitl__store_commit(hitl_store *st, hitl_error *err);
void hitl__store_rollback(hitl_store *st);

/* The prepared statement for `sql`, a string literal: prepared once per handle and kept (its
 * address is its key). Give it back with hitl__store_finish(), which resets it. On error fills
 * err and returns NULL. */
sqlite3_stmt *hitl__store_prepare(hitl_store *st, const char *sql, hitl_error *err);
void hitl__store_finish(hitl_store *st, sqlite3_stmt *q);
/* Runs `sql` (no rows) once. */
hitl_status hitl__store_exec(hitl_store *st, const char *sql, hitl_error *err);

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

/* Now as UTC ISO-8601 with milliseconds ("2026-11-24T15:04:05.123Z") and as Unix seconds. */
void hitl__now_iso(char out[32]);
double hitl__now(void);
void hitl__time_iso(double t, char out[32]);

/* After a label (from `hitl label` or an import): an item with all its labels becomes final
 * when they agree, else waits for adjudication; audited. Inside the caller's transaction. */
hitl_status hitl__store_settle(hitl_store *st, sqlite3_int64 item, const char *pool_id,
                               hitl_error *err);

/* Class index of `name` in the settings, -1 when unknown. */
int hitl__store_class(const hitl_store *st, const char *name);

#endif /* HITL_STORE_INTERNAL_H */
