/* hitl_audit_verify: replays the audit chain into the state it explains (labels, skips,
 * decisions, final labels, imports, settings, and the digests of queued items and payloads) and
 * compares that state with every table, in one read snapshot. Any row the chain does not
 * explain, or that differs from it, is a problem naming the item and the field. */
#include <math.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

#define NO_TEXT ((size_t)-1)
#define ANY_TEXT                                                                                   \
    ((size_t)-2) /* a time a schema-1 event did not share with its row: not compared               \
                  */
#define MAX_PAIRS 32

/* ---- an integer map -------------------------------------------------------------------------- */

/* Keys (two 32-bit indices in one 64-bit word) to dense indices in insertion order, by open
 * addressing: the labels' (item, annotator) pairs without building a string per pair. */
typedef struct imap {
    uint64_t *keys;  /* per entry */
    uint32_t *slots; /* entry index + 1, 0 empty */
    size_t n, cap, n_slots;
} imap;

static uint64_t pack(size_t hi, size_t lo)
{
    return (uint64_t)hi << 32 | (uint32_t)lo;
}

/* The key's first slot: MurmurHash3's 64-bit finaliser mixes every bit of both halves into the
 * low bits (a bare multiply left the low 32 bits of item << 32 at zero: long probe runs). */
static size_t imap_home(const imap *m, uint64_t key)
{
    key ^= key >> 33;
    key *= 0xff51afd7ed558ccdull;
    key ^= key >> 33;
    key *= 0xc4ceb9fe1a85ec53ull;
    key ^= key >> 33;
    return (size_t)key & (m->n_slots - 1);
}

static int64_t imap_find(const imap *m, uint64_t key)
{
    if (!m->n_slots) return -1;
    for (size_t j = imap_home(m, key);; j = (j + 1) & (m->n_slots - 1)) {
        uint32_t e = m->slots[j];
        if (!e) return -1;
        if (m->keys[e - 1] == key) return e - 1;
    }
}

/* Doubles the slots (at least 4096) and places every entry again. -1 out of memory. */
static int imap_grow(imap *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 4096;
    uint32_t *slots = calloc(ns, sizeof(uint32_t));
    if (!slots) return -1;
    free(m->slots);
    m->slots = slots;
    m->n_slots = ns;
    for (size_t i = 0; i < m->n; i++) {
        size_t j = imap_home(m, m->keys[i]);
        while (m->slots[j])
            j = (j + 1) & (ns - 1);
        m->slots[j] = (uint32_t)(i + 1);
    }
    return 0;
}

/* The index of key, added when new (*fresh = 1); -1 out of memory. */
static int64_t imap_add(imap *m, uint64_t key, int *fresh)
{
    *fresh = 0;
    int64_t i = imap_find(m, key);
    if (i >= 0) return i;
    if ((m->n + 1) * 2 > m->n_slots && imap_grow(m)) return -1;
    if (m->n == m->cap) {
        size_t c = m->cap ? m->cap * 2 : 4096;
        uint64_t *k = realloc(m->keys, c * sizeof(uint64_t));
        if (!k) return -1;
        m->keys = k;
        m->cap = c;
    }
    m->keys[m->n] = key;
    size_t j = imap_home(m, key);
    while (m->slots[j])
        j = (j + 1) & (m->n_slots - 1);
    m->slots[j] = (uint32_t)(m->n + 1);
    *fresh = 1;
    return (int64_t)m->n++;
}

