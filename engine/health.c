/* Review health: the governance scorecard's rules (rubber stamping, inefficiency, audit chain and
 * completeness, override rates, human agreement) judged on metrics the store gathered, and the
 * latency summary. The one verdict: hitl health, hitl report and hitl status all call it. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

/* Krippendorff (2004), "Content Analysis", 2nd ed., sec. 11.4.1: rely on alpha >= .800; .667
 * is the lowest value from which tentative conclusions may be drawn. The other thresholds are
 * the governance scorecard's: approval above 95% is rubber stamping, below 50% inefficient, an
 * override rate above 30% an alert, audit trails at least 99% complete.
 *
 * Where approval is measured. The scorecard's approval rate is the share of the model's
 * suggestions a reviewer accepts. Taken raw, as agreement with the shown prediction, it measures
 * the queue as much as the person: predictions are shown on the items queued because the model
 * was unsure of them, where it is often wrong, so an accurate annotator agrees with it on a
 * fifth of them and was called inefficient. Agreement with the model on blind items does not
 * help: blind items never show the prediction, so there is nothing to approve and a rubber
 * stamper labels them like anyone else. So approval is split by what the final label says of
 * the suggestion: of the wrong suggestions, the share approved is the rubber-stamp rate (a
 * careful annotator approves few, a rubber stamper nearly all, however often the model errs);
 * of the right ones, the share approved is low only for an annotator who rejects good
 * suggestions. Both need a final label that does not rest on the annotator alone (overlap of 2
 * or more, adjudication, overrides): with one label per item and no review a wrong suggestion
 * the annotator approved is never found wrong, and nothing is judged. */
#define MIN_SAMPLE 20

static const char *const status_names[] = {"healthy", "at_risk", "degraded"};
static const char *const rule_names[HITL_HEALTH_RULE_COUNT] = {
    "rubber_stamping",          "inefficient",          "audit_chain_broken",
    "audit_incomplete",         "override_rate",        "low_agreement",
    "decision_rubber_stamping", "decision_inefficient", "decision_override_rate"};

const char *hitl_health_status_name(hitl_health_status s)
{
    return (unsigned)s <= HITL_HEALTH_DEGRADED ? status_names[s] : NULL;
}

const char *hitl_health_rule_name(hitl_health_rule r)
{
    return (unsigned)r < HITL_HEALTH_RULE_COUNT ? rule_names[r] : NULL;
}

void hitl_health_thresholds_default(hitl_health_thresholds *t)
{
    *t = (hitl_health_thresholds){.rubber_stamp = 0.95,
                                  .inefficient = 0.5,
                                  .override_rate = 0.3,
                                  .completeness = 0.99,
                                  .alpha = 0.667,
                                  .min_sample = MIN_SAMPLE};
}

void hitl_health_verdict_release(hitl_health_verdict *v)
{
    if (!v) return;
    free(v->model_agreement);
    free(v->wrong_approval);
    free(v->right_approval);
    free(v->override_rate);
    free(v->decision_approval);
    free(v->decision_override);
    free(v->reasons);
    memset(v, 0, sizeof(*v));
}

static int unit(double x)
{
    return x >= 0 && x <= 1; /* false for NaN */
}

static double rate(int64_t k, int64_t n)
{
    return n ? (double)k / (double)n : NAN;
}

