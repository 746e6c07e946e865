/* Unit tests for review health: every rule on hand-made metrics, on both sides of its threshold
 * (the comparisons are strict), approval judged against the final labels (an accurate annotator
 * on uncertain items is not flagged), the minimum sample, undefined values that judge nothing,
 * the latency percentiles against numpy's by hand, and every refusal with its exact status. */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "testutil.h"

/* Three annotators and two actors, all comfortably inside every threshold. Annotators: labels,
 * shown, agreed; right suggestions and those approved; wrong ones and those approved. */
static hitl_health_annotator ann[3];
static hitl_health_actor act[2];
static hitl_health_metrics m;

static void setup(void)
{
    ann[0] = (hitl_health_annotator){"ann", 50, 40, 30, 30, 28, 10, 2}; /* .75, .93, .2 */
    ann[1] = (hitl_health_annotator){"bob", 60, 50, 30, 25, 22, 20, 3}; /* .6, .88, .15 */
    ann[2] = (hitl_health_annotator){"cy", 45, 40, 20, 20, 15, 20, 4};  /* .5, .75, .2 */
    act[0] = (hitl_health_actor){"qa", 30, 3};                          /* 0.10 */
    act[1] = (hitl_health_actor){"lead", 20, 0};
    m = (hitl_health_metrics){.prediction_shown = 1,
                              .annotators = ann,
                              .n_annotators = 3,
                              .actors = act,
                              .n_actors = 2,
                              .labels = 105,
                              .labels_audited = 105,
                              .chain_ok = 1,
                              .chain_bad_seq = -1,
                              .alpha = 0.8};
}

static hitl_health_verdict judge(void)
{
    hitl_health_verdict v;
    hitl_error err;
    ck_assert_msg(hitl_health_evaluate(&m, NULL, &v, &err) == HITL_OK, "%s", err.msg);
    return v;
}

START_TEST(test_healthy)
{
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    ck_assert_uint_eq(v.n_reasons, 0);
    ck_assert_double_eq(v.completeness, 1.0);
    ck_assert_double_eq(v.model_agreement[0], 0.75);
    ck_assert_double_eq(v.model_agreement[2], 0.5);
    ck_assert_double_eq(v.right_approval[2], 0.75);
    ck_assert_double_eq(v.wrong_approval[1], 0.15);
    ck_assert_double_eq(v.override_rate[0], 0.1);
    ck_assert_double_eq(v.override_rate[1], 0.0);
    ck_assert_str_eq(hitl_health_status_name(v.status), "healthy");
    hitl_health_verdict_release(&v);
}
END_TEST

/* Reviewers of live decisions, by hand: 20 of 20 approved (1.0 > 0.95, rubber-stamping), 19 of
 * 20 (0.95, not above), 9 of 20 (0.45 < 0.5, inefficient), 10 of 20 (0.5, not below), 5 of 5
 * (too few votes to judge), none (NaN). */
START_TEST(test_decision_reviewers)
{
    hitl_health_reviewer rv[6] = {{"r1", 20, 20, 0, 0}, {"r2", 20, 19, 0, 0}, {"r3", 20, 9, 0, 0},
                                  {"r4", 20, 10, 0, 0}, {"r5", 5, 5, 0, 0},   {"r6", 0, 0, 0, 0}};
    m.reviewers = rv;
    m.n_reviewers = 6;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 2);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_DECISION_RUBBER_STAMPING);
    ck_assert_uint_eq(v.reasons[0].subject, 0);
    ck_assert_double_eq(v.reasons[0].value, 1.0);
    ck_assert_int_eq(v.reasons[1].rule, HITL_HEALTH_DECISION_INEFFICIENT);
    ck_assert_uint_eq(v.reasons[1].subject, 2);
    ck_assert_double_eq_tol(v.reasons[1].value, 0.45, 1e-12);
    ck_assert_double_eq_tol(v.decision_approval[1], 0.95, 1e-12);
    ck_assert(isnan(v.decision_approval[5]));
    ck_assert_str_eq(hitl_health_rule_name(v.reasons[1].rule), "decision_inefficient");
    hitl_health_verdict_release(&v);
    rv[0].approvals = 21; /* more approvals than votes cannot be */
    hitl_error err;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
}
END_TEST

