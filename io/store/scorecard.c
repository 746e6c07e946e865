/* The review health scorecard of a store, gathered once for every view that shows it (hitl
 * health, hitl report, a web page): the store's metrics, Krippendorff's alpha over its labels,
 * and the engine's verdict on them. The rules and their default thresholds are engine/health.c. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* Krippendorff's alpha (nominal) over the store's labels; NaN with the reason when undefined. */
static hitl_status human_alpha(hitl_store *st, double *alpha, char *why, size_t cap,
                               hitl_error *err)
{
    *alpha = NAN;
    why[0] = '\0';
    hitl_ratings_file rf;
    hitl_status s = hitl_store_ratings_file(st, &rf, NULL, err);
    if (s != HITL_OK) return s;
    hitl_agreement_opts o = {.level = HITL_LEVEL_NOMINAL};
    hitl_agreement r;
    hitl_error e;
    hitl_error_clear(&e);
    s = hitl_agreement_compute(&rf.table, &o, &r, &e);
    if (s == HITL_OK) {
        *alpha = r.coef[HITL_COEF_ALPHA];
        if (isnan(*alpha)) snprintf(why, cap, "alpha is undefined on these labels");
        hitl_agreement_release(&r);
    } else if (s == HITL_EDATA) { /* too few annotators or overlapping items: not a failure */
        snprintf(why, cap, "%s", e.msg);
        s = HITL_OK;
    } else if (err) {
        *err = e;
    }
    hitl_ratings_file_release(&rf);
    return s;
}

hitl_status hitl_store_scorecard(hitl_store *st, const hitl_health_thresholds *t,
                                 hitl_scorecard *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    out->alpha = NAN;
    if (!t) { /* the store's thresholds (hitl set), as it holds them now */
        hitl_status r = hitl__store_read(st, err);
        if (r == HITL_OK) r = hitl__settings_refresh(st, err);
        hitl__store_rollback(st);
        if (r != HITL_OK) return r;
    }
    out->thresholds = t ? *t : st->settings.health;
    hitl_store_health *h = &out->store;
    hitl_status s = hitl_store_health_get(st, h, err);
    if (s != HITL_OK) return s;
    if ((s = human_alpha(st, &out->alpha, out->alpha_why, sizeof(out->alpha_why), err)) ==
            HITL_OK &&
        (s = hitl_latency_summarize(h->latency, h->n_latency, &out->latency, err)) == HITL_OK &&
        (s = hitl_latency_summarize(h->review_latency, h->n_review_latency, &out->review_latency,
                                    err)) == HITL_OK) {
        out->metrics = (hitl_health_metrics){.prediction_shown = h->prediction_shown,
                                             .annotators = h->annotators,
                                             .n_annotators = h->n_annotators,
                                             .actors = h->actors,
                                             .n_actors = h->n_actors,
                                             .labels = h->labels,
                                             .labels_audited = h->labels_audited,
                                             .decision_records = h->gate_records,
                                             .decision_records_audited = h->gate_records_audited,
                                             .chain_ok = h->chain_ok,
                                             .chain_bad_seq = h->chain_bad_seq,
                                             .alpha = out->alpha,
                                             .reviewers = h->reviewers,
                                             .n_reviewers = h->n_reviewers};
        s = hitl_health_evaluate(&out->metrics, &out->thresholds, &out->verdict, err);
    }
    if (s != HITL_OK) hitl_scorecard_release(out);
    return s;
}

void hitl_scorecard_release(hitl_scorecard *sc)
{
    if (!sc) return;
    hitl_health_verdict_release(&sc->verdict);
    hitl_store_health_release(&sc->store);
    memset(&sc->metrics, 0, sizeof(sc->metrics));
}

const char *hitl_scorecard_subject(const hitl_scorecard *sc, const hitl_health_reason *r)
{
    if (r->subject == SIZE_MAX) return NULL;
    if (r->rule == HITL_HEALTH_OVERRIDES) return sc->store.actors[r->subject].name;
    if (r->rule == HITL_HEALTH_DECISION_RUBBER_STAMPING ||
        r->rule == HITL_HEALTH_DECISION_INEFFICIENT || r->rule == HITL_HEALTH_DECISION_OVERRIDES)
        return sc->store.reviewers[r->subject].name;
    return sc->store.annotators[r->subject].name;
}
