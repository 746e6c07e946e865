/* Plumbing shared by the quality commands (agreement, aggregate, calibrate): loading a ratings
 * file or a rating matrix with its options, JSON numbers that are null when undefined,
 * FILE:DSET arguments. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

json_t *cli_json_real(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int cli_load_ratings(const char *cmd, const char *path, hitl_level level, const char *classes,
                     hitl_ratings_file *rf)
{
    hitl_error err;
    hitl_error_clear(&err);
    char **names = NULL;
    size_t n_names = 0;
    if (classes && hitl_strings_split(classes, &names, &n_names, &err) != HITL_OK)
        return cli_usage_error(cmd, "bad --labels '%s': %s", classes, err.msg);
    hitl_ratings_read_opts o = {.level = level, .labels = names, .n_labels = n_names};
    hitl_status st = hitl_ratings_csv_read(path, &o, rf, &err);
    hitl_strings_free(names, n_names);
    if (st == HITL_EINVAL) return cli_usage_error(cmd, "%s", err.msg);
    return st == HITL_OK ? -1 : cli_fail(cmd, st, &err);
}

int cli_split_dset(const char *arg, char **path, const char **dset)
{
    const char *colon = strrchr(arg, ':');
    *dset = NULL;
    if (!colon) {
        if (!hitl_path_is_npy(arg)) return -1;
        colon = arg + strlen(arg);
    } else {
        *dset = colon + 1;
        if (!**dset) return -1;
    }
    size_t n = (size_t)(colon - arg);
    if (n == 0) return -1;
    *path = malloc(n + 1);
    if (!*path) return -1;
    memcpy(*path, arg, n);
    (*path)[n] = '\0';
    return 0;
}

hitl_status cli_class_values(hitl_ratings_file *rf, hitl_level level, hitl_error *err)
{
    if (level != HITL_LEVEL_INTERVAL && level != HITL_LEVEL_RATIO) return HITL_OK;
    double *v = malloc((rf->n_labels ? rf->n_labels : 1) * sizeof(double));
    if (!v) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    for (size_t l = 0; l < rf->n_labels; l++) {
        char *end;
        v[l] = strtod(rf->labels[l], &end);
        if (end == rf->labels[l] || *end || !isfinite(v[l])) {
            free(v);
            return hitl_error_set(err, HITL_EDATA,
                                  "class '%s' is not a number (the %s level needs numeric classes)",
                                  rf->labels[l], hitl_level_name(level));
        }
    }
    rf->table.value = v;
    rf->numeric = 1;
    return HITL_OK;
}

/* Names m's labels (`labels`, taken; else its `classes` when they cover every label, taken
 * from m; else the indices), annotators (column indices) and, with `table`, items (row indices)
 * in rf, with the values the interval and ratio levels need (numeric names, else the indices),
 * and with `table` builds rf->table. */
static hitl_status matrix_file(hitl_rating_matrix *m, hitl_level level, char **labels,
                               size_t n_labels, int table, hitl_ratings_file *rf, hitl_error *err)
{
    if (labels) {
        rf->labels = labels;
        rf->n_labels = n_labels;
    } else if (m->classes && m->n_classes >= m->n_labels) {
        rf->labels = m->classes;
        rf->n_labels = m->n_classes;
        m->classes = NULL;
        m->n_classes = 0;
    } else if ((rf->labels = cli_index_names(m->n_labels))) {
        rf->n_labels = m->n_labels;
    }
    rf->annotators = cli_index_names(m->n_annotators);
    if (rf->annotators) rf->n_annotators = m->n_annotators;
    if (table && (rf->items = cli_index_names(m->n_items))) rf->n_items = m->n_items;
    if (!rf->labels || !rf->annotators || (table && !rf->items))
        return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    hitl_status st = HITL_OK;
    if (labels) {
        st = cli_class_values(rf, level, err);
    } else if (level == HITL_LEVEL_INTERVAL || level == HITL_LEVEL_RATIO) {
        rf->table.value = malloc((rf->n_labels ? rf->n_labels : 1) * sizeof(double));
        if (!rf->table.value) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
        for (size_t l = 0; l < rf->n_labels; l++)
            rf->table.value[l] = (double)l;
        rf->numeric = 1;
    }
    if (st != HITL_OK || !table) return st;
    hitl_ratings_matrix mx = {m->m, m->n_items, m->n_annotators, rf->n_labels, rf->table.value};
    double *value = rf->table.value; /* the build copies it */
    rf->table.value = NULL;
    st = hitl_ratings_from_matrix(&rf->table, &mx, err);
    free(value);
    if (st == HITL_EINVAL) st = HITL_EDATA; /* a label past --labels: the data's fault */
    return st;
}

int cli_load_matrix(const char *cmd, const char *arg, hitl_level level, const char *classes,
                    int table, hitl_rating_matrix *m, hitl_ratings_file *rf)
{
    hitl_error err;
    hitl_error_clear(&err);
    memset(rf, 0, sizeof(*rf));
    char **labels = NULL, *path = NULL;
    size_t n_labels = 0;
    const char *dset;
    if (classes && hitl_strings_split(classes, &labels, &n_labels, &err) != HITL_OK)
        return cli_usage_error(cmd, "bad --labels '%s': %s", classes, err.msg);
    if (cli_split_dset(arg, &path, &dset)) {
        hitl_strings_free(labels, n_labels);
        return cli_usage_error(cmd, "--matrix needs FILE.npy or FILE:DSET, got '%s'", arg);
    }
    hitl_status st = hitl_rating_matrix_read(path, dset, m, &err);
    free(path);
    if (st != HITL_OK) {
        hitl_strings_free(labels, n_labels);
        return cli_fail(cmd, st, &err);
    }
    if ((st = matrix_file(m, level, labels, n_labels, table, rf, &err)) == HITL_OK) return -1;
    if (!rf->labels) hitl_strings_free(labels, n_labels);
    hitl_error_prefix(&err, "'%s'", arg);
    hitl_ratings_file_release(rf);
    hitl_rating_matrix_release(m);
    return cli_fail(cmd, st, &err);
}

int cli_one_source(const char *cmd, const char *db, const char *ratings, const char *matrix)
{
    if (!!db + !!ratings + !!matrix > 1)
        return cli_usage_error(cmd, "give one of a store DB, --ratings FILE or --matrix M");
    if (!db && !ratings && !matrix)
        return cli_usage_error(cmd, "no store DB, --ratings FILE or --matrix M");
    return -1;
}
