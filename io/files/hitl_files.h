/* hitl files: the file formats hitl reads and writes. HDF5 and .npy matrices read in blocks,
 * IDX, ids, heads, score and pool files, ratings CSV and rating matrices, label datasets, the
 * streaming score pass, and the writers and readers of exported labels. Never prints. */
#ifndef HITL_FILES_H
#define HITL_FILES_H

#include "hitl_engine.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- matrix readers -------------------------------------------------------------------------
 * A rank-2 float32 or float64 matrix read in blocks of rows, with memory bounded by the block:
 * an HDF5 dataset (any layout or chunking, read by hyperslab) or a .npy file (C order,
 * little-endian '<f4' or '<f8'). float64 is converted to float32 on read, except by
 * hitl_matrix_read_f64 (for the few places where the rounding matters, calibration's bins). */
typedef struct hitl_matrix hitl_matrix;

/* Default block of a streaming pass: about this many bytes of float32 input per block. Small
 * enough to stay in a core's L2 between the read that fills it and the scoring that follows
 * (10M x 10, two threads: 1 MiB blocks 0.09 s, 8 MiB blocks 0.16 s; tests/bench/README.md). */
#define HITL_BLOCK_BYTES ((size_t)1 << 20)
/* The widest matrix the readers accept (2^21 columns, 8 MiB a row): wider shapes (pools, and a
 * head's D or C) are refused (HITL_ESHAPE) before any allocation. */
#define HITL_MATRIX_MAX_COLS (((size_t)8 << 20) / sizeof(float))
/* Rows per default block for `cols` columns (at least 1). */
size_t hitl_block_rows(size_t cols);

/* 1 when `path` names a .npy file: it ends in ".npy", in any case. The one test every reader
 * and command uses. */
int hitl_path_is_npy(const char *path);

/* Opens `dset` in the HDF5 file `path`, or the .npy file `path` when the path ends in ".npy"
 * (any `dset` is then ignored). Errors: HITL_EIO (cannot open the file, not HDF5),
 * HITL_ENOTFOUND (no such dataset), HITL_ESHAPE (not rank 2, or zero columns), HITL_ETYPE (not
 * float32/float64, fortran order, big-endian), HITL_EDATA (a bad or truncated .npy), HITL_EINVAL
 * (an HDF5 path with no dataset name). More than HITL_MATRIX_MAX_COLS columns is HITL_ESHAPE;
 * an HDF5 dataset whose values were never written (only its shape is in the file) is
 * HITL_EDATA. Caller owns *out; close with hitl_matrix_close(). */
hitl_status hitl_matrix_open(hitl_matrix **out, const char *path, const char *dset,
                             hitl_error *err);
/* As hitl_matrix_open, and integer element types are read too (any width, signed or unsigned;
 * .npy '|i1', '|u1', '<i2' ... '<u8'), converted to float32, exact up to 2^24: for matrices
 * of labels. */
hitl_status hitl_matrix_open_numeric(hitl_matrix **out, const char *path, const char *dset,
                                     hitl_error *err);
/* Shards of one pool as one matrix: the files' rows numbered across them in the order given
 * (each holds `dset`, or is a .npy; the same columns in each: HITL_ESHAPE otherwise; the class
 * names those that have them give must agree: HITL_EDATA). One path: hitl_matrix_open. Where
 * any shard is HDF5 (and outside MPI), each is closed once checked and reopened, one at a time,
 * as reads reach it; a shard whose shape changed since fails that read (HITL_EDATA). */
hitl_status hitl_matrix_open_shards(hitl_matrix **out, const char *const *paths, size_t n_paths,
                                    const char *dset, hitl_error *err);
void hitl_matrix_close(hitl_matrix *m);
size_t hitl_matrix_rows(const hitl_matrix *m);
size_t hitl_matrix_cols(const hitl_matrix *m);
/* The rows one chunk holds when the dataset is chunked (0 otherwise): a read of whole chunks,
 * rows [k * chunk_rows, ...), touches each chunk once and reads it straight into the caller's
 * buffer, where a read that ends inside a chunk makes HDF5 read that chunk again for the next. */
size_t hitl_matrix_chunk_rows(const hitl_matrix *m);
/* 1 when hitl_matrix_read of distinct rows may run on several threads at once, with no lock
 * of the caller's: .npy float32, read by pread() straight into each caller's buffer (and
 * shards that all are). HDF5 is single-threaded: 0. */
int hitl_matrix_concurrent(const hitl_matrix *m);

/* Compressed chunks read in two steps, so that threads inflate them side by side: the stored
 * chunks of rows [row0, row0 + n) are fetched as they are on disk (hitl_matrix_fetch, under the
 * caller's HDF5 lock: it reads the file), then inflated into `dst` (hitl_matrix_decode, outside
 * it: zlib only, thread-safe for distinct `raw`). For float32 datasets in chunks compressed
 * with deflate (gzip), shuffled or not; hitl_matrix_splits says whether m is one. row0 must
 * be a multiple of hitl_matrix_chunk_rows. `raw` is the caller's, reused from call to call
 * (zero-initialise; hitl_raw_chunks_release). */
typedef struct hitl_raw_chunks {
    unsigned char *buf; /* the stored bytes of every chunk, one after another */
    size_t len, cap;
    size_t *off, *size; /* each chunk's bytes in buf */
    unsigned *mask;     /* each chunk's filter mask: a set bit, a filter not applied */
    size_t n, cap_n;
    float *chunk; /* one inflated chunk */
    size_t chunk_cap;
} hitl_raw_chunks;
int hitl_matrix_splits(const hitl_matrix *m);
hitl_status hitl_matrix_fetch(hitl_matrix *m, size_t row0, size_t n, hitl_raw_chunks *raw,
                              hitl_error *err);
hitl_status hitl_matrix_decode(const hitl_matrix *m, hitl_raw_chunks *raw, size_t row0, size_t n,
                               float *dst, hitl_error *err);
void hitl_raw_chunks_release(hitl_raw_chunks *raw);
/* "path" or "path:/dset", for messages. Borrowed, valid until close. */
const char *hitl_matrix_name(const hitl_matrix *m);
/* Reads rows [row0, row0 + n) into `dst` (borrowed, caller-sized to n * cols floats).
 * Not thread-safe: one reader call at a time per process (HDF5 is built without threads). */
hitl_status hitl_matrix_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err);
/* The same rows as stored, as float64 (`dst` sized to n * cols doubles): a float64 matrix is not
 * rounded to float32 on the way, the other types widen exactly. */
