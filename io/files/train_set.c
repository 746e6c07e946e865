/* What `hitl train` fits the head on: listed pool rows of a features matrix with their class
 * indices, from label datasets (one per pool row, or one per listed row) or from an `hitl
 * export --format hdf5` file (its /rows, /labels and, as soft targets, /soft_labels). */
#include <stdlib.h>
#include <string.h>

#include "hitl_files.h"
#include "hitl_banned.h"

/* Reads the listed pool rows (int32, as hitl_labels_read gives them) of the features into x. */
static hitl_status read_rows(hitl_matrix *m, const int32_t *rows, size_t nr, float *x,
                             hitl_error *err)
{
    int64_t *list = malloc((nr ? nr : 1) * sizeof(int64_t));
    if (!list) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < nr; i++)
        list[i] = rows[i];
    hitl_status st = hitl_matrix_read_rows(m, list, nr, x, err);
    free(list);
    if (st == HITL_EDATA && err && err->row >= 0) { /* an entry outside the pool, named as --rows */
        size_t i = (size_t)err->row;
        hitl_error_set(err, HITL_EDATA, "--rows entry %zu is row %d, past the %zu rows", i,
                       (int)rows[i], hitl_matrix_rows(m));
        err->row = (int64_t)i;
    }
    return st;
}

/* What load() holds while it works, released when it ends. */
typedef struct loading {
    hitl_matrix *fm, *sm;   /* the features; an export's /soft_labels */
    int32_t *rows, *labels; /* as read: the listed pool rows, the labels */
    size_t nr, nl;
} loading;

/* From an `hitl export --format hdf5` file: its /rows, /labels as the targets and, with a->soft,
 * /soft_labels; the class names from its attribute unless a->classes gives them. */
static hitl_status from_export(const hitl_train_set_opts *a, hitl_train_set *t, loading *l,
                               hitl_error *err)
{
    hitl_status st = hitl_labels_read(a->labels_path, "rows", &l->rows, &l->nr, err);
    if (st == HITL_OK) st = hitl_labels_read(a->labels_path, "labels", &l->labels, &l->nl, err);
    if (st == HITL_OK) st = hitl_matrix_open(&l->sm, a->labels_path, "soft_labels", err);
    if (st == HITL_OK && !a->classes)
        st = hitl_matrix_classes(l->sm, &t->classes, &t->n_classes, err);
    if (st == HITL_OK && l->nl != l->nr)
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': /labels has %zu rows, /rows %zu",
                            a->labels_path, l->nl, l->nr);
    if (st == HITL_OK && a->soft) {
        t->c = hitl_matrix_cols(l->sm);
        if (hitl_matrix_rows(l->sm) != l->nr)
            st = hitl_error_set(err, HITL_ESHAPE, "'%s': /soft_labels has %zu rows, /rows %zu",
                                a->labels_path, hitl_matrix_rows(l->sm), l->nr);
        if (st == HITL_OK) st = hitl_matrix_load(l->sm, &t->soft, err);
    }
    if (st != HITL_OK) return st;
    t->y = l->labels;
    l->labels = NULL;
    t->n = l->nr;
    return HITL_OK;
}

/* The targets of the listed rows: picked from labels of every pool row, or one label per listed
 * row. */
static hitl_status listed_labels(hitl_train_set *t, const loading *l, size_t npool, hitl_error *err)
{
    t->n = l->nr;
    if (!(t->y = malloc((l->nr ? l->nr : 1) * sizeof(int32_t))))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (l->nl == npool) { /* labels of every pool row: take the listed ones */
        for (size_t i = 0; i < l->nr; i++) {
            if ((size_t)l->rows[i] >= npool)
                return hitl_error_set(err, HITL_EDATA,
                                      "--rows entry %zu is row %d, past "
                                      "the %zu rows",
                                      i, (int)l->rows[i], npool);
            t->y[i] = l->labels[l->rows[i]];
        }
    } else if (l->nl == l->nr) {
        memcpy(t->y, l->labels, l->nr * sizeof(int32_t));
    } else {
        return hitl_error_set(err, HITL_ESHAPE,
                              "--labels has %zu entries: neither the pool's %zu rows nor "
                              "the %zu --rows",
                              l->nl, npool, l->nr);
    }
    return HITL_OK;
}

