/* The linear head: logits = X W + b for a block of embeddings, one cblas_sgemm call with the bias
 * broadcast into the output first (beta = 1), so no extra pass over the logits; and the softmax
 * that turns logits into probabilities. */
#include <cblas.h>
#include <math.h>
#include <omp.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

hitl_status hitl_head_logits(const float *x, size_t n, size_t d, const float *w, const float *b,
                             size_t c, float *logits, hitl_error *err)
{
    if (n == 0) return HITL_OK;
    if (!x || !w || !logits || d == 0 || c == 0)
        return hitl_error_set(err, HITL_EINVAL, "head: missing argument or empty shape");
    if (n > INT32_MAX || d > INT32_MAX || c > INT32_MAX)
        return hitl_error_set(err, HITL_ESHAPE, "head: shape too large for BLAS (%zu x %zu x %zu)",
                              n, d, c);
    if (b) {
        for (size_t i = 0; i < n; i++)
            memcpy(logits + i * c, b, c * sizeof(float));
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)n, (int)c, (int)d, 1.0f, x, (int)d,
                w, (int)c, b ? 1.0f : 0.0f, logits, (int)c);
    return HITL_OK;
}

void hitl_softmax_rows(float *z, size_t n, size_t c, float temperature)
{
    float t = temperature > 0 ? temperature : 1.0f;
    for (size_t i = 0; i < n; i++) {
        float *row = z + i * c, mx = row[0], sum = 0;
        for (size_t j = 1; j < c; j++)
            mx = row[j] > mx ? row[j] : mx;
        for (size_t j = 0; j < c; j++)
            sum += row[j] = expf((row[j] - mx) / t);
        for (size_t j = 0; j < c; j++)
            row[j] /= sum;
    }
}

/* OpenBLAS's OpenMP build also sets OpenMP's default team size here (and runs every call made
 * inside a parallel region on one thread anyway); keep OpenMP's default as it was, so a parallel
 * region after this call still gets every core. */
int hitl_blas_set_threads(int n)
{
    int before = openblas_get_num_threads();
    if (n > 0) {
        int team = omp_get_max_threads();
        openblas_set_num_threads(n);
        omp_set_num_threads(team);
    }
    return before;
}
