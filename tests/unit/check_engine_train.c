/* Unit tests for training the linear head: the BLAS loss and gradient against a plain double loop
 * of the documented objective and against its finite differences; L-BFGS descends, converges to
 * a stationary point and is deterministic; every error path returns its exact status. */
#include <check.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

typedef struct prob {
    size_t n, d, c;
    float *x, *soft, *cw;
    int32_t *y;
} prob;

static void prob_make(prob *p, size_t n, size_t d, size_t c, uint64_t seed)
{
    tu_rng r;
    tu_rng_seed(&r, seed);
    p->n = n;
    p->d = d;
    p->c = c;
    p->x = malloc(n * d * sizeof(float));
    p->y = malloc(n * sizeof(int32_t));
    p->soft = malloc(n * c * sizeof(float));
    p->cw = malloc(c * sizeof(float));
    for (size_t i = 0; i < n * d; i++)
        p->x[i] = (float)(tu_rng_uniform(&r) * 2 - 1);
    for (size_t i = 0; i < n; i++) /* labels that depend on x, so the fit has signal */
        p->y[i] = (int32_t)((p->x[i * d] > 0) + 2 * (d > 1 && p->x[i * d + 1] > 0.3)) % (int32_t)c;
    tu_random_probs(&r, p->soft, n, c);
    for (size_t j = 0; j < c; j++)
        p->cw[j] = (float)(0.5 + tu_rng_uniform(&r));
}

static void prob_free(prob *p)
{
    free(p->x);
    free(p->y);
    free(p->soft);
    free(p->cw);
}

/* The objective of hitl_engine.h, in plain double loops; g (may be NULL) gets [W, b]. */
static double ref_loss(const prob *p, int soft, const float *cw, double l2, const double *th,
                       double *g)
{
    size_t n = p->n, d = p->d, c = p->c, nw = d * c;
    double *z = malloc(c * sizeof(double)), S = 0, L = 0;
    if (g) memset(g, 0, (nw + c) * sizeof(double));
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < c; j++) {
            double y = soft ? p->soft[i * c + j] : (p->y[i] == (int32_t)j);
            s += (cw ? cw[j] : 1.0) * y;
        }
        S += s;
    }
    for (size_t i = 0; i < n; i++) {
        double mx = -INFINITY, se = 0, s = 0;
        for (size_t j = 0; j < c; j++) {
            z[j] = th[nw + j];
            for (size_t k = 0; k < d; k++)
                z[j] += (double)p->x[i * d + k] * th[k * c + j];
            mx = fmax(mx, z[j]);
        }
        for (size_t j = 0; j < c; j++)
            se += exp(z[j] - mx);
        double lse = mx + log(se);
        for (size_t j = 0; j < c; j++) {
            double y = soft ? p->soft[i * c + j] : (p->y[i] == (int32_t)j);
            s += (cw ? cw[j] : 1.0) * y;
        }
        for (size_t j = 0; j < c; j++) {
            double y = soft ? p->soft[i * c + j] : (p->y[i] == (int32_t)j);
            L -= s * y * (z[j] - lse);
            if (g) {
                double gij = s * (exp(z[j] - lse) - y) / S;
                g[nw + j] += gij;
                for (size_t k = 0; k < d; k++)
                    g[k * c + j] += p->x[i * d + k] * gij;
            }
        }
    }
    double f = L / S;
    for (size_t i = 0; i < nw; i++) {
        f += 0.5 * l2 * th[i] * th[i];
        if (g) g[i] += l2 * th[i];
    }
    free(z);
    return f;
}

