/* The streaming score pass: one parallel region in which each thread takes whole blocks in turn,
 * reads its block under a lock (HDF5 is single-threaded) and scores it while the others read or
 * score theirs; per-thread top-k heaps merge at the end. Memory is a block per thread and k. */
#include <math.h>
#include <omp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_files.h"
#include "h5_util.h"
#include "score_mpi.h"
#include "hitl_banned.h"

/* One thread's block and outputs. */
typedef struct worker {
    float *x;      /* block * cols */
    float *logits; /* features only: block * c */
    float *scores[HITL_METHOD_COUNT];
    int32_t *pred;
    float *p1;
    hitl_topk heaps[HITL_METHOD_COUNT];
    hitl_scored_vec above;
    size_t skipped;
    int64_t first_skipped;
    hitl_error err; /* the earliest failure this thread met */
    int64_t err_block;
    hitl_raw_chunks raw; /* compressed chunks as stored, between fetch and decode */
} worker;

/* Everything one pass allocates, so one function releases it on every path. */
typedef struct pass {
    hitl_matrix *pool;
    hitl_head head;
    int have_head;
    size_t n, cols, c, block, nblocks;
    size_t b0, b1; /* this rank's blocks: [b0, b1) (all of them without MPI) */
    size_t n_mine; /* the rows in them */
    int mpi, rank; /* one of many ranks (opts.mpi); this one */
    int nthreads;
    worker *w;
    hitl_score_file *out;
    const char *out_path; /* set once created: removed again if the pass fails */
    uint64_t done;        /* rows finished, for progress */
    pthread_mutex_t h5;   /* HDF5 is single-threaded; a sleeping lock, not a spinning one */
    int split;            /* compressed chunks: fetched under the lock, inflated outside */
} pass;

static void pass_release(pass *p)
{
    hitl_matrix_close(p->pool);
    if (p->have_head) hitl_head_release(&p->head);
    for (int t = 0; p->w && t < p->nthreads; t++) {
        worker *w = &p->w[t];
        free(w->x);
        free(w->logits);
        for (int m = 0; m < HITL_METHOD_COUNT; m++) {
            free(w->scores[m]);
            hitl_topk_release(&w->heaps[m]);
        }
        free(w->pred);
        free(w->p1);
        hitl_scored_vec_release(&w->above);
        hitl_raw_chunks_release(&w->raw);
    }
    free(p->w);
    hitl_score_file_close(p->out, NULL);
}

static void *alloc_array(size_t n, size_t size, int *failed)
{
    void *v = (n && size <= SIZE_MAX / n) ? malloc(n * size) : NULL;
    if (!v) *failed = 1;
    return v;
}

/* Room for the top-k: never more rows than the pool has (the same on every rank). */
static size_t top_room(const pass *p, const hitl_score_pass_opts *o)
{
    return o->top_k < p->n ? o->top_k : p->n;
}

/* Opens the pool (and head), checks shapes and allocates each thread's buffers. */
static hitl_status pass_open(pass *p, const hitl_score_pass_opts *o, hitl_score_pass_result *res,
                             hitl_error *err)
{
    hitl__h5_set_collective(p->mpi); /* every rank opens the pool, through parallel HDF5 */
    hitl_status st = o->n_shards > 1
                         ? hitl_matrix_open_shards(&p->pool, o->shards, o->n_shards, o->dset, err)
                         : hitl_matrix_open(&p->pool, o->path, o->dset, err);
    hitl__h5_set_collective(0);
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
    size_t chunk = hitl_matrix_chunk_rows(p->pool);
    p->split = hitl_matrix_splits(p->pool);
    if (!o->block_rows && chunk) /* whole chunks: each read once, straight into the block */
        p->block = p->block > chunk ? p->block / chunk * chunk : chunk;
    if (p->block > p->n) p->block = p->n ? p->n : 1;
    p->nblocks = (p->n + p->block - 1) / p->block;
    /* ranks take consecutive runs of whole blocks, as even as blocks allow */
    size_t ranks = p->mpi ? (size_t)hitl__mpi_size() : 1, r = p->mpi ? (size_t)p->rank : 0;
    p->b0 = p->nblocks * r / ranks;
    p->b1 = p->nblocks * (r + 1) / ranks;
    size_t row0 = p->b0 * p->block, row1 = p->b1 * p->block < p->n ? p->b1 * p->block : p->n;
    p->n_mine = row1 > row0 ? row1 - row0 : 0;
    size_t mine = p->b1 - p->b0;
    p->nthreads = o->threads > 0 ? o->threads : omp_get_max_threads();
    if ((size_t)p->nthreads > mine) p->nthreads = mine ? (int)mine : 1;
    if (!(p->w = calloc((size_t)p->nthreads, sizeof(worker))))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    int failed = 0;
    for (int t = 0; t < p->nthreads; t++) {
        worker *w = &p->w[t];
        w->first_skipped = -1;
        w->err_block = -1;
        w->x = alloc_array(p->block, p->cols * sizeof(float), &failed);
        if (o->kind == HITL_POOL_FEATURES)
            w->logits = alloc_array(p->block, p->c * sizeof(float), &failed);
        for (int m = 0; m < HITL_METHOD_COUNT; m++) {
            int want = (o->score.methods & HITL_METHOD_BIT(m)) != 0;
            if (want) w->scores[m] = alloc_array(p->block, sizeof(float), &failed);
            if (hitl_topk_init(&w->heaps[m], want ? top_room(p, o) : 0) != HITL_OK) failed = 1;
        }
        w->pred = alloc_array(p->block, sizeof(int32_t), &failed);
        w->p1 = alloc_array(p->block, sizeof(float), &failed);
    }
    if (failed)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for blocks of %zu rows (top-%zu)",
                              p->block, o->top_k);
    return HITL_OK;
}

