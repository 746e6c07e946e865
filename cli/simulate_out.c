/* hitl simulate's output: the curves as one JSON object, the table on stdout, and the files
 * under --out PREFIX (PREFIX.json, .h5, .svg and a notebook). The CLI is the only layer that
 * prints; these print and write what cmd_simulate.c computed. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_nbexport.h"
#include "simulate.h"

static json_t *doubles(const double *v, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, cli_json_real(v[i]));
    return a;
}

/* The labelled rows of a run as rows of the features file (file_row: NULL when the same). */
static json_t *file_rows(const int64_t *file_row, const int64_t *rows, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(file_row ? file_row[rows[i]] : rows[i]));
    return a;
}

json_t *cli_sim_json(const cli_sim_args *a, const hitl_labelled *pool, const hitl_labelled *test,
                     const int64_t *file_row, size_t c, const hitl_curve_series *s, size_t ns)
{
    json_t *strategies = json_array();
    for (size_t i = 0; i < ns; i++) {
        const hitl_curve_series *v = &s[i];
        json_t *runs = json_array();
        for (size_t k = 0; k < a->seeds; k++)
            json_array_append_new(
                runs, json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "seed",
                                (json_int_t)(a->seed + k), "accuracy",
                                doubles(v->accuracy + k * v->points, v->points), "label_accuracy",
                                doubles(v->label_accuracy + k * v->points, v->points), "seconds",
                                doubles(v->seconds + k * v->points, v->points), "train_seconds",
                                doubles(v->train_secs + k * v->points, v->points), "select_seconds",
                                doubles(v->select_secs + k * v->points, v->points),
                                "train_iterations", doubles(v->iters + k * v->points, v->points),
                                "rows", file_rows(file_row, v->rows + k * v->cap, v->n_rows[k])));
        json_array_append_new(
            strategies,
            json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "strategy",
                      hitl_strategy_name(v->strategy), "labelled", doubles(v->labelled, v->points),
                      "annotations", doubles(v->annotations, v->points), "accuracy_mean",
                      doubles(v->mean, v->points), "accuracy_sd", doubles(v->sd, v->points),
                      "final_accuracy_mean", cli_json_real(v->final_mean), "final_accuracy_sd",
                      cli_json_real(v->final_sd), "reach_random_final", cli_json_real(v->reach),
                      "median_seconds_per_round", cli_json_real(v->median_seconds), "runs", runs));
    }
    json_t *ann = json_null();
    if (a->o.n_annotators)
        ann = json_pack("{s:o, s:s}", "error_rates", doubles(a->rates, a->o.n_annotators),
                        "aggregate", a->o.dawid_skene ? "dawid-skene" : "majority");
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f, s:o, s:o}", "pool_rows",
                     (json_int_t)pool->n, "test_rows", (json_int_t)test->n, "features",
                     (json_int_t)pool->d, "classes", (json_int_t)c, "seed_labels",
                     (json_int_t)a->o.seed_labels, "batch", (json_int_t)a->o.batch, "rounds",
                     (json_int_t)a->o.rounds, "seeds", (json_int_t)a->seeds, "first_seed",
                     (json_int_t)a->seed, "C", a->o.C, "annotators", ann, "strategies", strategies);
}

void cli_sim_print(const cli_sim_args *a, const hitl_labelled *pool, const hitl_labelled *test,
                   size_t c, const hitl_curve_series *s, size_t ns)
{
    printf("%zu pool rows, %zu test rows, %zu features, %zu classes; %zu seed labels, then %zu "
           "rounds of %zu; %zu seed%s\n",
           pool->n, test->n, pool->d, c, a->o.seed_labels, a->o.rounds, a->o.batch, a->seeds,
           a->seeds == 1 ? "" : "s");
    printf("%-16s %8s %18s %14s %10s\n", "strategy", "labels", "final accuracy", "reach random",
           "s/round");
    const hitl_curve_series *rnd = NULL;
    for (size_t i = 0; i < ns; i++)
        if (s[i].strategy == HITL_STRATEGY_RANDOM) rnd = &s[i];
    for (size_t i = 0; i < ns; i++) {
        const hitl_curve_series *v = &s[i];
        char reach[32] = "-";
        if (rnd && isnan(v->reach))
            snprintf(reach, sizeof(reach), "never");
        else if (v == rnd) /* the first point of its own mean curve at its final mean */
            snprintf(reach, sizeof(reach), "%.0f (base)", v->reach);
        else if (rnd)
            snprintf(reach, sizeof(reach), "%.0f (%+.0f%%)", v->reach,
                     100.0 * (v->reach / rnd->reach - 1.0));
        printf("%-16s %8.0f %11.4f ± %.4f %14s %10.3f\n", hitl_strategy_name(v->strategy),
               v->points ? v->annotations[v->points - 1] : 0.0, v->final_mean, v->final_sd, reach,
               v->median_seconds);
    }
}

/* "hitl" and the arguments (argv[0] is the subcommand), space-separated: the command the
 * notebook names. NULL when out of memory; caller frees. */