static hitl_status check(const hitl_health_metrics *m, const hitl_health_thresholds *t,
                         hitl_error *err)
{
    if (!unit(t->rubber_stamp) || !unit(t->inefficient) || !unit(t->override_rate) ||
        !unit(t->completeness) || !(t->alpha >= -1 && t->alpha <= 1) || t->min_sample < 0)
        return hitl_error_set(err, HITL_EINVAL, "a health threshold is out of range");
    if ((m->n_annotators && !m->annotators) || (m->n_actors && !m->actors))
        return hitl_error_set(err, HITL_EINVAL, "no annotators or actors given");
    if (m->labels < 0 || m->labels_audited < 0 || m->labels_audited > m->labels)
        return hitl_error_set(err, HITL_EINVAL, "%lld of %lld labels audited cannot be",
                              (long long)m->labels_audited, (long long)m->labels);
    if (m->decision_records < 0 || m->decision_records_audited < 0 ||
        m->decision_records_audited > m->decision_records)
        return hitl_error_set(err, HITL_EINVAL, "%lld of %lld decision records audited cannot be",
                              (long long)m->decision_records_audited,
                              (long long)m->decision_records);
    for (size_t i = 0; i < m->n_annotators; i++) {
        const hitl_health_annotator *a = &m->annotators[i];
        if (a->agreed < 0 || a->agreed > a->shown || a->shown > a->labels) {
            hitl_error_set(err, HITL_EINVAL,
                           "annotator %zu: %lld agreed of %lld shown of %lld labels cannot be", i,
                           (long long)a->agreed, (long long)a->shown, (long long)a->labels);
            if (err) err->row = (int64_t)i;
            return HITL_EINVAL;
        }
        if (a->right_approved < 0 || a->right_approved > a->right || a->wrong_approved < 0 ||
            a->wrong_approved > a->wrong || a->right > a->shown - a->wrong ||
            a->right_approved > a->agreed - a->wrong_approved) {
            hitl_error_set(err, HITL_EINVAL,
                           "annotator %zu: %lld of %lld right and %lld of %lld wrong suggestions "
                           "approved, of %lld shown and %lld agreed, cannot be",
                           i, (long long)a->right_approved, (long long)a->right,
                           (long long)a->wrong_approved, (long long)a->wrong, (long long)a->shown,
                           (long long)a->agreed);
            if (err) err->row = (int64_t)i;
            return HITL_EINVAL;
        }
    }
    if (m->n_reviewers && !m->reviewers)
        return hitl_error_set(err, HITL_EINVAL, "no reviewers given");
    for (size_t i = 0; i < m->n_reviewers; i++) {
        const hitl_health_reviewer *r = &m->reviewers[i];
        if (r->approvals < 0 || r->approvals > r->votes)
            return hitl_error_set(err, HITL_EINVAL, "reviewer %zu: %lld approvals of %lld votes", i,
                                  (long long)r->approvals, (long long)r->votes);
        if (r->recent_overrides < 0 || r->recent_overrides > r->recent)
            return hitl_error_set(err, HITL_EINVAL,
                                  "reviewer %zu: %lld overrides of %lld recent reviews", i,
                                  (long long)r->recent_overrides, (long long)r->recent);
    }
    for (size_t i = 0; i < m->n_actors; i++) {
        const hitl_health_actor *a = &m->actors[i];
        if (a->overrides < 0 || a->overrides > a->decisions)
            return hitl_error_set(err, HITL_EINVAL, "actor %zu: %lld overrides of %lld decisions",
                                  i, (long long)a->overrides, (long long)a->decisions);
    }
    return HITL_OK;
}

static void add(hitl_health_verdict *v, hitl_health_rule rule, hitl_health_status sev,
                size_t subject, double value, double threshold)
{
    v->reasons[v->n_reasons++] = (hitl_health_reason){rule, sev, subject, value, threshold};
    if (sev > v->status) v->status = sev;
}

