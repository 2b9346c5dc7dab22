/*
 * The process around the workers: listeners, worker threads, signals,
 * graceful shutdown. One server per process in production; tests may run
 * one in-process on an ephemeral port.
 */
#ifndef RINGPAD_SERVER_H
#define RINGPAD_SERVER_H

#include "base/config.h"
#include "base/metrics.h"
#include "ws/ws_handshake.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Per-IP connection counts live in a fixed table indexed by a hash of the
 * address; two addresses sharing a slot share a count (stricter, never looser). */
#define SERVER_IP_SLOTS 65536u

struct static_site;
struct tls_server;
struct worker;

/* Read-only after server_start, except the atomics. */
typedef struct server_shared {
    const config *cfg;
    const struct static_site *site;     /* NULL: no web root could be loaded (static routes 404) */
    struct tls_server *tls;             /* NULL: plaintext listener; else every conn speaks TLS */
    ws_handshake_config handshake;      /* origins + permessage-deflate offer handling */
    uint32_t count_workers;
    uint16_t port;                      /* bound port (resolved when --port 0) */
    struct mailbox_target *targets;     /* [count_workers] (mailbox.h) */
    metrics_worker *metrics;            /* [count_workers], each written by its worker only */
    _Atomic bool shutting_down;
    _Atomic uint32_t open_connections;  /* all workers */
    _Atomic uint32_t *ip_counts;        /* [SERVER_IP_SLOTS], NULL when per-IP limit is off */
    _Atomic bool provided_buffers;      /* some worker registered a buffer ring */
    _Atomic bool zerocopy;              /* zero-copy sends enabled and not refused */
    _Atomic uint32_t degraded_docs;     /* documents whose storage failed (/healthz: degraded) */
} server_shared;

typedef struct server server;

/* Loads the web root, binds every worker's SO_REUSEPORT listener (resolving
 * port 0 on the first) and spawns the workers. Returns 0 or a negative errno;
 * on success the startup line has been logged. */
int server_start(const config *cfg, server **out);

uint16_t server_port(const server *s);
const server_shared *server_get_shared(const server *s);

/* Reloads the TLS certificate and key for new connections (SIGHUP). Returns
 * 0, -ENOTSUP without TLS, or a tls_status (the old pair stays; logged). */
int server_reload_tls(server *s);

/* Asks every worker to drain and stop (thread-safe, async-signal-unsafe). */
void server_request_stop(server *s);

/* Waits for every worker to finish, then frees everything. Returns 0 when all
 * connections closed within the grace period, 1 if some were cut. */
int server_wait_and_destroy(server *s);

/* main: start, wait for SIGTERM/SIGINT (SIGPIPE ignored; SIGHUP reloads TLS), stop, wait.
 * Returns the process exit code. */
int server_run(const config *cfg);

#endif /* RINGPAD_SERVER_H */
