/* hitl decisions and hitl decide: the live decisions services filed through hitl serve, listed,
 * and approved or rejected from the shell (the store's rules, io/store/gate.c). Whoever can
 * write the store file is an admin, so a vote from here may also settle an escalation. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char list_usage[] =
    "usage: hitl decisions DB [--status S] [--json]\n"
    "\n"
    "The live decisions services filed (POST /api/v1/decisions), oldest first: id, the caller's\n"
    "id, route (approve: waits for approval; flag: proceeded, reviewed after; proceed),\n"
    "status (what the caller acts on), review, approvals, risk and action.\n"
    "  --status S  only those whose status or review is S (pending, approved, rejected,\n"
    "              escalated, expired, proceeded)\n"
    "  --json      {\"decisions\": [...]} as GET /api/v1/decisions answers\n";

int cmd_decisions(int argc, char **argv)
{
    const char *status = NULL;
    int json = 0;
    const cli_opt opts[] = {CLI_O_STR("status", &status), CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("decisions", list_usage, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    hitl_gate_status want = HITL_GATE_NONE;
    if (status && hitl_gate_status_parse(status, &want) != HITL_OK)
        return cli_usage_error("decisions", "unknown --status '%s'", cli_safe(status));
    hitl_store *st;
    if ((rc = cli_open_store_read("decisions", argv[optind], &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_gate *v;
    size_t n;
    hitl_status s = hitl_gate_list(st, status ? (int)want : -1, &v, &n, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("decisions", s, &err);
    json_t *a = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (json)
            json_array_append_new(a, hitl_gate_json(&v[i]));
        else
            printf("%6lld  %-20s %-8s %-10s %-10s %d/%d  risk %.2f  %s\n", (long long)v[i].id,
                   cli_safe(v[i].caller_id), hitl_gate_route_name(v[i].route),
                   hitl_gate_status_name(v[i].status), hitl_gate_status_name(v[i].review),
                   v[i].approvals, v[i].required, v[i].risk, cli_safe(v[i].action));
        hitl_gate_release(&v[i]);
    }
    free(v);
    if (json)
        cli_print_json(json_pack("{s:o}", "decisions", a));
    else if (n == 0)
        printf("no decisions%s%s\n", status ? " with status " : "", status ? status : "");
    return CLI_EXIT_OK;
}

static const char decide_usage[] =
    "usage: hitl decide DB ID approve|reject --reason TEXT [--override] [--actor NAME] [--json]\n"
    "\n"
    "Approves or rejects live decision ID as NAME (default $HITL_ACTOR, else $USER), with the\n"
    "store's rules: a reason of at least min-justification visible characters; one vote per\n"
    "reviewer while it is pending; any rejection escalates it; an escalated or expired one is\n"
    "settled by this vote (the shell acts as an admin). A request waiting in hitl serve hears\n"
    "a vote from here within a second.\n"
    "  --override   overturn a settled decision (approved or rejected) to this outcome; it\n"
    "               counts toward NAME's override rate in hitl health (override-alert)\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 no such decision, already voted or\n"
    "            settled (or, with --override, not settled or already that outcome),\n"
    "            nothing to review, a short reason\n";

int cmd_decide(int argc, char **argv)
{
    const char *reason = NULL, *actor = NULL;
    int json = 0, override = 0;
    const cli_opt opts[] = {CLI_O_STR("reason", &reason), CLI_O_STR("actor", &actor),
                            CLI_O_FLAG("override", &override), CLI_O_FLAG("json", &json),
                            CLI_O_END};
    int rc = cli_options("decide", decide_usage, argc, argv, opts, 3, 3);
    if (rc >= 0) return rc;
    const char *verb = argv[optind + 2];
    int approve = strcmp(verb, "approve") == 0;
    if (!approve && strcmp(verb, "reject") != 0)
        return cli_usage_error("decide", "say approve or reject, not '%s'", cli_safe(verb));
    char *end;
    long long id = strtoll(argv[optind + 1], &end, 10);
    if (!argv[optind + 1][0] || *end || id < 1)
        return cli_usage_error("decide", "bad decision id '%s'", cli_safe(argv[optind + 1]));
    if (!reason) return cli_usage_error("decide", "--reason TEXT is required");
    const char *who = cli_actor(actor);
    if ((rc = cli_name_arg("decide", "--actor", who)) >= 0) return rc;
    if ((rc = cli_text_arg("decide", "--reason", reason)) >= 0) return rc;
    hitl_store *st;
    if ((rc = cli_open_store("decide", argv[optind], &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_gate g;
    hitl_status s =
        override ? hitl_gate_override(st, id, who, HITL_ROLE_ADMIN, approve, reason, &g, &err)
                 : hitl_gate_vote(st, id, who, HITL_ROLE_ADMIN, approve, reason, &g, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("decide", s, &err);
    if (json)
        cli_print_json(hitl_gate_json(&g));
    else
        printf("decision %lld (%s): status %s, review %s, %d/%d approvals\n", id,
               cli_safe(g.caller_id), hitl_gate_status_name(g.status),
               hitl_gate_status_name(g.review), g.approvals, g.required);
    hitl_gate_release(&g);
    return CLI_EXIT_OK;
}
