/* hitl calibrate: how accurate and how well calibrated a model is, from a blind labelled sample
 * (probabilities and true labels, read as stored: float64 stays float64): accuracy with a Wilson
 * interval, ECE, MCE, both Brier scores, NLL, the reliability table, per-class scores, the
 * confusion matrix and an optional temperature, all from the engine's calibration. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

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
    const char *probs, *labels, *db;
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
    if (optind < argc) a->db = argv[optind++];
    if (optind < argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (a->db && a->labels)
        return cli_usage_error(cmd, "--labels goes without a store (a store has its final labels)");
    if (!a->db && (!a->probs || !a->labels))
        return cli_usage_error(cmd, "need a store DB, or --probs and --labels");
    return -1;
}

/* Reads the whole probability matrix (calibration samples are small). */
static hitl_status load_probs(const char *path, const char *dset, double **x, size_t *n, size_t *c,
                              char ***classes, size_t *n_classes, hitl_error *err)
{
    hitl_matrix *m;
    hitl_status st = hitl_matrix_open(&m, path, dset, err);
    if (st != HITL_OK) return st;
    *n = hitl_matrix_rows(m);
    *c = hitl_matrix_cols(m);
    *x = NULL;
    if (*n && *c > SIZE_MAX / sizeof(double) / *n) {
        hitl_matrix_close(m);
        return hitl_error_set(err, HITL_ENOMEM, "'%s': too large", path);
    }
    *x = malloc((*n && *c ? *n * *c : 1) * sizeof(double));
    if (!*x) st = hitl_error_set(err, HITL_ENOMEM, "'%s': out of memory", path);
    size_t block = hitl_block_rows(*c);
    for (size_t r = 0; st == HITL_OK && r < *n; r += block) {
        size_t k = *n - r < block ? *n - r : block;
        st = hitl_matrix_read_f64(m, r, k, *x + r * *c, err);
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

#define NO_PROBS_REASON                                                                            \
    "needs every class's probability: give --probs POOL:DSET (the store keeps only the top one)"

/* extra (steals, may be NULL): more keys for the root object */
static void print_json(const calib_args *a, const hitl_calibration *r, char **names, size_t n_names,
                       json_t *extra)
{
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
    if (a->db && !a->probs) {
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
    if (a->db && !a->probs && a->opts.fit_temperature)
        json_object_set_new(root, "temperature_reason", json_string(NO_PROBS_REASON));
    if (extra) json_object_update_new(root, extra);
    cli_print_json(root);
}

static void print_tables(const calib_args *a, const hitl_calibration *r, char **names,
                         size_t n_names)
{
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

/* Reads pool rows rows[i] (any order) into dst row i: sorted, in runs of consecutive rows, so
 * only those rows are read, a run at a time. */
static hitl_status read_pool_rows(hitl_matrix *m, const int64_t *rows, size_t n, double *dst,
                                  hitl_error *err)
{
    size_t c = hitl_matrix_cols(m), total = hitl_matrix_rows(m);
    size_t *order = malloc((n ? n : 1) * sizeof(size_t));
    size_t run_cap = hitl_block_rows(c);
    double *buf = malloc(run_cap * c * sizeof(double));
    hitl_status st = order && buf ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; st == HITL_OK && i < n; i++) {
        order[i] = i;
        if (rows[i] < 0 || (uint64_t)rows[i] >= total)
            st = hitl_error_set(err, HITL_EDATA, "pool row %lld is outside the pool's %zu rows",
                                (long long)rows[i], total);
    }
    for (size_t i = 1; st == HITL_OK && i < n; i++) /* insertion sort: samples are small */
        for (size_t j = i; j > 0 && rows[order[j - 1]] > rows[order[j]]; j--) {
            size_t t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    for (size_t i = 0; st == HITL_OK && i < n;) {
        size_t j = i + 1;
        while (j < n && j - i < run_cap && rows[order[j]] == rows[order[j - 1]] + 1)
            j++;
        st = hitl_matrix_read_f64(m, (size_t)rows[order[i]], j - i, buf, err);
        for (size_t k = i; st == HITL_OK && k < j; k++)
            memcpy(dst + order[k] * c, buf + (k - i) * c, c * sizeof(double));
        i = j;
    }
    free(order);
    free(buf);
    return st;
}

/* Without the pool: each item's row holds its stored top probability at its stored prediction
 * and the rest spread evenly, so the argmax and the confidence are the stored ones; the measures
 * of the top class (accuracy, ECE, MCE, top-label Brier, bins, per class, confusion) are then
 * exact, the others are withheld. */
static void stored_rows(const hitl_blind_sample *b, size_t c, double *dst)
{
    for (size_t i = 0; i < b->n; i++) {
        double p1 = b->p1[i];
        double rest = (1.0 - p1) / (double)(c - 1);
        if (rest >= p1 && b->pred[i] > 0) rest = nextafter(p1, 0.0); /* keep pred the argmax */
        for (size_t k = 0; k < c; k++)
            dst[i * c + k] = (int32_t)k == b->pred[i] ? p1 : rest;
    }
}

static int from_store(calib_args *a)
{
    const char *cmd = "calibrate";
    char *ppath = NULL;
    const char *pdset = NULL;
    if (a->probs && cli_split_dset(a->probs, &ppath, &pdset))
        return cli_usage_error(cmd, "--probs needs POOL:DSET (or POOL.npy), got '%s'", a->probs);
    hitl_store *store;
    int rc = cli_open_store(cmd, a->db, &store);
    if (rc >= 0) {
        free(ppath);
        return rc;
    }
    hitl_error err;
    hitl_error_clear(&err);
    hitl_store_settings set = {0};
    hitl_blind_sample b = {0};
    hitl_calibration r = {0};
    hitl_matrix *m = NULL;
    double *probs = NULL;
    hitl_status st = hitl_store_settings_get(store, &set, &err);
    if (st == HITL_OK) st = hitl_store_blind_sample(store, &b, &err);
    hitl_store_close(store);
    size_t c = set.n_classes;
    if (st == HITL_OK && b.n == 0)
        st = hitl_error_set(&err, HITL_EDATA,
                            "'%s': no blind item has a final label yet (%zu blind items without "
                            "a stored prediction)",
                            a->db, b.n_unscored);
    if (st == HITL_OK && ppath) {
        st = hitl_matrix_open(&m, ppath, pdset, &err);
        if (st == HITL_OK && hitl_matrix_cols(m) != c)
            st = hitl_error_set(&err, HITL_ESHAPE,
                                "'%s' has %zu columns but the project has %zu "
                                "classes",
                                a->probs, hitl_matrix_cols(m), c);
    }
    if (st == HITL_OK && !(probs = malloc(b.n * c * sizeof(double))))
        st = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    if (st == HITL_OK) {
        if (m) {
            st = read_pool_rows(m, b.rows, b.n, probs, &err);
            if (st != HITL_OK) hitl_error_prefix(&err, "'%s'", a->probs);
        } else {
            stored_rows(&b, c, probs);
        }
    }
    if (st == HITL_OK) {
        hitl_calib_opts o = a->opts;
        if (!m) o.fit_temperature = 0;
        st = hitl_calibration_compute(probs, b.label, b.n, c, &o, &r, &err);
        if (st == HITL_EDATA && err.row >= 0 && (size_t)err.row < b.n)
            hitl_error_prefix(&err, "item '%s'", b.pool_ids[err.row]);
        if (st == HITL_EINVAL) st = HITL_EDATA;
    }
    if (st == HITL_OK) {
        if (!m) r.brier_multiclass = r.nll = NAN;
        if (a->json)
            print_json(a, &r, set.classes, set.n_classes,
                       json_pack("{s:I}", "n_unscored", (json_int_t)b.n_unscored));
        else
            print_tables(a, &r, set.classes, set.n_classes);
    }
    hitl_matrix_close(m);
    hitl_calibration_release(&r);
    hitl_blind_sample_release(&b);
    hitl_store_settings_release(&set);
    free(probs);
    free(ppath);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail(cmd, st, &err);
}

int cmd_calibrate(int argc, char **argv)
{
    calib_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.db) return from_store(&a);
    char *ppath = NULL, *lpath = NULL;
    const char *pdset, *ldset;
    if (cli_split_dset(a.probs, &ppath, &pdset))
        return cli_usage_error("calibrate", "--probs needs FILE:DSET (or FILE.npy), got '%s'",
                               a.probs);
    if (cli_split_dset(a.labels, &lpath, &ldset)) { /* FILE.npy: no dataset */
        free(ppath);
        return cli_usage_error("calibrate", "--labels needs FILE:DSET or FILE.npy, got '%s'",
                               a.labels);
    }
    hitl_error err;
    hitl_error_clear(&err);
    double *probs = NULL;
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
            print_json(&a, &r, names, n_names, NULL);
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
