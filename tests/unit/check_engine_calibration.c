/* Unit tests for calibration: Newcombe's published Wilson intervals, every metric on a sample
 * small enough to compute by hand, the streaming reliability bins against a plain-loop
 * reference (and the bin of a confidence on an edge), a temperature with a closed-form optimum,
 * a grid-search reference on random data, and the bad rows with their exact status and row. */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "hitl_engine.h"
#include "testutil.h"

/* Newcombe (1998), "Two-sided confidence intervals for the single proportion: comparison of
 * seven methods", Stat. Med. 17:857-872, Table I, method 3 (Wilson score, no continuity
 * correction): 81/263 -> 0.2553-0.3662, 15/148 -> 0.0624-0.1605, 0/20 -> 0-0.1611,
 * 1/29 -> 0.0061-0.1718. */
START_TEST(test_wilson_newcombe_1998)
{
    static const int64_t k[4] = {81, 15, 0, 1}, n[4] = {263, 148, 20, 29};
    static const double lo[4] = {0.2553, 0.0624, 0.0, 0.0061},
                        hi[4] = {0.3662, 0.1605, 0.1611, 0.1718};
    for (int i = 0; i < 4; i++) {
        hitl_interval iv = hitl_wilson_interval(k[i], n[i], 1.959963984540054);
        ck_assert_double_eq_tol(iv.lo, lo[i], 5e-5);
        ck_assert_double_eq_tol(iv.hi, hi[i], 5e-5);
    }
    hitl_interval none = hitl_wilson_interval(0, 0, 1.96);
    ck_assert(isnan(none.lo) && isnan(none.hi));
    hitl_interval all = hitl_wilson_interval(10, 10, 1.96);
    ck_assert_double_eq(all.hi, 1.0);
}
END_TEST

/* Five rows, three classes (the 0.5 row ties: argmax goes to the lower class, and 0.5 sits on
 * the bin edge, so it belongs to the lower bin (0, 0.5]). By hand, with B = 2:
 *   row  probs            y  conf pred correct
 *   0    .9  .05 .05      0  .9   0    1
 *   1    .2  .7  .1       0  .7   1    0
 *   2    .4  .3  .3       0  .4   0    1
 *   3    .3  .3  .4       1  .4   2    0
 *   4    .5  .5  0        1  .5   0    0
 * bin (0, .5]: rows 2,3,4: conf 1.3/3, acc 1/3; bin (.5, 1]: rows 0,1: conf .8, acc .5
 * ECE = 3/5 * .1 + 2/5 * .3 = .18, MCE = .3, accuracy 2/5
 * equal mass (ranks [0,2) and [2,5) by confidence): rows 2,3 then 4,1,0:
 *   ECE = (|1 - .8| + |1 - 2.1|) / 5 = .26
 * Brier, multiclass: .015 + 1.14 + .54 + .74 + .5 = 2.935 -> .587
 * Brier, top label: (.1^2 + .7^2 + .6^2 + .4^2 + .5^2) / 5 = 1.27 / 5 = .254
 * NLL: -(ln .9 + ln .2 + ln .4 + ln .3 + ln .5) / 5 */
static const double hand_probs[15] = {0.9, 0.05, 0.05, 0.2, 0.7, 0.1, 0.4, 0.3,
                                      0.3, 0.3,  0.3,  0.4, 0.5, 0.5, 0.0};
static const int32_t hand_labels[5] = {0, 0, 0, 1, 1};

