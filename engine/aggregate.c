/* Label aggregation: majority vote that sends ties to adjudication instead of breaking them, and
 * Dawid & Skene's EM, which weighs each annotator by an estimated confusion matrix so that a
 * reliable minority can outvote careless annotators. */
#include <math.h>
#include <omp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ratings_impl.h"
#include "hitl_banned.h"

#define DS_DEFAULT_TOL       1e-6
#define DS_DEFAULT_MAX_ITER  1000
#define DS_DEFAULT_SMOOTHING 0.01
#define TIE_EPS              1e-12

static void *alloc_array(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) return NULL;
    return malloc(n && size ? n * size : 1);
}

hitl_status hitl_majority_vote(const hitl_ratings *r, hitl_vote *out, size_t *n_ties,
                               hitl_error *err)
{
    if (n_ties) *n_ties = 0;
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    hitl_status st = hitl_ratings_check(r, err);
    if (st != HITL_OK) return st;
    int32_t *count = calloc(r->n_labels ? r->n_labels : 1, sizeof(int32_t));
    if (!count) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    size_t ties = 0;
    for (size_t u = 0; u < r->n_items; u++) {
        int64_t s = r->item_ptr[u], e = r->item_ptr[u + 1];
        hitl_vote v = {.label = -1, .votes = 0, .n = (int32_t)(e - s), .status = HITL_VOTE_NONE};
        int32_t best = -1, top = 0, n_top = 0;
        for (int64_t k = s; k < e; k++) {
            int32_t c = ++count[r->label[k]];
            if (c > top) {
                top = c;
                best = r->label[k];
                n_top = 1;
            } else if (c == top) {
                n_top++;
            }
        }
        for (int64_t k = s; k < e; k++) /* reset only what was touched */
            count[r->label[k]] = 0;
        if (e > s) {
            v.votes = top;
            v.status = n_top > 1 ? HITL_VOTE_TIE : HITL_VOTE_CLEAR;
            v.label = n_top > 1 ? -1 : best;
            ties += n_top > 1;
        }
        out[u] = v;
    }
    free(count);
    if (n_ties) *n_ties = ties;
    return HITL_OK;
}

void hitl_ds_result_release(hitl_ds_result *res)
{
    if (!res) return;
    free(res->posterior);
    free(res->label);
    free(res->confusion);
    free(res->prior);
    memset(res, 0, sizeof(*res));
}

/* Dawid, A. P. & Skene, A. M. (1979), "Maximum likelihood estimation of observer error-rates
 * using the EM algorithm", J. R. Stat. Soc. C 28:20-28. Started, as there, from the share of
 * each item's ratings given to each class; then M-step (priors and confusion rows from the
 * posteriors, plus `smoothing` pseudo-counts) and E-step (posteriors in log space), until the
 * log-likelihood of the ratings changes by at most tol relative to its value, or max_iter
 * iterations. (A test on the posteriors instead can crawl for thousands of iterations where
 * careless annotators leave the likelihood flat, long after the labels stopped changing.) */
