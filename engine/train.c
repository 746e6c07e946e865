/* Training the linear head: L2-regularised multinomial logistic regression by L-BFGS, with loss
 * and gradient as sgemm calls over row blocks and every sum in double, so a fit of a pool's
 * labelled rows takes tens of passes and gives the same minimiser as scikit-learn's lbfgs. */
#include <cblas.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

#define HISTORY     10
#define ARMIJO      1e-4
#define MAX_TRIES   40
#define SOFT_SUMTOL 1e-3
#define NOISE       1e-9
/* The loss-change rule (scipy's L-BFGS-B "factr" test, scaled to float32): once f has fallen by
 * less than FLT_EPSILON * max(|f|, 1) over the last FLAT_ITERS iterations, the logits' float32
 * rounding hides any further progress, and where that floor lies depends on the BLAS kernel the
 * CPU picks; the gradient rule alone would then run to max_iter on some kernels only. */
#define FLAT_ITERS 10

typedef struct problem {
    const float *x;
    size_t n, d, c, block;
    const int32_t *labels;
    const float *soft;
    const float *cw;
    double l2, wsum; /* S = sum of the row weights */
    float *wf, *bf;  /* float copies of the parameters for the GEMMs */
    float *z;        /* [block, c] logits, then G */
    float *gblk;     /* [d, c] one block's X^T G */
} problem;

/* Row i's weight in the loss: its class weight, or with soft labels the weights' mean under
 * them; 1 without class weights. */
static double row_weight(const problem *p, size_t i)
{
    if (!p->cw) return 1.0;
    if (p->labels) return p->cw[p->labels[i]];
    double s = 0;
    for (size_t j = 0; j < p->c; j++)
        s += (double)p->cw[j] * p->soft[i * p->c + j];
    return s;
}

/* Every argument and the rows' contents: HITL_EINVAL, HITL_ESHAPE or HITL_EDATA (err->row the
 * row) as hitl_train_linear documents. */
static hitl_status check_args(const float *x, size_t n, size_t d, const int32_t *labels,
                              const float *soft, size_t c, const hitl_train_opts *opts,
                              hitl_error *err)
{
    if (!x || !opts || n == 0 || d == 0 || (!labels == !soft))
        return hitl_error_set(err, HITL_EINVAL,
                              "train: missing argument, no rows, or not exactly one target");
    if (c < 2) return hitl_error_set(err, HITL_EINVAL, "train: needs at least 2 classes");
    if (n > INT32_MAX || d > INT32_MAX || c > INT32_MAX || d * c > INT32_MAX)
        return hitl_error_set(err, HITL_ESHAPE, "train: shape too large for BLAS");
    if (!(opts->l2 >= 0) || !isfinite(opts->l2) || opts->max_iter < 0 || !(opts->tol >= 0))
        return hitl_error_set(err, HITL_EINVAL, "train: l2, max_iter and tol must be >= 0");
    if (opts->class_weights) {
        for (size_t j = 0; j < c; j++)
            if (!(opts->class_weights[j] > 0) || !isfinite(opts->class_weights[j]))
                return hitl_error_set(err, HITL_EINVAL,
                                      "train: class weight %zu must be a positive number", j);
    }
    for (size_t i = 0; i < n; i++) {
        if (labels && (labels[i] < 0 || (size_t)labels[i] >= c)) {
            hitl_error_set(err, HITL_EDATA, "train: label %d of row %zu is not in [0, %zu)",
                           (int)labels[i], i, c);
            if (err) err->row = (int64_t)i;
            return HITL_EDATA;
        }
        if (soft) {
            double s = 0;
            int bad = 0;
            for (size_t j = 0; j < c; j++) {
                float v = soft[i * c + j];
                if (!(v >= 0) || !isfinite(v)) bad = 1;
                s += v;
            }
            if (bad || fabs(s - 1) > SOFT_SUMTOL) {
                hitl_error_set(err, HITL_EDATA,
                               "train: soft labels of row %zu are not a distribution", i);
                if (err) err->row = (int64_t)i;
                return HITL_EDATA;
            }
        }
        for (size_t k = 0; k < d; k++) {
            if (!isfinite(x[i * d + k])) {
                hitl_error_set(err, HITL_EDATA, "train: feature %zu of row %zu is not finite", k,
                               i);
                if (err) err->row = (int64_t)i;
                return HITL_EDATA;
            }
        }
    }
    return HITL_OK;
}

