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

/* malloc of n elements of `size` bytes: NULL when n * size overflows, 1 byte when it is 0 (so
 * NULL always means out of memory). Caller frees. */
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

/* ---- Dawid & Skene ----------------------------------------------------------------------------
 * Dawid, A. P. & Skene, A. M. (1979), "Maximum likelihood estimation of observer error-rates
 * using the EM algorithm", J. R. Stat. Soc. C 28:20-28. Started, as there, from the share of
 * each item's ratings given to each class; then M-step (priors and confusion rows from the
 * posteriors, plus `smoothing` pseudo-counts) and E-step (posteriors in log space), until the
 * log-likelihood of the ratings changes by at most tol relative to its value, or max_iter
 * iterations. (A test on the posteriors instead can crawl for thousands of iterations where
 * careless annotators leave the likelihood flat, long after the labels stopped changing.) */

/* What the EM steps share; the arrays are owned here except `prior` and `confusion`, which are
 * the result's. */
typedef struct ds_state {
    const hitl_ratings *ratings;
    hitl__by_annotator index;
    size_t n_items, n_annotators, n_labels, n_rated;
    double smoothing; /* pseudo-counts added to every prior and confusion cell */
    int n_threads;
    double *posterior; /* [n_items, n_labels] each item's class probabilities */
    double *prior;     /* [n_labels] */
    double *confusion; /* [n_annotators, n_labels, n_labels] P(label | class), row = class */
    double *log_prior, *log_conf; /* their logs */
    double *log_z;                /* [n_items] log P(item's ratings) */
    double *change;               /* [n_items] largest posterior change in the last E-step */
    double *log_term;             /* [n_threads, n_labels] scratch */
} ds_state;

/* The starting posteriors: each item's vote shares (unrated items take no part); counts the
 * rated items. */
static void ds_init_posteriors(ds_state *ds)
{
    const hitl_ratings *ratings = ds->ratings;
    size_t n_labels = ds->n_labels;
    for (size_t u = 0; u < ds->n_items; u++) {
        double *post = ds->posterior + u * n_labels;
        int64_t start = ratings->item_ptr[u], end = ratings->item_ptr[u + 1];
        memset(post, 0, n_labels * sizeof(double));
        for (int64_t k = start; k < end; k++)
            post[ratings->label[k]] += 1.0 / (double)(end - start);
    }
    ds->n_rated = 0;
    for (size_t u = 0; u < ds->n_items; u++)
        ds->n_rated += ratings->item_ptr[u + 1] > ratings->item_ptr[u];
}

/* M-step, priors: the rated items' posteriors summed in item order, smoothed. */
static void ds_m_priors(ds_state *ds)
{
    const hitl_ratings *ratings = ds->ratings;
    size_t n_labels = ds->n_labels;
    double *prior = ds->prior;
    for (size_t k = 0; k < n_labels; k++)
        prior[k] = ds->smoothing;
    for (size_t u = 0; u < ds->n_items; u++)
        if (ratings->item_ptr[u + 1] > ratings->item_ptr[u])
            for (size_t k = 0; k < n_labels; k++)
                prior[k] += ds->posterior[u * n_labels + k];
    for (size_t k = 0; k < n_labels; k++) {
        prior[k] /= (double)ds->n_rated + (double)n_labels * ds->smoothing;
        ds->log_prior[k] = log(prior[k]);
    }
}

/* M-step, confusions: each annotator's on one thread, summed in item order, so the sums never
 * depend on the thread count. */
