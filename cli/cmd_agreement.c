/* hitl agreement: inter-rater agreement of a store, a ratings file or a rating matrix (percent
 * agreement, Cohen's kappa per pair, Fleiss, Krippendorff's alpha, Gwet's AC1, Scott's pi,
 * per-label kappa, vs final labels) with seeded bootstrap intervals; printed as tables or one
 * JSON object by cli/agreement_out.c. */
#include <stdlib.h>

#include "agreement.h"

static const char usage_text[] =
    "usage: hitl agreement DB [--level nominal|ordinal|interval|ratio]\n"
    "                      [--weights none|linear|quadratic] [--bootstrap B] [--seed S]\n"
    "                      [--threads N] [--json]\n"
    "       hitl agreement --ratings FILE [same options] [--labels A,B,...] [--final FILE]\n"
    "       hitl agreement --matrix FILE.npy|FILE:DSET [same options] [--labels A,B,...]\n"
    "\n"
    "Chance-corrected agreement between the annotators of the store DB (every label in it, the\n"
    "classes in the project's order, each annotator also against the items' final labels), of\n"
    "FILE, a CSV with a header naming the columns item, annotator and label (one row per\n"
    "rating; any annotator may skip any item), or of a rating matrix: a row per item, a column\n"
    "per annotator, class indices 0-126 (any integer or float type; negative or NaN: no\n"
    "rating), as a .npy file or an HDF5 dataset.\n"
    "\n"
    "  percent agreement    mean over items with 2+ ratings of the share of agreeing pairs\n"
    "  Cohen's kappa        each annotator pair, on the items both rated (--weights)\n"
    "  Fleiss' kappa        when every item has the same number of ratings (else n/a)\n"
    "  Krippendorff's alpha at --level, with missing ratings (Krippendorff 2011)\n"
    "  Gwet's AC1, Scott's pi (Fleiss form with missing ratings, Gwet 2014)\n"
    "  per-label kappa      each label against the rest\n"
    "\n"
    "options:\n"
    "  DB                   an annotation store (hitl init)\n"
    "  --ratings FILE       the ratings CSV\n"
    "  --matrix M           the rating matrix; its labels are named by --labels, else by a\n"
    "                       `classes` attribute (HDF5), else by their indices; annotators by\n"
    "                       column index\n"
    "  --level L            nominal (default), ordinal, interval or ratio (alpha); interval\n"
    "                       and ratio need numeric labels\n"
    "  --weights W          none (default), linear or quadratic Cohen weights on label ranks\n"
    "  --labels A,B,...     (FILE) the classes in order (ordinal order, weights, and any label\n"
    "                       outside them is an error); default: the labels seen, by value\n"
    "                       when all are numbers, else by byte order. (M) the names of\n"
    "                       classes 0, 1, ...; numeric names give the interval and ratio\n"
    "                       levels their values (else the indices are the values)\n"
    "  --final FILE         (FILE) CSV item,label of final labels: each annotator against them\n"
    "  --bootstrap B        resamples of items for 95% percentile intervals (default 1000;\n"
    "                       0: none)\n"
    "  --seed S             bootstrap seed (default 0): the same seed gives the same intervals\n"
    "  --threads N          threads (default: all cores); results never depend on it\n"
    "  --json               one JSON object on stdout instead of tables\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data (the message names the\n"
    "file and the line, or the matrix's row and column)\n";

static int on_level(const char *cmd, const char *v, void *ctx)
{
    if (hitl_level_parse(v, ctx) != HITL_OK) return cli_usage_error(cmd, "unknown --level '%s'", v);
    return -1;
}

static int on_weights(const char *cmd, const char *v, void *ctx)
{
    if (hitl_weights_parse(v, ctx) != HITL_OK)
        return cli_usage_error(cmd, "unknown --weights '%s'", v);
    return -1;
}

