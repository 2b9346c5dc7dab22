#include "base/config.h"

#include "base/errmsg.h"
#include "base/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

typedef enum opt_kind {
    OPT_U32,        /* decimal integer within [min, max] */
    OPT_BYTES,      /* integer with optional k/m/g suffix (binary units) */
    OPT_STRING,     /* copied into a fixed char array of `max` bytes (incl. NUL) */
    OPT_HOST,       /* IPv4/IPv6 literal or "localhost" */
    OPT_BOOL,       /* flag without a value sets true; env takes 1/0/true/false/yes/no/on/off */
    OPT_LOG_LEVEL,
    OPT_LIST,       /* repeatable: each value appended on its own line (max = capacity) */
} opt_kind;

typedef struct opt_spec {
    const char *flag;      /* without the leading "--" */
    const char *env;
    opt_kind kind;
    size_t offset;
    uint64_t min, max;     /* numeric bounds; for strings, max = capacity in bytes */
    const char *def;       /* default as text, parsed like any value */
    const char *help;
} opt_spec;

#define FIELD(f) offsetof(config, f)
#define MIB (1024ull * 1024ull)

static const opt_spec opt_table[] = {
    {"host", "RINGPAD_HOST", OPT_HOST, FIELD(host), 0, CONFIG_HOST_MAX_BYTES, "127.0.0.1",
     "address to listen on (IPv4/IPv6 literal or localhost)"},
    {"port", "RINGPAD_PORT", OPT_U32, FIELD(port), 0, 65535, "8080",
     "TCP port; 0 picks an ephemeral port (see the startup log line)"},
    {"threads", "RINGPAD_THREADS", OPT_U32, FIELD(threads), 0, 1024, "0",
     "worker threads, one io_uring each; 0 = number of cores"},
    {"web-root", "RINGPAD_WEB_ROOT", OPT_STRING, FIELD(web_root), 0, CONFIG_PATH_MAX_BYTES, "",
     "folder of the web editor; empty = <binary>/../share/ringpad/web"},
    {"log-level", "RINGPAD_LOG_LEVEL", OPT_LOG_LEVEL, FIELD(log_level), 0, 0, "info",
     "debug, info, warn, error or off"},
    {"max-connections", "RINGPAD_MAX_CONNECTIONS", OPT_U32, FIELD(max_connections), 0, 10000000, "0",
     "open connections, all workers together; beyond: 503; 0 = what the file descriptor limit allows"},
    {"max-connections-per-ip", "RINGPAD_MAX_CONNECTIONS_PER_IP", OPT_U32, FIELD(max_connections_per_ip), 0,
     10000000, "0", "open connections per client address; beyond: 503; 0 = unlimited"},
    {"max-message-bytes", "RINGPAD_MAX_MESSAGE_BYTES", OPT_BYTES, FIELD(max_message_bytes), 126, 1024 * MIB,
     "1m", "largest WebSocket message (after inflate); beyond: close 1009"},
    {"max-send-queue-bytes", "RINGPAD_MAX_SEND_QUEUE_BYTES", OPT_BYTES, FIELD(max_send_queue_bytes), 1024,
     4096 * MIB, "4m", "outbound bytes queued per connection; beyond: close 1008 slow consumer"},
    {"max-messages-per-sec", "RINGPAD_MAX_MESSAGES_PER_SEC", OPT_U32, FIELD(max_messages_per_sec), 0,
     100000000, "10000", "messages (pings and pongs included) per second per connection (token bucket, burst = 1 s); 0 = unlimited"},
    {"ping-interval-ms", "RINGPAD_PING_INTERVAL_MS", OPT_U32, FIELD(ping_interval_ms), 0, 86400000, "30000",
     "server ping after this much silence from a client; 0 = no heartbeat"},
    {"idle-timeout-ms", "RINGPAD_IDLE_TIMEOUT_MS", OPT_U32, FIELD(idle_timeout_ms), 0, 86400000, "75000",
     "drop a WebSocket silent this long (TCP closed, reported as 1006); 0 = never"},
    {"handshake-timeout-ms", "RINGPAD_HANDSHAKE_TIMEOUT_MS", OPT_U32, FIELD(handshake_timeout_ms), 1,
     3600000, "10000", "time to send a complete HTTP request / upgrade"},
    {"close-timeout-ms", "RINGPAD_CLOSE_TIMEOUT_MS", OPT_U32, FIELD(close_timeout_ms), 1, 3600000, "5000",
     "wait this long for the peer's close frame before closing TCP"},
    {"shutdown-grace-ms", "RINGPAD_SHUTDOWN_GRACE_MS", OPT_U32, FIELD(shutdown_grace_ms), 0, 3600000, "5000",
     "on SIGTERM/SIGINT, wait this long for close replies and pending writes"},
    {"allowed-origins", "RINGPAD_ALLOWED_ORIGINS", OPT_STRING, FIELD(allowed_origins), 0,
     CONFIG_ORIGINS_MAX_BYTES, "", "comma-separated Origin allow-list for /ws (an upgrade without Origin is then refused); empty = any"},
    {"no-deflate", "RINGPAD_NO_DEFLATE", OPT_BOOL, FIELD(no_deflate), 0, 0, "false",
     "do not negotiate permessage-deflate"},
    {"zerocopy-min-bytes", "RINGPAD_ZEROCOPY_MIN_BYTES", OPT_BYTES, FIELD(zerocopy_min_bytes), 0,
     1024 * MIB, "16k", "sends of at least this many bytes use IORING_OP_SEND_ZC (break-even measured at 8-16 KiB); 0 = never"},
    {"enable-echo", "RINGPAD_ENABLE_ECHO", OPT_BOOL, FIELD(enable_echo), 0, 0, "false",
     "serve the /echo WebSocket endpoint (transport benchmarks)"},
    {"data-dir", "RINGPAD_DATA_DIR", OPT_STRING, FIELD(data_dir), 0, CONFIG_PATH_MAX_BYTES, "./data",
     "folder of the document logs and snapshots (created if missing)"},
    {"fsync", "RINGPAD_FSYNC", OPT_STRING, FIELD(fsync), 0, 16, "always",
     "always: ack an op after it is fsynced (group commit); interval: after the write, fsync periodically"},
    {"fsync-interval-ms", "RINGPAD_FSYNC_INTERVAL_MS", OPT_U32, FIELD(fsync_interval_ms), 1, 3600000, "1000",
     "--fsync=interval: fsync at most this often"},
    {"auth-secret", "RINGPAD_AUTH_SECRET", OPT_STRING, FIELD(auth_secret), 0, CONFIG_PATH_MAX_BYTES, "",
     "HS256 secret (16..1024 bytes): tokens required; empty = open mode"},
    {"auth-secret-file", "RINGPAD_AUTH_SECRET_FILE", OPT_STRING, FIELD(auth_secret_file), 0,
     CONFIG_PATH_MAX_BYTES, "", "read the HS256 secret from this file (one trailing newline ignored); wins over --auth-secret"},
    {"accept-data-loss", "RINGPAD_ACCEPT_DATA_LOSS", OPT_BOOL, FIELD(accept_data_loss), 0, 0, "false",
     "start even when a document's log misses ops it is known to have had (an emptied or removed segment); "
     "each loss is logged with its version range"},
    {"allow-open", "RINGPAD_ALLOW_OPEN", OPT_BOOL, FIELD(allow_open), 0, 0, "false",
     "allow open mode (no secret) on a non-loopback --host"},
    {"max-doc-codepoints", "RINGPAD_MAX_DOC_CODEPOINTS", OPT_BYTES, FIELD(max_doc_codepoints), 1,
     1ull << 32, "16m", "largest document, in code points; beyond: doc_too_large"},
    {"max-op-bytes", "RINGPAD_MAX_OP_BYTES", OPT_BYTES, FIELD(max_op_bytes), 64, 64 * MIB, "1m",
     "inserted text per op; beyond: op_too_large"},
    {"max-op-components", "RINGPAD_MAX_OP_COMPONENTS", OPT_U32, FIELD(max_op_components), 1, 1u << 24, "65536",
     "components per op; beyond: op_too_large"},
    {"history-depth", "RINGPAD_HISTORY_DEPTH", OPT_U32, FIELD(history_depth), 1, 1000000, "1000",
     "ops kept per document for late ops and reconnects; older: version_too_old"},
    {"history-memory-bytes", "RINGPAD_HISTORY_MEMORY_BYTES", OPT_BYTES, FIELD(history_memory_bytes), 65536,
     1024 * 1024 * MIB, "4m",
     "memory one document's history may hold: of its --history-depth ops, the newest that fit stay in memory"},
    {"memory-budget", "RINGPAD_MEMORY_BUDGET", OPT_BYTES, FIELD(memory_budget), 0, 1024 * 1024 * MIB, "0",
     "memory for all documents and what is in flight; documents keep to half of it, shedding old history first, "
     "then unloading idle documents; 0 = a quarter of the RAM"},
    {"history-retention", "RINGPAD_HISTORY_RETENTION", OPT_STRING, FIELD(history_retention), 0, 32, "all",
     "what the log on disk (in cluster mode, the Redis stream) keeps: all (every op), a count of ops (100000) or an "
     "age (30d, 12h, 90m)"},
    {"checkpoint-ops", "RINGPAD_CHECKPOINT_OPS", OPT_U32, FIELD(checkpoint_ops), 1, 10000000, "1000",
     "write a checkpoint (the text at a version, beside the log) at most this many ops after the last"},
    {"checkpoint-bytes", "RINGPAD_CHECKPOINT_BYTES", OPT_BYTES, FIELD(checkpoint_bytes), 4096, 1ull << 40,
     "16m", "... or once the active log segment is this large"},
    {"max-open-docs", "RINGPAD_MAX_OPEN_DOCS", OPT_U32, FIELD(max_open_docs), 1, 100000, "64",
     "documents open at once on one connection; beyond: too_many_docs"},
    {"presence-per-sec", "RINGPAD_PRESENCE_PER_SEC", OPT_U32, FIELD(presence_per_sec), 1, 100000, "20",
     "presence messages per second per session and document; beyond: rate_limited"},
    {"max-doc-name-bytes", "RINGPAD_MAX_DOC_NAME_BYTES", OPT_U32, FIELD(max_doc_name_bytes), 1, 200, "200",
     "longest document name; beyond: bad_doc_name"},
    {"doc-idle-ms", "RINGPAD_DOC_IDLE_MS", OPT_U32, FIELD(doc_idle_ms), 0, 86400000, "60000",
     "unload a document from memory this long after its last subscriber left"},
    {"tls-cert", "RINGPAD_TLS_CERT", OPT_STRING, FIELD(tls_cert), 0, CONFIG_PATH_MAX_BYTES, "",
     "PEM certificate chain (leaf first): serve https:// and wss:// instead of plaintext; SIGHUP reloads"},
    {"tls-key", "RINGPAD_TLS_KEY", OPT_STRING, FIELD(tls_key), 0, CONFIG_PATH_MAX_BYTES, "",
     "PEM private key for --tls-cert"},
    {"tls-min-version", "RINGPAD_TLS_MIN_VERSION", OPT_STRING, FIELD(tls_min_version), 0, 8, "1.3",
     "oldest TLS version accepted: 1.2 or 1.3"},
    {"webhook-url", "RINGPAD_WEBHOOK_URL", OPT_LIST, FIELD(webhook_urls), 0, CONFIG_URLS_MAX_BYTES, "",
     "POST document created/changed/deleted notifications here (http://host:port/path); repeatable"},
    {"webhook-secret", "RINGPAD_WEBHOOK_SECRET", OPT_STRING, FIELD(webhook_secret), 0, CONFIG_PATH_MAX_BYTES, "",
     "sign webhook bodies: X-Ringpad-Signature: sha256=<hex HMAC-SHA256 of the body>"},
    {"webhook-debounce-ms", "RINGPAD_WEBHOOK_DEBOUNCE_MS", OPT_U32, FIELD(webhook_debounce_ms), 0, 3600000, "1000",
     "a changed notification waits for this much quiet on its document (at most 10 times as long)"},
    {"webhook-text", "RINGPAD_WEBHOOK_TEXT", OPT_BOOL, FIELD(webhook_text), 0, 0, "false",
     "created and changed notifications carry the document's text at v"},
    {"redis", "RINGPAD_REDIS", OPT_STRING, FIELD(redis), 0, CONFIG_HOST_MAX_BYTES, "",
     "cluster mode: documents live in this Redis (redis://HOST:PORT[/DB]); empty: single node"},
    {"node-id", "RINGPAD_NODE_ID", OPT_STRING, FIELD(node_id), 0, CONFIG_HOST_MAX_BYTES, "",
     "this node's name in the cluster (empty: host:port)"},
    {"cluster-prefix", "RINGPAD_CLUSTER_PREFIX", OPT_STRING, FIELD(cluster_prefix), 0, 64, "ringpad:",
     "prefix of every Redis key of the cluster"},
    {"lease-ms", "RINGPAD_LEASE_MS", OPT_U32, FIELD(lease_ms), 300, 600000, "3000",
     "a document's ownership lease; renewed every third of it, writes stop at its end"},
};

