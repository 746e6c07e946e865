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
    "                  [--route high=0.7,medium=0.4] [--normalize] [--temperature T]\n"
    "                  [--actor NAME] [--json]\n"
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
    "                   not queued). Without --top-k every row above medium is a candidate.\n"
    "  --normalize      entropy divided by ln C (so thresholds are in 0..1)\n"
    "  --method kcenter        K rows spread over the embeddings (k-center greedy from the\n"
    "                          rows already queued), not the K most uncertain\n"
    "  --method margin-kcenter k-center among the --candidates M most uncertain (default 10 K)\n"
    "  --method badge          BADGE: k-means++ (seeded by --seed) over gradient embeddings\n"
    "                          (p - onehot(argmax p)) x [embedding, 1], from the model's\n"
    "                          probabilities (read whole: N x C floats)\n"
    "  --embeddings DSET       the embeddings for k-center and badge (default: the --features\n"
    "                          dataset); read whole: N x D floats in memory\n";

enum {
    O_FROM = 256,
    O_PROBS,
    O_LOGITS,
    O_FEATURES,
    O_HEAD,
    O_METHOD,
    O_TOPK,
    O_BLIND,
    O_SEED,
    O_BATCH,
    O_MODEL,
    O_IDS,
    O_DATA,
    O_ROUTE,
    O_NORMALIZE,
    O_TEMP,
    O_ACTOR,
    O_JSON,
    O_HELP,
    O_EMBED,
    O_CANDIDATES
};

static const struct option long_opts[] = {{"from", required_argument, NULL, O_FROM},
                                          {"probs", required_argument, NULL, O_PROBS},
                                          {"logits", required_argument, NULL, O_LOGITS},
                                          {"features", required_argument, NULL, O_FEATURES},
                                          {"head", required_argument, NULL, O_HEAD},
                                          {"method", required_argument, NULL, O_METHOD},
                                          {"top-k", required_argument, NULL, O_TOPK},
                                          {"blind", required_argument, NULL, O_BLIND},
                                          {"seed", required_argument, NULL, O_SEED},
                                          {"batch", required_argument, NULL, O_BATCH},
                                          {"model", required_argument, NULL, O_MODEL},
                                          {"ids", required_argument, NULL, O_IDS},
                                          {"data", required_argument, NULL, O_DATA},
                                          {"route", required_argument, NULL, O_ROUTE},
                                          {"normalize", no_argument, NULL, O_NORMALIZE},
                                          {"temperature", required_argument, NULL, O_TEMP},
                                          {"actor", required_argument, NULL, O_ACTOR},
                                          {"json", no_argument, NULL, O_JSON},
                                          {"help", no_argument, NULL, O_HELP},
                                          {"embeddings", required_argument, NULL, O_EMBED},
                                          {"candidates", required_argument, NULL, O_CANDIDATES},
                                          {NULL, 0, NULL, 0}};

typedef struct queue_args {
    hitl_queue_opts q;
    const char *db;
    int top_k_given, blind_given, seed_given, json;
} queue_args;

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

static int parse_args(int argc, char **argv, queue_args *a)
{
    const char *cmd = "queue";
    hitl_score_pass_opts *o = &a->q.pass;
    int c, kinds = 0;
    hitl_method m = HITL_METHOD_MARGIN;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", long_opts, NULL)) != -1) {
        size_t sz;
        double d;
        switch (c) {
        case O_FROM:
            o->path = optarg;
            break;
        case O_PROBS:
        case O_LOGITS:
        case O_FEATURES:
            kinds++;
            o->kind = c == O_PROBS    ? HITL_POOL_PROBS
                      : c == O_LOGITS ? HITL_POOL_LOGITS
                                      : HITL_POOL_FEATURES;
            o->dset = optarg;
            break;
        case O_HEAD:
            o->head_path = optarg;
            break;
        case O_METHOD:
            a->q.pick = strcmp(optarg, "kcenter") == 0          ? HITL_PICK_KCENTER
                        : strcmp(optarg, "margin-kcenter") == 0 ? HITL_PICK_MARGIN_KCENTER
                        : strcmp(optarg, "badge") == 0          ? HITL_PICK_BADGE
                                                                : HITL_PICK_SCORE;
            if (a->q.pick != HITL_PICK_SCORE)
                m = HITL_METHOD_MARGIN; /* recorded beside each pick */
            else if (hitl_method_parse(optarg, &m) != HITL_OK)
                return cli_usage_error(cmd, "unknown method '%s'", optarg);
            break;
        case O_EMBED:
            a->q.embeddings = optarg;
            break;
        case O_CANDIDATES:
            if (cli_parse_size(optarg, &sz) || sz == 0)
                return cli_usage_error(cmd, "bad --candidates '%s'", optarg);
            a->q.candidates = sz;
            break;
        case O_TOPK:
        case O_BLIND:
        case O_SEED:
            if (cli_parse_size(optarg, &sz))
                return cli_usage_error(cmd, "bad --%s '%s'", long_opts[c - O_FROM].name, optarg);
            if (c == O_TOPK)
                a->q.top_k = sz, a->top_k_given = 1;
            else if (c == O_BLIND)
                a->q.blind = sz, a->blind_given = 1;
            else
                a->q.seed = sz, a->seed_given = 1;
            break;
        case O_BATCH:
            a->q.batch = optarg;
            break;
        case O_MODEL:
            a->q.model = optarg;
            break;
        case O_IDS:
            a->q.ids = optarg;
            break;
        case O_DATA:
            a->q.data = optarg;
            break;
        case O_ROUTE:
            if (parse_route(optarg, &a->q.high, &a->q.medium))
                return cli_usage_error(cmd, "bad --route '%s' (want high=X,medium=Y, Y <= X)",
                                       optarg);
            a->q.route = 1;
            break;
        case O_NORMALIZE:
            o->score.normalize_entropy = 1;
            break;
        case O_TEMP:
            /* as float32, and 1/T too: a T that rounds to 0 would mean the default, 1 */
            if (cli_parse_float(optarg, &d) || !(d > 0) || !((float)d > 0) ||
                !isfinite(1.0f / (float)d) || !isfinite((float)d))
                return cli_usage_error(cmd, "bad --temperature '%s'", optarg);
            o->score.temperature = (float)d;
            break;
        case O_ACTOR:
            a->q.actor = optarg;
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
    if (!o->path) return cli_usage_error(cmd, "--from FILE is required");
    if (kinds != 1 && !(kinds == 0 && strstr(o->path, ".npy")))
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
    o->score.methods = HITL_METHOD_BIT(m);
    o->rank_by = m;
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
        if (a.q.data) {
            json_object_set_new(o, "data_attached", json_integer((json_int_t)r.data_attached));
            json_object_set_new(o, "data_ignored", json_integer((json_int_t)r.data_ignored));
        }
        cli_print_json(o);
        return CLI_EXIT_OK;
    }
    printf("%s: queued %zu items (%zu uncertain by %s, %zu blind) from %zu rows; %zu were "
           "already queued\n",
           r.batch, r.added, r.uncertain, r.method, r.blind, r.pool_rows, r.already_queued);
    if (a.q.route)
        printf("routing: %zu review (R=%d), %zu flag (1 label), %zu proceed (not queued)\n",
               r.review, r.overlap, r.flag, r.proceed);
    if (a.q.data)
        printf("data: %zu payloads attached, %zu lines for other ids\n", r.data_attached,
               r.data_ignored);
    return CLI_EXIT_OK;
}
