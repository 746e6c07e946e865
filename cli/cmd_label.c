/* hitl label and hitl skip: an annotator's answer for one item: a label (one of the project's
 * classes) or a skip; both need the annotator's lease or a free item. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char label_usage[] =
    "usage: hitl label DB ITEM LABEL --annotator NAME\n"
    "\n"
    "Records NAME's LABEL (one of the project's classes; another case is taken when only one\n"
    "class matches it) for ITEM (its pool id). NAME must hold the item's lease, or the item\n"
    "must be free. exit 3: unknown item or label, no lease, a second label by the same\n"
    "annotator, or an item that is already complete.\n";

static const char skip_usage[] = "usage: hitl skip DB ITEM --annotator NAME [--reason TEXT]\n"
                                 "\n"
                                 "Gives ITEM back without a label; NAME is not offered it again.\n";

/* The options of both: --annotator (required), --reason (skip only); npos positional
 * arguments. Returns -1 to go on. */
static int parse(const char *cmd, const char *usage, int argc, char **argv, int npos,
                 const char **who, const char **reason)
{
    const cli_opt label_opts[] = {CLI_O_STR("annotator", who), CLI_O_END};
    const cli_opt skip_opts[] = {CLI_O_STR("annotator", who), CLI_O_STR("reason", reason),
                                 CLI_O_END};
    int rc = cli_options(cmd, usage, argc, argv, reason ? skip_opts : label_opts, npos, npos);
    if (rc >= 0) return rc;
    if (!*who) return cli_usage_error(cmd, "--annotator NAME is required");
    if ((rc = cli_name_arg(cmd, "--annotator", *who)) >= 0) return rc;
    if (reason && *reason && (rc = cli_text_arg(cmd, "--reason", *reason)) >= 0) return rc;
    return -1;
}

int cmd_label(int argc, char **argv)
{
    const char *who = NULL;
    int rc = parse("label", label_usage, argc, argv, 3, &who, NULL);
    if (rc >= 0) return rc;
    hitl_store *st;
    if ((rc = cli_open_store("label", argv[optind], &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    char *label = cli_class_typed(st, argv[optind + 2]);
    hitl_status s = label ? hitl_store_label(st, argv[optind + 1], label, who, &err)
                          : hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    free(label);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("label", s, &err);
    return CLI_EXIT_OK;
}

int cmd_skip(int argc, char **argv)
{
    const char *who = NULL, *reason = NULL;
    int rc = parse("skip", skip_usage, argc, argv, 2, &who, &reason);
    if (rc >= 0) return rc;
    hitl_store *st;
    if ((rc = cli_open_store("skip", argv[optind], &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_store_skip(st, argv[optind + 1], who, reason, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("skip", s, &err);
    return CLI_EXIT_OK;
}
