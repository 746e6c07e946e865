/* hitl backup: a consistent copy of a store while annotators work on it, as one new file. */
#include "cli.h"

static const char usage_text[] =
    "usage: hitl backup DB OUT [--json]\n"
    "\n"
    "Copies the store to OUT (a new file) in one read snapshot while others go on writing\n"
    "(SQLite's VACUUM INTO): the copy holds every change committed before it began, verifies\n"
    "on its own and opens as any store. OUT may not exist (exit 2).\n";

int cmd_backup(int argc, char **argv)
{
    int json = 0;
    const cli_opt opts[] = {CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("backup", usage_text, argc, argv, opts, 2, 2);
    if (rc >= 0) return rc;
    const char *db = argv[optind], *out = argv[optind + 1];
    const char *inputs[] = {db};
    if ((rc = cli_out_check("backup", "OUT", out, inputs, 1)) >= 0) return rc;
    hitl_store *st;
    if ((rc = cli_open_store_read("backup", db, &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_audit_head h = {0};
    hitl_status s = hitl_audit_head_get(st, &h, &err);
    if (s == HITL_OK) s = hitl_store_backup(st, out, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("backup", s, &err);
    if (json)
        cli_print_json(json_pack("{s:s, s:s, s:I, s:s}", "store", db, "out", out, "head_seq",
                                 (json_int_t)h.seq, "head_hash", h.hash));
    else
        printf("backed up %s to %s (at least up to the audit head %lld:%s)\n", db, out,
               (long long)h.seq, h.hash);
    return CLI_EXIT_OK;
}
