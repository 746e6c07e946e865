/* Cookie sessions and the failed-login limit, in memory behind one mutex. A session id is 256
 * bits from OpenSSL's generator, compared in constant time; expired sessions are dropped as
 * they are met. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http_internal.h"
#include "hitl_banned.h"

double http_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int http_sessions_init(http_sessions *s)
{
    memset(s, 0, sizeof(*s));
    return pthread_mutex_init(&s->mu, NULL) == 0 ? 0 : -1;
}

void http_sessions_release(http_sessions *s)
{
    free(s->v);
    pthread_mutex_destroy(&s->mu);
}

int http_session_new(http_sessions *s, const char *account, double seconds, char id[65])
{
    unsigned char raw[32];
    if (RAND_bytes(raw, sizeof(raw)) != 1) return -1;
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof(raw); i++) {
        id[2 * i] = hex[raw[i] >> 4];
        id[2 * i + 1] = hex[raw[i] & 15];
    }
    id[64] = '\0';
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    double now = http_now();
    size_t k = 0; /* drop the expired ones while here */
    for (size_t i = 0; i < s->n; i++)
        if (s->v[i].expires > now) s->v[k++] = s->v[i];
    s->n = k;
    if (s->n == s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 16;
        http_session *grown = realloc(s->v, cap * sizeof(*grown));
        if (grown) {
            s->v = grown;
            s->cap = cap;
        }
    }
    if (s->n < s->cap) {
        http_session *x = &s->v[s->n++];
        memcpy(x->id, id, 65);
        snprintf(x->account, sizeof(x->account), "%s", account);
        x->expires = now + seconds;
    } else {
        rc = -1;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* The index of session `id`, or -1; under the lock. Every entry is compared, so the time taken
 * says nothing about which one matched. */
static long find(const http_sessions *s, const char *id)
{
    long at = -1;
    if (strlen(id) != 64) return -1;
    for (size_t i = 0; i < s->n; i++)
        if (CRYPTO_memcmp(s->v[i].id, id, 64) == 0) at = (long)i;
    return at;
}

int http_session_find(http_sessions *s, const char *id, char account[260])
{
    int rc = -1;
    pthread_mutex_lock(&s->mu);
    long i = find(s, id);
    if (i >= 0 && s->v[i].expires > http_now()) {
        memcpy(account, s->v[i].account, 260);
        rc = 0;
    } else if (i >= 0) {
        s->v[i] = s->v[--s->n];
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

void http_session_end(http_sessions *s, const char *id)
{
    pthread_mutex_lock(&s->mu);
    long i = find(s, id);
    if (i >= 0) s->v[i] = s->v[--s->n];
    pthread_mutex_unlock(&s->mu);
}

/* The slot of `client`: its own, else a free or the oldest one (reset). Under the lock. */
static http_fail *fail_slot(http_sessions *s, const char *client, int create)
{
    http_fail *oldest = &s->fails[0];
    for (size_t i = 0; i < HITL_HTTP_FAIL_SLOTS; i++) {
        http_fail *f = &s->fails[i];
        if (strcmp(f->client, client) == 0) return f;
        if (f->since < oldest->since) oldest = f;
    }
    if (!create) return NULL;
    memset(oldest, 0, sizeof(*oldest));
    snprintf(oldest->client, sizeof(oldest->client), "%s", client);
    return oldest;
}

int http_fail_blocked(http_sessions *s, const char *client)
{
    pthread_mutex_lock(&s->mu);
    http_fail *f = fail_slot(s, client, 0);
    int blocked = f && f->count >= HITL_HTTP_FAILS && http_now() - f->since < HITL_HTTP_FAIL_WINDOW;
    pthread_mutex_unlock(&s->mu);
    return blocked;
}

void http_fail_count(http_sessions *s, const char *client)
{
    pthread_mutex_lock(&s->mu);
    http_fail *f = fail_slot(s, client, 1);
    double now = http_now();
    if (now - f->since >= HITL_HTTP_FAIL_WINDOW) { /* a new window */
        f->since = now;
        f->count = 0;
    }
    f->count++;
    pthread_mutex_unlock(&s->mu);
}
