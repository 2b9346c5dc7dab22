#include "redis/redis_conn.h"

#include "base/clock.h"
#include "base/log.h"
#include "io/ring.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_connect(struct worker *w, completion *self, const struct io_uring_cqe *cqe);
static void on_recv(struct worker *w, completion *self, const struct io_uring_cqe *cqe);
static void on_send(struct worker *w, completion *self, const struct io_uring_cqe *cqe);

bool redis_cqe_is_mine(const struct io_uring_cqe *cqe) {
    const completion *c = completion_of(cqe->user_data);
    return c != NULL && (c->fn == on_connect || c->fn == on_recv || c->fn == on_send);
}

static int resolve(const char *host, uint32_t port, struct sockaddr_in *out) {
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &out->sin_addr) == 1) return 0;
    /* a name: resolved once, at startup, before the loop runs */
    struct addrinfo hints = {.ai_family = AF_INET, .ai_socktype = SOCK_STREAM}, *res = NULL;
    if (getaddrinfo(host, NULL, &hints, &res) != 0 || res == NULL) return -EHOSTUNREACH;
    out->sin_addr = ((struct sockaddr_in *)(void *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
}

int redis_conn_init(redis_conn *c, struct worker *w, const char *host, uint32_t port, uint32_t db,
                    redis_state_fn on_state, void *state_ctx) {
    memset(c, 0, sizeof *c);
    c->w = w;
    c->fd = -1;
    c->db = db;
    c->on_state = on_state;
    c->state_ctx = state_ctx;
    c->connect_done.fn = on_connect;
    c->recv_done.fn = on_recv;
    c->send_done.fn = on_send;
    c->backoff_ms = REDIS_BACKOFF_MIN_MS;
    c->m = w != NULL ? w->m : NULL;
    int rc = resolve(host, port, &c->addr);
    if (rc != 0) return rc;
    c->rbuf = malloc(REDIS_RECV_BYTES);
    c->reader = redisReaderCreate();
    if (c->rbuf == NULL || c->reader == NULL) {
        redis_conn_destroy(c);
        return -ENOMEM;
    }
    return 0;
}

bool redis_conn_up(const redis_conn *c) { return c->state == REDIS_UP; }

bool redis_conn_idle(const redis_conn *c) { return !c->connect_out && !c->recv_out && !c->send_out; }

void redis_conn_destroy(redis_conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    free(c->rbuf);
    free(c->out);
    free(c->inflight);
    free(c->pend);
    if (c->reader != NULL) redisReaderFree(c->reader);
    c->rbuf = NULL;
    c->out = c->inflight = NULL;
    c->pend = NULL;
    c->reader = NULL;
}

/* Once nothing is in flight, the socket is closed and the next attempt is
 * scheduled (with the backoff). */
static void maybe_closed(redis_conn *c) {
    if (c->state != REDIS_CLOSING || !redis_conn_idle(c)) return;
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = REDIS_DOWN;
    c->next_attempt_ms = c->w->now_ms + c->backoff_ms;
    c->backoff_ms = c->backoff_ms * 2 > REDIS_BACKOFF_MAX_MS ? REDIS_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* The connection failed: every awaited reply fails in order, the owner hears it. */
static void fail(redis_conn *c, const char *why) {
    if (c->state == REDIS_CLOSING || c->state == REDIS_DOWN) return;
    bool was_up = c->state == REDIS_UP;
    if (c->stopped) log_debug("redis: connection closed (%s)", why);
    else if (was_up) log_warn("redis: connection lost (%s); reconnecting", why);
    else if (c->count_failures % 16 == 0) log_warn("redis: cannot connect (%s); retrying", why);
    c->count_failures++;
    c->state = REDIS_CLOSING;
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    if (c->connect_out) {
        /* a connect to an address that does not answer would wait for TCP's own timeout */
        struct io_uring_sqe *sqe = worker_get_sqe(c->w);
        if (sqe != NULL) {
            io_uring_prep_cancel64(sqe, completion_ud(&c->connect_done, 0), 0);
            completion_set(sqe, NULL);
        }
    }
    c->out_len = 0;
    redisReaderFree(c->reader);
    c->reader = redisReaderCreate();
    /* bounded: the replies awaited when it failed (callbacks cannot queue: not up) */
    while (c->pend_count > 0) {
        redis_pending p = c->pend[c->pend_head];
        c->pend_head = (c->pend_head + 1) % c->pend_cap;
        c->pend_count--;
        if (p.fn != NULL) p.fn(p.ctx, NULL);
    }
    if (was_up && c->on_state != NULL) c->on_state(c->state_ctx, false);
    maybe_closed(c);
}

static void start_send(redis_conn *c) {
    if (c->send_out || c->state != REDIS_UP || (c->out_len == 0 && c->inflight_sent == c->inflight_len)) return;
    if (c->inflight_sent == c->inflight_len) {
        /* swap the buffers: the queued bytes become the send in flight */
        char *b = c->inflight;
        size_t cap = c->inflight_cap;
        c->inflight = c->out;
        c->inflight_cap = c->out_cap;
        c->inflight_len = c->out_len;
        c->inflight_sent = 0;
        c->out = b;
        c->out_cap = cap;
        c->out_len = 0;
    }
    struct io_uring_sqe *sqe = worker_get_sqe(c->w);
    if (sqe == NULL) {
        fail(c, "no SQE");
        return;
    }
    io_uring_prep_send(sqe, c->fd, c->inflight + c->inflight_sent, c->inflight_len - c->inflight_sent, MSG_NOSIGNAL);
    completion_set(sqe, &c->send_done);
    c->send_out = true;
}

static void start_recv(redis_conn *c) {
    struct io_uring_sqe *sqe = worker_get_sqe(c->w);
    if (sqe == NULL) {
        fail(c, "no SQE");
        return;
    }
    io_uring_prep_recv(sqe, c->fd, c->rbuf, REDIS_RECV_BYTES, 0);
    completion_set(sqe, &c->recv_done);
    c->recv_out = true;
}

static int pend_push(redis_conn *c, redis_reply_fn fn, void *ctx) {
    if (c->pend_count == c->pend_cap) {
        uint32_t cap = c->pend_cap == 0 ? 64 : c->pend_cap * 2;
        redis_pending *p = malloc(sizeof *p * cap);
        if (p == NULL) return -ENOMEM;
        for (uint32_t i = 0; i < c->pend_count; i++) p[i] = c->pend[(c->pend_head + i) % c->pend_cap];
        free(c->pend);
        c->pend = p;
        c->pend_cap = cap;
        c->pend_head = 0;
    }
    c->pend[(c->pend_head + c->pend_count) % c->pend_cap] = (redis_pending){fn, ctx, clock_mono_us()};
    c->pend_count++;
    return 0;
}

static int queue_bytes(redis_conn *c, const char *b, size_t n) {
    if (c->out_len + n > c->out_cap) {
        size_t cap = c->out_cap == 0 ? 4096 : c->out_cap;
        while (cap < c->out_len + n) cap *= 2;
        char *p = realloc(c->out, cap);
        if (p == NULL) return -ENOMEM;
        c->out = p;
        c->out_cap = cap;
    }
    memcpy(c->out + c->out_len, b, n);
    c->out_len += n;
    return 0;
}

static int command(redis_conn *c, int argc, const char **argv, const size_t *lens, redis_reply_fn fn, void *ctx) {
    char *cmd = NULL;
    long long n = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (n < 0) return -ENOMEM;
    int rc = queue_bytes(c, cmd, (size_t)n);
    redisFreeCommand(cmd);
    if (rc != 0) return rc;
    rc = pend_push(c, fn, ctx);
    if (rc != 0) {
        c->out_len -= (size_t)n;
        return rc;
    }
    start_send(c);
    return 0;
}

int redis_conn_command(redis_conn *c, int argc, const char **argv, const size_t *lens, redis_reply_fn fn, void *ctx) {
    if (c->state != REDIS_UP) return -ENOTCONN;
    return command(c, argc, argv, lens, fn, ctx);
}

static void on_select(void *ctx, const redisReply *r) {
    redis_conn *c = ctx;
    if (r != NULL && r->type == REDIS_REPLY_ERROR) log_error("redis: SELECT %u: %s", c->db, r->str);
}

static void on_connect(struct worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)w;
    redis_conn *c = completion_owner(self, redis_conn, connect_done);
    c->connect_out = false;
    if (c->state != REDIS_CONNECTING) {
        maybe_closed(c);
        return;
    }
    if (cqe->res < 0) {
        fail(c, strerror(-cqe->res));
        return;
    }
    c->state = REDIS_UP;
    c->backoff_ms = REDIS_BACKOFF_MIN_MS;
    log_info("redis: connected to %s:%u", inet_ntoa(c->addr.sin_addr), ntohs(c->addr.sin_port));
    start_recv(c);
    if (c->db != 0 && c->state == REDIS_UP) {
        char db[16];
        int n = snprintf(db, sizeof db, "%u", c->db);
        const char *argv[] = {"SELECT", db};
        size_t lens[] = {6, (size_t)n};
        if (command(c, 2, argv, lens, on_select, c) != 0) fail(c, "no memory");
    }
    if (c->state == REDIS_UP && c->on_state != NULL) c->on_state(c->state_ctx, true);
}

static void deliver(redis_conn *c) {
    /* bounded by the replies in the bytes received */
    for (;;) {
        void *reply = NULL;
        if (redisReaderGetReply(c->reader, &reply) != REDIS_OK) {
            fail(c, "protocol error");
            return;
        }
        if (reply == NULL) return;
        const redisReply *r = reply;
        if (c->on_push != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
            r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "message") == 0) {
            c->on_push(c->push_ctx, r);
            freeReplyObject(reply);
            if (c->state != REDIS_UP) return;
            continue;
        }
        if (c->pend_count == 0) {
            freeReplyObject(reply);
            fail(c, "a reply nobody asked for");
            return;
        }
        redis_pending p = c->pend[c->pend_head];
        c->pend_head = (c->pend_head + 1) % c->pend_cap;
        c->pend_count--;
        uint64_t now = clock_mono_us();
        c->last_rtt_us = now > p.sent_us ? now - p.sent_us : 0;
        /* a blocking read waits by design: its time is not a round trip */
        if (c->m != NULL && !c->blocking) metrics_count_redis_rtt(c->m, c->last_rtt_us);
        if (p.fn != NULL) p.fn(p.ctx, reply);
        freeReplyObject(reply);
        if (c->state != REDIS_UP) return;
    }
}

