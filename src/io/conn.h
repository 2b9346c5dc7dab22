/*
 * One TCP connection, the transport: bytes in (conn_on_data) to the
 * installed handler, bytes out (the send queue, flushed once per loop
 * iteration), limits, deadlines and the close sequence. What the bytes mean
 * (HTTP, WebSocket, an event stream) is the handler's: a table installed at
 * accept and swapped at an upgrade, with its state behind handler_state.
 *
 * Lifetime: a conn is freed only when no SQE that names it is in flight
 * (`ops`), so a late CQE never sees freed memory.
 */
#ifndef RINGPAD_CONN_H
#define RINGPAD_CONN_H

#include "base/metrics.h"
#include "io/ring.h"
#include "io/sendq.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum conn_state {
    CONN_OPEN,        /* the handler reads; its deadline follows its conn_wait */
    CONN_CLOSING,     /* the handler said goodbye (a close frame), waiting for the peer's */
    CONN_DRAIN,       /* flush what is queued, then half-close */
    CONN_LINGER,      /* write side shut, reading until EOF or the close deadline */
    CONN_DEAD,        /* socket closing/closed, waiting for in-flight ops */
} conn_state;

/* The deadline a handler lives under while the conn is CONN_OPEN. */
typedef enum conn_wait {
    /* Waits for a complete input (a request): closed after
     * --handshake-timeout-ms unless it is still sending. The peer's FIN
     * lets what is queued go out first. */
    CONN_WAIT_INPUT = 0,
    /* Long-lived, least recently heard first: on_silent after
     * --ping-interval-ms of silence (every tick until the handler hears from
     * the peer or touches the conn), closed after --idle-timeout-ms. The
     * peer's FIN closes at once. */
    CONN_WAIT_SILENCE = 1,
} conn_wait;

struct conn;

/* What a connection speaks: installed at accept (server_shared.accept_handler)
 * and swapped at an upgrade (conn_set_handler). Optional entries may be NULL. */
typedef struct conn_handler {
    void (*on_data)(struct conn *c, uint8_t *data, size_t len);  /* plaintext while OPEN/CLOSING */
    void (*on_close)(struct conn *c);      /* closing: release the handler's state (optional) */
    void (*on_shutdown)(struct conn *c);   /* the worker drains (optional) */
    void (*on_silent)(struct conn *c);     /* CONN_WAIT_SILENCE: the peer is quiet (optional) */
    void (*on_overflow)(struct conn *c);   /* the send queue went over its limit; the conn closes (optional) */
    uint8_t wait;                          /* conn_wait */
} conn_handler;

/* A byte filter below the handler (TLS): server_shared.filter, or none. */
typedef struct conn_filter {
    int (*open)(struct conn *c, const server_shared *s);     /* at accept; c is zeroed */
    void (*on_data)(struct conn *c, const uint8_t *data, size_t len);   /* then conn_on_plain_data */
    int (*seal)(struct conn *c);           /* before a send: the queued plaintext becomes one entry */
    void (*free)(struct conn *c);
} conn_filter;

typedef struct conn {
    worker *w;
    const conn_handler *handler;
    const conn_filter *filter;      /* NULL: plaintext */
    completion recv_done;           /* the receive's CQEs */
    completion op_done;             /* shutdown and close: one op done each */
    struct conn *prev, *next;       /* timer list links */
    struct conn *dirty_next;
    conn_list *list;                /* the timer list the conn is on, or NULL */
    uint64_t list_since_ms;
    int fd;
    uint16_t ops;                   /* SQEs in flight naming this conn */
    uint8_t state;                  /* conn_state */
    bool recv_armed;
    bool dirty;
    bool over_limit;                /* over a connection limit: the handler refuses its first request */
    bool counted_ip;
    bool peer_eof;                  /* the peer's FIN was read */
    bool zc_copies;                 /* the kernel copied a zero-copy send (loopback, no SG): plain sends */
    uint8_t close_reason;           /* metrics_close_reason once closing */
    bool close_counted;             /* the reason is in the metrics already */
    uint32_t ip_slot;
    uint8_t *recv_buf;              /* plain-recv fallback buffer, NULL with provided buffers */
    void *handler_state;            /* the installed handler's own state, freed by its on_close */
    void *filter_state;             /* the filter's per-connection state, released by its free (TLS) */
    rbuf *filter_held;              /* a buffer the filter keeps a reference to (TLS: the sealed head entry) */
    sendq q;
} conn;

/* A new connection on `fd` (accepted). NULL if the pool is exhausted (the
 * caller closes the fd). Counts it in metrics and arms the first receive. */
conn *conn_open(worker *w, int fd);

/* Bytes received (from a provided buffer or the conn's own). May close the
 * connection. The bytes may be modified in place (WebSocket unmasking). */
void conn_on_data(conn *c, uint8_t *data, size_t len);

/* Plaintext bytes for the handler (after the filter, if any). */
void conn_on_plain_data(conn *c, uint8_t *data, size_t len);

/* Schedules a flush in this loop iteration. */
void conn_mark_dirty(conn *c);

/* Receive CQE without data: 0 = EOF, < 0 = error. */
void conn_on_recv_end(conn *c, int res);

/* (Re-)arms the receive (multishot with provided buffers, else a plain recv). */
void conn_arm_recv(conn *c);

/* Queues bytes; marks the conn for this iteration's flush. Returns 0 or
 * -ENOBUFS (the conn was closed as a slow consumer) or -ENOMEM. */
int conn_send(conn *c, rbuf *b, uint32_t off, uint32_t len);

/* The queue's bytes changed from `before` (pushed, sent, dropped): moves the
 * worker's send-queue gauge by the difference. Every change of c->q.bytes is
 * followed by one call, so the gauge is the sum of the queues. */
void conn_account_queue(conn *c, uint64_t before);

/* Flushes the queued bytes as one send (called once per iteration). */
void conn_flush(conn *c);

/* Closes now: cancels receives, closes the socket once nothing is in flight. */
void conn_close(conn *c, metrics_close_reason reason);

/* Queues a head (its reference is taken) past the byte limit, like
 * conn_send_control, then a body (borrowed, kept alive by the caller) within
 * it. On -ENOBUFS the backlog is dropped and the conn closes as a slow
 * consumer after what is queued; on another error it is closed. */
int conn_send_head_body(conn *c, rbuf *head, const uint8_t *body, size_t body_len);

/* Installs another handler (an upgrade). An open conn moves to the
 * deadline of the new handler's conn_wait, starting now. */
void conn_set_handler(conn *c, const conn_handler *h);

/* Closes after the queued bytes are sent (then half-close and linger). */
void conn_close_after_flush(conn *c, metrics_close_reason reason);

/* An op naming this conn finished; frees the conn when it was the last. */
void conn_op_done(conn *c);

/* Queues a frame ignoring the byte limit (pings, pongs, close frames). */
int conn_send_control(conn *c, rbuf *b);

/* The handler got what it waited for (a request answered on a kept
 * connection, a word from the peer): an open conn's deadline restarts. */
void conn_touch(conn *c);

/* The handler said goodbye (a close frame): wait for the peer's answer
 * until --close-timeout-ms. */
void conn_set_closing(conn *c);

/* Timer tick: deadlines of the conns on the worker's lists. */
void conn_tick(worker *w);

/* Shutdown: the handler's on_shutdown (long-lived conns say goodbye; conns
 * waiting for input are closed by the loop once only they remain). */
void conn_begin_shutdown(conn *c);

#endif /* RINGPAD_CONN_H */
