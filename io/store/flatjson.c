/* A strict reader of flat JSON objects ({"key": scalar, ...}: strings, numbers, true, false,
 * null), the shape of nearly every audit payload and display payload, about thirty times faster
 * than building a jansson tree; a key given twice is an error, as jansson's
 * JSON_REJECT_DUPLICATES makes it. Nested values report HITL__FJ_NESTED for the caller to read
 * with jansson. */
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
        p++;
    return p;
}

/* The end of the string literal starting at p (just past its closing quote), NULL when it is
 * malformed; control characters inside are refused, as JSON requires. */
static const char *string_end(const char *p)
{
    if (*p != '"') return NULL;
    for (p++; *p != '"'; p++) {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int k = 1; k <= 4; k++)
                    if (!strchr("0123456789abcdefABCDEF", p[k]) || !p[k]) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
    }
    return p + 1;
}

/* The end of the number at p (JSON's grammar), NULL when it is not one. */
static const char *number_end(const char *p)
{
    if (*p == '-') p++;
    if (*p == '0')
        p++;
    else if (*p >= '1' && *p <= '9')
        while (*p >= '0' && *p <= '9')
            p++;
    else
        return NULL;
    if (*p == '.') {
        if (!(*++p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return NULL;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    return p;
}

static unsigned hex4(const char *p)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        char c = p[k];
        v = v * 16 + (unsigned)(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return v;
}

/* Appends one code point as UTF-8. */
static void put_utf8(hitl_buf *b, unsigned cp)
{
    char u[4];
    if (cp < 0x80) {
        hitl_buf_putc(b, (char)cp);
    } else if (cp < 0x800) {
        u[0] = (char)(0xC0 | cp >> 6);
        u[1] = (char)(0x80 | (cp & 0x3F));
        hitl_buf_put(b, u, 2);
    } else if (cp < 0x10000) {
        u[0] = (char)(0xE0 | cp >> 12);
        u[1] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[2] = (char)(0x80 | (cp & 0x3F));
        hitl_buf_put(b, u, 3);
    } else {
        u[0] = (char)(0xF0 | cp >> 18);
        u[1] = (char)(0x80 | (cp >> 12 & 0x3F));
        u[2] = (char)(0x80 | (cp >> 6 & 0x3F));
        u[3] = (char)(0x80 | (cp & 0x3F));
        hitl_buf_put(b, u, 4);
    }
}

int hitl__fj_unescape(hitl_buf *b, const char *lit, size_t len)
{
    hitl_buf_reset(b);
    const char *p = lit + 1, *end = lit + len - 1; /* inside the quotes */
    while (p < end) {
        const char *run = p;
        while (p < end && *p != '\\')
            p++;
        hitl_buf_put(b, run, (size_t)(p - run));
        if (p >= end) break;
        char c = p[1];
        p += 2;
        if (c != 'u') {
            hitl_buf_putc(b, c == 'b'   ? '\b'
                             : c == 'f' ? '\f'
                             : c == 'n' ? '\n'
                             : c == 'r' ? '\r'
                             : c == 't' ? '\t'
                                        : c);
            continue;
        }
        unsigned cp = hex4(p);
        p += 4;
        if (cp >= 0xD800 && cp < 0xDC00) { /* a high surrogate needs its low half */
            if (p + 6 > end || p[0] != '\\' || p[1] != 'u') return -1;
            unsigned lo = hex4(p + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) return -1;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            p += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return -1;
        }
        if (cp == 0) return -1; /* a NUL would end the C string early */
        put_utf8(b, cp);
    }
    return b->oom ? -1 : 0;
}

int hitl__fj_parse(const char *s, hitl__fj_pair *pairs, int max, hitl_buf *scratch)
{
    const char *p = skip_ws(s);
    if (*p++ != '{') return HITL__FJ_BAD;
    p = skip_ws(p);
    int n = 0;
    if (*p == '}') return *skip_ws(p + 1) ? HITL__FJ_BAD : 0;
    for (;;) {
        const char *k = p, *ke = string_end(p);
        if (!ke) return HITL__FJ_BAD;
        p = skip_ws(ke);
        if (*p++ != ':') return HITL__FJ_BAD;
        p = skip_ws(p);
        const char *v = p, *ve;
        char type;
        if (*p == '"') {
            ve = string_end(p);
            type = 's';
        } else if (*p == '{' || *p == '[') {
            return HITL__FJ_NESTED;
        } else if (!strncmp(p, "true", 4) || !strncmp(p, "null", 4)) {
            ve = p + 4;
            type = *p == 't' ? 't' : '0';
        } else if (!strncmp(p, "false", 5)) {
            ve = p + 5;
            type = 'f';
        } else {
            ve = number_end(p);
            type = 'n';
        }
        if (!ve || n == max) return HITL__FJ_BAD;
        pairs[n] = (hitl__fj_pair){k, (size_t)(ke - k), type, v, (size_t)(ve - v)};
        /* a key given twice, also when spelled with escapes */
        for (int i = 0; i < n; i++) {
            if (pairs[i].klen == pairs[n].klen && !memcmp(pairs[i].key, k, pairs[n].klen))
                return HITL__FJ_BAD;
            if (memchr(k, '\\', pairs[n].klen) || memchr(pairs[i].key, '\\', pairs[i].klen)) {
                char *a = NULL;
                if (hitl__fj_unescape(scratch, pairs[i].key, pairs[i].klen) == 0)
                    a = strdup(scratch->p ? scratch->p : "");
                int same = a && hitl__fj_unescape(scratch, k, pairs[n].klen) == 0 &&
                           !strcmp(a, scratch->p ? scratch->p : "");
                free(a);
                if (same) return HITL__FJ_BAD;
            }
        }
        n++;
        p = skip_ws(ve);
        if (*p == ',') {
            p = skip_ws(p + 1);
            continue;
        }
        if (*p != '}') return HITL__FJ_BAD;
        return *skip_ws(p + 1) ? HITL__FJ_BAD : n;
    }
}

const hitl__fj_pair *hitl__fj_get(const hitl__fj_pair *pairs, int n, const char *key)
{
    size_t len = strlen(key);
    for (int i = 0; i < n; i++)
        if (pairs[i].klen == len + 2 && !memcmp(pairs[i].key + 1, key, len)) return &pairs[i];
    return NULL;
}