static int parse_args(int argc, char **argv, cli_agreement_args *a)
{
    const char *cmd = "agreement";
    size_t seed = 0, threads = 0;
    a->opts.bootstrap = 1000;
    const cli_opt opts[] = {
        CLI_O_STR("ratings", &a->ratings),
        CLI_O_STR("matrix", &a->matrix),
        CLI_O_CALL("level", on_level, &a->opts.level),
        CLI_O_CALL("weights", on_weights, &a->opts.weights),
        CLI_O_STR("labels", &a->labels),
        CLI_O_STR("final", &a->final),
        CLI_O_SIZE("bootstrap", &a->opts.bootstrap, 0, 10000000, "0 to 10000000"),
        CLI_O_SIZE("seed", &seed, 0, 0, NULL),
        CLI_O_THREADS(&threads),
        CLI_O_FLAG("json", &a->json),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, 1);
    if (rc >= 0) return rc;
    a->opts.seed = (uint64_t)seed;
    a->opts.threads = (int)threads;
    if (optind < argc) a->db = argv[optind];
    if ((rc = cli_one_source(cmd, a->db, a->ratings, a->matrix)) >= 0) return rc;
    if (a->matrix && a->final)
        return cli_usage_error(cmd, "--final goes with --ratings (a matrix has no item names)");
    if (a->db && (a->labels || a->final))
        return cli_usage_error(cmd,
                               "--labels and --final go with --ratings (a store has its classes "
                               "and final labels)");
    return -1;
}

/* The measures of a loaded ratings table (from a file or a store), or of the matrix mx when
 * given (rf then only names its annotators and labels), printed. */
static int report(const cli_agreement_args *a, const hitl_ratings_file *rf, const int32_t *final,
                  const hitl_ratings_matrix *mx)
{
    hitl_error err;
    hitl_error_clear(&err);
    hitl_agreement r;
    hitl_agreement_opts o = a->opts;
    o.final_label = final;
    hitl_status st = mx ? hitl_agreement_compute_matrix(mx, &o, &r, &err)
                        : hitl_agreement_compute(&rf->table, &o, &r, &err);
    if (st != HITL_OK) {
        if (mx && st == HITL_EINVAL) st = HITL_EDATA; /* a label past --labels: the data's */
        hitl_error_prefix(&err, "'%s'", cli_agreement_source(a));
        return cli_fail("agreement", st, &err);
    }
    if (a->json)
        cli_agreement_json(a, rf, &r);
    else
        cli_agreement_tables(a, rf, &r);
    hitl_agreement_release(&r);
    return CLI_EXIT_OK;
}

static int from_store(const cli_agreement_args *a)
{
    hitl_store *st;
    int rc = cli_open_store_read("agreement", a->db, &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_ratings_file rf;
    int32_t *final = NULL;
    hitl_status s = hitl_store_ratings_file(st, &rf, &final, &err);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("agreement", s, &err);
    if ((s = cli_class_values(&rf, a->opts.level, &err)) != HITL_OK) {
        hitl_error_prefix(&err, "'%s'", a->db);
        rc = cli_fail("agreement", s, &err);
    } else {
        rc = report(a, &rf, final, NULL);
    }
    free(final);
    hitl_ratings_file_release(&rf);
    return rc;
}

static int from_matrix(const cli_agreement_args *a)
{
    hitl_rating_matrix m;
    hitl_ratings_file rf; /* names only: the counts come from the matrix */
    int rc = cli_load_matrix("agreement", a->matrix, a->opts.level, a->labels, 0, &m, &rf);
    if (rc >= 0) return rc;
    hitl_ratings_matrix mx = {m.m, m.n_items, m.n_annotators, rf.n_labels, rf.table.value};
    rc = report(a, &rf, NULL, &mx);
    hitl_ratings_file_release(&rf);
    hitl_rating_matrix_release(&m);
    return rc;
}

int cmd_agreement(int argc, char **argv)
{
    cli_agreement_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    if (a.db) return from_store(&a);
    if (a.matrix) return from_matrix(&a);
    hitl_ratings_file rf;
    rc = cli_load_ratings("agreement", a.ratings, a.opts.level, a.labels, &rf);
    if (rc >= 0) return rc;
    int32_t *final = NULL;
    if (a.final) {
        hitl_error err;
        hitl_error_clear(&err);
        final = malloc((rf.n_items ? rf.n_items : 1) * sizeof(int32_t));
        hitl_status st = final ? hitl_final_labels_csv_read(a.final, &rf, final, &err)
                               : hitl_error_set(&err, HITL_ENOMEM, "out of memory");
        if (st != HITL_OK) {
            free(final);
            hitl_ratings_file_release(&rf);
            return cli_fail("agreement", st, &err);
        }
    }
    rc = report(&a, &rf, final, NULL);
    free(final);
    hitl_ratings_file_release(&rf);
    return rc;
}
