/* The store's schema: every table, created in an empty file and stamped with the application
 * id and version, and the check that a file is a hitl store this build can read. */
#include <stdio.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define APPLICATION_ID 0x6869746c /* "hitl" */

/* The people and services that act through `hitl serve`: a role, and the SHA-256 of their token
 * (the token itself is shown once, never stored). */
#define ACCOUNTS_SQL                                                                               \
    "CREATE TABLE IF NOT EXISTS accounts(name TEXT PRIMARY KEY, role TEXT NOT NULL,"               \
    " token_hash TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL, revoked_at TEXT) WITHOUT ROWID;"

/* Live decisions a service asked for (gate.c): the caller's id is unique per submitting account
 * (a retry gets the first answer); votes in the order given. */
#define GATES_SQL                                                                                  \
    "CREATE TABLE IF NOT EXISTS gates(id INTEGER PRIMARY KEY, caller_id TEXT NOT NULL,"            \
    " submitter TEXT NOT NULL, action TEXT NOT NULL, payload TEXT, risk REAL NOT NULL, model "     \
    "TEXT,"                                                                                        \
    " route TEXT NOT NULL, blind INTEGER NOT NULL, status TEXT NOT NULL, review TEXT NOT NULL,"    \
    " required INTEGER NOT NULL, approvals INTEGER NOT NULL, created_at TEXT NOT NULL,"            \
    " deadline_ms INTEGER NOT NULL, settled_at TEXT, settled_by TEXT,"                             \
    " UNIQUE(submitter, caller_id));"                                                              \
    "CREATE INDEX IF NOT EXISTS gates_review ON gates(review, deadline_ms);"                       \
    "CREATE TABLE IF NOT EXISTS gate_votes(seq INTEGER PRIMARY KEY,"                               \
    " gate INTEGER NOT NULL REFERENCES gates(id), reviewer TEXT NOT NULL, vote TEXT NOT NULL,"     \
    " reason TEXT NOT NULL, created_at TEXT NOT NULL);"                                            \
    "CREATE INDEX IF NOT EXISTS gate_votes_gate ON gate_votes(gate);"

static const char schema_sql[] =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;"
    "CREATE TABLE classes(idx INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE items("
    "  id INTEGER PRIMARY KEY, pool_id TEXT NOT NULL UNIQUE, pool_row INTEGER,"
    "  batch TEXT NOT NULL, reason INTEGER NOT NULL, score REAL, method TEXT, model TEXT,"
    "  seed INTEGER, source TEXT, pred INTEGER, p1 REAL, route TEXT,"
    "  required INTEGER NOT NULL, position INTEGER NOT NULL, queued_at TEXT NOT NULL, data TEXT,"
    "  n_labels INTEGER NOT NULL DEFAULT 0, n_leases INTEGER NOT NULL DEFAULT 0,"
    "  state INTEGER NOT NULL DEFAULT 0," /* 0 open, 1 awaiting adjudication, 2 final */
    "  final_label INTEGER, final_kind TEXT, final_by TEXT, final_at TEXT,"
    /* the audit events that queued the item and set its payload (their digests cover it) */
    "  queued_seq INTEGER, data_seq INTEGER,"
    /* derived, so no update can forget them; SQLite does not match a partial index on the
     * arithmetic itself, but it does on these columns */
    "  avail INTEGER GENERATED ALWAYS AS (state = 0 AND n_labels + n_leases < required) VIRTUAL,"
    "  started INTEGER GENERATED ALWAYS AS (n_labels + n_leases > 0) VIRTUAL);"
    /* the items an annotator may be offered, in offer order: started ones, then queue order */
    "CREATE INDEX items_offer ON items(started DESC, position) WHERE avail = 1;"
    "CREATE INDEX items_batch ON items(batch);"
    "CREATE INDEX items_data_seq ON items(data_seq) WHERE data_seq IS NOT NULL;"
    "CREATE TABLE leases(item INTEGER NOT NULL REFERENCES items(id), annotator TEXT NOT NULL,"
    "  leased_at REAL NOT NULL, expires REAL NOT NULL, PRIMARY KEY(item, annotator))"
    "  WITHOUT ROWID;"
    "CREATE INDEX leases_expires ON leases(expires);"
    "CREATE INDEX leases_annotator ON leases(annotator);"
    "CREATE TABLE labels(id INTEGER PRIMARY KEY, item INTEGER NOT NULL REFERENCES items(id),"
    "  annotator TEXT NOT NULL, label INTEGER NOT NULL, leased_at REAL, created REAL NOT NULL,"
    "  created_at TEXT NOT NULL, UNIQUE(item, annotator));"
    "CREATE INDEX labels_annotator ON labels(annotator, id);"
    "CREATE TABLE skips(id INTEGER PRIMARY KEY, item INTEGER NOT NULL REFERENCES items(id),"
    "  annotator TEXT NOT NULL, reason TEXT, created_at TEXT NOT NULL, UNIQUE(item, annotator));"
    "CREATE TABLE decisions(id INTEGER PRIMARY KEY, item INTEGER NOT NULL REFERENCES items(id),"
    "  actor TEXT NOT NULL, label INTEGER NOT NULL, previous INTEGER, overrode INTEGER NOT NULL,"
    "  kind TEXT NOT NULL, justification TEXT NOT NULL, created_at TEXT NOT NULL);"
    "CREATE INDEX decisions_actor ON decisions(actor);"
    "CREATE TABLE audit(seq INTEGER PRIMARY KEY, ts TEXT NOT NULL, actor TEXT NOT NULL,"
    "  actor_type TEXT NOT NULL, event TEXT NOT NULL, item TEXT, payload TEXT NOT NULL,"
    "  prev_hash TEXT NOT NULL, hash TEXT NOT NULL);"
    "CREATE INDEX audit_item ON audit(item) WHERE item IS NOT NULL;"
    /* the keys of the Label Studio annotations imported, so that none is imported twice */
    "CREATE TABLE imports(key TEXT PRIMARY KEY, item INTEGER NOT NULL REFERENCES items(id),"
    "  annotator TEXT NOT NULL, kind TEXT NOT NULL, created_at TEXT NOT NULL) WITHOUT "
    "ROWID;" ACCOUNTS_SQL GATES_SQL;

