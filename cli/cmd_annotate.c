/* hitl annotate: the interactive labelling loop in a terminal: shows each leased item's payload
 * (and the model's guess where the policy allows, never on blind items), takes a class by its
 * number or name, s to skip, u to undo the last label, q to quit, and shows progress. */
#include <string.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl annotate DB --annotator NAME\n"
    "\n"
    "Labels items one after another. At the prompt type a class number (1..C) or name and\n"
    "Enter; s to skip, u to undo your last label, q to quit (your lease is kept until it\n"
    "expires, so the same item comes back first next time). A refused answer (the lease\n"
    "expired, the item is already labelled) is shown and asked again; a write that fails (a\n"
    "full disk, an I/O error) ends the session with the error and exit 1, keeping the labels\n"
    "already given.\n";

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

int cmd_annotate(int argc, char **argv)
{
    const char *who = NULL;
    const cli_opt opts[] = {CLI_O_STR("annotator", &who), CLI_O_END};
    int rc = cli_options("annotate", usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    if (!who) return cli_usage_error("annotate", "--annotator NAME is required");
    if ((rc = cli_name_arg("annotate", "--annotator", who)) >= 0) return rc;
    hitl_store *st;
    rc = cli_open_store("annotate", argv[optind], &st);
    if (rc >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_store_settings set;
    hitl_status s = hitl_store_settings_get(st, &set, &err);
    if (s != HITL_OK) {
        hitl_store_close(st);
        return cli_fail("annotate", s, &err);
    }
    size_t done = 0;
    char line[256];
    for (;;) {
        hitl_lease l;
        int found;
        if ((s = hitl_store_next(st, who, &l, &found, &err)) != HITL_OK) break;
        if (!found) {
            printf("\nnothing left for %s (%zu labelled this session)\n", who, done);
            break;
        }
        hitl_store_stats stats;
        long long open = -1;
        if (hitl_store_stats_get(st, &stats, NULL) == HITL_OK) {
            open = (long long)stats.queue_depth;
            hitl_store_stats_release(&stats);
        }
        printf("\n[%zu labelled this session, %lld items open] item %s\n", done, open, l.pool_id);
        if (l.data) printf("  %s\n", l.data);
        if (l.prediction) printf("  model suggests: %s\n", l.prediction);
        for (size_t i = 0; i < set.n_classes; i++)
            printf("  %zu) %s", i + 1, set.classes[i]);
        printf("   s) skip  u) undo  q) quit\n> ");
        fflush(stdout);
        int quit = 0;
        for (;;) {
            if (!fgets(line, sizeof(line), stdin)) {
                quit = 1;
                break;
            }
            chomp(line);
            const char *label = NULL;
            char *end;
            long k = strtol(line, &end, 10);
            if (*line && !*end && k >= 1 && (size_t)k <= set.n_classes) label = set.classes[k - 1];
            for (size_t i = 0; !label && i < set.n_classes; i++)
                if (strcmp(line, set.classes[i]) == 0) label = set.classes[i];
            hitl_status r = HITL_OK;
            if (label) {
                if ((r = hitl_store_label(st, l.pool_id, label, who, &err)) == HITL_OK) done++;
            } else if (strcmp(line, "s") == 0) {
                r = hitl_store_skip(st, l.pool_id, who, "skipped in annotate", &err);
            } else if (strcmp(line, "u") == 0) {
                char *undone = NULL;
                if ((r = hitl_store_undo(st, who, NULL, &undone, &err)) == HITL_OK) {
                    printf(undone ? "undid your label on %s\n> " : "nothing to undo%s\n> ",
                           undone ? undone : "");
                    if (undone && done) done--;
                    free(undone);
                    fflush(stdout);
                    continue;
                }
            } else if (strcmp(line, "q") == 0) {
                quit = 1;
                break;
            } else {
                printf("type 1..%zu, a class name, s, u or q\n> ", set.n_classes);
                fflush(stdout);
                continue;
            }
            if (r != HITL_OK && cli_exit_code(r) == CLI_EXIT_FAILURE) {
                s = r; /* the store cannot be written: stop instead of asking again */
                quit = 1;
                break;
            }
            if (r != HITL_OK) {
                printf("%s\n> ", err.msg);
                fflush(stdout);
                continue;
            }
            break;
        }
        hitl_lease_release(&l);
        if (quit) {
            printf("\n%zu labelled this session\n", done);
            break;
        }
    }
    hitl_store_settings_release(&set);
    hitl_store_close(st);
    return s == HITL_OK ? CLI_EXIT_OK : cli_fail("annotate", s, &err);
}
