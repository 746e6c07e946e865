/* The agreement coefficients from exact counts, whichever path gathered them: Cohen's kappa per
 * pair, percent agreement, Scott's pi, Fleiss' kappa, Gwet's AC1, Krippendorff's alpha at four
 * levels, per-label kappa, and the bootstrap's percentile intervals. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

/* Definitions followed (the tests reproduce each source's worked example):
 * - Cohen's kappa: Cohen (1960), Educ. Psychol. Meas. 20:37-46; weighted: Cohen (1968), Psychol.
 *   Bull. 70:213-220, in the disagreement form 1 - sum v_ij n_ij / sum v_ij r_i c_j / n with
 *   v = [i != j], |i - j| or (i - j)^2 on label ranks (as scikit-learn's cohen_kappa_score).
 * - Krippendorff's alpha: Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability",
 *   Annenberg School for Communication: the coincidence matrix o_ck = sum_u (number of ordered
 *   pairs (c, k) in unit u) / (m_u - 1) over units with m_u >= 2, n_c its margins, and the
 *   metrics nominal [c != k], ordinal (sum_{g=c..k} n_g - (n_c + n_k) / 2)^2, interval
 *   (c - k)^2, ratio ((c - k) / (c + k))^2. The ordinal metric equals (M_k - M_c)^2 with
 *   M_c = sum_{g<c} n_g + n_c / 2, so the ordinal and interval levels need O(L), not O(L^2).
 * - Fleiss' kappa: Fleiss (1971), Psychol. Bull. 76:378-382, for a fixed number of ratings per
 *   item; per-category kappa kappa_j = 1 - sum_i n_ij (m - n_ij) / (N m (m - 1) p_j q_j) there,
 *   which is the label-vs-rest form used for per_label.
 * - Scott's pi: Scott (1955), Public Opinion Quarterly 19:321-325, for two raters; for many
 *   raters and missing ratings the Fleiss form of Gwet (2014), Handbook of Inter-Rater
 *   Reliability, 4th ed., ch. 5: pa over items with >= 2 ratings, pi_c the mean over rated items
 *   of r_ic / r_i, pe = sum pi_c^2. It equals Fleiss' kappa when every item has m ratings.
 * - Gwet's AC1: Gwet (2008), Br. J. Math. Stat. Psychol. 61:29-48, with missing ratings as in
 *   Gwet (2014): same pa and pi_c, pe = sum pi_c (1 - pi_c) / (q - 1), q = the table's labels.
 * All inputs are exact integer counts (or sums of ratios of them in a fixed order), so no
 * coefficient depends on the path or the thread count. */

/* ---- Cohen's kappa ------------------------------------------------------------------------- */

/* sum_ij count_a[i] count_b[j] |i - j| over labels [0, n_labels), in O(L) with running prefix
 * sums of count_b: the linear weights' expected disagreement times n. */
static double linear_spread(const int64_t *count_a, const int64_t *count_b, size_t n_labels)
{
    double total_c = 0, total_s = 0, cum_c = 0, cum_s = 0, sum = 0;
    for (size_t j = 0; j < n_labels; j++) {
        total_c += (double)count_b[j];
        total_s += (double)count_b[j] * (double)j;
    }
    for (size_t i = 0; i < n_labels; i++) {
        cum_c += (double)count_b[i];
        cum_s += (double)count_b[i] * (double)i;
        if (!count_a[i]) continue;
        double rank = (double)i;
        double below = rank * cum_c - cum_s, above = (total_s - cum_s) - rank * (total_c - cum_c);
        sum += (double)count_a[i] * (below + above);
    }
    return sum;
}

/* sum_ij count_a[i] count_b[j] (i - j)^2 / n, centred: n var_a + n var_b + n (mu_a - mu_b)^2,
 * the quadratic weights' expected disagreement. */