static void ds_m_confusions(ds_state *ds)
{
    const hitl_ratings *ratings = ds->ratings;
    const hitl__by_annotator *ix = &ds->index;
    size_t n_labels = ds->n_labels, n_cells = n_labels * n_labels;
#pragma omp parallel for schedule(dynamic, 4) num_threads(ds->n_threads)
    for (size_t a = 0; a < ds->n_annotators; a++) {
        double *conf = ds->confusion + a * n_cells, *log_conf = ds->log_conf + a * n_cells;
        for (size_t k = 0; k < n_cells; k++)
            conf[k] = ds->smoothing;
        for (int64_t q = ix->ann_ptr[a]; q < ix->ann_ptr[a + 1]; q++) {
            int64_t k = ix->by_ann[q];
            const double *post = ds->posterior + (size_t)ix->item_of[k] * n_labels;
            size_t label = (size_t)ratings->label[k];
            for (size_t j = 0; j < n_labels; j++)
                conf[j * n_labels + label] += post[j];
        }
        for (size_t j = 0; j < n_labels; j++) {
            double row = 0;
            for (size_t l = 0; l < n_labels; l++)
                row += conf[j * n_labels + l];
            for (size_t l = 0; l < n_labels; l++) {
                /* a class this annotator never saw (possible without smoothing) */
                conf[j * n_labels + l] =
                    row > 0 ? conf[j * n_labels + l] / row : 1.0 / (double)n_labels;
                log_conf[j * n_labels + l] = log(conf[j * n_labels + l]);
            }
        }
    }
}

/* E-step: each item's posterior from the priors and its annotators' confusions, in log space;
 * log_z[u] and change[u] as they come. */
static void ds_e_step(ds_state *ds)
{
    const hitl_ratings *ratings = ds->ratings;
    size_t n_labels = ds->n_labels, n_cells = n_labels * n_labels;
    const double *log_prior = ds->log_prior;
#pragma omp parallel for schedule(static) num_threads(ds->n_threads)
    for (size_t u = 0; u < ds->n_items; u++) {
        double *post = ds->posterior + u * n_labels, top = -INFINITY, norm = 0, change = 0;
        int64_t start = ratings->item_ptr[u], end = ratings->item_ptr[u + 1];
        double *term = ds->log_term + (size_t)omp_get_thread_num() * n_labels;
        for (size_t j = 0; j < n_labels; j++) {
            double sum = log_prior[j];
            for (int64_t k = start; k < end; k++)
                sum += ds->log_conf[(size_t)ratings->annotator[k] * n_cells + j * n_labels +
                                    (size_t)ratings->label[k]];
            term[j] = sum;
            if (sum > top) top = sum;
        }
        if (top == -INFINITY) { /* every class impossible (no smoothing): keep the prior */
            for (size_t j = 0; j < n_labels; j++)
                term[j] = log_prior[j];
            top = -INFINITY;
            for (size_t j = 0; j < n_labels; j++)
                if (term[j] > top) top = term[j];
        }
        for (size_t j = 0; j < n_labels; j++)
            norm += exp(term[j] - top);
        for (size_t j = 0; j < n_labels; j++) {
            double prob = exp(term[j] - top) / norm;
            double diff = fabs(prob - post[j]);
            if (end > start && diff > change) change = diff;
            post[j] = prob;
        }
        ds->log_z[u] = end > start ? top + log(norm) : 0;
        ds->change[u] = change;
    }
}

/* Each item's label: the most probable class, -1 when another is within TIE_EPS of it; returns
 * the ties. */
static size_t ds_labels(const double *posterior, size_t n_items, size_t n_labels, int32_t *label)
{
    size_t ties = 0;
    for (size_t u = 0; u < n_items; u++) {
        const double *post = posterior + u * n_labels;
        size_t best = 0;
        for (size_t j = 1; j < n_labels; j++)
            if (post[j] > post[best]) best = j;
        int tie = 0;
        for (size_t j = 0; j < n_labels; j++)
            if (j != best && post[best] - post[j] <= TIE_EPS) tie = 1;
        label[u] = tie ? -1 : (int32_t)best;
        ties += tie;
    }
    return ties;
}

/* Frees what ds owns (not the result's prior and confusion). */
static void ds_state_release(ds_state *ds)
{
    free(ds->posterior);
    free(ds->log_conf);
    free(ds->log_z);
    free(ds->change);
    free(ds->log_prior);
    free(ds->log_term);
    hitl__by_annotator_release(&ds->index);
}

/* Builds the index and the arrays for a checked table (out->confusion, prior and label
 * allocated on the way); HITL_ENOMEM only. */
