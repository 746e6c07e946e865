/* hitl audit: verify the store against its tamper-evident chain (exit 3 naming what differs),
 * print or sign its head, show one item's trail, or export every event as JSON lines. */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl audit verify DB [--head SEQ:HASH] [--pubkey PUB.pem] [--export FILE] [--json]\n"
    "       hitl audit head DB\n"
    "       hitl audit sign DB --key KEY.pem [--actor NAME]\n"
    "       hitl audit show DB --item ITEM\n"
    "       hitl audit export DB --jsonl\n"
    "\n"
    "verify recomputes the SHA-256 chain and replays it against every table: any edit,\n"
    "deletion, insertion or reordering of events, and any label, skip, decision, final label,\n"
    "payload, queued item or setting the chain does not explain, is exit 3 naming the item and\n"
    "field (the first on stderr; --json lists up to 20).\n"
    "  --head SEQ:HASH   the chain must still hold that event with that hash: catches a cut\n"
    "                    tail, a deleted trail and a rewrite made after you printed the head\n"
    "  --pubkey PUB.pem  every signed checkpoint must verify with this Ed25519 key\n"
    "  --export FILE     an hdf5, jsonl or csv export (adjudicated or majority): the store must\n"
    "                    hold the head it recorded, and its labels must be those the chain gives\n"
    "                    at that head\n"
    "head prints SEQ:HASH, the chain's newest event: keep it outside the store. sign appends a\n"
    "checkpoint, the head signed with an Ed25519 private key (openssl genpkey -algorithm\n"
    "ed25519). show prints an item's events and the event that queued it; export prints every\n"
    "event, one JSON object a line, each with its hash.\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 the store and its chain disagree\n";

static int print_line(void *ctx, const char *line)
{
    (*(size_t *)ctx)++;
    puts(line);
    return 0;
}

/* The problems verify found, for --json. */
static void collect_problem(void *ctx, const char *problem)
{
    json_array_append_new(ctx, json_string(problem));
}

