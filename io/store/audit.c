/* The audit chain: every change appends an event whose SHA-256 covers the previous event's hash
 * and its own canonical JSON line (sorted keys, compact, ASCII), in the same transaction as the
 * change. The line is built from the stored fields as they are, so the hash covers the exact
 * payload text; verify.c replays the chain against the tables. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

const char hitl__audit_genesis[65] =
    "0000000000000000000000000000000000000000000000000000000000000000";

/* Appends `s` as a JSON string literal exactly as jansson's json_dumps writes it with
 * JSON_ENSURE_ASCII: \" \\ \b \f \n \r \t, other control characters and every code point past
 * 0x7F as \uXXXX (upper-case hex; surrogate pairs past 0xFFFF). -1 for invalid UTF-8. */
int hitl__json_quote_ascii(hitl_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *p = (const unsigned char *)s;
    hitl_buf_putc(b, '"');
    while (*p) {
        const unsigned char *run = p;
        while (*p >= 0x20 && *p < 0x80 && *p != '"' && *p != '\\')
            p++;
        hitl_buf_put(b, (const char *)run, (size_t)(p - run));
        if (!*p) break;
        uint32_t cp = *p;
        size_t len = 1;
        if (cp >= 0x80) { /* decode one UTF-8 sequence, strictly */
            len = cp >= 0xF0 ? 4 : cp >= 0xE0 ? 3 : cp >= 0xC2 ? 2 : 0;
            if (!len || cp > 0xF4) return -1;
            cp &= 0x3F >> (len - 1);
            for (size_t k = 1; k < len; k++) {
                if ((p[k] & 0xC0) != 0x80) return -1;
                cp = (cp << 6) | (p[k] & 0x3F);
            }
            if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
                (cp >= 0xD800 && cp <= 0xDFFF))
                return -1;
        }
        const char *esc = cp == '"'    ? "\\\""
                          : cp == '\\' ? "\\\\"
                          : cp == '\b' ? "\\b"
                          : cp == '\f' ? "\\f"
                          : cp == '\n' ? "\\n"
                          : cp == '\r' ? "\\r"
                          : cp == '\t' ? "\\t"
                                       : NULL;
        if (esc) {
            hitl_buf_puts(b, esc);
        } else {
            uint32_t units[2] = {cp, 0};
            int n_units = 1;
            if (cp >= 0x10000) {
                units[0] = 0xD800 + ((cp - 0x10000) >> 10);
                units[1] = 0xDC00 + ((cp - 0x10000) & 0x3FF);
                n_units = 2;
            }
            for (int u = 0; u < n_units; u++) {
                char e[6] = {'\\',
                             'u',
                             hex[units[u] >> 12 & 15],
                             hex[units[u] >> 8 & 15],
                             hex[units[u] >> 4 & 15],
                             hex[units[u] & 15]};
                hitl_buf_put(b, e, 6);
            }
        }
        p += len;
    }
    hitl_buf_putc(b, '"');
    return 0;
}

int hitl__audit_canonical(hitl_buf *b, int64_t seq, const char *ts, const char *actor,
                          const char *actor_type, const char *event, const char *item,
                          const char *payload_text)
{
    hitl_buf_reset(b);
    int bad = 0;
    hitl_buf_puts(b, "{\"actor\":");
    bad |= hitl__json_quote_ascii(b, actor);
    hitl_buf_puts(b, ",\"actor_type\":");
    bad |= hitl__json_quote_ascii(b, actor_type);
    hitl_buf_puts(b, ",\"event\":");
    bad |= hitl__json_quote_ascii(b, event);
    hitl_buf_puts(b, ",\"item\":");
    if (item)
        bad |= hitl__json_quote_ascii(b, item);
    else
        hitl_buf_puts(b, "null");
    hitl_buf_puts(b, ",\"payload\":");
    hitl_buf_puts(b, payload_text);
    hitl_buf_puts(b, ",\"seq\":");
    hitl_buf_int(b, seq);
    hitl_buf_puts(b, ",\"ts\":");
    bad |= hitl__json_quote_ascii(b, ts);
    hitl_buf_putc(b, '}');
    return bad || b->oom ? -1 : 0;
}

int hitl__audit_hash(EVP_MD_CTX *ctx, const char *prev_hash, const char *line, size_t len,
                     char out[65])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_DigestInit_ex2(ctx, hitl__sha256(), NULL) &&
             EVP_DigestUpdate(ctx, prev_hash, 64) && EVP_DigestUpdate(ctx, "\n", 1) &&
             EVP_DigestUpdate(ctx, line, len) && EVP_DigestFinal_ex(ctx, md, &n) && n == 32;
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = ok ? hex[md[i] >> 4] : '!'; /* never equal to a real hash */
        out[2 * i + 1] = ok ? hex[md[i] & 15] : '!';
    }
    out[64] = '\0';
    return ok ? 0 : -1;
}

hitl_status hitl__audit_head(hitl_store *st, hitl_audit_head *h, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st, "SELECT value FROM meta WHERE key = 'audit_head'", &q, err);
    if (r != HITL_OK) return r;
    int rc = sqlite3_step(q);
    h->seq = 0;
    memcpy(h->hash, hitl__audit_genesis, 65);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        long long s = 0;
        char hash[65] = "";
        if (v && sscanf(v, "%lld %64s", &s, hash) >= 1) {
            h->seq = s;
            if (s > 0) memcpy(h->hash, hash, 65);
        }
        rc = SQLITE_DONE;
    }
    hitl__store_finish(st, q);
    return rc == SQLITE_DONE ? HITL_OK
                             : hitl__store_sqlerr(st, rc, err, "cannot read the audit head");
}

