/* The QA report as an nbformat 4.5 notebook: markdown (summary, health with reasons, tables),
 * chart cells whose SVG output is drawn here (tagged skip-execution, so running the notebook
 * keeps them), then code cells that load the HDF5 export with h5py and retrain a baseline. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "nbexport_internal.h"
#include "hitl_banned.h"

#define MAX_HEATMAP 40 /* annotators drawn in the agreement heatmap */

static void pct(hitl_buf *s, double v)
{
    hitl__buf_num(s, 100 * v, "%.1f%%");
}

/* ---- health ------------------------------------------------------------------------------
 * The verdict is the engine's scorecard (hitl_health_evaluate) on the metrics `hitl health`
 * judges, so the two cannot disagree; this file only writes it out. */

/* One reason as a markdown list item, naming its annotator or actor as `hitl health` does. */
static void reason(hitl_buf *s, const hitl_health_metrics *m, const hitl_health_reason *x)
{
    const char *who = NULL;
    if (x->subject != SIZE_MAX)
        who = x->rule == HITL_HEALTH_OVERRIDES ? m->actors[x->subject].name
                                               : m->annotators[x->subject].name;
    hitl_buf_printf(s, "- **%s** `%s`", hitl_health_status_name(x->severity),
                    hitl_health_rule_name(x->rule));
    if (who) {
        hitl_buf_puts(s, " (");
        hitl__buf_md(s, who);
        hitl_buf_puts(s, ")");
    }
    hitl_buf_puts(s, ": ");
    switch (x->rule) {
    case HITL_HEALTH_RUBBER_STAMPING:
    case HITL_HEALTH_INEFFICIENT: {
        const hitl_health_annotator *a = &m->annotators[x->subject];
        int wrong = x->rule == HITL_HEALTH_RUBBER_STAMPING;
        hitl_buf_puts(s, "approved ");
        pct(s, x->value);
        hitl_buf_printf(s, " of the %lld shown suggestions the final label %s",
                        (long long)(wrong ? a->wrong : a->right), wrong ? "rejected" : "kept");
        break;
    }
    case HITL_HEALTH_CHAIN_BROKEN:
        hitl_buf_printf(s, "the audit chain breaks at event %lld (`hitl audit verify`)\n",
                        (long long)x->value);
        return;
    case HITL_HEALTH_AUDIT_INCOMPLETE:
        pct(s, x->value);
        hitl_buf_puts(s, " of the labels have their audit event");
        break;
    case HITL_HEALTH_OVERRIDES:
        hitl_buf_puts(s, "overrides ");
        pct(s, x->value);
        hitl_buf_printf(s, " of their %lld decisions", (long long)m->actors[x->subject].decisions);
        break;
    default:
        hitl_buf_puts(s, "Krippendorff's alpha ");
        hitl__buf_num(s, x->value, "%.3f");
        break;
    }
    hitl_buf_puts(s, x->rule == HITL_HEALTH_INEFFICIENT ||
                             x->rule == HITL_HEALTH_AUDIT_INCOMPLETE ||
                             x->rule == HITL_HEALTH_LOW_AGREEMENT
                         ? " (below "
                         : " (above ");
    if (x->rule == HITL_HEALTH_LOW_AGREEMENT)
        hitl__buf_num(s, x->threshold, "%.3f");
    else
        pct(s, x->threshold);
    hitl_buf_puts(s, ")\n");
}

/* The per-annotator rates the verdict judged. */
static void approval_table(hitl_buf *s, const hitl_health_metrics *m, const hitl_health_verdict *v)
{
    if (!m->prediction_shown || m->n_annotators == 0) return;
    hitl_buf_puts(s, "\n| annotator | approved of the wrong suggestions | approved of the right "
                     "ones | agrees with the shown prediction |\n| --- | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < m->n_annotators; i++) {
        const hitl_health_annotator *a = &m->annotators[i];
        hitl_buf_puts(s, "| ");
        hitl__buf_md(s, a->name);
        hitl_buf_puts(s, " | ");
        pct(s, v->wrong_approval[i]);
        hitl_buf_printf(s, " of %lld | ", (long long)a->wrong);
        pct(s, v->right_approval[i]);
        hitl_buf_printf(s, " of %lld | ", (long long)a->right);
        pct(s, v->model_agreement[i]);
        hitl_buf_printf(s, " of %lld |\n", (long long)a->shown);
    }
}