#define OPT_COUNT (sizeof opt_table / sizeof opt_table[0])

/* Strict unsigned decimal: no sign, no spaces, no empty string, no overflow. */
static int parse_u64(const char *s, uint64_t *out, const char **end) {
    if (*s < '0' || *s > '9') return -EINVAL;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -ERANGE;
        v = v * 10 + d;
        s++;
    }
    *out = v;
    *end = s;
    return 0;
}

static int parse_bool(const char *s, bool *out) {
    static const char *const yes[] = {"1", "true", "yes", "on"};
    static const char *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(s, yes[i]) == 0) { *out = true; return 0; }
        if (strcasecmp(s, no[i]) == 0) { *out = false; return 0; }
    }
    return -EINVAL;
}

/* `source` names where the value came from, for the error message. */
/* "all" (both 0), a count of ops, or an age with a unit (s, m, h, d). */
static int parse_retention(const char *s, uint64_t *ops, uint64_t *age_ms) {
    *ops = 0;
    *age_ms = 0;
    if (strcmp(s, "all") == 0) return 0;
    const char *end = NULL;
    uint64_t n = 0;
    if (parse_u64(s, &n, &end) != 0 || n == 0) return -1;
    static const struct { char unit; uint64_t ms; } units[] = {
        {'s', 1000ull}, {'m', 60000ull}, {'h', 3600000ull}, {'d', 86400000ull},
    };
    if (*end == '\0') {
        *ops = n;
        return 0;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        if (end[0] == units[i].unit && end[1] == '\0' && n <= UINT64_MAX / units[i].ms / 2) {
            *age_ms = n * units[i].ms;
            return 0;
        }
    }
    return -1;
}

