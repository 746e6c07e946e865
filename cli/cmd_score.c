/* hitl score: one streaming uncertainty pass over a pool of model outputs (probabilities,
 * logits, or embeddings through a linear head), printing the top-k and the rows above a
 * threshold as a table or one JSON object, and optionally every score to an HDF5 file. */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl score FILE... (--probs DSET | --logits DSET | --features DSET --head HEAD.h5)\n"
    "                  [--method lc|margin|ratio|entropy|all] [--rank-by METHOD] [--top-k K]\n"
    "                  [--threshold X] [--ids DSET] [--classes A,B,...] [--out OUT.h5] [--json]\n"
    "\n"
    "Scores every row of FILE (HDF5, or .npy where no DSET is named) in one streaming pass and\n"
    "lists the most uncertain rows. Several files (HDF5 each holding DSET, or .npy) are shards\n"
    "of one pool: their rows are numbered across them in the order given, --ids names each\n"
    "file's own dataset, and the top-k is one over them all. Every score is higher for more\n"
    "uncertain rows:\n"
    "  lc = 1 - p1, margin = 1 - (p1 - p2), ratio = p2 / p1, entropy = -sum p ln p (nats)\n"
    "\n"
    "input:\n"
    "  --probs DSET        rows are probabilities (the default for .npy files)\n"
    "  --logits DSET       rows are logits (stable log-softmax; never materialised)\n"
    "  --features DSET     rows are embeddings; logits = X W + b with --head\n"
    "  --head HEAD.h5      linear head: /W float32 [D, C], /b [C], root attribute 'classes'\n"
    "  --temperature T     logits / T before the softmax (default 1)\n"
    "  --renormalize       rescale rows whose probabilities do not sum to 1; skip (and count)\n"
    "                      rows with NaN, Inf or negative values instead of failing\n"
    "scores:\n"
    "  --method M          lc, margin, ratio, entropy, or all (one pass; default margin)\n"
    "  --rank-by M         the method that ranks the top-k and the threshold (default: margin,\n"
    "                      or the one --method names)\n"
    "  --normalize         divide entropy by ln C (0..1)\n"
    "  --top-k K           rows to list, most uncertain first (default 10; ties to lower row)\n"
    "  --threshold X       also list every row whose score is above X (risk routing)\n"
    "output:\n"
    "  --ids DSET          the rows' ids (int or string dataset in FILE) to print\n"
    "  --classes A,B,...   class names (default: the 'classes' attribute, else indices)\n"
    "  --out OUT.h5        write /scores/<method> (float32 [N]), /pred (int32 [N], the\n"
    "                      predicted class, -1 for a skipped row), /p1 (float32 [N]), /ids\n"
    "                      (with --ids: the pool's ids, copied) and /top/<method> (int64)\n"
    "  --json              one JSON object on stdout instead of a table\n"
    "  --threads N         threads (default: all cores); results never depend on it\n"
    "  --block-rows N      rows read per block (default: about 1 MiB)\n"
    "\n"
    "Under mpirun or srun (hitl-data built with -DHITL_MPI=ON) the ranks split the rows and\n"
    "rank 0 reports the one-process result; see the README.\n"
    "\n"
    "exit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data (the message names the\n"
    "file, the dataset and, for bad values, the row)\n";

typedef struct score_args {
    hitl_score_pass_opts pass;
    int kind_given, all_methods, json, rank_given;
    const char *ids, *classes;
    const char *dset; /* from --probs=DSET or the second positional */
} score_args;

/* --probs, --logits, --features: what the rows are, with the dataset as --KIND=DSET or as the
 * second positional argument. */
static int set_kind(const char *cmd, score_args *a, hitl_pool_kind kind, const char *dset)
{
    if (a->kind_given)
        return cli_usage_error(cmd, "give only one of --probs, --logits, --features");
    a->kind_given = 1;
    a->pass.kind = kind;
    if (dset) a->dset = dset;
    return -1;
}

static int on_probs(const char *cmd, const char *v, void *ctx)
{
    return set_kind(cmd, ctx, HITL_POOL_PROBS, v);
}

