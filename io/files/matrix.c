/* The hitl_matrix front: picks the backend (.npy or HDF5), checks every request once, and
 * dispatches through the backend's vtable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "matrix_internal.h"
#include "hitl_banned.h"

int hitl_path_is_npy(const char *path)
{
    size_t len = path ? strlen(path) : 0;
    return len >= 4 && strcasecmp(path + len - 4, ".npy") == 0;
}

static char *make_name(const char *path, const char *dset)
{
    size_t len = strlen(path) + (dset ? strlen(dset) + 2 : 0) + 1;
    char *name = malloc(len);
    if (!name) return NULL;
    if (dset)
        snprintf(name, len, "%s:%s%s", path, dset[0] == '/' ? "" : "/", dset);
    else
        snprintf(name, len, "%s", path);
    return name;
}

static hitl_status open_matrix(hitl_matrix **out, const char *path, const char *dset, int integers,
                               hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no matrix handle given");
    *out = NULL;
    if (!path || !path[0]) return hitl_error_set(err, HITL_EINVAL, "no file name given");
    int npy = !dset || hitl_path_is_npy(path);
    if (!npy && !dset[0])
        return hitl_error_set(err, HITL_EINVAL, "'%s': no dataset name given", path);

    hitl_matrix *m = calloc(1, sizeof(*m));
    if (!m) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    m->name = make_name(path, npy ? NULL : dset);
    if (!m->name) {
        free(m);
        return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    }
    hitl_status st = npy ? hitl__matrix_open_npy(m, path, integers, err)
                         : hitl__matrix_open_h5(m, path, dset, integers, err);
    if (st != HITL_OK) {
        free(m->name);
        free(m);
        return st;
    }
    *out = m;
    return HITL_OK;
}

hitl_status hitl_matrix_open(hitl_matrix **out, const char *path, const char *dset, hitl_error *err)
{
    return open_matrix(out, path, dset, 0, err);
}

hitl_status hitl_matrix_open_numeric(hitl_matrix **out, const char *path, const char *dset,
                                     hitl_error *err)
{
    return open_matrix(out, path, dset, 1, err);
}

void hitl_matrix_close(hitl_matrix *m)
{
    if (!m) return;
    if (m->ops && m->ops->close) m->ops->close(m);
    free(m->name);
    free(m);
}

size_t hitl_matrix_rows(const hitl_matrix *m)
{
    return m ? m->rows : 0;
}

size_t hitl_matrix_cols(const hitl_matrix *m)
{
    return m ? m->cols : 0;
}

const char *hitl_matrix_name(const hitl_matrix *m)
{
    return m ? m->name : "";
}

/* HITL_OK when rows [row0, row0 + n) may be read into dst; *none set when there is nothing to
 * read. */
static hitl_status check_read(const hitl_matrix *m, size_t row0, size_t n, const void *dst,
                              int *none, hitl_error *err)
{
    *none = 1;
    if (!m) return hitl_error_set(err, HITL_EINVAL, "no matrix given");
    if (row0 > m->rows || n > m->rows - row0)
        return hitl_error_set(err, HITL_EINVAL, "'%s': rows [%zu, %zu) out of range (%zu rows)",
                              m->name, row0, row0 + n, m->rows);
    *none = n == 0;
    if (!*none && !dst)
        return hitl_error_set(err, HITL_EINVAL, "'%s': no output buffer given", m->name);
    return HITL_OK;
}

hitl_status hitl_matrix_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err)
{
    int none;
    hitl_status st = check_read(m, row0, n, dst, &none, err);
    if (st != HITL_OK || none) return st;
    return m->ops->read(m, row0, n, dst, err);
}

hitl_status hitl_matrix_read_f64(hitl_matrix *m, size_t row0, size_t n, double *dst,
                                 hitl_error *err)
{
    int none;
    hitl_status st = check_read(m, row0, n, dst, &none, err);
    if (st != HITL_OK || none) return st;
    return m->ops->read_f64(m, row0, n, dst, err);
}

hitl_status hitl_matrix_classes(hitl_matrix *m, char ***names, size_t *n, hitl_error *err)
{
    if (!names || !n) return hitl_error_set(err, HITL_EINVAL, "no output for class names given");
    *names = NULL;
    *n = 0;
    if (!m) return hitl_error_set(err, HITL_EINVAL, "no matrix given");
    if (!m->ops->classes) return HITL_OK;
    return m->ops->classes(m, names, n, err);
}

hitl_status hitl_matrix_load(hitl_matrix *m, float **out, hitl_error *err)
{
    size_t n = hitl_matrix_rows(m), d = hitl_matrix_cols(m), block = hitl_block_rows(d);
    *out = NULL;
    if (n && d > SIZE_MAX / sizeof(float) / n)
        return hitl_error_set(err, HITL_ENOMEM, "'%s': %zu x %zu floats do not fit in memory",
                              hitl_matrix_name(m), n, d);
    float *x = malloc(n && d ? n * d * sizeof(float) : 1);
    if (!x)
        return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory for %zu x %zu floats",
                              hitl_matrix_name(m), n, d);
    hitl_status st = HITL_OK;
    for (size_t r = 0; st == HITL_OK && r < n; r += block)
        st = hitl_matrix_read(m, r, n - r < block ? n - r : block, x + r * d, err);
    if (st != HITL_OK) {
        free(x);
        return st;
    }
    *out = x;
    return HITL_OK;
}