static hitl_status ds_state_init(ds_state *ds, const hitl_ratings *r, double smoothing,
                                 int n_threads, hitl_ds_result *out, hitl_error *err)
{
    size_t n_items = r->n_items, n_annotators = r->n_annotators, n_labels = r->n_labels;
    *ds = (ds_state){.ratings = r,
                     .n_items = n_items,
                     .n_annotators = n_annotators,
                     .n_labels = n_labels,
                     .smoothing = smoothing,
                     .n_threads = n_threads};
    hitl_status st = hitl__by_annotator_build(r, &ds->index, err);
    if (st != HITL_OK) return st;
    if (n_annotators && n_labels * n_labels > SIZE_MAX / n_annotators)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    size_t n_conf = n_annotators * n_labels * n_labels;
    ds->posterior = alloc_array(n_items, n_labels * sizeof(double));
    ds->log_conf = alloc_array(n_conf, sizeof(double));
    ds->log_z = alloc_array(n_items, sizeof(double));
    ds->change = alloc_array(n_items, sizeof(double));
    out->confusion = ds->confusion = alloc_array(n_conf, sizeof(double));
    out->prior = ds->prior = alloc_array(n_labels, sizeof(double));
    out->label = alloc_array(n_items, sizeof(int32_t));
    ds->log_prior = alloc_array(n_labels, sizeof(double));
    ds->log_term = alloc_array((size_t)n_threads, n_labels * sizeof(double));
    if (!ds->log_term || !ds->posterior || !ds->log_conf || !ds->log_z || !ds->change ||
        !out->confusion || !out->prior || !out->label || !ds->log_prior)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu items x %zu labels", n_items,
                              n_labels);
    return HITL_OK;
}

hitl_status hitl_dawid_skene(const hitl_ratings *r, const hitl_ds_opts *opts, hitl_ds_result *out,
                             hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    hitl_status st = hitl_ratings_check(r, err);
    if (st != HITL_OK) return st;
    hitl_ds_opts given = opts ? *opts : (hitl_ds_opts){0};
    if (given.tol < 0 || !isfinite(given.tol) || given.max_iter < 0 || isnan(given.smoothing))
        return hitl_error_set(err, HITL_EINVAL, "bad Dawid-Skene options");
    double tol = given.tol > 0 ? given.tol : DS_DEFAULT_TOL;
    int max_iter = given.max_iter > 0 ? given.max_iter : DS_DEFAULT_MAX_ITER;
    double smoothing = given.smoothing > 0   ? given.smoothing
                       : given.smoothing < 0 ? 0
                                             : DS_DEFAULT_SMOOTHING;
    if (r->n_labels < 2)
        return hitl_error_set(err, HITL_EDATA, "Dawid-Skene needs at least two labels");
    if (r->n_ratings == 0) return hitl_error_set(err, HITL_EDATA, "no ratings");
    int n_threads = given.threads > 0 ? given.threads : omp_get_max_threads();

    ds_state ds;
    st = ds_state_init(&ds, r, smoothing, n_threads, out, err);
    if (st != HITL_OK) goto done;
    ds_init_posteriors(&ds);
    int iter = 0, converged = 0;
    double max_change = INFINITY, ll = -INFINITY, prev_ll;
    while (iter < max_iter) {
        iter++;
        ds_m_priors(&ds);
        ds_m_confusions(&ds);
        ds_e_step(&ds);
        max_change = 0;
        prev_ll = ll;
        ll = 0;
        for (size_t u = 0; u < ds.n_items; u++) {
            if (ds.change[u] > max_change) max_change = ds.change[u];
            ll += ds.log_z[u];
        }
        if (iter > 1 && fabs(ll - prev_ll) <= tol * fabs(ll)) {
            converged = 1;
            break;
        }
    }
    out->n_ties = ds_labels(ds.posterior, ds.n_items, ds.n_labels, out->label);
    out->posterior = ds.posterior;
    ds.posterior = NULL;
    out->n_items = ds.n_items;
    out->n_annotators = ds.n_annotators;
    out->n_labels = ds.n_labels;
    out->iterations = iter;
    out->converged = converged;
    out->max_change = max_change;
    out->log_likelihood = ll;
    out->tol = tol;
    out->smoothing = smoothing;
    out->max_iter = max_iter;
done:
    ds_state_release(&ds);
    if (st != HITL_OK) hitl_ds_result_release(out);
    return st;
}
