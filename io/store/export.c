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
#include <sys/stat.h>
#include <unistd.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* The records of the items final under the rule, in queue order: the cursor's snapshot gives
 * the chain's head the file records, then the writer is opened on it. */
static hitl_status write_records(hitl_store *st, const hitl_export_opts *o, hitl_record_file *file,
                                 hitl_records_counts *counts, hitl_error *err)
{
    hitl_records *rc = NULL;
    hitl_status s = hitl_records_open(st, o->final, o->ds, &rc, err);
    if (s != HITL_OK) return s;
    char head[96];
    hitl_records_counts_get(rc, counts);
    snprintf(head, sizeof(head), "%lld:%s", (long long)counts->head.seq, counts->head.hash);
    file->audit_head = head;
    hitl_record_writer *w = NULL;
    s = hitl_record_writer_open(o->format, file, &w, err);
    const hitl_record *r;
    while (s == HITL_OK && (s = hitl_records_next(rc, &r, err)) == HITL_OK && r)
        s = hitl_record_writer_add(w, r, err);
    hitl_status closed = hitl_record_writer_close(w, s == HITL_OK, err);
    if (s == HITL_OK) s = closed;
    hitl_records_counts_get(rc, counts);
    hitl_records_close(rc);
    file->audit_head = NULL;
    return s;
}

/* A Label Studio task for every item still open for labelling, in queue order, in one read
 * snapshot whose head each task's meta records. The model's guess is a pre-annotation
 * annotators see: only where the project (or the caller) shows it (hitl_prediction_shown).
 * *n counts the tasks. */
static hitl_status write_tasks(hitl_store *st, const hitl_export_opts *o, hitl_record_file *file,
                               int64_t *n, hitl_audit_head *head, hitl_error *err)
{
    *n = 0;
    int show = o->show_prediction >= 0 ? o->show_prediction : (int)st->settings.show_prediction;
    hitl_status s = hitl__store_read(st, err);
    if (s != HITL_OK) return s;
    char head_text[96];
    sqlite3_stmt *q = NULL;
    hitl_record_writer *w = NULL;
    if ((s = hitl__audit_head(st, head, err)) == HITL_OK) {
        snprintf(head_text, sizeof(head_text), "%lld:%s", (long long)head->seq, head->hash);
        file->audit_head = head_text;
        s = hitl_record_writer_open(o->format, file, &w, err);
    }
    if (s == HITL_OK)
        s = hitl__store_prepare(st,
                                "SELECT pool_id, data, pred, p1, reason, model, method"
                                " FROM items WHERE state = 0 ORDER BY id",
                                &q, err);
    int rc = SQLITE_DONE;
    while (s == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW) {
        int pred = sqlite3_column_type(q, 2) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 2);
        int blind = sqlite3_column_int(q, 4) == HITL_REASON_BLIND;
        const char *model = (const char *)sqlite3_column_text(q, 5);
        const char *method = (const char *)sqlite3_column_text(q, 6);
        char version[256];
        snprintf(version, sizeof(version), "%s%s", model ? "" : "hitl-",
                 model    ? model
                 : method ? method
                          : "model");
        hitl_ls_task t = {
            .id = (const char *)sqlite3_column_text(q, 0),
            .data = (const char *)sqlite3_column_text(q, 1),
            .score = sqlite3_column_double(q, 3),
            .model_version = version,
            .from_name = o->from_name ? o->from_name : "choice",
            .to_name = o->to_name ? o->to_name : "text",
        };
        if (hitl_prediction_shown((hitl_show_prediction)show, blind) && pred >= 0 &&
            (size_t)pred < st->settings.n_classes)
            t.prediction = st->settings.classes[pred];
        if ((s = hitl_record_writer_add_task(w, &t, err)) == HITL_OK) (*n)++;
    }
    if (s == HITL_OK && rc != SQLITE_DONE) s = hitl__store_sqlerr(st, rc, err, "cannot read items");
    hitl__store_finish(st, q);
    hitl__store_rollback(st);
    hitl_status closed = hitl_record_writer_close(w, s == HITL_OK, err);
    if (s == HITL_OK) s = closed;
    file->audit_head = NULL;
    return s;
}