hitl_status hitl_matrix_read_f64(hitl_matrix *m, size_t row0, size_t n, double *dst,
                                 hitl_error *err);
/* Reads the `n` listed rows (borrowed; any order, repeats allowed) into `dst` (borrowed,
 * caller-sized to n * cols floats): rows[i] into dst row i. A sorted copy of the list is read in
 * runs of at most one default block each, a run going on over neighbours, repeats and gaps of
 * up to 1 MiB of unlisted rows (cheaper read than skipped). HITL_EDATA names the first entry
 * outside the matrix (err->row: its index in the list), and nothing is read then. Not
 * thread-safe, as hitl_matrix_read. */
hitl_status hitl_matrix_read_rows(hitl_matrix *m, const int64_t *rows, size_t n, float *dst,
                                  hitl_error *err);
/* The same rows as stored, as float64 (`dst` sized to n * cols doubles; hitl_matrix_read_f64). */
hitl_status hitl_matrix_read_rows_f64(hitl_matrix *m, const int64_t *rows, size_t n, double *dst,
                                      hitl_error *err);
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
/* The same over shards of one pool (hitl_matrix_open_shards): rows numbered across the shards,
 * shard_rows[i] the rows of paths[i], each shard holding its own `dset`; the shards' ids all
 * strings or all integers (HITL_ETYPE). */
hitl_status hitl_ids_read_shard_rows(const char *const *paths, const size_t *shard_rows,
                                     size_t n_shards, const char *dset, const int64_t *rows,
                                     size_t k, hitl_ids *ids, hitl_error *err);
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

/* HITL_ESHAPE when D or C is past HITL_MATRIX_MAX_COLS or /b does not match, HITL_EDATA when
 * /W's or /b's values were never written. Caller-allocated *h; release with
 * hitl_head_release(). */
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
/* Rows [row0, row0 + n) of /pred (each row's predicted class, -1 when skipped) and /p1. */
hitl_status hitl_score_file_write_pred(hitl_score_file *f, size_t row0, size_t n,
                                       const int32_t *pred, const float *p1, hitl_error *err);
