/* A simulated annotator for the concurrency, kill and latency tests: leases and labels items
 * through the io library until nothing is left, choosing labels with a seeded generator, and
 * logs each committed label (item, label) and each round trip's latency. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hitl_io.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A predecessor SIGKILLed in the middle of writing a record (a write that crosses a page of the
 * file can stop short) may have left half a line: end it, so every record starts a line of its
 * own. The checkers skip such fragments (fewer than three fields). */
static void end_torn_line(FILE *log, const char *path)
{
    FILE *r = fopen(path, "rb");
    if (!r) return;
    if (fseek(r, -1, SEEK_END) == 0 && fgetc(r) != '\n') {
        fputc('\n', log);
        fflush(log);
    }
    fclose(r);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: hitl_test_annotator DB NAME SEED [LOG] [--max N] [--agree]\n");
        return 2;
    }
    const char *db = argv[1], *name = argv[2];
    uint64_t seed = strtoull(argv[3], NULL, 10);
    FILE *log = argc > 4 && argv[4][0] != '-' ? fopen(argv[4], "a") : NULL;
    if (log) end_torn_line(log, argv[4]);
    long max = -1;
    int agree = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--max") == 0 && i + 1 < argc)
            max = atol(argv[++i]);
        else if (strcmp(argv[i], "--agree") == 0)
            agree = 1;
    }
    hitl_error err;
    hitl_error_clear(&err);
    hitl_store *st;
    if (hitl_store_open(&st, db, &err) != HITL_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        return 1;
    }
    hitl_store_settings set;
    hitl_store_settings_get(st, &set, NULL);
    hitl_rng rng;
    hitl_rng_seed(&rng, seed);
    long done = 0;
    int rc = 0;
    while (max < 0 || done < max) {
        double t0 = now();
        hitl_lease l;
        int found;
        if (hitl_store_next(st, name, &l, &found, &err) != HITL_OK) {
            fprintf(stderr, "%s: next: %s\n", name, err.msg);
            rc = 1;
            break;
        }
        if (!found) break;
        /* --agree: everyone labels by the item id's hash, so overlap agrees */
        size_t k =
            agree ? (size_t)(strlen(l.pool_id) * 31 + (unsigned char)l.pool_id[0]) % set.n_classes
                  : (size_t)hitl_rng_below(&rng, set.n_classes);
        if (hitl_store_label(st, l.pool_id, set.classes[k], name, &err) != HITL_OK) {
            fprintf(stderr, "%s: label %s: %s\n", name, l.pool_id, err.msg);
            hitl_lease_release(&l);
            rc = 1;
            break;
        }
        double dt = now() - t0;
        if (log) {
            fprintf(log, "%s\t%s\t%.6f\n", l.pool_id, set.classes[k], dt);
            fflush(log);
        }
        hitl_lease_release(&l);
        done++;
    }
    if (log) fclose(log);
    hitl_store_settings_release(&set);
    hitl_store_close(st);
    return rc;
}
