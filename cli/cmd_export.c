/* hitl export: the store's final labels for retraining (HDF5, JSONL, CSV: one record per item
 * with a final label, with its provenance), or the items still open as Label Studio tasks. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl export DB --format hdf5|jsonl|csv|label-studio --out FILE\n"
    "                  [--final adjudicated|majority|dawid-skene] [--features POOL.h5:DSET]\n"
    "                  [--from-name NAME] [--to-name NAME] [--config OUT.xml]\n"
    "                  [--show-prediction never|uncertain|always]\n"
    "                  [--actor NAME] [--json]\n"
    "\n"
    "hdf5, jsonl, csv: one record per item with a final label: pool id and row, final label,\n"
    "soft label (vote shares, or Dawid-Skene posteriors), number of labels, agreement, who\n"
    "labelled it, adjudicator and justification, queue reason, score, method and model at\n"
    "query time, times. The HDF5 file holds /ids, /rows, /labels (int32), /soft_labels\n"
    "(float32 [n, C]), /is_blind, /n_labels, /agreement, /scores, /pred, /p1 and a `classes`\n"
    "attribute; --features copies those pool rows to /features.\n"
    "  --final adjudicated  items whose labels agreed or that an adjudicator decided (default)\n"
    "  --final majority     also items with all their labels and a unique most voted label\n"
    "                       (ties are never broken: they are counted and left out)\n"
    "  --final dawid-skene  Dawid-Skene's posterior argmax; an adjudicator's decision wins\n"
    "label-studio: a JSON list of tasks for the items still open for labelling, with the\n"
    "payload and \"hitl_id\" in data and the model's confidence as the prediction score; the\n"
    "guess itself is pre-filled only where the project shows predictions (the store's\n"
    "show-prediction setting, or --show-prediction; never on blind items). --from-name and\n"
    "--to-name name the labelling config's Choices and object tags (default choice, text);\n"
    "--config OUT.xml writes that config (a Choice per class; the object tag shows\n"
    "data.$TO_NAME, an Image when the name is image, img, picture or photo, else a Text).\n"
    "The file appears whole or not at all; the export is audited and records the audit head it\n"
    "was made from (hdf5: an attribute; jsonl, csv: FILE.hitl-head; label-studio: each task's\n"
    "meta), which hitl audit verify DB --export FILE checks. A failed write (a full disk) exits\n"
    "1 and leaves an earlier FILE as it was; if only the audit event cannot be written, FILE is\n"
    "in place and the error says so. --out - writes standard output (the summary goes to\n"
    "stderr), and a device or FIFO is written in place; FILE may not be the store or an input\n"
    "(exit 2). A read-only store is exported without its audit event.\n";

typedef struct export_args {
    hitl_export_opts o;
    const char *features, *actor, *config;
    int json, have_format;
} export_args;

static int on_format(const char *cmd, const char *v, void *ctx)
{
    export_args *a = ctx;
    if (hitl_export_format_parse(v, &a->o.format) != HITL_OK)
        return cli_usage_error(cmd, "unknown format '%s' (hdf5, jsonl, csv, label-studio)", v);
    a->have_format = 1;
    return -1;
}

static int on_show(const char *cmd, const char *v, void *ctx)
{
    int *show = ctx;
    if (strcmp(v, "never") == 0)
        *show = HITL_SHOW_NEVER;
    else if (strcmp(v, "uncertain") == 0)
        *show = HITL_SHOW_UNCERTAIN;
    else if (strcmp(v, "always") == 0)
        *show = HITL_SHOW_ALWAYS;
    else
        return cli_usage_error(cmd, "bad --show-prediction '%s' (never, uncertain, always)", v);
    return -1;
}

/* The labelling config the Label Studio tasks need, written to `path` with the store's
 * classes. */
static hitl_status write_config(hitl_store *st, const hitl_export_opts *o, const char *path,
                                hitl_error *err)
{
    hitl_store_settings set;
    hitl_status s = hitl_store_settings_get(st, &set, err);
    if (s != HITL_OK) return s;
    s = hitl_ls_config_write(path, set.classes, set.n_classes, o->from_name, o->to_name, err);
    hitl_store_settings_release(&set);
    return s;
}

/* What was exported, from which audit head: JSON on stdout with --json, else lines on stdout
 * (stderr when the export itself went to stdout). */
