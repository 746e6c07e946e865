/* hitl queue: one uncertainty pass over a pool, then the K most uncertain rows not yet queued
 * plus B rows drawn uniformly (seeded) from the rest, with optional risk routing, into the store
 * in one audited transaction. Blind rows are interleaved at their share of the batch. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

typedef enum { PICK_SCORE = 0, PICK_KCENTER, PICK_MARGIN_KCENTER, PICK_BADGE } pick_kind;

typedef struct queue_args {
    hitl_score_pass_opts pass;
    pick_kind pick;         /* kcenter methods pick the uncertain rows among embeddings */
    const char *embeddings; /* their dataset in --from (default: --features) */
    size_t candidates;      /* margin-kcenter: the m most uncertain first (default 10 K) */
    const char *db, *ids, *data, *batch, *model, *actor;
    size_t top_k, blind;
    int top_k_given, blind_given, seed_given, json, route;
    uint64_t seed;
    double high, medium;
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
    hitl_score_pass_opts *o = &a->pass;
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
            a->pick = strcmp(optarg, "kcenter") == 0          ? PICK_KCENTER
                      : strcmp(optarg, "margin-kcenter") == 0 ? PICK_MARGIN_KCENTER
                      : strcmp(optarg, "badge") == 0          ? PICK_BADGE
                                                              : PICK_SCORE;
            if (a->pick != PICK_SCORE)
                m = HITL_METHOD_MARGIN; /* recorded beside each pick */
            else if (hitl_method_parse(optarg, &m) != HITL_OK)
                return cli_usage_error(cmd, "unknown method '%s'", optarg);
            break;
        case O_EMBED:
            a->embeddings = optarg;
            break;
        case O_CANDIDATES:
            if (cli_parse_size(optarg, &sz) || sz == 0)
                return cli_usage_error(cmd, "bad --candidates '%s'", optarg);
            a->candidates = sz;
            break;
        case O_TOPK:
        case O_BLIND:
        case O_SEED:
            if (cli_parse_size(optarg, &sz))
                return cli_usage_error(cmd, "bad --%s '%s'", long_opts[c - O_FROM].name, optarg);
            if (c == O_TOPK)
                a->top_k = sz, a->top_k_given = 1;
            else if (c == O_BLIND)
                a->blind = sz, a->blind_given = 1;
            else
                a->seed = sz, a->seed_given = 1;
            break;
        case O_BATCH:
            a->batch = optarg;
            break;
        case O_MODEL:
            a->model = optarg;
            break;
        case O_IDS:
            a->ids = optarg;
            break;
        case O_DATA:
            a->data = optarg;
            break;
        case O_ROUTE:
            if (parse_route(optarg, &a->high, &a->medium))
                return cli_usage_error(cmd, "bad --route '%s' (want high=X,medium=Y, Y <= X)",
                                       optarg);
            a->route = 1;
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
    if (!o->path) return cli_usage_error(cmd, "--from FILE is required");
    if (kinds != 1 && !(kinds == 0 && strstr(o->path, ".npy")))
        return cli_usage_error(cmd, "give one of --probs, --logits, --features");
    if (o->kind == HITL_POOL_FEATURES && !o->head_path)
        return cli_usage_error(cmd, "--features needs --head HEAD.h5");
    if (!a->top_k_given && !a->route) return cli_usage_error(cmd, "--top-k K is required");
    if (!a->blind_given) return cli_usage_error(cmd, "--blind B is required (0 for none)");
    if (!a->seed_given)
        return cli_usage_error(cmd, "--seed S is required (queues are reproducible)");
    if (a->pick != PICK_SCORE) {
        if (!a->embeddings && o->kind == HITL_POOL_FEATURES) a->embeddings = o->dset;
        if (!a->embeddings)
            return cli_usage_error(cmd, "%s needs --embeddings DSET (or --features)",
                                   a->pick == PICK_BADGE ? "badge" : "k-center");
        if (!a->top_k_given || a->route)
            return cli_usage_error(cmd, "%s takes --top-k K and no --route",
                                   a->pick == PICK_BADGE ? "badge" : "k-center");
    }
    o->score.methods = HITL_METHOD_BIT(m);
    o->rank_by = m;
    return -1;
}

/* Every row's class probabilities [n, *c] for BADGE, from what the pass read: the --probs
 * dataset, the softmax of --logits (with the temperature), or the head applied to the features
 * (x, already read, when they are the embeddings). Caller frees *out. */
