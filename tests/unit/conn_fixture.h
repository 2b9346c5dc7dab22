/*
 * The transport (src/io/conn.c) without sockets: a real worker ring that is
 * never submitted. A test opens connections on socketpair ends the kernel
 * never reads, takes the SQEs the transport prepared (the SQ ring between
 * liburing's head and tail) to see what it asked for, and plays the kernel
 * by dispatching synthetic CQEs to the worker. The connections speak a
 * recording handler; the before-sleep and tick hooks of conn_loop.c run
 * when the test says so.
 */
#ifndef RINGPAD_TESTS_CONN_FIXTURE_H
#define RINGPAD_TESTS_CONN_FIXTURE_H

#include "base/config.h"
#include "io/conn.h"
#include "io/ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONN_FIXTURE_GOT_BYTES 65536u
#define CONN_FIXTURE_MAX_SQES 64u
#define CONN_FIXTURE_MAX_FDS 64u

typedef struct conn_fixture {
    worker w;                       /* first: the handler casts c->w back */
    config cfg;
    metrics_worker metrics;
    server_shared shared;
    _Atomic uint64_t loop_ms[1];
    conn_handler handler;           /* the recording handler (accept_handler), CONN_WAIT_INPUT */
    conn_handler live_handler;      /* the same, CONN_WAIT_SILENCE (what an upgrade installs) */
    bool ping_outstanding;          /* live: on_silent was called and the peer said nothing since */
    /* what the handler saw */
    uint8_t got[CONN_FIXTURE_GOT_BYTES];
    size_t got_len;
    int data_calls, closes, shutdowns, silents, overflows;
    bool close_on_data;             /* the handler closes the conn on its first data */
    /* the SQEs taken by the last conn_fixture_take */
    struct io_uring_sqe sqes[CONN_FIXTURE_MAX_SQES];
    size_t count_sqes;
    uint16_t next_bid;
    int fds[CONN_FIXTURE_MAX_FDS];  /* both ends of every socketpair, -1 once closed */
    size_t count_fds;
} conn_fixture;

/* A worker (ring, pools, conn_loop hooks, no listener) with the recording
 * handler as the accept handler. Set cfg fields before calling via
 * `tune` (may be NULL). */
void conn_fixture_init(conn_fixture *f, void (*tune)(config *cfg));
/* Closes the fds left and destroys the worker. */
void conn_fixture_fini(conn_fixture *f);

/* A new connection on a socketpair end (asserts conn_open succeeded) and the
 * SQEs it prepared taken. */
conn *conn_fixture_open(conn_fixture *f);
/* Like conn_fixture_open; NULL when conn_open refused. */
conn *conn_fixture_try_open(conn_fixture *f);

/* Moves the prepared, unsubmitted SQEs into f->sqes (replacing the last
 * take) and drops them from the ring. Returns how many. */
size_t conn_fixture_take(conn_fixture *f);
/* The first taken SQE with this opcode, or NULL. */
const struct io_uring_sqe *conn_fixture_find(const conn_fixture *f, uint8_t opcode);

/* Delivers a CQE for `sqe` (a taken copy). A close SQE closes its fd first,
 * as the kernel would. */
void conn_fixture_complete(conn_fixture *f, const struct io_uring_sqe *sqe, int res, uint32_t flags);
/* Delivers received bytes to the armed receive: from a provided buffer
 * when the worker has them (the multishot stays armed when `more`), else
 * into the conn's own buffer. */
void conn_fixture_receive(conn_fixture *f, conn *c, const struct io_uring_sqe *recv, const void *bytes, size_t len,
                          bool more);

/* The before-sleep hooks (the connections' flush), then takes the SQEs. */
size_t conn_fixture_flush(conn_fixture *f);
/* Sets the clock and runs the tick hooks (deadlines), then takes the SQEs. */
size_t conn_fixture_tick_at(conn_fixture *f, uint64_t now_ms);

/* The conn closed and nothing but the socket's close is in flight: completes
 * that close (taken already) and frees the conn (asserts both). */
void conn_fixture_finish_close(conn_fixture *f);
/* Closes c (reason: shutdown) unless it is closed, cancels its armed
 * receive `recv`, then conn_fixture_finish_close. */
void conn_fixture_close(conn_fixture *f, conn *c, const struct io_uring_sqe *recv);

/* Queues a copy of bytes on the conn (conn_send's result). */
int conn_fixture_send(conn *c, const char *text);

uint64_t conn_fixture_closed(const conn_fixture *f, metrics_close_reason reason);
uint64_t conn_fixture_gauge(const conn_fixture *f);

#endif