static double quadratic_spread(const int64_t *count_a, const int64_t *count_b, size_t n_labels,
                               double n_items)
{
    double mean_a = 0, mean_b = 0, var_a = 0, var_b = 0;
    for (size_t c = 0; c < n_labels; c++) {
        mean_a += (double)count_a[c] * (double)c;
        mean_b += (double)count_b[c] * (double)c;
    }
    mean_a /= n_items;
    mean_b /= n_items;
    for (size_t c = 0; c < n_labels; c++) {
        var_a += (double)count_a[c] * ((double)c - mean_a) * ((double)c - mean_a);
        var_b += (double)count_b[c] * ((double)c - mean_b) * ((double)c - mean_b);
    }
    return var_a + var_b + n_items * (mean_a - mean_b) * (mean_a - mean_b);
}

double hitl__cohen_kappa(const hitl__pair_stats *stats, const int64_t *count_a,
                         const int64_t *count_b, size_t n_labels, hitl_weights weights)
{
    if (stats->n <= 0) return NAN;
    double n_items = (double)stats->n, observed, expected = 0;
    if (weights == HITL_WEIGHTS_NONE) {
        observed = (double)(stats->n - stats->eq);
        double same = 0;
        for (size_t c = 0; c < n_labels; c++)
            same += (double)count_a[c] * (double)count_b[c];
        expected = n_items - same / n_items;
    } else if (weights == HITL_WEIGHTS_QUADRATIC) {
        observed = (double)stats->d2;
        expected = quadratic_spread(count_a, count_b, n_labels, n_items);
    } else {
        observed = (double)stats->d1;
        expected = linear_spread(count_a, count_b, n_labels) / n_items;
    }
    if (!(expected > 0)) return NAN;
    return 1.0 - observed / expected;
}

void hitl__pair_result(hitl_pair_agreement *out, int32_t a, int32_t b,
                       const hitl__pair_stats *stats, const int64_t *count_a,
                       const int64_t *count_b, size_t n_labels, hitl_weights weights)
{
    out->a = a;
    out->b = b;
    out->n = stats->n;
    out->agreement = stats->n > 0 ? (double)stats->eq / (double)stats->n : NAN;
    out->kappa = hitl__cohen_kappa(stats, count_a, count_b, n_labels, weights);
}

/* ---- the multiset measures ------------------------------------------------------------------ */

void hitl__multiset_coefs(const hitl__multiset_sums *sums, size_t n_labels, int balanced,
                          double *coef, double *per_label)
{
    double pa = sums->n2 > 0 ? sums->pa_sum / sums->n2 : NAN;
    double pe_scott = 0, pe_ac1 = 0;
    for (size_t c = 0; c < n_labels; c++) {
        double share = sums->pi_num[c] / sums->n1;
        pe_scott += share * share;
        pe_ac1 += share * (1 - share);
    }
    coef[HITL_COEF_PERCENT] = pa;
    coef[HITL_COEF_SCOTT] = 1 - pe_scott > 1e-15 ? (pa - pe_scott) / (1 - pe_scott) : NAN;
    coef[HITL_COEF_FLEISS] = balanced ? coef[HITL_COEF_SCOTT] : NAN;
    pe_ac1 = n_labels >= 2 ? pe_ac1 / (double)(n_labels - 1) : NAN;
    coef[HITL_COEF_AC1] = n_labels >= 2 ? (pa - pe_ac1) / (1 - pe_ac1) : NAN;
    coef[HITL_COEF_ALPHA] = sums->n_values >= 2 && sums->n_distinct >= 2 && sums->de_sum > 0
                                ? 1 - (sums->n_values - 1) * sums->do_sum / sums->de_sum
                                : NAN;
    for (size_t c = 0; per_label && c < n_labels; c++) {
        double share = sums->pi_num[c] / sums->n1, rest = 1 - share;
        double pa_c = 1 - 2 * sums->pl[c] / sums->n2, pe_c = share * share + rest * rest;
        per_label[c] = share > 0 && rest > 0 && sums->n2 > 0 ? (pa_c - pe_c) / (1 - pe_c) : NAN;
    }
}

