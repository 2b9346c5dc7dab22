#include <criterion/criterion.h>

#include "base/config.h"
#include "base/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *const no_env[] = {NULL};

static config_result parse(config *cfg, char *const *envp, char *err, size_t err_len, int argc,
                           char *const argv[]) {
    return config_parse(cfg, argc, argv, envp, err, err_len);
}

#define ARGS(...) ((char *const[]){"ringpad", __VA_ARGS__})
#define NARGS(...) (int)(sizeof((char *const[]){"ringpad", __VA_ARGS__}) / sizeof(char *))

Test(config, defaults) {
    config cfg;
    char err[256];
    char *const argv[] = {"ringpad"};
    cr_assert_eq(config_parse(&cfg, 1, argv, no_env, err, sizeof err), CONFIG_OK);
    cr_assert_str_eq(cfg.host, "127.0.0.1");
    cr_assert_eq(cfg.port, 8080);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    cr_assert_eq(cfg.threads, (uint32_t)cores);
    cr_assert_str_eq(cfg.web_root, "");
    cr_assert_eq(cfg.log_level, LOG_INFO);
    cr_assert_eq(cfg.max_connections, 0, "0: follow the file descriptor limit");
    cr_assert_eq(cfg.max_connections_per_ip, 0);
    cr_assert_eq(cfg.max_message_bytes, 1024 * 1024);
    cr_assert_eq(cfg.max_send_queue_bytes, 4 * 1024 * 1024);
    cr_assert_eq(cfg.max_messages_per_sec, 10000);
    cr_assert_eq(cfg.ping_interval_ms, 30000);
    cr_assert_eq(cfg.idle_timeout_ms, 75000);
    cr_assert_eq(cfg.handshake_timeout_ms, 10000);
    cr_assert_eq(cfg.close_timeout_ms, 5000);
    cr_assert_eq(cfg.shutdown_grace_ms, 5000);
    cr_assert_str_eq(cfg.allowed_origins, "");
    cr_assert_eq(cfg.no_deflate, false);
    cr_assert_eq(cfg.zerocopy_min_bytes, 16 * 1024);
    cr_assert_eq(cfg.enable_echo, false);
}

Test(config, every_flag) {
    config cfg;
    char err[256] = "";
    char *const argv[] = {"ringpad", "serve", "--host", "::1", "--port=0", "--threads", "3",
                          "--web-root", "/srv/web", "--log-level", "debug", "--max-connections", "50",
                          "--max-connections-per-ip", "5", "--max-message-bytes", "64k",
                          "--max-send-queue-bytes", "2m", "--max-messages-per-sec", "7",
                          "--ping-interval-ms", "100", "--idle-timeout-ms", "200", "--handshake-timeout-ms",
                          "300", "--close-timeout-ms", "400", "--shutdown-grace-ms", "500",
                          "--allowed-origins", "http://a.test,https://b.test", "--no-deflate",
                          "--zerocopy-min-bytes", "1g", "--enable-echo"};
    cr_assert_eq(config_parse(&cfg, (int)(sizeof argv / sizeof argv[0]), argv, no_env, err, sizeof err),
                 CONFIG_OK, "%s", err);
    cr_assert_str_eq(cfg.host, "::1");
    cr_assert_eq(cfg.port, 0);
    cr_assert_eq(cfg.threads, 3);
    cr_assert_str_eq(cfg.web_root, "/srv/web");
    cr_assert_eq(cfg.log_level, LOG_DEBUG);
    cr_assert_eq(cfg.max_connections, 50);
    cr_assert_eq(cfg.max_connections_per_ip, 5);
    cr_assert_eq(cfg.max_message_bytes, 65536);
    cr_assert_eq(cfg.max_send_queue_bytes, 2 * 1024 * 1024);
    cr_assert_eq(cfg.max_messages_per_sec, 7);
    cr_assert_eq(cfg.ping_interval_ms, 100);
    cr_assert_eq(cfg.idle_timeout_ms, 200);
    cr_assert_eq(cfg.handshake_timeout_ms, 300);
    cr_assert_eq(cfg.close_timeout_ms, 400);
    cr_assert_eq(cfg.shutdown_grace_ms, 500);
    cr_assert_str_eq(cfg.allowed_origins, "http://a.test,https://b.test");
    cr_assert_eq(cfg.no_deflate, true);
    cr_assert_eq(cfg.zerocopy_min_bytes, 1024ull * 1024 * 1024);
    cr_assert_eq(cfg.enable_echo, true);
}

