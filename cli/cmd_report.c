/* hitl report: the QA notebook of a store. The library gathers the numbers (hitl_report_gather,
 * which writes the HDF5 export first) and notebooks-export writes them; this names the files,
 * hands the numbers over as plain structs, runs jupyter nbconvert for --html and prints. */
#include <libgen.h>
#include <limits.h>
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

/* OUT.ipynb -> OUT.html, as nbconvert names it: the last extension replaced. */
static char *html_of(const char *nb)
{
    const char *slash = strrchr(nb, '/'), *dot = strrchr(nb, '.');
    size_t stem = dot && dot > (slash ? slash + 1 : nb) ? (size_t)(dot - nb) : strlen(nb);
    char *p = malloc(stem + 6);
    if (!p) return NULL;
    memcpy(p, nb, stem);
    memcpy(p + stem, ".html", 6);
    return p;
}

/* The command line's files: owned copies, and how the notebook names them. */
typedef struct report_files {
    const char *db, *notebook, *title;
    char *features, *pool, *exp, *html; /* FEATURES, POOL without :DSET; OUT.h5, OUT.html */
    const char *features_dset, *pool_dset;
    char *ref, *db_abs, *exp_abs, *features_abs; /* filled for the notebook */
    char command[4096], generated_at[32], title_text[512];
} report_files;

static void files_release(report_files *f)
{
    free(f->features);
    free(f->pool);
    free(f->exp);
    free(f->html);
    free(f->ref);
    free(f->db_abs);
    free(f->exp_abs);
    free(f->features_abs);
}

/* The notebook's view of the gathered numbers: every pointer borrowed from d and f, the batch
 * and annotator rows into the caller's arrays (n_batches and n_throughput + 1 of them). */
static hitl_report notebook_of(const hitl_report_data *d, const hitl_report_opts *o,
                               report_files *f, hitl_report_batch *batches,
                               hitl_report_annotator *anns)
{
    const hitl_store_stats *st = &d->stats;
    for (size_t i = 0; i < st->n_batches; i++)
        batches[i] = (hitl_report_batch){st->batches[i].batch, st->batches[i].queued,
                                         st->batches[i].complete, st->batches[i].blind};
    for (size_t i = 0; i < d->n_throughput; i++) {
        const hitl_store_throughput *t = &d->throughput[i];
        anns[i] = (hitl_report_annotator){t->name,         t->labels,    t->skips,
                                          t->mean_seconds, d->scored[i], d->agree[i]};
    }
    f->ref = export_ref(f->notebook, f->exp);
    f->db_abs = realpath(f->db, NULL);
    f->exp_abs = realpath(f->exp, NULL);
    f->features_abs = f->features ? realpath(f->features, NULL) : NULL;
    int len =
        snprintf(f->command, sizeof(f->command), "hitl export %s --format hdf5 --out %s --final %s",
                 f->db_abs ? f->db_abs : f->db, f->exp_abs ? f->exp_abs : f->exp,
                 hitl_final_rule_name(o->final));
    if (f->features && len > 0 && (size_t)len < sizeof(f->command))
        snprintf(f->command + len, sizeof(f->command) - (size_t)len, " --features %s%s%s",
                 f->features_abs ? f->features_abs : f->features, f->features_dset ? ":" : "",
                 f->features_dset ? f->features_dset : "");
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(f->generated_at, sizeof(f->generated_at), "%Y-%m-%dT%H:%M:%SZ", &tm);
    char *dbcopy = strdup(f->db);
    snprintf(f->title_text, sizeof(f->title_text), "QA report: %s",
             f->title ? f->title
             : dbcopy ? basename(dbcopy)
                      : f->db);
    free(dbcopy);
    const hitl_scorecard *sc = &d->scorecard;
    return (hitl_report){.title = f->title_text,
                         .store_path = f->db_abs ? f->db_abs : f->db,
                         .generated_at = f->generated_at,
                         .version = HITL_VERSION,
                         .classes = (const char *const *)d->settings.classes,
                         .n_classes = d->settings.n_classes,
                         .items_queued = st->items_queued,
                         .items_complete = st->items_complete,
                         .awaiting_adjudication = st->awaiting_adjudication,
                         .queue_depth = st->queue_depth,
                         .labels = st->labels,
                         .skips = st->skips,
                         .leases = st->leases,
                         .batches = batches,
                         .n_batches = st->n_batches,
                         .annotators = anns,
                         .n_annotators = d->n_throughput,
                         .health = &sc->metrics,
                         .health_thresholds = &sc->thresholds,
                         .agreement = d->has_agreement ? &d->agreement : NULL,
                         .agreement_names = (const char *const *)d->agreement_names,
                         .agreement_note = d->agreement_note,
                         .calibration = &d->calibration,
                         .confusion = d->confusion,
                         .scores_uncertain = &d->scores_uncertain,
                         .scores_blind = &d->scores_blind,
                         .scores_pool = d->has_pool ? &d->scores_pool : NULL,
                         .method = d->method[0] ? d->method : NULL,
                         .export_path = f->ref ? f->ref : f->exp,
                         .export_command = f->command,
                         .final_rule = hitl_final_rule_name(o->final),
                         .export_has_features = f->features != NULL,
                         .exported = d->exported.counts.records,
                         .ties = d->exported.counts.ties,
                         .pending = d->exported.counts.pending};
}

