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

hitl_status hitl_matrix_open_shards(hitl_matrix **out, const char *const *paths, size_t n_paths,
                                    const char *dset, hitl_error *err)
{
    if (n_paths == 1) return open_matrix(out, paths[0], dset, 0, err);
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no matrix handle given");
    *out = NULL;
    if (!paths || n_paths == 0) return hitl_error_set(err, HITL_EINVAL, "no file name given");
    hitl_matrix *m = calloc(1, sizeof(*m));
    char first[600];
    snprintf(first, sizeof(first), "%s (and %zu more)", paths[0], n_paths - 1);
    if (!m || !(m->name = make_name(first, dset && !hitl_path_is_npy(paths[0]) ? dset : NULL))) {
        free(m);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_status st = hitl__matrix_open_shards(m, paths, n_paths, dset, err);
    if (st != HITL_OK) {
        free(m->name);
        free(m);
        return st;
    }
    *out = m;
    return HITL_OK;
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

size_t hitl_matrix_chunk_rows(const hitl_matrix *m)
{
    return m ? m->chunk_rows : 0;
}

int hitl_matrix_concurrent(const hitl_matrix *m)
{
    return m ? m->concurrent : 0;
}

int hitl_matrix_splits(const hitl_matrix *m)
{
    return m && m->ops->splits && m->ops->splits(m);
}

hitl_status hitl_matrix_fetch(hitl_matrix *m, size_t row0, size_t n, hitl_raw_chunks *raw,
                              hitl_error *err)
{
    if (!hitl_matrix_splits(m) || !raw || row0 % m->chunk_rows || row0 > m->rows ||
        n > m->rows - row0)
        return hitl_error_set(err, HITL_EINVAL, "'%s': no split read of rows [%zu, %zu)",
                              m ? m->name : "?", row0, row0 + n);
    return m->ops->fetch(m, row0, n, raw, err);
}

hitl_status hitl_matrix_decode(const hitl_matrix *m, hitl_raw_chunks *raw, size_t row0, size_t n,
                               float *dst, hitl_error *err)
{
    if (!hitl_matrix_splits(m) || !raw || !dst)
        return hitl_error_set(err, HITL_EINVAL, "no split read to decode");
    return m->ops->decode(m, raw, row0, n, dst, err);
}

void hitl_raw_chunks_release(hitl_raw_chunks *raw)
{
    if (!raw) return;
    free(raw->buf);
    free(raw->off);
    free(raw->size);
    free(raw->mask);
    free(raw->chunk);
    memset(raw, 0, sizeof(*raw));
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

/* hitl_matrix_read_rows reads the unlisted rows between two listed ones in the same call when
 * they take at most this many bytes: one call over a gzip-chunked pool reads whole chunks
 * straight into the buffer, where a call per run of neighbours goes through the chunk cache
 * (1000 of 60000 rows of 784 floats: 1.2 s of CPU instead of 2.3 s; contiguous: alike). */
#define RUN_GAP_BYTES ((size_t)1 << 20)

/* A listed row and its place in the caller's list. */
typedef struct row_at {
    int64_t row;
    size_t at;
} row_at;

static int by_row(const void *a, const void *b)
{
    const row_at *x = a, *y = b;
    return (x->row > y->row) - (x->row < y->row);
}

/* How the readers below take rows: as float32 (hitl_matrix_read) or as stored, in float64
 * (hitl_matrix_read_f64), `size` bytes a value. */
typedef struct elem {
    size_t size;
    const char *noun; /* "floats", "doubles": for messages */
    hitl_status (*read)(hitl_matrix *m, size_t row0, size_t n, void *dst, hitl_error *err);
} elem;

static hitl_status read_f32(hitl_matrix *m, size_t row0, size_t n, void *dst, hitl_error *err)
{
    return hitl_matrix_read(m, row0, n, dst, err);
}

static hitl_status read_f64(hitl_matrix *m, size_t row0, size_t n, void *dst, hitl_error *err)
{
    return hitl_matrix_read_f64(m, row0, n, dst, err);
}

static const elem F32 = {sizeof(float), "floats", read_f32};
static const elem F64 = {sizeof(double), "doubles", read_f64};

static hitl_status read_rows(hitl_matrix *m, const int64_t *rows, size_t n, void *dst,
                             const elem *e, hitl_error *err)
{
    if (!m) return hitl_error_set(err, HITL_EINVAL, "no matrix given");
    if (n == 0) return HITL_OK;
    if (!rows || !dst)
        return hitl_error_set(err, HITL_EINVAL, "'%s': no row list or output buffer given",
                              m->name);
    for (size_t i = 0; i < n; i++) {
        if (rows[i] >= 0 && (uint64_t)rows[i] < m->rows) continue;
        hitl_error_set(err, HITL_EDATA,
                       "'%s': entry %zu of the row list is row %lld, outside its %zu rows", m->name,
                       i, (long long)rows[i], m->rows);
        if (err) err->row = (int64_t)i;
        return HITL_EDATA;
    }
    row_at *order = malloc(n * sizeof(*order));
    if (!order) return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", m->name);
    for (size_t i = 0; i < n; i++)
        order[i] = (row_at){rows[i], i};
    qsort(order, n, sizeof(*order), by_row);
    /* A run: listed rows at most `gap` apart, spanning at most one default block (and no more
     * than the list does). */
    size_t c = m->cols, cap = hitl_block_rows(c), gap = RUN_GAP_BYTES / (c * e->size);
    size_t row_bytes = c * e->size;
    size_t span = (size_t)(order[n - 1].row - order[0].row) + 1;
    if (gap < 1) gap = 1;
    if (cap > span) cap = span;
    char *buf = malloc(cap * row_bytes), *out = dst;
    hitl_status st =
        buf ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", m->name);
    for (size_t i = 0; st == HITL_OK && i < n;) {
        int64_t r0 = order[i].row;
        size_t j = i + 1;
        while (j < n && (size_t)(order[j].row - order[j - 1].row) <= gap &&
               (size_t)(order[j].row - r0) < cap)
            j++;
        st = e->read(m, (size_t)r0, (size_t)(order[j - 1].row - r0) + 1, buf, err);
        for (size_t k = i; st == HITL_OK && k < j; k++)
            memcpy(out + order[k].at * row_bytes, buf + (size_t)(order[k].row - r0) * row_bytes,
                   row_bytes);
        i = j;
    }
    free(order);
    free(buf);
    return st;
}

hitl_status hitl_matrix_read_rows(hitl_matrix *m, const int64_t *rows, size_t n, float *dst,
                                  hitl_error *err)
{
    return read_rows(m, rows, n, dst, &F32, err);
}

hitl_status hitl_matrix_read_rows_f64(hitl_matrix *m, const int64_t *rows, size_t n, double *dst,
                                      hitl_error *err)
{
    return read_rows(m, rows, n, dst, &F64, err);
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

static hitl_status load(hitl_matrix *m, void **out, const elem *e, hitl_error *err)
{
    size_t n = hitl_matrix_rows(m), d = hitl_matrix_cols(m), block = hitl_block_rows(d);
    *out = NULL;
    if (n && d > SIZE_MAX / e->size / n)
        return hitl_error_set(err, HITL_ENOMEM, "'%s': %zu x %zu %s do not fit in memory",
                              hitl_matrix_name(m), n, d, e->noun);
    char *x = malloc(n && d ? n * d * e->size : 1);
    if (!x)
        return hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory for %zu x %zu %s",
                              hitl_matrix_name(m), n, d, e->noun);
    hitl_status st = HITL_OK;
    for (size_t r = 0; st == HITL_OK && r < n; r += block)
        st = e->read(m, r, n - r < block ? n - r : block, x + r * d * e->size, err);
    if (st != HITL_OK) {
        free(x);
        return st;
    }
    *out = x;
    return HITL_OK;
}

hitl_status hitl_matrix_load(hitl_matrix *m, float **out, hitl_error *err)
{
    void *x;
    hitl_status st = load(m, &x, &F32, err);
    *out = x;
    return st;
}

hitl_status hitl_matrix_load_f64(hitl_matrix *m, double **out, hitl_error *err)
{
    void *x;
    hitl_status st = load(m, &x, &F64, err);
    *out = x;
    return st;
}
