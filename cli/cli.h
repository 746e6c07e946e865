/* The hitl command: a table of subcommands, each in cli/cmd_<name>.c. The only layer that prints
 * or exits. To add a command:
 *   1. write `int cmd_<name>(int argc, char **argv)` in cli/cmd_<name>.c: list its options in a
 *      cli_opt table and parse them with cli_options() (argv[0] is the command's name; --help
 *      prints the usage), call one library function, print (human text, or one JSON object with
 *      --json), and return an exit code from cli_exit_code();
 *   2. declare it below (CLI_COMMAND) and add a row to the table in cli/main.c;
 *   3. list its file in cli/CMakeLists.txt: HITL_CLI_LIGHT_COMMANDS when it needs neither HDF5
 *      nor BLAS (it then starts fast in `hitl`), else HITL_CLI_DATA_COMMANDS;
 *   4. add its CLI tests as data in tests/cli/<name>.test and document it in README.md. */
#ifndef HITL_CLI_H
#define HITL_CLI_H

#include <getopt.h>
#include <jansson.h>
#include <stdio.h>

#include "hitl_io.h"

/* Exit codes, documented in README.md. */
enum {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1, /* runtime: I/O, memory, anything else */
    CLI_EXIT_USAGE = 2,   /* bad command line */
    CLI_EXIT_DATA = 3,    /* bad input data: shape, type, values, missing dataset */
};

typedef struct cli_command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} cli_command;

/* Weak: the light `hitl` executable links only some commands; the others are NULL there and
 * run in `hitl-data` (see cli/CMakeLists.txt). */
#define CLI_COMMAND __attribute__((weak))
CLI_COMMAND int cmd_score(int argc, char **argv);
CLI_COMMAND int cmd_init(int argc, char **argv);
CLI_COMMAND int cmd_set(int argc, char **argv);
CLI_COMMAND int cmd_queue(int argc, char **argv);
CLI_COMMAND int cmd_next(int argc, char **argv);
CLI_COMMAND int cmd_label(int argc, char **argv);
CLI_COMMAND int cmd_skip(int argc, char **argv);
CLI_COMMAND int cmd_adjudicate(int argc, char **argv);
CLI_COMMAND int cmd_status(int argc, char **argv);
CLI_COMMAND int cmd_audit(int argc, char **argv);
CLI_COMMAND int cmd_backup(int argc, char **argv);
CLI_COMMAND int cmd_user(int argc, char **argv);
CLI_COMMAND int cmd_serve(int argc, char **argv);
CLI_COMMAND int cmd_decisions(int argc, char **argv);
CLI_COMMAND int cmd_decide(int argc, char **argv);
CLI_COMMAND int cmd_annotate(int argc, char **argv);
CLI_COMMAND int cmd_agreement(int argc, char **argv);
CLI_COMMAND int cmd_aggregate(int argc, char **argv);
CLI_COMMAND int cmd_calibrate(int argc, char **argv);
CLI_COMMAND int cmd_health(int argc, char **argv);
CLI_COMMAND int cmd_export(int argc, char **argv);
CLI_COMMAND int cmd_import(int argc, char **argv);
CLI_COMMAND int cmd_report(int argc, char **argv);
CLI_COMMAND int cmd_train(int argc, char **argv);
CLI_COMMAND int cmd_convert(int argc, char **argv);
CLI_COMMAND int cmd_simulate(int argc, char **argv);

/* ---- options (cli/options.c) ----------------------------------------------------------------
 * Each command lists its options once; cli_options parses them, answers --help and words every
 * usage error the same way ("bad --NAME 'VALUE' (RULE)"). */
typedef enum { CLI_FLAG, CLI_STR, CLI_SIZE, CLI_NUM, CLI_CALL, CLI_CALL_OPTARG } cli_opt_type;

typedef struct cli_opt {
    const char *name; /* the long option, without the dashes */
    cli_opt_type type;
    /* where the value goes: int (CLI_FLAG sets 1), const char * (CLI_STR, non-empty), size_t
     * (CLI_SIZE), double (CLI_NUM, finite); CLI_CALL, CLI_CALL_OPTARG: the context handed to
     * `call` */
    void *dst;
    double lo, hi;    /* CLI_SIZE, CLI_NUM: the accepted range; hi <= lo: no upper bound */
    int lo_open;      /* CLI_NUM: lo itself is refused (a number > lo) */
    const char *rule; /* the range in words, for the message */
    /* -1 to go on, or an exit code; CLI_CALL_OPTARG: value NULL for a bare --NAME */
    int (*call)(const char *cmd, const char *value, void *ctx);
    int *seen; /* when not NULL: set to 1 once the option is given (for required options and
                * defaults that depend on whether it was) */
} cli_opt;