/* Copies the pool's id dataset (rank 1, n_rows) to /ids of the closed score file at out_path,
 * as it is (H5Ocopy). */
hitl_status hitl_score_file_add_ids(const char *out_path, size_t n_rows, const char *pool_path,
                                    const char *dset, hitl_error *err);
/* The same over shards of one pool: each shard's `dset` (shard_rows[i] ids, all integers or all
 * strings) joined in order into /ids, int64 or variable-length UTF-8 strings. */
hitl_status hitl_score_file_add_shard_ids(const char *out_path, const char *const *paths,
                                          const size_t *shard_rows, size_t n_shards,
                                          const char *dset, hitl_error *err);
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
    const char *path;          /* the pool file */
    const char *const *shards; /* or, when n_shards > 1, the pool's files, one after another */
    size_t n_shards;
    const char *dset;      /* dataset in it (NULL for .npy) */
    hitl_pool_kind kind;   /* what the dataset holds */
    const char *head_path; /* HITL_POOL_FEATURES: the head file */
    hitl_score_opts score; /* methods, temperature, renormalize, ...; kind is set by the pass */
    hitl_method rank_by;   /* the method whose top-k and threshold rows are reported */
    size_t top_k;
    int use_threshold;
    float threshold;
    const char *out_path;      /* NULL: no score file */
    const char *ids_dset;      /* with out_path: the pool's ids, copied to the file's /ids */
    size_t block_rows;         /* 0: about 1 MiB of input per block (HITL_BLOCK_BYTES) */
    int threads;               /* 0: OpenMP's default */
    hitl_progress_fn progress; /* may be NULL; called from one thread at a time */
    void *progress_ctx;
    /* Optional per-row outputs for callers that select rows themselves (the queue): each
     * borrowed, caller-sized to the pool's rows (hitl_matrix_rows), may be NULL. */
    float *all_scores; /* the rank_by score of every row (NaN for skipped rows) */
    int32_t *all_pred; /* every row's predicted class (-1 for skipped rows) */
    float *all_p1;     /* every row's top probability */
    /* Nonzero: this process is one rank of MPI_COMM_WORLD (hitl_mpi_start; builds with
     * HITL_MPI only). Every rank makes the same call: the blocks are split over the ranks in
     * order, HDF5 files open through parallel HDF5, every rank writes its own rows of out_path
     * and returns the same result (top-k reduced over the ranks, threshold rows gathered); the
     * result is the one process's on the same input. The all_* outputs are not filled. */
    int mpi;
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

/* ---- MPI (io/files/score_mpi.c) -------------------------------------------------------------
 * hitl_mpi_launched: the number of ranks when an MPI launcher started this process (mpirun,
 * srun: its rank is in the environment; 1 when the count is not), else 0, and (rank may be
 * NULL) this process's rank as the launcher gave it (0 when none); also in builds without MPI,
 * so they can refuse to score as one of many ranks. hitl_mpi_built: 1 with HITL_MPI.
 * hitl_mpi_start: MPI_Init (threads funneled: only the calling thread talks to MPI), this rank
 * and the number of ranks; HITL_EINVAL in builds without HITL_MPI. hitl_mpi_stop: MPI_Finalize
 * when started, else nothing. */
int hitl_mpi_launched(int *rank);
int hitl_mpi_built(void);
hitl_status hitl_mpi_start(int *rank, int *size, hitl_error *err);
void hitl_mpi_stop(void);

/* Caller-allocated *res; release with hitl_score_pass_result_release(). */
hitl_status hitl_score_pass(const hitl_score_pass_opts *opts, hitl_score_pass_result *res,
                            hitl_error *err);
void hitl_score_pass_result_release(hitl_score_pass_result *res);
/* The ids (ids_dset of the pool, or of each shard) of a pass's reported rows: the rank_by
 * top-k, then the rows above the threshold, in that order. Caller-allocated *ids; release with
 * hitl_ids_release(). */
hitl_status hitl_score_ids(const hitl_score_pass_opts *o, const char *ids_dset,
                           const hitl_score_pass_result *r, hitl_ids *ids, hitl_error *err);

