/* The agreement entry points: check the options, choose how to count (histogram, pair table or
 * sparse; notes below), run that path, then the intervals. The coefficients' definitions and
 * sources are in agreement_coef.c. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

/* Three paths give the same numbers. HISTOGRAM (few annotators and labels, the usual case):
 * one pass counts how many items show each configuration (which annotator gave which label);
 * the pair tables follow from the few distinct configurations. DENSE (more of either): one pass
 * counts every co-rated pair into a table indexed by (ratings on the item, annotator pair,
 * label, label): one increment per pair, integer and cache-resident. Everything above follows
 * from that table. SPARSE (many annotators or labels): the items' label multisets ("patterns")
 * go into a hash table for the multiset measures, and the table is walked by annotator for the
 * pairs, with memory bounded by blocking. The bootstrap always resamples items through the
 * patterns: a resample only changes how often each pattern occurs.
 * A dense item x annotator matrix (hitl_agreement_compute_matrix) goes straight to the
 * histogram (agreement_matrix.c: look-up tables two columns at a time, or AVX-512 VBMI), with no
 * table built, so the usual shape (a few annotators, a few labels, a million items) costs about
 * one read of the matrix.
 * All counts are integers, so no result depends on the thread count. */

#define DEFAULT_DENSE_CELLS ((size_t)1 << 18)

static const char *const level_names[HITL_LEVEL_COUNT] = {"nominal", "ordinal", "interval",
                                                          "ratio"};
static const char *const weights_names[HITL_WEIGHTS_COUNT] = {"none", "linear", "quadratic"};
static const char *const coef_names[HITL_COEF_COUNT] = {
    "percent_agreement", "fleiss_kappa", "krippendorff_alpha", "gwet_ac1", "scott_pi"};

const char *hitl_level_name(hitl_level level)
{
    return (unsigned)level < HITL_LEVEL_COUNT ? level_names[level] : "unknown";
}

const char *hitl_weights_name(hitl_weights weights)
{
    return (unsigned)weights < HITL_WEIGHTS_COUNT ? weights_names[weights] : "unknown";
}

const char *hitl_coef_name(hitl_coef coef)
{
    return (unsigned)coef < HITL_COEF_COUNT ? coef_names[coef] : "unknown";
}