/* Facts that ask for work, with no threshold of their own: not part of the verdict. */
static void to_do(hitl_buf *s, const hitl_report *r)
{
    hitl_buf t = {0};
    if (r->items_queued == 0) hitl_buf_puts(&t, "- nothing is queued yet (`hitl queue`)\n");
    if (r->awaiting_adjudication > 0)
        hitl_buf_printf(&t, "- %lld items wait for adjudication (`hitl adjudicate`)\n",
                        (long long)r->awaiting_adjudication);
    int64_t blind = 0;
    for (size_t i = 0; i < r->n_batches; i++)
        blind += r->batches[i].blind;
    if (r->items_queued > 0 && blind == 0)
        hitl_buf_puts(&t, "- no blind items were queued: nothing estimates the model's accuracy "
                          "without bias (queue with --blind)\n");
    if (r->ties > 0)
        hitl_buf_printf(&t, "- %lld items are left out of the export: their votes tie\n",
                        (long long)r->ties);
    if (t.p) {
        hitl_buf_puts(s, "\n### To do\n\n");
        hitl_buf_puts(s, t.p);
    }
    hitl_buf_release(&t);
}

/* The health cell: the scorecard's status and reasons (v: its verdict on r->health, NULL when
 * not judged), the rates it judged, then the to-do list. */
static void health(hitl__nb *b, const hitl_report *r, const hitl_health_verdict *v)
{
    hitl_buf s = {0};
    if (!v) {
        hitl_buf_puts(&s, "## Health: not judged\n\nNo review metrics were given.\n");
    } else {
        hitl_buf_printf(&s,
                        "## Health: %s\n\nThe review health scorecard, as `hitl health` "
                        "judges it (rules in `engine/health.c`; approval is measured against "
                        "the final labels).\n\n",
                        hitl_health_status_name(v->status));
        if (v->n_reasons == 0)
            hitl_buf_puts(&s, "No rule fires: no rubber stamping or inefficient annotator, the "
                              "audit trail complete and its chain verified, override rates and "
                              "agreement within bounds.\n");
        for (size_t i = 0; i < v->n_reasons; i++)
            reason(&s, r->health, &v->reasons[i]);
        approval_table(&s, r->health, v);
    }
    to_do(&s, r);
    hitl__nb_markdown(b, "health", &s);
}

/* ---- sections ---------------------------------------------------------------------------- */

