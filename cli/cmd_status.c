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
    "awaiting_adjudication, queue_depth, annotators [{name, labels, skips, labels_last_hour,\n"
    "labels_last_day}] (throughput: labels given in the last hour and 24 hours), batches\n"
    "[{batch, queued, complete, blind}], actors [{name, decisions, overrides, override_rate,\n"
    "alert}] (alert: hitl health puts the actor at risk for its override rate; the rule and\n"
    "its thresholds are the health scorecard's).\n";

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
    if (json) {
        json_t *j = hitl_stats_json(&s, &err);
        if (!j) {
            hitl_store_stats_release(&s);
            return cli_fail("status", err.status, &err);
        }
        cli_print_json(j);
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
            printf("annotator %-20s %8lld labels %6lld skips  %5lld/h in the last hour, %7.1f/h "
                   "over the last day\n",
                   cli_safe(s.annotators[i].name), (long long)s.annotators[i].labels,
                   (long long)s.annotators[i].skips, (long long)s.annotators[i].last_hour,
                   (double)s.annotators[i].last_day / 24.0);
        for (size_t i = 0; i < s.n_actors; i++)
            printf("reviewer %-21s %6lld decisions %6lld overrides  rate %.2f%s\n",
                   cli_safe(s.actors[i].name), (long long)s.actors[i].decisions,
                   (long long)s.actors[i].overrides, s.actors[i].rate,
                   s.actors[i].alert ? "  ALERT: override rate too high (hitl health: at_risk)"
                                     : "");
    }
    hitl_store_stats_release(&s);
    return CLI_EXIT_OK;
}
