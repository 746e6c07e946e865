/* Files hitl writes for its own later use: pool files (features, labels, class names),
 * learning curves and small text files (SVG, JSON). Each is written whole and removed again when
 * a write fails; text files appear by rename, complete or not at all. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "h5_util.h"
#include "hitl_banned.h"

static hitl_status write_string_attr(hid_t obj, const char *path, const char *attr, const char *v,
                                     hitl_error *err)
{
    hid_t type = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    hid_t a = H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    if (type < 0 || space < 0 || H5Tset_size(type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(type, H5T_CSET_UTF8) < 0 ||
        (a = H5Acreate2(obj, attr, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, type, &v) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s': attribute '%s'", path, attr);
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    if (type >= 0) H5Tclose(type);
    return st;
}

/* Closes the file, and on any failure removes what was written: no half-written file stays. */
static hitl_status finish(hid_t file, const char *path, hitl_status st, hitl_error *err)
{
    if (H5Fclose(file) < 0 && st == HITL_OK)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", path);
    H5Eclear2(H5E_DEFAULT);
    if (st != HITL_OK) unlink(path);
    return st;
}

hitl_status hitl_pool_save(const char *path, const float *x, size_t n, size_t d,
                           const int32_t *labels, char *const *classes, size_t n_classes,
                           const char *source, hitl_error *err)
{
    if (!path || !x || d == 0) return hitl_error_set(err, HITL_EINVAL, "pool: nothing to write");
    int64_t *lab = NULL;
    if (labels && !(lab = malloc((n ? n : 1) * sizeof(int64_t))))
        return hitl_error_set(err, HITL_ENOMEM, "pool: out of memory");
    for (size_t i = 0; labels && i < n; i++)
        lab[i] = labels[i];
    hid_t file;
    hitl_status st = hitl__h5_create_file(path, &file, err);
    if (st != HITL_OK) {
        free(lab);
        return st;
    }
    hsize_t xd[2] = {n, d}, ld[1] = {n};
    st = hitl__h5_write(file, path, "/features", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, xd, x, err);
    if (st == HITL_OK && lab)
        st =
            hitl__h5_write(file, path, "/labels", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, ld, lab, err);
    if (st == HITL_OK && classes)
        st = hitl__h5_write_strings_attr(file, path, "classes", classes, n_classes, err);
    if (st == HITL_OK && source) st = write_string_attr(file, path, "source", source, err);
    free(lab);
    return finish(file, path, st, err);
}

hitl_status hitl_curves_save(const char *path, const hitl_curves *c, size_t n,
                             const uint64_t *seeds, size_t n_seeds, hitl_error *err)
{
    if (!path || !c || n == 0) return hitl_error_set(err, HITL_EINVAL, "curves: nothing to write");
    char **names = malloc(n * sizeof(char *));
    if (!names) return hitl_error_set(err, HITL_ENOMEM, "curves: out of memory");
    for (size_t i = 0; i < n; i++)
        names[i] = (char *)c[i].strategy;
    hid_t file;
    hitl_status st = hitl__h5_create_file(path, &file, err);
    if (st != HITL_OK) {
        free(names);
        return st;
    }
    st = hitl__h5_write_strings_attr(file, path, "strategies", names, n, err);
    free(names);
    if (st == HITL_OK) {
        hsize_t sd = n_seeds;
        hid_t space = H5Screate_simple(1, &sd, NULL);
        hid_t a = space >= 0
                      ? H5Acreate2(file, "seeds", H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT)
                      : H5I_INVALID_HID;
        if (a < 0 || H5Awrite(a, H5T_NATIVE_UINT64, seeds) < 0)
            st = hitl__h5_error(err, HITL_EIO, "cannot write '%s': attribute 'seeds'", path);
        if (a >= 0) H5Aclose(a);
        if (space >= 0) H5Sclose(space);
    }
    for (size_t i = 0; i < n && st == HITL_OK; i++) {
        hid_t g = H5Gcreate2(file, c[i].strategy, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
        if (g < 0) {
            st =
                hitl__h5_error(err, HITL_EIO, "cannot write '%s': group '%s'", path, c[i].strategy);
            break;
        }
        hsize_t pd[1] = {c[i].points}, sp[2] = {c[i].seeds, c[i].points};
        struct {
            const char *name;
            int rank;
            const hsize_t *dims;
            const double *v;
        } sets[] = {{"labelled", 1, pd, c[i].labelled},
                    {"annotations", 1, pd, c[i].annotations},
                    {"accuracy", 2, sp, c[i].accuracy},
                    {"label_accuracy", 2, sp, c[i].label_accuracy},
                    {"seconds", 2, sp, c[i].seconds}};
        for (size_t k = 0; k < sizeof(sets) / sizeof(sets[0]) && st == HITL_OK; k++)
            st = hitl__h5_write(g, path, sets[k].name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                                sets[k].rank, sets[k].dims, sets[k].v, err);
        H5Gclose(g);
    }
    return finish(file, path, st, err);
}

hitl_status hitl_text_save(const char *path, const char *text, hitl_error *err)
{
    if (!path || !text) return hitl_error_set(err, HITL_EINVAL, "nothing to write");
    size_t len = strlen(path);
    char *tmp = malloc(len + 16);
    if (!tmp) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    snprintf(tmp, len + 16, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    size_t n = strlen(text);
    int bad = !f || fwrite(text, 1, n, f) != n;
    if (f && fclose(f) != 0) bad = 1;
    if (!bad && rename(tmp, path) != 0) bad = 1;
    hitl_status st = HITL_OK;
    if (bad) {
        st = hitl_error_set(err, HITL_EIO, "cannot write '%s': %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return st;
}

/* ---- a labelled pool read back ------------------------------------------------------------ */

void hitl_labelled_release(hitl_labelled *l)
{
    if (!l) return;
    free(l->x);
    free(l->y);
    hitl_strings_free(l->classes, l->n_classes);
    memset(l, 0, sizeof(*l));
}

hitl_status hitl_labelled_load(const char *path, const char *dset, const char *labels_path,
                               const char *labels_dset, hitl_labelled *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    int npy = hitl_path_is_npy(path);
    if (npy && !labels_path)
        return hitl_error_set(err, HITL_EINVAL, "'%s': give its labels (FILE:DSET)", path);
    hitl_matrix *m = NULL;
    size_t nl = 0;
    hitl_status st = hitl_matrix_open(&m, path, npy ? NULL : dset, err);
    if (st == HITL_OK) {
        out->n = hitl_matrix_rows(m);
        out->d = hitl_matrix_cols(m);
        st = hitl_matrix_load(m, &out->x, err);
    }
    if (st == HITL_OK) st = hitl_matrix_classes(m, &out->classes, &out->n_classes, err);
    if (st == HITL_OK)
        st = hitl_labels_read(labels_path ? labels_path : path, labels_dset, &out->y, &nl, err);
    if (st == HITL_OK && nl != out->n)
        st = hitl_error_set(err, HITL_ESHAPE, "%zu labels for %zu rows of '%s'", nl, out->n,
                            hitl_matrix_name(m));
    hitl_matrix_close(m);
    if (st != HITL_OK) hitl_labelled_release(out);
    return st;
}
