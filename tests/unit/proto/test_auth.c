#include <criterion/criterion.h>

#include <errno.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include "proto/auth.h"
#include "cmd/token_cmd.h"

#define NOW 1700000000LL
#define test_secret_text "0123456789abcdef-test-secret"

static auth_secret test_secret(void) {
    auth_secret s;
    cr_assert_eq(auth_secret_set(&s, test_secret_text, strlen(test_secret_text)), AUTH_OK);
    return s;
}

/* Independent base64url for crafting tokens by hand. */
static void b64url(const void *in, size_t len, char *out, size_t cap) {
    word32 got = (word32)cap;
    cr_assert_eq(Base64_Encode_NoNl(in, (word32)len, (byte *)out, &got), 0);
    size_t n = got;
    while (n > 0 && out[n - 1] == '=') n--;
    for (size_t i = 0; i < n; i++) {
        if (out[i] == '+') out[i] = '-';
        if (out[i] == '/') out[i] = '_';
    }
    out[n] = '\0';
}

/* header.payload.HMAC(secret) with the given JSON texts. */
static void craft(char *out, size_t cap, const char *header, const char *payload, const char *secret) {
    char h[1024], p[4096];
    b64url(header, strlen(header), h, sizeof h);
    b64url(payload, strlen(payload), p, sizeof p);
    snprintf(out, cap, "%s.%s", h, p);
    Hmac hmac;
    byte mac[32];
    cr_assert_eq(wc_HmacInit(&hmac, NULL, INVALID_DEVID), 0);
    cr_assert_eq(wc_HmacSetKey(&hmac, WC_SHA256, (const byte *)secret, (word32)strlen(secret)), 0);
    cr_assert_eq(wc_HmacUpdate(&hmac, (const byte *)out, (word32)strlen(out)), 0);
    cr_assert_eq(wc_HmacFinal(&hmac, mac), 0);
    wc_HmacFree(&hmac);
    char s[64];
    b64url(mac, sizeof mac, s, sizeof s);
    size_t len = strlen(out);
    snprintf(out + len, cap - len, ".%s", s);
}

static const char hs256_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static int verify_str(const char *token, int64_t now, auth_claims *claims) {
    auth_secret s = test_secret();
    return auth_verify(&s, token, strlen(token), now, claims);
}

static int verify_payload(const char *payload) {
    char token[8192];
    craft(token, sizeof token, hs256_header, payload, test_secret_text);
    auth_claims claims;
    return verify_str(token, NOW, &claims);
}

static void mint(auth_claims *c, char *token, size_t cap) {
    auth_secret s = test_secret();
    size_t len = 0;
    cr_assert_eq(auth_sign(&s, c, token, cap, &len), AUTH_OK);
    cr_assert_eq(len, strlen(token));
}

static auth_claims alice(void) {
    auth_claims c;
    auth_claims_init(&c);
    strcpy(c.sub, "alice");
    strcpy(c.name, "Alice");
    c.has_name = true;
    c.exp_s = NOW + 3600;
    c.has_iat = true;
    c.iat_s = NOW;
    cr_assert_eq(auth_claims_add_grant_spec(&c, "notes/*:write"), AUTH_OK);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "readme:read"), AUTH_OK);
    return c;
}

Test(auth, sign_then_verify_round_trips_every_claim) {
    auth_claims c = alice();
    c.has_nbf = true;
    c.nbf_s = NOW - 10;
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&c, token, sizeof token);
    auth_claims got;
    cr_assert_eq(verify_str(token, NOW, &got), AUTH_OK);
    cr_assert_str_eq(got.sub, "alice");
    cr_assert_str_eq(got.name, "Alice");
    cr_assert(got.has_name);
    cr_assert_eq(got.exp_s, NOW + 3600);
    cr_assert(got.has_iat);
    cr_assert_eq(got.iat_s, NOW);
    cr_assert(got.has_nbf);
    cr_assert_eq(got.nbf_s, NOW - 10);
    cr_assert_eq(got.count_grants, 2);
    cr_assert_str_eq(got.grants[0].pattern, "notes/*");
    cr_assert(got.grants[0].prefix);
    cr_assert_eq(got.grants[0].role, AUTH_ROLE_WRITE);
    cr_assert_str_eq(got.grants[1].pattern, "readme");
    cr_assert(!got.grants[1].prefix);
    cr_assert_eq(got.grants[1].role, AUTH_ROLE_READ);
}

