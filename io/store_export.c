/* hitl_store_export: runs the records cursor into the chosen writer (or the Label Studio task
 * writer), writing beside the target and renaming it into place so no half file is left, inside
 * the transaction that audits the export. Also the streaming item and throughput queries. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "export_internal.h"
#include "hitl_banned.h"

static const char *const format_names[HITL_EXPORT_COUNT] = {"hdf5", "jsonl", "csv", "label-studio"};

const char *hitl_export_format_name(hitl_export_format f)
{
    return (unsigned)f < HITL_EXPORT_COUNT ? format_names[f] : "unknown";
}

hitl_status hitl_export_format_parse(const char *name, hitl_export_format *out)
{
    for (int i = 0; name && i < HITL_EXPORT_COUNT; i++) {
        if (strcmp(name, format_names[i]) == 0) {
            *out = (hitl_export_format)i;
            return HITL_OK;
        }
    }
    return HITL_EINVAL;
}

static hitl_status write_records(hitl_store *st, const hitl_export_opts *o,
                                 const hitl__export_ctx *ctx, hitl_records_counts *counts,
                                 hitl_error *err)
{
    hitl_records *rc = NULL;
    hitl_status s = hitl_records_open(st, o->final, o->ds, &rc, err);
    if (s != HITL_OK) return s;
    hitl__writer *w = NULL;
    switch (o->format) {
    case HITL_EXPORT_HDF5:
        s = hitl__writer_h5_open(ctx, &w, err);
        break;
    case HITL_EXPORT_JSONL:
        s = hitl__writer_jsonl_open(ctx, &w, err);
        break;
    default:
        s = hitl__writer_csv_open(ctx, &w, err);
    }
    const hitl_record *r;
    while (s == HITL_OK && (s = hitl_records_next(rc, &r, err)) == HITL_OK && r) {
        s = w->ops->add(w, r, err);
    }
    if (w) {
        hitl_status c = w->ops->close(w, s == HITL_OK, err);
        if (s == HITL_OK) s = c;
    }
    hitl_records_counts_get(rc, counts);
    hitl_records_close(rc);
    return s;
}

/* Starts the write transaction and appends the export's event; the caller commits it. */
static hitl_status audit_export(hitl_store *st, const hitl_export_opts *o,
                                const hitl_export_result *res, hitl_error *err)
{
    hitl_status s = hitl__store_begin(st, err);
    if (s != HITL_OK) return s;
    json_t *payload = json_pack("{s:s, s:s, s:I}", "format", hitl_export_format_name(o->format),
                                "path", o->path, "count", (json_int_t)res->counts.records);
    if (o->format != HITL_EXPORT_LABEL_STUDIO && payload) {
        json_object_set_new(payload, "final", json_string(hitl_final_rule_name(o->final)));
        json_object_set_new(payload, "ties", json_integer(res->counts.ties));
        json_object_set_new(payload, "pending", json_integer(res->counts.pending));
        if (o->features_path)
            json_object_set_new(payload, "features", json_string(o->features_path));
    }
    return hitl__audit_append(st, o->actor ? o->actor : "unknown", "human", "export", NULL, payload,
                              err);
}

/* Removes `path`.part-PID files that exports killed mid-write left beside `path`: those whose
 * process no longer runs on this machine (a running export's file is never touched). */
static void remove_stale_parts(const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    /* the folder: "." without a slash, "/" for a file at the root */
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    char full[4096];
    if (!dir) return;
    DIR *d = opendir(dir);
    size_t blen = strlen(base);
    for (struct dirent *e; d && (e = readdir(d));) {
        const char *n = e->d_name;
        if (strncmp(n, base, blen) != 0 || strncmp(n + blen, ".part-", 6) != 0) continue;
        char *end;
        long pid = strtol(n + blen + 6, &end, 10);
        if (*end || pid <= 0 || pid == (long)getpid()) continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH) continue;
        if ((size_t)snprintf(full, sizeof(full), "%s/%s", dir, n) < sizeof(full)) unlink(full);
    }
    if (d) closedir(d);
    free(dir);
}

