/*
 * HS256 JWT verification and minting (see auth.h for the contract).
 *
 * Verification order matters: the header is checked before the signature so
 * that "alg":"none" and friends are refused by name, and the claims are only
 * interpreted after the signature is known to be good.
 */
#include "proto/auth.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hmac.h>

/* NumericDate values beyond 2^53 cannot be exact in every client's JSON. */
#define AUTH_MAX_NUMERIC_DATE 9007199254740992.0

/* base64 of n bytes is 4*ceil(n/3) characters. */
#define AUTH_B64_CAP(n) ((((n) + 2) / 3) * 4 + 1)

const char *auth_err_str(int err) {
    switch (err) {
    case AUTH_OK: return "ok";
    case AUTH_ERR_MALFORMED: return "malformed";
    case AUTH_ERR_BAD_HEADER: return "bad_header";
    case AUTH_ERR_BAD_SIGNATURE: return "bad_signature";
    case AUTH_ERR_EXPIRED: return "expired";
    case AUTH_ERR_NOT_YET_VALID: return "not_yet_valid";
    case AUTH_ERR_BAD_CLAIMS: return "bad_claims";
    case AUTH_ERR_TOO_LARGE: return "too_large";
    case AUTH_ERR_BAD_SECRET: return "bad_secret";
    case AUTH_ERR_IO: return "io";
    case AUTH_ERR_CRYPTO: return "crypto";
    case AUTH_ERR_NOMEM: return "nomem";
    default: return "unknown";
    }
}

const char *auth_role_str(auth_role role) {
    switch (role) {
    case AUTH_ROLE_READ: return "read";
    case AUTH_ROLE_WRITE: return "write";
    case AUTH_ROLE_NONE: break;
    }
    return "none";
}

/* ---- secrets ----------------------------------------------------------------- */

int auth_secret_set(auth_secret *out, const char *value, size_t len_bytes) {
    out->len = 0;
    if (value == NULL || len_bytes < AUTH_MIN_SECRET_BYTES || len_bytes > AUTH_MAX_SECRET_BYTES)
        return AUTH_ERR_BAD_SECRET;
    memcpy(out->bytes, value, len_bytes);
    out->len = len_bytes;
    return AUTH_OK;
}

int auth_secret_from_file(auth_secret *out, const char *path) {
    out->len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return AUTH_ERR_IO;
    /* One spare byte beyond the limit (plus a CRLF) tells "too long" apart. */
    char buf[AUTH_MAX_SECRET_BYTES + 3];
    size_t len = 0;
    for (int reads = 0; reads < 64 && len < sizeof buf; reads++) {
        ssize_t got = read(fd, buf + len, sizeof buf - len);
        if (got < 0) {
            if (errno == EINTR) continue;
            close(fd);
            return AUTH_ERR_IO;
        }
        if (got == 0) break;
        len += (size_t)got;
    }
    close(fd);
    if (len > 0 && buf[len - 1] == '\n') {
        len--;
        if (len > 0 && buf[len - 1] == '\r') len--;
    }
    int rc = auth_secret_set(out, buf, len);
    memset(buf, 0, sizeof buf);
    return rc;
}

int auth_secret_resolve(auth_secret *out, bool *enabled, const char *flag_value,
                        const char *file_path, const char *env_value) {
    *enabled = false;
    out->len = 0;
    if (flag_value != NULL && file_path != NULL) return AUTH_ERR_BAD_SECRET;
    int rc;
    if (flag_value != NULL)
        rc = auth_secret_set(out, flag_value, strlen(flag_value));
    else if (file_path != NULL)
        rc = auth_secret_from_file(out, file_path);
    else if (env_value != NULL)
        rc = auth_secret_set(out, env_value, strlen(env_value));
    else
        return AUTH_OK;
    if (rc == AUTH_OK) *enabled = true;
    return rc;
}

/* ---- base64url ------------------------------------------------------------------ */