static void summary(hitl__nb *b, const hitl_report *r, const hitl_reliability_summary *cal)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "# ");
    hitl__buf_md(&s, r->title ? r->title : "hitl report");
    hitl_buf_puts(&s, "\n\nStore `");
    hitl__buf_md(&s, r->store_path ? r->store_path : "?");
    hitl_buf_printf(&s, "`, %s by hitl %s. ", r->generated_at ? r->generated_at : "",
                    r->version ? r->version : "");
    hitl_buf_puts(&s, "Classes: ");
    for (size_t c = 0; c < r->n_classes; c++) {
        if (c) hitl_buf_puts(&s, ", ");
        hitl__buf_md(&s, r->classes[c]);
    }
    hitl_buf_printf(&s,
                    ".\n\n- **%lld** items queued; **%lld** have a final label, %lld wait for "
                    "adjudication, %lld still need labels\n- %lld labels and %lld skips "
                    "recorded; %lld leases outstanding\n",
                    (long long)r->items_queued, (long long)r->items_complete,
                    (long long)r->awaiting_adjudication, (long long)r->queue_depth,
                    (long long)r->labels, (long long)r->skips, (long long)r->leases);
    if (r->agreement) {
        hitl_buf_puts(&s, "- agreement: Krippendorff's alpha ");
        hitl__buf_num(&s, r->agreement->coef[HITL_COEF_ALPHA], "%.3f");
        hitl_buf_puts(&s, ", percent agreement ");
        pct(&s, r->agreement->coef[HITL_COEF_PERCENT]);
        hitl_buf_printf(&s, " over %zu items with two or more labels\n", r->agreement->n_pairable);
    }
    if (r->calibration && cal->n > 0) {
        hitl_buf_printf(&s, "- model accuracy on %lld blind items: ", (long long)cal->n);
        pct(&s, cal->accuracy);
        hitl_buf_puts(&s, " (95% Wilson interval ");
        pct(&s, cal->accuracy_ci.lo);
        hitl_buf_puts(&s, " to ");
        pct(&s, cal->accuracy_ci.hi);
        hitl_buf_puts(&s, "), ECE ");
        hitl__buf_num(&s, cal->ece, "%.3f");
        hitl_buf_printf(&s, " (top label, %zu equal-width bins)\n", cal->bins);
    }
    hitl_buf_printf(&s, "- exported for retraining: %lld items (final labels: %s) to `",
                    (long long)r->exported, r->final_rule ? r->final_rule : "adjudicated");
    hitl__buf_md(&s, r->export_path);
    hitl_buf_puts(&s, "`\n\nThe charts below are drawn from the store; the code cells at the "
                      "end load the export and retrain a baseline when the notebook is run.\n");
    hitl__nb_markdown(b, "summary", &s);
}

static void progress(hitl__nb *b, const hitl_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Queue progress\n\n| batch | queued | blind | complete | done |\n"
                      "| --- | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < r->n_batches; i++) {
        const hitl_report_batch *t = &r->batches[i];
        hitl_buf_puts(&s, "| ");
        hitl__buf_md(&s, t->name);
        hitl_buf_printf(&s, " | %lld | %lld | %lld | ", (long long)t->queued, (long long)t->blind,
                        (long long)t->complete);
        pct(&s, t->queued ? (double)t->complete / (double)t->queued : NAN);
        hitl_buf_puts(&s, " |\n");
    }
    if (r->n_batches == 0) hitl_buf_puts(&s, "| (none) | | | | |\n");
    hitl__nb_markdown(b, "progress", &s);
}

static void annotators(hitl__nb *b, const hitl_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Annotators\n\nThroughput, and how often each annotator's label is the "
                      "final one (on items that have a final label).\n\n"
                      "| annotator | labels | skips | seconds per label | labels per hour | "
                      "agrees with final |\n| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < r->n_annotators; i++) {
        const hitl_report_annotator *a = &r->annotators[i];
        hitl_buf_puts(&s, "| ");
        hitl__buf_md(&s, a->name);
        hitl_buf_printf(&s, " | %lld | %lld | ", (long long)a->labels, (long long)a->skips);
        hitl__buf_num(&s, a->mean_seconds, "%.1f");
        hitl_buf_puts(&s, " | ");
        hitl__buf_num(&s, a->mean_seconds > 0 ? 3600 / a->mean_seconds : NAN, "%.0f");
        hitl_buf_puts(&s, " | ");
        pct(&s, a->scored ? (double)a->agree / (double)a->scored : NAN);
        hitl_buf_printf(&s, " (%lld) |\n", (long long)a->scored);
    }
    if (r->n_annotators == 0) hitl_buf_puts(&s, "| (nobody yet) | | | | | |\n");
    hitl__nb_markdown(b, "annotators", &s);
    if (r->n_annotators == 0) return;
    double *la = malloc(r->n_annotators * sizeof(double));
    double *sk = malloc(r->n_annotators * sizeof(double));
    const char **names = malloc(r->n_annotators * sizeof(char *));
    char *svg = NULL;
    if (la && sk && names) {
        for (size_t i = 0; i < r->n_annotators; i++) {
            la[i] = (double)r->annotators[i].labels;
            sk[i] = (double)r->annotators[i].skips;
            names[i] = r->annotators[i].name;
        }
        hitl_svg_bars(la, sk, names, r->n_annotators, "Labels and skips per annotator", "labels",
                      "skips", &svg, NULL);
    }
    free(la);
    free(sk);
    free(names);
    hitl__nb_chart(b, "throughput-chart", "Labels and skips per annotator",
                   "`hitl report` from the store", svg);
}

