/* hitl report: writes the HDF5 export next to the notebook, gathers the QA numbers from the
 * store in streaming passes (records, items, labels) and hands them to notebooks-export as plain
 * structs; --html renders the notebook with jupyter nbconvert when it is installed. */
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "cli.h"
#include "hitl_nbexport.h"

extern char **environ;

static const char usage_text[] =
    "usage: hitl report DB --notebook OUT.ipynb [--html] [--export OUT.h5]\n"
    "                  [--final adjudicated|majority|dawid-skene] [--features POOL.h5:DSET]\n"
    "                  [--pool POOL.h5:DSET] [--normalize] [--bins N] [--bootstrap B]\n"
    "                  [--title TEXT] [--actor NAME] [--json]\n"
    "\n"
    "Writes an nbformat 4.5 notebook that reads well unrun: a summary, the review health\n"
    "scorecard as hitl health judges it (status, reasons, approval rates), queue progress,\n"
    "annotator throughput, agreement, the model's calibration on the blind items (accuracy\n"
    "with a Wilson interval, top-label ECE and Brier), a confusion matrix and score\n"
    "histograms, as tables and SVG charts; then code cells that load the HDF5 export with h5py\n"
    "and retrain a scikit-learn logistic regression on the corrected labels.\n"
    "The export is written next to the notebook (OUT.h5, or --export) with the --final rule;\n"
    "--features copies the labelled rows' features into it so the baseline can be retrained.\n"
    "  --pool POOL.h5:DSET  the pool's probabilities: its score histogram next to the queued one\n"
    "  --normalize          the queue used normalized entropy (for --pool)\n"
    "  --bins N             calibration bins, as hitl calibrate's (default 15)\n"
    "  --bootstrap B        resamples for the agreement intervals (default 0: none)\n"
    "  --html               also render OUT.html with jupyter nbconvert, when it is installed\n";

enum {
    O_NOTEBOOK = 256,
    O_HTML,
    O_EXPORT,
    O_FINAL,
    O_FEATURES,
    O_POOL,
    O_NORMALIZE,
    O_BINS,
    O_BOOT,
    O_TITLE,
    O_ACTOR,
    O_JSON,
    O_HELP
};

typedef struct args {
    const char *db, *notebook, *export_path, *features, *pool, *title, *actor;
    hitl_final_rule final;
    int html, json, normalize;
    size_t bins, bootstrap;
} args;

static int parse(int argc, char **argv, args *a)
{
    static const struct option opts[] = {{"notebook", required_argument, NULL, O_NOTEBOOK},
                                         {"html", no_argument, NULL, O_HTML},
                                         {"export", required_argument, NULL, O_EXPORT},
                                         {"final", required_argument, NULL, O_FINAL},
                                         {"features", required_argument, NULL, O_FEATURES},
                                         {"pool", required_argument, NULL, O_POOL},
                                         {"normalize", no_argument, NULL, O_NORMALIZE},
                                         {"bins", required_argument, NULL, O_BINS},
                                         {"bootstrap", required_argument, NULL, O_BOOT},
                                         {"title", required_argument, NULL, O_TITLE},
                                         {"actor", required_argument, NULL, O_ACTOR},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, O_HELP},
                                         {NULL, 0, NULL, 0}};
    const char *cmd = "report";
    int c;
    a->bins = HITL_CALIB_BINS;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_NOTEBOOK:
            a->notebook = optarg;
            break;
        case O_HTML:
            a->html = 1;
            break;
        case O_EXPORT:
            a->export_path = optarg;
            break;
        case O_FINAL:
            if (hitl_final_rule_parse(optarg, &a->final) != HITL_OK)
                return cli_usage_error(
                    cmd, "unknown --final '%s' (adjudicated, majority, dawid-skene)", optarg);
            break;
        case O_FEATURES:
            a->features = optarg;
            break;
        case O_POOL:
            a->pool = optarg;
            break;
        case O_NORMALIZE:
            a->normalize = 1;
            break;
        case O_BINS:
            if (cli_parse_size(optarg, &a->bins) || a->bins < 1 || a->bins > 1000)
                return cli_usage_error(cmd, "bad --bins '%s' (1..1000)", optarg);
            break;
        case O_BOOT:
            if (cli_parse_size(optarg, &a->bootstrap) || a->bootstrap > 100000)
                return cli_usage_error(cmd, "bad --bootstrap '%s' (0..100000)", optarg);
            break;
        case O_TITLE:
            a->title = optarg;
            break;
        case O_ACTOR:
            a->actor = optarg;
            break;
        case O_JSON:
            a->json = 1;
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
    a->db = argv[optind];
    if (!a->notebook || !a->notebook[0]) return cli_usage_error(cmd, "--notebook OUT is required");
    return -1;
}

