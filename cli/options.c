/* Command-line options from a table: every command lists its options once (name, type, where
 * the value goes, its range), and cli_options parses them with getopt_long, answers --help and
 * words every usage error the same way. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#define MAX_OPTS 64

/* One value into its destination, checked against the option's range. -1 to go on. */
static int take(const char *cmd, const cli_opt *o, const char *v)
{
    size_t sz;
    double d;
    switch (o->type) {
    case CLI_FLAG:
        *(int *)o->dst = 1;
        return -1;
    case CLI_STR:
        if (!*v) return cli_usage_error(cmd, "--%s needs a value", o->name);
        *(const char **)o->dst = v;
        return -1;
    case CLI_SIZE:
        if (cli_parse_size(v, &sz) || (double)sz < o->lo || (o->hi > o->lo && (double)sz > o->hi))
            return cli_usage_error(cmd, "bad --%s '%s' (%s)", o->name, v,
                                   o->rule ? o->rule : "a whole number");
        *(size_t *)o->dst = sz;
        return -1;
    case CLI_NUM:
        if (cli_parse_float(v, &d) || !(d >= o->lo) || (o->hi > o->lo && !(d <= o->hi)) ||
            (o->lo_open && !(d > o->lo)))
            return cli_usage_error(cmd, "bad --%s '%s' (%s)", o->name, v,
                                   o->rule ? o->rule : "a number");
        *(double *)o->dst = d;
        return -1;
    case CLI_CALL:
    case CLI_CALL_OPTARG:
        return o->call(cmd, v, o->dst);
    }
    return -1;
}

int cli_opt_temperature(const char *cmd, const char *value, void *ctx)
{
    double d;
    /* as float32, and 1/T too: a T that rounds to 0 would mean the default, 1 */
    if (cli_parse_float(value, &d) || !(d > 0) || !((float)d > 0) || !isfinite(1.0f / (float)d) ||
        !isfinite((float)d))
        return cli_usage_error(cmd, "bad --temperature '%s' (need T > 0)", value);
    *(float *)ctx = (float)d;
    return -1;
}

int cli_opt_final(const char *cmd, const char *value, void *ctx)
{
    if (hitl_final_rule_parse(value, ctx) != HITL_OK)
        return cli_usage_error(cmd, "unknown --final '%s' (adjudicated, majority, dawid-skene)",
                               value);
    return -1;
}

int cli_options(const char *cmd, const char *usage, int argc, char **argv, const cli_opt *opts,
                int min_pos, int max_pos)
{
    struct option lo[MAX_OPTS + 2];
    size_t n = 0;
    for (; opts[n].name && n < MAX_OPTS; n++)
        lo[n] = (struct option){opts[n].name,
                                opts[n].type == CLI_FLAG          ? no_argument
                                : opts[n].type == CLI_CALL_OPTARG ? optional_argument
                                                                  : required_argument,
                                NULL, (int)(256 + n)};
    lo[n] = (struct option){"help", no_argument, NULL, 'h'};
    lo[n + 1] = (struct option){NULL, 0, NULL, 0};
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (c == 'h') {
            fputs(usage, stdout);
            return CLI_EXIT_OK;
        }
        if (c < 256 || (size_t)(c - 256) >= n)
            return cli_usage_error(cmd, "unknown or incomplete option '%s'", argv[optind - 1]);
        const cli_opt *o = &opts[c - 256];
        int rc = take(cmd, o, optarg);
        if (rc >= 0) return rc;
        if (o->seen) *o->seen = 1;
    }
    int npos = argc - optind;
    if (npos < min_pos) {
        if (min_pos == 1 && max_pos == 1) return cli_usage_error(cmd, "give one database path");
        return cli_usage_error(cmd, "%s %d argument%s, got %d",
                               min_pos == max_pos ? "give" : "give at least", min_pos,
                               min_pos == 1 ? "" : "s", npos);
    }
    if (max_pos >= 0 && npos > max_pos)
        return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind + max_pos]);
    return -1;
}
