#include "cmd/tls_cert_cmd.h"
#include "base/clock.h"

#include "tls/tls.h"
#include "tls/tls_cert.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CERT_CMD_DAY_S 86400

static void usage(FILE *err) {
    fprintf(err,
            "usage: ringpad cert --cert FILE --key FILE [--days N] [--expired] [--ca]\n"
            "                    [--issuer-cert FILE --issuer-key FILE] [--cn NAME]\n"
            "Writes an ECDSA P-256 development certificate for localhost, 127.0.0.1 and ::1.\n");
}

static int write_file(const char *path, const char *data, size_t len, mode_t mode, FILE *err) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        fprintf(err, "ringpad cert: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {   /* bounded: every pass writes >= 1 byte or leaves */
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += (size_t)n;
    }
    int rc = close(fd);
    if (done != len || rc != 0) {
        fprintf(err, "ringpad cert: %s: write failed\n", path);
        return -1;
    }
    return 0;
}

static char *read_text(const char *path, FILE *err) {
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        fprintf(err, "ringpad cert: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *buf = calloc(1, TLS_PEM_MAX_BYTES + 1);
    size_t n = buf != NULL ? fread(buf, 1, TLS_PEM_MAX_BYTES, f) : 0;
    fclose(f);
    if (buf == NULL || n == 0) {
        fprintf(err, "ringpad cert: %s: empty or unreadable\n", path);
        free(buf);
        return NULL;
    }
    return buf;
}

int tls_cert_cmd_run(int argc, char **argv, int64_t now_s, FILE *err) {
    const char *cert_path = NULL, *key_path = NULL, *issuer_cert = NULL, *issuer_key = NULL, *cn = NULL;
    long days = TLS_CERT_CMD_DEFAULT_DAYS;
    bool expired = false, ca = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char **slot = NULL;
        if (strcmp(a, "--cert") == 0) slot = &cert_path;
        else if (strcmp(a, "--key") == 0) slot = &key_path;
        else if (strcmp(a, "--issuer-cert") == 0) slot = &issuer_cert;
        else if (strcmp(a, "--issuer-key") == 0) slot = &issuer_key;
        else if (strcmp(a, "--cn") == 0) slot = &cn;
        else if (strcmp(a, "--expired") == 0) { expired = true; continue; }
        else if (strcmp(a, "--ca") == 0) { ca = true; continue; }
        else if (strcmp(a, "--days") == 0 && i + 1 < argc) {
            char *end = NULL;
            errno = 0;
            days = strtol(argv[++i], &end, 10);
            if (errno != 0 || end == argv[i] || *end != '\0' || days < 1 || days > TLS_CERT_CMD_MAX_DAYS) {
                fprintf(err, "ringpad cert: --days: '%s' is not 1..%d\n", argv[i], TLS_CERT_CMD_MAX_DAYS);
                return 2;
            }
            continue;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(err);
            return 0;
        }
        if (slot == NULL || i + 1 >= argc) {
            fprintf(err, "ringpad cert: unexpected argument '%s'\n", a);
            usage(err);
            return 2;
        }
        *slot = argv[++i];
    }
    if (cert_path == NULL || key_path == NULL || (issuer_cert == NULL) != (issuer_key == NULL)) {
        usage(err);
        return 2;
    }
    tls_cert_params p = {.common_name = cn, .is_ca = ca};
    if (expired) {
        p.not_before_unix = now_s - 30 * CERT_CMD_DAY_S;
        p.not_after_unix = now_s - CERT_CMD_DAY_S;
    } else {
        p.not_before_unix = now_s - 3600;   /* clock skew between machines */
        p.not_after_unix = now_s + days * CERT_CMD_DAY_S;
    }
    char *ic = NULL, *ik = NULL;
    if (issuer_cert != NULL) {
        ic = read_text(issuer_cert, err);
        ik = ic != NULL ? read_text(issuer_key, err) : NULL;
        if (ic == NULL || ik == NULL) {
            free(ic);
            free(ik);
            return 1;
        }
        p.issuer_cert_pem = ic;
        p.issuer_key_pem = ik;
    }
    tls_cert_pem *pem = malloc(sizeof *pem);
    int rc = pem != NULL ? tls_cert_make(&p, pem) : -ENOMEM;
    if (ik != NULL) explicit_bzero(ik, strlen(ik));
    free(ic);
    free(ik);
    if (rc != 0) {
        fprintf(err, "ringpad cert: %s\n", pem != NULL ? tls_cert_error_str(rc) : strerror(ENOMEM));
        free(pem);
        return 1;
    }
    int out = write_file(key_path, pem->key, pem->key_len, 0600, err);
    if (out == 0) out = write_file(cert_path, pem->cert, pem->cert_len, 0644, err);
    explicit_bzero(pem, sizeof *pem);
    free(pem);
    return out == 0 ? 0 : 1;
}

int tls_cert_cmd_main(int argc, char **argv) { return tls_cert_cmd_run(argc, argv, clock_wall_s(), stderr); }
