/*
 * `ringpad cert`: writes a development certificate and key (see tls_cert.h).
 *
 *   ringpad cert --cert FILE --key FILE [--days N] [--expired] [--ca]
 *                [--issuer-cert FILE --issuer-key FILE] [--cn NAME]
 *
 * Without --issuer-* the certificate is self-signed. --ca makes a CA
 * certificate (to sign others with); --expired makes one whose validity ended
 * a day ago (for tests). The key file is created with mode 0600. Exit codes:
 * 0 on success, 2 for bad arguments (usage on stderr), 1 when a file cannot
 * be read or written or generation fails.
 */
#ifndef RINGPAD_TLS_CERT_CMD_H
#define RINGPAD_TLS_CERT_CMD_H

#include <stdint.h>
#include <stdio.h>

#define TLS_CERT_CMD_DEFAULT_DAYS 30
#define TLS_CERT_CMD_MAX_DAYS 3650

/* argv[0] is "cert" (or the program name); options follow. */
int tls_cert_cmd_main(int argc, char **argv);

/* The same with the clock and stderr explicit (for tests). */
int tls_cert_cmd_run(int argc, char **argv, int64_t now_s, FILE *err);

#endif /* RINGPAD_TLS_CERT_CMD_H */
