/* The store's connection: opening the file in WAL mode with a busy handler that sleeps briefly
 * (so many annotator processes interleave without errors), the prepared-statement cache,
 * transactions and SQLite's errors as statuses. Knows no audit chain and no table. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define BUSY_TIMEOUT_S 60.0

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

hitl_status hitl__store_prepare(hitl_store *st, const char *sql, sqlite3_stmt **q, hitl_error *err)
{
    /* every statement is a string literal: its address names it */
    for (size_t i = 0; i < st->n_stmts; i++) {
        if (st->stmt_sql[i] == sql) {
            *q = st->stmts[i];
            return HITL_OK;
        }
    }
    *q = NULL;
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return hitl__store_sqlerr(st, rc, err, "cannot prepare a statement");
    }
    if (st->n_stmts < HITL__STORE_STMTS) { /* else it is finalized by hitl__store_finish */
        st->stmt_sql[st->n_stmts] = sql;
        st->stmts[st->n_stmts++] = stmt;
    }
    *q = stmt;
    return HITL_OK;
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

hitl_status hitl__store_step_done(hitl_store *st, sqlite3_stmt *q, hitl_error *err,
                                  const char *what)
{
    int rc = sqlite3_step(q);
    sqlite3_reset(q);
    return rc == SQLITE_DONE ? HITL_OK : hitl__store_sqlerr(st, rc, err, what);
}

hitl_status hitl__store_exec(hitl_store *st, const char *sql, hitl_error *err)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot update");
}