/* Fills *p for the rows and options, allocating its float scratch (problem_release() after,
 * even on failure), and sums the row weights; HITL_EDATA when they sum to 0. */
static hitl_status problem_init(problem *p, const float *x, size_t n, size_t d,
                                const int32_t *labels, const float *soft, size_t c,
                                const hitl_train_opts *opts, hitl_error *err)
{
    memset(p, 0, sizeof(*p));
    p->x = x;
    p->n = n;
    p->d = d;
    p->c = c;
    p->labels = labels;
    p->soft = soft;
    p->cw = opts->class_weights;
    p->l2 = opts->l2;
    p->block = opts->block_rows ? opts->block_rows : 4096;
    if (p->block > n) p->block = n;
    p->wf = malloc(d * c * sizeof(float));
    p->bf = malloc(c * sizeof(float));
    p->z = malloc(p->block * c * sizeof(float));
    p->gblk = malloc(d * c * sizeof(float));
    if (!p->wf || !p->bf || !p->z || !p->gblk)
        return hitl_error_set(err, HITL_ENOMEM, "train: out of memory");
    for (size_t i = 0; i < n; i++)
        p->wsum += row_weight(p, i);
    if (!(p->wsum > 0)) return hitl_error_set(err, HITL_EDATA, "train: the row weights sum to 0");
    return HITL_OK;
}

/* Frees p's scratch (the rows and labels are borrowed). */
static void problem_release(problem *p)
{
    free(p->wf);
    free(p->bf);
    free(p->z);
    free(p->gblk);
}

/* f and (when g is non-NULL) its gradient at theta = [W (d x c), b (c)], both double. */
static double evaluate(problem *p, const double *theta, double *g)
{
    size_t d = p->d, c = p->c, nw = d * c;
    for (size_t i = 0; i < nw; i++)
        p->wf[i] = (float)theta[i];
    for (size_t j = 0; j < c; j++)
        p->bf[j] = (float)theta[nw + j];
    if (g) memset(g, 0, (nw + c) * sizeof(double));
    double loss = 0;
    for (size_t r0 = 0; r0 < p->n; r0 += p->block) {
        size_t m = p->n - r0 < p->block ? p->n - r0 : p->block;
        const float *xb = p->x + r0 * d;
        hitl_head_logits(xb, m, d, p->wf, p->bf, c, p->z, NULL);
        for (size_t i = 0; i < m; i++) {
            size_t row = r0 + i;
            float *z = p->z + i * c;
            double mx = z[0], se = 0;
            for (size_t j = 1; j < c; j++)
                if (z[j] > mx) mx = z[j];
            for (size_t j = 0; j < c; j++)
                se += exp((double)z[j] - mx);
            double lse = mx + log(se), s = row_weight(p, row), li = 0;
            for (size_t j = 0; j < c; j++) {
                double y = p->labels ? (p->labels[row] == (int32_t)j) : p->soft[row * c + j];
                double lp = (double)z[j] - lse;
                if (y != 0) li -= y * lp;
                double gij = s * (exp(lp) - y) / p->wsum;
                z[j] = (float)gij;
                if (g) g[nw + j] += gij;
            }
            loss += s * li;
        }
        if (g) {
            /* grad_W += X_block^T G_block */
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)d, (int)c, (int)m, 1.0f, xb,
                        (int)d, p->z, (int)c, 0.0f, p->gblk, (int)c);
            for (size_t i = 0; i < nw; i++)
                g[i] += p->gblk[i];
        }
    }
    double f = loss / p->wsum;
    if (p->l2 > 0) {
        f += 0.5 * p->l2 * cblas_ddot((int)nw, theta, 1, theta, 1);
        if (g) cblas_daxpy((int)nw, p->l2, theta, 1, g, 1);
    }
    return f;
}

