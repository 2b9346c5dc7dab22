/*
 * Server configuration: defaults < environment (RINGPAD_*) < command-line flags.
 * The flag table in config.c is the single source of truth for names, env vars,
 * defaults, bounds and --help text; adding a setting is one field plus one row.
 */
#ifndef RINGPAD_CONFIG_H
#define RINGPAD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_HOST_MAX_BYTES 256
#define CONFIG_PATH_MAX_BYTES 1024
#define CONFIG_ORIGINS_MAX_BYTES 2048
#define CONFIG_URLS_MAX_BYTES 8192

typedef struct config {
    char host[CONFIG_HOST_MAX_BYTES];
    uint32_t port;                     /* 0 = ephemeral */
    uint32_t threads;                  /* 0 = number of online cores (resolved by config_parse) */
    char web_root[CONFIG_PATH_MAX_BYTES];
    int log_level;                     /* log_level */
    uint32_t max_connections;          /* all workers together; 0 = from RLIMIT_NOFILE (server_start) */
    uint32_t max_connections_per_ip;   /* 0 = unlimited */
    uint64_t max_message_bytes;
    uint64_t max_send_queue_bytes;
    uint32_t max_messages_per_sec;     /* 0 = unlimited */
    uint32_t ping_interval_ms;         /* 0 = no heartbeat */
    uint32_t idle_timeout_ms;          /* 0 = never */
    uint32_t handshake_timeout_ms;
    uint32_t close_timeout_ms;
    uint32_t shutdown_grace_ms;
    char allowed_origins[CONFIG_ORIGINS_MAX_BYTES]; /* comma list; empty = any Origin */
    bool no_deflate;
    uint64_t zerocopy_min_bytes;       /* 0 = zero-copy off */
    bool enable_echo;
    /* documents (sessions, storage, auth) */
    char data_dir[CONFIG_PATH_MAX_BYTES];
    char fsync[16];                    /* "always" or "interval" (checked by config_parse) */
    uint32_t fsync_interval_ms;
    char auth_secret[CONFIG_PATH_MAX_BYTES];      /* empty = none (RINGPAD_AUTH_SECRET) */
    char auth_secret_file[CONFIG_PATH_MAX_BYTES]; /* empty = none */
    bool allow_open;                   /* open mode on a non-loopback host */
    bool accept_data_loss;
    char store_faults[256];            /* tests: RINGPAD_STORE_FAULTS (store_faults.h), never a flag */             /* start although logged ops are known to be missing */
    uint64_t max_doc_codepoints;
    uint64_t max_op_bytes;
    uint32_t max_op_components;
    uint32_t history_depth;
    uint64_t history_memory_bytes;     /* per document */
    uint64_t memory_budget;            /* whole process; 0 = a quarter of the RAM (membudget_default_bytes) */
    char history_retention[32];        /* "all", a count of ops or an age ("30d"); read by config_parse */
    uint64_t retention_ops;            /* from history_retention: 0 = not by count */
    uint64_t retention_age_ms;         /* from history_retention: 0 = not by age */
    uint32_t checkpoint_ops;           /* a checkpoint at most this many ops after the last */
    uint64_t checkpoint_bytes;         /* ... or once the active log segment is this large */
    uint32_t max_open_docs;            /* per connection */
    uint32_t presence_per_sec;         /* per session and document */
    uint32_t max_doc_name_bytes;
    uint32_t doc_idle_ms;              /* unload a document nobody has open after this */
    char tls_cert[CONFIG_PATH_MAX_BYTES];  /* PEM chain; empty = plaintext listener */
    char tls_key[CONFIG_PATH_MAX_BYTES];
    char tls_min_version[8];               /* "1.2" or "1.3" (validated by config_parse) */
    char webhook_urls[CONFIG_URLS_MAX_BYTES];  /* newline-separated, one per --webhook-url; empty = off */
    char webhook_secret[CONFIG_PATH_MAX_BYTES]; /* HMAC-SHA256 key of the signature header; empty = unsigned */
    uint32_t webhook_debounce_ms;
    bool webhook_text;                     /* created/changed notifications carry the text */
    /* cluster mode (empty redis: off) */
    char redis[CONFIG_HOST_MAX_BYTES];     /* redis://HOST:PORT[/DB] (checked by config_parse) */
    char node_id[CONFIG_HOST_MAX_BYTES];   /* empty: host:port */
    char cluster_prefix[64];               /* namespaces every key */
    uint32_t lease_ms;                     /* a document's ownership lease */
} config;

typedef enum config_result {
    CONFIG_OK = 0,
    CONFIG_HELP = 1,        /* --help / -h: print config_print_help and exit 0 */
    CONFIG_ERR = -22,       /* bad flag or value: `err` says which; exit 2 */
} config_result;

/* Fills *cfg with the defaults only. */
void config_defaults(config *cfg);

/*
 * Parses `argv[1..argc)` (an optional leading "serve" command is accepted) over
 * the defaults and the variables in `envp` (NULL-terminated "NAME=value" list;
 * pass `environ` in production). On CONFIG_ERR, `err` holds one precise line
 * such as "--port: '70000' is out of range 0..65535".
 */
config_result config_parse(config *cfg, int argc, char *const argv[], char *const envp[],
                           char *err, size_t err_len);

/* Splits redis://HOST:PORT[/DB] (host may be NULL to check only). 0 or -EINVAL. */
int config_redis_parse(const char *url, char *host, size_t host_cap, uint32_t *port, uint32_t *db);

/* Usage: the commands, then every flag with its env var and default. */
void config_print_help(FILE *out);

/* The same tables as a man page (roff, section 1). */
void config_print_man(FILE *out, const char *version);

#endif /* RINGPAD_CONFIG_H */
