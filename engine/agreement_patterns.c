/* The items' label multisets ("patterns"), gathered in a hash table: the SPARSE path's multiset
 * measures, and what the bootstrap resamples (a resample only changes how often each occurs). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

#define EMPTY_SLOT UINT32_MAX

void hitl__patterns_release(hitl__patterns *patterns)
{
    free(patterns->pattern);
    free(patterns->label_pool);
    free(patterns->distinct_label);
    free(patterns->distinct_count);
    free(patterns->cum);
    memset(patterns, 0, sizeof(*patterns));
}

/* A 64-bit hash of n_ratings sorted labels (their count mixed in). */
static uint64_t hash_labels(const int32_t *labels, size_t n_ratings)
{
    uint64_t hash = (uint64_t)n_ratings * 0xD6E8FEB86659FD93ull;
    for (size_t i = 0; i < n_ratings; i++) {
        hash = (hash ^ (uint64_t)(uint32_t)labels[i]) * 0x9E3779B97F4A7C15ull;
        hash ^= hash >> 29;
    }
    return hash ^ (hash >> 32);
}

/* Sorts labels[n_ratings] ascending in place: insertion sort for the usual few, qsort past 24. */
static void sort_labels(int32_t *labels, size_t n_ratings)
{
    if (n_ratings > 24) {
        qsort(labels, n_ratings, sizeof(*labels), hitl__cmp_int32);
        return;
    }
    for (size_t i = 1; i < n_ratings; i++) {
        int32_t label = labels[i];
        size_t j = i;
        while (j > 0 && labels[j - 1] > label) {
            labels[j] = labels[j - 1];
            j--;
        }
        labels[j] = label;
    }
}

/* qsort order of patterns: by size, then by their sorted labels (needs `labels` set). */
static int cmp_pattern(const void *pa, const void *pb)
{
    const hitl__pattern *first = pa, *second = pb;
    if (first->n_ratings != second->n_ratings) return first->n_ratings < second->n_ratings ? -1 : 1;
    for (int32_t i = 0; i < first->n_ratings; i++) {
        int32_t x = first->labels[i], y = second->labels[i];
        if (x != y) return x < y ? -1 : 1;
    }
    return 0;
}

/* ---- collecting the patterns: a hash set over them ------------------------------------------
 * slot[n_slots] (a power of two, at most half full) holds pattern indices or EMPTY_SLOT, probed
 * linearly; hash[i] is pattern i's hash (kept to grow the set without rehashing labels). */
typedef struct pattern_set {
    uint32_t *slot;
    size_t n_slots;
    uint64_t *hash; /* [patterns->cap] */
} pattern_set;

/* The slot holding the pattern equal to labels[n_ratings] (sorted, hashed to `hash`), or the empty
 * slot where it would go. */
static size_t set_find(const pattern_set *set, const hitl__patterns *patterns,
                       const int32_t *labels, size_t n_ratings, uint64_t hash)
{
    size_t at = (size_t)hash & (set->n_slots - 1);
    for (;;) {
        uint32_t id = set->slot[at];
        if (id == EMPTY_SLOT) return at;
        const hitl__pattern *pattern = &patterns->pattern[id];
        if (set->hash[id] == hash && (size_t)pattern->n_ratings == n_ratings &&
            memcmp(patterns->label_pool + pattern->label_off, labels,
                   n_ratings * sizeof(int32_t)) == 0)
            return at;
        at = (at + 1) & (set->n_slots - 1);
    }
}

/* Doubles the set's slots and puts the n_patterns patterns back; -1 when out of memory. */
static int set_grow(pattern_set *set, size_t n_patterns)
{
    size_t n_slots = set->n_slots * 2;
    uint32_t *slot = hitl__alloc_array(n_slots, sizeof(uint32_t));
    if (!slot) return -1;
    memset(slot, 0xff, n_slots * sizeof(uint32_t));
    for (size_t id = 0; id < n_patterns; id++) {
        size_t at = (size_t)set->hash[id] & (n_slots - 1);
        while (slot[at] != EMPTY_SLOT)
            at = (at + 1) & (n_slots - 1);
        slot[at] = (uint32_t)id;
    }
    free(set->slot);
    set->slot = slot;
    set->n_slots = n_slots;
    return 0;
}

