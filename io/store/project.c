/* The project's definition, each audited: creating a store (schema, classes, settings and the
 * chain's first event, all in one transaction), opening it (a store of an older schema is
 * upgraded, and the chain records what it then covers) and changing one setting. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* The classes, the settings and the audit head of a new store, inside its first transaction. */
static hitl_status write_project(hitl_store *st, const hitl_store_settings *s, const char *actor,
                                 hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r =
        hitl__store_prepare(st, "INSERT INTO classes(idx, name) VALUES(?1, ?2)", &q, err);
    json_t *classes = json_array();
    for (size_t i = 0; r == HITL_OK && i < s->n_classes; i++) {
        sqlite3_bind_int64(q, 1, (sqlite3_int64)i);
        sqlite3_bind_text(q, 2, s->classes[i], -1, SQLITE_STATIC);
        r = hitl__store_step_done(st, q, err, "cannot write classes");
        json_array_append_new(classes, json_string(s->classes[i]));
    }
    hitl__store_finish(st, q);
    char buf[64];
    for (size_t i = 0; r == HITL_OK && i < HITL__N_SETTINGS; i++) {
        hitl__setting_text(s, hitl__setting_keys[i], buf, sizeof(buf));
        r = hitl__meta_write(st, hitl__setting_keys[i], buf, err);
    }
    if (r == HITL_OK) r = hitl__meta_write(st, "audit_head", "0", err);
    json_t *payload = json_pack("{s:o, s:i, s:i, s:s, s:i, s:i}", "classes", classes, "overlap",
                                s->overlap, "lease", s->lease_seconds, "show_prediction",
                                hitl_show_prediction_name(s->show_prediction), "min_justification",
                                s->min_justification, "schema", HITL_STORE_SCHEMA);
    if (r != HITL_OK) {
        json_decref(payload);
        return r;
    }
    return hitl__audit_append(st, actor, "human", "init", NULL, payload, err);
}

hitl_status hitl_store_init(const char *path, const hitl_store_settings *s, const char *actor,
                            hitl_error *err)
{
    if (!s || s->n_classes < 2)
        return hitl_error_set(err, HITL_EINVAL, "a project needs at least 2 classes");
    for (size_t i = 0; i < s->n_classes; i++)
        for (size_t j = 0; j < i; j++)
            if (strcmp(s->classes[i], s->classes[j]) == 0)
                return hitl_error_set(err, HITL_EINVAL, "class '%s' is named twice", s->classes[i]);
    struct stat sb;
    if (stat(path, &sb) == 0)
        return hitl_error_set(err, HITL_ECONFLICT,
                              "'%s' already exists (hitl init makes a new store)", path);
    hitl_store *st = NULL;
    hitl_status r = hitl__store_connect(&st, path, HITL__CONNECT_CREATE, err);
    if (!st) return r;
    if (r == HITL_OK) r = hitl__store_exec(st, "PRAGMA journal_mode=WAL", err);
    if (r == HITL_OK) r = hitl__store_begin(st, err);
    if (r == HITL_OK) r = hitl__schema_create(st, err);
    st->schema = HITL_STORE_SCHEMA;
    if (r == HITL_OK) r = write_project(st, s, actor, err);
    if (r == HITL_OK)
        r = hitl__store_commit(st, err);
    else
        hitl__store_rollback(st);
    hitl__store_disconnect(st);
    if (r != HITL_OK) {
        remove(path); /* nothing half-made is left behind */
        char side[4096];
        snprintf(side, sizeof(side), "%s-wal", path);
        remove(side);
        snprintf(side, sizeof(side), "%s-shm", path);
        remove(side);
    }
    return r;
}

hitl_status hitl_store_setting_set(hitl_store *st, const char *key, const char *value,
                                   const char *actor, hitl_error *err)
{
    hitl_store_settings next = st->settings;
    hitl_status r = hitl_store_settings_apply(&next, key, value, err);
    if (r != HITL_OK) return r;
    if ((r = hitl__store_begin(st, err)) != HITL_OK) return r;
    char before[64], after[64];
    hitl__setting_text(&st->settings, key, before, sizeof(before));
    hitl__setting_text(&next, key, after, sizeof(after));
    if ((r = hitl__meta_write(st, key, after, err)) != HITL_OK ||
        (r = hitl__audit_append(
             st, actor, "human", "settings", NULL,
             json_pack("{s:s, s:s, s:s}", "setting", key, "before", before, "after", after),
             err)) != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) != HITL_OK) return r;
    st->settings.overlap = next.overlap;
    st->settings.lease_seconds = next.lease_seconds;
    st->settings.show_prediction = next.show_prediction;
    st->settings.min_justification = next.min_justification;
    st->settings.route_high = next.route_high;
    st->settings.route_medium = next.route_medium;
    st->settings.decision_blind_rate = next.decision_blind_rate;
    st->settings.approvals_high = next.approvals_high;
    st->settings.approvals_flag = next.approvals_flag;
    st->settings.deadline_high = next.deadline_high;
    st->settings.deadline_flag = next.deadline_flag;
    st->settings.health = next.health;
    st->settings.override_days = next.override_days;
    return HITL_OK;
}