/* Overrides of settled decisions over each reviewer's recent reviews, by hand: 7 of 20 (0.35 >
 * 0.3: at risk), 6 of 20 (0.3, not above), 5 of 5 (too few to judge), none (NaN); with the
 * store's threshold at 0.25, 6 of 20 is above it too. */
START_TEST(test_decision_overrides)
{
    hitl_health_reviewer rv[4] = {
        {"r1", 0, 0, 20, 7}, {"r2", 0, 0, 20, 6}, {"r3", 0, 0, 5, 5}, {"r4", 0, 0, 0, 0}};
    m.reviewers = rv;
    m.n_reviewers = 4;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_AT_RISK);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_DECISION_OVERRIDES);
    ck_assert_uint_eq(v.reasons[0].subject, 0);
    ck_assert_double_eq_tol(v.reasons[0].value, 0.35, 1e-12);
    ck_assert_double_eq_tol(v.decision_override[1], 0.3, 1e-12);
    ck_assert(isnan(v.decision_override[3]));
    ck_assert_str_eq(hitl_health_rule_name(v.reasons[0].rule), "decision_override_rate");
    hitl_health_verdict_release(&v);
    hitl_health_thresholds t;
    hitl_health_thresholds_default(&t);
    t.override_rate = 0.25;
    ck_assert_int_eq(hitl_health_evaluate(&m, &t, &v, NULL), HITL_OK);
    ck_assert_uint_eq(v.n_reasons, 2);
    ck_assert_uint_eq(v.reasons[1].subject, 1);
    hitl_health_verdict_release(&v);
    rv[0].recent_overrides = 21; /* more overrides than reviews cannot be */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, NULL), HITL_EINVAL);
}
END_TEST

/* Audit completeness over labels and decision records together, by hand: 100 labels all
 * audited and 50 decision records of which 48 audited: 148 / 150 = 0.9867 < 0.99, at risk;
 * 49 of 50: 149 / 150 = 0.99333, not. More audited than there are cannot be. */
START_TEST(test_decision_audit_completeness)
{
    m.labels = m.labels_audited = 100;
    m.decision_records = 50;
    m.decision_records_audited = 48;
    hitl_health_verdict v = judge();
    ck_assert_double_eq_tol(v.completeness, 148.0 / 150.0, 1e-12);
    ck_assert_int_eq(v.status, HITL_HEALTH_AT_RISK);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_AUDIT_INCOMPLETE);
    hitl_health_verdict_release(&v);
    m.decision_records_audited = 49;
    v = judge();
    ck_assert_double_eq_tol(v.completeness, 149.0 / 150.0, 1e-12);
    ck_assert_uint_eq(v.n_reasons, 0);
    hitl_health_verdict_release(&v);
    m.decision_records_audited = 51;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, NULL), HITL_EINVAL);
}
END_TEST

/* 20 of 20 wrong suggestions approved: 1.0 > 0.95. 19/20 = 0.95 is not above it. */
START_TEST(test_rubber_stamping)
{
    ann[1].agreed = 42;
    ann[1].wrong_approved = 20;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_RUBBER_STAMPING);
    ck_assert_int_eq(v.reasons[0].severity, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.reasons[0].subject, 1);
    ck_assert_double_eq(v.reasons[0].value, 1.0);
    ck_assert_double_eq(v.reasons[0].threshold, 0.95);
    ck_assert_str_eq(hitl_health_rule_name(v.reasons[0].rule), "rubber_stamping");
    hitl_health_verdict_release(&v);
    ann[1].wrong_approved = 19;
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    hitl_health_verdict_release(&v);
}
END_TEST

/* 9 of 20 right suggestions approved: 0.45 < 0.5 is inefficient; 10/20 = 0.5 is not below. */
START_TEST(test_inefficient)
{
    ann[2].right_approved = 9;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_INEFFICIENT);
    ck_assert_uint_eq(v.reasons[0].subject, 2);
    ck_assert_double_eq(v.reasons[0].value, 0.45);
    hitl_health_verdict_release(&v);
    ann[2].right_approved = 10;
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    hitl_health_verdict_release(&v);
}
END_TEST

