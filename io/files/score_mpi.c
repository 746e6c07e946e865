/* MPI for the score pass: starting and stopping MPI, and the steps that make one result of the
 * ranks' passes: agreeing on failure, a reduction of the top-k lists (a user-defined MPI
 * operation merging sorted lists), gathering the threshold rows and summing the skipped rows.
 * Without HITL_MPI only the launcher check is real: a build without MPI started by mpirun
 * refuses instead of scoring the whole pool once per rank. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef HITL_MPI
#include <mpi.h>
#endif

#include "score_mpi.h"
#include "hitl_banned.h"

int hitl_mpi_launched(int *rank)
{
    /* Open MPI's mpirun; srun or MPICH's hydra with PMI-1/2; srun with PMIx (whose rank
     * variable comes with Slurm's count of the step's tasks) */
    static const char *const vars[][2] = {{"OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_RANK"},
                                          {"PMI_SIZE", "PMI_RANK"},
                                          {"SLURM_STEP_NUM_TASKS", "PMIX_RANK"}};
    int size = 0;
    const char *r = NULL;
    for (size_t i = 0; !r && i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *n = getenv(vars[i][0]);
        if (n && (r = getenv(vars[i][1]))) size = atoi(n) > 0 ? atoi(n) : 1;
    }
    if (!r && (r = getenv("PMIX_RANK"))) size = 1;
    if (rank) *rank = r && atoi(r) > 0 ? atoi(r) : 0;
    return size;
}

int hitl_mpi_built(void)
{
#ifdef HITL_MPI
    return 1;
#else
    return 0;
#endif
}

#ifdef HITL_MPI

static int started, my_rank, n_ranks = 1;

hitl_status hitl_mpi_start(int *rank, int *size, hitl_error *err)
{
    if (!started) {
        int provided = 0, ok = 0;
        MPI_Initialized(&ok);
        if (!ok && MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS)
            return hitl_error_set(err, HITL_EIO, "cannot start MPI");
        MPI_Comm_rank(MPI_COMM_WORLD, &my_rank);
        MPI_Comm_size(MPI_COMM_WORLD, &n_ranks);
        started = 1;
    }
    if (rank) *rank = my_rank;
    if (size) *size = n_ranks;
    return HITL_OK;
}

void hitl_mpi_stop(void)
{
    if (!started) return;
    MPI_Finalize();
    started = 0;
}

int hitl__mpi_rank(void)
{
    return my_rank;
}

int hitl__mpi_size(void)
{
    return n_ranks;
}

hitl_status hitl__mpi_agree(hitl_status st, hitl_error *err)
{
    int mine = st == HITL_OK ? n_ranks : my_rank, first = n_ranks;
    MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    if (first == n_ranks) return HITL_OK;
    hitl_error e;
    hitl_error_clear(&e);
    if (my_rank == first && err) e = *err;
    e.status = my_rank == first ? st : HITL_OK;
    MPI_Bcast(&e, (int)sizeof(e), MPI_BYTE, first, MPI_COMM_WORLD);
    if (err) *err = e;
    return e.status;
}

/* A top-k list as one MPI element: its length, then room for k rows, best first. */
typedef struct top_head {
    uint64_t k, n;
} top_head;

static void merge_lists(void *in, void *inout, int *len, MPI_Datatype *type)
{
    int size = 0;
    MPI_Type_size(*type, &size);
    for (int i = 0; i < *len; i++) {
        char *a = (char *)in + (size_t)i * (size_t)size, *b = (char *)inout + (size_t)i * size;
        top_head ha, hb;
        memcpy(&ha, a, sizeof(ha));
        memcpy(&hb, b, sizeof(hb));
        hb.n = hitl_scored_merge_top((hitl_scored *)(b + sizeof(hb)), hb.n,
                                     (const hitl_scored *)(a + sizeof(ha)), ha.n, hb.k);
        memcpy(b, &hb, sizeof(hb));
    }
}

