/* hitl train: fits the linear head (multinomial logistic regression, L2, L-BFGS in the engine) on
 * labelled pool rows and writes W, b and the class names in the layout `hitl score --head`
 * reads. The rows and their labels (an integer dataset, optionally with --rows, or an `hitl
 * export`) are read by hitl_train_set_load. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl train --features FILE:DSET --labels FILE:DSET [--rows FILE:DSET] --out HEAD.h5\n"
    "                  [--l2 L | --C C] [--max-iter N] [--tol X] [--class-weight balanced|W,...]\n"
    "                  [--classes A,B,...] [--json]\n"
    "       hitl train --features FILE:DSET --labels EXPORT.h5 [--soft] --out HEAD.h5 [...]\n"
    "\n"
    "Fits a linear head on labelled rows of a pool's features: multinomial logistic regression\n"
    "minimising (1/S) sum_i s_i (-ln p_i[y_i]) + (l2/2) ||W||^2 (the bias is not penalised) by\n"
    "L-BFGS from W = 0, b = 0; deterministic. s_i is the row's class weight (1 by default) and S\n"
    "their sum. scikit-learn's LogisticRegression(C=C) has the same minimiser when\n"
    "l2 = 1 / (C S), that is 1 / (C n) without class weights: --C C sets l2 that way.\n"
    "\n"
    "options:\n"
    "  --features FILE:DSET  the pool's features [N, D] (HDF5 float32/float64, or FILE.npy)\n"
    "  --labels FILE:DSET    class indices (any integer type, rank 1; or a .npy vector): N of\n"
    "                        them (one per pool row), or one per --rows entry\n"
    "  --labels EXPORT.h5    an `hitl export --format hdf5` file: /rows (pool rows), /labels and\n"
    "                        /soft_labels [n, C], class names in its `classes` attribute\n"
    "  --soft                with an export: train on /soft_labels instead of /labels\n"
    "  --rows FILE:DSET      the pool rows to train on (integers; or a .npy vector); default:\n"
    "                        every row\n"
    "  --l2 L                L2 strength (default: as --C 1)\n"
    "  --C C                 scikit-learn's inverse regularisation: l2 = 1 / (C S)\n"
    "  --max-iter N          L-BFGS iterations (default 500)\n"
    "  --tol X               stop when max |gradient| <= X (default 1e-5), or when the loss\n"
    "                        has stopped falling at float32 resolution (stop \"flat\")\n"
    "  --class-weight SPEC   `balanced` (n / (C count_c), as scikit-learn) or C weights > 0\n"
    "  --classes A,B,...     class names (default: the export's, else the features file's\n"
    "                        `classes` attribute); their number is C, else max label + 1\n"
    "  --out HEAD.h5         the head: /W [D, C], /b [C], `classes` attribute\n"
    "  --json                one JSON object on stdout\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data\n";

typedef struct train_args {
    const char *features, *labels, *rows, *cw, *classes, *out;
    int soft, json;
    double l2, c_inv; /* NAN when not given */
    size_t max_iter;
    double tol;
    hitl_train_set_opts set;
    char *fpath, *lpath, *rpath; /* the files of --features, --labels, --rows without :DSET */
} train_args;

static int parse_args(int argc, char **argv, train_args *a)
{
    const char *cmd = "train";
    *a = (train_args){.l2 = NAN, .c_inv = NAN, .max_iter = 500};
    const cli_opt opts[] = {
        CLI_O_STR("features", &a->features),
        CLI_O_STR("labels", &a->labels),
        CLI_O_STR("rows", &a->rows),
        CLI_O_FLAG("soft", &a->soft),
        CLI_O_NUM("l2", &a->l2, 0, 0, "a number >= 0"),
        CLI_O_NUM_GT("C", &a->c_inv, 0, "a number > 0"),
        CLI_O_SIZE("max-iter", &a->max_iter, 1, 1000000, "1 to 1000000"),
        CLI_O_NUM_GT("tol", &a->tol, 0, "a number > 0"),
        CLI_O_STR("class-weight", &a->cw),
        CLI_O_STR("classes", &a->classes),
        CLI_O_STR("out", &a->out),
        CLI_O_FLAG("json", &a->json),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, 0);
    if (rc >= 0) return rc;
    if (!a->features || !a->labels || !a->out)
        return cli_usage_error(cmd, "need --features, --labels and --out");
    if (!isnan(a->l2) && !isnan(a->c_inv))
        return cli_usage_error(cmd, "give --l2 or --C, not both");
    /* --labels FILE.h5 (no :DSET) is an export */
    size_t len = strlen(a->labels);
    hitl_train_set_opts *o = &a->set;
    o->export_file =
        strchr(a->labels, ':') == NULL && ((len >= 3 && strcmp(a->labels + len - 3, ".h5") == 0) ||
                                           (len >= 5 && strcmp(a->labels + len - 5, ".hdf5") == 0));
    o->soft = a->soft;
    o->classes = a->classes;
    if (o->export_file && a->rows)
        return cli_usage_error(cmd, "--rows goes without an export (it has /rows)");
    if (!o->export_file && a->soft) return cli_usage_error(cmd, "--soft needs --labels EXPORT.h5");
    if (cli_split_dset(a->features, &a->fpath, &o->features_dset))
        return cli_usage_error(cmd, "bad --features '%s' (FILE:DSET or FILE.npy)", a->features);
    o->features_path = a->fpath;
    if (o->export_file) {
        o->labels_path = a->labels;
    } else if (cli_split_dset(a->labels, &a->lpath, &o->labels_dset)) {
        return cli_usage_error(cmd, "bad --labels '%s' (FILE:DSET, FILE.npy or EXPORT.h5)",
                               a->labels);
    }
    if (a->lpath) o->labels_path = a->lpath;
    if (a->rows && cli_split_dset(a->rows, &a->rpath, &o->rows_dset))
        return cli_usage_error(cmd, "bad --rows '%s' (FILE:DSET or FILE.npy)", a->rows);
    o->rows_path = a->rpath;
    return -1;
}

