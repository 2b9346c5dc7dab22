/*
 * `ringpad check-config`: everything the server checks before it serves,
 * without serving. The flags were parsed by config_parse already; this checks
 * what they point at (auth secret, TLS files, web root, data dir).
 */
#ifndef RINGPAD_CHECK_CONFIG_H
#define RINGPAD_CHECK_CONFIG_H

#include "base/config.h"

#include <stddef.h>
#include <stdio.h>

/*
 * 0 when `path` is a writable directory, or does not exist and its parent is
 * a writable directory (the server creates it); otherwise a negative errno
 * and `err` says what is wrong and what to do.
 */
int check_config_data_dir(const char *path, char *err, size_t err_len);

/* Runs every check; prints one line per finding to `out`. Returns the exit
 * code: 0 ok, 1 data dir, 2 configuration (secret, TLS, web root). */
int check_config_run(const config *cfg, FILE *out);

#endif /* RINGPAD_CHECK_CONFIG_H */
