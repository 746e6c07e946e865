/* hitl queue: one uncertainty pass over a pool, then the K most uncertain rows not yet queued
 * plus B rows drawn uniformly (seeded) from the rest, with optional risk routing, into the store
 * in one audited transaction. Blind rows are interleaved at their share of the batch. */
#include <math.h>
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl queue DB --from FILE (--probs DSET | --logits DSET | --features DSET\n"
    "                  --head HEAD.h5)\n"
    "                  --method lc|margin|ratio|entropy|kcenter|margin-kcenter|badge\n"
    "                  --top-k K --blind B\n"
    "                  --seed S [--batch NAME] [--model NAME] [--ids DSET] [--data ITEMS.jsonl]\n"
    "                  [--route high=0.7,medium=0.4] [--out ROUTES.csv] [--normalize]\n"
    "                  [--temperature T] [--actor NAME] [--json]\n"
    "\n"
    "Queues the K most uncertain rows of the pool and B rows drawn uniformly at random (seeded:\n"
    "the same inputs and seed give the same queue) from the rest. Rows already queued or\n"
    "labelled are never queued again. Each entry records why it was queued (uncertain or\n"
    "blind), its score, the method, model, seed and batch; annotators never see why.\n"
    "  --ids DSET       the pool's item ids (int or string dataset); default: the row number\n"
    "  --data FILE      JSON lines, one object per item with an \"id\": the display payload,\n"
    "                   stored with the batch in one transaction (a bad line: neither)\n"
    "  --route h=X,m=Y  risk routing: rows scoring above high need R labels (review), between\n"
    "                   medium and high one label (flag), at or below medium proceed (counted,\n"
    "                   not queued: the model's prediction stands). Without --top-k every free\n"
    "                   row is routed; with it, the K most uncertain.\n"
    "  --out FILE.csv   the routing of every row this run planned, proceed rows included:\n"
    "                   row,id,route,score,pred,p1 (route: review, flag, uncertain, blind,\n"
    "                   proceed), written once the batch is queued\n"
    "  --normalize      entropy divided by ln C (so thresholds are in 0..1)\n"
    "  --method kcenter        K rows spread over the embeddings (k-center greedy from the\n"
    "                          rows already queued), not the K most uncertain\n"
    "  --method margin-kcenter k-center among the --candidates M most uncertain (default 10 K)\n"
    "  --method badge          BADGE: k-means++ (seeded by --seed) over gradient embeddings\n"
    "                          (p - onehot(argmax p)) x [embedding, 1], from the model's\n"
    "                          probabilities (read whole: N x C floats)\n"
    "  --embeddings DSET       the embeddings for k-center and badge (default: the --features\n"
    "                          dataset); read whole: N x D floats in memory\n";

typedef struct queue_args {
    hitl_queue_opts q;
    const char *db;
    int kinds, top_k_given, blind_given, seed_given, json;
    hitl_method method; /* the uncertainty score, recorded beside every pick */
} queue_args;

/* --probs, --logits, --features DSET: what the rows of --from are (one of them). */
static int set_kind(queue_args *a, hitl_pool_kind kind, const char *dset)
{
    a->kinds++;
    a->q.pass.kind = kind;
    a->q.pass.dset = dset;
    return -1;
}

static int on_probs(const char *cmd, const char *v, void *ctx)
{
    (void)cmd;
    return set_kind(ctx, HITL_POOL_PROBS, v);
}

static int on_logits(const char *cmd, const char *v, void *ctx)
{
    (void)cmd;
    return set_kind(ctx, HITL_POOL_LOGITS, v);
}

static int on_features(const char *cmd, const char *v, void *ctx)
{
    (void)cmd;
    return set_kind(ctx, HITL_POOL_FEATURES, v);
}

static int on_method(const char *cmd, const char *v, void *ctx)
{
    queue_args *a = ctx;
    a->q.pick = strcmp(v, "kcenter") == 0          ? HITL_PICK_KCENTER
                : strcmp(v, "margin-kcenter") == 0 ? HITL_PICK_MARGIN_KCENTER
                : strcmp(v, "badge") == 0          ? HITL_PICK_BADGE
                                                   : HITL_PICK_SCORE;
    if (a->q.pick != HITL_PICK_SCORE)
        a->method = HITL_METHOD_MARGIN; /* recorded beside each pick */
    else if (hitl_method_parse(v, &a->method) != HITL_OK)
        return cli_usage_error(cmd, "unknown method '%s'", v);
    return -1;
}

/* "high=0.7,medium=0.4" in either order. */
static int parse_route(const char *s, double *high, double *medium)
{
    int got = 0;
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", s);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        double v;
        if (!eq || cli_parse_float(eq + 1, &v) || v < 0) return -1;
        *eq = '\0';
        if (strcmp(tok, "high") == 0)
            *high = v, got |= 1;
        else if (strcmp(tok, "medium") == 0)
            *medium = v, got |= 2;
        else
            return -1;
    }
    return got == 3 && *medium <= *high ? 0 : -1;
}

static int on_route(const char *cmd, const char *v, void *ctx)
{
    queue_args *a = ctx;
    if (parse_route(v, &a->q.high, &a->q.medium))
        return cli_usage_error(cmd, "bad --route '%s' (want high=X,medium=Y, Y <= X)", v);
    a->q.route = 1;
    return -1;
}

