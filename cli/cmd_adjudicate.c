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
    static const struct option opts[] = {{"actor", required_argument, NULL, 'a'},
                                         {"justification", required_argument, NULL, 'j'},
                                         {"json", no_argument, NULL, 'J'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *actor = NULL, *why = NULL;
    int json = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'a')
            actor = optarg;
        else if (c == 'j')
            why = optarg;
        else if (c == 'J')
            json = 1;
        else if (c == 'h') {
            fputs(usage_text, stdout);
            return CLI_EXIT_OK;
        } else
            return cli_usage_error("adjudicate", "unknown or incomplete option '%s'",
                                   argv[optind - 1]);
    }
    if (argc - optind != 3) return cli_usage_error("adjudicate", "give DB ITEM LABEL");
    if (!actor || !*actor) return cli_usage_error("adjudicate", "--actor NAME is required");
    hitl_store *st;
    int rc = cli_open_store("adjudicate", argv[optind], &st);
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
