#include "base/config.h"
#include "base/log.h"
#include "server/server.h"
#include "cmd/startup.h"
#include "cmd/token_cmd.h"
#include "cmd/tls_cert_cmd.h"

#include <stdio.h>
#include <string.h>

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
    int src = startup_check(&cfg, environ);
    if (src != 0) return src;
    return server_run(&cfg);
}