/* A repeatable flag: each value on its own line of the field (capacity cap). */
static int append_line(char *field, uint64_t cap, const char *value, const char *source, char *err, size_t err_len) {
    size_t have = strlen(field), len = strlen(value);
    if (len == 0) return CONFIG_OK;
    if (strpbrk(value, "\r\n") != NULL) {
        errmsg_set(err, err_len, "%s: a value holds a line break", source);
        return CONFIG_ERR;
    }
    if (have + (have > 0) + len >= cap) {
        errmsg_set(err, err_len, "%s: the values together are too long (at most %" PRIu64 " bytes)", source, cap - 1);
        return CONFIG_ERR;
    }
    if (have > 0) field[have++] = '\n';
    memcpy(field + have, value, len + 1);
    return CONFIG_OK;
}

static int apply(config *cfg, const opt_spec *o, const char *value, const char *source, char *err,
                 size_t err_len) {
    char *field = (char *)cfg + o->offset;
    switch (o->kind) {
    case OPT_U32:
    case OPT_BYTES: {
        uint64_t v = 0;
        const char *end = value;
        int rc = parse_u64(value, &v, &end);
        if (rc == 0 && o->kind == OPT_BYTES && *end != '\0') {
            uint64_t mul = 0;
            switch (*end) {
            case 'k': case 'K': mul = 1024ull; break;
            case 'm': case 'M': mul = MIB; break;
            case 'g': case 'G': mul = 1024ull * MIB; break;
            default: break;
            }
            if (mul != 0 && end[1] == '\0') {
                if (v > UINT64_MAX / mul) rc = -ERANGE;
                else v *= mul;
                end++;
            }
        }
        if (rc == -ERANGE || (rc == 0 && *end == '\0' && (v < o->min || v > o->max))) {
            errmsg_set(err, err_len, "%s: '%s' is out of range %" PRIu64 "..%" PRIu64, source, value,
                    o->min, o->max);
            return CONFIG_ERR;
        }
        if (rc != 0 || *end != '\0') {
            errmsg_set(err, err_len, "%s: '%s' is not %s", source, value,
                    o->kind == OPT_BYTES ? "a byte count (digits with an optional k, m or g suffix)"
                                         : "a non-negative decimal integer");
            return CONFIG_ERR;
        }
        if (o->kind == OPT_U32) *(uint32_t *)(void *)field = (uint32_t)v;
        else *(uint64_t *)(void *)field = v;
        return CONFIG_OK;
    }
    case OPT_STRING:
    case OPT_HOST: {
        size_t len = strlen(value);
        if (len >= o->max) {
            errmsg_set(err, err_len, "%s: value is too long (%zu bytes, at most %" PRIu64 ")", source, len,
                    o->max - 1);
            return CONFIG_ERR;
        }
        if (o->kind == OPT_HOST) {
            char tmp[CONFIG_HOST_MAX_BYTES];
            const char *h = value;
            if (len >= 2 && value[0] == '[' && value[len - 1] == ']') {
                memcpy(tmp, value + 1, len - 2);
                tmp[len - 2] = '\0';
                h = tmp;
            }
            unsigned char addr[16];
            if (strcmp(h, "localhost") == 0) h = "127.0.0.1";
            if (inet_pton(AF_INET, h, addr) != 1 && inet_pton(AF_INET6, h, addr) != 1) {
                errmsg_set(err, err_len, "%s: '%s' is not an IPv4 or IPv6 address", source, value);
                return CONFIG_ERR;
            }
            memmove(field, h, strlen(h) + 1);
            return CONFIG_OK;
        }
        memcpy(field, value, len + 1);
        return CONFIG_OK;
    }
    case OPT_LIST: return append_line(field, o->max, value, source, err, err_len);
    case OPT_BOOL: {
        bool b = false;
        if (parse_bool(value, &b) != 0) {
            errmsg_set(err, err_len, "%s: '%s' is not a boolean (true/false, 1/0, yes/no, on/off)", source, value);
            return CONFIG_ERR;
        }
        *(bool *)(void *)field = b;
        return CONFIG_OK;
    }
    case OPT_LOG_LEVEL: {
        int level = log_level_parse(value);
        if (level < 0) {
            errmsg_set(err, err_len, "%s: '%s' is not a log level (debug, info, warn, error, off)", source, value);
            return CONFIG_ERR;
        }
        *(int *)(void *)field = level;
        return CONFIG_OK;
    }
    }
    return CONFIG_ERR;
}

