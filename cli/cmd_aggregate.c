/* hitl aggregate: one label per item from a store, a ratings file or a rating matrix, by
 * majority vote (ties listed for
 * adjudication, never broken) or by Dawid-Skene EM (annotator confusion matrices, soft labels),
 * printed, as JSON, or written to a CSV. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl aggregate DB|--ratings FILE|--matrix M --method majority|dawid-skene\n"
    "                      [--out FILE.csv] [--labels A,B,...] [--tol X] [--max-iter N]\n"
    "                      [--smoothing X] [--threads N] [--json]\n"
    "\n"
    "One label per labelled item of the store DB (every label in it, the project's classes),\n"
    "of FILE (a CSV with columns item, annotator, label), or of the rating matrix M (FILE.npy\n"
    "or FILE:DSET: a row per item, a column per annotator, class indices 0-126, negative or\n"
    "NaN for no rating; items and annotators are named by index, labels as in hitl agreement).\n"
    "The store is only read: final labels are set by hitl label and hitl adjudicate.\n"
    "  majority      the most frequent label; a tie is never broken: the item is listed for\n"
    "                adjudication (status 'tie', no label)\n"
    "  dawid-skene   EM over per-annotator confusion matrices and class priors (Dawid & Skene\n"
    "                1979), started from each item's vote shares; the label is the most\n"
    "                probable class and the posterior is kept as a soft label\n"
    "\n"
    "options:\n"
    "  DB                 an annotation store (hitl init)\n"
    "  --ratings FILE     the ratings CSV\n"
    "  --matrix M         the rating matrix\n"
    "  --method M         majority or dawid-skene\n"
    "  --out FILE.csv     write one row per item (item,label,status,...; see README)\n"
    "  --labels A,B,...   (FILE, M) the classes (labels outside them are an error; unused\n"
    "                     ones count)\n"
    "  --tol X            EM stops once the log-likelihood changes by at most X times its\n"
    "                     value between iterations (default 1e-6)\n"
    "  --max-iter N       EM iteration cap (default 1000)\n"
    "  --smoothing X      pseudo-count added to every confusion cell and prior (default 0.01)\n"
    "  --threads N        threads (default: all cores); results never depend on it\n"
    "  --json             one JSON object on stdout\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data\n";

typedef struct aggregate_args {
    const char *ratings, *matrix, *out, *labels, *db;
    int ds, method_given, json;
    hitl_ds_opts opts;
    hitl_decided_item *decided; /* a store's items a person decided */
    size_t n_decided;
    hitl_strmap decided_ids; /* their pool ids -> index in decided */
} aggregate_args;

#define MAX_LISTED 20

static int on_method(const char *cmd, const char *v, void *ctx)
{
    aggregate_args *a = ctx;
    if (strcmp(v, "majority") == 0)
        a->ds = 0;
    else if (strcmp(v, "dawid-skene") == 0)
        a->ds = 1;
    else
        return cli_usage_error(cmd, "unknown --method '%s'", v);
    a->method_given = 1;
    return -1;
}

static int parse_args(int argc, char **argv, aggregate_args *a)
{
    const char *cmd = "aggregate";
    size_t max_iter = 0, threads = 0;
    double smoothing = NAN;
    const cli_opt opts[] = {
        CLI_O_STR("ratings", &a->ratings),
        CLI_O_STR("matrix", &a->matrix),
        CLI_O_CALL("method", on_method, a),
        CLI_O_STR("out", &a->out),
        CLI_O_STR("labels", &a->labels),
        CLI_O_NUM_GT("tol", &a->opts.tol, 0, "need X > 0"),
        CLI_O_SIZE("max-iter", &max_iter, 1, 1000000, "1 to 1000000"),
        CLI_O_NUM("smoothing", &smoothing, 0, 0, "need X >= 0"),
        CLI_O_THREADS(&threads),
        CLI_O_FLAG("json", &a->json),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, 1);
    if (rc >= 0) return rc;
    a->opts.max_iter = (int)max_iter;
    a->opts.threads = (int)threads;
    if (!isnan(smoothing)) a->opts.smoothing = smoothing > 0 ? smoothing : -1; /* 0: none */
    if (optind < argc) a->db = argv[optind];
    if ((rc = cli_one_source(cmd, a->db, a->ratings, a->matrix)) >= 0) return rc;
    if (a->db && a->labels)
        return cli_usage_error(cmd, "--labels goes with --ratings (a store has its classes)");
    if (!a->method_given) return cli_usage_error(cmd, "no --method (majority or dawid-skene)");
    return -1;
}