/* max |v_i| over v[0 .. n). */
static double inf_norm(const double *v, size_t n)
{
    return fabs(v[cblas_idamax((int)n, v, 1)]);
}

hitl_status hitl_train_loss(const float *x, size_t n, size_t d, const int32_t *labels,
                            const float *soft, size_t c, const hitl_train_opts *opts,
                            const float *w, const float *b, double *loss, double *gw, double *gb,
                            hitl_error *err)
{
    hitl_status st = check_args(x, n, d, labels, soft, c, opts, err);
    if (st != HITL_OK) return st;
    if (!w || !b || !loss) return hitl_error_set(err, HITL_EINVAL, "train: missing argument");
    problem p;
    size_t np = d * c + c;
    double *theta = malloc(np * sizeof(double)), *g = malloc(np * sizeof(double));
    st = problem_init(&p, x, n, d, labels, soft, c, opts, err);
    if (st == HITL_OK && (!theta || !g))
        st = hitl_error_set(err, HITL_ENOMEM, "train: out of memory");
    if (st == HITL_OK) {
        for (size_t i = 0; i < d * c; i++)
            theta[i] = w[i];
        for (size_t j = 0; j < c; j++)
            theta[d * c + j] = b[j];
        *loss = evaluate(&p, theta, g);
        if (gw) memcpy(gw, g, d * c * sizeof(double));
        if (gb) memcpy(gb, g + d * c, c * sizeof(double));
    }
    problem_release(&p);
    free(theta);
    free(g);
    return st;
}

/* The L-BFGS memory: up to HISTORY pairs in a ring, the oldest at `first`: dtheta = theta_new -
 * theta and dgrad = grad_new - grad of an accepted step, rho = 1 / (dtheta' dgrad); alpha is the
 * two-loop recursion's scratch. The vectors point into the caller's buffer. */
typedef struct lbfgs_memory {
    double *dtheta[HISTORY], *dgrad[HISTORY], rho[HISTORY], alpha[HISTORY];
    int count, first;
} lbfgs_memory;

/* The L-BFGS direction -H grad by the two-loop recursion over the first `count` stored pairs
 * (0: the scaled steepest descent), oldest first. */
static void lbfgs_direction(lbfgs_memory *mem, int count, size_t np, const double *grad,
                            double *dir)
{
    memcpy(dir, grad, np * sizeof(double));
    for (int k = count - 1; k >= 0; k--) {
        int i = (mem->first + k) % HISTORY;
        mem->alpha[i] = mem->rho[i] * cblas_ddot((int)np, mem->dtheta[i], 1, dir, 1);
        cblas_daxpy((int)np, -mem->alpha[i], mem->dgrad[i], 1, dir, 1);
    }
    if (count > 0) {
        int last = (mem->first + count - 1) % HISTORY;
        double yy = cblas_ddot((int)np, mem->dgrad[last], 1, mem->dgrad[last], 1);
        cblas_dscal((int)np, 1.0 / (mem->rho[last] * yy), dir, 1); /* gamma = s'y / y'y */
    } else {
        double norm = cblas_dnrm2((int)np, grad, 1);
        cblas_dscal((int)np, norm > 1 ? 1.0 / norm : 1.0, dir, 1);
    }
    for (int k = 0; k < count; k++) {
        int i = (mem->first + k) % HISTORY;
        double beta = mem->rho[i] * cblas_ddot((int)np, mem->dgrad[i], 1, dir, 1);
        cblas_daxpy((int)np, mem->alpha[i] - beta, mem->dtheta[i], 1, dir, 1);
    }
    cblas_dscal((int)np, -1.0, dir, 1);
}

/* Stores the step theta -> theta_new (gradients grad -> grad_new) in the memory, kept when its
 * curvature dtheta' dgrad is positive; a rejected pair still takes the oldest's slot when full. */