/* ---- ratings files ---------------------------------------------------------------------------
 * CSV (RFC 4180: quoted fields may hold commas, quotes doubled, line breaks; LF, CRLF or a lone
 * CR; a UTF-8 byte order mark is skipped; a quote inside an unquoted field is an error) with a
 * header naming at least the columns item, annotator and label, in any order (other columns are
 * ignored), one rating per record; blank lines are skipped. Names are strings; items and annotators
 * are indexed in order of first appearance. Labels are ordered as the given classes, else by value
 * when every label is a number (equal values are one label: "1" and "1.0"), else by byte order.
 * Errors name the file and the line: HITL_EIO (cannot open or read), HITL_EDATA (empty file, no
 * such column, malformed CSV, a field count off the header's, an empty field, an annotator rating
 * an item twice, fewer than two annotators, a label outside the given classes, a non-number at the
 * interval or ratio level), HITL_EINVAL (a class listed twice). */
typedef struct hitl_ratings_file {
    hitl_ratings table;
    char **items, **annotators, **labels; /* names by index */
    size_t n_items, n_annotators, n_labels;
    int numeric; /* every label is a number: table.value holds them */
} hitl_ratings_file;

typedef struct hitl_ratings_read_opts {
    hitl_level level;    /* interval and ratio: every label must be a number */
    char *const *labels; /* the classes in order (borrowed), or NULL: the labels seen */
    size_t n_labels;
} hitl_ratings_read_opts;

/* Caller-allocated *out; release with hitl_ratings_file_release(). opts may be NULL. */
hitl_status hitl_ratings_csv_read(const char *path, const hitl_ratings_read_opts *opts,
                                  hitl_ratings_file *out, hitl_error *err);
void hitl_ratings_file_release(hitl_ratings_file *f);
/* Reads final (adjudicated) labels from a CSV with columns item and label into final[u] for
 * every item u of `f` (caller-sized to f->n_items; -1 where none). Items without ratings are
 * ignored; a label not in f, or an item given twice, is HITL_EDATA naming the line. */
hitl_status hitl_final_labels_csv_read(const char *path, const hitl_ratings_file *f, int32_t *final,
                                       hitl_error *err);
/* Writes one row per item of `f`: with votes (borrowed), "item,label,status,votes,ratings";
 * else with ds, "item,label,status,posterior,ratings,p_<label>...". status is decided, tie
 * (label empty: for adjudication) or none. Names are quoted as RFC 4180 needs. */
hitl_status hitl_aggregate_csv_write(const char *path, const hitl_ratings_file *f,
                                     const hitl_vote *votes, const hitl_ds_result *ds,
                                     hitl_error *err);

/* ---- rating matrices -------------------------------------------------------------------------
 * An item x annotator matrix of class indices, a row per item and a column per annotator (the
 * form crowd labels such as CIFAR-10N's come in): an HDF5 dataset or a .npy file of any integer
 * or float type. A negative value or NaN is no rating; a label is a whole number from 0 to 126.
 * Read whole into int8, a byte per cell (HITL_ENOMEM when that does not fit). n_labels is the
 * largest label + 1 (0 when nothing is rated); classes are the names in a `classes` string
 * attribute on the dataset or the file's root group (HDF5 only; NULL when none). Errors: those
 * of hitl_matrix_open_numeric, and HITL_EDATA naming the row and column of a value that is not a
 * whole number or is above 126. Release with hitl_rating_matrix_release(). */
typedef struct hitl_rating_matrix {
    int8_t *m; /* [n_items, n_annotators], -1 where no rating */
    size_t n_items, n_annotators, n_labels;
    char **classes;
    size_t n_classes;
} hitl_rating_matrix;

#define HITL_RATING_MATRIX_MAX_LABEL 126

hitl_status hitl_rating_matrix_read(const char *path, const char *dset, hitl_rating_matrix *out,
                                    hitl_error *err);
void hitl_rating_matrix_release(hitl_rating_matrix *r);