static void agreement(hitl__nb *b, const hitl_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Agreement between annotators\n\n");
    const hitl_agreement *a = r->agreement;
    if (!a) {
        hitl_buf_puts(&s, "Not available: ");
        hitl__buf_md(&s, r->agreement_note ? r->agreement_note : "no labels yet");
        hitl_buf_puts(&s, ".\n");
        hitl__nb_markdown(b, "agreement", &s);
        return;
    }
    hitl_buf_printf(&s,
                    "%zu annotators, %zu labels on %zu items; %zu items have two or more "
                    "labels (%zu to %zu per item).\n\n| measure | value | 95%% interval |\n"
                    "| --- | ---: | --- |\n",
                    a->n_annotators, a->n_ratings, a->n_rated, a->n_pairable, a->min_ratings,
                    a->max_ratings);
    static const char *const names[HITL_COEF_COUNT] = {"percent agreement", "Fleiss' kappa",
                                                       "Krippendorff's alpha (nominal)",
                                                       "Gwet's AC1", "Scott's pi"};
    for (int c = 0; c < HITL_COEF_COUNT; c++) {
        hitl_buf_printf(&s, "| %s | ", names[c]);
        hitl__buf_num(&s, a->coef[c], "%.3f");
        hitl_buf_puts(&s, " | ");
        if (a->bootstrap && isfinite(a->ci[c].lo)) {
            hitl__buf_num(&s, a->ci[c].lo, "%.3f");
            hitl_buf_puts(&s, " to ");
            hitl__buf_num(&s, a->ci[c].hi, "%.3f");
        }
        hitl_buf_puts(&s, " |\n");
    }
    if (!isfinite(a->coef[HITL_COEF_FLEISS]))
        hitl_buf_puts(&s, "\nFleiss' kappa needs the same number of labels on every item; "
                          "Krippendorff's alpha and Scott's pi take any.\n");
    if (a->per_label) {
        hitl_buf_puts(&s, "\nPer class (one class against the rest):\n\n| class | kappa |\n"
                          "| --- | ---: |\n");
        for (size_t c = 0; c < a->n_labels && c < r->n_classes; c++) {
            hitl_buf_puts(&s, "| ");
            hitl__buf_md(&s, r->classes[c]);
            hitl_buf_puts(&s, " | ");
            hitl__buf_num(&s, a->per_label[c], "%.3f");
            hitl_buf_puts(&s, " |\n");
        }
    }
    size_t n = a->n_annotators < MAX_HEATMAP ? a->n_annotators : MAX_HEATMAP;
    if (n < a->n_annotators)
        hitl_buf_printf(&s, "\nThe heatmap shows the first %zu annotators by name.\n", n);
    hitl__nb_markdown(b, "agreement", &s);
    if (n < 2 || !r->agreement_names) return;
    char *svg = NULL;
    hitl_svg_pair_agreement(a, r->agreement_names, MAX_HEATMAP,
                            "Pairwise agreement (share of common items)", &svg, NULL);
    hitl__nb_chart(b, "agreement-chart", "Pairwise agreement between annotators",
                   "`hitl report` from the store", svg);
}

