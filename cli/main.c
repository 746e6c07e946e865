/* Entry point of the hitl command: finds the subcommand in the table and runs it, or, when this
 * executable was built without it, executes the one beside it that has it: `hitl-serve` for
 * serve, `hitl-data` for the rest (cli/CMakeLists.txt says which holds what). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const cli_command commands[] = {
    {"score", cmd_score, "rank a pool by model uncertainty in one streaming pass"},
    {"init", cmd_init, "create an annotation store (classes, overlap, lease, policies)"},
    {"set", cmd_set, "change a store setting (audited)"},
    {"queue", cmd_queue, "queue the most uncertain rows plus a blind random sample"},
    {"next", cmd_next, "lease the next item to an annotator"},
    {"label", cmd_label, "record an annotator's label for an item"},
    {"skip", cmd_skip, "give an item back without a label"},
    {"annotate", cmd_annotate, "label items interactively in the terminal"},
    {"adjudicate", cmd_adjudicate, "set a final label: resolve a disagreement or override"},
    {"status", cmd_status, "queue progress, throughput, leases, override rates"},
    {"audit", cmd_audit, "verify the store against its audit chain; head, sign, show, export"},
    {"backup", cmd_backup, "a consistent copy of a store while annotators work"},
    {"serve", cmd_serve, "the annotation web app and HTTP API (accounts from hitl user)"},
    {"decisions", cmd_decisions, "the live decisions services filed through hitl serve"},
    {"decide", cmd_decide, "approve or reject a live decision"},
    {"user", cmd_user, "accounts for hitl serve: add, list, revoke, a new token"},
    {"agreement", cmd_agreement, "inter-rater agreement: kappas, alpha, AC1, with intervals"},
    {"aggregate", cmd_aggregate, "one label per item: majority vote or Dawid-Skene"},
    {"calibrate", cmd_calibrate, "accuracy and calibration (ECE, Brier, NLL) on a blind sample"},
    {"health", cmd_health, "review health: rubber stamping, overrides, audit, agreement"},
    {"export", cmd_export, "final labels for retraining (hdf5, jsonl, csv) or Label Studio tasks"},
    {"import", cmd_import, "Label Studio annotations back into the store (idempotent)"},
    {"train", cmd_train, "fit the linear head (logistic regression, L-BFGS) on labelled rows"},
    {"convert", cmd_convert, "IDX files (MNIST, Fashion-MNIST) into a pool file"},
    {"simulate", cmd_simulate, "learning curves: the active-learning loop with an oracle"},
    {"report", cmd_report, "a QA notebook: progress, agreement, calibration, charts, retraining"},
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* Runs this command line in the executable beside this one that holds its command; returns
 * only on failure. */
static int run_data_executable(char **argv)
{
    const char *name = strcmp(argv[1], "serve") == 0 ? "hitl-serve" : "hitl-data";
    char self[PATH_MAX], path[PATH_MAX + 16];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0) {
        fprintf(stderr, "hitl: cannot find this executable to run '%s'\n", argv[1]);
        return CLI_EXIT_FAILURE;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash && strcmp(slash + 1, name) == 0) { /* never itself: that would loop */
        fprintf(stderr, "hitl: '%s' is not in this build of %s\n", argv[1], name);
        return CLI_EXIT_FAILURE;
    }
    if (slash) slash[1] = '\0';
    snprintf(path, sizeof(path), "%s%s", slash ? self : "", name);
    argv[0] = path;
    execv(path, argv);
    fprintf(stderr, "hitl: '%s' needs %s: %s\n", argv[1], path, strerror(errno));
    return CLI_EXIT_FAILURE;
}

/* A command line the light executable holds the command for but not the means: `audit verify
 * --export FILE` reads an HDF5 export, and only hitl-data links HDF5 (a light `hitl` that did
 * would start in 28 ms instead of about 10: libhdf5 brings libcurl and some 30 libraries). */
static int needs_data(int argc, char **argv)
{
#ifdef HITL_FULL_CLI
    (void)argc;
    (void)argv;
    return 0;
#else
    if (strcmp(argv[1], "audit") != 0) return 0;
    for (int i = 2; i < argc; i++)
        if (strncmp(argv[i], "--export", 8) == 0) return 1;
    return 0;
#endif
}

static void usage(FILE *f)
{
    fprintf(f, "usage: hitl <command> [options]   (hitl <command> --help for its options)\n\n"
               "commands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nexit codes: 0 ok, 1 runtime failure, 2 usage, 3 bad input data\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("hitl %s\n", HITL_VERSION);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        if (commands[i].fn && !needs_data(argc, argv)) return commands[i].fn(argc - 1, argv + 1);
        return run_data_executable(argv);
    }
    fprintf(stderr, "hitl: unknown command '%s' (see hitl --help)\n", argv[1]);
    return CLI_EXIT_USAGE;
}