/* --class-weight: `balanced` (the engine's, from the label mass) or C numbers > 0. */
static hitl_status class_weights(const char *spec, const hitl_train_set *t, float **out,
                                 hitl_error *err)
{
    *out = malloc(t->c * sizeof(float));
    if (!*out) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (strcmp(spec, "balanced") == 0)
        return hitl_class_weights_balanced(t->soft ? NULL : t->y, t->soft, t->n, t->c, *out, err);
    const char *p = spec;
    for (size_t j = 0; j < t->c; j++) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || !(v > 0) || !isfinite(v) || (j + 1 < t->c ? *end != ',' : *end != '\0'))
            return hitl_error_set(err, HITL_EINVAL,
                                  "bad --class-weight '%s' (balanced, or %zu numbers > 0)", spec,
                                  t->c);
        (*out)[j] = (float)v;
        p = end + 1;
    }
    return HITL_OK;
}

static const char *stop_name(hitl_train_stop s)
{
    return s == HITL_TRAIN_CONVERGED  ? "converged"
           : s == HITL_TRAIN_MAX_ITER ? "max_iter"
           : s == HITL_TRAIN_FLAT     ? "flat"
                                      : "no_progress";
}

int cmd_train(int argc, char **argv)
{
    const char *cmd = "train";
    train_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) {
        free(a.fpath);
        free(a.lpath);
        free(a.rpath);
        return rc;
    }

    hitl_error err;
    hitl_error_clear(&err);
    hitl_train_set t = {0};
    float *cw = NULL, *w = NULL, *b = NULL, *z = NULL;
    hitl_train_report rep = {0};
    hitl_status st = hitl_train_set_load(&a.set, &t, &err);
    free(a.fpath);
    free(a.lpath);
    free(a.rpath);
    if (st == HITL_OK && a.cw) st = class_weights(a.cw, &t, &cw, &err);
    /* S = sum of the row weights, for --C */
    double wsum = 0;
    for (size_t i = 0; st == HITL_OK && i < t.n; i++) {
        if (!cw)
            wsum += 1;
        else if (t.soft)
            for (size_t j = 0; j < t.c; j++)
                wsum += (double)cw[j] * t.soft[i * t.c + j];
        else if (t.y[i] >= 0 && (size_t)t.y[i] < t.c)
            wsum += cw[t.y[i]];
    }
    double cval = isnan(a.c_inv) ? 1.0 : a.c_inv;
    double l2 = isnan(a.l2) ? 1.0 / (cval * wsum) : a.l2;
    if (st == HITL_OK) {
        w = malloc(t.d * t.c * sizeof(float));
        b = malloc(t.c * sizeof(float));
        z = malloc(t.n * t.c * sizeof(float));
        if (!w || !b || !z) st = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    }
    if (st == HITL_OK) {
        hitl_train_opts o = {
            .l2 = l2, .max_iter = (int)a.max_iter, .tol = a.tol, .class_weights = cw};
        st = hitl_train_linear(t.x, t.n, t.d, t.soft ? NULL : t.y, t.soft, t.c, &o, w, b, &rep,
                               &err);
    }
    size_t correct = 0;
    if (st == HITL_OK) st = hitl_head_logits(t.x, t.n, t.d, w, b, t.c, z, &err);
    for (size_t i = 0; st == HITL_OK && i < t.n; i++) {
        size_t best = 0;
        for (size_t j = 1; j < t.c; j++)
            if (z[i * t.c + j] > z[i * t.c + best]) best = j;
        correct += t.y && (size_t)t.y[i] == best;
    }
    if (st == HITL_OK) st = hitl_head_save(a.out, w, b, t.d, t.c, t.classes, &err);
    if (st == HITL_OK) {
        double acc = t.y ? (double)correct / (double)t.n : NAN;
        if (!rep.converged)
            fprintf(stderr,
                    "hitl train: warning: stopped (%s) after %d iterations with max |gradient| "
                    "%.3g > tol\n",
                    stop_name(rep.stop), rep.iterations, rep.grad_norm);
        if (a.json) {
            json_t *o = json_pack(
                "{s:s, s:I, s:I, s:I, s:f, s:o, s:i, s:i, s:f, s:f, s:b, s:s, s:o, s:b}", "out",
                a.out, "n_rows", (json_int_t)t.n, "n_features", (json_int_t)t.d, "n_classes",
                (json_int_t)t.c, "l2", l2, "C", cli_json_real(1.0 / (l2 * wsum)), "iterations",
                rep.iterations, "evaluations", rep.evaluations, "loss", rep.loss, "grad_norm",
                rep.grad_norm, "converged", rep.converged, "stop", stop_name(rep.stop),
                "train_accuracy", cli_json_real(acc), "soft", t.soft != NULL);
            cli_print_json(o);
        } else {
            printf("trained on %zu rows x %zu features, %zu classes (l2 %.6g, C %.6g)\n", t.n, t.d,
                   t.c, l2, 1.0 / (l2 * wsum));
            printf("L-BFGS: %s after %d iterations (%d passes), loss %.6f, max |gradient| %.2e\n",
                   stop_name(rep.stop), rep.iterations, rep.evaluations, rep.loss, rep.grad_norm);
            if (t.y) printf("training accuracy %.4f\n", acc);
            printf("wrote %s\n", a.out);
        }
    }
    hitl_train_set_release(&t);
    free(cw);
    free(w);
    free(b);
    free(z);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail(cmd, st, &err);
}
