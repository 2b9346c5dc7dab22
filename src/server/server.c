#include "server/server.h"

#include "base/log.h"
#include "io/ring.h"
#include "io/conn_loop.h"
#include "io/mailbox.h"
#include "collab/session.h"
#include "collab/session_ws.h"
#include "collab/webhook.h"
#include "server/http_conn.h"
#include "tls/conn_tls.h"
#include "http/static_site.h"
#include "tls/tls.h"
#include "ws/ws_handshake.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

/* The whole web root is held in memory; more than this is refused at startup. */
#define SERVER_WEB_ROOT_MAX_BYTES (256u * 1024u * 1024u)
#define SERVER_LISTEN_BACKLOG 4096
#define SERVER_MAX_ORIGINS 64

struct server {
    config cfg;
    server_shared shared;
    ws_handshake_config handshake;      /* shared.handshake points here */
    worker *workers;
    static_site *site;
    sem_t started;
    sdnotify notify;
    char origins_text[CONFIG_ORIGINS_MAX_BYTES];
    const char *origins[SERVER_MAX_ORIGINS];
};

/* probe: bind without SO_REUSEPORT and without listening (see claim_port). */
static int open_listener(const char *host, uint16_t port, bool probe, uint16_t *bound_port) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        sl = sizeof *v6;
    } else {
        return -EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        (!probe && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) ||
        bind(fd, (struct sockaddr *)&ss, sl) != 0 || (!probe && listen(fd, SERVER_LISTEN_BACKLOG) != 0)) {
        int e = -errno;
        close(fd);
        return e;
    }
    if (bound_port != NULL) {
        struct sockaddr_storage got;
        socklen_t gl = sizeof got;
        if (getsockname(fd, (struct sockaddr *)&got, &gl) != 0) {
            int e = -errno;
            close(fd);
            return e;
        }
        *bound_port = ntohs(got.ss_family == AF_INET ? ((struct sockaddr_in *)(void *)&got)->sin_port
                                                     : ((struct sockaddr_in6 *)(void *)&got)->sin6_port);
    }
    return fd;
}

/* Every worker listens on its own socket with SO_REUSEPORT, and the kernel
 * lets any process of the same user join such a group: a second server on
 * the port would silently take half the connections. So first a probe binds
 * the port without SO_REUSEPORT: that fails with EADDRINUSE while anyone
 * listens there (with SO_REUSEPORT or not), and a second ringpad's probe
 * fails on our listeners in the same way. For --port 0 the probe also picks
 * the port. Returns the port, or a negative errno. */
static int claim_port(const char *host, uint16_t port) {
    uint16_t got = port;
    int fd = open_listener(host, port, true, &got);
    if (fd < 0) return fd;
    close(fd);
    return got;
}

static void *worker_main(void *arg) {
    worker *w = arg;
    server *s = (server *)((char *)w->shared - offsetof(server, shared));
    /* The users register in the order their per-iteration work must run:
     * documents first, so this iteration's frames go out with the flush. */
    int rc = worker_init(w);
    if (rc == 0) s->shared.targets[w->id].ring_fd = w->ring.ring_fd;   /* mail may come now */
    if (rc == 0) rc = session_worker_init(w);
    if (rc == 0) rc = conn_loop_init(w);
    if (rc == 0) rc = worker_start(w);
    w->start_rc = rc;
    sem_post(&s->started);
    if (w->start_rc == 0) worker_run(w);
    tls_thread_exit();
    return NULL;
}

/* Splits --allowed-origins into trimmed entries. */
static int parse_origins(server *s) {
    memcpy(s->origins_text, s->cfg.allowed_origins, sizeof s->origins_text);
    size_t count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(s->origins_text, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
        while (*tok == ' ' || *tok == '\t') tok++;
        size_t n = strlen(tok);
        while (n > 0 && (tok[n - 1] == ' ' || tok[n - 1] == '\t')) tok[--n] = '\0';
        if (n == 0) continue;
        if (count == SERVER_MAX_ORIGINS) return -E2BIG;
        s->origins[count++] = tok;
    }
    s->handshake.allowed_origins = s->origins;
    s->handshake.count_allowed_origins = count;
    return 0;
}

