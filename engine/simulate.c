/* The active-learning loop on a pool whose labels are known, for learning curves: seed labels,
 * then rounds of train (hitl_train_linear), test, select (any strategy) and label (the truth, or
 * simulated annotators aggregated as `hitl aggregate` would): the real tool without the store. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

static const char *const strategy_names[HITL_STRATEGY_COUNT] = {
    "random", "lc", "margin", "entropy", "kcenter", "margin-kcenter", "badge"};

const char *hitl_strategy_name(hitl_strategy s)
{
    return (unsigned)s < HITL_STRATEGY_COUNT ? strategy_names[s] : "unknown";
}

hitl_status hitl_strategy_parse(const char *name, hitl_strategy *out)
{
    for (int s = 0; s < HITL_STRATEGY_COUNT; s++)
        if (name && strcmp(name, strategy_names[s]) == 0) {
            *out = (hitl_strategy)s;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

/* Monotonic wall-clock time in seconds, for the curve's timings. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct sim {
    const float *x;
    const int32_t *y;
    size_t n, d, c, cap, annotators;
    const hitl_sim_opts *o;
    hitl_rng rng;
    uint8_t *taken;   /* [n] labelled rows */
    int64_t *rows;    /* [cap] labelled rows, in labelling order */
    size_t nl;        /* labelled so far */
    float *xl;        /* [cap, d] their features, gathered as they come */
    int32_t *given;   /* [cap] the label trained on */
    int32_t *ratings; /* [cap, annotators] each annotator's label */
    float *w, *b;     /* the head [d, c], [c] */
    float *logits;    /* [max(n, nt), c] */
    float *score;     /* [n] */
    float *mind;      /* [n] k-center distances kept across rounds */
    int kc_started;   /* mind holds the seed rows as centres */
    int64_t *pick;    /* [batch] */
    int64_t *left;    /* [n] unlabelled rows, for random picks */
} sim;

/* Frees every array s owns (s itself is the caller's). */
static void sim_release(sim *s)
{
    free(s->taken);
    free(s->rows);
    free(s->xl);
    free(s->given);
    free(s->ratings);
    free(s->w);
    free(s->b);
    free(s->logits);
    free(s->score);
    free(s->mind);
    free(s->pick);
    free(s->left);
}

/* An annotator's label for a row of true class t: wrong with its error rate, uniformly among
 * the other classes. */
static int32_t annotate(sim *s, size_t a, int32_t t)
{
    if (hitl_rng_uniform(&s->rng) >= s->o->error_rate[a]) return t;
    return (int32_t)((t + 1 + (int32_t)hitl_rng_below(&s->rng, s->c - 1)) % (int32_t)s->c);
}

/* The majority label of one row's ratings; a tie is drawn at random among the tied labels (the
 * real tool would send it to adjudication, which the simulation has no one for). */
static int32_t majority(sim *s, const int32_t *r)
{
    int32_t votes[64] = {0}, best = 0; /* c <= 64 is checked up front when annotating */
    size_t tied = 0;
    for (size_t a = 0; a < s->annotators; a++)
        votes[r[a]]++;
    for (size_t j = 0; j < s->c; j++)
        best = votes[j] > best ? votes[j] : best;
    for (size_t j = 0; j < s->c; j++)
        tied += votes[j] == best;
    uint64_t t = hitl_rng_below(&s->rng, tied);
    for (size_t j = 0; j < s->c; j++)
        if (votes[j] == best && t-- == 0) return (int32_t)j;
    return 0;
}

/* Labels pool row `row`: taken, its features gathered, its label the truth (oracle) or the
 * majority of the simulated annotators' ratings. */
static void label_row(sim *s, int64_t row)
{
    size_t i = s->nl++;
    s->taken[row] = 1;
    s->rows[i] = row;
    memcpy(s->xl + i * s->d, s->x + (size_t)row * s->d, s->d * sizeof(float));
    if (s->annotators == 0) {
        s->given[i] = s->y[row];
        return;
    }
    int32_t *r = s->ratings + i * s->annotators;
    for (size_t a = 0; a < s->annotators; a++)
        r[a] = annotate(s, a, s->y[row]);
    s->given[i] = majority(s, r);
}