static void imap_release(imap *m)
{
    free(m->keys);
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

/* An event whose digest covers many item rows: a queue (or upgrade) event's items, or an
 * event's payloads. The table's rows are digested into `run` and compared at the end. */
typedef struct covered {
    int64_t seq;
    char digest[65];
    int64_t count;
    hitl__digest run;
} covered;

typedef struct covered_vec {
    covered *v;
    size_t n, cap;
} covered_vec;

/* An item as the chain leaves it. */
/* A time as the rows carry it: milliseconds since 1970 for hitl's own ISO-8601 form (8 bytes
 * where 2,000,000 label times would fill an arena), else the text kept in the arena. */
#define NO_TIME  (-1) /* NULL */
#define ANY_TIME (-2) /* a schema-1 event's time, not compared */

typedef struct vitem {
    int state, final_label, n_labels, n_decisions;
    const char *final_kind; /* static */
    size_t final_by;        /* text offset */
    int64_t final_at;       /* a time code */
    int seen;
} vitem;

typedef struct vlabel {
    int label, alive, seen;
    int64_t at;
    double seconds; /* NaN: none */
} vlabel;

typedef struct vskip {
    int alive, seen;
    size_t reason;
    int64_t at;
} vskip;

typedef struct vdecision {
    size_t actor, justification;
    int64_t at;
    int label, previous, overrode, seen;
    const char *kind;
} vdecision;

typedef struct vimport {
    size_t item, annotator;
    int64_t at;
    const char *kind;
    int seen;
} vimport;

typedef struct vaccount {
    size_t role, token_hash; /* text offsets */
    int64_t created_at, revoked_at;
    int seen;
} vaccount;

typedef struct verifier {
    hitl_store *st;
    const hitl_verify_opts *o;
    hitl_verify_report *rep;
    hitl_error *err;
    hitl_status status; /* the first failure that is not a problem */
    hitl_buf text;      /* every string the replay keeps, NUL-terminated */
    hitl_buf key, val, scratch;
    char **classes; /* the project's classes as the init event gave them */
    size_t n_classes;
    char settings[HITL__N_SETTINGS][64];
    char naming[300]; /* how the first queue event named items ("rows", "ids:DSET"), or "" */
    hitl_strmap items, names, imports; /* pool ids, annotator and actor names, import keys */
    imap labels, skips, decisions;     /* (item, name) or (item, ordinal) -> the arrays below */
    imap ids;                          /* the items table's ids -> ordinal in id_item */
    int64_t *id_item;                  /* [ids.n] that id's item index */
    size_t cap_ids;
    vitem *vitems;
    vlabel *vlabels;
    vskip *vskips;
    vdecision *vdecisions;
    vimport *vimports;
    hitl_strmap accounts; /* account names -> vaccounts */
    vaccount *vaccounts;
    size_t cap_items, cap_labels, cap_skips, cap_decisions, cap_imports, cap_accounts;
    covered_vec queued, data;
    EVP_PKEY *pubkey;
    int64_t decision_item, decision_ordinal; /* the decisions scan's item and its count so far */
    int64_t upgraded_at; /* the upgrade event's seq: times before it are not compared */
    int64_t stop;        /* replay only the events up to this seq (an export's head); 0: all */
    int64_t seq;         /* the event being replayed */
    json_t *gates;       /* decision id (text) -> its state as the chain last gave it */
    json_t *gate_votes;  /* [[decision, reviewer, vote, reason]] in the chain's order */
    size_t gate_votes_seen;
} verifier;

/* ---- problems and memory -------------------------------------------------------------------- */

static void problem(verifier *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(verifier *v, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (v->rep->problems++ == 0) hitl_error_set(v->err, HITL_EDATA, "'%s': %s", v->st->path, msg);
    size_t max = v->o && v->o->max_problems ? v->o->max_problems : 20;
    if (v->o && v->o->problem && (size_t)v->rep->problems <= max) v->o->problem(v->o->ctx, msg);
}

static void oom(verifier *v)
{
    if (v->status == HITL_OK)
        v->status =
            hitl_error_set(v->err, HITL_ENOMEM, "out of memory verifying '%s'", v->st->path);
}

/* Keeps a string in the text arena; its offset (NO_TEXT for NULL). */
static size_t keep(verifier *v, const char *s)
{
    if (!s) return NO_TEXT;
    size_t off = v->text.n;
    hitl_buf_put(&v->text, s, strlen(s) + 1);
    if (v->text.oom) oom(v);
    return off;
}

static int same_text(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static const char *text_at(const verifier *v, size_t off)
{
    return off == NO_TEXT || off == ANY_TEXT || !v->text.p ? NULL : v->text.p + off;
}

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400, yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* Milliseconds since 1970 of hitl's "YYYY-MM-DDTHH:MM:SS.mmmZ", or -1 for any other text. */
static int64_t iso_ms(const char *t)
{
    int f[7], k = 0;
    static const int at[7] = {0, 5, 8, 11, 14, 17, 20}, width[7] = {4, 2, 2, 2, 2, 2, 3};
    if (!t || strlen(t) != 24 || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
        t[16] != ':' || t[19] != '.' || t[23] != 'Z')
        return -1;
    for (; k < 7; k++) {
        f[k] = 0;
        for (int i = 0; i < width[k]; i++) {
            char c = t[at[k] + i];
            if (c < '0' || c > '9') return -1;
            f[k] = f[k] * 10 + (c - '0');
        }
    }
    if (f[1] < 1 || f[1] > 12 || f[2] < 1 || f[2] > 31 || f[3] > 23 || f[4] > 59 || f[5] > 60)
        return -1;
    return ((days_from_civil(f[0], f[1], f[2]) * 24 + f[3]) * 60 + f[4]) * 60000 +
           (int64_t)f[5] * 1000 + f[6];
}

/* An event's time as its rows carry it (a time code); ANY_TIME for events of a schema-1 store,
 * which took their own time a moment after the row's. */
static int64_t keep_time(verifier *v, const char *ts)
{
    if (v->seq < v->upgraded_at) return ANY_TIME;
    if (!ts) return NO_TIME;
    int64_t ms = iso_ms(ts);
    if (ms >= 0) return ms;
    size_t off = keep(v, ts);
    return -3 - (int64_t)off; /* another form: its text */
}

/* A table's time against the chain's. */
static int same_time(const verifier *v, const char *table, int64_t chain)
{
    if (chain == ANY_TIME) return 1;
    if (chain == NO_TIME) return table == NULL;
    if (chain >= 0) return table && iso_ms(table) == chain;
    return same_text(table, text_at(v, (size_t)(-3 - chain)));
}

/* A time code as text, for messages. */
static const char *time_text(const verifier *v, int64_t code, char buf[32])
{
    if (code == ANY_TIME || code == NO_TIME) return code == NO_TIME ? "none" : "?";
    if (code < 0) return text_at(v, (size_t)(-3 - code));
    hitl__time_iso((double)(code / 1000) + (double)(code % 1000) / 1000.0 + 0.0001, buf);
    return buf;
}

/* Grows *arr (of `size` bytes each) so that index i fits; zero-fills the new room. */
static int room(void **arr, size_t *cap, size_t i, size_t size)
{
    if (i < *cap) return 0;
    size_t c = *cap ? *cap : 1024;
    while (c <= i)
        c *= 2;
    void *p = realloc(*arr, c * size);
    if (!p) return -1;
    memset((char *)p + *cap * size, 0, (c - *cap) * size);
    *arr = p;
    *cap = c;
    return 0;
}

/* The index of `key` in map, added (and its array grown) when new; -1 out of memory. */
static int64_t slot(verifier *v, hitl_strmap *map, const char *key, void **arr, size_t *cap,
                    size_t size)
{
    int64_t i = hitl_strmap_intern(map, key, strlen(key));
    if (i < 0 || room(arr, cap, (size_t)i, size)) {
        oom(v);
        return -1;
    }
    return i;
}

/* The index of (hi, lo) in map, added (and its array grown, zeroed) when new; -1 out of
 * memory. */
static int64_t pair_slot(verifier *v, imap *map, size_t hi, size_t lo, void **arr, size_t *cap,
                         size_t size)
{
    int fresh;
    int64_t i = imap_add(map, pack(hi, lo), &fresh);
    if (i < 0 || room(arr, cap, (size_t)i, size)) {
        oom(v);
        return -1;
    }
    return i;
}

/* A person's index (annotators and actors share one table of names); -1 out of memory. */
static int64_t name_of(verifier *v, const char *name)
{
    int64_t i = hitl_strmap_intern(&v->names, name, strlen(name));
    if (i < 0) oom(v);
    return i;
}

/* The item's index, added (open, no final label) when new; -1 out of memory. */
static int64_t item_index(verifier *v, const char *pool_id)
{
    size_t before = v->items.n;
    int64_t i = slot(v, &v->items, pool_id, (void **)&v->vitems, &v->cap_items, sizeof(vitem));
    if (i >= 0 && v->items.n > before) {
        v->vitems[i].final_label = -1;
        v->vitems[i].final_by = NO_TEXT;
        v->vitems[i].final_at = NO_TIME;
    }
    return i;
}

static vitem *item_of(verifier *v, const char *pool_id)
{
    int64_t i = item_index(v, pool_id);
    return i < 0 ? NULL : &v->vitems[i];
}

static const char *item_name(const verifier *v, size_t i)
{
    return hitl_strmap_name(&v->items, i);
}

static const char *person(const verifier *v, size_t i)
{
    return hitl_strmap_name(&v->names, i);
}

static int class_of(const verifier *v, const char *name)
{
    for (size_t i = 0; name && i < v->n_classes; i++)
        if (strcmp(v->classes[i], name) == 0) return (int)i;
    return -1;
}

static const char *class_name(const verifier *v, int c)
{
    return c >= 0 && (size_t)c < v->n_classes ? v->classes[c] : "?";
}

static int covered_add(verifier *v, covered_vec *cv, int64_t seq, const char *digest, int64_t count)
{
    if (room((void **)&cv->v, &cv->cap, cv->n, sizeof(covered))) {
        oom(v);
        return -1;
    }
    covered *c = &cv->v[cv->n++];
    c->seq = seq;
    snprintf(c->digest, sizeof(c->digest), "%s", digest ? digest : "");
    c->count = count;
    if (hitl__digest_init(&c->run)) {
        oom(v);
        return -1;
    }
    return 0;
}

/* The event a row names by its seq (the events are in seq order). */
static covered *covered_find(covered_vec *cv, int64_t seq)
{
    size_t lo = 0, hi = cv->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cv->v[mid].seq < seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < cv->n && cv->v[lo].seq == seq ? &cv->v[lo] : NULL;
}

/* ---- replaying one event ------------------------------------------------------------------- */

/* A payload's fields: flat objects by the fast reader, others by jansson (root). */
typedef struct payload {
    hitl__fj_pair pairs[MAX_PAIRS];
    int n;
    json_t *root;
} payload;

/* String field `key` into buf (NULL when absent or not a string). */
static const char *pl_str(verifier *v, const payload *p, const char *key, hitl_buf *buf)
{
    if (p->root) {
        json_t *x = json_object_get(p->root, key);
        return json_is_string(x) ? json_string_value(x) : NULL;
    }
    const hitl__fj_pair *f = hitl__fj_get(p->pairs, p->n, key);
    if (!f || f->type != 's' || hitl__fj_unescape(buf, f->val, f->vlen) != 0) return NULL;
    (void)v;
    return buf->p ? buf->p : "";
}

static double pl_num(const payload *p, const char *key)
{
    if (p->root) {
        json_t *x = json_object_get(p->root, key);
        return json_is_number(x) ? json_number_value(x) : NAN;
    }
    const hitl__fj_pair *f = hitl__fj_get(p->pairs, p->n, key);
    return f && f->type == 'n' ? strtod(f->val, NULL) : NAN;
}

static int pl_bool(const payload *p, const char *key)
{
    if (p->root) return json_is_true(json_object_get(p->root, key));
    const hitl__fj_pair *f = hitl__fj_get(p->pairs, p->n, key);
    return f && f->type == 't';
}

static void replay_init(verifier *v, const payload *p)
{
    json_t *classes = p->root ? json_object_get(p->root, "classes") : NULL;
    size_t n = json_array_size(classes);
    hitl_strings_free(v->classes, v->n_classes);
    v->classes = calloc(n ? n : 1, sizeof(char *));
    v->n_classes = 0;
    for (size_t i = 0; v->classes && i < n; i++) {
        const char *c = json_string_value(json_array_get(classes, i));
        if (!(v->classes[v->n_classes++] = strdup(c ? c : ""))) oom(v);
    }
    if (!v->classes) oom(v);
    hitl_store_settings s = {0};
    hitl_store_settings_default(&s);
    s.overlap = (int)pl_num(p, "overlap");
    s.lease_seconds = (int)pl_num(p, "lease");
    s.min_justification = (int)pl_num(p, "min_justification");
    const char *show = pl_str(v, p, "show_prediction", &v->val);
    if (show && hitl_store_settings_apply(&s, "show-prediction", show, NULL) != HITL_OK)
        problem(v, "the init event names show-prediction '%s'", show);
    for (size_t i = 0; i < HITL__N_SETTINGS; i++)
        hitl__setting_text(&s, hitl__setting_keys[i], v->settings[i], sizeof(v->settings[i]));
}

static void replay_setting(verifier *v, const payload *p)
{
    const char *key = pl_str(v, p, "setting", &v->key);
    const char *after = pl_str(v, p, "after", &v->val);
    for (size_t i = 0; key && after && i < HITL__N_SETTINGS; i++)
        if (strcmp(key, hitl__setting_keys[i]) == 0)
            snprintf(v->settings[i], sizeof(v->settings[i]), "%s", after);
}

static void replay_label(verifier *v, int64_t seq, const char *ts, const char *who,
                         const char *item, const payload *p)
{
    const char *name = pl_str(v, p, "label", &v->val);
    int c = class_of(v, name);
    if (c < 0) {
        problem(v, "event %lld labels item '%s' with '%s', not a class", (long long)seq, item,
                name ? name : "(none)");
        return;
    }
    int64_t at = item_index(v, item), w = name_of(v, who);
    if (at < 0 || w < 0) return;
    vitem *it = &v->vitems[at];
    int64_t i = pair_slot(v, &v->labels, (size_t)at, (size_t)w, (void **)&v->vlabels,
                          &v->cap_labels, sizeof(vlabel));
    if (i < 0) return;
    vlabel *l = &v->vlabels[i];
    if (l->alive)
        problem(v, "event %lld: '%s' labels item '%s' a second time", (long long)seq, who, item);
    const char *created = pl_str(v, p, "created_at", &v->scratch);
    *l = (vlabel){c, 1, 0, keep_time(v, created ? created : ts), pl_num(p, "seconds")};
    it->n_labels++;
    const char *key = pl_str(v, p, "key", &v->scratch);
    if (key) {
        int64_t k =
            slot(v, &v->imports, key, (void **)&v->vimports, &v->cap_imports, sizeof(vimport));
        if (k >= 0)
            v->vimports[k] = (vimport){keep(v, item), keep(v, who), keep_time(v, ts), "label", 0};
    }
}

static void replay_skip(verifier *v, const char *ts, const char *who, const char *item,
                        const payload *p)
{
    int64_t at = item_index(v, item), w = name_of(v, who);
    int64_t i = at < 0 || w < 0 ? -1
                                : pair_slot(v, &v->skips, (size_t)at, (size_t)w,
                                            (void **)&v->vskips, &v->cap_skips, sizeof(vskip));
    if (i < 0) return;
    const char *created = pl_str(v, p, "created_at", &v->scratch);
    size_t when = keep_time(v, created ? created : ts);
    v->vskips[i] = (vskip){1, 0, keep(v, pl_str(v, p, "reason", &v->val)), when};
    const char *key = pl_str(v, p, "key", &v->scratch);
    if (key) {
        int64_t k =
            slot(v, &v->imports, key, (void **)&v->vimports, &v->cap_imports, sizeof(vimport));
        if (k >= 0)
            v->vimports[k] = (vimport){keep(v, item), keep(v, who), keep_time(v, ts), "skip", 0};
    }
}

static void replay_undo(verifier *v, int64_t seq, const char *who, const char *item)
{
    int64_t at = item_index(v, item), w = name_of(v, who);
    int64_t i = at < 0 || w < 0 ? -1 : imap_find(&v->labels, pack((size_t)at, (size_t)w));
    vitem *it = at < 0 ? NULL : &v->vitems[at];
    if (i < 0 || !v->vlabels[i].alive || !it) {
        problem(v, "event %lld undoes a label of '%s' on item '%s' that the chain does not hold",
                (long long)seq, who, item);
        return;
    }
    v->vlabels[i].alive = 0;
    it->n_labels--;
    it->state = 0;
    it->final_label = -1;
    it->final_kind = NULL;
    it->final_by = NO_TEXT;
    it->final_at = NO_TIME;
}

static void replay_final(verifier *v, int64_t seq, const char *ts, const char *item,
                         const payload *p)
{
    vitem *it = item_of(v, item);
    int c = class_of(v, pl_str(v, p, "label", &v->val));
    if (!it) return;
    if (c < 0) problem(v, "event %lld sets a final label that is not a class", (long long)seq);
    it->state = 2;
    it->final_label = c;
    it->final_kind = "agreed";
    it->final_by = NO_TEXT;
    it->final_at = keep_time(v, ts);
}

static void replay_decision(verifier *v, int64_t seq, const char *ts, const char *actor,
                            const char *event, const char *item, const payload *p)
{
    int64_t at = item_index(v, item);
    if (at < 0) return;
    vitem *it = &v->vitems[at];
    int c = class_of(v, pl_str(v, p, "after", &v->val));
    const char *before = pl_str(v, p, "before", &v->val);
    int previous = before ? class_of(v, before) : -1;
    if (c < 0 || (before && previous < 0))
        problem(v, "event %lld decides item '%s' with a label that is not a class", (long long)seq,
                item);
    int64_t i = pair_slot(v, &v->decisions, (size_t)at, (size_t)it->n_decisions++,
                          (void **)&v->vdecisions, &v->cap_decisions, sizeof(vdecision));
    if (i < 0) return;
    int override = strcmp(event, "override") == 0;
    size_t when = keep_time(v, ts);
    v->vdecisions[i] = (vdecision){keep(v, actor),
                                   keep(v, pl_str(v, p, "justification", &v->val)),
                                   when,
                                   c,
                                   previous,
                                   pl_bool(p, "changed"),
                                   0,
                                   override ? "override" : "adjudicate"};
    it->state = 2;
    it->final_label = c;
    it->final_kind = override ? "override" : "adjudicated";
    it->final_by = v->vdecisions[i].actor;
    it->final_at = when;
}

/* What a queue, upgrade or data event's digests promise. */
static void replay_covering(verifier *v, int64_t seq, const payload *p)
{
    const char *naming = pl_str(v, p, "ids", &v->val);
    if (naming && !v->naming[0]) snprintf(v->naming, sizeof(v->naming), "%s", naming);
    const char *d = pl_str(v, p, "digest", &v->val);
    if (d) covered_add(v, &v->queued, seq, d, (int64_t)pl_num(p, "added"));
    const char *dd = pl_str(v, p, "data_digest", &v->val);
    if (dd) covered_add(v, &v->data, seq, dd, (int64_t)pl_num(p, "data_count"));
}

/* A signed checkpoint of the head before it (checkpoint.c checks the signature). */
static void replay_checkpoint(verifier *v, int64_t seq, const char *prev_hash, const payload *p)
{
    v->rep->checkpoints++;
    if (!v->pubkey) return;
    const char *hash = pl_str(v, p, "hash", &v->val);
    if ((int64_t)pl_num(p, "seq") != seq - 1 || !hash || strcmp(hash, prev_hash) != 0) {
        problem(v,
                "checkpoint %lld signed another event %lld than the chain now holds (the chain "
                "was rewritten before it)",
                (long long)seq, (long long)seq - 1);
        return;
    }
    const char *sig = pl_str(v, p, "signature", &v->scratch);
    if (!sig || !hitl__checkpoint_valid(v->pubkey, seq - 1, prev_hash, sig))
        problem(v, "checkpoint %lld: the signature does not verify with the public key",
                (long long)seq);
    else
        v->rep->signed_seq = seq - 1;
}

/* An account added (with its role and token hash), given a new token, or revoked. */
static void replay_account(verifier *v, int64_t seq, const char *ts, const payload *p)
{
    const char *name = pl_str(v, p, "name", &v->key);
    const char *action = pl_str(v, p, "action", &v->val);
    if (!name || !action) {
        problem(v, "event %lld (account) names no account or action", (long long)seq);
        return;
    }
    int64_t k = hitl_strmap_find(&v->accounts, name, strlen(name));
    int add = strcmp(action, "add") == 0;
    if (add == (k >= 0)) {
        problem(v, "event %lld: account '%s' %s", (long long)seq, name,
                add ? "is added twice" : "changes before it is added");
        return;
    }
    if (add) {
        if ((k = slot(v, &v->accounts, name, (void **)&v->vaccounts, &v->cap_accounts,
                      sizeof(vaccount))) < 0)
            return;
        const char *role = pl_str(v, p, "role", &v->scratch);
        v->vaccounts[k] = (vaccount){keep(v, role ? role : ""), 0, keep_time(v, ts), NO_TIME, 0};
    }
    if (k < 0) return;
    vaccount *a = &v->vaccounts[k];
    if (strcmp(action, "revoke") == 0) {
        a->revoked_at = keep_time(v, ts);
    } else {
        const char *hash = pl_str(v, p, "token_hash", &v->scratch);
        a->token_hash = keep(v, hash ? hash : "");
    }
}

/* The fields of a decision's state that its row must show (gate.c's events carry them all). */
static const char *const gate_keys[] = {
    "caller_id", "submitter", "action",   "payload_sha256", "model",       "route",     "blind",
    "status",    "review",    "required", "approvals",      "deadline_ms", "settled_by"};

/* gate, gate_vote, gate_override, gate_expired: the decision's whole state after the event,
 * kept by id; a vote or an override is also kept in order. */
static void replay_gate(verifier *v, int64_t seq, const char *actor, const char *event,
                        const char *text)
{
    json_t *p = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    json_t *id = json_object_get(p, "decision");
    if (!json_is_integer(id)) {
        problem(v, "event %lld (%s) names no decision", (long long)seq, event);
        json_decref(p);
        return;
    }
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(id));
    if (!strcmp(event, "gate") && json_object_get(v->gates, key))
        problem(v, "event %lld files decision %s a second time", (long long)seq, key);
    if (strcmp(event, "gate") && !json_object_get(v->gates, key))
        problem(v, "event %lld (%s) names decision %s, never filed", (long long)seq, event, key);
    if (!strcmp(event, "gate_vote") || !strcmp(event, "gate_override"))
        json_array_append_new(v->gate_votes,
                              json_pack("[O, s, O, O]", id, actor, json_object_get(p, "vote"),
                                        json_object_get(p, "reason")));
    json_object_set_new(v->gates, key, p);
}

static void replay(verifier *v, int64_t seq, const char *ts, const char *actor, const char *event,
                   const char *item, const char *prev_hash, const char *text)
{
    v->seq = seq;
    payload p = {.n = hitl__fj_parse(text, p.pairs, MAX_PAIRS, &v->scratch)};
    if (p.n == HITL__FJ_NESTED) {
        json_error_t je;
        p.root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
        if (!json_is_object(p.root)) p.n = HITL__FJ_BAD;
    }
    if (p.n == HITL__FJ_BAD) {
        problem(v, "event %lld: its payload is not one JSON object with unique keys",
                (long long)seq);
        json_decref(p.root);
        return;
    }
    int needs_item = !strcmp(event, "label") || !strcmp(event, "skip") || !strcmp(event, "undo") ||
                     !strcmp(event, "final") || !strcmp(event, "disagreement") ||
                     !strcmp(event, "adjudicate") || !strcmp(event, "override");
    if (needs_item && !item) {
        problem(v, "event %lld (%s) names no item", (long long)seq, event);
    } else if (!strcmp(event, "init")) {
        replay_init(v, &p);
    } else if (!strcmp(event, "settings")) {
        replay_setting(v, &p);
    } else if (!strcmp(event, "queue") || !strcmp(event, "upgrade") || !strcmp(event, "data")) {
        replay_covering(v, seq, &p);
    } else if (!strcmp(event, "label")) {
        replay_label(v, seq, ts, actor, item, &p);
    } else if (!strcmp(event, "skip")) {
        replay_skip(v, ts, actor, item, &p);
    } else if (!strcmp(event, "undo")) {
        replay_undo(v, seq, actor, item);
    } else if (!strcmp(event, "disagreement")) {
        vitem *it = item_of(v, item);
        if (it) it->state = 1;
    } else if (!strcmp(event, "final")) {
        replay_final(v, seq, ts, item, &p);
    } else if (!strcmp(event, "adjudicate") || !strcmp(event, "override")) {
        replay_decision(v, seq, ts, actor, event, item, &p);
    } else if (!strcmp(event, "checkpoint")) {
        replay_checkpoint(v, seq, prev_hash, &p);
    } else if (!strcmp(event, "account")) {
        replay_account(v, seq, ts, &p);
    } else if (!strcmp(event, "gate") || !strcmp(event, "gate_vote") ||
               !strcmp(event, "gate_override") || !strcmp(event, "gate_expired")) {
        replay_gate(v, seq, actor, event, text);
    } /* lease, lease_renewed, lease_expired, export, import: no rows to explain */
    json_decref(p.root);
}

/* ---- the chain ------------------------------------------------------------------------------ */

static const char *col(sqlite3_stmt *q, int i)
{
    return (const char *)sqlite3_column_text(q, i);
}

static const char *col0(sqlite3_stmt *q, int i)
{
    const char *s = col(q, i);
    return s ? s : "";
}

static void replay_event(void *ctx, const hitl__chain_event *e)
{
    verifier *v = ctx;
    if (v->rep->covers_rows && (!v->stop || e->seq <= v->stop))
        replay(v, e->seq, e->ts, e->actor, e->event, e->item, e->prev, e->payload);
}

/* Every event in order (verify_chain.c checks each link and hash), each replayed; stops at the
 * first break (the rest cannot be trusted). */
static void read_chain(verifier *v, int64_t *last_seq, char last_hash[65])
{
    const hitl_audit_head *want = v->o ? v->o->head : NULL;
    hitl__chain_result c;
    if (hitl__chain_walk(v->st, want, replay_event, v, &c) != HITL_OK && v->status == HITL_OK) {
        v->status = c.status;
        if (v->err) *v->err = c.err;
    }
    if (c.broken) {
        v->rep->bad_seq = c.bad_seq;
        if (c.broken == HITL__CHAIN_GAP)
            problem(v, "audit chain broken at event %lld (events missing or out of order)",
                    (long long)c.bad_seq);
        else
            problem(v, "audit chain broken at event %lld (edited, or not chained to event %lld)",
                    (long long)c.bad_seq, (long long)c.bad_seq - 1);
    }
    v->rep->events = c.events;
    *last_seq = c.events;
    memcpy(last_hash, c.last_hash, 65);
    if (want && v->rep->bad_seq < 0 && c.head_found != 1)
        problem(v,
                c.head_found < 0 ? "event %lld is not the one the saved head %lld:%.12s... names "
                                   "(the chain was rewritten)"
                                 : "the chain holds no event %lld: the saved head %lld:%.12s... "
                                   "is gone (the chain was cut or deleted)",
                (long long)want->seq, (long long)want->seq, want->hash);
}

/* ---- the tables ----------------------------------------------------------------------------- */

/* Steps through `sql`'s rows calling fn; the status of the scan. */
static void scan(verifier *v, const char *sql, void (*fn)(verifier *v, sqlite3_stmt *q))
{
    if (v->status != HITL_OK) return;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(v->st, sql, &q, v->err);
    if (r != HITL_OK) {
        v->status = r;
        return;
    }
    int rc;
    while (v->status == HITL_OK && (rc = sqlite3_step(q)) == SQLITE_ROW)
        fn(v, q);
    if (v->status == HITL_OK && rc != SQLITE_DONE)
        v->status = hitl__store_sqlerr(v->st, rc, v->err, "cannot read the store");
    hitl__store_finish(v->st, q);
}

static void check_item(verifier *v, sqlite3_stmt *q)
{
    hitl__item_fields f;
    hitl__item_fields_of(&f, q, 0);
    v->rep->items++;
    int64_t queued_seq =
        sqlite3_column_type(q, 15) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 15);
    int64_t data_seq = sqlite3_column_type(q, 16) == SQLITE_NULL ? -1 : sqlite3_column_int64(q, 16);
    const char *data = col(q, 17);
    covered *c = covered_find(&v->queued, queued_seq);
    if (!c) {
        problem(v, "item '%s' was queued by no event of the chain (queued_seq %lld)", f.pool_id,
                (long long)queued_seq);
    } else {
        hitl_buf_reset(&v->val);
        hitl__item_line(&v->val, &f);
        hitl__digest_add(&c->run, &v->val);
    }
    if (data) {
        covered *d = covered_find(&v->data, data_seq);
        if (!d) {
            problem(v, "item '%s': its payload was set by no event of the chain", f.pool_id);
        } else {
            hitl_buf_reset(&v->val);
            hitl__data_line(&v->val, f.pool_id, data);
            hitl__digest_add(&d->run, &v->val);
        }
        hitl__fj_pair pairs[MAX_PAIRS];
        int n = hitl__fj_parse(data, pairs, MAX_PAIRS, &v->scratch);
        if (n < 0) { /* nested values, or a shape the fast reader refuses: jansson decides */
            json_error_t je;
            json_t *o = json_loads(data, JSON_REJECT_DUPLICATES, &je);
            n = json_is_object(o) ? 0 : HITL__FJ_BAD;
            json_decref(o);
        }
        if (n == HITL__FJ_BAD)
            problem(v, "item '%s': its payload is not one JSON object with unique keys", f.pool_id);
    } else if (data_seq >= 0) {
        problem(v, "item '%s': the chain set a payload that the table does not hold", f.pool_id);
    }
    /* what the labels and decisions made of it; the labels and decisions tables name it by id */
    int64_t i = item_index(v, f.pool_id);
    int fresh;
    if (i < 0 || imap_add(&v->ids, (uint64_t)sqlite3_column_int64(q, 24), &fresh) < 0 ||
        room((void **)&v->id_item, &v->cap_ids, v->ids.n, sizeof(int64_t))) {
        oom(v);
        return;
    }
    v->id_item[v->ids.n - 1] = i;
    vitem *it = &v->vitems[i];
    it->seen = 1;
    int state = sqlite3_column_int(q, 18), n_labels = sqlite3_column_int(q, 19);
    int final = sqlite3_column_type(q, 20) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 20);
    if (state != it->state)
        problem(v, "item '%s': state is %d in the table, %d in the chain", f.pool_id, state,
                it->state);
    if (n_labels != it->n_labels)
        problem(v, "item '%s': n_labels is %d in the table, %d in the chain", f.pool_id, n_labels,
                it->n_labels);
    if (final != it->final_label)
        problem(v, "item '%s': final_label is '%s' in the table, '%s' in the chain", f.pool_id,
                final < 0 ? "none" : class_name(v, final),
                it->final_label < 0 ? "none" : class_name(v, it->final_label));
    if (!same_text(col(q, 21), it->final_kind))
        problem(v, "item '%s': final_kind differs from the chain", f.pool_id);
    if (!same_text(col(q, 22), text_at(v, it->final_by)))
        problem(v, "item '%s': final_by differs from the chain", f.pool_id);
    if (!same_time(v, col(q, 23), it->final_at))
        problem(v, "item '%s': final_at differs from the chain", f.pool_id);
}

