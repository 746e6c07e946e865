/* HDF5 backend of hitl_matrix: a rank-2 float32/float64 dataset (or, when asked, any integer
 * type, which HDF5 converts) read by row hyperslabs straight into the caller's buffer (one
 * H5Dread per block: this path is the project's read floor). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "h5_util.h"
#include "matrix_internal.h"
#include "hitl_banned.h"

/* float64 rows go through a scratch of at most this many bytes, converted by hand: 2.5x faster
 * than HDF5's own conversion (10M x 10 from page cache: 0.065 s vs 0.165 s; 1-8 MiB all alike). */
#define SCRATCH_BYTES ((size_t)1 << 20)
/* Chunk cache bounds: enough for the band of chunks two consecutive blocks share (gzip chunks of
 * 100000 x 10 rows: 0.45 s vs 0.65 s with HDF5's 1 MiB default). */
#define CACHE_MIN ((size_t)1 << 20)
#define CACHE_MAX ((size_t)32 << 20)

typedef struct h5_matrix {
    char *path;
    hid_t file, dset, fspace, mspace;
    hsize_t mspace_rows; /* rows of the cached memory space (0: none yet) */
    int is_double;
    double *scratch;
    size_t scratch_rows;
} h5_matrix;

static void h5_close(hitl_matrix *m)
{
    h5_matrix *s = m->impl;
    if (!s) return;
    if (s->mspace >= 0) H5Sclose(s->mspace);
    if (s->fspace >= 0) H5Sclose(s->fspace);
    if (s->dset >= 0) H5Dclose(s->dset);
    if (s->file >= 0) H5Fclose(s->file);
    H5Eclear2(H5E_DEFAULT);
    free(s->scratch);
    free(s->path);
    free(s);
    m->impl = NULL;
}

/* Reads rows [row0, row0 + n) into `buf` as `memtype`. */
static herr_t read_rows(h5_matrix *s, size_t cols, size_t row0, size_t n, hid_t memtype, void *buf)
{
    hsize_t start[2] = {row0, 0}, count[2] = {n, cols};
    if (H5Sselect_hyperslab(s->fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0) return -1;
    if (s->mspace_rows != n) {
        if (s->mspace >= 0) H5Sclose(s->mspace);
        s->mspace_rows = 0;
        s->mspace = H5Screate_simple(2, count, NULL);
        if (s->mspace < 0) return -1;
        s->mspace_rows = n;
    }
    return H5Dread(s->dset, memtype, s->mspace, s->fspace, H5P_DEFAULT, buf);
}

static hitl_status h5_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err)
{
    h5_matrix *s = m->impl;
    hitl__h5_quiet();
    if (!s->is_double) {
        if (read_rows(s, m->cols, row0, n, H5T_NATIVE_FLOAT, dst) < 0)
            return hitl__h5_error(err, HITL_EIO, "'%s': cannot read rows [%zu, %zu)", m->name, row0,
                                  row0 + n);
        return HITL_OK;
    }
    for (size_t done = 0; done < n;) {
        size_t k = n - done < s->scratch_rows ? n - done : s->scratch_rows;
        if (read_rows(s, m->cols, row0 + done, k, H5T_NATIVE_DOUBLE, s->scratch) < 0)
            return hitl__h5_error(err, HITL_EIO, "'%s': cannot read rows [%zu, %zu)", m->name,
                                  row0 + done, row0 + done + k);
        float *out = dst + done * m->cols;
        const double *in = s->scratch;
        for (size_t i = 0, len = k * m->cols; i < len; i++)
            out[i] = (float)in[i];
        done += k;
    }
    return HITL_OK;
}

/* HDF5 widens float32 and integers to float64 exactly; float64 is read as it is. */
static hitl_status h5_read_f64(hitl_matrix *m, size_t row0, size_t n, double *dst, hitl_error *err)
{
    hitl__h5_quiet();
    if (read_rows(m->impl, m->cols, row0, n, H5T_NATIVE_DOUBLE, dst) < 0)
        return hitl__h5_error(err, HITL_EIO, "'%s': cannot read rows [%zu, %zu)", m->name, row0,
                              row0 + n);
    return HITL_OK;
}

static hitl_status h5_classes(hitl_matrix *m, char ***names, size_t *n, hitl_error *err)
{
    h5_matrix *s = m->impl;
    int found = 0;
    hitl_status st = hitl__h5_attr_strings(s->dset, "classes", m->name, names, n, &found, err);
    if (st != HITL_OK || found) return st;
    return hitl__h5_attr_strings(s->file, "classes", s->path, names, n, NULL, err);
}

static const hitl__matrix_ops h5_ops = {h5_read, h5_read_f64, h5_classes, h5_close};

/* A chunked dataset gets a chunk cache that holds the band of chunks straddling a block edge,
 * so no chunk is read (or decompressed) twice by consecutive blocks. */
