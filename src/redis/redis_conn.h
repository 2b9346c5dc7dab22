/*
 * One Redis connection on a worker's ring: connect, pipelined commands with a
 * completion callback each (in the order Redis answers them, which is the
 * order they were sent), hiredis's reply reader and command formatter, and
 * reconnection with backoff. No blocking call: the socket's connect, sends
 * and receives are SQEs of the worker's ring like every other socket.
 *
 * A command is accepted only while the connection is up; when it fails,
 * every command still waiting for its reply gets a NULL reply (in order),
 * then the owner hears `on_state(false)`; after a reconnect it hears
 * `on_state(true)` and may resend what it still needs.
 */
#ifndef RINGPAD_REDIS_CONN_H
#define RINGPAD_REDIS_CONN_H

#include "io/completion.h"

#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;

/* reply: hiredis's reply (freed after the call), or NULL when the
 * connection failed before it arrived. */
typedef void (*redis_reply_fn)(void *ctx, const redisReply *reply);
/* The connection came up (after its SELECT and what on_up queued) or went down. */
typedef void (*redis_state_fn)(void *ctx, bool up);

#define REDIS_RECV_BYTES 65536u
#define REDIS_BACKOFF_MIN_MS 50u
#define REDIS_BACKOFF_MAX_MS 2000u
#define REDIS_CONNECT_TIMEOUT_MS 2000u

typedef struct redis_pending {
    redis_reply_fn fn;
    void *ctx;
    uint64_t sent_us;
} redis_pending;

typedef enum redis_state {
    REDIS_DOWN = 0,         /* waiting for the next attempt */
    REDIS_CONNECTING = 1,
    REDIS_UP = 2,
    REDIS_CLOSING = 3,      /* shut down; waiting for the SQEs in flight before the next attempt */
} redis_state;

typedef struct redis_conn {
    struct worker *w;
    struct sockaddr_in addr;
    uint32_t db;
    int fd;
    uint8_t state;                  /* redis_state */
    bool stopped;                   /* redis_conn_stop: no reconnection */
    bool connect_out, recv_out, send_out;
    completion connect_done, recv_done, send_done;
    uint8_t *rbuf;
    char *out;                      /* formatted commands not yet handed to a send */
    size_t out_len, out_cap;
    char *inflight;                 /* the bytes of the send in flight */
    size_t inflight_len, inflight_sent, inflight_cap;
    redisReader *reader;
    redis_pending *pend;            /* replies awaited, a ring */
    uint32_t pend_head, pend_count, pend_cap;
    uint64_t next_attempt_ms;
    uint64_t connect_started_ms;
    uint32_t backoff_ms;
    redis_state_fn on_state;
    void *state_ctx;
    uint64_t count_failures;        /* connections lost or refused */
    uint64_t last_rtt_us;           /* of the last reply */
    struct metrics_worker *m;       /* round trips are counted there (may be NULL) */
    bool blocking;                  /* its commands block (XREAD BLOCK): not counted as round trips */
    /* subscriber mode: a published message (["message", channel, payload])
     * goes here, not to a command's callback */
    redis_reply_fn on_push;
    void *push_ctx;
} redis_conn;

/* host: an IPv4 address or a name resolved here, once (at startup). The
 * first attempt starts at redis_conn_tick. 0 or -errno. */
int redis_conn_init(redis_conn *c, struct worker *w, const char *host, uint32_t port, uint32_t db,
                    redis_state_fn on_state, void *state_ctx);
/* Starts an attempt when one is due, and times out a slow connect. */
void redis_conn_tick(redis_conn *c, uint64_t now_ms);
bool redis_conn_up(const redis_conn *c);
/* Queues one command (argv with lengths). -ENOTCONN while not up, -ENOMEM. */
int redis_conn_command(redis_conn *c, int argc, const char **argv, const size_t *lens, redis_reply_fn fn, void *ctx);
/* Drops the connection (every awaited reply fails) and connects again. */
void redis_conn_reset(redis_conn *c, const char *why);
/* No more attempts; the socket is shut down so the SQEs in flight complete. */
void redis_conn_stop(redis_conn *c);
/* Nothing of the connection is in the kernel any more: it may be freed. */
bool redis_conn_idle(const redis_conn *c);
/* Frees the buffers (only when idle; the caller owns the struct). */
void redis_conn_destroy(redis_conn *c);
/* The CQE belongs to a Redis connection (the shutdown drain dispatches it). */
bool redis_cqe_is_mine(const struct io_uring_cqe *cqe);

#endif /* RINGPAD_REDIS_CONN_H */
