/* The audit chain, read and checked on a thread of its own while the caller replays it.
 *
 * Reading 3,000,000 events from SQLite, writing each one's canonical line and hashing it takes
 * about as long as replaying them (verify.c), so the two run side by side: this file's thread
 * fills batches of checked events, the calling thread replays each batch as it comes. Only
 * events that check are handed over, in order, so the replay sees exactly what a single pass
 * would have seen before the first break. The thread owns the store's connection until the walk
 * ends (the replay does not touch SQLite). */
#include <openssl/evp.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define BATCH   4096 /* events a batch */
#define BATCHES 3    /* batches in flight: one filled, one replayed, one spare */

enum { TS, ACTOR, EVENT, ITEM, PREV, PAYLOAD, N_COLS };

typedef struct batch {
    hitl__chain_event ev[BATCH];
    size_t off[BATCH][N_COLS]; /* into text while the batch fills (text may move) */
    size_t n;
    hitl_buf text;
} batch;

typedef struct walk {
    hitl_store *st;
    const hitl_audit_head *want;
    hitl__chain_result *res;
    batch *b; /* [BATCHES] */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t full;  /* batches filled and not yet replayed */
    int finished; /* the reader has handed over its last batch */
    /* the reader's own */
    sqlite3_stmt *q;
    EVP_MD_CTX *md;
    hitl_buf line;
    char prev[65];
    int64_t expect;
} walk;

static const char *col0(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return s ? s : "";
}

static size_t put(hitl_buf *t, const char *s)
{
    size_t off = t->n;
    hitl_buf_put(t, s, strlen(s) + 1);
    return off;
}

/* Fills b with the next checked events; 1 when the chain goes on after them. */
static int fill(walk *w, batch *b)
{
    hitl__chain_result *r = w->res;
    sqlite3_stmt *q = w->q;
    char hash[65];
    b->n = 0;
    hitl_buf_reset(&b->text);
    int rc = SQLITE_ROW;
    while (b->n < BATCH && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(q, 0);
        if (seq != w->expect) { /* a deleted event leaves a gap; an inserted one, a stranger */
            r->bad_seq = seq < w->expect ? seq : w->expect;
            r->broken = HITL__CHAIN_GAP;
            break;
        }
        const char *item = sqlite3_column_type(q, 5) == SQLITE_NULL ? NULL : col0(q, 5);
        int bad = hitl__audit_canonical(&w->line, seq, col0(q, 1), col0(q, 2), col0(q, 3),
                                        col0(q, 4), item, col0(q, 6)) != 0;
        bad = bad || hitl__audit_hash(w->md, w->prev, w->line.p, w->line.n, hash) != 0;
        if (bad || strcmp(col0(q, 7), w->prev) != 0 || strcmp(col0(q, 8), hash) != 0) {
            r->bad_seq = seq;
            r->broken = HITL__CHAIN_EDITED;
            break;
        }
        if (w->want && seq == w->want->seq)
            r->head_found = strcmp(hash, w->want->hash) == 0 ? 1 : -1;
        size_t *off = b->off[b->n];
        off[TS] = put(&b->text, col0(q, 1));
        off[ACTOR] = put(&b->text, col0(q, 2));
        off[EVENT] = put(&b->text, col0(q, 4));
        off[ITEM] = item ? put(&b->text, item) : (size_t)-1;
        off[PREV] = put(&b->text, w->prev);
        off[PAYLOAD] = put(&b->text, col0(q, 6));
        b->ev[b->n++].seq = seq;
        memcpy(w->prev, hash, 65);
        w->expect++;
    }
    if (b->text.oom) {
        r->status = hitl_error_set(&r->err, HITL_ENOMEM, "out of memory reading the audit log");
        b->n = 0;
        return 0;
    }
    for (size_t i = 0; i < b->n; i++) {
        const size_t *off = b->off[i];
        hitl__chain_event *e = &b->ev[i];
        e->ts = b->text.p + off[TS];
        e->actor = b->text.p + off[ACTOR];
        e->event = b->text.p + off[EVENT];
        e->item = off[ITEM] == (size_t)-1 ? NULL : b->text.p + off[ITEM];
        e->prev = b->text.p + off[PREV];
        e->payload = b->text.p + off[PAYLOAD];
    }
    if (r->broken) return 0;
    if (rc == SQLITE_ROW) return 1; /* the batch is full */
    if (rc != SQLITE_DONE)
        r->status = hitl__store_sqlerr(w->st, rc, &r->err, "cannot read the audit log");
    return 0;
}

static void *reader(void *arg)
{
    walk *w = arg;
    for (size_t k = 0;; k++) {
        pthread_mutex_lock(&w->mu);
        while (w->full == BATCHES)
            pthread_cond_wait(&w->cv, &w->mu);
        pthread_mutex_unlock(&w->mu);
        int more = fill(w, &w->b[k % BATCHES]);
        pthread_mutex_lock(&w->mu);
        w->full++;
        w->finished = !more;
        pthread_cond_broadcast(&w->cv);
        pthread_mutex_unlock(&w->mu);
        if (!more) return NULL;
    }
}

hitl_status hitl__chain_walk(hitl_store *st, const hitl_audit_head *want, hitl__chain_fn fn,
                             void *ctx, hitl__chain_result *res)
{
    memset(res, 0, sizeof(*res));
    res->bad_seq = -1;
    hitl_error_clear(&res->err);
    walk w = {.st = st, .want = want, .res = res, .expect = 1};
    memcpy(w.prev, hitl__audit_genesis, 65);
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT seq, ts, actor, actor_type, event, item, payload, prev_hash, hash FROM audit "
        "ORDER BY seq",
        &w.q, &res->err);
    if (r != HITL_OK) return res->status = r;
    w.md = EVP_MD_CTX_new();
    w.b = calloc(BATCHES, sizeof(*w.b));
    if (!w.md || !w.b) {
        res->status = hitl_error_set(&res->err, HITL_ENOMEM, "out of memory reading the audit log");
    } else {
        pthread_mutex_init(&w.mu, NULL);
        pthread_cond_init(&w.cv, NULL);
        pthread_t t;
        int threaded = pthread_create(&t, NULL, reader, &w) == 0;
        for (size_t k = 0;; k++) {
            batch *b = &w.b[k % BATCHES];
            int more = 1;
            if (threaded) {
                pthread_mutex_lock(&w.mu);
                while (w.full == 0 && !w.finished)
                    pthread_cond_wait(&w.cv, &w.mu);
                if (w.full == 0) more = 0; /* finished, and every batch replayed */
                pthread_mutex_unlock(&w.mu);
                if (!more) break;
            } else {
                more = fill(&w, b); /* no thread: read, then replay, batch by batch */
            }
            for (size_t i = 0; i < b->n; i++)
                fn(ctx, &b->ev[i]);
            if (!threaded) {
                if (!more) break;
                continue;
            }
            pthread_mutex_lock(&w.mu);
            w.full--;
            pthread_cond_broadcast(&w.cv);
            pthread_mutex_unlock(&w.mu);
        }
        if (threaded) pthread_join(t, NULL);
        pthread_mutex_destroy(&w.mu);
        pthread_cond_destroy(&w.cv);
    }
    res->events = w.expect - 1;
    memcpy(res->last_hash, w.prev, 65);
    hitl__store_finish(st, w.q);
    if (w.b)
        for (size_t i = 0; i < BATCHES; i++)
            hitl_buf_release(&w.b[i].text);
    free(w.b);
    hitl_buf_release(&w.line);
    EVP_MD_CTX_free(w.md);
    return res->status;
}