void config_defaults(config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    for (size_t i = 0; i < OPT_COUNT; i++) {
        int rc = apply(cfg, &opt_table[i], opt_table[i].def, "default", NULL, 0);
        (void)rc; /* the table's own defaults are covered by the tests */
    }
}

static const char *env_lookup(char *const envp[], const char *name) {
    if (envp == NULL) return NULL;
    size_t n = strlen(name);
    for (size_t i = 0; envp[i] != NULL; i++)
        if (strncmp(envp[i], name, n) == 0 && envp[i][n] == '=') return envp[i] + n + 1;
    return NULL;
}

static const opt_spec *find_flag(const char *name, size_t len) {
    for (size_t i = 0; i < OPT_COUNT; i++)
        if (strlen(opt_table[i].flag) == len && memcmp(opt_table[i].flag, name, len) == 0) return &opt_table[i];
    return NULL;
}

config_result config_parse(config *cfg, int argc, char *const argv[], char *const envp[], char *err,
                           size_t err_len) {
    config_defaults(cfg);
    if (err != NULL && err_len > 0) err[0] = '\0';
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const char *v = env_lookup(envp, opt_table[i].env);
        if (v == NULL) continue;
        char source[64];
        snprintf(source, sizeof source, "%s", opt_table[i].env);
        if (apply(cfg, &opt_table[i], v, source, err, err_len) != CONFIG_OK) return CONFIG_ERR;
    }
    int i = 1;
    if (i < argc && strcmp(argv[i], "serve") == 0) i++;
    for (; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) return CONFIG_HELP;
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            errmsg_set(err, err_len, "unexpected argument '%s' (see --help)", arg);
            return CONFIG_ERR;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq != NULL ? (size_t)(eq - name) : strlen(name);
        const opt_spec *o = find_flag(name, name_len);
        if (o == NULL) {
            errmsg_set(err, err_len, "unknown flag '--%.*s' (see --help)", (int)name_len, name);
            return CONFIG_ERR;
        }
        char source[64];
        snprintf(source, sizeof source, "--%s", o->flag);
        const char *value = NULL;
        if (eq != NULL) value = eq + 1;
        else if (o->kind == OPT_BOOL) value = "true";
        else if (i + 1 < argc) value = argv[++i];
        else {
            errmsg_set(err, err_len, "%s needs a value (see --help)", source);
            return CONFIG_ERR;
        }
        if (apply(cfg, o, value, source, err, err_len) != CONFIG_OK) return CONFIG_ERR;
    }
    if (cfg->threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        cfg->threads = cores < 1 ? 1u : cores > 1024 ? 1024u : (uint32_t)cores;
    }
    if (strcmp(cfg->fsync, "always") != 0 && strcmp(cfg->fsync, "interval") != 0) {
        errmsg_set(err, err_len, "--fsync: '%s' is not always or interval", cfg->fsync);
        return CONFIG_ERR;
    }
    if (parse_retention(cfg->history_retention, &cfg->retention_ops, &cfg->retention_age_ms) != 0) {
        errmsg_set(err, err_len, "--history-retention: '%s' is not all, a count of ops (100000) or an age "
                "(30d, 12h, 90m, 45s)", cfg->history_retention);
        return CONFIG_ERR;
    }
    if ((cfg->tls_cert[0] == '\0') != (cfg->tls_key[0] == '\0')) {
        errmsg_set(err, err_len, "--tls-cert and --tls-key go together (one is missing)");
        return CONFIG_ERR;
    }
    if (strcmp(cfg->tls_min_version, "1.2") != 0 && strcmp(cfg->tls_min_version, "1.3") != 0) {
        errmsg_set(err, err_len, "--tls-min-version: '%s' is not 1.2 or 1.3", cfg->tls_min_version);
        return CONFIG_ERR;
    }
    if (cfg->redis[0] != '\0' && config_redis_parse(cfg->redis, NULL, 0, NULL, NULL) != 0) {
        errmsg_set(err, err_len, "--redis: '%s' is not redis://HOST:PORT[/DB]", cfg->redis);
        return CONFIG_ERR;
    }
    if (cfg->max_send_queue_bytes < cfg->max_message_bytes / 4) {
        /* A queue smaller than a quarter message would evict every client that
         * receives one large message; refuse the combination rather than guess. */
        errmsg_set(err, err_len, "--max-send-queue-bytes (%" PRIu64 ") must be at least a quarter of "
                "--max-message-bytes (%" PRIu64 ")", cfg->max_send_queue_bytes, cfg->max_message_bytes);
        return CONFIG_ERR;
    }
    return CONFIG_OK;
}