Test(auth, minted_header_is_the_standard_one) {
    auth_claims c = alice();
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&c, token, sizeof token);
    /* base64url of {"alg":"HS256","typ":"JWT"} */
    cr_assert(strncmp(token, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.", 37) == 0, "%s", token);
}

Test(auth, verifies_a_hand_crafted_token) {
    char token[4096];
    craft(token, sizeof token, hs256_header,
          "{\"sub\":\"bob\",\"exp\":1700000100.7,\"docs\":[{\"pattern\":\"*\",\"role\":\"read\"}]}",
          test_secret_text);
    auth_claims c;
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_OK);
    cr_assert_str_eq(c.sub, "bob");
    cr_assert(!c.has_name);
    cr_assert_eq(c.exp_s, 1700000100); /* fractional NumericDate floors */
    cr_assert_eq(auth_role_for(&c, "anything/at/all", 15), AUTH_ROLE_READ);
}

Test(auth, typ_is_optional_but_must_be_jwt) {
    char token[4096];
    const char *payload = "{\"sub\":\"a\",\"exp\":1800000000}";
    auth_claims c;
    craft(token, sizeof token, "{\"alg\":\"HS256\"}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_OK);
    craft(token, sizeof token, "{\"alg\":\"HS256\",\"typ\":\"JOSE\"}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    craft(token, sizeof token, "{\"alg\":\"HS256\",\"crit\":[\"x\"]}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
}

Test(auth, expiry_honours_the_leeway) {
    auth_claims c = alice();
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&c, token, sizeof token);
    auth_claims got;
    cr_assert_eq(verify_str(token, c.exp_s - 1, &got), AUTH_OK);
    cr_assert_eq(verify_str(token, c.exp_s + AUTH_LEEWAY_S - 1, &got), AUTH_OK);
    cr_assert_eq(verify_str(token, c.exp_s + AUTH_LEEWAY_S, &got), AUTH_ERR_EXPIRED);
    cr_assert_eq(verify_str(token, c.exp_s + 86400, &got), AUTH_ERR_EXPIRED);
    cr_assert_str_eq(auth_err_str(AUTH_ERR_EXPIRED), "expired");
}

Test(auth, nbf_in_the_future_is_not_yet_valid) {
    auth_claims c = alice();
    c.has_nbf = true;
    c.nbf_s = NOW + 600;
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&c, token, sizeof token);
    auth_claims got;
    cr_assert_eq(verify_str(token, NOW, &got), AUTH_ERR_NOT_YET_VALID);
    cr_assert_eq(verify_str(token, c.nbf_s - AUTH_LEEWAY_S - 1, &got), AUTH_ERR_NOT_YET_VALID);
    cr_assert_eq(verify_str(token, c.nbf_s - AUTH_LEEWAY_S, &got), AUTH_OK);
    cr_assert_str_eq(auth_err_str(AUTH_ERR_NOT_YET_VALID), "not_yet_valid");
}

Test(auth, wrong_secret_is_bad_signature) {
    char token[4096];
    craft(token, sizeof token, hs256_header, "{\"sub\":\"a\",\"exp\":1800000000}",
          "another-secret-of-enough-length");
    auth_claims c;
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_SIGNATURE);
    cr_assert_str_eq(auth_err_str(AUTH_ERR_BAD_SIGNATURE), "bad_signature");
}

