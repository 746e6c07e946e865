/* The audit chain: every change appends an event whose SHA-256 covers the previous event's hash
 * and its own canonical JSON line (sorted keys, compact), in the same transaction as the change;
 * verify recomputes the chain and the recorded head to find any edit, insertion, deletion or
 * reordering made behind hitl's back. */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static const char genesis[65] = "0000000000000000000000000000000000000000000000000000000000000000";

char *hitl__audit_canonical(int64_t seq, const char *ts, const char *actor, const char *actor_type,
                            const char *event, const char *item, const char *payload_text)
{
    json_t *payload = json_loads(payload_text, JSON_DECODE_ANY, NULL);
    if (!payload) payload = json_string(payload_text); /* tampered text still hashes */
    json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o?, s:o}", "seq", (json_int_t)seq, "ts", ts,
                          "actor", actor, "actor_type", actor_type, "event", event, "item",
                          item ? json_string(item) : json_null(), "payload", payload);
    if (!o) return NULL;
    char *line = json_dumps(o, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(o);
    return line;
}

void hitl__audit_hash(const char *prev_hash, const char *canonical, char out[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
        EVP_DigestUpdate(ctx, prev_hash, strlen(prev_hash)) && EVP_DigestUpdate(ctx, "\n", 1) &&
        EVP_DigestUpdate(ctx, canonical, strlen(canonical)) && EVP_DigestFinal_ex(ctx, md, &len)) {
        for (unsigned i = 0; i < len && i < 32; i++)
            snprintf(out + 2 * i, 3, "%02x", md[i]);
    } else {
        memset(out, '!', 64); /* never equal to a real hash: verify fails loudly */
    }
    out[64] = '\0';
    EVP_MD_CTX_free(ctx);
}

/* The head (last sequence number and hash) is kept in meta, so deleting the newest events is
 * caught too. Format: "<seq> <hash>". */
static hitl_status read_head(hitl_store *st, int64_t *seq, char hash[65], hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st, "SELECT value FROM meta WHERE key = 'audit_head'", &q, err);
    if (r != HITL_OK) return r;
    int rc = sqlite3_step(q);
    *seq = 0;
    memcpy(hash, genesis, 65);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(q, 0);
        long long s = 0;
        char h[65] = "";
        if (v && sscanf(v, "%lld %64s", &s, h) >= 1) {
            *seq = s;
            if (s > 0) memcpy(hash, h, 65);
        }
        rc = SQLITE_DONE;
    }
    hitl__store_finish(st, q);
    return rc == SQLITE_DONE ? HITL_OK
                             : hitl__store_sqlerr(st, rc, err, "cannot read the audit head");
}

