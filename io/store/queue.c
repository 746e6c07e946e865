/* The queue: a batch of pool rows enqueued with its audit event, and display payloads attached
 * to queued items, each one short BEGIN IMMEDIATE transaction; and which ids are known. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

hitl_status hitl_store_known(hitl_store *st, char *const *ids, size_t n, uint8_t *out,
                             hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, "SELECT 1 FROM items WHERE pool_id = ?1", &q, err);
    if (r != HITL_OK) return r;
    if ((r = hitl__store_read(st, err)) != HITL_OK) { /* one snapshot for all the lookups */
        hitl__store_finish(st, q);
        return r;
    }
    for (size_t i = 0; i < n && r == HITL_OK; i++) {
        sqlite3_bind_text(q, 1, ids[i], -1, SQLITE_STATIC);
        int rc = sqlite3_step(q);
        if (rc == SQLITE_ROW)
            out[i] = 1;
        else if (rc == SQLITE_DONE)
            out[i] = 0;
        else
            r = hitl__store_sqlerr(st, rc, err, "cannot read the queue");
        sqlite3_reset(q);
    }
    hitl__store_rollback(st);
    hitl__store_finish(st, q);
    return r;
}

/* What a batch added: the counts its audit event carries, and digests of the added items' lines
 * and of their payloads' lines. */
typedef struct batch_tally {
    size_t added, blind, review, flag;
    hitl__digest items, data;
    hitl_buf line; /* one line at a time, for the digests */
} batch_tally;