/* The item (by the table's id) and person of a row: their indices, -1 (with a problem) when
 * the items table does not hold the item. */
static int64_t row_item(verifier *v, sqlite3_stmt *q, int col_id, const char *what)
{
    int64_t id = sqlite3_column_int64(q, col_id), k = imap_find(&v->ids, (uint64_t)id);
    if (k < 0)
        problem(v, "a %s names item id %lld, which the items table does not hold", what,
                (long long)id);
    return k < 0 ? -1 : v->id_item[k];
}

static void check_label(verifier *v, sqlite3_stmt *q)
{
    v->rep->labels++;
    int64_t at = row_item(v, q, 0, "label");
    if (at < 0) return;
    const char *item = item_name(v, (size_t)at), *who = col0(q, 1);
    int64_t w = hitl_strmap_find(&v->names, who, strlen(who));
    int64_t i = w < 0 ? -1 : imap_find(&v->labels, pack((size_t)at, (size_t)w));
    if (i < 0 || !v->vlabels[i].alive) {
        problem(v, "item '%s': the label by '%s' is not in the chain", item, who);
        return;
    }
    vlabel *l = &v->vlabels[i];
    l->seen = 1;
    char when[32];
    int label = sqlite3_column_int(q, 2);
    if (label != l->label)
        problem(v, "item '%s': the label by '%s' is '%s' in the table, '%s' in the chain", item,
                who, class_name(v, label), class_name(v, l->label));
    if (!same_time(v, col(q, 5), l->at))
        problem(v, "item '%s': the label by '%s' was given at %s in the table, %s in the chain",
                item, who, col0(q, 5), time_text(v, l->at, when));
    int leased = sqlite3_column_type(q, 3) != SQLITE_NULL;
    double secs = leased ? sqlite3_column_double(q, 4) - sqlite3_column_double(q, 3) : NAN;
    if (leased != !isnan(l->seconds) || (leased && fabs(secs - l->seconds) > 1e-6))
        problem(v, "item '%s': the time '%s' spent on it differs from the chain", item, who);
}

