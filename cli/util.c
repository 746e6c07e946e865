/* Shared CLI plumbing: status to exit code, one-line errors, strict option numbers and the
 * progress bar on stderr. */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_exit_code(hitl_status st)
{
    switch (st) {
    case HITL_OK:
        return CLI_EXIT_OK;
    case HITL_EINVAL:
        return CLI_EXIT_USAGE;
    case HITL_ENOTFOUND:
    case HITL_EDATA:
    case HITL_ESHAPE:
    case HITL_ETYPE:
    case HITL_ECONFLICT:
        return CLI_EXIT_DATA;
    default:
        return CLI_EXIT_FAILURE;
    }
}

const char *cli_safe(const char *s)
{
    /* four rotating buffers: a printf may take several */
    static char bufs[4][1024];
    static unsigned next;
    char *out = bufs[next++ % 4];
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p && n + 5 < 1024; p++) {
        /* C0 controls, DEL, and the C1 controls as UTF-8 (0xC2 0x80-0x9F): what a terminal
         * obeys instead of showing */
        if (*p < 0x20 || *p == 0x7f) {
            n += (size_t)snprintf(out + n, 1024 - n, "\\x%02x", *p);
        } else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
            n += (size_t)snprintf(out + n, 1024 - n, "\\u%04x", p[1]);
            p++;
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n] = '\0';
    return out;
}

/* s (control characters escaped) left-aligned in `width` columns, counting characters, not
 * bytes: a UTF-8 id takes the columns it shows in (wide CJK characters aside). */
void cli_put_col(const char *s, int width)
{
    const char *safe = cli_safe(s);
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)safe; *p; p++)
        chars += (*p & 0xc0) != 0x80; /* every byte but a continuation starts a character */
    fputs(safe, stdout);
    for (; chars < width; chars++)
        putchar(' ');
}

int cli_fail(const char *cmd, hitl_status st, const hitl_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : hitl_status_str(st);
    fprintf(stderr, "hitl %s: %s\n", cmd, cli_safe(msg)); /* messages quote what users typed */
    return cli_exit_code(st);
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "hitl %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, " (see hitl %s --help)\n", cmd);
    return CLI_EXIT_USAGE;
}

int cli_parse_size(const char *s, size_t *out)
{
    if (!s || !*s || *s == '-') return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = (size_t)v;
    return 0;
}

int cli_parse_float(const char *s, double *out)
{
    if (!s || !*s) return -1;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

void cli_progress_init(cli_progress *p, const char *label)
{
    p->label = label;
    p->enabled = isatty(STDERR_FILENO);
    p->last_permille = -1;
}

void cli_progress_update(void *ctx, uint64_t done, uint64_t total)
{
    cli_progress *p = ctx;
    if (!p->enabled || total == 0) return;
    int permille = (int)(done * 1000 / total);
    if (permille == p->last_permille) return;
    p->last_permille = permille;
    int width = 30, filled = permille * width / 1000;
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < width; i++)
        fputc(i < filled ? '#' : ' ', stderr);
    fprintf(stderr, "] %5.1f%%  %llu/%llu rows", permille / 10.0, (unsigned long long)done,
            (unsigned long long)total);
    fflush(stderr);
}

void cli_progress_done(cli_progress *p)
{
    if (p->enabled && p->last_permille >= 0) fprintf(stderr, "\r\033[K");
}

int cli_open_store(const char *cmd, const char *path, hitl_store **st)
{
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_store_open(st, path, &err);
    return s == HITL_OK ? -1 : cli_fail(cmd, s, &err);
}

int cli_open_store_read(const char *cmd, const char *path, hitl_store **st)
{
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_store_open_read(st, path, &err);
    return s == HITL_OK ? -1 : cli_fail(cmd, s, &err);
}

int cli_name_arg(const char *cmd, const char *opt, const char *value)
{
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_name_check(value, opt, &err);
    if (s == HITL_OK) return -1;
    if (s == HITL_EINVAL) return cli_usage_error(cmd, "%s", err.msg);
    return cli_fail(cmd, s, &err);
}

int cli_text_arg(const char *cmd, const char *opt, const char *value)
{
    if (hitl_text_utf8(value)) return -1;
    fprintf(stderr, "hitl %s: %s is not valid UTF-8\n", cmd, opt);
    return CLI_EXIT_DATA;
}

int cli_writable(const char *path)
{
    const char *slash = strrchr(path, '/');
    char dir[4096];
    snprintf(dir, sizeof(dir), "%.*s", slash ? (int)(slash - path + 1) : 1, slash ? path : ".");
    return access(path, W_OK) == 0 && access(dir, W_OK) == 0;
}

int cli_out_check(const char *cmd, const char *opt, const char *out, const char *const *inputs,
                  size_t n)
{
    struct stat so, si;
    if (!out || strcmp(out, "-") == 0 || stat(out, &so) != 0) return -1;
    if (S_ISDIR(so.st_mode))
        return cli_usage_error(cmd, "%s '%s' is a directory, not a file", opt, out);
    for (size_t i = 0; i < n; i++) {
        if (!inputs[i] || stat(inputs[i], &si) != 0) continue;
        if (so.st_dev == si.st_dev && so.st_ino == si.st_ino)
            return cli_usage_error(cmd, "%s '%s' is an input of this command: not overwritten", opt,
                                   out);
    }
    return -1;
}

const char *cli_actor(const char *given)
{
    if (given && *given) return given;
    const char *v = getenv("HITL_ACTOR");
    if (v && *v) return v;
    v = getenv("USER");
    return v && *v ? v : "unknown";
}

void cli_print_json(json_t *v)
{
    json_dumpf(v, stdout, JSON_COMPACT | JSON_REAL_PRECISION(9));
    fputc('\n', stdout);
    json_decref(v);
}

char **cli_index_names(size_t n)
{
    char **v = calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; v && i < n; i++) {
        char buf[24];
        snprintf(buf, sizeof(buf), "%zu", i);
        if (!(v[i] = strdup(buf))) {
            hitl_strings_free(v, i);
            return NULL;
        }
    }
    return v;
}

char *cli_class_typed(hitl_store *st, const char *typed)
{
    hitl_store_settings set;
    hitl_error err;
    if (hitl_store_settings_get(st, &set, &err) != HITL_OK) return strdup(typed);
    const char *exact = NULL, *folded = NULL; /* folded: the last of n matches in another case */
    int n = 0;
    for (size_t i = 0; i < set.n_classes; i++) {
        if (strcmp(set.classes[i], typed) == 0)
            exact = set.classes[i];
        else if (strcasecmp(set.classes[i], typed) == 0)
            folded = set.classes[i], n++;
    }
    char *out = strdup(exact ? exact : n == 1 ? folded : typed);
    hitl_store_settings_release(&set);
    return out;
}
