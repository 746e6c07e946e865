/* hitl calibrate: how accurate and how well calibrated a model is, from a blind labelled sample
 * (probabilities and true labels): accuracy with a Wilson interval, ECE, MCE, Brier, NLL, the
 * reliability table, per-class scores, the confusion matrix and an optional temperature. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl calibrate --probs FILE:DSET --labels FILE:DSET [--bins B] [--fit-temperature]\n"
    "                      [--json]\n"
    "\n"
    "Accuracy and calibration of a model on a blind sample: items drawn at random and labelled\n"
    "by people, so every estimate is unbiased for the pool they came from.\n"
    "\n"
    "  accuracy         share of rows whose argmax is the label, with a Wilson 95% interval\n"
    "  ECE              sum over bins of (rows in bin / n) |accuracy - mean confidence|, on the\n"
    "                   top probability, B equal-width bins (b/B, (b+1)/B]; also with B\n"
    "                   equal-mass bins (rows sorted by confidence)\n"
    "  MCE              the largest |accuracy - confidence| of a non-empty equal-width bin\n"
    "  Brier            mean over rows of sum over classes (p_c - [y = c])^2 (0 to 2)\n"
    "  NLL              mean of -ln p_y (p_y clamped to 1e-15)\n"
    "\n"
    "options:\n"
    "  --probs FILE:DSET    probabilities [n, C] (HDF5 float32/float64; or FILE.npy)\n"
    "  --labels FILE:DSET   true class indices [n] (HDF5, any integer type, rank 1)\n"
    "  --bins B             bins for ECE, MCE and the reliability table (default 15)\n"
    "  --fit-temperature    also fit T minimising the NLL of softmax(ln p / T) and report the\n"
    "                       NLL and ECE after scaling\n"
    "  --json               one JSON object on stdout instead of tables\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data (the message names the\n"
    "file, the dataset and the row)\n";

enum {
    OPT_PROBS = 256,
    OPT_LABELS,
    OPT_BINS,
    OPT_FIT,
    OPT_JSON,
    OPT_HELP,
};

static const struct option long_opts[] = {
    {"probs", required_argument, NULL, OPT_PROBS},
    {"labels", required_argument, NULL, OPT_LABELS},
    {"bins", required_argument, NULL, OPT_BINS},
    {"fit-temperature", no_argument, NULL, OPT_FIT},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

typedef struct calib_args {
    const char *probs, *labels;
    hitl_calib_opts opts;
    int json;
} calib_args;

static int parse_args(int argc, char **argv, calib_args *a)
{
    const char *cmd = "calibrate";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        size_t sz;
        switch (c) {
        case OPT_PROBS:
            a->probs = optarg;
            break;
        case OPT_LABELS:
            a->labels = optarg;
            break;
        case OPT_BINS:
            if (cli_parse_size(optarg, &sz) || sz == 0 || sz > 100000)
                return cli_usage_error(cmd, "bad --bins '%s'", optarg);
            a->opts.bins = sz;
            break;
        case OPT_FIT:
            a->opts.fit_temperature = 1;
            break;
        case OPT_JSON:
            a->json = 1;
            break;
        case 'h':
        case OPT_HELP:
            fputs(usage_text, stdout);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(cmd,
                               "unexpected argument '%s' (reading a store is not available yet: "
                               "give --probs and --labels)",
                               argv[optind]);
    if (!a->probs || !a->labels) return cli_usage_error(cmd, "need --probs and --labels");
    return -1;
}

/* Reads the whole probability matrix (calibration samples are small). */
static hitl_status load_probs(const char *path, const char *dset, float **x, size_t *n, size_t *c,
                              char ***classes, size_t *n_classes, hitl_error *err)
{
    hitl_matrix *m;
    hitl_status st = hitl_matrix_open(&m, path, dset, err);
    if (st != HITL_OK) return st;
    *n = hitl_matrix_rows(m);
    *c = hitl_matrix_cols(m);
    *x = NULL;
    if (*n && *c > SIZE_MAX / sizeof(float) / *n) {
        hitl_matrix_close(m);
        return hitl_error_set(err, HITL_ENOMEM, "'%s': too large", path);
    }
    *x = malloc((*n && *c ? *n * *c : 1) * sizeof(float));
    if (!*x) st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    size_t block = hitl_block_rows(*c);
    for (size_t r = 0; st == HITL_OK && r < *n; r += block) {
        size_t k = *n - r < block ? *n - r : block;
        st = hitl_matrix_read(m, r, k, *x + r * *c, err);
    }
    if (st == HITL_OK) st = hitl_matrix_classes(m, classes, n_classes, err);
    hitl_matrix_close(m);
    if (st != HITL_OK) {
        free(*x);
        *x = NULL;
    }
    return st;
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

static void print_json(const calib_args *a, const hitl_calibration *r, char **names, size_t n_names)
{
    size_t C = r->n_classes;
    json_t *root = json_object();
    json_object_set_new(root, "probs", json_string(a->probs));
    json_object_set_new(root, "labels", json_string(a->labels));
    json_object_set_new(root, "n", json_integer((json_int_t)r->n));
    json_object_set_new(root, "n_classes", json_integer((json_int_t)C));
    json_object_set_new(root, "accuracy", cli_json_real(r->accuracy));
    json_object_set_new(
        root, "accuracy_ci",
        json_pack("[oo]", cli_json_real(r->accuracy_ci.lo), cli_json_real(r->accuracy_ci.hi)));
    json_object_set_new(root, "ece", cli_json_real(r->ece));
    json_object_set_new(root, "ece_equal_mass", cli_json_real(r->ece_equal_mass));
    json_object_set_new(root, "mce", cli_json_real(r->mce));
    json_object_set_new(root, "brier", cli_json_real(r->brier));
    json_object_set_new(root, "nll", cli_json_real(r->nll));
    json_object_set_new(root, "n_bins", json_integer((json_int_t)r->n_bins));
    json_object_set_new(root, "bins", bins_json(r->bins, r->n_bins));
    json_object_set_new(root, "bins_equal_mass", bins_json(r->mass_bins, r->n_bins));
    json_t *per = json_array();
    for (size_t k = 0; k < C; k++) {
        const hitl_class_metrics *m = &r->per_class[k];
        char name[256];
        class_name(names, n_names, k, name, sizeof(name));
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
    cli_print_json(root);
}

static void print_tables(const calib_args *a, const hitl_calibration *r, char **names,
                         size_t n_names)
{
    size_t C = r->n_classes;
    printf("%s: %zu rows x %zu classes, labels %s\n\n", a->probs, r->n, C, a->labels);
    printf("accuracy        %.4f  [%.4f, %.4f] (Wilson 95%%)\n", r->accuracy, r->accuracy_ci.lo,
           r->accuracy_ci.hi);
    printf("ECE             %.4f  (%zu equal-width bins)\n", r->ece, r->n_bins);
    printf("ECE equal-mass  %.4f  (%zu bins)\n", r->ece_equal_mass, r->n_bins);
    printf("MCE             %.4f\n", r->mce);
    printf("Brier           %.4f  (multiclass, 0 to 2)\n", r->brier);
    printf("NLL             %.4f\n", r->nll);
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
        class_name(names, n_names, k, name, sizeof(name));
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
            class_name(names, n_names, j, name, sizeof(name));
            printf(" %8.8s", name);
        }
        printf("\n");
        for (size_t i = 0; i < C; i++) {
            char name[64];
            class_name(names, n_names, i, name, sizeof(name));
            printf("%-10.10s", name);
            for (size_t j = 0; j < C; j++)
                printf(" %8lld", (long long)r->confusion[i * C + j]);
            printf("\n");
        }
    }
}