/* Appends labels[n_ratings] (sorted, hashed to `hash`) as a new pattern seen once, at the empty
 * slot `at` of the set; -1 when out of memory. */
static int patterns_append(hitl__patterns *patterns, pattern_set *set, size_t at,
                           const int32_t *labels, size_t n_ratings, uint64_t hash)
{
    if (patterns->n_patterns >= UINT32_MAX - 1) return -1;
    if (patterns->n_patterns == patterns->cap) {
        size_t cap = patterns->cap * 2;
        hitl__pattern *grown = realloc(patterns->pattern, cap * sizeof(hitl__pattern));
        if (grown) patterns->pattern = grown;
        uint64_t *grown_hash = realloc(set->hash, cap * sizeof(uint64_t));
        if (grown_hash) set->hash = grown_hash;
        if (!grown || !grown_hash) return -1;
        patterns->cap = cap;
    }
    while (patterns->pool_n + n_ratings > patterns->pool_cap) {
        int32_t *pool = realloc(patterns->label_pool, patterns->pool_cap * 2 * sizeof(int32_t));
        if (!pool) return -1;
        patterns->label_pool = pool;
        patterns->pool_cap *= 2;
    }
    size_t id = patterns->n_patterns++;
    memcpy(patterns->label_pool + patterns->pool_n, labels, n_ratings * sizeof(int32_t));
    patterns->pattern[id] = (hitl__pattern){
        .n_ratings = (int32_t)n_ratings, .label_off = (int64_t)patterns->pool_n, .count = 1};
    set->hash[id] = hash;
    set->slot[at] = (uint32_t)id;
    patterns->pool_n += n_ratings;
    return patterns->n_patterns * 2 > set->n_slots ? set_grow(set, patterns->n_patterns) : 0;
}

/* Counts the label multiset of every rated item of `ratings` (at most max_m ratings each) into
 * *patterns (zeroed), in the order first seen; -1 when out of memory (the caller releases). */
static int patterns_collect(const hitl_ratings *ratings, size_t max_m, hitl__patterns *patterns)
{
    size_t cap = 1024, n_slots = 4096;
    int32_t *sorted = hitl__alloc_array(max_m ? max_m : 1, sizeof(int32_t)); /* one item's */
    pattern_set set = {hitl__alloc_array(n_slots, sizeof(uint32_t)), n_slots,
                       hitl__alloc_array(cap, sizeof(uint64_t))};
    patterns->pattern = hitl__alloc_array(cap, sizeof(hitl__pattern));
    patterns->pool_cap = 4096;
    patterns->label_pool = hitl__alloc_array(patterns->pool_cap, sizeof(int32_t));
    int rc = -1;
    if (!sorted || !set.slot || !set.hash || !patterns->pattern || !patterns->label_pool) goto done;
    memset(set.slot, 0xff, n_slots * sizeof(uint32_t));
    patterns->cap = cap;
    for (size_t u = 0; u < ratings->n_items; u++) {
        int64_t start = ratings->item_ptr[u];
        size_t n_ratings = (size_t)(ratings->item_ptr[u + 1] - start);
        if (n_ratings == 0) continue;
        memcpy(sorted, ratings->label + start, n_ratings * sizeof(int32_t));
        sort_labels(sorted, n_ratings);
        uint64_t hash = hash_labels(sorted, n_ratings);
        size_t at = set_find(&set, patterns, sorted, n_ratings, hash);
        if (set.slot[at] != EMPTY_SLOT)
            patterns->pattern[set.slot[at]].count++;
        else if (patterns_append(patterns, &set, at, sorted, n_ratings, hash))
            goto done;
    }
    rc = 0;
done:
    free(sorted);
    free(set.slot);
    free(set.hash);
    return rc;
}

/* ---- what each pattern contributes ---------------------------------------------------------- */

/* Puts the patterns in canonical order (by size, then labels), so that every sum over them is
 * done in the same order whatever the items' order. */