/* ---- label datasets ------------------------------------------------------------------------
 * A rank-1 integer dataset of class indices (any integer type), read whole; with dset NULL,
 * `path` is a .npy vector (rank 1 or one column; any integer type, or floats holding whole
 * numbers). HITL_EIO (file), HITL_ENOTFOUND (dataset), HITL_ETYPE (not integer), HITL_ESHAPE
 * (not rank 1), HITL_EDATA (a negative value, one past INT32_MAX or a fraction, naming the row;
 * values never written to the file). Caller owns *labels (free()). */
hitl_status hitl_labels_read(const char *path, const char *dset, int32_t **labels, size_t *n,
                             hitl_error *err);

/* ---- calibration from files (io/files/calibration_files.c) ----------------------------------
 * A model's calibration on a blind labelled sample (hitl_calibration_compute), with the names of
 * its classes. Shared with the store's (hitl_store_calibration). */
typedef struct hitl_calib_result {
    hitl_calibration cal;
    char **classes; /* the class names, or NULL (then named by index) */
    size_t n_classes;
    size_t n_unscored; /* from a store: blind items left out, queued without a prediction */
    int top_only;      /* from the predictions a store keeps: only the top class's probability
                          was known, so brier_multiclass and nll are NaN, no temperature fitted */
} hitl_calib_result;
void hitl_calib_result_release(hitl_calib_result *r);

/* Where the sample is: probabilities [n, C] (hitl_matrix_open: dset NULL for .npy; read as
 * stored, hitl_matrix_load_f64) and true class indices (hitl_labels_read), each with the name
 * messages give it (the command line's FILE:DSET; NULL: the path). */
typedef struct hitl_calib_files {
    const char *probs_path, *probs_dset, *probs_name;
    const char *labels_path, *labels_dset, *labels_name;
} hitl_calib_files;

/* Caller-allocated *out (release with hitl_calib_result_release(); nothing on failure); the
 * class names are the probabilities' `classes` attribute when it names C classes. The readers'
 * errors; HITL_ESHAPE when the lengths differ; HITL_EDATA for a label that is not a class, and
 * for hitl_calibration_compute's refusals (a bad row, no rows, one class), named by the
 * probabilities' name. */
hitl_status hitl_calibration_from_files(const hitl_calib_files *f, const hitl_calib_opts *o,
                                        hitl_calib_result *out, hitl_error *err);

/* ---- IDX files and pool files ----------------------------------------------------------------
 * IDX (MNIST's format, gzipped or plain) read whole into float32: values are small integers or
 * floats, exact in float32 for uint8/int8/int16. A pool file is what `hitl score`, `hitl train`
 * and `hitl simulate` read: /features float32 [N, D], /labels int64 [N] (optional), a `classes`
 * string-array attribute and a `source` attribute on the root group. */
#define HITL_IDX_MAX_RANK   8
#define HITL_IDX_MAX_VALUES ((size_t)1 << 40)

typedef struct hitl_idx {
    const char *type; /* "uint8", "int8", "int16", "int32", "float32", "float64" */
    int rank;
    size_t dims[HITL_IDX_MAX_RANK];
    size_t rows, cols; /* dims[0] and the product of the others (1 for rank 1) */
    float *values;     /* [rows, cols] */
} hitl_idx;

/* HITL_EIO (cannot open), HITL_EDATA (not IDX, truncated, trailing data), HITL_ETYPE (unknown
 * type code), HITL_ESHAPE (rank 0 or above HITL_IDX_MAX_RANK, or more than HITL_IDX_MAX_VALUES
 * values). Caller-allocated *out; release with hitl_idx_release(). */
hitl_status hitl_idx_read(const char *path, hitl_idx *out, hitl_error *err);
void hitl_idx_release(hitl_idx *idx);

/* A labelled pool, read whole: features [n, d], a class index per row and the class names. */
typedef struct hitl_labelled {
    float *x;
    int32_t *y;
    size_t n, d;
    char **classes; /* the features' `classes` attribute, or NULL */
    size_t n_classes;
} hitl_labelled;

/* The float matrix `dset` of `path` (a .npy file: dset ignored) and the labels at
 * labels_path:labels_dset (labels_path NULL: the same HDF5 file). HITL_EINVAL for a .npy file
 * without labels_path, HITL_ESHAPE when the labels are not one per row; the readers' errors
 * otherwise. Caller-allocated *out; release with hitl_labelled_release(). */
