/* hitl engine: pure computation on caller-owned, row-major arrays.
 * No file, database or terminal I/O here: BLAS and libm only. Every other layer builds on the
 * status codes and the error struct declared first in this header. */
#ifndef HITL_ENGINE_H
#define HITL_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- status codes -------------------------------------------------------------------------
 * Append-only: always add new codes last and never renumber (scripts and bindings keep the
 * numbers). The CLI maps them to exit codes: see cli/cli.h. */
#define HITL_STATUS_MAP(X)                                                                         \
    X(OK, "ok")                                                                                    \
    X(EINVAL, "invalid argument")                                                                  \
    X(ENOMEM, "out of memory")                                                                     \
    X(EIO, "input/output error")                                                                   \
    X(ENOTFOUND, "not found")                                                                      \
    X(EDATA, "bad data")                                                                           \
    X(ESHAPE, "wrong shape")                                                                       \
    X(ETYPE, "unsupported data type")                                                              \
    X(ECONFLICT, "conflict")                                                                       \
    X(EBUSY, "busy")                                                                               \
    X(EINTERNAL, "internal error")                                                                 \
    X(EAUTH, "not authenticated")                                                                  \
    X(EPERM, "not permitted")

typedef enum {
#define HITL__STATUS_ENUM(name, msg) HITL_##name,
    HITL_STATUS_MAP(HITL__STATUS_ENUM)
#undef HITL__STATUS_ENUM
        HITL_STATUS_COUNT
} hitl_status;

/* A static, lowercase description of `st` ("unknown status" for out-of-range values). */
const char *hitl_status_str(hitl_status st);

/* Detail for a failed call: filled by the callee when the caller passes a non-NULL pointer.
 * `row` is the offending data row for data errors, else -1. */
typedef struct hitl_error {
    hitl_status status;
    int64_t row;
    char msg[512];
} hitl_error;

/* Resets `err` (may be NULL) to HITL_OK with an empty message. */
void hitl_error_clear(hitl_error *err);
/* Fills `err` (may be NULL) with `st` and a printf-style message; returns `st` so callers can
 * write `return hitl_error_set(err, HITL_EDATA, "...")`. */
