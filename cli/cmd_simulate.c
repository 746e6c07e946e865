/* hitl simulate: learning curves. Runs the active-learning loop (hitl_simulate in the engine)
 * for each strategy and seed on a labelled pool, and reports test accuracy against labels spent:
 * a table on stdout, and with --out the curves as JSON, HDF5, an SVG plot and a notebook. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "simulate.h"

static const char usage_text[] =
    "usage: hitl simulate --features FILE[:DSET] [--labels FILE:DSET]\n"
    "                     [--test FILE[:DSET] [--test-labels FILE:DSET] | --test-fraction F]\n"
    "                     [--strategies S,...] [--seed-labels N] [--batch N] [--rounds N]\n"
    "                     [--seeds K] [--seed S] [--C C] [--max-iter N] [--warm-iter N]\n"
    "                     [--candidates M]\n"
    "                     [--annotators E,E,...|KxE] [--aggregate majority|dawid-skene]\n"
    "                     [--out PREFIX] [--json]\n"
    "\n"
    "Runs the active-learning loop on a pool whose labels are known, with an oracle (or\n"
    "simulated annotators) in place of people: label --seed-labels random rows, then for each\n"
    "of --rounds rounds train the linear head (as hitl train, warm-started), measure its test\n"
    "accuracy, and label the --batch rows the strategy picks. Every strategy starts from the\n"
    "same seed rows for a seed; --seeds K runs seeds S .. S+K-1 and reports mean and spread.\n"
    "\n"
    "strategies: random, lc, margin, entropy (top-k by that uncertainty), kcenter (k-center\n"
    "greedy over the features), margin-kcenter (k-center among the --candidates most uncertain\n"
    "by margin), badge (k-means++ over gradient embeddings). Default: random,lc,margin,entropy,\n"
    "kcenter,margin-kcenter.\n"
    "\n"
    "options:\n"
    "  --features FILE[:DSET]  pool features [N, D] (default dataset: features; or FILE.npy)\n"
    "  --labels FILE:DSET      the pool's true classes (default: the features file's labels)\n"
    "  --test FILE[:DSET]      test features (default dataset: features)\n"
    "  --test-labels FILE:DSET test classes (default: the test file's labels)\n"
    "  --test-fraction F       without --test: hold out this share of the pool (default 0.25,\n"
    "                          drawn with --seed, the same for every strategy and seed)\n"
    "  --seed-labels N         random rows labelled before the first round (default 100)\n"
    "  --batch N               rows labelled per round (default 100)\n"
    "  --rounds N              rounds after the seed (default 20)\n"
    "  --seeds K               runs per strategy (default 3)\n"
    "  --seed S                the first seed (default 1)\n"
    "  --C C                   inverse L2 strength as scikit-learn's: l2 = 1 / (C n) (default 1)\n"
    "  --max-iter N            L-BFGS iterations of the first training (default 100)\n"
    "  --warm-iter N           of each later one, which starts from the last round's head\n"
    "                          (default 30: as accurate as 100, see tests/bench/README.md)\n"
    "  --candidates M          margin-kcenter's shortlist (default 10 x batch)\n"
    "  --annotators SPEC       simulated annotators instead of an oracle: their error rates\n"
    "                          (0.1,0.2,0.3) or K of one rate (3x0.2); a wrong label is uniform\n"
    "                          among the other classes. Every picked row is labelled by each.\n"
    "  --aggregate RULE        majority (ties drawn at random; default) or dawid-skene\n"
    "  --out PREFIX            write PREFIX.json, PREFIX.h5 (curves), PREFIX.svg (plot) and\n"
    "                          PREFIX.ipynb (a notebook reading PREFIX.h5)\n"
    "  --json                  one JSON object on stdout instead of the table\n"
    "\n"
    "\"reach random\" in the table: the labels a strategy needed to reach random sampling's final\n"
    "mean accuracy (interpolated on its mean curve; \"never\" when it did not), and how many\n"
    "fewer than random's own curve needed (base: random's first point at that accuracy).\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data\n";

static int on_strategies(const char *cmd, const char *spec, void *ctx)
{
    cli_sim_args *a = ctx;
    a->n_strategies = 0;
    const char *p = spec;
    while (*p) {
        size_t len = strcspn(p, ",");
        char name[32];
        hitl_strategy s;
        if (len == 0 || len >= sizeof(name))
            return cli_usage_error(cmd, "bad --strategies '%s'", spec);
        memcpy(name, p, len);
        name[len] = '\0';
        if (hitl_strategy_parse(name, &s) != HITL_OK)
            return cli_usage_error(cmd,
                                   "unknown strategy '%s' (random, lc, margin, entropy, kcenter, "
                                   "margin-kcenter, badge)",
                                   name);
        for (size_t i = 0; i < a->n_strategies; i++)
            if (a->strategies[i] == s)
                return cli_usage_error(cmd, "strategy '%s' given twice", name);
        a->strategies[a->n_strategies++] = s;
        p += len;
        if (*p == ',') p++;
    }
    return a->n_strategies ? -1 : cli_usage_error(cmd, "--strategies is empty");
}

static int on_annotators(const char *cmd, const char *spec, void *ctx)
{
    cli_sim_args *a = ctx;
    size_t k;
    const char *x = strchr(spec, 'x');
    if (x) { /* KxE */
        char count[24];
        size_t len = (size_t)(x - spec);
        if (len == 0 || len >= sizeof(count)) return cli_usage_error(cmd, "bad --annotators");
        memcpy(count, spec, len);
        count[len] = '\0';
        if (cli_parse_size(count, &k) || k == 0 || k > CLI_SIM_MAX_ANNOTATORS ||
            cli_parse_float(x + 1, &a->rates[0]) || !(a->rates[0] >= 0 && a->rates[0] <= 1))
            return cli_usage_error(cmd, "bad --annotators '%s' (K x a rate in [0, 1], K <= %d)",
                                   spec, CLI_SIM_MAX_ANNOTATORS);
        for (size_t i = 1; i < k; i++)
            a->rates[i] = a->rates[0];
    } else {
        char **parts = NULL;
        hitl_error err;
        if (hitl_strings_split(spec, &parts, &k, &err) != HITL_OK || k == 0 ||
            k > CLI_SIM_MAX_ANNOTATORS) {
            hitl_strings_free(parts, k);
            return cli_usage_error(cmd, "bad --annotators '%s'", spec);
        }
        for (size_t i = 0; i < k; i++)
            if (cli_parse_float(parts[i], &a->rates[i]) ||
                !(a->rates[i] >= 0 && a->rates[i] <= 1)) {
                hitl_strings_free(parts, k);
                return cli_usage_error(cmd, "bad --annotators '%s' (error rates in [0, 1])", spec);
            }
        hitl_strings_free(parts, k);
    }
    a->o.n_annotators = k;
    a->o.error_rate = a->rates;
    return -1;
}

