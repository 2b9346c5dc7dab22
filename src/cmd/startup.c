#include "cmd/startup.h"

#include "proto/auth.h"
#include "base/log.h"
#include "store/data_dir.h"
#include "store/store.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool startup_host_is_loopback(const char *host) {
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, host, &a4) == 1) return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, host, &a6) == 1) return IN6_IS_ADDR_LOOPBACK(&a6);
    return strcmp(host, "localhost") == 0;
}

typedef struct recover_ctx {
    int dir_fd;
    ot_limits limits;
    int failed;
    uint32_t count;
    uint32_t count_lossy;
    bool accept_loss;
} recover_ctx;

static int recover_one(void *arg, const char *name, size_t name_len) {
    recover_ctx *r = arg;
    ot_doc *doc = NULL;
    store_doc_files files;
    store_recovery rep;
    memset(&rep, 0, sizeof rep);
    int rc = store_doc_open(r->dir_fd, name, name_len, r->accept_loss ? STORE_OPEN_ACCEPT_LOSS : 0, &r->limits, &doc,
                            &files, &rep);
    if (rc != 0) {
        log_error("document %.*s cannot be recovered: %s", (int)name_len, name,
                  rep.message[0] != '\0' ? rep.message : store_err_str(rc));
        r->failed = rc;
        return 0;   /* report every damaged document, then refuse */
    }
    if (rep.torn_tail)
        log_warn("document %.*s: truncated a torn log tail (%zu bytes) at offset %zu", (int)name_len, name,
                 rep.torn_bytes, rep.valid_len_bytes);
    r->count++;
    if (rep.lost_to > rep.lost_from) {
        log_warn("document %.*s: %s", (int)name_len, name, rep.message);
        r->count_lossy++;
    }
    /* the listing cache (GET /api/docs) is current again: the log was just read whole */
    const ot_text *text = ot_doc_text(doc);
    store_meta meta = {
        .version = ot_doc_version(doc),
        .count_codepoints = ot_text_len_codepoints(text),
        .count_bytes = ot_text_len_bytes(text),
        .log_start_version = files.log_start_version,
        .log_end_offset = files.log_end_offset,
    };
    int mrc = store_meta_write(files.dir_fd, &meta);
    if (mrc != 0) log_warn("document %.*s: listing metadata not written: %s", (int)name_len, name, strerror(-mrc));
    ot_doc_free(doc);
    store_doc_files_close(&files);
    return 0;
}

int startup_check_auth(const config *cfg) {
    auth_secret secret;
    bool enabled = false;
    const char *file = cfg->auth_secret_file[0] != '\0' ? cfg->auth_secret_file : NULL;
    const char *flag = file == NULL && cfg->auth_secret[0] != '\0' ? cfg->auth_secret : NULL;
    int rc = auth_secret_resolve(&secret, &enabled, flag, file, NULL);
    memset(&secret, 0, sizeof secret);
    if (rc != AUTH_OK) {
        log_error("auth secret: %s (16..1024 bytes, from --auth-secret, --auth-secret-file or RINGPAD_AUTH_SECRET)",
                  auth_err_str(rc));
        return 2;
    }
    if (!enabled) {
        if (!startup_host_is_loopback(cfg->host) && !cfg->allow_open) {
            log_error("no auth secret and --host %s is not loopback: anyone could edit every document; "
                      "set --auth-secret(-file) or pass --allow-open", cfg->host);
            return 2;
        }
        log_warn("*** OPEN MODE: no auth secret, anyone who can connect may read and write every document ***");
    } else {
        log_info("auth on: HS256 tokens required");
    }
    return 0;
}

int startup_check(const config *cfg, char *const envp[]) {
    (void)envp;
    int rc = startup_check_auth(cfg);
    if (rc != 0) return rc;
    int dfd = open(cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 && errno == ENOENT) {
        log_info("data dir %s does not exist yet; it is created with the first document", cfg->data_dir);
        return 0;
    }
    if (dfd < 0) {
        log_error("--data-dir %s: %s", cfg->data_dir, strerror(errno));
        return 1;
    }
    char err[CONFIG_PATH_MAX_BYTES + 128];
    if (data_dir_check_writable(dfd, cfg->data_dir, err, sizeof err) != 0) {
        log_error("%s; refusing to start (fix the mount or the permissions, or pick another --data-dir)", err);
        close(dfd);
        return 1;
    }
    recover_ctx r = {.dir_fd = dfd, .limits = ot_limits_default(), .accept_loss = cfg->accept_data_loss};
    r.limits.max_doc_codepoints = cfg->max_doc_codepoints;
    r.limits.history_depth = cfg->history_depth;
    rc = store_list(dfd, recover_one, &r);
    close(dfd);
    if (rc != 0) {
        log_error("--data-dir %s: cannot list documents: %s", cfg->data_dir, store_err_str(rc));
        return 1;
    }
    if (r.failed != 0) {
        log_error("refusing to start: damaged documents in %s (nothing was changed)", cfg->data_dir);
        return 1;
    }
    if (r.count_lossy > 0)
        log_warn("data dir %s: %u documents started without ops they had (--accept-data-loss); see above",
                 cfg->data_dir, r.count_lossy);
    log_info("data dir %s: %u documents recovered, fsync=%s", cfg->data_dir, r.count, cfg->fsync);
    return 0;
}
