/* A load client for bench_serve.py: one thread per account, each on one keep-alive HTTP/1.1
 * connection to hitl serve, looping GET /api/v1/next then POST /api/v1/items/ID/label until
 * the time is up or nothing is left. Python's http.client spends as much CPU per request as the
 * server does, and on a 2-core machine the clients then measure themselves; this one costs a
 * few microseconds a request. Writes the same JSON as bench_serve.py's Python workers.
 *
 * usage: hitl_serve_client PORT TOKENS.json START_AT SECONDS OUT.json
 *   TOKENS.json: {"name": "token", ...}; START_AT: Unix time to start (all threads together) */
#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

static int port;
static double start_at, end_at;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct client {
    const char *name, *token;
    double *lat;
    char **items;
    size_t n, cap;
    int connections, nothing_left, errors;
    double finished_at;
    char buf[65536];
    size_t have; /* bytes in buf not yet consumed */
} client;

static int dial(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One response: its status and body (NUL-terminated, in c->buf, valid until the next call). */
static int response(client *c, int fd, int *status, char **body)
{
    char *end;
    for (;;) {
        c->buf[c->have] = '\0';
        if ((end = strstr(c->buf, "\r\n\r\n"))) break;
        ssize_t k = recv(fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
        if (k <= 0) return -1;
        c->have += (size_t)k;
    }
    *status = atoi(c->buf + 9);
    const char *cl = strstr(c->buf, "\r\nContent-Length:"); /* as libmicrohttpd spells it */
    size_t len = cl && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
    size_t head = (size_t)(end - c->buf) + 4;
    while (c->have < head + len) {
        ssize_t k = recv(fd, c->buf + c->have, sizeof(c->buf) - 1 - c->have, 0);
        if (k <= 0) return -1;
        c->have += (size_t)k;
    }
    static __thread char out[65536];
    memcpy(out, c->buf + head, len);
    out[len] = '\0';
    memmove(c->buf, c->buf + head + len, c->have - head - len); /* a pipelined next answer */
    c->have -= head + len;
    *body = out;
    return 0;
}

static const char *const classes[] = {"cat", "dog", "owl"};

static void *run(void *arg)
{
    client *c = arg;
    char req[4096];
    int fd = -1;
    while (now() < start_at)
        usleep(500);
    while (now() < end_at) {
        if (fd < 0) {
            if ((fd = dial()) < 0) {
                c->errors++;
                usleep(1000);
                continue;
            }
            c->connections++;
            c->have = 0;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        int n = snprintf(req, sizeof(req),
                         "GET /api/v1/next HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Authorization: Bearer %s\r\n\r\n",
                         c->token);
        int status;
        char *body;
        if (send_all(fd, req, (size_t)n) || response(c, fd, &status, &body)) {
            close(fd);
            fd = -1;
            c->errors++;
            continue;
        }
        json_t *j = status == 200 ? json_loads(body, 0, NULL) : NULL;
        const char *item = json_string_value(json_object_get(j, "item"));
        if (!item) {
            if (j)
                c->nothing_left++;
            else
                c->errors++;
            json_decref(j);
            if (status == 200) break;
            continue;
        }
        char *id = strdup(item);
        json_decref(j);
        const char *label = classes[crc32(0, (const unsigned char *)id, (uInt)strlen(id)) % 3];
        char post[256];
        int pn = snprintf(post, sizeof(post), "{\"label\":\"%s\"}", label);
        /* the queue's ids are plain (doc-0000123): no escaping needed */
        n = snprintf(req, sizeof(req),
                     "POST /api/v1/items/%s/label HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     "Authorization: Bearer %s\r\nX-Hitl-Request: 1\r\n"
                     "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
                     id, c->token, pn, post);
        if (send_all(fd, req, (size_t)n) || response(c, fd, &status, &body)) {
            close(fd);
            fd = -1;
            c->errors++;
            free(id);
            continue;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (status != 200) {
            c->errors++;
            free(id);
            continue;
        }
        if (c->n == c->cap) {
            c->cap = c->cap ? 2 * c->cap : 1024;
            c->lat = realloc(c->lat, c->cap * sizeof(double));
            c->items = realloc(c->items, c->cap * sizeof(char *));
        }
        c->lat[c->n] =
            (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
        c->items[c->n++] = id;
    }
    c->finished_at = now();
    if (fd >= 0) close(fd);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 6) {
        fprintf(stderr, "usage: hitl_serve_client PORT TOKENS.json START_AT SECONDS OUT.json\n");
        return 2;
    }
    port = atoi(argv[1]);
    json_t *tokens = json_load_file(argv[2], 0, NULL);
    start_at = atof(argv[3]);
    end_at = start_at + atof(argv[4]);
    size_t n = json_object_size(tokens);
    if (!n) return 2;
    client *cs = calloc(n, sizeof(*cs));
    pthread_t *th = calloc(n, sizeof(*th));
    const char *key;
    json_t *v;
    size_t i = 0;
    json_object_foreach(tokens, key, v)
    {
        cs[i].name = key;
        cs[i].token = json_string_value(v);
        pthread_create(&th[i], NULL, run, &cs[i]);
        i++;
    }
    json_t *out = json_object();
    for (i = 0; i < n; i++) {
        pthread_join(th[i], NULL);
        json_t *lat = json_array(), *items = json_array();
        for (size_t k = 0; k < cs[i].n; k++) {
            json_array_append_new(lat, json_real(cs[i].lat[k]));
            json_array_append_new(items, json_string(cs[i].items[k]));
            free(cs[i].items[k]);
        }
        json_t *errors = json_object();
        if (cs[i].errors) json_object_set_new(errors, "client", json_integer(cs[i].errors));
        json_object_set_new(out, cs[i].name,
                            json_pack("{s:o, s:o, s:o, s:i, s:i, s:f}", "latency_ms", lat, "items",
                                      items, "errors", errors, "connections", cs[i].connections,
                                      "nothing_left", cs[i].nothing_left, "finished_at",
                                      cs[i].finished_at));
        free(cs[i].lat);
        free(cs[i].items);
    }
    int rc = json_dump_file(out, argv[5], JSON_COMPACT) == 0 ? 0 : 1;
    json_decref(out);
    json_decref(tokens);
    free(cs);
    free(th);
    return rc;
}