START_TEST(test_metrics_by_hand)
{
    hitl_calib_opts o = {.bins = 2};
    hitl_calibration c;
    hitl_error err;
    ck_assert_int_eq(hitl_calibration_compute(hand_probs, hand_labels, 5, 3, &o, &c, &err),
                     HITL_OK);
    double tol = 1e-12;
    ck_assert_uint_eq(c.n, 5);
    ck_assert_double_eq_tol(c.accuracy, 0.4, 1e-15);
    ck_assert_double_eq_tol(c.ece, 0.18, tol);
    ck_assert_double_eq_tol(c.mce, 0.3, tol);
    ck_assert_double_eq_tol(c.ece_equal_mass, 0.26, tol);
    ck_assert_double_eq_tol(c.brier_multiclass, 0.587, tol);
    ck_assert_double_eq_tol(c.brier_top_label, 0.254, tol);
    ck_assert_double_eq_tol(c.nll, -(log(0.9) + log(0.2) + log(0.4) + log(0.3) + log(0.5)) / 5,
                            tol);
    ck_assert_int_eq(c.bins[0].count, 3);
    ck_assert_double_eq_tol(c.bins[0].confidence, 1.3 / 3, tol);
    ck_assert_double_eq_tol(c.bins[0].accuracy, 1.0 / 3, 1e-15);
    ck_assert_int_eq(c.bins[1].count, 2);
    ck_assert_double_eq_tol(c.bins[1].confidence, 0.8, tol);
    ck_assert_double_eq(c.bins[1].lo, 0.5);
    ck_assert_int_eq(c.mass_bins[0].count, 2);
    ck_assert_int_eq(c.mass_bins[1].count, 3);
    static const int64_t conf[9] = {2, 1, 0, 1, 0, 1, 0, 0, 0};
    ck_assert_mem_eq(c.confusion, conf, sizeof(conf));
    ck_assert_int_eq(c.per_class[0].support, 3);
    ck_assert_double_eq_tol(c.per_class[0].precision, 2.0 / 3, 1e-15);
    ck_assert_double_eq_tol(c.per_class[0].f1, 2.0 / 3, 1e-15);
    ck_assert_double_eq(c.per_class[1].precision, 0);
    ck_assert_double_eq(c.per_class[1].f1, 0);
    ck_assert(isnan(c.per_class[2].recall)); /* no true class-2 rows */
    ck_assert(isnan(c.per_class[2].f1));
    ck_assert_double_eq(c.per_class[2].precision, 0); /* one wrong prediction of class 2 */
    ck_assert(!c.temperature_fitted);
    hitl_calibration_release(&c);
    /* default bins: HITL_CALIB_BINS, 15, as every command and report */
    ck_assert_int_eq(hitl_calibration_compute(hand_probs, hand_labels, 5, 3, NULL, &c, &err),
                     HITL_OK);
    ck_assert_uint_eq(c.n_bins, HITL_CALIB_BINS);
    ck_assert_uint_eq(HITL_CALIB_BINS, 15);
    ck_assert_double_eq(c.bins[14].hi, 1.0);
    hitl_calibration_release(&c);
}
END_TEST

/* Every row is p = (.9, .1) and 3 of 4 rows are class 0. softmax(ln p / T) gives class 0 the
 * probability sigmoid(a / T) with a = ln(p0 / p1); the NLL is minimal where that equals the
 * accuracy 3/4, so T = a / ln 3 (2, up to the rounding of .9 and .1). */
START_TEST(test_temperature_closed_form)
{
    double p[400 * 2];
    int32_t y[400];
    for (int i = 0; i < 400; i++) {
        p[2 * i] = 0.9;
        p[2 * i + 1] = 0.1;
        y[i] = i % 4 == 3;
    }
    hitl_calib_opts o = {.fit_temperature = 1};
    hitl_calibration c;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 400, 2, &o, &c, NULL), HITL_OK);
    double a = log(0.9 / 0.1), want = a / log(3.0);
    ck_assert(c.temperature_fitted);
    ck_assert_msg(fabs(c.temperature - want) < 1e-6 * want, "T %.9f want %.9f", c.temperature,
                  want);
    ck_assert(!c.temperature_at_bound);
    /* after scaling, the confidence is .75 and so is the accuracy */
    ck_assert_double_eq_tol(c.ece_scaled, 0, 1e-6);
    ck_assert_double_eq_tol(c.nll_scaled, -(0.75 * log(0.75) + 0.25 * log(0.25)), 1e-9);
    hitl_calibration_release(&c);
}
END_TEST

/* Random overconfident predictions: the fitted T is the minimum of a fine grid of the NLL
 * computed here from the definition, and scaling lowers the NLL. */
static double ref_nll(const double *p, const int32_t *y, size_t n, size_t C, double t)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        double z = 0;
        for (size_t k = 0; k < C; k++)
            z += pow(p[i * C + k] > 1e-15 ? p[i * C + k] : 1e-15, 1 / t);
        s -= log(pow(p[i * C + y[i]], 1 / t) / z);
    }
    return s / (double)n;
}