/* Starts the write transaction and appends the export's event; the caller commits it. */
static hitl_status audit_export(hitl_store *st, const hitl_export_opts *o,
                                const hitl_export_result *res, hitl_error *err)
{
    hitl_status s = hitl__store_begin(st, err);
    if (s != HITL_OK) return s;
    char head[96];
    snprintf(head, sizeof(head), "%lld:%s", (long long)res->counts.head.seq, res->counts.head.hash);
    json_t *payload =
        json_pack("{s:s, s:s, s:I, s:s}", "format", hitl_export_format_name(o->format), "path",
                  o->path, "count", (json_int_t)res->counts.records, "head", head);
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

/* 1 when a and b name the same file (device and inode). */
static int same_file(const char *a, const char *b)
{
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Standard output ("-"), or a path that is there and is not a regular file (a device, a FIFO,
 * a symlink to one): written in place, never renamed over. */
static int written_in_place(const char *path)
{
    struct stat sb;
    return strcmp(path, "-") == 0 || (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode));
}

/* PATH.hitl-head beside a jsonl or csv export: the head it was made from, and how. */
static hitl_status write_sidecar(const char *path, const hitl_export_opts *o,
                                 const hitl_export_result *res, hitl_error *err)
{
    char head[96], *side = malloc(strlen(path) + 16);
    if (!side) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    snprintf(side, strlen(path) + 16, "%s.hitl-head", path);
    snprintf(head, sizeof(head), "%lld:%s", (long long)res->counts.head.seq, res->counts.head.hash);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:I}", "audit_head", head, "format", hitl_export_format_name(o->format),
        "final", hitl_final_rule_name(o->final), "records", (json_int_t)res->counts.records);
    char *text = j ? json_dumps(j, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
    json_decref(j);
    hitl_status s =
        text ? hitl_text_save(side, text, err) : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    free(text);
    free(side);
    return s;
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
    if (same_file(o->path, st->path) || same_file(o->path, o->features_path))
        return hitl_error_set(err, HITL_EINVAL, "'%s' is an input of this export: not overwritten",
                              o->path);
    res->streamed = written_in_place(o->path);
    if (res->streamed && o->format == HITL_EXPORT_HDF5)
        return hitl_error_set(err, HITL_EINVAL,
                              "an hdf5 export needs a regular file, not '%s' (use jsonl or csv)",
                              o->path);
    hitl_record_file file = {
        .name = o->path,
        .classes = st->settings.classes,
        .n_classes = st->settings.n_classes,
        .final_rule = hitl_final_rule_name(o->final),
        .store_path = st->path,
    };
    hitl_status s = HITL_OK;
    if (o->features_path) {
        s = hitl_matrix_open(&file.features, o->features_path, o->features_dset, err);
        if (s != HITL_OK) return s;
    }
    /* a regular file is written beside the target and renamed into place when whole */
    size_t len = strlen(o->path) + 32;
    char *tmp = malloc(len);
    if (!tmp) {
        hitl_matrix_close(file.features);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    if (res->streamed) {
        snprintf(tmp, len, "%s", strcmp(o->path, "-") == 0 ? "/dev/stdout" : o->path);
    } else {
        snprintf(tmp, len, "%s.part-%ld", o->path, (long)getpid());
        remove_stale_parts(o->path);
    }
    file.path = tmp;
    if (o->format == HITL_EXPORT_LABEL_STUDIO)
        s = write_tasks(st, o, &file, &res->counts.records, &res->counts.head, err);
    else
        s = write_records(st, o, &file, &res->counts, err);
    hitl_matrix_close(file.features);
    if (s == HITL_OK && !res->streamed &&
        (o->format == HITL_EXPORT_JSONL || o->format == HITL_EXPORT_CSV))
        s = write_sidecar(o->path, o, res, err);
    /* the audit event is written before the file goes into place and committed right after:
     * an event never names a file that is not there, and only a commit that fails (a full
     * disk) or is killed leaves the file without its event. A read-only store cannot record
     * it: the file still names the head it came from. */
    res->audited = !st->read_only;
    if (s == HITL_OK && res->audited) s = audit_export(st, o, res, err);
    if (s == HITL_OK && !res->streamed && rename(tmp, o->path) != 0)
        s = hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", o->path, strerror(errno));
    if (s != HITL_OK) {
        hitl__store_rollback(st);
        if (!res->streamed) unlink(tmp);
        free(tmp);
        return s;
    }
    free(tmp);
    if (res->audited && (s = hitl__store_commit(st, err)) != HITL_OK) {
        hitl_error_prefix(err, "'%s' is written, but the export is not in the audit trail",
                          o->path);
        return s;
    }
    return HITL_OK;
}