static void calibration(hitl__nb *b, const hitl_report *r, const hitl_reliability_summary *cal)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Model calibration on the blind sample\n\nBlind items were drawn "
                      "uniformly from the pool, so they estimate the model without the bias "
                      "of uncertainty sampling. Confidence is the model's top probability at "
                      "query time; an item counts as correct when its predicted class is the "
                      "final label.\n\n");
    const hitl_reliability *rel = r->calibration;
    if (!rel || cal->n == 0) {
        hitl_buf_puts(&s, "No blind item has a final label yet.\n");
        hitl__nb_markdown(b, "calibration", &s);
        if (rel) {
            char *svg = NULL;
            hitl_svg_reliability(rel, "Reliability on the blind items", &svg, NULL);
            hitl__nb_chart(b, "reliability-chart", "Reliability diagram",
                           "`hitl report` from the store", svg);
        }
        return;
    }
    hitl_buf_printf(&s, "| measure | value |\n| --- | ---: |\n| blind items | %lld |\n",
                    (long long)cal->n);
    hitl_buf_puts(&s, "| accuracy | ");
    pct(&s, cal->accuracy);
    hitl_buf_puts(&s, " |\n| 95% Wilson interval | ");
    pct(&s, cal->accuracy_ci.lo);
    hitl_buf_puts(&s, " to ");
    pct(&s, cal->accuracy_ci.hi);
    hitl_buf_puts(&s, " |\n| mean confidence | ");
    hitl__buf_num(&s, cal->confidence, "%.3f");
    hitl_buf_printf(&s, " |\n| ECE (top label, %zu equal-width bins) | ", cal->bins);
    hitl__buf_num(&s, cal->ece, "%.4f");
    hitl_buf_printf(&s, " |\n| MCE (top label, %zu equal-width bins) | ", cal->bins);
    hitl__buf_num(&s, cal->mce, "%.4f");
    hitl_buf_puts(&s, " |\n| Brier score, top label (0 to 1) | ");
    hitl__buf_num(&s, cal->brier_top_label, "%.4f");
    hitl_buf_puts(&s, " |\n\nThe multiclass Brier score needs every class's probability, which "
                      "the store does not keep: `hitl calibrate DB --probs POOL:DSET` computes "
                      "it on the same items.\n\n| confidence bin | items | accuracy | mean "
                      "confidence |\n| --- | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < rel->bins; i++) {
        hitl_calib_bin x = hitl_reliability_bin(rel, i);
        if (!x.count) continue;
        hitl_buf_printf(&s, "| (%.3f, %.3f] | %lld | %.3f | %.3f |\n", x.lo, x.hi,
                        (long long)x.count, x.accuracy, x.confidence);
    }
    hitl__nb_markdown(b, "calibration", &s);
    char title[128], *svg = NULL;
    snprintf(title, sizeof(title), "Reliability on %lld blind items (ECE %.3f)", (long long)cal->n,
             cal->ece);
    hitl_svg_reliability(rel, title, &svg, NULL);
    hitl__nb_chart(b, "reliability-chart", "Reliability diagram", "`hitl report` from the store",
                   svg);
}

static void confusion(hitl__nb *b, const hitl_report *r)
{
    if (!r->confusion) return;
    size_t c = r->n_classes;
    int64_t total = 0, diag = 0;
    for (size_t i = 0; i < c; i++)
        for (size_t j = 0; j < c; j++) {
            total += r->confusion[i * c + j];
            diag += i == j ? r->confusion[i * c + j] : 0;
        }
    hitl_buf s = {0};
    hitl_buf_printf(&s,
                    "## Model prediction against the final label\n\nOver the %lld exported "
                    "items (uncertain and blind together), the model's class at query time is "
                    "the final label on ",
                    (long long)total);
    pct(&s, total ? (double)diag / (double)total : NAN);
    hitl_buf_puts(&s, " of them. Rows are final labels, columns predictions; shading is the "
                      "share of the row.\n\n| class | final | predicted | recall | "
                      "precision |\n| --- | ---: | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < c; i++) {
        int64_t row = 0, col = 0;
        for (size_t j = 0; j < c; j++) {
            row += r->confusion[i * c + j];
            col += r->confusion[j * c + i];
        }
        hitl_buf_puts(&s, "| ");
        hitl__buf_md(&s, r->classes[i]);
        hitl_buf_printf(&s, " | %lld | %lld | ", (long long)row, (long long)col);
        pct(&s, row ? (double)r->confusion[i * c + i] / (double)row : NAN);
        hitl_buf_puts(&s, " | ");
        pct(&s, col ? (double)r->confusion[i * c + i] / (double)col : NAN);
        hitl_buf_puts(&s, " |\n");
    }
    hitl__nb_markdown(b, "confusion", &s);
    char *svg = NULL;
    hitl_svg_confusion(r->confusion, c, r->classes, "Model prediction vs final label",
                       "final label", "model prediction", &svg, NULL);
    hitl__nb_chart(b, "confusion-chart", "Confusion matrix", "`hitl report` from the store", svg);
}