static int on_aggregate(const char *cmd, const char *v, void *ctx)
{
    int *dawid_skene = ctx;
    if (strcmp(v, "majority") == 0)
        *dawid_skene = 0;
    else if (strcmp(v, "dawid-skene") == 0)
        *dawid_skene = 1;
    else
        return cli_usage_error(cmd, "bad --aggregate '%s' (majority, dawid-skene)", v);
    return -1;
}

static int on_fraction(const char *cmd, const char *v, void *ctx)
{
    double *f = ctx;
    if (cli_parse_float(v, f) || !(*f > 0 && *f < 1))
        return cli_usage_error(cmd, "bad --test-fraction '%s' (in (0, 1))", v);
    return -1;
}

static int parse_args(int argc, char **argv, cli_sim_args *a)
{
    const char *cmd = "simulate";
    size_t seed = 1, max_iter = 0, warm_iter = 0;
    memset(a, 0, sizeof(*a));
    a->test_fraction = 0.25;
    a->seeds = 3;
    a->o.seed_labels = 100;
    a->o.batch = 100;
    a->o.rounds = 20;
    a->o.C = 1;
    static const hitl_strategy defaults[] = {HITL_STRATEGY_RANDOM,  HITL_STRATEGY_LC,
                                             HITL_STRATEGY_MARGIN,  HITL_STRATEGY_ENTROPY,
                                             HITL_STRATEGY_KCENTER, HITL_STRATEGY_MARGIN_KCENTER};
    a->n_strategies = sizeof(defaults) / sizeof(defaults[0]);
    memcpy(a->strategies, defaults, sizeof(defaults));
    const cli_opt opts[] = {
        CLI_O_STR("features", &a->features),
        CLI_O_STR("labels", &a->labels),
        CLI_O_STR("test", &a->test),
        CLI_O_STR("test-labels", &a->test_labels),
        CLI_O_CALL("test-fraction", on_fraction, &a->test_fraction),
        CLI_O_CALL("strategies", on_strategies, a),
        CLI_O_SIZE("seed-labels", &a->o.seed_labels, 1, 0, "an integer >= 1"),
        CLI_O_SIZE("batch", &a->o.batch, 1, 0, "an integer >= 1"),
        CLI_O_SIZE("rounds", &a->o.rounds, 0, 100000, "an integer in [0, 100000]"),
        CLI_O_SIZE("seeds", &a->seeds, 1, 1000, "an integer in [1, 1000]"),
        CLI_O_SIZE("seed", &seed, 0, 0, "an integer >= 0"),
        CLI_O_NUM_GT("C", &a->o.C, 0, "a number > 0"),
        CLI_O_SIZE("max-iter", &max_iter, 1, 100000, "an integer in [1, 100000]"),
        CLI_O_SIZE("warm-iter", &warm_iter, 1, 100000, "an integer in [1, 100000]"),
        CLI_O_SIZE("candidates", &a->o.candidates, 1, 0, "an integer >= 1"),
        CLI_O_CALL("annotators", on_annotators, a),
        CLI_O_CALL("aggregate", on_aggregate, &a->o.dawid_skene),
        CLI_O_STR("out", &a->out),
        CLI_O_FLAG("json", &a->json),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, 0);
    if (rc >= 0) return rc;
    a->seed = seed;
    a->o.max_iter = (int)max_iter;
    a->o.warm_iter = (int)warm_iter;
    if (!a->features) return cli_usage_error(cmd, "need --features");
    if (a->test_labels && !a->test) return cli_usage_error(cmd, "--test-labels needs --test");
    return -1;
}