Test(auth, tampered_payload_or_signature_is_bad_signature) {
    auth_claims c = alice();
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&c, token, sizeof token);
    auth_claims got;
    /* Swap the payload for one granting more, keep the signature. */
    char forged[8192], other[4096];
    craft(other, sizeof other, hs256_header,
          "{\"sub\":\"alice\",\"exp\":1800000000,\"docs\":[{\"pattern\":\"*\",\"role\":\"write\"}]}",
          "attacker-secret-attacker-secret");
    const char *sig = strrchr(token, '.');
    size_t prefix = (size_t)(strrchr(other, '.') - other);
    snprintf(forged, sizeof forged, "%.*s%s", (int)prefix, other, sig);
    cr_assert_eq(verify_str(forged, NOW, &got), AUTH_ERR_BAD_SIGNATURE);
    /* Flip one signature character (first char keeps canonical trailing bits). */
    size_t s = (size_t)(sig - token) + 1;
    token[s] = token[s] == 'A' ? 'B' : 'A';
    cr_assert_eq(verify_str(token, NOW, &got), AUTH_ERR_BAD_SIGNATURE);
}

Test(auth, alg_none_and_other_algs_are_refused) {
    char token[4096];
    auth_claims c;
    const char *payload = "{\"sub\":\"a\",\"exp\":1800000000}";
    char h[256], p[256];
    const char *none_header = "{\"alg\":\"none\",\"typ\":\"JWT\"}";
    b64url(none_header, strlen(none_header), h, sizeof h);
    b64url(payload, strlen(payload), p, sizeof p);
    snprintf(token, sizeof token, "%s.%s.", h, p);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    craft(token, sizeof token, "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    craft(token, sizeof token, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    craft(token, sizeof token, "{\"alg\":\"hs256\",\"typ\":\"JWT\"}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    craft(token, sizeof token, "{\"typ\":\"JWT\"}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    craft(token, sizeof token, "{\"alg\":5}", payload, test_secret_text);
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_BAD_HEADER);
    cr_assert_str_eq(auth_err_str(AUTH_ERR_BAD_HEADER), "bad_header");
}

Test(auth, malformed_segments) {
    auth_claims good = alice();
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&good, token, sizeof token);
    char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
    char buf[9000];
    auth_claims c;
    const char *cases[] = {"", "abc", "abc.def", "a.b.c.d", "..", "eyJ.eyJ.",
                           "!!!.eyJ.abc"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(verify_str(cases[i], NOW, &c), AUTH_ERR_MALFORMED, "case %zu", i);
    /* Four segments built from a good token. */
    snprintf(buf, sizeof buf, "%s.xyz", token);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    /* Padding on the signature. */
    snprintf(buf, sizeof buf, "%s=", token);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    /* Standard-alphabet or whitespace characters in the payload. */
    snprintf(buf, sizeof buf, "%.*s+%s", (int)(d1 - token + 1), token, d1 + 2);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    snprintf(buf, sizeof buf, "%.*s %s", (int)(d1 - token + 1), token, d1 + 1);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    /* A truncated signature (31 bytes). */
    snprintf(buf, sizeof buf, "%.*s", (int)(strlen(token) - 4), token);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    /* Header segment that is base64url but not JSON, or JSON but not an object. */
    char h[64];
    b64url("not json", 8, h, sizeof h);
    snprintf(buf, sizeof buf, "%s%s", h, d1);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    b64url("[1,2]", 5, h, sizeof h);
    snprintf(buf, sizeof buf, "%s%s", h, d1);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    /* Payload that is not JSON, correctly signed. */
    craft(buf, sizeof buf, hs256_header, "{\"sub\":", test_secret_text);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    /* Duplicate keys are refused (a second "sub" must not silently win). */
    craft(buf, sizeof buf, hs256_header, "{\"sub\":\"a\",\"sub\":\"b\",\"exp\":1800000000}",
          test_secret_text);
    cr_assert_eq(verify_str(buf, NOW, &c), AUTH_ERR_MALFORMED);
    (void)d2;
    cr_assert_str_eq(auth_err_str(AUTH_ERR_MALFORMED), "malformed");
}

Test(auth, non_canonical_base64url_is_malformed) {
    auth_claims good = alice();
    char token[AUTH_MAX_TOKEN_BYTES + 1];
    mint(&good, token, sizeof token);
    /* A 32-byte MAC is 43 chars: the last one carries 2 unused bits that must be 0. */
    size_t len = strlen(token);
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int v = (int)(strchr(alphabet, token[len - 1]) - alphabet);
    token[len - 1] = alphabet[v | 1];
    auth_claims c;
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_ERR_MALFORMED);
}

Test(auth, oversized_token_is_too_large) {
    size_t len = AUTH_MAX_TOKEN_BYTES + 1;
    char *big = malloc(len);
    memset(big, 'A', len);
    auth_secret s = test_secret();
    auth_claims c;
    cr_assert_eq(auth_verify(&s, big, len, NOW, &c), AUTH_ERR_TOO_LARGE);
    free(big);
}

Test(auth, bad_claims) {
    const char *cases[] = {
        "{\"exp\":1800000000}",                                   /* no sub */
        "{\"sub\":\"\",\"exp\":1800000000}",                      /* empty sub */
        "{\"sub\":7,\"exp\":1800000000}",                         /* sub not a string */
        "{\"sub\":\"a\"}",                                        /* no exp */
        "{\"sub\":\"a\",\"exp\":\"1800000000\"}",                 /* exp a string */
        "{\"sub\":\"a\",\"exp\":-5}",                             /* negative time */
        "{\"sub\":\"a\",\"exp\":1e300}",                          /* beyond 2^53 */
        "{\"sub\":\"a\",\"exp\":1800000000,\"nbf\":true}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"iat\":null}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"name\":3}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":{}}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[\"x\"]}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[{\"pattern\":\"x\"}]}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[{\"pattern\":\"x\",\"role\":\"admin\"}]}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[{\"pattern\":\"a*b\",\"role\":\"read\"}]}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[{\"pattern\":\"\",\"role\":\"read\"}]}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[{\"pattern\":\"a b\",\"role\":\"read\"}]}",
        "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[{\"pattern\":5,\"role\":\"read\"}]}",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        cr_assert_eq(verify_payload(cases[i]), AUTH_ERR_BAD_CLAIMS, "case %zu: %s", i, cases[i]);
    /* jansson refuses \u0000 unless asked, so a NUL never reaches a claim. */
    cr_assert_eq(verify_payload("{\"sub\":\"a\\u0000b\",\"exp\":1800000000}"), AUTH_ERR_MALFORMED);
    cr_assert_str_eq(auth_err_str(AUTH_ERR_BAD_CLAIMS), "bad_claims");
}

Test(auth, too_many_grants_are_bad_claims) {
    char payload[8192] = "{\"sub\":\"a\",\"exp\":1800000000,\"docs\":[";
    for (int i = 0; i <= AUTH_MAX_GRANTS; i++) {
        char g[64];
        snprintf(g, sizeof g, "%s{\"pattern\":\"d%d\",\"role\":\"read\"}", i ? "," : "", i);
        strcat(payload, g);
    }
    strcat(payload, "]}");
    cr_assert_eq(verify_payload(payload), AUTH_ERR_BAD_CLAIMS);
}

Test(auth, missing_docs_means_no_grants) {
    char token[4096];
    craft(token, sizeof token, hs256_header, "{\"sub\":\"a\",\"exp\":1800000000}", test_secret_text);
    auth_claims c;
    cr_assert_eq(verify_str(token, NOW, &c), AUTH_OK);
    cr_assert_eq(c.count_grants, 0);
    cr_assert_eq(auth_role_for(&c, "x", 1), AUTH_ROLE_NONE);
}

static auth_role role(const auth_claims *c, const char *doc) {
    return auth_role_for(c, doc, strlen(doc));
}

Test(auth, grants_exact_prefix_and_wrong_doc) {
    auth_claims c = alice();
    cr_assert_eq(role(&c, "notes/a"), AUTH_ROLE_WRITE);
    cr_assert_eq(role(&c, "notes/deep/er"), AUTH_ROLE_WRITE);
    cr_assert_eq(role(&c, "notes/"), AUTH_ROLE_WRITE);
    cr_assert_eq(role(&c, "notes"), AUTH_ROLE_NONE);      /* the prefix is "notes/" */
    cr_assert_eq(role(&c, "notesX"), AUTH_ROLE_NONE);
    cr_assert_eq(role(&c, "readme"), AUTH_ROLE_READ);
    cr_assert_eq(role(&c, "readme2"), AUTH_ROLE_NONE);   /* exact means exact */
    cr_assert_eq(role(&c, "readm"), AUTH_ROLE_NONE);
    cr_assert_eq(role(&c, "other"), AUTH_ROLE_NONE);
    cr_assert_str_eq(auth_role_str(AUTH_ROLE_WRITE), "write");
    cr_assert_str_eq(auth_role_str(AUTH_ROLE_READ), "read");
    cr_assert_str_eq(auth_role_str(AUTH_ROLE_NONE), "none");
}

Test(auth, highest_matching_role_wins_in_any_order) {
    auth_claims a, b;
    auth_claims_init(&a);
    auth_claims_init(&b);
    cr_assert_eq(auth_claims_add_grant_spec(&a, "*:read"), AUTH_OK);
    cr_assert_eq(auth_claims_add_grant_spec(&a, "team/x:write"), AUTH_OK);
    cr_assert_eq(auth_claims_add_grant_spec(&b, "team/x:write"), AUTH_OK);
    cr_assert_eq(auth_claims_add_grant_spec(&b, "*:read"), AUTH_OK);
    cr_assert_eq(role(&a, "team/x"), AUTH_ROLE_WRITE);
    cr_assert_eq(role(&b, "team/x"), AUTH_ROLE_WRITE);
    cr_assert_eq(role(&a, "team/y"), AUTH_ROLE_READ);
    /* A narrower read grant does not take away a broader write. */
    auth_claims_init(&a);
    cr_assert_eq(auth_claims_add_grant_spec(&a, "notes/*:write"), AUTH_OK);
    cr_assert_eq(auth_claims_add_grant_spec(&a, "notes/secret:read"), AUTH_OK);
    cr_assert_eq(role(&a, "notes/secret"), AUTH_ROLE_WRITE);
}

Test(auth, grant_specs_are_validated) {
    auth_claims c;
    auth_claims_init(&c);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "notes"), AUTH_ERR_BAD_CLAIMS);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "notes:admin"), AUTH_ERR_BAD_CLAIMS);
    cr_assert_eq(auth_claims_add_grant_spec(&c, ":read"), AUTH_ERR_BAD_CLAIMS);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "a*b:read"), AUTH_ERR_BAD_CLAIMS);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "a**:read"), AUTH_ERR_BAD_CLAIMS);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "a:b:read"), AUTH_ERR_BAD_CLAIMS);
    cr_assert_eq(c.count_grants, 0);
    for (int i = 0; i < AUTH_MAX_GRANTS; i++)
        cr_assert_eq(auth_claims_add_grant_spec(&c, "x:read"), AUTH_OK);
    cr_assert_eq(auth_claims_add_grant_spec(&c, "x:read"), AUTH_ERR_TOO_LARGE);
}

