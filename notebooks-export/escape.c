/* Names come from users and may hold any character: escaping them into the engine's hitl_buf
 * for the SVG charts (XML) and the notebooks' markdown table cells. */
#include <string.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

void hitl__buf_xml(hitl_buf *s, const char *text, size_t max)
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
            hitl_buf_puts(s, "&amp;");
            break;
        case '<':
            hitl_buf_puts(s, "&lt;");
            break;
        case '>':
            hitl_buf_puts(s, "&gt;");
            break;
        case '"':
            hitl_buf_puts(s, "&quot;");
            break;
        case '\'':
            hitl_buf_puts(s, "&#39;");
            break;
        default:
            /* XML 1.0 allows no control characters but tab and line breaks */
            if ((unsigned char)text[i] < 0x20 && text[i] != '\t' && text[i] != '\n')
                hitl_buf_putc(s, ' ');
            else
                hitl_buf_putc(s, text[i]);
        }
    }
    if (cut < len) hitl_buf_puts(s, "...");
}

void hitl__buf_md(hitl_buf *s, const char *text)
{
    for (const char *p = text; *p; p++) {
        if (*p == '|')
            hitl_buf_puts(s, "\\|");
        else if (*p == '\n' || *p == '\r')
            hitl_buf_putc(s, ' ');
        else if (*p == '<')
            hitl_buf_puts(s, "&lt;");
        else if (*p == '>')
            hitl_buf_puts(s, "&gt;");
        else if (*p == '&')
            hitl_buf_puts(s, "&amp;");
        else if (strchr("\\`*_[]#", *p)) {
            hitl_buf_putc(s, '\\');
            hitl_buf_putc(s, *p);
        } else
            hitl_buf_putc(s, *p);
    }
}