/* The commands besides serving; listed by --help and the man page. */
typedef struct command_spec {
    const char *usage;     /* after "ringpad " */
    const char *help;
} command_spec;

static const command_spec command_table[] = {
    {"[serve] [flags]", "serve HTTP and WebSocket (the default command)"},
    {"check-config [flags]",
     "check the flags, the auth secret, the TLS files, the web root and that the data dir exists (or can be "
     "created) and is writable, then exit: 0 when the server would start, 1 or 2 with the reason otherwise"},
    {"token --sub ID [--doc PATTERN:ROLE]... [--ttl DURATION]",
     "print an HS256 access token signed with the server's secret (ringpad token --help)"},
    {"cert --cert FILE --key FILE [--ca] [--days N]",
     "write a development TLS certificate and key (ringpad cert --help)"},
    {"--version", "print the version, git commit, build mode and library versions"},
    {"--help, -h", "print this help"},
};

#define COMMAND_COUNT (sizeof command_table / sizeof command_table[0])

static const char *opt_arg_name(const opt_spec *o) {
    switch (o->kind) {
    case OPT_BOOL: return "";
    case OPT_BYTES: return " BYTES";
    case OPT_U32: return " N";
    case OPT_LOG_LEVEL: return " LEVEL";
    case OPT_HOST: return " ADDR";
    case OPT_STRING: return " TEXT";
    case OPT_LIST: return " TEXT (repeatable)";
    }
    return " TEXT";
}

