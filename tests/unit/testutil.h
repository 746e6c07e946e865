/* Shared helpers for the Check unit tests: a seeded generator for random inputs and temporary
 * paths in the test's working directory. */
#ifndef HITL_TESTUTIL_H
#define HITL_TESTUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "hitl_engine.h"

/* Defined under AddressSanitizer (gcc and clang). */
#if defined(__SANITIZE_ADDRESS__)
#define TU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TU_ASAN 1
#endif
#endif

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
/* Removes the SQLite database at path and its -wal and -shm files, where they exist. */
void tu_remove_store(const char *path);

/* Runs fn(path) in a forked child whose memory is capped at 2 GiB (RLIMIT_AS; under ASan, whose
 * shadow memory needs terabytes of address space, the test binary's __asan_default_options caps
 * allocations instead), so that an allocation sized by a claimed shape fails instead of being
 * granted lazily. Returns fn's status (the child's exit code); a failure whose message lacks
 * `sub` or does not follow the house style (one line, no final full stop) exits 100, a death (a
 * sanitizer report, a signal) is -1. */
int tu_capped(hitl_status (*fn)(const char *, hitl_error *), const char *path, const char *sub);

#endif