static void check_skip(verifier *v, sqlite3_stmt *q)
{
    v->rep->skips++;
    int64_t at = row_item(v, q, 0, "skip");
    if (at < 0) return;
    const char *item = item_name(v, (size_t)at), *who = col0(q, 1);
    int64_t w = hitl_strmap_find(&v->names, who, strlen(who));
    int64_t i = w < 0 ? -1 : imap_find(&v->skips, pack((size_t)at, (size_t)w));
    if (i < 0 || !v->vskips[i].alive) {
        problem(v, "item '%s': the skip by '%s' is not in the chain", item, who);
        return;
    }
    vskip *sk = &v->vskips[i];
    sk->seen = 1;
    if (!same_text(col(q, 2), text_at(v, sk->reason)) || !same_time(v, col(q, 3), sk->at))
        problem(v, "item '%s': the skip by '%s' differs from the chain", item, who);
}

static void check_decision(verifier *v, sqlite3_stmt *q)
{
    v->rep->decisions++;
    int64_t item_id = sqlite3_column_int64(q, 0);
    if (item_id != v->decision_item) { /* the rows come by item, then in order */
        v->decision_item = item_id;
        v->decision_ordinal = 0;
    }
    int64_t ordinal = v->decision_ordinal++;
    int64_t at = row_item(v, q, 0, "decision");
    if (at < 0) return;
    const char *item = item_name(v, (size_t)at);
    int64_t i = imap_find(&v->decisions, pack((size_t)at, (size_t)ordinal));
    if (i < 0) {
        problem(v, "item '%s': decision %lld is not in the chain", item, (long long)ordinal);
        return;
    }
    vdecision *d = &v->vdecisions[i];
    d->seen = 1;
    int previous = sqlite3_column_type(q, 3) == SQLITE_NULL ? -1 : sqlite3_column_int(q, 3);
    if (!same_text(col(q, 1), text_at(v, d->actor)) || sqlite3_column_int(q, 2) != d->label ||
        previous != d->previous || sqlite3_column_int(q, 4) != d->overrode ||
        !same_text(col(q, 5), d->kind) || !same_text(col(q, 6), text_at(v, d->justification)) ||
        !same_time(v, col(q, 7), d->at))
        problem(v, "item '%s': decision %lld (by '%s') differs from the chain", item,
                (long long)ordinal, col0(q, 1));
}