static int on_logits(const char *cmd, const char *v, void *ctx)
{
    return set_kind(cmd, ctx, HITL_POOL_LOGITS, v);
}

static int on_features(const char *cmd, const char *v, void *ctx)
{
    return set_kind(cmd, ctx, HITL_POOL_FEATURES, v);
}

static int on_method(const char *cmd, const char *v, void *ctx)
{
    score_args *a = ctx;
    hitl_method m;
    if (strcmp(v, "all") == 0) {
        a->all_methods = 1;
        a->pass.score.methods = HITL_METHODS_ALL;
    } else if (hitl_method_parse(v, &m) == HITL_OK) {
        a->all_methods = 0;
        a->pass.score.methods = HITL_METHOD_BIT(m);
        if (!a->rank_given) a->pass.rank_by = m;
    } else {
        return cli_usage_error(cmd, "unknown method '%s'", v);
    }
    return -1;
}

static int on_rank_by(const char *cmd, const char *v, void *ctx)
{
    score_args *a = ctx;
    if (hitl_method_parse(v, &a->pass.rank_by) != HITL_OK)
        return cli_usage_error(cmd, "unknown method '%s' for --rank-by", v);
    a->rank_given = 1;
    return -1;
}

/* Parses argv into *a; returns -1 to go on, else the exit code. */
static int parse_args(int argc, char **argv, score_args *a)
{
    const char *cmd = "score";
    hitl_score_pass_opts *o = &a->pass;
    o->score.methods = HITL_METHOD_BIT(HITL_METHOD_MARGIN);
    o->rank_by = HITL_METHOD_MARGIN;
    o->top_k = 10;
    int top_k_given = 0;
    size_t threads = 0;
    double threshold = NAN;
    const cli_opt opts[] = {
        CLI_O_CALL_OPTARG("probs", on_probs, a),
        CLI_O_CALL_OPTARG("logits", on_logits, a),
        CLI_O_CALL_OPTARG("features", on_features, a),
        CLI_O_STR("head", &o->head_path),
        CLI_O_CALL("method", on_method, a),
        CLI_O_CALL("rank-by", on_rank_by, a),
        CLI_O_SIZE_SEEN("top-k", &o->top_k, 0, 0, NULL, &top_k_given),
        CLI_O_NUM("threshold", &threshold, -HUGE_VAL, -HUGE_VAL, NULL), /* any number */
        CLI_O_STR("ids", &a->ids),
        CLI_O_STR("classes", &a->classes),
        CLI_O_STR("out", &o->out_path),
        CLI_O_FLAG("json", &a->json),
        CLI_O_CALL("temperature", cli_opt_temperature, &o->score.temperature),
        CLI_O_FLAG("renormalize", &o->score.renormalize),
        CLI_O_FLAG("normalize", &o->score.normalize_entropy),
        CLI_O_THREADS(&threads),
        CLI_O_SIZE("block-rows", &o->block_rows, 1, 0, "at least 1"),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 0, -1);
    if (rc >= 0) return rc;
    o->threads = (int)threads;
    if (!isnan(threshold)) {
        o->use_threshold = 1;
        o->threshold = (float)threshold;
    }
    int npos = argc - optind;
    if (npos < 1) return cli_usage_error(cmd, "no input file");
    o->path = argv[optind];
    if (npos >= 2 && !a->dset && a->kind_given && !hitl_path_is_npy(o->path))
        a->dset = argv[optind + --npos]; /* FILE... DSET: the dataset named after --probs */
    if (npos >= 2) { /* shards of one pool, rows numbered across them in order */
        o->shards = (const char *const *)argv + optind;
        o->n_shards = (size_t)npos;
        for (int i = 1; i < npos; i++)
            if (hitl_path_is_npy(argv[optind + i]) != hitl_path_is_npy(o->path))
                return cli_usage_error(cmd, "shards are all .npy or all HDF5 ('%s')",
                                       argv[optind + i]);
    }
    if (hitl_path_is_npy(o->path)) {
        if (a->dset) return cli_usage_error(cmd, "a .npy file holds one array: name no dataset");
    } else if (!a->dset) {
        return cli_usage_error(cmd, "name the dataset: --probs DSET, --logits DSET or "
                                    "--features DSET");
    }
    o->dset = a->dset;
    if (o->kind == HITL_POOL_FEATURES && !o->head_path)
        return cli_usage_error(cmd, "--features needs --head HEAD.h5");
    if (o->kind != HITL_POOL_FEATURES && o->head_path)
        return cli_usage_error(cmd, "--head goes with --features");
    if (!(o->score.methods & HITL_METHOD_BIT(o->rank_by)))
        return cli_usage_error(cmd, "--rank-by %s is not computed by --method",
                               hitl_method_name(o->rank_by));
    if (o->use_threshold && !top_k_given) o->top_k = 0;
    o->ids_dset = a->ids; /* copied to --out's /ids */
    return -1;
}

