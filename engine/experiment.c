/* Learning-curve experiments: every (strategy, seed) run of hitl_simulate side by side, each
 * strategy's curves summarised over the seeds (mean, sd, labels to reach random's final
 * accuracy, median seconds per round), and the seeded hold-out split of a pool. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

size_t hitl_holdout_size(size_t n, double fraction)
{
    return (size_t)floor(fraction * (double)n + 0.5);
}

hitl_status hitl_holdout_split(float *x, int32_t *y, size_t *n, size_t d, double fraction,
                               uint64_t seed, float *xt, int32_t *yt, size_t *nt, int64_t *file_row,
                               hitl_error *err)
{
    size_t rows = *n, n_test = hitl_holdout_size(rows, fraction);
    if (n_test == 0 || n_test >= rows)
        return hitl_error_set(err, HITL_EDATA, "%zu rows cannot be split %g for testing", rows,
                              fraction);
    uint8_t *is_test = calloc(rows, 1);
    size_t *perm = malloc(rows * sizeof(size_t));
    if (!is_test || !perm) {
        free(is_test);
        free(perm);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_rng rng;
    hitl_rng_seed(&rng, seed ^ 0x7e57u); /* not the simulation's own stream */
    for (size_t i = 0; i < rows; i++)
        perm[i] = i;
    for (size_t j = 0; j < n_test; j++) { /* the first n_test of a partial Fisher-Yates */
        size_t t = j + (size_t)hitl_rng_below(&rng, rows - j), v = perm[t];
        perm[t] = perm[j];
        perm[j] = v;
        is_test[v] = 1;
    }
    size_t kt = 0, kp = 0;
    for (size_t i = 0; i < rows; i++) {
        if (is_test[i]) {
            memcpy(xt + kt * d, x + i * d, d * sizeof(float));
            yt[kt++] = y[i];
        } else {
            memmove(x + kp * d, x + i * d, d * sizeof(float));
            if (file_row) file_row[kp] = (int64_t)i;
            y[kp++] = y[i];
        }
    }
    *n = kp;
    *nt = kt;
    free(is_test);
    free(perm);
    return HITL_OK;
}

void hitl_experiment_release(hitl_curve_series *s, size_t n)
{
    for (size_t i = 0; s && i < n; i++) {
        hitl_curve_series *v = &s[i];
        free(v->labelled);
        free(v->annotations);
        free(v->accuracy);
        free(v->label_accuracy);
        free(v->seconds);
        free(v->train_secs);
        free(v->select_secs);
        free(v->iters);
        free(v->mean);
        free(v->sd);
        free(v->rows);
        free(v->n_rows);
    }
    free(s);
}

/* Room for `seeds` runs of `points` points and their labelled rows (cap: as many as the engine
 * labels in seed_labels + rounds batches of an n-row pool). got: [seeds] points each run
 * filled. HITL_ENOMEM. */
static hitl_status series_alloc(hitl_curve_series *v, size_t seeds, size_t points,
                                const hitl_sim_opts *o, size_t n, size_t **got, hitl_error *err)
{
    v->labelled = calloc(points, sizeof(double));
    v->annotations = calloc(points, sizeof(double));
    v->accuracy = calloc(seeds * points, sizeof(double));
    v->label_accuracy = calloc(seeds * points, sizeof(double));
    v->seconds = calloc(seeds * points, sizeof(double));
    v->train_secs = calloc(seeds * points, sizeof(double));
    v->select_secs = calloc(seeds * points, sizeof(double));
    v->iters = calloc(seeds * points, sizeof(double));
    v->mean = calloc(points, sizeof(double));
    v->sd = calloc(points, sizeof(double));
    v->cap = o->seed_labels < n ? o->seed_labels : n;
    for (size_t r = 0; r < o->rounds && v->cap < n; r++)
        v->cap = n - v->cap < o->batch ? n : v->cap + o->batch;
    v->rows = malloc((seeds * v->cap > 0 ? seeds * v->cap : 1) * sizeof(int64_t));
    v->n_rows = calloc(seeds, sizeof(size_t));
    *got = calloc(seeds, sizeof(size_t));
    if (!v->labelled || !v->annotations || !v->accuracy || !v->label_accuracy || !v->seconds ||
        !v->train_secs || !v->select_secs || !v->iters || !v->mean || !v->sd || !v->rows ||
        !v->n_rows || !*got)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return HITL_OK;
}

/* Counts the rounds of every run and hands the total to the caller's progress function. */
typedef struct progress_relay {
    void (*fn)(void *ctx, uint64_t done, uint64_t total);
    void *ctx;
    uint64_t done, total;
} progress_relay;

static void on_round(void *ctx, uint64_t done, uint64_t total)
{
    progress_relay *p = ctx;
#pragma omp critical(hitl_experiment_progress)
    p->fn(p->ctx, ++p->done, p->total);
}