static hitl_status pool_probs(const queue_args *a, size_t n, const float *x, size_t d, float **out,
                              size_t *c, hitl_error *err)
{
    const hitl_score_pass_opts *o = &a->pass;
    hitl_matrix *m = NULL;
    hitl_head h = {0};
    float *p = NULL, *feat = NULL;
    hitl_status s = HITL_OK;
    *out = NULL;
    if (o->kind == HITL_POOL_FEATURES) {
        if ((s = hitl_head_load(&h, o->head_path, err)) != HITL_OK) return s;
        if (strcmp(a->embeddings, o->dset) != 0) { /* the head's input is not the embeddings */
            if ((s = hitl_matrix_open(&m, o->path, o->dset, err)) == HITL_OK)
                s = hitl_matrix_load(m, &feat, err);
            if (s == HITL_OK && hitl_matrix_cols(m) != h.d)
                s = hitl_error_set(err, HITL_ESHAPE, "'%s': %zu features for a head of %zu",
                                   hitl_matrix_name(m), hitl_matrix_cols(m), h.d);
        } else if (d != h.d) {
            s = hitl_error_set(err, HITL_ESHAPE, "%zu features for a head of %zu", d, h.d);
        }
        *c = h.c;
        if (s == HITL_OK && !(p = malloc(n * h.c * sizeof(float) + 1)))
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu x %zu logits", n, h.c);
        if (s == HITL_OK) s = hitl_head_logits(feat ? feat : x, n, h.d, h.w, h.b, h.c, p, err);
    } else {
        if ((s = hitl_matrix_open(&m, o->path, o->dset, err)) == HITL_OK)
            s = hitl_matrix_load(m, &p, err);
        if (s == HITL_OK) *c = hitl_matrix_cols(m);
    }
    if (s == HITL_OK && o->kind != HITL_POOL_PROBS) { /* softmax of logits / T */
        float t = o->score.temperature > 0 ? o->score.temperature : 1.0f;
        for (size_t i = 0; i < n; i++) {
            float *z = p + i * *c, mx = z[0], sum = 0;
            for (size_t j = 1; j < *c; j++)
                mx = z[j] > mx ? z[j] : mx;
            for (size_t j = 0; j < *c; j++)
                sum += z[j] = expf((z[j] - mx) / t);
            for (size_t j = 0; j < *c; j++)
                z[j] /= sum;
        }
    }
    hitl_matrix_close(m);
    hitl_head_release(&h);
    free(feat);
    if (s != HITL_OK) {
        free(p);
        return s;
    }
    *out = p;
    return HITL_OK;
}

/* The k-center picks: K rows spread over the embeddings (kcenter), or over the most uncertain
 * rows (margin-kcenter), starting from the rows already queued; or BADGE's. The embeddings are read
 * whole: n x d floats in memory. Caller frees *out. */
static hitl_status kcenter_pick(const queue_args *a, const float *score, const uint8_t *taken,
                                size_t n, int64_t **out, size_t *n_out, hitl_error *err)
{
    hitl_matrix *m = NULL;
    float *x = NULL;
    int64_t *sel = NULL, *cand = NULL;
    hitl_status s = hitl_matrix_open(&m, a->pass.path, a->embeddings, err);
    if (s != HITL_OK) return s;
    size_t d = hitl_matrix_cols(m), k = a->top_k, ns = 0, nc = 0;
    if (hitl_matrix_rows(m) != n) {
        s = hitl_error_set(err, HITL_ESHAPE, "'%s': %zu rows of embeddings for %zu pool rows",
                           hitl_matrix_name(m), hitl_matrix_rows(m), n);
        goto done;
    }
    if ((s = hitl_matrix_load(m, &x, err)) != HITL_OK) goto done;
    sel = malloc((n ? n : 1) * sizeof(int64_t));
    cand = malloc((n ? n : 1) * sizeof(int64_t));
    *out = malloc((k ? k : 1) * sizeof(int64_t));
    if (!sel || !cand || !*out) {
        s = hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu rows", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        if (taken[i])
            sel[ns++] = (int64_t)i;
        else if (!isnan(score[i]))
            cand[nc++] = (int64_t)i;
    }
    hitl_kcenter_opts ko = {.selected = sel,
                            .n_selected = ns,
                            .candidates = a->pick == PICK_KCENTER ? cand : NULL,
                            .n_candidates = a->pick == PICK_KCENTER ? nc : 0};
    if (a->pick == PICK_BADGE) {
        uint8_t *skip = malloc(n ? n : 1); /* queued rows and rows the pass skipped */
        float *probs = NULL;
        size_t c = 0;
        if (!skip) {
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
            goto done;
        }
        for (size_t i = 0; i < n; i++)
            skip[i] = taken[i] || isnan(score[i]);
        s = pool_probs(a, n, x, d, &probs, &c, err);
        if (s == HITL_OK)
            s = hitl_badge_select(x, n, d, probs, c, skip, k, a->seed, *out, n_out, err);
        free(skip);
        free(probs);
    } else if (a->pick == PICK_KCENTER)
        s = hitl_kcenter_greedy(x, n, d, k, &ko, *out, NULL, n_out, err);
    else
        s = hitl_margin_kcenter(x, n, d, score, taken, a->candidates ? a->candidates : 10 * k, k,
                                &ko, *out, NULL, n_out, err);
done:
    hitl_matrix_close(m);
    free(x);
    free(sel);
    free(cand);
    if (s != HITL_OK) {
        free(*out);
        *out = NULL;
    }
    return s;
}