static void print_summary(const export_args *a, const hitl_export_result *res)
{
    const hitl_export_opts *o = &a->o;
    const hitl_records_counts *n = &res->counts;
    int ls = o->format == HITL_EXPORT_LABEL_STUDIO;
    char head[96];
    snprintf(head, sizeof(head), "%lld:%s", (long long)n->head.seq, n->head.hash);
    if (!res->audited)
        fprintf(stderr,
                "hitl export: the store is read-only: this export is not recorded in its "
                "audit trail (the file records the head %s)\n",
                head);
    FILE *out = res->streamed ? stderr : stdout; /* a stream's summary never joins the stream */
    if (a->json) {
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:b}", "format",
                              hitl_export_format_name(o->format), "out", o->path, "records",
                              (json_int_t)n->records, "audit_head", head, "audited", res->audited);
        if (!ls) {
            json_object_set_new(j, "final", json_string(hitl_final_rule_name(o->final)));
            json_object_set_new(j, "ties", json_integer(n->ties));
            json_object_set_new(j, "pending", json_integer(n->pending));
            if (o->final == HITL_FINAL_DAWID_SKENE) {
                json_object_set_new(j, "ds_iterations", json_integer(n->ds_iterations));
                json_object_set_new(j, "ds_converged", json_boolean(n->ds_converged));
            }
        }
        if (a->config) json_object_set_new(j, "config", json_string(a->config));
        cli_print_json(j);
    } else if (ls) {
        fprintf(out, "exported %lld open items as Label Studio tasks to %s\n",
                (long long)n->records, o->path);
        if (a->config) fprintf(out, "the labelling config they need: %s\n", a->config);
    } else {
        fprintf(out, "exported %lld items to %s (%s, final labels: %s)\n", (long long)n->records,
                o->path, hitl_export_format_name(o->format), hitl_final_rule_name(o->final));
        if (n->ties)
            fprintf(out, "%lld items left out: their votes tie (adjudicate them, or see --final)\n",
                    (long long)n->ties);
        if (n->pending)
            fprintf(out, "%lld items with labels have no final label yet under '%s'\n",
                    (long long)n->pending, hitl_final_rule_name(o->final));
    }
    if (!a->json)
        fprintf(out, "made from the audit head %s (hitl audit verify DB --export %s checks it)\n",
                head, o->path);
}

int cmd_export(int argc, char **argv)
{
    const char *cmd = "export";
    export_args a = {.o = {.show_prediction = -1}};
    hitl_export_opts *o = &a.o;
    const cli_opt opts[] = {CLI_O_CALL("format", on_format, &a),
                            CLI_O_STR("out", &o->path),
                            CLI_O_CALL("final", cli_opt_final, &o->final),
                            CLI_O_STR("features", &a.features),
                            CLI_O_STR("from-name", &o->from_name),
                            CLI_O_STR("to-name", &o->to_name),
                            CLI_O_STR("config", &a.config),
                            CLI_O_CALL("show-prediction", on_show, &o->show_prediction),
                            CLI_O_STR("actor", &a.actor),
                            CLI_O_FLAG("json", &a.json),
                            CLI_O_END};
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    if (!a.have_format) return cli_usage_error(cmd, "--format is required");
    if (!o->path) return cli_usage_error(cmd, "--out FILE is required");
    if (o->format == HITL_EXPORT_LABEL_STUDIO && o->final != HITL_FINAL_ADJUDICATED)
        return cli_usage_error(cmd, "--final does not apply to label-studio (open items)");
    if (a.config && o->format != HITL_EXPORT_LABEL_STUDIO)
        return cli_usage_error(cmd, "--config goes only with --format label-studio");
    if (a.config && strcmp(a.config, o->path) == 0)
        return cli_usage_error(cmd, "--config and --out name the same file");
    int to_stdout = strcmp(o->path, "-") == 0;
    if (to_stdout && a.json) return cli_usage_error(cmd, "--json needs --out FILE, not '-'");
    char *fpath = NULL; /* allocated last: every usage error above returns before it */
    if (a.features) {
        if (o->format != HITL_EXPORT_HDF5)
            return cli_usage_error(cmd, "--features goes only with --format hdf5");
        if (cli_split_dset(a.features, &fpath, &o->features_dset))
            return cli_usage_error(cmd, "bad --features '%s' (want POOL.h5:DSET or POOL.npy)",
                                   a.features);
        o->features_path = fpath;
    }
    const char *inputs[] = {argv[optind], o->features_path, o->path};
    if ((rc = cli_out_check(cmd, "--out", o->path, inputs, 2)) >= 0 ||
        (a.config && (rc = cli_out_check(cmd, "--config", a.config, inputs,
                                         strcmp(o->path, "-") ? 3 : 2)) >= 0)) {
        free(fpath);
        return rc;
    }
    hitl_store *st;
    /* a store that cannot be written (read-only file or media) is exported all the same */
    rc = cli_writable(argv[optind]) ? cli_open_store(cmd, argv[optind], &st)
                                    : cli_open_store_read(cmd, argv[optind], &st);
    if (rc >= 0) {
        free(fpath);
        return rc;
    }
    o->actor = cli_actor(a.actor);
    hitl_error err;
    hitl_error_clear(&err);
    hitl_export_result res;
    hitl_status s = hitl_store_export(st, o, &res, &err);
    if (s == HITL_OK && a.config) s = write_config(st, o, a.config, &err);
    hitl_store_close(st);
    free(fpath);
    if (s != HITL_OK) return cli_fail(cmd, s, &err);
    print_summary(&a, &res);
    return CLI_EXIT_OK;
}
