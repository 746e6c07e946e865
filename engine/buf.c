/* hitl_buf: the one growable text buffer, for every layer that builds text. It formats into
 * memory only; stdio.h is here for vsnprintf, as in error.c. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

void hitl_buf_release(hitl_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

void hitl_buf_reset(hitl_buf *b)
{
    b->n = 0;
    b->oom = 0;
    if (b->p) b->p[0] = '\0';
}

/* Room for `more` bytes and the NUL; -1 (and oom set) when there is none. */
static int reserve(hitl_buf *b, size_t more)
{
    if (b->oom) return -1;
    if (more > SIZE_MAX / 2 - b->n) {
        b->oom = 1;
        return -1;
    }
    if (b->n + more + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) {
        b->oom = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

void hitl_buf_put(hitl_buf *b, const char *s, size_t n)
{
    if (reserve(b, n)) return;
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

void hitl_buf_puts(hitl_buf *b, const char *s)
{
    hitl_buf_put(b, s, strlen(s));
}

void hitl_buf_putc(hitl_buf *b, char c)
{
    if (reserve(b, 1)) return;
    b->p[b->n++] = c;
    b->p[b->n] = '\0';
}

void hitl_buf_printf(hitl_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (len < 0) return;
    if ((size_t)len < sizeof(small)) {
        hitl_buf_put(b, small, (size_t)len);
        return;
    }
    if (reserve(b, (size_t)len)) return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)len;
}

void hitl_buf_int(hitl_buf *b, int64_t v)
{
    char buf[24], *p = buf + sizeof(buf);
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do
        *--p = (char)('0' + u % 10);
    while (u /= 10);
    if (v < 0) *--p = '-';
    hitl_buf_put(b, p, (size_t)(buf + sizeof(buf) - p));
}
