/* Internal to the engine: what the agreement files share. agreement.c chooses a counting path and
 * runs it; agreement_{histogram,matrix,pair_table,pairs,patterns,bootstrap}.c each count one way;
 * agreement_coef.c turns the counts into coefficients. */
#ifndef HITL_AGREEMENT_IMPL_H
#define HITL_AGREEMENT_IMPL_H

#include <stdint.h>
#include <stdlib.h>

#include "hitl_engine.h"

/* malloc of n elements of `size` bytes: NULL when n * size overflows, 1 byte when it is 0 (so
 * NULL always means out of memory). Caller frees. */
static inline void *hitl__alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return malloc(n && size ? n * size : 1);
}

/* The same, zeroed (calloc checks the product itself). Caller frees. */
static inline void *hitl__zalloc_array(size_t n, size_t size)
{
    return calloc(n ? n : 1, size ? size : 1);
}

/* qsort order of int32_t, ascending. */
static inline int hitl__cmp_int32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* ---- coefficients from counts (agreement_coef.c) ------------------------------------------- */

/* Two raters' sufficient statistics for Cohen's kappa: n co-rated items, eq of them equal,
 * d1 = sum |i - j|, d2 = sum (i - j)^2 over them (i, j the two label ranks). */
typedef struct hitl__pair_stats {
    int64_t n, eq, d1, d2;
} hitl__pair_stats;

/* Cohen's kappa (weights) from stats and the two raters' label counts count_a[L], count_b[L] on
 * their co-rated items; NaN when undefined. */
double hitl__cohen_kappa(const hitl__pair_stats *stats, const int64_t *count_a,
                         const int64_t *count_b, size_t n_labels, hitl_weights weights);
/* Fills *out for the pair (a, b) (b = -1: the final label): n, agreement and kappa. */
void hitl__pair_result(hitl_pair_agreement *out, int32_t a, int32_t b,
                       const hitl__pair_stats *stats, const int64_t *count_a,
                       const int64_t *count_b, size_t n_labels, hitl_weights weights);

/* The multiset measures' sufficient statistics, summed over items (or patterns); m is an item's
 * number of ratings, r_ic how many of them are c. */
typedef struct hitl__multiset_sums {
    double n1, n2;     /* rated and pairable items */
    double pa_sum;     /* sum over pairable items of agreeing pairs / all pairs */
    double *pi_num;    /* [L] sum over rated items of r_ic / r_i */
    double *pl;        /* [L] sum over pairable items of r_ic (m - r_ic) / (m (m - 1)) */
    double do_sum;     /* sum o_ck d_ck */
    double de_sum;     /* sum n_c n_k d_ck */
    double n_values;   /* pairable values n */
    size_t n_distinct; /* labels among the pairable values */
} hitl__multiset_sums;

/* coef[HITL_COEF_COUNT] and per_label[L] (may be NULL) from sums; Fleiss' kappa only when
 * `balanced` (every rated item has the same number >= 2 of ratings). */
void hitl__multiset_coefs(const hitl__multiset_sums *sums, size_t n_labels, int balanced,
                          double *coef, double *per_label);
/* Krippendorff's expected disagreement sum_ck n_c n_k d_ck from the pairable margins margin[L]
 * (label order), and the per-label coordinate coord[L] with which d_ck = (coord_c - coord_k)^2 at
 * the ordinal and interval levels; *n_distinct = labels with a margin. value[L] is read at the
 * interval and ratio levels. */
double hitl__expected_disagreement(const double *margin, size_t n_labels, hitl_level level,
                                   const double *value, double *coord, size_t *n_distinct);
/* The observed disagreement sum_ck o_ck d_ck from the coincidence matrix o_ck[L x L], the
 * metric from value[L] (ratio level) or coord[L] (hitl__expected_disagreement's, ordinal and
 * interval levels). */
double hitl__observed_disagreement(const double *o_ck, size_t n_labels, hitl_level level,
                                   const double *value, const double *coord);
