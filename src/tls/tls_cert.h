/*
 * Development and test certificates made with wolfCrypt (no openssl needed):
 * an ECDSA P-256 key and an X.509 v3 certificate, self-signed or signed by a
 * given CA, for DNS name "localhost" and IP 127.0.0.1 / ::1. Not for
 * production: use a certificate from a real CA there.
 */
#ifndef RINGPAD_TLS_CERT_H
#define RINGPAD_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* PEM output buffers of this size always suffice. */
#define TLS_CERT_PEM_MAX_BYTES 4096u
#define TLS_CERT_CN_MAX_BYTES 64u

typedef struct tls_cert_params {
    const char *common_name;         /* subject CN; NULL = "localhost" (a CA: "ringpad development CA") */
    int64_t not_before_unix;         /* validity, seconds since the epoch (UTC) */
    int64_t not_after_unix;
    bool is_ca;                      /* CA:TRUE, keyCertSign; no SAN */
    const char *issuer_cert_pem;     /* NULL = self-signed */
    const char *issuer_key_pem;      /* the issuer's EC private key (PEM) */
} tls_cert_params;

typedef struct tls_cert_pem {
    char cert[TLS_CERT_PEM_MAX_BYTES];
    size_t cert_len;
    char key[TLS_CERT_PEM_MAX_BYTES];  /* "EC PRIVATE KEY" */
    size_t key_len;
} tls_cert_pem;

/* Fills *out (NUL-terminated PEM). Returns 0 or a negative wolfCrypt error
 * code (tls_cert_error_str names it); -EINVAL for bad parameters. */
int tls_cert_make(const tls_cert_params *p, tls_cert_pem *out);

const char *tls_cert_error_str(int code);

#endif /* RINGPAD_TLS_CERT_H */
