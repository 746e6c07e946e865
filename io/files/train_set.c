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

/* Rows, targets and class names, into a zeroed *t; on failure fills err (the caller releases). */
static hitl_status load(const hitl_train_set_opts *a, hitl_train_set *t, hitl_error *err)
{
    int32_t *rows = NULL, *labels = NULL;
    size_t nr = 0, nl = 0;
    hitl_matrix *fm = NULL, *sm = NULL;
    hitl_status st = hitl_matrix_open(&fm, a->features_path, a->features_dset, err);
    if (st != HITL_OK) goto done;
    size_t npool = hitl_matrix_rows(fm);
    t->d = hitl_matrix_cols(fm);

    if (a->export_file) {
        st = hitl_labels_read(a->labels_path, "rows", &rows, &nr, err);
        if (st == HITL_OK) st = hitl_labels_read(a->labels_path, "labels", &labels, &nl, err);
        if (st == HITL_OK) st = hitl_matrix_open(&sm, a->labels_path, "soft_labels", err);
        if (st == HITL_OK && !a->classes)
            st = hitl_matrix_classes(sm, &t->classes, &t->n_classes, err);
        if (st == HITL_OK && nl != nr)
            st = hitl_error_set(err, HITL_ESHAPE, "'%s': /labels has %zu rows, /rows %zu",
                                a->labels_path, nl, nr);
        if (st == HITL_OK && a->soft) {
            t->c = hitl_matrix_cols(sm);
            if (hitl_matrix_rows(sm) != nr)
                st = hitl_error_set(err, HITL_ESHAPE, "'%s': /soft_labels has %zu rows, /rows %zu",
                                    a->labels_path, hitl_matrix_rows(sm), nr);
            if (st == HITL_OK) st = hitl_matrix_load(sm, &t->soft, err);
        }
        if (st != HITL_OK) goto done;
        t->y = labels;
        labels = NULL;
        t->n = nr;
    } else {
        st = hitl_labels_read(a->labels_path, a->labels_dset, &labels, &nl, err);
        if (st != HITL_OK) goto done;
        if (a->rows_path) {
            st = hitl_labels_read(a->rows_path, a->rows_dset, &rows, &nr, err);
            if (st != HITL_OK) goto done;
            t->n = nr;
            if (!(t->y = malloc((nr ? nr : 1) * sizeof(int32_t)))) {
                st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                goto done;
            }
            if (nl == npool) { /* labels of every pool row: take the listed ones */
                for (size_t i = 0; i < nr; i++) {
                    if ((size_t)rows[i] >= npool) {
                        st = hitl_error_set(err, HITL_EDATA,
                                            "--rows entry %zu is row %d, past "
                                            "the %zu rows",
                                            i, (int)rows[i], npool);
                        goto done;
                    }
                    t->y[i] = labels[rows[i]];
                }
            } else if (nl == nr) {
                memcpy(t->y, labels, nr * sizeof(int32_t));
            } else {
                st = hitl_error_set(err, HITL_ESHAPE,
                                    "--labels has %zu entries: neither the pool's %zu rows nor "
                                    "the %zu --rows",
                                    nl, npool, nr);
                goto done;
            }
        } else {
            if (nl != npool) {
                st = hitl_error_set(err, HITL_ESHAPE,
                                    "--labels has %zu entries, the features %zu rows", nl, npool);
                goto done;
            }
            t->y = labels;
            labels = NULL;
            t->n = npool;
        }
        if (!a->classes) st = hitl_matrix_classes(fm, &t->classes, &t->n_classes, err);
        if (st != HITL_OK) goto done;
    }
    if (a->classes) {
        st = hitl_strings_split(a->classes, &t->classes, &t->n_classes, err);
        if (st != HITL_OK) goto done;
    }
    if (!t->soft) {
        int32_t mx = -1;
        for (size_t i = 0; i < t->n; i++)
            mx = t->y[i] > mx ? t->y[i] : mx;
        t->c = t->n_classes ? t->n_classes : (size_t)mx + 1;
    }
    if (t->n_classes && t->n_classes != t->c) {
        st =
            hitl_error_set(err, HITL_ESHAPE, "%zu class names for %zu classes", t->n_classes, t->c);
        goto done;
    }
    if (t->n == 0) {
        st = hitl_error_set(err, HITL_EDATA, "no labelled rows to train on");
        goto done;
    }
    if (!rows)
        st = hitl_matrix_load(fm, &t->x, err);
    else if (t->d > SIZE_MAX / sizeof(float) / t->n ||
             !(t->x = malloc(t->n * t->d * sizeof(float))))
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu x %zu features", t->n, t->d);
    else
        st = read_rows(fm, rows, nr, t->x, err);
done:
    free(rows);
    free(labels);
    hitl_matrix_close(fm);
    hitl_matrix_close(sm);
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