/* ---- gathering --------------------------------------------------------------------------- */

typedef struct gather {
    size_t c;
    int64_t *confusion;
    hitl_reliability cal;
    hitl_store_throughput *tp;
    size_t n_tp;
    int64_t *scored, *agree; /* per throughput entry */
    /* scores */
    double max_score, min_score;
    char method[32];
    hitl_histogram unc, blind, pool;
} gather;

static size_t find_annotator(const gather *g, const char *name)
{
    size_t lo = 0, hi = g->n_tp;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (strcmp(g->tp[mid].name, name) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < g->n_tp && strcmp(g->tp[lo].name, name) == 0 ? lo : (size_t)-1;
}

static hitl_status scan_records(hitl_store *st, hitl_final_rule rule, gather *g, hitl_error *err)
{
    hitl_records *rc;
    hitl_status s = hitl_records_open(st, rule, NULL, &rc, err);
    if (s != HITL_OK) return s;
    const hitl_record *r;
    while ((s = hitl_records_next(rc, &r, err)) == HITL_OK && r) {
        int known = r->pred >= 0 && (size_t)r->pred < g->c;
        if (known) g->confusion[(size_t)r->label * g->c + (size_t)r->pred]++;
        if (known && r->blind) hitl_reliability_add(&g->cal, r->p1, r->pred == r->label);
        for (int32_t i = 0; i < r->n_labels; i++) {
            size_t k = find_annotator(g, r->annotators[i]);
            if (k == (size_t)-1) continue;
            g->scored[k]++;
            g->agree[k] += r->votes[i] == r->label;
        }
    }
    hitl_records_close(rc);
    return s;
}

static int range_item(void *ctx, const hitl_item_brief *it)
{
    gather *g = ctx;
    if (isfinite(it->score)) {
        if (it->score > g->max_score) g->max_score = it->score;
        if (it->score < g->min_score) g->min_score = it->score;
    }
    if (it->method && !g->method[0]) snprintf(g->method, sizeof(g->method), "%s", it->method);
    return 0;
}

static int fill_item(void *ctx, const hitl_item_brief *it)
{
    gather *g = ctx;
    hitl_histogram_add(it->blind ? &g->blind : &g->unc, it->score);
    return 0;
}

/* The pool's scores with the queue's method, block by block. */
static hitl_status pool_scores(const args *a, gather *g, hitl_error *err)
{
    char *path = NULL;
    const char *dset = NULL;
    if (cli_split_dset(a->pool, &path, &dset))
        return hitl_error_set(err, HITL_EINVAL, "bad --pool '%s' (want POOL.h5:DSET)", a->pool);
    hitl_method m;
    if (hitl_method_parse(g->method, &m) != HITL_OK) m = HITL_METHOD_MARGIN;
    hitl_matrix *mx = NULL;
    hitl_status s = hitl_matrix_open(&mx, path, dset, err);
    free(path);
    if (s != HITL_OK) return s;
    size_t n = hitl_matrix_rows(mx), c = hitl_matrix_cols(mx);
    if (c != g->c) {
        s = hitl_error_set(err, HITL_ESHAPE, "'%s' has %zu classes, the project %zu",
                           hitl_matrix_name(mx), c, g->c);
        hitl_matrix_close(mx);
        return s;
    }
    size_t block = hitl_block_rows(c);
    float *x = malloc(block * c * sizeof(float)), *sc = malloc(block * sizeof(float));
    hitl_score_opts o = {.kind = HITL_INPUT_PROBS,
                         .methods = HITL_METHOD_BIT(m),
                         .renormalize = 1,
                         .normalize_entropy = a->normalize};
    hitl_score_out out = {0};
    out.scores[m] = sc;
    if (!x || !sc) s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t r0 = 0; s == HITL_OK && r0 < n; r0 += block) {
        size_t k = n - r0 < block ? n - r0 : block;
        if ((s = hitl_matrix_read(mx, r0, k, x, err)) != HITL_OK) break;
        if ((s = hitl_scores_compute(&o, x, k, c, (int64_t)r0, &out, NULL, err)) != HITL_OK) break;
        for (size_t i = 0; i < k; i++)
            hitl_histogram_add(&g->pool, sc[i]);
    }
    free(x);
    free(sc);
    hitl_matrix_close(mx);
    return s;
}

