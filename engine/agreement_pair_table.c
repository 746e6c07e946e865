/* The DENSE path: one pass over the ratings table counts every co-rated pair into a table indexed
 * by (ratings on the item, annotator pair, label, label); the histogram path fills the same table
 * from its configurations. Every measure but the bootstrap follows from that table. */
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

hitl_status hitl__pair_table_init(hitl__pair_table *table, size_t n_annotators, size_t n_labels,
                                  size_t max_m, size_t copies, hitl_error *err)
{
    *table = (hitl__pair_table){.n_annotators = n_annotators,
                                .n_labels = n_labels,
                                .max_m = max_m,
                                .n_pairs = n_annotators * (n_annotators - 1) / 2,
                                .n_confusion = n_labels * n_labels};
    table->n_cells = (max_m - 1) * table->n_pairs * table->n_confusion;
    table->block = table->n_cells + (max_m + 1) + n_labels;
    table->count = hitl__zalloc_array(copies * table->block, sizeof(int64_t));
    if (!table->count) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return HITL_OK;
}

void hitl__pair_table_release(hitl__pair_table *table)
{
    free(table->count);
    table->count = NULL;
}

void hitl__pair_table_count(const hitl_ratings *ratings, hitl__pair_table *table, int n_threads)
{
    const int64_t *item_ptr = ratings->item_ptr;
    const int32_t *annotator = ratings->annotator, *label = ratings->label;
    size_t n_annotators = table->n_annotators, n_labels = table->n_labels;
    size_t n_confusion = table->n_confusion, n_pairs = table->n_pairs, block = table->block;
#pragma omp parallel num_threads(n_threads)
    {
        int64_t *count = table->count + (size_t)omp_get_thread_num() * block;
        int64_t *by_m = count + table->n_cells, *single = by_m + table->max_m + 1;
#pragma omp for schedule(static)
        for (size_t u = 0; u < ratings->n_items; u++) {
            int64_t start = item_ptr[u], end = item_ptr[u + 1], n_on_item = end - start;
            if (n_on_item <= 1) {
                if (n_on_item == 1) single[label[start]]++;
                continue;
            }
            by_m[n_on_item]++;
            int64_t *of_m = count + (size_t)(n_on_item - 2) * n_pairs * n_confusion;
            for (int64_t i = start; i + 1 < end; i++) {
                size_t a = (size_t)annotator[i], row = (size_t)label[i] * n_labels;
                /* the tables of pairs (a, b > a) follow each other from (a, a + 1) */
                int64_t *from_a =
                    of_m + hitl__pair_index(n_annotators, a, a + 1) * n_confusion + row;
                for (int64_t j = i + 1; j < end; j++)
                    from_a[(size_t)(annotator[j] - (int32_t)a - 1) * n_confusion +
                           (size_t)label[j]]++;
            }
        }
    }
    for (int t = 1; t < n_threads; t++)
        for (size_t k = 0; k < block; k++)
            table->count[k] += table->count[(size_t)t * block + k];
}

/* ---- from the table to the measures --------------------------------------------------------- */

/* Annotator pair `pair`'s confusion matrix [L x L] (rows: the first annotator's label), summed
 * over the item sizes. */
static void pair_confusion(const hitl__pair_table *table, size_t pair, int64_t *confusion)
{
    size_t n_confusion = table->n_confusion;
    memset(confusion, 0, n_confusion * sizeof(int64_t));
    for (size_t m = 2; m <= table->max_m; m++) {
        const int64_t *of_pair = table->count + ((m - 2) * table->n_pairs + pair) * n_confusion;
        for (size_t k = 0; k < n_confusion; k++)
            confusion[k] += of_pair[k];
    }
}

/* Cohen's statistics of a confusion matrix [L x L], and the two annotators' label counts
 * count_a[L] (its row sums) and count_b[L] (its column sums). */
static hitl__pair_stats confusion_stats(const int64_t *confusion, size_t n_labels, int64_t *count_a,
                                        int64_t *count_b)
{
    hitl__pair_stats stats = {0};
    memset(count_a, 0, n_labels * sizeof(int64_t));
    memset(count_b, 0, n_labels * sizeof(int64_t));
    for (size_t i = 0; i < n_labels; i++)
        for (size_t j = 0; j < n_labels; j++) {
            int64_t items = confusion[i * n_labels + j];
            int64_t diff = (int64_t)i - (int64_t)j;
            stats.n += items;
            stats.eq += i == j ? items : 0;
            stats.d1 += items * (diff < 0 ? -diff : diff);
            stats.d2 += items * diff * diff;
            count_a[i] += items;
            count_b[j] += items;
        }
    return stats;
}

