/* hitl_strmap: names interned into dense indices, by open addressing over FNV-1a hashes with
 * the names in one arena, for the ratings reader, the queue's known ids and the store's name
 * tables. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hitl_engine.h"
#include "hitl_banned.h"

void hitl_strmap_release(hitl_strmap *m)
{
    free(m->slots);
    free(m->hash);
    free(m->off);
    free(m->arena);
    memset(m, 0, sizeof(*m));
}

static uint64_t hash_bytes(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h ^ (h >> 31);
}

const char *hitl_strmap_name(const hitl_strmap *m, size_t i)
{
    return m->arena + m->off[i];
}

/* Doubles the slot table (at least 1024) and re-places every entry; -1 out of memory. */
static int grow_slots(hitl_strmap *m)
{
    size_t ns = m->n_slots ? m->n_slots * 2 : 1024;
    uint32_t *s = malloc(ns * sizeof(uint32_t));
    if (!s) return -1;
    memset(s, 0xff, ns * sizeof(uint32_t));
    for (size_t i = 0; i < m->n; i++) {
        size_t j = (size_t)m->hash[i] & (ns - 1);
        while (s[j] != UINT32_MAX)
            j = (j + 1) & (ns - 1);
        s[j] = (uint32_t)i;
    }
    free(m->slots);
    m->slots = s;
    m->n_slots = ns;
    return 0;
}

/* The slot holding `s` (hash h), or the empty slot where it would go. */
static size_t probe(const hitl_strmap *m, const char *s, size_t len, uint64_t h)
{
    size_t j = (size_t)h & (m->n_slots - 1);
    for (; m->slots[j] != UINT32_MAX; j = (j + 1) & (m->n_slots - 1)) {
        uint32_t i = m->slots[j];
        const char *name = hitl_strmap_name(m, i);
        if (m->hash[i] == h && strncmp(name, s, len) == 0 && name[len] == '\0') break;
    }
    return j;
}

int64_t hitl_strmap_find(const hitl_strmap *m, const char *s, size_t len)
{
    if (!m->n_slots) return -1;
    size_t j = probe(m, s, len, hash_bytes(s, len));
    return m->slots[j] == UINT32_MAX ? -1 : (int64_t)m->slots[j];
}

int64_t hitl_strmap_intern(hitl_strmap *m, const char *s, size_t len)
{
    if (!m->n_slots && grow_slots(m)) return -1;
    uint64_t h = hash_bytes(s, len);
    size_t j = probe(m, s, len, h);
    if (m->slots[j] != UINT32_MAX) return m->slots[j];
    if (m->n >= INT32_MAX - 1) return -1;
    if (m->n == m->cap) {
        size_t nc = m->cap ? m->cap * 2 : 256;
        uint64_t *nh = realloc(m->hash, nc * sizeof(uint64_t));
        if (nh) m->hash = nh;
        size_t *no = realloc(m->off, nc * sizeof(size_t));
        if (no) m->off = no;
        if (!nh || !no) return -1;
        m->cap = nc;
    }
    if (m->arena_n + len + 1 > m->arena_cap) {
        size_t nc = m->arena_cap ? m->arena_cap : 4096;
        while (nc < m->arena_n + len + 1)
            nc *= 2;
        char *na = realloc(m->arena, nc);
        if (!na) return -1;
        m->arena = na;
        m->arena_cap = nc;
    }
    memcpy(m->arena + m->arena_n, s, len);
    m->arena[m->arena_n + len] = '\0';
    size_t i = m->n++;
    m->off[i] = m->arena_n;
    m->hash[i] = h;
    m->arena_n += len + 1;
    m->slots[j] = (uint32_t)i;
    if (m->n * 2 > m->n_slots && grow_slots(m)) return -1;
    return (int64_t)i;
}