hitl_status hitl_dawid_skene(const hitl_ratings *r, const hitl_ds_opts *opts, hitl_ds_result *out,
                             hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    hitl_status st = hitl_ratings_check(r, err);
    if (st != HITL_OK) return st;
    hitl_ds_opts o = opts ? *opts : (hitl_ds_opts){0};
    if (o.tol < 0 || !isfinite(o.tol) || o.max_iter < 0 || isnan(o.smoothing))
        return hitl_error_set(err, HITL_EINVAL, "bad Dawid-Skene options");
    double tol = o.tol > 0 ? o.tol : DS_DEFAULT_TOL;
    int max_iter = o.max_iter > 0 ? o.max_iter : DS_DEFAULT_MAX_ITER;
    double sm = o.smoothing > 0 ? o.smoothing : o.smoothing < 0 ? 0 : DS_DEFAULT_SMOOTHING;
    size_t N = r->n_items, A = r->n_annotators, K = r->n_labels;
    if (K < 2) return hitl_error_set(err, HITL_EDATA, "Dawid-Skene needs at least two labels");
    if (r->n_ratings == 0) return hitl_error_set(err, HITL_EDATA, "no ratings");
    int nt = o.threads > 0 ? o.threads : omp_get_max_threads();

    hitl__by_annotator ix;
    if ((st = hitl__by_annotator_build(r, &ix, err)) != HITL_OK) return st;
    size_t AKK = A * K * K;
    if (A && K * K > SIZE_MAX / A) {
        hitl__by_annotator_release(&ix);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    double *T = alloc_array(N, K * sizeof(double));
    double *logc = alloc_array(AKK, sizeof(double));
    double *logz = alloc_array(N, sizeof(double)), *change = alloc_array(N, sizeof(double));
    out->confusion = alloc_array(AKK, sizeof(double));
    out->prior = alloc_array(K, sizeof(double));
    out->label = alloc_array(N, sizeof(int32_t));
    double *logp = alloc_array(K, sizeof(double));
    double *lt_all = alloc_array((size_t)nt, K * sizeof(double));
    if (!lt_all || !T || !logc || !logz || !change || !out->confusion || !out->prior ||
        !out->label || !logp) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu items x %zu labels", N, K);
        goto done;
    }
    /* initial posteriors: each item's vote shares (unrated items take no part) */
    for (size_t u = 0; u < N; u++) {
        double *t = T + u * K;
        int64_t s = r->item_ptr[u], e = r->item_ptr[u + 1];
        memset(t, 0, K * sizeof(double));
        for (int64_t k = s; k < e; k++)
            t[r->label[k]] += 1.0 / (double)(e - s);
    }
    size_t n_rated = 0;
    for (size_t u = 0; u < N; u++)
        n_rated += r->item_ptr[u + 1] > r->item_ptr[u];

    int it = 0, converged = 0;
    double max_change = INFINITY, ll = -INFINITY, prev_ll;
    while (it < max_iter) {
        it++;
        /* M-step. Priors: in item order; confusions: each annotator on one thread, in item
         * order, so the sums never depend on the thread count. */
        for (size_t k = 0; k < K; k++)
            out->prior[k] = sm;
        for (size_t u = 0; u < N; u++)
            if (r->item_ptr[u + 1] > r->item_ptr[u])
                for (size_t k = 0; k < K; k++)
                    out->prior[k] += T[u * K + k];
        for (size_t k = 0; k < K; k++) {
            out->prior[k] /= (double)n_rated + (double)K * sm;
            logp[k] = log(out->prior[k]);
        }
#pragma omp parallel for schedule(dynamic, 4) num_threads(nt)
        for (size_t a = 0; a < A; a++) {
            double *c = out->confusion + a * K * K;
            for (size_t k = 0; k < K * K; k++)
                c[k] = sm;
            for (int64_t q = ix.ann_ptr[a]; q < ix.ann_ptr[a + 1]; q++) {
                int64_t k = ix.by_ann[q];
                const double *t = T + (size_t)ix.item_of[k] * K;
                size_t l = (size_t)r->label[k];
                for (size_t j = 0; j < K; j++)
                    c[j * K + l] += t[j];
            }
            for (size_t j = 0; j < K; j++) {
                double row = 0;
                for (size_t l = 0; l < K; l++)
                    row += c[j * K + l];
                for (size_t l = 0; l < K; l++) {
                    /* a class this annotator never saw (possible without smoothing) */
                    c[j * K + l] = row > 0 ? c[j * K + l] / row : 1.0 / (double)K;
                    logc[a * K * K + j * K + l] = log(c[j * K + l]);
                }
            }
        }
        /* E-step */
#pragma omp parallel for schedule(static) num_threads(nt)
        for (size_t u = 0; u < N; u++) {
            double *t = T + u * K, mx = -INFINITY, z = 0, ch = 0;
            int64_t s = r->item_ptr[u], e = r->item_ptr[u + 1];
            double *lt = lt_all + (size_t)omp_get_thread_num() * K;
            for (size_t j = 0; j < K; j++) {
                double v = logp[j];
                for (int64_t k = s; k < e; k++)
                    v += logc[(size_t)r->annotator[k] * K * K + j * K + (size_t)r->label[k]];
                lt[j] = v;
                if (v > mx) mx = v;
            }
            if (mx == -INFINITY) { /* every class impossible (no smoothing): keep the prior */
                for (size_t j = 0; j < K; j++)
                    lt[j] = logp[j];
                mx = -INFINITY;
                for (size_t j = 0; j < K; j++)
                    if (lt[j] > mx) mx = lt[j];
            }
            for (size_t j = 0; j < K; j++)
                z += exp(lt[j] - mx);
            for (size_t j = 0; j < K; j++) {
                double v = exp(lt[j] - mx) / z;
                double d = fabs(v - t[j]);
                if (e > s && d > ch) ch = d;
                t[j] = v;
            }
            logz[u] = e > s ? mx + log(z) : 0;
            change[u] = ch;
        }
        max_change = 0;
        prev_ll = ll;
        ll = 0;
        for (size_t u = 0; u < N; u++) {
            if (change[u] > max_change) max_change = change[u];
            ll += logz[u];
        }
        if (it > 1 && fabs(ll - prev_ll) <= tol * fabs(ll)) {
            converged = 1;
            break;
        }
    }
    size_t ties = 0;
    for (size_t u = 0; u < N; u++) {
        const double *t = T + u * K;
        size_t best = 0;
        for (size_t j = 1; j < K; j++)
            if (t[j] > t[best]) best = j;
        int tie = 0;
        for (size_t j = 0; j < K; j++)
            if (j != best && t[best] - t[j] <= TIE_EPS) tie = 1;
        out->label[u] = tie ? -1 : (int32_t)best;
        ties += tie;
    }
    out->posterior = T;
    T = NULL;
    out->n_items = N;
    out->n_annotators = A;
    out->n_labels = K;
    out->n_ties = ties;
    out->iterations = it;
    out->converged = converged;
    out->max_change = max_change;
    out->log_likelihood = ll;
    out->tol = tol;
    out->smoothing = sm;
    out->max_iter = max_iter;
done:
    free(T);
    free(logc);
    free(logz);
    free(change);
    free(logp);
    free(lt_all);
    hitl__by_annotator_release(&ix);
    if (st != HITL_OK) hitl_ds_result_release(out);
    return st;
}