static int b64url_value(unsigned char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Strict unpadded base64url: only the url alphabet, no '=', no whitespace, and
 * the unused low bits of the last character must be zero (one encoding per
 * value, so a signature cannot be varied). */
static int b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *out_len) {
    if (len == 0 || len % 4 == 1 || len > AUTH_MAX_TOKEN_BYTES) return AUTH_ERR_MALFORMED;
    char std[AUTH_MAX_TOKEN_BYTES + 4];
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (b64url_value(c) < 0) return AUTH_ERR_MALFORMED;
        std[i] = c == '-' ? '+' : c == '_' ? '/' : (char)c;
    }
    int last = b64url_value((unsigned char)in[len - 1]);
    if ((len % 4 == 2 && (last & 0x0f) != 0) || (len % 4 == 3 && (last & 0x03) != 0))
        return AUTH_ERR_MALFORMED;
    size_t std_len = len;
    while (std_len % 4 != 0) std[std_len++] = '=';
    size_t need = len / 4 * 3 + (len % 4 == 0 ? 0 : len % 4 - 1);
    if (need > cap) return AUTH_ERR_TOO_LARGE;
    word32 got = (word32)cap;
    if (Base64_Decode((const byte *)std, (word32)std_len, out, &got) != 0) return AUTH_ERR_MALFORMED;
    if (got != need) return AUTH_ERR_MALFORMED;
    *out_len = got;
    return AUTH_OK;
}

/* Appends unpadded base64url of `in` at out[*pos], keeping a NUL after it. */
static int b64url_encode(const uint8_t *in, size_t len, char *out, size_t cap, size_t *pos) {
    char tmp[AUTH_B64_CAP(AUTH_MAX_TOKEN_BYTES)];
    if (AUTH_B64_CAP(len) > sizeof tmp) return AUTH_ERR_TOO_LARGE;
    word32 got = (word32)sizeof tmp;
    if (len > 0 && Base64_Encode_NoNl(in, (word32)len, (byte *)tmp, &got) != 0)
        return AUTH_ERR_CRYPTO;
    if (len == 0) got = 0;
    while (got > 0 && tmp[got - 1] == '=') got--;
    if (*pos + got + 1 > cap) return AUTH_ERR_TOO_LARGE;
    for (word32 i = 0; i < got; i++) {
        char c = tmp[i];
        out[*pos + i] = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    *pos += got;
    out[*pos] = '\0';
    return AUTH_OK;
}

/* ---- HMAC ------------------------------------------------------------------------ */

static int hs256(const auth_secret *secret, const char *data, size_t len,
                 uint8_t mac[AUTH_HS256_BYTES]) {
    Hmac hmac;
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0) return AUTH_ERR_CRYPTO;
    int rc = AUTH_OK;
    if (wc_HmacSetKey(&hmac, WC_SHA256, secret->bytes, (word32)secret->len) != 0 ||
        wc_HmacUpdate(&hmac, (const byte *)data, (word32)len) != 0 ||
        wc_HmacFinal(&hmac, mac) != 0)
        rc = AUTH_ERR_CRYPTO;
    wc_HmacFree(&hmac);
    return rc;
}

/* Time independent of where the first difference is. */
static bool equal_constant_time(const uint8_t *a, const uint8_t *b, size_t len) {
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < len; i++) diff |= (uint8_t)(a[i] ^ b[i]);
    return diff == 0;
}

/* ---- grants ------------------------------------------------------------------------ */

static bool pattern_char_ok(unsigned char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '-' || c == '/';
}

void auth_claims_init(auth_claims *claims) {
    memset(claims, 0, sizeof *claims);
}

int auth_claims_add_grant(auth_claims *claims, const char *pattern, size_t len_bytes,
                          auth_role role) {
    if (role != AUTH_ROLE_READ && role != AUTH_ROLE_WRITE) return AUTH_ERR_BAD_CLAIMS;
    if (len_bytes == 0 || len_bytes > AUTH_MAX_PATTERN_BYTES) return AUTH_ERR_BAD_CLAIMS;
    bool prefix = pattern[len_bytes - 1] == '*';
    size_t body_len = len_bytes - (prefix ? 1 : 0);
    if (body_len > AUTH_MAX_PATTERN_BYTES - 1) return AUTH_ERR_BAD_CLAIMS;
    for (size_t i = 0; i < body_len; i++)
        if (!pattern_char_ok((unsigned char)pattern[i])) return AUTH_ERR_BAD_CLAIMS;
    if (claims->count_grants >= AUTH_MAX_GRANTS) return AUTH_ERR_TOO_LARGE;
    auth_grant *g = &claims->grants[claims->count_grants++];
    memcpy(g->pattern, pattern, len_bytes);
    g->pattern[len_bytes] = '\0';
    g->pattern_len = (uint32_t)len_bytes;
    g->prefix = prefix;
    g->prefix_len = (uint32_t)body_len;
    g->role = role;
    return AUTH_OK;
}