static void patterns_sort(hitl__patterns *patterns)
{
    for (size_t i = 0; i < patterns->n_patterns; i++)
        patterns->pattern[i].labels = patterns->label_pool + patterns->pattern[i].label_off;
    qsort(patterns->pattern, patterns->n_patterns, sizeof(hitl__pattern), cmp_pattern);
}

/* Each pattern's distinct labels with how many ratings gave each, and the patterns' cumulative
 * counts; -1 when out of memory. */
static int patterns_distinct(hitl__patterns *patterns)
{
    patterns->distinct_label = hitl__alloc_array(patterns->pool_n, sizeof(int32_t));
    patterns->distinct_count = hitl__alloc_array(patterns->pool_n, sizeof(int32_t));
    patterns->cum = hitl__alloc_array(patterns->n_patterns, sizeof(int64_t));
    if (!patterns->distinct_label || !patterns->distinct_count || !patterns->cum) return -1;
    int64_t n_distinct = 0, cum = 0;
    for (size_t i = 0; i < patterns->n_patterns; i++) {
        hitl__pattern *pattern = &patterns->pattern[i];
        const int32_t *labels = patterns->label_pool + pattern->label_off;
        pattern->distinct_off = n_distinct;
        for (int32_t j = 0; j < pattern->n_ratings; j++) {
            if (j > 0 && labels[j] == labels[j - 1]) {
                patterns->distinct_count[n_distinct - 1]++;
            } else {
                patterns->distinct_label[n_distinct] = labels[j];
                patterns->distinct_count[n_distinct++] = 1;
            }
        }
        pattern->n_distinct = (int32_t)(n_distinct - pattern->distinct_off);
        cum += pattern->count;
        patterns->cum[i] = cum;
    }
    return 0;
}

/* sum over a pattern's distinct labels of count (coord[label] - mean)^2, mean the count-weighted
 * mean of coord over its n_ratings ratings: the spread behind the interval and ordinal metrics. */
static double spread(const int32_t *distinct_label, const int32_t *distinct_count,
                     int32_t n_distinct, double n_ratings, const double *coord)
{
    double mean = 0, sum_sq = 0;
    for (int32_t j = 0; j < n_distinct; j++)
        mean += distinct_count[j] * coord[distinct_label[j]];
    mean /= n_ratings;
    for (int32_t j = 0; j < n_distinct; j++)
        sum_sq += distinct_count[j] * (coord[distinct_label[j]] - mean) *
                  (coord[distinct_label[j]] - mean);
    return sum_sq;
}

/* A pattern's share of agreeing rating pairs, and its observed disagreement at the nominal,
 * interval and ratio levels, whose metrics do not move with the margins (the ordinal one does:
 * hitl__patterns_measures sums it). value[L] is read at the interval and ratio levels. */
static void pattern_fixed_sums(hitl__pattern *pattern, const int32_t *distinct_label,
                               const int32_t *distinct_count, hitl_level level, const double *value)
{
    double n_ratings = pattern->n_ratings, agree = 0, fixed = 0;
    for (int32_t j = 0; j < pattern->n_distinct; j++)
        agree += (double)distinct_count[j] * (distinct_count[j] - 1);
    pattern->agree = agree / (n_ratings * (n_ratings - 1));
    if (level == HITL_LEVEL_NOMINAL) {
        fixed = n_ratings - agree / (n_ratings - 1);
    } else if (level == HITL_LEVEL_INTERVAL) {
        double sum_sq =
            spread(distinct_label, distinct_count, pattern->n_distinct, n_ratings, value);
        fixed = 2 * n_ratings * sum_sq / (n_ratings - 1);
    } else if (level == HITL_LEVEL_RATIO) {
        for (int32_t j = 0; j < pattern->n_distinct; j++)
            for (int32_t k = j + 1; k < pattern->n_distinct; k++) {
                double ratio = hitl__ratio_diff(value[distinct_label[j]], value[distinct_label[k]]);
                fixed += 2.0 * distinct_count[j] * distinct_count[k] * ratio * ratio;
            }
        fixed /= n_ratings - 1;
    }
    pattern->do_fixed = fixed;
}