static const char *status_name(hitl_vote_status s)
{
    return s == HITL_VOTE_CLEAR ? "decided" : s == HITL_VOTE_TIE ? "tie" : "none";
}

/* Every label item u got with its count (a tie's competing labels): {"cat": 2, "dog": 2}, and
 * "cat (2), dog (2)" into buf when given. */
static json_t *counts_of(const hitl_ratings_file *rf, size_t u, char *buf, size_t cap)
{
    const hitl_ratings *t = &rf->table;
    json_t *o = json_object();
    size_t len = 0;
    if (buf) buf[0] = '\0';
    for (size_t l = 0; l < rf->n_labels; l++) {
        int n = 0;
        for (int64_t k = t->item_ptr[u]; k < t->item_ptr[u + 1]; k++)
            n += t->label[k] == (int32_t)l;
        if (!n) continue;
        json_object_set_new(o, rf->labels[l], json_integer(n));
        if (buf && len < cap)
            len += (size_t)snprintf(buf + len, cap - len, "%s%s (%d)", len ? ", " : "",
                                    rf->labels[l], n);
    }
    return o;
}

/* The store's decision on item u (NULL: none, or not a store). */
static const hitl_decided_item *decided_at(const aggregate_args *a, const hitl_ratings_file *rf,
                                           size_t u)
{
    int64_t k = a->db ? hitl_strmap_find(&a->decided_ids, rf->items[u], strlen(rf->items[u])) : -1;
    return k >= 0 ? &a->decided[k] : NULL;
}

static void majority_out(const aggregate_args *a, const hitl_ratings_file *rf, const hitl_vote *v,
                         size_t n_ties)
{
    size_t n_none = 0;
    for (size_t u = 0; u < rf->n_items; u++)
        n_none += v[u].status == HITL_VOTE_NONE;
    if (a->json) {
        json_t *items = json_array();
        for (size_t u = 0; u < rf->n_items; u++) {
            json_t *o =
                json_pack("{s:s, s:o, s:s, s:i, s:i, s:o}", "item", rf->items[u], "label",
                          v[u].label >= 0 ? json_string(rf->labels[v[u].label]) : json_null(),
                          "status", status_name(v[u].status), "votes", v[u].votes, "ratings",
                          v[u].n, "counts", counts_of(rf, u, NULL, 0));
            if (a->db) { /* a person's decision stands over the vote */
                const hitl_decided_item *d = decided_at(a, rf, u);
                json_object_set_new(o, "decided",
                                    d ? json_pack("{s:s, s:s, s:s}", "label", rf->labels[d->label],
                                                  "kind", d->kind, "by", d->by)
                                      : json_null());
            }
            json_array_append_new(items, o);
        }
        json_t *root =
            json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}",
                      a->db       ? "store"
                      : a->matrix ? "matrix"
                                  : "ratings",
                      a->ratings, "method", "majority", "n_items", (json_int_t)rf->n_items,
                      "n_decided", (json_int_t)(rf->n_items - n_ties - n_none), "n_ties",
                      (json_int_t)n_ties, "n_unrated", (json_int_t)n_none, "items", items);
        if (a->out) json_object_set_new(root, "out", json_string(a->out));
        cli_print_json(root);
        return;
    }
    printf("%s: %zu items, %zu annotators, %zu ratings\n", a->ratings, rf->n_items,
           rf->n_annotators, rf->table.n_ratings);
    printf("majority vote: %zu decided, %zu tied (left for adjudication, not broken)\n",
           rf->n_items - n_ties - n_none, n_ties);
    if (a->db)
        printf("%zu items decided by a person (adjudicated or overridden): their final label "
               "stands whatever the vote\n",
               a->n_decided);
    if (n_ties) {
        printf("\nties\n%-24s %s\n", "item", "ratings");
        size_t shown = 0;
        for (size_t u = 0; u < rf->n_items && shown < MAX_LISTED; u++) {
            if (v[u].status != HITL_VOTE_TIE) continue;
            const hitl_decided_item *d = decided_at(a, rf, u);
            char buf[256];
            json_decref(counts_of(rf, u, buf, sizeof(buf)));
            printf("%-24s %s", cli_safe(rf->items[u]), buf);
            if (d) printf("  [%s: %s by %s]", d->kind, rf->labels[d->label], cli_safe(d->by));
            putchar('\n');
            shown++;
        }
        if (n_ties > shown)
            printf("... and %zu more%s\n", n_ties - shown, a->out ? "" : " (--out)");
    }
    if (a->out) printf("labels written to %s\n", a->out);
}

