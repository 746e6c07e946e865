/* hitl health: the review governance scorecard of a store (latency, approval per annotator,
 * override rate per actor, audit completeness and chain, human agreement) and its status,
 * healthy, at_risk or degraded, with the reasons: the scorecard of io/store/scorecard.c, as hitl
 * report and hitl serve show it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl health DB [--min-sample N] [--json]\n"
    "\n"
    "The review process of the store DB, judged:\n"
    "  latency          seconds from lease to label: mean, median (p50), p90\n"
    "  approval         per annotator, on the labels given where the model's prediction was\n"
    "                   shown (uncertain: the items not drawn blind; always: every item;\n"
    "                   never: not applicable) and the item has a final label: the share of\n"
    "                   the suggestions the final label rejected that they approved anyway\n"
    "                   (rubber-stamp rate) and of those it kept that they approved. The raw\n"
    "                   agreement with the shown prediction is printed but judges nothing:\n"
    "                   uncertain items are where the model is often wrong\n"
    "  override rate    per actor, the share of their decisions that changed a final label or\n"
    "                   a review-routed prediction\n"
    "  audit            completeness: the share of labels whose 'label' event is in the trail;\n"
    "                   and whether the hash chain verifies (hitl audit verify DB)\n"
    "  human agreement  Krippendorff's alpha (nominal) over all labels\n"
    "  live decisions   per reviewer, the share of their votes that approved (the same\n"
    "                   thresholds: above 0.95 rubber-stamping, below 0.5 inefficient, both\n"
    "                   degraded); counts, escalations, and seconds from filing to first vote\n"
    "\n"
    "status (hitl report shows the same verdict; the thresholds are the store's, hitl set DB\n"
    "approval-thresholds, override-alert, health-min-sample; defaults below):\n"
    "  degraded   an annotator approved more than 0.95 of the wrong suggestions (rubber\n"
    "             stamping) or less than 0.5 of the right ones (inefficient), a reviewer of\n"
    "             live decisions approved more than 0.95 or less than 0.5 of them, or the\n"
    "             audit chain is broken\n"
    "  at_risk    audit completeness below 0.99, an actor's override rate above 0.3, a\n"
    "             reviewer's overrides of settled decisions above 0.3 of their reviews in\n"
    "             the last 30 days, or alpha below 0.667 (Krippendorff's floor for tentative\n"
    "             conclusions)\n"
    "  healthy    none of these\n"
    "Approval and override rates are judged only on at least N labels or decisions (the rate's\n"
    "denominator).\n"
    "\n"
    "options:\n"
    "  --min-sample N   evidence needed to judge a person (default: the store's, 20)\n"
    "  --json           one JSON object on stdout instead of tables\n"
    "\n"
    "exit codes: 0 ok (whatever the status), 1 runtime failure, 2 usage, 3 bad data\n";

typedef struct health_args {
    const char *db;
    hitl_health_thresholds t;
    int json;
} health_args;

static void print_rate(double v)
{
    if (isfinite(v))
        printf(" %9.4f", v);
    else
        printf(" %9s", "n/a");
}

/* " k/n" right-aligned in 13 columns, then the rate */
static void print_share(int64_t k, int64_t n, double rate)
{
    char buf[48];
    snprintf(buf, sizeof(buf), "%lld/%lld", (long long)k, (long long)n);
    printf(" %13s", buf);
    print_rate(rate);
}