/* Every annotator pair with a common item into out->pairs, by (a, b). */
static hitl_status table_pairs(const hitl__pair_table *table, hitl_weights weights,
                               hitl_agreement *out, hitl_error *err)
{
    size_t n_annotators = table->n_annotators, n_labels = table->n_labels;
    int64_t *confusion = hitl__zalloc_array(table->n_confusion, sizeof(int64_t));
    int64_t *count_a = hitl__zalloc_array(2 * n_labels, sizeof(int64_t));
    out->pairs = hitl__zalloc_array(table->n_pairs, sizeof(hitl_pair_agreement));
    if (!confusion || !count_a || !out->pairs) {
        free(confusion);
        free(count_a);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    int64_t *count_b = count_a + n_labels;
    size_t n_met = 0;
    for (size_t a = 0; a < n_annotators; a++)
        for (size_t b = a + 1; b < n_annotators; b++) {
            pair_confusion(table, hitl__pair_index(n_annotators, a, b), confusion);
            hitl__pair_stats stats = confusion_stats(confusion, n_labels, count_a, count_b);
            if (stats.n > 0)
                hitl__pair_result(&out->pairs[n_met++], (int32_t)a, (int32_t)b, &stats, count_a,
                                  count_b, n_labels, weights);
        }
    out->n_pairs = n_met;
    free(confusion);
    free(count_a);
    return HITL_OK;
}

/* The ordered label pairs [L x L] within the items of n_on_item ratings: O_m = sum over
 * pairs p of (T_mp + T_mp'), T_mp pair p's counts there (m = n_on_item). */
static void ordered_pairs(const hitl__pair_table *table, size_t n_on_item, int64_t *ordered)
{
    size_t n_labels = table->n_labels;
    memset(ordered, 0, table->n_confusion * sizeof(int64_t));
    for (size_t pair = 0; pair < table->n_pairs; pair++) {
        const int64_t *of_pair =
            table->count + ((n_on_item - 2) * table->n_pairs + pair) * table->n_confusion;
        for (size_t i = 0; i < n_labels; i++)
            for (size_t j = 0; j < n_labels; j++) {
                ordered[i * n_labels + j] += of_pair[i * n_labels + j];
                ordered[j * n_labels + i] += of_pair[i * n_labels + j];
            }
    }
}

/* The multiset sums (sums->pi_num and pl zeroed, L each), the pairable margins margin[L] and
 * the coincidence matrix o_ck[L x L] (both zeroed) from the table; ordered: L^2 scratch. */
static void table_multiset_sums(const hitl__pair_table *table, hitl__multiset_sums *sums,
                                double *margin, double *o_ck, int64_t *ordered)
{
    size_t n_labels = table->n_labels;
    const int64_t *by_m = table->count + table->n_cells, *single = by_m + table->max_m + 1;
    double *pi_num = sums->pi_num, *pl = sums->pl;
    for (size_t c = 0; c < n_labels; c++) {
        pi_num[c] = (double)single[c];
        sums->n1 += (double)single[c];
    }
    for (size_t m = 2; m <= table->max_m; m++) {
        if (!by_m[m]) continue;
        double dm = (double)m;
        sums->n1 += (double)by_m[m];
        sums->n2 += (double)by_m[m];
        ordered_pairs(table, m, ordered);
        for (size_t c = 0; c < n_labels; c++) {
            int64_t row = 0;
            for (size_t k = 0; k < n_labels; k++)
                row += ordered[c * n_labels + k];
            int64_t tot = row / (int64_t)(m - 1);      /* sum of r_uc over these items */
            int64_t agree = ordered[c * n_labels + c]; /* sum of r_uc (r_uc - 1) */
            sums->pa_sum += (double)agree / (dm * (dm - 1));
            pi_num[c] += (double)tot / dm;
            pl[c] += (double)(tot * (int64_t)m - agree - tot) / (dm * (dm - 1));
            margin[c] += (double)tot;
            for (size_t k = 0; k < n_labels; k++)
                o_ck[c * n_labels + k] += (double)ordered[c * n_labels + k] / (dm - 1);
        }
    }
}

hitl_status hitl__pair_table_measures(const hitl__pair_table *table, const double *value,
                                      const hitl_agreement_opts *opts, int balanced,
                                      hitl_agreement *out, hitl_error *err)
{
    size_t n_labels = table->n_labels;
    hitl_status st = table_pairs(table, opts->weights, out, err);
    if (st != HITL_OK) return st;
    int64_t *ordered = hitl__zalloc_array(table->n_confusion, sizeof(int64_t));
    double *buf = hitl__zalloc_array(5 * n_labels + table->n_confusion, sizeof(double));
    if (!ordered || !buf) {
        free(ordered);
        free(buf);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    double *margin = buf + 2 * n_labels, *coord = buf + 3 * n_labels, *o_ck = buf + 5 * n_labels;
    hitl__multiset_sums sums = {.pi_num = buf, .pl = buf + n_labels};
    table_multiset_sums(table, &sums, margin, o_ck, ordered);
    sums.de_sum =
        hitl__expected_disagreement(margin, n_labels, opts->level, value, coord, &sums.n_distinct);
    for (size_t c = 0; c < n_labels; c++)
        sums.n_values += margin[c];
    sums.do_sum = hitl__observed_disagreement(o_ck, n_labels, opts->level, value, coord);
    hitl__multiset_coefs(&sums, n_labels, balanced, out->coef, out->per_label);
    free(ordered);
    free(buf);
    return HITL_OK;
}