hitl_status hitl_labelled_load(const char *path, const char *dset, const char *labels_path,
                               const char *labels_dset, hitl_labelled *out, hitl_error *err);
void hitl_labelled_release(hitl_labelled *l);

/* ---- a training set (io/files/train_set.c) ----------------------------------------------------
 * What `hitl train` fits the head on: listed pool rows of a features matrix [N, D] and their
 * targets. Labels are class indices (hitl_labels_read): N of them, one per pool row (with a row
 * list, the listed rows' are taken), or one per listed row; or an `hitl export --format hdf5`
 * file: its /rows (the pool rows), /labels and, with soft, /soft_labels [n, C] as the targets.
 * The class names: `classes` when given, else the export's `classes` attribute, else the
 * features'; C is their number, else the largest label + 1. */
typedef struct hitl_train_set_opts {
    const char *features_path, *features_dset; /* hitl_matrix_open: dset NULL for .npy */
    const char *labels_path, *labels_dset;     /* labels_dset unused with export_file */
    int export_file;                           /* labels_path is an export */
    int soft;                                  /* (export) train on /soft_labels */
    const char *rows_path, *rows_dset;         /* the pool rows to train on; NULL: every row */
    const char *classes;                       /* "A,B,...", or NULL */
} hitl_train_set_opts;

typedef struct hitl_train_set {
    float *x;    /* [n, d] the listed rows' features */
    int32_t *y;  /* [n] class indices (an export's /labels also with soft) */
    float *soft; /* [n, c] with soft, else NULL */
    size_t n, d, c;
    char **classes; /* the c class names, or NULL */
    size_t n_classes;
} hitl_train_set;

/* Caller-allocated *out; release with hitl_train_set_release() (nothing on failure). The
 * readers' errors; HITL_EINVAL for a row list with an export, soft without one; HITL_ESHAPE for
 * lengths that do not match, and class names that are not C; HITL_EDATA for a listed row past
 * the pool and no rows at all. */
hitl_status hitl_train_set_load(const hitl_train_set_opts *o, hitl_train_set *out, hitl_error *err);
void hitl_train_set_release(hitl_train_set *t);

/* Writes a pool file (created or truncated; removed again on failure). labels (may be NULL),
 * classes (may be NULL, else n_classes names) and source (may be NULL) are borrowed. */
hitl_status hitl_pool_save(const char *path, const float *x, size_t n, size_t d,
                           const int32_t *labels, char *const *classes, size_t n_classes,
                           const char *source, hitl_error *err);

/* Reads a whole matrix (all rows) into *out (caller frees). HITL_ENOMEM when it does not fit. */
hitl_status hitl_matrix_load(hitl_matrix *m, float **out, hitl_error *err);
/* The same as stored, as float64 (hitl_matrix_read_f64): calibration reads its probabilities so. */
hitl_status hitl_matrix_load_f64(hitl_matrix *m, double **out, hitl_error *err);

/* ---- learning curves ---------------------------------------------------------------------------
 * `hitl simulate`'s results: root attributes `strategies` (string array, in order) and `seeds`
 * (int64); per strategy a group /<strategy> holding float64 datasets labelled [points],
 * annotations [points], and accuracy, label_accuracy, seconds [seeds, points] (seconds: training
 * plus selecting per round). */
typedef struct hitl_curves {
    const char *strategy;
    size_t seeds, points;
    const double *labelled, *annotations;              /* [points] */
    const double *accuracy, *label_accuracy, *seconds; /* [seeds, points] */
} hitl_curves;

hitl_status hitl_curves_save(const char *path, const hitl_curves *c, size_t n,
                             const uint64_t *seeds, size_t n_seeds, hitl_error *err);

/* Writes `text` to `path` through a temporary sibling renamed into place: the file is complete
 * or unchanged. HITL_EIO with the reason. */
hitl_status hitl_text_save(const char *path, const char *text, hitl_error *err);

/* The routing of a queue run, one CSV row per planned row: `row,id,route,score,pred,p1`, route
 * one of review, flag, uncertain (queued without routing), blind, proceed (not queued: the
 * model's prediction stands); pred the class name (classes may be NULL: its index). ids[row]
 * names each row. Written through a temporary sibling (hitl_text_save). */
