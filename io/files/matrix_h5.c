/* HDF5 backend of hitl_matrix: a rank-2 float32/float64 dataset (or, when asked, any integer
 * type, which HDF5 converts) read by row hyperslabs straight into the caller's buffer (one
 * H5Dread per block: this path is the project's read floor). Chunked layouts: unfiltered chunks
 * are read without a chunk cache (whole ones straight in; chunks narrower than a row by bands
 * of their columns); compressed float32 chunks (deflate, shuffled or not) can be fetched as
 * stored and inflated by the caller's threads (h5_fetch, h5_decode); other filters go through
 * HDF5 and a chunk cache sized to the band two blocks share. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
    size_t band_cols; /* unfiltered chunks narrower than a row: their width; else 0 */
    size_t chunk_cols;
    int deflate, shuffled;           /* float32 chunks through deflate (and shuffle before it) */
    unsigned deflate_at, shuffle_at; /* their places in the filter pipeline */
    float *band;                     /* one band of a block, [rows][band_cols] */
    size_t band_cap;                 /* floats band holds */
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
    free(s->band);
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

/* Rows [row0, row0 + n) as float32 band by band of band_cols columns: each band is read into a
 * buffer of its own width, where its chunks are whole and contiguous (HDF5 reads them straight
 * in), then copied into its columns of dst. */
static herr_t read_bands(h5_matrix *s, size_t cols, size_t row0, size_t n, float *dst)
{
    size_t w = s->band_cols;
    if (n * w > s->band_cap) {
        float *b = realloc(s->band, n * w * sizeof(float));
        if (!b) return -1;
        s->band = b;
        s->band_cap = n * w;
    }
    for (size_t c0 = 0; c0 < cols; c0 += w) {
        size_t k = cols - c0 < w ? cols - c0 : w;
        hsize_t start[2] = {row0, c0}, count[2] = {n, k};
        hid_t ms = H5Screate_simple(2, count, NULL);
        herr_t rc = ms < 0 ? -1
                    : H5Sselect_hyperslab(s->fspace, H5S_SELECT_SET, start, NULL, count, NULL)
                        ? -1
                        : H5Dread(s->dset, H5T_NATIVE_FLOAT, ms, s->fspace, H5P_DEFAULT, s->band);
        if (ms >= 0) H5Sclose(ms);
        if (rc < 0) return -1;
        for (size_t i = 0; i < n; i++)
            memcpy(dst + i * cols + c0, s->band + i * k, k * sizeof(float));
    }
    return 0;
}