/* Dawid-Skene over every rating so far: the labels trained on become the posterior argmax. */
static hitl_status aggregate_ds(sim *s, hitl_error *err)
{
    size_t nr = s->nl * s->annotators;
    int32_t *item = malloc(nr * sizeof(int32_t)), *ann = malloc(nr * sizeof(int32_t));
    hitl_status rc = HITL_OK;
    hitl_ratings r = {0};
    hitl_ds_result res = {0};
    if (!item || !ann) {
        rc = hitl_error_set(err, HITL_ENOMEM, "simulate: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nr; i++) {
        item[i] = (int32_t)(i / s->annotators);
        ann[i] = (int32_t)(i % s->annotators);
    }
    rc = hitl_ratings_build(&r, s->nl, s->annotators, s->c, item, ann, s->ratings, nr, NULL, err);
    if (rc == HITL_OK) rc = hitl_dawid_skene(&r, NULL, &res, err);
    if (rc != HITL_OK) goto done;
    for (size_t i = 0; i < s->nl; i++) {
        const double *p = res.posterior + i * s->c;
        int32_t best = 0;
        for (size_t j = 1; j < s->c; j++)
            if (p[j] > p[best]) best = (int32_t)j;
        s->given[i] = best;
    }
done:
    free(item);
    free(ann);
    hitl_ratings_release(&r);
    hitl_ds_result_release(&res);
    return rc;
}

/* The index of the largest of v[0 .. c), the first on a tie. */
static size_t argmax(const float *v, size_t c)
{
    size_t best = 0;
    for (size_t j = 1; j < c; j++)
        if (v[j] > v[best]) best = j;
    return best;
}

/* Up to `want` unlabelled rows into s->pick, by the strategy; returns how many. */
static hitl_status select_batch(sim *s, size_t want, size_t *got, hitl_error *err)
{
    const hitl_sim_opts *o = s->o;
    size_t n = s->n, c = s->c;
    hitl_status rc = HITL_OK;
    *got = 0;
    if (o->strategy == HITL_STRATEGY_RANDOM) {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            if (!s->taken[i]) s->left[m++] = (int64_t)i;
        for (size_t j = 0; j < want && j < m; j++) { /* partial Fisher-Yates */
            size_t t = j + (size_t)hitl_rng_below(&s->rng, m - j);
            int64_t v = s->left[t];
            s->left[t] = s->left[j];
            s->left[j] = v;
            s->pick[(*got)++] = v;
        }
        return HITL_OK;
    }
    if (o->strategy == HITL_STRATEGY_KCENTER) {
        /* the first call adds the seed rows as centres; later ones carry s->mind over, in which
         * the earlier picks are already centres */
        hitl_kcenter_opts ko = {
            .selected = s->rows, .n_selected = s->kc_started ? 0 : s->nl, .mind = s->mind};
        s->kc_started = 1;
        return hitl_kcenter_greedy(s->x, n, s->d, want, &ko, s->pick, NULL, got, err);
    }
    if ((rc = hitl_head_logits(s->x, n, s->d, s->w, s->b, c, s->logits, err)) != HITL_OK) return rc;
    if (o->strategy == HITL_STRATEGY_BADGE) {
        hitl_softmax_rows(s->logits, n, c, 1.0f);
        return hitl_badge_select(s->x, n, s->d, s->logits, c, s->taken, want,
                                 hitl_rng_next(&s->rng), s->pick, got, err);
    }
    hitl_method m = o->strategy == HITL_STRATEGY_LC        ? HITL_METHOD_LC
                    : o->strategy == HITL_STRATEGY_ENTROPY ? HITL_METHOD_ENTROPY
                                                           : HITL_METHOD_MARGIN;
    hitl_score_opts so = {.kind = HITL_INPUT_LOGITS, .methods = HITL_METHOD_BIT(m)};
    hitl_score_out out = {0};
    out.scores[m] = s->score;
    if ((rc = hitl_scores_compute(&so, s->logits, n, c, 0, &out, NULL, err)) != HITL_OK) return rc;
    if (o->strategy == HITL_STRATEGY_MARGIN_KCENTER) {
        hitl_kcenter_opts ko = {.selected = s->rows, .n_selected = s->nl};
        size_t m_top = o->candidates ? o->candidates : 10 * want;
        return hitl_margin_kcenter(s->x, n, s->d, s->score, s->taken, m_top, want, &ko, s->pick,
                                   NULL, got, err);
    }
    hitl_topk top;
    if (hitl_topk_init(&top, want) != HITL_OK)
        return hitl_error_set(err, HITL_ENOMEM, "simulate: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (s->taken[i]) continue;
        hitl_scored sc = {.score = s->score[i], .p1 = 0, .pred = -1, .row = (int64_t)i};
        hitl_topk_offer(&top, &sc);
    }
    hitl_scored *best = malloc((want ? want : 1) * sizeof(*best));
    if (!best) {
        hitl_topk_release(&top);
        return hitl_error_set(err, HITL_ENOMEM, "simulate: out of memory");
    }
    *got = hitl_topk_drain(&top, best);
    for (size_t j = 0; j < *got; j++)
        s->pick[j] = best[j].row;
    free(best);
    hitl_topk_release(&top);
    return HITL_OK;
}

/* HITL_EDATA naming the first row of x[n, d] (the pool or the test set, `what`) with a label
 * y outside [0, c) or a non-finite feature. */
static hitl_status check_inputs(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                                const char *what, hitl_error *err)
{
    for (size_t i = 0; i < n; i++) {
        int bad = y[i] < 0 || (size_t)y[i] >= c;
        for (size_t j = 0; j < d && !bad; j++)
            bad = !isfinite(x[i * d + j]);
        if (bad) {
            hitl_error_set(err, HITL_EDATA, "simulate: %s row %zu has %s", what, i,
                           y[i] < 0 || (size_t)y[i] >= c ? "a label out of range"
                                                         : "a non-finite feature");
            if (err) err->row = (int64_t)i;
            return HITL_EDATA;
        }
    }
    return HITL_OK;
}

/* Every argument but the rows' contents (check_inputs). */
static hitl_status check_args(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                              const float *xt, size_t nt, const int32_t *yt, const hitl_sim_opts *o,
                              const hitl_sim_point *curve, hitl_error *err)
{
    if (!x || !y || !xt || !yt || !o || !curve || d == 0 || c < 2 || n == 0 || nt == 0)
        return hitl_error_set(err, HITL_EINVAL, "simulate: missing argument or empty shape");
    if ((unsigned)o->strategy >= HITL_STRATEGY_COUNT || o->seed_labels == 0 || o->batch == 0 ||
        !(o->C >= 0) || o->max_iter < 0 || o->warm_iter < 0 || !(o->tol >= 0) ||
        (o->n_annotators && (!o->error_rate || c > 64)))
        return hitl_error_set(err, HITL_EINVAL, "simulate: bad options");
    for (size_t a = 0; a < o->n_annotators; a++)
        if (!(o->error_rate[a] >= 0 && o->error_rate[a] <= 1))
            return hitl_error_set(err, HITL_EINVAL,
                                  "simulate: annotator %zu's error rate %g is "
                                  "not in [0, 1]",
                                  a + 1, o->error_rate[a]);
    if (n > INT32_MAX || d > INT32_MAX || nt > INT32_MAX || d > SIZE_MAX / sizeof(float) / n ||
        d > SIZE_MAX / sizeof(float) / nt)
        return hitl_error_set(err, HITL_ESHAPE, "simulate: shape too large");
    return HITL_OK;
}

/* The simulation's arrays for a pool of n rows (d features, c classes) and nt test rows, room
 * for every row the rounds can label; the rng seeded. HITL_ENOMEM only; sim_release() after. */
static hitl_status sim_init(sim *s, const float *x, const int32_t *y, size_t n, size_t d, size_t c,
                            size_t nt, const hitl_sim_opts *o, hitl_error *err)
{
    *s = (sim){.x = x, .y = y, .n = n, .d = d, .c = c, .o = o, .annotators = o->n_annotators};
    s->cap = o->seed_labels < n ? o->seed_labels : n;
    for (size_t r = 0; r < o->rounds && s->cap < n; r++)
        s->cap = n - s->cap < o->batch ? n : s->cap + o->batch;
    size_t n_logits = n > nt ? n : nt;
    s->taken = calloc(n, 1);
    s->rows = malloc(s->cap * sizeof(int64_t));
    s->xl = malloc(s->cap * d * sizeof(float));
    s->given = malloc(s->cap * sizeof(int32_t));
    s->ratings = malloc(s->cap * (s->annotators ? s->annotators : 1) * sizeof(int32_t));
    s->w = calloc(d * c, sizeof(float));
    s->b = calloc(c, sizeof(float));
    s->logits = malloc(n_logits * c * sizeof(float));
    s->score = malloc(n * sizeof(float));
    s->mind = calloc(n, sizeof(float));
    s->pick = malloc((o->batch > o->seed_labels ? o->batch : o->seed_labels) * sizeof(int64_t));
    s->left = malloc(n * sizeof(int64_t));
    if (!s->taken || !s->rows || !s->xl || !s->given || !s->ratings || !s->w || !s->b ||
        !s->logits || !s->score || !s->mind || !s->pick || !s->left)
        return hitl_error_set(err, HITL_ENOMEM, "simulate: out of memory for %zu rows", n);
    for (size_t i = 0; i < n; i++)
        s->mind[i] = INFINITY;
    hitl_rng_seed(&s->rng, o->seed);
    return HITL_OK;
}

/* The seed set: the same random rows for every strategy with this seed, labelled. */
static void label_seed_rows(sim *s, hitl_error *err)
{
    const hitl_sim_opts *o = s->o;
    hitl_sim_opts seed_opts = *o;
    seed_opts.strategy = HITL_STRATEGY_RANDOM;
    s->o = &seed_opts;
    size_t got = 0;
    select_batch(s, s->cap < o->seed_labels ? s->cap : o->seed_labels, &got, err);
    s->o = o;
    for (size_t j = 0; j < got; j++)
        label_row(s, s->pick[j]);
}

/* One point of the curve: train on the rows labelled so far (after Dawid-Skene, when asked),
 * then the accuracy on the test rows xt[nt] (labels yt) and of the training labels. */
static hitl_status train_and_test(sim *s, size_t round, const float *xt, size_t nt,
                                  const int32_t *yt, hitl_sim_point *point, hitl_error *err)
{
    const hitl_sim_opts *o = s->o;
    size_t d = s->d, c = s->c;
    double t0 = now();
    hitl_status rc = HITL_OK;
    if (s->annotators && o->dawid_skene && (rc = aggregate_ds(s, err)) != HITL_OK) return rc;
    hitl_train_opts to = {.tol = o->tol > 0 ? o->tol : 1e-4};
    double C = o->C > 0 ? o->C : 1.0;
    to.l2 = 1.0 / (C * (double)s->nl);
    to.warm_start = round > 0;
    to.max_iter =
        round == 0 ? (o->max_iter ? o->max_iter : 100) : (o->warm_iter ? o->warm_iter : 30);
    hitl_train_report rep;
    rc = hitl_train_linear(s->xl, s->nl, d, s->given, NULL, c, &to, s->w, s->b, &rep, err);
    if (rc != HITL_OK) return rc;
    point->train_secs = now() - t0;
    point->train_iters = rep.iterations;
    if ((rc = hitl_head_logits(xt, nt, d, s->w, s->b, c, s->logits, err)) != HITL_OK) return rc;
    size_t hits = 0, right = 0;
    for (size_t i = 0; i < nt; i++)
        hits += argmax(s->logits + i * c, c) == (size_t)yt[i];
    for (size_t i = 0; i < s->nl; i++)
        right += s->given[i] == s->y[s->rows[i]];
    point->labelled = s->nl;
    point->annotations = s->nl * (s->annotators ? s->annotators : 1);
    point->accuracy = (double)hits / (double)nt;
    point->label_accuracy = (double)right / (double)s->nl;
    return HITL_OK;
}

hitl_status hitl_simulate(const float *x, size_t n, size_t d, const int32_t *y, size_t c,
                          const float *xt, size_t nt, const int32_t *yt, const hitl_sim_opts *o,
                          hitl_sim_point *curve, size_t *n_points, hitl_error *err)
{
    if (n_points) *n_points = 0;
    hitl_status rc = check_args(x, n, d, y, c, xt, nt, yt, o, curve, err);
    if (rc == HITL_OK) rc = check_inputs(x, n, d, y, c, "pool", err);
    if (rc == HITL_OK) rc = check_inputs(xt, nt, d, yt, c, "test", err);
    if (rc != HITL_OK) return rc;

    sim s;
    if ((rc = sim_init(&s, x, y, n, d, c, nt, o, err)) != HITL_OK) {
        sim_release(&s);
        return rc;
    }
    label_seed_rows(&s, err);
    size_t points = 0, got = 0;
    for (size_t round = 0; round <= o->rounds; round++) {
        hitl_sim_point *point = &curve[round];
        memset(point, 0, sizeof(*point));
        if ((rc = train_and_test(&s, round, xt, nt, yt, point, err)) != HITL_OK) break;
        points = round + 1;
        if (round == o->rounds || s.nl == n) break;
        double t0 = now();
        if ((rc = select_batch(&s, o->batch, &got, err)) != HITL_OK) break;
        for (size_t j = 0; j < got; j++)
            label_row(&s, s.pick[j]);
        point->select_secs = now() - t0;
        if (o->progress) o->progress(o->progress_ctx, round + 1, o->rounds);
    }
    if (n_points) *n_points = points;
    if (o->rows_out) memcpy(o->rows_out, s.rows, s.nl * sizeof(int64_t));
    sim_release(&s);
    return rc;
}

double hitl_curve_reach(const double *x, const double *y, size_t n, double target)
{
    for (size_t i = 0; i < n; i++) {
        if (!(y[i] >= target)) continue;
        if (i == 0) return x[0];
        double t = (target - y[i - 1]) / (y[i] - y[i - 1]);
        return x[i - 1] + t * (x[i] - x[i - 1]);
    }
    return NAN;
}
