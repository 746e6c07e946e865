/* hitl serve: the annotation web app and its HTTP API over a store (io/http). This parses the
 * options, starts the server, prints one line per request on stderr, and stops cleanly on
 * SIGINT or SIGTERM (requests in flight finish; leases stay as they are). */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "hitl_http.h"

static const char usage_text[] =
    "usage: hitl serve DB [--listen ADDR:PORT] [--tls-cert PEM --tls-key PEM] [--media DIR]\n"
    "                     [--threads N] [--quiet]\n"
    "\n"
    "Serves the annotation page at / and the JSON API at /api/v1 for the accounts of\n"
    "`hitl user` (annotators label, reviewers also adjudicate, admins also see health).\n"
    "  --listen ADDR:PORT  numeric address and port (default 127.0.0.1:8080; port 0: any free\n"
    "                      port, printed on the first line; [::1]:PORT for IPv6)\n"
    "  --tls-cert, --tls-key  PEM files: serve HTTPS (cookies then carry Secure)\n"
    "  --media DIR         files served read-only under /media/ (payload image paths)\n"
    "  --threads N         worker threads (default 16: a write waits for its group commit\n"
    "                      rather than for a core)\n"
    "  --quiet             no line per request\n"
    "The first line on stderr is `hitl serve: listening on URL`. Each request then prints\n"
    "time, method, path, status, milliseconds, account and address (never a token).\n"
    "SIGINT or SIGTERM stops it: exit 0.\n"
    "\n"
    "exit codes: 0 stopped by a signal, 1 cannot listen or open the store, 2 usage\n";

static void log_line(void *ctx, const hitl_http_log *l)
{
    (void)ctx;
    fprintf(stderr, "%s %s %s %d %.1f ms %s %s\n", l->time, cli_safe(l->method), cli_safe(l->path),
            l->status, l->ms, cli_safe(l->account), l->client);
}

/* "ADDR:PORT", "[V6]:PORT" or ":PORT" into host (static buffer) and port: -1 when bad. */
static int parse_listen(const char *text, const char **host, unsigned short *port)
{
    static char buf[128];
    const char *colon = strrchr(text, ':');
    if (!colon || strlen(text) >= sizeof(buf)) return -1;
    size_t n = (size_t)(colon - text);
    memcpy(buf, text, n);
    buf[n] = '\0';
    if (n >= 2 && buf[0] == '[' && buf[n - 1] == ']') {
        memmove(buf, buf + 1, n - 2);
        buf[n - 2] = '\0';
    }
    char *end;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (!colon[1] || *end || p > 65535) return -1;
    *host = buf[0] ? buf : "127.0.0.1";
    *port = (unsigned short)p;
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8080";
    hitl_http_opts o = {0};
    size_t threads = 16;
    int quiet = 0;
    const cli_opt opts[] = {CLI_O_STR("listen", &listen),
                            CLI_O_STR("tls-cert", &o.tls_cert),
                            CLI_O_STR("tls-key", &o.tls_key),
                            CLI_O_STR("media", &o.media),
                            CLI_O_SIZE("threads", &threads, 1, 64, "1 to 64"),
                            CLI_O_FLAG("quiet", &quiet),
                            CLI_O_END};
    int rc = cli_options("serve", usage_text, argc, argv, opts, 1, 1);
    if (rc >= 0) return rc;
    o.db = argv[optind];
    o.threads = (unsigned)threads;
    if (parse_listen(listen, &o.host, &o.port) != 0)
        return cli_usage_error("serve", "bad --listen '%s' (want ADDR:PORT)", cli_safe(listen));
    if (!quiet) o.log = log_line;
    /* the signals are blocked in the server's threads, and waited for here */
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    hitl_error err;
    hitl_error_clear(&err);
    hitl_http *h;
    hitl_status s = hitl_http_start(&o, &h, &err);
    if (s != HITL_OK) {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return cli_fail("serve", s, &err);
    }
    const char *host = o.host;
    int v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "hitl serve: listening on %s://%s%s%s:%u/\n", o.tls_cert ? "https" : "http",
            v6 ? "[" : "", host, v6 ? "]" : "", (unsigned)hitl_http_port(h));
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "hitl serve: %s: finishing the requests in flight\n",
            sig == SIGINT ? "interrupted" : "terminated");
    hitl_http_stop(h);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return CLI_EXIT_OK;
}