hitl_status hitl_level_parse(const char *name, hitl_level *out)
{
    for (int i = 0; name && i < HITL_LEVEL_COUNT; i++)
        if (strcmp(name, level_names[i]) == 0) {
            *out = (hitl_level)i;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

hitl_status hitl_weights_parse(const char *name, hitl_weights *out)
{
    for (int i = 0; name && i < HITL_WEIGHTS_COUNT; i++)
        if (strcmp(name, weights_names[i]) == 0) {
            *out = (hitl_weights)i;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

void hitl_agreement_release(hitl_agreement *agreement)
{
    if (!agreement) return;
    free(agreement->per_label);
    free(agreement->pairs);
    free(agreement->vs_final);
    memset(agreement, 0, sizeof(*agreement));
}

/* opts->threads, or OpenMP's default for 0. */
static int thread_count(const hitl_agreement_opts *opts)
{
    return opts->threads > 0 ? opts->threads : omp_get_max_threads();
}

/* 8-byte counters a thread may hold for the DENSE and SPARSE paths' count tables. */
static size_t cell_budget(const hitl_agreement_opts *opts)
{
    return opts->max_cells ? opts->max_cells : DEFAULT_DENSE_CELLS;
}

/* ---- arguments and the output's shape -------------------------------------------------------- */

/* The options against a table or matrix of n_items x n_annotators, n_labels labels with values
 * value[n_labels] (may be NULL); every error but a malformed table's. */
static hitl_status check_opts(size_t n_items, size_t n_annotators, size_t n_labels,
                              const double *value, const hitl_agreement_opts *opts, hitl_error *err)
{
    if ((unsigned)opts->level >= HITL_LEVEL_COUNT ||
        (unsigned)opts->weights >= HITL_WEIGHTS_COUNT || (unsigned)opts->path > HITL_AGREE_SPARSE)
        return hitl_error_set(err, HITL_EINVAL, "unknown level, weights or path");
    if (n_items > INT32_MAX || n_annotators > INT32_MAX || n_labels > INT32_MAX)
        return hitl_error_set(err, HITL_EINVAL, "table too large");
    if ((opts->level == HITL_LEVEL_INTERVAL || opts->level == HITL_LEVEL_RATIO) && !value)
        return hitl_error_set(err, HITL_EINVAL, "the %s level needs numeric label values",
                              hitl_level_name(opts->level));
    for (size_t c = 0; value && c < n_labels; c++) {
        if (!isfinite(value[c]))
            return hitl_error_set(err, HITL_EINVAL, "label %zu has a non-finite value", c);
        if (opts->level == HITL_LEVEL_RATIO && value[c] < 0)
            return hitl_error_set(err, HITL_EDATA, "the ratio level needs values >= 0, got %g",
                                  value[c]);
    }
    if (opts->final_label)
        for (size_t u = 0; u < n_items; u++)
            if (opts->final_label[u] < -1 || opts->final_label[u] >= (int64_t)n_labels) {
                hitl_error_set(err, HITL_EINVAL, "item %zu: final label %d out of range", u,
                               opts->final_label[u]);
                if (err) err->row = (int64_t)u;
                return HITL_EINVAL;
            }
    if (n_annotators < 2)
        return hitl_error_set(err, HITL_EDATA, "only one annotator: agreement needs at least two");
    return HITL_OK;
}

hitl_status hitl__agreement_set_shape(hitl_agreement *out, size_t n_items, size_t n_annotators,
                                      size_t n_labels, size_t n_ratings, const hitl__shape *shape,
                                      hitl_error *err)
{
    if (shape->n_pairable == 0)
        return hitl_error_set(err, HITL_EDATA,
                              "no item has two ratings: agreement needs items rated twice");
    out->n_items = n_items;
    out->n_annotators = n_annotators;
    out->n_labels = n_labels;
    out->n_ratings = n_ratings;
    out->n_rated = shape->n_rated;
    out->n_pairable = shape->n_pairable;
    out->min_ratings = shape->min_m;
    out->max_ratings = shape->max_m;
    for (int c = 0; c < HITL_COEF_COUNT; c++)
        out->ci[c].lo = out->ci[c].hi = NAN;
    out->per_label = hitl__zalloc_array(n_labels, sizeof(double));
    if (!out->per_label) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return HITL_OK;
}

/* Whether every rated item has the same number (>= 2) of ratings: Fleiss' kappa is defined. */
static int is_balanced(const hitl_agreement *out)
{
    return out->min_ratings == out->max_ratings && out->min_ratings >= 2;
}

/* How many ratings the items of a checked table have (min_m = SIZE_MAX when none is rated). */
static hitl__shape table_shape(const hitl_ratings *ratings)
{
    hitl__shape shape = {.min_m = SIZE_MAX, .n_ratings = ratings->n_ratings};
    for (size_t u = 0; u < ratings->n_items; u++) {
        size_t n_on_item = (size_t)(ratings->item_ptr[u + 1] - ratings->item_ptr[u]);
        if (!n_on_item) continue;
        shape.n_rated++;
        shape.n_pairable += n_on_item >= 2;
        if (n_on_item < shape.min_m) shape.min_m = n_on_item;
        if (n_on_item > shape.max_m) shape.max_m = n_on_item;
    }
    return shape;
}

/* ---- choosing a path, and running it --------------------------------------------------------- */

/* The path that counts `ratings`: opts->path, or for AUTO the fastest that can take the table.
 * - HISTOGRAM while (labels + 1)^annotators <= HITL__HIST_MAX: one pass reads and checks the
 *   table, and the pair table follows from the few distinct configurations.
 * - DENSE while its pair table, (most ratings on an item - 1) x annotator pairs x labels^2
 *   counters per thread, fits the cell budget: one cache-resident increment per co-rated pair.
 * - SPARSE otherwise: pairs walked by annotator in blocks, memory bounded whatever the shape.
 * The last two depend on the most ratings on an item, so the table is checked and its shape
 * counted here, into *shape. HITL_EINVAL when a forced path cannot take the table. */
static hitl_status choose_path(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                               hitl_agree_path *path, hitl__shape *shape, hitl_error *err)
{
    size_t n_annotators = ratings->n_annotators, n_labels = ratings->n_labels;
    int histogram_fits = hitl__hist_size(n_annotators, n_labels) != 0;
    *path = opts->path;
    if (*path == HITL_AGREE_AUTO && histogram_fits) *path = HITL_AGREE_HISTOGRAM;
    if (*path == HITL_AGREE_HISTOGRAM && !histogram_fits)
        return hitl_error_set(err, HITL_EINVAL,
                              "the histogram path needs (labels + 1)^annotators <= %zu",
                              HITL__HIST_MAX);
    if (*path == HITL_AGREE_HISTOGRAM) return HITL_OK;

    hitl_status st = hitl_ratings_check(ratings, err);
    if (st != HITL_OK) return st;
    *shape = table_shape(ratings);
    size_t max_m = shape->max_m, budget = cell_budget(opts);
    double n_pairs = (double)(n_annotators * (n_annotators - 1) / 2);
    double cells = max_m >= 2 ? (double)(max_m - 1) * n_pairs * (double)(n_labels * n_labels) : 0;
    int dense_fits = max_m >= 2 && cells <= (double)budget;
    if (*path == HITL_AGREE_AUTO) *path = dense_fits ? HITL_AGREE_DENSE : HITL_AGREE_SPARSE;
    if (*path == HITL_AGREE_DENSE && !dense_fits)
        return hitl_error_set(err, HITL_EINVAL, "the dense path needs %.0f counters, over %zu",
                              cells, budget);
    return HITL_OK;
}

/* HISTOGRAM: the configurations, counted in one pass that also checks the table (when it finds
 * a fault, hitl_ratings_check names it), then every measure but vs_final and the intervals. */
static hitl_status run_histogram(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                                 int n_threads, hitl_agreement *out, hitl_error *err)
{
    size_t n_configs = hitl__hist_size(ratings->n_annotators, ratings->n_labels);
    uint32_t *scratch = hitl__zalloc_array((size_t)n_threads * n_configs, sizeof(uint32_t));
    int64_t *hist = hitl__zalloc_array(n_configs, sizeof(int64_t));
    int bad = scratch && hist ? hitl__table_hist(ratings, n_configs, n_threads, scratch, hist) : 0;
    hitl_status st = HITL_OK;
    free(scratch);
    if (!scratch || !hist)
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    else if (bad && (st = hitl_ratings_check(ratings, err)) == HITL_OK)
        st = hitl_error_set(err, HITL_EINTERNAL, "table check disagrees");
    else if (!bad)
        st = hitl__hist_measures(hist, n_configs, ratings->n_items, ratings->n_annotators,
                                 ratings->n_labels, ratings->value, opts, n_threads, out, err);
    free(hist);
    return st;
}

/* DENSE: every co-rated pair counted into the pair table (one per thread, summed), then every
 * measure but vs_final and the intervals. */
static hitl_status run_pair_table(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                                  const hitl__shape *shape, int n_threads, hitl_agreement *out,
                                  hitl_error *err)
{
    hitl__pair_table table;
    hitl_status st = hitl__pair_table_init(&table, ratings->n_annotators, ratings->n_labels,
                                           shape->max_m, (size_t)n_threads, err);
    if (st != HITL_OK) return st;
    hitl__pair_table_count(ratings, &table, n_threads);
    st = hitl__pair_table_measures(&table, ratings->value, opts, is_balanced(out), out, err);
    hitl__pair_table_release(&table);
    return st;
}

/* SPARSE: the pairs walked by annotator, and the multiset measures from the items' label
 * multisets, kept in *patterns (caller releases) for the bootstrap. */
static hitl_status run_sparse(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                              int n_threads, hitl__patterns *patterns, hitl_agreement *out,
                              hitl_error *err)
{
    hitl_status st = hitl__sparse_pairs(ratings, opts, cell_budget(opts), n_threads, out, err);
    if (st == HITL_OK) st = hitl__patterns_build(ratings, out->max_ratings, opts, patterns, err);
    if (st != HITL_OK) return st;
    double *scratch = hitl__zalloc_array(5 * ratings->n_labels, sizeof(double));
    int64_t *counts = hitl__zalloc_array(patterns->n_patterns, sizeof(int64_t));
    if (!scratch || !counts) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    } else {
        for (size_t i = 0; i < patterns->n_patterns; i++)
            counts[i] = patterns->pattern[i].count;
        hitl__patterns_measures(patterns, counts, ratings, opts->level, is_balanced(out), scratch,
                                out->coef, out->per_label);
    }
    free(counts);
    free(scratch);
    return st;
}

/* The bootstrap intervals, through *patterns (built here unless the SPARSE path has). */
static hitl_status run_bootstrap(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                                 int n_threads, hitl__patterns *patterns, hitl_agreement *out,
                                 hitl_error *err)
{
    hitl_status st = HITL_OK;
    if (!patterns->n_patterns)
        st = hitl__patterns_build(ratings, out->max_ratings, opts, patterns, err);
    if (st == HITL_OK)
        st = hitl__bootstrap(ratings, opts, patterns, is_balanced(out), n_threads, out, err);
    return st;
}

/* ---- entry points ---------------------------------------------------------------------------- */

hitl_status hitl_agreement_compute(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                                   hitl_agreement *out, hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!opts || !ratings) return hitl_error_set(err, HITL_EINVAL, "no ratings or options given");
    if (!ratings->item_ptr) return hitl_error_set(err, HITL_EINVAL, "ratings table without arrays");
    hitl_status st = check_opts(ratings->n_items, ratings->n_annotators, ratings->n_labels,
                                ratings->value, opts, err);
    if (st != HITL_OK) return st;

    int n_threads = thread_count(opts);
    hitl_agree_path path;
    hitl__shape shape = {0}; /* DENSE and SPARSE: counted by choose_path; HISTOGRAM: its pass */
    hitl__patterns patterns = {0};
    st = choose_path(ratings, opts, &path, &shape, err);
    if (st == HITL_OK && path != HITL_AGREE_HISTOGRAM)
        st = hitl__agreement_set_shape(out, ratings->n_items, ratings->n_annotators,
                                       ratings->n_labels, ratings->n_ratings, &shape, err);
    if (st == HITL_OK) {
        if (path == HITL_AGREE_HISTOGRAM)
            st = run_histogram(ratings, opts, n_threads, out, err);
        else if (path == HITL_AGREE_DENSE)
            st = run_pair_table(ratings, opts, &shape, n_threads, out, err);
        else
            st = run_sparse(ratings, opts, n_threads, &patterns, out, err);
    }
    if (st == HITL_OK && opts->final_label) st = hitl__versus_final(ratings, opts, out, err);
    if (st == HITL_OK && opts->bootstrap)
        st = run_bootstrap(ratings, opts, n_threads, &patterns, out, err);
    hitl__patterns_release(&patterns);
    if (st != HITL_OK) hitl_agreement_release(out);
    return st;
}

/* Whether a matrix goes straight to the histogram: few configurations, labels that fit the
 * int8 loops, at most 16 annotators (the VBMI loop's registers), and nothing that needs the
 * ratings table (final labels, the bootstrap's patterns) or another path. */
static int matrix_goes_direct(const hitl_ratings_matrix *matrix, const hitl_agreement_opts *opts)
{
    size_t n_annotators = matrix->n_annotators, n_labels = matrix->n_labels;
    return hitl__hist_size(n_annotators, n_labels) && n_labels >= 1 && n_labels <= 127 &&
           n_annotators <= 16 && !opts->final_label && !opts->bootstrap &&
           (opts->path == HITL_AGREE_AUTO || opts->path == HITL_AGREE_HISTOGRAM);
}

/* The histogram path on the matrix itself. *via_table = 1 when a label is out of range: the
 * counts are void, and the caller builds the ratings table, which names the label. */
static hitl_status run_matrix_histogram(const hitl_ratings_matrix *matrix,
                                        const hitl_agreement_opts *opts, hitl_agreement *out,
                                        int *via_table, hitl_error *err)
{
    size_t n_annotators = matrix->n_annotators, n_labels = matrix->n_labels;
    size_t n_configs = hitl__hist_size(n_annotators, n_labels);
    hitl_status st = check_opts(matrix->n_items, n_annotators, n_labels, matrix->value, opts, err);
    *via_table = 0;
    if (st != HITL_OK) return st;
    int n_threads = thread_count(opts);
    int64_t *hist = hitl__zalloc_array(n_configs, sizeof(int64_t));
    int bad = hist ? hitl__matrix_hist(matrix, n_configs, n_threads, opts->portable, hist) : -1;
    if (bad < 0) st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (!bad)
        st = hitl__hist_measures(hist, n_configs, matrix->n_items, n_annotators, n_labels,
                                 matrix->value, opts, n_threads, out, err);
    free(hist);
    if (st != HITL_OK) hitl_agreement_release(out);
    *via_table = bad > 0;
    return st;
}

hitl_status hitl_agreement_compute_matrix(const hitl_ratings_matrix *matrix,
                                          const hitl_agreement_opts *opts, hitl_agreement *out,
                                          hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!opts || !matrix || (!matrix->m && matrix->n_items && matrix->n_annotators))
        return hitl_error_set(err, HITL_EINVAL, "no ratings matrix or options given");
    if (matrix_goes_direct(matrix, opts)) {
        int via_table;
        hitl_status st = run_matrix_histogram(matrix, opts, out, &via_table, err);
        if (!via_table) return st;
    }
    hitl_ratings ratings;
    hitl_status st = hitl_ratings_from_matrix(&ratings, matrix, err);
    if (st != HITL_OK) return st;
    st = hitl_agreement_compute(&ratings, opts, out, err);
    hitl_ratings_release(&ratings);
    return st;
}