hitl_status hitl_routes_save(const char *path, const hitl_batch_entry *e, size_t n,
                             char *const *ids, char *const *classes, size_t n_classes,
                             hitl_error *err);

/* ---- labelled records and the files they go to ---------------------------------------------
 * A record is one item with its final label, as an export writes it (hitl_store_export fills
 * them from the store). Every pointer is borrowed for the call that receives the record. */
typedef struct hitl_record {
    const char *pool_id;
    int64_t row;            /* the pool row it was queued from */
    int32_t label;          /* the final label: a class index */
    const char *final_kind; /* "agreed", "adjudicated", "override", "majority", "dawid-skene" */
    const float *soft;      /* [n_classes] the share of the labels per class (dawid-skene: the
                               posterior); one-hot on the final label for an item without labels */
    int32_t n_labels;
    double agreement;              /* share of the labels equal to the final one; NaN without */
    const char *const *annotators; /* [n_labels], by name */
    const int32_t *votes;          /* [n_labels] each annotator's label */
    const char *const *voted_at;   /* [n_labels] ISO-8601 times */
    const char *labelled_at;       /* the latest label's time */
    const char *adjudicator, *justification, *decided_at; /* the latest decision, if any */
    int blind;                                            /* queued as a blind random sample */
    float score, p1;                                      /* at query time */
    int32_t pred;                                         /* the model's class then, or -1 */
    const char *method, *model, *batch, *route, *source;
    const char *queued_at, *final_at;
    const char *data; /* the display payload (JSON text) */
} hitl_record;

typedef enum {
    HITL_EXPORT_HDF5 = 0,
    HITL_EXPORT_JSONL,
    HITL_EXPORT_CSV,
    HITL_EXPORT_LABEL_STUDIO,
    HITL_EXPORT_COUNT
} hitl_export_format;

/* "hdf5", "jsonl", "csv", "label-studio"; the parser returns HITL_EINVAL for others. */
const char *hitl_export_format_name(hitl_export_format f);
hitl_status hitl_export_format_parse(const char *name, hitl_export_format *out);

/* What a writer is told when it opens; every pointer borrowed for the writer's life. */
typedef struct hitl_record_file {
    const char *path; /* the file to write */
    const char *name; /* the name the user gave, for messages */
    char *const *classes;
    size_t n_classes;
    const char *final_rule; /* how the final labels were reached (an HDF5 attribute) */
    const char *store_path; /* where they came from (an HDF5 attribute) */
    hitl_matrix *features;  /* hdf5: copy each record's pool row to /features; may be NULL */
    const char *audit_head; /* "SEQ:HASH" of the store's audit chain the records come from:
                               the hdf5 attribute audit_head, each task's meta.hitl_audit_head */
} hitl_record_file;

/* A writer of records (hdf5, jsonl, csv) or of Label Studio tasks (label-studio): opened on a
 * path, fed in order, then closed; a failed export closes with ok = 0, which releases it
 * without finishing the file. */
typedef struct hitl_record_writer hitl_record_writer;

/* HITL_EIO when the file cannot be made. Caller owns *out; give it back with
 * hitl_record_writer_close(). */
hitl_status hitl_record_writer_open(hitl_export_format format, const hitl_record_file *f,
                                    hitl_record_writer **out, hitl_error *err);
/* One record (hdf5, jsonl, csv writers). HITL_EDATA / HITL_ESHAPE when its pool row is outside
 * the features dataset, HITL_EIO when the file cannot be written. */
hitl_status hitl_record_writer_add(hitl_record_writer *w, const hitl_record *r, hitl_error *err);

/* One Label Studio task: the item still open for labelling, as annotators will see it. */
typedef struct hitl_ls_task {
    const char *id;                  /* stored in data.hitl_id, to find the item again on import */
    const char *data;                /* the display payload (a JSON object as text) or NULL */
    const char *prediction;          /* the model's class shown as a pre-annotation, or NULL */
    double score;                    /* the model's confidence */
    const char *model_version;       /* the prediction's model_version */
    const char *from_name, *to_name; /* the labelling config's control and object tag names */
} hitl_ls_task;

