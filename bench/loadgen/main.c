/*
 * ringpad-bench: the io_uring load generator for ringpad (and for any server
 * that speaks ringpad.v1, or any RFC 6455 echo server for --scenario echo).
 * See bench/loadgen/README.md.
 */
#include "engine.h"
#include "report.h"
#include "spread.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

static void usage(FILE *out) {
    fprintf(out,
            "usage: ringpad-bench [options]\n"
            "  --scenario S       docs | hot | fanout | storm | paste | idle | echo | tls   (docs)\n"
            "  --host H           server address, loopback only unless --allow-remote (127.0.0.1)\n"
            "  --port P[,P...]    (8080); several: connections spread over servers on --host (fanout:\n"
            "                     writers on the first, readers in turn over all; else connection i on i mod n)\n"
            "  --path P           WebSocket path (/ws; /echo for the echo scenario)\n"
            "  --connections N    simultaneous connections (100)\n"
            "  --docs D           documents (docs, paste: connections/4; hot, fanout: 1)\n"
            "  --threads T        load generator threads, one io_uring each (1)\n"
            "  --duration-s S     measured window, 0.1..3600 (10)\n"
            "  --warmup-s S       before the window, not measured (1)\n"
            "  --rate R           open loop: R edits/s in total; 0 = closed loop (0)\n"
            "  --message-bytes B  echo message size (1024); paste insert size (65536);\n"
            "                     other edit scenarios: insert size (0 = 1..8, like typing)\n"
            "  --target-doc-codepoints N  edits hover around this length (2000; paste 4x B)\n"
            "  --connect-timeout-s S  connect phase bound (30)\n"
            "  --drain-timeout-s S    drain and convergence check bounds, each (10)\n"
            "  --server-pid P     read the server's VmRSS (idle) and its CPU time in the window from /proc/P\n"
            "  --json FILE        also write the results as JSON\n"
            "  --seed N           random seed (1)\n"
            "  --allow-remote     allow a non-loopback --host\n"
            "  --quiet            no progress lines on stderr\n"
            "  --tls              wss:// (any scenario; the tls scenario always): handshake, then the upgrade\n"
            "  --tls-version V    1.2 | 1.3, that version only (1.3)\n"
            "  --tls-resume       each thread resumes one session (ticket) after its first handshake\n"
            "  --tls-ca FILE      verify the server's chain against this PEM CA (default: no verification)\n"
            "  --tls-server-name N  SNI and the name verified (localhost)\n"
            "Exit status: 0 ok, 1 the run failed (divergence, refused ops, errors), 2 bad usage.\n");
}

static bool is_loopback(const struct sockaddr_storage *a) {
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)a;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)a;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

static int resolve(lg_config *cfg) {
    struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *res = NULL;
    char port[8];
    snprintf(port, sizeof port, "%u", (unsigned)cfg->port);
    int rc = getaddrinfo(cfg->host, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "ringpad-bench: --host %s: %s\n", cfg->host, gai_strerror(rc));
        return -1;
    }
    memcpy(&cfg->addr, res->ai_addr, res->ai_addrlen);
    cfg->addr_len = res->ai_addrlen;
    freeaddrinfo(res);
    /* the other servers differ only in the port */
    for (uint32_t i = 0; i < cfg->nservers; i++) {
        cfg->addrs[i] = cfg->addr;
        if (cfg->addr.ss_family == AF_INET6) ((struct sockaddr_in6 *)&cfg->addrs[i])->sin6_port = htons(cfg->ports[i]);
        else ((struct sockaddr_in *)&cfg->addrs[i])->sin_port = htons(cfg->ports[i]);
    }
    return 0;
}