/* ---- data ---------------------------------------------------------------------------------- */

/* Features FILE[:DSET] (DSET "features" when left out, nothing for .npy) with labels from
 * `labels` (FILE:DSET), else the same file's "labels". */
static hitl_status load(const char *features, const char *labels, hitl_labelled *ds,
                        hitl_error *err)
{
    char *fpath = NULL, *lpath = NULL;
    const char *fdset = "features", *ldset = "labels";
    hitl_status st = HITL_OK;
    if (strchr(features, ':') && !hitl_path_is_npy(features)) {
        if (cli_split_dset(features, &fpath, &fdset))
            return hitl_error_set(err, HITL_EINVAL, "bad features '%s' (FILE:DSET)", features);
    } else if (!(fpath = strdup(features))) {
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    if (labels && (cli_split_dset(labels, &lpath, &ldset) || !ldset))
        st = hitl_error_set(err, HITL_EINVAL, "bad labels '%s' (FILE:DSET)", labels);
    if (st == HITL_OK) st = hitl_labelled_load(fpath, fdset, lpath, ldset, ds, err);
    free(fpath);
    free(lpath);
    return st;
}

/* The held-out test rows, drawn from the pool with the seed; *file_row (caller frees) maps the
 * rows left in the pool to the file's rows. */
static hitl_status hold_out(hitl_labelled *pool, double fraction, uint64_t seed,
                            hitl_labelled *test, int64_t **file_row, hitl_error *err)
{
    size_t nt = hitl_holdout_size(pool->n, fraction);
    test->x = malloc((nt ? nt : 1) * pool->d * sizeof(float));
    test->y = malloc((nt ? nt : 1) * sizeof(int32_t));
    *file_row = malloc((pool->n ? pool->n : 1) * sizeof(int64_t));
    if (!test->x || !test->y || !*file_row)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    test->d = pool->d;
    return hitl_holdout_split(pool->x, pool->y, &pool->n, pool->d, fraction, seed, test->x, test->y,
                              &test->n, *file_row, err);
}

/* ---- results ------------------------------------------------------------------------------- */

typedef struct progress_ctx {
    cli_progress bar;
} progress_ctx;

static void on_round(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress_update(&((progress_ctx *)ctx)->bar, done, total);
}

/* The number of classes: the pool's class names, else the largest label + 1 in either set. */
static hitl_status count_classes(const hitl_labelled *pool, const hitl_labelled *test, size_t *c,
                                 hitl_error *err)
{
    *c = 0;
    for (size_t i = 0; i < pool->n; i++)
        *c = (size_t)pool->y[i] + 1 > *c ? (size_t)pool->y[i] + 1 : *c;
    for (size_t i = 0; i < test->n; i++)
        *c = (size_t)test->y[i] + 1 > *c ? (size_t)test->y[i] + 1 : *c;
    if (pool->n_classes) {
        if (pool->n_classes < *c)
            return hitl_error_set(err, HITL_EDATA, "label %zu is past the %zu class names", *c - 1,
                                  pool->n_classes);
        *c = pool->n_classes;
    }
    return *c < 2 ? hitl_error_set(err, HITL_EDATA, "the labels hold fewer than two classes")
                  : HITL_OK;
}

int cmd_simulate(int argc, char **argv)
{
    const char *cmd = "simulate";
    cli_sim_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;

    hitl_error err;
    hitl_error_clear(&err);
    hitl_labelled pool = {0}, test = {0};
    int64_t *file_row = NULL;
    hitl_curve_series *s = NULL;
    json_t *out = NULL;
    size_t c = 0;
    hitl_status st = load(a.features, a.labels, &pool, &err);
    if (st == HITL_OK && a.test) {
        st = load(a.test, a.test_labels, &test, &err);
        if (st == HITL_OK && test.d != pool.d)
            st = hitl_error_set(&err, HITL_ESHAPE, "'%s' has %zu features, the pool %zu", a.test,
                                test.d, pool.d);
    } else if (st == HITL_OK) {
        st = hold_out(&pool, a.test_fraction, a.seed, &test, &file_row, &err);
    }
    if (st == HITL_OK) st = count_classes(&pool, &test, &c, &err);
    progress_ctx prog;
    cli_progress_init(&prog.bar, "simulating");
    hitl_experiment_opts eo = {.sim = a.o,
                               .strategies = a.strategies,
                               .n_strategies = a.n_strategies,
                               .seeds = a.seeds,
                               .first_seed = a.seed};
    eo.sim.progress = on_round;
    eo.sim.progress_ctx = &prog;
    if (st == HITL_OK)
        st = hitl_experiment_run(pool.x, pool.n, pool.d, pool.y, c, test.x, test.n, test.y, &eo, &s,
                                 &err);
    cli_progress_done(&prog.bar);
    if (st == HITL_OK && !(out = cli_sim_json(&a, &pool, &test, file_row, c, s, a.n_strategies)))
        st = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    if (st == HITL_OK && a.out)
        st = cli_sim_write(&a, argc, argv, &pool, &test, c, s, a.n_strategies, out, &err);
    if (st == HITL_OK) {
        if (a.json) {
            cli_print_json(out);
            out = NULL;
        } else {
            cli_sim_print(&a, &pool, &test, c, s, a.n_strategies);
            if (a.out)
                printf("wrote %s.json, %s.h5, %s.svg and %s.ipynb\n", a.out, a.out, a.out, a.out);
        }
    }
    json_decref(out);
    hitl_experiment_release(s, s ? a.n_strategies : 0);
    hitl_labelled_release(&pool);
    hitl_labelled_release(&test);
    free(file_row);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail(cmd, st, &err);
}
