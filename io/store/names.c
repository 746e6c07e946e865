/* The rules for what people type: names of annotators and actors (1-64 printable UTF-8
 * characters, not all spaces), justifications counted in visible characters, and display
 * payloads (one JSON object, no key twice), checked before anything is written. */
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define NAME_MAX_CHARS 64

/* The next UTF-8 character of s (strictly: no overlong forms, surrogates or code points past
 * U+10FFFF) into *cp; its length, or 0 when s holds no valid character there. */
static size_t utf8_next(const unsigned char *s, uint32_t *cp)
{
    uint32_t c = s[0];
    size_t len = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC2 ? 2 : 0;
    if (!len || c > 0xF4) return 0;
    if (len > 1) c &= 0x3F >> (len - 1);
    for (size_t k = 1; k < len; k++) {
        if ((s[k] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[k] & 0x3F);
    }
    if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
        (c >= 0xD800 && c <= 0xDFFF))
        return 0;
    *cp = c;
    return len;
}

/* C0 and C1 controls, DEL, and the line and paragraph separators. */
static int is_control(uint32_t c)
{
    return c < 0x20 || (c >= 0x7F && c < 0xA0) || c == 0x2028 || c == 0x2029;
}

/* White space: ASCII, no-break, the Unicode spaces U+2000-U+200A, ideographic, BOM/ZWSP. */
static int is_space(uint32_t c)
{
    return c == ' ' || (c >= 0x09 && c <= 0x0D) || c == 0xA0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200B) || c == 0x202F || c == 0x205F || c == 0x3000 || c == 0xFEFF;
}

int64_t hitl_text_visible(const char *s)
{
    int64_t n = 0;
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p) {
        uint32_t c;
        size_t len = utf8_next(p, &c);
        if (!len) return -1;
        n += !is_space(c) && !is_control(c);
        p += len;
    }
    return n;
}

int hitl_text_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    uint32_t c;
    size_t len;
    while (*p && (len = utf8_next(p, &c)))
        p += len;
    return *p == '\0';
}

hitl_status hitl_name_check(const char *name, const char *what, hitl_error *err)
{
    if (!name || !*name) return hitl_error_set(err, HITL_EINVAL, "%s is empty", what);
    const unsigned char *p = (const unsigned char *)name;
    size_t chars = 0, visible = 0;
    while (*p) {
        uint32_t c;
        size_t len = utf8_next(p, &c);
        if (!len) return hitl_error_set(err, HITL_EDATA, "%s is not valid UTF-8", what);
        if (is_control(c))
            return hitl_error_set(err, HITL_EINVAL, "%s holds a control character", what);
        visible += !is_space(c);
        chars++;
        p += len;
    }
    if (chars > NAME_MAX_CHARS)
        return hitl_error_set(err, HITL_EINVAL, "%s is %zu characters long (at most %d)", what,
                              chars, NAME_MAX_CHARS);
    if (!visible) return hitl_error_set(err, HITL_EINVAL, "%s is only spaces", what);
    return HITL_OK;
}

hitl_status hitl__payload_check(const char *text, const char *item, hitl_error *err)
{
    json_error_t je;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    int object = json_is_object(o);
    json_decref(o);
    if (!o)
        return hitl_error_set(err, HITL_EDATA, "the payload of item '%s' is not JSON: %s", item,
                              je.text);
    if (!object)
        return hitl_error_set(err, HITL_EDATA, "the payload of item '%s' is not a JSON object",
                              item);
    return HITL_OK;
}