hitl_status hitl__audit_append(hitl_store *st, const char *actor, const char *actor_type,
                               const char *event, const char *item, json_t *payload,
                               hitl_error *err)
{
    if (!payload) return hitl_error_set(err, HITL_ENOMEM, "out of memory for an audit event");
    char *ptext = json_dumps(payload, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENSURE_ASCII);
    json_decref(payload);
    if (!ptext) return hitl_error_set(err, HITL_ENOMEM, "out of memory for an audit event");
    int64_t seq;
    char prev[65], ts[32], hash[65], head[96];
    hitl_status r = read_head(st, &seq, prev, err);
    if (r != HITL_OK) {
        free(ptext);
        return r;
    }
    seq++;
    hitl__now_iso(ts);
    char *line = hitl__audit_canonical(seq, ts, actor, actor_type, event, item, ptext);
    if (!line) {
        free(ptext);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for an audit event");
    }
    hitl__audit_hash(prev, line, hash);
    free(line);
    sqlite3_stmt *q;
    r = hitl__store_prepare(
        st,
        "INSERT INTO audit(seq, ts, actor, actor_type, event, item, payload, prev_hash, hash) "
        "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        &q, err);
    if (r != HITL_OK) {
        free(ptext);
        return r;
    }
    sqlite3_bind_int64(q, 1, seq);
    sqlite3_bind_text(q, 2, ts, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, actor, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, actor_type, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, event, -1, SQLITE_STATIC);
    if (item) sqlite3_bind_text(q, 6, item, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 7, ptext, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 8, prev, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 9, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    free(ptext);
    if (rc != SQLITE_DONE) return hitl__store_sqlerr(st, rc, err, "cannot append to the audit log");
    snprintf(head, sizeof(head), "%lld %s", (long long)seq, hash);
    r = hitl__store_prepare(st, "UPDATE meta SET value = ?1 WHERE key = 'audit_head'", &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, head, -1, SQLITE_STATIC);
    rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    return rc == SQLITE_DONE ? HITL_OK
                             : hitl__store_sqlerr(st, rc, err, "cannot move the audit head");
}

static const char *col(sqlite3_stmt *q, int i)
{
    const char *s = (const char *)sqlite3_column_text(q, i);
    return s ? s : "";
}

hitl_status hitl_audit_verify(hitl_store *st, int64_t *bad_seq, int64_t *n_events, hitl_error *err)
{
    *bad_seq = -1;
    if (n_events) *n_events = 0;
    /* one read transaction: a consistent snapshot while writers go on */
    hitl_status r = hitl__store_read(st, err);
    if (r != HITL_OK) return r;
    int64_t head_seq;
    char head_hash[65], prev[65];
    if ((r = read_head(st, &head_seq, head_hash, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    sqlite3_stmt *q;
    r = hitl__store_prepare(
        st,
        "SELECT seq, ts, actor, actor_type, event, item, payload, prev_hash, hash FROM audit "
        "ORDER BY seq",
        &q, err);
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    memcpy(prev, genesis, 65);
    int64_t expect = 1, bad = -1;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        int64_t seq = sqlite3_column_int64(q, 0);
        if (seq != expect) { /* a deleted event leaves a gap; an inserted one, a stranger */
            bad = seq < expect ? seq : expect;
            break;
        }
        const char *item = sqlite3_column_type(q, 5) == SQLITE_NULL ? NULL : col(q, 5);
        char *line =
            hitl__audit_canonical(seq, col(q, 1), col(q, 2), col(q, 3), col(q, 4), item, col(q, 6));
        char hash[65];
        if (!line) {
            hitl__store_finish(st, q);
            hitl__store_rollback(st);
            return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
        hitl__audit_hash(prev, line, hash);
        free(line);
        if (strcmp(col(q, 7), prev) != 0 || strcmp(col(q, 8), hash) != 0) {
            bad = seq;
            break;
        }
        memcpy(prev, hash, 65);
        expect++;
    }
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        hitl__store_finish(st, q);
        hitl__store_rollback(st);
        return hitl__store_sqlerr(st, rc, err, "cannot read the audit log");
    }
    hitl__store_finish(st, q);
    hitl__store_rollback(st);
    if (n_events) *n_events = expect - 1;
    /* the newest events deleted, or events appended without moving the head */
    if (bad < 0 && (head_seq != expect - 1 || strcmp(head_hash, prev) != 0))
        bad = head_seq < expect - 1 ? head_seq + 1 : expect;
    if (bad < 0) return HITL_OK;
    *bad_seq = bad;
    return hitl_error_set(err, HITL_EDATA, "'%s': audit chain broken at event %lld", st->path,
                          (long long)bad);
}

hitl_status hitl_audit_each(hitl_store *st, const char *item, hitl_audit_fn fn, void *ctx,
                            hitl_error *err)
{
    const char *all = "SELECT seq, ts, actor, actor_type, event, item, payload, hash FROM audit "
                      "ORDER BY seq";
    /* an item's own events, and the events of the batch that queued it */
    const char *one =
        "SELECT seq, ts, actor, actor_type, event, item, payload, hash FROM audit WHERE item = ?1 "
        "OR (event = 'queue' AND json_extract(payload, '$.batch') = "
        "(SELECT batch FROM items WHERE pool_id = ?1)) ORDER BY seq";
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, item ? one : all, &q, err);
    if (r != HITL_OK) return r;
    if (item) sqlite3_bind_text(q, 1, item, -1, SQLITE_STATIC);
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        const char *it = sqlite3_column_type(q, 5) == SQLITE_NULL ? NULL : col(q, 5);
        char *line = hitl__audit_canonical(sqlite3_column_int64(q, 0), col(q, 1), col(q, 2),
                                           col(q, 3), col(q, 4), it, col(q, 6));
        if (!line) {
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        /* the export carries the hash so a reader can re-verify the chain */
        size_t len = strlen(line);
        char *with_hash = malloc(len + 80);
        if (!with_hash) {
            free(line);
            r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
        snprintf(with_hash, len + 80, "%.*s,\"hash\":\"%s\"}", (int)(len - 1), line, col(q, 7));
        free(line);
        int stop = fn(ctx, with_hash);
        free(with_hash);
        if (stop) break;
    }
    if (r == HITL_OK && rc != SQLITE_ROW && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot read the audit log");
    hitl__store_finish(st, q);
    return r;
}