static auth_role role_parse(const char *s, size_t len) {
    if (len == 4 && memcmp(s, "read", 4) == 0) return AUTH_ROLE_READ;
    if (len == 5 && memcmp(s, "write", 5) == 0) return AUTH_ROLE_WRITE;
    return AUTH_ROLE_NONE;
}

int auth_claims_add_grant_spec(auth_claims *claims, const char *spec) {
    const char *colon = strrchr(spec, ':');
    if (colon == NULL) return AUTH_ERR_BAD_CLAIMS;
    auth_role role = role_parse(colon + 1, strlen(colon + 1));
    if (role == AUTH_ROLE_NONE) return AUTH_ERR_BAD_CLAIMS;
    return auth_claims_add_grant(claims, spec, (size_t)(colon - spec), role);
}

auth_role auth_role_for(const auth_claims *claims, const char *doc_name, size_t doc_name_len) {
    uint32_t n = claims->count_grants < AUTH_MAX_GRANTS ? claims->count_grants : AUTH_MAX_GRANTS;
    return auth_role_for_grants(claims->grants, n, doc_name, doc_name_len);
}

auth_role auth_role_for_grants(const auth_grant *grants, uint32_t count_grants, const char *doc_name,
                               size_t doc_name_len) {
    auth_role best = AUTH_ROLE_NONE;
    for (uint32_t i = 0; i < count_grants && i < AUTH_MAX_GRANTS; i++) {
        const auth_grant *g = &grants[i];
        bool match = g->prefix
            ? doc_name_len >= g->prefix_len && memcmp(doc_name, g->pattern, g->prefix_len) == 0
            : doc_name_len == g->pattern_len && memcmp(doc_name, g->pattern, g->pattern_len) == 0;
        if (match && g->role > best) best = g->role;
    }
    return best;
}

/* ---- claims ------------------------------------------------------------------------- */

static int claim_string(json_t *obj, const char *key, bool required, char *out, size_t max_bytes,
                        bool *present) {
    json_t *v = json_object_get(obj, key);
    if (present != NULL) *present = false;
    if (v == NULL) return required ? AUTH_ERR_BAD_CLAIMS : AUTH_OK;
    if (!json_is_string(v)) return AUTH_ERR_BAD_CLAIMS;
    size_t len = json_string_length(v);
    const char *s = json_string_value(v);
    if ((required && len == 0) || len > max_bytes || memchr(s, '\0', len) != NULL)
        return AUTH_ERR_BAD_CLAIMS;
    memcpy(out, s, len);
    out[len] = '\0';
    if (present != NULL) *present = true;
    return AUTH_OK;
}

static int claim_time(json_t *obj, const char *key, bool required, int64_t *out, bool *present) {
    json_t *v = json_object_get(obj, key);
    if (present != NULL) *present = false;
    if (v == NULL) return required ? AUTH_ERR_BAD_CLAIMS : AUTH_OK;
    double d;
    if (json_is_integer(v)) d = (double)json_integer_value(v);
    else if (json_is_real(v)) d = json_real_value(v);
    else return AUTH_ERR_BAD_CLAIMS;
    if (!(d >= 0.0 && d <= AUTH_MAX_NUMERIC_DATE)) return AUTH_ERR_BAD_CLAIMS;
    *out = (int64_t)floor(d);
    if (present != NULL) *present = true;
    return AUTH_OK;
}