static int load_site(server *s) {
    char path[CONFIG_PATH_MAX_BYTES + 64];
    bool explicit_root = s->cfg.web_root[0] != '\0';
    if (explicit_root) {
        snprintf(path, sizeof path, "%s", s->cfg.web_root);
    } else {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        if (n <= 0) return 0;
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) *slash = '\0';
        snprintf(path, sizeof path, "%s/../share/ringpad/web", exe);
    }
    int rc = static_site_load(path, SERVER_WEB_ROOT_MAX_BYTES, &s->site);
    if (rc != 0) {
        s->site = NULL;
        if (explicit_root) {
            log_error("--web-root %s: %s", path, strerror(-rc));
            return rc;
        }
        log_warn("no web root at %s (%s); static files are not served", path, strerror(-rc));
        return 0;
    }
    log_info("web root %s: %zu files", path, static_site_count_files(s->site));
    return 0;
}

static int load_tls(server *s) {
    if (s->cfg.tls_cert[0] == '\0') return 0;
    tls_options o = {.min_version = tls_version_parse(s->cfg.tls_min_version)};
    snprintf(o.cert_path, sizeof o.cert_path, "%s", s->cfg.tls_cert);
    snprintf(o.key_path, sizeof o.key_path, "%s", s->cfg.tls_key);
    char err[512];
    int rc = tls_server_new(&o, &s->shared.tls, err, sizeof err);
    if (rc != TLS_OK) {
        log_error("TLS: %s", err);
        return rc == TLS_ERR_NOMEM ? -ENOMEM : -EINVAL;
    }
    log_info("TLS on: certificate %s, minimum TLS %s, ALPN http/1.1", o.cert_path, s->cfg.tls_min_version);
    return 0;
}

int server_reload_tls(server *s) {
    if (s->shared.tls == NULL) return -ENOTSUP;
    char err[512];
    int rc = tls_server_reload(s->shared.tls, err, sizeof err);
    if (rc != TLS_OK) {
        log_error("TLS reload failed, keeping the previous certificate: %s", err);
        return rc;
    }
    log_info("TLS certificate reloaded from %s (generation %llu); open connections keep theirs", s->cfg.tls_cert,
             (unsigned long long)tls_server_generation(s->shared.tls));
    return 0;
}

/* File descriptors kept for everything that is not a connection: data files,
 * the rings, eventfds, the helper threads' work. */
#define SERVER_FD_RESERVE 1024u

/* Every connection is a file descriptor. The soft limit goes up as far as
 * needed, capped by the hard limit (which only root/CAP_SYS_RESOURCE or
 * LimitNOFILE= can raise). --max-connections 0 takes what the limit allows
 * (no warning); an explicit value the limit cannot carry is warned about. */
uint32_t server_fit_fd_limit(uint32_t want) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return want != 0 ? want : 1024;
    rlim_t ceiling = (rlim_t)10000000 + SERVER_FD_RESERVE;   /* the flag's own maximum */
    rlim_t target = want != 0 ? (rlim_t)want + SERVER_FD_RESERVE : rl.rlim_max < ceiling ? rl.rlim_max : ceiling;
    rlim_t before = rl.rlim_cur;
    if (rl.rlim_cur < target) {
        rl.rlim_cur = rl.rlim_max < target ? rl.rlim_max : target;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) rl.rlim_cur = before;
    }
    if (rl.rlim_cur != before)
        log_info("file descriptor limit raised from %llu to %llu", (unsigned long long)before,
                 (unsigned long long)rl.rlim_cur);
    /* a small limit keeps a quarter for the rest */
    rlim_t reserve = rl.rlim_cur / 4 < SERVER_FD_RESERVE ? rl.rlim_cur / 4 : SERVER_FD_RESERVE;
    rlim_t usable = rl.rlim_cur - reserve;
    if (want == 0) {
        uint32_t got = usable > 10000000 ? 10000000u : usable < 1 ? 1u : (uint32_t)usable;
        log_info("max connections %u (file descriptor limit %llu; set --max-connections to choose)", got,
                 (unsigned long long)rl.rlim_cur);
        return got;
    }
    if (rl.rlim_cur < target) {
        log_warn("--max-connections %u needs %llu file descriptors but the limit is %llu (hard %llu): at most ~%llu "
                 "connections. Raise the hard limit (ulimit -Hn, LimitNOFILE= in systemd, nofile in "
                 "/etc/security/limits.conf; sysctl fs.nr_open above 1048576)",
                 want, (unsigned long long)target, (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max,
                 (unsigned long long)usable);
    }
    return want;
}

