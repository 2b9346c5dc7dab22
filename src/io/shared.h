/*
 * What every worker of a server reads: the configuration, the assembled
 * pieces (web root, TLS, WebSocket handshake rules), the mail targets and
 * the counters shared by all workers. The server (src/server) fills it.
 */
#ifndef RINGPAD_SHARED_H
#define RINGPAD_SHARED_H

#include "base/config.h"
#include "base/membudget.h"
#include "base/metrics.h"
#include "base/nameset.h"
#include "io/sdnotify.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Per-IP connection counts live in a fixed table indexed by a hash of the
 * address; two addresses sharing a slot share a count (stricter, never looser). */
#define SERVER_IP_SLOTS 65536u

struct conn_filter;
struct conn_handler;
struct conn_ws_app;
struct mailbox_target;
struct static_site;
struct tls_server;
struct ws_handshake_config;

/* Read-only once the workers run, except the atomics. */
typedef struct server_shared {
    const config *cfg;
    const struct static_site *site;     /* NULL: no web root could be loaded (static routes 404) */
    struct tls_server *tls;             /* NULL: plaintext listener; else every conn speaks TLS */
    const struct ws_handshake_config *handshake;   /* origins + permessage-deflate offer handling */
    const struct conn_handler *accept_handler;  /* what a new connection speaks (HTTP) */
    const struct conn_filter *filter;   /* TLS below it, or NULL */
    const struct conn_ws_app *ws_app;   /* what /ws messages go to (the document sessions) */
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
    _Atomic uint32_t redis_down;        /* cluster mode: workers whose Redis is unreachable (/healthz: degraded) */
    _Atomic uint64_t *loop_ms;          /* [count_workers]: when each loop last turned (watchdog) */
    sdnotify *notify;                   /* systemd notify socket; watchdog pings by worker 0 */
    nameset doc_names;                  /* the data dir's documents, for listings (collab keeps it current) */
    membudget memory;                   /* what the documents hold, all workers together (--memory-budget) */
    struct webhook *webhooks;           /* created/changed/deleted notifications (collab/webhook.h), or NULL */
} server_shared;

#endif /* RINGPAD_SHARED_H */