static void on_recv(struct worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)w;
    redis_conn *c = completion_owner(self, redis_conn, recv_done);
    c->recv_out = false;
    if (c->state != REDIS_UP) {
        maybe_closed(c);
        return;
    }
    if (cqe->res <= 0) {
        fail(c, cqe->res == 0 ? "closed by the server" : strerror(-cqe->res));
        return;
    }
    if (redisReaderFeed(c->reader, (const char *)c->rbuf, (size_t)cqe->res) != REDIS_OK) {
        fail(c, "no memory");
        return;
    }
    deliver(c);
    if (c->state == REDIS_UP) start_recv(c);
}

static void on_send(struct worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)w;
    redis_conn *c = completion_owner(self, redis_conn, send_done);
    c->send_out = false;
    if (c->state != REDIS_UP) {
        maybe_closed(c);
        return;
    }
    if (cqe->res < 0) {
        fail(c, strerror(-cqe->res));
        return;
    }
    c->inflight_sent += (size_t)cqe->res;
    start_send(c);
}

static void attempt(redis_conn *c, uint64_t now_ms) {
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (c->fd < 0) {
        c->state = REDIS_CONNECTING;
        fail(c, strerror(errno));
        return;
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct io_uring_sqe *sqe = worker_get_sqe(c->w);
    c->state = REDIS_CONNECTING;
    c->connect_started_ms = now_ms;
    c->inflight_len = c->inflight_sent = 0;
    if (sqe == NULL) {
        fail(c, "no SQE");
        return;
    }
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&c->addr, sizeof c->addr);
    completion_set(sqe, &c->connect_done);
    c->connect_out = true;
}

void redis_conn_tick(redis_conn *c, uint64_t now_ms) {
    if (c->stopped) return;
    if (c->state == REDIS_DOWN && now_ms >= c->next_attempt_ms) attempt(c, now_ms);
    else if (c->state == REDIS_CONNECTING && now_ms - c->connect_started_ms > REDIS_CONNECT_TIMEOUT_MS)
        fail(c, "connect timed out");
}

void redis_conn_stop(redis_conn *c) {
    c->stopped = true;
    if (c->state == REDIS_DOWN) return;
    c->on_state = NULL;
    if (c->state == REDIS_CONNECTING || c->state == REDIS_UP) fail(c, "stopping");
}

void redis_conn_reset(redis_conn *c, const char *why) {
    if (c->state == REDIS_UP || c->state == REDIS_CONNECTING) fail(c, why);
}
