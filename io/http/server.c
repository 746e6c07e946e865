/* The server: libmicrohttpd's daemon (a pool of worker threads over poll), one request's life
 * (its body read up to the limit, who is asking, the route, the reply with the security
 * headers, the log line), the store handles the workers share, the page and the media files. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_internal.h"
#include "hitl_banned.h"

static const char csp[] = "default-src 'self'; img-src 'self' data: https:; script-src 'self'; "
                          "style-src 'self'; frame-ancestors 'none'; base-uri 'none'; "
                          "form-action 'self'";

/* ---- store handles ------------------------------------------------------------------------- */

hitl_store *http_store_get(hitl_http *h, hitl_error *err)
{
    hitl_store *st = NULL;
    pthread_mutex_lock(&h->pool_mu);
    if (h->n_pool > 0) st = h->pool[--h->n_pool];
    pthread_mutex_unlock(&h->pool_mu);
    if (!st && hitl_store_open(&st, h->db, err) != HITL_OK) return NULL;
    return st;
}

void http_store_put(hitl_http *h, hitl_store *st)
{
    if (!st) return;
    pthread_mutex_lock(&h->pool_mu);
    if (h->n_pool < HITL_HTTP_POOL) {
        h->pool[h->n_pool++] = st;
        st = NULL;
    }
    pthread_mutex_unlock(&h->pool_mu);
    hitl_store_close(st);
}

/* ---- replies ------------------------------------------------------------------------------- */

/* The headers every response carries: no framing, no sniffing, no referrer, the page's CSP;
 * `cache` its Cache-Control. While the server stops, every answer closes its connection. */
static void secure(const hitl_http *h, struct MHD_Response *r, const char *cache)
{
    MHD_add_response_header(r, "Content-Security-Policy", csp);
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Cache-Control", cache);
    if (atomic_load(&h->stopping)) MHD_add_response_header(r, "Connection", "close");
}

enum MHD_Result http_reply_bytes(struct MHD_Connection *c, http_req *rq, int status,
                                 const char *type, void *data, size_t n, int must_free,
                                 const char *set_cookie)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(
        n, data, must_free ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!r) {
        if (must_free) free(data);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    /* the API's answers (JSON and the charts) are never stored; the page is revalidated */
    secure(rq->server, r, strncmp(rq->path, "/api/", 5) == 0 ? "no-store" : "no-cache");
    if (set_cookie) MHD_add_response_header(r, "Set-Cookie", set_cookie);
    rq->status = status;
    enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ok;
}

enum MHD_Result http_reply_json(struct MHD_Connection *c, http_req *rq, int status, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(9)) : NULL;
    json_decref(j);
    if (!text) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        return http_reply_bytes(c, rq, 500, "application/json", (void *)oom, sizeof(oom) - 1, 0,
                                NULL);
    }
    return http_reply_bytes(c, rq, status, "application/json", text, strlen(text), 1, NULL);
}

enum MHD_Result http_reply_error(struct MHD_Connection *c, http_req *rq, int status,
                                 const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return http_reply_json(c, rq, status, json_pack("{s:s}", "error", msg));
}

int http_status_of(hitl_status s)
{
    switch (s) {
    case HITL_OK:
        return 200;
    case HITL_EINVAL:
    case HITL_EDATA:
    case HITL_ESHAPE:
    case HITL_ETYPE:
        return 400;
    case HITL_EAUTH:
        return 401;
    case HITL_EPERM:
        return 403;
    case HITL_ENOTFOUND:
        return 404;
    case HITL_ECONFLICT:
        return 409;
    case HITL_EBUSY:
        return 503;
    default:
        return 500;
    }
}

enum MHD_Result http_reply_status(struct MHD_Connection *c, http_req *rq, hitl_status s,
                                  const hitl_error *err)
{
    return http_reply_error(c, rq, http_status_of(s), "%s",
                            err && err->msg[0] ? err->msg : hitl_status_str(s));
}

/* ---- the page and the media ---------------------------------------------------------------- */

static const char *media_type(const char *path)
{
    static const char *const map[][2] = {{".png", "image/png"},
                                         {".jpg", "image/jpeg"},
                                         {".jpeg", "image/jpeg"},
                                         {".gif", "image/gif"},
                                         {".webp", "image/webp"},
                                         {".svg", "image/svg+xml"},
                                         {".txt", "text/plain; charset=utf-8"},
                                         {".json", "application/json"},
                                         {".wav", "audio/wav"},
                                         {".mp3", "audio/mpeg"},
                                         {".mp4", "video/mp4"}};
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof(map) / sizeof(map[0]); i++)
        if (strcasecmp(dot, map[i][0]) == 0) return map[i][1];
    return "application/octet-stream";
}