/* The items INSERT with the batch's own columns bound (the same for every row). */
static hitl_status prepare_insert(hitl_store *st, const hitl_queue_batch *b, const char *now,
                                  int64_t seq, sqlite3_stmt **ins, hitl_error *err)
{
    hitl_status r = hitl__store_prepare(
        st,
        "INSERT INTO items(pool_id, pool_row, batch, reason, score, method, model, seed, source,"
        " pred, p1, route, required, position, queued_at, data, queued_seq, data_seq)"
        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
        " ON CONFLICT(pool_id) DO NOTHING",
        ins, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(*ins, 3, b->batch, -1, SQLITE_STATIC);
    sqlite3_bind_text(*ins, 6, b->method, -1, SQLITE_STATIC);
    if (b->model) sqlite3_bind_text(*ins, 7, b->model, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*ins, 8, (sqlite3_int64)b->seed);
    if (b->source) sqlite3_bind_text(*ins, 9, b->source, -1, SQLITE_STATIC);
    sqlite3_bind_text(*ins, 15, now, -1, SQLITE_STATIC);
    sqlite3_bind_int64(*ins, 17, seq);
    return HITL_OK;
}

/* Row q's fields into f (which holds the batch's) and its own columns bound in ins. */
static void bind_row(hitl_store *st, sqlite3_stmt *ins, const hitl_queue_row *q, int64_t position,
                     int64_t seq, hitl__item_fields *f)
{
    f->pool_id = q->pool_id;
    f->pool_row = q->row;
    f->reason = q->reason;
    f->score = q->score;
    f->pred = q->pred >= 0 ? q->pred : -1;
    f->p1 = q->p1;
    f->route = q->route;
    f->required = q->required > 0 ? q->required : st->settings.overlap;
    f->position = position;
    sqlite3_bind_text(ins, 1, q->pool_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(ins, 2, q->row);
    sqlite3_bind_int(ins, 4, q->reason);
    sqlite3_bind_double(ins, 5, q->score);
    if (q->pred >= 0)
        sqlite3_bind_int(ins, 10, q->pred);
    else
        sqlite3_bind_null(ins, 10);
    sqlite3_bind_double(ins, 11, q->p1);
    if (q->route)
        sqlite3_bind_text(ins, 12, q->route, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(ins, 12);
    sqlite3_bind_int(ins, 13, f->required);
    sqlite3_bind_int64(ins, 14, f->position);
    if (q->data) {
        sqlite3_bind_text(ins, 16, q->data, -1, SQLITE_STATIC);
        sqlite3_bind_int64(ins, 18, seq);
    } else {
        sqlite3_bind_null(ins, 16);
        sqlite3_bind_null(ins, 18);
    }
}

/* Counts an added row (fields f) and adds its lines to the digests. */
static void tally_added(batch_tally *t, const hitl_queue_row *q, const hitl__item_fields *f)
{
    t->added++;
    t->blind += q->reason == HITL_REASON_BLIND;
    t->review += q->route && strcmp(q->route, "review") == 0;
    t->flag += q->route && strcmp(q->route, "flag") == 0;
    hitl_buf_reset(&t->line);
    hitl__item_line(&t->line, f);
    hitl__digest_add(&t->items, &t->line);
    if (q->data) {
        hitl_buf_reset(&t->line);
        hitl__data_line(&t->line, q->pool_id, q->data);
        hitl__digest_add(&t->data, &t->line);
    }
}

/* The batch's "queue" audit event: what it added from position `base` on. Finishes t's
 * digests. */
static hitl_status queue_event(hitl_store *st, const hitl_queue_batch *b, const char *now,
                               int64_t base, batch_tally *t, hitl_error *err)
{
    char items_digest[65], data_digest[65];
    int64_t n_data = t->data.n;
    hitl__digest_final(&t->items, items_digest);
    hitl__digest_final(&t->data, data_digest);
    json_t *payload = json_pack(
        "{s:s, s:s, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I}", "batch", b->batch,
        "method", b->method, "model", b->model, "source", b->source, "seed", (json_int_t)b->seed,
        "added", (json_int_t)t->added, "uncertain", (json_int_t)(t->added - t->blind), "blind",
        (json_int_t)t->blind, "review", (json_int_t)t->review, "flag", (json_int_t)t->flag,
        "proceed", (json_int_t)b->n_proceed, "digest", items_digest, "first", (json_int_t)base);
    if (payload && b->naming) json_object_set_new(payload, "ids", json_string(b->naming));
    if (payload && n_data) {
        json_object_set_new(payload, "data_digest", json_string(data_digest));
        json_object_set_new(payload, "data_count", json_integer(n_data));
    }
    return hitl__audit_append_at(st, now, b->actor, "human", "queue", NULL, payload, err);
}

hitl_status hitl__store_enqueue_rows(hitl_store *st, const hitl_queue_batch *b,
                                     const hitl_queue_row *rows, size_t n, size_t *added,
                                     hitl_error *err)
{
    sqlite3_stmt *pos = NULL, *ins = NULL;
    int64_t base = 0, seq = 0;
    char now[32];
    hitl__now_iso(now);
    batch_tally t = {0};
    hitl_status r = hitl__audit_next_seq(st, &seq, err);
    if (r == HITL_OK && (hitl__digest_init(&t.items) || hitl__digest_init(&t.data)))
        r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (r == HITL_OK)
        r = hitl__store_prepare(st, "SELECT coalesce(max(position), -1) + 1 FROM items", &pos, err);
    if (r != HITL_OK) goto done;
    int rc = sqlite3_step(pos);
    if (rc != SQLITE_ROW) {
        r = hitl__store_sqlerr(st, rc, err, "cannot read the queue");
        goto done;
    }
    base = sqlite3_column_int64(pos, 0);
    if ((r = prepare_insert(st, b, now, seq, &ins, err)) != HITL_OK) goto done;
    hitl__item_fields f = {.batch = b->batch,
                           .method = b->method,
                           .model = b->model,
                           .seed = (int64_t)b->seed,
                           .source = b->source,
                           .queued_at = now};
    for (size_t i = 0; i < n; i++) {
        const hitl_queue_row *q = &rows[i];
        if (q->data && (r = hitl__payload_check(q->data, q->pool_id, err)) != HITL_OK) goto done;
        bind_row(st, ins, q, base + (int64_t)i, seq, &f);
        if ((r = hitl__store_step_done(st, ins, err, "cannot enqueue")) != HITL_OK) goto done;
        if (sqlite3_changes(st->db) == 1) tally_added(&t, q, &f);
    }
    if (t.line.oom) {
        r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        goto done;
    }
    r = queue_event(st, b, now, base, &t, err);
    if (r == HITL_OK) *added = t.added;
done:
    hitl__digest_release(&t.items);
    hitl__digest_release(&t.data);
    hitl_buf_release(&t.line);
    hitl__store_finish(st, pos);
    hitl__store_finish(st, ins);
    return r;
}

/* One payload line into its item, inside the attach: *changed gets the item's old and new
 * payload hashes when it had another one. 1 in *hit when the id is queued. */
static hitl_status attach_one(hitl_store *st, int64_t seq, const char *id, const char *text,
                              size_t lineno, int *hit, json_t *changed, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st, "SELECT id, data, n_labels > 0 OR state > 0 FROM items WHERE pool_id = ?1", &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, id, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    *hit = rc == SQLITE_ROW;
    if (rc != SQLITE_ROW) {
        hitl__store_finish(st, q);
        return rc == SQLITE_DONE ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot read items");
    }
    sqlite3_int64 item = sqlite3_column_int64(q, 0);
    const char *old = (const char *)sqlite3_column_text(q, 1);
    int labelled = sqlite3_column_int(q, 2), same = old && strcmp(old, text) == 0;
    char before[65] = "";
    if (old && !same) hitl__sha256_hex(old, strlen(old), before);
    hitl__store_finish(st, q);
    if (same) return HITL_OK;
    /* what annotators saw when they labelled stays; an item shown without one may get one */
    if (labelled && old)
        return hitl_error_set(err, HITL_ECONFLICT,
                              "line %zu: item '%s' has labels: its payload cannot change", lineno,
                              id);
    if ((r = hitl__store_prepare(st, "UPDATE items SET data = ?2, data_seq = ?3 WHERE id = ?1", &q,
                                 err)) != HITL_OK)
        return r;
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, text, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 3, seq);
    r = hitl__store_step_done(st, q, err, "cannot attach data");
    hitl__store_finish(st, q);
    if (r == HITL_OK && before[0]) {
        char after[65];
        hitl__sha256_hex(text, strlen(text), after);
        json_array_append_new(
            changed, json_pack("{s:s, s:s, s:s}", "item", id, "before", before, "after", after));
    }
    return r;
}

hitl_status hitl__store_attach_rows(hitl_store *st, const char *jsonl, size_t *attached,
                                    size_t *ignored, hitl_error *err)
{
    int64_t seq;
    hitl_status r = hitl__audit_next_seq(st, &seq, err);
    if (r != HITL_OK) return r;
    json_t *changed = json_array();
    size_t lineno = 0;
    for (const char *p = jsonl; *p && r == HITL_OK;) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        lineno++;
        size_t k = 0;
        while (k < len && (p[k] == ' ' || p[k] == '\t' || p[k] == '\r'))
            k++;
        if (k < len) { /* blank lines are allowed */
            json_error_t je;
            json_t *o = json_loadb(p, len, JSON_REJECT_DUPLICATES, &je);
            json_t *id = o ? json_object_get(o, "id") : NULL;
            char idbuf[32];
            const char *ids = NULL;
            if (json_is_string(id))
                ids = json_string_value(id);
            else if (json_is_integer(id)) {
                snprintf(idbuf, sizeof(idbuf), "%lld", (long long)json_integer_value(id));
                ids = idbuf;
            }
            char *text = NULL;
            int hit = 0;
            if (!o || !json_is_object(o))
                r = hitl_error_set(err, HITL_EDATA, "line %zu: not a JSON object%s%s", lineno,
                                   o ? "" : ": ", o ? "" : je.text);
            else if (!ids)
                r = hitl_error_set(err, HITL_EDATA, "line %zu: no \"id\" (string or integer)",
                                   lineno);
            else if (!(text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER)))
                r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            else if ((r = attach_one(st, seq, ids, text, lineno, &hit, changed, err)) == HITL_OK)
                hit ? (*attached)++ : (*ignored)++;
            free(text);
            json_decref(o);
        }
        p += len + (nl ? 1 : 0);
    }
    char digest[65];
    int64_t count = 0;
    if (r == HITL_OK) r = hitl__data_digest(st, seq, digest, &count, err);
    if (r != HITL_OK) {
        json_decref(changed);
        return r;
    }
    return hitl__audit_append(st, "hitl", "system", "data", NULL,
                              json_pack("{s:I, s:I, s:s, s:I, s:o}", "attached",
                                        (json_int_t)*attached, "ignored", (json_int_t)*ignored,
                                        "data_digest", digest, "data_count", (json_int_t)count,
                                        "changed", changed),
                              err);
}