/* Raises RLIMIT_NOFILE to what the run needs; explains when it cannot. */
static int raise_nofile(uint64_t need) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
    if (rl.rlim_cur >= need) return 0;
    if (rl.rlim_max < need) {
        struct rlimit want = {need, need};
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) return 0;   /* CAP_SYS_RESOURCE */
        fprintf(stderr,
                "ringpad-bench: needs %llu file descriptors but the hard limit (RLIMIT_NOFILE) is %llu.\n"
                "  Raise it before running, e.g. `ulimit -Hn %llu && ulimit -n %llu` as root, LimitNOFILE= in a\n"
                "  systemd unit, or nofile in /etc/security/limits.conf (and fs.nr_open if above it);\n"
                "  or use fewer --connections (at most about %llu now).\n",
                (unsigned long long)need, (unsigned long long)rl.rlim_max, (unsigned long long)need,
                (unsigned long long)need, (unsigned long long)(rl.rlim_max > 64 ? rl.rlim_max - 64 : 0));
        return -1;
    }
    rl.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
        perror("ringpad-bench: setrlimit(RLIMIT_NOFILE)");
        return -1;
    }
    return 0;
}

static int parse_double(const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < lo || v > hi) return -1;
    *out = v;
    return 0;
}

/* --port P[,P...]: the first is the server of the single-server fields. */
static int set_ports(lg_config *cfg, const char *arg) {
    int n = lg_parse_ports(arg, cfg->ports, LG_MAX_SERVERS);
    if (n < 1) return -1;
    cfg->nservers = (uint32_t)n;
    cfg->port = cfg->ports[0];
    return 0;
}

static void config_defaults(lg_config *cfg) {
    memset(cfg, 0, sizeof *cfg);
    snprintf(cfg->host, sizeof cfg->host, "127.0.0.1");
    cfg->port = 8080;
    cfg->nservers = 1;
    cfg->ports[0] = 8080;
    cfg->connections = 100;
    cfg->threads = 1;
    cfg->duration_s = 10;
    cfg->warmup_s = 1;
    cfg->seed = 1;
    cfg->connect_timeout_s = 30;
    cfg->drain_timeout_s = 10;
    cfg->max_connecting_per_thread = 256;
}

/* The values the scenario implies for the options not given. Returns 0, or -1
 * after printing why the combination cannot run. */
static int settle_config(lg_config *cfg, bool have_docs, bool have_bytes, bool have_target) {
    lg_scenario sc = cfg->scenario;
    if (sc == LG_SC_TLS) cfg->tls = true;
    if (!cfg->tls && (cfg->tls_version || cfg->tls_resume || cfg->tls_ca[0] || cfg->tls_server_name[0])) {
        fprintf(stderr, "ringpad-bench: --tls-* options need --tls (or --scenario tls)\n");
        return -1;
    }
    if (cfg->tls && cfg->tls_version == 0) cfg->tls_version = 13;
    if (cfg->path[0] == '\0') snprintf(cfg->path, sizeof cfg->path, "%s", sc == LG_SC_ECHO ? "/echo" : "/ws");
    if (!have_docs) {
        if (sc == LG_SC_HOT || sc == LG_SC_FANOUT) cfg->docs = 1;
        else cfg->docs = cfg->connections / 4 ? cfg->connections / 4 : 1;
    }
    if (cfg->docs > cfg->connections) cfg->docs = cfg->connections;
    if (!have_bytes) cfg->message_bytes = sc == LG_SC_ECHO ? 1024 : sc == LG_SC_PASTE ? 65536 : 0;
    if (sc == LG_SC_ECHO && cfg->message_bytes == 0) {
        fprintf(stderr, "ringpad-bench: echo needs --message-bytes >= 1\n");
        return -1;
    }
    if (!have_target) cfg->target_doc_codepoints = sc == LG_SC_PASTE ? 4ull * cfg->message_bytes : 2000;
    if (cfg->threads > cfg->connections) cfg->threads = cfg->connections;
    cfg->seed = cfg->seed ? cfg->seed : 1;
    snprintf(cfg->doc_prefix, sizeof cfg->doc_prefix, "bench/%s-%llx-%d/d", lg_scenario_str(sc),
             (unsigned long long)cfg->seed, (int)getpid());
    return 0;
}