/* html: -1 not asked, else render_html's answer */
static void print_json(const hitl_report_data *d, const hitl_report_opts *o, const report_files *f,
                       int html)
{
    hitl_reliability_summary cal;
    hitl_reliability_summarize(&d->calibration, &cal);
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:I}", "notebook", f->notebook, "export", f->exp,
                          "exported", (json_int_t)d->exported.counts.records, "final",
                          hitl_final_rule_name(o->final), "blind_scored", (json_int_t)cal.n);
    json_object_set_new(j, "blind_accuracy", cli_json_real(cal.accuracy));
    json_object_set_new(
        j, "blind_accuracy_ci",
        json_pack("[o, o]", cli_json_real(cal.accuracy_ci.lo), cli_json_real(cal.accuracy_ci.hi)));
    json_object_set_new(j, "n_bins", json_integer((json_int_t)cal.bins));
    json_object_set_new(j, "ece", cli_json_real(cal.ece));
    json_object_set_new(j, "mce", cli_json_real(cal.mce));
    json_object_set_new(j, "brier_top_label", cli_json_real(cal.brier_top_label));
    json_object_set_new(j, "alpha",
                        d->has_agreement ? cli_json_real(d->agreement.coef[HITL_COEF_ALPHA])
                                         : json_null());
    json_object_set_new(j, "health",
                        json_pack("{s:s, s:o}", "status",
                                  hitl_health_status_name(d->scorecard.verdict.status), "reasons",
                                  hitl_scorecard_reasons_json(&d->scorecard)));
    if (html >= 0)
        json_object_set_new(j, "html",
                            html == 0   ? json_string("written")
                            : html == 2 ? json_string("nbconvert not installed")
                                        : json_string("failed"));
    cli_print_json(j);
}

/* The files named, checked against the inputs; -1 to go on, else the exit code (printed). */
static int name_files(const char *cmd, const char *features, const char *pool,
                      const char *export_arg, int html, report_files *f)
{
    if (features && cli_split_dset(features, &f->features, &f->features_dset))
        return cli_usage_error(cmd, "bad --features '%s' (want POOL.h5:DSET or POOL.npy)",
                               features);
    if (pool && cli_split_dset(pool, &f->pool, &f->pool_dset))
        return cli_usage_error(cmd, "bad --pool '%s' (want POOL.h5:DSET)", pool);
    f->exp = export_arg ? strdup(export_arg) : default_export(f->notebook);
    if (html) f->html = html_of(f->notebook);
    if (!f->exp || (html && !f->html)) {
        fputs("hitl report: out of memory\n", stderr);
        return CLI_EXIT_FAILURE;
    }
    /* every output, before anything is written: none may name the store or an input */
    const char *inputs[] = {f->db, f->features, f->pool};
    int rc = cli_out_check(cmd, "--notebook", f->notebook, inputs, 3);
    if (rc < 0) rc = cli_out_check(cmd, "--export", f->exp, inputs, 3);
    if (rc < 0 && html) rc = cli_out_check(cmd, "--html", f->html, inputs, 3);
    return rc;
}

