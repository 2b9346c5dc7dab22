#include "base/config.h"
#include "base/log.h"
#include "server/server.h"
#include "cmd/startup.h"
#include "cmd/token_cmd.h"
#include "cmd/tls_cert_cmd.h"

#include <malloc.h>
#include <stdio.h>
#include <string.h>

/* Blocks from here up are mapped on their own and unmapped when freed. glibc
 * otherwise raises this threshold to the largest block freed so far (up to
 * 32 MiB), after which 1 MiB ops and their buffers stay in the heap's free
 * lists: the process keeps its peak, not what it holds (--memory-budget). */
#define MAIN_MMAP_THRESHOLD_BYTES (128 * 1024)

extern char **environ;

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "token") == 0) return token_cmd_main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "cert") == 0) return tls_cert_cmd_main(argc - 1, argv + 1);
    config cfg;
    char err[512];
    config_result rc = config_parse(&cfg, argc, argv, environ, err, sizeof err);
    if (rc == CONFIG_HELP) {
        config_print_help(stdout);
        return 0;
    }
    if (rc != CONFIG_OK) {
        fprintf(stderr, "ringpad: %s\n", err);
        return 2;
    }
    log_set_level((log_level)cfg.log_level);
    mallopt(M_MMAP_THRESHOLD, MAIN_MMAP_THRESHOLD_BYTES);
    int src = startup_check(&cfg, environ);
    if (src != 0) return src;
    return server_run(&cfg);
}