static int claims_parse(json_t *obj, auth_claims *out) {
    auth_claims_init(out);
    int rc;
    if ((rc = claim_string(obj, "sub", true, out->sub, AUTH_MAX_SUB_BYTES, NULL)) != 0) return rc;
    if ((rc = claim_string(obj, "name", false, out->name, AUTH_MAX_NAME_BYTES, &out->has_name)) != 0)
        return rc;
    if ((rc = claim_time(obj, "exp", true, &out->exp_s, NULL)) != 0) return rc;
    if ((rc = claim_time(obj, "nbf", false, &out->nbf_s, &out->has_nbf)) != 0) return rc;
    if ((rc = claim_time(obj, "iat", false, &out->iat_s, &out->has_iat)) != 0) return rc;
    json_t *docs = json_object_get(obj, "docs");
    if (docs == NULL) return AUTH_OK;
    if (!json_is_array(docs) || json_array_size(docs) > AUTH_MAX_GRANTS) return AUTH_ERR_BAD_CLAIMS;
    size_t i;
    json_t *grant;
    json_array_foreach(docs, i, grant) {
        if (!json_is_object(grant)) return AUTH_ERR_BAD_CLAIMS;
        json_t *pattern = json_object_get(grant, "pattern");
        json_t *role = json_object_get(grant, "role");
        if (!json_is_string(pattern) || !json_is_string(role)) return AUTH_ERR_BAD_CLAIMS;
        auth_role r = role_parse(json_string_value(role), json_string_length(role));
        if (r == AUTH_ROLE_NONE) return AUTH_ERR_BAD_CLAIMS;
        rc = auth_claims_add_grant(out, json_string_value(pattern), json_string_length(pattern), r);
        if (rc != AUTH_OK) return AUTH_ERR_BAD_CLAIMS;
    }
    return AUTH_OK;
}

/* Decodes one segment into a JSON object (NULL: malformed). */
static json_t *segment_object(const char *seg, size_t len) {
    uint8_t raw[AUTH_MAX_TOKEN_BYTES / 4 * 3 + 3];
    size_t raw_len = 0;
    if (b64url_decode(seg, len, raw, sizeof raw, &raw_len) != AUTH_OK) return NULL;
    json_t *v = json_loadb((const char *)raw, raw_len, JSON_REJECT_DUPLICATES, NULL);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        return NULL;
    }
    return v;
}

static int header_check(json_t *header) {
    json_t *alg = json_object_get(header, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5)
        return AUTH_ERR_BAD_HEADER;
    json_t *typ = json_object_get(header, "typ");
    if (typ != NULL && (!json_is_string(typ) || json_string_length(typ) != 3 ||
                        strcmp(json_string_value(typ), "JWT") != 0))
        return AUTH_ERR_BAD_HEADER;
    /* We understand no extension, so a critical one must be refused (RFC 7515 4.1.11). */
    if (json_object_get(header, "crit") != NULL) return AUTH_ERR_BAD_HEADER;
    return AUTH_OK;
}

int auth_verify(const auth_secret *secret, const char *token, size_t token_len,
                int64_t now_s, auth_claims *out) {
    if (secret == NULL || secret->len == 0) return AUTH_ERR_BAD_SECRET;
    if (token == NULL || token_len == 0) return AUTH_ERR_MALFORMED;
    if (token_len > AUTH_MAX_TOKEN_BYTES) return AUTH_ERR_TOO_LARGE;
    const char *dot1 = memchr(token, '.', token_len);
    if (dot1 == NULL) return AUTH_ERR_MALFORMED;
    const char *dot2 = memchr(dot1 + 1, '.', token_len - (size_t)(dot1 + 1 - token));
    if (dot2 == NULL) return AUTH_ERR_MALFORMED;
    const char *end = token + token_len;
    if (memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)) != NULL) return AUTH_ERR_MALFORMED;

    json_t *header = segment_object(token, (size_t)(dot1 - token));
    if (header == NULL) return AUTH_ERR_MALFORMED;
    int rc = header_check(header);
    json_decref(header);
    if (rc != AUTH_OK) return rc;

    uint8_t sig[AUTH_HS256_BYTES + 3];
    size_t sig_len = 0;
    rc = b64url_decode(dot2 + 1, (size_t)(end - dot2 - 1), sig, sizeof sig, &sig_len);
    if (rc != AUTH_OK || sig_len != AUTH_HS256_BYTES) return AUTH_ERR_MALFORMED;
    /* The payload must at least be base64url before we spend an HMAC on it. */
    json_t *claims = segment_object(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (claims == NULL) return AUTH_ERR_MALFORMED;

    uint8_t mac[AUTH_HS256_BYTES];
    rc = hs256(secret, token, (size_t)(dot2 - token), mac);
    if (rc == AUTH_OK && !equal_constant_time(mac, sig, AUTH_HS256_BYTES)) rc = AUTH_ERR_BAD_SIGNATURE;
    if (rc == AUTH_OK) rc = claims_parse(claims, out);
    json_decref(claims);
    if (rc != AUTH_OK) return rc;

    if (now_s >= out->exp_s + AUTH_LEEWAY_S) return AUTH_ERR_EXPIRED;
    if (out->has_nbf && now_s + AUTH_LEEWAY_S < out->nbf_s) return AUTH_ERR_NOT_YET_VALID;
    return AUTH_OK;
}