/* An annotator's accuracy under the model: sum_k prior_k P(says k | true k). */
static double ds_accuracy(const hitl_ds_result *d, size_t a)
{
    size_t K = d->n_labels;
    double acc = 0;
    for (size_t k = 0; k < K; k++)
        acc += d->prior[k] * d->confusion[a * K * K + k * K + k];
    return acc;
}

static void ds_out(const aggregate_args *a, const hitl_ratings_file *rf, const hitl_ds_result *d)
{
    size_t K = d->n_labels;
    if (a->json) {
        json_t *labels = json_array(), *priors = json_object(), *anns = json_array();
        for (size_t k = 0; k < K; k++) {
            json_array_append_new(labels, json_string(rf->labels[k]));
            json_object_set_new(priors, rf->labels[k], json_real(d->prior[k]));
        }
        for (size_t i = 0; i < d->n_annotators; i++) {
            json_t *conf = json_array();
            for (size_t k = 0; k < K; k++) {
                json_t *row = json_array();
                for (size_t l = 0; l < K; l++)
                    json_array_append_new(row, json_real(d->confusion[(i * K + k) * K + l]));
                json_array_append_new(conf, row);
            }
            json_array_append_new(anns,
                                  json_pack("{s:s, s:f, s:o}", "annotator", rf->annotators[i],
                                            "accuracy", ds_accuracy(d, i), "confusion", conf));
        }
        json_t *items = json_array();
        for (size_t u = 0; u < rf->n_items; u++) {
            json_t *post = json_object();
            for (size_t k = 0; k < K; k++)
                json_object_set_new(post, rf->labels[k], json_real(d->posterior[u * K + k]));
            json_array_append_new(
                items,
                json_pack("{s:s, s:o, s:o}", "item", rf->items[u], "label",
                          d->label[u] >= 0 ? json_string(rf->labels[d->label[u]]) : json_null(),
                          "posterior", post));
        }
        json_t *root =
            json_pack("{s:s, s:s, s:i, s:b, s:f, s:i, s:f, s:f, s:f, s:I, s:o, s:o, s:o, s:o}",
                      a->db       ? "store"
                      : a->matrix ? "matrix"
                                  : "ratings",
                      a->ratings, "method", "dawid-skene", "iterations", d->iterations, "converged",
                      d->converged, "tolerance", d->tol, "max_iter", d->max_iter, "smoothing",
                      d->smoothing, "max_change", d->max_change, "log_likelihood",
                      d->log_likelihood, "n_ties", (json_int_t)d->n_ties, "labels", labels,
                      "priors", priors, "annotators", anns, "items", items);
        if (a->out) json_object_set_new(root, "out", json_string(a->out));
        cli_print_json(root);
        return;
    }
    printf("%s: %zu items, %zu annotators, %zu ratings\n", a->ratings, rf->n_items,
           rf->n_annotators, rf->table.n_ratings);
    if (d->converged)
        printf("dawid-skene: converged after %d iterations (log-likelihood change <= %.2g of "
               "its value; largest posterior change %.2g)\n",
               d->iterations, d->tol, d->max_change);
    else
        printf("dawid-skene: NOT converged: stopped at the cap of %d iterations (log-likelihood "
               "still changing by more than %.2g of its value)\n",
               d->max_iter, d->tol);
    printf("log-likelihood %.6g, smoothing %g per cell, %zu ties\n\nclass priors\n",
           d->log_likelihood, d->smoothing, d->n_ties);
    for (size_t k = 0; k < K; k++)
        printf("  %-16s %.4f\n", rf->labels[k], d->prior[k]);
    printf("\nannotators (accuracy = sum over classes of prior x P(right | class))\n");
    for (size_t i = 0; i < d->n_annotators; i++)
        printf("  %-16s %.4f\n", rf->annotators[i], ds_accuracy(d, i));
    size_t shown = 0;
    printf("\nitems\n%-24s %-16s %9s\n", "item", "label", "posterior");
    for (size_t u = 0; u < rf->n_items && shown < MAX_LISTED; u++, shown++) {
        size_t best = 0;
        for (size_t k = 1; k < K; k++)
            if (d->posterior[u * K + k] > d->posterior[u * K + best]) best = k;
        printf("%-24s %-16s %9.4f\n", rf->items[u],
               d->label[u] >= 0 ? rf->labels[d->label[u]] : "(tie)", d->posterior[u * K + best]);
    }
    if (rf->n_items > shown)
        printf("... and %zu more%s\n", rf->n_items - shown, a->out ? "" : " (--out)");
    if (a->out) printf("labels written to %s\n", a->out);
}

