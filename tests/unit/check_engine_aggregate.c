/* Unit tests for label aggregation: majority vote by hand (ties are flagged, never broken),
 * Dawid-Skene recovering planted annotator confusion matrices on simulated data and beating
 * majority vote there, its convergence report, thread independence, and the error paths. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

static void build(hitl_ratings *r, size_t n_items, size_t n_ann, size_t L, const int *m)
{
    size_t cap = n_items * n_ann, n = 0;
    int32_t *it = malloc(cap * sizeof(int32_t)), *an = malloc(cap * sizeof(int32_t));
    int32_t *lb = malloc(cap * sizeof(int32_t));
    for (size_t u = 0; u < n_items; u++)
        for (size_t a = 0; a < n_ann; a++)
            if (m[u * n_ann + a] >= 0) {
                it[n] = (int32_t)u;
                an[n] = (int32_t)a;
                lb[n++] = m[u * n_ann + a];
            }
    ck_assert_int_eq(hitl_ratings_build(r, n_items, n_ann, L, it, an, lb, n, NULL, NULL), HITL_OK);
    free(it);
    free(an);
    free(lb);
}

/* Items: {0,0,1} -> 0 (2 votes); {0,1} -> tie; {2} -> 2; {} -> none; {1,1,2,2,0} -> tie. */
START_TEST(test_majority_by_hand)
{
    int m[5 * 5] = {0,  0,  1,  -1, -1, 0,  1,  -1, -1, -1, 2, -1, -1,
                    -1, -1, -1, -1, -1, -1, -1, 1,  1,  2,  2, 0};
    hitl_ratings r;
    build(&r, 5, 5, 3, m);
    hitl_vote v[5];
    size_t ties;
    ck_assert_int_eq(hitl_majority_vote(&r, v, &ties, NULL), HITL_OK);
    ck_assert_uint_eq(ties, 2);
    ck_assert_int_eq(v[0].label, 0);
    ck_assert_int_eq(v[0].votes, 2);
    ck_assert_int_eq(v[0].n, 3);
    ck_assert_int_eq(v[0].status, HITL_VOTE_CLEAR);
    ck_assert_int_eq(v[1].label, -1);
    ck_assert_int_eq(v[1].status, HITL_VOTE_TIE);
    ck_assert_int_eq(v[1].votes, 1);
    ck_assert_int_eq(v[2].label, 2);
    ck_assert_int_eq(v[3].status, HITL_VOTE_NONE);
    ck_assert_int_eq(v[3].n, 0);
    ck_assert_int_eq(v[4].status, HITL_VOTE_TIE);
    ck_assert_int_eq(v[4].votes, 2);
    ck_assert_int_eq(v[4].n, 5);
    hitl_ratings_release(&r);
}
END_TEST

/* ---- Dawid-Skene on simulated data ----------------------------------------------------------
 * 3 classes with priors .5 .3 .2; 6 annotators with planted confusion matrices (rows: true
 * class, columns: the label given): two good ones, a fair one, one who mistakes class 1 for 2,
 * and two careless ones who mostly answer 0. Each of 6000 items is rated by 3 to 5 annotators
 * drawn at random (the rest missing). */
#define K  3
#define NA 6
#define NI 6000
static const double prior[K] = {0.5, 0.3, 0.2};
static const double planted[NA][K][K] = {
    {{0.90, 0.05, 0.05}, {0.05, 0.90, 0.05}, {0.05, 0.05, 0.90}},
    {{0.85, 0.10, 0.05}, {0.05, 0.85, 0.10}, {0.10, 0.05, 0.85}},
    {{0.70, 0.15, 0.15}, {0.15, 0.70, 0.15}, {0.15, 0.15, 0.70}},
    {{0.90, 0.05, 0.05}, {0.05, 0.30, 0.65}, {0.05, 0.05, 0.90}},
    {{0.80, 0.10, 0.10}, {0.80, 0.10, 0.10}, {0.80, 0.10, 0.10}},
    {{0.75, 0.15, 0.10}, {0.75, 0.15, 0.10}, {0.75, 0.10, 0.15}},
};

static int draw(tu_rng *g, const double *p, int k)
{
    double u = tu_rng_uniform(g), acc = 0;
    for (int i = 0; i < k; i++) {
        acc += p[i];
        if (u < acc) return i;
    }
    return k - 1;
}

