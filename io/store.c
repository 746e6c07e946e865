/* The annotation store's file: schema creation and version checks, opening with WAL, a busy
 * handler that sleeps briefly (so many annotators interleave without errors), settings, and the
 * transaction and error helpers the other store files share. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define APPLICATION_ID 0x6869746c /* "hitl" */
#define BUSY_TIMEOUT_S 60.0

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
    /* derived, so no update can forget them; SQLite does not match a partial index on the
     * arithmetic itself, but it does on these columns */
    "  avail INTEGER GENERATED ALWAYS AS (state = 0 AND n_labels + n_leases < required) VIRTUAL,"
    "  started INTEGER GENERATED ALWAYS AS (n_labels + n_leases > 0) VIRTUAL);"
    /* the items an annotator may be offered, in offer order: started ones, then queue order */
    "CREATE INDEX items_offer ON items(started DESC, position) WHERE avail = 1;"
    "CREATE INDEX items_batch ON items(batch);"
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
    "CREATE INDEX audit_item ON audit(item) WHERE item IS NOT NULL;";

/* ---- time -------------------------------------------------------------------------------- */

double hitl__now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

void hitl__time_iso(double t, char out[32])
{
    time_t secs = (time_t)t;
    int ms = (int)((t - (double)secs) * 1000.0);
    if (ms > 999) ms = 999;
    struct tm tm;
    gmtime_r(&secs, &tm);
    char base[24];
    strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, 32, "%.19s.%03uZ", base, (unsigned)ms % 1000u);
}

void hitl__now_iso(char out[32])
{
    hitl__time_iso(hitl__now(), out);
}

/* ---- errors and transactions ------------------------------------------------------------- */

hitl_status hitl__store_sqlerr(hitl_store *st, int rc, hitl_error *err, const char *what)
{
    int saved_errno = errno; /* what the failed system call left, before anything else runs */
    int prim = rc & 0xff;
    hitl_status s = prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB ? HITL_EDATA
                    : prim == SQLITE_BUSY || prim == SQLITE_LOCKED  ? HITL_EBUSY
                    : prim == SQLITE_NOMEM                          ? HITL_ENOMEM
                    : prim == SQLITE_CONSTRAINT                     ? HITL_ECONFLICT
                                                                    : HITL_EIO;
    const char *msg = st && st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc);
    /* "disk I/O error" alone does not say that the disk is full or the file too large: name the
     * system error (SQLite records it on some paths only; errno still holds it on the others) */
    int sys = 0;
    if (st && st->db && (prim == SQLITE_IOERR || prim == SQLITE_CANTOPEN))
        sys = sqlite3_system_errno(st->db) ? sqlite3_system_errno(st->db) : saved_errno;
    return hitl_error_set(err, s, "'%s': %s: %s%s%s%s", st && st->path ? st->path : "?", what, msg,
                          sys ? " (" : "", sys ? strerror(sys) : "", sys ? ")" : "");
}

