/* hitl calibrate: how accurate and how well calibrated a model is, from a blind labelled sample
 * (a store's blind items, hitl_store_calibration, or files, hitl_calibration_from_files):
 * accuracy with a Wilson interval, ECE, MCE, both Brier scores, NLL, the reliability table,
 * per-class scores, the confusion matrix and an optional temperature, as tables or JSON. */
#include <math.h>
#include <stdlib.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl calibrate DB [--probs POOL:DSET] [--bins B] [--fit-temperature] [--json]\n"
    "       hitl calibrate --probs FILE:DSET --labels FILE:DSET [--bins B] [--fit-temperature]\n"
    "                      [--json]\n"
    "\n"
    "Accuracy and calibration of a model on a blind sample: items drawn at random and labelled\n"
    "by people, so every estimate is unbiased for the pool they came from.\n"
    "\n"
    "From a store DB: its blind items (queued with --blind) that have a final label. Without\n"
    "--probs only the model's prediction and top probability stored at queue time are known:\n"
    "accuracy, ECE, MCE, top-label Brier, the reliability bins, per-class scores and the\n"
    "confusion matrix are computed (the same numbers as hitl report's), multiclass Brier, NLL\n"
    "and temperature are null (they need every class's probability). With --probs POOL:DSET\n"
    "those items' rows are read from the pool (by their stored pool row, only those rows) and\n"
    "every measure is computed on them.\n"
    "\n"
    "  accuracy         share of rows whose argmax is the label, with a Wilson 95% interval\n"
    "  ECE              sum over bins of (rows in bin / n) |accuracy - mean confidence|, on the\n"
    "                   top probability, B equal-width bins (b/B, (b+1)/B] (0.8 is in\n"
    "                   (0.7, 0.8] with B = 10); also with B equal-mass bins (rows sorted by\n"
    "                   confidence)\n"
    "  MCE              the largest |accuracy - confidence| of a non-empty equal-width bin\n"
    "  Brier multiclass mean over rows of sum over classes (p_c - [y = c])^2 (0 to 2)\n"
    "  Brier top label  mean over rows of (top probability - correct)^2 (0 to 1)\n"
    "  NLL              mean of -ln p_y (p_y clamped to 1e-15)\n"
    "\n"
    "options:\n"
    "  DB                   an annotation store (hitl init)\n"
    "  --probs FILE:DSET    probabilities [n, C] (HDF5 float32/float64; or FILE.npy); with DB,\n"
    "                       the pool's probabilities, a row per pool row\n"
    "  --labels FILE:DSET   true class indices [n] (HDF5, any integer type, rank 1, or a .npy\n"
    "                       vector); not with DB\n"
    "  --bins B             bins for ECE, MCE and the reliability table (default 15, as hitl\n"
    "                       report's)\n"
    "  --fit-temperature    also fit T minimising the NLL of softmax(ln p / T) and report the\n"
    "                       NLL and ECE after scaling\n"
    "  --json               one JSON object on stdout instead of tables\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data (the message names the\n"
    "file, the dataset and the row)\n";

typedef struct calib_args {
    const char *probs, *labels, *db;
    hitl_calib_opts opts;
    int json;
} calib_args;

static int parse_args(int argc, char **argv, calib_args *a)
{
    const char *cmd = "calibrate";
    const cli_opt opts[] = {
        CLI_O_STR("probs", &a->probs),
        CLI_O_STR("labels", &a->labels),
        CLI_O_SIZE("bins", &a->opts.bins, 1, 100000, "1 to 100000"),
        CLI_O_FLAG("fit-temperature", &a->opts.fit_temperature),
        CLI_O_FLAG("json", &a->json),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, 1);
    if (rc >= 0) return rc;
    if (optind < argc) a->db = argv[optind];
    if (a->db && a->labels)
        return cli_usage_error(cmd, "--labels goes without a store (a store has its final labels)");
    if (!a->db && (!a->probs || !a->labels))
        return cli_usage_error(cmd, "need a store DB, or --probs and --labels");
    return -1;
}

static json_t *bins_json(const hitl_calib_bin *b, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, json_pack("{s:o, s:o, s:I, s:o, s:o}", "lo",
                                             cli_json_real(b[i].lo), "hi", cli_json_real(b[i].hi),
                                             "count", (json_int_t)b[i].count, "confidence",
                                             cli_json_real(b[i].confidence), "accuracy",
                                             cli_json_real(b[i].accuracy)));
    return arr;
}

