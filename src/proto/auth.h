/*
 * Access tokens: HS256 JSON Web Tokens (RFC 7519, compact form) carrying
 * per-document grants.
 *
 * Pure: no I/O except auth_secret_from_file(). No global state. Verification
 * is done once per connection (the `hello` message) and once per REST request,
 * so it may use jansson; it never allocates on the caller's behalf (claims are
 * a fixed-size struct).
 *
 * Token layout:
 *   header  {"alg":"HS256","typ":"JWT"}   alg must be HS256; typ, when present,
 *                                          must be "JWT"; "crit" is refused.
 *   claims  {"sub":"alice","name":"Alice","exp":1700003600,"nbf":..,"iat":..,
 *            "docs":[{"pattern":"team-*","role":"write"},
 *                    {"pattern":"readme","role":"read"}]}
 *   signature HMAC-SHA256(secret, b64url(header) "." b64url(claims)), base64url.
 * base64url is unpadded; padding, whitespace or any other character is refused.
 *
 * Times are seconds since the epoch (NumericDate). A clock skew of
 * AUTH_LEEWAY_S seconds is tolerated on both exp and nbf.
 *
 * Grants: pattern is either a document name (exact match) or a prefix
 * followed by one `*` at the end ("team-*", "notes/" followed by "*", or "*" alone = every document).
 * When several grants match a document the HIGHEST role wins (grants are
 * additive; there are no deny rules), so the order of grants never matters.
 */
#ifndef RINGPAD_AUTH_H
#define RINGPAD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AUTH_LEEWAY_S 30             /* tolerated clock skew on exp / nbf */
#define AUTH_MAX_TOKEN_BYTES 8192    /* whole compact token */
#define AUTH_MAX_SECRET_BYTES 1024
#define AUTH_MIN_SECRET_BYTES 16     /* shorter HMAC keys are guessable */
#define AUTH_MAX_SUB_BYTES 256
#define AUTH_MAX_NAME_BYTES 128
#define AUTH_MAX_PATTERN_BYTES 257   /* a 256-byte doc name plus the `*` */
#define AUTH_MAX_GRANTS 32
#define AUTH_HS256_BYTES 32          /* HMAC-SHA256 output */

typedef enum auth_err {
    AUTH_OK = 0,
    AUTH_ERR_MALFORMED = -1,         /* not three base64url segments of JSON objects */
    AUTH_ERR_BAD_HEADER = -2,        /* alg is not HS256 (e.g. "none"), typ not JWT, crit present */
    AUTH_ERR_BAD_SIGNATURE = -3,     /* HMAC does not match */
    AUTH_ERR_EXPIRED = -4,           /* now >= exp + leeway */
    AUTH_ERR_NOT_YET_VALID = -5,     /* now + leeway < nbf */
    AUTH_ERR_BAD_CLAIMS = -6,        /* a claim missing, mistyped or out of bounds */
    AUTH_ERR_TOO_LARGE = -7,         /* token or output beyond its limit */
    AUTH_ERR_BAD_SECRET = -8,        /* secret empty, too short or too long */
    AUTH_ERR_IO = -9,                /* the secret file could not be read */
    AUTH_ERR_CRYPTO = -10,           /* wolfCrypt failed */
    AUTH_ERR_NOMEM = -11,
} auth_err;

/* Stable short code ("malformed", "bad_signature", ...); never NULL. */
const char *auth_err_str(int err);

typedef enum auth_role {
    AUTH_ROLE_NONE = 0,
    AUTH_ROLE_READ = 1,              /* open, receive ops and presence, send presence */
    AUTH_ROLE_WRITE = 2,             /* read + submit ops */
} auth_role;

/* "none", "read", "write". */
const char *auth_role_str(auth_role role);

typedef struct auth_secret {
    uint8_t bytes[AUTH_MAX_SECRET_BYTES];
    size_t len;
} auth_secret;

/* Copies a secret given as a string (e.g. --auth-secret). */
int auth_secret_set(auth_secret *out, const char *value, size_t len_bytes);
/* Reads a secret file; one trailing "\n" or "\r\n" is trimmed. */
int auth_secret_from_file(auth_secret *out, const char *path);
/* The server's rule: flag value, else file, else the RINGPAD_AUTH_SECRET
 * value passed in `env_value` (any may be NULL). Giving both flag and file is
 * AUTH_ERR_BAD_SECRET. *enabled is false (and 0 returned) when none is set. */
int auth_secret_resolve(auth_secret *out, bool *enabled, const char *flag_value,
                        const char *file_path, const char *env_value);

typedef struct auth_grant {
    char pattern[AUTH_MAX_PATTERN_BYTES + 1]; /* as written, NUL-terminated */
    uint32_t pattern_len;
    bool prefix;                     /* pattern ended in `*` (not included in prefix_len) */
    uint32_t prefix_len;             /* bytes to compare: pattern_len - prefix */
    auth_role role;
} auth_grant;

typedef struct auth_claims {
    char sub[AUTH_MAX_SUB_BYTES + 1];
    char name[AUTH_MAX_NAME_BYTES + 1]; /* "" when absent */
    bool has_name;
    int64_t exp_s;
    bool has_nbf;
    int64_t nbf_s;
    bool has_iat;
    int64_t iat_s;
    uint32_t count_grants;
    auth_grant grants[AUTH_MAX_GRANTS];
} auth_claims;

/* Zeroes claims (no grants, no name). */
void auth_claims_init(auth_claims *claims);
/* Adds a grant such as ("team-*", AUTH_ROLE_WRITE). AUTH_ERR_BAD_CLAIMS for an invalid
 * pattern or role, AUTH_ERR_TOO_LARGE past AUTH_MAX_GRANTS. */
int auth_claims_add_grant(auth_claims *claims, const char *pattern, size_t len_bytes,
                          auth_role role);
/* Parses "pattern:role" (split at the last ':'), as `ringpad token --doc`. */
int auth_claims_add_grant_spec(auth_claims *claims, const char *spec);

/* Checks a token and fills `out` (fully overwritten; on error its content is
 * unspecified). Order of checks: shape and base64url, header, signature,
 * claims, then time. */
int auth_verify(const auth_secret *secret, const char *token, size_t token_len,
                int64_t now_s, auth_claims *out);

/* The role the claims give on `doc_name`: the highest role of every matching
 * grant, AUTH_ROLE_NONE when none matches. */
auth_role auth_role_for(const auth_claims *claims, const char *doc_name, size_t doc_name_len);
/* The same over a bare grant array (a session keeps only its grants: an
 * auth_claims is ~9 KB, too much to hold per idle connection). */
auth_role auth_role_for_grants(const auth_grant *grants, uint32_t count_grants, const char *doc_name,
                               size_t doc_name_len);

/* Mints a token for `claims` (sub required; exp always written; name, nbf, iat
 * when set). Writes a NUL-terminated token into out (out_cap bytes) and its
 * length to *out_len. */
int auth_sign(const auth_secret *secret, const auth_claims *claims, char *out,
              size_t out_cap, size_t *out_len);

#endif /* RINGPAD_AUTH_H */
