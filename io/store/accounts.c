/* Accounts: who acts through `hitl serve`, with a role and the SHA-256 of a token drawn from the
 * operating system's generator; adding, rotating and revoking are audited with the token's hash,
 * so that verify covers the table. */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

static const char *const role_names[HITL_ROLE_COUNT] = {"annotator", "reviewer", "admin", "system"};

const char *hitl_role_name(hitl_role r)
{
    return (unsigned)r < HITL_ROLE_COUNT ? role_names[r] : "unknown";
}

hitl_status hitl_role_parse(const char *name, hitl_role *out)
{
    for (int i = 0; name && i < HITL_ROLE_COUNT; i++)
        if (strcmp(name, role_names[i]) == 0) {
            *out = (hitl_role)i;
            return HITL_OK;
        }
    return HITL_EINVAL;
}

/* 256 random bits as 64 hex digits into token, and their SHA-256 into hash. */
static hitl_status new_token(char *token, char hash[65], hitl_error *err)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[32];
    if (RAND_priv_bytes(raw, sizeof(raw)) != 1)
        return hitl_error_set(err, HITL_EINTERNAL, "the system's random generator failed");
    for (int i = 0; i < 32; i++) {
        token[2 * i] = hex[raw[i] >> 4];
        token[2 * i + 1] = hex[raw[i] & 15];
    }
    token[HITL_TOKEN_CHARS] = '\0';
    OPENSSL_cleanse(raw, sizeof(raw));
    hitl__sha256_hex(token, HITL_TOKEN_CHARS, hash);
    return HITL_OK;
}

/* The account's role and whether it is revoked; HITL_ENOTFOUND when there is none. */
static hitl_status find(hitl_store *st, const char *name, hitl_role *role, int *revoked,
                        hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st, "SELECT role, revoked_at IS NOT NULL FROM accounts WHERE name = ?1", &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) {
        hitl_role_parse((const char *)sqlite3_column_text(q, 0), role);
        *revoked = sqlite3_column_int(q, 1);
    }
    hitl__store_finish(st, q);
    if (rc == SQLITE_DONE) return hitl_error_set(err, HITL_ENOTFOUND, "no account '%s'", name);
    return rc == SQLITE_ROW ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot read accounts");
}

/* Runs one statement on the account: ?1 name, ?2.. ?4 texts (NULL: unbound). */
static hitl_status run(hitl_store *st, const char *sql, const char *name, const char *a,
                       const char *b, const char *c, hitl_error *err)
{
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st, sql, &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    if (a) sqlite3_bind_text(q, 2, a, -1, SQLITE_STATIC);
    if (b) sqlite3_bind_text(q, 3, b, -1, SQLITE_STATIC);
    if (c) sqlite3_bind_text(q, 4, c, -1, SQLITE_STATIC);
    r = hitl__store_step_done(st, q, err, "cannot write accounts");
    hitl__store_finish(st, q);
    return r;
}

/* One account change and its "account" event in one transaction. */
static hitl_status change(hitl_store *st, const char *name, const char *action, hitl_role role,
                          const char *actor, char *token, hitl_error *err)
{
    hitl_status r = hitl__store_begin(st, err);
    if (r != HITL_OK) return r;
    char now[32], hash[65] = "";
    hitl__now_iso(now);
    hitl_role current = role;
    int revoked = 0, exists = 0;
    r = find(st, name, &current, &revoked, err);
    if (r == HITL_OK) exists = 1;
    if (r == HITL_ENOTFOUND && strcmp(action, "add") == 0) r = HITL_OK;
    if (r == HITL_OK && exists && strcmp(action, "add") == 0)
        r = hitl_error_set(err, HITL_ECONFLICT, "account '%s' exists (hitl user token rotates it)",
                           name);
    if (r == HITL_OK && revoked && strcmp(action, "revoke") != 0)
        r = hitl_error_set(err, HITL_ECONFLICT, "account '%s' is revoked", name);
    if (r == HITL_OK && token) r = new_token(token, hash, err);
    if (r == HITL_OK && strcmp(action, "add") == 0)
        r = run(st,
                "INSERT INTO accounts(name, role, token_hash, created_at) VALUES(?1, ?2, ?3, ?4)",
                name, hitl_role_name(role), hash, now, err);
    else if (r == HITL_OK && strcmp(action, "rotate") == 0)
        r = run(st, "UPDATE accounts SET token_hash = ?2 WHERE name = ?1", name, hash, NULL, NULL,
                err);
    else if (r == HITL_OK)
        r = run(st, "UPDATE accounts SET revoked_at = ?2 WHERE name = ?1", name, now, NULL, NULL,
                err);
    if (r == HITL_OK) {
        json_t *p = json_pack("{s:s, s:s, s:s}", "name", name, "action", action, "role",
                              hitl_role_name(exists ? current : role));
        if (p && hash[0]) json_object_set_new(p, "token_hash", json_string(hash));
        r = hitl__audit_append_at(st, now, actor, "human", "account", NULL, p, err);
    }
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        if (token) OPENSSL_cleanse(token, HITL_TOKEN_CHARS + 1);
        return r;
    }
    return hitl__store_commit(st, err);
}

