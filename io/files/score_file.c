/* The score output file: /scores/<method> float32 [N] written block by block (chunked, NaN where
 * never written) and /top/<method> int64 row indices written once; never holds N in memory. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "hitl_banned.h"

#define CHUNK_ROWS ((hsize_t)1 << 16)

struct hitl_score_file {
    char *path;
    hid_t file, scores, top;
    size_t n_rows;
    unsigned methods;
    hid_t dset[HITL_METHOD_COUNT];
    hid_t fspace[HITL_METHOD_COUNT];
    int top_written[HITL_METHOD_COUNT];
};

static void close_all(hitl_score_file *f)
{
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        if (f->fspace[m] >= 0) H5Sclose(f->fspace[m]);
        if (f->dset[m] >= 0) H5Dclose(f->dset[m]);
        f->fspace[m] = f->dset[m] = H5I_INVALID_HID;
    }
    if (f->top >= 0) H5Gclose(f->top);
    if (f->scores >= 0) H5Gclose(f->scores);
    f->top = f->scores = H5I_INVALID_HID;
}

static hitl_status create_scores(hitl_score_file *f, hitl_method m, hitl_error *err)
{
    const char *name = hitl_method_name(m);
    hsize_t dim = f->n_rows, chunk = dim < CHUNK_ROWS ? dim : CHUNK_ROWS;
    float nan = NAN;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hitl_status st = HITL_OK;
    /* A chunked dataset cannot have zero rows; an empty one stays contiguous. */
    if (space < 0 || dcpl < 0 || (chunk > 0 && H5Pset_chunk(dcpl, 1, &chunk) < 0) ||
        H5Pset_fill_value(dcpl, H5T_NATIVE_FLOAT, &nan) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/scores/%s'", f->path, name);
    } else {
        f->dset[m] =
            H5Dcreate2(f->scores, name, H5T_IEEE_F32LE, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        f->fspace[m] = f->dset[m] >= 0 ? H5Dget_space(f->dset[m]) : H5I_INVALID_HID;
        if (f->fspace[m] < 0)
            st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/scores/%s'", f->path, name);
    }
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return st;
}

hitl_status hitl_score_file_create(hitl_score_file **out, const char *path, size_t n_rows,
                                   unsigned methods, hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no score file handle given");
    *out = NULL;
    if (!path || !path[0]) return hitl_error_set(err, HITL_EINVAL, "no score file name given");
    if (methods & ~HITL_METHODS_ALL)
        return hitl_error_set(err, HITL_EINVAL, "unknown methods in mask 0x%x", methods);

    hitl_score_file *f = calloc(1, sizeof(*f));
    size_t len = strlen(path) + 1;
    char *p = malloc(len);
    if (!f || !p) {
        free(f);
        free(p);
        return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    }
    memcpy(p, path, len);
    f->path = p;
    f->n_rows = n_rows;
    f->methods = methods;
    f->scores = f->top = H5I_INVALID_HID;
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        f->dset[m] = f->fspace[m] = H5I_INVALID_HID;

    hitl_status st = hitl__h5_create_file(path, &f->file, err);
    if (st != HITL_OK) {
        free(f->path);
        free(f);
        return st;
    }
    f->scores = H5Gcreate2(f->file, "scores", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    f->top = H5Gcreate2(f->file, "top", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    if (f->scores < 0 || f->top < 0) st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", path);
    for (int m = 0; m < HITL_METHOD_COUNT && st == HITL_OK; m++)
        if (methods & HITL_METHOD_BIT(m)) st = create_scores(f, (hitl_method)m, err);
    if (st != HITL_OK) {
        hitl_score_file_close(f, NULL);
        return st;
    }
    *out = f;
    return HITL_OK;
}

hitl_status hitl_score_file_write(hitl_score_file *f, hitl_method m, size_t row0, size_t n,
                                  const float *scores, hitl_error *err)
{
    if (!f) return hitl_error_set(err, HITL_EINVAL, "no score file given");
    if ((unsigned)m >= HITL_METHOD_COUNT || f->dset[m] < 0)
        return hitl_error_set(err, HITL_EINVAL, "'%s': no scores for method '%s'", f->path,
                              hitl_method_name(m));
    if (row0 > f->n_rows || n > f->n_rows - row0)
        return hitl_error_set(err, HITL_EINVAL, "'%s': rows [%zu, %zu) out of range (%zu rows)",
                              f->path, row0, row0 + n, f->n_rows);
    if (n == 0) return HITL_OK;
    if (!scores) return hitl_error_set(err, HITL_EINVAL, "'%s': no scores given", f->path);

    hitl__h5_quiet();
    hsize_t start = row0, count = n;
    hid_t mspace = H5Screate_simple(1, &count, NULL);
    hitl_status st = HITL_OK;
    if (mspace < 0 ||
        H5Sselect_hyperslab(f->fspace[m], H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
        H5Dwrite(f->dset[m], H5T_NATIVE_FLOAT, mspace, f->fspace[m], H5P_DEFAULT, scores) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/scores/%s' rows [%zu, %zu)", f->path,
                            hitl_method_name(m), row0, row0 + n);
    if (mspace >= 0) H5Sclose(mspace);
    return st;
}

hitl_status hitl_score_file_write_top(hitl_score_file *f, hitl_method m, const hitl_scored *top,
                                      size_t k, hitl_error *err)
{
    if (!f) return hitl_error_set(err, HITL_EINVAL, "no score file given");
    if ((unsigned)m >= HITL_METHOD_COUNT)
        return hitl_error_set(err, HITL_EINVAL, "unknown method %d", (int)m);
    const char *name = hitl_method_name(m);
    if (f->top_written[m])
        return hitl_error_set(err, HITL_ECONFLICT, "'%s': top rows for '%s' already written",
                              f->path, name);
    if (k > 0 && !top) return hitl_error_set(err, HITL_EINVAL, "'%s': no top rows given", f->path);

    hitl__h5_quiet();
    int64_t *rows = malloc((k ? k : 1) * sizeof(*rows));
    if (!rows) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", f->path);
    for (size_t i = 0; i < k; i++)
        rows[i] = top[i].row;
    hsize_t dim = k;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t d = space >= 0 ? H5Dcreate2(f->top, name, H5T_STD_I64LE, space, H5P_DEFAULT, H5P_DEFAULT,
                                      H5P_DEFAULT)
                         : H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    if (d < 0 || (k > 0 && H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0))
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/top/%s'", f->path, name);
    else
        f->top_written[m] = 1;
    if (d >= 0) H5Dclose(d);
    if (space >= 0) H5Sclose(space);
    free(rows);
    return st;
}

hitl_status hitl_score_file_close(hitl_score_file *f, hitl_error *err)
{
    if (!f) return HITL_OK;
    hitl__h5_quiet();
    close_all(f);
    hitl_status st = HITL_OK;
    if (f->file >= 0 && H5Fclose(f->file) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", f->path);
    H5Eclear2(H5E_DEFAULT);
    free(f->path);
    free(f);
    return st;
}