/* The pool's item ids as text: the --ids dataset or the row numbers. */
static hitl_status pool_ids(const queue_args *a, size_t n, char ***out, hitl_error *err)
{
    if (!a->ids) {
        *out = cli_index_names(n);
        return *out ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ids", n);
    }
    char **ids = calloc(n ? n : 1, sizeof(char *));
    if (!ids) return hitl_error_set(err, HITL_ENOMEM, "out of memory for %zu ids", n);
    int64_t *rows = malloc((n ? n : 1) * sizeof(int64_t));
    hitl_ids v = {0};
    hitl_status s = rows ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; rows && i < n; i++)
        rows[i] = (int64_t)i;
    if (s == HITL_OK) s = hitl_ids_read_rows(a->pass.path, a->ids, n, rows, n, &v, err);
    free(rows);
    for (size_t i = 0; s == HITL_OK && i < n; i++) {
        char buf[24];
        if (!v.is_string) snprintf(buf, sizeof(buf), "%lld", (long long)v.ints[i]);
        if (!(ids[i] = strdup(v.is_string ? v.strs[i] : buf)))
            s = hitl_error_set(err, HITL_ENOMEM, "out of memory");
    }
    hitl_ids_release(&v);
    if (s != HITL_OK) {
        hitl_strings_free(ids, n);
        return s;
    }
    *out = ids;
    return HITL_OK;
}

