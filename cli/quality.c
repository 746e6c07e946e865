/* Plumbing shared by the quality commands (agreement, aggregate, calibrate): loading a ratings
 * file with its options, JSON numbers that are null when undefined, FILE:DSET arguments. */
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
    size_t len = strlen(arg);
    *dset = NULL;
    if (!colon) {
        if (len < 4 || strcmp(arg + len - 4, ".npy") != 0) return -1;
        colon = arg + len;
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