hitl_status hitl_error_set(hitl_error *err, hitl_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepends "prefix: " to the message already in `err` (may be NULL: then nothing). */
void hitl_error_prefix(hitl_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- random numbers --------------------------------------------------------------------------
 * xoshiro256** seeded through splitmix64: the same stream for a seed on every platform and in
 * every version (queues and bootstrap intervals are reproduced from their recorded seed). */
typedef struct hitl_rng {
    uint64_t s[4];
} hitl_rng;

void hitl_rng_seed(hitl_rng *r, uint64_t seed);
uint64_t hitl_rng_next(hitl_rng *r);
/* Uniform in [0, 1), 53 random bits. */
double hitl_rng_uniform(hitl_rng *r);
/* Uniform in [0, n), unbiased; 0 when n is 0. */
uint64_t hitl_rng_below(hitl_rng *r, uint64_t n);

/* ---- a growable text buffer ------------------------------------------------------------------
 * The one buffer every layer builds text in (exports, notebooks, HTTP bodies). NUL-terminated;
 * after a failed allocation `oom` stays set and later appends do nothing, so a caller checks
 * once at the end. Zero-initialise; release with hitl_buf_release(). */
typedef struct hitl_buf {
    char *p;
    size_t n, cap;
    int oom;
} hitl_buf;

void hitl_buf_release(hitl_buf *b);
void hitl_buf_reset(hitl_buf *b); /* empty again, keeping the memory (and clearing oom) */
void hitl_buf_put(hitl_buf *b, const char *s, size_t n);
void hitl_buf_puts(hitl_buf *b, const char *s);
void hitl_buf_putc(hitl_buf *b, char c);
void hitl_buf_printf(hitl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An integer in decimal, without printf. */
void hitl_buf_int(hitl_buf *b, int64_t v);

/* ---- a string -> index map ---------------------------------------------------------------------
 * Interns names (item ids, annotators, labels) into dense indices 0, 1, ... in order of first
 * appearance: open addressing over FNV-1a hashes, the names kept in one arena. Zero-initialise;
 * release with hitl_strmap_release(). */
typedef struct hitl_strmap {
    size_t n, n_slots;
    uint32_t *slots; /* entry index or UINT32_MAX */
    uint64_t *hash;  /* per entry */
    size_t *off;     /* per entry: offset of its NUL-terminated name in arena */
    size_t cap;
    char *arena;
    size_t arena_n, arena_cap;
} hitl_strmap;

void hitl_strmap_release(hitl_strmap *m);
/* The index of `s` (len bytes, no NUL inside), added when new; -1 when out of memory or past
 * 2^31 - 2 names. */
int64_t hitl_strmap_intern(hitl_strmap *m, const char *s, size_t len);
/* The index of `s`, or -1 when it is not in the map. */
int64_t hitl_strmap_find(const hitl_strmap *m, const char *s, size_t len);
/* Name i (borrowed, valid until the next intern or the release). */
const char *hitl_strmap_name(const hitl_strmap *m, size_t i);

/* ---- uncertainty scores ---------------------------------------------------------------------
 * Every score is oriented so that higher means more uncertain. With p(1) >= p(2) the two largest
 * probabilities of a row (equal when the top is tied):
 *   lc      = 1 - p(1)
 *   margin  = 1 - (p(1) - p(2))
 *   ratio   = p(2) / p(1)
 *   entropy = -sum_c p_c ln p_c in nats, 0 ln 0 = 0; divided by ln C when normalised. */
typedef enum {
    HITL_METHOD_LC = 0,
    HITL_METHOD_MARGIN,
    HITL_METHOD_RATIO,
    HITL_METHOD_ENTROPY,
    HITL_METHOD_COUNT
} hitl_method;

#define HITL_METHOD_BIT(m) (1u << (m))
#define HITL_METHODS_ALL   ((1u << HITL_METHOD_COUNT) - 1u)

/* "lc", "margin", "ratio", "entropy". */
const char *hitl_method_name(hitl_method m);
/* Parses a method name; HITL_EINVAL when unknown. */
hitl_status hitl_method_parse(const char *name, hitl_method *out);

typedef enum { HITL_INPUT_PROBS = 0, HITL_INPUT_LOGITS } hitl_input_kind;

typedef struct hitl_score_opts {
    hitl_input_kind kind;
    unsigned methods;      /* HITL_METHOD_BIT() mask of the scores to compute */
    float temperature;     /* logits only: z / T before the softmax; 1 when 0 */
    double sum_tolerance;  /* probs only: |sum - 1| allowed; 1e-3 when 0 */
    int renormalize;       /* probs: rescale rows whose sum is off; skip rows that cannot be */
    int normalize_entropy; /* divide entropy by ln C */
} hitl_score_opts;

/* Per-row outputs of one block. Each pointer is borrowed, caller-sized to `n` rows, and may be
 * NULL when not wanted; scores[m] is written only for the methods in opts->methods. */
typedef struct hitl_score_out {
    float *scores[HITL_METHOD_COUNT];
    int32_t *pred; /* argmax, the lowest class index among ties */
    float *p1;     /* the (renormalised) top probability */
} hitl_score_out;

/* Scores `n` rows of `c` classes at `x` (borrowed, row-major float32). Invalid rows (NaN or Inf,
 * negative probabilities, probability sums off 1 by more than the tolerance) fail with HITL_EDATA
 * and err->row = row0 + the row's index, unless opts->renormalize: then rows whose sum is off
 * are rescaled, and rows that cannot become a distribution get NaN scores, are counted in
 * *n_skipped (may be NULL) and never rank. c must be at least 2. Thread-safe; no allocation. */
hitl_status hitl_scores_compute(const hitl_score_opts *opts, const float *x, size_t n, size_t c,
                                int64_t row0, const hitl_score_out *out, size_t *n_skipped,
                                hitl_error *err);

/* The instruction set the score kernels use: "avx512", "avx2" or "generic", chosen from the CPU
 * at the first call. hitl_scores_set_isa() forces one (tests and benchmarks compare them);
 * HITL_EINVAL when unknown or not supported by this CPU or build. Not thread-safe. */
const char *hitl_scores_isa(void);
hitl_status hitl_scores_set_isa(const char *isa);

/* ---- top-k selection ------------------------------------------------------------------------
 * Keeps the k best rows seen so far in O(k) memory: higher score first, ties to the lower row.
 * NaN scores never enter. The order is total, so the result is the same for any block size,
 * any block order and any split across threads (merge the per-thread selections). */
typedef struct hitl_scored {
    float score;
    float p1;
    int32_t pred;
    int64_t row;
} hitl_scored;

typedef struct hitl_topk {
    size_t k, n;
    hitl_scored *heap; /* min-heap on (score, -row): the root is the worst kept row */
} hitl_topk;

/* Caller-allocated; allocates room for k rows (k may be 0). Release with hitl_topk_release(). */
hitl_status hitl_topk_init(hitl_topk *t, size_t k);
void hitl_topk_release(hitl_topk *t);
/* Offers one row; returns 1 when it was kept. */
int hitl_topk_offer(hitl_topk *t, const hitl_scored *s);
/* Offers rows row0..row0+n-1 with scores (borrowed) and optional pred/p1 (borrowed, may be NULL).
 */
void hitl_topk_offer_block(hitl_topk *t, const float *scores, const int32_t *pred, const float *p1,
                           size_t n, int64_t row0);
/* Offers every row kept in `src` to `dst`. */
void hitl_topk_merge(hitl_topk *dst, const hitl_topk *src);
/* Writes the kept rows, best first, to `out` (caller-sized to t->n); returns the count. The heap
 * is left empty. */
size_t hitl_topk_drain(hitl_topk *t, hitl_scored *out);
/* 1 when a ranks before b: higher score, then lower row. */
int hitl_scored_before(const hitl_scored *a, const hitl_scored *b);
/* Sorts `n` rows best first with the same order as top-k. */
void hitl_scored_sort(hitl_scored *v, size_t n);
/* The best k of two lists sorted best first (rows distinct): into (n_into rows, room for k)
 * becomes the merged list, best first; returns its length, min(k, n_into + n_from). */
size_t hitl_scored_merge_top(hitl_scored *into, size_t n_into, const hitl_scored *from,
                             size_t n_from, size_t k);

/* ---- threshold selection (risk routing) ----------------------------------------------------- */
typedef struct hitl_scored_vec {
    hitl_scored *v;
    size_t n, cap;
} hitl_scored_vec;

/* Appends every row whose score is above `threshold` (NaN never is). */
hitl_status hitl_select_above(hitl_scored_vec *vec, const float *scores, const int32_t *pred,
                              const float *p1, size_t n, int64_t row0, float threshold);
void hitl_scored_vec_release(hitl_scored_vec *vec);

/* ---- batch planning --------------------------------------------------------------------------
 * Which rows one annotation batch takes, from every row's score (higher = more uncertain). */
typedef enum { HITL_ROUTE_NONE = 0, HITL_ROUTE_REVIEW, HITL_ROUTE_FLAG } hitl_route;
/* The oversight rule, for queued rows and live decisions alike: risk above high is reviewed
 * (before it acts), above medium flagged (it acts, then is reviewed), the rest proceed (NONE). */
hitl_route hitl_route_by_risk(double risk, double high, double medium);

typedef struct hitl_batch_opts {
    int use_top_k; /* take the top_k most uncertain free rows; else (routing) all above medium */
    size_t top_k;
    size_t blind;  /* rows drawn uniformly from the free rows outside the top */
    uint64_t seed; /* the blind sample's seed: same inputs and seed, same batch */
    int route;     /* risk routing of the uncertain rows (as the OversightRouter): */
    double high;   /*   score > high: review, `overlap` labels */
    double medium; /*   medium < score <= high: flag, one label; else proceed (not taken) */
    int overlap;   /* labels per item (R) */
    /* Optional: the uncertain rows already chosen (e.g. by k-center), in queue order; then
     * use_top_k and top_k are ignored. Borrowed, n_chosen rows, none taken or NaN. */
    const int64_t *chosen;
    size_t n_chosen;
} hitl_batch_opts;

typedef struct hitl_batch_entry {
    int64_t row;
    float score;
    int32_t pred;
    float p1;
    uint8_t blind;
    uint8_t proceed; /* routed to proceed: the model's prediction stands, the row is not queued */
    hitl_route route;
    int required; /* labels the item needs (0 for a proceed row) */
} hitl_batch_entry;

typedef struct hitl_batch_counts {
    size_t uncertain, blind, review, flag, proceed;
} hitl_batch_counts;

/* Plans a batch over n rows: score (borrowed; NaN rows never taken), pred and p1 (borrowed,
 * may be NULL), taken (borrowed, may be NULL: 1 for rows already queued or labelled). *out is
 * in queue order: uncertain rows best first (ties to the lower row) with the blind rows, in row
 * order, spread evenly among them. With routing, the rows routed to proceed are in *out too,
 * marked `proceed` (to record, not to queue): among the top K, or (routing without top_k) every
 * free scored row at or below medium that the blind sample did not take, after the others in
 * row order. Caller owns *out; free() it. */
hitl_status hitl_batch_plan(const float *score, const int32_t *pred, const float *p1,
                            const uint8_t *taken, size_t n, const hitl_batch_opts *opts,
                            hitl_batch_entry **out, size_t *n_out, hitl_batch_counts *counts,
                            hitl_error *err);

/* ---- linear head ----------------------------------------------------------------------------
 * logits[n, c] = x[n, d] W[d, c] + b[c], through cblas_sgemm. All arrays borrowed, row-major;
 * `logits` is caller-sized to n * c. b may be NULL. */
hitl_status hitl_head_logits(const float *x, size_t n, size_t d, const float *w, const float *b,
                             size_t c, float *logits, hitl_error *err);
/* Turns n rows of c logits (row-major, in place) into probabilities: softmax(z / T) around each
 * row's maximum. temperature <= 0 means 1. */
void hitl_softmax_rows(float *z, size_t n, size_t c, float temperature);
/* Sets the BLAS library's thread count (n > 0; else unchanged) and returns the previous one;
 * OpenMP's default team size stays as it was. Callers that run BLAS on several threads of their
 * own set it to 1 (OpenBLAS's OpenMP build needs no telling). Process-wide. */
int hitl_blas_set_threads(int n);

/* ---- ratings tables -------------------------------------------------------------------------
 * Every (item, annotator, label) rating of a labelling round, compressed by item (CSR): item u's
 * ratings are [item_ptr[u], item_ptr[u + 1]), sorted by annotator, at most one per annotator;
 * any annotator may be missing on any item. 8 bytes per item plus 8 per rating, whatever the
 * number of annotators. Labels are indices into the table's label order, which is the order
 * ordinal levels and weighted kappas use; value[] is each label's number (interval, ratio). */
typedef struct hitl_ratings {
    size_t n_items, n_annotators, n_labels, n_ratings;
    int64_t *item_ptr;  /* [n_items + 1], item_ptr[0] = 0 */
    int32_t *annotator; /* [n_ratings], strictly increasing within an item */
    int32_t *label;     /* [n_ratings], in [0, n_labels) */
    double *value;      /* [n_labels] finite numbers, or NULL (nominal and ordinal data) */
} hitl_ratings;

/* Builds *r (caller-allocated) from n triplets (all borrowed); `values` (may be NULL) is
 * copied. HITL_EINVAL when an index is out of range, HITL_EDATA when an annotator rates an item
 * twice; err->row is then the offending triplet. Release with hitl_ratings_release(). */
hitl_status hitl_ratings_build(hitl_ratings *r, size_t n_items, size_t n_annotators,
                               size_t n_labels, const int32_t *item, const int32_t *annotator,
                               const int32_t *label, size_t n, const double *values,
                               hitl_error *err);
/* Frees the table's arrays (all heap) and zeroes it; NULL is a no-op. */
void hitl_ratings_release(hitl_ratings *r);
/* Checks a table filled by hand: offsets, index ranges, annotator order, finite values.
 * HITL_EINVAL for a malformed table (err->row = the rating), HITL_EDATA for a duplicate. */
hitl_status hitl_ratings_check(const hitl_ratings *r, hitl_error *err);

/* A dense item x annotator matrix, the form crowd labels often come in (one column per
 * annotator): m[u * n_annotators + a] is annotator a's label for item u, in [0, n_labels), or
 * negative for no rating. int8, so at most 127 labels (more go through a ratings table).
 * value is as in hitl_ratings (borrowed; may be NULL). */
typedef struct hitl_ratings_matrix {
    const int8_t *m;
    size_t n_items, n_annotators, n_labels;
    const double *value;
} hitl_ratings_matrix;

/* Builds the ratings table of a matrix (value copied). HITL_EINVAL for a label >= n_labels
 * (err->row = its item); release with hitl_ratings_release(). */
hitl_status hitl_ratings_from_matrix(hitl_ratings *r, const hitl_ratings_matrix *m,
                                     hitl_error *err);

/* ---- inter-rater agreement ------------------------------------------------------------------
 * Over a ratings table, with missing ratings anywhere. Definitions (and the papers they follow
 * are cited in engine/agreement_coef.c):
 *   percent agreement  mean over items with >= 2 ratings of the share of agreeing rating pairs
 *   Cohen's kappa      per annotator pair on the items both rated; weights on label ranks:
 *                      linear 1 - |i-j|/(L-1), quadratic 1 - (i-j)^2/(L-1)^2
 *   Fleiss' kappa      only when every rated item has the same number (>= 2) of ratings: then it
 *                      equals scott_pi; NaN otherwise
 *   Krippendorff alpha 1 - (n - 1) sum o_ck d_ck / sum n_c n_k d_ck over the coincidence matrix
 *                      of items with >= 2 ratings, at the nominal, ordinal, interval or ratio
 *                      level
 *   Gwet's AC1         (pa - pe) / (1 - pe), pe = sum_c pi_c (1 - pi_c) / (L - 1)
 *   Scott's pi         multi-rater (Fleiss) form with missing ratings, pe = sum_c pi_c^2
 * with pa the percent agreement and pi_c the mean over rated items of the share of the item's
 * ratings that are c. Per-label kappa is Scott's pi on the label-vs-rest table. */
typedef enum {
    HITL_LEVEL_NOMINAL = 0,
    HITL_LEVEL_ORDINAL,
    HITL_LEVEL_INTERVAL,
    HITL_LEVEL_RATIO,
    HITL_LEVEL_COUNT
} hitl_level;

typedef enum {
    HITL_WEIGHTS_NONE = 0,
    HITL_WEIGHTS_LINEAR,
    HITL_WEIGHTS_QUADRATIC,
    HITL_WEIGHTS_COUNT
} hitl_weights;

/* The chance-corrected summaries, in the order of the JSON keys hitl_coef_name() gives. */
typedef enum {
    HITL_COEF_PERCENT = 0,
    HITL_COEF_FLEISS,
    HITL_COEF_ALPHA,
    HITL_COEF_AC1,
    HITL_COEF_SCOTT,
    HITL_COEF_COUNT
} hitl_coef;

/* "nominal", "ordinal", "interval", "ratio" / "none", "linear", "quadratic" /
 * "percent_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "scott_pi".
 * The parsers return HITL_EINVAL for unknown names. */
const char *hitl_level_name(hitl_level l);
hitl_status hitl_level_parse(const char *name, hitl_level *out);
const char *hitl_weights_name(hitl_weights w);
hitl_status hitl_weights_parse(const char *name, hitl_weights *out);
const char *hitl_coef_name(hitl_coef c);

/* How the counts are gathered (see engine/agreement.c); every path gives the same numbers.
 * AUTO picks the first that fits: HISTOGRAM when (labels + 1)^annotators <= 65536, DENSE when
 * the per-pair table fits max_cells, else SPARSE. Forcing one is for tests and benchmarks. */
typedef enum {
    HITL_AGREE_AUTO = 0,
    HITL_AGREE_HISTOGRAM,
    HITL_AGREE_DENSE,
    HITL_AGREE_SPARSE
} hitl_agree_path;

typedef struct hitl_agreement_opts {
    hitl_level level;           /* for alpha; interval and ratio need r->value */
    hitl_weights weights;       /* for Cohen's kappa (pairs and vs_final) */
    const int32_t *final_label; /* [n_items] adjudicated label or -1, borrowed; may be NULL */
    size_t bootstrap;           /* B resamples of items for the 95% intervals; 0: none */
    uint64_t seed;              /* resample b draws from hitl_rng seeded with
                                   seed ^ ((b + 1) * 0x9E3779B97F4A7C15) */
    int threads;                /* 0: OpenMP's default; results never depend on it */
    hitl_agree_path path;       /* HITL_EINVAL when a forced path cannot take the table */
    size_t max_cells;           /* 8-byte counters per thread for the count tables; 0: 2^18.
                                   The sparse path works through annotator pairs in blocks
                                   that fit */
    int portable;               /* matrix entry: the portable loop even where AVX-512 VBMI is
                                   (tests and benchmarks compare them) */
} hitl_agreement_opts;

typedef struct hitl_pair_agreement {
    int32_t a, b;     /* annotators, a < b */
    int64_t n;        /* items both rated */
    double agreement; /* share of those with the same label */
    double kappa;     /* Cohen's kappa (opts.weights); NaN when undefined */
} hitl_pair_agreement;

typedef struct hitl_interval {
    double lo, hi; /* NaN when undefined */
} hitl_interval;

typedef struct hitl_agreement {
    size_t n_items, n_annotators, n_labels, n_ratings;
    size_t n_rated;                  /* items with >= 1 rating */
    size_t n_pairable;               /* items with >= 2 ratings (alpha's units) */
    size_t min_ratings, max_ratings; /* per rated item */
    double coef[HITL_COEF_COUNT];    /* NaN when undefined (fleiss: ratings per item differ) */
    double *per_label;               /* [n_labels] one-vs-rest kappa, NaN when undefined */
    hitl_pair_agreement *pairs;      /* every pair with a common item, by (a, b) */
    size_t n_pairs;
    hitl_pair_agreement *vs_final; /* [n_annotators] (b = -1) when opts.final_label, else NULL */
    size_t bootstrap;              /* resamples drawn (0: no intervals) */
    hitl_interval ci[HITL_COEF_COUNT]; /* percentile 95% intervals */
} hitl_agreement;

/* Computes every measure of `r` (borrowed) into *out (caller-allocated; release with
 * hitl_agreement_release()). HITL_EDATA when there are fewer than two annotators, no item with
 * two ratings, or negative values at the ratio level; HITL_EINVAL for a malformed table or
 * options (interval/ratio without values, a final label out of range). */
hitl_status hitl_agreement_compute(const hitl_ratings *r, const hitl_agreement_opts *opts,
                                   hitl_agreement *out, hitl_error *err);
/* The same measures of a dense matrix (borrowed). With few annotators and labels (the
 * histogram path's (labels + 1)^annotators <= 65536) and neither final labels nor a bootstrap,
 * one pass over the matrix counts the items' configurations: no table is built. Otherwise it
 * builds the ratings table and runs hitl_agreement_compute() on it. Same errors, and
 * HITL_EINVAL for a label >= n_labels. */
hitl_status hitl_agreement_compute_matrix(const hitl_ratings_matrix *m,
                                          const hitl_agreement_opts *opts, hitl_agreement *out,
                                          hitl_error *err);
void hitl_agreement_release(hitl_agreement *a);

/* ---- label aggregation ----------------------------------------------------------------------
 * Majority vote, where a tie is never broken: the item goes to adjudication. Dawid & Skene's EM
 * (per-annotator confusion matrices, class priors, per-item posteriors), started from the vote
 * shares of every item. */
typedef enum { HITL_VOTE_NONE = 0, HITL_VOTE_CLEAR, HITL_VOTE_TIE } hitl_vote_status;

typedef struct hitl_vote {
    int32_t label; /* the most voted label; -1 on a tie or without ratings */
    int32_t votes; /* ratings for the top label (the tied count on a tie) */
    int32_t n;     /* ratings of the item */
    hitl_vote_status status;
} hitl_vote;

/* out[n_items] (caller-sized). *n_ties (may be NULL) counts tied items. */
hitl_status hitl_majority_vote(const hitl_ratings *r, hitl_vote *out, size_t *n_ties,
                               hitl_error *err);

typedef struct hitl_ds_opts {
    double tol;       /* stop once the log-likelihood changes by <= tol x |itself|; 1e-6
                         when 0 */
    int max_iter;     /* 1000 when 0 */
    double smoothing; /* pseudo-count added to every confusion cell and prior; 0.01 when 0,
                         none when negative */
    int threads;      /* 0: OpenMP's default; results never depend on it */
} hitl_ds_opts;

typedef struct hitl_ds_result {
    size_t n_items, n_annotators, n_labels;
    double *posterior; /* [n_items, n_labels]; the prior for items without ratings */
    int32_t *label;    /* [n_items] argmax, -1 when the top two posteriors tie (1e-12) */
    double *confusion; /* [n_annotators, n_labels true, n_labels given], rows sum to 1 */
    double *prior;     /* [n_labels] */
    size_t n_ties;
    int iterations, converged; /* converged: stopped by tol, not by max_iter */
    double max_change;         /* largest posterior change in the last iteration */
    double log_likelihood;     /* of the ratings under the final parameters */
    double tol, smoothing;     /* as used */
    int max_iter;
} hitl_ds_result;

/* Caller-allocated *out; release with hitl_ds_result_release(). HITL_EDATA with fewer than two
 * labels or no ratings. */
hitl_status hitl_dawid_skene(const hitl_ratings *r, const hitl_ds_opts *opts, hitl_ds_result *out,
                             hitl_error *err);
void hitl_ds_result_release(hitl_ds_result *res);

/* ---- calibration ----------------------------------------------------------------------------
 * Top-label calibration from a blind (randomly drawn, hence unbiased) labelled sample, in one
 * place for every command and report (engine/calibration.c). The confidence of a row is its top
 * probability, its prediction the argmax (lowest class on ties); the row is correct when that is
 * its true label. Equal-width bin b of B holds confidences in (b/B, (b+1)/B], bin 0 also 0 (Guo
 * et al. 2017, as scikit-learn's calibration_curve): with B = 10 a confidence of exactly 0.8 is
 * in (0.7, 0.8]. Confidences are binned as given, in double: a float64 0.8 stays 0.8 (its
 * float32 rounding, 0.800000012, would be in (0.8, 0.9]). B is HITL_CALIB_BINS unless a caller
 * asks for another. The two Brier scores are named apart:
 *   brier_multiclass  mean over rows of sum_c (p_c - [y = c])^2, 0 to 2 (Brier 1950); it needs
 *                     every class's probability
 *   brier_top_label   mean over rows of (confidence - correct)^2, 0 to 1: the Brier score of the
 *                     top-label forecast the reliability bins show; the confidence is enough */
#define HITL_CALIB_BINS 15

typedef struct hitl_calib_bin {
    double lo, hi;
    int64_t count;
    double confidence, accuracy; /* means over the bin; NaN when empty */
} hitl_calib_bin;

/* The reliability bins as a streaming accumulator of (confidence, correct) rows: memory is the
 * bins whatever the number of rows, and the result does not depend on how rows are batched. */
typedef struct hitl_reliability {
    size_t bins;
    int64_t *count, *hits;       /* [bins] rows, and correct rows, per bin */
    double *conf_sum;            /* [bins] */
    int64_t n, correct, skipped; /* skipped: confidence NaN or outside [0, 1] */
    double brier_sum;            /* sum of (confidence - correct)^2 */
} hitl_reliability;

typedef struct hitl_reliability_summary {
    int64_t n;
    size_t bins;
    double accuracy;           /* NaN when n = 0, as every figure below */
    hitl_interval accuracy_ci; /* Wilson score, 95% */
    double ece;                /* sum over bins of n_b / n |accuracy_b - confidence_b| */
    double mce;                /* the largest such gap over non-empty bins */
    double brier_top_label;    /* mean (confidence - correct)^2 */
    double confidence;         /* mean confidence */
} hitl_reliability_summary;

/* Caller-allocated, with 1 to 1000000 bins (HITL_EINVAL otherwise; callers pass
 * HITL_CALIB_BINS unless told). Release with hitl_reliability_release(). */
hitl_status hitl_reliability_init(hitl_reliability *r, size_t bins, hitl_error *err);
/* Adds one row; a confidence that is NaN or outside [0, 1] is only counted in r->skipped. */
void hitl_reliability_add(hitl_reliability *r, double confidence, int correct);
void hitl_reliability_summarize(const hitl_reliability *r, hitl_reliability_summary *out);
/* Bin b (< r->bins) as a row of the reliability table. */
hitl_calib_bin hitl_reliability_bin(const hitl_reliability *r, size_t b);
void hitl_reliability_release(hitl_reliability *r);

/* ---- score histograms (engine/histogram.c) --------------------------------------------------
 * Bounded memory whatever the number of values: a report gathers its scores one item at a time.
 * Equal-width bins over [lo, hi]: bin b holds [lo + b w, lo + (b + 1) w), the last also hi.
 * Values outside are counted in `below` / `above`, NaN in `nan`; none enters a bin. */
typedef struct hitl_histogram {
    double lo, hi;
    size_t bins;
    int64_t *count; /* [bins] */
    int64_t n;      /* values in a bin */
    int64_t below, above, nan;
} hitl_histogram;

/* Caller-allocated; HITL_EINVAL unless lo < hi (both finite) and bins >= 1. Release with
 * hitl_histogram_release(). */
hitl_status hitl_histogram_init(hitl_histogram *h, double lo, double hi, size_t bins,
                                hitl_error *err);
void hitl_histogram_add(hitl_histogram *h, double v);
void hitl_histogram_release(hitl_histogram *h);

typedef struct hitl_calib_opts {
    size_t bins;          /* HITL_CALIB_BINS when 0 */
    int fit_temperature;  /* fit T minimising the NLL of softmax(log p / T) */
    double sum_tolerance; /* |row sum - 1| allowed; 1e-3 when 0 */
} hitl_calib_opts;

typedef struct hitl_class_metrics {
    int64_t support, predicted, correct;
    double precision, recall, f1; /* NaN when the denominator is 0 */
} hitl_class_metrics;

typedef struct hitl_calibration {
    size_t n, n_classes, n_bins;
    double accuracy;
    hitl_interval accuracy_ci; /* Wilson score, 95% */
    double ece, ece_equal_mass, mce;
    double brier_multiclass, brier_top_label, nll;
    hitl_calib_bin *bins;          /* [n_bins] equal width: the reliability table */
    hitl_calib_bin *mass_bins;     /* [n_bins] equal mass (rows sorted by confidence) */
    hitl_class_metrics *per_class; /* [n_classes] */
    int64_t *confusion;            /* [n_classes true, n_classes predicted] */
    int temperature_fitted, temperature_at_bound, temperature_iterations;
    double temperature, nll_scaled, ece_scaled; /* T, and NLL and ECE after scaling by T */
} hitl_calibration;

/* probs (borrowed, row-major float64 [n, c], the values as stored: float32 data widens exactly)
 * and labels (borrowed, [n]). The equal-width figures come from a hitl_reliability of the rows
 * (a top probability above 1, from a row within the sum tolerance, counts as 1). HITL_EDATA
 * naming the row (err->row) for a NaN/Inf/negative probability, a row sum off 1, or a label
 * outside [0, c); HITL_EINVAL for n = 0 or c < 2. Caller-allocated *out; release with
 * hitl_calibration_release(). */
hitl_status hitl_calibration_compute(const double *probs, const int32_t *labels, size_t n, size_t c,
                                     const hitl_calib_opts *opts, hitl_calibration *out,
                                     hitl_error *err);
void hitl_calibration_release(hitl_calibration *cal);
/* Wilson score interval of k successes in n trials at normal quantile z (1.959963984540054 for
 * 95%); NaN bounds when n is 0. */
hitl_interval hitl_wilson_interval(int64_t k, int64_t n, double z);

/* ---- review health --------------------------------------------------------------------------
 * The governance scorecard: rules over metrics the store gathers (engine/health.c), and the one
 * verdict every view shows. A rule is judged only on enough evidence (min_sample labels or
 * decisions in the rate's denominator) and on defined values.
 * Approval is measured against the final labels, not as raw agreement with the shown
 * prediction: predictions are shown on the items queued because the model was unsure, where it
 * is often wrong, so an accurate annotator agrees with it rarely and the raw rate says more
 * about the queue than about the person. (Blind items cannot serve instead: they never show the
 * prediction, so nothing is approved on them.) Of the shown suggestions the final label
 * rejected, the share an annotator gave anyway is their rubber-stamp rate; of those it kept,
 * the share they gave is their approval of right suggestions.
 *   degraded  an annotator approved more than rubber_stamp (0.95) of the wrong suggestions
 *             (rubber stamping) or fewer than inefficient (0.5) of the right ones; the audit
 *             chain does not verify
 *   at_risk   audit completeness below 0.99; an actor's override rate above 0.3, or a live
 *             decision reviewer's (over their recent reviews); Krippendorff's alpha (nominal)
 *             below 0.667, his floor for tentative conclusions
 *   healthy   none of these. */
typedef enum {
    HITL_HEALTH_HEALTHY = 0,
    HITL_HEALTH_AT_RISK,
    HITL_HEALTH_DEGRADED
} hitl_health_status;

typedef enum {
    HITL_HEALTH_RUBBER_STAMPING = 0,      /* degraded; subject: an annotator */
    HITL_HEALTH_INEFFICIENT,              /* degraded; subject: an annotator */
    HITL_HEALTH_CHAIN_BROKEN,             /* degraded; value: the first bad sequence number */
    HITL_HEALTH_AUDIT_INCOMPLETE,         /* at_risk */
    HITL_HEALTH_OVERRIDES,                /* at_risk; subject: an actor */
    HITL_HEALTH_LOW_AGREEMENT,            /* at_risk */
    HITL_HEALTH_DECISION_RUBBER_STAMPING, /* degraded; subject: a reviewer of live decisions */
    HITL_HEALTH_DECISION_INEFFICIENT,     /* degraded; subject: a reviewer of live decisions */
    HITL_HEALTH_DECISION_OVERRIDES,       /* at_risk; subject: a reviewer of live decisions */
    HITL_HEALTH_RULE_COUNT
} hitl_health_rule;

/* "healthy", "at_risk", "degraded"; "rubber_stamping", "inefficient", "audit_chain_broken",
 * "audit_incomplete", "override_rate", "low_agreement", "decision_rubber_stamping",
 * "decision_inefficient", "decision_override_rate" (NULL when out of range). */
const char *hitl_health_status_name(hitl_health_status s);
const char *hitl_health_rule_name(hitl_health_rule r);

typedef struct hitl_health_thresholds {
    double rubber_stamp, inefficient, override_rate, completeness, alpha;
    int64_t min_sample;
} hitl_health_thresholds;

/* 0.95, 0.5, 0.3, 0.99, 0.667 and a minimum sample of 20: the only place the defaults live.
 * Views take a hitl_health_thresholds and pass it on, so a per-store setting can replace them. */
void hitl_health_thresholds_default(hitl_health_thresholds *t);

typedef struct hitl_health_annotator {
    const char *name;      /* borrowed */
    int64_t labels;        /* all their labels */
    int64_t shown, agreed; /* labels given with the model's prediction shown; equal to it */
    /* of the shown labels on items with a final label: where the final label is the shown
     * prediction (right) and where it is not (wrong), and of each the labels equal to the
     * prediction (approved) */
    int64_t right, right_approved, wrong, wrong_approved;
} hitl_health_annotator;

typedef struct hitl_health_actor {
    const char *name; /* borrowed */
    int64_t decisions, overrides;
} hitl_health_actor;

/* A reviewer of live decisions: votes given, and approvals among them; reviews (votes and
 * overrides of settled decisions) in the store's recent window, and overrides among them. */
typedef struct hitl_health_reviewer {
    const char *name; /* borrowed */
    int64_t votes, approvals;
    int64_t recent, recent_overrides;
} hitl_health_reviewer;

typedef struct hitl_health_metrics {
    int prediction_shown; /* 0: predictions are never shown, approval does not apply */
    const hitl_health_annotator *annotators; /* borrowed [n_annotators] */
    size_t n_annotators;
    const hitl_health_actor *actors; /* borrowed [n_actors] */
    size_t n_actors;
    int64_t labels, labels_audited;        /* labels, and those with their own audit event */
    int chain_ok;                          /* the audit chain verifies */
    int64_t chain_bad_seq;                 /* else its first bad event */
    double alpha;                          /* Krippendorff's alpha, nominal; NaN when undefined */
    const hitl_health_reviewer *reviewers; /* borrowed [n_reviewers]: live decisions */
    size_t n_reviewers;
    int64_t decision_records;         /* live decisions and their votes (and overrides) */
    int64_t decision_records_audited; /* those with their own audit event */
} hitl_health_metrics;

typedef struct hitl_health_reason {
    hitl_health_rule rule;
    hitl_health_status severity;
    size_t subject; /* annotator or actor index; SIZE_MAX for the whole store */
    double value, threshold;
} hitl_health_reason;

typedef struct hitl_health_verdict {
    hitl_health_status status;
    double completeness;         /* (labels_audited + decision_records_audited) / (labels +
                                    decision_records): the human acts with their audit event;
                                    NaN without any */
    double *model_agreement;     /* [n_annotators] agreed / shown (raw: judges nothing); NaN
                                    when not applicable */
    double *wrong_approval;      /* [n_annotators] wrong_approved / wrong: the rubber-stamp rate;
                                    NaN when not applicable */
    double *right_approval;      /* [n_annotators] right_approved / right; NaN likewise */
    double *override_rate;       /* [n_actors] overrides / decisions; NaN without decisions */
    double *decision_approval;   /* [n_reviewers] approvals / votes on live decisions: above
                                    rubber_stamp rubber-stamping, below inefficient inefficient
                                    (the seed's rule for pre-action review) */
    double *decision_override;   /* [n_reviewers] recent_overrides / recent: above override_rate
                                    at_risk (the seed's override alert) */
    hitl_health_reason *reasons; /* [n_reasons]: degraded ones first, then in rule order; the
                                    value of an annotator's reason is the rate it judged */
    size_t n_reasons;
} hitl_health_verdict;

/* Judges m (borrowed) by t (NULL: the defaults). HITL_EINVAL for a threshold outside [0, 1]
 * (alpha: [-1, 1]) or a negative min_sample, a NULL array with a non-zero count, or counts that
 * cannot be (agreed > shown > labels, right + wrong > shown, an approved count above its own,
 * right_approved + wrong_approved > agreed, overrides > decisions, labels_audited > labels, a
 * negative count). Caller-allocated *out; release with hitl_health_verdict_release(). */
hitl_status hitl_health_evaluate(const hitl_health_metrics *m, const hitl_health_thresholds *t,
                                 hitl_health_verdict *out, hitl_error *err);
void hitl_health_verdict_release(hitl_health_verdict *v);

typedef struct hitl_latency {
    size_t n;
    double mean, p50, p90, p95; /* seconds; NaN when n is 0 */
} hitl_latency;

/* Mean and the 50th and 90th percentiles (linear interpolation between order statistics, as
 * numpy's default) of secs (caller's [n], sorted in place). HITL_EDATA naming the row (err->row)
 * for a NaN or infinite value. */
hitl_status hitl_latency_summarize(double *secs, size_t n, hitl_latency *out, hitl_error *err);

/* ---- training a linear head ----------------------------------------------------------------
 * Multinomial logistic regression with L2 on W (the bias is not penalised), minimising
 *   f(W, b) = (1/S) sum_i s_i (-sum_c y_ic ln softmax(x_i W + b)_c) + (l2 / 2) ||W||_F^2
 * with s_i = sum_c class_weight[c] y_ic (1 without class weights) and S = sum_i s_i. This is
 * scikit-learn's LogisticRegression(C, class_weight) objective divided by C S, so the minimiser
 * is the same with l2 = 1 / (C S); unweighted, l2 = 1 / (C n). Targets are class indices or soft
 * labels (rows summing to 1). L-BFGS (two-loop recursion, 10 pairs) with a backtracking Armijo
 * line search from W = 0, b = 0 (or a warm start): deterministic. Loss and gradient are sgemm calls
 * over row blocks (logits = X W + b, grad_W = X^T G); sums accumulate in double. sum_c b_c stays 0.
 */
typedef struct hitl_train_opts {
    double l2;                  /* >= 0 */
    int max_iter;               /* L-BFGS iterations; 200 when 0 */
    double tol;                 /* stop when max |gradient| <= tol; 1e-5 when 0 */
    const float *class_weights; /* borrowed [c], each > 0, or NULL (all 1) */
    size_t block_rows;          /* rows per GEMM block; 4096 when 0 */
    int warm_start;             /* start from the given w, b (e.g. the last round's) instead of 0 */
} hitl_train_opts;

typedef enum {
    HITL_TRAIN_CONVERGED = 0, /* max |gradient| <= tol */
    HITL_TRAIN_MAX_ITER,      /* max_iter reached first */
    HITL_TRAIN_NO_PROGRESS,   /* the line search found no decrease */
    HITL_TRAIN_FLAT /* f fell by <= FLT_EPSILON * max(|f|, 1) over the last 10 iterations: the
                     * float32 logits resolve no further progress (scipy's factr rule) */
} hitl_train_stop;

typedef struct hitl_train_report {
    int iterations;   /* L-BFGS iterations done */
    int evaluations;  /* loss and gradient passes over the data */
    double loss;      /* f at the returned W, b */
    double grad_norm; /* max |gradient| there */
    int converged;    /* stop is HITL_TRAIN_CONVERGED or HITL_TRAIN_FLAT */
    hitl_train_stop stop;
} hitl_train_report;

/* Fits W (caller-sized [d, c], row-major, as hitl_head_logits takes it) and b ([c]) to n rows of
 * x (borrowed, row-major float32 [n, d]). Targets: labels (borrowed [n], in [0, c)) or soft
 * (borrowed [n, c], each row >= 0 summing to 1 within 1e-3); exactly one is non-NULL.
 * HITL_EINVAL for bad options or arguments, HITL_EDATA naming the row (err->row) for a label
 * out of range, a bad soft row or a non-finite feature. report may be NULL. */
hitl_status hitl_train_linear(const float *x, size_t n, size_t d, const int32_t *labels,
                              const float *soft, size_t c, const hitl_train_opts *opts, float *w,
                              float *b, hitl_train_report *report, hitl_error *err);
/* f and its gradient at (w, b) (borrowed), as hitl_train_linear defines them: gw ([d, c]) and
 * gb ([c]) caller-sized, or NULL when not wanted. Checks its arguments as hitl_train_linear. */
hitl_status hitl_train_loss(const float *x, size_t n, size_t d, const int32_t *labels,
                            const float *soft, size_t c, const hitl_train_opts *opts,
                            const float *w, const float *b, double *loss, double *gw, double *gb,
                            hitl_error *err);

/* scikit-learn's class_weight='balanced' (compute_class_weight): class j weighs n / (c m_j), m_j
 * its label mass, the rows labelled j or the sum of column j of the soft labels; a class without
 * mass weighs 1. Targets as hitl_train_linear takes them (exactly one of labels [n] and soft
 * [n, c], borrowed); out caller-sized [c]. HITL_EINVAL for a missing argument, n = 0 or c = 0;
 * HITL_EDATA naming the row (err->row) for a label outside [0, c), as hitl_train_linear. */
hitl_status hitl_class_weights_balanced(const int32_t *labels, const float *soft, size_t n,
                                        size_t c, float *out, hitl_error *err);

/* ---- diverse batches ------------------------------------------------------------------------
 * k-center greedy (the core-set of Sener & Savarese 2018): repeatedly pick the candidate row
 * farthest (squared Euclidean) from every centre so far; ties go to the lower row. The centres
 * start as the given selected rows (any rows of x, e.g. those already labelled); when there are
 * none, the first pick is the candidate farthest from the candidates' mean. Distances are
 * ||x||^2 + ||c||^2 - 2 x.c (clamped at 0) through sgemv/sgemm over row blocks, with a running
 * minimum of one float per candidate: never an n x n matrix. The picks after the first are lazy
 * (exact): a row's minimum is brought up to date only when its stale value, an upper bound, tops
 * a max-heap, so a pick touches few rows. Deterministic. */
typedef struct hitl_kcenter_opts {
    const int64_t *selected; /* borrowed [n_selected] rows of x already chosen, or NULL */
    size_t n_selected;
    const int64_t *candidates; /* borrowed [n_candidates] rows that may be picked; NULL: all */
    size_t n_candidates;
    size_t block_rows; /* rows per BLAS block; 1024 when 0 */
    /* Optional [n], one per row of x, kept by the caller across calls (candidates must then be
     * NULL): on entry each row's squared distance to the centres so far (INFINITY when there are
     * none; negative: never pick, e.g. labelled rows), to which `selected` rows are added as
     * centres; on return updated with this call's picks (negative). Saves recomputing the
     * distances to every earlier centre in a loop that adds a batch at a time. */
    float *mind;
} hitl_kcenter_opts;

/* Picks up to k rows of x (borrowed, row-major float32 [n, d]) into out (caller-sized [k]) in
 * pick order, with each pick's squared distance to its nearest earlier centre (to the mean for
 * a first pick without selected rows) in d2 (caller-sized [k], may be NULL). Selected rows and
 * rows picked once are never picked; *n_out = min(k, candidates left). opts may be NULL.
 * HITL_EINVAL for a row index out of range or a repeated candidate; HITL_EDATA (err->row) for a
 * non-finite value in a row used. */
hitl_status hitl_kcenter_greedy(const float *x, size_t n, size_t d, size_t k,
                                const hitl_kcenter_opts *opts, int64_t *out, float *d2,
                                size_t *n_out, hitl_error *err);
/* Margin-k-center: the m most uncertain rows by score (borrowed [n], higher = more uncertain,
 * ties to the lower row; NaN rows and rows with taken[i] != 0 never, taken borrowed and may be
 * NULL), then k-center greedy among them with opts->selected as the starting centres
 * (opts->candidates must be NULL). m < k is raised to k. */
hitl_status hitl_margin_kcenter(const float *x, size_t n, size_t d, const float *score,
                                const uint8_t *taken, size_t m, size_t k,
                                const hitl_kcenter_opts *opts, int64_t *out, float *d2,
                                size_t *n_out, hitl_error *err);

/* BADGE seeding (Ash et al. 2020): k-means++ over the rows' gradient embeddings
 * g_i = (p_i - onehot(argmax p_i)) (x) [x_i, 1], the gradient of the cross-entropy at the
 * predicted label with respect to a linear head's W and b. The first pick is the row of largest
 * ||g||, each next one is drawn with probability proportional to its squared distance to the
 * nearest pick. Since <g_i, g_j> = <a_i, a_j> (<x_i, x_j> + 1) with a = p - onehot, distances
 * come from two sgemv per pick over row blocks: the N x (C D) embeddings are never formed.
 * x: borrowed [n, d]; probs: borrowed [n, c] rows (the head's softmax); rows with taken[i] != 0
 * (may be NULL) are never picked. Picks up to k rows into out (caller-sized [k]) in pick order;
 * *n_out = min(k, rows left). Deterministic for a seed. HITL_EDATA (err->row) for a non-finite
 * value in a row that may be picked. */
hitl_status hitl_badge_select(const float *x, size_t n, size_t d, const float *probs, size_t c,
                              const uint8_t *taken, size_t k, uint64_t seed, int64_t *out,
                              size_t *n_out, hitl_error *err);

/* ---- active-learning simulation ------------------------------------------------------------
 * The whole loop on a labelled pool, with an oracle (or simulated annotators) standing in for
 * people: label seed_labels random rows, then each round train the head on the labelled rows
 * (hitl_train_linear, warm-started from the last round), measure its accuracy on the test rows,
 * and label the batch the strategy picks among the unlabelled rows. A point of the learning curve
 * is recorded after each training: rounds + 1 of them. Deterministic for a seed and a BLAS thread
 * count (BLAS sums in another order on more threads): `hitl simulate` runs BLAS on one thread
 * and several simulations side by side. */
typedef enum {
    HITL_STRATEGY_RANDOM = 0,
    HITL_STRATEGY_LC,
    HITL_STRATEGY_MARGIN,
    HITL_STRATEGY_ENTROPY,
    HITL_STRATEGY_KCENTER,        /* k-center greedy over the features */
    HITL_STRATEGY_MARGIN_KCENTER, /* k-center among the `candidates` most uncertain by margin */
    HITL_STRATEGY_BADGE,
    HITL_STRATEGY_COUNT
} hitl_strategy;

/* "random", "lc", "margin", "entropy", "kcenter", "margin-kcenter", "badge". */
const char *hitl_strategy_name(hitl_strategy s);
/* HITL_EINVAL when unknown. */
hitl_status hitl_strategy_parse(const char *name, hitl_strategy *out);

typedef struct hitl_sim_opts {
    hitl_strategy strategy;
    size_t seed_labels, batch, rounds; /* seed_labels and batch >= 1 */
    uint64_t seed;
    double C;          /* l2 = 1 / (C n_labelled) each round, as scikit-learn's C; 1 when 0 */
    int max_iter;      /* L-BFGS iterations of the first training (from 0); 100 when 0 */
    int warm_iter;     /* of later ones, warm-started from the last head; 30 when 0 */
    double tol;        /* 1e-4 when 0 */
    size_t candidates; /* margin-kcenter: the m most uncertain first; 10 batch when 0 */
    /* simulated annotators: none (0) is an oracle. Each labels every picked row, wrongly with
     * probability error_rate[a] (uniformly among the other classes); their labels are combined
     * by majority vote (ties drawn at random) or Dawid-Skene over all ratings so far. */
    size_t n_annotators;
    const double *error_rate; /* borrowed [n_annotators], each in [0, 1] */
    int dawid_skene;
    void (*progress)(void *ctx, uint64_t done, uint64_t total); /* per round; may be NULL */
    void *progress_ctx;
    int64_t *rows_out; /* may be NULL, else caller-sized [min(n, seed_labels + rounds batch)]:
                          the pool rows in the order they were labelled (curve[r].labelled of
                          them at point r) */
} hitl_sim_opts;

typedef struct hitl_sim_point {
    size_t labelled;       /* rows labelled so far */
    size_t annotations;    /* labels spent: rows x max(1, n_annotators) */
    double accuracy;       /* of the head on the test rows */
    double label_accuracy; /* share of training labels equal to the truth (1 with an oracle) */
    double train_secs;     /* this round's training */
    double select_secs;    /* picking the batch after it (0 for the last point) */
    int train_iters;
} hitl_sim_point;

/* x: borrowed pool features [n, d] with true labels y [n] in [0, c); xt, yt: the test rows
 * [nt, d], [nt]. curve: caller-sized [rounds + 1]; *n_points (may be NULL) gets how many were
 * filled (fewer when the pool runs out). HITL_EINVAL for bad options, HITL_EDATA (err->row) for
 * a label out of range or a non-finite feature. */
hitl_status hitl_simulate(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                          const float *xt, size_t nt, const int32_t *yt, const hitl_sim_opts *opts,
                          hitl_sim_point *curve, size_t *n_points, hitl_error *err);

/* The labels at which a learning curve (x increasing, y its accuracy, both [n]) first reaches
 * `target`, interpolated linearly between the two points around the crossing; x[0] when y[0]
 * already does; NaN when it never does. */
double hitl_curve_reach(const double *x, const double *y, size_t n, double target);

/* ---- learning-curve experiments -------------------------------------------------------------
 * Every (strategy, seed) run of hitl_simulate, side by side on OpenMP threads with BLAS on one
 * thread each (so results do not depend on the thread count), then each strategy's curves
 * summarised over the seeds. */
typedef struct hitl_curve_series {
    hitl_strategy strategy;
    size_t points;                  /* common to every seed (fewer when the pool ran out) */
    double *labelled, *annotations; /* [points] */
    /* [seeds, points]: test accuracy, training-label accuracy, seconds per round (training plus
     * selecting), and those two parts and the training's iterations */
    double *accuracy, *label_accuracy, *seconds, *train_secs, *select_secs, *iters;
    double *mean, *sd;   /* [points]: the accuracy's mean and sample sd over the seeds */
    int64_t *rows;       /* [seeds, cap]: each run's pool rows in the order labelled */
    size_t cap, *n_rows; /* [seeds]: how many of them */
    double final_mean, final_sd;
    double reach;          /* labels at which the mean curve reaches the random strategy's final
                              mean accuracy (hitl_curve_reach); NaN without a random series */
    double median_seconds; /* per round, over the rounds that selected a batch */
} hitl_curve_series;

typedef struct hitl_experiment_opts {
    hitl_sim_opts sim; /* strategy, seed and rows_out are set per run; progress counts rounds of
                          every run (called from one thread at a time) */
    const hitl_strategy *strategies; /* borrowed [n_strategies] */
    size_t n_strategies;
    size_t seeds; /* runs per strategy, with seeds first_seed, first_seed + 1, ... */
    uint64_t first_seed;
} hitl_experiment_opts;

/* Runs the experiment on the pool (x [n, d], y) and test rows (xt [nt, d], yt), as hitl_simulate
 * takes them. Caller owns *out ([n_strategies], in the given order); release with
 * hitl_experiment_release(). Errors: hitl_simulate's, naming the strategy and seed. */
hitl_status hitl_experiment_run(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                                const float *xt, size_t nt, const int32_t *yt,
                                const hitl_experiment_opts *opts, hitl_curve_series **out,
                                hitl_error *err);
void hitl_experiment_release(hitl_curve_series *s, size_t n);

/* Moves round(fraction n) rows of the pool (x [*n, d], y [*n], compacted in place) into xt and
 * yt (caller-sized to that count), drawn with `seed`; both keep the pool's row order. *n becomes
 * the rows left and *nt the test rows; file_row (caller-sized [n], may be NULL) gets each kept
 * row's original row. HITL_EDATA when the split leaves either side empty. */
hitl_status hitl_holdout_split(float *x, int32_t *y, size_t *n, size_t d, double fraction,
                               uint64_t seed, float *xt, int32_t *yt, size_t *nt, int64_t *file_row,
                               hitl_error *err);
/* The number of test rows hitl_holdout_split takes: round(fraction n). */
size_t hitl_holdout_size(size_t n, double fraction);

#ifdef __cplusplus
}
#endif
#endif /* HITL_ENGINE_H */
