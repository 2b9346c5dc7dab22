/*
 * `ringpad token`: mints an access token (see auth.h) for operators and tests.
 *
 *   ringpad token (--secret-file F | --secret S | RINGPAD_AUTH_SECRET=S)
 *                 --sub ID [--name NAME] [--doc PATTERN:ROLE]... [--ttl N{s,m,h,d}]
 *
 * Prints the token and a newline on stdout. Exit codes: 0 on success, 2 for
 * bad arguments (with the usage on stderr), 1 when the secret cannot be read.
 */
#ifndef RINGPAD_TOKEN_CMD_H
#define RINGPAD_TOKEN_CMD_H

#include <stdint.h>
#include <stdio.h>

#define TOKEN_CMD_DEFAULT_TTL_S 3600
#define TOKEN_CMD_MAX_TTL_S (366LL * 24 * 3600)   /* longer-lived tokens want rotation instead */

/* argv[0] is "token" (or the program name); options follow. Reads
 * RINGPAD_AUTH_SECRET from the environment and the clock. */
int token_cmd_main(int argc, char **argv);

/* The same with its inputs and outputs explicit (for tests): env_secret is the
 * RINGPAD_AUTH_SECRET value or NULL, now_s the issue time. */
int token_cmd_run(int argc, char **argv, const char *env_secret, int64_t now_s,
                  FILE *out, FILE *err);

/* Parses a duration "90", "90s", "15m", "1h", "7d" into seconds (1..max).
 * Returns 0 or -EINVAL. */
int token_cmd_parse_ttl(const char *text, int64_t *out_s);

#endif /* RINGPAD_TOKEN_CMD_H */
