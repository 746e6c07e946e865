/* The score output file: /scores/<method> float32 [N], /pred int32 [N] (the predicted class, -1
 * for a skipped row) and /p1 float32 [N] (its probability) written block by block (chunked,
 * NaN or -1 where never written), /top/<method> int64 row indices written once, and /ids, the
 * pool's ids copied whole when asked; never holds N in memory. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "score_mpi.h"
#include "hitl_banned.h"

#define CHUNK_ROWS ((hsize_t)1 << 16)

struct hitl_score_file {
    char *path;
    hid_t file, scores, top;
    hid_t pred, p1; /* /pred and /p1 */
    size_t n_rows;
    unsigned methods;
    hid_t dset[HITL_METHOD_COUNT];
    hid_t fspace[HITL_METHOD_COUNT];
    int top_written[HITL_METHOD_COUNT];
    int writes_top; /* 0 on all but one rank of a file made together (parallel HDF5) */
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
    if (f->pred >= 0) H5Dclose(f->pred);
    if (f->p1 >= 0) H5Dclose(f->p1);
    f->top = f->scores = f->pred = f->p1 = H5I_INVALID_HID;
}

/* A chunked rank-1 dataset of n_rows at `name` under loc, with `fill` where never written
 * (NULL: HDF5's default fill). */
static hid_t create_column(hid_t loc, const char *name, size_t n_rows, hid_t ftype, hid_t mtype,
                           const void *fill)
{
    hsize_t dim = n_rows, chunk = dim < CHUNK_ROWS ? dim : CHUNK_ROWS;
    hid_t space = H5Screate_simple(1, &dim, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t d = H5I_INVALID_HID;
    /* A chunked dataset cannot have zero rows; an empty one stays contiguous. */
    if (space >= 0 && dcpl >= 0 && (chunk == 0 || H5Pset_chunk(dcpl, 1, &chunk) >= 0) &&
        (!fill || H5Pset_fill_value(dcpl, mtype, fill) >= 0))
        d = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return d;
}

static hitl_status create_scores(hitl_score_file *f, hitl_method m, hitl_error *err)
{
    const char *name = hitl_method_name(m);
    float nan = NAN;
    f->dset[m] = create_column(f->scores, name, f->n_rows, H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, &nan);
    f->fspace[m] = f->dset[m] >= 0 ? H5Dget_space(f->dset[m]) : H5I_INVALID_HID;
    if (f->fspace[m] < 0)
        return hitl__h5_error(err, HITL_EIO, "cannot write '%s:/scores/%s'", f->path, name);
    return HITL_OK;
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
    f->writes_top = hitl__mpi_rank() == 0;
    f->scores = f->top = f->pred = f->p1 = H5I_INVALID_HID;
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
    int32_t none = -1;
    float nan = NAN;
    if (st == HITL_OK && ((f->pred = create_column(f->file, "pred", n_rows, H5T_STD_I32LE,
                                                   H5T_NATIVE_INT32, &none)) < 0 ||
                          (f->p1 = create_column(f->file, "p1", n_rows, H5T_IEEE_F32LE,
                                                 H5T_NATIVE_FLOAT, &nan)) < 0))
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/pred'", path);
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

/* rows [row0, row0 + n) of the rank-1 dataset d from v (memory type mtype) */
static int write_rows(hid_t d, hid_t mtype, size_t row0, size_t n, const void *v)
{
    hsize_t start = row0, count = n;
    hid_t fspace = H5Dget_space(d), mspace = H5Screate_simple(1, &count, NULL);
    int bad = fspace < 0 || mspace < 0 ||
              H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, NULL, &count, NULL) < 0 ||
              H5Dwrite(d, mtype, mspace, fspace, H5P_DEFAULT, v) < 0;
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    return bad;
}

hitl_status hitl_score_file_write_pred(hitl_score_file *f, size_t row0, size_t n,
                                       const int32_t *pred, const float *p1, hitl_error *err)
{
    if (!f) return hitl_error_set(err, HITL_EINVAL, "no score file given");
    if (row0 > f->n_rows || n > f->n_rows - row0)
        return hitl_error_set(err, HITL_EINVAL, "'%s': rows [%zu, %zu) out of range (%zu rows)",
                              f->path, row0, row0 + n, f->n_rows);
    if (n == 0) return HITL_OK;
    if (!pred || !p1) return hitl_error_set(err, HITL_EINVAL, "'%s': no classes given", f->path);
    hitl__h5_quiet();
    if (write_rows(f->pred, H5T_NATIVE_INT32, row0, n, pred) ||
        write_rows(f->p1, H5T_NATIVE_FLOAT, row0, n, p1))
        return hitl__h5_error(err, HITL_EIO, "cannot write '%s:/pred' rows [%zu, %zu)", f->path,
                              row0, row0 + n);
    return HITL_OK;
}

hitl_status hitl_score_file_add_ids(const char *out_path, size_t n_rows, const char *pool_path,
                                    const char *dset, hitl_error *err)
{
    if (!out_path || !pool_path || !dset) return hitl_error_set(err, HITL_EINVAL, "no ids to copy");
    hid_t src, dst;
    hitl_status st = hitl__h5_open_file(pool_path, &src, err);
    if (st != HITL_OK) return st;
    if ((st = hitl__h5_open_file_rw(out_path, &dst, err)) != HITL_OK) {
        H5Fclose(src);
        return st;
    }
    hid_t d = H5Dopen2(src, dset, H5P_DEFAULT);
    hid_t space = d >= 0 ? H5Dget_space(d) : H5I_INVALID_HID;
    hsize_t dim = 0;
    if (d < 0 || space < 0) {
        st = hitl_error_set(err, HITL_ENOTFOUND, "'%s': no dataset '%s'", pool_path, dset);
    } else if (H5Sget_simple_extent_ndims(space) != 1 ||
               (H5Sget_simple_extent_dims(space, &dim, NULL), dim != n_rows)) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': ids '%s' are not one per row (%zu rows)",
                            pool_path, dset, n_rows);
    } else if (H5Ocopy(src, dset, dst, "ids", H5P_DEFAULT, H5P_DEFAULT) < 0) {
        st = hitl__h5_error(err, HITL_EIO, "cannot copy '%s:%s' to '%s:/ids'", pool_path, dset,
                            out_path);
    }
    if (space >= 0) H5Sclose(space);
    if (d >= 0) H5Dclose(d);
    H5Fclose(src);
    if (H5Fclose(dst) < 0 && st == HITL_OK)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", out_path);
    H5Eclear2(H5E_DEFAULT);
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
    /* every rank creates the dataset (parallel HDF5: a collective call), one writes its rows */
    if (d < 0 || (k > 0 && f->writes_top &&
                  H5Dwrite(d, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) < 0))
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