static void check_import(verifier *v, sqlite3_stmt *q)
{
    const char *key = col0(q, 0);
    int64_t i = hitl_strmap_find(&v->imports, key, strlen(key));
    if (i < 0) {
        problem(v, "import key '%s' is not in the chain", key);
        return;
    }
    vimport *m = &v->vimports[i];
    m->seen = 1;
    if (!same_text(col(q, 1), text_at(v, m->item)) ||
        !same_text(col(q, 2), text_at(v, m->annotator)) || !same_text(col(q, 3), m->kind) ||
        !same_time(v, col(q, 4), m->at))
        problem(v, "import key '%s' differs from the chain", key);
}

static void check_account(verifier *v, sqlite3_stmt *q)
{
    const char *name = col0(q, 0);
    int64_t i = hitl_strmap_find(&v->accounts, name, strlen(name));
    if (i < 0) {
        problem(v, "account '%s' is not in the chain", name);
        return;
    }
    vaccount *a = &v->vaccounts[i];
    a->seen = 1;
    if (!same_text(col(q, 1), text_at(v, a->role)) ||
        !same_text(col(q, 2), text_at(v, a->token_hash)) ||
        !same_time(v, col(q, 3), a->created_at) || !same_time(v, col(q, 4), a->revoked_at))
        problem(v, "account '%s' differs from the chain (its role, token or times)", name);
}

