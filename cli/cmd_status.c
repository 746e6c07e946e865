/* hitl status: the queue's progress per batch, each annotator's throughput, queue depth,
 * leases outstanding, items awaiting adjudication, and each actor's override rate with an alert
 * where the health scorecard (engine/health.c) puts the actor at risk. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl status DB [--json]\n"
    "\n"
    "JSON keys: items_queued, items_complete (final label), labels, skips, leases,\n"
    "awaiting_adjudication, queue_depth, annotators [{name, labels, skips}], batches\n"
    "[{batch, queued, complete, blind}], actors [{name, decisions, overrides, override_rate,\n"
    "alert}] (alert: hitl health puts the actor at risk for its override rate; the rule and\n"
    "its thresholds are the health scorecard's).\n";

/* alert[i] (caller-sized to s->n_actors) is 1 where the scorecard finds actor i's override rate
 * too high: the engine's rule and default thresholds, as hitl health judges them. */
static hitl_status override_alerts(const hitl_store_stats *s, int *alert, hitl_error *err)
{
    hitl_health_actor *acts = calloc(s->n_actors + 1, sizeof(*acts));
    if (!acts) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < s->n_actors; i++) {
        acts[i] =
            (hitl_health_actor){s->actors[i].name, s->actors[i].decisions, s->actors[i].overrides};
        alert[i] = 0;
    }
    hitl_health_metrics m = {.actors = acts, .n_actors = s->n_actors, .chain_ok = 1, .alpha = NAN};
    hitl_health_verdict v;
    hitl_status st = hitl_health_evaluate(&m, NULL, &v, err);
    for (size_t k = 0; st == HITL_OK && k < v.n_reasons; k++)
        if (v.reasons[k].rule == HITL_HEALTH_OVERRIDES) alert[v.reasons[k].subject] = 1;
    if (st == HITL_OK) hitl_health_verdict_release(&v);
    free(acts);
    return st;
}

int cmd_status(int argc, char **argv)
{
    int json = 0;
    const cli_opt opts[] = {CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("status", usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    hitl_store *st;
    rc = cli_open_store_read("status", argv[optind], &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_store_stats s;
    hitl_status r = hitl_store_stats_get(st, &s, &err);
    hitl_store_close(st);
    if (r != HITL_OK) return cli_fail("status", r, &err);
    int *alert = malloc((s.n_actors + 1) * sizeof(int));
    if (!alert) r = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    if (r == HITL_OK) r = override_alerts(&s, alert, &err);
    if (r != HITL_OK) {
        free(alert);
        hitl_store_stats_release(&s);
        return cli_fail("status", r, &err);
    }
    if (json) {
        json_t *ann = json_array(), *acts = json_array(), *bat = json_array();
        for (size_t i = 0; i < s.n_annotators; i++)
            json_array_append_new(ann, json_pack("{s:s, s:I, s:I}", "name", s.annotators[i].name,
                                                 "labels", (json_int_t)s.annotators[i].labels,
                                                 "skips", (json_int_t)s.annotators[i].skips));
        for (size_t i = 0; i < s.n_actors; i++)
            json_array_append_new(acts,
                                  json_pack("{s:s, s:I, s:I, s:f, s:b}", "name", s.actors[i].name,
                                            "decisions", (json_int_t)s.actors[i].decisions,
                                            "overrides", (json_int_t)s.actors[i].overrides,
                                            "override_rate", s.actors[i].rate, "alert", alert[i]));
        for (size_t i = 0; i < s.n_batches; i++)
            json_array_append_new(
                bat, json_pack("{s:s, s:I, s:I, s:I, s:I, s:I}", "batch", s.batches[i].batch,
                               "queued", (json_int_t)s.batches[i].queued, "complete",
                               (json_int_t)s.batches[i].complete, "blind",
                               (json_int_t)s.batches[i].blind, "awaiting_adjudication",
                               (json_int_t)s.batches[i].awaiting_adjudication, "queue_depth",
                               (json_int_t)s.batches[i].queue_depth));
        cli_print_json(json_pack(
            "{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o}", "items_queued",
            (json_int_t)s.items_queued, "items_complete", (json_int_t)s.items_complete, "labels",
            (json_int_t)s.labels, "skips", (json_int_t)s.skips, "leases", (json_int_t)s.leases,
            "awaiting_adjudication", (json_int_t)s.awaiting_adjudication, "queue_depth",
            (json_int_t)s.queue_depth, "annotators", ann, "batches", bat, "actors", acts));
    } else {
        printf("items queued %lld, complete %lld, awaiting adjudication %lld, still open %lld\n",
               (long long)s.items_queued, (long long)s.items_complete,
               (long long)s.awaiting_adjudication, (long long)s.queue_depth);
        printf("labels %lld, skips %lld, leases outstanding %lld\n", (long long)s.labels,
               (long long)s.skips, (long long)s.leases);
        for (size_t i = 0; i < s.n_batches; i++)
            printf("batch %-28s %8lld queued (%lld blind) %8lld complete\n",
                   cli_safe(s.batches[i].batch), (long long)s.batches[i].queued,
                   (long long)s.batches[i].blind, (long long)s.batches[i].complete);
        for (size_t i = 0; i < s.n_annotators; i++)
            printf("annotator %-20s %8lld labels %6lld skips\n", cli_safe(s.annotators[i].name),
                   (long long)s.annotators[i].labels, (long long)s.annotators[i].skips);
        for (size_t i = 0; i < s.n_actors; i++)
            printf("reviewer %-21s %6lld decisions %6lld overrides  rate %.2f%s\n",
                   cli_safe(s.actors[i].name), (long long)s.actors[i].decisions,
                   (long long)s.actors[i].overrides, s.actors[i].rate,
                   alert[i] ? "  ALERT: override rate too high (hitl health: at_risk)" : "");
    }
    free(alert);
    hitl_store_stats_release(&s);
    return CLI_EXIT_OK;
}