int cmd_aggregate(int argc, char **argv)
{
    aggregate_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    hitl_ratings_file rf;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status st;
    if (a.db) {
        hitl_store *store;
        if ((rc = cli_open_store("aggregate", a.db, &store)) >= 0) return rc;
        st = hitl_store_ratings_file(store, &rf, NULL, &err);
        if (st == HITL_OK &&
            (st = hitl_store_decided(store, &a.decided, &a.n_decided, &err)) != HITL_OK)
            hitl_ratings_file_release(&rf);
        for (size_t i = 0; st == HITL_OK && i < a.n_decided; i++)
            if (hitl_strmap_intern(&a.decided_ids, a.decided[i].pool_id,
                                   strlen(a.decided[i].pool_id)) < 0) {
                st = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
                hitl_ratings_file_release(&rf);
            }
        hitl_store_close(store);
        if (st != HITL_OK) {
            hitl_decided_release(a.decided, a.n_decided);
            hitl_strmap_release(&a.decided_ids);
            return cli_fail("aggregate", st, &err);
        }
        a.ratings = a.db; /* the name printed */
    } else if (a.matrix) {
        hitl_rating_matrix m;
        rc = cli_load_matrix("aggregate", a.matrix, HITL_LEVEL_NOMINAL, a.labels, 1, &m, &rf);
        if (rc >= 0) return rc;
        hitl_rating_matrix_release(&m); /* rf holds its table */
        a.ratings = a.matrix;
    } else {
        rc = cli_load_ratings("aggregate", a.ratings, HITL_LEVEL_NOMINAL, a.labels, &rf);
        if (rc >= 0) return rc;
    }
    if (!a.ds) {
        hitl_vote *v = malloc((rf.n_items ? rf.n_items : 1) * sizeof(*v));
        size_t n_ties = 0;
        st = v ? hitl_majority_vote(&rf.table, v, &n_ties, &err)
               : hitl_error_set(&err, HITL_ENOMEM, "out of memory");
        if (st == HITL_OK && a.out) st = hitl_aggregate_csv_write(a.out, &rf, v, NULL, &err);
        if (st == HITL_OK) majority_out(&a, &rf, v, n_ties);
        free(v);
    } else {
        hitl_ds_result d;
        st = hitl_dawid_skene(&rf.table, &a.opts, &d, &err);
        if (st == HITL_OK) {
            if (a.out) st = hitl_aggregate_csv_write(a.out, &rf, NULL, &d, &err);
            if (st == HITL_OK) ds_out(&a, &rf, &d);
            hitl_ds_result_release(&d);
        }
    }
    hitl_ratings_file_release(&rf);
    hitl_decided_release(a.decided, a.n_decided);
    hitl_strmap_release(&a.decided_ids);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail("aggregate", st, &err);
}
