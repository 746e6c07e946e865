/* hitl audit: verify the tamper-evident chain (exit 3 naming the first broken event), show one
 * item's trail, or export every event as JSON lines. */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl audit verify DB [--json]\n"
    "       hitl audit show DB --item ITEM\n"
    "       hitl audit export DB --jsonl\n"
    "\n"
    "verify recomputes the SHA-256 chain; exit 3 names the first broken sequence number after\n"
    "any edit, deletion, insertion or reordering made outside hitl. show prints an item's\n"
    "events (and its batch's queue event); export prints every event, one JSON object a line,\n"
    "each with its hash.\n";

static int print_line(void *ctx, const char *line)
{
    (*(size_t *)ctx)++;
    puts(line);
    return 0;
}

int cmd_audit(int argc, char **argv)
{
    const char *item = NULL;
    int json = 0, jsonl = 0;
    const cli_opt opts[] = {CLI_O_STR("item", &item), CLI_O_FLAG("jsonl", &jsonl),
                            CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("audit", usage_text, argc, argv, opts, 2, 2);
    if (rc >= 0) return rc;
    const char *verb = argv[optind], *db = argv[optind + 1];
    int verify = strcmp(verb, "verify") == 0, show = strcmp(verb, "show") == 0;
    if (!verify && !show && strcmp(verb, "export") != 0)
        return cli_usage_error("audit", "unknown action '%s' (verify, show, export)", verb);
    if (show && !item) return cli_usage_error("audit", "show needs --item ITEM");
    if (!verify && !show && !jsonl) return cli_usage_error("audit", "export needs --jsonl");
    hitl_store *st;
    rc = cli_open_store("audit", db, &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s;
    if (verify) {
        hitl_verify_report vr;
        s = hitl_audit_verify(st, NULL, &vr, &err);
        hitl_store_close(st);
        int64_t bad = vr.bad_seq, n = vr.events;
        if (json)
            cli_print_json(json_pack("{s:b, s:I, s:o}", "ok", s == HITL_OK, "events", (json_int_t)n,
                                     "first_broken", bad >= 0 ? json_integer(bad) : json_null()));
        if (s != HITL_OK) return cli_fail("audit", s, &err);
        if (!json) printf("audit chain verifies: %lld events\n", (long long)n);
        return CLI_EXIT_OK;
    }
    size_t lines = 0;
    s = hitl_audit_each(st, show ? item : NULL, print_line, &lines, &err);
    hitl_store_close(st);
    if (s == HITL_OK && show && lines == 0)
        s = hitl_error_set(&err, HITL_ENOTFOUND, "unknown item '%s' (no audit events)", item);
    return s == HITL_OK ? CLI_EXIT_OK : cli_fail("audit", s, &err);
}