START_TEST(test_temperature_matches_grid)
{
    size_t n = 2000, C = 5;
    double *p = malloc(n * C * sizeof(double));
    int32_t *y = malloc(n * sizeof(int32_t));
    tu_rng g;
    tu_rng_seed(&g, 21);
    for (size_t i = 0; i < n; i++) {
        double z[5], s = 0;
        for (size_t k = 0; k < C; k++) {
            z[k] = 3 * (tu_rng_uniform(&g) - 0.5);
            s += exp(z[k] / 0.5); /* the model is sharper than the truth */
        }
        double u = tu_rng_uniform(&g), truth_s = 0, acc = 0;
        for (size_t k = 0; k < C; k++)
            truth_s += exp(z[k]);
        y[i] = (int32_t)(C - 1);
        for (size_t k = 0; k < C; k++) {
            acc += exp(z[k]) / truth_s;
            if (u < acc) {
                y[i] = (int32_t)k;
                break;
            }
        }
        for (size_t k = 0; k < C; k++)
            p[i * C + k] = exp(z[k] / 0.5) / s;
    }
    hitl_calib_opts o = {.fit_temperature = 1};
    hitl_calibration c;
    ck_assert_int_eq(hitl_calibration_compute(p, y, n, C, &o, &c, NULL), HITL_OK);
    double best_t = 0, best = INFINITY;
    for (double lt = log(0.5); lt < log(8.0); lt += 1e-3) {
        double v = ref_nll(p, y, n, C, exp(lt));
        if (v < best) {
            best = v;
            best_t = exp(lt);
        }
    }
    ck_assert_msg(fabs(c.temperature - best_t) < 2e-3 * best_t, "T %g grid %g", c.temperature,
                  best_t);
    ck_assert(c.temperature > 1.5 && c.temperature < 2.5); /* it undoes the sharpening */
    ck_assert_double_eq_tol(c.nll_scaled, ref_nll(p, y, n, C, c.temperature), 1e-9);
    ck_assert(c.nll_scaled < c.nll);
    ck_assert(c.ece_scaled < c.ece);
    hitl_calibration_release(&c);
    free(p);
    free(y);
}
END_TEST

/* The streaming bins against a plain loop on random confidences (edges b/B included), with the
 * Wilson interval of its accuracy and both the NaN and the out-of-range rows skipped. */
START_TEST(test_reliability_matches_reference)
{
    tu_rng rng;
    tu_rng_seed(&rng, 5);
    enum { N = 5000, B = 10 };
    double *conf = malloc(N * sizeof(double));
    int *hit = malloc(N * sizeof(int));
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, B, NULL), HITL_OK);
    for (int i = 0; i < N; i++) {
        conf[i] = i % 50 == 0 ? (double)(i % 11) / B : tu_rng_uniform(&rng); /* edges too */
        if (conf[i] > 1) conf[i] = 1;
        hit[i] = tu_rng_uniform(&rng) < conf[i] * 0.9;
        hitl_reliability_add(&r, conf[i], hit[i]);
    }
    hitl_reliability_add(&r, NAN, 1);
    hitl_reliability_add(&r, 1.5, 1);
    hitl_reliability_add(&r, -0.1, 1);
    ck_assert_int_eq(r.skipped, 3);
    /* reference: bin b holds (b/B, (b+1)/B], 0 in bin 0 */
    double cnt[B] = {0}, hits[B] = {0}, cs[B] = {0}, brier = 0, correct = 0, sum = 0;
    for (int i = 0; i < N; i++) {
        int b = 0;
        while (b < B - 1 && conf[i] > (double)(b + 1) / B)
            b++;
        cnt[b]++;
        hits[b] += hit[i];
        cs[b] += conf[i];
        brier += (conf[i] - hit[i]) * (conf[i] - hit[i]);
        correct += hit[i];
        sum += conf[i];
    }
    double ece = 0, mce = 0;
    for (int b = 0; b < B; b++) {
        ck_assert_int_eq(r.count[b], (int64_t)cnt[b]);
        hitl_calib_bin x = hitl_reliability_bin(&r, (size_t)b);
        ck_assert_double_eq(x.lo, (double)b / B);
        ck_assert_double_eq(x.hi, (double)(b + 1) / B);
        if (!cnt[b]) {
            ck_assert(isnan(x.accuracy) && isnan(x.confidence));
            continue;
        }
        double gap = fabs(hits[b] / cnt[b] - cs[b] / cnt[b]);
        ece += cnt[b] / N * gap;
        mce = gap > mce ? gap : mce;
        ck_assert_double_eq_tol(x.accuracy, hits[b] / cnt[b], 1e-15);
        ck_assert_double_eq_tol(x.confidence, cs[b] / cnt[b], 1e-15);
    }
    hitl_reliability_summary s;
    hitl_reliability_summarize(&r, &s);
    ck_assert_int_eq(s.n, N);
    ck_assert_uint_eq(s.bins, B);
    ck_assert_double_eq_tol(s.accuracy, correct / N, 1e-12);
    ck_assert_double_eq_tol(s.ece, ece, 1e-12);
    ck_assert_double_eq_tol(s.mce, mce, 1e-12);
    ck_assert_double_eq_tol(s.brier_top_label, brier / N, 1e-12);
    ck_assert_double_eq_tol(s.confidence, sum / N, 1e-12);
    hitl_interval w = hitl_wilson_interval((int64_t)correct, N, 1.959963984540054);
    ck_assert_double_eq(s.accuracy_ci.lo, w.lo);
    ck_assert_double_eq(s.accuracy_ci.hi, w.hi);
    hitl_reliability_release(&r);
    free(conf);
    free(hit);
}
END_TEST