static void check_gradient(size_t n, size_t d, size_t c, int soft, int weighted, size_t block)
{
    prob p;
    prob_make(&p, n, d, c, n * 13 + d * 5 + c + (uint64_t)soft);
    size_t nw = d * c, np = nw + c;
    tu_rng r;
    tu_rng_seed(&r, 99 + n);
    float *w = malloc(nw * sizeof(float)), *b = malloc(c * sizeof(float));
    double *th = malloc(np * sizeof(double)), *gref = malloc(np * sizeof(double));
    double *gw = malloc(nw * sizeof(double)), *gb = malloc(c * sizeof(double));
    for (size_t i = 0; i < nw; i++)
        th[i] = w[i] = (float)(tu_rng_uniform(&r) - 0.5);
    for (size_t j = 0; j < c; j++)
        th[nw + j] = b[j] = (float)(tu_rng_uniform(&r) - 0.5);
    hitl_train_opts o = {.l2 = 0.05, .class_weights = weighted ? p.cw : NULL, .block_rows = block};
    double f;
    ck_assert_int_eq(hitl_train_loss(p.x, n, d, soft ? NULL : p.y, soft ? p.soft : NULL, c, &o, w,
                                     b, &f, gw, gb, NULL),
                     HITL_OK);
    double fref = ref_loss(&p, soft, o.class_weights, o.l2, th, gref);
    ck_assert_msg(fabs(f - fref) <= 1e-6 * (1 + fabs(fref)), "loss %.9g vs %.9g", f, fref);
    double gmax = 0;
    for (size_t i = 0; i < np; i++)
        gmax = fmax(gmax, fabs(gref[i]));
    for (size_t i = 0; i < np; i++) {
        double g = i < nw ? gw[i] : gb[i - nw];
        /* float32 logits and float32 X^T G: a few 1e-7 of the largest entry */
        ck_assert_msg(fabs(g - gref[i]) <= 1e-5 * (gmax + 1e-3), "n=%zu d=%zu c=%zu [%zu] %g vs %g",
                      n, d, c, i, g, gref[i]);
        /* and the reference gradient is the derivative of the reference loss (central
         * differences in double: error ~h^2) */
        double h = 1e-5, keep = th[i];
        th[i] = keep + h;
        double fp = ref_loss(&p, soft, o.class_weights, o.l2, th, NULL);
        th[i] = keep - h;
        double fm = ref_loss(&p, soft, o.class_weights, o.l2, th, NULL);
        th[i] = keep;
        double fd = (fp - fm) / (2 * h);
        ck_assert_msg(fabs(g - fd) <= 1e-5 * (gmax + 1e-3), "finite difference [%zu] %g vs %g", i,
                      g, fd);
    }
    free(w);
    free(b);
    free(th);
    free(gref);
    free(gw);
    free(gb);
    prob_free(&p);
}

START_TEST(test_gradient_matches_reference)
{
    check_gradient(37, 5, 3, 0, 0, 0);
    check_gradient(37, 5, 3, 1, 0, 0);
    check_gradient(64, 7, 4, 0, 1, 10); /* blocks of 10 rows, the last one short */
    check_gradient(50, 3, 2, 1, 1, 7);
}
END_TEST

START_TEST(test_fit_converges_and_is_deterministic)
{
    prob p;
    prob_make(&p, 400, 6, 4, 5);
    size_t nw = 6 * 4;
    float w1[24], b1[4], w2[24], b2[4];
    hitl_train_opts o = {.l2 = 1e-2, .tol = 1e-6};
    hitl_train_report rep;
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w1, b1, &rep, NULL),
                     HITL_OK);
    /* from W = 0 the loss is ln C; the fit must go well below it and stop converged: tol 1e-6
     * is about the float32 logits' floor here, which some BLAS kernels reach and others do not
     * (Haswell's stalls at 1.3e-6), so either the gradient rule or the flat-loss rule ends it */
    ck_assert_msg(rep.loss < 0.8 * log(4.0), "loss %g", rep.loss);
    ck_assert_msg(rep.converged == 1, "stop %d after %d iterations, grad %g loss %.10g", rep.stop,
                  rep.iterations, rep.grad_norm, rep.loss);
    ck_assert(rep.stop == HITL_TRAIN_CONVERGED || rep.stop == HITL_TRAIN_FLAT);
    ck_assert_msg(rep.grad_norm <= 1e-5, "grad %g", rep.grad_norm);
    ck_assert(rep.iterations > 1 && rep.iterations < 200);
    /* the report's loss and gradient are those of the returned parameters */
    double th[28], g[28];
    for (size_t i = 0; i < nw; i++)
        th[i] = w1[i];
    for (size_t j = 0; j < 4; j++)
        th[nw + j] = b1[j];
    double f = ref_loss(&p, 0, NULL, o.l2, th, g), gi = 0;
    for (size_t i = 0; i < 28; i++)
        gi = fmax(gi, fabs(g[i]));
    ck_assert_msg(fabs(f - rep.loss) < 1e-6, "%g vs %g", f, rep.loss);
    ck_assert_msg(gi < 1e-5, "reference gradient at the fit %g", gi);
    /* a stationary point of a strictly convex objective: W = 0 and a perturbed W are worse */
    double th0[28] = {0};
    ck_assert(ref_loss(&p, 0, NULL, o.l2, th0, NULL) > f);
    /* the unpenalised bias stays centred (the gradient's class sum is 0) */
    ck_assert(fabs(b1[0] + b1[1] + b1[2] + b1[3]) < 1e-5);
    /* bitwise deterministic */
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w2, b2, NULL, NULL),
                     HITL_OK);
    ck_assert(memcmp(w1, w2, sizeof(w1)) == 0 && memcmp(b1, b2, sizeof(b1)) == 0);
    /* another block size reaches the same minimiser */
    o.block_rows = 33;
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w2, b2, NULL, NULL),
                     HITL_OK);
    for (size_t i = 0; i < nw; i++)
        ck_assert_msg(fabs(w1[i] - w2[i]) < 1e-3, "%g vs %g", w1[i], w2[i]);
    /* max_iter is honoured and reported */
    o.max_iter = 2;
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w2, b2, &rep, NULL),
                     HITL_OK);
    ck_assert_int_eq(rep.iterations, 2);
    ck_assert_int_eq(rep.stop, HITL_TRAIN_MAX_ITER);
    ck_assert_int_eq(rep.converged, 0);
    prob_free(&p);
}
END_TEST