/* Runs the load, prints the table (and the JSON report); the exit status. */
static int run_and_report(const lg_config *cfg, const char *json_path) {
    lg_scenario sc = cfg->scenario;
    if (!cfg->quiet)
        fprintf(stderr, "ringpad-bench: %s%s, %u connections over %u threads, %.1f s + %.1f s warm-up\n",
                lg_scenario_str(sc), cfg->tls && sc != LG_SC_TLS ? " over TLS" : "", cfg->connections,
                cfg->threads, cfg->duration_s, cfg->warmup_s);
    lg_stats *st = malloc(sizeof *st);
    if (st == NULL) return 1;
    char err[256] = "";
    int rc = lg_run(cfg, st, err, sizeof err);
    if (rc < 0) {
        fprintf(stderr, "ringpad-bench: %s\n", err);
        free(st);
        return 1;
    }
    lg_report_table(stdout, cfg, st);
    if (json_path) {
        FILE *f = fopen(json_path, "w");
        if (f == NULL || lg_report_json(f, cfg, st) != 0 || fclose(f) != 0) {
            fprintf(stderr, "ringpad-bench: --json %s: %s\n", json_path, strerror(errno));
            free(st);
            return 1;
        }
    }
    int failed = lg_report_failed(cfg, st);
    free(st);
    return failed ? 1 : 0;
}

