/* Cohen's kappa counts without a dense table: the SPARSE path walks the ratings table by
 * annotator, pairs (a, b > a) counted one block of b at a time so memory stays bounded, and each
 * annotator against the final label. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "ratings_impl.h"
#include "hitl_banned.h"

/* One pair's counters (or an annotator's against the final label): n, eq, d1, d2 as in
 * hitl__pair_stats, then the two sides' label counts count_a[L] and count_b[L]. */
#define PAIR_COUNTERS(n_labels) (4 + 2 * (n_labels))

/* Adds one co-rated item, on which the two sides gave label_a and label_b, to their counters. */
static inline void pair_counters_add(int64_t *counter, int32_t label_a, int32_t label_b,
                                     size_t n_labels)
{
    int64_t diff = (int64_t)label_a - label_b;
    counter[0]++;
    counter[1] += label_a == label_b;
    counter[2] += diff < 0 ? -diff : diff;
    counter[3] += diff * diff;
    counter[4 + label_a]++;
    counter[4 + n_labels + (size_t)label_b]++;
}

/* The result of the pair (a, b) (b = -1: the final label) from its counters. */
static void pair_from_counters(hitl_pair_agreement *out, int32_t a, int32_t b,
                               const int64_t *counter, size_t n_labels, hitl_weights weights)
{
    hitl__pair_stats stats = {counter[0], counter[1], counter[2], counter[3]};
    hitl__pair_result(out, a, b, &stats, counter + 4, counter + 4 + n_labels, n_labels, weights);
}

/* ---- pairs by annotator ------------------------------------------------------------------
 * For annotator a, walk a's ratings (by item); the item's later ratings are the annotators
 * b > a. Pair counters live for one block of b at a time. */

/* A growing list of pair results, one per thread (owned: free `pair`). */
typedef struct pair_list {
    hitl_pair_agreement *pair;
    size_t n, cap;
} pair_list;

/* Appends *pair to the list; -1 when out of memory. */
static int pair_push(pair_list *list, const hitl_pair_agreement *pair)
{
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        hitl_pair_agreement *grown = realloc(list->pair, cap * sizeof(*grown));
        if (!grown) return -1;
        list->pair = grown;
        list->cap = cap;
    }
    list->pair[list->n++] = *pair;
    return 0;
}

/* qsort order of pair results: by (a, b). */
static int cmp_pair(const void *pa, const void *pb)
{
    const hitl_pair_agreement *first = pa, *second = pb;
    if (first->a != second->a) return first->a < second->a ? -1 : 1;
    return (first->b > second->b) - (first->b < second->b);
}

/* Counts annotator a's pairs with the annotators [b0, b1) into counter[(b - b0) *
 * PAIR_COUNTERS(L)] (zero on entry and on return), then appends each pair that met to *found,
 * in b order. touched: scratch for b1 - b0 indices. -1 when out of memory. */
static int block_pairs(const hitl_ratings *ratings, const hitl__by_annotator *index, size_t a,
                       size_t b0, size_t b1, hitl_weights weights, int64_t *counter,
                       int32_t *touched, pair_list *found)
{
    size_t n_labels = ratings->n_labels, per_pair = PAIR_COUNTERS(n_labels), n_touched = 0;
    for (int64_t q = index->ann_ptr[a]; q < index->ann_ptr[a + 1]; q++) {
        int64_t k = index->by_ann[q], end = ratings->item_ptr[index->item_of[k] + 1];
        int32_t label_a = ratings->label[k];
        for (int64_t j = k + 1; j < end; j++) {
            size_t b = (size_t)ratings->annotator[j];
            if (b < b0) continue;
            if (b >= b1) break;
            int64_t *of_b = counter + (b - b0) * per_pair;
            if (of_b[0] == 0) touched[n_touched++] = (int32_t)(b - b0);
            pair_counters_add(of_b, label_a, ratings->label[j], n_labels);
        }
    }
    qsort(touched, n_touched, sizeof(int32_t), hitl__cmp_int32);
    int rc = 0;
    for (size_t i = 0; i < n_touched; i++) {
        int64_t *of_b = counter + (size_t)touched[i] * per_pair;
        hitl_pair_agreement pair;
        pair_from_counters(&pair, (int32_t)a, (int32_t)(b0 + (size_t)touched[i]), of_b, n_labels,
                           weights);
        if (pair_push(found, &pair)) rc = -1;
        memset(of_b, 0, per_pair * sizeof(int64_t));
    }
    return rc;
}