/* The score file, when asked for: under MPI every rank creates it together (its datasets are
 * allocated then, each rank writes its own rows). */
static hitl_status pass_create_out(pass *p, const hitl_score_pass_opts *o, hitl_error *err)
{
    if (!o->out_path) return HITL_OK;
    hitl__h5_set_collective(p->mpi);
    hitl_status st = hitl_score_file_create(&p->out, o->out_path, p->n, o->score.methods, err);
    hitl__h5_set_collective(0);
    if (st == HITL_OK) p->out_path = o->out_path;
    return st;
}

/* Reads, scores and files block b on this thread. HDF5 (reading and the score file) is used
 * under one lock; the scoring runs outside it, beside the other threads' reads. */
static hitl_status do_block(pass *p, const hitl_score_pass_opts *o, worker *w, size_t b)
{
    size_t row0 = b * p->block, len = p->n - row0 < p->block ? p->n - row0 : p->block;
    hitl_status st;
    hitl_error *err = &w->err;
    /* compressed chunks are inflated outside the lock, on every thread */
    int split = p->split && row0 % hitl_matrix_chunk_rows(p->pool) == 0;
    int lock = !hitl_matrix_concurrent(p->pool); /* .npy: every thread reads at once */
    if (lock) pthread_mutex_lock(&p->h5);
    st = split ? hitl_matrix_fetch(p->pool, row0, len, &w->raw, err)
               : hitl_matrix_read(p->pool, row0, len, w->x, err);
    if (lock) pthread_mutex_unlock(&p->h5);
    if (st == HITL_OK && split) st = hitl_matrix_decode(p->pool, &w->raw, row0, len, w->x, err);
    if (st != HITL_OK) return st;
    const float *x = w->x;
    if (o->kind == HITL_POOL_FEATURES) {
        st = hitl_head_logits(x, len, p->cols, p->head.w, p->head.b, p->c, w->logits, err);
        if (st != HITL_OK) return st;
        x = w->logits;
    }
    hitl_score_out out = {.pred = w->pred, .p1 = w->p1};
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        out.scores[m] = w->scores[m];
    size_t skipped = 0;
    st = hitl_scores_compute(&o->score, x, len, p->c, (int64_t)row0, &out, &skipped, err);
    if (st != HITL_OK) {
        hitl_error_prefix(err, "'%s'", hitl_matrix_name(p->pool));
        return st;
    }
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        if (w->scores[m])
            hitl_topk_offer_block(&w->heaps[m], w->scores[m], w->pred, w->p1, len, (int64_t)row0);
    }
    const float *rank = w->scores[o->rank_by];
    if (skipped) {
        w->skipped += skipped;
        for (size_t i = 0; i < len; i++) {
            if (isnan(rank[i])) {
                if (w->first_skipped < 0 || (int64_t)(row0 + i) < w->first_skipped)
                    w->first_skipped = (int64_t)(row0 + i);
                break;
            }
        }
    }
    if (o->use_threshold && hitl_select_above(&w->above, rank, w->pred, w->p1, len, (int64_t)row0,
                                              o->threshold) != HITL_OK)
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for rows above the threshold");
    if (o->all_scores) memcpy(o->all_scores + row0, rank, len * sizeof(float));
    if (o->all_pred) memcpy(o->all_pred + row0, w->pred, len * sizeof(int32_t));
    if (o->all_p1) memcpy(o->all_p1 + row0, w->p1, len * sizeof(float));
    pthread_mutex_lock(&p->h5);
    for (int m = 0; p->out && st == HITL_OK && m < HITL_METHOD_COUNT; m++) {
        if (w->scores[m])
            st = hitl_score_file_write(p->out, (hitl_method)m, row0, len, w->scores[m], err);
    }
    if (p->out && st == HITL_OK)
        st = hitl_score_file_write_pred(p->out, row0, len, w->pred, w->p1, err);
    p->done += len;
    if (o->progress && p->rank == 0) o->progress(o->progress_ctx, p->done, p->n_mine);
    pthread_mutex_unlock(&p->h5);
    return st;
}