hitl_status hitl_audit_head_get(hitl_store *st, hitl_audit_head *h, hitl_error *err)
{
    hitl_status r = hitl__store_read(st, err);
    if (r != HITL_OK) return r;
    r = hitl__audit_head(st, h, err);
    hitl__store_rollback(st);
    return r;
}

hitl_status hitl_audit_head_parse(const char *text, hitl_audit_head *h)
{
    const char *colon = text ? strchr(text, ':') : NULL;
    if (!colon || colon == text || strlen(colon + 1) != 64) return HITL_EINVAL;
    char *end;
    long long seq = strtoll(text, &end, 10);
    if (end != colon || seq < 0) return HITL_EINVAL;
    for (const char *p = colon + 1; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) return HITL_EINVAL;
    h->seq = seq;
    memcpy(h->hash, colon + 1, 65);
    return HITL_OK;
}

hitl_status hitl__audit_next_seq(hitl_store *st, int64_t *seq, hitl_error *err)
{
    hitl_audit_head h = {0};
    hitl_status r = hitl__audit_head(st, &h, err);
    *seq = h.seq + 1;
    return r;
}

hitl_status hitl__audit_append_at(hitl_store *st, const char *ts, const char *actor,
                                  const char *actor_type, const char *event, const char *item,
                                  json_t *payload, hitl_error *err)
{
    if (!payload) return hitl_error_set(err, HITL_ENOMEM, "out of memory for an audit event");
    char *ptext = json_dumps(payload, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(payload);
    if (!ptext) return hitl_error_set(err, HITL_EDATA, "an audit event that is not UTF-8 JSON");
    hitl_audit_head head;
    char now[32], hash[65], text[96];
    if (!ts) {
        hitl__now_iso(now);
        ts = now;
    }
    hitl_status r = hitl__audit_head(st, &head, err);
    hitl_buf line = {0};
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int64_t seq = head.seq + 1;
    if (r == HITL_OK &&
        (!md || hitl__audit_canonical(&line, seq, ts, actor, actor_type, event, item, ptext) != 0))
        r = hitl_error_set(err, line.oom || !md ? HITL_ENOMEM : HITL_EDATA,
                           "cannot write an audit event for '%s' (not UTF-8?)", event);
    if (r == HITL_OK && hitl__audit_hash(md, head.hash, line.p, line.n, hash) != 0)
        r = hitl_error_set(err, HITL_EINTERNAL, "cannot hash an audit event");
    hitl_buf_release(&line);
    EVP_MD_CTX_free(md);
    sqlite3_stmt *q = NULL;
    if (r == HITL_OK)
        r = hitl__store_prepare(
            st,
            "INSERT INTO audit(seq, ts, actor, actor_type, event, item, payload, prev_hash, hash) "
            "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            &q, err);
    if (r == HITL_OK) {
        sqlite3_bind_int64(q, 1, seq);
        sqlite3_bind_text(q, 2, ts, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 3, actor, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 4, actor_type, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 5, event, -1, SQLITE_STATIC);
        if (item) sqlite3_bind_text(q, 6, item, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 7, ptext, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 8, head.hash, -1, SQLITE_STATIC);
        sqlite3_bind_text(q, 9, hash, -1, SQLITE_STATIC);
        r = hitl__store_step_done(st, q, err, "cannot append to the audit log");
        hitl__store_finish(st, q);
    }
    free(ptext);
    if (r != HITL_OK) return r;
    snprintf(text, sizeof(text), "%lld %s", (long long)seq, hash);
    return hitl__meta_write(st, "audit_head", text, err);
}

hitl_status hitl__audit_append(hitl_store *st, const char *actor, const char *actor_type,
                               const char *event, const char *item, json_t *payload,
                               hitl_error *err)
{
    return hitl__audit_append_at(st, NULL, actor, actor_type, event, item, payload, err);
}

static const char *col(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return s ? s : "";
}

hitl_status hitl_audit_each(hitl_store *st, const char *item, hitl_audit_fn fn, void *ctx,
                            hitl_error *err)
{
    const char *all = "SELECT seq, ts, actor, actor_type, event, item, payload, hash FROM audit "
                      "ORDER BY seq";
    /* an item's own events, and the event that queued it */
    const char *one =
        "SELECT seq, ts, actor, actor_type, event, item, payload, hash FROM audit WHERE item = ?1 "
        "OR seq = (SELECT queued_seq FROM items WHERE pool_id = ?1) ORDER BY seq";
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, item ? one : all, &q, err);
    if (r != HITL_OK) return r;
    if (item) sqlite3_bind_text(q, 1, item, -1, SQLITE_STATIC);
    hitl_buf line = {0};
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *it = sqlite3_column_type(q, 5) == SQLITE_NULL ? NULL : col(q, 5);
        if (hitl__audit_canonical(&line, sqlite3_column_int64(q, 0), col(q, 1), col(q, 2),
                                  col(q, 3), col(q, 4), it, col(q, 6)) != 0 &&
            line.oom) {
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        /* the export carries the hash so a reader can re-verify the chain */
        line.n--; /* the closing brace */
        hitl_buf_printf(&line, ",\"hash\":\"%s\"}", col(q, 7));
        if (fn(ctx, line.p)) break;
    }
    if (r == HITL_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot read the audit log");
    hitl_buf_release(&line);
    hitl__store_finish(st, q);
    return r;
}