int cmd_report(int argc, char **argv)
{
    const char *cmd = "report", *features = NULL, *pool = NULL, *export_arg = NULL, *actor = NULL;
    report_files f = {0};
    hitl_report_opts o = {.bins = HITL_CALIB_BINS};
    int html = 0, json = 0;
    const cli_opt opts[] = {CLI_O_STR("notebook", &f.notebook),
                            CLI_O_FLAG("html", &html),
                            CLI_O_STR("export", &export_arg),
                            CLI_O_CALL("final", cli_opt_final, &o.final),
                            CLI_O_STR("features", &features),
                            CLI_O_STR("pool", &pool),
                            CLI_O_FLAG("normalize", &o.normalize_entropy),
                            CLI_O_SIZE("bins", &o.bins, 1, 1000, "1..1000"),
                            CLI_O_SIZE("bootstrap", &o.bootstrap, 0, 100000, "0..100000"),
                            CLI_O_STR("title", &f.title),
                            CLI_O_STR("actor", &actor),
                            CLI_O_FLAG("json", &json),
                            CLI_O_END};
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    f.db = argv[optind];
    if (!f.notebook) return cli_usage_error(cmd, "--notebook OUT is required");
    hitl_store *st = NULL;
    /* opened for writing: the report's export is audited like any export */
    if ((rc = name_files(cmd, features, pool, export_arg, html, &f)) >= 0 ||
        (rc = cli_open_store(cmd, f.db, &st)) >= 0) {
        files_release(&f);
        return rc;
    }
    o.export_path = f.exp;
    o.features_path = f.features;
    o.features_dset = f.features_dset;
    o.pool_path = f.pool;
    o.pool_dset = f.pool_dset;
    o.actor = cli_actor(actor);
    hitl_error err;
    hitl_error_clear(&err);
    hitl_report_data d;
    hitl_status s = hitl_report_gather(st, &o, &d, &err);
    hitl_store_close(st);
    if (s != HITL_OK) {
        files_release(&f);
        return cli_fail(cmd, s, &err);
    }
    hitl_report_batch *batches = calloc(d.stats.n_batches + 1, sizeof(*batches));
    hitl_report_annotator *anns = calloc(d.n_throughput + 1, sizeof(*anns));
    if (!batches || !anns) {
        s = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    } else {
        hitl_report r = notebook_of(&d, &o, &f, batches, anns);
        s = hitl_report_write(&r, f.notebook, &err);
    }
    rc = s == HITL_OK ? CLI_EXIT_OK : cli_fail(cmd, s, &err);
    int rendered = s == HITL_OK && html ? render_html(f.notebook) : -1;
    if (s == HITL_OK && json)
        print_json(&d, &o, &f, rendered);
    else if (s == HITL_OK)
        printf("wrote %s and its export %s (%lld items, final labels: %s)\n", f.notebook, f.exp,
               (long long)d.exported.counts.records, hitl_final_rule_name(o.final));
    if (rendered == 2) {
        fprintf(stderr, "hitl report: --html: jupyter nbconvert is not installed; the notebook "
                        "is written\n");
    } else if (rendered == 1) {
        fprintf(stderr, "hitl report: jupyter nbconvert could not render %s\n", f.notebook);
        rc = CLI_EXIT_FAILURE;
    }
    free(batches);
    free(anns);
    hitl_report_data_release(&d);
    files_release(&f);
    return rc;
}