/* The rows of each shard (*per, n_shards of them; caller frees). */
static hitl_status shard_rows(const hitl_score_pass_opts *o, size_t **per, hitl_error *err)
{
    hitl_status st = HITL_OK;
    if (!(*per = calloc(o->n_shards, sizeof(size_t))))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; st == HITL_OK && i < o->n_shards; i++) {
        hitl_matrix *m;
        if ((st = hitl_matrix_open(&m, o->shards[i], o->dset, err)) == HITL_OK) {
            (*per)[i] = hitl_matrix_rows(m);
            hitl_matrix_close(m);
        }
    }
    return st;
}

/* The pool's ids (--ids) to /ids of the closed score file: copied whole from one file, joined
 * from shards. */
static hitl_status add_ids(const hitl_score_pass_opts *o, size_t n, hitl_error *err)
{
    if (o->n_shards <= 1) return hitl_score_file_add_ids(o->out_path, n, o->path, o->ids_dset, err);
    size_t *per = NULL;
    hitl_status st = shard_rows(o, &per, err);
    if (st == HITL_OK)
        st = hitl_score_file_add_shard_ids(o->out_path, o->shards, per, o->n_shards, o->ids_dset,
                                           err);
    free(per);
    return st;
}

/* Runs this rank's blocks on every thread. Blocks go out in order; a failure stops the blocks
 * after it, but the blocks before it still run, so the reported bad row is the first in the
 * file whatever the timing. */
static hitl_status run_blocks(pass *p, const hitl_score_pass_opts *o, hitl_error *err)
{
    int64_t fail_block = INT64_MAX;
    int blas = o->kind == HITL_POOL_FEATURES ? hitl_blas_set_threads(1) : 0; /* one per block */
#pragma omp parallel num_threads(p->nthreads)
    {
        worker *w = &p->w[omp_get_thread_num()];
#pragma omp for schedule(dynamic, 1)
        for (size_t b = p->b0; b < p->b1; b++) {
            int64_t fb;
#pragma omp atomic read
            fb = fail_block;
            if ((int64_t)b > fb) continue;
            if (do_block(p, o, w, b) != HITL_OK) {
                if (w->err_block < 0) w->err_block = (int64_t)b;
#pragma omp critical(hitl_fail)
                if ((int64_t)b < fail_block) fail_block = (int64_t)b;
            }
        }
    }
    if (o->kind == HITL_POOL_FEATURES) hitl_blas_set_threads(blas);
    if (fail_block == INT64_MAX) return HITL_OK;
    hitl_status st = HITL_EIO;
    for (int t = 0; t < p->nthreads; t++) {
        if (p->w[t].err_block == fail_block) {
            if (err) *err = p->w[t].err;
            st = p->w[t].err.status;
        }
    }
    return st;
}

/* The threads' results (and under MPI the ranks') made one, best first; the top-k lists go to
 * the score file. */
