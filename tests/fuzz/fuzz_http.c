/* libFuzzer harness for io/http's pure parts: the router (a method and a raw path) and the
 * strict JSON bodies. Input: a method selector byte, the path up to a newline, then the body.
 * Checks: a decoded argument, encoded again, routes to the same place; a body accepted holds
 * only the allowed fields, all strings. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http_internal.h"

static void encode(const char *s, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t k = 0;
    for (; *s && k + 4 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.') {
            out[k++] = (char)c;
        } else {
            out[k++] = '%';
            out[k++] = hex[c >> 4];
            out[k++] = hex[c & 15];
        }
    }
    out[k] = '\0';
}

static void check_route(const char *method, const char *path)
{
    hitl_http_match r, again;
    if (hitl_http_route(method, path, &r) != HITL_OK) return;
    if (r.bad_method && r.id == HITL_R_NONE) __builtin_trap();
    if (r.id == HITL_R_ASSET && (r.asset < 0 || (size_t)r.asset >= hitl_n_assets)) __builtin_trap();
    if (r.id != HITL_R_ITEM && r.id != HITL_R_LABEL && r.id != HITL_R_SKIP && r.id != HITL_R_UNDO &&
        r.id != HITL_R_ADJUDICATE)
        return;
    static const char *const tail[] = {[HITL_R_ITEM] = "",
                                       [HITL_R_LABEL] = "/label",
                                       [HITL_R_SKIP] = "/skip",
                                       [HITL_R_UNDO] = "/undo",
                                       [HITL_R_ADJUDICATE] = "/adjudicate"};
    char enc[3 * sizeof(r.arg) + 64], p[sizeof(enc) + 64];
    encode(r.arg, enc, sizeof(enc));
    snprintf(p, sizeof(p), "/api/v1/items/%s%s", enc, tail[r.id]);
    if (hitl_http_route(method, p, &again) != HITL_OK || again.id != r.id ||
        strcmp(again.arg, r.arg) != 0)
        __builtin_trap();
}

static void check_body(const char *body, size_t n)
{
    static const char *const fields[] = {"label", "justification", NULL};
    json_t *j;
    char why[200];
    if (hitl_http_body(body, n, fields, &j, why, sizeof(why)) != HITL_OK) return;
    const char *key;
    json_t *v;
    json_object_foreach(j, key, v)
    {
        if (strcmp(key, "label") != 0 && strcmp(key, "justification") != 0) __builtin_trap();
        if (!json_is_string(v)) __builtin_trap();
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "PUT"};
    if (size < 1) return 0;
    const char *method = methods[data[0] & 3];
    const char *rest = (const char *)data + 1;
    size_t n = size - 1;
    const char *nl = memchr(rest, '\n', n);
    size_t plen = nl ? (size_t)(nl - rest) : n;
    char path[4096];
    if (plen >= sizeof(path)) return 0;
    memcpy(path, rest, plen);
    path[plen] = '\0';
    if (strlen(path) == plen) check_route(method, path);
    if (nl) check_body(nl + 1, n - plen - 1);
    return 0;
}
