#include "cmd/check_config.h"

#include "base/errmsg.h"
#include "cmd/startup.h"
#include "tls/tls.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A real file created and removed: access(2) says nothing about read-only
 * mounts seen through systemd's ProtectSystem= or a full quota. */
static int probe_write(const char *dir) {
    char probe[PATH_MAX];
    int n = snprintf(probe, sizeof probe, "%s/.ringpad-check-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof probe) return -ENAMETOOLONG;
    int fd = mkstemp(probe);
    if (fd < 0) return -errno;
    close(fd);
    unlink(probe);
    return 0;
}

int check_config_data_dir(const char *path, char *err, size_t err_len) {
    struct stat st;
    if (path[0] == '\0') {
        errmsg_set(err, err_len, "--data-dir is empty; name a folder for the document logs");
        return -EINVAL;
    }
    if (stat(path, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            errmsg_set(err, err_len, "--data-dir %s exists but is not a directory", path);
            return -ENOTDIR;
        }
        int rc = probe_write(path);
        if (rc != 0) {
            errmsg_set(err, err_len, "--data-dir %s is not writable (%s): give the server's user write access "
                    "(under systemd: ReadWritePaths=%s)", path, strerror(-rc), path);
            return rc;
        }
        errmsg_set(err, err_len, "data dir %s exists and is writable", path);
        return 0;
    }
    if (errno != ENOENT) {
        int e = errno;
        errmsg_set(err, err_len, "--data-dir %s: %s", path, strerror(e));
        return -e;
    }
    /* The server creates the folder itself (one mkdir, not a tree): its parent must exist. */
    char parent[PATH_MAX];
    if (snprintf(parent, sizeof parent, "%s", path) >= (int)sizeof parent) {
        errmsg_set(err, err_len, "--data-dir is longer than %d bytes", PATH_MAX - 1);
        return -ENAMETOOLONG;
    }
    size_t len = strlen(parent);
    while (len > 1 && parent[len - 1] == '/') parent[--len] = '\0';
    char *slash = strrchr(parent, '/');
    if (slash == NULL) snprintf(parent, sizeof parent, ".");
    else if (slash == parent) parent[1] = '\0';
    else *slash = '\0';
    if (stat(parent, &st) != 0 || !S_ISDIR(st.st_mode)) {
        errmsg_set(err, err_len, "--data-dir %s does not exist and cannot be created: its parent %s is not a "
                "directory (create it first: mkdir -p %s)", path, parent, path);
        return -ENOENT;
    }
    int rc = probe_write(parent);
    if (rc != 0) {
        errmsg_set(err, err_len, "--data-dir %s does not exist and cannot be created: %s is not writable (%s); "
                "create it and give the server's user write access", path, parent, strerror(-rc));
        return rc;
    }
    errmsg_set(err, err_len, "data dir %s does not exist yet; the server creates it in %s", path, parent);
    return 0;
}

int check_config_run(const config *cfg, FILE *out) {
    if (startup_check_auth(cfg) != 0) {
        fprintf(out, "check-config: FAILED: the auth secret (see the error above)\n");
        return 2;
    }
    if (cfg->tls_cert[0] != '\0') {
        tls_options o = {.min_version = tls_version_parse(cfg->tls_min_version)};
        snprintf(o.cert_path, sizeof o.cert_path, "%s", cfg->tls_cert);
        snprintf(o.key_path, sizeof o.key_path, "%s", cfg->tls_key);
        tls_server *tls = NULL;
        char err[512];
        if (tls_server_new(&o, &tls, err, sizeof err) != TLS_OK) {
            fprintf(out, "check-config: FAILED: TLS: %s\n", err);
            return 2;
        }
        tls_server_free(tls);
        fprintf(out, "check-config: TLS certificate %s and key %s load and match\n", cfg->tls_cert, cfg->tls_key);
    }
    if (cfg->web_root[0] != '\0') {
        struct stat st;
        if (stat(cfg->web_root, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(out, "check-config: FAILED: --web-root %s is not a directory\n", cfg->web_root);
            return 2;
        }
    }
    char msg[2 * CONFIG_PATH_MAX_BYTES + 256];
    if (check_config_data_dir(cfg->data_dir, msg, sizeof msg) != 0) {
        fprintf(out, "check-config: FAILED: %s\n", msg);
        return 1;
    }
    fprintf(out, "check-config: %s\n", msg);
    fprintf(out, "check-config: ok: would listen on %s:%u with %u workers, fsync=%s\n", cfg->host,
            (unsigned)cfg->port, cfg->threads, cfg->fsync);
    return 0;
}
