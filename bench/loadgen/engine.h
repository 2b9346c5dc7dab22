/*
 * The load generator's engine: `threads` workers, each with its own io_uring
 * (multishot recv into a provided-buffer ring, connect, send), its share of
 * the connections and its own statistics, merged at the end. A run goes:
 * connect (bounded concurrency) -> all threads ready -> warm-up -> measured
 * window -> drain (stop editing, wait for acks) -> verify (a fresh connection
 * per document reads the server's snapshot; every client's text must equal
 * it) -> close. Every phase has a deadline.
 */
#ifndef RINGPAD_LG_ENGINE_H
#define RINGPAD_LG_ENGINE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hist.h"

typedef enum lg_scenario {
    LG_SC_DOCS = 0,     /* many documents, few editors each */
    LG_SC_HOT,          /* one document, every connection edits it */
    LG_SC_FANOUT,       /* one writer per document, the rest read */
    LG_SC_STORM,        /* connect, upgrade, reset, again: connection rate */
    LG_SC_PASTE,        /* large inserts (message_bytes each) */
    LG_SC_IDLE,         /* upgraded connections doing nothing: memory per connection */
    LG_SC_ECHO,         /* transport alone: closed-loop echo of message_bytes messages */
    LG_SC_TLS,          /* connect, TLS handshake, close_notify, again: handshakes/s */
    LG_SC_COUNT
} lg_scenario;

const char *lg_scenario_str(lg_scenario s);
int lg_scenario_parse(const char *name);   /* -1 when unknown */

#define LG_MAX_THREADS 64
#define LG_MAX_CONNECTIONS 1000000u
#define LG_HOST_MAX_BYTES 256
#define LG_PATH_MAX_BYTES 256
#define LG_MAX_SERVERS 8

/* Protocol error codes counted by name (docs/PROTOCOL.md §5) plus "other". */
#define LG_ERR_CODES 17
extern const char *const lg_err_code_names[LG_ERR_CODES];

typedef struct lg_config {
    char host[LG_HOST_MAX_BYTES];
    uint16_t port;                         /* the first server's (ports[0]) */
    char path[LG_PATH_MAX_BYTES];          /* /ws, or /echo for the echo scenario */
    struct sockaddr_storage addr;          /* the first server's (addrs[0]) */
    socklen_t addr_len;
    /* the servers on `host` the connections are spread over (spread.h); 1 by default */
    uint32_t nservers;
    uint16_t ports[LG_MAX_SERVERS];
    struct sockaddr_storage addrs[LG_MAX_SERVERS];
    lg_scenario scenario;
    uint32_t connections;
    uint32_t docs;
    uint32_t threads;
    double duration_s;
    double warmup_s;
    double rate_ops_s;                     /* 0: closed loop */
    uint32_t message_bytes;                /* echo payload; paste insert size; edit size otherwise */
    uint64_t seed;
    double connect_timeout_s;              /* the connect phase as a whole */
    double drain_timeout_s;                /* drain and verify, each */
    uint32_t max_connecting_per_thread;    /* connects + handshakes in flight */
    uint64_t target_doc_codepoints;        /* edits keep documents around this length */
    char doc_prefix[64];                   /* document names: <prefix><index> */
    int server_pid;                        /* > 0: read its VmRSS (idle) */
    bool quiet;
    /* TLS (--tls; always for the tls scenario) */
    bool tls;
    int tls_version;                       /* 12 or 13 */
    bool tls_resume;                       /* each thread resumes one session (ticket) */
    char tls_ca[LG_PATH_MAX_BYTES * 4];    /* PEM CA to verify the server; "" = no verification */
    char tls_server_name[LG_HOST_MAX_BYTES]; /* SNI and the name verified ("localhost") */
} lg_config;

typedef struct lg_stats {
    lg_hist ack;               /* submit (first local edit) -> ack, us */
    lg_hist delivery;          /* submit -> op received by another collaborator, us */
    lg_hist delivery_by_server[LG_MAX_SERVERS];   /* the same by the receiver's server (several only) */
    lg_hist connect;           /* connect start -> 101 received, us */
    lg_hist echo;              /* echo round trip, us */
    lg_hist tls_handshake;     /* connect start -> TLS handshake done, us */
    uint64_t ops_sent, acks, remote_ops, edits;
    uint64_t frames_rx, frames_tx, bytes_rx, bytes_tx, messages_rx;
    uint64_t parses_shared, parses;        /* server messages: parse reused from the cache / done */
    uint64_t echoes;
    uint64_t connections_opened;           /* upgraded (storm: during the window) */
    uint64_t connect_failed, handshake_failed, closed_by_peer, ws_protocol_errors;
    uint64_t client_errors;                /* broken op stream, bad server messages */
    uint64_t echo_mismatch;
    uint64_t edits_behind;                 /* open loop: edits the generator could not issue in time */
    uint64_t err_by_code[LG_ERR_CODES];
    uint64_t tls_handshakes, tls_resumed, tls_failed;
    uint64_t ready_connections;            /* reached the measured window ready */
    /* convergence */
    uint64_t clients_checked, clients_diverged, clients_unverified, docs_checked;
    uint64_t clients_equal;          /* checked and equal to the snapshot */
    bool verify_ran;
    /* window */
    double measured_s;
    uint64_t server_rss_before_kb, server_rss_after_kb;
    double server_cpu_s;       /* --server-pid: its user + system CPU during the window */
} lg_stats;

void lg_stats_init(lg_stats *s);
void lg_stats_merge(lg_stats *dst, const lg_stats *src);

/* Runs the scenario. Returns 0 when it ran (check stats for failures), or a
 * negative errno with a line in err. */
int lg_run(const lg_config *cfg, lg_stats *out, char *err, size_t err_len);

/* VmRSS of a process in KiB, 0 when unreadable. */
uint64_t lg_proc_rss_kb(int pid);
/* User + system CPU time of a process in seconds, -1 when unreadable. */
double lg_proc_cpu_s(int pid);

#endif