static int parse_args(int argc, char **argv, queue_args *a)
{
    const char *cmd = "queue";
    hitl_score_pass_opts *o = &a->q.pass;
    size_t seed = 0;
    a->method = HITL_METHOD_MARGIN;
    const cli_opt opts[] = {
        CLI_O_STR("from", &o->path),
        CLI_O_CALL("probs", on_probs, a),
        CLI_O_CALL("logits", on_logits, a),
        CLI_O_CALL("features", on_features, a),
        CLI_O_STR("head", &o->head_path),
        CLI_O_CALL("method", on_method, a),
        CLI_O_SIZE_SEEN("top-k", &a->q.top_k, 0, 0, NULL, &a->top_k_given),
        CLI_O_SIZE_SEEN("blind", &a->q.blind, 0, 0, NULL, &a->blind_given),
        CLI_O_SIZE_SEEN("seed", &seed, 0, 0, NULL, &a->seed_given),
        CLI_O_STR("batch", &a->q.batch),
        CLI_O_STR("model", &a->q.model),
        CLI_O_STR("ids", &a->q.ids),
        CLI_O_STR("data", &a->q.data),
        CLI_O_CALL("route", on_route, a),
        CLI_O_STR("out", &a->q.routes_out),
        CLI_O_FLAG("normalize", &o->score.normalize_entropy),
        CLI_O_CALL("temperature", cli_opt_temperature, &o->score.temperature),
        CLI_O_STR("actor", &a->q.actor),
        CLI_O_FLAG("json", &a->json),
        CLI_O_STR("embeddings", &a->q.embeddings),
        CLI_O_SIZE("candidates", &a->q.candidates, 1, 0, "at least 1"),
        CLI_O_END,
    };
    int rc = cli_options(cmd, usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    a->q.seed = seed;
    a->db = argv[optind];
    if (!o->path) return cli_usage_error(cmd, "--from FILE is required");
    if (a->kinds != 1 && !(a->kinds == 0 && hitl_path_is_npy(o->path)))
        return cli_usage_error(cmd, "give one of --probs, --logits, --features");
    if (o->kind == HITL_POOL_FEATURES && !o->head_path)
        return cli_usage_error(cmd, "--features needs --head HEAD.h5");
    if (!a->top_k_given && !a->q.route) return cli_usage_error(cmd, "--top-k K is required");
    if (!a->blind_given) return cli_usage_error(cmd, "--blind B is required (0 for none)");
    if (!a->seed_given)
        return cli_usage_error(cmd, "--seed S is required (queues are reproducible)");
    if (a->q.pick != HITL_PICK_SCORE) {
        const char *what = a->q.pick == HITL_PICK_BADGE ? "badge" : "k-center";
        if (!a->q.embeddings && o->kind == HITL_POOL_FEATURES) a->q.embeddings = o->dset;
        if (!a->q.embeddings)
            return cli_usage_error(cmd, "%s needs --embeddings DSET (or --features)", what);
        if (!a->top_k_given || a->q.route)
            return cli_usage_error(cmd, "%s takes --top-k K and no --route", what);
    }
    const char *inputs[] = {a->db, o->path, o->head_path, a->q.data};
    int rc2 = a->q.routes_out ? cli_out_check(cmd, "--out", a->q.routes_out, inputs, 4) : -1;
    if (rc2 >= 0) return rc2;
    o->score.methods = HITL_METHOD_BIT(a->method);
    o->rank_by = a->method;
    a->q.use_top_k = a->top_k_given;
    a->q.actor = cli_actor(a->q.actor);
    return -1;
}

int cmd_queue(int argc, char **argv)
{
    queue_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    hitl_store *st;
    if ((rc = cli_open_store("queue", a.db, &st)) >= 0) return rc;
    cli_progress prog;
    cli_progress_init(&prog, "scoring");
    a.q.pass.progress = cli_progress_update;
    a.q.pass.progress_ctx = &prog;
    hitl_queue_result r;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_store_queue(st, &a.q, &r, &err);
    cli_progress_done(&prog);
    hitl_store_close(st);
    if (s != HITL_OK) return cli_fail("queue", s, &err);
    if (a.json) {
        json_t *o = json_pack(
            "{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "batch", r.batch, "method",
            r.method, "seed", (json_int_t)a.q.seed, "pool_rows", (json_int_t)r.pool_rows,
            "already_queued", (json_int_t)r.already_queued, "added", (json_int_t)r.added,
            "uncertain", (json_int_t)r.uncertain, "blind", (json_int_t)r.blind, "review",
            (json_int_t)r.review, "flag", (json_int_t)r.flag, "proceed", (json_int_t)r.proceed);
        if (a.q.routes_out) json_object_set_new(o, "out", json_string(a.q.routes_out));
        if (a.q.data) {
            json_object_set_new(o, "data_attached", json_integer((json_int_t)r.data_attached));
            json_object_set_new(o, "data_ignored", json_integer((json_int_t)r.data_ignored));
        }
        cli_print_json(o);
        return CLI_EXIT_OK;
    }
    /* k-center and BADGE choose for spread, not for uncertainty: say so (the method is what
     * every item records) */
    printf("%s: queued %zu items (%zu %s by %s, %zu blind) from %zu rows; %zu were "
           "already queued\n",
           r.batch, r.added, r.uncertain,
           a.q.pick == HITL_PICK_SCORE ? "uncertain" : "spread over the embeddings", r.method,
           r.blind, r.pool_rows, r.already_queued);
    if (a.q.route)
        printf("routing: %zu review (R=%d), %zu flag (1 label), %zu proceed (not queued)\n",
               r.review, r.overlap, r.flag, r.proceed);
    if (a.q.data)
        printf("data: %zu payloads attached, %zu lines for other ids\n", r.data_attached,
               r.data_ignored);
    if (a.q.routes_out) printf("routing of every planned row: %s\n", a.q.routes_out);
    return CLI_EXIT_OK;
}
