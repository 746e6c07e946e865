/* hitl user: the accounts that act through `hitl serve` (add, list, revoke, a new token). */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl user add DB NAME --role annotator|reviewer|admin|system [--actor NAME] [--json]\n"
    "       hitl user list DB [--json]\n"
    "       hitl user revoke DB NAME [--actor NAME]\n"
    "       hitl user token DB NAME [--actor NAME] [--json]\n"
    "\n"
    "Accounts for hitl serve. add and token print a new token once: 64 hex digits (256 random\n"
    "bits from the operating system); the store keeps only its SHA-256, so a lost token is\n"
    "replaced with `hitl user token`, which also stops the old one. revoke stops the account;\n"
    "its labels stay. Every change is an audited event.\n"
    "  annotator  next, label, skip, undo their own labels\n"
    "  reviewer   also the adjudication queue, adjudicate and override, every label, status\n"
    "  admin      also status, health, settings, accounts, exports, audit\n"
    "  system     services: submit decisions and read their outcomes\n"
    "Whoever can write the store file acts as an admin; these roles bind web requests.\n"
    "  --actor NAME   who is acting (default $HITL_ACTOR, else $USER)\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage (bad name or role),\n"
    "            3 no such account, name taken, account revoked\n";

static int print_token(const char *what, const char *name, hitl_role role, const char *token,
                       int json)
{
    if (json)
        cli_print_json(json_pack("{s:s, s:s, s:s}", "name", name, "role", hitl_role_name(role),
                                 "token", token));
    else
        printf("%s %s (%s); its token, shown only now:\n%s\n", what, cli_safe(name),
               hitl_role_name(role), token);
    return CLI_EXIT_OK;
}

static int list(hitl_store *st, int json)
{
    hitl_account *a;
    size_t n;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_account_list(st, &a, &n, &err);
    if (s != HITL_OK) return cli_fail("user", s, &err);
    json_t *arr = json ? json_array() : NULL;
    for (size_t i = 0; i < n; i++) {
        if (json)
            json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:b}", "name", a[i].name, "role",
                                                 hitl_role_name(a[i].role), "created_at",
                                                 a[i].created_at, "revoked", a[i].revoked));
        else
            printf("%-24s %-10s %s%s\n", cli_safe(a[i].name), hitl_role_name(a[i].role),
                   a[i].created_at, a[i].revoked ? "  revoked" : "");
    }
    if (json)
        cli_print_json(json_pack("{s:o}", "accounts", arr));
    else if (n == 0)
        printf("no accounts (hitl user add DB NAME --role ROLE)\n");
    free(a);
    return CLI_EXIT_OK;
}

int cmd_user(int argc, char **argv)
{
    const char *role_text = NULL, *actor = NULL;
    int json = 0;
    const cli_opt opts[] = {CLI_O_STR("role", &role_text), CLI_O_STR("actor", &actor),
                            CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("user", usage_text, argc, argv, opts, 2, 3);
    if (rc >= 0) return rc;
    const char *verb = argv[optind], *db = argv[optind + 1];
    const char *name = optind + 2 < argc ? argv[optind + 2] : NULL;
    int is_list = strcmp(verb, "list") == 0;
    if (!is_list && strcmp(verb, "add") && strcmp(verb, "revoke") && strcmp(verb, "token"))
        return cli_usage_error("user", "unknown action '%s' (add, list, revoke or token)",
                               cli_safe(verb));
    if (is_list == (name != NULL))
        return cli_usage_error("user", is_list ? "list takes no NAME" : "%s needs a NAME", verb);
    hitl_role role = HITL_ROLE_ANNOTATOR;
    if (strcmp(verb, "add") == 0 && (!role_text || hitl_role_parse(role_text, &role) != HITL_OK))
        return cli_usage_error("user", "add needs --role annotator, reviewer, admin or system%s%s",
                               role_text ? ", not " : "", role_text ? cli_safe(role_text) : "");
    if (strcmp(verb, "add") != 0 && role_text)
        return cli_usage_error("user", "--role is only for add (a role does not change: revoke "
                                       "and add another name)");
    if (name && (rc = cli_name_arg("user", "NAME", name)) >= 0) return rc;
    if (actor && (rc = cli_name_arg("user", "--actor", actor)) >= 0) return rc;
    hitl_store *st;
    if (is_list) {
        if ((rc = cli_open_store_read("user", db, &st)) >= 0) return rc;
        rc = list(st, json);
        hitl_store_close(st);
        return rc;
    }
    if ((rc = cli_open_store("user", db, &st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    char token[HITL_TOKEN_CHARS + 1];
    hitl_status s;
    if (strcmp(verb, "add") == 0)
        s = hitl_account_add(st, name, role, cli_actor(actor), token, &err);
    else if (strcmp(verb, "token") == 0)
        s = hitl_account_rotate(st, name, cli_actor(actor), token, &err);
    else
        s = hitl_account_revoke(st, name, cli_actor(actor), &err);
    hitl_account who;
    if (s == HITL_OK && strcmp(verb, "token") == 0 &&
        (s = hitl_account_get(st, name, &who, &err)) == HITL_OK)
        role = who.role;
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("user", s, &err);
    if (strcmp(verb, "revoke") == 0) {
        if (json)
            cli_print_json(json_pack("{s:s, s:b}", "name", name, "revoked", 1));
        else
            printf("revoked %s: its token no longer works\n", cli_safe(name));
        return CLI_EXIT_OK;
    }
    rc = print_token(strcmp(verb, "add") == 0 ? "added" : "new token for", name, role, token, json);
    memset(token, 0, sizeof(token));
    return rc;
}
