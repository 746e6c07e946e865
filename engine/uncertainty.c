/* Uncertainty scores (lc, margin, ratio, entropy) for blocks of probability or logit rows, all in
 * one pass: argument checks, the per-ISA kernel chosen once at run time, and the slow path that
 * validates rows one by one and names the first bad one. */
#include <math.h>
#include <string.h>

#include "uncertainty_impl.h"
#include "hitl_banned.h"

static const char *const method_names[HITL_METHOD_COUNT] = {"lc", "margin", "ratio", "entropy"};

const char *hitl_method_name(hitl_method m)
{
    return (unsigned)m < HITL_METHOD_COUNT ? method_names[m] : "unknown";
}

hitl_status hitl_method_parse(const char *name, hitl_method *out)
{
    for (int m = 0; m < HITL_METHOD_COUNT; m++) {
        if (name && strcmp(name, method_names[m]) == 0) {
            *out = (hitl_method)m;
            return HITL_OK;
        }
    }
    return HITL_EINVAL;
}

/* Scores of one validated row from its statistics; p1, p2 already normalised. */
static void emit(const hitl_score_out *out, size_t i, float p1, float p2, double ent, int32_t arg)
{
    if (out->scores[HITL_METHOD_LC]) out->scores[HITL_METHOD_LC][i] = 1.0f - p1;
    if (out->scores[HITL_METHOD_MARGIN]) out->scores[HITL_METHOD_MARGIN][i] = 1.0f - (p1 - p2);
    if (out->scores[HITL_METHOD_RATIO]) out->scores[HITL_METHOD_RATIO][i] = p1 > 0 ? p2 / p1 : 1;
    if (out->scores[HITL_METHOD_ENTROPY]) out->scores[HITL_METHOD_ENTROPY][i] = (float)ent;
    if (out->pred) out->pred[i] = arg;
    if (out->p1) out->p1[i] = p1;
}

/* Row i's outputs for a row that is skipped: NaN scores and p1, prediction -1. */
static void emit_skipped(const hitl_score_out *out, size_t i)
{
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        if (out->scores[m]) out->scores[m][i] = NAN;
    if (out->pred) out->pred[i] = -1;
    if (out->p1) out->p1[i] = NAN;
}

/* Names row i in the message already in ctx->err ("row N: ...") and records it. */
static hitl_status row_error(hitl__score_ctx *ctx, size_t i, hitl_status st)
{
    int64_t row = ctx->row0 + (int64_t)i;
    hitl_error_prefix(ctx->err, "row %lld", (long long)row);
    if (ctx->err) ctx->err->row = row;
    return st;
}

/* HITL_EDATA for row i, the message `why` prefixed with the row. */
static hitl_status bad_row(hitl__score_ctx *ctx, size_t i, const char *why)
{
    return row_error(ctx, i, hitl_error_set(ctx->err, HITL_EDATA, "%s", why));
}

/* Slow path for a tile holding an invalid row or a sum off 1: validates row by row. */
hitl_status hitl__finish_tile_checked(hitl__score_ctx *ctx, const hitl__tile_stats *t, size_t base,
                                      size_t n, const float *x, const hitl_score_out *out)
{
    const hitl_score_opts *o = ctx->opts;
    int want_h = (o->methods & HITL_METHOD_BIT(HITL_METHOD_ENTROPY)) != 0;
    for (size_t k = 0; k < n; k++) {
        size_t i = base + k;
        double ent = 0, s = t->sum[k];
        float p1, p2;
        if (o->kind == HITL_INPUT_LOGITS) {
            if (t->bad[k]) {
                if (!o->renormalize) return bad_row(ctx, i, "logit is NaN or infinite");
                goto skip;
            }
            p1 = (float)(1.0 / s);
            p2 = (float)(expf((t->m2[k] - t->m1[k]) * ctx->inv_t) / s);
            if (want_h) ent = log(s) - t->h[k] / s;
        } else if (t->bad[k]) {
            if (!o->renormalize) {
                const float *r = x + i * ctx->c;
                for (size_t j = 0; j < ctx->c; j++) {
                    if (isnan(r[j])) return bad_row(ctx, i, "probability is NaN");
                    if (isinf(r[j])) return bad_row(ctx, i, "probability is infinite");
                }
                return bad_row(ctx, i, "probability is negative");
            }
            goto skip;
        } else if (fabs(s - 1.0) > ctx->tol) {
            if (!o->renormalize)
                return row_error(
                    ctx, i,
                    hitl_error_set(ctx->err, HITL_EDATA, "probabilities sum to %.6g, not 1", s));
            if (!(s > 0)) goto skip;
            p1 = (float)(t->m1[k] / s);
            p2 = (float)(t->m2[k] / s);
            if (want_h) ent = log(s) - t->h[k] / s;
        } else {
            p1 = t->m1[k];
            p2 = t->m2[k];
            if (want_h) ent = -t->h[k];
        }
        if (want_h) {
            if (ent < 0) ent = 0; /* rounding on one-hot rows */
            if (o->normalize_entropy) ent *= ctx->inv_ln_c;
        }
        emit(out, i, p1, p2, ent, t->arg[k]);
        continue;
    skip:
        emit_skipped(out, i);
        ctx->skipped++;
    }
    return HITL_OK;
}

