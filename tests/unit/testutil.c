/* Shared helpers for the Check unit tests: seeded inputs, temp paths, a memory-capped child. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

void tu_rng_seed(tu_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ull + 1;
}

uint64_t tu_rng_u64(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 2685821657736338717ull;
}

double tu_rng_uniform(tu_rng *r)
{
    return (double)(tu_rng_u64(r) >> 11) * (1.0 / 9007199254740992.0);
}

void tu_random_probs(tu_rng *r, float *x, size_t n, size_t c)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (size_t j = 0; j < c; j++) {
            double e = -log(1.0 - tu_rng_uniform(r));
            x[i * c + j] = (float)e;
            s += e;
        }
        for (size_t j = 0; j < c; j++)
            x[i * c + j] = (float)(x[i * c + j] / s);
    }
}

const char *tu_tmp_path(const char *name)
{
    static char buf[512];
    snprintf(buf, sizeof(buf), "tmp-%ld-%s", (long)getpid(), name);
    return buf;
}

void tu_remove_store(const char *path)
{
    char side[600];
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);
}

int tu_capped(hitl_status (*fn)(const char *, hitl_error *), const char *path, const char *sub)
{
    fflush(NULL);
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
#ifndef TU_ASAN
        struct rlimit rl = {(rlim_t)2 << 30, (rlim_t)2 << 30};
        if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(101);
#endif
        hitl_error err;
        hitl_error_clear(&err);
        hitl_status st = fn(path, &err);
        size_t len = strlen(err.msg);
        if (st != HITL_OK && (!strstr(err.msg, sub) || len == 0 || err.msg[len - 1] == '.' ||
                              strchr(err.msg, '\n'))) {
            fprintf(stderr, "message '%s' lacks '%s'\n", err.msg, sub);
            _exit(100);
        }
        _exit((int)st);
    }
    int ws;
    ck_assert(waitpid(pid, &ws, 0) == pid);
    return WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
}