int main(int argc, char **argv) {
    lg_config cfg;
    config_defaults(&cfg);
    bool have_docs = false, have_bytes = false, have_target = false, allow_remote = false;
    const char *json_path = NULL;

    enum { O_SCEN = 256, O_HOST, O_PORT, O_PATH, O_CONN, O_DOCS, O_THR, O_DUR, O_WARM, O_RATE, O_BYTES,
           O_TARGET, O_CTO, O_DTO, O_PID, O_JSON, O_SEED, O_REMOTE, O_QUIET, O_HELP,
           O_TLS, O_TLS_VERSION, O_TLS_RESUME, O_TLS_CA, O_TLS_NAME };
    static const struct option opts[] = {
        {"scenario", 1, 0, O_SCEN}, {"host", 1, 0, O_HOST}, {"port", 1, 0, O_PORT},
        {"path", 1, 0, O_PATH}, {"connections", 1, 0, O_CONN}, {"docs", 1, 0, O_DOCS},
        {"threads", 1, 0, O_THR}, {"duration-s", 1, 0, O_DUR}, {"warmup-s", 1, 0, O_WARM},
        {"rate", 1, 0, O_RATE}, {"message-bytes", 1, 0, O_BYTES},
        {"target-doc-codepoints", 1, 0, O_TARGET}, {"connect-timeout-s", 1, 0, O_CTO},
        {"drain-timeout-s", 1, 0, O_DTO}, {"server-pid", 1, 0, O_PID}, {"json", 1, 0, O_JSON},
        {"seed", 1, 0, O_SEED}, {"allow-remote", 0, 0, O_REMOTE}, {"quiet", 0, 0, O_QUIET},
        {"help", 0, 0, O_HELP}, {"tls", 0, 0, O_TLS}, {"tls-version", 1, 0, O_TLS_VERSION},
        {"tls-resume", 0, 0, O_TLS_RESUME}, {"tls-ca", 1, 0, O_TLS_CA}, {"tls-server-name", 1, 0, O_TLS_NAME},
        {0, 0, 0, 0}};
    int o;
    uint64_t u;
    int bad = 0;
    while (!bad && (o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case O_SCEN: {
            int s = lg_scenario_parse(optarg);
            if (s < 0) {
                fprintf(stderr, "ringpad-bench: --scenario %s: unknown\n", optarg);
                return 2;
            }
            cfg.scenario = (lg_scenario)s;
            break;
        }
        case O_HOST:
            if (strlen(optarg) >= sizeof cfg.host) bad = o;
            else snprintf(cfg.host, sizeof cfg.host, "%s", optarg);
            break;
        case O_PORT: bad = set_ports(&cfg, optarg) ? o : 0; break;
        case O_PATH:
            if (optarg[0] != '/' || strlen(optarg) >= sizeof cfg.path || strpbrk(optarg, " \r\n")) bad = o;
            else snprintf(cfg.path, sizeof cfg.path, "%s", optarg);
            break;
        case O_CONN: bad = parse_u64(optarg, 1, LG_MAX_CONNECTIONS, &u) ? o : 0; cfg.connections = (uint32_t)u; break;
        case O_DOCS: bad = parse_u64(optarg, 1, LG_MAX_CONNECTIONS, &u) ? o : 0; cfg.docs = (uint32_t)u; have_docs = true; break;
        case O_THR: bad = parse_u64(optarg, 1, LG_MAX_THREADS, &u) ? o : 0; cfg.threads = (uint32_t)u; break;
        case O_DUR: bad = parse_double(optarg, 0.1, 3600, &cfg.duration_s) ? o : 0; break;
        case O_WARM: bad = parse_double(optarg, 0, 600, &cfg.warmup_s) ? o : 0; break;
        case O_RATE: bad = parse_double(optarg, 0, 1e8, &cfg.rate_ops_s) ? o : 0; break;
        case O_BYTES: bad = parse_u64(optarg, 0, 1u << 20, &u) ? o : 0; cfg.message_bytes = (uint32_t)u; have_bytes = true; break;
        case O_TARGET: bad = parse_u64(optarg, 1, 1u << 24, &u) ? o : 0; cfg.target_doc_codepoints = u; have_target = true; break;
        case O_CTO: bad = parse_double(optarg, 0.1, 3600, &cfg.connect_timeout_s) ? o : 0; break;
        case O_DTO: bad = parse_double(optarg, 0.1, 600, &cfg.drain_timeout_s) ? o : 0; break;
        case O_PID: bad = parse_u64(optarg, 1, 1u << 30, &u) ? o : 0; cfg.server_pid = (int)u; break;
        case O_JSON: json_path = optarg; break;
        case O_SEED: bad = parse_u64(optarg, 0, UINT64_MAX, &cfg.seed) ? o : 0; break;
        case O_REMOTE: allow_remote = true; break;
        case O_QUIET: cfg.quiet = true; break;
        case O_HELP: case 'h': usage(stdout); return 0;
        case O_TLS: cfg.tls = true; break;
        case O_TLS_VERSION:
            if (strcmp(optarg, "1.2") == 0) cfg.tls_version = 12;
            else if (strcmp(optarg, "1.3") == 0) cfg.tls_version = 13;
            else bad = o;
            break;
        case O_TLS_RESUME: cfg.tls_resume = true; break;
        case O_TLS_CA:
            if (strlen(optarg) >= sizeof cfg.tls_ca) bad = o;
            else snprintf(cfg.tls_ca, sizeof cfg.tls_ca, "%s", optarg);
            break;
        case O_TLS_NAME:
            if (strlen(optarg) == 0 || strlen(optarg) >= sizeof cfg.tls_server_name) bad = o;
            else snprintf(cfg.tls_server_name, sizeof cfg.tls_server_name, "%s", optarg);
            break;
        default: usage(stderr); return 2;
        }
    }
    if (bad) {
        fprintf(stderr, "ringpad-bench: bad value for --%s\n", opts[bad - O_SCEN].name);
        return 2;
    }
    if (optind < argc) {
        usage(stderr);
        return 2;
    }
    if (settle_config(&cfg, have_docs, have_bytes, have_target) != 0) return 2;

    if (resolve(&cfg) != 0) return 2;
    if (!allow_remote && !is_loopback(&cfg.addr)) {
        fprintf(stderr, "ringpad-bench: %s is not a loopback address; pass --allow-remote to load another host\n",
                cfg.host);
        return 2;
    }
    if (raise_nofile((uint64_t)cfg.connections + cfg.docs + 64) != 0) return 2;

    return run_and_report(&cfg, json_path);
}