static int start_webhooks(server *s) {
    const config *cfg = &s->cfg;
    webhook_config wc = {.urls = cfg->webhook_urls, .secret = cfg->webhook_secret,
                         .debounce_ms = cfg->webhook_debounce_ms, .with_text = cfg->webhook_text,
                         .data_dir = cfg->data_dir};
    char err[512] = "";
    int rc = webhook_new(&wc, &s->shared.webhooks, err, sizeof err);
    if (rc != 0) {
        log_error("%s", err[0] != '\0' ? err : strerror(-rc));
        return rc;
    }
    if (s->shared.webhooks == NULL) return 0;
    if (cfg->webhook_secret[0] == '\0')
        log_warn("webhooks: no --webhook-secret: notifications are not signed; receivers cannot tell them from forgeries");
    rc = webhook_start(s->shared.webhooks);
    if (rc != 0) log_error("webhooks: cannot start the delivery thread: %s", strerror(-rc));
    return rc;
}

static void free_server(server *s) {
    free(s->workers);
    free(s->shared.targets);
    free(s->shared.metrics);
    free((void *)s->shared.loop_ms);
    sdnotify_close(&s->notify);
    free((void *)s->shared.ip_counts);
    webhook_free(s->shared.webhooks);   /* writes what is still pending */
    nameset_free(&s->shared.doc_names);
    static_site_free(s->site);
    tls_server_free(s->shared.tls);
    sem_destroy(&s->started);
    free(s);
}

/* Claims the port, then opens every worker's SO_REUSEPORT listener on it.
 * Returns the bound port, or a negative errno (logged; nothing left open). */
static int open_listeners(server *s, const config *cfg) {
    int rc = claim_port(cfg->host, (uint16_t)cfg->port);
    if (rc < 0) {
        if (rc == -EADDRINUSE)
            log_error("listen on %s: port %u is already in use by another process (another ringpad?); stop it or "
                      "pick another --port", cfg->host, cfg->port);
        else
            log_error("listen on %s:%u: %s", cfg->host, cfg->port, strerror(-rc));
        return rc;
    }
    uint16_t port = (uint16_t)rc;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        worker *w = &s->workers[i];
        w->id = i;
        w->shared = &s->shared;
        w->listen_fd = open_listener(cfg->host, port, false, NULL);
        if (w->listen_fd < 0) {
            rc = w->listen_fd;
            log_error("listen on %s:%u: %s", cfg->host, (unsigned)port, strerror(-rc));
            for (uint32_t j = 0; j < i; j++) close(s->workers[j].listen_fd);
            return rc;
        }
    }
    return port;
}

int server_start(const config *cfg, server **out) {
    server *s = calloc(1, sizeof *s);
    if (s == NULL) return -ENOMEM;
    s->cfg = *cfg;
    sem_init(&s->started, 0, 0);
    server_shared *sh = &s->shared;
    sh->cfg = &s->cfg;
    sh->count_workers = cfg->threads;
    uint64_t budget = cfg->memory_budget != 0 ? cfg->memory_budget : membudget_default_bytes();
    membudget_init(&sh->memory, budget / MEMBUDGET_DOCS_SHARE_DIVISOR);
    if (nameset_init(&sh->doc_names) != 0) {
        sem_destroy(&s->started);
        free(s);
        return -ENOMEM;
    }
    sh->targets = calloc(cfg->threads, sizeof *sh->targets);
    sh->metrics = calloc(cfg->threads, sizeof *sh->metrics);
    sh->loop_ms = calloc(cfg->threads, sizeof *sh->loop_ms);
    s->notify.fd = -1;
    sh->notify = &s->notify;
    s->workers = calloc(cfg->threads, sizeof *s->workers);
    if (cfg->max_connections_per_ip > 0) sh->ip_counts = calloc(SERVER_IP_SLOTS, sizeof *sh->ip_counts);
    if (sh->targets == NULL || sh->metrics == NULL || sh->loop_ms == NULL || s->workers == NULL ||
        (cfg->max_connections_per_ip > 0 && sh->ip_counts == NULL)) {
        free_server(s);
        return -ENOMEM;
    }
    s->handshake.deflate = pmd_config_default();
    s->handshake.deflate.enable = !cfg->no_deflate;
    sh->handshake = &s->handshake;
    sh->accept_handler = &http_conn_handler;
    sh->ws_app = &session_ws_app;
    int rc = sdnotify_open(&s->notify, getenv("NOTIFY_SOCKET"), getenv("WATCHDOG_USEC"), getenv("WATCHDOG_PID"));
    if (rc != 0) {
        /* not fatal: the service manager will time the start out and say so */
        log_warn("NOTIFY_SOCKET=%s unusable (%s); systemd is not told when ringpad is ready", getenv("NOTIFY_SOCKET"),
                 strerror(-rc));
        s->notify.fd = -1;
        rc = 0;
    }
    if (rc == 0) rc = parse_origins(s);
    if (rc == 0) rc = load_site(s);
    if (rc == 0) rc = load_tls(s);
    if (rc == 0) rc = start_webhooks(s);
    if (rc != 0) {
        free_server(s);
        return rc;
    }
    sh->site = s->site;
    sh->filter = sh->tls != NULL ? &conn_tls_filter : NULL;
    s->cfg.max_connections = server_fit_fd_limit(cfg->max_connections);

    rc = open_listeners(s, cfg);
    if (rc < 0) {
        free_server(s);
        return rc;
    }
    uint16_t port = (uint16_t)rc;
    rc = 0;
    sh->port = port;
    /* Workers are started one at a time, so their setup (ring, buffer ring)
     * results are known before the server reports that it listens. */
    uint32_t started = 0;
    for (uint32_t i = 0; i < cfg->threads; i++) {
        worker *w = &s->workers[i];
        rc = pthread_create(&w->thread, NULL, worker_main, w);
        if (rc != 0) {
            rc = -rc;
            close(w->listen_fd);
            break;
        }
        sem_wait(&s->started);
        started++;
        if (w->start_rc != 0) {
            rc = w->start_rc;
            log_error("worker %u: io_uring setup failed: %s", i, strerror(-rc));
            break;
        }
    }
    if (rc != 0) {
        server_request_stop(s);
        for (uint32_t i = 0; i < started; i++) pthread_join(s->workers[i].thread, NULL);
        for (uint32_t i = 0; i < started; i++) worker_destroy(&s->workers[i]);
        for (uint32_t i = started + 1; i < cfg->threads; i++) close(s->workers[i].listen_fd);
        free_server(s);
        return rc;
    }
    bool v6 = strchr(cfg->host, ':') != NULL;
    log_info("memory budget %llu MiB (documents keep to %llu MiB; a history at most %llu KiB each)",
             (unsigned long long)(budget >> 20), (unsigned long long)(sh->memory.limit_bytes >> 20),
             (unsigned long long)(cfg->history_memory_bytes >> 10));
    log_info("ringpad listening on %s://%s%s%s:%u (%u workers)", sh->tls != NULL ? "https" : "http", v6 ? "[" : "",
             cfg->host, v6 ? "]" : "", (unsigned)port, cfg->threads);
    *out = s;
    return 0;
}