static char *command_line(int argc, char **argv)
{
    size_t cl = 8;
    for (int i = 0; i < argc; i++)
        cl += strlen(argv[i]) + 1;
    char *cmdline = malloc(cl);
    if (!cmdline) return NULL;
    size_t at = (size_t)snprintf(cmdline, cl, "hitl");
    for (int i = 0; i < argc; i++)
        at += (size_t)snprintf(cmdline + at, cl - at, " %s", argv[i]);
    return cmdline;
}

/* The simulated annotators in one line ("" without them): their error rates and aggregation. */
static void annotators_text(const cli_sim_args *a, char *ann, size_t cap)
{
    ann[0] = '\0';
    if (!a->o.n_annotators) return;
    size_t at = (size_t)snprintf(ann, cap, "%zu annotators, error rates", a->o.n_annotators);
    for (size_t i = 0; i < a->o.n_annotators && at < cap; i++)
        at += (size_t)snprintf(ann + at, cap - at, "%s %g", i ? "," : "", a->rates[i]);
    if (at < cap)
        snprintf(ann + at, cap - at, "; %s", a->o.dawid_skene ? "Dawid-Skene" : "majority vote");
}

/* PREFIX.ipynb (into path, len bytes): the report of the series ss, reading the curves back from
 * PREFIX.h5 next to it. */
static hitl_status write_notebook(const cli_sim_args *a, int argc, char **argv,
                                  const hitl_labelled *pool, const hitl_labelled *test, size_t c,
                                  const hitl_sim_series *ss, size_t ns, char *path, size_t len,
                                  hitl_error *err)
{
    char *cmdline = command_line(argc, argv);
    if (!cmdline) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    char ann[CLI_SIM_MAX_ANNOTATORS * 8 + 64];
    annotators_text(a, ann, sizeof(ann));
    char when[32];
    time_t now = time(NULL);
    strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    const char *base = strrchr(a->out, '/');
    size_t hl = strlen(base ? base + 1 : a->out) + 4;
    char *h5name = malloc(hl);
    if (!h5name) {
        free(cmdline);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    snprintf(h5name, hl, "%s.h5", base ? base + 1 : a->out);
    hitl_sim_report r = {.title = "hitl learning curves",
                         .generated_at = when,
                         .version = HITL_VERSION,
                         .command = cmdline,
                         .features = a->features,
                         .labels = a->labels,
                         .test = a->test,
                         .n_pool = pool->n,
                         .n_test = test->n,
                         .d = pool->d,
                         .n_classes = c,
                         .seed_labels = a->o.seed_labels,
                         .batch = a->o.batch,
                         .rounds = a->o.rounds,
                         .annotators = a->o.n_annotators ? ann : NULL,
                         .baseline = "random",
                         .series = ss,
                         .n_series = ns,
                         .curves_path = h5name};
    snprintf(path, len, "%s.ipynb", a->out);
    hitl_status st = hitl_sim_report_write(&r, path, err);
    free(h5name);
    free(cmdline);
    return st;
}

hitl_status cli_sim_write(const cli_sim_args *a, int argc, char **argv, const hitl_labelled *pool,
                          const hitl_labelled *test, size_t c, const hitl_curve_series *s,
                          size_t ns, json_t *j, hitl_error *err)
{
    size_t len = strlen(a->out) + 8;
    char *path = malloc(len), *text = NULL, *svg = NULL;
    hitl_curves *cv = calloc(ns, sizeof(*cv));
    hitl_sim_series *ss = calloc(ns, sizeof(*ss));
    uint64_t *seeds = malloc(a->seeds * sizeof(uint64_t));
    hitl_status st = HITL_OK;
    if (!path || !cv || !ss || !seeds) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        goto done;
    }
    for (size_t k = 0; k < a->seeds; k++)
        seeds[k] = a->seed + k;
    for (size_t i = 0; i < ns; i++) {
        cv[i] = (hitl_curves){hitl_strategy_name(s[i].strategy),
                              a->seeds,
                              s[i].points,
                              s[i].labelled,
                              s[i].annotations,
                              s[i].accuracy,
                              s[i].label_accuracy,
                              s[i].seconds};
        ss[i] = (hitl_sim_series){hitl_strategy_name(s[i].strategy),
                                  a->seeds,
                                  s[i].points,
                                  s[i].annotations,
                                  s[i].accuracy,
                                  s[i].seconds};
    }
    if (!(text = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(9)))) {
        st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        goto done;
    }
    snprintf(path, len, "%s.json", a->out);
    if ((st = hitl_text_save(path, text, err)) != HITL_OK) goto done;
    snprintf(path, len, "%s.h5", a->out);
    if ((st = hitl_curves_save(path, cv, ns, seeds, a->seeds, err)) != HITL_OK) goto done;
    if ((st = hitl_svg_curves(ss, ns, "Test accuracy against labels spent", "labels spent", &svg,
                              err)) != HITL_OK)
        goto done;
    snprintf(path, len, "%s.svg", a->out);
    if ((st = hitl_text_save(path, svg, err)) != HITL_OK) goto done;
    st = write_notebook(a, argc, argv, pool, test, c, ss, ns, path, len, err);
done:
    free(path);
    free(text);
    free(svg);
    free(cv);
    free(ss);
    free(seeds);
    return st;
}