static double monotonic_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Writers hold the lock for about 0.1 ms, but SQLite keeps no queue of waiters: whoever retries
 * first when it is free gets it, and a process that has just committed (its next, before its
 * label) is always first. So waiters age: a new one backs off 200-300 us for its first 8 tries,
 * then 60-90 us, and one that has tried 20 times polls every few microseconds (in practice the
 * kernel's 50 us timer slack), which makes the oldest waiter the likeliest to find the lock
 * free. With 8 annotator processes flat out on 2 cores this cut the p99 of a next+label round
 * trip from 23 to 19 ms, p50 unchanged (paired runs of tests/bench/bench_store.py's workload).
 * SQLite's default handler would sleep up to 100 ms at a time. Gives up after BUSY_TIMEOUT_S. */
static int busy_handler(void *ctx, int count)
{
    hitl_store *st = ctx;
    double now = monotonic_seconds();
    if (count == 0)
        st->busy_since = now;
    else if (now - st->busy_since > BUSY_TIMEOUT_S)
        return 0;
    uint64_t base = count < 8 ? 200000 : count < 20 ? 60000 : 5000; /* nanoseconds */
    struct timespec ts = {0, (long)(base + hitl_rng_below(&st->jitter, base / 2))};
    nanosleep(&ts, NULL);
    return 1;
}

sqlite3_stmt *hitl__store_prepare(hitl_store *st, const char *sql, hitl_error *err)
{
    /* every statement is a string literal: its address names it */
    size_t i;
    for (i = 0; i < st->n_stmts; i++) {
        if (st->stmt_sql[i] == sql) return st->stmts[i];
    }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        hitl__store_sqlerr(st, rc, err, "cannot prepare a statement");
        sqlite3_finalize(stmt);
        return NULL;
    }
    if (st->n_stmts < HITL__STORE_STMTS) { /* else it is finalized by hitl__store_finish */
        st->stmt_sql[st->n_stmts] = sql;
        st->stmts[st->n_stmts++] = stmt;
    }
    return stmt;
}

void hitl__store_finish(hitl_store *st, sqlite3_stmt *q)
{
    if (!q) return;
    for (size_t i = 0; i < st->n_stmts; i++) {
        if (st->stmts[i] == q) {
            sqlite3_reset(q);
            sqlite3_clear_bindings(q);
            return;
        }
    }
    sqlite3_finalize(q);
}

hitl_status hitl__store_exec(hitl_store *st, const char *sql, hitl_error *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot update");
}

hitl_status hitl__store_begin(hitl_store *st, hitl_error *err)
{
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot start a write");
}

hitl_status hitl__store_commit(hitl_store *st, hitl_error *err)
{
    int rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc == SQLITE_OK) return HITL_OK;
    hitl_status s = hitl__store_sqlerr(st, rc, err, "cannot commit");
    hitl__store_rollback(st);
    return s;
}

void hitl__store_rollback(hitl_store *st)
{
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int hitl__store_class(const hitl_store *st, const char *name)
{
    for (size_t i = 0; i < st->settings.n_classes; i++)
        if (strcmp(st->settings.classes[i], name) == 0) return (int)i;
    return -1;
}

/* ---- settings ---------------------------------------------------------------------------- */

static const char *const show_names[] = {"never", "uncertain", "always"};

static int parse_show(const char *v)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(v, show_names[i]) == 0) return i;
    return -1;
}

static int parse_int(const char *v, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi) return -1;
    *out = (int)x;
    return 0;
}

hitl_status hitl_store_settings_apply(hitl_store_settings *s, const char *key, const char *value,
                                      hitl_error *err)
{
    int v;
    if (strcmp(key, "overlap") == 0) {
        if (parse_int(value, 1, 100, &v))
            return hitl_error_set(err, HITL_EINVAL, "overlap must be 1..100, got '%s'", value);
        s->overlap = v;
    } else if (strcmp(key, "lease") == 0) {
        if (parse_int(value, 1, 7 * 24 * 3600, &v))
            return hitl_error_set(err, HITL_EINVAL, "lease must be 1..604800 seconds, got '%s'",
                                  value);
        s->lease_seconds = v;
    } else if (strcmp(key, "show-prediction") == 0) {
        if ((v = parse_show(value)) < 0)
            return hitl_error_set(err, HITL_EINVAL,
                                  "show-prediction must be never, uncertain or always, got '%s'",
                                  value);
        s->show_prediction = (hitl_show_prediction)v;
    } else if (strcmp(key, "min-justification") == 0) {
        if (parse_int(value, 0, 100000, &v))
            return hitl_error_set(err, HITL_EINVAL, "min-justification must be 0..100000, got '%s'",
                                  value);
        s->min_justification = v;
    } else {
        return hitl_error_set(err, HITL_EINVAL,
                              "unknown setting '%s' (overlap, lease, show-prediction, "
                              "min-justification)",
                              key);
    }
    return HITL_OK;
}

