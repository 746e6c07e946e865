/* hitl annotate: the interactive labelling loop in a terminal. Shows each leased item's payload
 * as readable fields (and the model's guess where the policy allows), takes a class by its key
 * or its name, skips, undoes (the item comes back), and counts what is left for the annotator.
 *
 * Keys are letters that no class name can be mistaken for: a letter equal to a one-character
 * class name (in either case) is never a key, nor are s, u and q, the commands' letters. Class
 * names are matched exactly first, then without regard to case when only one class matches. */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"

static const char usage_text[] =
    "usage: hitl annotate DB --annotator NAME [--show FIELD,...] [--width N]\n"
    "\n"
    "Labels items one after another. Each class has a letter key, shown beside it; type the\n"
    "key or the class name (any case, when only one class matches) and Enter. Commands:\n"
    "/skip (or s), /undo (or u: your last label goes and its item comes back), /quit (or q;\n"
    "your lease is kept until it expires, so the same item comes back first next time). A\n"
    "class named s, u or q is chosen by its name; the /commands always work.\n"
    "  --show FIELD,...  the payload fields to show, in this order (default: all)\n"
    "  --width N         wrap text at N columns (default 78)\n"
    "A refused answer (the lease expired, the item is already labelled) is shown and asked\n"
    "again; a write that fails (a full disk, an I/O error) ends the session with exit 1,\n"
    "keeping the labels already given.\n";

enum { ANSWER_NONE = -1, ANSWER_SKIP = -2, ANSWER_UNDO = -3, ANSWER_QUIT = -4 };

static void chomp(char *s)
{
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
        s[--n] = '\0';
}

/* keys[i]: the letter of class i, or 0 when the letters ran out (then it is typed by name). */
static void assign_keys(const hitl_store_settings *set, char *keys)
{
    char used[26] = {0};
    used['s' - 'a'] = used['u' - 'a'] = used['q' - 'a'] = 1;
    for (size_t i = 0; i < set->n_classes; i++) {
        const char *c = set->classes[i];
        if (c[0] && !c[1] && isalpha((unsigned char)c[0]))
            used[tolower((unsigned char)c[0]) - 'a'] = 1;
    }
    size_t next = 0;
    for (size_t i = 0; i < set->n_classes; i++) {
        while (next < 26 && used[next])
            next++;
        keys[i] = next < 26 ? (char)('a' + next++) : 0;
    }
}

/* The class index an answer names, or an ANSWER_* command. */
static int resolve(const char *line, const hitl_store_settings *set, const char *keys)
{
    size_t n = set->n_classes;
    for (size_t i = 0; i < n; i++)
        if (strcmp(line, set->classes[i]) == 0) return (int)i;
    if (line[0] && !line[1])
        for (size_t i = 0; i < n; i++)
            if (keys[i] && tolower((unsigned char)line[0]) == keys[i]) return (int)i;
    int match = ANSWER_NONE, count = 0;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(line, set->classes[i]) == 0) {
            match = (int)i;
            count++;
        }
    if (count == 1) return match;
    if (!strcmp(line, "/skip") || !strcmp(line, "s")) return ANSWER_SKIP;
    if (!strcmp(line, "/undo") || !strcmp(line, "u")) return ANSWER_UNDO;
    if (!strcmp(line, "/quit") || !strcmp(line, "q")) return ANSWER_QUIT;
    return ANSWER_NONE;
}

/* s[0..n) with control characters escaped (cli_safe), in pieces that fit its buffer. */
static void put_safe(const char *s, size_t n)
{
    char piece[256];
    while (n) {
        size_t k = n < sizeof(piece) - 1 ? n : sizeof(piece) - 1;
        memcpy(piece, s, k);
        piece[k] = '\0';
        fputs(cli_safe(piece), stdout);
        s += k;
        n -= k;
    }
}

/* Text wrapped at word boundaries to `width` columns after an indent; newlines kept. */
static void print_wrapped(const char *text, size_t indent, size_t width)
{
    size_t col = indent;
    const char *p = text;
    while (*p) {
        if (*p == '\n') {
            printf("\n%*s", (int)indent, "");
            col = indent;
            p++;
            continue;
        }
        size_t w = strcspn(p, " \n");
        if (col > indent && col + w > width) {
            printf("\n%*s", (int)indent, "");
            col = indent;
        }
        put_safe(p, w);
        col += w;
        p += w;
        if (*p == ' ') {
            if (col < width) putchar(' ');
            col++;
            p++;
        }
    }
    putchar('\n');
}

/* One payload field: strings as wrapped text, anything else as compact JSON. */
static void print_field(const char *key, json_t *v, size_t width)
{
    printf("  %s: ", cli_safe(key));
    size_t indent = 4 + strlen(key);
    if (json_is_string(v)) {
        print_wrapped(json_string_value(v), indent < 24 ? indent : 4, width);
    } else {
        char *t = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        print_wrapped(t ? t : "?", indent < 24 ? indent : 4, width);
        free(t);
    }
}