static void simulate(int *m, int *truth, uint64_t seed)
{
    tu_rng g;
    tu_rng_seed(&g, seed);
    for (int u = 0; u < NI; u++) {
        truth[u] = draw(&g, prior, K);
        int want = 3 + (int)(tu_rng_u64(&g) % 3), got = 0;
        for (int a = 0; a < NA; a++)
            m[u * NA + a] = -1;
        while (got < want) {
            int a = (int)(tu_rng_u64(&g) % NA);
            if (m[u * NA + a] >= 0) continue;
            m[u * NA + a] = draw(&g, planted[a][truth[u]], K);
            got++;
        }
    }
}

/* Tolerance: each confusion row of an annotator is estimated from about NI * prior * 2/3 items
 * (>= 800 for the rarest class), a standard error of at most sqrt(.25 / 800) = .018; we allow
 * .06 (over 3 standard errors) on every one of the 54 entries, and .02 on the priors. */
START_TEST(test_dawid_skene_recovers_planted_matrices)
{
    int *m = malloc(NI * NA * sizeof(int)), truth[NI];
    simulate(m, truth, 2024);
    hitl_ratings r;
    build(&r, NI, NA, K, m);
    hitl_ds_result d;
    hitl_error err;
    ck_assert_int_eq(hitl_dawid_skene(&r, NULL, &d, &err), HITL_OK);
    ck_assert_msg(d.converged, "%d iterations, change %g", d.iterations, d.max_change);
    ck_assert_int_le(d.iterations, 1000);
    ck_assert_double_eq(d.tol, 1e-6);
    ck_assert_double_eq(d.smoothing, 0.01);
    double worst = 0;
    for (int a = 0; a < NA; a++)
        for (int k = 0; k < K; k++) {
            double row = 0;
            for (int l = 0; l < K; l++) {
                double got = d.confusion[(a * K + k) * K + l];
                row += got;
                double e = fabs(got - planted[a][k][l]);
                if (e > worst) worst = e;
            }
            ck_assert_double_eq_tol(row, 1.0, 1e-12);
        }
    ck_assert_msg(worst < 0.06, "largest confusion error %g", worst);
    for (int k = 0; k < K; k++)
        ck_assert_double_eq_tol(d.prior[k], prior[k], 0.02);

    /* accuracy against the planted truth: Dawid-Skene beats majority vote, even when a
     * majority tie is credited with the 1/(tied labels) a random tie-break would earn */
    hitl_vote v[NI];
    ck_assert_int_eq(hitl_majority_vote(&r, v, NULL, NULL), HITL_OK);
    double mv = 0, ds = 0;
    for (int u = 0; u < NI; u++) {
        ds += d.label[u] == truth[u];
        if (v[u].status == HITL_VOTE_CLEAR) {
            mv += v[u].label == truth[u];
        } else {
            int cnt[K] = {0}, tied = 0, has_truth = 0;
            for (int a = 0; a < NA; a++)
                if (m[u * NA + a] >= 0) cnt[m[u * NA + a]]++;
            for (int k = 0; k < K; k++)
                if (cnt[k] == v[u].votes) {
                    tied++;
                    has_truth |= k == truth[u];
                }
            mv += has_truth ? 1.0 / tied : 0;
        }
    }
    mv /= NI;
    ds /= NI;
    ck_assert_msg(ds > mv + 0.03, "dawid-skene %.4f vs majority %.4f", ds, mv);
    /* posteriors are distributions */
    for (int u = 0; u < NI; u += 97) {
        double s = 0;
        for (int k = 0; k < K; k++)
            s += d.posterior[u * K + k];
        ck_assert_double_eq_tol(s, 1.0, 1e-12);
    }
    hitl_ds_result_release(&d);
    hitl_ratings_release(&r);
    free(m);
}
END_TEST

/* The iteration cap is reported as such, and the same table gives the same answer on any
 * number of threads. */