/* One slice of the joined ids at [row0, row0 + ids->n) of /ids, created by the first slice:
 * int64, or the variable-length UTF-8 strings `str` (whatever the shards' own string layout). */
static hitl_status write_ids_slice(hid_t file, hid_t str, hid_t *d, int *is_string, size_t n_rows,
                                   size_t row0, const hitl_ids *ids, const char *out_path,
                                   hitl_error *err)
{
    if (*d < 0) {
        *is_string = ids->is_string;
        *d = *is_string ? create_column(file, "ids", n_rows, str, str, NULL)
                        : create_column(file, "ids", n_rows, H5T_STD_I64LE, H5T_NATIVE_INT64, NULL);
        if (*d < 0) return hitl__h5_error(err, HITL_EIO, "cannot write '%s:/ids'", out_path);
    } else if (ids->is_string != *is_string) {
        return hitl_error_set(err, HITL_ETYPE,
                              "the shards' ids are strings in some, integers in others (row %zu "
                              "on)",
                              row0);
    }
    if (write_rows(*d, *is_string ? str : H5T_NATIVE_INT64, row0, ids->n,
                   *is_string ? (const void *)ids->strs : (const void *)ids->ints))
        return hitl__h5_error(err, HITL_EIO, "cannot write '%s:/ids' rows [%zu, %zu)", out_path,
                              row0, row0 + ids->n);
    return HITL_OK;
}

hitl_status hitl_score_file_add_shard_ids(const char *out_path, const char *const *paths,
                                          const size_t *shard_rows, size_t n_shards,
                                          const char *dset, hitl_error *err)
{
    size_t n = 0;
    for (size_t i = 0; i < n_shards; i++)
        n += shard_rows[i];
    hid_t file;
    hitl_status st = hitl__h5_open_file_rw(out_path, &file, err);
    if (st != HITL_OK) return st;
    int64_t *rows = malloc((size_t)CHUNK_ROWS * sizeof(int64_t));
    hid_t str = H5Tcopy(H5T_C_S1);
    if (!rows) st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (st == HITL_OK &&
        (str < 0 || H5Tset_size(str, H5T_VARIABLE) < 0 || H5Tset_cset(str, H5T_CSET_UTF8) < 0))
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/ids'", out_path);
    hid_t d = H5I_INVALID_HID;
    int is_string = 0;
    /* a slice at a time through the ids reader, which checks each shard's ids and their type */
    for (size_t row0 = 0, len; st == HITL_OK && row0 < n; row0 += len) {
        len = n - row0 < CHUNK_ROWS ? n - row0 : CHUNK_ROWS;
        for (size_t i = 0; i < len; i++)
            rows[i] = (int64_t)(row0 + i);
        hitl_ids ids;
        st = hitl_ids_read_shard_rows(paths, shard_rows, n_shards, dset, rows, len, &ids, err);
        if (st == HITL_OK)
            st = write_ids_slice(file, str, &d, &is_string, n, row0, &ids, out_path, err);
        hitl_ids_release(&ids);
    }
    if (st == HITL_OK && d < 0 && /* no rows: an empty int64 /ids */
        (d = create_column(file, "ids", 0, H5T_STD_I64LE, H5T_NATIVE_INT64, NULL)) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/ids'", out_path);
    if (str >= 0) H5Tclose(str);
    free(rows);
    if (d >= 0) H5Dclose(d);
    if (H5Fclose(file) < 0 && st == HITL_OK)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", out_path);
    H5Eclear2(H5E_DEFAULT);
    return st;
}
