/* hitl export: the store's final labels for retraining (HDF5, JSONL, CSV: one record per item
 * with a final label, with its provenance), or the items still open as Label Studio tasks. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl export DB --format hdf5|jsonl|csv|label-studio --out FILE\n"
    "                  [--final adjudicated|majority|dawid-skene] [--features POOL.h5:DSET]\n"
    "                  [--from-name NAME] [--to-name NAME]\n"
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
    "--to-name name the labelling config's Choices and object tags (default choice, text).\n"
    "The file appears whole or not at all; the export is audited. A failed write (a full\n"
    "disk) exits 1 and leaves an earlier FILE as it was; if only the audit event cannot be\n"
    "written, FILE is in place and the error says so.\n";

enum { O_FORMAT = 256, O_OUT, O_FINAL, O_FEATURES, O_FROM, O_TO, O_SHOW, O_ACTOR, O_JSON, O_HELP };

int cmd_export(int argc, char **argv)
{
    static const struct option opts[] = {{"format", required_argument, NULL, O_FORMAT},
                                         {"out", required_argument, NULL, O_OUT},
                                         {"final", required_argument, NULL, O_FINAL},
                                         {"features", required_argument, NULL, O_FEATURES},
                                         {"from-name", required_argument, NULL, O_FROM},
                                         {"to-name", required_argument, NULL, O_TO},
                                         {"show-prediction", required_argument, NULL, O_SHOW},
                                         {"actor", required_argument, NULL, O_ACTOR},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, O_HELP},
                                         {NULL, 0, NULL, 0}};
    const char *cmd = "export";
    hitl_export_opts o = {.show_prediction = -1};
    const char *features = NULL, *actor = NULL;
    int c, json = 0, have_format = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_FORMAT:
            if (hitl_export_format_parse(optarg, &o.format) != HITL_OK)
                return cli_usage_error(cmd, "unknown format '%s' (hdf5, jsonl, csv, label-studio)",
                                       optarg);
            have_format = 1;
            break;
        case O_OUT:
            o.path = optarg;
            break;
        case O_FINAL:
            if (hitl_final_rule_parse(optarg, &o.final) != HITL_OK)
                return cli_usage_error(
                    cmd, "unknown --final '%s' (adjudicated, majority, dawid-skene)", optarg);
            break;
        case O_FEATURES:
            features = optarg;
            break;
        case O_FROM:
            o.from_name = optarg;
            break;
        case O_TO:
            o.to_name = optarg;
            break;
        case O_SHOW:
            if (strcmp(optarg, "never") == 0)
                o.show_prediction = HITL_SHOW_NEVER;
            else if (strcmp(optarg, "uncertain") == 0)
                o.show_prediction = HITL_SHOW_UNCERTAIN;
            else if (strcmp(optarg, "always") == 0)
                o.show_prediction = HITL_SHOW_ALWAYS;
            else
                return cli_usage_error(cmd, "bad --show-prediction '%s' (never, uncertain, always)",
                                       optarg);
            break;
        case O_ACTOR:
            actor = optarg;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_HELP:
        case 'h':
            fputs(usage_text, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (argc - optind != 1) return cli_usage_error(cmd, "give one database path");
    if (!have_format) return cli_usage_error(cmd, "--format is required");
    if (!o.path || !o.path[0]) return cli_usage_error(cmd, "--out FILE is required");
    char *fpath = NULL;
    if (features) {
        if (o.format != HITL_EXPORT_HDF5)
            return cli_usage_error(cmd, "--features goes only with --format hdf5");
        if (cli_split_dset(features, &fpath, &o.features_dset))
            return cli_usage_error(cmd, "bad --features '%s' (want POOL.h5:DSET or POOL.npy)",
                                   features);
        o.features_path = fpath;
    }
    if (o.format == HITL_EXPORT_LABEL_STUDIO && o.final != HITL_FINAL_ADJUDICATED)
        return cli_usage_error(cmd, "--final does not apply to label-studio (open items)");
    hitl_store *st;
    int rc = cli_open_store(cmd, argv[optind], &st);
    if (rc >= 0) {
        free(fpath);
        return rc;
    }
    o.actor = cli_actor(actor);
    hitl_error err;
    hitl_error_clear(&err);
    hitl_export_result res;
    hitl_status s = hitl_store_export(st, &o, &res, &err);
    hitl_store_close(st);
    free(fpath);
    if (s != HITL_OK) return cli_fail(cmd, s, &err);
    const hitl_records_counts *n = &res.counts;
    int ls = o.format == HITL_EXPORT_LABEL_STUDIO;
    if (json) {
        json_t *j = json_pack("{s:s, s:s, s:I}", "format", hitl_export_format_name(o.format), "out",
                              o.path, "records", (json_int_t)n->records);
        if (!ls) {
            json_object_set_new(j, "final", json_string(hitl_final_rule_name(o.final)));
            json_object_set_new(j, "ties", json_integer(n->ties));
            json_object_set_new(j, "pending", json_integer(n->pending));
            if (o.final == HITL_FINAL_DAWID_SKENE) {
                json_object_set_new(j, "ds_iterations", json_integer(n->ds_iterations));
                json_object_set_new(j, "ds_converged", json_boolean(n->ds_converged));
            }
        }
        cli_print_json(j);
    } else if (ls) {
        printf("exported %lld open items as Label Studio tasks to %s\n", (long long)n->records,
               o.path);
    } else {
        printf("exported %lld items to %s (%s, final labels: %s)\n", (long long)n->records, o.path,
               hitl_export_format_name(o.format), hitl_final_rule_name(o.final));
        if (n->ties)
            printf("%lld items left out: their votes tie (adjudicate them, or see --final)\n",
                   (long long)n->ties);
        if (n->pending)
            printf("%lld items with labels have no final label yet under '%s'\n",
                   (long long)n->pending, hitl_final_rule_name(o.final));
    }
    return CLI_EXIT_OK;
}