/* The 95% percentile intervals ci[HITL_COEF_COUNT] of each coefficient over n_resamples
 * resamples' coefs[n_resamples x HITL_COEF_COUNT], NaN ones left out (NaN with fewer than two
 * left); column: n_resamples doubles of scratch. */
void hitl__percentile_intervals(const double *coefs, size_t n_resamples, double *column,
                                hitl_interval *ci);
/* (a - b) / (a + b), or 0 when a + b is 0: the ratio metric is its square. */
static inline double hitl__ratio_diff(double a, double b)
{
    return a + b != 0 ? (a - b) / (a + b) : 0;
}

/* ---- the output (agreement.c) ---------------------------------------------------------------- */

/* How many ratings the rated items have. */
typedef struct hitl__shape {
    size_t n_rated, n_pairable, min_m, max_m, n_ratings;
} hitl__shape;

/* The counts' shape into *out, with per_label allocated and no intervals yet; HITL_EDATA when
 * no item has two ratings. */
hitl_status hitl__agreement_set_shape(hitl_agreement *out, size_t n_items, size_t n_annotators,
                                      size_t n_labels, size_t n_ratings, const hitl__shape *shape,
                                      hitl_error *err);

/* ---- the pair table (agreement_pair_table.c) ------------------------------------------------
 * count[((m - 2) n_pairs + p) L^2 + i L + j] counts the items with m ratings on which annotator
 * pair p = (a < b) gave labels (i, j); after those n_cells counters, by_m[m] (m in [0, max_m])
 * counts the items with m ratings, and single[c] the items whose one rating is c. */
typedef struct hitl__pair_table {
    size_t n_annotators, n_labels, max_m;
    size_t n_pairs;     /* annotator pairs, A (A - 1) / 2 */
    size_t n_confusion; /* one pair's confusion matrix, L^2 */
    size_t n_cells;     /* (max_m - 1) n_pairs n_confusion */
    size_t block;       /* counters in one copy: n_cells + max_m + 1 + n_labels */
    int64_t *count;     /* [copies * block], owned */
} hitl__pair_table;

/* The index of annotator pair (a, b), a < b < A, in (0, 1), (0, 2), ..., (A - 2, A - 1) order. */
static inline size_t hitl__pair_index(size_t n_annotators, size_t a, size_t b)
{
    return a * (2 * n_annotators - a - 1) / 2 + (b - a - 1);
}

/* Sizes *table for items of at most max_m >= 2 ratings and allocates `copies` zeroed copies of
 * its counters (one per thread; the others are summed into the first). HITL_ENOMEM only;
 * release with hitl__pair_table_release(). */
hitl_status hitl__pair_table_init(hitl__pair_table *table, size_t n_annotators, size_t n_labels,
                                  size_t max_m, size_t copies, hitl_error *err);
void hitl__pair_table_release(hitl__pair_table *table);
/* The DENSE path's one pass: counts the co-rated pairs of `ratings` (checked) into a table with
 * n_threads copies. */
void hitl__pair_table_count(const hitl_ratings *ratings, hitl__pair_table *table, int n_threads);
/* Every measure but vs_final and the intervals from the table into *out (shape already set). */
hitl_status hitl__pair_table_measures(const hitl__pair_table *table, const double *value,
                                      const hitl_agreement_opts *opts, int balanced,
                                      hitl_agreement *out, hitl_error *err);

/* ---- the configuration histogram (agreement_histogram.c, agreement_matrix.c) ----------------- */
#define HITL__HIST_MAX ((size_t)1 << 16)

/* (L + 1)^A, the number of configurations, or 0 when it is over HITL__HIST_MAX. */
size_t hitl__hist_size(size_t n_annotators, size_t n_labels);
/* Counts the configurations of `ratings` into hist[H] (scratch: n_threads * H zeroed uint32).
 * Returns 1 when the table is malformed (the caller runs hitl_ratings_check for the message). */
int hitl__table_hist(const hitl_ratings *ratings, size_t n_configs, int n_threads,
                     uint32_t *scratch, int64_t *hist);
