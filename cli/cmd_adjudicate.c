/* hitl adjudicate: set an item's final label with a justification: resolves a disagreement, or
 * overrides a final label or a prediction routed to review. Short justifications are refused
 * before anything is written. */
#include "cli.h"

static const char usage_text[] =
    "usage: hitl adjudicate DB ITEM LABEL --actor NAME --justification TEXT [--json]\n"
    "\n"
    "Sets ITEM's final label. On an item whose labels disagree this adjudicates; on an item\n"
    "with a final label, or a review-routed prediction not yet labelled, it overrides. The\n"
    "justification must have the project's minimum length (hitl init --min-justification),\n"
    "else exit 3 and nothing is written. Every decision is audited with before and after.\n";

int cmd_adjudicate(int argc, char **argv)
{
    const char *actor = NULL, *why = NULL;
    int json = 0;
    const cli_opt opts[] = {CLI_O_STR("actor", &actor), CLI_O_STR("justification", &why),
                            CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("adjudicate", usage_text, argc, argv, opts, 3, 3);
    if (rc >= 0) return rc;
    if (!actor) return cli_usage_error("adjudicate", "--actor NAME is required");
    if ((rc = cli_name_arg("adjudicate", "--actor", actor)) >= 0) return rc;
    if (why && (rc = cli_text_arg("adjudicate", "--justification", why)) >= 0) return rc;
    hitl_store *st;
    rc = cli_open_store("adjudicate", argv[optind], &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    int overrode = 0;
    hitl_status s = hitl_store_adjudicate(st, argv[optind + 1], argv[optind + 2], actor,
                                          why ? why : "", &overrode, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("adjudicate", s, &err);
    if (json)
        cli_print_json(json_pack("{s:s, s:s, s:b}", "item", argv[optind + 1], "label",
                                 argv[optind + 2], "overrode", overrode));
    else
        printf("%s: final label %s%s\n", argv[optind + 1], argv[optind + 2],
               overrode ? " (override)" : "");
    return CLI_EXIT_OK;
}
