/* Internal to notebooks-export: a growable string buffer with XML escaping, shared by the SVG
 * charts and the notebook's markdown. */
#ifndef HITL_NBEXPORT_INTERNAL_H
#define HITL_NBEXPORT_INTERNAL_H

#include "hitl_nbexport.h"

/* NUL-terminated; after a failed allocation `oom` stays set and appends do nothing.
 * Zero-initialise; release with hitl__sbuf_release(). */
typedef struct hitl__sbuf {
    char *p;
    size_t n, cap;
    int oom;
} hitl__sbuf;

void hitl__sbuf_release(hitl__sbuf *s);
void hitl__sbuf_puts(hitl__sbuf *s, const char *text);
void hitl__sbuf_putc(hitl__sbuf *s, char c);
void hitl__sbuf_printf(hitl__sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends `text` with &, <, >, " and ' escaped; when max > 0, at most max bytes of it (cut at a
 * UTF-8 character boundary) followed by "...". */
void hitl__sbuf_xml(hitl__sbuf *s, const char *text, size_t max);
/* Appends `text` for a markdown table cell: | and line breaks escaped, HTML-escaped. */
void hitl__sbuf_md(hitl__sbuf *s, const char *text);

#endif /* HITL_NBEXPORT_INTERNAL_H */