static void scores(hitl__nb *b, const hitl_report *r)
{
    if (!r->scores_uncertain || !r->scores_blind) return;
    hitl_buf s = {0};
    hitl_buf_printf(&s,
                    "## Scores at query time\n\nThe %s uncertainty score (higher: more "
                    "uncertain) of the items queued as most uncertain, of the blind items (a "
                    "uniform sample, so their curve estimates the pool's)",
                    r->method ? r->method : "");
    hitl_buf_puts(&s, r->scores_pool ? " and of the whole pool.\n"
                                     : "; give `--pool FILE:DSET` to draw the pool itself.\n");
    hitl__nb_markdown(b, "scores", &s);
    const hitl_histogram *h[3] = {r->scores_uncertain, r->scores_blind, r->scores_pool};
    const char *names[3] = {"queued as uncertain", "blind sample", "pool"};
    char *svg = NULL;
    char xl[96];
    snprintf(xl, sizeof(xl), "%s score", r->method ? r->method : "uncertainty");
    hitl_svg_histograms(h, names, r->scores_pool ? 3 : 2, "Score distribution", xl, &svg, NULL);
    hitl__nb_chart(b, "scores-chart", "Score histogram: queued vs pool",
                   "`hitl report` from the store", svg);
}

/* The actors' override rates as the scorecard judged them (v: NULL when not judged). */
static void actors(hitl__nb *b, const hitl_report *r, const hitl_health_verdict *v)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Adjudication and overrides\n\n");
    const hitl_health_metrics *m = r->health;
    if (!v) {
        hitl_buf_puts(&s, "Not judged: no review metrics were given.\n");
        hitl__nb_markdown(b, "overrides", &s);
        return;
    }
    hitl_health_thresholds t;
    if (r->health_thresholds)
        t = *r->health_thresholds;
    else
        hitl_health_thresholds_default(&t);
    hitl_buf_puts(&s, "The scorecard puts an actor at risk whose override rate is above ");
    pct(&s, t.override_rate);
    hitl_buf_printf(&s,
                    " on %lld decisions or more.\n\n| actor | decisions | overrides | rate | |\n"
                    "| --- | ---: | ---: | ---: | --- |\n",
                    (long long)t.min_sample);
    for (size_t i = 0; i < m->n_actors; i++) {
        const hitl_health_actor *a = &m->actors[i];
        int flagged = 0;
        for (size_t k = 0; k < v->n_reasons; k++)
            flagged |= v->reasons[k].rule == HITL_HEALTH_OVERRIDES && v->reasons[k].subject == i;
        hitl_buf_puts(&s, "| ");
        hitl__buf_md(&s, a->name);
        hitl_buf_printf(&s, " | %lld | %lld | ", (long long)a->decisions, (long long)a->overrides);
        pct(&s, v->override_rate[i]);
        hitl_buf_printf(&s, " | %s |\n", flagged ? "**at_risk**" : "");
    }
    if (m->n_actors == 0) hitl_buf_puts(&s, "| (no decisions yet) | | | | |\n");
    hitl__nb_markdown(b, "overrides", &s);
}

