/* The report's streaming accumulators: equal-width histograms and top-label reliability bins
 * (accuracy with a Wilson interval, ECE, MCE, Brier) filled one item at a time, so a report over
 * any number of items holds only its bins. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_nbexport.h"
#include "hitl_banned.h"

hitl_status hitl_histogram_init(hitl_histogram *h, double lo, double hi, size_t bins,
                                hitl_error *err)
{
    memset(h, 0, sizeof(*h));
    if (!isfinite(lo) || !isfinite(hi) || !(lo < hi))
        return hitl_error_set(err, HITL_EINVAL, "histogram range [%g, %g] is empty", lo, hi);
    if (bins == 0 || bins > 100000)
        return hitl_error_set(err, HITL_EINVAL, "histogram needs 1..100000 bins, got %zu", bins);
    if (!(h->count = calloc(bins, sizeof(int64_t))))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    h->lo = lo;
    h->hi = hi;
    h->bins = bins;
    return HITL_OK;
}

void hitl_histogram_add(hitl_histogram *h, double v)
{
    if (isnan(v)) {
        h->nan++;
        return;
    }
    if (v < h->lo) {
        h->below++;
        return;
    }
    if (v > h->hi) {
        h->above++;
        return;
    }
    double x = (v - h->lo) / (h->hi - h->lo) * (double)h->bins;
    size_t b = x >= (double)h->bins ? h->bins - 1 : (size_t)x;
    h->count[b]++;
    h->n++;
}

void hitl_histogram_release(hitl_histogram *h)
{
    if (!h) return;
    free(h->count);
    memset(h, 0, sizeof(*h));
}

hitl_status hitl_reliability_init(hitl_reliability *r, size_t bins, hitl_error *err)
{
    memset(r, 0, sizeof(*r));
    if (bins == 0 || bins > 10000)
        return hitl_error_set(err, HITL_EINVAL, "reliability needs 1..10000 bins, got %zu", bins);
    r->count = calloc(bins, sizeof(int64_t));
    r->hits = calloc(bins, sizeof(int64_t));
    r->conf_sum = calloc(bins, sizeof(double));
    if (!r->count || !r->hits || !r->conf_sum) {
        hitl_reliability_release(r);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    r->bins = bins;
    return HITL_OK;
}

void hitl_reliability_release(hitl_reliability *r)
{
    if (!r) return;
    free(r->count);
    free(r->hits);
    free(r->conf_sum);
    memset(r, 0, sizeof(*r));
}

/* b with b/B < conf <= (b+1)/B, 0 in bin 0: the engine's calibration binning. */
static size_t width_bin(double conf, size_t B)
{
    double x = ceil(conf * (double)B) - 1;
    size_t b = x < 0 ? 0 : x > (double)(B - 1) ? B - 1 : (size_t)x;
    while (b > 0 && conf <= (double)b / (double)B)
        b--;
    while (b + 1 < B && conf > (double)(b + 1) / (double)B)
        b++;
    return b;
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

void hitl_reliability_summarize(const hitl_reliability *r, hitl_reliability_summary *out)
{
    memset(out, 0, sizeof(*out));
    out->n = r->n;
    out->accuracy_ci = hitl_wilson_interval(r->correct, r->n, 1.959963984540054);
    if (r->n == 0) {
        out->accuracy = out->ece = out->mce = out->brier = out->confidence = NAN;
        return;
    }
    double n = (double)r->n, conf = 0;
    for (size_t b = 0; b < r->bins; b++) {
        if (!r->count[b]) continue;
        double nb = (double)r->count[b];
        double gap = fabs((double)r->hits[b] / nb - r->conf_sum[b] / nb);
        out->ece += nb / n * gap;
        if (gap > out->mce) out->mce = gap;
        conf += r->conf_sum[b];
    }
    out->accuracy = (double)r->correct / n;
    out->brier = r->brier_sum / n;
    out->confidence = conf / n;
}