static void lbfgs_remember(lbfgs_memory *mem, size_t np, const double *theta,
                           const double *theta_new, const double *grad, const double *grad_new)
{
    int slot = mem->count < HISTORY ? (mem->first + mem->count) % HISTORY : mem->first;
    memcpy(mem->dtheta[slot], theta_new, np * sizeof(double));
    cblas_daxpy((int)np, -1.0, theta, 1, mem->dtheta[slot], 1);
    memcpy(mem->dgrad[slot], grad_new, np * sizeof(double));
    cblas_daxpy((int)np, -1.0, grad, 1, mem->dgrad[slot], 1);
    double sy = cblas_ddot((int)np, mem->dtheta[slot], 1, mem->dgrad[slot], 1);
    double yy = cblas_ddot((int)np, mem->dgrad[slot], 1, mem->dgrad[slot], 1);
    if (sy > 1e-12 * yy && sy > 0) {
        mem->rho[slot] = 1.0 / sy;
        if (mem->count < HISTORY)
            mem->count++;
        else
            mem->first = (mem->first + 1) % HISTORY;
    } else if (mem->count == HISTORY) { /* the oldest pair's slot was overwritten: drop it */
        mem->first = (mem->first + 1) % HISTORY;
        mem->count--;
    }
}

/* Backtracking Armijo search from theta (loss, max |gradient| grad_inf) along dir (slope
 * < 0), with safeguarded quadratic interpolation: the accepted point, its loss and its gradient
 * into theta_new, *loss_new and grad_new. 0 when none of MAX_TRIES steps is accepted; *evals
 * counts the evaluations. */
static int line_search(problem *p, size_t np, const double *theta, double loss, double grad_inf,
                       const double *dir, double slope, double *theta_new, double *loss_new,
                       double *grad_new, int *evals)
{
    double step = 1;
    for (int tries = 0; tries < MAX_TRIES; tries++) {
        memcpy(theta_new, theta, np * sizeof(double));
        cblas_daxpy((int)np, step, dir, 1, theta_new, 1);
        double next = evaluate(p, theta_new, grad_new);
        *loss_new = next;
        (*evals)++;
        /* near the minimum f is flat below float32 logits' rounding: a step that keeps f
         * within that noise and shrinks the gradient is progress too */
        if (isfinite(next) &&
            (next <= loss + ARMIJO * step * slope ||
             (next <= loss + NOISE * fabs(loss) && inf_norm(grad_new, np) < 0.9 * grad_inf)))
            return 1;
        double quad =
            isfinite(next) ? -slope * step * step / (2 * (next - loss - slope * step)) : 0.1 * step;
        step = fmin(fmax(quad, 0.1 * step), 0.5 * step);
    }
    return 0;
}

/* Whether f has fallen by less than FLT_EPSILON max(|f|, 1) over the last FLAT_ITERS iterations
 * (loss_hist[i % FLAT_ITERS]: f after iteration i); records f after iteration `iter`. */
static int loss_is_flat(double *loss_hist, int iter, double loss)
{
    double *then = &loss_hist[iter % FLAT_ITERS]; /* f after iteration iter - FLAT_ITERS */
    if (iter >= FLAT_ITERS && *then - loss <= FLT_EPSILON * fmax(fmax(fabs(*then), fabs(loss)), 1))
        return 1;
    *then = loss;
    return 0;
}

