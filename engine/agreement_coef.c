/* The agreement coefficients from exact counts, whichever path gathered them: Cohen's kappa per
 * pair, percent agreement, Scott's pi, Fleiss' kappa, Gwet's AC1, Krippendorff's alpha at four
 * levels, per-label kappa, and the bootstrap's percentile intervals. */
#include <math.h>
#include <stdint.h>

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

/* ---- Cohen's kappa from sufficient statistics --------------------------------------------- */
double hitl__cohen_kappa(const hitl__pair_stats *s, const int64_t *ra, const int64_t *cb, size_t L,
                         hitl_weights w)
{
    if (s->n <= 0) return NAN;
    double n = (double)s->n, obs, expd = 0;
    if (w == HITL_WEIGHTS_NONE) {
        obs = (double)(s->n - s->eq);
        double same = 0;
        for (size_t c = 0; c < L; c++)
            same += (double)ra[c] * (double)cb[c];
        expd = n - same / n;
    } else if (w == HITL_WEIGHTS_QUADRATIC) {
        obs = (double)s->d2;
        /* sum_ij r_i c_j (i - j)^2 / n, centred: n var_r + n var_c + n (mu_r - mu_c)^2 */
        double mr = 0, mc = 0, vr = 0, vc = 0;
        for (size_t c = 0; c < L; c++) {
            mr += (double)ra[c] * (double)c;
            mc += (double)cb[c] * (double)c;
        }
        mr /= n;
        mc /= n;
        for (size_t c = 0; c < L; c++) {
            vr += (double)ra[c] * ((double)c - mr) * ((double)c - mr);
            vc += (double)cb[c] * ((double)c - mc) * ((double)c - mc);
        }
        expd = vr + vc + n * (mr - mc) * (mr - mc);
    } else {
        obs = (double)s->d1;
        /* sum_i r_i sum_j c_j |i - j| with running prefix sums of c */
        double total_c = 0, total_s = 0, cum_c = 0, cum_s = 0, sum = 0;
        for (size_t j = 0; j < L; j++) {
            total_c += (double)cb[j];
            total_s += (double)cb[j] * (double)j;
        }
        for (size_t i = 0; i < L; i++) {
            cum_c += (double)cb[i];
            cum_s += (double)cb[i] * (double)i;
            if (!ra[i]) continue;
            double x = (double)i;
            double below = x * cum_c - cum_s, above = (total_s - cum_s) - x * (total_c - cum_c);
            sum += (double)ra[i] * (below + above);
        }
        expd = sum / n;
    }
    if (!(expd > 0)) return NAN;
    return 1.0 - obs / expd;
}

void hitl__pair_result(hitl_pair_agreement *out, int32_t a, int32_t b, const hitl__pair_stats *s,
                       const int64_t *ra, const int64_t *cb, size_t L, hitl_weights w)
{
    out->a = a;
    out->b = b;
    out->n = s->n;
    out->agreement = s->n > 0 ? (double)s->eq / (double)s->n : NAN;
    out->kappa = hitl__cohen_kappa(s, ra, cb, L, w);
}

/* ---- the multiset measures from their sufficient statistics ------------------------------- */
void hitl__multiset_coefs(const hitl__multiset_sums *s, size_t L, int balanced, double *coef,
                          double *per_label)
{
    double pa = s->n2 > 0 ? s->pa_sum / s->n2 : NAN;
    double pe_scott = 0, pe_ac1 = 0;
    for (size_t c = 0; c < L; c++) {
        double p = s->pi_num[c] / s->n1;
        pe_scott += p * p;
        pe_ac1 += p * (1 - p);
    }
    coef[HITL_COEF_PERCENT] = pa;
    coef[HITL_COEF_SCOTT] = 1 - pe_scott > 1e-15 ? (pa - pe_scott) / (1 - pe_scott) : NAN;
    coef[HITL_COEF_FLEISS] = balanced ? coef[HITL_COEF_SCOTT] : NAN;
    pe_ac1 = L >= 2 ? pe_ac1 / (double)(L - 1) : NAN;
    coef[HITL_COEF_AC1] = L >= 2 ? (pa - pe_ac1) / (1 - pe_ac1) : NAN;
    coef[HITL_COEF_ALPHA] = s->n_values >= 2 && s->n_distinct >= 2 && s->de_sum > 0
                                ? 1 - (s->n_values - 1) * s->do_sum / s->de_sum
                                : NAN;
    for (size_t c = 0; per_label && c < L; c++) {
        double p = s->pi_num[c] / s->n1, q = 1 - p;
        double pac = 1 - 2 * s->pl[c] / s->n2, pec = p * p + q * q;
        per_label[c] = p > 0 && q > 0 && s->n2 > 0 ? (pac - pec) / (1 - pec) : NAN;
    }
}

/* ---- Krippendorff's expected disagreement ------------------------------------------------- */
double hitl__expected_disagreement(const double *nc, size_t L, hitl_level level,
                                   const double *value, double *x, size_t *n_distinct)
{
    double n = 0, sq = 0;
    size_t distinct = 0;
    for (size_t c = 0; c < L; c++) {
        n += nc[c];
        sq += nc[c] * nc[c];
        distinct += nc[c] > 0;
    }
    *n_distinct = distinct;
    if (level == HITL_LEVEL_NOMINAL) return n * n - sq;
    if (level == HITL_LEVEL_RATIO) {
        double de = 0;
        for (size_t c = 0; c < L; c++) {
            if (nc[c] == 0) continue;
            for (size_t k = c + 1; k < L; k++) {
                if (nc[k] == 0) continue;
                double s = value[c] + value[k];
                double d = s != 0 ? (value[c] - value[k]) / s : 0;
                de += 2 * nc[c] * nc[k] * d * d;
            }
        }
        return de;
    }
    double cum = 0, mean = 0, de = 0;
    for (size_t c = 0; c < L; c++) {
        if (level == HITL_LEVEL_ORDINAL) {
            x[c] = cum + nc[c] / 2;
            cum += nc[c];
        } else {
            x[c] = value[c];
        }
        mean += nc[c] * x[c];
    }
    mean = n > 0 ? mean / n : 0;
    for (size_t c = 0; c < L; c++)
        de += nc[c] * (x[c] - mean) * (x[c] - mean);
    return 2 * n * de;
}