hitl_status hitl_store_export(hitl_store *st, const hitl_export_opts *o, hitl_export_result *res,
                              hitl_error *err)
{
    memset(res, 0, sizeof(*res));
    if (!o || !o->path || !o->path[0])
        return hitl_error_set(err, HITL_EINVAL, "no output file given");
    if ((unsigned)o->format >= HITL_EXPORT_COUNT || (unsigned)o->final >= HITL_FINAL_COUNT)
        return hitl_error_set(err, HITL_EINVAL, "unknown export format or final-label rule");
    if (o->features_path && o->format != HITL_EXPORT_HDF5)
        return hitl_error_set(err, HITL_EINVAL, "features go only into an hdf5 export");
    hitl__export_ctx ctx = {0};
    ctx.name = o->path;
    ctx.classes = st->settings.classes;
    ctx.n_classes = st->settings.n_classes;
    ctx.final = o->final;
    ctx.store_path = st->path;
    hitl_status s = HITL_OK;
    if (o->features_path) {
        s = hitl_matrix_open(&ctx.features, o->features_path, o->features_dset, err);
        if (s != HITL_OK) return s;
    }
    /* written beside the target, renamed into place when whole */
    size_t len = strlen(o->path) + 32;
    char *tmp = malloc(len);
    if (!tmp) {
        hitl_matrix_close(ctx.features);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    snprintf(tmp, len, "%s.part-%ld", o->path, (long)getpid());
    remove_stale_parts(o->path);
    ctx.path = tmp;
    if (o->format == HITL_EXPORT_LABEL_STUDIO) {
        s = hitl__store_exec(st, "BEGIN", err);
        if (s == HITL_OK) s = hitl__labelstudio_write(st, &ctx, o, &res->counts.records, err);
        hitl__store_rollback(st);
    } else {
        s = write_records(st, o, &ctx, &res->counts, err);
    }
    hitl_matrix_close(ctx.features);
    /* the audit event is written before the file goes into place and committed right after:
     * an event never names a file that is not there, and only a commit that fails (a full
     * disk) or is killed leaves the file without its event */
    if (s == HITL_OK) s = audit_export(st, o, res, err);
    if (s == HITL_OK && rename(tmp, o->path) != 0)
        s = hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", o->path, strerror(errno));
    if (s != HITL_OK) {
        hitl__store_rollback(st);
        unlink(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    if ((s = hitl__store_commit(st, err)) != HITL_OK) {
        hitl_error_prefix(err, "'%s' is written, but the export is not in the audit trail",
                          o->path);
        return s;
    }
    return HITL_OK;
}

/* ---- report data ------------------------------------------------------------------------- */

hitl_status hitl_store_items_each(hitl_store *st, hitl_item_fn fn, void *ctx, hitl_error *err)
{
    hitl_status s = hitl__store_exec(st, "BEGIN", err);
    if (s != HITL_OK) return s;
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "SELECT pool_id, reason, score, p1, pred, state, n_labels, method FROM items ORDER BY id",
        err);
    if (!q) {
        hitl__store_rollback(st);
        return err ? err->status : HITL_EIO;
    }
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        hitl_item_brief it;
        it.pool_id = (const char *)sqlite3_column_text(q, 0);
        it.blind = sqlite3_column_int(q, 1) == HITL_REASON_BLIND;
        it.score =
            sqlite3_column_type(q, 2) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(q, 2);
        it.p1 = sqlite3_column_type(q, 3) == SQLITE_NULL ? NAN : (float)sqlite3_column_double(q, 3);
        it.pred = sqlite3_column_type(q, 4) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 4);
        it.state = sqlite3_column_int(q, 5);
        it.n_labels = sqlite3_column_int(q, 6);
        it.method = (const char *)sqlite3_column_text(q, 7);
        if (fn(ctx, &it)) {
            rc = SQLITE_DONE;
            break;
        }
    }
    if (rc != SQLITE_DONE) s = hitl__store_sqlerr(st, rc, err, "cannot read items");
    hitl__store_finish(st, q);
    hitl__store_rollback(st);
    return s;
}

void hitl_store_throughput_free(hitl_store_throughput *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].name);
        free(v[i].first_at);
        free(v[i].last_at);
    }
    free(v);
}

static char *dup_text(sqlite3_stmt *q, int i)
{
    const unsigned char *s = sqlite3_column_text(q, i);
    return s ? strdup((const char *)s) : NULL;
}

hitl_status hitl_store_throughput_get(hitl_store *st, hitl_store_throughput **out, size_t *n,
                                      hitl_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q = hitl__store_prepare(
        st,
        "SELECT name, sum(l), sum(s), sum(timed), sum(secs), min(at), max(at) FROM ("
        " SELECT annotator AS name, 1 AS l, 0 AS s, leased_at IS NOT NULL AS timed,"
        "  CASE WHEN leased_at IS NOT NULL THEN created - leased_at END AS secs,"
        "  created_at AS at FROM labels"
        " UNION ALL SELECT annotator, 0, 1, 0, NULL, NULL FROM skips)"
        " GROUP BY name ORDER BY name",
        err);
    if (!q) return err ? err->status : HITL_EIO;
    hitl_store_throughput *v = NULL;
    size_t cap = 0, k = 0;
    int rc;
    hitl_status s = HITL_OK;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (k == cap) {
            cap = cap ? cap * 2 : 16;
            hitl_store_throughput *p = realloc(v, cap * sizeof(*v));
            if (!p) {
                s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                break;
            }
            v = p;
        }
        hitl_store_throughput *t = &v[k++];
        t->name = dup_text(q, 0);
        t->labels = sqlite3_column_int64(q, 1);
        t->skips = sqlite3_column_int64(q, 2);
        t->timed = sqlite3_column_int64(q, 3);
        t->mean_seconds = t->timed ? sqlite3_column_double(q, 4) / (double)t->timed : NAN;
        t->first_at = dup_text(q, 5);
        t->last_at = dup_text(q, 6);
        if (!t->name) {
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            break;
        }
    }
    if (s == HITL_OK && rc != SQLITE_DONE)
        s = hitl__store_sqlerr(st, rc, err, "cannot read labels");
    hitl__store_finish(st, q);
    if (s != HITL_OK) {
        hitl_store_throughput_free(v, k);
        return s;
    }
    *out = v;
    *n = k;
    return HITL_OK;
}