/* ---- paths ------------------------------------------------------------------------------- */

/* OUT.ipynb -> OUT.h5 */
static char *default_export(const char *nb)
{
    size_t len = strlen(nb);
    size_t stem = len > 6 && strcmp(nb + len - 6, ".ipynb") == 0 ? len - 6 : len;
    char *p = malloc(stem + 4);
    if (!p) return NULL;
    memcpy(p, nb, stem);
    memcpy(p + stem, ".h5", 4);
    return p;
}

/* The directory of `path`, resolved; caller frees. */
static char *dir_of(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return NULL;
    char *d = realpath(dirname(copy), NULL);
    free(copy);
    return d;
}

/* How the notebook names the export: its bare name when it sits next to the notebook, else its
 * absolute path. Caller frees. */
static char *export_ref(const char *nb, const char *exp)
{
    char *dn = dir_of(nb), *de = dir_of(exp);
    char *out = NULL;
    if (dn && de && strcmp(dn, de) == 0) {
        char *copy = strdup(exp);
        out = copy ? strdup(basename(copy)) : NULL;
        free(copy);
    } else {
        out = realpath(exp, NULL);
    }
    free(dn);
    free(de);
    return out;
}

/* jupyter nbconvert --to html: 0 ok, 1 failed, 2 not installed. */
static int render_html(const char *nb)
{
    char *argv[] = {"jupyter",     "nbconvert", "--to",     "html",
                    "--log-level", "WARN",      (char *)nb, NULL};
    pid_t pid;
    if (posix_spawnp(&pid, "jupyter", NULL, NULL, argv, environ) != 0) return 2;
    int status;
    if (waitpid(pid, &status, 0) < 0) return 1;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    return WIFEXITED(status) && WEXITSTATUS(status) == 127 ? 2 : 1;
}

static double method_max(const char *method, size_t c)
{
    return method && strcmp(method, "entropy") == 0 ? log((double)c) : 1.0;
}