static void setting_text(const hitl_store_settings *s, const char *key, char *buf, size_t cap)
{
    if (strcmp(key, "overlap") == 0)
        snprintf(buf, cap, "%d", s->overlap);
    else if (strcmp(key, "lease") == 0)
        snprintf(buf, cap, "%d", s->lease_seconds);
    else if (strcmp(key, "show-prediction") == 0)
        snprintf(buf, cap, "%s", show_names[s->show_prediction]);
    else
        snprintf(buf, cap, "%d", s->min_justification);
}

static const char *const setting_keys[] = {"overlap", "lease", "show-prediction",
                                           "min-justification"};

static hitl_status write_meta(hitl_store *st, const char *key, const char *value, hitl_error *err)
{
    sqlite3_stmt *q =
        hitl__store_prepare(st, "INSERT OR REPLACE INTO meta(key, value) VALUES(?1, ?2)", err);
    if (!q) return err ? err->status : HITL_EIO;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, value, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    return rc == SQLITE_DONE ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot write settings");
}

static hitl_status load_settings(hitl_store *st, hitl_error *err)
{
    hitl_store_settings *s = &st->settings;
    s->overlap = 1;
    s->lease_seconds = 600;
    s->show_prediction = HITL_SHOW_NEVER;
    s->min_justification = 20;
    sqlite3_stmt *q = hitl__store_prepare(st, "SELECT key, value FROM meta", err);
    if (!q) return err ? err->status : HITL_EIO;
    int rc;
    hitl_status r = HITL_OK;
    while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *k = (const char *)sqlite3_column_text(q, 0);
        const char *v = (const char *)sqlite3_column_text(q, 1);
        for (size_t i = 0; i < 4 && k && v; i++)
            if (strcmp(k, setting_keys[i]) == 0 &&
                hitl_store_settings_apply(s, k, v, err) != HITL_OK)
                r = hitl_error_set(err, HITL_EDATA, "'%s': bad setting %s = '%s'", st->path, k, v);
    }
    hitl__store_finish(st, q);
    if (r != HITL_OK) return r;
    if (rc != SQLITE_DONE) return hitl__store_sqlerr(st, rc, err, "cannot read settings");
    q = hitl__store_prepare(st, "SELECT name FROM classes ORDER BY idx", err);
    if (!q) return err ? err->status : HITL_EIO;
    size_t cap = 0;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (s->n_classes == cap) {
            cap = cap ? cap * 2 : 16;
            char **v = realloc(s->classes, cap * sizeof(char *));
            if (!v) {
                hitl__store_finish(st, q);
                return hitl_error_set(err, HITL_ENOMEM, "out of memory");
            }
            s->classes = v;
        }
        s->classes[s->n_classes] = strdup((const char *)sqlite3_column_text(q, 0));
        if (!s->classes[s->n_classes++]) rc = SQLITE_NOMEM;
    }
    hitl__store_finish(st, q);
    if (rc != SQLITE_DONE) return hitl__store_sqlerr(st, rc, err, "cannot read classes");
    return HITL_OK;
}

hitl_status hitl_store_settings_get(hitl_store *st, hitl_store_settings *out, hitl_error *err)
{
    *out = st->settings;
    out->classes = calloc(st->settings.n_classes ? st->settings.n_classes : 1, sizeof(char *));
    if (!out->classes) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < st->settings.n_classes; i++) {
        if (!(out->classes[i] = strdup(st->settings.classes[i]))) {
            hitl_store_settings_release(out);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
    }
    return HITL_OK;
}

void hitl_store_settings_release(hitl_store_settings *s)
{
    if (!s) return;
    hitl_strings_free(s->classes, s->n_classes);
    s->classes = NULL;
    s->n_classes = 0;
}

