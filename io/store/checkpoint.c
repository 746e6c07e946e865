/* Signed checkpoints: `hitl audit sign` appends an event carrying an Ed25519 signature of the
 * chain's head, made with a private key kept outside the store; verify checks each with the
 * public key, so a rewrite of the chain before a checkpoint cannot go unnoticed. */
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <string.h>

#include "store_internal.h"
#include "hitl_banned.h"

/* What a checkpoint signs: "hitl-audit-checkpoint SEQ:HASH". */
static int message(char *buf, size_t cap, int64_t seq, const char *hash)
{
    return snprintf(buf, cap, "hitl-audit-checkpoint %lld:%s", (long long)seq, hash);
}

/* The key in a PEM file: private (sign) or public (verify); Ed25519 only. */
static hitl_status load_key(const char *path, int private_key, EVP_PKEY **out, hitl_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hitl_error_set(err, HITL_EIO, "cannot read key '%s'", path);
    EVP_PKEY *k = private_key ? PEM_read_PrivateKey(f, NULL, NULL, NULL)
                              : PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!k)
        return hitl_error_set(err, HITL_EDATA, "'%s' holds no PEM %s key", path,
                              private_key ? "private" : "public");
    if (EVP_PKEY_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        return hitl_error_set(err, HITL_EDATA, "'%s' is not an Ed25519 key", path);
    }
    *out = k;
    return HITL_OK;
}

hitl_status hitl__checkpoint_key(const char *pubkey_path, EVP_PKEY **out, hitl_error *err)
{
    return load_key(pubkey_path, 0, out, err);
}

int hitl__checkpoint_valid(EVP_PKEY *pub, int64_t seq, const char *hash, const char *sig_b64)
{
    char msg[128];
    int mlen = message(msg, sizeof(msg), seq, hash);
    unsigned char sig[128];
    size_t blen = strlen(sig_b64);
    if (blen == 0 || blen > 4 * sizeof(sig) / 3) return 0;
    int n = EVP_DecodeBlock(sig, (const unsigned char *)sig_b64, (int)blen);
    if (n < 64) return 0; /* an Ed25519 signature is 64 bytes (base64 pads to 66) */
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, pub) == 1 &&
             EVP_DigestVerify(ctx, sig, 64, (const unsigned char *)msg, (size_t)mlen) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

hitl_status hitl_audit_sign(hitl_store *st, const char *key_path, const char *actor,
                            hitl_audit_head *signed_head, hitl_error *err)
{
    EVP_PKEY *key = NULL;
    hitl_status r = load_key(key_path, 1, &key, err);
    if (r != HITL_OK) return r;
    if ((r = hitl__store_begin(st, err)) != HITL_OK) {
        EVP_PKEY_free(key);
        return r;
    }
    hitl_audit_head h;
    unsigned char sig[64];
    size_t slen = sizeof(sig);
    char msg[128], b64[128];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if ((r = hitl__audit_head(st, &h, err)) == HITL_OK) {
        int mlen = message(msg, sizeof(msg), h.seq, h.hash);
        if (!ctx || EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) != 1 ||
            EVP_DigestSign(ctx, sig, &slen, (const unsigned char *)msg, (size_t)mlen) != 1)
            r = hitl_error_set(err, HITL_EINTERNAL, "cannot sign with '%s'", key_path);
    }
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    if (r == HITL_OK) {
        EVP_EncodeBlock((unsigned char *)b64, sig, (int)slen);
        r = hitl__audit_append(st, actor, "human", "checkpoint", NULL,
                               json_pack("{s:I, s:s, s:s, s:s}", "seq", (json_int_t)h.seq, "hash",
                                         h.hash, "signature", b64, "algorithm", "ed25519"),
                               err);
    }
    if (r != HITL_OK) {
        hitl__store_rollback(st);
        return r;
    }
    if ((r = hitl__store_commit(st, err)) == HITL_OK && signed_head) *signed_head = h;
    return r;
}