/* The ids of every listed row, read once. */
static json_t *id_json(const hitl_ids *ids, size_t i, int64_t row)
{
    if (!ids->n) return json_integer(row);
    return ids->is_string ? json_string(ids->strs[i]) : json_integer(ids->ints[i]);
}

static json_t *pred_json(char **names, size_t n_names, int32_t pred)
{
    if (pred < 0) return json_null();
    return (size_t)pred < n_names ? json_string(names[pred]) : json_integer(pred);
}

static json_t *rows_json(const hitl_scored *v, size_t n, const hitl_ids *ids, size_t id0,
                         char **names, size_t n_names)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_object();
        json_object_set_new(o, "row", json_integer(v[i].row));
        json_object_set_new(o, "id", id_json(ids, id0 + i, v[i].row));
        json_object_set_new(o, "score", json_real(v[i].score));
        json_object_set_new(o, "pred", pred_json(names, n_names, v[i].pred));
        json_object_set_new(o, "p1", json_real(v[i].p1));
        json_array_append_new(arr, o);
    }
    return arr;
}

static void print_rows(const char *title, const hitl_scored *v, size_t n, const hitl_ids *ids,
                       size_t id0, char **names, size_t n_names)
{
    printf("%s\n%6s %10s  %-16s %10s  %-10s %8s\n", title, "rank", "row", "id", "score", "pred",
           "p1");
    for (size_t i = 0; i < n; i++) {
        char id[256], pred[256];
        if (!ids->n)
            snprintf(id, sizeof(id), "%lld", (long long)v[i].row);
        else if (ids->is_string)
            snprintf(id, sizeof(id), "%s", ids->strs[id0 + i]);
        else
            snprintf(id, sizeof(id), "%lld", (long long)ids->ints[id0 + i]);
        if (v[i].pred >= 0 && (size_t)v[i].pred < n_names)
            snprintf(pred, sizeof(pred), "%s", names[v[i].pred]);
        else
            snprintf(pred, sizeof(pred), "%d", v[i].pred);
        printf("%6zu %10lld  ", i + 1, (long long)v[i].row);
        cli_put_col(id, 16);
        printf(" %10.6f  ", v[i].score);
        cli_put_col(pred, 10);
        printf(" %8.6f\n", v[i].p1);
    }
}

static void print_json(const score_args *a, const hitl_score_pass_result *r, const hitl_ids *ids,
                       char **names, size_t n_names)
{
    const hitl_score_pass_opts *o = &a->pass;
    hitl_method rb = o->rank_by;
    json_t *root = json_object();
    json_object_set_new(root, "method", json_string(hitl_method_name(rb)));
    json_t *methods = json_array();
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        if (o->score.methods & HITL_METHOD_BIT(m))
            json_array_append_new(methods, json_string(hitl_method_name(m)));
    json_object_set_new(root, "methods", methods);
    json_object_set_new(root, "n_rows", json_integer((json_int_t)r->n_rows));
    json_object_set_new(root, "n_classes", json_integer((json_int_t)r->n_classes));
    json_object_set_new(root, "n_skipped", json_integer((json_int_t)r->n_skipped));
    json_object_set_new(root, "top", rows_json(r->top[rb], r->n_top[rb], ids, 0, names, n_names));
    if (o->use_threshold) {
        json_object_set_new(root, "threshold", json_real(o->threshold));
        json_object_set_new(root, "n_above", json_integer((json_int_t)r->above.n));
        json_object_set_new(root, "above",
                            rows_json(r->above.v, r->above.n, ids, r->n_top[rb], names, n_names));
    }
    if (o->out_path) json_object_set_new(root, "out", json_string(o->out_path));
    json_dumpf(root, stdout, JSON_INDENT(0) | JSON_COMPACT | JSON_REAL_PRECISION(9));
    fputc('\n', stdout);
    json_decref(root);
}