/* GET /media/PATH: a regular file under the media directory, whatever the path says (".."
 * or a symlink leading out is 404, as is anything when no --media was given). */
static enum MHD_Result serve_media(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                                   const char *rel)
{
    if (!h->media) return http_reply_error(c, rq, 404, "no media directory is served");
    char joined[PATH_MAX], real[PATH_MAX];
    size_t m = strlen(h->media);
    if ((size_t)snprintf(joined, sizeof(joined), "%s/%s", h->media, rel) >= sizeof(joined) ||
        !realpath(joined, real) || strncmp(real, h->media, m) != 0 || real[m] != '/')
        return http_reply_error(c, rq, 404, "no such media file");
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        if (fd >= 0) close(fd);
        return http_reply_error(c, rq, 404, "no such media file");
    }
    struct MHD_Response *r = MHD_create_response_from_fd((uint64_t)sb.st_size, fd);
    if (!r) {
        close(fd);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", media_type(real));
    secure(h, r, "private, max-age=3600");
    rq->status = 200;
    enum MHD_Result ok = MHD_queue_response(c, 200, r);
    MHD_destroy_response(r);
    return ok;
}

static enum MHD_Result serve_asset(struct MHD_Connection *c, http_req *rq, int i)
{
    const hitl_asset *a = &hitl_assets[i];
    return http_reply_bytes(c, rq, 200, a->type, (void *)a->data, a->size, 0, NULL);
}

/* ---- who is asking ------------------------------------------------------------------------- */

/* The account behind the request's bearer token or session cookie: HITL_EAUTH when there is
 * none, or it is revoked. Failed tokens count against the address. */
static hitl_status authenticate(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                                hitl_error *err)
{
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, HITL_HTTP_COOKIE);
    hitl_store *st = http_store_get(h, err);
    if (!st) return err->status;
    hitl_account a;
    hitl_status s;
    if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
        s = hitl_account_auth(st, auth + 7, &a, err);
        if (s == HITL_EAUTH) http_fail_count(&h->sessions, rq->client);
    } else if (cookie) {
        char name[260];
        if (http_session_find(&h->sessions, cookie, name) != 0)
            s = hitl_error_set(err, HITL_EAUTH, "the session has ended: log in again");
        else if ((s = hitl_account_get(st, name, &a, err)) == HITL_ENOTFOUND || a.revoked)
            s = hitl_error_set(err, HITL_EAUTH, "the account '%s' was revoked", name);
    } else {
        s = hitl_error_set(err, HITL_EAUTH, "log in, or send Authorization: Bearer TOKEN");
    }
    http_store_put(h, st);
    if (s == HITL_OK) {
        snprintf(rq->account, sizeof(rq->account), "%s", a.name);
        rq->role = a.role;
    }
    return s;
}

/* ---- one request --------------------------------------------------------------------------- */

static enum MHD_Result answer(hitl_http *h, struct MHD_Connection *c, http_req *rq,
                              const char *method, const char *url)
{
    hitl_http_match r;
    if (hitl_http_route(method, url, &r) != HITL_OK)
        return http_reply_error(c, rq, 400, "the path cannot be decoded");
    if (r.id == HITL_R_NONE) return http_reply_error(c, rq, 404, "no such page or endpoint");
    if (r.bad_method)
        return http_reply_error(c, rq, 405, "use %s for this path", r.post ? "POST" : "GET");
    if (rq->too_large)
        return http_reply_error(c, rq, 413, "the body is over %zu bytes", h->o.body_limit);
    if (r.id == HITL_R_ASSET) return serve_asset(c, rq, r.asset); /* the page is public */
    /* a state change must say it comes from a script of ours: a cross-site form cannot */
    if (r.post) {
        const char *x = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Hitl-Request");
        if (!x || strcmp(x, "1") != 0)
            return http_reply_error(c, rq, 403, "a POST needs the header X-Hitl-Request: 1");
    }
    /* a guessed credential (a login, a bearer token) from an address that failed too often is
     * refused unread; a session cookie is no guess (256 bits), so people already logged in
     * behind the same address keep working */
    const char *auth = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if ((r.id == HITL_R_LOGIN || auth) && http_fail_blocked(&h->sessions, rq->client))
        return http_reply_error(c, rq, 429, "too many failed logins from %s: wait a minute",
                                rq->client);
    if (r.id == HITL_R_LOGIN) return http_login(h, c, rq);
    if (r.id == HITL_R_LOGOUT) return http_logout(h, c, rq);
    hitl_error err;
    hitl_error_clear(&err);
    hitl_status s = authenticate(h, c, rq, &err);
    if (s != HITL_OK) return http_reply_status(c, rq, s, &err);
    if (r.id == HITL_R_MEDIA) return serve_media(h, c, rq, r.arg); /* the project's data */
    return http_api(h, c, rq, &r);
}