/* The store: on items queued because the model was unsure, an accurate annotator's
 * labels agree with the shown prediction 20 times in 100 (the old rule's "inefficient"), because
 * the final label rejected 80 of those predictions; they approved 19 of the 20 right ones and 1
 * of the 80 wrong ones. Healthy. A rubber stamper on the same items approves all 100. */
START_TEST(test_uncertain_items)
{
    ann[0] = (hitl_health_annotator){"ann", 100, 100, 20, 20, 19, 80, 1};
    hitl_health_verdict v = judge();
    ck_assert_double_eq(v.model_agreement[0], 0.2);
    ck_assert_double_eq(v.right_approval[0], 0.95);
    ck_assert_double_eq(v.wrong_approval[0], 1.0 / 80);
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    ck_assert_uint_eq(v.n_reasons, 0);
    hitl_health_verdict_release(&v);
    ann[0] = (hitl_health_annotator){"rub", 100, 100, 100, 20, 20, 80, 80};
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_RUBBER_STAMPING);
    ck_assert_uint_eq(v.reasons[0].subject, 0);
    hitl_health_verdict_release(&v);
}
END_TEST

/* Approving every wrong suggestion and rejecting the right ones: both rules, in rule order. */
START_TEST(test_both_annotator_rules)
{
    ann[2] = (hitl_health_annotator){"cy", 45, 40, 25, 20, 5, 20, 20};
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 2);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_RUBBER_STAMPING);
    ck_assert_int_eq(v.reasons[1].rule, HITL_HEALTH_INEFFICIENT);
    ck_assert_uint_eq(v.reasons[1].subject, 2);
    ck_assert_double_eq(v.reasons[1].value, 0.25);
    hitl_health_verdict_release(&v);
}
END_TEST

START_TEST(test_chain_broken)
{
    m.chain_ok = 0;
    m.chain_bad_seq = 17;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_CHAIN_BROKEN);
    ck_assert_uint_eq(v.reasons[0].subject, SIZE_MAX);
    ck_assert_double_eq(v.reasons[0].value, 17.0);
    hitl_health_verdict_release(&v);
}
END_TEST

/* 98/100 = 0.98 < 0.99 is at risk; 99/100 is not. */
START_TEST(test_audit_incomplete)
{
    m.labels = 100;
    m.labels_audited = 98;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_AT_RISK);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_AUDIT_INCOMPLETE);
    ck_assert_int_eq(v.reasons[0].severity, HITL_HEALTH_AT_RISK);
    ck_assert_double_eq(v.reasons[0].value, 0.98);
    ck_assert_str_eq(hitl_health_status_name(v.status), "at_risk");
    hitl_health_verdict_release(&v);
    m.labels_audited = 99;
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    ck_assert_double_eq(v.completeness, 0.99);
    hitl_health_verdict_release(&v);
}
END_TEST

/* 7/20 = 0.35 > 0.3 alerts; 6/20 = 0.3 does not. */
START_TEST(test_override_rate)
{
    act[1].overrides = 7;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_AT_RISK);
    ck_assert_uint_eq(v.n_reasons, 1);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_OVERRIDES);
    ck_assert_uint_eq(v.reasons[0].subject, 1);
    ck_assert_double_eq(v.reasons[0].value, 0.35);
    hitl_health_verdict_release(&v);
    act[1].overrides = 6;
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    hitl_health_verdict_release(&v);
}
END_TEST

/* Krippendorff's 0.667: 0.6 is at risk, 0.667 itself is not. */
START_TEST(test_low_agreement)
{
    m.alpha = 0.6;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_AT_RISK);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_LOW_AGREEMENT);
    ck_assert_double_eq(v.reasons[0].threshold, 0.667);
    hitl_health_verdict_release(&v);
    m.alpha = 0.667;
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    hitl_health_verdict_release(&v);
}
END_TEST

/* Degraded outranks at risk, and degraded reasons come first. */
START_TEST(test_mixed_order)
{
    m.alpha = 0.5;
    m.labels_audited = 100;
    ann[0] = (hitl_health_annotator){"ann", 50, 40, 40, 20, 18, 20, 20}; /* 20 of 20 wrong */
    act[0].overrides = 30;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 4);
    ck_assert_int_eq(v.reasons[0].rule, HITL_HEALTH_RUBBER_STAMPING);
    ck_assert_int_eq(v.reasons[1].rule, HITL_HEALTH_AUDIT_INCOMPLETE);
    ck_assert_int_eq(v.reasons[2].rule, HITL_HEALTH_OVERRIDES);
    ck_assert_int_eq(v.reasons[3].rule, HITL_HEALTH_LOW_AGREEMENT);
    hitl_health_verdict_release(&v);
}
END_TEST

