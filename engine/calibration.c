/* Calibration of a model from a blind labelled sample, the only place its numbers are defined:
 * the streaming reliability bins (accuracy with a Wilson interval, ECE, MCE, top-label Brier),
 * and over whole rows equal-mass ECE, multiclass Brier, NLL, per-class scores and a temperature. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

/* Sources:
 * - Wilson, E. B. (1927), J. Am. Stat. Assoc. 22:209-212 (the score interval).
 * - ECE / MCE / reliability: Naeini, Cooper & Hauskrecht (2015), AAAI; Guo, Pleiss, Sun &
 *   Weinberger (2017), "On Calibration of Modern Neural Networks", ICML (top-label confidence,
 *   bins ((b-1)/B, b/B], ECE = sum_b |B_b|/n |acc_b - conf_b|; temperature scaling).
 * - Equal-mass bins: Nixon et al. (2019), "Measuring Calibration in Deep Learning", CVPR
 *   workshops (adaptive binning): rows sorted by confidence (ties by row), bin b holds ranks
 *   [floor(b n / B), floor((b + 1) n / B)).
 * - Brier (1950), Monthly Weather Review 78:1-3: the multiclass score sum_c (p_c - [y = c])^2;
 *   the top-label score (conf - correct)^2 is his score of the binary forecast "the top class".
 * - NLL: -mean ln p_y, with p_y clamped to at least 1e-15 so that a zero is finite. */

#define MAX_BINS        1000000
#define DEFAULT_SUM_TOL 1e-3
#define Z95             1.959963984540054
#define NLL_EPS         1e-15
#define T_MIN           0.01
#define T_MAX           100.0
#define GOLDEN_TOL      1e-7

void hitl_calibration_release(hitl_calibration *cal)
{
    if (!cal) return;
    free(cal->bins);
    free(cal->mass_bins);
    free(cal->per_class);
    free(cal->confusion);
    memset(cal, 0, sizeof(*cal));
}

hitl_interval hitl_wilson_interval(int64_t k, int64_t n, double z)
{
    hitl_interval iv = {NAN, NAN};
    if (n <= 0 || k < 0 || k > n) return iv;
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    iv.lo = centre - half;
    iv.hi = centre + half;
    if (iv.lo < 0) iv.lo = 0;
    if (iv.hi > 1) iv.hi = 1;
    return iv;
}

/* Equal-width bin of a confidence in [0, 1]: b with b/B < conf <= (b+1)/B (0 goes to bin 0). */
static size_t width_bin(double conf, size_t B)
{
    double x = ceil(conf * (double)B) - 1;
    size_t b = x < 0 ? 0 : x > (double)(B - 1) ? B - 1 : (size_t)x;
    /* conf * B may round across an edge: settle against the edges themselves */
    while (b > 0 && conf <= (double)b / (double)B)
        b--;
    while (b + 1 < B && conf > (double)(b + 1) / (double)B)
        b++;
    return b;
}

void hitl_reliability_release(hitl_reliability *r)
{
    if (!r) return;
    free(r->count);
    free(r->hits);
    free(r->conf_sum);
    memset(r, 0, sizeof(*r));
}

hitl_status hitl_reliability_init(hitl_reliability *r, size_t bins, hitl_error *err)
{
    if (!r) return hitl_error_set(err, HITL_EINVAL, "no reliability accumulator given");
    memset(r, 0, sizeof(*r));
    if (bins == 0 || bins > MAX_BINS)
        return hitl_error_set(err, HITL_EINVAL, "reliability needs 1..%d bins, got %zu", MAX_BINS,
                              bins);
    r->count = calloc(bins, sizeof(int64_t));
    r->hits = calloc(bins, sizeof(int64_t));
    r->conf_sum = calloc(bins, sizeof(double));
    if (!r->count || !r->hits || !r->conf_sum) {
        hitl_reliability_release(r);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu bins", bins);
    }
    r->bins = bins;
    return HITL_OK;
}