hitl_status hitl_store_enqueue_data(hitl_store *st, const hitl_queue_batch *b,
                                    const hitl_queue_row *rows, size_t n, const char *jsonl,
                                    const char *jsonl_name, hitl_queue_counts *counts,
                                    hitl_error *err)
{
    memset(counts, 0, sizeof(*counts));
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    size_t added = 0, attached = 0, ignored = 0;
    r = hitl__store_enqueue_rows(st, b, rows, n, &added, err);
    if (r == HITL_OK && jsonl &&
        (r = hitl__store_attach_rows(st, jsonl, &attached, &ignored, err)) != HITL_OK)
        hitl_error_prefix(err, "'%s'", jsonl_name ? jsonl_name : "data");
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    counts->added = added;
    counts->attached = attached;
    counts->ignored = ignored;
    return HITL_OK;
}

hitl_status hitl_store_enqueue(hitl_store *st, const hitl_queue_batch *b,
                               const hitl_queue_row *rows, size_t n, size_t *added, hitl_error *err)
{
    hitl_queue_counts c;
    hitl_status r = hitl_store_enqueue_data(st, b, rows, n, NULL, NULL, &c, err);
    if (added) *added = c.added;
    return r;
}

hitl_status hitl_store_attach_data(hitl_store *st, const char *jsonl, size_t *attached,
                                   size_t *ignored, hitl_error *err)
{
    *attached = *ignored = 0;
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    size_t a = 0, i = 0;
    if ((r = hitl__store_attach_rows(st, jsonl, &a, &i, err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    *attached = a;
    *ignored = i;
    return HITL_OK;
}