Test(auth, sign_refuses_missing_sub_and_tiny_buffers) {
    auth_secret s = test_secret();
    auth_claims c;
    auth_claims_init(&c);
    c.exp_s = NOW;
    char out[512];
    size_t len;
    cr_assert_eq(auth_sign(&s, &c, out, sizeof out, &len), AUTH_ERR_BAD_CLAIMS);
    strcpy(c.sub, "a");
    cr_assert_eq(auth_sign(&s, &c, out, 20, &len), AUTH_ERR_TOO_LARGE);
    cr_assert_eq(auth_sign(&s, &c, out, sizeof out, &len), AUTH_OK);
}

Test(auth, secrets) {
    auth_secret s;
    cr_assert_eq(auth_secret_set(&s, "short", 5), AUTH_ERR_BAD_SECRET);
    cr_assert_eq(auth_secret_set(&s, "", 0), AUTH_ERR_BAD_SECRET);
    char path[] = "/tmp/ringpad-auth-secret-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0123456789abcdef-test-secret\r\n", 30), 30);
    close(fd);
    cr_assert_eq(auth_secret_from_file(&s, path), AUTH_OK);
    cr_assert_eq(s.len, strlen(test_secret_text));
    cr_assert(memcmp(s.bytes, test_secret_text, s.len) == 0);

    bool enabled = true;
    cr_assert_eq(auth_secret_resolve(&s, &enabled, NULL, NULL, NULL), AUTH_OK);
    cr_assert(!enabled);
    cr_assert_eq(auth_secret_resolve(&s, &enabled, "flag-secret-0123456", path, NULL),
                 AUTH_ERR_BAD_SECRET);
    cr_assert_eq(auth_secret_resolve(&s, &enabled, NULL, path, "env-secret-0123456789"), AUTH_OK);
    cr_assert(enabled);
    cr_assert_eq(s.len, strlen(test_secret_text)); /* file beats env */
    cr_assert_eq(auth_secret_resolve(&s, &enabled, "flag-secret-0123456", NULL,
                                     "env-secret-0123456789"), AUTH_OK);
    cr_assert_eq(s.len, strlen("flag-secret-0123456"));
    cr_assert_eq(auth_secret_resolve(&s, &enabled, NULL, NULL, "env-secret-0123456789"), AUTH_OK);
    cr_assert_eq(s.len, strlen("env-secret-0123456789"));
    unlink(path);
    cr_assert_eq(auth_secret_from_file(&s, path), AUTH_ERR_IO);
    cr_assert_eq(auth_secret_resolve(&s, &enabled, NULL, path, NULL), AUTH_ERR_IO);
    cr_assert(!enabled);

    /* A too-long file is refused. */
    strcpy(path, "/tmp/ringpad-auth-secret-XXXXXX");
    fd = mkstemp(path);
    cr_assert(fd >= 0);
    char big[AUTH_MAX_SECRET_BYTES + 10];
    memset(big, 'k', sizeof big);
    cr_assert_eq(write(fd, big, sizeof big), (ssize_t)sizeof big);
    close(fd);
    cr_assert_eq(auth_secret_from_file(&s, path), AUTH_ERR_BAD_SECRET);
    unlink(path);
}