/* Inside a group: one savepoint level more. */
static hitl_status savepoint(hitl_store *st, hitl_error *err)
{
    int rc = sqlite3_exec(st->db, "SAVEPOINT w", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return hitl__store_sqlerr(st, rc, err, "cannot start a write");
    st->savepoints++;
    return HITL_OK;
}

hitl_status hitl__store_begin(hitl_store *st, hitl_error *err)
{
    if (st->group) return savepoint(st, err);
    int rc = sqlite3_exec(st->db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
    return rc == SQLITE_OK ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot start a write");
}

hitl_status hitl__store_read(hitl_store *st, hitl_error *err)
{
    if (st->group) return savepoint(st, err);
    int rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    return rc == SQLITE_OK ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot start a read");
}

hitl_status hitl__store_commit(hitl_store *st, hitl_error *err)
{
    int rc;
    if (st->group) { /* without a savepoint open, SQLite lost the group's transaction */
        rc =
            st->savepoints > 0 ? sqlite3_exec(st->db, "RELEASE w", NULL, NULL, NULL) : SQLITE_ABORT;
        if (rc == SQLITE_OK) {
            st->savepoints--;
            return HITL_OK;
        }
    } else if ((rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) == SQLITE_OK) {
        return HITL_OK;
    }
    hitl_status s = hitl__store_sqlerr(st, rc, err, "cannot commit");
    hitl__store_rollback(st);
    return s;
}

void hitl__store_rollback(hitl_store *st)
{
    if (sqlite3_get_autocommit(st->db)) {
        st->savepoints = 0; /* SQLite rolled the whole transaction back itself (a full disk) */
        return;
    }
    if (!st->group) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
    } else if (st->savepoints > 0) {
        sqlite3_exec(st->db, "ROLLBACK TO w", NULL, NULL, NULL);
        sqlite3_exec(st->db, "RELEASE w", NULL, NULL, NULL);
        st->savepoints--;
    }
}

void hitl_store_wal_manual(hitl_store *st)
{
    sqlite3_wal_autocheckpoint(st->db, 0);
}

hitl_status hitl_store_wal_checkpoint(hitl_store *st, hitl_error *err)
{
    int rc = sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    return rc == SQLITE_OK || rc == SQLITE_BUSY
               ? HITL_OK
               : hitl__store_sqlerr(st, rc, err, "cannot checkpoint the write-ahead log");
}

hitl_status hitl_store_group_begin(hitl_store *st, int durable, hitl_error *err)
{
    if (st->group) return hitl_error_set(err, HITL_EINTERNAL, "a group of writes is already open");
    hitl_status r = durable ? hitl__store_exec(st, "PRAGMA synchronous=FULL", err) : HITL_OK;
    if (r == HITL_OK) r = hitl__store_begin(st, err);
    if (r != HITL_OK) {
        if (durable) hitl__store_exec(st, "PRAGMA synchronous=NORMAL", NULL);
        return r;
    }
    st->group = 1;
    st->group_durable = durable;
    st->savepoints = 0;
    return HITL_OK;
}

int hitl_store_group_next(hitl_store *st)
{
    if (!st->group || sqlite3_get_autocommit(st->db)) return 0;
    if (st->savepoints == 0) return 1;
    while (st->savepoints > 0) /* a write that returned without ending its savepoint */
        hitl__store_rollback(st);
    return -1;
}

hitl_status hitl_store_group_end(hitl_store *st, int commit, hitl_error *err)
{
    if (!st->group) return HITL_OK;
    st->group = 0;
    st->savepoints = 0;
    hitl_status r = HITL_OK;
    if (commit && !sqlite3_get_autocommit(st->db))
        r = hitl__store_commit(st, err);
    else
        hitl__store_rollback(st);
    if (st->group_durable) hitl__store_exec(st, "PRAGMA synchronous=NORMAL", NULL);
    st->group_durable = 0;
    return r;
}

/* ---- open and close ---------------------------------------------------------------------- */

/* SQL's shown(setting, reason): hitl_prediction_shown, so that queries count "shown" by the
 * rule next applies, not by a copy of it. */
static void sql_shown(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    (void)argc;
    sqlite3_result_int(ctx, hitl_prediction_shown((hitl_show_prediction)sqlite3_value_int(argv[0]),
                                                  sqlite3_value_int(argv[1]) == HITL_REASON_BLIND));
}

hitl_status hitl__store_connect(hitl_store **out, const char *path, int mode, hitl_error *err)
{
    *out = NULL;
    hitl_store *st = calloc(1, sizeof(*st));
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_rng_seed(&st->jitter, (uint64_t)getpid() * 0x9E3779B97F4A7C15ull ^ (uint64_t)time(NULL));
    /* read-only media: no -shm can be made there, so the file is opened as immutable, which
     * reads it without any lock (the WAL was merged into it when its last writer closed) */
    char *uri = NULL;
    int flags = SQLITE_OPEN_NOMUTEX;
    if (mode == HITL__CONNECT_CREATE)
        flags |= SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    else if (mode == HITL__CONNECT_WRITE)
        flags |= SQLITE_OPEN_READWRITE;
    else
        flags |= SQLITE_OPEN_READONLY;
    /* an URI reads %, # and ? as syntax: such paths cannot be opened as immutable */
    if (mode == HITL__CONNECT_IMMUTABLE && !strpbrk(path, "%#?")) {
        uri = sqlite3_mprintf("file:%s?immutable=1", path);
        flags |= SQLITE_OPEN_URI;
    }
    st->read_only = mode == HITL__CONNECT_READ || mode == HITL__CONNECT_IMMUTABLE;
    int rc = mode == HITL__CONNECT_IMMUTABLE && !uri
                 ? SQLITE_CANTOPEN
                 : sqlite3_open_v2(uri ? uri : path, &st->db, flags, NULL);
    sqlite3_free(uri);
    hitl_status r = HITL_OK;
    if (rc != SQLITE_OK) {
        r = hitl_error_set(err, HITL_EIO, "cannot open store '%s': %s", path,
                           st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    } else {
        sqlite3_busy_handler(st->db, busy_handler, st);
        sqlite3_extended_result_codes(st->db, 1);
        sqlite3_create_function(st->db, "shown", 2, SQLITE_UTF8 | SQLITE_DETERMINISTIC, NULL,
                                sql_shown, NULL, NULL);
        /* the last connection to close merges the WAL into the file and removes it (SQLite's
         * default), so that a copy of the file made between commands is the whole store */
    }
    *out = st;
    return r;
}

char *hitl__col_dup(sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    return s ? strdup((const char *)s) : NULL;
}

hitl_status hitl__store_collect(hitl_store *st, const char *sql, void **items, size_t *n,
                                size_t size, hitl__row_fn row, void *ctx, const char *what,
                                hitl_error *err)
{
    return hitl__store_collect_with(st, sql, NULL, items, n, size, row, ctx, what, err);
}

hitl_status hitl__store_collect_with(hitl_store *st, const char *sql, const char *arg, void **items,
                                     size_t *n, size_t size, hitl__row_fn row, void *ctx,
                                     const char *what, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, sql, &q, err);
    if (r != HITL_OK) return r;
    if (arg) sqlite3_bind_text(q, 1, arg, -1, SQLITE_STATIC);
    size_t cap = *n;
    int rc;
    while (r == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            size_t c = cap ? cap * 2 : 8;
            void *v = realloc(*items, c * size);
            if (!v) {
                r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                break;
            }
            *items = v;
            cap = c;
        }
        char *dst = (char *)*items + *n * size;
        memset(dst, 0, size);
        if (row(ctx, dst, q) != 0)
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        else
            (*n)++;
    }
    if (r == HITL_OK && rc != SQLITE_DONE) r = hitl__store_sqlerr(st, rc, err, what);
    hitl__store_finish(st, q);
    return r;
}

void hitl__store_disconnect(hitl_store *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->n_stmts; i++)
        sqlite3_finalize(st->stmts[i]);
    sqlite3_close(st->db);
    hitl_store_settings_release(&st->settings);
    free(st->path);
    free(st);
}

void hitl_store_close(hitl_store *st)
{
    hitl__store_disconnect(st);
}
