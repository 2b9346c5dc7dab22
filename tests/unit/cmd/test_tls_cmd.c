/* tls_cmd: the TLS flags of config_parse and the `ringpad cert` command. */
#include <criterion/criterion.h>

#include "base/config.h"
#include "tls/tls.h"
#include "cmd/tls_cert_cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static char dir[64];
static FILE *errf;

static void setup(void) {
    snprintf(dir, sizeof dir, "/tmp/ringpad-tlscmd-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    errf = tmpfile();
    cr_assert_not_null(errf);
}

static void teardown(void) {
    const char *names[] = {"c.pem", "k.pem", "ca.pem", "ca-key.pem"};
    char p[128];
    for (size_t i = 0; i < 4; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
    fclose(errf);
}

TestSuite(tls_cmd, .init = setup, .fini = teardown, .timeout = 30);

static config_result parse(config *cfg, int argc, char *const argv[], char *err, size_t err_len) {
    char *const envp[] = {NULL};
    return config_parse(cfg, argc, argv, envp, err, err_len);
}

Test(tls_cmd, config_tls_flags) {
    config cfg;
    char err[256];
    char *const none[] = {"ringpad"};
    cr_assert_eq(parse(&cfg, 1, none, err, sizeof err), CONFIG_OK);
    cr_assert_str_eq(cfg.tls_cert, "");
    cr_assert_str_eq(cfg.tls_min_version, "1.3");
    char *const both[] = {"ringpad", "--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-min-version", "1.2"};
    cr_assert_eq(parse(&cfg, 7, both, err, sizeof err), CONFIG_OK, "%s", err);
    cr_assert_str_eq(cfg.tls_cert, "c.pem");
    cr_assert_str_eq(cfg.tls_key, "k.pem");
    cr_assert_str_eq(cfg.tls_min_version, "1.2");
    char *const cert_only[] = {"ringpad", "--tls-cert", "c.pem"};
    cr_assert_eq(parse(&cfg, 3, cert_only, err, sizeof err), CONFIG_ERR);
    cr_assert_not_null(strstr(err, "--tls-key"), "%s", err);
    char *const key_only[] = {"ringpad", "--tls-key", "k.pem"};
    cr_assert_eq(parse(&cfg, 3, key_only, err, sizeof err), CONFIG_ERR);
    char *const old[] = {"ringpad", "--tls-min-version", "1.1"};
    cr_assert_eq(parse(&cfg, 3, old, err, sizeof err), CONFIG_ERR);
    cr_assert_str_eq(err, "--tls-min-version: '1.1' is not 1.2 or 1.3");
    char *const long_value[] = {"ringpad", "--tls-min-version", "1.3.1.2.3.4"};
    cr_assert_eq(parse(&cfg, 3, long_value, err, sizeof err), CONFIG_ERR);
}

static int run(int argc, char **argv) { return tls_cert_cmd_run(argc, argv, (int64_t)time(NULL), errf); }

static char *path(const char *name) {
    static char buf[4][128];
    static int i;
    char *p = buf[i++ % 4];
    snprintf(p, 128, "%s/%s", dir, name);
    return p;
}

Test(tls_cmd, cert_usage_errors) {
    char *no_key[] = {"cert", "--cert", path("c.pem")};
    cr_assert_eq(run(3, no_key), 2);
    char *bad_days[] = {"cert", "--cert", path("c.pem"), "--key", path("k.pem"), "--days", "0"};
    cr_assert_eq(run(7, bad_days), 2);
    char *bad_days2[] = {"cert", "--cert", path("c.pem"), "--key", path("k.pem"), "--days", "9x"};
    cr_assert_eq(run(7, bad_days2), 2);
    char *half_issuer[] = {"cert", "--cert", path("c.pem"), "--key", path("k.pem"), "--issuer-cert", path("ca.pem")};
    cr_assert_eq(run(7, half_issuer), 2);
    char *unknown[] = {"cert", "--bogus"};
    cr_assert_eq(run(2, unknown), 2);
    char *missing_issuer[] = {"cert", "--cert", path("c.pem"), "--key", path("k.pem"), "--issuer-cert",
                              path("ca.pem"), "--issuer-key", path("ca-key.pem")};
    cr_assert_eq(run(9, missing_issuer), 1, "issuer files that do not exist");
    char *unwritable[] = {"cert", "--cert", "/nonexistent-dir/c.pem", "--key", "/nonexistent-dir/k.pem"};
    cr_assert_eq(run(5, unwritable), 1);
    struct stat st;
    cr_assert_neq(stat(path("c.pem"), &st), 0, "nothing written on errors");
}

Test(tls_cmd, cert_files_load_into_a_tls_server) {
    char *ca[] = {"cert", "--ca", "--cert", path("ca.pem"), "--key", path("ca-key.pem")};
    cr_assert_eq(run(6, ca), 0);
    char *leaf[] = {"cert", "--cert", path("c.pem"), "--key", path("k.pem"), "--days", "2",
                    "--issuer-cert", path("ca.pem"), "--issuer-key", path("ca-key.pem")};
    cr_assert_eq(run(11, leaf), 0);
    struct stat st;
    cr_assert_eq(stat(path("k.pem"), &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600, "the key is private");
    tls_options o = {.min_version = TLS_V13};
    snprintf(o.cert_path, sizeof o.cert_path, "%s", path("c.pem"));
    snprintf(o.key_path, sizeof o.key_path, "%s", path("k.pem"));
    tls_server *s = NULL;
    char err[256];
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "%s", err);
    tls_server_free(s);
    /* a self-signed, expired one loads too (the client is the one to refuse it) */
    char *expired[] = {"cert", "--expired", "--cert", path("c.pem"), "--key", path("k.pem")};
    cr_assert_eq(run(6, expired), 0);
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "%s", err);
    tls_server_free(s);
}
