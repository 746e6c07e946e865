/* Label Studio annotations into the store, in one transaction: each becomes a label (or, when
 * cancelled, a skip) with the same bookkeeping and audit events as `hitl label`, keyed so that
 * importing the same annotation again writes nothing. */
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_internal.h"
#include "hitl_banned.h"

typedef struct importer {
    hitl_store *st;
    const hitl_import_opts *o;
    hitl_import_result *res;
    char now[32];
    hitl_strmap users;    /* o->user_ids -> index */
    char first_edit[512]; /* the first conflict, for the error */
} importer;

static void problem(importer *im, hitl_import_problem kind, const hitl_ls_annotation *a,
                    const char *fmt, const char *x, const char *y)
{
    if (!im->o->problem) return;
    char msg[512];
    char what[400];
    snprintf(what, sizeof(what), fmt, x, y);
    snprintf(msg, sizeof(msg), "%s: %s", a->where, what);
    im->o->problem(im->o->problem_ctx, kind, a->task, msg);
}

/* "2021-03-09T22:16:08.728353Z", "+02:00" offsets and a space for the T too; NaN otherwise. */
static double parse_time(const char *s)
{
    if (!s) return NAN;
    int y, mo, d, h, mi, n = 0;
    double sec;
    if (sscanf(s, "%4d-%2d-%2d%*1[T ]%2d:%2d:%lf%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)
        return NAN;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    double t = (double)timegm(&tm) + sec;
    const char *z = s + n;
    int oh, om;
    if ((*z == '+' || *z == '-') && sscanf(z + 1, "%2d:%2d", &oh, &om) == 2)
        t -= (*z == '+' ? 1 : -1) * (oh * 3600.0 + om * 60.0);
    return t;
}

static void key_of(const hitl_ls_annotation *a, char *out, size_t cap)
{
    if (a->annotation) {
        snprintf(out, cap, "ls:%s@%s", a->annotation, a->hitl_id);
        return;
    }
    /* no id (a hand-made file): the annotation's content names it */
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    const char *parts[] = {a->hitl_id, a->annotator, a->choice ? a->choice : "",
                           a->created_at ? a->created_at : "", a->cancelled ? "1" : "0"};
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestInit_ex2(ctx, hitl__sha256(), NULL);
    for (size_t i = 0; ok && i < 5; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]) + 1); /* with the NUL separator */
    ok = ok && EVP_DigestFinal_ex(ctx, md, &len);
    EVP_MD_CTX_free(ctx);
    char hex[33] = "";
    for (unsigned i = 0; ok && i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    snprintf(out, cap, "ls:h:%s", ok ? hex : "unhashable");
}

/* Steps q, expected to finish without rows, and gives it back. */
static hitl_status step_finish(hitl_store *st, sqlite3_stmt *q, hitl_error *err, const char *what)
{
    int rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    return rc == SQLITE_DONE ? HITL_OK : hitl__store_sqlerr(st, rc, err, what);
}

/* Runs `sql` with ?1 = an integer and ?2 = a text (may be NULL: unbound). */
static hitl_status run(hitl_store *st, const char *sql, sqlite3_int64 a, const char *b,
                       hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, sql, &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_int64(q, 1, a);
    if (b) sqlite3_bind_text(q, 2, b, -1, SQLITE_STATIC);
    return step_finish(st, q, err, "cannot import");
}

/* The name to record for Label Studio's annotator `who`: the user map's, else `who`. */
static const char *annotator_name(const importer *im, const char *who)
{
    int64_t k = im->o->n_users ? hitl_strmap_find(&im->users, who, strlen(who)) : -1;
    return k >= 0 ? im->o->user_names[k] : who;
}

/* An annotation imported before (its key found): has Label Studio changed it since? Compared
 * with what the store holds for that annotator on the item: the label (or skip) the import
 * recorded, unless hitl itself removed it since (an undo). */
static hitl_status check_edit(importer *im, const hitl_ls_annotation *a, const char *key, int cls,
                              hitl_error *err)
{
    hitl_store *st = im->st;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT m.kind, (SELECT l.label FROM labels l WHERE l.item = m.item AND"
        " l.annotator = m.annotator), EXISTS (SELECT 1 FROM skips s WHERE s.item = m.item AND"
        " s.annotator = m.annotator) FROM imports m WHERE m.key = ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q), edited = 0;
    char was[300] = "";
    if (rc == SQLITE_ROW) {
        int label_row = sqlite3_column_type(q, 1) != SQLITE_NULL;
        int label = sqlite3_column_int(q, 1), skip_row = sqlite3_column_int(q, 2);
        const char *kind = (const char *)sqlite3_column_text(q, 0);
        if (kind && strcmp(kind, "label") == 0 && label_row) {
            edited = a->cancelled || !a->choice || cls != label;
            if ((size_t)label < st->settings.n_classes)
                snprintf(was, sizeof(was), "the label '%s'", st->settings.classes[label]);
        } else if (kind && strcmp(kind, "skip") == 0 && skip_row) {
            edited = !a->cancelled;
            snprintf(was, sizeof(was), "a skip");
        }
    }
    hitl__store_finish(st, q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hitl__store_sqlerr(st, rc, err, "cannot read import keys");
    if (!edited) return HITL_OK;
    im->res->edited++;
    char now[300];
    snprintf(now, sizeof(now), "%s", a->cancelled ? "cancelled" : a->choice ? a->choice : "empty");
    if (!im->first_edit[0])
        snprintf(im->first_edit, sizeof(im->first_edit),
                 "%.80s: the annotation of '%.100s' by '%.64s' was imported as %.80s and is now "
                 "'%.80s' in Label Studio",
                 a->where, a->hitl_id, a->annotator, was, now);
    problem(im, HITL_IMPORT_EDITED, a, "annotation of '%s' changed since its import (now %s)",
            a->hitl_id, now);
    return HITL_OK;
}

/* The class the annotation chose into *cls (-1 when cancelled or empty). HITL_EDATA for a choice
 * that is not a class or an annotator name hitl does not take. */
static hitl_status check_annotation(const importer *im, const hitl_ls_annotation *a, int *cls,
                                    hitl_error *err)
{
    hitl_store *st = im->st;
    *cls = -1;
    if (!a->cancelled && a->choice && (*cls = hitl__store_class(st, a->choice)) < 0) {
        char list[256] = "";
        for (size_t i = 0, n = 0; i < st->settings.n_classes && n < sizeof(list); i++)
            n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", i ? ", " : "",
                                  st->settings.classes[i]);
        return hitl_error_set(err, HITL_EDATA, "'%s': %s: unknown choice '%s' (classes: %s)",
                              im->o->path, a->where, a->choice, list);
    }
    hitl_status named = hitl_name_check(a->annotator, "its annotator's name", err);
    if (named != HITL_OK) {
        hitl_error_prefix(err, "'%s': %s", im->o->path, a->where);
        return named == HITL_EINVAL ? HITL_EDATA : named;
    }
    return HITL_OK;
}

/* What the store holds of the annotation's item, for its annotator. */
typedef struct item_row {
    int found; /* 0: no item has the annotation's hitl_id */
    sqlite3_int64 id;
    int state, required;
    int held, labelled, skipped; /* the annotator's lease, label and skip */
} item_row;

static hitl_status read_item(hitl_store *st, const hitl_ls_annotation *a, item_row *it,
                             hitl_error *err)
{
    *it = (item_row){0};
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st,
        "SELECT id, state, required,"
        " EXISTS (SELECT 1 FROM leases WHERE item = items.id AND annotator = ?2),"
        " EXISTS (SELECT 1 FROM labels WHERE item = items.id AND annotator = ?2),"
        " EXISTS (SELECT 1 FROM skips WHERE item = items.id AND annotator = ?2)"
        " FROM items WHERE pool_id = ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, a->hitl_id, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 2, a->annotator, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        it->found = 1;
        it->id = sqlite3_column_int64(q, 0);
        it->state = sqlite3_column_int(q, 1);
        it->required = sqlite3_column_int(q, 2);
        it->held = sqlite3_column_int(q, 3);
        it->labelled = sqlite3_column_int(q, 4);
        it->skipped = sqlite3_column_int(q, 5);
    }
    hitl__store_finish(st, q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hitl__store_sqlerr(st, rc, err, "cannot read the item");
    return HITL_OK;
}

/* 1 when the annotation is not imported (no item, no choice, a second label by its annotator, an
 * item already complete), counted and reported as a problem; 0 when it is to be recorded. */
static int passed_over(importer *im, const hitl_ls_annotation *a, const item_row *it)
{
    hitl_import_result *res = im->res;
    if (!it->found) {
        res->unknown_items++;
        problem(im, HITL_IMPORT_UNKNOWN_ITEM, a, "item '%s' is not in the project%s", a->hitl_id,
                "");
        return 1;
    }
    if (!a->cancelled && !a->choice) {
        res->empty++;
        problem(im, HITL_IMPORT_EMPTY, a, "annotation of '%s' by '%s' has no choice", a->hitl_id,
                a->annotator);
        return 1;
    }
    if (it->labelled || (a->cancelled && it->skipped)) {
        res->duplicates++;
        problem(im, HITL_IMPORT_DUPLICATE, a, "'%s' already labelled or skipped item '%s'",
                a->annotator, a->hitl_id);
        return 1;
    }
    if (!a->cancelled && it->state != 0) {
        res->complete++;
        char n[32];
        snprintf(n, sizeof(n), "%d", it->required);
        problem(im, HITL_IMPORT_COMPLETE, a, "item '%s' already has its %s labels", a->hitl_id, n);
        return 1;
    }
    return 0;
}

/* A cancelled annotation as the annotator's skip of `item`, with its audit event. Steals
 * payload. */
static hitl_status record_skip(importer *im, const hitl_ls_annotation *a, sqlite3_int64 item,
                               const char *created_iso, json_t *payload, hitl_error *err)
{
    hitl_store *st = im->st;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st, "INSERT INTO skips(item, annotator, reason, created_at) VALUES(?1, ?2, ?3, ?4)", &q,
        err);
    if (r != HITL_OK) {
        json_decref(payload);
        return r;
    }
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, a->annotator, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 3, "cancelled in Label Studio", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, created_iso, -1, SQLITE_STATIC);
    if ((r = step_finish(st, q, err, "cannot record the skip")) != HITL_OK) {
        json_decref(payload);
        return r;
    }
    json_object_set_new(payload, "reason", json_string("cancelled in Label Studio"));
    r = hitl__audit_append_at(st, im->now, a->annotator, "human", "skip", a->hitl_id, payload, err);
    im->res->skips++;
    return r;
}

