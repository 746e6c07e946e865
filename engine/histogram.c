/* Streaming histograms of scores, filled one value at a time, so a report over any number of
 * items holds only its bins. (Its calibration bins are hitl_reliability, engine/calibration.c.) */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
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
