/* Shared helpers for the Check unit tests: a seeded generator for random inputs and temporary
 * paths in the test's working directory. */
#ifndef HITL_TESTUTIL_H
#define HITL_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

/* xorshift64*: deterministic across platforms for a seed. */
typedef struct {
    uint64_t s;
} tu_rng;
void tu_rng_seed(tu_rng *r, uint64_t seed);
uint64_t tu_rng_u64(tu_rng *r);
double tu_rng_uniform(tu_rng *r); /* [0, 1) */
/* Fills n rows of c probabilities (Dirichlet(1)-like via -log(u)), row-major. */
void tu_random_probs(tu_rng *r, float *x, size_t n, size_t c);
/* A path "<name>" unique to this process in the current directory; static buffer. */
const char *tu_tmp_path(const char *name);

#endif