/* A confidence on an edge belongs to the bin it closes: 0.8 is in (0.7, 0.8] of 10 bins and in
 * (11/15, 12/15] of 15, 0 in the first bin, 1 in the last. The float32 rounding of 0.8
 * (0.800000012) is above the edge: the values are binned as given, so a float64 0.8 must reach
 * the engine as a double. hitl_calibration_compute bins the same way. */
START_TEST(test_edges_as_given)
{
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, 10, NULL), HITL_OK);
    hitl_reliability_add(&r, 0.8, 1);
    ck_assert_int_eq(r.count[7], 1);
    hitl_reliability_add(&r, (double)0.8f, 1);
    ck_assert_int_eq(r.count[8], 1);
    hitl_reliability_add(&r, 0.0, 0);
    hitl_reliability_add(&r, 1.0, 1);
    hitl_reliability_add(&r, 0.1, 0);
    ck_assert_int_eq(r.count[0], 2);
    ck_assert_int_eq(r.count[9], 1);
    hitl_reliability_release(&r);
    ck_assert_int_eq(hitl_reliability_init(&r, 15, NULL), HITL_OK);
    hitl_reliability_add(&r, 0.8, 1);
    ck_assert_int_eq(r.count[11], 1);
    hitl_reliability_release(&r);

    double p[6] = {0.8, 0.2, 0.3, 0.7, 0.9, 0.1};
    int32_t y[3] = {0, 1, 1};
    hitl_calib_opts o = {.bins = 10};
    hitl_calibration c;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, &o, &c, NULL), HITL_OK);
    ck_assert_int_eq(c.bins[6].count, 1); /* 0.7 */
    ck_assert_int_eq(c.bins[7].count, 1); /* 0.8 */
    ck_assert_int_eq(c.bins[8].count, 1); /* 0.9 */
    ck_assert_int_eq(c.bins[9].count, 0);
    ck_assert_double_eq(c.bins[7].confidence, 0.8);
    /* top-label Brier: (.8 - 1)^2 + (.7 - 1)^2 + (.9 - 0)^2 over 3 */
    ck_assert_double_eq_tol(c.brier_top_label, (0.04 + 0.09 + 0.81) / 3, 1e-15);
    hitl_calibration_release(&c);
}
END_TEST

