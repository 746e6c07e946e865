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
    X(EINTERNAL, "internal error")

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

typedef struct hitl_batch_opts {
    int use_top_k; /* take the top_k most uncertain free rows; else (routing) all above medium */
    size_t top_k;
    size_t blind;  /* rows drawn uniformly from the free rows outside the top */
    uint64_t seed; /* the blind sample's seed: same inputs and seed, same batch */
    int route;     /* risk routing of the uncertain rows (as the OversightRouter): */
    double high;   /*   score > high: review, `overlap` labels */
    double medium; /*   medium < score <= high: flag, one label; else proceed (not taken) */
    int overlap;   /* labels per item (R) */
} hitl_batch_opts;

typedef struct hitl_batch_entry {
    int64_t row;
    float score;
    int32_t pred;
    float p1;
    uint8_t blind;
    hitl_route route;
    int required; /* labels the item needs */
} hitl_batch_entry;

typedef struct hitl_batch_counts {
    size_t uncertain, blind, review, flag, proceed;
} hitl_batch_counts;

/* Plans a batch over n rows: score (borrowed; NaN rows never taken), pred and p1 (borrowed,
 * may be NULL), taken (borrowed, may be NULL: 1 for rows already queued or labelled). *out is
 * in queue order: uncertain rows best first (ties to the lower row) with the blind rows, in row
 * order, spread evenly among them. Caller owns *out; free() it. */
hitl_status hitl_batch_plan(const float *score, const int32_t *pred, const float *p1,
                            const uint8_t *taken, size_t n, const hitl_batch_opts *opts,
                            hitl_batch_entry **out, size_t *n_out, hitl_batch_counts *counts,
                            hitl_error *err);

/* ---- linear head ----------------------------------------------------------------------------
 * logits[n, c] = x[n, d] W[d, c] + b[c], through cblas_sgemm. All arrays borrowed, row-major;
 * `logits` is caller-sized to n * c. b may be NULL. */
hitl_status hitl_head_logits(const float *x, size_t n, size_t d, const float *w, const float *b,
                             size_t c, float *logits, hitl_error *err);

#ifdef __cplusplus
}
#endif
#endif /* HITL_ENGINE_H */