/* ---- minting --------------------------------------------------------------------------- */

static json_t *claims_to_json(const auth_claims *claims) {
    json_t *obj = json_object();
    json_t *docs = json_array();
    if (obj == NULL || docs == NULL) goto fail;
    if (json_object_set_new(obj, "sub", json_string(claims->sub)) != 0) goto fail;
    if (claims->has_name && json_object_set_new(obj, "name", json_string(claims->name)) != 0)
        goto fail;
    if (claims->has_iat && json_object_set_new(obj, "iat", json_integer(claims->iat_s)) != 0)
        goto fail;
    if (claims->has_nbf && json_object_set_new(obj, "nbf", json_integer(claims->nbf_s)) != 0)
        goto fail;
    if (json_object_set_new(obj, "exp", json_integer(claims->exp_s)) != 0) goto fail;
    for (uint32_t i = 0; i < claims->count_grants && i < AUTH_MAX_GRANTS; i++) {
        const auth_grant *g = &claims->grants[i];
        json_t *grant = json_pack("{s:s#,s:s}", "pattern", g->pattern, (int)g->pattern_len,
                                  "role", auth_role_str(g->role));
        if (grant == NULL || json_array_append_new(docs, grant) != 0) goto fail;
    }
    if (json_object_set_new(obj, "docs", docs) != 0) {
        docs = NULL; /* set_new consumed it even on failure */
        goto fail;
    }
    return obj;
fail:
    json_decref(docs);
    json_decref(obj);
    return NULL;
}

int auth_sign(const auth_secret *secret, const auth_claims *claims, char *out,
              size_t out_cap, size_t *out_len) {
    if (secret == NULL || secret->len == 0) return AUTH_ERR_BAD_SECRET;
    if (claims->sub[0] == '\0' || strnlen(claims->sub, sizeof claims->sub) > AUTH_MAX_SUB_BYTES)
        return AUTH_ERR_BAD_CLAIMS;
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    size_t pos = 0;
    if (out_cap == 0) return AUTH_ERR_TOO_LARGE;
    out[0] = '\0';
    int rc = b64url_encode((const uint8_t *)header, sizeof header - 1, out, out_cap, &pos);
    if (rc != AUTH_OK) return rc;

    json_t *obj = claims_to_json(claims);
    if (obj == NULL) return AUTH_ERR_NOMEM;
    char *payload = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(obj);
    if (payload == NULL) return AUTH_ERR_NOMEM;
    if (pos + 2 > out_cap) rc = AUTH_ERR_TOO_LARGE;
    if (rc == AUTH_OK) {
        out[pos++] = '.';
        rc = b64url_encode((const uint8_t *)payload, strlen(payload), out, out_cap, &pos);
    }
    free(payload);
    if (rc != AUTH_OK) return rc;

    uint8_t mac[AUTH_HS256_BYTES];
    if ((rc = hs256(secret, out, pos, mac)) != AUTH_OK) return rc;
    if (pos + 2 > out_cap) return AUTH_ERR_TOO_LARGE;
    out[pos++] = '.';
    if ((rc = b64url_encode(mac, sizeof mac, out, out_cap, &pos)) != AUTH_OK) return rc;
    if (pos > AUTH_MAX_TOKEN_BYTES) return AUTH_ERR_TOO_LARGE;
    *out_len = pos;
    return AUTH_OK;
}