int cmd_calibrate(int argc, char **argv)
{
    calib_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    char *ppath = NULL, *lpath = NULL;
    const char *pdset, *ldset;
    if (cli_split_dset(a.probs, &ppath, &pdset))
        return cli_usage_error("calibrate", "--probs needs FILE:DSET (or FILE.npy), got '%s'",
                               a.probs);
    if (cli_split_dset(a.labels, &lpath, &ldset) || !ldset) {
        free(ppath);
        return cli_usage_error("calibrate", "--labels needs FILE:DSET, got '%s'", a.labels);
    }
    hitl_error err;
    hitl_error_clear(&err);
    float *probs = NULL;
    int32_t *labels = NULL;
    size_t n = 0, c = 0, n_labels = 0, n_names = 0;
    char **names = NULL;
    hitl_calibration r = {0};
    hitl_status st = load_probs(ppath, pdset, &probs, &n, &c, &names, &n_names, &err);
    if (st == HITL_OK) st = hitl_labels_read(lpath, ldset, &labels, &n_labels, &err);
    if (st == HITL_OK && n_labels != n)
        st = hitl_error_set(&err, HITL_ESHAPE, "'%s' has %zu rows but '%s' has %zu labels", a.probs,
                            n, a.labels, n_labels);
    for (size_t i = 0; st == HITL_OK && i < n_labels; i++)
        if ((size_t)labels[i] >= c) {
            st = hitl_error_set(&err, HITL_EDATA,
                                "'%s' row %zu: label %d is not a class (%zu "
                                "classes in '%s')",
                                a.labels, i, labels[i], c, a.probs);
        }
    if (st == HITL_OK) {
        st = hitl_calibration_compute(probs, labels, n, c, &a.opts, &r, &err);
        if (st == HITL_EINVAL) st = HITL_EDATA; /* no rows, one class: the data's fault */
        if (st != HITL_OK) hitl_error_prefix(&err, "'%s'", a.probs);
    }
    if (st == HITL_OK) {
        if (n_names != c) { /* names that do not fit are not used */
            hitl_strings_free(names, n_names);
            names = NULL;
            n_names = 0;
        }
        if (a.json)
            print_json(&a, &r, names, n_names);
        else
            print_tables(&a, &r, names, n_names);
    }
    hitl_calibration_release(&r);
    hitl_strings_free(names, n_names);
    free(probs);
    free(labels);
    free(ppath);
    free(lpath);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail("calibrate", st, &err);
}