static void print_tables(const health_args *a, const hitl_scorecard *sc)
{
    const hitl_store_health *h = &sc->store;
    const hitl_latency *lat = &sc->latency;
    const hitl_health_verdict *v = &sc->verdict;
    printf("%s: %s\n", a->db, hitl_health_status_name(v->status));
    for (size_t i = 0; i < v->n_reasons; i++) {
        const hitl_health_reason *r = &v->reasons[i];
        const char *who = hitl_scorecard_subject(sc, r);
        printf("  %-8s %s", r->severity == HITL_HEALTH_DEGRADED ? "degraded" : "at_risk",
               hitl_health_rule_name(r->rule));
        if (who) printf(" (%s)", who);
        if (r->rule == HITL_HEALTH_CHAIN_BROKEN)
            printf(": first bad event %lld\n", (long long)r->value);
        else
            printf(": %.4f (threshold %.4f)\n", r->value, r->threshold);
    }
    printf("\nlatency (lease to label, %zu labels)", lat->n);
    if (lat->n)
        printf(": mean %.3f s, p50 %.3f s, p90 %.3f s\n", lat->mean, lat->p50, lat->p90);
    else
        printf(": n/a\n");
    printf("\nannotators (predictions shown: %s; approval against the final labels)\n"
           "%-20s %8s %8s %8s %9s %13s %9s %13s %9s\n",
           hitl_show_prediction_name(h->show_prediction), "name", "labels", "shown", "agreed",
           "agreement", "right appr.", "rate", "wrong appr.", "rate");
    for (size_t i = 0; i < h->n_annotators; i++) {
        const hitl_health_annotator *x = &h->annotators[i];
        printf("%-20s %8lld %8lld %8lld", x->name, (long long)x->labels, (long long)x->shown,
               (long long)x->agreed);
        print_rate(v->model_agreement[i]);
        print_share(x->right_approved, x->right, v->right_approval[i]);
        print_share(x->wrong_approved, x->wrong, v->wrong_approval[i]);
        printf("\n");
    }
    printf("\nactors\n%-20s %9s %9s %9s\n", "name", "decisions", "overrides", "rate");
    for (size_t i = 0; i < h->n_actors; i++) {
        const hitl_health_actor *x = &h->actors[i];
        printf("%-20s %9lld %9lld", x->name, (long long)x->decisions, (long long)x->overrides);
        print_rate(v->override_rate[i]);
        printf("\n");
    }
    printf("\naudit: %lld of %lld labels", (long long)h->labels_audited, (long long)h->labels);
    if (h->gate_records)
        printf(" and %lld of %lld decisions and votes", (long long)h->gate_records_audited,
               (long long)h->gate_records);
    printf(" audited");
    if (isfinite(v->completeness)) printf(" (%.4f)", v->completeness);
    if (h->chain_ok)
        printf("; chain of %lld events verifies\n", (long long)h->n_events);
    else
        printf("; chain BROKEN at event %lld\n", (long long)h->chain_bad_seq);
    if (isfinite(sc->alpha))
        printf("human agreement: Krippendorff's alpha (nominal) %.4f\n", sc->alpha);
    else
        printf("human agreement: n/a (%s)\n", sc->alpha_why);
    if (h->gates) {
        const hitl_latency *rl = &sc->review_latency;
        printf("\nlive decisions: %lld (%lld pending, %lld escalated, %lld expired); review "
               "latency",
               (long long)h->gates, (long long)h->gates_pending, (long long)h->gates_escalated,
               (long long)h->gates_expired);
        if (rl->n)
            printf(" p50 %.1f s, p95 %.1f s over %zu\n", rl->p50, rl->p95, rl->n);
        else
            printf(" n/a\n");
        for (size_t i = 0; i < h->n_reviewers; i++) {
            printf("  %-20s %6lld votes %6lld approvals", cli_safe(h->reviewers[i].name),
                   (long long)h->reviewers[i].votes, (long long)h->reviewers[i].approvals);
            print_rate(v->decision_approval[i]);
            printf("   %lld overrides of %lld reviews in %d days",
                   (long long)h->reviewers[i].recent_overrides, (long long)h->reviewers[i].recent,
                   h->override_days);
            print_rate(v->decision_override[i]);
            putchar('\n');
        }
    }
}

int cmd_health(int argc, char **argv)
{
    health_args a = {0};
    size_t min_sample = 0;
    int min_sample_given = 0;
    const cli_opt opts[] = {
        CLI_O_SIZE_SEEN("min-sample", &min_sample, 0, 1000000000, "0 or more", &min_sample_given),
        CLI_O_FLAG("json", &a.json), CLI_O_END};
    int rc = cli_options("health", usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    a.db = argv[optind];
    hitl_store *st;
    if ((rc = cli_open_store("health", a.db, &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_scorecard sc;
    hitl_store_settings set;
    hitl_status s = hitl_store_settings_get(st, &set, &err); /* the store's thresholds */
    if (s == HITL_OK) {
        a.t = set.health;
        if (min_sample_given) a.t.min_sample = (int64_t)min_sample;
        hitl_store_settings_release(&set);
        s = hitl_store_scorecard(st, &a.t, &sc, &err);
    }
    if (s == HITL_OK) {
        if (a.json)
            cli_print_json(hitl_scorecard_json(&sc, a.db));
        else
            print_tables(&a, &sc);
        hitl_scorecard_release(&sc);
    }
    hitl_store_close(st);
    return s == HITL_OK ? CLI_EXIT_OK : cli_fail("health", s, &err);
}
