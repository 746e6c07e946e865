/* Exports read back, for `hitl audit verify --export`: each item's id and final label, the rule
 * that made them, and the audit head the export recorded (the HDF5 attributes, or the
 * PATH.hitl-head sidecar beside jsonl and csv). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "text_internal.h"
#include "hitl_banned.h"

/* Appends (id, label) to e. -1 out of memory. */
static int add(hitl_export_labels *e, size_t *cap, const char *id, const char *label)
{
    if (e->n == *cap) {
        size_t c = *cap ? *cap * 2 : 1024;
        char **a = realloc(e->ids, c * sizeof(char *));
        if (a) e->ids = a;
        char **b = realloc(e->labels, c * sizeof(char *));
        if (b) e->labels = b;
        if (!a || !b) return -1;
        *cap = c;
    }
    e->ids[e->n] = strdup(id);
    e->labels[e->n] = strdup(label);
    if (!e->ids[e->n] || !e->labels[e->n]) {
        free(e->ids[e->n]);
        free(e->labels[e->n]);
        return -1;
    }
    e->n++;
    return 0;
}

/* PATH.hitl-head: {"audit_head": ..., "final": ..., "format": ...}. */
static hitl_status read_sidecar(const char *path, hitl_export_labels *e, hitl_error *err)
{
    char side[4096];
    snprintf(side, sizeof(side), "%s.hitl-head", path);
    json_error_t je;
    json_t *j = json_load_file(side, JSON_REJECT_DUPLICATES, &je);
    const char *head = json_string_value(json_object_get(j, "audit_head"));
    const char *final = json_string_value(json_object_get(j, "final"));
    hitl_status s = HITL_OK;
    if (!j)
        s = hitl_error_set(err, HITL_EDATA, "'%s': no export head beside it ('%s': %s)", path, side,
                           je.text);
    else if (!head || !final)
        s = hitl_error_set(err, HITL_EDATA, "'%s' names no audit_head and final rule", side);
    else {
        snprintf(e->head, sizeof(e->head), "%s", head);
        snprintf(e->final_rule, sizeof(e->final_rule), "%s", final);
    }
    json_decref(j);
    return s;
}

static hitl_status read_jsonl(const char *path, hitl_export_labels *e, hitl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
    char *line = NULL;
    size_t cap_line = 0, cap = 0;
    ssize_t len;
    int64_t lineno = 0;
    hitl_status s = HITL_OK;
    while (s == HITL_OK && (len = getline(&line, &cap_line, f)) > 0) {
        lineno++;
        json_error_t je;
        json_t *o = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
        const char *id = json_string_value(json_object_get(o, "id"));
        const char *label = json_string_value(json_object_get(o, "label"));
        if (!id || !label)
            s = hitl_error_set(err, HITL_EDATA, "'%s' line %lld: not a record with id and label",
                               path, (long long)lineno);
        else if (add(e, &cap, id, label))
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        json_decref(o);
    }
    free(line);
    fclose(f);
    return s;
}