void config_print_help(FILE *out) {
    fprintf(out, "usage:\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        const command_spec *c = &command_table[i];
        fprintf(out, "  ringpad %s\n      %s\n", c->usage, c->help);
    }
    fprintf(out,
            "\n"
            "Collaborative plain-text editing server (HTTP/1.1 + WebSocket on io_uring).\n"
            "Every flag can also be set by its environment variable; flags win.\n"
            "Values: --flag value or --flag=value; byte counts accept k, m, g (KiB, MiB, GiB).\n"
            "\n"
            "flags (serve and check-config):\n");
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const opt_spec *o = &opt_table[i];
        char left[64];
        snprintf(left, sizeof left, "--%s%s", o->flag, opt_arg_name(o));
        fprintf(out, "  %-32s %s\n  %-32s [env %s] (default: %s)\n", left, o->help, "", o->env,
                o->def[0] != '\0' ? o->def : "empty");
    }
    fprintf(out, "  %-32s %s\n", "--help, -h", "print this help and exit");
}

/* roff text: a backslash is doubled, '-' is a real hyphen-minus, and a line
 * must not start with a control character. */
static void roff_text(FILE *out, const char *s) {
    if (*s == '.' || *s == '\'') fputs("\\&", out);
    for (; *s != '\0'; s++) {
        if (*s == '\\') fputs("\\e", out);
        else if (*s == '-') fputs("\\-", out);
        else fputc(*s, out);
    }
}

