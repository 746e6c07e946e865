/* The JSON views of the store that more than one front end shows: `hitl status --json` and
 * GET /api/v1/status print hitl_stats_json, `hitl health --json` and GET /api/v1/health print
 * hitl_scorecard_json. One definition, so the command and the server cannot drift. */
#include <math.h>
#include <stdlib.h>

#include "hitl_store_json.h"
#include "hitl_banned.h"

/* A JSON real, null when not finite. */
static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

json_t *hitl_payload_json(const char *data)
{
    json_t *j = data ? json_loads(data, 0, NULL) : NULL;
    return j ? j : json_null();
}

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static const char *state_name(int state)
{
    return state == 0 ? "open" : state == 1 ? "awaiting_adjudication" : "final";
}

json_t *hitl_item_review_json(const hitl_item_review *v)
{
    json_t *labels = json_array();
    for (size_t i = 0; i < v->n_labels; i++)
        json_array_append_new(labels,
                              json_pack("{s:s, s:s, s:s}", "annotator", v->labels[i].annotator,
                                        "label", v->labels[i].label, "at", v->labels[i].at));
    json_t *final = v->final_label
                        ? json_pack("{s:s, s:o, s:o}", "label", v->final_label, "kind",
                                    str_or_null(v->final_kind), "by", str_or_null(v->final_by))
                        : json_null();
    return json_pack("{s:s, s:o, s:o, s:s, s:o, s:o}", "item", v->pool_id, "payload",
                     hitl_payload_json(v->data), "prediction", str_or_null(v->prediction), "state",
                     state_name(v->state), "final", final, "labels", labels);
}

json_t *hitl_gate_json(const hitl_gate *g)
{
    json_t *votes = json_array();
    for (size_t i = 0; i < g->n_votes; i++)
        json_array_append_new(votes, json_pack("{s:s, s:s, s:b, s:s, s:s}", "reviewer",
                                               g->votes[i].reviewer, "vote",
                                               g->votes[i].approve ? "approve" : "reject",
                                               "override", g->votes[i].override, "reason",
                                               g->votes[i].reason, "at", g->votes[i].at));
    return json_pack("{s:I, s:s, s:s, s:s, s:f, s:o, s:s, s:b, s:s, s:s, s:i, s:i, s:s, s:s, "
                     "s:o, s:o, s:o, s:o}",
                     "decision", (json_int_t)g->id, "id", g->caller_id, "submitter", g->submitter,
                     "action", g->action, "risk", g->risk, "model", str_or_null(g->model), "route",
                     hitl_gate_route_name(g->route), "blind", g->blind, "status",
                     hitl_gate_status_name(g->status), "review", hitl_gate_status_name(g->review),
                     "required", g->required, "approvals", g->approvals, "created_at",
                     g->created_at, "deadline", g->deadline, "settled_at",
                     str_or_null(g->settled_at), "settled_by", str_or_null(g->settled_by),
                     "payload", hitl_payload_json(g->payload), "votes", votes);
}

json_t *hitl_stats_json(const hitl_store_stats *s, hitl_error *err)
{
    json_t *ann = json_array(), *acts = json_array(), *bat = json_array();
    for (size_t i = 0; i < s->n_annotators; i++)
        json_array_append_new(ann,
                              json_pack("{s:s, s:I, s:I, s:I, s:I}", "name", s->annotators[i].name,
                                        "labels", (json_int_t)s->annotators[i].labels, "skips",
                                        (json_int_t)s->annotators[i].skips, "labels_last_hour",
                                        (json_int_t)s->annotators[i].last_hour, "labels_last_day",
                                        (json_int_t)s->annotators[i].last_day));
    for (size_t i = 0; i < s->n_actors; i++)
        json_array_append_new(acts, json_pack("{s:s, s:I, s:I, s:f, s:b}", "name",
                                              s->actors[i].name, "decisions",
                                              (json_int_t)s->actors[i].decisions, "overrides",
                                              (json_int_t)s->actors[i].overrides, "override_rate",
                                              s->actors[i].rate, "alert", s->actors[i].alert));
    for (size_t i = 0; i < s->n_batches; i++)
        json_array_append_new(
            bat,
            json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "batch", s->batches[i].batch, "queued",
                      (json_int_t)s->batches[i].queued, "complete",
                      (json_int_t)s->batches[i].complete, "blind", (json_int_t)s->batches[i].blind,
                      "awaiting_adjudication", (json_int_t)s->batches[i].awaiting_adjudication,
                      "queue_depth", (json_int_t)s->batches[i].queue_depth));
    json_t *j = json_pack(
        "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "items_queued",
        (json_int_t)s->items_queued, "items_complete", (json_int_t)s->items_complete, "labels",
        (json_int_t)s->labels, "skips", (json_int_t)s->skips, "leases", (json_int_t)s->leases,
        "awaiting_adjudication", (json_int_t)s->awaiting_adjudication, "queue_depth",
        (json_int_t)s->queue_depth, "annotators", ann, "batches", bat, "actors", acts);
    if (!j) hitl_error_set(err, HITL_ENOMEM, "out of memory");
    return j;
}