/* The threads' lists, one after another, into out->pairs, sorted by (a, b). */
static hitl_status gather_pairs(const pair_list *lists, int n_threads, hitl_agreement *out,
                                hitl_error *err)
{
    size_t total = 0;
    for (int t = 0; t < n_threads; t++)
        total += lists[t].n;
    out->pairs = hitl__zalloc_array(total, sizeof(hitl_pair_agreement));
    if (!out->pairs)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for the annotator pairs");
    for (int t = 0; t < n_threads; t++) {
        if (lists[t].n)
            memcpy(out->pairs + out->n_pairs, lists[t].pair, lists[t].n * sizeof(*lists->pair));
        out->n_pairs += lists[t].n;
    }
    qsort(out->pairs, out->n_pairs, sizeof(hitl_pair_agreement), cmp_pair);
    return HITL_OK;
}

hitl_status hitl__sparse_pairs(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                               size_t budget, int n_threads, hitl_agreement *out, hitl_error *err)
{
    size_t n_annotators = ratings->n_annotators, per_pair = PAIR_COUNTERS(ratings->n_labels);
    size_t block = budget / per_pair; /* annotators b counted at a time */
    if (block < 1) block = 1;
    if (block > n_annotators) block = n_annotators;
    hitl__by_annotator index;
    int64_t *counter = hitl__zalloc_array((size_t)n_threads * block, per_pair * sizeof(int64_t));
    int32_t *touched = hitl__alloc_array((size_t)n_threads * block, sizeof(int32_t));
    pair_list *lists = hitl__zalloc_array((size_t)n_threads, sizeof(pair_list));
    hitl_status st = hitl__by_annotator_build(ratings, &index, err);
    int failed = 0;
    if (st != HITL_OK) goto done;
    if (!counter || !touched || !lists) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the annotator pairs");
        goto done;
    }
    size_t blocks_per = (n_annotators + block - 1) / block;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads)
    for (size_t task = 0; task < n_annotators * blocks_per; task++) {
        size_t a = task / blocks_per, b0 = (task % blocks_per) * block, b1 = b0 + block;
        if (b1 > n_annotators) b1 = n_annotators;
        if (b1 <= a + 1) continue;
        if (b0 <= a) b0 = a + 1;
        int t = omp_get_thread_num();
        if (block_pairs(ratings, &index, a, b0, b1, opts->weights,
                        counter + (size_t)t * block * per_pair, touched + (size_t)t * block,
                        &lists[t])) {
#pragma omp atomic write
            failed = 1;
        }
    }
    if (failed)
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the annotator pairs");
    else
        st = gather_pairs(lists, n_threads, out, err);
done:
    for (int t = 0; lists && t < n_threads; t++)
        free(lists[t].pair);
    free(lists);
    hitl__by_annotator_release(&index);
    free(counter);
    free(touched);
    return st;
}

/* ---- each annotator against the final label ------------------------------------------------ */
hitl_status hitl__versus_final(const hitl_ratings *ratings, const hitl_agreement_opts *opts,
                               hitl_agreement *out, hitl_error *err)
{
    size_t n_annotators = ratings->n_annotators, n_labels = ratings->n_labels;
    size_t per_annotator = PAIR_COUNTERS(n_labels);
    int64_t *counter = hitl__zalloc_array(n_annotators, per_annotator * sizeof(int64_t));
    out->vs_final = hitl__zalloc_array(n_annotators, sizeof(hitl_pair_agreement));
    if (!counter || !out->vs_final) {
        free(counter);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    for (size_t u = 0; u < ratings->n_items; u++) {
        int32_t final = opts->final_label[u];
        if (final < 0) continue;
        for (int64_t k = ratings->item_ptr[u]; k < ratings->item_ptr[u + 1]; k++)
            pair_counters_add(counter + (size_t)ratings->annotator[k] * per_annotator,
                              ratings->label[k], final, n_labels);
    }
    for (size_t a = 0; a < n_annotators; a++)
        pair_from_counters(&out->vs_final[a], (int32_t)a, -1, counter + a * per_annotator, n_labels,
                           opts->weights);
    free(counter);
    return HITL_OK;
}
