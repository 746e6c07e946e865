/* Internal to the engine: agreement.c's histogram path on a dense matrix
 * (agreement_matrix.c). */
#ifndef HITL_AGREEMENT_IMPL_H
#define HITL_AGREEMENT_IMPL_H

#include "hitl_engine.h"

/* Adds to hist[H] (H = (n_labels + 1)^n_annotators <= 2^16, n_annotators <= 16) how many of
 * m's rows show each configuration, code sum over annotators a of (label + 1) (L + 1)^a, 0 for
 * no rating; nt threads, AVX-512 VBMI where the CPU has it unless `portable`. Returns 1 when a
 * label is >= n_labels (the counts are then void: the caller's table build names it), -1 when
 * out of memory, else 0. */
int hitl__matrix_hist(const hitl_ratings_matrix *m, size_t H, int nt, int portable, int64_t *hist);

#endif /* HITL_AGREEMENT_IMPL_H */