Test(config, env_vars_and_flags_win) {
    config cfg;
    char err[256] = "";
    char *const envp[] = {"PATH=/bin", "RINGPAD_PORT=9001", "RINGPAD_HOST=localhost", "RINGPAD_NO_DEFLATE=yes",
                          "RINGPAD_ENABLE_ECHO=0", "RINGPAD_THREADS=2", "RINGPAD_LOG_LEVEL=WARNING",
                          "RINGPAD_MAX_MESSAGE_BYTES=2048", "RINGPAD_WEB_ROOT=/w", "RINGPAD_PORTX=1", NULL};
    char *const argv[] = {"ringpad", "--threads", "4"};
    cr_assert_eq(config_parse(&cfg, 3, argv, envp, err, sizeof err), CONFIG_OK, "%s", err);
    cr_assert_eq(cfg.port, 9001);
    cr_assert_str_eq(cfg.host, "127.0.0.1");
    cr_assert_eq(cfg.no_deflate, true);
    cr_assert_eq(cfg.enable_echo, false);
    cr_assert_eq(cfg.threads, 4);
    cr_assert_eq(cfg.log_level, LOG_WARN);
    cr_assert_eq(cfg.max_message_bytes, 2048);
    cr_assert_str_eq(cfg.web_root, "/w");
}

Test(config, help) {
    config cfg;
    char err[256];
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("--port", "1", "--help"), ARGS("--port", "1", "--help")),
                 CONFIG_HELP);
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("-h"), ARGS("-h")), CONFIG_HELP);
}

Test(config, help_lists_every_flag_env_and_default) {
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    cr_assert_not_null(f);
    config_print_help(f);
    fclose(f);
    static const char *const needles[] = {
        "--host ADDR", "RINGPAD_HOST", "(default: 127.0.0.1)", "--port N", "RINGPAD_PORT]", "(default: 8080)",
        "--threads", "--web-root", "--log-level", "--max-connections N", "--max-connections-per-ip",
        "--max-message-bytes", "(default: 1m)", "--max-send-queue-bytes", "--max-messages-per-sec",
        "--ping-interval-ms", "--idle-timeout-ms", "--handshake-timeout-ms", "--close-timeout-ms",
        "--shutdown-grace-ms", "--allowed-origins", "--no-deflate", "RINGPAD_NO_DEFLATE",
        "--zerocopy-min-bytes", "--enable-echo", "RINGPAD_ENABLE_ECHO", "usage:\n  ringpad [serve] [flags]\n",
        "\n  ringpad check-config [flags]\n", "\n  ringpad token --sub ID", "\n  ringpad cert --cert FILE",
        "\n  ringpad --version\n"};
    for (size_t i = 0; i < sizeof needles / sizeof needles[0]; i++)
        cr_expect_not_null(strstr(text, needles[i]), "help lacks '%s'", needles[i]);
    free(text);
}

typedef struct bad_case {
    const char *flag;
    const char *value;
    const char *message;
} bad_case;