static char *read_file(const char *path, hitl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        hitl_error_set(err, HITL_EIO, "cannot open '%s'", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    size_t got;
    while (buf && (got = fread(buf + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (n + 1 == cap) {
            char *b = realloc(buf, cap *= 2);
            if (!b) free(buf);
            buf = b;
        }
    }
    fclose(f);
    if (!buf)
        hitl_error_set(err, HITL_ENOMEM, "out of memory reading '%s'", path);
    else
        buf[n] = '\0';
    return buf;
}

int cmd_queue(int argc, char **argv)
{
    queue_args a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0) return rc;
    hitl_store *st;
    if ((rc = cli_open_store("queue", a.db, &st)) >= 0) return rc;

    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s;
    size_t n = 0;
    float *score = NULL, *p1 = NULL;
    int32_t *pred = NULL;
    char **ids = NULL;
    uint8_t *taken = NULL;
    hitl_batch_entry *plan = NULL;
    int64_t *picks = NULL;
    size_t nr = 0;
    hitl_queue_row *rows = NULL;
    char *data = NULL;
    hitl_score_pass_result res = {0};
    hitl_store_settings settings = {0};
    hitl_matrix *m = NULL;

    if ((s = hitl_store_settings_get(st, &settings, &err)) != HITL_OK) goto out;
    if ((s = hitl_matrix_open(&m, a.pass.path, a.pass.dset, &err)) != HITL_OK) goto out;
    n = hitl_matrix_rows(m);
    hitl_matrix_close(m);
    score = malloc((n ? n : 1) * sizeof(float));
    p1 = malloc((n ? n : 1) * sizeof(float));
    pred = malloc((n ? n : 1) * sizeof(int32_t));
    taken = calloc(n ? n : 1, 1);
    if (!score || !p1 || !pred || !taken) {
        s = hitl_error_set(&err, HITL_ENOMEM, "out of memory for %zu rows", n);
        goto out;
    }
    cli_progress prog;
    cli_progress_init(&prog, "scoring");
    a.pass.progress = cli_progress_update;
    a.pass.progress_ctx = &prog;
    a.pass.all_scores = score;
    a.pass.all_pred = pred;
    a.pass.all_p1 = p1;
    s = hitl_score_pass(&a.pass, &res, &err);
    cli_progress_done(&prog);
    if (s != HITL_OK) goto out;
    if (res.n_classes != settings.n_classes) {
        s = hitl_error_set(&err, HITL_ESHAPE, "the pool has %zu classes, the project %zu",
                           res.n_classes, settings.n_classes);
        goto out;
    }
    if ((s = pool_ids(&a, n, &ids, &err)) != HITL_OK) goto out;
    if ((s = hitl_store_known(st, ids, n, taken, &err)) != HITL_OK) goto out;
    size_t n_known = 0;
    for (size_t i = 0; i < n; i++)
        n_known += taken[i];

    hitl_batch_opts bo = {.use_top_k = a.top_k_given,
                          .top_k = a.top_k,
                          .blind = a.blind,
                          .seed = a.seed,
                          .route = a.route,
                          .high = a.high,
                          .medium = a.medium,
                          .overlap = settings.overlap};
    if (a.pick != PICK_SCORE) {
        if ((s = kcenter_pick(&a, score, taken, n, &picks, &bo.n_chosen, &err)) != HITL_OK)
            goto out;
        bo.chosen = picks;
    }
    hitl_batch_counts counts;
    if ((s = hitl_batch_plan(score, pred, p1, taken, n, &bo, &plan, &nr, &counts, &err)) != HITL_OK)
        goto out;
    if (!(rows = calloc(nr ? nr : 1, sizeof(*rows)))) {
        s = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
        goto out;
    }
    static const char *const route_names[] = {NULL, "review", "flag"};
    for (size_t i = 0; i < nr; i++) {
        const hitl_batch_entry *e = &plan[i];
        rows[i] = (hitl_queue_row){ids[e->row],
                                   e->row,
                                   e->blind ? HITL_REASON_BLIND : HITL_REASON_UNCERTAIN,
                                   e->score,
                                   e->pred,
                                   e->p1,
                                   e->required,
                                   route_names[e->route],
                                   NULL};
    }

    char batch[64];
    if (!a.batch) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        size_t len = strftime(batch, sizeof(batch), "batch-%Y%m%dT%H%M%SZ", &tm);
        snprintf(batch + len, sizeof(batch) - len, "-%ld", (long)getpid()); /* one per call */
    }
    char source[1024];
    snprintf(source, sizeof(source), "%s:%s", a.pass.path, a.pass.dset ? a.pass.dset : "");
    hitl_queue_batch qb = {a.batch ? a.batch : batch,
                           a.pick == PICK_KCENTER          ? "kcenter"
                           : a.pick == PICK_MARGIN_KCENTER ? "margin-kcenter"
                           : a.pick == PICK_BADGE          ? "badge"
                                                           : hitl_method_name(a.pass.rank_by),
                           a.model,
                           source,
                           a.seed,
                           cli_actor(a.actor),
                           counts.proceed};
    /* the batch and its payloads in one transaction: a killed queue leaves both or neither */
    if (a.data && !(data = read_file(a.data, &err))) {
        s = err.status;
        goto out;
    }
    hitl_queue_counts qc;
    if ((s = hitl_store_enqueue_data(st, &qb, rows, nr, data, a.data, &qc, &err)) != HITL_OK)
        goto out;
    size_t added = qc.added, attached = qc.attached, ignored = qc.ignored;
    size_t q_blind = counts.blind, n_review = counts.review, n_flag = counts.flag,
           n_proceed = counts.proceed;
    if (a.json) {
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "batch",
                              qb.batch, "method", qb.method, "seed", (json_int_t)a.seed,
                              "pool_rows", (json_int_t)n, "already_queued", (json_int_t)n_known,
                              "added", (json_int_t)added, "uncertain", (json_int_t)(nr - q_blind),
                              "blind", (json_int_t)q_blind, "review", (json_int_t)n_review, "flag",
                              (json_int_t)n_flag, "proceed", (json_int_t)n_proceed);
        if (a.data) {
            json_object_set_new(o, "data_attached", json_integer((json_int_t)attached));
            json_object_set_new(o, "data_ignored", json_integer((json_int_t)ignored));
        }
        cli_print_json(o);
    } else {
        printf("%s: queued %zu items (%zu uncertain by %s, %zu blind) from %zu rows; %zu were "
               "already queued\n",
               qb.batch, added, nr - q_blind, qb.method, q_blind, n, n_known);
        if (a.route)
            printf("routing: %zu review (R=%d), %zu flag (1 label), %zu proceed (not queued)\n",
                   n_review, settings.overlap, n_flag, n_proceed);
        if (a.data)
            printf("data: %zu payloads attached, %zu lines for other ids\n", attached, ignored);
    }
out:
    hitl_score_pass_result_release(&res);
    hitl_store_settings_release(&settings);
    hitl_strings_free(ids, ids ? n : 0);
    free(score);
    free(p1);
    free(pred);
    free(taken);
    free(plan);
    free(picks);
    free(rows);
    free(data);
    hitl_store_close(st);
    return s == HITL_OK ? CLI_EXIT_OK : cli_fail("queue", s, &err);
}
