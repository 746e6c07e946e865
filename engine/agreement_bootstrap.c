/* Bootstrap intervals: each resample draws items with replacement through the label patterns
 * (Walker's alias table, O(1) a draw), so a resample only changes how often each pattern occurs. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

#define BOOT_SEED_MIX 0x9E3779B97F4A7C15ull

/* Walker's alias table (Vose's construction) in integers: drawing bucket j uniformly from the
 * P patterns, then a unit uniformly from [0, n_rated), and taking j when it is < threshold[j], else
 * alias[j], picks pattern i with probability exactly count_i / n_rated, in O(1). (count_i P
 * units over P buckets of n_rated.) -1 when out of memory. */
static int alias_build(const hitl__patterns *patterns, int64_t n_rated, int64_t *threshold,
                       uint32_t *alias)
{
    size_t n_patterns = patterns->n_patterns, n_small = 0, n_large = 0;
    uint32_t *small = hitl__alloc_array(n_patterns, sizeof(uint32_t));
    uint32_t *large = hitl__alloc_array(n_patterns, sizeof(uint32_t));
    if (!small || !large) {
        free(small);
        free(large);
        return -1;
    }
    for (size_t i = 0; i < n_patterns; i++) {
        threshold[i] = patterns->pattern[i].count * (int64_t)n_patterns; /* < 2^31 * 2^32 */
        alias[i] = (uint32_t)i;
        if (threshold[i] < n_rated)
            small[n_small++] = (uint32_t)i;
        else
            large[n_large++] = (uint32_t)i;
    }
    while (n_small && n_large) {
        uint32_t under = small[--n_small], over = large[n_large - 1];
        alias[under] = over; /* bucket `under`: threshold[under] units of it, the rest of `over` */
        threshold[over] -= n_rated - threshold[under];
        if (threshold[over] < n_rated) {
            n_large--;
            small[n_small++] = over;
        }
    }
    while (n_large)
        threshold[large[--n_large]] = n_rated;
    while (n_small)
        threshold[small[--n_small]] = n_rated; /* only from rounding: none with integer weights */
    free(small);
    free(large);
    return 0;
}

/* The draw of resample b: n_rated items drawn with replacement through the alias table, counted
 * per pattern into times[P] (zeroed here), from hitl_rng seeded with seed ^ ((b + 1) MIX). */
static void resample(size_t b, uint64_t seed, size_t n_patterns, int64_t n_rated,
                     const int64_t *threshold, const uint32_t *alias, int64_t *times)
{
    memset(times, 0, n_patterns * sizeof(int64_t));
    hitl_rng rng;
    hitl_rng_seed(&rng, seed ^ ((uint64_t)(b + 1) * BOOT_SEED_MIX));
    for (int64_t i = 0; i < n_rated; i++) {
        size_t bucket = (size_t)hitl_rng_below(&rng, n_patterns);
        int64_t unit = (int64_t)hitl_rng_below(&rng, (uint64_t)n_rated);
        times[unit < threshold[bucket] ? bucket : alias[bucket]]++;
    }
}

hitl_status hitl__bootstrap(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                            const hitl__patterns *patterns, int balanced, int n_threads,
                            hitl_agreement *out, hitl_error *err)
{
    size_t n_resamples = opts->bootstrap, n_patterns = patterns->n_patterns;
    size_t n_labels = ratings->n_labels;
    int64_t n_rated = n_patterns ? patterns->cum[n_patterns - 1] : 0;
    double *coefs = hitl__alloc_array(n_resamples, HITL_COEF_COUNT * sizeof(double));
    int64_t *times = hitl__zalloc_array((size_t)n_threads * n_patterns, sizeof(int64_t));
    double *scratch = hitl__zalloc_array((size_t)n_threads * 5 * n_labels, sizeof(double));
    double *column = hitl__alloc_array(n_resamples, sizeof(double));
    int64_t *threshold = hitl__alloc_array(n_patterns, sizeof(int64_t));
    uint32_t *alias = hitl__alloc_array(n_patterns, sizeof(uint32_t));
    hitl_status st = HITL_OK;
    if (!coefs || !times || !scratch || !column || !threshold || !alias ||
        alias_build(patterns, n_rated, threshold, alias)) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu bootstrap resamples",
                            n_resamples);
        goto done;
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (size_t b = 0; b < n_resamples; b++) {
        int t = omp_get_thread_num();
        int64_t *times_t = times + (size_t)t * n_patterns;
        resample(b, opts->seed, n_patterns, n_rated, threshold, alias, times_t);
        hitl__patterns_measures(patterns, times_t, ratings, opts->level, balanced,
                                scratch + (size_t)t * 5 * n_labels, coefs + b * HITL_COEF_COUNT,
                                NULL);
    }
    hitl__percentile_intervals(coefs, n_resamples, column, out->ci);
    out->bootstrap = n_resamples;
done:
    free(coefs);
    free(times);
    free(scratch);
    free(column);
    free(threshold);
    free(alias);
    return st;
}
