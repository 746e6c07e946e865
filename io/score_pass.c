/* The streaming score pass: one thread reads block b+1 while every thread scores block b (two
 * buffers), per-thread top-k heaps merge at the end, and scores stream to the output file, so
 * memory is bounded by the block and k, never by the number of rows. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_io.h"
#include "hitl_banned.h"

#define SLICE_ROWS 2048 /* rows per parallel work item: a few tiles, small next to a block */

/* Everything one pass allocates, so one function releases it on every path. */
typedef struct pass {
    hitl_matrix *pool;
    hitl_head head;
    int have_head;
    size_t n, cols, c, block;
    float *buf[2]; /* input blocks, block * cols */
    float *logits; /* features only: block * c */
    float *scores[HITL_METHOD_COUNT];
    int32_t *pred;
    float *p1;
    int nthreads;
    hitl_topk *heaps; /* nthreads * HITL_METHOD_COUNT */
    hitl_error *terr; /* one per thread */
    size_t *tskipped;
    hitl_score_file *out;
    const char *out_path; /* set once created: removed again if the pass fails */
} pass;

static void pass_release(pass *p)
{
    hitl_matrix_close(p->pool);
    if (p->have_head) hitl_head_release(&p->head);
    free(p->buf[0]);
    free(p->buf[1]);
    free(p->logits);
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        free(p->scores[m]);
    free(p->pred);
    free(p->p1);
    if (p->heaps)
        for (int i = 0; i < p->nthreads * HITL_METHOD_COUNT; i++)
            hitl_topk_release(&p->heaps[i]);
    free(p->heaps);
    free(p->terr);
    free(p->tskipped);
    hitl_score_file_close(p->out, NULL);
}

static void *alloc_array(size_t n, size_t size, int *failed)
{
    void *v = (n && size <= SIZE_MAX / n) ? malloc(n * size) : NULL;
    if (!v) *failed = 1;
    return v;
}

/* Opens the pool (and head), checks shapes and allocates the buffers. */
static hitl_status pass_open(pass *p, const hitl_score_pass_opts *o, hitl_score_pass_result *res,
                             hitl_error *err)
{
    hitl_status st = hitl_matrix_open(&p->pool, o->path, o->dset, err);
    if (st != HITL_OK) return st;
    p->n = hitl_matrix_rows(p->pool);
    p->cols = p->c = hitl_matrix_cols(p->pool);
    if (o->kind == HITL_POOL_FEATURES) {
        if (!o->head_path) return hitl_error_set(err, HITL_EINVAL, "features need a head file");
        if ((st = hitl_head_load(&p->head, o->head_path, err)) != HITL_OK) return st;
        p->have_head = 1;
        if (p->head.d != p->cols)
            return hitl_error_set(err, HITL_ESHAPE,
                                  "'%s': features have %zu columns but the head '%s' expects %zu",
                                  hitl_matrix_name(p->pool), p->cols, o->head_path, p->head.d);
        p->c = p->head.c;
        if (p->head.n_classes) {
            res->classes = p->head.classes; /* steals the names */
            res->n_classes_named = p->head.n_classes;
            p->head.classes = NULL;
            p->head.n_classes = 0;
        }
    } else if ((st = hitl_matrix_classes(p->pool, &res->classes, &res->n_classes_named, err))) {
        return st;
    }
    if (p->c < 2)
        return hitl_error_set(
            err, HITL_ESHAPE, "'%s': need at least 2 classes to score, got %zu",
            o->kind == HITL_POOL_FEATURES ? o->head_path : hitl_matrix_name(p->pool), p->c);
    if (res->n_classes_named && res->n_classes_named != p->c)
        return hitl_error_set(err, HITL_ESHAPE, "'%s': %zu class names for %zu classes",
                              hitl_matrix_name(p->pool), res->n_classes_named, p->c);
    res->n_rows = p->n;
    res->n_classes = p->c;

    p->block = o->block_rows ? o->block_rows : hitl_block_rows(p->cols);
    if (p->block > p->n) p->block = p->n ? p->n : 1;
    p->nthreads = o->threads > 0 ? o->threads : omp_get_max_threads();
    int failed = 0;
    p->buf[0] = alloc_array(p->block, p->cols * sizeof(float), &failed);
    p->buf[1] = alloc_array(p->block, p->cols * sizeof(float), &failed);
    if (o->kind == HITL_POOL_FEATURES)
        p->logits = alloc_array(p->block, p->c * sizeof(float), &failed);
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        if (o->score.methods & HITL_METHOD_BIT(m))
            p->scores[m] = alloc_array(p->block, sizeof(float), &failed);
    p->pred = alloc_array(p->block, sizeof(int32_t), &failed);
    p->p1 = alloc_array(p->block, sizeof(float), &failed);
    p->heaps = calloc((size_t)p->nthreads * HITL_METHOD_COUNT, sizeof(hitl_topk));
    p->terr = calloc((size_t)p->nthreads, sizeof(hitl_error));
    p->tskipped = calloc((size_t)p->nthreads, sizeof(size_t));
    if (failed || !p->heaps || !p->terr || !p->tskipped)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for blocks of %zu rows", p->block);
    for (int i = 0; i < p->nthreads * HITL_METHOD_COUNT; i++) {
        int m = i % HITL_METHOD_COUNT;
        size_t k = (o->score.methods & HITL_METHOD_BIT(m)) ? o->top_k : 0;
        if (hitl_topk_init(&p->heaps[i], k) != HITL_OK)
            return hitl_error_set(err, HITL_ENOMEM, "out of memory for top-%zu", o->top_k);
    }
    if (o->out_path &&
        (st = hitl_score_file_create(&p->out, o->out_path, p->n, o->score.methods, err)))
        return st;
    p->out_path = o->out_path;
    return HITL_OK;
}