/* A schema-1 store's chain records no digests: from this event on, the chain covers every item
 * queued and every payload set before it by the digests it records. */
static hitl_status upgrade(hitl_store *st, int from, hitl_error *err)
{
    int64_t seq, n_items = 0, n_data = 0;
    char items[65], data[65];
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    if (from >= 2) { /* its chain covers its rows already: only tables to add */
        if ((r = hitl__schema_upgrade(st, from, err)) != HITL_OK) {
            hitl__store_rollback(st);
            return r;
        }
        return hitl__store_commit(st, err);
    }
    sqlite3_stmt *q;
    if ((r = hitl__schema_upgrade(st, from, err)) == HITL_OK &&
        (r = hitl__audit_next_seq(st, &seq, err)) == HITL_OK &&
        (r = hitl__store_prepare(st,
                                 "UPDATE items SET queued_seq = ?1,"
                                 " data_seq = CASE WHEN data IS NULL THEN NULL ELSE ?1 END",
                                 &q, err)) == HITL_OK) {
        sqlite3_bind_int64(q, 1, seq);
        r = hitl__store_step_done(st, q, err, "cannot upgrade the store");
        hitl__store_finish(st, q);
    }
    if (r == HITL_OK) r = hitl__items_digest(st, seq, items, &n_items, err);
    if (r == HITL_OK) r = hitl__data_digest(st, seq, data, &n_data, err);
    if (r == HITL_OK)
        r = hitl__audit_append(st, "hitl", "system", "upgrade", NULL,
                               json_pack("{s:i, s:i, s:s, s:I, s:s, s:I}", "from", from, "to",
                                         HITL_STORE_SCHEMA, "digest", items, "added",
                                         (json_int_t)n_items, "data_digest", data, "data_count",
                                         (json_int_t)n_data),
                               err);
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    return hitl__store_commit(st, err);
}

/* Opens `path` for writing (upgrading an older schema) or for reading (immutable where neither
 * the file nor its folder can be written: read-only media). */
static hitl_status open_store(hitl_store **out, const char *path, int write, hitl_error *err)
{
    *out = NULL;
    struct stat sb;
    if (stat(path, &sb) != 0)
        return hitl_error_set(err, HITL_EIO, "cannot open store '%s': %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode))
        return hitl_error_set(err, HITL_EINVAL, "'%s' is a directory, not a store", path);
    int mode = HITL__CONNECT_WRITE;
    if (!write) {
        char *slash = strrchr(path, '/');
        char dir[4096];
        snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path + 1) : 1, slash ? path : ".");
        mode = access(path, W_OK) == 0 && access(dir, W_OK) == 0 ? HITL__CONNECT_READ
                                                                 : HITL__CONNECT_IMMUTABLE;
    }
    hitl_store *st = NULL;
    hitl_status r = hitl__store_connect(&st, path, mode, err);
    if (!st) return r;
    if (r == HITL_OK) r = hitl__schema_check(st, &st->schema, err);
    /* synchronous=NORMAL in WAL mode: a commit survives a killed process (not a power cut
     * between checkpoints) */
    if (r == HITL_OK && write) r = hitl__store_exec(st, "PRAGMA synchronous=NORMAL", err);
    if (r == HITL_OK) r = hitl__settings_load(st, err);
    if (r == HITL_OK && write && st->schema < HITL_STORE_SCHEMA) {
        r = upgrade(st, st->schema, err);
        if (r == HITL_OK) st->schema = HITL_STORE_SCHEMA;
    }
    if (r != HITL_OK) {
        hitl_store_close(st);
        return r;
    }
    *out = st;
    return HITL_OK;
}

hitl_status hitl_store_open(hitl_store **out, const char *path, hitl_error *err)
{
    return open_store(out, path, 1, err);
}

hitl_status hitl_store_open_read(hitl_store **out, const char *path, hitl_error *err)
{
    return open_store(out, path, 0, err);
}