/* The markdown cell naming the HDF5 export the retraining cells read and how to run them. */
static void retrain_text(hitl__nb *b, const hitl_report *r)
{
    hitl_buf s = {0};
    hitl_buf_puts(&s, "## Retrain a baseline on the corrected labels\n\nThe cells below read "
                      "the HDF5 export `");
    hitl__buf_md(&s, r->export_path);
    hitl_buf_printf(&s,
                    "` that `hitl report` wrote next to this notebook (%s; /ids, /rows, "
                    "/labels, /soft_labels, /is_blind%s) and fit scikit-learn's logistic "
                    "regression on it. Run them with `jupyter nbconvert --execute` or in "
                    "Jupyter from this directory.\n",
                    r->final_rule ? r->final_rule : "adjudicated",
                    r->export_has_features ? ", /features" : "");
    hitl__nb_markdown(b, "retrain", &s);
}

/* The code cell that reads the export with h5py: classes, ids, labels, soft labels, blind flags,
 * the model's guesses and the features when there are some. */
static void load_export(hitl__nb *b, const hitl_report *r)
{
    hitl_buf s = {0};
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "%s", r->export_command ? r->export_command : "hitl export ...");
    for (char *p = cmd; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    hitl_buf_printf(
        &s,
        "# Load the labels this report describes. After more labelling, refresh the export with\n"
        "#   %s\n"
        "import os\n\nimport h5py\nimport numpy as np\n\n"
        "EXPORT = ",
        cmd);
    hitl__buf_py_str(&s, r->export_path);
    hitl_buf_puts(
        &s, "\n"
            "if not os.path.exists(EXPORT):\n"
            "    raise FileNotFoundError(f\"{EXPORT} is not next to the notebook: run the command "
            "above\")\n"
            "with h5py.File(EXPORT, \"r\") as f:\n"
            "    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in "
            "f.attrs[\"classes\"]]\n"
            "    ids = f[\"ids\"].asstr()[()]\n"
            "    labels = f[\"labels\"][()]\n"
            "    soft = f[\"soft_labels\"][()]\n"
            "    is_blind = f[\"is_blind\"][()].astype(bool)\n"
            "    pred = f[\"pred\"][()]\n"
            "    X = f[\"features\"][()] if \"features\" in f else None\n"
            "print(f\"{len(labels)} items with a final label ({is_blind.sum()} blind), "
            "{len(classes)} classes\")\n"
            "for name, count in zip(classes, np.bincount(labels, minlength=len(classes))):\n"
            "    print(f\"  {name}: {count}\")\n");
    hitl__nb_code_buf(b, "load", &s);
}

/* The cells that retrain on the export: how often the model's guess was the final label, a
 * logistic regression baseline and one trained on the soft labels. */