uint16_t server_port(const server *s) { return s->shared.port; }


void server_request_stop(server *s) {
    atomic_store(&s->shared.shutting_down, true);
    for (uint32_t i = 0; i < s->shared.count_workers; i++) {
        worker *w = &s->workers[i];
        if (w->wake_fd < 0) continue;
        uint64_t one = 1;
        ssize_t n = write(w->wake_fd, &one, sizeof one);
        (void)n; /* an eventfd write of 1 cannot fail short of overflow */
    }
}

int server_wait_and_destroy(server *s) {
    uint32_t cut = 0;
    for (uint32_t i = 0; i < s->shared.count_workers; i++) pthread_join(s->workers[i].thread, NULL);
    for (uint32_t i = 0; i < s->shared.count_workers; i++) {
        cut += s->workers[i].cut_conns;
        worker_destroy(&s->workers[i]);
    }
    free_server(s);
    return cut > 0 ? 1 : 0;
}

int server_run(const config *cfg) {
    signal(SIGPIPE, SIG_IGN);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    /* Workers inherit the mask: only this thread takes the signals, in sigwait. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    server *s = NULL;
    int rc = server_start(cfg, &s);
    if (rc != 0) return 1;
    char status[128];
    snprintf(status, sizeof status, "READY=1\nSTATUS=listening on port %u\nMAINPID=%ld", (unsigned)s->shared.port,
             (long)getpid());
    if (sdnotify_send(&s->notify, status) != 0) log_warn("NOTIFY_SOCKET: READY=1 could not be sent");
    int sig = 0;
    /* Bounded by the operator: each SIGHUP is one reload, anything else stops. */
    for (;;) {
        if (sigwait(&set, &sig) != 0) continue;
        if (sig != SIGHUP) break;
        if (s->shared.tls == NULL) log_info("SIGHUP: no TLS configured; nothing to reload");
        else server_reload_tls(s);
    }
    log_info("%s received: shutting down (grace %u ms)", sig == SIGINT ? "SIGINT" : "SIGTERM", cfg->shutdown_grace_ms);
    sdnotify_send(&s->notify, "STOPPING=1\nSTATUS=shutting down");
    server_request_stop(s);
    int cut = server_wait_and_destroy(s);
    if (cut != 0) log_warn("some connections were cut at the end of the grace period");
    log_info("ringpad stopped");
    return 0;
}