/* Scores rows [lo, hi) of the current block (input `x`, first row `row0`) on this thread. */
static void score_slice(pass *p, const hitl_score_pass_opts *o, const float *x, size_t lo,
                        size_t hi, size_t row0, int tid)
{
    hitl_score_out out = {.pred = p->pred + lo, .p1 = p->p1 + lo};
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        out.scores[m] = p->scores[m] ? p->scores[m] + lo : NULL;
    size_t skipped = 0;
    hitl_error e;
    hitl_status st = hitl_scores_compute(&o->score, x + lo * p->c, hi - lo, p->c,
                                         (int64_t)(row0 + lo), &out, &skipped, &e);
    if (st != HITL_OK) {
        /* keep the earliest failing row: slices finish in any order */
        hitl_error *te = &p->terr[tid];
        if (te->status == HITL_OK || (e.row >= 0 && e.row < te->row)) *te = e;
        return;
    }
    p->tskipped[tid] += skipped;
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        if (!p->scores[m]) continue;
        hitl_topk_offer_block(&p->heaps[tid * HITL_METHOD_COUNT + m], p->scores[m] + lo,
                              p->pred + lo, p->p1 + lo, hi - lo, (int64_t)(row0 + lo));
    }
}

/* The earliest error any thread met, or HITL_OK. */
static hitl_status first_thread_error(pass *p, hitl_error *err)
{
    hitl_error *first = NULL;
    for (int t = 0; t < p->nthreads; t++) {
        hitl_error *te = &p->terr[t];
        if (te->status == HITL_OK) continue;
        if (!first || (te->row >= 0 && (first->row < 0 || te->row < first->row))) first = te;
    }
    if (!first) return HITL_OK;
    if (err) *err = *first;
    return first->status;
}