static const struct {
    const char *name;
    hitl__score_rows_fn fn;
} kernels[] = {
#if defined(__x86_64__)
    {"avx512", hitl__score_rows_avx512},
    {"avx2", hitl__score_rows_avx2},
#endif
    {"generic", hitl__score_rows_generic},
};
#define N_KERNELS (sizeof(kernels) / sizeof(kernels[0]))

/* Whether this CPU runs the kernel built for `isa` ("avx512", "avx2", "generic"). */
static int cpu_has(const char *isa)
{
#if defined(__x86_64__) && defined(__GNUC__)
    __builtin_cpu_init();
    if (strcmp(isa, "avx512") == 0)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
    if (strcmp(isa, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    return strcmp(isa, "generic") == 0;
}

static int chosen = -1; /* index into kernels[]; every thread would choose the same */

/* The kernel in use: the first of kernels[] the CPU runs, chosen once (hitl_scores_set_isa may
 * set it). */
static int kernel_index(void)
{
    int k = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (k < 0) {
        for (k = 0; k < (int)N_KERNELS - 1 && !cpu_has(kernels[k].name); k++)
            continue;
        __atomic_store_n(&chosen, k, __ATOMIC_RELAXED);
    }
    return k;
}

const char *hitl_scores_isa(void)
{
    return kernels[kernel_index()].name;
}

hitl_status hitl_scores_set_isa(const char *isa)
{
    for (size_t k = 0; k < N_KERNELS; k++) {
        if (strcmp(isa, kernels[k].name) == 0 && cpu_has(isa)) {
            __atomic_store_n(&chosen, (int)k, __ATOMIC_RELAXED);
            return HITL_OK;
        }
    }
    return HITL_EINVAL;
}

hitl_status hitl_scores_compute(const hitl_score_opts *opts, const float *x, size_t n, size_t c,
                                int64_t row0, const hitl_score_out *out, size_t *n_skipped,
                                hitl_error *err)
{
    if (!opts || !out || (n && !x))
        return hitl_error_set(err, HITL_EINVAL, "scores: missing argument");
    if (c < 2)
        return hitl_error_set(err, HITL_ESHAPE,
                              "need at least 2 classes to score uncertainty, got %zu", c);
    if (c > INT32_MAX) return hitl_error_set(err, HITL_ESHAPE, "too many classes: %zu", c);
    if (opts->kind == HITL_INPUT_LOGITS && !(opts->temperature >= 0 && isfinite(opts->temperature)))
        return hitl_error_set(err, HITL_EINVAL, "temperature must be positive, got %g",
                              (double)opts->temperature);
    hitl__score_ctx ctx = {
        .opts = opts,
        .c = c,
        .row0 = row0,
        .tol = opts->sum_tolerance > 0 ? opts->sum_tolerance : 1e-3,
        .inv_ln_c = 1.0 / log((double)c),
        .inv_t = opts->temperature > 0 ? 1.0f / opts->temperature : 1.0f,
        .err = err,
    };
    hitl_score_out o = *out; /* only the requested scores are written */
    for (int m = 0; m < HITL_METHOD_COUNT; m++)
        if (!(opts->methods & HITL_METHOD_BIT(m))) o.scores[m] = NULL;
    hitl_status st = kernels[kernel_index()].fn(&ctx, x, n, &o);
    if (n_skipped) *n_skipped = ctx.skipped;
    return st;
}