hitl_status hitl__schema_create(hitl_store *st, hitl_error *err)
{
    hitl_status r = hitl__store_exec(st, schema_sql, err);
    char buf[96];
    snprintf(buf, sizeof(buf), "PRAGMA application_id=%d; PRAGMA user_version=%d", APPLICATION_ID,
             HITL_STORE_SCHEMA);
    if (r == HITL_OK) r = hitl__store_exec(st, buf, err);
    return r;
}

/* One integer from a PRAGMA; SQLite's result code. */
static int pragma_int(hitl_store *st, const char *sql, int *out)
{
    sqlite3_stmt *q = NULL;
    int rc = sqlite3_prepare_v2(st->db, sql, -1, &q, NULL);
    if (rc == SQLITE_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        *out = sqlite3_column_int(q, 0);
        rc = SQLITE_OK;
    }
    sqlite3_finalize(q);
    return rc;
}

hitl_status hitl__schema_check(hitl_store *st, int *version, hitl_error *err)
{
    int app = 0, rc = pragma_int(st, "PRAGMA application_id", &app);
    *version = 0;
    if (rc != SQLITE_OK)
        return hitl__store_sqlerr(
            st, rc, err, (rc & 0xff) == SQLITE_NOTADB ? "not a hitl store" : "cannot open");
    if (app != APPLICATION_ID)
        return hitl_error_set(err, HITL_EDATA, "'%s' is not a hitl store", st->path);
    if ((rc = pragma_int(st, "PRAGMA user_version", version)) != SQLITE_OK)
        return hitl__store_sqlerr(st, rc, err, "cannot read the schema version");
    if (*version > HITL_STORE_SCHEMA)
        return hitl_error_set(err, HITL_ECONFLICT,
                              "'%s' was written by a newer hitl (schema %d; this hitl reads up to "
                              "%d)",
                              st->path, *version, HITL_STORE_SCHEMA);
    if (*version < 1)
        return hitl_error_set(err, HITL_EDATA, "'%s': no schema version recorded", st->path);
    return HITL_OK;
}

hitl_status hitl__schema_upgrade(hitl_store *st, int from, hitl_error *err)
{
    hitl_status r = HITL_OK;
    if (from < 2) /* 2: the rows the chain's digests cover, import keys */
        r = hitl__store_exec(st,
                             "ALTER TABLE items ADD COLUMN queued_seq INTEGER;"
                             "ALTER TABLE items ADD COLUMN data_seq INTEGER;"
                             "CREATE INDEX items_data_seq ON items(data_seq)"
                             " WHERE data_seq IS NOT NULL;"
                             "CREATE TABLE IF NOT EXISTS imports(key TEXT PRIMARY KEY,"
                             " item INTEGER NOT NULL REFERENCES items(id), annotator TEXT NOT NULL,"
                             " kind TEXT NOT NULL, created_at TEXT NOT NULL) WITHOUT ROWID;",
                             err);
    if (r == HITL_OK && from < 3) r = hitl__store_exec(st, ACCOUNTS_SQL, err); /* 3: accounts */
    if (r == HITL_OK && from < 4) r = hitl__store_exec(st, GATES_SQL, err);    /* 4: decisions */
    char buf[64];
    snprintf(buf, sizeof(buf), "PRAGMA user_version=%d", HITL_STORE_SCHEMA);
    if (r == HITL_OK) r = hitl__store_exec(st, buf, err);
    return r;
}