static void client_of(struct MHD_Connection *c, char out[64])
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(out, 64, "-");
    if (!ci || !ci->client_addr) return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, 64);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, 64);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    (void)version;
    hitl_http *h = cls;
    http_req *rq = *con_cls;
    if (!rq) { /* the headers are in: set up, and refuse a declared oversize body at once */
        if (!(rq = calloc(1, sizeof(*rq)))) return MHD_NO;
        atomic_fetch_add(&h->in_flight, 1);
        rq->server = h;
        rq->t0 = http_now();
        snprintf(rq->account, sizeof(rq->account), "-");
        client_of(c, rq->client);
        snprintf(rq->method, sizeof(rq->method), "%s", method);
        snprintf(rq->path, sizeof(rq->path), "%.*s", (int)strcspn(url, "?"), url);
        *con_cls = rq;
        const char *len = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (len && strtoull(len, NULL, 10) > h->o.body_limit) rq->too_large = 1;
        return MHD_YES;
    }
    if (*upload_size) {
        if (!rq->too_large && rq->n + *upload_size <= h->o.body_limit) {
            if (rq->n + *upload_size + 1 > rq->cap) {
                size_t cap = rq->n + *upload_size + 1;
                char *grown = realloc(rq->body, cap);
                if (!grown) return MHD_NO;
                rq->body = grown;
                rq->cap = cap;
            }
            memcpy(rq->body + rq->n, upload, *upload_size);
            rq->n += *upload_size;
            rq->body[rq->n] = '\0';
        } else {
            rq->too_large = 1; /* read and dropped; answered 413 when it ends */
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (atomic_load(&h->stopping) && !rq->suspended) /* arrived after the signal */
        return http_reply_error(c, rq, 503, "the server is stopping");
    return answer(h, c, rq, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)c;
    (void)toe;
    hitl_http *h = cls;
    http_req *rq = *con_cls;
    if (!rq) return;
    if (h->o.log) {
        char when[32];
        time_t t = time(NULL);
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
        hitl_http_log line = {
            when,        rq->method, rq->path, rq->status, (http_now() - rq->t0) * 1e3,
            rq->account, rq->client};
        h->o.log(h->o.log_ctx, &line);
    }
    free(rq->body);
    free(rq);
    *con_cls = NULL;
    atomic_fetch_sub(&h->in_flight, 1);
}

/* MHD decodes %XX in the path before we see it, unless told not to: the router decodes each
 * segment itself, so that "%2F" inside an item id is not a separator. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls;
    (void)c;
    return strlen(s);
}

/* ---- start and stop ------------------------------------------------------------------------ */

static char *read_file(const char *path, hitl_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        hitl_error_set(err, HITL_EIO, "cannot read '%s' (%s)", path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            cap = cap ? 2 * cap : 8192;
            char *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(f) || !buf || n > (1u << 20);
    fclose(f);
    if (bad) {
        free(buf);
        hitl_error_set(err, HITL_EIO, "cannot read '%s'", path);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

static hitl_status configure(hitl_http *h, const hitl_http_opts *o, hitl_error *err)
{
    h->o = *o;
    if (!h->o.threads) h->o.threads = 16;
    if (!h->o.body_limit) h->o.body_limit = 64 * 1024;
    if (!h->o.timeout_seconds) h->o.timeout_seconds = 30;
    if (!h->o.session_seconds) h->o.session_seconds = 12 * 3600;
    if (!h->o.host) h->o.host = "127.0.0.1";
    if (!!o->tls_cert != !!o->tls_key)
        return hitl_error_set(err, HITL_EINVAL, "give both --tls-cert and --tls-key, or neither");
    if (!(h->db = strdup(o->db))) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (o->media) {
        struct stat sb;
        h->media = realpath(o->media, NULL);
        if (!h->media || stat(h->media, &sb) != 0 || !S_ISDIR(sb.st_mode))
            return hitl_error_set(err, HITL_EINVAL, "the media directory '%s' is not a directory",
                                  o->media);
    }
    if (o->tls_cert) {
        if (!(h->cert_pem = read_file(o->tls_cert, err))) return err->status;
        if (!(h->key_pem = read_file(o->tls_key, err))) return err->status;
    }
    return HITL_OK;
}

static hitl_status listen_on(hitl_http *h, hitl_error *err)
{
    struct sockaddr_in6 a6;
    struct sockaddr_in a4;
    const struct sockaddr *sa;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    memset(&a4, 0, sizeof(a4));
    memset(&a6, 0, sizeof(a6));
    if (inet_pton(AF_INET, h->o.host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons(h->o.port);
        sa = (const struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, h->o.host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons(h->o.port);
        sa = (const struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        return hitl_error_set(err, HITL_EINVAL, "'%s' is not a numeric IPv4 or IPv6 address",
                              h->o.host);
    }
    if (h->cert_pem) flags |= MHD_USE_TLS;
    h->daemon = MHD_start_daemon(
        flags, h->o.port, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, sa,
        MHD_OPTION_THREAD_POOL_SIZE, h->o.threads, MHD_OPTION_CONNECTION_TIMEOUT,
        h->o.timeout_seconds, MHD_OPTION_CONNECTION_LIMIT, 512u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        128u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, h, MHD_OPTION_UNESCAPE_CALLBACK, no_unescape, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1u,
        h->cert_pem ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, h->cert_pem,
        MHD_OPTION_HTTPS_MEM_KEY, h->key_pem, MHD_OPTION_END);
    if (!h->daemon)
        return hitl_error_set(err, HITL_EIO,
                              "cannot listen on %s:%u (in use, not permitted, or a "
                              "bad TLS key or certificate)",
                              h->o.host, (unsigned)h->o.port);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = di ? di->port : h->o.port;
    return HITL_OK;
}

hitl_status hitl_http_start(const hitl_http_opts *o, hitl_http **out, hitl_error *err)
{
    *out = NULL;
    hitl_http *h = calloc(1, sizeof(*h));
    if (!h) return hitl_error_set(err, HITL_ENOMEM, "out of memory");
    pthread_mutex_init(&h->pool_mu, NULL);
    pthread_mutex_init(&h->write_mu, NULL);
    pthread_cond_init(&h->write_cv, NULL);
    hitl_status s = http_sessions_init(&h->sessions) == 0
                        ? HITL_OK
                        : hitl_error_set(err, HITL_ENOMEM, "out of memory");
    if (s == HITL_OK) s = configure(h, o, err);
    hitl_store *st = NULL;
    if (s == HITL_OK && (st = http_store_get(h, err)) == NULL) s = err->status;
    if (s == HITL_OK) s = hitl_store_settings_get(st, &h->settings, err);
    http_store_put(h, st);
    if (s == HITL_OK && http_waiters_start(h) != 0)
        s = hitl_error_set(err, HITL_EINTERNAL, "cannot start the server's timer thread");
    if (s == HITL_OK && http_checkpointer_start(h) != 0)
        s = hitl_error_set(err, HITL_EINTERNAL, "cannot start the server's checkpoint thread");
    if (s == HITL_OK) s = listen_on(h, err);
    if (s != HITL_OK) {
        hitl_http_stop(h);
        return s;
    }
    *out = h;
    return HITL_OK;
}

unsigned short hitl_http_port(const hitl_http *h)
{
    return h->port;
}

void hitl_http_stop(hitl_http *h)
{
    if (!h) return;
    if (h->daemon) {
        /* no new connections, and no new requests on the open ones (503, connection closed);
         * the requests in flight get up to five seconds to finish, idle keep-alive connections
         * are simply closed */
        atomic_store(&h->stopping, 1);
        MHD_quiesce_daemon(h->daemon);
        http_waiters_stop(h); /* waiting requests answer what their decision is now */
        for (int i = 0; i < 500 && atomic_load(&h->in_flight) > 0; i++) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(h->daemon);
    }
    http_waiters_stop(h); /* when the daemon never started */
    http_checkpointer_stop(h);
    for (int i = 0; i < h->n_pool; i++)
        hitl_store_close(h->pool[i]);
    hitl_store_close(h->writer);
    hitl_store_settings_release(&h->settings);
    http_sessions_release(&h->sessions);
    pthread_mutex_destroy(&h->pool_mu);
    pthread_mutex_destroy(&h->write_mu);
    pthread_cond_destroy(&h->write_cv);
    free(h->db);
    free(h->media);
    free(h->cert_pem);
    free(h->key_pem);
    free(h);
}
