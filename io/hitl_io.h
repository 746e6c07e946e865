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
 * little-endian '<f4' or '<f8'). float64 is converted to float32 on read, except by
 * hitl_matrix_read_f64 (for the few places where the rounding matters, calibration's bins). */
typedef struct hitl_matrix hitl_matrix;

/* Default block of a streaming pass: about this many bytes of float32 input per block. */
#define HITL_BLOCK_BYTES ((size_t)8 << 20)
/* The widest matrix the readers accept: a row must fit in one default block (2^21 columns).
 * Wider shapes (pools, and a head's D or C) are refused (HITL_ESHAPE) before any allocation. */
#define HITL_MATRIX_MAX_COLS (HITL_BLOCK_BYTES / sizeof(float))
/* Rows per default block for `cols` columns (at least 1). */
size_t hitl_block_rows(size_t cols);

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
void hitl_matrix_close(hitl_matrix *m);
size_t hitl_matrix_rows(const hitl_matrix *m);
size_t hitl_matrix_cols(const hitl_matrix *m);
/* "path" or "path:/dset", for messages. Borrowed, valid until close. */
const char *hitl_matrix_name(const hitl_matrix *m);
/* Reads rows [row0, row0 + n) into `dst` (borrowed, caller-sized to n * cols floats).
 * Not thread-safe: one reader call at a time per process (HDF5 is built without threads). */
hitl_status hitl_matrix_read(hitl_matrix *m, size_t row0, size_t n, float *dst, hitl_error *err);
/* The same rows as stored, as float64 (`dst` sized to n * cols doubles): a float64 matrix is not
 * rounded to float32 on the way, the other types widen exactly. */
hitl_status hitl_matrix_read_f64(hitl_matrix *m, size_t row0, size_t n, double *dst,
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
    hitl_progress_fn progress; /* may be NULL; called from one thread at a time */
    void *progress_ctx;
    /* Optional per-row outputs for callers that select rows themselves (the queue): each
     * borrowed, caller-sized to the pool's rows (hitl_matrix_rows), may be NULL. */
    float *all_scores; /* the rank_by score of every row (NaN for skipped rows) */
    int32_t *all_pred; /* every row's predicted class (-1 for skipped rows) */
    float *all_p1;     /* every row's top probability */
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

/* ---- the annotation store (one SQLite file) -------------------------------------------------
 * The queue, every label, skip and decision, and an append-only audit chain: every change
 * appends its event (SHA-256 over the previous hash and the canonical event) in the same
 * transaction as the change. WAL mode, short BEGIN IMMEDIATE transactions, a busy timeout: many
 * annotator processes can work on one file at once. Items are named by their pool id. */
typedef struct hitl_store hitl_store;

typedef enum {
    HITL_SHOW_NEVER = 0,
    HITL_SHOW_UNCERTAIN, /* on uncertainty-queued items only, never on blind ones */
    HITL_SHOW_ALWAYS     /* on every item except blind ones */
} hitl_show_prediction;

typedef struct hitl_store_settings {
    char **classes;
    size_t n_classes;
    int overlap;       /* R: independent labels per item (routing may ask for 1) */
    int lease_seconds; /* how long `next` reserves an item */
    hitl_show_prediction show_prediction;
    int min_justification; /* characters an adjudication or override must give */
} hitl_store_settings;

/* The schema version this build writes; a store with a higher one is refused. */
#define HITL_STORE_SCHEMA 1

/* Creates a new store at `path` (HITL_ECONFLICT if the file exists) with `s` (borrowed). */
hitl_status hitl_store_init(const char *path, const hitl_store_settings *s, const char *actor,
                            hitl_error *err);
/* Opens an existing store. HITL_EIO when missing or not a hitl store, HITL_EDATA when corrupt,
 * HITL_ECONFLICT when written by a newer schema. Caller owns *out; close with
 * hitl_store_close(). */
hitl_status hitl_store_open(hitl_store **out, const char *path, hitl_error *err);
void hitl_store_close(hitl_store *st);
/* Caller-allocated *out; release with hitl_store_settings_release(). */
hitl_status hitl_store_settings_get(hitl_store *st, hitl_store_settings *out, hitl_error *err);
void hitl_store_settings_release(hitl_store_settings *s);
/* Validates one setting's text ("overlap", "lease", "show-prediction", "min-justification")
 * and applies it to *s; HITL_EINVAL naming the rule otherwise. */
hitl_status hitl_store_settings_apply(hitl_store_settings *s, const char *key, const char *value,
                                      hitl_error *err);
/* Changes one setting in the store, with the same rules; audited. */
hitl_status hitl_store_setting_set(hitl_store *st, const char *key, const char *value,
                                   const char *actor, hitl_error *err);

typedef enum { HITL_REASON_UNCERTAIN = 0, HITL_REASON_BLIND } hitl_queue_reason;

/* One row to enqueue; every pointer borrowed. */
typedef struct hitl_queue_row {
    const char *pool_id;
    int64_t row;
    hitl_queue_reason reason;
    float score;
    int32_t pred; /* the model's class, -1 when unknown */
    float p1;
    int required;      /* labels this item needs */
    const char *route; /* "review", "flag" or NULL */
    const char *data;  /* the display payload, JSON text, or NULL */
} hitl_queue_row;

/* What one `queue` call records on every entry it adds; every pointer borrowed. */
typedef struct hitl_queue_batch {
    const char *batch, *method, *model, *source;
    uint64_t seed;
    const char *actor;
    size_t n_proceed; /* rows routed to "proceed": counted in the audit event, not queued */
} hitl_queue_batch;

/* Pool ids of `ids` (borrowed, n) already in the store: out[i] = 1 when known. */
hitl_status hitl_store_known(hitl_store *st, char *const *ids, size_t n, uint8_t *out,
                             hitl_error *err);
/* Enqueues rows in the given order (their queue order); ids already known are skipped. One
 * transaction and one audit event for the batch. *added (may be NULL) counts the new ones. */
hitl_status hitl_store_enqueue(hitl_store *st, const hitl_queue_batch *b,
                               const hitl_queue_row *rows, size_t n, size_t *added,
                               hitl_error *err);
/* Attaches display payloads: JSON objects (text) with an "id" member, one per line of `jsonl`
 * (borrowed, NUL-terminated); lines for ids not queued are counted in *ignored. */
hitl_status hitl_store_attach_data(hitl_store *st, const char *jsonl, size_t *attached,
                                   size_t *ignored, hitl_error *err);

/* What hitl_store_enqueue_data did. */
typedef struct hitl_queue_counts {
    size_t added;    /* new items */
    size_t attached; /* payloads attached, to new or earlier items */
    size_t ignored;  /* payload lines for ids not queued */
} hitl_queue_counts;

/* hitl_store_enqueue, then hitl_store_attach_data(jsonl) when jsonl is not NULL, in one
 * transaction: the batch and its payloads are stored together or not at all, even when the
 * process dies between them. Errors in jsonl are prefixed with 'jsonl_name' (the file). */
hitl_status hitl_store_enqueue_data(hitl_store *st, const hitl_queue_batch *b,
                                    const hitl_queue_row *rows, size_t n, const char *jsonl,
                                    const char *jsonl_name, hitl_queue_counts *counts,
                                    hitl_error *err);

/* A leased item as an annotator sees it: never why it was queued. */
typedef struct hitl_lease {
    char *pool_id;
    char *data;       /* JSON text or NULL */
    char *prediction; /* class name, or NULL when not shown */
    char *expires;    /* ISO-8601 UTC */
    int64_t position; /* the item's place in the queue */
} hitl_lease;

/* Leases the next item for `annotator`: items others already started first (so overlap
 * completes), then queue order; never one the annotator labelled, skipped or holds; never more
 * leases + labels than the item needs. Expired leases return first. *found = 0 when nothing is
 * left for this annotator. Caller-allocated *out; release with hitl_lease_release(). */
hitl_status hitl_store_next(hitl_store *st, const char *annotator, hitl_lease *out, int *found,
                            hitl_error *err);
void hitl_lease_release(hitl_lease *l);
/* Records `label` for item `pool_id` by `annotator`, who must hold the lease or find the item
 * free. HITL_ENOTFOUND unknown item, HITL_EDATA unknown label, HITL_ECONFLICT no lease / already
 * labelled by this annotator / item complete. */
hitl_status hitl_store_label(hitl_store *st, const char *pool_id, const char *label,
                             const char *annotator, hitl_error *err);
/* Gives the item back without a label; the annotator is not offered it again. */
hitl_status hitl_store_skip(hitl_store *st, const char *pool_id, const char *annotator,
                            const char *reason, hitl_error *err);
/* Removes the annotator's last label if its item has no final label yet; *pool_id (caller
 * frees) names the item, NULL when there was nothing to undo. */
hitl_status hitl_store_undo(hitl_store *st, const char *annotator, char **pool_id, hitl_error *err);
/* Sets the final label of an item: resolves a disagreement, or overrides a final label or a
 * model prediction routed to review. The justification must have the configured length
 * (HITL_EDATA otherwise; nothing written). *overrode (may be NULL) says whether it changed the
 * previous outcome. */
hitl_status hitl_store_adjudicate(hitl_store *st, const char *pool_id, const char *label,
                                  const char *actor, const char *justification, int *overrode,
                                  hitl_error *err);

typedef struct hitl_store_annotator {
    char *name;
    int64_t labels, skips;
} hitl_store_annotator;

typedef struct hitl_store_actor {
    char *name;
    int64_t decisions, overrides;
    double rate; /* overrides / decisions */
} hitl_store_actor;

typedef struct hitl_store_batch_stats {
    char *batch;
    int64_t queued, complete, blind;
    int64_t awaiting_adjudication, queue_depth; /* as in hitl_store_stats, for this batch */
} hitl_store_batch_stats;

typedef struct hitl_store_stats {
    int64_t items_queued, items_complete, labels, skips, leases, awaiting_adjudication;
    int64_t queue_depth; /* items still needing labels */
    hitl_store_annotator *annotators;
    size_t n_annotators;
    hitl_store_actor *actors;
    size_t n_actors;
    hitl_store_batch_stats *batches;
    size_t n_batches;
} hitl_store_stats;

/* Caller-allocated *out; release with hitl_store_stats_release(). */
hitl_status hitl_store_stats_get(hitl_store *st, hitl_store_stats *out, hitl_error *err);
void hitl_store_stats_release(hitl_store_stats *s);

/* Recomputes the audit chain. HITL_EDATA with *bad_seq = the first sequence number whose event
 * was edited, inserted, deleted or moved; HITL_OK and *bad_seq = -1 when the chain verifies.
 * *n_events (may be NULL) counts the events read. */
hitl_status hitl_audit_verify(hitl_store *st, int64_t *bad_seq, int64_t *n_events, hitl_error *err);
/* Calls `fn` with each event as one canonical JSON line (no newline), in sequence order; all
 * events, or those of one item (pool_id) when item is non-NULL. A non-zero return stops. */
typedef int (*hitl_audit_fn)(void *ctx, const char *json_line);
hitl_status hitl_audit_each(hitl_store *st, const char *item, hitl_audit_fn fn, void *ctx,
                            hitl_error *err);

/* ---- ratings files ---------------------------------------------------------------------------
 * CSV (RFC 4180: quoted fields may hold commas, quotes doubled, line breaks; LF or CRLF; a UTF-8
 * byte order mark is skipped) with a header naming at least the columns item, annotator and
 * label, in any order (other columns are ignored), one rating per record; blank lines are
 * skipped. Names are strings; items and annotators are indexed in order of first appearance.
 * Labels are ordered as the given classes, else by value when every label is a number (equal
 * values are one label: "1" and "1.0"), else by byte order. Errors name the file and the line:
 * HITL_EIO (cannot open or read), HITL_EDATA (empty file, no such column, malformed CSV, a field
 * count off the header's, an empty field, an annotator rating an item twice, fewer than two
 * annotators, a label outside the given classes, a non-number at the interval or ratio level),
 * HITL_EINVAL (a class listed twice). */
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

/* Writes a pool file (created or truncated; removed again on failure). labels (may be NULL),
 * classes (may be NULL, else n_classes names) and source (may be NULL) are borrowed. */
hitl_status hitl_pool_save(const char *path, const float *x, size_t n, size_t d,
                           const int32_t *labels, char *const *classes, size_t n_classes,
                           const char *source, hitl_error *err);

/* Reads a whole matrix (all rows) into *out (caller frees). HITL_ENOMEM when it does not fit. */
hitl_status hitl_matrix_load(hitl_matrix *m, float **out, hitl_error *err);

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

/* ---- final labels out of the store --------------------------------------------------------
 * A cursor over the items that have a final label under a rule, in queue order, read in one
 * snapshot with memory bounded by one item (Dawid-Skene alone holds the ratings table: 8 bytes
 * per item and 20 per label, plus its posteriors).
 *   adjudicated  items whose labels agreed or that an adjudicator decided (state final)
 *   majority     those, and items with all their labels whose most voted label is unique (a tie
 *                is never broken: it is counted and left out)
 *   dawid-skene  items with all their labels (or a decision): a decision's label where an
 *                adjudicator set one, else the argmax of Dawid & Skene's posterior, fitted on
 *                every label in the store (ties left out and counted) */
typedef enum {
    HITL_FINAL_ADJUDICATED = 0,
    HITL_FINAL_MAJORITY,
    HITL_FINAL_DAWID_SKENE,
    HITL_FINAL_COUNT
} hitl_final_rule;

/* "adjudicated", "majority", "dawid-skene"; the parser returns HITL_EINVAL for others. */
const char *hitl_final_rule_name(hitl_final_rule r);
hitl_status hitl_final_rule_parse(const char *name, hitl_final_rule *out);

/* One item and its final label. Every pointer is borrowed from the cursor and valid until the
 * next call; strings are NULL when the store has none. */
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

typedef struct hitl_records hitl_records;

typedef struct hitl_records_counts {
    int64_t records; /* returned so far */
    int64_t ties;    /* left out: a tied vote or posterior */
    int64_t pending; /* items with labels but no final label under the rule (at open) */
    int ds_iterations, ds_converged; /* dawid-skene only */
} hitl_records_counts;

/* Opens the cursor in a read transaction: the store cannot be written through `st` until
 * hitl_records_close(). ds may be NULL (defaults). Caller owns *out. */
hitl_status hitl_records_open(hitl_store *st, hitl_final_rule rule, const hitl_ds_opts *ds,
                              hitl_records **out, hitl_error *err);
/* The next record in *rec (borrowed), or NULL at the end. */
hitl_status hitl_records_next(hitl_records *rc, const hitl_record **rec, hitl_error *err);
void hitl_records_counts_get(const hitl_records *rc, hitl_records_counts *out);
/* Ends the read transaction; NULL is a no-op. */
void hitl_records_close(hitl_records *rc);

/* Every label in the store as a ratings table: items (those with labels, in queue order) by
 * index, annotators sorted by name (*annotators: caller owns, hitl_strings_free()), labels the
 * project's classes. Release r with hitl_ratings_release(). */
hitl_status hitl_store_ratings_get(hitl_store *st, hitl_ratings *r, char ***annotators,
                                   size_t *n_annotators, hitl_error *err);

/* ---- exports ------------------------------------------------------------------------------
 * One record per item with a final label (hdf5, jsonl, csv), or one Label Studio task per item
 * still open for labelling (label-studio). The file appears whole or not at all (written
 * beside it, then renamed), and the export is audited ("export": format, path, count). */
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

typedef struct hitl_export_opts {
    hitl_export_format format;
    const char *path;
    hitl_final_rule final;
    const hitl_ds_opts *ds;                    /* may be NULL */
    const char *features_path, *features_dset; /* hdf5: copy these pool rows to /features */
    /* label-studio: the control and object tag names of the labelling config ("choice",
     * "text" when NULL) and whose tasks carry the model's guess as a prediction result
     * (-1: the store's show-prediction setting; never on blind items) */
    const char *from_name, *to_name;
    int show_prediction;
    const char *actor;
} hitl_export_opts;

typedef struct hitl_export_result {
    hitl_records_counts counts; /* counts.records: records (or tasks) written */
} hitl_export_result;

/* HITL_EINVAL for bad options (features without hdf5), HITL_EIO for the output file,
 * HITL_EDATA / HITL_ESHAPE when a pool row is outside the features dataset. */
hitl_status hitl_store_export(hitl_store *st, const hitl_export_opts *o, hitl_export_result *res,
                              hitl_error *err);

/* ---- Label Studio import ------------------------------------------------------------------
 * Reads Label Studio's JSON export (tasks with "annotations"), its JSON_MIN form (flat objects)
 * or its CSV form (quoted or not), told apart by their content, and records each annotation as
 * a label by its annotator ("completed_by": the email, else the user id as text), a cancelled
 * one as a skip. Items are found by data.hitl_id. Each annotation is imported once: its key
 * ("ls:<annotation id>@<item>", else a hash of item, annotator, choice and time) is kept, so
 * importing a file again writes nothing. Unknown items, empty annotations, labels by an
 * annotator who already labelled the item and labels for complete items are counted and
 * reported, not written. One transaction: a malformed file (truncated JSON, a task without
 * "data", an unknown or multiple choice) is HITL_EDATA naming the task index, nothing written. */
typedef enum {
    HITL_IMPORT_UNKNOWN_ITEM = 0,
    HITL_IMPORT_DUPLICATE,
    HITL_IMPORT_COMPLETE,
    HITL_IMPORT_EMPTY
} hitl_import_problem;

/* Called for every annotation not written (already imported ones excepted); `task` is the
 * 0-based task (JSON) or record (CSV) index. */
typedef void (*hitl_import_problem_fn)(void *ctx, hitl_import_problem kind, int64_t task,
                                       const char *message);

typedef struct hitl_import_opts {
    const char *path;
    const char *from_name, *to_name; /* "choice" when NULL; to_name checked only when given */
    const char *actor;
    hitl_import_problem_fn problem; /* may be NULL */
    void *problem_ctx;
} hitl_import_opts;

typedef struct hitl_import_result {
    const char *form; /* "json", "json-min" or "csv" (static) */
    int64_t tasks, annotations, labels, skips;
    int64_t already_imported, unknown_items, duplicates, complete, empty;
} hitl_import_result;

hitl_status hitl_store_import_label_studio(hitl_store *st, const hitl_import_opts *o,
                                           hitl_import_result *res, hitl_error *err);

/* ---- report data ----------------------------------------------------------------------------
 * Streams every queued item (for score histograms): a non-zero return from fn stops. */
typedef struct hitl_item_brief {
    const char *pool_id;
    int blind;
    float score, p1;
    int32_t pred;
    int state; /* 0 open, 1 awaiting adjudication, 2 final */
    int32_t n_labels;
    const char *method;
} hitl_item_brief;
typedef int (*hitl_item_fn)(void *ctx, const hitl_item_brief *it);
hitl_status hitl_store_items_each(hitl_store *st, hitl_item_fn fn, void *ctx, hitl_error *err);

/* Per annotator: labels, skips, and the mean seconds from lease (or Label Studio's lead time)
 * to label over the labels that have one (NaN when none). Sorted by name. */
typedef struct hitl_store_throughput {
    char *name;
    int64_t labels, skips, timed;
    double mean_seconds;
    char *first_at, *last_at; /* first and last label, ISO-8601, or NULL */
} hitl_store_throughput;

/* Caller owns *out; release with hitl_store_throughput_free(). */
hitl_status hitl_store_throughput_get(hitl_store *st, hitl_store_throughput **out, size_t *n,
                                      hitl_error *err);
void hitl_store_throughput_free(hitl_store_throughput *v, size_t n);

/* ---- quality data (io/store_quality.c) ------------------------------------------------------
 * Each read in one snapshot. The labels as a ratings file: items are the labelled items by pool
 * id (in queue order), annotators by name (sorted), labels the project's classes in order (all
 * of them, used or not). *final (may be NULL; caller owns, free()) gets each item's final label
 * or -1. Caller-allocated *out; release with hitl_ratings_file_release(). */
hitl_status hitl_store_ratings_file(hitl_store *st, hitl_ratings_file *out, int32_t **final,
                                    hitl_error *err);

/* The blind items (queued as random samples) that have a final label, in queue order, with the
 * model's prediction and top probability as stored at queue time and their pool rows. */
typedef struct hitl_blind_sample {
    size_t n;
    char **pool_ids;
    int64_t *rows;
    int32_t *pred, *label; /* class indices */
    float *p1;
    size_t n_unscored; /* left out: queued without a prediction or pool row */
} hitl_blind_sample;

/* Caller-allocated *out; release with hitl_blind_sample_release(). */
hitl_status hitl_store_blind_sample(hitl_store *st, hitl_blind_sample *out, hitl_error *err);
void hitl_blind_sample_release(hitl_blind_sample *b);

/* What `hitl health` judges (engine: hitl_health_evaluate). A label was given with the model's
 * prediction shown when the store shows predictions (show-prediction uncertain or always, the
 * setting now) and the item is not blind and has one; of those on items with a final label
 * (state final), the suggestion was right when the final label is the prediction, else wrong,
 * and approved when the label is the prediction. A label is audited when the trail holds its
 * annotator's "label" event for its item. Latency: seconds from lease to label, for the labels
 * that had a lease. The chain is verified by hitl_audit_verify(). */
typedef struct hitl_store_health {
    int show_prediction;               /* hitl_show_prediction */
    int prediction_shown;              /* show_prediction != never */
    hitl_health_annotator *annotators; /* sorted by name; names owned */
    size_t n_annotators;
    hitl_health_actor *actors; /* decision makers, sorted by name; names owned */
    size_t n_actors;
    int64_t labels, labels_audited;
    double *latency;
    size_t n_latency;
    int chain_ok;
    int64_t chain_bad_seq, n_events;
} hitl_store_health;

/* Caller-allocated *out; release with hitl_store_health_release(). A broken chain is reported
 * in chain_ok, not as an error. */
hitl_status hitl_store_health_get(hitl_store *st, hitl_store_health *out, hitl_error *err);
void hitl_store_health_release(hitl_store_health *h);

#ifdef __cplusplus
}
#endif
#endif /* HITL_IO_H */