hitl_status hitl_store_setting_set(hitl_store *st, const char *key, const char *value,
                                   const char *actor, hitl_error *err)
{
    hitl_store_settings next = st->settings;
    hitl_status r = hitl_store_settings_apply(&next, key, value, err);
    if (r != HITL_OK) return r;
    if ((r = hitl__store_begin(st, err)) != HITL_OK) return r;
    char before[64], after[64];
    setting_text(&st->settings, key, before, sizeof(before));
    setting_text(&next, key, after, sizeof(after));
    json_t *payload =
        json_pack("{s:s, s:s, s:s}", "setting", key, "before", before, "after", after);
    if ((r = write_meta(st, key, after, err)) != HITL_OK ||
        (r = hitl__audit_append(st, actor, "human", "settings", NULL, payload, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    st->settings.overlap = next.overlap;
    st->settings.lease_seconds = next.lease_seconds;
    st->settings.show_prediction = next.show_prediction;
    st->settings.min_justification = next.min_justification;
    return HITL_OK;
}

/* ---- open, init, close ------------------------------------------------------------------- */

static hitl_status connect(hitl_store **out, const char *path, int create, hitl_error *err)
{
    *out = NULL;
    hitl_store *st = calloc(1, sizeof(*st));
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_rng_seed(&st->jitter, (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL));
    int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &st->db, flags, NULL);
    hitl_status r = HITL_OK;
    if (rc != SQLITE_OK) {
        r = hitl_error_set(err, HITL_EIO, "cannot open store '%s': %s", path,
                           st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    } else {
        sqlite3_busy_handler(st->db, busy_handler, st);
        sqlite3_extended_result_codes(st->db, 1);
        /* a command is one short connection: leave the WAL to the automatic checkpoints of
         * later writes instead of checkpointing and deleting it at every close */
        sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
    }
    *out = st;
    return r;
}

hitl_status hitl_store_init(const char *path, const hitl_store_settings *s, const char *actor,
                            hitl_error *err)
{
    if (!s || s->n_classes < 2)
        return hitl_error_set(err, HITL_EINVAL, "a project needs at least 2 classes");
    for (size_t i = 0; i < s->n_classes; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->classes[i], s->classes[j]) == 0)
                return hitl_error_set(err, HITL_EINVAL, "class '%s' is named twice", s->classes[i]);
    struct stat sb;
    if (stat(path, &sb) == 0)
        return hitl_error_set(err, HITL_ECONFLICT,
                              "'%s' already exists (hitl init makes a new store)", path);
    hitl_store *st = NULL;
    hitl_status r = connect(&st, path, 1, err);
    if (!st) return r;
    if (r == HITL_OK) {
        char buf[64];
        r = hitl__store_exec(st, "PRAGMA journal_mode=WAL", err);
        if (r == HITL_OK) r = hitl__store_begin(st, err);
        if (r == HITL_OK) r = hitl__store_exec(st, schema_sql, err);
        snprintf(buf, sizeof(buf), "PRAGMA application_id=%d; PRAGMA user_version=%d",
                 APPLICATION_ID, HITL_STORE_SCHEMA);
        if (r == HITL_OK) r = hitl__store_exec(st, buf, err);
        st->settings = *s;
        st->settings.classes = NULL;
        st->settings.n_classes = 0;
        json_t *classes = json_array();
        sqlite3_stmt *q =
            r == HITL_OK
                ? hitl__store_prepare(st, "INSERT INTO classes(idx, name) VALUES(?1, ?2)", err)
                : NULL;
        for (size_t i = 0; q && r == HITL_OK && i < s->n_classes; i++) {
            sqlite3_bind_int64(q, 1, (sqlite3_int64)i);
            sqlite3_bind_text(q, 2, s->classes[i], -1, SQLITE_STATIC);
            int rc = sqlite3_step(q);
            if (rc != SQLITE_DONE) r = hitl__store_sqlerr(st, rc, err, "cannot write classes");
            sqlite3_reset(q);
            json_array_append_new(classes, json_string(s->classes[i]));
        }
        hitl__store_finish(st, q);
        if (r == HITL_OK && !q) r = err ? err->status : HITL_EIO;
        json_t *payload =
            json_pack("{s:o, s:i, s:i, s:s, s:i, s:i}", "classes", classes, "overlap", s->overlap,
                      "lease", s->lease_seconds, "show_prediction", show_names[s->show_prediction],
                      "min_justification", s->min_justification, "schema", HITL_STORE_SCHEMA);
        for (size_t i = 0; r == HITL_OK && i < 4; i++) {
            setting_text(s, setting_keys[i], buf, sizeof(buf));
            r = write_meta(st, setting_keys[i], buf, err);
        }
        if (r == HITL_OK) r = write_meta(st, "audit_head", "0", err);
        if (r == HITL_OK)
            r = hitl__audit_append(st, actor, "human", "init", NULL, payload, err);
        else
            json_decref(payload);
        if (r == HITL_OK)
            r = hitl__store_commit(st, err);
        else
            hitl__store_rollback(st);
    }
    for (size_t i = 0; i < st->n_stmts; i++)
        sqlite3_finalize(st->stmts[i]);
    sqlite3_close(st->db);
    free(st->path);
    free(st);
    if (r != HITL_OK) {
        remove(path); /* nothing half-made is left behind */
        char side[4096];
        snprintf(side, sizeof(side), "%s-wal", path);
        remove(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        remove(side);
    }
    return r;
}

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

hitl_status hitl_store_open(hitl_store **out, const char *path, hitl_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hitl_error_set(err, HITL_EIO, "cannot open store '%s': %s", path, strerror(errno));
    hitl_store *st = NULL;
    hitl_status r = connect(&st, path, 0, err);
    if (!st) return r;
    int app = 0, version = 0, rc = SQLITE_OK;
    if (r == HITL_OK && (rc = pragma_int(st, "PRAGMA application_id", &app)) != SQLITE_OK)
        r = hitl__store_sqlerr(st, rc, err,
                               (rc & 0xff) == SQLITE_NOTADB ? "not a hitl store" : "cannot open");
    if (r == HITL_OK && app != APPLICATION_ID)
        r = hitl_error_set(err, HITL_EDATA, "'%s' is not a hitl store", path);
    if (r == HITL_OK && (rc = pragma_int(st, "PRAGMA user_version", &version)) != SQLITE_OK)
        r = hitl__store_sqlerr(st, rc, err, "cannot read the schema version");
    if (r == HITL_OK && version > HITL_STORE_SCHEMA)
        r = hitl_error_set(err, HITL_ECONFLICT,
                           "'%s' was written by a newer hitl (schema %d; this hitl reads up to %d)",
                           path, version, HITL_STORE_SCHEMA);
    if (r == HITL_OK && version < 1)
        r = hitl_error_set(err, HITL_EDATA, "'%s': no schema version recorded", path);
    /* synchronous=NORMAL in WAL mode: a commit survives a killed process (not a power cut
     * between checkpoints) */
    if (r == HITL_OK) r = hitl__store_exec(st, "PRAGMA synchronous=NORMAL", err);
    if (r == HITL_OK) r = load_settings(st, err);
    if (r != HITL_OK) {
        hitl_store_close(st);
        return r;
    }
    *out = st;
    return HITL_OK;
}

/* Each new process rebuilds the WAL index by reading the whole WAL, and forgets what earlier
 * processes checkpointed, so the WAL would only grow. Past WAL_TRUNCATE_FRAMES frames, a closing
 * connection checkpoints and truncates it, unless another connection is busy (then a later
 * close does it): about one close in fifty pays for the flush. */
#define WAL_TRUNCATE_FRAMES 512

void hitl_store_close(hitl_store *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n_stmts; i++)
        sqlite3_finalize(st->stmts[i]);
    char wal[4096];
    struct stat sb;
    snprintf(wal, sizeof(wal), "%s-wal", st->path);
    if (st->db && stat(wal, &sb) == 0 && sb.st_size > (off_t)WAL_TRUNCATE_FRAMES * 4120) {
        sqlite3_busy_handler(st->db, NULL, NULL); /* never wait for it */
        sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
    }
    sqlite3_close(st->db);
    hitl_store_settings_release(&st->settings);
    free(st->path);
    free(st);
}