/* ---- ringpad token ---------------------------------------------------------------- */

static int run_cmd(int argc, char **argv, const char *env, char *out, size_t out_cap,
                   char *err, size_t err_cap) {
    FILE *o = fmemopen(out, out_cap, "w");
    FILE *e = fmemopen(err, err_cap, "w");
    memset(out, 0, out_cap);
    memset(err, 0, err_cap);
    int rc = token_cmd_run(argc, argv, env, NOW, o, e);
    fclose(o);
    fclose(e);
    return rc;
}

Test(token_cmd, prints_a_token_that_verifies) {
    char path[] = "/tmp/ringpad-token-secret-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, "0123456789abcdef-test-secret\n", 29), 29);
    close(fd);
    char *argv[] = {"token", "--secret-file", path, "--sub", "alice", "--name", "Alice",
                    "--doc", "notes/*:write", "--doc=x:read", "--ttl", "2h"};
    char out[AUTH_MAX_TOKEN_BYTES + 2], err[4096];
    cr_assert_eq(run_cmd(12, argv, NULL, out, sizeof out, err, sizeof err), 0, "%s", err);
    unlink(path);
    size_t len = strlen(out);
    cr_assert(len > 0 && out[len - 1] == '\n');
    out[len - 1] = '\0';
    auth_claims c;
    cr_assert_eq(verify_str(out, NOW, &c), AUTH_OK);
    cr_assert_str_eq(c.sub, "alice");
    cr_assert_str_eq(c.name, "Alice");
    cr_assert_eq(c.iat_s, NOW);
    cr_assert_eq(c.exp_s, NOW + 7200);
    cr_assert_eq(role(&c, "notes/today"), AUTH_ROLE_WRITE);
    cr_assert_eq(role(&c, "x"), AUTH_ROLE_READ);
    cr_assert_eq(role(&c, "y"), AUTH_ROLE_NONE);
    cr_assert_eq(verify_str(out, NOW + 7200 + AUTH_LEEWAY_S, &c), AUTH_ERR_EXPIRED);
}