/* Adds to hist[H] (H = (n_labels + 1)^n_annotators <= 2^16, n_annotators <= 16) how many of
 * m's rows show each configuration, code sum over annotators a of (label + 1) (L + 1)^a, 0 for
 * no rating; nt threads, AVX-512 VBMI where the CPU has it unless `portable`. Returns 1 when a
 * label is >= n_labels (the counts are then void: the caller's table build names it), -1 when
 * out of memory, else 0. */
int hitl__matrix_hist(const hitl_ratings_matrix *m, size_t H, int nt, int portable, int64_t *hist);
/* Every measure but vs_final and the intervals from the configuration counts hist[H] of
 * n_items items (shape set from the counts). */
hitl_status hitl__hist_measures(const int64_t *hist, size_t n_configs, size_t n_items,
                                size_t n_annotators, size_t n_labels, const double *value,
                                const hitl_agreement_opts *opts, int n_threads, hitl_agreement *out,
                                hitl_error *err);

/* ---- label multisets (agreement_patterns.c) -------------------------------------------------- */

/* One label multiset: the items whose sorted labels are labels[0 .. n_ratings). */
typedef struct hitl__pattern {
    int32_t n_ratings;     /* ratings on each such item */
    int32_t n_distinct;    /* distinct labels among them */
    int64_t label_off;     /* its sorted labels at label_pool[label_off ..] */
    int64_t distinct_off;  /* its distinct labels and their counts at distinct_*[distinct_off ..] */
    int64_t count;         /* items showing it */
    const int32_t *labels; /* = label_pool + label_off, once the pool stops moving */
    double agree;          /* agreeing rating pairs / all pairs: sum r_c (r_c - 1) / (m (m - 1)) */
    double do_fixed;       /* observed disagreement at the nominal, interval or ratio level */
} hitl__pattern;

/* Every pattern of a table, by size then labels; the arrays are owned here. */
typedef struct hitl__patterns {
    hitl__pattern *pattern; /* [n_patterns] */
    size_t n_patterns, cap;
    int32_t *label_pool; /* every pattern's sorted labels, back to back */
    size_t pool_n, pool_cap;
    int32_t *distinct_label, *distinct_count; /* [pool_n] at most */
    int64_t *cum; /* [n_patterns] cumulative counts, for drawing an item uniformly */
} hitl__patterns;

/* Collects the label multiset of every rated item of `ratings` (at most max_m ratings each) into
 * *patterns, in a canonical order (by size, then labels), with what each contributes at
 * opts->level; HITL_ENOMEM only. Release with hitl__patterns_release(). */
hitl_status hitl__patterns_build(const hitl_ratings *ratings, size_t max_m,
                                 const hitl_agreement_opts *opts, hitl__patterns *patterns,
                                 hitl_error *err);
void hitl__patterns_release(hitl__patterns *patterns);
/* The multiset measures into coef[HITL_COEF_COUNT] and per_label[L] (may be NULL) when pattern i
 * occurs times[i] times. scratch: 5 L doubles. */
void hitl__patterns_measures(const hitl__patterns *patterns, const int64_t *times,
                             const hitl_ratings *ratings, hitl_level level, int balanced,
                             double *scratch, double *coef, double *per_label);

/* ---- pairs without a pair table (agreement_pairs.c) ------------------------------------------ */

/* Every annotator pair with a common item into out->pairs, by (a, b), with counters for at most
 * `budget` 8-byte cells per thread at a time. */
hitl_status hitl__sparse_pairs(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                               size_t budget, int n_threads, hitl_agreement *out, hitl_error *err);
/* Each annotator against opts->final_label into out->vs_final. */
hitl_status hitl__versus_final(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                               hitl_agreement *out, hitl_error *err);

/* ---- bootstrap (agreement_bootstrap.c) ------------------------------------------------------- */

/* opts->bootstrap resamples of the items, drawn through the patterns, into out->ci and
 * out->bootstrap. */
hitl_status hitl__bootstrap(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                            const hitl__patterns *patterns, int balanced, int n_threads,
                            hitl_agreement *out, hitl_error *err);

#endif /* HITL_AGREEMENT_IMPL_H */
