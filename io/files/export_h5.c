/* The HDF5 export, laid out for retraining: /ids, /rows, /labels, /soft_labels, /is_blind and
 * per-item provenance numbers, plus the labelled rows' features copied from the pool. Records
 * are buffered in blocks and appended to chunked, extendible datasets: memory is one block. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "export_internal.h"
#include "h5_util.h"
#include "text_internal.h"
#include "hitl_banned.h"

#define BLOCK_MAX   16384
#define CHUNK_BYTES ((size_t)1 << 18)

enum {
    D_IDS,
    D_ROWS,
    D_LABELS,
    D_SOFT,
    D_BLIND,
    D_NLAB,
    D_AGREE,
    D_SCORE,
    D_PRED,
    D_P1,
    D_FEAT,
    D_N
};

typedef struct row_at {
    int64_t row;
    size_t at; /* the record's place in the block */
} row_at;

typedef struct h5_writer {
    hitl_record_writer base;
    const hitl_record_file *ctx;
    hid_t file, dset[D_N], str_type;
    size_t c, d, block, n, written;
    int created;
    /* the block being filled */
    hitl_buf arena;
    size_t *id_off;
    const char **ids;
    int64_t *rows;
    int32_t *labels, *n_labels, *pred;
    float *soft, *agree, *score, *p1, *feat, *scratch;
    uint8_t *blind;
    row_at *order;
    size_t scratch_rows;
} h5_writer;

