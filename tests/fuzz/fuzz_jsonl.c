/* libFuzzer harness for the items JSONL reader of `hitl queue --data` (io/store_queue.c): byte 0
 * picks hitl_store_attach_data or hitl_store_enqueue_data (payloads in the batch's transaction),
 * the rest is the file. A scratch store in $TMPDIR holds a few queued items; every payload line
 * counts as attached or ignored, and a refused file changes nothing. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_internal.h"

#define REFRESH 2048 /* inputs between fresh stores, so the audit trail stays small */

static char db[300];
static hitl_store *store;
static unsigned long runs;

static void remove_store(void)
{
    char side[320];
    unlink(db);
    snprintf(side, sizeof(side), "%s-wal", db);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", db);
    unlink(side);
}

/* A store with classes a, b and items "0", "1", "7", "a", "x y", "\u00e9" queued. */
static void fresh_store(void)
{
    hitl_store_close(store);
    store = NULL;
    if (!db[0]) {
        const char *dir = getenv("TMPDIR");
        snprintf(db, sizeof(db), "%s/hitl-fuzz-jsonl-%d.db", dir && dir[0] ? dir : "/tmp",
                 (int)getpid());
    }
    remove_store();
    char *classes[] = {"a", "b"};
    hitl_store_settings s;
    hitl_store_settings_default(&s);
    s.classes = classes;
    s.n_classes = 2;
    s.overlap = 1;
    s.lease_seconds = 600;
    s.show_prediction = HITL_SHOW_NEVER;
    s.min_justification = 0;
    static const char *const ids[] = {"0", "1", "7", "a", "x y", "\xc3\xa9"};
    hitl_queue_row rows[6];
    for (int i = 0; i < 6; i++)
        rows[i] = (hitl_queue_row){ids[i], i, HITL_REASON_UNCERTAIN, 0.5f, 0, 0.5f, 1, NULL, NULL};
    hitl_queue_batch b = {"b1", "margin", NULL, NULL, 1, "fuzz", 0, NULL};
    size_t added;
    hitl_error err;
    if (hitl_store_init(db, &s, "fuzz", &err) != HITL_OK ||
        hitl_store_open(&store, db, &err) != HITL_OK ||
        hitl_store_enqueue(store, &b, rows, 6, &added, &err) != HITL_OK || added != 6) {
        fprintf(stderr, "fuzz_jsonl: cannot make the scratch store '%s': %s\n", db, err.msg);
        __builtin_trap();
    }
}

static void cleanup(void)
{
    hitl_store_close(store);
    remove_store();
}

/* Every stored payload, as one number that changes when any does. */
static int64_t data_digest(void)
{
    sqlite3_stmt *q;
    int64_t v = -1;
    if (sqlite3_prepare_v2(store->db,
                           "SELECT count(data) * 1000003 + total(length(data)) FROM items", -1, &q,
                           NULL) != SQLITE_OK)
        __builtin_trap();
    if (sqlite3_step(q) == SQLITE_ROW) v = sqlite3_column_int64(q, 0);
    sqlite3_finalize(q);
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    if (runs++ % REFRESH == 0) {
        if (!store) atexit(cleanup);
        fresh_store();
    }
    /* the CLI reads the file whole and stops at a NUL byte, as this copy does */
    char *text = malloc(size);
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    size_t lines = 0;
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        size_t k = 0;
        while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        lines += k < len;
        p += len + (nl ? 1 : 0);
    }
    int64_t before = data_digest();
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s;
    size_t attached = 0, ignored = 0;
    if (data[0] & 1) {
        hitl_queue_row row = {"1", 1, HITL_REASON_BLIND, 0.5f, -1, 0.5f, 1, NULL, NULL};
        hitl_queue_batch b = {"b2", "margin", NULL, NULL, 2, "fuzz", 0, NULL};
        hitl_queue_counts c;
        s = hitl_store_enqueue_data(store, &b, &row, 1, text, "items.jsonl", &c, &err);
        if (s == HITL_OK && c.added != 0) __builtin_trap(); /* "1" is queued already */
        attached = c.attached;
        ignored = c.ignored;
    } else {
        s = hitl_store_attach_data(store, text, &attached, &ignored, &err);
    }
    if (s == HITL_OK && attached + ignored != lines) __builtin_trap();
    if (s != HITL_OK && (!err.msg[0] || data_digest() != before)) __builtin_trap();
    free(text);
    return 0;
}