/* ---- Krippendorff's disagreements ----------------------------------------------------------- */

double hitl__expected_disagreement(const double *margin, size_t n_labels, hitl_level level,
                                   const double *value, double *coord, size_t *n_distinct)
{
    double n_values = 0, sum_sq = 0;
    size_t distinct = 0;
    for (size_t c = 0; c < n_labels; c++) {
        n_values += margin[c];
        sum_sq += margin[c] * margin[c];
        distinct += margin[c] > 0;
    }
    *n_distinct = distinct;
    if (level == HITL_LEVEL_NOMINAL) return n_values * n_values - sum_sq;
    if (level == HITL_LEVEL_RATIO) {
        double de = 0;
        for (size_t c = 0; c < n_labels; c++) {
            if (margin[c] == 0) continue;
            for (size_t k = c + 1; k < n_labels; k++) {
                if (margin[k] == 0) continue;
                double ratio = hitl__ratio_diff(value[c], value[k]);
                de += 2 * margin[c] * margin[k] * ratio * ratio;
            }
        }
        return de;
    }
    double cum = 0, mean = 0, de = 0;
    for (size_t c = 0; c < n_labels; c++) {
        if (level == HITL_LEVEL_ORDINAL) {
            coord[c] = cum + margin[c] / 2;
            cum += margin[c];
        } else {
            coord[c] = value[c];
        }
        mean += margin[c] * coord[c];
    }
    mean = n_values > 0 ? mean / n_values : 0;
    for (size_t c = 0; c < n_labels; c++)
        de += margin[c] * (coord[c] - mean) * (coord[c] - mean);
    return 2 * n_values * de;
}

double hitl__observed_disagreement(const double *o_ck, size_t n_labels, hitl_level level,
                                   const double *value, const double *coord)
{
    double do_sum = 0;
    for (size_t c = 0; c < n_labels; c++)
        for (size_t k = 0; k < n_labels; k++) {
            double metric;
            if (c == k) continue;
            if (level == HITL_LEVEL_NOMINAL) {
                metric = 1;
            } else if (level == HITL_LEVEL_RATIO) {
                metric = hitl__ratio_diff(value[c], value[k]);
                metric *= metric;
            } else {
                metric = (coord[c] - coord[k]) * (coord[c] - coord[k]);
            }
            do_sum += o_ck[c * n_labels + k] * metric;
        }
    return do_sum;
}

/* ---- the bootstrap's intervals --------------------------------------------------------------- */

/* qsort order of doubles, ascending (no NaN here). */
static int cmp_double(const void *pa, const void *pb)
{
    double x = *(const double *)pa, y = *(const double *)pb;
    return (x > y) - (x < y);
}

/* numpy's default ("linear", type 7) quantile q of sorted[0 .. n). */
static double quantile(const double *sorted, size_t n, double q)
{
    double position = (double)(n - 1) * q;
    size_t lo = (size_t)floor(position);
    if (lo + 1 >= n) return sorted[n - 1];
    return sorted[lo] + (position - (double)lo) * (sorted[lo + 1] - sorted[lo]);
}

void hitl__percentile_intervals(const double *coefs, size_t n_resamples, double *column,
                                hitl_interval *ci)
{
    for (int c = 0; c < HITL_COEF_COUNT; c++) {
        size_t n_finite = 0;
        for (size_t b = 0; b < n_resamples; b++) {
            double coef = coefs[b * HITL_COEF_COUNT + c];
            if (isfinite(coef)) column[n_finite++] = coef;
        }
        if (n_finite < 2) {
            ci[c].lo = ci[c].hi = NAN;
            continue;
        }
        qsort(column, n_finite, sizeof(double), cmp_double);
        ci[c].lo = quantile(column, n_finite, 0.025);
        ci[c].hi = quantile(column, n_finite, 0.975);
    }
}
