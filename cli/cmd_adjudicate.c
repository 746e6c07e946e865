/* hitl adjudicate: set an item's final label with a justification: resolves a disagreement, or
 * overrides a final label or a prediction routed to review. Short justifications are refused
 * before anything is written. */
#include <stdint.h>
#include <stdlib.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl adjudicate DB ITEM LABEL --actor NAME --justification TEXT [--json]\n"
    "       hitl adjudicate DB --list [--json]\n"
    "\n"
    "Sets ITEM's final label. On an item whose labels disagree this adjudicates; on an item\n"
    "with a final label, or a review-routed prediction not yet labelled, it overrides. The\n"
    "justification must have the project's minimum length (hitl init --min-justification),\n"
    "else exit 3 and nothing is written. Every decision is audited with before and after.\n"
    "--list prints the items awaiting adjudication in queue order, each with every label, who\n"
    "gave it and when, and the model's prediction (JSON: {\"items\": [{\"item\", \"payload\",\n"
    "\"prediction\", \"state\", \"final\", \"labels\": [{\"annotator\", \"label\", \"at\"}]}]}, "
    "as\n"
    "hitl serve's GET /api/v1/adjudication).\n";

/* --list: what needs deciding. */
static int list(const char *db, int json)
{
    hitl_store *st;
    int rc = cli_open_store_read("adjudicate", db, &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_item_review *v;
    size_t n;
    hitl_status s = hitl_store_adjudication_queue(st, SIZE_MAX, &v, &n, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("adjudicate", s, &err);
    json_t *items = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (json) {
            json_array_append_new(items, hitl_item_review_json(&v[i]));
        } else {
            printf("%s  (model: %s)\n", cli_safe(v[i].pool_id),
                   v[i].prediction ? cli_safe(v[i].prediction) : "none");
            for (size_t k = 0; k < v[i].n_labels; k++)
                printf("    %-24s %-16s %s\n", cli_safe(v[i].labels[k].annotator),
                       cli_safe(v[i].labels[k].label), v[i].labels[k].at);
        }
        hitl_item_review_release(&v[i]);
    }
    free(v);
    if (json)
        cli_print_json(json_pack("{s:o}", "items", items));
    else
        printf("%zu item%s awaiting adjudication\n", n, n == 1 ? "" : "s");
    return CLI_EXIT_OK;
}

int cmd_adjudicate(int argc, char **argv)
{
    const char *actor = NULL, *why = NULL;
    int json = 0, listing = 0;
    const cli_opt opts[] = {CLI_O_STR("actor", &actor), CLI_O_STR("justification", &why),
                            CLI_O_FLAG("list", &listing), CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("adjudicate", usage_text, argc, argv, opts, 1, 3);
    if (rc >= 0) return rc;
    if (listing) {
        if (argc - optind != 1 || actor || why)
            return cli_usage_error("adjudicate", "--list takes the store alone");
        return list(argv[optind], json);
    }
    if (argc - optind != 3) return cli_usage_error("adjudicate", "give DB ITEM LABEL (or --list)");
    if (!actor) return cli_usage_error("adjudicate", "--actor NAME is required");
    if ((rc = cli_name_arg("adjudicate", "--actor", actor)) >= 0) return rc;
    if (why && (rc = cli_text_arg("adjudicate", "--justification", why)) >= 0) return rc;
    hitl_store *st;
    rc = cli_open_store("adjudicate", argv[optind], &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    int overrode = 0;
    char *label = cli_class_typed(st, argv[optind + 2]);
    hitl_status s = label ? hitl_store_adjudicate(st, argv[optind + 1], label, actor,
                                                  why ? why : "", &overrode, &err)
                          : hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    hitl_store_close(st);
    if (s != HITL_OK) {
        free(label);
        return cli_fail("adjudicate", s, &err);
    }
    if (json)
        cli_print_json(json_pack("{s:s, s:s, s:b}", "item", argv[optind + 1], "label", label,
                                 "overrode", overrode));
    else
        printf("%s: final label %s%s\n", cli_safe(argv[optind + 1]), cli_safe(label),
               overrode ? " (override)" : "");
    free(label);
    return CLI_EXIT_OK;
}