#define CLI_O_FLAG(n, p)                                                                           \
    {                                                                                              \
        n, CLI_FLAG, p, 0, 0, 0, NULL, NULL, NULL                                                  \
    }
#define CLI_O_STR(n, p)                                                                            \
    {                                                                                              \
        n, CLI_STR, p, 0, 0, 0, NULL, NULL, NULL                                                   \
    }
#define CLI_O_SIZE(n, p, lo, hi, rule)                                                             \
    {                                                                                              \
        n, CLI_SIZE, p, lo, hi, 0, rule, NULL, NULL                                                \
    }
/* As CLI_O_SIZE, and *seen = 1 when given. */
#define CLI_O_SIZE_SEEN(n, p, lo, hi, rule, seen)                                                  \
    {                                                                                              \
        n, CLI_SIZE, p, lo, hi, 0, rule, NULL, seen                                                \
    }
#define CLI_O_NUM(n, p, lo, hi, rule)                                                              \
    {                                                                                              \
        n, CLI_NUM, p, lo, hi, 0, rule, NULL, NULL                                                 \
    }
#define CLI_O_NUM_GT(n, p, lo, rule)                                                               \
    {                                                                                              \
        n, CLI_NUM, p, lo, 0, 1, rule, NULL, NULL                                                  \
    }
#define CLI_O_CALL(n, fn, ctx)                                                                     \
    {                                                                                              \
        n, CLI_CALL, ctx, 0, 0, 0, NULL, fn, NULL                                                  \
    }
/* An optional argument: --NAME=VALUE calls fn with VALUE, a bare --NAME with NULL (getopt_long
 * never takes the next word as an optional argument). */
#define CLI_O_CALL_OPTARG(n, fn, ctx)                                                              \
    {                                                                                              \
        n, CLI_CALL_OPTARG, ctx, 0, 0, 0, NULL, fn, NULL                                           \
    }
/* --threads N, as every multi-threaded command takes it (size_t; 0 when not given: all cores). */
#define CLI_O_THREADS(p) CLI_O_SIZE("threads", p, 1, 1024, "1 to 1024")
#define CLI_O_END                                                                                  \
    {                                                                                              \
        NULL, CLI_FLAG, NULL, 0, 0, 0, NULL, NULL, NULL                                            \
    }

/* Parses argv's options (argv[0] is the command) by the table; the positional arguments are
 * then argv[optind, argc), between min_pos and max_pos of them (max_pos < 0: any). Returns -1
 * to go on, CLI_EXIT_OK after --help, CLI_EXIT_USAGE after a usage error (printed). */
int cli_options(const char *cmd, const char *usage, int argc, char **argv, const cli_opt *opts,
                int min_pos, int max_pos);
/* A CLI_CALL for --temperature T into a float (ctx): T > 0 with T and 1 / T finite as float32
 * (a T that rounds to 0 would mean the default, 1). */
int cli_opt_temperature(const char *cmd, const char *value, void *ctx);
/* A CLI_CALL for --final RULE into a hitl_final_rule (ctx): adjudicated, majority, dawid-skene. */
int cli_opt_final(const char *cmd, const char *value, void *ctx);

/* Maps a library status to an exit code. */
int cli_exit_code(hitl_status st);
/* `s` with control characters shown as \xNN / \u00NN, for printing anything a user typed (names,
 * ids, reasons) on a terminal, which would obey them. Valid until four more calls. */
const char *cli_safe(const char *s);
/* s (control characters escaped) left-aligned in `width` columns on stdout, counted in
 * characters (UTF-8), not bytes. */
void cli_put_col(const char *s, int width);
/* Under an MPI launcher (mpirun, srun), starts MPI and sets *rank and *mpi (1); else leaves
 * them 0. A build without MPI run as one of several ranks is a usage error. Returns -1 to go
 * on, else the exit code. The caller ends with hitl_mpi_stop(). */
int cli_mpi_begin(const char *cmd, int *rank, int *mpi);
/* Under an MPI launcher, ranks other than 0 print nothing on stderr from here on (usage errors
 * included, which come before MPI starts): every rank reaches the same verdict, and rank 0
 * reports it once. */