hitl_status hitl__mpi_reduce_top(hitl_scored *top, size_t *n, size_t k, hitl_error *err)
{
    size_t bytes = sizeof(top_head) + k * sizeof(hitl_scored);
    if (k > (INT_MAX - sizeof(top_head)) / sizeof(hitl_scored))
        return hitl_error_set(err, HITL_EINVAL, "--top-k %zu is too large to reduce over MPI", k);
    /* malloc'd, so the rows are aligned for hitl_scored after the 16-byte head */
    char *mine = calloc(1, bytes), *all = calloc(1, bytes);
    if (!mine || !all) {
        free(mine);
        free(all);
        return hitl_error_set(err, HITL_ENOMEM, "out of memory for the top-k");
    }
    top_head h = {k, *n};
    memcpy(mine, &h, sizeof(h));
    memcpy(mine + sizeof(h), top, *n * sizeof(hitl_scored));
    MPI_Datatype type;
    MPI_Op op;
    MPI_Type_contiguous((int)bytes, MPI_BYTE, &type);
    MPI_Type_commit(&type);
    MPI_Op_create(merge_lists, 1, &op); /* commutative: ties go to the lower row */
    MPI_Allreduce(mine, all, 1, type, op, MPI_COMM_WORLD);
    MPI_Op_free(&op);
    MPI_Type_free(&type);
    memcpy(&h, all, sizeof(h));
    *n = (size_t)h.n;
    memcpy(top, all + sizeof(h), *n * sizeof(hitl_scored));
    free(mine);
    free(all);
    return HITL_OK;
}

hitl_status hitl__mpi_gather(hitl_scored_vec *v, hitl_error *err)
{
    int64_t mine = (int64_t)v->n, *counts = malloc((size_t)n_ranks * sizeof(int64_t)), total = 0;
    int *bytes = malloc((size_t)n_ranks * sizeof(int)), *at = malloc((size_t)n_ranks * sizeof(int));
    hitl_scored *all = NULL;
    hitl_status st =
        counts && bytes && at ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if ((st = hitl__mpi_agree(st, err)) != HITL_OK) goto out;
    MPI_Allgather(&mine, 1, MPI_INT64_T, counts, 1, MPI_INT64_T, MPI_COMM_WORLD);
    /* the same counts on every rank, so every rank decides alike */
    for (int r = 0; r < n_ranks; r++) {
        if (counts[r] > INT_MAX / (int64_t)sizeof(hitl_scored) - total) {
            st = hitl_error_set(err, HITL_EINVAL,
                                "too many rows above the threshold to gather over MPI (over "
                                "%lld): raise --threshold",
                                (long long)(INT_MAX / sizeof(hitl_scored)));
            goto out;
        }
        at[r] = (int)(total * (int64_t)sizeof(hitl_scored));
        bytes[r] = (int)(counts[r] * (int64_t)sizeof(hitl_scored));
        total += counts[r];
    }
    all = malloc(((size_t)total + 1) * sizeof(hitl_scored));
    st = all ? HITL_OK : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if ((st = hitl__mpi_agree(st, err)) != HITL_OK) goto out;
    MPI_Allgatherv(v->v, (int)(v->n * sizeof(hitl_scored)), MPI_BYTE, all, bytes, at, MPI_BYTE,
                   MPI_COMM_WORLD);
    free(v->v);
    v->v = all;
    v->n = v->cap = (size_t)total;
    all = NULL;
out:
    free(all);
    free(counts);
    free(bytes);
    free(at);
    return st;
}

hitl_status hitl__mpi_reduce_skipped(size_t *n, int64_t *first, hitl_error *err)
{
    uint64_t mine = *n, sum = 0;
    int64_t f = *first < 0 ? INT64_MAX : *first, low = INT64_MAX;
    MPI_Allreduce(&mine, &sum, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&f, &low, 1, MPI_INT64_T, MPI_MIN, MPI_COMM_WORLD);
    *n = (size_t)sum;
    *first = low == INT64_MAX ? -1 : low;
    (void)err;
    return HITL_OK;
}

#else /* no HITL_MPI */

static hitl_status not_built(hitl_error *err)
{
    return hitl_error_set(err, HITL_EINVAL,
                          "this hitl-data was built without MPI (cmake -DHITL_MPI=ON)");
}

hitl_status hitl_mpi_start(int *rank, int *size, hitl_error *err)
{
    if (rank) *rank = 0;
    if (size) *size = 1;
    return not_built(err);
}

void hitl_mpi_stop(void)
{
}

int hitl__mpi_rank(void)
{
    return 0;
}

int hitl__mpi_size(void)
{
    return 1;
}

hitl_status hitl__mpi_agree(hitl_status st, hitl_error *err)
{
    (void)err;
    return st;
}

hitl_status hitl__mpi_reduce_top(hitl_scored *top, size_t *n, size_t k, hitl_error *err)
{
    return not_built(err);
}

hitl_status hitl__mpi_gather(hitl_scored_vec *v, hitl_error *err)
{
    return not_built(err);
}

hitl_status hitl__mpi_reduce_skipped(size_t *n, int64_t *first, hitl_error *err)
{
    return not_built(err);
}

#endif