static hitl_status h5_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err)
{
    h5_matrix *s = m->impl;
    hitl__h5_quiet();
    if (!s->is_double && s->band_cols) {
        if (read_bands(s, m->cols, row0, n, dst) < 0)
            return hitl__h5_error(err, HITL_EIO, "'%s': cannot read rows [%zu, %zu)", m->name, row0,
                                  row0 + n);
        return HITL_OK;
    }
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

/* ---- compressed chunks, fetched under the lock and inflated outside it ---------------- */

static int h5_splits(const hitl_matrix *m)
{
    const h5_matrix *s = m->impl;
    return s->deflate != 0;
}

/* The chunks of rows [row0, row0 + n): row bands of chunk_rows, each across the column chunks. */
static hitl_status h5_fetch(hitl_matrix *m, size_t row0, size_t n, hitl_raw_chunks *raw,
                            hitl_error *err)
{
    h5_matrix *s = m->impl;
    size_t cr = m->chunk_rows, cc = s->chunk_cols;
    size_t bands = (n + cr - 1) / cr, across = (m->cols + cc - 1) / cc, k = bands * across;
    hitl__h5_quiet();
    raw->len = raw->n = 0;
    if (k > raw->cap_n) {
        size_t *off = realloc(raw->off, k * sizeof(size_t));
        if (off) raw->off = off;
        size_t *size = off ? realloc(raw->size, k * sizeof(size_t)) : NULL;
        if (size) raw->size = size;
        unsigned *mask = size ? realloc(raw->mask, k * sizeof(unsigned)) : NULL;
        if (mask) raw->mask = mask;
        if (!mask) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", m->name);
        raw->cap_n = k;
    }
    for (size_t b = 0; b < bands; b++)
        for (size_t j = 0; j < across; j++) {
            hsize_t at[2] = {row0 + b * cr, j * cc}, bytes = 0;
            if (H5Dget_chunk_storage_size(s->dset, at, &bytes) < 0 || bytes == 0)
                return hitl__h5_error(err, HITL_EIO, "'%s': cannot read the chunk at row %llu",
                                      m->name, (unsigned long long)at[0]);
            if (raw->len + bytes > raw->cap) {
                size_t cap = (raw->len + (size_t)bytes) * 2;
                unsigned char *p = realloc(raw->buf, cap);
                if (!p) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", m->name);
                raw->buf = p;
                raw->cap = cap;
            }
            uint32_t mask = 0;
            if (H5Dread_chunk(s->dset, H5P_DEFAULT, at, &mask, raw->buf + raw->len) < 0)
                return hitl__h5_error(err, HITL_EIO, "'%s': cannot read the chunk at row %llu",
                                      m->name, (unsigned long long)at[0]);
            raw->off[raw->n] = raw->len;
            raw->size[raw->n] = (size_t)bytes;
            raw->mask[raw->n++] = mask;
            raw->len += (size_t)bytes;
        }
    return HITL_OK;
}

static hitl_status h5_decode(const hitl_matrix *m, hitl_raw_chunks *raw, size_t row0, size_t n,
                             float *dst, hitl_error *err)
{
    const h5_matrix *s = m->impl;
    size_t cr = m->chunk_rows, cc = s->chunk_cols, cols = m->cols;
    size_t across = (cols + cc - 1) / cc, floats = cr * cc, bytes = floats * sizeof(float);
    if (raw->chunk_cap < 2 * floats) { /* the inflated chunk, and its unshuffled copy */
        float *p = realloc(raw->chunk, 2 * floats * sizeof(float));
        if (!p) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", m->name);
        raw->chunk = p;
        raw->chunk_cap = 2 * floats;
    }
    for (size_t i = 0; i < raw->n; i++) {
        size_t b = i / across, j = i % across;
        const unsigned char *src = raw->buf + raw->off[i];
        /* the filters, last applied first undone: deflate, then shuffle */
        unsigned deflate_skipped = raw->mask[i] >> s->deflate_at & 1u;
        unsigned shuffle_skipped = !s->shuffled || (raw->mask[i] >> s->shuffle_at & 1u);
        unsigned char *data = (unsigned char *)raw->chunk;
        if (deflate_skipped) {
            if (raw->size[i] != bytes)
                return hitl_error_set(err, HITL_EDATA,
                                      "'%s': a stored chunk has %zu bytes, not %zu", m->name,
                                      raw->size[i], bytes);
            memcpy(data, src, bytes);
        } else {
            uLongf got = (uLongf)bytes;
            if (uncompress(data, &got, src, (uLong)raw->size[i]) != Z_OK || got != bytes)
                return hitl_error_set(err, HITL_EDATA,
                                      "'%s': a chunk at row %zu does not inflate to its size",
                                      m->name, row0 + b * cr);
        }
        if (!shuffle_skipped) { /* byte k of every value, then byte k + 1: put them back */
            unsigned char *out = (unsigned char *)(raw->chunk + floats);
            for (size_t v = 0; v < floats; v++)
                for (size_t k = 0; k < sizeof(float); k++)
                    out[v * sizeof(float) + k] = data[k * floats + v];
            data = out;
        }
        const float *chunk = (const float *)data;
        size_t r0 = b * cr, rows = n - r0 < cr ? n - r0 : cr;
        size_t c0 = j * cc, w = cols - c0 < cc ? cols - c0 : cc;
        for (size_t r = 0; r < rows; r++)
            memcpy(dst + (r0 + r) * cols + c0, chunk + r * cc, w * sizeof(float));
    }
    return HITL_OK;
}

static const hitl__matrix_ops h5_ops = {h5_read,   h5_read_f64, h5_classes, h5_close,
                                        h5_splits, h5_fetch,    h5_decode};

/* A float32 dataset whose chunks pass through deflate alone, or shuffle then deflate, can be
 * read in two steps (h5_fetch, h5_decode): notes the chunk width and the filters' places. */
static void split_pipeline(h5_matrix *s)
{
    hid_t dcpl = H5Dget_create_plist(s->dset);
    if (dcpl < 0) return;
    hsize_t cd[2];
    int n = H5Pget_nfilters(dcpl), deflate = -1, shuffle = -1;
    for (int i = 0; i < n && n <= 2; i++) {
        unsigned flags, vals[8];
        size_t nvals = 8;
        H5Z_filter_t id = H5Pget_filter2(dcpl, (unsigned)i, &flags, &nvals, vals, 0, NULL, NULL);
        if (id == H5Z_FILTER_DEFLATE) deflate = i;
        if (id == H5Z_FILTER_SHUFFLE) shuffle = i;
    }
    int ok = H5Pget_chunk(dcpl, 2, cd) == 2 && deflate >= 0 &&
             (n == 1 || (n == 2 && shuffle == 0 && deflate == 1));
    H5Pclose(dcpl);
    H5Eclear2(H5E_DEFAULT);
    if (!ok) return;
    s->deflate = 1;
    s->deflate_at = (unsigned)deflate;
    s->shuffled = shuffle >= 0;
    s->shuffle_at = shuffle >= 0 ? (unsigned)shuffle : 0;
    s->chunk_cols = (size_t)cd[1];
}

/* A chunked dataset gets a chunk cache that holds the band of chunks straddling a block edge,
 * so no chunk is read (or decompressed) twice by consecutive blocks. */
static hid_t chunk_cache_dapl(hid_t dset, size_t cols, size_t elem, size_t *chunk_rows,
                              size_t *band_cols)
{
    hid_t dcpl = H5Dget_create_plist(dset);
    if (dcpl < 0) return H5I_INVALID_HID;
    hsize_t cd[2] = {0, 0};
    int chunked = H5Pget_layout(dcpl) == H5D_CHUNKED && H5Pget_chunk(dcpl, 2, cd) == 2;
    int filtered = chunked && H5Pget_nfilters(dcpl) > 0;
    H5Pclose(dcpl);
    if (!chunked || cd[0] == 0 || cd[1] == 0) return H5I_INVALID_HID;
    *chunk_rows = (size_t)cd[0];
    if (!filtered) {
        /* No cache at all: a chunk read whole goes straight from the file into the buffer (with
         * a cache HDF5 allocates, reads and copies each one; 4M x 10 in (65536, 10) chunks:
         * 0.12 s against 0.23 s, and 0.87 s with two threads faulting fresh pages), and a
         * part of one is read as the part it is. Chunks narrower than a row are read by bands
         * of their columns (h5_read), so that each is whole in its band's buffer. */
        if ((size_t)cd[1] < cols) *band_cols = (size_t)cd[1];
        hid_t dapl = H5Pcreate(H5P_DATASET_ACCESS);
        if (dapl >= 0 && H5Pset_chunk_cache(dapl, 0, 0, 1.0) < 0) {
            H5Pclose(dapl);
            return H5I_INVALID_HID;
        }
        return dapl;
    }

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

    hid_t dapl = chunk_cache_dapl(s->dset, m->cols, elem, &m->chunk_rows, &s->band_cols);
    if (m->chunk_rows && !is_int && elem == 4 && H5Tget_order(type) == H5T_ORDER_LE)
        split_pipeline(s);
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