void cli_mpi_quiet_followers(void);
/* Prints "hitl <cmd>: <message>" on stderr (one line, control characters escaped) and returns
 * cli_exit_code(st). */
int cli_fail(const char *cmd, hitl_status st, const hitl_error *err);
/* Prints "hitl <cmd>: <formatted>" and a hint to run --help; returns CLI_EXIT_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing for option values; 0 on success. */
int cli_parse_size(const char *s, size_t *out);
int cli_parse_float(const char *s, double *out);

/* Opens the store at `path`; on failure prints the error and returns its exit code, else -1. */
int cli_open_store(const char *cmd, const char *path, hitl_store **st);
/* The same, read-only (status, audit, agreement, export): also on read-only media. */
/* A person's name given with `opt` (--annotator, --actor): 1-64 printable UTF-8 characters, not
 * only spaces (else a usage error, 2); invalid UTF-8 is exit 3. -1 to go on. */
int cli_name_arg(const char *cmd, const char *opt, const char *value);
/* A free text given with `opt` (--reason, --justification) must be valid UTF-8 (exit 3). */
int cli_text_arg(const char *cmd, const char *opt, const char *value);
/* 1 when the file and its folder can be written (a store opened for writing needs both). */
int cli_writable(const char *path);
int cli_open_store_read(const char *cmd, const char *path, hitl_store **st);
/* An output path `out` (given with option `opt`) must not name any of the n inputs (same device
 * and inode) nor a directory: returns -1 to go on, else prints the usage error and returns its
 * exit code. "-" and paths that do not exist pass. */
int cli_out_check(const char *cmd, const char *opt, const char *out, const char *const *inputs,
                  size_t n);
/* The acting person: --actor/--annotator value, else $HITL_ACTOR, else $USER, else "unknown". */
const char *cli_actor(const char *given);
/* Prints a JSON value (steals it) on one line of stdout. */
void cli_print_json(json_t *v);

/* Quality commands (cli/quality.c): a JSON real, null when not finite; loading a ratings CSV
 * with --labels (returns -1, else the exit code after printing the error); splitting FILE:DSET
 * (or FILE.npy, *dset NULL) into a malloc'd path, 0 on success. */
json_t *cli_json_real(double v);
int cli_load_ratings(const char *cmd, const char *path, hitl_level level, const char *classes,
                     hitl_ratings_file *rf);
int cli_split_dset(const char *arg, char **path, const char **dset);
/* --matrix M (FILE.npy or FILE:DSET) with --labels `classes` (may be NULL): the matrix into *m
 * and its names into *rf (labels: `classes`, else the file's, else indices; annotators and,
 * with `table`, items by index), with label values for the interval and ratio levels and, with
 * `table`, rf->table built. Returns -1, else the exit code after printing the error (then
 * nothing is left to release). */
int cli_load_matrix(const char *cmd, const char *arg, hitl_level level, const char *classes,
                    int table, hitl_rating_matrix *m, hitl_ratings_file *rf);
/* Exactly one of a store DB, --ratings FILE and --matrix M: -1, else the usage error's code. */
int cli_one_source(const char *cmd, const char *db, const char *ratings, const char *matrix);
/* Interval and ratio levels need numbers: rf's label names as its values, when they all are
 * (HITL_EDATA naming the first that is not); other levels: nothing to do. */
hitl_status cli_class_values(hitl_ratings_file *rf, hitl_level level, hitl_error *err);

/* A progress bar on stderr, drawn only when stderr is a terminal. */
typedef struct cli_progress {
    const char *label;
    int enabled;
    int last_permille;
} cli_progress;
void cli_progress_init(cli_progress *p, const char *label);
void cli_progress_update(void *ctx, uint64_t done, uint64_t total); /* a hitl_progress_fn */
void cli_progress_done(cli_progress *p);

/* "0", "1", ... "n - 1": names by index, for items and annotators that have none (NULL when out
 * of memory; release with hitl_strings_free()). */
char **cli_index_names(size_t n);

/* The class a person typed (`hitl label`, `hitl adjudicate`): the project's spelling when the
 * name matches one class exactly, or only one in another case ("Cat" for "cat", not when the
 * project has both "cat" and "CAT"); else the text as typed, for the store to refuse. The
 * caller frees it (NULL when out of memory). The HTTP API stays exact: its page sends names. */
char *cli_class_typed(hitl_store *st, const char *typed);

#endif /* HITL_CLI_H */