/* A perfectly calibrated, fully confident model: ECE 0, Brier 0; no rows: every figure NaN. */
START_TEST(test_reliability_perfect_and_empty)
{
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, 15, NULL), HITL_OK);
    hitl_reliability_summary s;
    hitl_reliability_summarize(&r, &s);
    ck_assert_int_eq(s.n, 0);
    ck_assert(isnan(s.accuracy) && isnan(s.ece) && isnan(s.mce) && isnan(s.accuracy_ci.lo));
    ck_assert(isnan(s.brier_top_label) && isnan(s.confidence));
    for (int i = 0; i < 100; i++)
        hitl_reliability_add(&r, 1.0, 1);
    hitl_reliability_summarize(&r, &s);
    ck_assert_double_eq(s.ece, 0);
    ck_assert_double_eq(s.brier_top_label, 0);
    ck_assert_double_eq(s.accuracy, 1);
    ck_assert_int_eq(r.count[14], 100);
    hitl_reliability_release(&r);
    hitl_reliability_release(NULL);
}
END_TEST

/* More bins than rows: empty bins are NaN and skipped; equal-mass bins stay well defined. */
START_TEST(test_more_bins_than_rows)
{
    hitl_calib_opts o = {.bins = 100};
    hitl_calibration c;
    ck_assert_int_eq(hitl_calibration_compute(hand_probs, hand_labels, 5, 3, &o, &c, NULL),
                     HITL_OK);
    int64_t total = 0, mass_total = 0;
    for (size_t b = 0; b < 100; b++) {
        total += c.bins[b].count;
        mass_total += c.mass_bins[b].count;
        if (!c.bins[b].count) ck_assert(isnan(c.bins[b].accuracy));
    }
    ck_assert_int_eq(total, 5);
    ck_assert_int_eq(mass_total, 5);
    /* one row per non-empty equal-mass bin: |correct - conf| summed over rows */
    ck_assert_double_eq_tol(c.ece_equal_mass, (0.1 + 0.7 + 0.6 + 0.4 + 0.5) / 5, 1e-12);
    hitl_calibration_release(&c);
}
END_TEST

static void o_bins_too_many(const double *p, const int32_t *y)
{
    hitl_calib_opts o = {.bins = 1000001};
    hitl_calibration c;
    hitl_error err;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, &o, &c, &err), HITL_EINVAL);
    ck_assert_str_eq(err.msg, "too many bins (1000001)");
}

START_TEST(test_bad_rows)
{
    double p[6] = {0.5, 0.5, 0.2, 0.8, 0.3, 0.7};
    int32_t y[3] = {0, 1, 1};
    hitl_calibration c;
    hitl_error err;
    p[3] = NAN;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, NULL, &c, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 1);
    ck_assert_str_eq(err.msg, "row 1: probability nan of class 1 is not finite");
    p[3] = -0.1;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, NULL, &c, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 1);
    p[3] = 0.9; /* sums to 1.1 */
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, NULL, &c, &err), HITL_EDATA);
    ck_assert_str_eq(err.msg, "row 1: probabilities sum to 1.1, not 1");
    p[3] = 0.8;
    y[2] = 2;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, NULL, &c, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 2);
    ck_assert_str_eq(err.msg, "row 2: label 2 outside [0, 2)");
    y[2] = 1;
    ck_assert_int_eq(hitl_calibration_compute(p, y, 0, 2, NULL, &c, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 1, NULL, &c, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_calibration_compute(NULL, y, 3, 2, NULL, &c, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, NULL, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_calibration_compute(p, y, 3, 2, NULL, &c, &err), HITL_OK);
    hitl_calibration_release(&c);
    hitl_calibration_release(NULL);
    hitl_reliability r;
    ck_assert_int_eq(hitl_reliability_init(&r, 0, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_reliability_init(&r, 1000001, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_reliability_init(NULL, 10, &err), HITL_EINVAL);
    o_bins_too_many(p, y);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_calibration");
    TCase *core = tcase_create("core");
    tcase_add_test(core, test_wilson_newcombe_1998);
    tcase_add_test(core, test_metrics_by_hand);
    tcase_add_test(core, test_reliability_matches_reference);
    tcase_add_test(core, test_edges_as_given);
    tcase_add_test(core, test_temperature_closed_form);
    tcase_add_test(core, test_temperature_matches_grid);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_test(limits, test_more_bins_than_rows);
    tcase_add_test(limits, test_reliability_perfect_and_empty);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_test(errors, test_bad_rows);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