Test(token_cmd, secret_from_environment_and_default_ttl) {
    char *argv[] = {"token", "--sub", "bob"};
    char out[AUTH_MAX_TOKEN_BYTES + 2], err[4096];
    cr_assert_eq(run_cmd(3, argv, test_secret_text, out, sizeof out, err, sizeof err), 0, "%s", err);
    out[strcspn(out, "\n")] = '\0';
    auth_claims c;
    cr_assert_eq(verify_str(out, NOW, &c), AUTH_OK);
    cr_assert_eq(c.exp_s, NOW + TOKEN_CMD_DEFAULT_TTL_S);
    cr_assert(!c.has_name);
    cr_assert_eq(c.count_grants, 0);
}

Test(token_cmd, bad_arguments_exit_2_with_usage) {
    char out[4096], err[8192];
    char *no_sub[] = {"token", "--secret", test_secret_text};
    char *bad_ttl[] = {"token", "--secret", test_secret_text, "--sub", "a", "--ttl", "1w"};
    char *bad_doc[] = {"token", "--secret", test_secret_text, "--sub", "a", "--doc", "x:admin"};
    char *unknown[] = {"token", "--secret", test_secret_text, "--sub", "a", "--frobnicate", "1"};
    char *missing_value[] = {"token", "--sub"};
    char *no_secret[] = {"token", "--sub", "a"};
    char *short_secret[] = {"token", "--sub", "a", "--secret", "tiny"};
    char *both[] = {"token", "--sub", "a", "--secret", test_secret_text, "--secret-file", "/x"};
    char *positional[] = {"token", "alice"};
    struct { int argc; char **argv; const char *needle; } cases[] = {
        {3, no_sub, "--sub is required"}, {7, bad_ttl, "bad --ttl"}, {7, bad_doc, "bad --doc"},
        {7, unknown, "unknown option"},   {2, missing_value, "missing value"},
        {3, no_secret, "no secret"},      {5, short_secret, "the secret must be"},
        {7, both, "not both"},            {2, positional, "unexpected argument"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        cr_assert_eq(run_cmd(cases[i].argc, cases[i].argv, NULL, out, sizeof out, err, sizeof err), 2,
                     "case %zu", i);
        cr_assert(strstr(err, cases[i].needle) != NULL, "case %zu: %s", i, err);
        cr_assert(strstr(err, "usage: ringpad token") != NULL, "case %zu", i);
        cr_assert_str_eq(out, "", "case %zu", i);
    }
}

Test(token_cmd, unreadable_secret_file_exits_1) {
    char *argv[] = {"token", "--sub", "a", "--secret-file", "/nonexistent/ringpad-secret"};
    char out[4096], err[4096];
    cr_assert_eq(run_cmd(5, argv, NULL, out, sizeof out, err, sizeof err), 1);
    cr_assert(strstr(err, "cannot read /nonexistent/ringpad-secret") != NULL, "%s", err);
}

Test(token_cmd, ttl_units) {
    int64_t s;
    cr_assert_eq(token_cmd_parse_ttl("90", &s), 0);
    cr_assert_eq(s, 90);
    cr_assert_eq(token_cmd_parse_ttl("45s", &s), 0);
    cr_assert_eq(s, 45);
    cr_assert_eq(token_cmd_parse_ttl("15m", &s), 0);
    cr_assert_eq(s, 900);
    cr_assert_eq(token_cmd_parse_ttl("1h", &s), 0);
    cr_assert_eq(s, 3600);
    cr_assert_eq(token_cmd_parse_ttl("7d", &s), 0);
    cr_assert_eq(s, 7 * 86400);
    cr_assert_eq(token_cmd_parse_ttl("366d", &s), 0);
    const char *bad[] = {"", "h", "0", "0h", "-1h", "1hh", "1 h", "1.5h", "367d", "1y",
                         "9999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(token_cmd_parse_ttl(bad[i], &s), -EINVAL, "%s", bad[i]);
}

/* ---- known answers ------------------------------------------------------------------- */

Test(auth, rfc7515_appendix_a1_signature_verifies) {
    /* RFC 7515 A.1: an HS256 JWS with a 64-byte key. Its claims have no "sub",
     * so the result is bad_claims, reached only after the signature matched. */
    static const uint8_t key[64] = {
        0x03, 0x23, 0x35, 0x4b, 0x2b, 0x0f, 0xa5, 0xbc, 0x83, 0x7e, 0x06, 0x65, 0x77, 0x7b, 0xa6, 0x8f,
        0x5a, 0xb3, 0x28, 0xe6, 0xf0, 0x54, 0xc9, 0x28, 0xa9, 0x0f, 0x84, 0xb2, 0xd2, 0x50, 0x2e, 0xbf,
        0xd3, 0xfb, 0x5a, 0x92, 0xd2, 0x06, 0x47, 0xef, 0x96, 0x8a, 0xb4, 0xc3, 0x77, 0x62, 0x3d, 0x22,
        0x3d, 0x2e, 0x21, 0x72, 0x05, 0x2e, 0x4f, 0x08, 0xc0, 0xcd, 0x9a, 0xf5, 0x67, 0xd0, 0x80, 0xa3};
    auth_secret s;
    cr_assert_eq(auth_secret_set(&s, (const char *)key, sizeof key), AUTH_OK);
    char token[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                   "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
                   "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    auth_claims c;
    cr_assert_eq(auth_verify(&s, token, strlen(token), 1300819000, &c), AUTH_ERR_BAD_CLAIMS);
    token[strlen(token) - 2] = 'Y'; /* 'X' -> 'Y': a different MAC (not the last char, so still canonical) */
    cr_assert_eq(auth_verify(&s, token, strlen(token), 1300819000, &c), AUTH_ERR_BAD_SIGNATURE);
}

Test(auth, docs_example_token_verifies) {
    /* The token shown in docs/PROTOCOL.md (secret "correct-horse-battery-staple"),
     * cross-checked with Python's hmac module. */
    auth_secret s;
    cr_assert_eq(auth_secret_set(&s, "correct-horse-battery-staple", 28), AUTH_OK);
    const char *token =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiJib2IiLCJpYXQiOjE3NjcyMjU2MDAsImV4cCI6MTc2NzIyOTIwMCwiZG9jcyI6W3sicGF0dGVybiI6Im5vdGVzL3RvZGF5Iiwicm9sZSI6IndyaXRlIn1dfQ."
        "BvrL0Cq3JabiR-kghzh1iXgbpTfirLYK5yg-Chd2hY0";
    auth_claims c;
    cr_assert_eq(auth_verify(&s, token, strlen(token), 1767225600, &c), AUTH_OK);
    cr_assert_str_eq(c.sub, "bob");
    cr_assert_eq(auth_role_for(&c, "notes/today", 11), AUTH_ROLE_WRITE);
    cr_assert_eq(auth_role_for(&c, "notes/other", 11), AUTH_ROLE_NONE);
}

Test(auth, role_for_grants_matches_role_for_claims) {
    auth_claims c = alice();
    const char *docs[] = {"notes/a", "notes/", "readme", "readme2", "other", ""};
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++)
        cr_assert_eq(auth_role_for_grants(c.grants, c.count_grants, docs[i], strlen(docs[i])), role(&c, docs[i]),
                     "%s", docs[i]);
    cr_assert_eq(auth_role_for_grants(c.grants, 1, "readme", 6), AUTH_ROLE_NONE, "only the first grant");
    cr_assert_eq(auth_role_for_grants(NULL, 0, "notes/a", 7), AUTH_ROLE_NONE);
}
