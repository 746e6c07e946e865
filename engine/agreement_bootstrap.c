/* Bootstrap intervals: each resample draws items with replacement through the label patterns
 * (Walker's alias table, O(1) a draw), so a resample only changes how often each pattern occurs. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agreement_impl.h"
#include "hitl_banned.h"

#define BOOT_SEED_MIX 0x9E3779B97F4A7C15ull

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default ("linear", type 7) quantile of sorted v[0..n) */
static double quantile(const double *v, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return v[n - 1];
    return v[lo] + (h - (double)lo) * (v[lo + 1] - v[lo]);
}

/* Walker's alias table (Vose's construction) in integers: drawing bucket j uniformly from P,
 * then x uniformly from [0, n1), and taking j when x < thr[j], else alias[j], picks pattern i
 * with probability exactly count_i / n1, in O(1). (count_i P units over P buckets of n1.) */
static int alias_build(const hitl__patterns *pt, int64_t n1, int64_t *thr, uint32_t *alias)
{
    size_t P = pt->n_patterns, ns = 0, nl = 0;
    uint32_t *small = hitl__alloc_array(P, sizeof(uint32_t)),
             *large = hitl__alloc_array(P, sizeof(uint32_t));
    if (!small || !large) {
        free(small);
        free(large);
        return -1;
    }
    for (size_t i = 0; i < P; i++) {
        thr[i] = pt->pattern[i].count * (int64_t)P; /* < 2^31 * 2^32 */
        alias[i] = (uint32_t)i;
        if (thr[i] < n1)
            small[ns++] = (uint32_t)i;
        else
            large[nl++] = (uint32_t)i;
    }
    while (ns && nl) {
        uint32_t s = small[--ns], l = large[nl - 1];
        alias[s] = l; /* bucket s: thr[s] units of s, the rest of l */
        thr[l] -= n1 - thr[s];
        if (thr[l] < n1) {
            nl--;
            small[ns++] = l;
        }
    }
    while (nl)
        thr[large[--nl]] = n1;
    while (ns)
        thr[small[--ns]] = n1; /* only from rounding: none with integer weights */
    free(small);
    free(large);
    return 0;
}

hitl_status hitl__bootstrap(const hitl_ratings *r, const hitl_agreement_opts *o,
                            const hitl__patterns *pt, int balanced, int nt, hitl_agreement *out,
                            hitl_error *err)
{
    size_t B = o->bootstrap, P = pt->n_patterns, L = r->n_labels;
    int64_t n1 = P ? pt->cum[P - 1] : 0;
    double *reps = hitl__alloc_array(B, HITL_COEF_COUNT * sizeof(double));
    int64_t *w = hitl__zalloc_array((size_t)nt * P, sizeof(int64_t));
    double *scratch = hitl__zalloc_array((size_t)nt * 5 * L, sizeof(double));
    double *col = hitl__alloc_array(B, sizeof(double));
    int64_t *thr = hitl__alloc_array(P, sizeof(int64_t));
    uint32_t *alias = hitl__alloc_array(P, sizeof(uint32_t));
    if (!reps || !w || !scratch || !col || !thr || !alias || alias_build(pt, n1, thr, alias)) {
        free(reps);
        free(w);
        free(scratch);
        free(col);
        free(thr);
        free(alias);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu bootstrap resamples", B);
    }
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt)
    for (size_t b = 0; b < B; b++) {
        int t = omp_get_thread_num();
        int64_t *wt = w + (size_t)t * P;
        memset(wt, 0, P * sizeof(int64_t));
        hitl_rng rng;
        hitl_rng_seed(&rng, o->seed ^ ((uint64_t)(b + 1) * BOOT_SEED_MIX));
        for (int64_t i = 0; i < n1; i++) {
            size_t j = (size_t)hitl_rng_below(&rng, P);
            int64_t x = (int64_t)hitl_rng_below(&rng, (uint64_t)n1);
            wt[x < thr[j] ? j : alias[j]]++;
        }
        hitl__patterns_measures(pt, wt, r, o->level, balanced, scratch + (size_t)t * 5 * L,
                                reps + b * HITL_COEF_COUNT, NULL);
    }
    for (int c = 0; c < HITL_COEF_COUNT; c++) {
        size_t k = 0;
        for (size_t b = 0; b < B; b++) {
            double v = reps[b * HITL_COEF_COUNT + c];
            if (isfinite(v)) col[k++] = v;
        }
        if (k < 2) {
            out->ci[c].lo = out->ci[c].hi = NAN;
            continue;
        }
        qsort(col, k, sizeof(double), cmp_double);
        out->ci[c].lo = quantile(col, k, 0.025);
        out->ci[c].hi = quantile(col, k, 0.975);
    }
    out->bootstrap = B;
    free(reps);
    free(w);
    free(scratch);
    free(col);
    free(thr);
    free(alias);
    return HITL_OK;
}
