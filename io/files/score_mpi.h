/* The score pass's MPI steps (score_mpi.c), for score_pass.c: with HITL_MPI they talk to the
 * other ranks of MPI_COMM_WORLD; without it they are never reached (hitl_mpi_start refuses) and
 * report HITL_EINVAL. Every rank calls each of them at the same point, in the same order. */
#ifndef HITL_SCORE_MPI_H
#define HITL_SCORE_MPI_H

#include "hitl_files.h"

/* This rank and the number of ranks (0 and 1 before hitl_mpi_start). */
int hitl__mpi_rank(void);
int hitl__mpi_size(void);
/* Every rank's status in one: HITL_OK when all succeeded, else the status and message of the
 * lowest failing rank (the rows are dealt in rank order, so its failure is the first in the
 * pool), copied into every rank's *err. */
hitl_status hitl__mpi_agree(hitl_status st, hitl_error *err);
/* *top (n rows sorted best first, room for k) becomes the best k over every rank's list. */
hitl_status hitl__mpi_reduce_top(hitl_scored *top, size_t *n, size_t k, hitl_error *err);
/* v becomes every rank's rows, rank by rank (unsorted). */
hitl_status hitl__mpi_gather(hitl_scored_vec *v, hitl_error *err);
/* The skipped rows: their count summed, the first (-1: none) the lowest over the ranks. */
hitl_status hitl__mpi_reduce_skipped(size_t *n, int64_t *first, hitl_error *err);

#endif /* HITL_SCORE_MPI_H */