hitl_status hitl_account_add(hitl_store *st, const char *name, hitl_role role, const char *actor,
                             char *token, hitl_error *err)
{
    hitl_status r = hitl_name_check(name, "the account's name", err);
    if (r != HITL_OK) return r;
    if ((unsigned)role >= HITL_ROLE_COUNT)
        return hitl_error_set(err, HITL_EINVAL, "unknown role %d", (int)role);
    return change(st, name, "add", role, actor, token, err);
}

hitl_status hitl_account_rotate(hitl_store *st, const char *name, const char *actor, char *token,
                                hitl_error *err)
{
    return change(st, name, "rotate", HITL_ROLE_ANNOTATOR, actor, token, err);
}

hitl_status hitl_account_revoke(hitl_store *st, const char *name, const char *actor,
                                hitl_error *err)
{
    return change(st, name, "revoke", HITL_ROLE_ANNOTATOR, actor, NULL, err);
}

static void account_of(hitl_account *a, sqlite3_stmt *q)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->name, sizeof(a->name), "%s", sqlite3_column_text(q, 0));
    hitl_role_parse((const char *)sqlite3_column_text(q, 1), &a->role);
    snprintf(a->created_at, sizeof(a->created_at), "%s", sqlite3_column_text(q, 2));
    a->revoked = sqlite3_column_int(q, 3);
}

hitl_status hitl_account_get(hitl_store *st, const char *name, hitl_account *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st, "SELECT name, role, created_at, revoked_at IS NOT NULL FROM accounts WHERE name = ?1",
        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    if (rc == SQLITE_ROW) account_of(out, q);
    hitl__store_finish(st, q);
    if (rc == SQLITE_DONE) return hitl_error_set(err, HITL_ENOTFOUND, "no account '%s'", name);
    return rc == SQLITE_ROW ? HITL_OK : hitl__store_sqlerr(st, rc, err, "cannot read accounts");
}

hitl_status hitl_account_list(hitl_store *st, hitl_account **out, size_t *n, hitl_error *err)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(
        st, "SELECT name, role, created_at, revoked_at IS NOT NULL FROM accounts ORDER BY name", &q,
        err);
    if (r != HITL_OK) return r;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(q)) == SQLITE_ROW) {
        if (*n == cap) {
            cap = cap ? cap * 2 : 16;
            hitl_account *v = realloc(*out, cap * sizeof(**out));
            if (!v) {
                r = hitl_error_set(err, HITL_ENOMEM, "out of memory");
                break;
            }
            *out = v;
        }
        account_of(&(*out)[(*n)++], q);
    }
    if (r == HITL_OK && rc != SQLITE_DONE)
        r = hitl__store_sqlerr(st, rc, err, "cannot read accounts");
    hitl__store_finish(st, q);
    if (r != HITL_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return r;
}

hitl_status hitl_account_auth(hitl_store *st, const char *token, hitl_account *out, hitl_error *err)
{
    memset(out, 0, sizeof(*out));
    if (!token || strlen(token) != HITL_TOKEN_CHARS)
        return hitl_error_set(err, HITL_EAUTH, "no valid token");
    char hash[65];
    hitl__sha256_hex(token, HITL_TOKEN_CHARS, hash);
    sqlite3_stmt *q;
    hitl_status r = hitl__store_prepare(st,
                                        "SELECT name, role, created_at, revoked_at IS NOT NULL,"
                                        " token_hash FROM accounts WHERE token_hash = ?1",
                                        &q, err);
    if (r != HITL_OK) return r;
    sqlite3_bind_text(q, 1, hash, -1, SQLITE_STATIC);
    int rc = sqlite3_step(q);
    /* found by its hash (a lookup reveals nothing of the token); the hash is compared in
     * constant time again all the same */
    int ok = rc == SQLITE_ROW && !sqlite3_column_int(q, 3) && sqlite3_column_bytes(q, 4) == 64 &&
             CRYPTO_memcmp(sqlite3_column_text(q, 4), hash, 64) == 0;
    if (ok) account_of(out, q);
    hitl__store_finish(st, q);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return hitl__store_sqlerr(st, rc, err, "cannot read accounts");
    return ok ? HITL_OK : hitl_error_set(err, HITL_EAUTH, "no valid token");
}
