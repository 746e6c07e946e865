/* The HISTOGRAM path, for few annotators and labels: one pass over a ratings table counts how many
 * items show each configuration (and checks the table on the way); the few distinct
 * configurations, from a table or a matrix, then fill the pair table (agreement_pair_table.c). */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

/* An item's ratings are one of (L + 1)^A configurations (each annotator: one of L labels, or
 * none). One pass over the table counts the configurations and checks the table on the way
 * (one read of it instead of two: every index is range-checked before it is used); the dense
 * table then follows from the few distinct configurations. */

size_t hitl__hist_size(size_t n_annotators, size_t n_labels)
{
    size_t n_configs = 1;
    for (size_t a = 0; a < n_annotators; a++) {
        if (n_configs > HITL__HIST_MAX / (n_labels + 1)) return 0;
        n_configs *= n_labels + 1;
    }
    return n_configs;
}

/* Counts the configurations of items [u0, u1) into bins[H]; 1 when the table is malformed
 * there. Every index is range-checked before it is used; a valid item has strictly increasing
 * annotators, so its code (sum of (label + 1) place[annotator], place[a] = (L + 1)^a) is below
 * H. */
static int hist_items(const hitl_ratings *ratings, size_t u0, size_t u1, const uint32_t *place,
                      uint32_t *bins)
{
    const int64_t *item_ptr = ratings->item_ptr, n_ratings = (int64_t)ratings->n_ratings;
    const int32_t *annotator = ratings->annotator, *label = ratings->label;
    uint32_t n_annotators = (uint32_t)ratings->n_annotators;
    uint32_t n_labels = (uint32_t)ratings->n_labels;
    for (size_t u = u0; u < u1; u++) {
        int64_t start = item_ptr[u], end = item_ptr[u + 1];
        if (__builtin_expect(start < 0 || start > end || end > n_ratings, 0)) return 1;
        uint32_t code = 0;
        int64_t prev = -1;
        for (int64_t k = start; k < end; k++) {
            uint32_t ann = (uint32_t)annotator[k], lab = (uint32_t)label[k];
            if (__builtin_expect(ann >= n_annotators || lab >= n_labels || (int64_t)ann <= prev, 0))
                return 1;
            prev = ann;
            code += (lab + 1) * place[ann];
        }
        bins[code]++;
    }
    return 0;
}

int hitl__table_hist(const hitl_ratings *ratings, size_t n_configs, int n_threads,
                     uint32_t *scratch, int64_t *hist)
{
    uint32_t n_annotators = (uint32_t)ratings->n_annotators;
    uint32_t n_labels = (uint32_t)ratings->n_labels, place[17];
    place[0] = 1;
    for (uint32_t a = 1; a <= n_annotators; a++)
        place[a] = place[a - 1] * (n_labels + 1);
    if (ratings->item_ptr[0] != 0 ||
        ratings->item_ptr[ratings->n_items] != (int64_t)ratings->n_ratings)
        return 1;
    memset(hist, 0, n_configs * sizeof(int64_t));
    if (ratings->n_ratings == 0) {
        hist[0] = (int64_t)ratings->n_items;
        return 0;
    }
    size_t n_items = ratings->n_items,
           chunk = (n_items + (size_t)n_threads - 1) / (size_t)n_threads;
    int bad = 0;
#pragma omp parallel num_threads(n_threads) reduction(| : bad)
    /* chunk t into scratch t, whatever the team's size (a nested call gets a team of one) */
    for (size_t t = (size_t)omp_get_thread_num(); t < (size_t)n_threads;
         t += (size_t)omp_get_num_threads()) {
        size_t u0 = t * chunk, u1 = u0 + chunk;
        if (u1 > n_items) u1 = n_items;
        if (u0 < u1) bad |= hist_items(ratings, u0, u1, place, scratch + t * n_configs);
    }
    for (size_t c = 0; c < n_configs; c++)
        for (int t = 0; t < n_threads; t++)
            hist[c] += scratch[(size_t)t * n_configs + c];
    return bad;
}

/* ---- from configurations to the pair table -------------------------------------------------- */

/* Spreads the counts of configurations [c0, c1) over `count`, one copy of the table's counters
 * (the table sized for max_m = A), and their shape onto *shape. */