static int verify(const char *db, const char *head_text, const char *pubkey,
                  const char *export_path, int json)
{
    hitl_audit_head head;
    if (head_text && hitl_audit_head_parse(head_text, &head) != HITL_OK)
        return cli_usage_error("audit",
                               "bad --head '%s' (want SEQ:HASH, as hitl audit head "
                               "prints)",
                               head_text);
    hitl_store *st;
    int rc = cli_open_store_read("audit", db, &st);
    if (rc >= 0) return rc;
    json_t *problems = json_array();
    hitl_verify_opts o = {.head = head_text ? &head : NULL,
                          .pubkey = pubkey,
                          .export_path = export_path,
#ifdef HITL_FULL_CLI /* the light hitl hands --export to hitl-data (main.c) */
                          .read_export = hitl_export_labels_read,
#endif
                          .problem = collect_problem,
                          .ctx = problems};
    hitl_verify_report r;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_audit_verify(st, &o, &r, &err);
    hitl_store_close(st);
    if (json) {
        json_t *j =
            json_pack("{s:b, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:b, s:o}", "ok", s == HITL_OK,
                      "events", (json_int_t)r.events, "first_broken",
                      r.bad_seq >= 0 ? json_integer(r.bad_seq) : json_null(), "items",
                      (json_int_t)r.items, "labels", (json_int_t)r.labels, "skips",
                      (json_int_t)r.skips, "decisions", (json_int_t)r.decisions, "problem_count",
                      (json_int_t)r.problems, "covers_rows", r.covers_rows, "problems", problems);
        if (pubkey) {
            json_object_set_new(j, "checkpoints", json_integer(r.checkpoints));
            json_object_set_new(j, "signed_seq", json_integer(r.signed_seq));
        }
        if (export_path) json_object_set_new(j, "export_records", json_integer(r.export_records));
        cli_print_json(j);
    } else {
        json_decref(problems);
    }
    if (s != HITL_OK) {
        if (r.problems > 1 && s == HITL_EDATA) {
            size_t len = strlen(err.msg);
            snprintf(err.msg + len, sizeof(err.msg) - len, " (and %lld more problems: --json)",
                     (long long)r.problems - 1);
        }
        return cli_fail("audit", s, &err);
    }
    if (!json) {
        printf("audit chain verifies: %lld events", (long long)r.events);
        if (r.covers_rows)
            printf("; the tables agree with it (%lld items, %lld labels, %lld skips, %lld "
                   "decisions)",
                   (long long)r.items, (long long)r.labels, (long long)r.skips,
                   (long long)r.decisions);
        else
            printf(" (a schema-1 store, read without upgrading: its rows are not covered)");
        printf("\n");
        if (head_text) printf("it holds the head %s\n", head_text);
        if (pubkey)
            printf("%lld signed checkpoints verify; the newest signs event %lld\n",
                   (long long)r.checkpoints, (long long)r.signed_seq);
        if (export_path)
            printf("'%s': its %lld labels are the chain's at its head %lld\n", export_path,
                   (long long)r.export_records, (long long)r.export_head.seq);
    }
    return CLI_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    const char *item = NULL, *head = NULL, *pubkey = NULL, *export_path = NULL, *key = NULL;
    const char *actor = NULL;
    int json = 0, jsonl = 0;
    const cli_opt opts[] = {
        CLI_O_STR("item", &item), CLI_O_FLAG("jsonl", &jsonl),  CLI_O_FLAG("json", &json),
        CLI_O_STR("head", &head), CLI_O_STR("pubkey", &pubkey), CLI_O_STR("export", &export_path),
        CLI_O_STR("key", &key),   CLI_O_STR("actor", &actor),   CLI_O_END};
    int rc = cli_options("audit", usage_text, argc, argv, opts, 2, 2);
    if (rc >= 0) return rc;
    const char *verb = argv[optind], *db = argv[optind + 1];
    if (strcmp(verb, "verify") == 0) return verify(db, head, pubkey, export_path, json);
    hitl_error err;
    hitl_error_clear(&err);
    hitl_store *st;
    hitl_status s;
    if (strcmp(verb, "sign") == 0) {
        if (!key) return cli_usage_error("audit", "sign needs --key KEY.pem");
        if ((rc = cli_open_store("audit", db, &st)) >= 0) return rc;
        hitl_audit_head h;
        s = hitl_audit_sign(st, key, cli_actor(actor), &h, &err);
        hitl_store_close(st);
        if (s != HITL_OK) return cli_fail("audit", s, &err);
        printf("signed the head %lld:%s\n", (long long)h.seq, h.hash);
        return CLI_EXIT_OK;
    }
    int show = strcmp(verb, "show") == 0, is_head = strcmp(verb, "head") == 0;
    if (!show && !is_head && strcmp(verb, "export") != 0)
        return cli_usage_error("audit", "unknown action '%s' (verify, head, sign, show, export)",
                               verb);
    if (show && !item) return cli_usage_error("audit", "show needs --item ITEM");
    if (!show && !is_head && !jsonl) return cli_usage_error("audit", "export needs --jsonl");
    if ((rc = cli_open_store_read("audit", db, &st)) >= 0) return rc;
    if (is_head) {
        hitl_audit_head h;
        s = hitl_audit_head_get(st, &h, &err);
        hitl_store_close(st);
        if (s != HITL_OK) return cli_fail("audit", s, &err);
        printf("%lld:%s\n", (long long)h.seq, h.hash);
        return CLI_EXIT_OK;
    }
    size_t lines = 0;
    s = hitl_audit_each(st, show ? item : NULL, print_line, &lines, &err);
    hitl_store_close(st);
    if (s == HITL_OK && show && lines == 0)
        s = hitl_error_set(&err, HITL_ENOTFOUND, "unknown item '%s' (no audit events)", item);
    return s == HITL_OK ? CLI_EXIT_OK : cli_fail("audit", s, &err);
}
