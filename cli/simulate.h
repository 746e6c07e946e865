/* Inside the CLI only: hitl simulate's options (cli/cmd_simulate.c) and the writers of its
 * results (cli/simulate_out.c). */
#ifndef HITL_CLI_SIMULATE_H
#define HITL_CLI_SIMULATE_H

#include "cli.h"

#define CLI_SIM_MAX_ANNOTATORS 64

/* hitl simulate's options, as cmd_simulate.c parses them. */
typedef struct cli_sim_args {
    const char *features, *labels, *test, *test_labels, *out;
    double test_fraction;
    hitl_strategy strategies[HITL_STRATEGY_COUNT];
    size_t n_strategies, seeds;
    uint64_t seed;
    hitl_sim_opts o;
    double rates[CLI_SIM_MAX_ANNOTATORS];
    int json;
} cli_sim_args;

/* The results as one JSON object (caller owns; NULL when out of memory): the run's settings,
 * and per strategy its curves, statistics and runs, the labelled rows as rows of the features
 * file (file_row maps pool rows to them; NULL: the same). */
json_t *cli_sim_json(const cli_sim_args *a, const hitl_labelled *pool, const hitl_labelled *test,
                     const int64_t *file_row, size_t c, const hitl_curve_series *s, size_t ns);
/* The table on stdout: each strategy's final accuracy, labels to reach random's, s/round. */
void cli_sim_print(const cli_sim_args *a, const hitl_labelled *pool, const hitl_labelled *test,
                   size_t c, const hitl_curve_series *s, size_t ns);
/* a->out.json (the JSON `j`, borrowed), .h5 (the curves), .svg (the plot) and .ipynb (a
 * notebook reading the .h5, with the command line argv). */
hitl_status cli_sim_write(const cli_sim_args *a, int argc, char **argv, const hitl_labelled *pool,
                          const hitl_labelled *test, size_t c, const hitl_curve_series *s,
                          size_t ns, json_t *j, hitl_error *err);

#endif /* HITL_CLI_SIMULATE_H */
