/* The growable string buffer the charts and the notebook's markdown are written into, with XML
 * and markdown-cell escaping (names come from users: they may hold any character). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

void hitl__sbuf_release(hitl__sbuf *s)
{
    free(s->p);
    memset(s, 0, sizeof(*s));
}

static int reserve(hitl__sbuf *s, size_t more)
{
    if (s->oom) return -1;
    if (s->n + more + 1 <= s->cap) return 0;
    size_t cap = s->cap ? s->cap : 1024;
    while (cap < s->n + more + 1)
        cap *= 2;
    char *p = realloc(s->p, cap);
    if (!p) {
        s->oom = 1;
        return -1;
    }
    s->p = p;
    s->cap = cap;
    return 0;
}

static void put(hitl__sbuf *s, const char *text, size_t n)
{
    if (reserve(s, n)) return;
    memcpy(s->p + s->n, text, n);
    s->n += n;
    s->p[s->n] = '\0';
}

void hitl__sbuf_puts(hitl__sbuf *s, const char *text)
{
    put(s, text, strlen(text));
}

void hitl__sbuf_putc(hitl__sbuf *s, char c)
{
    put(s, &c, 1);
}

void hitl__sbuf_printf(hitl__sbuf *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (len < 0 || reserve(s, (size_t)len)) return;
    va_start(ap, fmt);
    vsnprintf(s->p + s->n, (size_t)len + 1, fmt, ap);
    va_end(ap);
    s->n += (size_t)len;
}

void hitl__sbuf_xml(hitl__sbuf *s, const char *text, size_t max)
{
    size_t len = strlen(text), cut = len;
    if (max > 0 && len > max) {
        cut = max;
        while (cut > 0 && ((unsigned char)text[cut] & 0xC0) == 0x80)
            cut--; /* not inside a UTF-8 sequence */
    }
    for (size_t i = 0; i < cut; i++) {
        switch (text[i]) {
        case '&':
            hitl__sbuf_puts(s, "&amp;");
            break;
        case '<':
            hitl__sbuf_puts(s, "&lt;");
            break;
        case '>':
            hitl__sbuf_puts(s, "&gt;");
            break;
        case '"':
            hitl__sbuf_puts(s, "&quot;");
            break;
        case '\'':
            hitl__sbuf_puts(s, "&#39;");
            break;
        default:
            /* XML 1.0 allows no control characters but tab and line breaks */
            if ((unsigned char)text[i] < 0x20 && text[i] != '\t' && text[i] != '\n')
                hitl__sbuf_putc(s, ' ');
            else
                hitl__sbuf_putc(s, text[i]);
        }
    }
    if (cut < len) hitl__sbuf_puts(s, "...");
}

void hitl__sbuf_md(hitl__sbuf *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            hitl__sbuf_puts(s, "\\|");
        else if (*p == '\n' || *p == '\r')
            hitl__sbuf_putc(s, ' ');
        else if (*p == '<')
            hitl__sbuf_puts(s, "&lt;");
        else if (*p == '>')
            hitl__sbuf_puts(s, "&gt;");
        else if (*p == '&')
            hitl__sbuf_puts(s, "&amp;");
        else if (strchr("\\`*_[]#", *p)) {
            hitl__sbuf_putc(s, '\\');
            hitl__sbuf_putc(s, *p);
        } else
            hitl__sbuf_putc(s, *p);
    }
}