static void check_setting(verifier *v, sqlite3_stmt *q)
{
    const char *key = col0(q, 0), *value = col0(q, 1);
    if (strcmp(key, "pool_ids") == 0 && strcmp(value, v->naming) != 0)
        problem(v, "the store names items by '%s', its first queue event by '%s'", value,
                v->naming);
    for (size_t i = 0; i < HITL__N_SETTINGS; i++)
        if (strcmp(key, hitl__setting_keys[i]) == 0 && strcmp(value, v->settings[i]) != 0)
            problem(v, "setting %s is '%s' in the store, '%s' in the chain", key, value,
                    v->settings[i]);
}

static void check_class(verifier *v, sqlite3_stmt *q)
{
    int64_t idx = sqlite3_column_int64(q, 0);
    const char *name = col0(q, 1);
    if (idx < 0 || (size_t)idx >= v->n_classes || strcmp(name, v->classes[idx]) != 0)
        problem(v, "class %lld is '%s' in the store, not what the chain's init event named",
                (long long)idx, name);
}

/* What the chain holds that no row showed, and the digests of the rows that did. */
/* A decisions row against the chain's last state of it. */
static void check_gate(verifier *v, sqlite3_stmt *q)
{
    char key[32], digest[65];
    snprintf(key, sizeof(key), "%lld", (long long)sqlite3_column_int64(q, 0));
    json_t *want = json_object_get(v->gates, key);
    if (!want) {
        problem(v, "decision %s is in the table but not in the chain", key);
        return;
    }
    const char *pl = col0(q, 4);
    hitl__sha256_hex(pl, strlen(pl), digest);
    json_t *row =
        json_pack("{s:s, s:s, s:s, s:s, s:s?, s:s, s:b, s:s, s:s, s:i, s:i, s:I, s:s?}",
                  "caller_id", col0(q, 1), "submitter", col0(q, 2), "action", col0(q, 3),
                  "payload_sha256", digest, "model", col(q, 6), "route", col0(q, 7), "blind",
                  sqlite3_column_int(q, 8), "status", col0(q, 9), "review", col0(q, 10), "required",
                  sqlite3_column_int(q, 11), "approvals", sqlite3_column_int(q, 12), "deadline_ms",
                  (json_int_t)sqlite3_column_int64(q, 13), "settled_by", col(q, 14));
    for (size_t i = 0; row && i < sizeof(gate_keys) / sizeof(gate_keys[0]); i++) {
        json_t *a = json_object_get(row, gate_keys[i]), *b = json_object_get(want, gate_keys[i]);
        if (!(a ? b && json_equal(a, b) : !b)) {
            problem(v, "decision %s: %s differs from the chain", key, gate_keys[i]);
            break;
        }
    }
    json_t *risk = json_object_get(want, "risk");
    if (row && fabs(sqlite3_column_double(q, 5) - json_number_value(risk)) > 1e-9)
        problem(v, "decision %s: risk differs from the chain", key);
    json_object_set_new(want, "seen", json_true());
    json_decref(row);
}