static void retrain(hitl__nb *b, const hitl_report *r)
{
    retrain_text(b, r);
    load_export(b, r);
    hitl__nb_code(
        b, "model-vs-labels",
        "# How often the model's guess at query time is the corrected label. Uncertain items\n"
        "# were picked because the model hesitated: only the blind (uniformly drawn) items\n"
        "# estimate its accuracy on the pool.\n"
        "known = pred >= 0\n"
        "for name, mask in ((\"all items\", known), (\"blind items\", known & is_blind)):\n"
        "    if mask.any():\n"
        "        agree = np.mean(pred[mask] == labels[mask])\n"
        "        print(f\"{name}: the model's class is the final label on {agree:.1%} of "
        "{mask.sum()}\")\n");

    hitl__nb_code(
        b, "baseline",
        "# Retrain: logistic regression on the pool features of the labelled rows (hitl report\n"
        "# --features copies them into the export). The blind items are the fair test set.\n"
        "import warnings\n\n"
        "from sklearn.exceptions import ConvergenceWarning, FitFailedWarning\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "from sklearn.model_selection import KFold, cross_val_score\n\n"
        "warnings.filterwarnings(\"ignore\", category=ConvergenceWarning)\n"
        "warnings.filterwarnings(\"ignore\", category=FitFailedWarning)\n"
        "warnings.filterwarnings(\"ignore\", category=UserWarning)\n"
        "baseline = None\n"
        "if X is None:\n"
        "    print(\"the export has no /features: run hitl report with --features POOL.h5:DSET "
        "to retrain here\")\n"
        "elif len(np.unique(labels)) < 2:\n"
        "    print(\"the corrected labels hold a single class: nothing to learn yet\")\n"
        "else:\n"
        "    folds = int(min(5, len(labels)))\n"
        "    cv = KFold(folds, shuffle=True, random_state=0)\n"
        "    scores = cross_val_score(LogisticRegression(max_iter=2000), X, labels, cv=cv,\n"
        "                             error_score=np.nan)\n"
        "    if np.isfinite(scores).any():\n"
        "        print(f\"{folds}-fold cross-validated accuracy: {np.nanmean(scores):.1%}\")\n"
        "    train = ~is_blind\n"
        "    if is_blind.sum() >= 5 and len(np.unique(labels[train])) >= 2:\n"
        "        held_out = LogisticRegression(max_iter=2000).fit(X[train], labels[train])\n"
        "        acc = np.mean(held_out.predict(X[is_blind]) == labels[is_blind])\n"
        "        print(f\"trained on {train.sum()} queued items, tested on {is_blind.sum()} "
        "blind ones: {acc:.1%}\")\n"
        "    baseline = LogisticRegression(max_iter=2000).fit(X, labels)\n"
        "    print(f\"baseline fitted on all {len(labels)} items ({X.shape[1]} features)\")\n");

    hitl__nb_code(
        b, "soft-labels",
        "# The soft labels (each class's share of the votes, or Dawid-Skene's posterior) can\n"
        "# weight the training instead: an item counts once per class, weighted by its share.\n"
        "if baseline is not None:\n"
        "    rows, cls = np.nonzero(soft > 0)\n"
        "    if len(np.unique(cls)) >= 2:\n"
        "        soft_model = LogisticRegression(max_iter=2000)\n"
        "        soft_model.fit(X[rows], cls, sample_weight=soft[rows, cls])\n"
        "        same = np.mean(soft_model.predict(X) == baseline.predict(X))\n"
        "        print(f\"trained on soft labels, it agrees with the baseline on {same:.1%} of "
        "items\")\n");
}

hitl_status hitl_report_notebook(const hitl_report *r, char **text, hitl_error *err)
{
    *text = NULL;
    if (!r || !r->classes || r->n_classes == 0)
        return hitl_error_set(err, HITL_EINVAL, "a report needs the project's classes");
    if (!r->export_path || !r->export_path[0])
        return hitl_error_set(err, HITL_EINVAL, "a report needs the export's path");
    for (size_t c = 0; c < r->n_classes; c++)
        if (!r->classes[c]) return hitl_error_set(err, HITL_EINVAL, "class %zu has no name", c);
    /* the one verdict, as hitl health gives it: the engine refuses metrics that cannot be */
    hitl_health_verdict v = {0};
    hitl_status st = HITL_OK;
    if (r->health && (st = hitl_health_evaluate(r->health, r->health_thresholds, &v, err)))
        return st;
    hitl__nb b;
    if ((st = hitl__nb_init(&b, err)) != HITL_OK) {
        hitl_health_verdict_release(&v);
        return st;
    }
    hitl_reliability_summary cal = {0};
    if (r->calibration) hitl_reliability_summarize(r->calibration, &cal);
    summary(&b, r, &cal);
    health(&b, r, r->health ? &v : NULL);
    progress(&b, r);
    annotators(&b, r);
    agreement(&b, r);
    calibration(&b, r, &cal);
    confusion(&b, r);
    scores(&b, r);
    actors(&b, r, r->health ? &v : NULL);
    hitl_health_verdict_release(&v);
    retrain(&b, r);
    const hitl__nb_meta meta[] = {
        {"store", r->store_path}, {"export", r->export_path}, {"generated_at", r->generated_at}};
    return hitl__nb_finish(&b, meta, sizeof(meta) / sizeof(meta[0]), text, err);
}

hitl_status hitl_report_write(const hitl_report *r, const char *path, hitl_error *err)
{
    char *text;
    hitl_status st = hitl_report_notebook(r, &text, err);
    if (st != HITL_OK) return st;
    return hitl__nb_write(text, path, err);
}