/* numpy.percentile([10, 1, 4, 2, 3], [50, 90]) = [3, 7.6]: sorted 1 2 3 4 10, h = 4 * 0.9 = 3.6,
 * 4 + 0.6 * (10 - 4) = 7.6; mean 4. */
START_TEST(test_latency_by_hand)
{
    double x[5] = {10, 1, 4, 2, 3};
    hitl_latency l;
    ck_assert_int_eq(hitl_latency_summarize(x, 5, &l, NULL), HITL_OK);
    ck_assert_uint_eq(l.n, 5);
    ck_assert_double_eq_tol(l.mean, 4.0, 1e-15);
    ck_assert_double_eq_tol(l.p50, 3.0, 1e-15);
    ck_assert_double_eq_tol(l.p90, 7.6, 1e-12);
    double y[4] = {4, 1, 3, 2}; /* h = 1.5 -> 2.5; h = 2.7 -> 3.7 */
    ck_assert_int_eq(hitl_latency_summarize(y, 4, &l, NULL), HITL_OK);
    ck_assert_double_eq_tol(l.p50, 2.5, 1e-15);
    ck_assert_double_eq_tol(l.p90, 3.7, 1e-12);
}
END_TEST

/* ---- limits ---- */

START_TEST(test_min_sample)
{
    ann[0] = (hitl_health_annotator){"ann", 50, 40, 40, 21, 21, 19, 19}; /* 1.0 on 19 */
    act[1].decisions = 19;
    act[1].overrides = 19;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    ck_assert_double_eq(v.wrong_approval[0], 1.0); /* reported all the same */
    ck_assert_double_eq(v.override_rate[1], 1.0);
    hitl_health_verdict_release(&v);
    hitl_health_thresholds t;
    hitl_health_thresholds_default(&t);
    t.min_sample = 19;
    ck_assert_int_eq(hitl_health_evaluate(&m, &t, &v, NULL), HITL_OK);
    ck_assert_int_eq(v.status, HITL_HEALTH_DEGRADED);
    ck_assert_uint_eq(v.n_reasons, 2);
    hitl_health_verdict_release(&v);
}
END_TEST

START_TEST(test_not_applicable)
{
    m.prediction_shown = 0; /* never shown: no model agreement, whatever the counts */
    ann[0].agreed = 40;
    m.alpha = NAN;
    m.labels = m.labels_audited = 0;
    act[0].decisions = act[0].overrides = 0;
    hitl_health_verdict v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    ck_assert_uint_eq(v.n_reasons, 0);
    ck_assert(isnan(v.model_agreement[0]));
    ck_assert(isnan(v.wrong_approval[0]) && isnan(v.right_approval[0]));
    ck_assert(isnan(v.completeness));
    ck_assert(isnan(v.override_rate[0]));
    hitl_health_verdict_release(&v);
    m.n_annotators = m.n_actors = 0;
    m.annotators = NULL;
    m.actors = NULL;
    v = judge();
    ck_assert_int_eq(v.status, HITL_HEALTH_HEALTHY);
    hitl_health_verdict_release(&v);
    hitl_health_verdict_release(NULL);
}
END_TEST

START_TEST(test_latency_limits)
{
    hitl_latency l;
    ck_assert_int_eq(hitl_latency_summarize(NULL, 0, &l, NULL), HITL_OK);
    ck_assert_uint_eq(l.n, 0);
    ck_assert(isnan(l.mean) && isnan(l.p50) && isnan(l.p90));
    double one = 2.5;
    ck_assert_int_eq(hitl_latency_summarize(&one, 1, &l, NULL), HITL_OK);
    ck_assert(l.mean == 2.5 && l.p50 == 2.5 && l.p90 == 2.5);
}
END_TEST

/* ---- errors ---- */