hitl_status hitl_score_pass(const hitl_score_pass_opts *opts, hitl_score_pass_result *res,
                            hitl_error *err)
{
    memset(res, 0, sizeof(*res));
    res->first_skipped = -1;
    if (!opts || !opts->path) return hitl_error_set(err, HITL_EINVAL, "no pool file given");
    if (!(opts->score.methods & HITL_METHOD_BIT(opts->rank_by)))
        return hitl_error_set(err, HITL_EINVAL, "--rank-by %s is not among the computed methods",
                              hitl_method_name(opts->rank_by));
    hitl_score_pass_opts o = *opts;
    o.score.kind = opts->kind == HITL_POOL_PROBS ? HITL_INPUT_PROBS : HITL_INPUT_LOGITS;

    pass p = {0};
    hitl_status st = pass_open(&p, &o, res, err);
    if (st != HITL_OK) goto done;
    const char *name = hitl_matrix_name(p.pool);

    size_t nblocks = (p.n + p.block - 1) / p.block;
    if (nblocks && (st = hitl_matrix_read(p.pool, 0, p.block < p.n ? p.block : p.n, p.buf[0], err)))
        goto done;
    for (size_t b = 0; b < nblocks; b++) {
        size_t row0 = b * p.block, len = p.n - row0 < p.block ? p.n - row0 : p.block;
        const float *x = p.buf[b & 1];
        if (o.kind == HITL_POOL_FEATURES) {
            if ((st = hitl_head_logits(x, len, p.cols, p.head.w, p.head.b, p.c, p.logits, err)))
                goto done;
            x = p.logits;
        }
        size_t nslices = (len + SLICE_ROWS - 1) / SLICE_ROWS;
        hitl_status read_st = HITL_OK;
        hitl_error read_err;
        hitl_error_clear(&read_err);
#pragma omp parallel num_threads(p.nthreads)
        {
            int tid = omp_get_thread_num();
            /* one thread fetches the next block into the other buffer, then joins the scoring */
#pragma omp single nowait
            if (b + 1 < nblocks) {
                size_t next0 = row0 + p.block;
                size_t next_len = p.n - next0 < p.block ? p.n - next0 : p.block;
                read_st = hitl_matrix_read(p.pool, next0, next_len, p.buf[(b + 1) & 1], &read_err);
            }
#pragma omp for schedule(dynamic, 1) nowait
            for (size_t s = 0; s < nslices; s++) {
                size_t lo = s * SLICE_ROWS, hi = lo + SLICE_ROWS < len ? lo + SLICE_ROWS : len;
                score_slice(&p, &o, x, lo, hi, row0, tid);
            }
        }
        if ((st = first_thread_error(&p, err)) != HITL_OK) {
            hitl_error_prefix(err, "'%s'", name);
            goto done;
        }
        if (read_st != HITL_OK) {
            if (err) *err = read_err;
            st = read_st;
            goto done;
        }
        if (res->first_skipped < 0) {
            size_t skipped = 0;
            for (int t = 0; t < p.nthreads; t++)
                skipped += p.tskipped[t];
            if (skipped) {
                const float *s0 = p.scores[o.rank_by];
                for (size_t i = 0; i < len && res->first_skipped < 0; i++)
                    if (isnan(s0[i])) res->first_skipped = (int64_t)(row0 + i);
            }
        }
        if (o.use_threshold && hitl_select_above(&res->above, p.scores[o.rank_by], p.pred, p.p1,
                                                 len, (int64_t)row0, o.threshold) != HITL_OK) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory for rows above the threshold");
            goto done;
        }
        for (int m = 0; p.out && m < HITL_METHOD_COUNT; m++) {
            if (p.scores[m] &&
                (st = hitl_score_file_write(p.out, (hitl_method)m, row0, len, p.scores[m], err)))
                goto done;
        }
        if (o.all_scores) memcpy(o.all_scores + row0, p.scores[o.rank_by], len * sizeof(float));
        if (o.all_pred) memcpy(o.all_pred + row0, p.pred, len * sizeof(int32_t));
        if (o.all_p1) memcpy(o.all_p1 + row0, p.p1, len * sizeof(float));
        if (o.progress) o.progress(o.progress_ctx, row0 + len, p.n);
    }
    for (int t = 0; t < p.nthreads; t++)
        res->n_skipped += p.tskipped[t];

    /* merge the per-thread heaps, best first */
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        if (!p.scores[m]) continue;
        hitl_topk *all = &p.heaps[m];
        for (int t = 1; t < p.nthreads; t++)
            hitl_topk_merge(all, &p.heaps[t * HITL_METHOD_COUNT + m]);
        res->top[m] = malloc((all->n ? all->n : 1) * sizeof(hitl_scored));
        if (!res->top[m]) {
            st = hitl_error_set(err, HITL_ENOMEM, "out of memory for the top-k");
            goto done;
        }
        res->n_top[m] = hitl_topk_drain(all, res->top[m]);
        if (p.out && (st = hitl_score_file_write_top(p.out, (hitl_method)m, res->top[m],
                                                     res->n_top[m], err)))
            goto done;
    }
    hitl_scored_sort(res->above.v, res->above.n);
    st = hitl_score_file_close(p.out, err);
    p.out = NULL;
done:
    pass_release(&p);
    if (st != HITL_OK) {
        hitl_score_pass_result_release(res);
        if (p.out_path) remove(p.out_path); /* no half-written score file */
    }
    return st;
}

void hitl_score_pass_result_release(hitl_score_pass_result *res)
{
    if (!res) return;
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        free(res->top[m]);
        res->top[m] = NULL;
        res->n_top[m] = 0;
    }
    hitl_scored_vec_release(&res->above);
    hitl_strings_free(res->classes, res->n_classes_named);
    res->classes = NULL;
    res->n_classes_named = 0;
}