static hitl_status merge_results(pass *p, const hitl_score_pass_opts *o,
                                 hitl_score_pass_result *res, hitl_error *err)
{
    hitl_status st = HITL_OK;
    for (int t = 0; t < p->nthreads; t++) {
        worker *w = &p->w[t];
        res->n_skipped += w->skipped;
        if (w->first_skipped >= 0 &&
            (res->first_skipped < 0 || w->first_skipped < res->first_skipped))
            res->first_skipped = w->first_skipped;
        for (size_t i = 0; st == HITL_OK && i < w->above.n; i++) {
            if (hitl_select_above(&res->above, &w->above.v[i].score, &w->above.v[i].pred,
                                  &w->above.v[i].p1, 1, w->above.v[i].row, o->threshold))
                st = hitl_error_set(err, HITL_ENOMEM, "out of memory");
        }
    }
    if (p->mpi && ((st = hitl__mpi_agree(st, err)) ||
                   (st = hitl__mpi_reduce_skipped(&res->n_skipped, &res->first_skipped, err)) ||
                   (st = hitl__mpi_gather(&res->above, err))))
        return st;
    if (st != HITL_OK) return st;
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        if (!p->w[0].scores[m]) continue;
        hitl_topk *all = &p->w[0].heaps[m];
        for (int t = 1; t < p->nthreads; t++)
            hitl_topk_merge(all, &p->w[t].heaps[m]);
        size_t room = top_room(p, o);
        res->top[m] = malloc((room ? room : 1) * sizeof(hitl_scored));
        st =
            res->top[m] ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory for the top-k");
        if (p->mpi) st = hitl__mpi_agree(st, err);
        if (st != HITL_OK) return st;
        res->n_top[m] = hitl_topk_drain(all, res->top[m]);
        if (p->mpi && room && (st = hitl__mpi_reduce_top(res->top[m], &res->n_top[m], room, err)))
            return st;
        if (p->out && (st = hitl_score_file_write_top(p->out, (hitl_method)m, res->top[m],
                                                      res->n_top[m], err)))
            return st;
    }
    hitl_scored_sort(res->above.v, res->above.n);
    return HITL_OK;
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

    pass p = {.h5 = PTHREAD_MUTEX_INITIALIZER, .mpi = o.mpi, .rank = o.mpi ? hitl__mpi_rank() : 0};
    if (p.mpi) o.all_scores = o.all_p1 = NULL, o.all_pred = NULL; /* not filled under MPI */
    /* Under MPI each step that can fail on one rank alone ends in an agreement, so every rank
     * takes the same path through the collective calls that follow (opens, closes, creates). */
    hitl_status st = pass_open(&p, &o, res, err);
    if (p.mpi) st = hitl__mpi_agree(st, err);
    if (st == HITL_OK) st = pass_create_out(&p, &o, err);
    if (p.mpi) st = hitl__mpi_agree(st, err);
    if (st == HITL_OK) st = run_blocks(&p, &o, err);
    if (p.mpi) st = hitl__mpi_agree(st, err);
    if (st == HITL_OK) st = merge_results(&p, &o, res, err);
    if (p.mpi) st = hitl__mpi_agree(st, err);

    /* the pool is closed before its ids are copied from a handle of their own: HDF5 shares one
     * file between two opens, and closing either closes everything open in it */
    hitl_score_file *out = p.out;
    p.out = NULL;
    pass_release(&p);
    hitl_status closed = hitl_score_file_close(out, st == HITL_OK ? err : NULL);
    if (st == HITL_OK) st = closed;
    if (p.mpi) st = hitl__mpi_agree(st, err);
    /* the ids are copied by one process: under MPI the file is complete once closed together */
    if (st == HITL_OK && out && o.ids_dset && p.rank == 0) st = add_ids(&o, p.n, err);
    if (p.mpi) st = hitl__mpi_agree(st, err);
    if (st != HITL_OK) {
        hitl_score_pass_result_release(res);
        if (p.out_path && p.rank == 0) remove(p.out_path); /* no half-written score file */
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

hitl_status hitl_score_ids(const hitl_score_pass_opts *o, const char *ids_dset,
                           const hitl_score_pass_result *r, hitl_ids *ids, hitl_error *err)
{
    memset(ids, 0, sizeof(*ids));
    const hitl_scored *top = r->top[o->rank_by];
    size_t n_top = top ? r->n_top[o->rank_by] : 0, k = n_top + r->above.n, n = 0;
    int64_t *rows = malloc((k ? k : 1) * sizeof(int64_t));
    if (!rows) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t i = 0; i < n_top; i++)
        rows[n++] = top[i].row;
    for (size_t i = 0; i < r->above.n; i++)
        rows[n++] = r->above.v[i].row;
    hitl_status st = HITL_OK;
    if (o->n_shards > 1) { /* each shard's rows, then its ids */
        size_t *per = NULL;
        if ((st = shard_rows(o, &per, err)) == HITL_OK)
            st = hitl_ids_read_shard_rows(o->shards, per, o->n_shards, ids_dset, rows, n, ids, err);
        free(per);
    } else {
        st = hitl_ids_read_rows(o->path, ids_dset, r->n_rows, rows, n, ids, err);
    }
    free(rows);
    return st;
}