/* The pass and its report; under MPI every rank runs it and rank 0 alone reports. */
static int score_run(score_args a, int rank)
{
    hitl_error err;
    hitl_error_clear(&err);
    char **cli_names = NULL;
    size_t n_cli_names = 0;
    if (a.classes && hitl_strings_split(a.classes, &cli_names, &n_cli_names, &err) != HITL_OK)
        return cli_usage_error("score", "bad --classes '%s'", a.classes);

    cli_progress prog;
    cli_progress_init(&prog, "scoring");
    a.pass.progress = rank == 0 ? cli_progress_update : NULL;
    a.pass.progress_ctx = &prog;
    hitl_score_pass_result r;
    hitl_status st = hitl_score_pass(&a.pass, &r, &err);
    cli_progress_done(&prog);
    if (st != HITL_OK) {
        hitl_strings_free(cli_names, n_cli_names);
        return rank == 0 ? cli_fail("score", st, &err) : cli_exit_code(st);
    }
    if (rank != 0) { /* the same result as rank 0's, which reports it */
        hitl_score_pass_result_release(&r);
        hitl_strings_free(cli_names, n_cli_names);
        return CLI_EXIT_OK;
    }
    char **names = cli_names ? cli_names : r.classes;
    size_t n_names = cli_names ? n_cli_names : r.n_classes_named;
    if (cli_names && n_cli_names != r.n_classes) {
        hitl_error_set(&err, HITL_ESHAPE, "--classes names %zu classes but the data has %zu",
                       n_cli_names, r.n_classes);
        st = HITL_ESHAPE;
        goto out;
    }
    hitl_method rb = a.pass.rank_by;
    hitl_ids ids = {0};
    if (a.ids && (st = hitl_score_ids(&a.pass, a.ids, &r, &ids, &err)) != HITL_OK) goto out;
    if (r.n_skipped)
        fprintf(stderr, "hitl score: skipped %zu invalid rows (first: row %lld)\n", r.n_skipped,
                (long long)r.first_skipped);
    if (a.json) {
        print_json(&a, &r, &ids, names, n_names);
    } else {
        printf("%zu rows x %zu classes, ranked by %s\n", r.n_rows, r.n_classes,
               hitl_method_name(rb));
        if (a.pass.top_k) {
            char title[64];
            snprintf(title, sizeof(title), "top %zu", r.n_top[rb]);
            print_rows(title, r.top[rb], r.n_top[rb], &ids, 0, names, n_names);
        }
        if (a.pass.use_threshold) {
            char title[96];
            snprintf(title, sizeof(title), "%zu rows with %s above %g", r.above.n,
                     hitl_method_name(rb), a.pass.threshold);
            print_rows(title, r.above.v, r.above.n, &ids, r.n_top[rb], names, n_names);
        }
        if (a.pass.out_path) printf("scores written to %s\n", a.pass.out_path);
    }
    hitl_ids_release(&ids);
out:
    hitl_score_pass_result_release(&r);
    hitl_strings_free(cli_names, n_cli_names);
    return st == HITL_OK ? CLI_EXIT_OK : cli_fail("score", st, &err);
}

int cmd_score(int argc, char **argv)
{
    score_args a = {0};
    cli_mpi_quiet_followers();
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    int rank = 0;
    if ((rc = cli_mpi_begin("score", &rank, &a.pass.mpi)) >= 0) return rc;
    rc = score_run(a, rank);
    hitl_mpi_stop();
    return rc;
}