/* From a label dataset, one per pool row or, with a->rows_path, one per listed row; the class
 * names from the features' attribute unless a->classes gives them. */
static hitl_status from_labels(const hitl_train_set_opts *a, hitl_train_set *t, loading *l,
                               hitl_error *err)
{
    size_t npool = hitl_matrix_rows(l->fm);
    hitl_status st = hitl_labels_read(a->labels_path, a->labels_dset, &l->labels, &l->nl, err);
    if (st != HITL_OK) return st;
    if (a->rows_path) {
        st = hitl_labels_read(a->rows_path, a->rows_dset, &l->rows, &l->nr, err);
        if (st != HITL_OK) return st;
        if ((st = listed_labels(t, l, npool, err)) != HITL_OK) return st;
    } else {
        if (l->nl != npool)
            return hitl_error_set(err, HITL_ESHAPE,
                                  "--labels has %zu entries, the features %zu rows", l->nl, npool);
        t->y = l->labels;
        l->labels = NULL;
        t->n = npool;
    }
    if (!a->classes) return hitl_matrix_classes(l->fm, &t->classes, &t->n_classes, err);
    return HITL_OK;
}

/* The number of classes: the soft labels' columns, else the class names', else the largest
 * label's + 1. HITL_ESHAPE when the names do not match it, HITL_EDATA when there are no rows. */
static hitl_status count_classes(hitl_train_set *t, hitl_error *err)
{
    if (!t->soft) {
        int32_t mx = -1;
        for (size_t i = 0; i < t->n; i++)
            mx = t->y[i] > mx ? t->y[i] : mx;
        t->c = t->n_classes ? t->n_classes : (size_t)mx + 1;
    }
    if (t->n_classes && t->n_classes != t->c)
        return hitl_error_set(err, HITL_ESHAPE, "%zu class names for %zu classes", t->n_classes,
                              t->c);
    if (t->n == 0) return hitl_error_set(err, HITL_EDATA, "no labelled rows to train on");
    return HITL_OK;
}

/* The features of the set's rows into t->x: the whole matrix, or the listed rows. */
static hitl_status read_features(hitl_train_set *t, const loading *l, hitl_error *err)
{
    if (!l->rows) return hitl_matrix_load(l->fm, &t->x, err);
    if (t->d > SIZE_MAX / sizeof(float) / t->n || !(t->x = malloc(t->n * t->d * sizeof(float))))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu x %zu features", t->n, t->d);
    return read_rows(l->fm, l->rows, l->nr, t->x, err);
}

/* Rows, targets and class names, into a zeroed *t; on failure fills err (the caller releases). */
static hitl_status load(const hitl_train_set_opts *a, hitl_train_set *t, hitl_error *err)
{
    loading l = {0};
    hitl_status st = hitl_matrix_open(&l.fm, a->features_path, a->features_dset, err);
    if (st == HITL_OK) {
        t->d = hitl_matrix_cols(l.fm);
        st = a->export_file ? from_export(a, t, &l, err) : from_labels(a, t, &l, err);
    }
    if (st == HITL_OK && a->classes)
        st = hitl_strings_split(a->classes, &t->classes, &t->n_classes, err);
    if (st == HITL_OK) st = count_classes(t, err);
    if (st == HITL_OK) st = read_features(t, &l, err);
    free(l.rows);
    free(l.labels);
    hitl_matrix_close(l.fm);
    hitl_matrix_close(l.sm);
    return st;
}

hitl_status hitl_train_set_load(const hitl_train_set_opts *o, hitl_train_set *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!o || !o->features_path || !o->labels_path)
        return hitl_error_set(err, HITL_EINVAL, "no features or labels given");
    if (o->export_file && o->rows_path)
        return hitl_error_set(err, HITL_EINVAL,
                              "an export lists its rows: no row list goes with it");
    if (o->soft && !o->export_file)
        return hitl_error_set(err, HITL_EINVAL, "soft labels come only from an export");
    hitl_status st = load(o, out, err);
    if (st != HITL_OK) hitl_train_set_release(out);
    return st;
}

void hitl_train_set_release(hitl_train_set *t)
{
    if (!t) return;
    free(t->x);
    free(t->y);
    free(t->soft);
    hitl_strings_free(t->classes, t->n_classes);
    memset(t, 0, sizeof(*t));
}
