/* hitl import: annotations made in Label Studio back into the store as labels (cancelled ones
 * as skips), idempotently and in one transaction; what cannot be written is reported. */
#include <string.h>

#include "cli.h"

#define MAX_REPORTED 20

static const char usage_text[] =
    "usage: hitl import DB --format label-studio FILE [--from-name choice] [--to-name NAME]\n"
    "                  [--user-map FILE.csv] [--actor NAME] [--json]\n"
    "\n"
    "Reads Label Studio's JSON export (a list of tasks with \"annotations\", or one task object\n"
    "as its cloud storage writes them), its JSON_MIN form, its CSV or its TSV form, finds each\n"
    "task's item by data.hitl_id (as `hitl export --format label-studio` writes it) and records\n"
    "each annotation as a label by its annotator (the email where the export carries it, else\n"
    "the user id, or the name --user-map gives), a cancelled one as a skip. Each annotation is\n"
    "imported once: importing the same file again writes nothing. Items not in the project,\n"
    "tasks without data.hitl_id, empty annotations, a second label by the same annotator and\n"
    "labels for items that already have theirs are counted and reported (the first 20 on\n"
    "stderr), never written. Exit 3, nothing written: a malformed file (truncated JSON, data\n"
    "that is not an object, an unknown or multiple choice, a CSV or TSV record with the wrong\n"
    "number of fields; named by task index, or line for CSV and TSV); an annotation imported\n"
    "before and changed in Label Studio since (hitl keeps its label: settle the item with\n"
    "hitl adjudicate, or drop the annotation from the file); a file that records nothing\n"
    "because no task has data.hitl_id.\n"
    "  --from-name NAME  the Choices tag's name in the labelling config (default choice)\n"
    "  --to-name NAME    also require the result's to_name to be NAME\n"
    "  --user-map FILE   a CSV of id,name rows: Label Studio user ids (or emails) and the\n"
    "                    annotator names to record, so that one person has one name whether\n"
    "                    the export gives the id or the email\n"
    "JSON keys: form, tasks, annotations, labels, skips, already_imported, unknown_items,\n"
    "duplicates, complete, empty, problems [{task, kind, message}] (the first 100).\n";

/* Problems are kept and shown once the import succeeded: a failed import wrote nothing, so
 * its problems would mislead. */
typedef struct reporter {
    int json;
    int64_t n;
    json_t *list; /* the first 100, as JSON, or the first MAX_REPORTED messages */
} reporter;

static void on_problem(void *ctx, hitl_import_problem kind, int64_t task, const char *message)
{
    static const char *const kinds[] = {"unknown_item", "duplicate", "complete", "empty", "edited"};
    reporter *r = ctx;
    r->n++;
    if (r->json && r->n <= 100)
        json_array_append_new(r->list, json_pack("{s:I, s:s, s:s}", "task", (json_int_t)task,
                                                 "kind", kinds[kind], "message", message));
    else if (!r->json && r->n <= MAX_REPORTED)
        json_array_append_new(r->list, json_string(message));
}

int cmd_import(int argc, char **argv)
{
    const char *cmd = "import";
    hitl_import_opts o = {0};
    const char *actor = NULL, *format = NULL, *user_map = NULL;
    reporter rep = {0};
    const cli_opt opts[] = {CLI_O_STR("format", &format),
                            CLI_O_STR("from-name", &o.from_name),
                            CLI_O_STR("to-name", &o.to_name),
                            CLI_O_STR("user-map", &user_map),
                            CLI_O_STR("actor", &actor),
                            CLI_O_FLAG("json", &rep.json),
                            CLI_O_END};
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 2, 2);
    if (rc >= 0) return rc;
    if (!format) return cli_usage_error(cmd, "--format is required (label-studio)");
    if (strcmp(format, "label-studio") != 0)
        return cli_usage_error(cmd, "unknown format '%s' (label-studio)", format);
    hitl_error err;
    hitl_error_clear(&err);
    char **ids = NULL, **names = NULL;
    size_t n_users = 0;
    if (user_map) {
        hitl_status s = hitl_user_map_read(user_map, &ids, &names, &n_users, &err);
        if (s != HITL_OK) return cli_fail(cmd, s, &err);
        o.user_ids = (const char *const *)ids;
        o.user_names = (const char *const *)names;
        o.n_users = n_users;
    }
    hitl_store *st;
    rc = cli_open_store(cmd, argv[optind], &st);
    if (rc >= 0) {
        hitl_strings_free(ids, n_users);
        hitl_strings_free(names, n_users);
        return rc;
    }
    o.path = argv[optind + 1];
    o.actor = cli_actor(actor);
    o.problem = on_problem;
    o.problem_ctx = &rep;
    rep.list = json_array();
    hitl_import_result res;
    hitl_status s = hitl_store_import_label_studio(st, &o, &res, &err);
    hitl_store_close(st);
    hitl_strings_free(ids, n_users);
    hitl_strings_free(names, n_users);
    if (s != HITL_OK) {
        json_decref(rep.list);
        return cli_fail(cmd, s, &err);
    }
    if (rep.json) {
        json_t *j =
            json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:o}", "form",
                      res.form ? res.form : "json", "tasks", (json_int_t)res.tasks, "annotations",
                      (json_int_t)res.annotations, "labels", (json_int_t)res.labels, "skips",
                      (json_int_t)res.skips, "already_imported", (json_int_t)res.already_imported,
                      "unknown_items", (json_int_t)res.unknown_items, "duplicates",
                      (json_int_t)res.duplicates, "complete", (json_int_t)res.complete, "empty",
                      (json_int_t)res.empty, "problems", rep.list);
        cli_print_json(j);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < json_array_size(rep.list); i++)
        fprintf(stderr, "hitl import: %s\n", json_string_value(json_array_get(rep.list, i)));
    json_decref(rep.list);
    if (rep.n > MAX_REPORTED)
        fprintf(stderr, "hitl import: ... and %lld more not written\n",
                (long long)(rep.n - MAX_REPORTED));
    printf("imported %lld labels and %lld skips from %lld tasks (%lld annotations, Label Studio "
           "%s)\n",
           (long long)res.labels, (long long)res.skips, (long long)res.tasks,
           (long long)res.annotations, res.form ? res.form : "json");
    if (res.already_imported)
        printf("%lld annotations were imported before (nothing written for them)\n",
               (long long)res.already_imported);
    if (res.unknown_items + res.duplicates + res.complete + res.empty)
        printf("not written: %lld for items not in the project, %lld duplicates, %lld for items "
               "already complete, %lld without a choice\n",
               (long long)res.unknown_items, (long long)res.duplicates, (long long)res.complete,
               (long long)res.empty);
    return CLI_EXIT_OK;
}