/* One task (label-studio writer). HITL_EDATA when it cannot be written as JSON. */
hitl_status hitl_record_writer_add_task(hitl_record_writer *w, const hitl_ls_task *t,
                                        hitl_error *err);
/* Finishes the file (ok = 1) or only releases (ok = 0); always frees w. NULL is a no-op. */
hitl_status hitl_record_writer_close(hitl_record_writer *w, int ok, hitl_error *err);

/* ---- exports read back ------------------------------------------------------------------------
 * An hdf5, jsonl or csv export's items (id, final label by class name), its final-label rule and
 * the audit head it recorded ("SEQ:HASH": the HDF5 attribute, or PATH.hitl-head beside jsonl
 * and csv). HITL_EDATA when the file is not an export or records no head, HITL_EINVAL for a
 * Label Studio task file. Release with hitl_export_labels_release(). */
typedef struct hitl_export_labels {
    char head[96], final_rule[32];
    char **ids, **labels;
    size_t n;
} hitl_export_labels;

hitl_status hitl_export_labels_read(const char *path, hitl_export_labels *out, hitl_error *err);
void hitl_export_labels_release(hitl_export_labels *e);

/* ---- Label Studio exports read back --------------------------------------------------------
 * Label Studio's JSON export (tasks with "annotations"), its JSON_MIN form (flat objects), its
 * CSV form (quoted or not) or its TSV form (the same with tabs), told apart by their content
 * (a header with more tabs than commas is TSV) and streamed one task at a time. */

/* One annotation as read from any of the forms; every pointer borrowed for the call. */
typedef struct hitl_ls_annotation {
    int64_t task;           /* 0-based task (JSON) or record (CSV) index */
    const char *where;      /* "task 3" or "line 7 (record 3)", for messages */
    const char *hitl_id;    /* data.hitl_id, NULL when the task has none */
    const char *annotator;  /* email, user id as text, or "unknown" */
    const char *choice;     /* the single choice for from_name, NULL when none */
    int cancelled;          /* was_cancelled (or the older "skipped") */
    const char *annotation; /* the annotation's id as text, NULL when none */
    const char *created_at; /* as Label Studio wrote it, NULL when none */
    double lead_time;       /* seconds, NaN when none */
} hitl_ls_annotation;

typedef hitl_status (*hitl_ls_annotation_fn)(void *ctx, const hitl_ls_annotation *a,
                                             hitl_error *err);

/* Reads `path` (a JSON list of tasks or one task object, JSON_MIN, CSV or TSV) and calls fn for
 * every annotation in file order; stops at fn's first error. A task without "data" has no
 * hitl_id. *form is "json", "json-min", "csv" or "tsv"; *tasks counts tasks (records).
 * HITL_EDATA naming the task (the line for CSV and TSV) for malformed input: truncated or bad
 * JSON, "data" that is not an object, more than one choice for from_name, a CSV without the hitl_id
 * or from_name column, a record whose field count is not the header's, malformed quoting, a field
 * over 1 MiB. */
hitl_status hitl_labelstudio_read(const char *path, const char *from_name, const char *to_name,
                                  hitl_ls_annotation_fn fn, void *ctx, const char **form,
                                  int64_t *tasks, hitl_error *err);

/* Writes the Label Studio labelling config the exported tasks need to `path` (replaced): a
 * Choices tag named from_name (default "choice") with one Choice per class, over an object tag
 * named to_name (default "text") showing data.$to_name, an Image when to_name is image, img,
 * picture or photo, else a Text. Class names are XML-escaped. HITL_EIO when it cannot be
 * written. */
hitl_status hitl_ls_config_write(const char *path, char *const *classes, size_t n_classes,
                                 const char *from_name, const char *to_name, hitl_error *err);

/* A user map for Label Studio's annotators: a CSV file of `id,name` rows (an `id,name` header
 * is skipped), the user ids (or emails) as the export writes them and the names to record.
 * *ids and *names (caller frees with hitl_strings_free(*ids, *n), likewise names). HITL_EDATA
 * naming the line for a row without two fields, an empty field or an id given twice. */
hitl_status hitl_user_map_read(const char *path, char ***ids, char ***names, size_t *n,
                               hitl_error *err);

#ifdef __cplusplus
}
#endif
#endif /* HITL_FILES_H */