/* The annotation's choice `cls` as the annotator's label of `item`, with its audit event, then
 * the item settled. Steals payload. */
static hitl_status record_label(importer *im, const hitl_ls_annotation *a, sqlite3_int64 item,
                                int cls, double created, const char *created_iso, json_t *payload,
                                hitl_error *err)
{
    hitl_store *st = im->st;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st,
                                        "INSERT INTO labels(item, annotator, label, leased_at, "
                                        "created, created_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                                        &q, err);
    if (r != HITL_OK) {
        json_decref(payload);
        return r;
    }
    sqlite3_bind_int64(q, 1, item);
    sqlite3_bind_text(q, 2, a->annotator, -1, SQLITE_STATIC);
    sqlite3_bind_int(q, 3, cls);
    /* Label Studio's lead time stands in for the lease: the seconds spent on the item */
    if (isfinite(a->lead_time) && a->lead_time >= 0)
        sqlite3_bind_double(q, 4, created - a->lead_time);
    sqlite3_bind_double(q, 5, created);
    sqlite3_bind_text(q, 6, created_iso, -1, SQLITE_STATIC);
    if ((r = step_finish(st, q, err, "cannot record the label")) != HITL_OK ||
        (r = run(st, "UPDATE items SET n_labels = n_labels + 1 WHERE id = ?1", item, NULL, err)) !=
            HITL_OK) {
        json_decref(payload);
        return r;
    }
    json_object_set_new(payload, "label", json_string(a->choice));
    if (isfinite(a->lead_time) && a->lead_time >= 0)
        json_object_set_new(payload, "seconds", json_real(a->lead_time));
    r = hitl__audit_append_at(st, im->now, a->annotator, "human", "label", a->hitl_id, payload,
                              err);
    if (r == HITL_OK) r = hitl__store_settle(st, item, a->hitl_id, err);
    im->res->labels++;
    return r;
}

