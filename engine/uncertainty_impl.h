/* Internal to the engine's uncertainty scores: the tile layout shared by the per-ISA kernels
 * (uncertainty_kernel.c, compiled once per instruction set) and the scalar code around them. */
#ifndef HITL_UNCERTAINTY_IMPL_H
#define HITL_UNCERTAINTY_IMPL_H

#include "hitl_engine.h"

#define HITL__TILE       64 /* rows scored together: a multiple of every SIMD width */
#define HITL__TILE_MAX_C 32 /* more classes than this take the row path */

/* Per-row statistics of one tile, shared by both input kinds. */
typedef struct hitl__tile_stats {
    float m1[HITL__TILE], m2[HITL__TILE]; /* the two largest values (probs or logits) */
    int32_t arg[HITL__TILE];              /* argmax, lowest index among ties */
    int32_t bad[HITL__TILE];              /* non-zero: NaN, Inf or (probs) negative entry */
    double sum[HITL__TILE];               /* probs: sum p; logits: sum e^((z - max) / T) */
    double h[HITL__TILE];                 /* probs: sum p ln p; logits: sum e^s s */
} hitl__tile_stats;

typedef struct hitl__score_ctx {
    const hitl_score_opts *opts;
    size_t c;
    int64_t row0;
    double tol, inv_ln_c;
    float inv_t;
    size_t skipped;
    hitl_error *err;
} hitl__score_ctx;

/* Validates and scores a tile row by row (any tile with an invalid row or a sum off 1). */
hitl_status hitl__finish_tile_checked(hitl__score_ctx *ctx, const hitl__tile_stats *t, size_t base,
                                      size_t n, const float *x, const hitl_score_out *out);

/* The kernels: score rows [0, n) of x into out. One per instruction set. */
typedef hitl_status (*hitl__score_rows_fn)(hitl__score_ctx *ctx, const float *x, size_t n,
                                           const hitl_score_out *out);
hitl_status hitl__score_rows_generic(hitl__score_ctx *ctx, const float *x, size_t n,
                                     const hitl_score_out *out);
#if defined(__x86_64__)
hitl_status hitl__score_rows_avx2(hitl__score_ctx *ctx, const float *x, size_t n,
                                  const hitl_score_out *out);
hitl_status hitl__score_rows_avx512(hitl__score_ctx *ctx, const float *x, size_t n,
                                    const hitl_score_out *out);
#endif

#endif /* HITL_UNCERTAINTY_IMPL_H */