/* Run `seed_index` of series v into its slot (points apart: `points` per seed). */
static hitl_status run_one(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                           const float *xt, size_t nt, const int32_t *yt,
                           const hitl_experiment_opts *eo, progress_relay *relay,
                           hitl_curve_series *v, size_t seed_index, size_t points, size_t *got,
                           hitl_error *err)
{
    hitl_sim_point *curve = malloc(points * sizeof(*curve));
    if (!curve) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    hitl_sim_opts o = eo->sim;
    o.strategy = v->strategy;
    o.seed = eo->first_seed + seed_index;
    o.rows_out = v->rows + seed_index * v->cap;
    if (relay->fn) {
        o.progress = on_round;
        o.progress_ctx = relay;
    }
    size_t k = seed_index, filled = 0;
    hitl_status st = hitl_simulate(x, n, d, y, c, xt, nt, yt, &o, curve, &filled, err);
    if (st != HITL_OK) {
        hitl_error_prefix(err, "%s, seed %llu: ", hitl_strategy_name(v->strategy),
                          (unsigned long long)o.seed);
        free(curve);
        return st;
    }
    *got = filled;
    v->n_rows[k] = filled ? curve[filled - 1].labelled : 0;
    for (size_t j = 0; j < filled; j++) {
        if (k == 0) { /* the same counts for every seed while the pool lasts */
            v->labelled[j] = (double)curve[j].labelled;
            v->annotations[j] = (double)curve[j].annotations;
        }
        v->accuracy[k * points + j] = curve[j].accuracy;
        v->label_accuracy[k * points + j] = curve[j].label_accuracy;
        v->seconds[k * points + j] = curve[j].train_secs + curve[j].select_secs;
        v->train_secs[k * points + j] = curve[j].train_secs;
        v->select_secs[k * points + j] = curve[j].select_secs;
        v->iters[k * points + j] = curve[j].train_iters;
    }
    free(curve);
    return HITL_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Keeps the points every seed has (the runs were stored `stride` apart) and computes the mean
 * and sd curves, the final ones and the median seconds per round. */
static void summarize(hitl_curve_series *s, size_t seeds, size_t stride, const size_t *got)
{
    size_t p = stride;
    for (size_t k = 0; k < seeds; k++)
        p = got[k] < p ? got[k] : p;
    s->points = p;
    double *per_seed[] = {s->accuracy,   s->label_accuracy, s->seconds,
                          s->train_secs, s->select_secs,    s->iters};
    for (size_t a = 0; a < sizeof(per_seed) / sizeof(per_seed[0]); a++)
        for (size_t k = 1; k < seeds && p < stride; k++)
            memmove(per_seed[a] + k * p, per_seed[a] + k * stride, p * sizeof(double));
    for (size_t j = 0; j < p; j++) {
        double sum = 0, ss = 0;
        for (size_t k = 0; k < seeds; k++)
            sum += s->accuracy[k * p + j];
        double mean = sum / (double)seeds;
        for (size_t k = 0; k < seeds; k++) {
            double e = s->accuracy[k * p + j] - mean;
            ss += e * e;
        }
        s->mean[j] = mean;
        s->sd[j] = seeds > 1 ? sqrt(ss / (double)(seeds - 1)) : 0;
    }
    s->final_mean = p ? s->mean[p - 1] : NAN;
    s->final_sd = p ? s->sd[p - 1] : NAN;
    /* the median time per round, over rounds that selected a batch */
    size_t m = seeds * (p ? p - 1 : 0);
    double *t = malloc((m ? m : 1) * sizeof(double));
    s->median_seconds = NAN;
    if (t && m) {
        for (size_t k = 0; k < seeds; k++)
            memcpy(t + k * (p - 1), s->seconds + k * p, (p - 1) * sizeof(double));
        qsort(t, m, sizeof(double), cmp_double);
        s->median_seconds = m % 2 ? t[m / 2] : 0.5 * (t[m / 2 - 1] + t[m / 2]);
    }
    free(t);
}

hitl_status hitl_experiment_run(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                                const float *xt, size_t nt, const int32_t *yt,
                                const hitl_experiment_opts *opts, hitl_curve_series **out,
                                hitl_error *err)
{
    *out = NULL;
    size_t ns = opts->n_strategies, seeds = opts->seeds, points = opts->sim.rounds + 1;
    if (ns == 0 || seeds == 0 || !opts->strategies)
        return hitl_error_set(err, HITL_EINVAL, "an experiment needs strategies and seeds");
    hitl_curve_series *s = calloc(ns, sizeof(*s));
    size_t **got = calloc(ns, sizeof(size_t *));
    hitl_status st = s && got ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; st == HITL_OK && i < ns; i++) {
        s[i].strategy = opts->strategies[i];
        st = series_alloc(&s[i], seeds, points, &opts->sim, n, &got[i], err);
    }
    progress_relay relay = {opts->sim.progress, opts->sim.progress_ctx, 0,
                            (uint64_t)ns * seeds * opts->sim.rounds};
    /* every run is independent: side by side, each with BLAS on one thread */
    int blas_threads = hitl_blas_set_threads(1);
    size_t jobs = st == HITL_OK ? ns * seeds : 0;
    volatile int failed = 0;
#pragma omp parallel for schedule(dynamic, 1)
    for (size_t job = 0; job < jobs; job++) {
        if (failed) continue;
        size_t i = job / seeds, k = job % seeds;
        hitl_error jerr;
        hitl_error_clear(&jerr);
        hitl_status js =
            run_one(x, n, d, y, c, xt, nt, yt, opts, &relay, &s[i], k, points, &got[i][k], &jerr);
        if (js != HITL_OK) {
#pragma omp critical(hitl_experiment_error)
            if (!failed) {
                failed = 1;
                st = js;
                if (err) *err = jerr;
            }
        }
    }
    hitl_blas_set_threads(blas_threads);
    for (size_t i = 0; st == HITL_OK && i < ns; i++)
        summarize(&s[i], seeds, points, got[i]);
    const hitl_curve_series *rnd = NULL;
    for (size_t i = 0; st == HITL_OK && i < ns; i++)
        if (s[i].strategy == HITL_STRATEGY_RANDOM) rnd = &s[i];
    for (size_t i = 0; st == HITL_OK && i < ns; i++)
        s[i].reach =
            rnd ? hitl_curve_reach(s[i].annotations, s[i].mean, s[i].points, rnd->final_mean) : NAN;
    for (size_t i = 0; got && i < ns; i++)
        free(got[i]);
    free(got);
    if (st != HITL_OK) {
        hitl_experiment_release(s, s ? ns : 0);
        return st;
    }
    *out = s;
    return HITL_OK;
}