static hid_t chunk_cache_dapl(hid_t dset, size_t cols, size_t elem)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return H5I_INVALID_HID;
    hsize_t cd[2] = {0, 0};
    int chunked = H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 2, cd) == 2;
    H5Pclose(dcpl);
    if (!chunked || cd[0] == 0 || cd[1] == 0) return H5I_INVALID_HID;

    double chunk = (double)cd[0] * (double)cd[1] * (double)elem;
    double band = (double)((cols + cd[1] - 1) / cd[1]) * chunk;
    double want = 2 * band;
    if (want < (double)CACHE_MIN) want = (double)CACHE_MIN;
    if (want > (double)CACHE_MAX) want = (double)CACHE_MAX;
    double fit = want / chunk;
    /* HDF5 suggests about 100 hash slots per cached chunk, odd (ideally prime). */
    double slots = fit * 100 < 521 ? 521 : fit * 100 > 1048573 ? 1048573 : fit * 100;
    size_t nslots = (size_t)slots | 1;

    hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
    if (dapl < 0) return H5I_INVALID_HID;
    if (H5Pset_chunk_cache(dapl, nslots, (size_t)want, 1.0) < 0) {
        H5Pclose(dapl);
        return H5I_INVALID_HID;
    }
    return dapl;
}

hitl_status hitl__matrix_open_h5(hitl_matrix *m, const char *path, const char *dset, int integers,
                                 hitl_error *err)
{
    h5_matrix *s = calloc(1, sizeof(*s));
    if (!s) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    s->file = s->dset = s->fspace = s->mspace = H5I_INVALID_HID;
    m->impl = s;
    m->ops = &h5_ops;

    hid_t type = H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    s->path = malloc(strlen(path) + 1);
    if (!s->path) {
        st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
        goto fail;
    }
    memcpy(s->path, path, strlen(path) + 1);
    if ((st = hitl__h5_open_file(path, &s->file, err)) != HITL_OK) goto fail;
    if ((st = hitl__h5_open_dataset(s->file, path, dset, H5P_DEFAULT, &s->dset, err)) != HITL_OK)
        goto fail;

    type = H5Dget_type(s->dset);
    if (type < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the type", m->name);
        goto fail;
    }
    size_t elem = H5Tget_size(type);
    int is_int = integers && H5Tget_class(type) == H5T_INTEGER; /* HDF5 converts to float32 */
    if (!is_int && (H5Tget_class(type) != H5T_FLOAT || (elem != 4 && elem != 8))) {
        char tn[32];
        hitl__h5_type_name(type, tn, sizeof(tn));
        st = hitl_error_set(err, HITL_ETYPE, "'%s': unsupported type %s (need %s)", m->name, tn,
                            integers ? "integers, float32 or float64" : "float32 or float64");
        goto fail;
    }
    s->is_double = !is_int && elem == 8;

    s->fspace = H5Dget_space(s->dset);
    int rank = s->fspace >= 0 ? H5Sget_simple_extent_ndims(s->fspace) : -1;
    if (rank < 0) {
        st = hitl__h5_error(err, HITL_EIO, "'%s': cannot read the shape", m->name);
        goto fail;
    }
    if (rank != 2) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': expected a rank-2 matrix, got rank %d",
                            m->name, rank);
        goto fail;
    }
    hsize_t dims[2];
    H5Sget_simple_extent_dims(s->fspace, dims, NULL);
    if (dims[1] == 0) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': the matrix has no columns", m->name);
        goto fail;
    }
    if (dims[0] > SIZE_MAX / sizeof(double) / dims[1]) {
        st = hitl_error_set(err, HITL_ESHAPE, "'%s': shape (%llu, %llu) is too large", m->name,
                            (unsigned long long)dims[0], (unsigned long long)dims[1]);
        goto fail;
    }
    if (dims[1] > HITL_MATRIX_MAX_COLS) {
        st =
            hitl_error_set(err, HITL_ESHAPE, "'%s': %llu columns, more than the %zu a row may have",
                           m->name, (unsigned long long)dims[1], (size_t)HITL_MATRIX_MAX_COLS);
        goto fail;
    }
    if ((st = hitl__h5_check_written(s->dset, m->name, err)) != HITL_OK) goto fail;
    m->rows = (size_t)dims[0];
    m->cols = (size_t)dims[1];

    hid_t dapl = chunk_cache_dapl(s->dset, m->cols, elem);
    H5Eclear2(H5E_DEFAULT);
    if (dapl >= 0) {
        H5Dclose(s->dset);
        st = hitl__h5_open_dataset(s->file, path, dset, dapl, &s->dset, err);
        H5Pclose(dapl);
        if (st != HITL_OK) goto fail;
    }

    if (s->is_double) {
        size_t rows = SCRATCH_BYTES / (m->cols * sizeof(double));
        s->scratch_rows = rows ? rows : 1;
        if (s->scratch_rows > m->rows && m->rows > 0) s->scratch_rows = m->rows;
        s->scratch = malloc(s->scratch_rows * m->cols * sizeof(double));
        if (!s->scratch) {
            st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", m->name);
            goto fail;
        }
    }
    H5Tclose(type);
    return HITL_OK;

fail:
    if (type >= 0) H5Tclose(type);
    h5_close(m);
    m->ops = NULL;
    return st;
}
