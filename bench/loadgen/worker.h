/*
 * The load generator's worker, shared by the engine (connections, traffic,
 * TLS, completions: engine.c) and the run (phases, setup, the threads: run.c).
 * Private to bench/loadgen.
 */
#ifndef RINGPAD_LG_WORKER_H
#define RINGPAD_LG_WORKER_H

#include "engine.h"
#include "client.h"
#include "msgcache.h"
#include "tlsc.h"
#include "wsc.h"
#include "ws/ws.h"

#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#define RECV_BUF_BYTES 16384u
#define RECV_BUF_COUNT 1024u               /* power of two */
#define BUF_GROUP 7
#define SQ_ENTRIES 4096u
#define CQ_ENTRIES 32768u
#define TICK_US 1000u
#define MAX_SEND_BUFFER_BYTES (8u << 20)   /* per connection, queued and unsent */
#define MAX_EDITS_PER_TICK 20000u          /* open loop catch-up bound per iteration */
#define REPLY_MAX_MESSAGE_BYTES (4u << 20) /* server messages (snapshots of pasted docs) */

enum { K_CONNECT = 1, K_SEND = 2, K_RECV = 3 };
enum { CS_FREE = 0, CS_CONNECTING, CS_HANDSHAKE, CS_OPEN, CS_CLOSING, CS_DEAD };
enum { R_EDITOR = 0, R_READER, R_VERIFIER, R_ECHO, R_IDLE, R_STORM, R_TLS };
enum { PH_CONNECT = 0, PH_WAIT_START, PH_RUN, PH_DRAIN, PH_WAIT_DRAINED, PH_VERIFY, PH_DONE };

/* ---- state shared by the threads (read-only config + phase barriers) ---- */

typedef struct shared {
    const lg_config *cfg;
    char run_id[17];
    atomic_uint ready_threads;
    atomic_uint drained_threads;
    atomic_uint_fast64_t start_us;         /* set once by the last thread to get ready */
    uint32_t editors_total;                /* editing connections of every thread */
    atomic_uint editors_settled;           /* of those: snapshot received, or failed to connect */
    lg_tls_ctx *tls;                       /* NULL without --tls */
} shared;

typedef struct txb {
    uint8_t *p;
    size_t len, cap;
} txb;

typedef struct conn {
    int fd;
    uint8_t state, role;
    bool recv_armed, send_busy, connect_busy, dirty, ready, want_rearm;
    uint32_t doc;
    uint32_t idx;                  /* in the worker's array */
    uint32_t server;               /* index into cfg->ports / cfg->addrs */
    uint64_t t_start_us;           /* connect start, or echo send time */
    char key[LG_WSC_KEY_CHARS + 1];
    char *hs;                      /* handshake response head being collected */
    size_t hs_len;
    ws_reader rd;
    bool rd_init;
    txb tx[2];                     /* tx[cur] in flight, tx[cur ^ 1] collecting */
    int cur;
    size_t tx_off;
    lg_client *cl;
    lg_tls *tls;                   /* with TLS, tx[cur ^ 1] collects plaintext and the session
                                      holds the ciphertext; kept until the next connect */
} conn;

typedef struct local_doc {
    bool has_clients;
    int32_t verifier;              /* conn index, -1 none */
    bool checked;
} local_doc;

typedef struct worker {
    shared *sh;
    const lg_config *cfg;
    uint32_t id;
    pthread_t thread;
    struct io_uring ring;
    struct io_uring_buf_ring *br;
    bool ring_disabled;          /* created disabled: enabled by its own thread (SINGLE_ISSUER) */
    uint8_t *bufs;
    size_t br_bytes;
    conn *conns;
    uint32_t nconns;               /* load connections */
    uint32_t cap_conns;            /* + verifiers */
    uint32_t *dirty;
    uint32_t ndirty;
    uint32_t *rearm;
    uint32_t nrearm;
    uint32_t *editors;             /* indices of editing connections */
    uint32_t neditors;
    uint32_t rr;                   /* open-loop round robin */
    uint64_t issued;               /* open-loop edits issued */
    double rate_local;
    local_doc *docs;
    uint64_t rng;
    lg_stats st;
    bool measuring, stop_edits;
    int phase;
    uint64_t t_start, t_warm, t_end, deadline;
    uint32_t next_connect, nready, nfailed;   /* connect phase: in flight = next_connect - nready - nfailed */
    ot_buf msg;
    lg_msgcache msgs;              /* the broadcasts this thread's clients receive, parsed once */
    ot_op edit;
    uint8_t *echo_payload;
    uint32_t insert_bytes;
    lg_tls_session *tls_session;   /* --tls-resume: offered by every new connection */
    double server_cpu_at_warm;     /* thread 0 with --server-pid; < 0 until the window starts */
    int err;
} worker;


static inline bool is_proto(const lg_config *cfg) {
    return cfg->scenario == LG_SC_DOCS || cfg->scenario == LG_SC_HOT ||
           cfg->scenario == LG_SC_FANOUT || cfg->scenario == LG_SC_PASTE;
}

/* Roles that connect, finish, and start again for the whole window. */
static inline bool cycling(const conn *c) { return c->role == R_STORM || c->role == R_TLS; }


static inline uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}


/* engine.c: one connection's life and the completions of a worker's ring. */
void lg_conn_arm_recv(worker *w, conn *c);
void lg_conn_flush(worker *w, conn *c);
void lg_conn_start(worker *w, conn *c);
void lg_editor_edit(worker *w, conn *c, uint64_t now);
void lg_echo_send(worker *w, conn *c, uint64_t now);
void lg_on_cqe(worker *w, struct io_uring_cqe *cqe, uint64_t now);

#endif /* RINGPAD_LG_WORKER_H */