void hitl_reliability_add(hitl_reliability *r, double confidence, int correct)
{
    if (!(confidence >= 0 && confidence <= 1)) {
        r->skipped++;
        return;
    }
    size_t b = width_bin(confidence, r->bins);
    int hit = correct != 0;
    r->count[b]++;
    r->hits[b] += hit;
    r->conf_sum[b] += confidence;
    r->n++;
    r->correct += hit;
    r->brier_sum += (confidence - hit) * (confidence - hit);
}

hitl_calib_bin hitl_reliability_bin(const hitl_reliability *r, size_t b)
{
    double B = (double)r->bins;
    hitl_calib_bin x = {(double)b / B, (double)(b + 1) / B, r->count[b], NAN, NAN};
    if (x.count) {
        x.confidence = r->conf_sum[b] / (double)x.count;
        x.accuracy = (double)r->hits[b] / (double)x.count;
    }
    return x;
}

void hitl_reliability_summarize(const hitl_reliability *r, hitl_reliability_summary *out)
{
    *out = (hitl_reliability_summary){.n = r->n,
                                      .bins = r->bins,
                                      .accuracy = NAN,
                                      .accuracy_ci = hitl_wilson_interval(r->correct, r->n, Z95),
                                      .ece = NAN,
                                      .mce = NAN,
                                      .brier_top_label = NAN,
                                      .confidence = NAN};
    if (r->n == 0) return;
    double n = (double)r->n, e = 0, m = 0, conf = 0;
    for (size_t b = 0; b < r->bins; b++) {
        if (!r->count[b]) continue;
        double gap = fabs((double)r->hits[b] - r->conf_sum[b]); /* n_b |acc_b - conf_b| */
        e += gap;
        gap /= (double)r->count[b];
        if (gap > m) m = gap;
        conf += r->conf_sum[b];
    }
    out->accuracy = (double)r->correct / n;
    out->ece = e / n;
    out->mce = m;
    out->brier_top_label = r->brier_sum / n;
    out->confidence = conf / n;
}

typedef struct row_info {
    double conf;
    int32_t pred;
    int32_t correct;
    size_t row;
} row_info;