hitl_status hitl_train_linear(const float *x, size_t n, size_t d, const int32_t *labels,
                              const float *soft, size_t c, const hitl_train_opts *opts, float *w,
                              float *b, hitl_train_report *report, hitl_error *err)
{
    hitl_status st = check_args(x, n, d, labels, soft, c, opts, err);
    if (st != HITL_OK) return st;
    if (!w || !b) return hitl_error_set(err, HITL_EINVAL, "train: missing output");
    int max_iter = opts->max_iter ? opts->max_iter : 200;
    double tol = opts->tol > 0 ? opts->tol : 1e-5;
    size_t np = d * c + c;

    problem p;
    double *buf = calloc(np * (5 + 2 * HISTORY), sizeof(double));
    st = problem_init(&p, x, n, d, labels, soft, c, opts, err);
    if (st == HITL_OK && !buf) st = hitl_error_set(err, HITL_ENOMEM, "train: out of memory");
    if (st != HITL_OK) {
        problem_release(&p);
        free(buf);
        return st;
    }
    double *theta = buf, *grad = buf + np, *dir = buf + 2 * np;
    double *theta_new = buf + 3 * np, *grad_new = buf + 4 * np;
    for (size_t i = 0; opts->warm_start && i < np; i++) {
        theta[i] = i < d * c ? w[i] : b[i - d * c];
        if (!isfinite(theta[i])) {
            problem_release(&p);
            free(buf);
            return hitl_error_set(err, HITL_EINVAL, "train: the warm start is not finite");
        }
    }
    lbfgs_memory mem = {.count = 0, .first = 0};
    for (int i = 0; i < HISTORY; i++) {
        mem.dtheta[i] = buf + (5 + 2 * (size_t)i) * np;
        mem.dgrad[i] = mem.dtheta[i] + np;
    }
    int iter = 0, evals = 1;
    hitl_train_stop stop = HITL_TRAIN_MAX_ITER;
    double loss = evaluate(&p, theta, grad), grad_inf = inf_norm(grad, np);
    double loss_hist[FLAT_ITERS];
    for (;;) {
        if (grad_inf <= tol) {
            stop = HITL_TRAIN_CONVERGED;
            break;
        }
        if (loss_is_flat(loss_hist, iter, loss)) {
            stop = HITL_TRAIN_FLAT;
            break;
        }
        if (iter >= max_iter) break;
        lbfgs_direction(&mem, mem.count, np, grad, dir);
        double slope = cblas_ddot((int)np, grad, 1, dir, 1);
        if (!(slope < 0)) { /* not a descent direction: forget the curvature pairs */
            mem.count = 0;
            lbfgs_direction(&mem, 0, np, grad, dir);
            slope = cblas_ddot((int)np, grad, 1, dir, 1);
        }
        double loss_new = 0;
        if (!line_search(&p, np, theta, loss, grad_inf, dir, slope, theta_new, &loss_new, grad_new,
                         &evals)) {
            stop = HITL_TRAIN_NO_PROGRESS;
            break;
        }
        iter++;
        lbfgs_remember(&mem, np, theta, theta_new, grad, grad_new);
        memcpy(theta, theta_new, np * sizeof(double));
        memcpy(grad, grad_new, np * sizeof(double));
        loss = loss_new;
        grad_inf = inf_norm(grad, np);
    }
    for (size_t i = 0; i < d * c; i++)
        w[i] = (float)theta[i];
    for (size_t j = 0; j < c; j++)
        b[j] = (float)theta[d * c + j];
    if (report) {
        report->iterations = iter;
        report->evaluations = evals;
        report->loss = loss;
        report->grad_norm = grad_inf;
        report->stop = stop;
        report->converged = stop == HITL_TRAIN_CONVERGED || stop == HITL_TRAIN_FLAT;
    }
    problem_release(&p);
    free(buf);
    return HITL_OK;
}

hitl_status hitl_class_weights_balanced(const int32_t *labels, const float *soft, size_t n,
                                        size_t c, float *out, hitl_error *err)
{
    if (!out || n == 0 || c == 0 || (!labels == !soft))
        return hitl_error_set(
            err, HITL_EINVAL,
            "class weights: missing argument, no rows, or not exactly one target");
    double *mass = calloc(c, sizeof(double));
    if (!mass) return hitl_error_set(err, HITL_ENOMEM, "class weights: out of memory");
    for (size_t i = 0; i < n; i++) {
        if (soft) {
            for (size_t j = 0; j < c; j++)
                mass[j] += soft[i * c + j];
        } else if (labels[i] >= 0 && (size_t)labels[i] < c) {
            mass[labels[i]] += 1;
        } else {
            free(mass);
            hitl_error_set(err, HITL_EDATA, "train: label %d of row %zu is not in [0, %zu)",
                           (int)labels[i], i, c);
            if (err) err->row = (int64_t)i;
            return HITL_EDATA;
        }
    }
    for (size_t j = 0; j < c; j++)
        out[j] = mass[j] > 0 ? (float)((double)n / ((double)c * mass[j])) : 1.0f;
    free(mass);
    return HITL_OK;
}
