/* `ringpad token`: argument parsing around auth_sign(). */
#include "cmd/token_cmd.h"
#include "base/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "proto/auth.h"

#define TOKEN_CMD_MAX_ARGS 256

static const char usage_text[] =
    "usage: ringpad token (--secret-file FILE | --secret SECRET | env RINGPAD_AUTH_SECRET)\n"
    "                     --sub ID [--name NAME] [--doc PATTERN:ROLE]... [--ttl DURATION]\n"
    "\n"
    "  --secret-file FILE  HMAC secret (one trailing newline is ignored)\n"
    "  --secret SECRET     HMAC secret given inline (visible in `ps`; prefer a file)\n"
    "  --sub ID            subject: the user id (required)\n"
    "  --name NAME         display name\n"
    "  --doc PATTERN:ROLE  grant; PATTERN is a document name or a prefix ending in '*',\n"
    "                      ROLE is read or write; repeatable\n"
    "  --ttl DURATION      lifetime: N, Ns, Nm, Nh or Nd (default 1h, at most 366d)\n"
    "\n"
    "Prints the token on stdout.\n";

int token_cmd_parse_ttl(const char *text, int64_t *out_s) {
    if (text == NULL || text[0] < '0' || text[0] > '9') return -EINVAL;
    int64_t n = 0;
    const char *p = text;
    for (int digits = 0; *p >= '0' && *p <= '9'; p++, digits++) {
        if (digits >= 12) return -EINVAL;
        n = n * 10 + (*p - '0');
    }
    int64_t unit = 1;
    if (*p != '\0') {
        switch (*p) {
        case 's': unit = 1; break;
        case 'm': unit = 60; break;
        case 'h': unit = 3600; break;
        case 'd': unit = 86400; break;
        default: return -EINVAL;
        }
        if (p[1] != '\0') return -EINVAL;
    }
    if (n <= 0 || n > TOKEN_CMD_MAX_TTL_S / unit) return -EINVAL;
    *out_s = n * unit;
    return 0;
}

static int usage_error(FILE *err, const char *what, const char *arg) {
    fprintf(err, "ringpad token: %s%s%s\n\n%s", what, arg ? ": " : "", arg ? arg : "", usage_text);
    return 2;
}

int token_cmd_run(int argc, char **argv, const char *env_secret, int64_t now_s,
                  FILE *out, FILE *err) {
    const char *secret_file = NULL, *secret_value = NULL, *sub = NULL, *name = NULL;
    int64_t ttl_s = TOKEN_CMD_DEFAULT_TTL_S;
    auth_claims claims;
    auth_claims_init(&claims);
    if (argc > TOKEN_CMD_MAX_ARGS) return usage_error(err, "too many arguments", NULL);

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            fputs(usage_text, out);
            return 0;
        }
        if (strncmp(arg, "--", 2) != 0) return usage_error(err, "unexpected argument", arg);
        /* --opt=value or --opt value */
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const char *value;
        if (eq != NULL) {
            value = eq + 1;
        } else {
            if (i + 1 >= argc) return usage_error(err, "missing value for", arg);
            value = argv[++i];
        }
#define OPT(lit) (name_len == sizeof(lit) - 1 && memcmp(arg, lit, name_len) == 0)
        if (OPT("--secret-file")) {
            secret_file = value;
        } else if (OPT("--secret")) {
            secret_value = value;
        } else if (OPT("--sub")) {
            sub = value;
        } else if (OPT("--name")) {
            name = value;
        } else if (OPT("--doc")) {
            int rc = auth_claims_add_grant_spec(&claims, value);
            if (rc == AUTH_ERR_TOO_LARGE) return usage_error(err, "too many --doc grants", value);
            if (rc != AUTH_OK)
                return usage_error(err, "bad --doc (want PATTERN:read or PATTERN:write)", value);
        } else if (OPT("--ttl")) {
            if (token_cmd_parse_ttl(value, &ttl_s) != 0) return usage_error(err, "bad --ttl", value);
        } else {
            return usage_error(err, "unknown option", arg);
        }
#undef OPT
    }

    if (sub == NULL || sub[0] == '\0') return usage_error(err, "--sub is required", NULL);
    if (strlen(sub) > AUTH_MAX_SUB_BYTES) return usage_error(err, "--sub too long", NULL);
    if (name != NULL && strlen(name) > AUTH_MAX_NAME_BYTES)
        return usage_error(err, "--name too long", NULL);
    if (secret_file != NULL && secret_value != NULL)
        return usage_error(err, "give either --secret-file or --secret, not both", NULL);

    auth_secret secret;
    int rc;
    if (secret_file != NULL) {
        rc = auth_secret_from_file(&secret, secret_file);
        if (rc == AUTH_ERR_IO) {
            fprintf(err, "ringpad token: cannot read %s: %s\n", secret_file, strerror(errno));
            return 1;
        }
    } else if (secret_value != NULL) {
        rc = auth_secret_set(&secret, secret_value, strlen(secret_value));
    } else if (env_secret != NULL) {
        rc = auth_secret_set(&secret, env_secret, strlen(env_secret));
    } else {
        return usage_error(err, "no secret (--secret-file, --secret or RINGPAD_AUTH_SECRET)", NULL);
    }
    if (rc != AUTH_OK) {
        char what[96];
        snprintf(what, sizeof what, "the secret must be %d to %d bytes", AUTH_MIN_SECRET_BYTES,
                 AUTH_MAX_SECRET_BYTES);
        return usage_error(err, what, NULL);
    }

    memcpy(claims.sub, sub, strlen(sub) + 1);
    if (name != NULL) {
        memcpy(claims.name, name, strlen(name) + 1);
        claims.has_name = true;
    }
    claims.has_iat = true;
    claims.iat_s = now_s;
    claims.exp_s = now_s + ttl_s;

    char token[AUTH_MAX_TOKEN_BYTES + 1];
    size_t token_len = 0;
    rc = auth_sign(&secret, &claims, token, sizeof token, &token_len);
    memset(&secret, 0, sizeof secret);
    if (rc != AUTH_OK) {
        fprintf(err, "ringpad token: cannot sign: %s\n", auth_err_str(rc));
        return 1;
    }
    fprintf(out, "%s\n", token);
    return fflush(out) == 0 ? 0 : 1;
}

int token_cmd_main(int argc, char **argv) {
    return token_cmd_run(argc, argv, getenv("RINGPAD_AUTH_SECRET"), clock_wall_s(), stdout,
                         stderr);
}