START_TEST(test_dawid_skene_cap_and_threads)
{
    int *m = malloc(NI * NA * sizeof(int)), truth[NI];
    simulate(m, truth, 7);
    hitl_ratings r;
    build(&r, NI, NA, K, m);
    hitl_ds_opts o = {.max_iter = 2, .threads = 1};
    hitl_ds_result d1, d2;
    ck_assert_int_eq(hitl_dawid_skene(&r, &o, &d1, NULL), HITL_OK);
    ck_assert(!d1.converged);
    ck_assert_int_eq(d1.iterations, 2);
    ck_assert_int_eq(d1.max_iter, 2);
    ck_assert(d1.max_change > 1e-6);
    hitl_ds_result_release(&d1);
    o = (hitl_ds_opts){.threads = 1};
    ck_assert_int_eq(hitl_dawid_skene(&r, &o, &d1, NULL), HITL_OK);
    o.threads = 3;
    ck_assert_int_eq(hitl_dawid_skene(&r, &o, &d2, NULL), HITL_OK);
    ck_assert_int_eq(d1.iterations, d2.iterations);
    ck_assert_mem_eq(d1.posterior, d2.posterior, NI * K * sizeof(double));
    ck_assert_mem_eq(d1.confusion, d2.confusion, NA * K * K * sizeof(double));
    ck_assert_double_eq(d1.log_likelihood, d2.log_likelihood);
    hitl_ds_result_release(&d1);
    hitl_ds_result_release(&d2);
    /* more smoothing pulls the careless annotators' rows towards uniform: a stated effect */
    o = (hitl_ds_opts){.smoothing = 50};
    ck_assert_int_eq(hitl_dawid_skene(&r, &o, &d1, NULL), HITL_OK);
    ck_assert_double_eq(d1.smoothing, 50);
    hitl_ds_result_release(&d1);
    hitl_ratings_release(&r);
    free(m);
}
END_TEST

/* An item without ratings gets the prior as its posterior; EM's log-likelihood only ever
 * grows (checked by running 1, 2, ... iterations). */
START_TEST(test_dawid_skene_unrated_and_monotone)
{
    int m[4 * 3] = {0, 0, 1, 1, 1, 1, -1, -1, -1, 0, 1, 0};
    hitl_ratings r;
    build(&r, 4, 3, 2, m);
    double last = -INFINITY;
    for (int it = 1; it <= 8; it++) {
        hitl_ds_opts o = {.max_iter = it, .tol = 1e-300};
        hitl_ds_result d;
        ck_assert_int_eq(hitl_dawid_skene(&r, &o, &d, NULL), HITL_OK);
        ck_assert(d.log_likelihood >= last - 1e-12);
        last = d.log_likelihood;
        ck_assert_double_eq_tol(d.posterior[2 * 2], d.prior[0], 1e-15);
        ck_assert_double_eq_tol(d.posterior[2 * 2 + 1], d.prior[1], 1e-15);
        hitl_ds_result_release(&d);
    }
    hitl_ratings_release(&r);
}
END_TEST

START_TEST(test_errors)
{
    hitl_ds_result d;
    hitl_error err;
    hitl_ratings r;
    int one_label[2] = {0, 0};
    build(&r, 1, 2, 1, one_label);
    ck_assert_int_eq(hitl_dawid_skene(&r, NULL, &d, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "Dawid-Skene needs at least two labels");
    hitl_ratings_release(&r);
    int two[2] = {0, 1};
    build(&r, 1, 2, 2, two);
    hitl_ds_opts bad = {.tol = -1};
    ck_assert_int_eq(hitl_dawid_skene(&r, &bad, &d, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_dawid_skene(&r, NULL, NULL, &err), HITL_EINVAL);
    r.label[0] = 5;
    ck_assert_int_eq(hitl_dawid_skene(&r, NULL, &d, &err), HITL_EINVAL);
    hitl_vote v[1];
    ck_assert_int_eq(hitl_majority_vote(&r, v, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_majority_vote(&r, NULL, NULL, &err), HITL_EINVAL);
    r.label[0] = 0;
    ck_assert_int_eq(hitl_dawid_skene(&r, NULL, &d, &err), HITL_OK);
    hitl_ds_result_release(&d);
    hitl_ds_result_release(NULL);
    hitl_ratings_release(&r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_aggregate");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_majority_by_hand);
    tcase_add_test(core, test_dawid_skene_recovers_planted_matrices);
    tcase_add_test(core, test_dawid_skene_cap_and_threads);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_dawid_skene_unrated_and_monotone);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
