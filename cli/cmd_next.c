/* hitl next: lease the next item to an annotator and show what the annotator may see (the
 * payload, the classes, the model's guess where the policy allows), never why it was queued. */
#include "cli.h"

static const char usage_text[] =
    "usage: hitl next DB --annotator NAME [--json]\n"
    "\n"
    "Leases the next item for NAME (items others already started first, then queue order) and\n"
    "prints it. With --json: {\"item\", \"data\", \"classes\", \"prediction\", "
    "\"lease_expires\"};\n"
    "{\"item\": null} when nothing is left for NAME (exit 0).\n";

int cmd_next(int argc, char **argv)
{
    const char *who = NULL;
    int json = 0;
    const cli_opt opts[] = {CLI_O_STR("annotator", &who), CLI_O_FLAG("json", &json), CLI_O_END};
    int rc = cli_options("next", usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    if (!who) return cli_usage_error("next", "--annotator NAME is required");
    if ((rc = cli_name_arg("next", "--annotator", who)) >= 0) return rc;
    hitl_store *st;
    rc = cli_open_store("next", argv[optind], &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_lease l;
    int found;
    hitl_status s = hitl_store_next(st, who, &l, &found, &err);
    hitl_store_settings set = {0};
    if (s == HITL_OK) s = hitl_store_settings_get(st, &set, &err);
    hitl_store_close(st);
    if (s != HITL_OK) {
        hitl_lease_release(&l);
        return cli_fail("next", s, &err);
    }
    if (json) {
        json_t *o = json_object();
        if (!found) {
            json_object_set_new(o, "item", json_null());
        } else {
            json_t *classes = json_array();
            for (size_t i = 0; i < set.n_classes; i++)
                json_array_append_new(classes, json_string(set.classes[i]));
            json_t *data = l.data ? json_loads(l.data, 0, NULL) : NULL;
            json_object_set_new(o, "item", json_string(l.pool_id));
            json_object_set_new(o, "data", data ? data : json_null());
            json_object_set_new(o, "classes", classes);
            json_object_set_new(o, "prediction",
                                l.prediction ? json_string(l.prediction) : json_null());
            json_object_set_new(o, "lease_expires", json_string(l.expires));
        }
        cli_print_json(o);
    } else if (!found) {
        printf("nothing left for %s\n", cli_safe(who));
    } else {
        printf("item: %s\n", cli_safe(l.pool_id));
        if (l.data) printf("data: %s\n", cli_safe(l.data));
        if (l.prediction) printf("model suggests: %s\n", cli_safe(l.prediction));
        printf("classes:");
        for (size_t i = 0; i < set.n_classes; i++)
            printf(" %s", cli_safe(set.classes[i]));
        printf("\nlease expires: %s\n", l.expires);
    }
    hitl_store_settings_release(&set);
    hitl_lease_release(&l);
    return CLI_EXIT_OK;
}
