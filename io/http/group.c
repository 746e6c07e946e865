/* Group commit: every write the server makes goes through one store handle, and the writes
 * that arrive while one group commits form the next group, one transaction with one COMMIT.
 *
 * A request's write is queued; the first writer to find no group running leads: it takes the
 * whole queue, runs each write in its own savepoint (hitl_store_group_begin: a refused write
 * leaves nothing), commits once, and only then marks the writes done, so that no request is
 * answered before its write is durable. The others sleep on a condition variable meanwhile;
 * one of those queued during the commit leads the next group. Nothing waits for a group to
 * fill: a lone write is its own group, so an idle server answers as fast as before, and a busy
 * one pays one commit (its WAL frames, locks and system calls) for many writes.
 *
 * One handle also keeps SQLite's page cache warm: a connection drops its whole cache whenever
 * another connection has committed, so writes spread over a pool of handles re-read their
 * pages on every request.
 *
 * The writer never checkpoints: SQLite would copy the log into the file (and fsync twice) inside
 * the commit that takes it past 1,000 pages, holding up every write queued behind it. A thread
 * of its own does it instead, every CHECKPOINT_MS, without blocking the writer. */
#include "http_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECKPOINT_MS 200

struct http_write {
    http_write_fn fn;
    void *arg;
    int durable;
    hitl_error *err;
    hitl_status status;
    int done;
    struct http_write *next;
};

/* Fails the writes of [from, to) that had succeeded: their transaction is gone. */
static void lost(struct http_write *from, const struct http_write *to, const hitl_error *why)
{
    for (struct http_write *o = from; o != to; o = o->next)
        if (o->status == HITL_OK) {
            *o->err = *why;
            o->status = why->status;
        }
}

/* Runs one group: `batch` in order, all answered (status set) when this returns. */
static void run_group(hitl_http *h, struct http_write *batch)
{
    hitl_error e;
    hitl_error_clear(&e);
    int durable = 0;
    for (struct http_write *o = batch; o; o = o->next)
        durable |= o->durable;
    if (!h->writer) {
        if (hitl_store_open(&h->writer, h->db, &e) == HITL_OK)
            hitl_store_wal_manual(h->writer); /* the checkpointer below copies the log */
        else
            h->writer = NULL;
    }
    struct http_write *o = batch;
    while (o) {
        hitl_status s = h->writer ? hitl_store_group_begin(h->writer, durable, &e) : e.status;
        if (s != HITL_OK) { /* the writes left fail: their group cannot begin */
            for (; o; o = o->next) {
                *o->err = e;
                o->status = s;
            }
            return;
        }
        struct http_write *start = o;
        int alive = 1;
        for (; o && alive; o = o->next) {
            o->status = o->fn(h->writer, o->arg, o->err);
            int next = hitl_store_group_next(h->writer);
            if (next < 0 && o->status == HITL_OK)
                o->status =
                    hitl_error_set(o->err, HITL_EINTERNAL, "a write left its transaction open");
            if (next == 0) {
                /* SQLite rolled the transaction back (a full disk): this write says why, and
                 * the group's earlier writes, lost with it, answer the same */
                hitl_error why = *o->err;
                if (o->status == HITL_OK)
                    hitl_error_set(&why, HITL_EIO, "the write was rolled back: try again");
                lost(start, o->next, &why);
                alive = 0;
            }
        }
        if (!alive)
            hitl_store_group_end(h->writer, 0, NULL); /* and a new group for the rest */
        else if (hitl_store_group_end(h->writer, 1, &e) != HITL_OK)
            lost(start, NULL, &e);
    }
}

hitl_status http_write(hitl_http *h, http_write_fn fn, void *arg, int durable, hitl_error *err)
{
    struct http_write me = {fn, arg, durable, err, HITL_OK, 0, NULL};
    pthread_mutex_lock(&h->write_mu);
    *(h->queue_tail ? &h->queue_tail->next : &h->queue) = &me;
    h->queue_tail = &me;
    while (!me.done) {
        if (h->leading) {
            pthread_cond_wait(&h->write_cv, &h->write_mu);
            continue;
        }
        struct http_write *batch = h->queue;
        h->queue = h->queue_tail = NULL;
        h->leading = 1;
        pthread_mutex_unlock(&h->write_mu);
        run_group(h, batch);
        pthread_mutex_lock(&h->write_mu);
        for (struct http_write *o = batch; o; o = o->next)
            o->done = 1;
        h->leading = 0;
        pthread_cond_broadcast(&h->write_cv);
    }
    pthread_mutex_unlock(&h->write_mu);
    return me.status;
}

static void *checkpoint_main(void *arg)
{
    hitl_http *h = arg;
    http_checkpointer *c = &h->checkpointer;
    hitl_store *st = NULL;
    pthread_mutex_lock(&c->mu);
    while (!c->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += CHECKPOINT_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&c->cv, &c->mu, &ts);
        if (c->stop) break;
        pthread_mutex_unlock(&c->mu);
        hitl_error err;
        if (st || hitl_store_open(&st, h->db, &err) == HITL_OK) hitl_store_wal_checkpoint(st, &err);
        pthread_mutex_lock(&c->mu);
    }
    pthread_mutex_unlock(&c->mu);
    hitl_store_close(st);
    return NULL;
}

int http_checkpointer_start(hitl_http *h)
{
    http_checkpointer *c = &h->checkpointer;
    pthread_mutex_init(&c->mu, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cv, &a);
    pthread_condattr_destroy(&a);
    c->inited = 1;
    if (pthread_create(&c->thread, NULL, checkpoint_main, h) != 0) return -1;
    c->running = 1;
    return 0;
}

void http_checkpointer_stop(hitl_http *h)
{
    http_checkpointer *c = &h->checkpointer;
    if (!c->inited) return;
    if (c->running) {
        pthread_mutex_lock(&c->mu);
        c->stop = 1;
        pthread_cond_signal(&c->cv);
        pthread_mutex_unlock(&c->mu);
        pthread_join(c->thread, NULL);
        c->running = 0;
    }
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    c->inited = 0;
}