static hitl_status read_csv(const char *path, hitl_export_labels *e, hitl_error *err)
{
    hitl__csv_reader r;
    hitl_status s = hitl__csv_open(&r, path, NULL, err);
    if (s != HITL_OK) return s;
    int got = 0;
    size_t id_col = SIZE_MAX, label_col = SIZE_MAX, cap = 0;
    if ((s = hitl__csv_next(&r, &got, err)) == HITL_OK && got)
        for (size_t i = 0; i < r.n_fields; i++) {
            if (!strcmp(hitl__csv_get(&r, i), "id")) id_col = i;
            if (!strcmp(hitl__csv_get(&r, i), "label")) label_col = i;
        }
    if (s == HITL_OK && (id_col == SIZE_MAX || label_col == SIZE_MAX))
        s = hitl_error_set(err, HITL_EDATA, "'%s': no id and label columns", path);
    const size_t n_cols = r.n_fields;
    while (s == HITL_OK && (s = hitl__csv_next(&r, &got, err)) == HITL_OK && got) {
        if (hitl__csv_blank(&r)) continue;
        if ((s = hitl__csv_check_fields(&r, n_cols, err)) != HITL_OK) break;
        if (add(e, &cap, hitl__csv_get(&r, id_col), hitl__csv_get(&r, label_col)))
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl__csv_close(&r);
    return s;
}

/* A string attribute of the file's root group into buf; "" when there is none. */
static void root_attr(hid_t file, const char *name, char *buf, size_t cap)
{
    char **v = NULL;
    size_t n = 0;
    buf[0] = '\0';
    int found = 0;
    if (hitl__h5_attr_strings(file, name, "/", &v, &n, &found, NULL) == HITL_OK && n == 1)
        snprintf(buf, cap, "%s", v[0]);
    hitl_strings_free(v, n);
}

static hitl_status read_h5(const char *path, hitl_export_labels *e, hitl_error *err)
{
    hid_t file;
    hitl_status s = hitl__h5_open_file(path, &file, err);
    if (s != HITL_OK) return s;
    root_attr(file, "audit_head", e->head, sizeof(e->head));
    root_attr(file, "final", e->final_rule, sizeof(e->final_rule));
    char **classes = NULL;
    size_t n_classes = 0;
    hitl_ids ids = {0};
    int32_t *labels = NULL;
    size_t n = 0, cap = 0;
    H5Fclose(file);
    s = hitl_labels_read(path, "labels", &labels, &n, err);
    if (s == HITL_OK) {
        hid_t f2;
        if ((s = hitl__h5_open_file(path, &f2, err)) == HITL_OK) {
            int found = 0;
            s = hitl__h5_attr_strings(f2, "classes", "/", &classes, &n_classes, &found, err);
            H5Fclose(f2);
        }
    }
    int64_t *rows = malloc((n ? n : 1) * sizeof(int64_t));
    for (size_t i = 0; rows && i < n; i++)
        rows[i] = (int64_t)i;
    if (s == HITL_OK && !rows) s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (s == HITL_OK) s = hitl_ids_read_rows(path, "ids", n, rows, n, &ids, err);
    for (size_t i = 0; s == HITL_OK && i < n; i++) {
        if (labels[i] < 0 || (size_t)labels[i] >= n_classes) {
            s = hitl_error_set(err, HITL_EDATA, "'%s': label %d of row %zu is not a class", path,
                               (int)labels[i], i);
            break;
        }
        char buf[24];
        if (!ids.is_string) snprintf(buf, sizeof(buf), "%lld", (long long)ids.ints[i]);
        if (add(e, &cap, ids.is_string ? ids.strs[i] : buf, classes[labels[i]]))
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    free(rows);
    free(labels);
    hitl_ids_release(&ids);
    hitl_strings_free(classes, n_classes);
    return s;
}

hitl_status hitl_export_labels_read(const char *path, hitl_export_labels *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    FILE *f = fopen(path, "rb");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot open '%s': %s", path, strerror(errno));
    unsigned char magic[8] = {0};
    size_t got = fread(magic, 1, sizeof(magic), f);
    int c = fgetc(f);
    fclose(f);
    hitl_status s;
    (void)c;
    if (got == 8 && !memcmp(magic, "\x89HDF\r\n\x1a\n", 8)) {
        s = read_h5(path, out, err);
    } else if (got >= 1 && magic[0] == '[') {
        s = hitl_error_set(err, HITL_EINVAL,
                           "'%s' is a Label Studio task file: it holds no final labels", path);
    } else {
        s = read_sidecar(path, out, err);
        if (s == HITL_OK)
            s = got >= 1 && magic[0] == '{' ? read_jsonl(path, out, err) : read_csv(path, out, err);
    }
    if (s == HITL_OK && (!out->head[0] || !out->final_rule[0]))
        s = hitl_error_set(err, HITL_EDATA, "'%s' records no audit head (made before hitl 0.2?)",
                           path);
    if (s != HITL_OK) hitl_export_labels_release(out);
    return s;
}
