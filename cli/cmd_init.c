/* hitl init and hitl set: create an annotation store with its classes and policies, and change
 * a policy later (every change is audited). */
#include <string.h>

#include "cli.h"

static const char init_usage[] =
    "usage: hitl init DB --classes A,B,... [--overlap R] [--lease SECONDS]\n"
    "                [--show-prediction never|uncertain|always] [--min-justification N]\n"
    "                [--actor NAME]\n"
    "\n"
    "Creates a new annotation store (one SQLite file) for items labelled with the classes.\n"
    "  --overlap R            independent labels per item (default 1)\n"
    "  --lease SECONDS        how long `hitl next` reserves an item (default 600)\n"
    "  --show-prediction P    show annotators the model's guess: never (default), on\n"
    "                         uncertainty-queued items, or always; never on blind items\n"
    "  --min-justification N characters an adjudication or override must give (default 20)\n"
    "  --actor NAME           who is acting (default $HITL_ACTOR, else $USER)\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 the file exists or bad settings\n";

int cmd_init(int argc, char **argv)
{
    const char *classes = NULL, *actor = NULL;
    const char *set[4][2] = {
        {"overlap", NULL}, {"lease", NULL}, {"show-prediction", NULL}, {"min-justification", NULL}};
    const cli_opt opts[] = {CLI_O_STR("classes", &classes),
                            CLI_O_STR("overlap", &set[0][1]),
                            CLI_O_STR("lease", &set[1][1]),
                            CLI_O_STR("show-prediction", &set[2][1]),
                            CLI_O_STR("min-justification", &set[3][1]),
                            CLI_O_STR("actor", &actor),
                            CLI_O_END};
    int rc = cli_options("init", init_usage, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    if (!classes) return cli_usage_error("init", "--classes is required");
    hitl_error err;
    hitl_error_clear(&err);
    hitl_store_settings s;
    hitl_store_settings_default(&s);
    if (hitl_strings_split(classes, &s.classes, &s.n_classes, &err) != HITL_OK)
        return cli_usage_error("init", "bad --classes '%s': %s", classes, err.msg);
    for (int i = 0; i < 4; i++) {
        if (set[i][1] && hitl_store_settings_apply(&s, set[i][0], set[i][1], &err) != HITL_OK) {
            hitl_strings_free(s.classes, s.n_classes);
            return cli_usage_error("init", "bad --%s: %s", set[i][0], err.msg);
        }
    }
    hitl_status st = hitl_store_init(argv[optind], &s, cli_actor(actor), &err);
    hitl_strings_free(s.classes, s.n_classes);
    if (st != HITL_OK) return cli_fail("init", st, &err);
    printf("created %s: %zu classes, overlap %d, lease %d s\n", argv[optind], s.n_classes,
           s.overlap, s.lease_seconds);
    return CLI_EXIT_OK;
}

static const char set_usage[] =
    "usage: hitl set DB KEY VALUE [--actor NAME]\n"
    "\n"
    "Changes a store setting; the change is audited with its old and new value.\n"
    "KEY: overlap, lease, show-prediction, min-justification (see hitl init --help); overlap\n"
    "applies to batches queued later. For live decisions (hitl serve, /api/v1/decisions):\n"
    "  route high=X,medium=Y       risk above X waits for approval, above Y is flagged for\n"
    "                              review after it proceeds (default high=0.7,medium=0.4)\n"
    "  decision-blind-rate R       share of the rest sent to blind review (default 0.02)\n"
    "  decision-approvals high=N,flag=M  approvals each route needs (default high=2,flag=1)\n"
    "  decision-deadline SECONDS   after it, a decision waiting for review escalates to the\n"
    "                              admins (default 14400: 4 h); high=N,flag=M: per route\n"
    "For hitl health (defaults in hitl health --help):\n"
    "  approval-thresholds rubber-stamp=X,inefficient=Y  approval rates that degrade\n"
    "  override-alert rate=X,days=N  override rate that puts the store at risk, and the\n"
    "                              window of each reviewer's decision overrides\n"
    "  health-min-sample N         labels or decisions needed to judge a person\n";

int cmd_set(int argc, char **argv)
{
    const char *actor = NULL;
    const cli_opt opts[] = {CLI_O_STR("actor", &actor), CLI_O_END};
    int rc = cli_options("set", set_usage, argc, argv, opts, 3, 3);
    if (rc >= 0) return rc;
    hitl_store *st;
    rc = cli_open_store("set", argv[optind], &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s =
        hitl_store_setting_set(st, argv[optind + 1], argv[optind + 2], cli_actor(actor), &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("set", s, &err);
    printf("%s = %s%s\n", argv[optind + 1], argv[optind + 2],
           strcmp(argv[optind + 1], "overlap") == 0
               ? " (for batches queued from now on; items already queued keep theirs)"
               : "");
    return CLI_EXIT_OK;
}