/* The annotation as a skip or a label of `item`, dated when Label Studio says it was made (now
 * when it does not say), then its key, so that importing it again writes nothing. */
static hitl_status record(importer *im, const hitl_ls_annotation *a, const char *key,
                          sqlite3_int64 item, int cls, hitl_error *err)
{
    hitl_store *st = im->st;
    double created = parse_time(a->created_at);
    if (!isfinite(created)) created = hitl__now();
    char created_iso[32];
    hitl__time_iso(created, created_iso);
    json_t *payload = json_pack("{s:s, s:s, s:s?, s:s}", "source", "label-studio", "key", key,
                                "annotation", a->annotation, "created_at", created_iso);
    hitl_status r = a->cancelled
                        ? record_skip(im, a, item, created_iso, payload, err)
                        : record_label(im, a, item, cls, created, created_iso, payload, err);
    if (r != HITL_OK) return r;
    sqlite3_stmt *q;
    r = hitl__store_prepare(
        st,
        "INSERT INTO imports(key, item, annotator, kind, created_at) VALUES(?1, ?2, ?3, ?4, ?5)",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    sqlite3_bind_int64(q, 2, item);
    sqlite3_bind_text(q, 3, a->annotator, -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 4, a->cancelled ? "skip" : "label", -1, SQLITE_STATIC);
    sqlite3_bind_text(q, 5, im->now, -1, SQLITE_STATIC);
    return step_finish(st, q, err, "cannot record the import key");
}

/* One annotation from the file: checked, then passed over (with a problem), compared with its
 * earlier import, or recorded. */
static hitl_status apply(void *ctx, const hitl_ls_annotation *in, hitl_error *err)
{
    importer *im = ctx;
    hitl_store *st = im->st;
    hitl_import_result *res = im->res;
    hitl_ls_annotation mapped = *in;
    mapped.annotator = annotator_name(im, in->annotator);
    const hitl_ls_annotation *a = &mapped;
    res->annotations++;
    int cls;
    hitl_status r = check_annotation(im, a, &cls, err);
    if (r != HITL_OK) return r;
    if (!a->hitl_id) {
        res->unknown_items++;
        res->no_id++;
        problem(im, HITL_IMPORT_UNKNOWN_ITEM, a, "no data.hitl_id: not a task hitl exported%s%s",
                "", "");
        return HITL_OK;
    }
    char key[600];
    key_of(a, key, sizeof(key));
    sqlite3_stmt *q;
    r = hitl__store_prepare(st, "SELECT 1 FROM imports WHERE key = ?1", &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    hitl__store_finish(st, q);
    if (rc == SQLITE_ROW) {
        res->already_imported++;
        return check_edit(im, a, key, cls, err);
    }
    if (rc != SQLITE_DONE) return hitl__store_sqlerr(st, rc, err, "cannot read import keys");
    item_row it;
    if ((r = read_item(st, a, &it, err)) != HITL_OK) return r;
    if (passed_over(im, a, &it)) return HITL_OK;
    if (it.held && ((r = run(st, "DELETE FROM leases WHERE item = ?1 AND annotator = ?2", it.id,
                             a->annotator, err)) != HITL_OK ||
                    (r = run(st, "UPDATE items SET n_leases = n_leases - 1 WHERE id = ?1", it.id,
                             NULL, err)) != HITL_OK))
        return r;
    return record(im, a, key, it.id, cls, err);
}

hitl_status hitl_store_import_label_studio(hitl_store *st, const hitl_import_opts *o,
                                           hitl_import_result *res, hitl_error *err)
{
    memset(res, 0, sizeof(*res));
    if (!o || !o->path) return hitl_error_set(err, HITL_EINVAL, "no file to import given");
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    importer im = {.st = st, .o = o, .res = res};
    hitl__now_iso(im.now);
    for (size_t i = 0; r == HITL_OK && i < o->n_users; i++)
        if (hitl_strmap_intern(&im.users, o->user_ids[i], strlen(o->user_ids[i])) != (int64_t)i)
            r = hitl_error_set(err, HITL_EINVAL, "user '%s' is mapped twice (or out of memory)",
                               o->user_ids[i]);
    if (r == HITL_OK)
        r = hitl_labelstudio_read(o->path, o->from_name, o->to_name, apply, &im, &res->form,
                                  &res->tasks, err);
    hitl_strmap_release(&im.users);
    if (r == HITL_OK && res->edited)
        r = hitl_error_set(err, HITL_ECONFLICT,
                           "'%s': %s%s; hitl keeps its labels and nothing was imported: settle "
                           "them with hitl adjudicate or drop those annotations from the file",
                           o->path, im.first_edit,
                           res->edited > 1 ? " (and more: see the problems)" : "");
    if (r == HITL_OK && res->labels + res->skips == 0 && res->no_id && !res->already_imported)
        r = hitl_error_set(err, HITL_EDATA,
                           "'%s': nothing to import: %lld of %lld annotations belong to tasks "
                           "without data.hitl_id, which names the item (export the tasks with "
                           "hitl export --format label-studio)",
                           o->path, (long long)res->no_id, (long long)res->annotations);
    if (r == HITL_OK && res->labels + res->skips == 0) {
        hitl__store_rollback(st); /* nothing new: nothing written, not even the audit event */
        return HITL_OK;
    }
    if (r == HITL_OK) {
        json_t *payload =
            json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "format",
                      "label-studio", "form", res->form ? res->form : "json", "path", o->path,
                      "tasks", (json_int_t)res->tasks, "annotations", (json_int_t)res->annotations,
                      "labels", (json_int_t)res->labels, "skips", (json_int_t)res->skips,
                      "already_imported", (json_int_t)res->already_imported, "unknown_items",
                      (json_int_t)res->unknown_items, "duplicates", (json_int_t)res->duplicates,
                      "complete", (json_int_t)res->complete, "empty", (json_int_t)res->empty);
        r = hitl__audit_append(st, o->actor ? o->actor : "unknown", "human", "import", NULL,
                               payload, err);
    }
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        int64_t tasks = res->tasks;
        const char *form = res->form;
        memset(res, 0, sizeof(*res)); /* nothing was written */
        res->tasks = tasks;
        res->form = form;
        return r;
    }
    return hitl__store_commit(st, err);
}