int cmd_report(int argc, char **argv)
{
    const char *cmd = "report";
    args a = {0};
    int rc = parse(argc, argv, &a);
    if (rc >= 0) return rc;
    char *fpath = NULL;
    const char *fdset = NULL;
    if (a.features && cli_split_dset(a.features, &fpath, &fdset))
        return cli_usage_error(cmd, "bad --features '%s' (want POOL.h5:DSET or POOL.npy)",
                               a.features);
    char *exp = a.export_path ? strdup(a.export_path) : default_export(a.notebook);
    hitl_store *st = NULL;
    if (!exp) {
        free(fpath);
        fputs("hitl report: out of memory\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    if ((rc = cli_open_store(cmd, a.db, &st)) >= 0) {
        free(fpath);
        free(exp);
        return rc;
    }
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s;
    hitl_store_settings set = {0};
    hitl_store_stats stats = {0};
    gather g = {0};
    hitl_ratings ratings = {0};
    char **ann_names = NULL;
    size_t n_ann_names = 0;
    hitl_agreement agr = {0};
    int have_agr = 0;
    char agr_note[600] = "";
    char *ref = NULL, *db_abs = NULL, *exp_abs = NULL, *feat_abs = NULL;
    hitl_report_batch *batches = NULL;
    hitl_report_annotator *anns = NULL;
    hitl_export_result res;
    hitl_scorecard sc;
    int have_sc = 0;

    if ((s = hitl_store_settings_get(st, &set, &err)) != HITL_OK) goto out;
    if ((s = hitl_store_stats_get(st, &stats, &err)) != HITL_OK) goto out;
    g.c = set.n_classes;

    /* 1. the export the notebook's code cells read */
    hitl_export_opts eo = {.format = HITL_EXPORT_HDF5,
                           .path = exp,
                           .final = a.final,
                           .features_path = fpath,
                           .features_dset = fdset,
                           .show_prediction = -1,
                           .actor = cli_actor(a.actor)};
    if ((s = hitl_store_export(st, &eo, &res, &err)) != HITL_OK) goto out;

    /* 2. per-record numbers: confusion, calibration on blind items, agreement with the final */
    if ((s = hitl_store_throughput_get(st, &g.tp, &g.n_tp, &err)) != HITL_OK) goto out;
    g.confusion = calloc(g.c * g.c, sizeof(int64_t));
    g.scored = calloc(g.n_tp + 1, sizeof(int64_t));
    g.agree = calloc(g.n_tp + 1, sizeof(int64_t));
    if (!g.confusion || !g.scored || !g.agree) {
        s = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
        goto out;
    }
    if ((s = hitl_reliability_init(&g.cal, a.bins, &err)) != HITL_OK) goto out;
    if ((s = scan_records(st, a.final, &g, &err)) != HITL_OK) goto out;

    /* 3. score histograms of the queue (and the pool) */
    g.max_score = -INFINITY;
    g.min_score = INFINITY;
    if ((s = hitl_store_items_each(st, range_item, &g, &err)) != HITL_OK) goto out;
    double hi = method_max(g.method, g.c);
    if (g.max_score > hi) hi = g.max_score;
    double lo = g.min_score < 0 ? g.min_score : 0;
    if ((s = hitl_histogram_init(&g.unc, lo, hi, 30, &err)) != HITL_OK ||
        (s = hitl_histogram_init(&g.blind, lo, hi, 30, &err)) != HITL_OK ||
        (s = hitl_histogram_init(&g.pool, lo, hi, 30, &err)) != HITL_OK)
        goto out;
    if ((s = hitl_store_items_each(st, fill_item, &g, &err)) != HITL_OK) goto out;
    if (a.pool && (s = pool_scores(&a, &g, &err)) != HITL_OK) goto out;

    /* 4. agreement over every label */
    if ((s = hitl_store_ratings_get(st, &ratings, &ann_names, &n_ann_names, &err)) != HITL_OK)
        goto out;
    hitl_agreement_opts ao = {.level = HITL_LEVEL_NOMINAL, .bootstrap = a.bootstrap};
    hitl_error aerr;
    hitl_error_clear(&aerr);
    if (hitl_agreement_compute(&ratings, &ao, &agr, &aerr) == HITL_OK)
        have_agr = 1;
    else
        snprintf(agr_note, sizeof(agr_note), "%s", aerr.msg);

    /* 5. review health: the scorecard hitl health shows, with the same thresholds */
    if ((s = hitl_store_scorecard(st, NULL, &sc, &err)) != HITL_OK) goto out;
    have_sc = 1;

    /* 6. the notebook */
    batches = calloc(stats.n_batches + 1, sizeof(*batches));
    anns = calloc(g.n_tp + 1, sizeof(*anns));
    if (!batches || !anns) {
        s = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < stats.n_batches; i++)
        batches[i] = (hitl_report_batch){stats.batches[i].batch, stats.batches[i].queued,
                                         stats.batches[i].complete, stats.batches[i].blind};
    for (size_t i = 0; i < g.n_tp; i++)
        anns[i] = (hitl_report_annotator){g.tp[i].name,         g.tp[i].labels, g.tp[i].skips,
                                          g.tp[i].mean_seconds, g.scored[i],    g.agree[i]};
    ref = export_ref(a.notebook, exp);
    db_abs = realpath(a.db, NULL);
    exp_abs = realpath(exp, NULL);
    feat_abs = fpath ? realpath(fpath, NULL) : NULL;
    char command[4096];
    int len =
        snprintf(command, sizeof(command), "hitl export %s --format hdf5 --out %s --final %s",
                 db_abs ? db_abs : a.db, exp_abs ? exp_abs : exp, hitl_final_rule_name(a.final));
    if (fpath && len > 0 && (size_t)len < sizeof(command))
        snprintf(command + len, sizeof(command) - (size_t)len, " --features %s%s%s",
                 feat_abs ? feat_abs : fpath, fdset ? ":" : "", fdset ? fdset : "");
    char now[32], title[512];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *dbcopy = strdup(a.db);
    snprintf(title, sizeof(title), "QA report: %s",
             a.title  ? a.title
             : dbcopy ? basename(dbcopy)
                      : a.db);
    free(dbcopy);
    hitl_report r = {.title = title,
                     .store_path = db_abs ? db_abs : a.db,
                     .generated_at = now,
                     .version = HITL_VERSION,
                     .classes = (const char *const *)set.classes,
                     .n_classes = set.n_classes,
                     .items_queued = stats.items_queued,
                     .items_complete = stats.items_complete,
                     .awaiting_adjudication = stats.awaiting_adjudication,
                     .queue_depth = stats.queue_depth,
                     .labels = stats.labels,
                     .skips = stats.skips,
                     .leases = stats.leases,
                     .batches = batches,
                     .n_batches = stats.n_batches,
                     .annotators = anns,
                     .n_annotators = g.n_tp,
                     .health = &sc.metrics,
                     .health_thresholds = &sc.thresholds,
                     .agreement = have_agr ? &agr : NULL,
                     .agreement_names = (const char *const *)ann_names,
                     .agreement_note = agr_note,
                     .calibration = &g.cal,
                     .confusion = g.confusion,
                     .scores_uncertain = &g.unc,
                     .scores_blind = &g.blind,
                     .scores_pool = a.pool ? &g.pool : NULL,
                     .method = g.method[0] ? g.method : NULL,
                     .export_path = ref ? ref : exp,
                     .export_command = command,
                     .final_rule = hitl_final_rule_name(a.final),
                     .export_has_features = fpath != NULL,
                     .exported = res.counts.records,
                     .ties = res.counts.ties,
                     .pending = res.counts.pending};
    if ((s = hitl_report_write(&r, a.notebook, &err)) != HITL_OK) goto out;
    int html = a.html ? render_html(a.notebook) : -1;
    if (a.json) {
        hitl_reliability_summary cal;
        hitl_reliability_summarize(&g.cal, &cal);
        json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I}", "notebook", a.notebook, "export", exp,
                              "exported", (json_int_t)res.counts.records, "final",
                              hitl_final_rule_name(a.final), "blind_scored", (json_int_t)cal.n);
        json_object_set_new(j, "blind_accuracy", cli_json_real(cal.accuracy));
        json_object_set_new(j, "blind_accuracy_ci",
                            json_pack("[o, o]", cli_json_real(cal.accuracy_ci.lo),
                                      cli_json_real(cal.accuracy_ci.hi)));
        json_object_set_new(j, "n_bins", json_integer((json_int_t)cal.bins));
        json_object_set_new(j, "ece", cli_json_real(cal.ece));
        json_object_set_new(j, "mce", cli_json_real(cal.mce));
        json_object_set_new(j, "brier_top_label", cli_json_real(cal.brier_top_label));
        json_object_set_new(j, "alpha",
                            have_agr ? cli_json_real(agr.coef[HITL_COEF_ALPHA]) : json_null());
        json_object_set_new(j, "health",
                            json_pack("{s:s, s:o}", "status",
                                      hitl_health_status_name(sc.verdict.status), "reasons",
                                      cli_scorecard_reasons_json(&sc)));
        if (a.html)
            json_object_set_new(j, "html",
                                html == 0   ? json_string("written")
                                : html == 2 ? json_string("nbconvert not installed")
                                            : json_string("failed"));
        cli_print_json(j);
    } else {
        printf("wrote %s and its export %s (%lld items, final labels: %s)\n", a.notebook, exp,
               (long long)res.counts.records, hitl_final_rule_name(a.final));
    }
    if (html == 2)
        fprintf(stderr, "hitl report: --html: jupyter nbconvert is not installed; the notebook "
                        "is written\n");
    else if (html == 1) {
        fprintf(stderr, "hitl report: jupyter nbconvert could not render %s\n", a.notebook);
        s = HITL_EIO;
        err.msg[0] = '\0';
        rc = CLI_EXIT_FAILURE;
    }
out:
    free(batches);
    free(anns);
    if (have_sc) hitl_scorecard_release(&sc);
    free(ref);
    free(db_abs);
    free(exp_abs);
    free(feat_abs);
    if (have_agr) hitl_agreement_release(&agr);
    hitl_ratings_release(&ratings);
    hitl_strings_free(ann_names, n_ann_names);
    hitl_histogram_release(&g.unc);
    hitl_histogram_release(&g.blind);
    hitl_histogram_release(&g.pool);
    hitl_reliability_release(&g.cal);
    hitl_store_throughput_free(g.tp, g.n_tp);
    free(g.confusion);
    free(g.scored);
    free(g.agree);
    hitl_store_stats_release(&stats);
    hitl_store_settings_release(&set);
    hitl_store_close(st);
    free(fpath);
    free(exp);
    if (s == HITL_OK) return CLI_EXIT_OK;
    if (rc == CLI_EXIT_FAILURE && !err.msg[0]) return rc;
    return cli_fail(cmd, s, &err);
}