static void print_payload(const char *data, const char *show, size_t width)
{
    json_t *j = data ? json_loads(data, 0, NULL) : NULL;
    if (!json_is_object(j)) {
        if (data) print_wrapped(data, 2, width);
        json_decref(j);
        return;
    }
    if (show) {
        const char *p = show;
        while (*p) {
            size_t n = strcspn(p, ",");
            char key[128];
            snprintf(key, sizeof(key), "%.*s", (int)n, p);
            json_t *v = json_object_get(j, key);
            if (v) print_field(key, v, width);
            p += n + (p[n] == ',');
        }
    } else {
        const char *key;
        json_t *v;
        json_object_foreach(j, key, v) print_field(key, v, width);
    }
    json_decref(j);
}

static void print_menu(const hitl_store_settings *set, const char *keys)
{
    for (size_t i = 0; i < set->n_classes; i++) {
        if (keys[i])
            printf("  [%c] %s", keys[i], cli_safe(set->classes[i]));
        else
            printf("  %s", cli_safe(set->classes[i]));
    }
    printf("   /skip  /undo  /quit\n> ");
    fflush(stdout);
}

typedef struct session {
    hitl_store *st;
    const char *who, *show;
    size_t width, done;
    hitl_store_settings set;
    char *keys;
} session;

/* Asks about one leased item until it is answered. 1 to go on, 0 to stop (quit, end of input,
 * or a failed write: *s then holds it). */
static int ask(session *ss, const hitl_lease *l, hitl_status *s, hitl_error *err)
{
    char line[512];
    for (;;) {
        if (!fgets(line, sizeof(line), stdin)) return 0;
        chomp(line);
        int a = resolve(line, &ss->set, ss->keys);
        hitl_status r = HITL_OK;
        if (a >= 0) {
            r = hitl_store_label(ss->st, l->pool_id, ss->set.classes[a], ss->who, err);
            if (r == HITL_OK) {
                ss->done++;
                return 1;
            }
        } else if (a == ANSWER_SKIP) {
            r = hitl_store_skip(ss->st, l->pool_id, ss->who, "skipped in annotate", err);
            if (r == HITL_OK) return 1;
        } else if (a == ANSWER_UNDO) {
            char *undone = NULL;
            if ((r = hitl_store_undo(ss->st, ss->who, NULL, &undone, err)) == HITL_OK) {
                if (undone) {
                    printf("undid your label on %s: it comes back now\n", cli_safe(undone));
                    if (ss->done) ss->done--;
                    free(undone);
                    return 1; /* the undone item is leased to us: next shows it first */
                }
                printf("nothing to undo\n> ");
                fflush(stdout);
                continue;
            }
        } else if (a == ANSWER_QUIT) {
            return 0;
        } else {
            printf("type a key or a class name (shown above), /skip, /undo or /quit\n> ");
            fflush(stdout);
            continue;
        }
        if (cli_exit_code(r) == CLI_EXIT_FAILURE) {
            *s = r; /* the store cannot be written: stop instead of asking again */
            return 0;
        }
        printf("%s\n> ", cli_safe(err->msg));
        fflush(stdout);
    }
}

int cmd_annotate(int argc, char **argv)
{
    session ss = {.width = 78};
    const cli_opt opts[] = {CLI_O_STR("annotator", &ss.who), CLI_O_STR("show", &ss.show),
                            CLI_O_SIZE("width", &ss.width, 20, 1000, "20..1000"), CLI_O_END};
    int rc = cli_options("annotate", usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    if (!ss.who) return cli_usage_error("annotate", "--annotator NAME is required");
    if ((rc = cli_name_arg("annotate", "--annotator", ss.who)) >= 0) return rc;
    if ((rc = cli_open_store("annotate", argv[optind], &ss.st)) >= 0) return rc;
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = hitl_store_settings_get(ss.st, &ss.set, &err);
    if (s == HITL_OK && !(ss.keys = calloc(ss.set.n_classes + 1, 1)))
        s = hitl_error_set(&err, HITL_ENOMEM, "out of memory");
    if (s == HITL_OK) assign_keys(&ss.set, ss.keys);
    int going = s == HITL_OK;
    while (going) {
        hitl_lease l;
        int found;
        hitl_progress p;
        if ((s = hitl_store_next(ss.st, ss.who, &l, &found, &err)) != HITL_OK ||
            (s = hitl_store_progress(ss.st, ss.who, &p, &err)) != HITL_OK) {
            if (s != HITL_OK && found) hitl_lease_release(&l);
            break;
        }
        if (!found) {
            printf("\nnothing left for %s (%zu labelled this session)\n", cli_safe(ss.who),
                   ss.done);
            break;
        }
        printf("\n[%lld labelled by you, %lld left for you] item %s\n", (long long)p.labelled,
               (long long)p.left, cli_safe(l.pool_id));
        print_payload(l.data, ss.show, ss.width);
        if (l.prediction) printf("  model suggests: %s\n", cli_safe(l.prediction));
        print_menu(&ss.set, ss.keys);
        going = ask(&ss, &l, &s, &err);
        hitl_lease_release(&l);
        if (!going && s == HITL_OK) printf("\n%zu labelled this session\n", ss.done);
    }
    free(ss.keys);
    hitl_store_settings_release(&ss.set);
    hitl_store_close(ss.st);
    return s == HITL_OK ? CLI_EXIT_OK : cli_fail("annotate", s, &err);
}