Test(config, bad_values_are_precise) {
    static const bad_case cases[] = {
        {"--port", "70000", "--port: '70000' is out of range 0..65535"},
        {"--port", "-1", "--port: '-1' is not a non-negative decimal integer"},
        {"--port", "80x", "--port: '80x' is not a non-negative decimal integer"},
        {"--port", "", "--port: '' is not a non-negative decimal integer"},
        {"--port", "99999999999999999999999", "--port: '99999999999999999999999' is out of range 0..65535"},
        {"--host", "example.com", "--host: 'example.com' is not an IPv4 or IPv6 address"},
        {"--threads", "5000", "--threads: '5000' is out of range 0..1024"},
        {"--log-level", "loud", "--log-level: 'loud' is not a log level (debug, info, warn, error, off)"},
        {"--max-connections", "10000001", "--max-connections: '10000001' is out of range 0..10000000"},
        {"--max-message-bytes", "10", "--max-message-bytes: '10' is out of range 126..1073741824"},
        {"--max-message-bytes", "1t", "--max-message-bytes: '1t' is not a byte count (digits with an optional k, m or g suffix)"},
        {"--max-message-bytes", "1kk", "--max-message-bytes: '1kk' is not a byte count (digits with an optional k, m or g suffix)"},
        {"--max-message-bytes", "99999999999g", "--max-message-bytes: '99999999999g' is out of range 126..1073741824"},
        {"--no-deflate", "maybe", "--no-deflate: 'maybe' is not a boolean (true/false, 1/0, yes/no, on/off)"},
        {"--handshake-timeout-ms", "0", "--handshake-timeout-ms: '0' is out of range 1..3600000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        config cfg;
        char err[256] = "";
        char arg[128];
        snprintf(arg, sizeof arg, "%s=%s", cases[i].flag, cases[i].value);
        char *const argv[] = {"ringpad", arg};
        cr_expect_eq(config_parse(&cfg, 2, argv, no_env, err, sizeof err), CONFIG_ERR, "%s", arg);
        cr_expect_str_eq(err, cases[i].message);
    }
}

Test(config, bad_usage) {
    config cfg;
    char err[256];
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("--bogus"), ARGS("--bogus")), CONFIG_ERR);
    cr_assert_str_eq(err, "unknown flag '--bogus' (see --help)");
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("--port"), ARGS("--port")), CONFIG_ERR);
    cr_assert_str_eq(err, "--port needs a value (see --help)");
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("stray"), ARGS("stray")), CONFIG_ERR);
    cr_assert_str_eq(err, "unexpected argument 'stray' (see --help)");
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("--port", "1", "serve"), ARGS("--port", "1", "serve")),
                 CONFIG_ERR);
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("--"), ARGS("--")), CONFIG_ERR);
    cr_assert_eq(parse(&cfg, no_env, err, sizeof err, NARGS("--max-message-bytes", "4m", "--max-send-queue-bytes", "512k"),
                       ARGS("--max-message-bytes", "4m", "--max-send-queue-bytes", "512k")),
                 CONFIG_ERR);
    cr_assert_str_eq(err, "--max-send-queue-bytes (524288) must be at least a quarter of --max-message-bytes (4194304)");
}

Test(config, bad_env_value_names_the_variable) {
    config cfg;
    char err[256];
    char *const envp[] = {"RINGPAD_PORT=http", NULL};
    char *const argv[] = {"ringpad"};
    cr_assert_eq(config_parse(&cfg, 1, argv, envp, err, sizeof err), CONFIG_ERR);
    cr_assert_str_eq(err, "RINGPAD_PORT: 'http' is not a non-negative decimal integer");
}

Test(config, long_strings_rejected) {
    config cfg;
    char err[256];
    char big[CONFIG_PATH_MAX_BYTES + 16];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    char *const argv[] = {"ringpad", "--web-root", big};
    cr_assert_eq(config_parse(&cfg, 3, argv, no_env, err, sizeof err), CONFIG_ERR);
    cr_assert_not_null(strstr(err, "--web-root: value is too long"));
}

Test(config, bracketed_ipv6_host) {
    config cfg;
    char err[256];
    char *const argv[] = {"ringpad", "--host=[::1]"};
    cr_assert_eq(config_parse(&cfg, 2, argv, no_env, err, sizeof err), CONFIG_OK);
    cr_assert_str_eq(cfg.host, "::1");
}
