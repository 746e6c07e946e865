/* hitl io: adapters between files and the engine. HDF5 and .npy streaming readers, the score
 * output file, and the streaming score pass that ties a reader to the engine's kernels.
 * Never prints: every failure fills the caller's hitl_error. */
#ifndef HITL_IO_H
#define HITL_IO_H

#include "hitl_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- matrix readers -------------------------------------------------------------------------
 * A rank-2 float32 or float64 matrix read in blocks of rows, with memory bounded by the block:
 * an HDF5 dataset (any layout or chunking, read by hyperslab) or a .npy file (C order,
 * little-endian '<f4' or '<f8'). float64 is converted to float32 on read. */
typedef struct hitl_matrix hitl_matrix;

/* Default block of a streaming pass: about this many bytes of float32 input per block. */
#define HITL_BLOCK_BYTES ((size_t)8 << 20)
/* Rows per default block for `cols` columns (at least 1). */
size_t hitl_block_rows(size_t cols);

/* Opens `dset` in the HDF5 file `path`, or the .npy file `path` when the path ends in ".npy"
 * (any `dset` is then ignored). Errors: HITL_EIO (cannot open the file, not HDF5),
 * HITL_ENOTFOUND (no such dataset), HITL_ESHAPE (not rank 2, or zero columns), HITL_ETYPE (not
 * float32/float64, fortran order, big-endian), HITL_EDATA (a bad or truncated .npy), HITL_EINVAL
 * (an HDF5 path with no dataset name). Caller owns *out; close with hitl_matrix_close(). */
hitl_status hitl_matrix_open(hitl_matrix **out, const char *path, const char *dset,
                             hitl_error *err);
void hitl_matrix_close(hitl_matrix *m);
size_t hitl_matrix_rows(const hitl_matrix *m);
size_t hitl_matrix_cols(const hitl_matrix *m);
/* "path" or "path:/dset", for messages. Borrowed, valid until close. */
const char *hitl_matrix_name(const hitl_matrix *m);
/* Reads rows [row0, row0 + n) into `dst` (borrowed, caller-sized to n * cols floats).
 * Not thread-safe: one reader call at a time per process (HDF5 is built without threads). */
hitl_status hitl_matrix_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err);
/* Class names from a string attribute `classes` on the dataset, else on the file's root group.
 * *names is NULL and *n 0 when there is none (not an error). Caller owns the result; release
 * with hitl_strings_free(). Always empty for .npy files. */
hitl_status hitl_matrix_classes(hitl_matrix *m, char ***names, size_t *n, hitl_error *err);

/* Frees an array of `n` strings made by this library (NULL is a no-op). */
void hitl_strings_free(char **v, size_t n);
/* Splits "a,b,c" into names. Caller owns; release with hitl_strings_free(). Empty names are an
 * error (HITL_EINVAL). */
hitl_status hitl_strings_split(const char *csv, char ***names, size_t *n, hitl_error *err);

/* ---- item ids --------------------------------------------------------------------------------
 * An HDF5 dataset of int64 (any integer type) or strings, rank 1, aligned with the pool's rows. */
typedef struct hitl_ids {
    int is_string;
    size_t n;
    int64_t *ints; /* when !is_string */
    char **strs;   /* when is_string */
} hitl_ids;

/* Reads the ids of the `k` rows listed in `rows` (borrowed) from `path:dset`, whose length must
 * be `n_rows` (HITL_ESHAPE otherwise). Caller-allocated *ids; release with hitl_ids_release(). */
hitl_status hitl_ids_read_rows(const char *path, const char *dset, size_t n_rows,
                               const int64_t *rows, size_t k, hitl_ids *ids, hitl_error *err);
void hitl_ids_release(hitl_ids *ids);

/* ---- linear head ----------------------------------------------------------------------------
 * An HDF5 file holding /W (float32 [D, C]), /b (float32 [C]) and a string attribute `classes`
 * on the root group (optional; C names). */
typedef struct hitl_head {
    size_t d, c;
    float *w; /* [d, c] row-major */
    float *b; /* [c] */
    char **classes;
    size_t n_classes; /* 0 or c */
} hitl_head;

/* Caller-allocated *h; release with hitl_head_release(). */
hitl_status hitl_head_load(hitl_head *h, const char *path, hitl_error *err);
void hitl_head_release(hitl_head *h);
/* Writes a head in the layout hitl_head_load() reads (classes may be NULL). */
hitl_status hitl_head_save(const char *path, const float *w, const float *b, size_t d, size_t c,
                           char *const *classes, hitl_error *err);

/* ---- score output file ----------------------------------------------------------------------
 * /scores/<method>: float32 [N], every row (NaN for skipped rows);
 * /top/<method>: int64 row indices, most uncertain first. */
typedef struct hitl_score_file hitl_score_file;

/* Creates (truncates) `path` with /scores/<m> of n_rows for every method in `methods`. */
hitl_status hitl_score_file_create(hitl_score_file **out, const char *path, size_t n_rows,
                                   unsigned methods, hitl_error *err);
hitl_status hitl_score_file_write(hitl_score_file *f, hitl_method m, size_t row0, size_t n,
                                  const float *scores, hitl_error *err);
hitl_status hitl_score_file_write_top(hitl_score_file *f, hitl_method m, const hitl_scored *top,
                                      size_t k, hitl_error *err);
/* Flushes and closes; NULL is a no-op. Returns the first error of the close. */
hitl_status hitl_score_file_close(hitl_score_file *f, hitl_error *err);

/* ---- the streaming score pass ---------------------------------------------------------------
 * One pass over a pool: read a block, (apply the head,) score it on every thread while the next
 * block is read, keep the top-k per method and the rows above a threshold. */
typedef enum { HITL_POOL_PROBS = 0, HITL_POOL_LOGITS, HITL_POOL_FEATURES } hitl_pool_kind;

typedef void (*hitl_progress_fn)(void *ctx, uint64_t done, uint64_t total);

typedef struct hitl_score_pass_opts {
    const char *path;      /* the pool file */
    const char *dset;      /* dataset in it (NULL for .npy) */
    hitl_pool_kind kind;   /* what the dataset holds */
    const char *head_path; /* HITL_POOL_FEATURES: the head file */
    hitl_score_opts score; /* methods, temperature, renormalize, ...; kind is set by the pass */
    hitl_method rank_by;   /* the method whose top-k and threshold rows are reported */
    size_t top_k;
    int use_threshold;
    float threshold;
    const char *out_path;      /* NULL: no score file */
    size_t block_rows;         /* 0: about 8 MiB of input per block */
    int threads;               /* 0: OpenMP's default */
    hitl_progress_fn progress; /* may be NULL; called from the calling thread */
    void *progress_ctx;
} hitl_score_pass_opts;

typedef struct hitl_score_pass_result {
    size_t n_rows, n_classes;
    size_t n_skipped;                    /* rows skipped under renormalize */
    int64_t first_skipped;               /* -1 when none */
    hitl_scored *top[HITL_METHOD_COUNT]; /* best first, for every computed method */
    size_t n_top[HITL_METHOD_COUNT];
    hitl_scored_vec above; /* rank_by rows above the threshold, best first */
    char **classes;        /* from the pool, the head or NULL */
    size_t n_classes_named;
} hitl_score_pass_result;

/* Caller-allocated *res; release with hitl_score_pass_result_release(). */
hitl_status hitl_score_pass(const hitl_score_pass_opts *opts, hitl_score_pass_result *res,
                            hitl_error *err);
void hitl_score_pass_result_release(hitl_score_pass_result *res);

#ifdef __cplusplus
}
#endif
#endif /* HITL_IO_H */