START_TEST(test_errors)
{
    hitl_health_verdict v;
    hitl_error err;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, NULL, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_health_evaluate(NULL, NULL, &v, &err), HITL_EINVAL);
    hitl_health_thresholds t;
    hitl_health_thresholds_default(&t);
    t.rubber_stamp = 1.5;
    ck_assert_int_eq(hitl_health_evaluate(&m, &t, &v, &err), HITL_EINVAL);
    hitl_health_thresholds_default(&t);
    t.completeness = NAN;
    ck_assert_int_eq(hitl_health_evaluate(&m, &t, &v, &err), HITL_EINVAL);
    hitl_health_thresholds_default(&t);
    t.min_sample = -1;
    ck_assert_int_eq(hitl_health_evaluate(&m, &t, &v, &err), HITL_EINVAL);
    ann[2].agreed = 41; /* more agreed than shown */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ck_assert_int_eq(err.row, 2);
    ann[2].agreed = 20;
    ann[1].shown = 61; /* more shown than labels */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ck_assert_int_eq(err.row, 1);
    ann[1].shown = 50;
    ann[0].right_approved = 31; /* more approved than right */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ck_assert_int_eq(err.row, 0);
    ann[0].right_approved = 28;
    ann[0].wrong_approved = 11; /* more approved than wrong */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ann[0].wrong_approved = 2;
    ann[0].wrong = 11; /* right + wrong above shown */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ann[0].wrong = 10;
    ann[0].agreed = 29; /* fewer agreed than approved */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ck_assert_ptr_nonnull(strstr(err.msg, "annotator 0: 28 of 30 right and 2 of 10 wrong"));
    ann[0].agreed = 30;
    ann[2].wrong = -1; /* negative */
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    ann[2].wrong = 20;
    act[0].overrides = 31;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    act[0].overrides = 3;
    m.labels_audited = 106;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    m.labels_audited = 105;
    m.annotators = NULL;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_EINVAL);
    m.annotators = ann;
    ck_assert_int_eq(hitl_health_evaluate(&m, NULL, &v, &err), HITL_OK); /* all fixed */
    hitl_health_verdict_release(&v);
    double x[3] = {1, 2, NAN};
    hitl_latency l;
    ck_assert_int_eq(hitl_latency_summarize(x, 3, &l, &err), HITL_EDATA);
    ck_assert_int_eq(err.row, 2);
    x[2] = INFINITY;
    ck_assert_int_eq(hitl_latency_summarize(x, 3, &l, &err), HITL_EDATA);
    ck_assert_int_eq(hitl_latency_summarize(NULL, 3, &l, &err), HITL_EINVAL);
    ck_assert_int_eq(hitl_latency_summarize(x, 3, NULL, &err), HITL_EINVAL);
    ck_assert_ptr_null(hitl_health_status_name((hitl_health_status)3));
    ck_assert_ptr_null(hitl_health_rule_name(HITL_HEALTH_RULE_COUNT));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("engine_health");
    TCase *core = tcase_create("core");
    tcase_add_checked_fixture(core, setup, NULL);
    tcase_add_test(core, test_healthy);
    tcase_add_test(core, test_decision_reviewers);
    tcase_add_test(core, test_decision_overrides);
    tcase_add_test(core, test_decision_audit_completeness);
    tcase_add_test(core, test_rubber_stamping);
    tcase_add_test(core, test_inefficient);
    tcase_add_test(core, test_uncertain_items);
    tcase_add_test(core, test_both_annotator_rules);
    tcase_add_test(core, test_chain_broken);
    tcase_add_test(core, test_audit_incomplete);
    tcase_add_test(core, test_override_rate);
    tcase_add_test(core, test_low_agreement);
    tcase_add_test(core, test_mixed_order);
    tcase_add_test(core, test_latency_by_hand);
    suite_add_tcase(s, core);
    TCase *limits = tcase_create("limits");
    tcase_add_checked_fixture(limits, setup, NULL);
    tcase_add_test(limits, test_min_sample);
    tcase_add_test(limits, test_not_applicable);
    tcase_add_test(limits, test_latency_limits);
    suite_add_tcase(s, limits);
    TCase *errors = tcase_create("errors");
    tcase_add_checked_fixture(errors, setup, NULL);
    tcase_add_test(errors, test_errors);
    suite_add_tcase(s, errors);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