static void class_name(char **names, size_t n_names, size_t k, char *buf, size_t cap)
{
    if (k < n_names)
        snprintf(buf, cap, "%s", names[k]);
    else
        snprintf(buf, cap, "%zu", k);
}

#define NO_PROBS_REASON                                                                            \
    "needs every class's probability: give --probs POOL:DSET (the store keeps only the top one)"

/* extra (steals, may be NULL): more keys for the root object */
static void print_json(const calib_args *a, const hitl_calib_result *res)
{
    const hitl_calibration *r = &res->cal;
    size_t C = r->n_classes;
    json_t *root = json_object();
    if (a->db) json_object_set_new(root, "store", json_string(a->db));
    json_object_set_new(root, "probs", a->probs ? json_string(a->probs) : json_null());
    json_object_set_new(root, "labels", a->labels ? json_string(a->labels) : json_null());
    json_object_set_new(root, "n", json_integer((json_int_t)r->n));
    json_object_set_new(root, "n_classes", json_integer((json_int_t)C));
    json_object_set_new(root, "accuracy", cli_json_real(r->accuracy));
    json_object_set_new(
        root, "accuracy_ci",
        json_pack("[oo]", cli_json_real(r->accuracy_ci.lo), cli_json_real(r->accuracy_ci.hi)));
    json_object_set_new(root, "ece", cli_json_real(r->ece));
    json_object_set_new(root, "ece_equal_mass", cli_json_real(r->ece_equal_mass));
    json_object_set_new(root, "mce", cli_json_real(r->mce));
    json_object_set_new(root, "brier_multiclass", cli_json_real(r->brier_multiclass));
    json_object_set_new(root, "brier_top_label", cli_json_real(r->brier_top_label));
    json_object_set_new(root, "nll", cli_json_real(r->nll));
    if (res->top_only) {
        json_object_set_new(root, "brier_multiclass_reason", json_string(NO_PROBS_REASON));
        json_object_set_new(root, "nll_reason", json_string(NO_PROBS_REASON));
    }
    json_object_set_new(root, "n_bins", json_integer((json_int_t)r->n_bins));
    json_object_set_new(root, "bins", bins_json(r->bins, r->n_bins));
    json_object_set_new(root, "bins_equal_mass", bins_json(r->mass_bins, r->n_bins));
    json_t *per = json_array();
    for (size_t k = 0; k < C; k++) {
        const hitl_class_metrics *m = &r->per_class[k];
        char name[256];
        class_name(res->classes, res->n_classes, k, name, sizeof(name));
        json_array_append_new(per, json_pack("{s:s, s:I, s:I, s:o, s:o, s:o}", "class", name,
                                             "support", (json_int_t)m->support, "predicted",
                                             (json_int_t)m->predicted, "precision",
                                             cli_json_real(m->precision), "recall",
                                             cli_json_real(m->recall), "f1", cli_json_real(m->f1)));
    }
    json_object_set_new(root, "per_class", per);
    json_t *conf = json_array();
    for (size_t i = 0; i < C; i++) {
        json_t *row = json_array();
        for (size_t j = 0; j < C; j++)
            json_array_append_new(row, json_integer((json_int_t)r->confusion[i * C + j]));
        json_array_append_new(conf, row);
    }
    json_object_set_new(root, "confusion", conf);
    if (r->temperature_fitted)
        json_object_set_new(root, "temperature",
                            json_pack("{s:f, s:o, s:o, s:i, s:b}", "value", r->temperature, "nll",
                                      cli_json_real(r->nll_scaled), "ece",
                                      cli_json_real(r->ece_scaled), "iterations",
                                      r->temperature_iterations, "at_bound",
                                      r->temperature_at_bound));
    else
        json_object_set_new(root, "temperature", json_null());
    if (res->top_only && a->opts.fit_temperature)
        json_object_set_new(root, "temperature_reason", json_string(NO_PROBS_REASON));
    if (a->db) json_object_set_new(root, "n_unscored", json_integer((json_int_t)res->n_unscored));
    cli_print_json(root);
}