/* The votes table, in order, against the chain's votes. */
static void check_gate_vote(verifier *v, sqlite3_stmt *q)
{
    json_t *want = json_array_get(v->gate_votes, v->gate_votes_seen++);
    json_t *row = json_pack("[I, s, s, s]", (json_int_t)sqlite3_column_int64(q, 0), col0(q, 1),
                            col0(q, 2), col0(q, 3));
    if (!want || !json_equal(want, row))
        problem(v, "decision %lld: the vote by '%s' is not the chain's vote %zu",
                (long long)sqlite3_column_int64(q, 0), col0(q, 1), v->gate_votes_seen);
    json_decref(row);
}

static void check_leftovers(verifier *v)
{
    const char *key;
    json_t *g;
    json_object_foreach(v->gates, key, g)
    {
        if (!json_is_true(json_object_get(g, "seen")))
            problem(v, "the chain's decision %s is missing from the table", key);
    }
    if (v->gate_votes_seen < json_array_size(v->gate_votes))
        problem(v, "%zu of the chain's decision votes are missing from the table",
                json_array_size(v->gate_votes) - v->gate_votes_seen);
    for (size_t i = 0; i < v->labels.n; i++)
        if (v->vlabels[i].alive && !v->vlabels[i].seen)
            problem(v, "item '%s': the chain's label by '%s' is missing from the table",
                    item_name(v, v->labels.keys[i] >> 32),
                    person(v, v->labels.keys[i] & 0xffffffffu));
    for (size_t i = 0; i < v->skips.n; i++)
        if (v->vskips[i].alive && !v->vskips[i].seen)
            problem(v, "item '%s': the chain's skip by '%s' is missing from the table",
                    item_name(v, v->skips.keys[i] >> 32),
                    person(v, v->skips.keys[i] & 0xffffffffu));
    for (size_t i = 0; i < v->decisions.n; i++)
        if (!v->vdecisions[i].seen)
            problem(v, "item '%s': the chain's decision %u is missing from the table",
                    item_name(v, v->decisions.keys[i] >> 32),
                    (unsigned)(v->decisions.keys[i] & 0xffffffffu));
    for (size_t i = 0; i < v->imports.n; i++)
        if (!v->vimports[i].seen)
            problem(v, "the chain's import key '%s' is missing from the table",
                    hitl_strmap_name(&v->imports, i));
    for (size_t i = 0; i < v->accounts.n; i++)
        if (!v->vaccounts[i].seen)
            problem(v, "the chain's account '%s' is missing from the table",
                    hitl_strmap_name(&v->accounts, i));
    for (size_t i = 0; i < v->items.n; i++)
        if (!v->vitems[i].seen)
            problem(v, "item '%s' is in the chain but not in the table",
                    hitl_strmap_name(&v->items, i));
    covered_vec *sets[2] = {&v->queued, &v->data};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sets[k]->n; i++) {
            covered *c = &sets[k]->v[i];
            char got[65];
            int64_t n = c->run.n;
            hitl__digest_final(&c->run, got);
            if (n != c->count || strcmp(got, c->digest) != 0)
                problem(v,
                        "the %s of the %lld items event %lld %s differ from what it recorded "
                        "(%lld rows now)",
                        k ? "payloads" : "fields", (long long)c->count, (long long)c->seq,
                        k ? "set" : "queued", (long long)n);
        }
}

static void verifier_release(verifier *v)
{
    json_decref(v->gates);
    json_decref(v->gate_votes);
    hitl_buf_release(&v->text);
    hitl_buf_release(&v->key);
    hitl_buf_release(&v->val);
    hitl_buf_release(&v->scratch);
    hitl_strings_free(v->classes, v->n_classes);
    hitl_strmap_release(&v->items);
    hitl_strmap_release(&v->names);
    imap_release(&v->labels);
    imap_release(&v->skips);
    imap_release(&v->decisions);
    imap_release(&v->ids);
    free(v->id_item);
    hitl_strmap_release(&v->imports);
    hitl_strmap_release(&v->accounts);
    free(v->vaccounts);
    free(v->vitems);
    free(v->vlabels);
    free(v->vskips);
    free(v->vdecisions);
    free(v->vimports);
    covered_vec *sets[2] = {&v->queued, &v->data};
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; i < sets[k]->n; i++)
            hitl__digest_release(&sets[k]->v[i].run);
        free(sets[k]->v);
    }
    EVP_PKEY_free(v->pubkey);
}

/* ---- an export against the chain at its head -------------------------------------------- */

/* Each item's final label under `majority` (else adjudicated) at the replayed point: its final
 * label, or for an item with all its labels in and no decision the unique most voted one. -1
 * where there is none. Caller frees. */
static int *finals_at_head(verifier *v, int majority)
{
    size_t n = v->items.n, c = v->n_classes;
    int *final = malloc((n ? n : 1) * sizeof(int));
    int64_t *votes = majority ? calloc(n * c + 1, sizeof(int64_t)) : NULL;
    if (!final || (majority && !votes)) {
        free(final);
        free(votes);
        oom(v);
        return NULL;
    }
    for (size_t i = 0; majority && i < v->labels.n; i++) {
        size_t it = (size_t)(v->labels.keys[i] >> 32);
        if (v->vlabels[i].alive && v->vlabels[i].label >= 0 && (size_t)v->vlabels[i].label < c)
            votes[it * c + (size_t)v->vlabels[i].label]++;
    }
    for (size_t i = 0; i < n; i++) {
        const vitem *it = &v->vitems[i];
        final[i] = it->state == 2 ? it->final_label : -1;
        if (!majority || it->state != 1) continue;
        int64_t top = 0;
        int n_top = 0;
        for (size_t k = 0; k < c; k++)
            top = votes[i * c + k] > top ? votes[i * c + k] : top;
        for (size_t k = 0; k < c; k++)
            if (top > 0 && votes[i * c + k] == top) {
                n_top++;
                final[i] = (int)k;
            }
        if (n_top != 1) final[i] = -1; /* a tie is never broken */
    }
    free(votes);
    return final;
}

/* The export's head must be in the chain (as --head), and its labels those the chain gives at
 * that head: replays the chain again up to it. */