static size_t clamp(size_t v, size_t lo, size_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* An empty dataset of `cols` columns (0: rank 1) that grows along its first dimension. */
static hitl_status create(h5_writer *w, int which, const char *name, hid_t type, size_t cols,
                          size_t rows_hint, hitl_error *err)
{
    int rank = cols ? 2 : 1;
    size_t width = (cols ? cols : 1) * H5Tget_size(type);
    size_t rows = clamp(CHUNK_BYTES / width, 64, 65536);
    /* a small export fits one chunk of its own size instead of a mostly empty big one */
    if (rows_hint && rows_hint < rows) rows = rows_hint;
    hsize_t dims[2] = {0, cols}, maxdims[2] = {H5S_UNLIMITED, cols};
    hsize_t chunk[2] = {rows, cols};
    hid_t space = H5Screate_simple(rank, dims, maxdims);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hitl_status st = HITL_OK;
    if (space < 0 || dcpl < 0 || H5Pset_chunk(dcpl, rank, chunk) < 0 ||
        (w->dset[which] = H5Dcreate2(w->file, name, type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) <
            0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:/%s'", w->ctx->name, name);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (space >= 0) H5Sclose(space);
    return st;
}

/* Appends k rows of `buf` (memory type mtype) to dataset `which`. */
static hitl_status append(h5_writer *w, int which, hid_t mtype, size_t cols, size_t k,
                          const void *buf, hitl_error *err)
{
    hid_t d = w->dset[which];
    int rank = cols ? 2 : 1;
    hsize_t dims[2] = {w->written + k, cols}, start[2] = {w->written, 0}, count[2] = {k, cols};
    hid_t fspace = H5I_INVALID_HID, mspace = H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    if (H5Dset_extent(d, dims) < 0 || (fspace = H5Dget_space(d)) < 0 ||
        H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (mspace = H5Screate_simple(rank, count, NULL)) < 0 ||
        H5Dwrite(d, mtype, mspace, fspace, H5P_DEFAULT, buf) < 0) {
        char name[64] = "?";
        H5Iget_name(d, name, sizeof(name));
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s:%s'", w->ctx->name, name);
    }
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    return st;
}

static int cmp_row(const void *a, const void *b)
{
    const row_at *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row;
}

/* Fills w->feat with the block's pool rows: sorted, and read in runs of nearby rows, so a block
 * costs a few reads whatever order the items were queued in. */
static hitl_status read_features(h5_writer *w, hitl_error *err)
{
    size_t k = w->n, d = w->d;
    size_t nrows = hitl_matrix_rows(w->ctx->features);
    for (size_t i = 0; i < k; i++) {
        w->order[i] = (row_at){w->rows[i], i};
        if (w->rows[i] < 0 || (uint64_t)w->rows[i] >= nrows)
            return hitl_error_set(err, HITL_EDATA,
                                  "item '%s': pool row %lld is outside '%s' (%zu rows)", w->ids[i],
                                  (long long)w->rows[i], hitl_matrix_name(w->ctx->features), nrows);
    }
    qsort(w->order, k, sizeof(row_at), cmp_row);
    for (size_t j = 0; j < k;) {
        size_t first = (size_t)w->order[j].row, end = j + 1;
        /* extend the run while the next row is close and the run fits the scratch buffer */
        while (end < k) {
            size_t r = (size_t)w->order[end].row, prev = (size_t)w->order[end - 1].row;
            if (r - prev > 16 || r - first >= w->scratch_rows) break;
            end++;
        }
        size_t last = (size_t)w->order[end - 1].row;
        hitl_status st =
            hitl_matrix_read(w->ctx->features, first, last - first + 1, w->scratch, err);
        if (st != HITL_OK) return st;
        for (size_t i = j; i < end; i++) {
            size_t at = w->order[i].at;
            memcpy(w->feat + at * d, w->scratch + ((size_t)w->order[i].row - first) * d,
                   d * sizeof(float));
        }
        j = end;
    }
    return HITL_OK;
}

/* The datasets, made at the first flush: when that flush is not a full block it is the only
 * one, and the chunks take the export's own size. */
static hitl_status create_all(h5_writer *w, size_t k, hitl_error *err)
{
    hitl_status st = HITL_OK;
    size_t hint = k < w->block ? (k ? k : 1) : 0;
    w->created = 1;
    if (st == HITL_OK) st = create(w, D_IDS, "ids", w->str_type, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_ROWS, "rows", H5T_STD_I64LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_LABELS, "labels", H5T_STD_I32LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_SOFT, "soft_labels", H5T_IEEE_F32LE, w->c, hint, err);
    if (st == HITL_OK) st = create(w, D_BLIND, "is_blind", H5T_STD_U8LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_NLAB, "n_labels", H5T_STD_I32LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_AGREE, "agreement", H5T_IEEE_F32LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_SCORE, "scores", H5T_IEEE_F32LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_PRED, "pred", H5T_STD_I32LE, 0, hint, err);
    if (st == HITL_OK) st = create(w, D_P1, "p1", H5T_IEEE_F32LE, 0, hint, err);
    if (st == HITL_OK && w->d) st = create(w, D_FEAT, "features", H5T_IEEE_F32LE, w->d, hint, err);
    return st;
}

static hitl_status flush(h5_writer *w, hitl_error *err)
{
    size_t k = w->n;
    if (!w->created) {
        hitl_status st = create_all(w, k, err);
        if (st != HITL_OK) return st;
    }
    if (k == 0) return HITL_OK;
    if (w->arena.oom) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < k; i++)
        w->ids[i] = w->arena.p + w->id_off[i];
    hitl_status st = HITL_OK;
    if (w->ctx->features) st = read_features(w, err);
    if (st == HITL_OK) st = append(w, D_IDS, w->str_type, 0, k, w->ids, err);
    if (st == HITL_OK) st = append(w, D_ROWS, H5T_NATIVE_INT64, 0, k, w->rows, err);
    if (st == HITL_OK) st = append(w, D_LABELS, H5T_NATIVE_INT32, 0, k, w->labels, err);
    if (st == HITL_OK) st = append(w, D_SOFT, H5T_NATIVE_FLOAT, w->c, k, w->soft, err);
    if (st == HITL_OK) st = append(w, D_BLIND, H5T_NATIVE_UINT8, 0, k, w->blind, err);
    if (st == HITL_OK) st = append(w, D_NLAB, H5T_NATIVE_INT32, 0, k, w->n_labels, err);
    if (st == HITL_OK) st = append(w, D_AGREE, H5T_NATIVE_FLOAT, 0, k, w->agree, err);
    if (st == HITL_OK) st = append(w, D_SCORE, H5T_NATIVE_FLOAT, 0, k, w->score, err);
    if (st == HITL_OK) st = append(w, D_PRED, H5T_NATIVE_INT32, 0, k, w->pred, err);
    if (st == HITL_OK) st = append(w, D_P1, H5T_NATIVE_FLOAT, 0, k, w->p1, err);
    if (st == HITL_OK && w->ctx->features)
        st = append(w, D_FEAT, H5T_NATIVE_FLOAT, w->d, k, w->feat, err);
    w->written += k;
    w->n = 0;
    hitl_buf_reset(&w->arena);
    return st;
}

static hitl_status h5_add(hitl_record_writer *base, const hitl_record *r, hitl_error *err)
{
    h5_writer *w = (h5_writer *)base;
    size_t i = w->n;
    w->id_off[i] = w->arena.n;
    hitl_buf_put(&w->arena, r->pool_id, strlen(r->pool_id) + 1);
    w->rows[i] = r->row;
    w->labels[i] = r->label;
    memcpy(w->soft + i * w->c, r->soft, w->c * sizeof(float));
    w->blind[i] = (uint8_t)(r->blind != 0);
    w->n_labels[i] = r->n_labels;
    w->agree[i] = (float)r->agreement;
    w->score[i] = r->score;
    w->pred[i] = r->pred;
    w->p1[i] = r->p1;
    if (++w->n == w->block) return flush(w, err);
    return HITL_OK;
}

static hitl_status put_attr(h5_writer *w, hid_t obj, const char *name, char *const *v, size_t n,
                            int scalar, hitl_error *err)
{
    hsize_t dim = n;
    hid_t space = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    hid_t a = H5I_INVALID_HID;
    hitl_status st = HITL_OK;
    if (space < 0 ||
        (a = H5Acreate2(obj, name, w->str_type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(a, w->str_type, v) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s': attribute '%s'", w->ctx->name, name);
    if (a >= 0) H5Aclose(a);
    if (space >= 0) H5Sclose(space);
    return st;
}

static void release(h5_writer *w)
{
    for (int i = 0; i < D_N; i++)
        if (w->dset[i] >= 0) H5Dclose(w->dset[i]);
    if (w->str_type >= 0) H5Tclose(w->str_type);
    if (w->file >= 0) H5Fclose(w->file);
    H5Eclear2(H5E_DEFAULT);
    hitl_buf_release(&w->arena);
    free(w->id_off);
    free(w->ids);
    free(w->rows);
    free(w->labels);
    free(w->n_labels);
    free(w->pred);
    free(w->soft);
    free(w->agree);
    free(w->score);
    free(w->p1);
    free(w->feat);
    free(w->scratch);
    free(w->blind);
    free(w->order);
    free(w);
}

static hitl_status h5_close(hitl_record_writer *base, int ok, hitl_error *err)
{
    h5_writer *w = (h5_writer *)base;
    hitl_status st = ok ? flush(w, err) : HITL_OK;
    if (ok && st == HITL_OK) {
        char *final = (char *)w->ctx->final_rule;
        char *store = (char *)w->ctx->store_path;
        char *layout = "hitl-export-1";
        st = put_attr(w, w->file, "classes", w->ctx->classes, w->ctx->n_classes, 0, err);
        if (st == HITL_OK)
            st = put_attr(w, w->dset[D_LABELS], "classes", w->ctx->classes, w->ctx->n_classes, 0,
                          err);
        if (st == HITL_OK)
            st =
                put_attr(w, w->dset[D_SOFT], "classes", w->ctx->classes, w->ctx->n_classes, 0, err);
        if (st == HITL_OK) st = put_attr(w, w->file, "final", &final, 1, 1, err);
        if (st == HITL_OK) st = put_attr(w, w->file, "store", &store, 1, 1, err);
        if (st == HITL_OK) st = put_attr(w, w->file, "layout", &layout, 1, 1, err);
        if (st == HITL_OK && w->ctx->audit_head) {
            char *head = (char *)w->ctx->audit_head;
            st = put_attr(w, w->file, "audit_head", &head, 1, 1, err);
        }
        if (st == HITL_OK && w->ctx->features) {
            char *src = (char *)hitl_matrix_name(w->ctx->features);
            st = put_attr(w, w->dset[D_FEAT], "source", &src, 1, 1, err);
        }
    }
    for (int i = 0; i < D_N; i++) {
        if (w->dset[i] >= 0 && H5Dclose(w->dset[i]) < 0 && st == HITL_OK && ok)
            st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", w->ctx->name);
        w->dset[i] = H5I_INVALID_HID;
    }
    if (w->file >= 0 && H5Fclose(w->file) < 0 && st == HITL_OK && ok)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", w->ctx->name);
    w->file = H5I_INVALID_HID;
    release(w);
    return st;
}

static const hitl__writer_ops h5_ops = {h5_add, NULL, h5_close};

hitl_status hitl__writer_h5_open(const hitl_record_file *ctx, hitl_record_writer **out,
                                 hitl_error *err)
{
    *out = NULL;
    hitl__h5_quiet();
    h5_writer *w = calloc(1, sizeof(*w));
    if (!w) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    w->base.ops = &h5_ops;
    w->ctx = ctx;
    w->file = w->str_type = H5I_INVALID_HID;
    for (int i = 0; i < D_N; i++)
        w->dset[i] = H5I_INVALID_HID;
    w->c = ctx->n_classes;
    w->d = ctx->features ? hitl_matrix_cols(ctx->features) : 0;
    w->block = BLOCK_MAX;
    if (w->d) {
        size_t fit = hitl_block_rows(w->d);
        w->block = fit < BLOCK_MAX ? fit : BLOCK_MAX;
        w->scratch_rows = fit < 4096 ? fit : 4096;
    }
    size_t b = w->block;
    w->id_off = malloc(b * sizeof(size_t));
    w->ids = malloc(b * sizeof(char *));
    w->rows = malloc(b * sizeof(int64_t));
    w->labels = malloc(b * sizeof(int32_t));
    w->n_labels = malloc(b * sizeof(int32_t));
    w->pred = malloc(b * sizeof(int32_t));
    w->soft = malloc(b * w->c * sizeof(float));
    w->agree = malloc(b * sizeof(float));
    w->score = malloc(b * sizeof(float));
    w->p1 = malloc(b * sizeof(float));
    w->blind = malloc(b);
    w->order = malloc(b * sizeof(row_at));
    if (w->d) {
        w->feat = malloc(b * w->d * sizeof(float));
        w->scratch = malloc(w->scratch_rows * w->d * sizeof(float));
    }
    if (!w->id_off || !w->ids || !w->rows || !w->labels || !w->n_labels || !w->pred || !w->soft ||
        !w->agree || !w->score || !w->p1 || !w->blind || !w->order ||
        (w->d && (!w->feat || !w->scratch))) {
        release(w);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_status st = hitl__h5_create_file(ctx->path, &w->file, err);
    if (st != HITL_OK) {
        hitl_error_prefix(err, "'%s'", ctx->name);
        release(w);
        return st;
    }
    /* variable-length UTF-8 strings: h5py reads them back as str (with .asstr()) */
    w->str_type = H5Tcopy(H5T_C_S1);
    if (w->str_type < 0 || H5Tset_size(w->str_type, H5T_VARIABLE) < 0 ||
        H5Tset_cset(w->str_type, H5T_CSET_UTF8) < 0)
        st = hitl__h5_error(err, HITL_EIO, "cannot write '%s'", ctx->name);
    if (st != HITL_OK) {
        release(w);
        return st;
    }
    *out = &w->base;
    return HITL_OK;
}
