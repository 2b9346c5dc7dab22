#include "base/config.h"
#include "cmd/check_config.h"
#include "cmd/version.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char tmp[64];

static void make_tmp(void) {
    snprintf(tmp, sizeof tmp, "/tmp/ringpad-cc-XXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
}

static void rm_tmp(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

Test(check_config, existing_writable_dir, .init = make_tmp, .fini = rm_tmp) {
    char err[512];
    cr_assert_eq(check_config_data_dir(tmp, err, sizeof err), 0, "%s", err);
    char want[128];
    snprintf(want, sizeof want, "data dir %s exists and is writable", tmp);
    cr_assert_str_eq(err, want);
    /* the probe file is gone again */
    char cmd[128];
    snprintf(cmd, sizeof cmd, "test -z \"$(ls -A '%s')\"", tmp);
    cr_assert_eq(system(cmd), 0, "check-config left a file behind");
}

Test(check_config, missing_dir_with_writable_parent, .init = make_tmp, .fini = rm_tmp) {
    char path[128], err[512], want[256];
    snprintf(path, sizeof path, "%s/data/", tmp);
    cr_assert_eq(check_config_data_dir(path, err, sizeof err), 0, "%s", err);
    snprintf(want, sizeof want, "data dir %s does not exist yet; the server creates it in %s", path, tmp);
    cr_assert_str_eq(err, want);
    struct stat st;
    cr_assert_neq(stat(path, &st), 0, "check-config must not create the data dir");
}

Test(check_config, missing_parent_is_refused, .init = make_tmp, .fini = rm_tmp) {
    char path[128], err[512], want[512];
    snprintf(path, sizeof path, "%s/a/b", tmp);
    cr_assert_eq(check_config_data_dir(path, err, sizeof err), -ENOENT);
    snprintf(want, sizeof want, "--data-dir %s does not exist and cannot be created: its parent %s/a is not a "
             "directory (create it first: mkdir -p %s)", path, tmp, path);
    cr_assert_str_eq(err, want);
}

Test(check_config, a_file_is_not_a_data_dir, .init = make_tmp, .fini = rm_tmp) {
    char path[128], err[512], want[256];
    snprintf(path, sizeof path, "%s/file", tmp);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fclose(f);
    cr_assert_eq(check_config_data_dir(path, err, sizeof err), -ENOTDIR);
    snprintf(want, sizeof want, "--data-dir %s exists but is not a directory", path);
    cr_assert_str_eq(err, want);
}

Test(check_config, unwritable_dir_is_refused) {
    /* /proc refuses new files even to root, like a read-only mount would */
    char err[512];
    int rc = check_config_data_dir("/proc", err, sizeof err);
    cr_assert_lt(rc, 0);
    cr_assert(strncmp(err, "--data-dir /proc is not writable (", 34) == 0, "%s", err);
    cr_assert_not_null(strstr(err, "ReadWritePaths=/proc"), "%s", err);
    rc = check_config_data_dir("/proc/ringpad-data", err, sizeof err);
    cr_assert_lt(rc, 0);
    cr_assert(strncmp(err, "--data-dir /proc/ringpad-data does not exist and cannot be created: /proc is not writable (",
                      91) == 0, "%s", err);
    cr_assert_eq(check_config_data_dir("", err, sizeof err), -EINVAL);
}

Test(check_config, run_reports_each_failure_with_its_exit_code, .init = make_tmp, .fini = rm_tmp) {
    config cfg;
    config_defaults(&cfg);
    cfg.threads = 1;
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", tmp);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_eq(check_config_run(&cfg, f), 0);
    fclose(f);
    char want[512];
    snprintf(want, sizeof want, "check-config: data dir %s exists and is writable\n"
             "check-config: ok: would listen on 127.0.0.1:8080 with 1 workers, fsync=always\n", tmp);
    cr_assert_str_eq(text, want);
    free(text);

    snprintf(cfg.web_root, sizeof cfg.web_root, "%s/nope", tmp);
    f = open_memstream(&text, &len);
    cr_assert_eq(check_config_run(&cfg, f), 2);
    fclose(f);
    snprintf(want, sizeof want, "check-config: FAILED: --web-root %s/nope is not a directory\n", tmp);
    cr_assert_str_eq(text, want);
    free(text);
    cfg.web_root[0] = '\0';

    snprintf(cfg.tls_cert, sizeof cfg.tls_cert, "%s/missing.pem", tmp);
    snprintf(cfg.tls_key, sizeof cfg.tls_key, "%s/missing-key.pem", tmp);
    f = open_memstream(&text, &len);
    cr_assert_eq(check_config_run(&cfg, f), 2);
    fclose(f);
    cr_assert(strncmp(text, "check-config: FAILED: TLS: ", 27) == 0, "%s", text);
    free(text);
    cfg.tls_cert[0] = cfg.tls_key[0] = '\0';

    snprintf(cfg.auth_secret, sizeof cfg.auth_secret, "short");
    f = open_memstream(&text, &len);
    cr_assert_eq(check_config_run(&cfg, f), 2);
    fclose(f);
    cr_assert_str_eq(text, "check-config: FAILED: the auth secret (see the error above)\n");
    free(text);
}

Test(version, prints_build_facts_and_library_versions) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    version_build b = {"9.8.7", "abc123def456", "ReleaseSafe", "2.3"};
    version_print(f, &b);
    fclose(f);
    static const char want[] = "ringpad 9.8.7\ncommit abc123def456\nbuild ReleaseSafe\nliburing 2.3\nwolfssl 5.";
    cr_assert(strncmp(text, want, sizeof want - 1) == 0, "%s", text);
    cr_assert_not_null(strstr(text, "\nzlib 1."), "%s", text);
    free(text);
}

Test(config, man_page_lists_every_command_and_flag) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_man(f, "1.2.3");
    fclose(f);
    cr_assert(strncmp(text, ".TH RINGPAD 1 \"\" \"ringpad 1.2.3\" \"User Commands\"\n", 48) == 0, "%s", text);
    static const char *const needles[] = {
        ".BR \\-\\-host \" ADDR\"\naddress to listen on (IPv4/IPv6 literal or localhost) (environment RINGPAD_HOST; default: 127.0.0.1)\n",
        ".BR \\-\\-max\\-message\\-bytes \" BYTES\"\n",
        ".BR \\-\\-no\\-deflate\n", "(environment RINGPAD_TLS_MIN_VERSION; default: 1.3)\n",
        ".B check\\-config [flags]\n", ".B token \\-\\-sub ID", ".B cert \\-\\-cert FILE", ".B \\-\\-version\n",
        ".SH SIGNALS\n",
    };
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        cr_expect_not_null(strstr(text, needles[i]), "man page lacks '%s'", needles[i]);
    free(text);
}