static hitl_status check_export(hitl_store *st, const hitl_verify_opts *o, hitl_verify_report *rep,
                                hitl_error *err)
{
    hitl_export_labels e;
    if (!o->read_export)
        return hitl_error_set(err, HITL_EINVAL, "'%s': no export reader given to check it",
                              o->export_path);
    hitl_status r = o->read_export(o->export_path, &e, err);
    if (r != HITL_OK) return r;
    int majority = strcmp(e.final_rule, "majority") == 0;
    if (!majority && strcmp(e.final_rule, "adjudicated") != 0) {
        hitl_export_labels_release(&e);
        return hitl_error_set(err, HITL_EINVAL,
                              "'%s': a %s export: verify --export checks adjudicated and majority "
                              "exports",
                              o->export_path, e.final_rule);
    }
    if (hitl_audit_head_parse(e.head, &rep->export_head) != HITL_OK) {
        hitl_export_labels_release(&e);
        return hitl_error_set(err, HITL_EDATA, "'%s': its audit head '%s' is malformed",
                              o->export_path, e.head);
    }
    hitl_verify_opts o2 = *o;
    o2.head = &rep->export_head;
    hitl_verify_report r2;
    memset(&r2, 0, sizeof(r2));
    r2.bad_seq = -1;
    r2.covers_rows = 1;
    verifier v = {.st = st,
                  .o = &o2,
                  .rep = &r2,
                  .err = err,
                  .stop = rep->export_head.seq,
                  .gates = json_object(),
                  .gate_votes = json_array()};
    int64_t last;
    char last_hash[65];
    if ((r = hitl__store_read(st, err)) == HITL_OK) {
        read_chain(&v, &last, last_hash);
        hitl__store_rollback(st);
    }
    int *final =
        v.status == HITL_OK && r2.bad_seq < 0 && r == HITL_OK ? finals_at_head(&v, majority) : NULL;
    hitl_strmap seen = {0};
    for (size_t i = 0; final && i < e.n; i++) {
        rep->export_records++;
        size_t len = strlen(e.ids[i]);
        int64_t at = hitl_strmap_find(&v.items, e.ids[i], len);
        size_t before = seen.n;
        if (hitl_strmap_intern(&seen, e.ids[i], len) < 0) oom(&v);
        if (seen.n == before)
            problem(&v, "the export names item '%s' twice", e.ids[i]);
        else if (at < 0 || final[at] < 0)
            problem(&v,
                    "the export labels item '%s' '%s'; at its head the chain gives it no %s label",
                    e.ids[i], e.labels[i], e.final_rule);
        else if (strcmp(class_name(&v, final[at]), e.labels[i]) != 0)
            problem(&v, "the export labels item '%s' '%s'; at its head the chain gives '%s'",
                    e.ids[i], e.labels[i], class_name(&v, final[at]));
    }
    for (size_t i = 0; final && i < v.items.n; i++) {
        const char *id = hitl_strmap_name(&v.items, i);
        if (final[i] >= 0 && hitl_strmap_find(&seen, id, strlen(id)) < 0)
            problem(&v,
                    "item '%s' had the final label '%s' at the export's head; the export "
                    "leaves it out",
                    id, class_name(&v, final[i]));
    }
    rep->problems += r2.problems;
    if (r == HITL_OK) r = v.status;
    if (r == HITL_OK && r2.problems) r = HITL_EDATA;
    free(final);
    hitl_strmap_release(&seen);
    hitl_export_labels_release(&e);
    verifier_release(&v);
    return r;
}

hitl_status hitl_audit_verify(hitl_store *st, const hitl_verify_opts *o, hitl_verify_report *rep,
                              hitl_error *err)
{
    memset(rep, 0, sizeof(*rep));
    rep->bad_seq = -1;
    rep->covers_rows = st->schema >= 2;
    verifier v = {.st = st,
                  .o = o,
                  .rep = rep,
                  .err = err,
                  .gates = json_object(),
                  .gate_votes = json_array()};
    if (o && o->pubkey && (v.status = hitl__checkpoint_key(o->pubkey, &v.pubkey, err)) != HITL_OK)
        return v.status;
    /* every row is read once, most by key: map the file and keep its pages (the store's own
     * settings come back at close; a connection is one command) */
    hitl__store_exec(st, "PRAGMA mmap_size=4294967296; PRAGMA cache_size=-262144", NULL);
    hitl_status r = hitl__store_read(st, err); /* one snapshot while writers go on */
    if (r != HITL_OK) {
        verifier_release(&v);
        return r;
    }
    hitl_audit_head head;
    int64_t last = 0;
    char last_hash[65];
    sqlite3_stmt *q;
    if ((v.status = hitl__audit_head(st, &head, err)) == HITL_OK &&
        (v.status = hitl__store_prepare(st,
                                        "SELECT coalesce(min(seq), 0) FROM audit"
                                        " WHERE event = 'upgrade'",
                                        &q, err)) == HITL_OK) {
        if (sqlite3_step(q) == SQLITE_ROW) v.upgraded_at = sqlite3_column_int64(q, 0);
        hitl__store_finish(st, q);
        read_chain(&v, &last, last_hash);
    }
    /* the newest events deleted, or events appended without moving the head */
    if (v.status == HITL_OK && rep->bad_seq < 0 &&
        (head.seq != last || strcmp(head.hash, last_hash) != 0)) {
        rep->bad_seq = head.seq < last ? head.seq + 1 : last + 1;
        problem(&v,
                "audit chain broken at event %lld (the recorded head is %lld, the chain ends "
                "at %lld)",
                (long long)rep->bad_seq, (long long)head.seq, (long long)last);
    }
    if (rep->covers_rows && rep->bad_seq < 0) {
        scan(&v,
             "SELECT " HITL__ITEM_COLUMNS ", queued_seq, data_seq, data, state, n_labels,"
             " final_label, final_kind, final_by, final_at, id FROM items ORDER BY id",
             check_item);
        scan(&v, "SELECT item, annotator, label, leased_at, created, created_at FROM labels",
             check_label);
        scan(&v, "SELECT item, annotator, reason, created_at FROM skips", check_skip);
        v.decision_item = -1;
        scan(&v,
             "SELECT item, actor, label, previous, overrode, kind, justification, created_at"
             " FROM decisions ORDER BY item, id",
             check_decision);
        scan(&v,
             "SELECT m.key, i.pool_id, m.annotator, m.kind, m.created_at FROM imports m"
             " JOIN items i ON i.id = m.item",
             check_import);
        if (st->schema >= 3)
            scan(&v, "SELECT name, role, token_hash, created_at, revoked_at FROM accounts",
                 check_account);
        if (st->schema >= 4) {
            scan(&v,
                 "SELECT id, caller_id, submitter, action, payload, risk, model, route, blind,"
                 " status, review, required, approvals, deadline_ms, settled_by FROM gates"
                 " ORDER BY id",
                 check_gate);
            scan(&v, "SELECT gate, reviewer, vote, reason FROM gate_votes ORDER BY seq",
                 check_gate_vote);
        }
        scan(&v, "SELECT key, value FROM meta", check_setting);
        scan(&v, "SELECT idx, name FROM classes ORDER BY idx", check_class);
        if (v.status == HITL_OK) check_leftovers(&v);
    }
    hitl__store_rollback(st);
    if (o && o->pubkey && v.status == HITL_OK && rep->checkpoints == 0)
        problem(&v, "the chain holds no signed checkpoint to verify with the public key");
    r = v.status;
    if (r == HITL_OK && rep->problems) r = HITL_EDATA;
    verifier_release(&v);
    if (r == HITL_OK && o && o->export_path) r = check_export(st, o, rep, err);
    return r;
}