static void print_tables(const calib_args *a, const hitl_calib_result *res)
{
    const hitl_calibration *r = &res->cal;
    size_t C = r->n_classes;
    if (a->db)
        printf("%s: %zu blind items with a final label x %zu classes, %s\n\n", a->db, r->n, C,
               a->probs ? a->probs : "stored predictions");
    else
        printf("%s: %zu rows x %zu classes, labels %s\n\n", a->probs, r->n, C, a->labels);
    printf("accuracy        %.4f  [%.4f, %.4f] (Wilson 95%%)\n", r->accuracy, r->accuracy_ci.lo,
           r->accuracy_ci.hi);
    printf("ECE             %.4f  (top label, %zu equal-width bins)\n", r->ece, r->n_bins);
    printf("ECE equal-mass  %.4f  (top label, %zu equal-mass bins)\n", r->ece_equal_mass,
           r->n_bins);
    printf("MCE             %.4f  (top label, %zu equal-width bins)\n", r->mce, r->n_bins);
    printf("Brier top label %.4f  (0 to 1)\n", r->brier_top_label);
    if (isfinite(r->brier_multiclass)) {
        printf("Brier multiclass %.4f (0 to 2)\n", r->brier_multiclass);
        printf("NLL             %.4f\n", r->nll);
    } else {
        printf("Brier multiclass, NLL  n/a (%s)\n", NO_PROBS_REASON);
    }
    if (r->temperature_fitted)
        printf("temperature     T = %.4f%s: NLL %.4f, ECE %.4f after scaling\n", r->temperature,
               r->temperature_at_bound ? " (at the search bound)" : "", r->nll_scaled,
               r->ece_scaled);
    printf("\nreliability (equal-width bins)\n%-15s %8s %11s %9s %8s\n", "confidence", "count",
           "mean conf", "accuracy", "gap");
    for (size_t b = 0; b < r->n_bins; b++) {
        const hitl_calib_bin *x = &r->bins[b];
        printf("(%.3f, %.3f] %8lld", x->lo, x->hi, (long long)x->count);
        if (x->count)
            printf(" %11.4f %9.4f %8.4f\n", x->confidence, x->accuracy,
                   x->accuracy - x->confidence);
        else
            printf("\n");
    }
    printf("\nper class\n%-16s %8s %9s %9s %9s\n", "class", "support", "precision", "recall", "f1");
    for (size_t k = 0; k < C; k++) {
        const hitl_class_metrics *m = &r->per_class[k];
        char name[64];
        class_name(res->classes, res->n_classes, k, name, sizeof(name));
        printf("%-16s %8lld", name, (long long)m->support);
        double v[3] = {m->precision, m->recall, m->f1};
        for (int i = 0; i < 3; i++)
            if (isfinite(v[i]))
                printf(" %9.4f", v[i]);
            else
                printf(" %9s", "n/a");
        printf("\n");
    }
    if (C <= 20) {
        printf("\nconfusion matrix (rows: true class, columns: predicted)\n%-10s", "");
        for (size_t j = 0; j < C; j++) {
            char name[64];
            class_name(res->classes, res->n_classes, j, name, sizeof(name));
            printf(" %8.8s", name);
        }
        printf("\n");
        for (size_t i = 0; i < C; i++) {
            char name[64];
            class_name(res->classes, res->n_classes, i, name, sizeof(name));
            printf("%-10.10s", name);
            for (size_t j = 0; j < C; j++)
                printf(" %8lld", (long long)r->confusion[i * C + j]);
            printf("\n");
        }
    }
}

int cmd_calibrate(int argc, char **argv)
{
    const char *cmd = "calibrate";
    calib_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    char *ppath = NULL, *lpath = NULL;
    hitl_calib_files f = {.probs_name = a.probs, .labels_name = a.labels};
    if (a.probs && cli_split_dset(a.probs, &ppath, &f.probs_dset))
        return cli_usage_error(cmd, "--probs needs %s:DSET (or %s.npy), got '%s'",
                               a.db ? "POOL" : "FILE", a.db ? "POOL" : "FILE", a.probs);
    if (a.labels && cli_split_dset(a.labels, &lpath, &f.labels_dset)) { /* FILE.npy: no dataset */
        free(ppath);
        return cli_usage_error(cmd, "--labels needs FILE:DSET or FILE.npy, got '%s'", a.labels);
    }
    f.probs_path = ppath;
    f.labels_path = lpath;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_calib_result res;
    hitl_status st;
    if (a.db) {
        hitl_store *store;
        if ((rc = cli_open_store_read(cmd, a.db, &store)) >= 0) {
            free(ppath);
            return rc;
        }
        st = hitl_store_calibration(store, &f, &a.opts, &res, &err);
        hitl_store_close(store);
    } else {
        st = hitl_calibration_from_files(&f, &a.opts, &res, &err);
    }
    free(ppath);
    free(lpath);
    if (st != HITL_OK) return cli_fail(cmd, st, &err);
    if (a.json)
        print_json(&a, &res);
    else
        print_tables(&a, &res);
    hitl_calib_result_release(&res);
    return CLI_EXIT_OK;
}