static void hist_expand(const int64_t *hist, size_t c0, size_t c1, const hitl__pair_table *table,
                        int64_t *count, hitl__shape *shape)
{
    size_t n_annotators = table->n_annotators, n_labels = table->n_labels, base = n_labels + 1;
    size_t n_confusion = table->n_confusion, n_pairs = table->n_pairs;
    int64_t *by_m = count + table->n_cells, *single = by_m + table->max_m + 1;
    int32_t rated_by[16], rated_as[16];    /* the configuration's annotators and their labels */
    size_t digit[16], start = c0 ? c0 : 1; /* code 0: no rating */
    for (size_t a = 0, rest = start; a < n_annotators; a++, rest /= base)
        digit[a] = rest % base;
    for (size_t code = start; code < c1; code++) {
        if (code > start) /* the next code's digits, as an odometer steps: no divisions */
            for (size_t a = 0; a < n_annotators && ++digit[a] == base; a++)
                digit[a] = 0;
        int64_t items = hist[code];
        if (!items) continue;
        size_t n_on_item = 0;
        for (size_t a = 0; a < n_annotators; a++)
            if (digit[a]) {
                rated_by[n_on_item] = (int32_t)a;
                rated_as[n_on_item++] = (int32_t)digit[a] - 1;
            }
        shape->n_rated += (size_t)items;
        shape->n_ratings += n_on_item * (size_t)items;
        if (n_on_item < shape->min_m) shape->min_m = n_on_item;
        if (n_on_item > shape->max_m) shape->max_m = n_on_item;
        if (n_on_item == 1) {
            single[rated_as[0]] += items;
            continue;
        }
        shape->n_pairable += (size_t)items;
        by_m[n_on_item] += items;
        int64_t *of_m = count + (n_on_item - 2) * n_pairs * n_confusion;
        for (size_t i = 0; i < n_on_item; i++)
            for (size_t j = i + 1; j < n_on_item; j++)
                of_m[hitl__pair_index(n_annotators, (size_t)rated_by[i], (size_t)rated_by[j]) *
                         n_confusion +
                     (size_t)rated_as[i] * n_labels + (size_t)rated_as[j]] += items;
    }
}

/* hist_expand over every configuration into table->count, the codes split between n_threads
 * (each into its own copy, summed after). Returns 1 when out of memory. */
static int hist_expand_all(const int64_t *hist, size_t n_configs, hitl__pair_table *table,
                           hitl__shape *shape, int n_threads)
{
    size_t block = table->block;
    hitl__shape part[64];
    if (n_configs < ((size_t)1 << 12)) n_threads = 1;
    if (n_threads > 64) n_threads = 64;
    int64_t *extra =
        n_threads > 1 ? hitl__zalloc_array((size_t)(n_threads - 1) * block, sizeof(int64_t)) : NULL;
    if (n_threads > 1 && !extra) return 1;
    size_t chunk = (n_configs + (size_t)n_threads - 1) / (size_t)n_threads;
#pragma omp parallel num_threads(n_threads)
    for (size_t t = (size_t)omp_get_thread_num(); t < (size_t)n_threads;
         t += (size_t)omp_get_num_threads()) { /* any team size */
        size_t c0 = t * chunk, c1 = c0 + chunk;
        if (c1 > n_configs) c1 = n_configs;
        part[t] = (hitl__shape){.min_m = SIZE_MAX};
        int64_t *count = t ? extra + (t - 1) * block : table->count;
        if (c0 < c1) hist_expand(hist, c0, c1, table, count, &part[t]);
    }
    for (int t = 0; t < n_threads; t++) {
        if (t > 0)
            for (size_t k = 0; k < block; k++)
                table->count[k] += extra[(size_t)(t - 1) * block + k];
        shape->n_rated += part[t].n_rated;
        shape->n_pairable += part[t].n_pairable;
        shape->n_ratings += part[t].n_ratings;
        if (part[t].min_m < shape->min_m) shape->min_m = part[t].min_m;
        if (part[t].max_m > shape->max_m) shape->max_m = part[t].max_m;
    }
    free(extra);
    return 0;
}

hitl_status hitl__hist_measures(const int64_t *hist, size_t n_configs, size_t n_items,
                                size_t n_annotators, size_t n_labels, const double *value,
                                const hitl_agreement_opts *opts, int n_threads, hitl_agreement *out,
                                hitl_error *err)
{
    hitl__pair_table table;
    hitl_status st = hitl__pair_table_init(&table, n_annotators, n_labels, n_annotators, 1, err);
    if (st != HITL_OK) return st;
    hitl__shape shape = {.min_m = SIZE_MAX};
    if (hist_expand_all(hist, n_configs, &table, &shape, n_threads))
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (st == HITL_OK)
        st = hitl__agreement_set_shape(out, n_items, n_annotators, n_labels, shape.n_ratings,
                                       &shape, err);
    int balanced = shape.min_m == shape.max_m && shape.min_m >= 2;
    if (st == HITL_OK) st = hitl__pair_table_measures(&table, value, opts, balanced, out, err);
    hitl__pair_table_release(&table);
    return st;
}
