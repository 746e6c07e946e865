/* Inside the CLI only: hitl agreement's options (cli/cmd_agreement.c) and its printers, tables
 * and JSON (cli/agreement_out.c). */
#ifndef HITL_CLI_AGREEMENT_H
#define HITL_CLI_AGREEMENT_H

#include "cli.h"

/* hitl agreement's options, as cmd_agreement.c parses them: one source of ratings (a store DB,
 * a ratings file or a rating matrix). */
typedef struct cli_agreement_args {
    const char *ratings, *matrix, *labels, *final, *db;
    hitl_agreement_opts opts;
    int json;
} cli_agreement_args;

/* The input named in messages and output: the store, the ratings file or the matrix. */
const char *cli_agreement_source(const cli_agreement_args *a);
/* The measures r of the ratings rf (their annotator and label names) as one JSON object on
 * stdout: n_items ... pairs, per_label, vs_final, ci. */
void cli_agreement_json(const cli_agreement_args *a, const hitl_ratings_file *rf,
                        const hitl_agreement *r);
/* The same as tables: the measures, the pairs, the annotator matrix (up to 12 annotators), per
 * label, and against the final labels. */
void cli_agreement_tables(const cli_agreement_args *a, const hitl_ratings_file *rf,
                          const hitl_agreement *r);

#endif /* HITL_CLI_AGREEMENT_H */
