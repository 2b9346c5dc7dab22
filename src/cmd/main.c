#include "base/config.h"
#include "base/log.h"
#include "cmd/check_config.h"
#include "store/data_dir.h"
#include "store/store_faults.h"
#include "server/server.h"
#include "cmd/startup.h"
#include "cmd/token_cmd.h"
#include "cmd/tls_cert_cmd.h"
#include "cmd/version.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern char **environ;

/* build.zig defines these (the commit in a header generated on every build);
 * a build without them still says what it is. */
#ifdef RINGPAD_BUILD_INFO_HEADER
#include "ringpad_build_info.h"
#endif
#ifndef RINGPAD_VERSION
#define RINGPAD_VERSION "0.1.0"
#endif
#ifndef RINGPAD_GIT_COMMIT
#define RINGPAD_GIT_COMMIT "unknown"
#endif
#ifndef RINGPAD_BUILD_MODE
#define RINGPAD_BUILD_MODE "unknown"
#endif
#ifndef RINGPAD_LIBURING_VERSION
#define RINGPAD_LIBURING_VERSION "unknown"
#endif

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "token") == 0) return token_cmd_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "cert") == 0) return tls_cert_cmd_main(argc - 1, argv + 1);
    if (argc == 2 && (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0)) {
        version_build b = {RINGPAD_VERSION, RINGPAD_GIT_COMMIT, RINGPAD_BUILD_MODE, RINGPAD_LIBURING_VERSION};
        version_print(stdout, &b);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--man") == 0) {   /* build.zig renders the man page with it */
        config_print_man(stdout, RINGPAD_VERSION);
        return 0;
    }
    bool check_only = argc > 1 && strcmp(argv[1], "check-config") == 0;
    if (check_only) {
        argc--;
        argv++;
    }
    config cfg;
    char err[512];
    config_result rc = config_parse(&cfg, argc, argv, environ, err, sizeof err);
    if (rc == CONFIG_HELP) {
        config_print_help(stdout);
        return 0;
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "ringpad: %s\n", err);
        if (check_only) fprintf(stdout, "check-config: FAILED: %s\n", err);
        return 2;
    }
    log_set_level((log_level)cfg.log_level);
    if (check_only) return check_config_run(&cfg, stdout);
    /* Tests only: crash or I/O-failure points on the storage path. */
    const char *faults = getenv("RINGPAD_STORE_FAULTS");
    if (faults != NULL && faults[0] != '\0') {
        store_fault_plan plan;
        if (store_fault_plan_parse(faults, &plan, err, sizeof err) != 0) {
            fprintf(stderr, "ringpad: %s\n", err);
            return 2;
        }
        snprintf(cfg.store_faults, sizeof cfg.store_faults, "%s", faults);
        log_warn("RINGPAD_STORE_FAULTS=%s: storage faults will be injected (tests only)", faults);
    }
    /* First: recovery truncates torn tails, which only the owner may do. The
     * fd stays open (and locked) until the process ends. */
    int lock_fd = -1;
    char lock_err[2 * CONFIG_PATH_MAX_BYTES + 256];
    int lrc = data_dir_lock(cfg.data_dir, &lock_fd, lock_err, sizeof lock_err);
    if (lrc != 0) {
        log_error("%s", lock_err);
        return 1;
    }
    int src = startup_check(&cfg, environ);
    if (src != 0) return src;
    return server_run(&cfg);
}