/* The stop rules on their own: a tolerance no float32 gradient reaches ends by the flat loss, on
 * every BLAS kernel (ctest runs this binary under several OPENBLAS_CORETYPE), at a true minimiser;
 * a loose one ends by the gradient rule first. */
START_TEST(test_stop_rules)
{
    prob p;
    prob_make(&p, 400, 6, 4, 5);
    float w[24], b[4];
    hitl_train_opts o = {.l2 = 1e-2, .tol = 1e-12};
    hitl_train_report rep;
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w, b, &rep, NULL),
                     HITL_OK);
    ck_assert_msg(rep.stop == HITL_TRAIN_FLAT, "stop %d after %d iterations, grad %g", rep.stop,
                  rep.iterations, rep.grad_norm);
    ck_assert_int_eq(rep.converged, 1);
    ck_assert_msg(rep.iterations < 100, "%d iterations", rep.iterations);
    double th[28], g[28], gi = 0;
    for (size_t i = 0; i < 24; i++)
        th[i] = w[i];
    for (size_t j = 0; j < 4; j++)
        th[24 + j] = b[j];
    ref_loss(&p, 0, NULL, o.l2, th, g);
    for (size_t i = 0; i < 28; i++)
        gi = fmax(gi, fabs(g[i]));
    ck_assert_msg(gi < 1e-5, "reference gradient at the fit %g", gi);

    o.tol = 1e-3;
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w, b, &rep, NULL),
                     HITL_OK);
    ck_assert_int_eq(rep.stop, HITL_TRAIN_CONVERGED);
    ck_assert(rep.grad_norm <= 1e-3);
    prob_free(&p);
}
END_TEST

START_TEST(test_soft_onehot_equals_hard)
{
    prob p;
    prob_make(&p, 200, 4, 3, 8);
    for (size_t i = 0; i < p.n; i++)
        for (size_t j = 0; j < p.c; j++)
            p.soft[i * p.c + j] = p.y[i] == (int32_t)j;
    float w1[12], b1[3], w2[12], b2[3];
    hitl_train_opts o = {.l2 = 0.1, .class_weights = p.cw};
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, p.y, NULL, p.c, &o, w1, b1, NULL, NULL),
                     HITL_OK);
    ck_assert_int_eq(hitl_train_linear(p.x, p.n, p.d, NULL, p.soft, p.c, &o, w2, b2, NULL, NULL),
                     HITL_OK);
    ck_assert(memcmp(w1, w2, sizeof(w1)) == 0 && memcmp(b1, b2, sizeof(b1)) == 0);
    prob_free(&p);
}
END_TEST

START_TEST(test_train_errors)
{
    prob p;
    prob_make(&p, 10, 2, 3, 1);
    float w[6], b[3];
    hitl_train_opts o = {.l2 = 1};
    hitl_error err;
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, p.y, p.soft, 3, &o, w, b, NULL, &err),
                     HITL_EINVAL);
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, NULL, NULL, 3, &o, w, b, NULL, &err),
                     HITL_EINVAL);
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, p.y, NULL, 1, &o, w, b, NULL, &err),
                     HITL_EINVAL);
    ck_assert_int_eq(hitl_train_linear(p.x, 0, 2, p.y, NULL, 3, &o, w, b, NULL, &err), HITL_EINVAL);
    o.l2 = -1;
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, p.y, NULL, 3, &o, w, b, NULL, &err),
                     HITL_EINVAL);
    o.l2 = 1;
    float cw[3] = {1, 0, 1};
    o.class_weights = cw;
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, p.y, NULL, 3, &o, w, b, NULL, &err),
                     HITL_EINVAL);
    o.class_weights = NULL;
    p.y[4] = 3;
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, p.y, NULL, 3, &o, w, b, NULL, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 4);
    p.y[4] = 0;
    p.soft[7 * 3] += 0.5f;
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, NULL, p.soft, 3, &o, w, b, NULL, &err),
                     HITL_EDATA);
    ck_assert_int_eq(err.row, 7);
    p.x[2 * 2 + 1] = NAN;
    ck_assert_int_eq(hitl_train_linear(p.x, 10, 2, p.y, NULL, 3, &o, w, b, NULL, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 2);
    prob_free(&p);
}
END_TEST