json_t *hitl_scorecard_reasons_json(const hitl_scorecard *sc)
{
    json_t *reasons = json_array();
    for (size_t i = 0; i < sc->verdict.n_reasons; i++) {
        const hitl_health_reason *r = &sc->verdict.reasons[i];
        const char *who = hitl_scorecard_subject(sc, r);
        json_t *o = json_pack("{s:s, s:s, s:o, s:o}", "rule", hitl_health_rule_name(r->rule),
                              "severity", hitl_health_status_name(r->severity), "subject",
                              who ? json_string(who) : json_null(), "threshold",
                              isfinite(r->threshold) ? json_real(r->threshold) : json_null());
        if (r->rule == HITL_HEALTH_CHAIN_BROKEN)
            json_object_set_new(o, "value", json_integer((json_int_t)r->value));
        else
            json_object_set_new(o, "value", isfinite(r->value) ? json_real(r->value) : json_null());
        json_array_append_new(reasons, o);
    }
    return reasons;
}

json_t *hitl_scorecard_json(const hitl_scorecard *sc, const char *store)
{
    const hitl_store_health *h = &sc->store;
    const hitl_latency *lat = &sc->latency;
    const hitl_health_verdict *v = &sc->verdict;
    json_t *root = json_object();
    json_object_set_new(root, "store", json_string(store));
    json_object_set_new(root, "status", json_string(hitl_health_status_name(v->status)));
    json_object_set_new(root, "reasons", hitl_scorecard_reasons_json(sc));
    json_object_set_new(root, "latency",
                        json_pack("{s:I, s:o, s:o, s:o}", "n", (json_int_t)lat->n, "mean",
                                  num(lat->mean), "p50", num(lat->p50), "p90", num(lat->p90)));
    json_object_set_new(root, "show_prediction",
                        json_string(hitl_show_prediction_name(h->show_prediction)));
    json_t *anns = json_array();
    for (size_t i = 0; i < h->n_annotators; i++) {
        const hitl_health_annotator *x = &h->annotators[i];
        json_t *o = json_pack("{s:s, s:I, s:I, s:I, s:o}", "name", x->name, "labels",
                              (json_int_t)x->labels, "shown", (json_int_t)x->shown, "agreed",
                              (json_int_t)x->agreed, "model_agreement", num(v->model_agreement[i]));
        json_object_update_new(
            o,
            json_pack("{s:I, s:I, s:o, s:I, s:I, s:o}", "right", (json_int_t)x->right,
                      "right_approved", (json_int_t)x->right_approved, "right_approval",
                      num(v->right_approval[i]), "wrong", (json_int_t)x->wrong, "wrong_approved",
                      (json_int_t)x->wrong_approved, "wrong_approval", num(v->wrong_approval[i])));
        json_array_append_new(anns, o);
    }
    json_object_set_new(root, "annotators", anns);
    json_t *acts = json_array();
    for (size_t i = 0; i < h->n_actors; i++) {
        const hitl_health_actor *x = &h->actors[i];
        json_array_append_new(acts, json_pack("{s:s, s:I, s:I, s:o}", "name", x->name, "decisions",
                                              (json_int_t)x->decisions, "overrides",
                                              (json_int_t)x->overrides, "override_rate",
                                              num(v->override_rate[i])));
    }
    json_object_set_new(root, "actors", acts);
    json_object_set_new(
        root, "audit",
        json_pack("{s:I, s:I, s:o, s:b, s:o, s:I}", "labels", (json_int_t)h->labels, "audited",
                  (json_int_t)h->labels_audited, "completeness", num(v->completeness), "chain_ok",
                  h->chain_ok, "bad_seq",
                  h->chain_ok ? json_null() : json_integer((json_int_t)h->chain_bad_seq), "events",
                  (json_int_t)h->n_events));
    const hitl_latency *rl = &sc->review_latency;
    json_t *revs = json_array();
    for (size_t i = 0; i < h->n_reviewers; i++)
        json_array_append_new(
            revs, json_pack("{s:s, s:I, s:I, s:o, s:I, s:I, s:o}", "name", h->reviewers[i].name,
                            "votes", (json_int_t)h->reviewers[i].votes, "approvals",
                            (json_int_t)h->reviewers[i].approvals, "approval_rate",
                            num(v->decision_approval[i]), "recent_reviews",
                            (json_int_t)h->reviewers[i].recent, "recent_overrides",
                            (json_int_t)h->reviewers[i].recent_overrides, "override_rate",
                            num(v->decision_override[i])));
    json_object_set_new(
        root, "decisions",
        json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:{s:I, s:o, s:o, s:o}, s:i, s:I, s:I, "
                  "s:o}",
                  "total", (json_int_t)h->gates, "pending", (json_int_t)h->gates_pending,
                  "escalated", (json_int_t)h->gates_escalated, "expired",
                  (json_int_t)h->gates_expired, "approve_route", (json_int_t)h->gates_approve,
                  "flag_route", (json_int_t)h->gates_flag, "blind", (json_int_t)h->gates_blind,
                  "review_latency", "n", (json_int_t)rl->n, "mean", num(rl->mean), "p50",
                  num(rl->p50), "p95", num(rl->p95), "override_window_days", h->override_days,
                  "records", (json_int_t)h->gate_records, "records_audited",
                  (json_int_t)h->gate_records_audited, "reviewers", revs));
    json_object_set_new(root, "krippendorff_alpha", num(sc->alpha));
    if (sc->alpha_why[0])
        json_object_set_new(root, "krippendorff_alpha_reason", json_string(sc->alpha_why));
    json_object_set_new(root, "thresholds",
                        json_pack("{s:f, s:f, s:f, s:f, s:f, s:I}", "rubber_stamp",
                                  sc->thresholds.rubber_stamp, "inefficient",
                                  sc->thresholds.inefficient, "override_rate",
                                  sc->thresholds.override_rate, "completeness",
                                  sc->thresholds.completeness, "alpha", sc->thresholds.alpha,
                                  "min_sample", (json_int_t)sc->thresholds.min_sample));
    return root;
}