hitl_status hitl__patterns_build(const hitl_ratings *ratings, size_t max_m,
                                 const hitl_agreement_opts *opts, hitl__patterns *patterns,
                                 hitl_error *err)
{
    memset(patterns, 0, sizeof(*patterns));
    if (patterns_collect(ratings, max_m, patterns)) goto nomem;
    patterns_sort(patterns);
    if (patterns_distinct(patterns)) goto nomem;
    for (size_t i = 0; i < patterns->n_patterns; i++) {
        hitl__pattern *pattern = &patterns->pattern[i];
        if (pattern->n_ratings < 2) continue;
        pattern_fixed_sums(pattern, patterns->distinct_label + pattern->distinct_off,
                           patterns->distinct_count + pattern->distinct_off, opts->level,
                           ratings->value);
    }
    return HITL_OK;
nomem:
    hitl__patterns_release(patterns);
    return hitl_error_set(err, HITL_ENOMEM, "out of memory for the rating patterns");
}

/* The ordinal level's observed disagreement: its metric, (coord_c - coord_k)^2 with coord[L] from
 * the margins, is known only once every pattern is summed. */
static double ordinal_observed(const hitl__patterns *patterns, const int64_t *times,
                               const double *coord)
{
    double do_sum = 0;
    for (size_t i = 0; i < patterns->n_patterns; i++) {
        const hitl__pattern *pattern = &patterns->pattern[i];
        if (!times[i] || pattern->n_ratings < 2) continue;
        double n_ratings = pattern->n_ratings;
        double sum_sq = spread(patterns->distinct_label + pattern->distinct_off,
                               patterns->distinct_count + pattern->distinct_off,
                               pattern->n_distinct, n_ratings, coord);
        do_sum += (double)times[i] * 2 * n_ratings * sum_sq / (n_ratings - 1);
    }
    return do_sum;
}

void hitl__patterns_measures(const hitl__patterns *patterns, const int64_t *times,
                             const hitl_ratings *ratings, hitl_level level, int balanced,
                             double *scratch, double *coef, double *per_label)
{
    size_t n_labels = ratings->n_labels;
    double *pi_num = scratch, *pl = scratch + n_labels, *margin = scratch + 2 * n_labels;
    double *coord = scratch + 3 * n_labels;
    memset(scratch, 0, 4 * n_labels * sizeof(double));
    hitl__multiset_sums sums = {.pi_num = pi_num, .pl = pl};
    for (size_t i = 0; i < patterns->n_patterns; i++) {
        const hitl__pattern *pattern = &patterns->pattern[i];
        if (!times[i]) continue;
        double cnt = (double)times[i], n_ratings = pattern->n_ratings;
        const int32_t *label = patterns->distinct_label + pattern->distinct_off;
        const int32_t *count = patterns->distinct_count + pattern->distinct_off;
        sums.n1 += cnt;
        for (int32_t j = 0; j < pattern->n_distinct; j++)
            pi_num[label[j]] += cnt * count[j] / n_ratings;
        if (pattern->n_ratings < 2) continue;
        sums.n2 += cnt;
        sums.pa_sum += cnt * pattern->agree;
        for (int32_t j = 0; j < pattern->n_distinct; j++) {
            margin[label[j]] += cnt * count[j];
            pl[label[j]] += cnt * count[j] * (n_ratings - count[j]) / (n_ratings * (n_ratings - 1));
        }
        if (level != HITL_LEVEL_ORDINAL) sums.do_sum += cnt * pattern->do_fixed;
    }
    sums.de_sum = hitl__expected_disagreement(margin, n_labels, level, ratings->value, coord,
                                              &sums.n_distinct);
    for (size_t c = 0; c < n_labels; c++)
        sums.n_values += margin[c];
    if (level == HITL_LEVEL_ORDINAL) sums.do_sum += ordinal_observed(patterns, times, coord);
    hitl__multiset_coefs(&sums, n_labels, balanced, coef, per_label);
}