/* scikit-learn's compute_class_weight('balanced', classes=np.arange(C), y=y) is
 * n_samples / (C * np.bincount(y)); its values for these labels, worked out by hand. */
START_TEST(test_class_weights_balanced)
{
    /* y = [0, 0, 0, 1, 2, 2]: counts 3, 1, 2 -> 6 / 9, 6 / 3, 6 / 6 */
    int32_t y[6] = {0, 0, 0, 1, 2, 2};
    float w[4];
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 6, 3, w, NULL), HITL_OK);
    ck_assert_float_eq_tol(w[0], 0.6666667f, 1e-6f);
    ck_assert_float_eq_tol(w[1], 2.0f, 1e-6f);
    ck_assert_float_eq_tol(w[2], 1.0f, 1e-6f);
    /* y = [1, 1, 1, 1, 0, 2, 2, 2]: counts 1, 4, 3 -> 8 / 3, 8 / 12, 8 / 9 */
    int32_t y2[8] = {1, 1, 1, 1, 0, 2, 2, 2};
    ck_assert_int_eq(hitl_class_weights_balanced(y2, NULL, 8, 3, w, NULL), HITL_OK);
    ck_assert_float_eq_tol(w[0], 2.6666667f, 1e-6f);
    ck_assert_float_eq_tol(w[1], 0.6666667f, 1e-6f);
    ck_assert_float_eq_tol(w[2], 0.8888889f, 1e-6f);
    /* a balanced sample weighs 1 everywhere; a class nobody labelled weighs 1 (scikit-learn
     * refuses a class that is not in y) */
    int32_t y3[4] = {0, 1, 0, 1};
    ck_assert_int_eq(hitl_class_weights_balanced(y3, NULL, 4, 3, w, NULL), HITL_OK);
    ck_assert_float_eq_tol(w[0], 4.0f / 6.0f, 1e-6f);
    ck_assert_float_eq_tol(w[1], 4.0f / 6.0f, 1e-6f);
    ck_assert_float_eq(w[2], 1.0f);
    ck_assert_int_eq(hitl_class_weights_balanced(y3, NULL, 4, 2, w, NULL), HITL_OK);
    ck_assert_float_eq(w[0], 1.0f);
    ck_assert_float_eq(w[1], 1.0f);
    /* soft labels: the mass of each column, 1.5, 0.75, 1.75 of 4 rows -> 4 / (3 m) */
    float soft[12] = {0.5f, 0.5f, 0, 1, 0, 0, 0, 0.25f, 0.75f, 0, 0, 1};
    ck_assert_int_eq(hitl_class_weights_balanced(NULL, soft, 4, 3, w, NULL), HITL_OK);
    ck_assert_float_eq_tol(w[0], 0.8888889f, 1e-6f);
    ck_assert_float_eq_tol(w[1], 1.7777778f, 1e-6f);
    ck_assert_float_eq_tol(w[2], 0.7619048f, 1e-6f);
    /* one-hot soft labels give the hard labels' weights */
    float onehot[18] = {0};
    for (size_t i = 0; i < 6; i++)
        onehot[i * 3 + (size_t)y[i]] = 1;
    float wh[3];
    ck_assert_int_eq(hitl_class_weights_balanced(NULL, onehot, 6, 3, wh, NULL), HITL_OK);
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 6, 3, w, NULL), HITL_OK);
    ck_assert_int_eq(memcmp(w, wh, sizeof(wh)), 0);
}
END_TEST

START_TEST(test_class_weights_errors)
{
    int32_t y[4] = {0, 1, 2, 1};
    float soft[8] = {1, 0, 0, 1, 1, 0, 0, 1}, w[3];
    hitl_error err;
    ck_assert_int_eq(hitl_class_weights_balanced(y, soft, 4, 2, w, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_class_weights_balanced(NULL, NULL, 4, 2, w, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 0, 3, w, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 4, 0, w, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 4, 3, NULL, &err), HITL_EINVAL);
    hitl_error_clear(&err);
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 4, 2, w, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 2);
    ck_assert_str_eq(err.msg, "train: label 2 of row 2 is not in [0, 2)");
    y[2] = -1;
    ck_assert_int_eq(hitl_class_weights_balanced(y, NULL, 4, 3, w, NULL), HITL_EDATA);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_train");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_gradient_matches_reference);
    tcase_add_test(core, test_fit_converges_and_is_deterministic);
    tcase_add_test(core, test_stop_rules);
    tcase_add_test(core, test_class_weights_balanced);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_soft_onehot_equals_hard);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_train_errors);
    tcase_add_test(errors, test_class_weights_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