static int cmp_conf(const void *a, const void *b)
{
    const row_info *x = a, *y = b;
    if (x->conf != y->conf) return x->conf < y->conf ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Mean NLL of softmax(z / T) where z = ln max(p, 1e-15), over rows with labels. */
static double nll_at(const double *z, const int32_t *labels, size_t n, size_t c, double t)
{
    double sum = 0, inv = 1.0 / t;
    for (size_t i = 0; i < n; i++) {
        const double *zi = z + i * c;
        double mx = -INFINITY, s = 0;
        for (size_t k = 0; k < c; k++)
            if (zi[k] > mx) mx = zi[k];
        for (size_t k = 0; k < c; k++)
            s += exp((zi[k] - mx) * inv);
        sum += log(s) - (zi[labels[i]] - mx) * inv;
    }
    return sum / (double)n;
}

/* The NLL is convex in 1/T (a log-sum-exp of linear functions minus a linear one), hence
 * unimodal in ln T: golden-section search on ln T over [ln 0.01, ln 100] finds its minimum. The
 * ECE after scaling comes from `rel` (empty, out->n_bins bins). */
static void fit_temperature(const double *probs, const int32_t *labels, size_t n, size_t c,
                            const row_info *ri, hitl_calibration *out, double *z,
                            hitl_reliability *rel)
{
    for (size_t i = 0; i < n * c; i++)
        z[i] = log(probs[i] > NLL_EPS ? probs[i] : NLL_EPS);
    const double g = (sqrt(5.0) - 1) / 2;
    double a = log(T_MIN), b = log(T_MAX);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    double f1 = nll_at(z, labels, n, c, exp(x1)), f2 = nll_at(z, labels, n, c, exp(x2));
    int it = 0;
    while (b - a > GOLDEN_TOL && it < 200) {
        it++;
        if (f1 <= f2) {
            b = x2;
            x2 = x1;
            f2 = f1;
            x1 = b - g * (b - a);
            f1 = nll_at(z, labels, n, c, exp(x1));
        } else {
            a = x1;
            x1 = x2;
            f1 = f2;
            x2 = a + g * (b - a);
            f2 = nll_at(z, labels, n, c, exp(x2));
        }
    }
    double lt = (a + b) / 2, t = exp(lt);
    out->temperature_fitted = 1;
    out->temperature = t;
    out->temperature_iterations = it;
    out->temperature_at_bound = lt - log(T_MIN) < 1e-5 || log(T_MAX) - lt < 1e-5;
    out->nll_scaled = nll_at(z, labels, n, c, t);
    /* the scaled confidence is 1 / sum_k exp((z_k - z_max) / T); the argmax does not move */
    for (size_t i = 0; i < n; i++) {
        const double *zi = z + i * c;
        double mx = -INFINITY, s = 0;
        for (size_t k = 0; k < c; k++)
            if (zi[k] > mx) mx = zi[k];
        for (size_t k = 0; k < c; k++)
            s += exp((zi[k] - mx) / t);
        hitl_reliability_add(rel, 1.0 / s, ri[i].correct);
    }
    hitl_reliability_summary sum;
    hitl_reliability_summarize(rel, &sum);
    out->ece_scaled = sum.ece;
}

/* Every row is a distribution over c classes (within tol) with a label in [0, c). */
static hitl_status check_rows(const double *probs, const int32_t *labels, size_t n, size_t c,
                              double tol, hitl_error *err)
{
    for (size_t i = 0; i < n; i++) {
        const double *p = probs + i * c;
        double sum = 0;
        hitl_status st = HITL_OK;
        for (size_t k = 0; k < c && st == HITL_OK; k++) {
            if (!isfinite(p[k]) || p[k] < 0)
                st = hitl_error_set(err, HITL_EDATA, "row %zu: probability %g of class %zu is %s",
                                    i, p[k], k, isfinite(p[k]) ? "negative" : "not finite");
            sum += p[k];
        }
        if (st == HITL_OK && fabs(sum - 1) > tol)
            st = hitl_error_set(err, HITL_EDATA, "row %zu: probabilities sum to %.6g, not 1", i,
                                sum);
        if (st == HITL_OK && (labels[i] < 0 || (size_t)labels[i] >= c))
            st = hitl_error_set(err, HITL_EDATA, "row %zu: label %d outside [0, %zu)", i, labels[i],
                                c);
        if (st != HITL_OK) {
            if (err) err->row = (int64_t)i;
            return st;
        }
    }
    return HITL_OK;
}

/* Equal-mass bins over the rows sorted by confidence (then row); returns the ECE. */
static double equal_mass(const row_info *sorted, size_t n, size_t B, hitl_calib_bin *bins)
{
    double ece = 0;
    for (size_t b = 0; b < B; b++) {
        size_t s = (size_t)((unsigned __int128)b * n / B);
        size_t e = (size_t)((unsigned __int128)(b + 1) * n / B);
        hitl_calib_bin *bin = &bins[b];
        *bin = (hitl_calib_bin){NAN, NAN, (int64_t)(e > s ? e - s : 0), NAN, NAN};
        if (e <= s) continue;
        double sc = 0, sa = 0;
        for (size_t i = s; i < e; i++) {
            sc += sorted[i].conf;
            sa += sorted[i].correct;
        }
        bin->lo = sorted[s].conf;
        bin->hi = sorted[e - 1].conf;
        bin->confidence = sc / (double)(e - s);
        bin->accuracy = sa / (double)(e - s);
        ece += fabs(sa - sc);
    }
    return ece / (double)n;
}

hitl_status hitl_calibration_compute(const double *probs, const int32_t *labels, size_t n, size_t c,
                                     const hitl_calib_opts *opts, hitl_calibration *out,
                                     hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!probs || !labels) return hitl_error_set(err, HITL_EINVAL, "no probabilities or labels");
    if (n == 0) return hitl_error_set(err, HITL_EINVAL, "no rows");
    if (c < 2 || c > INT32_MAX) return hitl_error_set(err, HITL_EINVAL, "need at least 2 classes");
    hitl_calib_opts o = opts ? *opts : (hitl_calib_opts){0};
    size_t B = o.bins ? o.bins : HITL_CALIB_BINS;
    double tol = o.sum_tolerance > 0 ? o.sum_tolerance : DEFAULT_SUM_TOL;
    if (B > MAX_BINS) return hitl_error_set(err, HITL_EINVAL, "too many bins (%zu)", B);
    if (n > SIZE_MAX / c) return hitl_error_set(err, HITL_EINVAL, "too many rows");
    hitl_status st = check_rows(probs, labels, n, c, tol, err);
    if (st != HITL_OK) return st;

    hitl_reliability rel = {0}, scaled = {0};
    st = hitl_reliability_init(&rel, B, err);
    if (st == HITL_OK && o.fit_temperature) st = hitl_reliability_init(&scaled, B, err);
    row_info *ri = malloc(n * sizeof(*ri));
    out->bins = calloc(B, sizeof(hitl_calib_bin));
    out->mass_bins = calloc(B, sizeof(hitl_calib_bin));
    out->per_class = calloc(c, sizeof(hitl_class_metrics));
    out->confusion = calloc(c * c, sizeof(int64_t));
    double *z = NULL;
    if (o.fit_temperature && n * c <= SIZE_MAX / sizeof(double)) z = malloc(n * c * sizeof(double));
    if (st != HITL_OK || !ri || !out->bins || !out->mass_bins || !out->per_class ||
        !out->confusion || (o.fit_temperature && !z)) {
        free(ri);
        free(z);
        hitl_reliability_release(&rel);
        hitl_reliability_release(&scaled);
        hitl_calibration_release(out);
        return st != HITL_OK ? st
                             : hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu rows", n);
    }

    double brier = 0, nll = 0;
    for (size_t i = 0; i < n; i++) {
        const double *p = probs + i * c;
        size_t best = 0;
        double b = 0;
        for (size_t k = 0; k < c; k++) {
            if (p[k] > p[best]) best = k;
            double d = p[k] - (k == (size_t)labels[i]);
            b += d * d;
        }
        brier += b;
        double py = p[labels[i]];
        nll -= log(py > NLL_EPS ? py : NLL_EPS);
        double conf = p[best] < 1 ? p[best] : 1;
        ri[i] = (row_info){conf, (int32_t)best, best == (size_t)labels[i], i};
        hitl_reliability_add(&rel, conf, ri[i].correct);
        out->confusion[(size_t)labels[i] * c + best]++;
    }
    hitl_reliability_summary sum;
    hitl_reliability_summarize(&rel, &sum);
    out->n = n;
    out->n_classes = c;
    out->n_bins = B;
    out->accuracy = sum.accuracy;
    out->accuracy_ci = sum.accuracy_ci;
    out->ece = sum.ece;
    out->mce = sum.mce;
    out->brier_top_label = sum.brier_top_label;
    out->brier_multiclass = brier / (double)n;
    out->nll = nll / (double)n;
    for (size_t b = 0; b < B; b++)
        out->bins[b] = hitl_reliability_bin(&rel, b);

    for (size_t k = 0; k < c; k++) {
        hitl_class_metrics *m = &out->per_class[k];
        for (size_t j = 0; j < c; j++) {
            m->support += out->confusion[k * c + j];
            m->predicted += out->confusion[j * c + k];
        }
        m->correct = out->confusion[k * c + k];
        m->precision = m->predicted ? (double)m->correct / (double)m->predicted : NAN;
        m->recall = m->support ? (double)m->correct / (double)m->support : NAN;
        double s = m->precision + m->recall;
        m->f1 = isnan(s) ? NAN : s > 0 ? 2 * m->precision * m->recall / s : 0;
    }

    if (o.fit_temperature) /* before sorting: ri[] is still in row order */
        fit_temperature(probs, labels, n, c, ri, out, z, &scaled);

    qsort(ri, n, sizeof(*ri), cmp_conf);
    out->ece_equal_mass = equal_mass(ri, n, B, out->mass_bins);
    free(ri);
    free(z);
    hitl_reliability_release(&rel);
    hitl_reliability_release(&scaled);
    return HITL_OK;
}