hitl_status hitl_health_evaluate(const hitl_health_metrics *m, const hitl_health_thresholds *t,
                                 hitl_health_verdict *out, hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    memset(out, 0, sizeof(*out));
    if (!m) return hitl_error_set(err, HITL_EINVAL, "no metrics given");
    hitl_health_thresholds def;
    hitl_health_thresholds_default(&def);
    if (!t) t = &def;
    hitl_status s = check(m, t, err);
    if (s != HITL_OK) return s;

    /* at most two reasons per annotator, three per reviewer, one per actor, three store-wide */
    size_t cap = 2 * m->n_annotators + 3 * m->n_reviewers + m->n_actors + 3,
           na = m->n_annotators ? m->n_annotators : 1;
    out->reasons = malloc(cap * sizeof(*out->reasons));
    out->model_agreement = malloc(na * sizeof(double));
    out->wrong_approval = malloc(na * sizeof(double));
    out->right_approval = malloc(na * sizeof(double));
    out->override_rate = malloc((m->n_actors ? m->n_actors : 1) * sizeof(double));
    out->decision_approval = malloc((m->n_reviewers ? m->n_reviewers : 1) * sizeof(double));
    out->decision_override = malloc((m->n_reviewers ? m->n_reviewers : 1) * sizeof(double));
    if (!out->reasons || !out->model_agreement || !out->wrong_approval || !out->right_approval ||
        !out->override_rate || !out->decision_approval || !out->decision_override) {
        hitl_health_verdict_release(out);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    out->status = HITL_HEALTH_HEALTHY;
    out->completeness =
        rate(m->labels_audited + m->decision_records_audited, m->labels + m->decision_records);

    /* degraded first; approval against the final labels (see the top of this file) */
    for (size_t i = 0; i < m->n_annotators; i++) {
        const hitl_health_annotator *a = &m->annotators[i];
        int shown = m->prediction_shown;
        double wrong = shown ? rate(a->wrong_approved, a->wrong) : NAN;
        double right = shown ? rate(a->right_approved, a->right) : NAN;
        out->model_agreement[i] = shown ? rate(a->agreed, a->shown) : NAN;
        out->wrong_approval[i] = wrong;
        out->right_approval[i] = right;
        if (!isnan(wrong) && a->wrong >= t->min_sample && wrong > t->rubber_stamp)
            add(out, HITL_HEALTH_RUBBER_STAMPING, HITL_HEALTH_DEGRADED, i, wrong, t->rubber_stamp);
        if (!isnan(right) && a->right >= t->min_sample && right < t->inefficient)
            add(out, HITL_HEALTH_INEFFICIENT, HITL_HEALTH_DEGRADED, i, right, t->inefficient);
    }
    /* reviewers of live decisions: the same thresholds, on their share of approvals */
    for (size_t i = 0; i < m->n_reviewers; i++) {
        const hitl_health_reviewer *r = &m->reviewers[i];
        double a = rate(r->approvals, r->votes);
        out->decision_approval[i] = a;
        if (isnan(a) || r->votes < t->min_sample) continue;
        if (a > t->rubber_stamp)
            add(out, HITL_HEALTH_DECISION_RUBBER_STAMPING, HITL_HEALTH_DEGRADED, i, a,
                t->rubber_stamp);
        else if (a < t->inefficient)
            add(out, HITL_HEALTH_DECISION_INEFFICIENT, HITL_HEALTH_DEGRADED, i, a, t->inefficient);
    }
    if (!m->chain_ok)
        add(out, HITL_HEALTH_CHAIN_BROKEN, HITL_HEALTH_DEGRADED, SIZE_MAX, (double)m->chain_bad_seq,
            NAN);

    if (!isnan(out->completeness) && out->completeness < t->completeness)
        add(out, HITL_HEALTH_AUDIT_INCOMPLETE, HITL_HEALTH_AT_RISK, SIZE_MAX, out->completeness,
            t->completeness);
    for (size_t i = 0; i < m->n_actors; i++) {
        const hitl_health_actor *a = &m->actors[i];
        double r = rate(a->overrides, a->decisions);
        out->override_rate[i] = r;
        if (!isnan(r) && a->decisions >= t->min_sample && r > t->override_rate)
            add(out, HITL_HEALTH_OVERRIDES, HITL_HEALTH_AT_RISK, i, r, t->override_rate);
    }
    /* reviewers of live decisions who overturn settled ones: the seed's override alert, over
     * their reviews (votes and overrides) in the store's window */
    for (size_t i = 0; i < m->n_reviewers; i++) {
        const hitl_health_reviewer *r = &m->reviewers[i];
        double o = rate(r->recent_overrides, r->recent);
        out->decision_override[i] = o;
        if (!isnan(o) && r->recent >= t->min_sample && o > t->override_rate)
            add(out, HITL_HEALTH_DECISION_OVERRIDES, HITL_HEALTH_AT_RISK, i, o, t->override_rate);
    }
    if (isfinite(m->alpha) && m->alpha < t->alpha)
        add(out, HITL_HEALTH_LOW_AGREEMENT, HITL_HEALTH_AT_RISK, SIZE_MAX, m->alpha, t->alpha);
    return HITL_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* numpy's default ("linear", Hyndman & Fan type 7): h = (n - 1) q, between x[floor h] and the
 * next order statistic. */
static double quantile_sorted(const double *x, size_t n, double q)
{
    double h = (double)(n - 1) * q;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return x[n - 1];
    return x[lo] + (h - (double)lo) * (x[lo + 1] - x[lo]);
}

hitl_status hitl_latency_summarize(double *secs, size_t n, hitl_latency *out, hitl_error *err)
{
    if (!out) return hitl_error_set(err, HITL_EINVAL, "no output given");
    *out = (hitl_latency){n, NAN, NAN, NAN, NAN};
    if (n && !secs) return hitl_error_set(err, HITL_EINVAL, "no latencies given");
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(secs[i])) {
            hitl_error_set(err, HITL_EDATA, "row %zu: latency %g is not finite", i, secs[i]);
            if (err) err->row = (int64_t)i;
            return HITL_EDATA;
        }
        sum += secs[i];
    }
    if (!n) return HITL_OK;
    qsort(secs, n, sizeof(double), cmp_double);
    out->mean = sum / (double)n;
    out->p50 = quantile_sorted(secs, n, 0.5);
    out->p90 = quantile_sorted(secs, n, 0.9);
    out->p95 = quantile_sorted(secs, n, 0.95);
    return HITL_OK;
}
