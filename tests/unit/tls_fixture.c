#include "tls_fixture.h"

#include <criterion/criterion.h>

#include "tls/tls.h"
#include "tls/tls_cert.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static void write_file(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "cannot write %s", path);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

void tls_fixture_make(tls_fixture *f, const char *prefix) {
    cr_assert_eq(tls_library_init(), TLS_OK);
    snprintf(f->dir, sizeof f->dir, "/tmp/%s-XXXXXX", prefix);
    cr_assert_not_null(mkdtemp(f->dir));
    int64_t now = (int64_t)time(NULL);
    static tls_cert_pem ca, other, leaf;
    tls_cert_params cap = {.is_ca = true, .not_before_unix = now - 3600, .not_after_unix = now + 86400};
    cr_assert_eq(tls_cert_make(&cap, &ca), 0);
    cr_assert_eq(tls_cert_make(&cap, &other), 0);
    tls_cert_params lp = {.not_before_unix = now - 3600, .not_after_unix = now + 86400,
                          .issuer_cert_pem = ca.cert, .issuer_key_pem = ca.key};
    cr_assert_eq(tls_cert_make(&lp, &leaf), 0);
    snprintf(f->cert_path, sizeof f->cert_path, "%s/leaf.pem", f->dir);
    snprintf(f->key_path, sizeof f->key_path, "%s/leaf-key.pem", f->dir);
    snprintf(f->ca_path, sizeof f->ca_path, "%s/ca.pem", f->dir);
    snprintf(f->other_ca_path, sizeof f->other_ca_path, "%s/other-ca.pem", f->dir);
    write_file(f->cert_path, leaf.cert, leaf.cert_len);
    write_file(f->key_path, leaf.key, leaf.key_len);
    write_file(f->ca_path, ca.cert, ca.cert_len);
    write_file(f->other_ca_path, other.cert, other.cert_len);
}

void tls_fixture_remove(tls_fixture *f) {
    const char *files[] = {f->cert_path, f->key_path, f->ca_path, f->other_ca_path};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) unlink(files[i]);
    rmdir(f->dir);
    tls_thread_exit();
}