void config_print_man(FILE *out, const char *version) {
    fprintf(out, ".TH RINGPAD 1 \"\" \"ringpad ");
    roff_text(out, version);
    fprintf(out, "\" \"User Commands\"\n"
                 ".SH NAME\n"
                 "ringpad \\- collaborative plain\\-text editing server (HTTP/1.1 and WebSocket on io_uring)\n"
                 ".SH SYNOPSIS\n");
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        fputs(".B ringpad\n", out);
        roff_text(out, command_table[i].usage);
        fputs("\n.br\n", out);
    }
    fputs(".SH DESCRIPTION\n"
          "Serves a web editor and the ringpad.v1 WebSocket protocol on /ws, a REST API on /api/docs, "
          "/healthz and Prometheus /metrics. Every flag can also be set by its environment variable; "
          "flags win. Byte counts accept k, m, g (KiB, MiB, GiB).\n"
          ".SH COMMANDS\n", out);
    for (size_t i = 0; i < COMMAND_COUNT; i++) {
        fputs(".TP\n.B ", out);
        roff_text(out, command_table[i].usage);
        fputc('\n', out);
        roff_text(out, command_table[i].help);
        fputc('\n', out);
    }
    fputs(".SH OPTIONS\n", out);
    for (size_t i = 0; i < OPT_COUNT; i++) {
        const opt_spec *o = &opt_table[i];
        fprintf(out, ".TP\n.BR \\-\\-");
        roff_text(out, o->flag);
        const char *arg = opt_arg_name(o);
        if (arg[0] != '\0') fprintf(out, " \" %s\"", arg + 1);
        fputc('\n', out);
        roff_text(out, o->help);
        fputs(" (environment ", out);
        roff_text(out, o->env);
        fputs("; default: ", out);
        roff_text(out, o->def[0] != '\0' ? o->def : "empty");
        fputs(")\n", out);
    }
    fputs(".SH SIGNALS\n"
          "SIGTERM or SIGINT: /healthz answers 503, every WebSocket gets close 1001, the server waits up to "
          "\\-\\-shutdown\\-grace\\-ms and exits 0. SIGHUP reloads the TLS certificate and key.\n"
          ".SH SEE ALSO\n"
          "docs/operations.md in the source tree: production build, systemd, reverse proxies, backups.\n",
          out);
}

int config_redis_parse(const char *url, char *host, size_t host_cap, uint32_t *port, uint32_t *db) {
    static const char scheme[] = "redis://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0) return -EINVAL;
    const char *h = url + sizeof scheme - 1;
    const char *colon = strrchr(h, ':');
    if (colon == NULL || colon == h) return -EINVAL;
    size_t hlen = (size_t)(colon - h);
    char *end = NULL;
    errno = 0;
    unsigned long p = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || p == 0 || p > 65535) return -EINVAL;
    unsigned long d = 0;
    if (*end == '/') {
        const char *ds = end + 1;
        d = strtoul(ds, &end, 10);
        if (end == ds || d > 15) return -EINVAL;
    }
    if (*end != '\0') return -EINVAL;
    if (host != NULL) {
        if (hlen + 1 > host_cap) return -EINVAL;
        memcpy(host, h, hlen);
        host[hlen] = '\0';
    }
    if (port != NULL) *port = (uint32_t)p;
    if (db != NULL) *db = (uint32_t)d;
    return 0;
}
