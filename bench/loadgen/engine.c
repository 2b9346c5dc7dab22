#include "engine.h"

#include "client.h"
#include "tls/tls.h"
#include "tlsc.h"
#include "wsc.h"
#include "ws/ws.h"

#include <errno.h>
#include <liburing.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

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

const char *const lg_err_code_names[LG_ERR_CODES] = {
    "bad_json", "bad_message", "unknown_type", "unauthorized", "forbidden", "bad_doc_name",
    "bad_op", "version_too_old", "version_ahead", "doc_too_large", "op_too_large",
    "too_many_docs", "rate_limited", "not_open", "storage_unavailable", "internal", "other",
};

static const char *const scenario_names[LG_SC_COUNT] = {"docs", "hot", "fanout", "storm",
                                                        "paste", "idle", "echo", "tls"};

const char *lg_scenario_str(lg_scenario s) {
    return (unsigned)s < LG_SC_COUNT ? scenario_names[s] : "?";
}

int lg_scenario_parse(const char *name) {
    for (int i = 0; i < LG_SC_COUNT; i++)
        if (strcmp(name, scenario_names[i]) == 0) return i;
    return -1;
}

void lg_stats_init(lg_stats *s) {
    memset(s, 0, sizeof(*s));
    lg_hist_reset(&s->ack);
    lg_hist_reset(&s->delivery);
    lg_hist_reset(&s->connect);
    lg_hist_reset(&s->echo);
    lg_hist_reset(&s->tls_handshake);
}

void lg_stats_merge(lg_stats *d, const lg_stats *s) {
    lg_hist_merge(&d->ack, &s->ack);
    lg_hist_merge(&d->delivery, &s->delivery);
    lg_hist_merge(&d->connect, &s->connect);
    lg_hist_merge(&d->echo, &s->echo);
    lg_hist_merge(&d->tls_handshake, &s->tls_handshake);
#define ADD(f) d->f += s->f
    ADD(ops_sent); ADD(acks); ADD(remote_ops); ADD(edits); ADD(frames_rx); ADD(frames_tx);
    ADD(bytes_rx); ADD(bytes_tx); ADD(messages_rx); ADD(echoes); ADD(connections_opened);
    ADD(connect_failed); ADD(handshake_failed); ADD(closed_by_peer); ADD(ws_protocol_errors);
    ADD(client_errors); ADD(echo_mismatch); ADD(edits_behind); ADD(ready_connections);
    ADD(clients_checked); ADD(clients_diverged); ADD(clients_unverified); ADD(docs_checked);
    ADD(clients_equal);
    ADD(tls_handshakes); ADD(tls_resumed); ADD(tls_failed); ADD(server_cpu_s);
#undef ADD
    for (int i = 0; i < LG_ERR_CODES; i++) d->err_by_code[i] += s->err_by_code[i];
    d->verify_ran |= s->verify_ran;
}

uint64_t lg_proc_rss_kb(int pid) {
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/status", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return 0;
    char line[256];
    uint64_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtoull(line + 6, NULL, 10);
            break;
        }
    fclose(f);
    return kb;
}

double lg_proc_cpu_s(int pid) {
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after "(comm)": state is the 3rd field, utime the 14th, stime the 15th */
    const char *p = strrchr(buf, ')');
    unsigned long long utime = 0, stime = 0;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) != 2)
        return -1;
    long tck = sysconf(_SC_CLK_TCK);
    return tck > 0 ? (double)(utime + stime) / (double)tck : -1;
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- state shared by the threads (read-only config + phase barriers) ---- */

typedef struct shared {
    const lg_config *cfg;
    char run_id[17];
    atomic_uint ready_threads;
    atomic_uint drained_threads;
    atomic_uint_fast64_t start_us;         /* set once by the last thread to get ready */
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
    ot_op edit;
    uint8_t *echo_payload;
    uint32_t insert_bytes;
    lg_tls_session *tls_session;   /* --tls-resume: offered by every new connection */
    double server_cpu_at_warm;     /* thread 0 with --server-pid; < 0 until the window starts */
    int err;
} worker;

static bool is_proto(const lg_config *cfg) {
    return cfg->scenario == LG_SC_DOCS || cfg->scenario == LG_SC_HOT ||
           cfg->scenario == LG_SC_FANOUT || cfg->scenario == LG_SC_PASTE;
}

/* Roles that connect, finish, and start again for the whole window. */
static bool cycling(const conn *c) { return c->role == R_STORM || c->role == R_TLS; }

static inline uint64_t ud(uint32_t idx, int kind) { return ((uint64_t)idx << 8) | (uint64_t)kind; }

static struct io_uring_sqe *get_sqe(worker *w) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
    if (sqe == NULL) {
        io_uring_submit(&w->ring);
        sqe = io_uring_get_sqe(&w->ring);
    }
    return sqe;
}

static void recycle(worker *w, uint16_t bid) {
    io_uring_buf_ring_add(w->br, w->bufs + (size_t)bid * RECV_BUF_BYTES, RECV_BUF_BYTES, bid,
                          io_uring_buf_ring_mask(RECV_BUF_COUNT), 0);
    io_uring_buf_ring_advance(w->br, 1);
}

static void arm_recv(worker *w, conn *c) {
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        c->want_rearm = true;
        return;
    }
    io_uring_prep_recv_multishot(sqe, c->fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = BUF_GROUP;
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_RECV));
    c->recv_armed = true;
}

static void mark_dirty(worker *w, conn *c) {
    if (c->dirty) return;
    c->dirty = true;
    w->dirty[w->ndirty++] = c->idx;
}

static bool outstanding(const conn *c) { return c->recv_armed || c->send_busy || c->connect_busy; }

/* Releases what the connection owns once no request refers to it any more. */
static void conn_release(worker *w, conn *c) {
    if (c->fd >= 0) {
        if (cycling(c)) {
            struct linger lg = {1, 0};   /* RST: no TIME_WAIT eating the ephemeral ports */
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd);
        c->fd = -1;
    }
    free(c->hs);
    c->hs = NULL;
    if (c->rd_init) ws_reader_free(&c->rd);
    c->rd_init = false;
    c->tx[0].len = c->tx[1].len = 0;
    c->tx_off = 0;
    c->state = CS_DEAD;
    (void)w;
}

static void conn_kill(worker *w, conn *c) {
    if (c->state == CS_DEAD || c->state == CS_FREE || c->state == CS_CLOSING) return;
    bool was_ready = c->ready;
    c->state = CS_CLOSING;
    if (c->fd >= 0) shutdown(c->fd, SHUT_RDWR);
    if (!outstanding(c)) conn_release(w, c);
    if (!was_ready && !cycling(c) && c->role != R_VERIFIER && w->phase <= PH_WAIT_START)
        w->nfailed++;
}

/* Appends one masked frame to the collecting buffer. */
static int conn_queue(worker *w, conn *c, uint8_t opcode, const void *payload, size_t len) {
    if (c->state != CS_OPEN && c->state != CS_HANDSHAKE && c->state != CS_CONNECTING) return -EPIPE;
    txb *t = &c->tx[c->cur ^ 1];
    size_t need = t->len + len + LG_WSC_MAX_FRAME_HEADER_BYTES;
    if (need > t->cap) {
        if (need > MAX_SEND_BUFFER_BYTES) return -ENOBUFS;
        size_t cap = t->cap ? t->cap : 256;
        while (cap < need) cap *= 2;
        uint8_t *p = realloc(t->p, cap);
        if (p == NULL) return -ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    uint64_t r = lg_rand(&w->rng);
    uint8_t mask[4] = {(uint8_t)r, (uint8_t)(r >> 8), (uint8_t)(r >> 16), (uint8_t)(r >> 24)};
    size_t h = lg_wsc_encode_header(t->p + t->len, true, opcode, len, mask);
    if (len) memcpy(t->p + t->len + h, payload, len);
    lg_wsc_mask_payload(t->p + t->len + h, len, mask);
    t->len += h + len;
    if (w->measuring) {
        w->st.frames_tx++;
        w->st.bytes_tx += h + len;
    }
    mark_dirty(w, c);
    return 0;
}

static int conn_queue_raw(worker *w, conn *c, const void *bytes, size_t len) {
    txb *t = &c->tx[c->cur ^ 1];
    if (t->len + len > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + len) cap *= 2;
        uint8_t *p = realloc(t->p, cap);
        if (p == NULL) return -ENOMEM;
        t->p = p;
        t->cap = cap;
    }
    memcpy(t->p + t->len, bytes, len);
    t->len += len;
    mark_dirty(w, c);
    return 0;
}

static void tls_flush(worker *w, conn *c);

static void flush(worker *w, conn *c) {
    c->dirty = false;
    if (c->send_busy || c->fd < 0 || c->state == CS_CLOSING || c->state == CS_DEAD) return;
    if (c->state == CS_CONNECTING) return;   /* sent once connected */
    if (c->tls) {
        tls_flush(w, c);
        return;
    }
    if (c->tx[c->cur ^ 1].len == 0) return;
    c->cur ^= 1;
    c->tx_off = 0;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        c->cur ^= 1;
        mark_dirty(w, c);
        return;
    }
    io_uring_prep_send(sqe, c->fd, c->tx[c->cur].p, c->tx[c->cur].len, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_SEND));
    c->send_busy = true;
}

static void send_text(worker *w, conn *c, const ot_buf *m) {
    if (conn_queue(w, c, WS_OP_TEXT, m->data, m->len) != 0) {
        w->st.client_errors++;
        conn_kill(w, c);
    }
}

/* ---- connecting ------------------------------------------------------------ */

static void conn_start(worker *w, conn *c) {
    const lg_config *cfg = w->cfg;
    c->fd = socket(cfg->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    c->recv_armed = c->send_busy = c->connect_busy = c->dirty = c->ready = false;
    c->cur = 0;
    c->tx[0].len = c->tx[1].len = 0;
    if (c->fd < 0) {
        w->st.connect_failed++;
        c->state = CS_DEAD;
        if (!cycling(c) && c->role != R_VERIFIER) w->nfailed++;
        return;
    }
    if (w->sh->tls) {
        lg_tls_free(c->tls);
        c->tls = lg_tls_new(w->sh->tls, w->tls_session);
        if (c->tls == NULL) {
            w->st.client_errors++;
            close(c->fd);
            c->fd = -1;
            c->state = CS_DEAD;
            if (!cycling(c) && c->role != R_VERIFIER) w->nfailed++;
            return;
        }
    }
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->state = CS_CONNECTING;
    c->t_start_us = now_us();
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        w->st.connect_failed++;
        conn_kill(w, c);
        return;
    }
    io_uring_prep_connect(sqe, c->fd, (const struct sockaddr *)&cfg->addr, cfg->addr_len);
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_CONNECT));
    c->connect_busy = true;
}

static void tls_on_connected(worker *w, conn *c);

static void on_connected(worker *w, conn *c) {
    if (c->tls) tls_on_connected(w, c);
    if (c->role == R_TLS) return;   /* a handshake only: no upgrade */
    uint8_t rnd[16];
    uint64_t a = lg_rand(&w->rng), b = lg_rand(&w->rng);
    memcpy(rnd, &a, 8);
    memcpy(rnd + 8, &b, 8);
    char req[LG_HOST_MAX_BYTES + LG_PATH_MAX_BYTES + 256];
    int n = lg_wsc_make_key(rnd, c->key);
    if (n == 0)
        n = lg_wsc_write_request(req, sizeof req, w->cfg->host, w->cfg->port, w->cfg->path, c->key,
                                 c->cl ? "ringpad.v1" : NULL);
    c->hs = malloc(LG_WSC_MAX_RESPONSE_BYTES + 1);
    if (n < 0 || c->hs == NULL || conn_queue_raw(w, c, req, (size_t)n) != 0) {
        w->st.handshake_failed++;
        conn_kill(w, c);
        return;
    }
    c->hs_len = 0;
    c->state = CS_HANDSHAKE;
    arm_recv(w, c);
}

static void make_ready(worker *w, conn *c) {
    if (c->ready) return;
    c->ready = true;
    if (c->role == R_VERIFIER || cycling(c)) return;
    if (w->phase <= PH_WAIT_START) w->nready++;
}

static void editor_edit(worker *w, conn *c, uint64_t now);
static void echo_send(worker *w, conn *c, uint64_t now);

static void on_upgraded(worker *w, conn *c, uint64_t now) {
    uint64_t dt = now - c->t_start_us;
    if (c->role == R_STORM) {
        if (w->measuring) {
            lg_hist_record(&w->st.connect, dt);
            w->st.connections_opened++;
        }
        conn_kill(w, c);   /* and start again once its requests have ended */
        return;
    }
    if (c->role != R_VERIFIER) {
        lg_hist_record(&w->st.connect, dt);
        w->st.connections_opened++;
    }
    if (c->cl) {
        if (lg_client_write_hello(c->cl, &w->msg) == 0) send_text(w, c, &w->msg);
        if (lg_client_write_open(c->cl, &w->msg) == 0) send_text(w, c, &w->msg);
        return;
    }
    make_ready(w, c);
    if (c->role == R_ECHO && w->phase == PH_RUN && !w->stop_edits) echo_send(w, c, now);
}

/* ---- traffic -------------------------------------------------------------- */

static void editor_edit(worker *w, conn *c, uint64_t now) {
    lg_client *cl = c->cl;
    if (cl == NULL || cl->phase != LG_PHASE_LIVE || c->state != CS_OPEN) return;
    uint32_t ins = w->insert_bytes ? w->insert_bytes : 1 + (uint32_t)(lg_rand(&w->rng) % 8);
    if (lg_edit_random(&w->rng, lg_client_len(cl), ins, w->cfg->target_doc_codepoints, &w->edit) != 0) {
        w->st.client_errors++;
        return;
    }
    int rc = lg_client_local_edit(cl, &w->edit, now, &w->msg);
    if (rc < 0) {
        w->st.client_errors++;
        return;
    }
    if (w->measuring) w->st.edits++;
    if (rc == 1) {
        if (w->measuring) w->st.ops_sent++;
        send_text(w, c, &w->msg);
    }
}

static void echo_send(worker *w, conn *c, uint64_t now) {
    c->t_start_us = now;
    if (conn_queue(w, c, WS_OP_BINARY, w->echo_payload, w->cfg->message_bytes) != 0) {
        w->st.client_errors++;
        conn_kill(w, c);
    }
}

static int err_index(const char *code, size_t len) {
    for (int i = 0; i < LG_ERR_CODES - 1; i++)
        if (strlen(lg_err_code_names[i]) == len && memcmp(lg_err_code_names[i], code, len) == 0) return i;
    return LG_ERR_CODES - 1;
}

static void on_message(worker *w, conn *c, const ws_event *ev, uint64_t now) {
    if (w->measuring) w->st.messages_rx++;
    if (c->role == R_ECHO) {
        if (ev->len != w->cfg->message_bytes || memcmp(ev->data, w->echo_payload, ev->len) != 0)
            w->st.echo_mismatch++;
        if (w->measuring) {
            lg_hist_record(&w->st.echo, now - c->t_start_us);
            w->st.echoes++;
        }
        if (w->phase == PH_RUN && !w->stop_edits) echo_send(w, c, now);
        return;
    }
    if (c->cl == NULL) return;
    lg_event e;
    int rc = lg_client_on_message(c->cl, (const char *)ev->data, ev->len, now, &e, &w->msg);
    if (rc < 0) {
        w->st.client_errors++;
        return;
    }
    switch (e.kind) {
    case LG_EV_SNAPSHOT:
        make_ready(w, c);
        if (c->role == R_EDITOR && w->phase == PH_RUN && !w->stop_edits && w->cfg->rate_ops_s <= 0)
            editor_edit(w, c, now);
        break;
    case LG_EV_ACK:
        if (w->measuring) {
            lg_hist_record(&w->st.ack, e.latency_us);
            w->st.acks++;
        }
        break;
    case LG_EV_REMOTE_OP:
        if (w->measuring) {
            w->st.remote_ops++;
            if (e.has_latency) lg_hist_record(&w->st.delivery, e.latency_us);
        }
        break;
    case LG_EV_ERROR:
        w->st.err_by_code[err_index(e.code ? e.code : "", e.code_len)]++;
        break;
    default: break;
    }
    if (rc == 1) {
        if (w->measuring) w->st.ops_sent++;
        send_text(w, c, &w->msg);
    } else if (e.kind == LG_EV_ACK && c->role == R_EDITOR && w->cfg->rate_ops_s <= 0 &&
               w->phase == PH_RUN && !w->stop_edits && lg_client_synchronized(c->cl)) {
        editor_edit(w, c, now);   /* closed loop: the next edit as soon as the ack is in */
    }
}

static void feed(worker *w, conn *c, uint8_t *data, size_t len, uint64_t now) {
    size_t off = 0;
    while (off < len && c->state == CS_OPEN) {
        ws_event ev;
        size_t n = ws_reader_feed(&c->rd, data + off, len - off, &ev);
        off += n;
        switch (ev.type) {
        case WS_EV_NONE: return;
        case WS_EV_MESSAGE:
            if (w->measuring) w->st.frames_rx++;
            on_message(w, c, &ev, now);
            break;
        case WS_EV_PING:
            if (conn_queue(w, c, WS_OP_PONG, ev.data, ev.len) != 0) conn_kill(w, c);
            break;
        case WS_EV_PONG: break;
        case WS_EV_CLOSE: {
            w->st.closed_by_peer++;
            uint8_t p[2] = {(uint8_t)(ev.close_code >> 8), (uint8_t)ev.close_code};
            conn_queue(w, c, WS_OP_CLOSE, p, ev.close_code == WS_CLOSE_NO_STATUS ? 0 : 2);
            flush(w, c);
            conn_kill(w, c);
            return;
        }
        case WS_EV_ERROR:
            w->st.ws_protocol_errors++;
            conn_kill(w, c);
            return;
        }
    }
}

static void on_bytes(worker *w, conn *c, uint8_t *data, size_t len, uint64_t now) {
    if (w->measuring) w->st.bytes_rx += len;
    if (c->state == CS_HANDSHAKE) {
        size_t room = LG_WSC_MAX_RESPONSE_BYTES - c->hs_len;
        size_t take = len < room ? len : room;
        memcpy(c->hs + c->hs_len, data, take);
        c->hs_len += take;
        int rc = lg_wsc_parse_response(c->hs, c->hs_len, c->key, c->cl ? "ringpad.v1" : NULL, NULL);
        if (rc == 0 && take == len) return;
        if (rc <= 0) {
            w->st.handshake_failed++;
            if (!w->cfg->quiet && w->st.handshake_failed == 1)
                fprintf(stderr, "ringpad-bench: handshake failed: %s\n", lg_wsc_err_str(rc ? rc : LG_WSC_ERR_TOO_LONG));
            conn_kill(w, c);
            return;
        }
        ws_reader_config rc_cfg = {.max_message_bytes = REPLY_MAX_MESSAGE_BYTES,
                                   .retain_buffer_bytes = 4096,
                                   .expect_masked = false};
        if (ws_reader_init(&c->rd, &rc_cfg) != 0) {
            conn_kill(w, c);
            return;
        }
        c->rd_init = true;
        c->state = CS_OPEN;
        /* bytes after the head: in hs (what was copied) and in data (the rest) */
        size_t extra_hs = c->hs_len - (size_t)rc;
        uint8_t *hs = (uint8_t *)c->hs;
        c->hs = NULL;
        on_upgraded(w, c, now);
        if (extra_hs) feed(w, c, hs + rc, extra_hs, now);
        free(hs);
        if (take < len) feed(w, c, data + take, len - take, now);
        return;
    }
    feed(w, c, data, len, now);
}

/* ---- TLS (--tls, --scenario tls) ----------------------------------------------
 * The session sits between the socket and everything above: received
 * ciphertext goes through lg_tls_input and its plaintext to on_bytes; what
 * conn_queue collected as plaintext is encrypted at flush time (after the
 * handshake: the upgrade request waits for it) and the session's output is
 * what the ring sends. */

typedef struct tls_feed {
    worker *w;
    conn *c;
    uint64_t now;
} tls_feed;

static bool live(const conn *c) { return c->state == CS_HANDSHAKE || c->state == CS_OPEN; }

static void tls_flush(worker *w, conn *c) {
    txb *t = &c->tx[c->cur ^ 1];
    if (t->len && lg_tls_handshake_done(c->tls)) {
        if (lg_tls_write(c->tls, t->p, t->len) != LG_TLS_OK) {
            w->st.client_errors++;
            conn_kill(w, c);
            return;
        }
        t->len = 0;
    }
    const uint8_t *p;
    size_t n = lg_tls_flight(c->tls, &p);
    if (n == 0) return;
    struct io_uring_sqe *sqe = get_sqe(w);
    if (sqe == NULL) {
        mark_dirty(w, c);
        return;
    }
    io_uring_prep_send(sqe, c->fd, p, n, MSG_NOSIGNAL);
    io_uring_sqe_set_data64(sqe, ud(c->idx, K_SEND));
    c->send_busy = true;
}

static void tls_failed(worker *w, conn *c, int rc) {
    w->st.tls_failed++;
    if (!w->cfg->quiet && w->st.tls_failed == 1)
        fprintf(stderr, "ringpad-bench: TLS: %s: %s\n", lg_tls_status_str(rc), lg_tls_error_str(c->tls));
    conn_kill(w, c);
}

static void tls_on_connected(worker *w, conn *c) {
    int rc = lg_tls_start(c->tls);
    if (rc != LG_TLS_OK) {
        tls_failed(w, c, rc);
        return;
    }
    mark_dirty(w, c);
    if (c->role == R_TLS) {
        c->state = CS_HANDSHAKE;
        arm_recv(w, c);
    }
}

/* The tls scenario's connection once its handshake is done: close_notify as
 * soon as the thread holds a session to resume from (the first connections
 * wait for the server's ticket), then the server's close ends it. */
static void tls_finish(worker *w, conn *c) {
    if (w->cfg->tls_resume && w->tls_session == NULL) return;
    if (lg_tls_shutdown(c->tls) != LG_TLS_OK) conn_kill(w, c);
    mark_dirty(w, c);
}

static int tls_sink(void *arg, uint8_t *plain, size_t len) {
    tls_feed *f = arg;
    if (!live(f->c)) return 1;
    if (f->c->role == R_TLS) return 0;   /* a handshake-only connection expects no data */
    on_bytes(f->w, f->c, plain, len, f->now);
    return !live(f->c);
}

static void tls_on_cipher(worker *w, conn *c, uint8_t *data, size_t len, uint64_t now) {
    bool was_done = lg_tls_handshake_done(c->tls);
    tls_feed f = {w, c, now};
    int rc = lg_tls_input(c->tls, data, len, tls_sink, &f);
    if (!live(c)) return;   /* closed by what the plaintext said */
    bool done = lg_tls_handshake_done(c->tls);
    if (done && !was_done && (c->role != R_TLS || w->measuring)) {
        lg_hist_record(&w->st.tls_handshake, now - c->t_start_us);
        w->st.tls_handshakes++;
        if (lg_tls_session_reused(c->tls)) w->st.tls_resumed++;
    }
    if (done && w->cfg->tls_resume && w->tls_session == NULL) w->tls_session = lg_tls_get_session(c->tls);
    if (rc == LG_TLS_PEER_CLOSED) {
        if (!cycling(c)) w->st.closed_by_peer++;
        conn_kill(w, c);
        return;
    }
    if (rc < 0) {
        tls_failed(w, c, rc);
        return;
    }
    if (done && c->role == R_TLS) tls_finish(w, c);
    if (lg_tls_unsent_bytes(c->tls) || (done && c->tx[c->cur ^ 1].len)) mark_dirty(w, c);
}

/* ---- completions ------------------------------------------------------------ */

static void conn_after_request(worker *w, conn *c) {
    if ((c->state == CS_CLOSING || c->state == CS_DEAD) && !outstanding(c)) {
        if (c->state == CS_CLOSING) conn_release(w, c);
        if (cycling(c) && w->phase == PH_RUN && !w->stop_edits) conn_start(w, c);
    }
}

static void on_cqe(worker *w, struct io_uring_cqe *cqe, uint64_t now) {
    uint64_t data = io_uring_cqe_get_data64(cqe);
    int kind = (int)(data & 0xff);
    uint32_t idx = (uint32_t)(data >> 8);
    int res = cqe->res;
    if (idx >= w->cap_conns) return;
    conn *c = &w->conns[idx];
    switch (kind) {
    case K_CONNECT:
        c->connect_busy = false;
        if (c->state != CS_CONNECTING) break;
        if (res < 0) {
            w->st.connect_failed++;
            if (!w->cfg->quiet && w->st.connect_failed == 1)
                fprintf(stderr, "ringpad-bench: connect: %s\n", strerror(-res));
            conn_kill(w, c);
        } else {
            on_connected(w, c);
        }
        break;
    case K_SEND:
        c->send_busy = false;
        if (c->state == CS_CLOSING || c->state == CS_DEAD) break;
        if (res < 0) {
            conn_kill(w, c);
            break;
        }
        if (c->tls) {
            lg_tls_sent(c->tls, (size_t)res);
            if (lg_tls_unsent_bytes(c->tls) || c->tx[c->cur ^ 1].len) mark_dirty(w, c);
            break;
        }
        c->tx_off += (size_t)res;
        if (c->tx_off < c->tx[c->cur].len) {
            struct io_uring_sqe *sqe = get_sqe(w);
            if (sqe == NULL) {
                conn_kill(w, c);
                break;
            }
            io_uring_prep_send(sqe, c->fd, c->tx[c->cur].p + c->tx_off, c->tx[c->cur].len - c->tx_off,
                               MSG_NOSIGNAL);
            io_uring_sqe_set_data64(sqe, ud(c->idx, K_SEND));
            c->send_busy = true;
            break;
        }
        c->tx[c->cur].len = 0;
        if (c->tx[c->cur ^ 1].len) mark_dirty(w, c);
        break;
    case K_RECV: {
        bool has_buf = (cqe->flags & IORING_CQE_F_BUFFER) != 0;
        uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
        if (!(cqe->flags & IORING_CQE_F_MORE)) c->recv_armed = false;
        if (c->state == CS_HANDSHAKE || c->state == CS_OPEN) {
            if (res == -ENOBUFS) {
                if (!c->recv_armed && !c->want_rearm) {
                    c->want_rearm = true;
                    w->rearm[w->nrearm++] = c->idx;
                }
            } else if (res <= 0) {
                if (c->tls && !lg_tls_handshake_done(c->tls)) w->st.tls_failed++;
                if (res < 0 || !cycling(c)) w->st.closed_by_peer++;
                conn_kill(w, c);
            } else if (has_buf) {
                if (c->tls) tls_on_cipher(w, c, w->bufs + (size_t)bid * RECV_BUF_BYTES, (size_t)res, now);
                else on_bytes(w, c, w->bufs + (size_t)bid * RECV_BUF_BYTES, (size_t)res, now);
                if (!c->recv_armed && (c->state == CS_HANDSHAKE || c->state == CS_OPEN) && !c->want_rearm) {
                    c->want_rearm = true;
                    w->rearm[w->nrearm++] = c->idx;
                }
            }
        }
        if (has_buf) recycle(w, bid);
        break;
    }
    default: break;
    }
    conn_after_request(w, c);
}

/* ---- phases ----------------------------------------------------------------- */

static uint64_t s_to_us(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1e6); }

static void open_loop_edits(worker *w, uint64_t now) {
    if (w->rate_local <= 0 || w->neditors == 0) return;
    uint64_t due = (uint64_t)(w->rate_local * (double)(now - w->t_start) / 1e6);
    if (due <= w->issued) return;
    uint64_t n = due - w->issued;
    if (n > MAX_EDITS_PER_TICK) {
        if (w->measuring) w->st.edits_behind += n - MAX_EDITS_PER_TICK;
        w->issued += n - MAX_EDITS_PER_TICK;
        n = MAX_EDITS_PER_TICK;
    }
    for (uint64_t i = 0; i < n; i++) {
        conn *c = &w->conns[w->editors[w->rr]];
        w->rr = (w->rr + 1) % w->neditors;
        editor_edit(w, c, now);
        w->issued++;
    }
}

static bool all_synchronized(worker *w) {
    for (uint32_t i = 0; i < w->neditors; i++) {
        conn *c = &w->conns[w->editors[i]];
        if (c->state == CS_OPEN && c->cl && c->cl->phase == LG_PHASE_LIVE && !lg_client_synchronized(c->cl))
            return false;
    }
    return true;
}

static void start_verify(worker *w) {
    uint32_t next = w->nconns;
    for (uint32_t d = 0; d < w->cfg->docs; d++) {
        if (!w->docs[d].has_clients) continue;
        conn *v = &w->conns[next];
        w->docs[d].verifier = (int32_t)next;
        next++;
        v->cl = calloc(1, sizeof(lg_client));
        char name[LG_CLIENT_MAX_DOC_BYTES + 1], prefix[LG_CLIENT_MAX_PREFIX_BYTES + 1];
        snprintf(name, sizeof name, "%s%u", w->cfg->doc_prefix, d);
        snprintf(prefix, sizeof prefix, "v%ut%u", d, w->id);
        if (v->cl == NULL || lg_client_init(v->cl, name, prefix) != 0) {
            w->docs[d].verifier = -1;
            continue;
        }
        conn_start(w, v);
    }
}

/* Compares every client of every document whose verifier has its snapshot;
 * returns true when nothing is left to check. */
static bool verify_step(worker *w, bool final) {
    bool pending = false;
    ot_buf text;
    ot_buf_init(&text);
    for (uint32_t d = 0; d < w->cfg->docs; d++) {
        local_doc *ld = &w->docs[d];
        if (!ld->has_clients || ld->checked) continue;
        lg_client *vc = ld->verifier >= 0 ? w->conns[ld->verifier].cl : NULL;
        bool have = vc && vc->phase == LG_PHASE_LIVE;
        /* a verifier that could not connect will not get a snapshot: do not wait for it */
        bool gone = ld->verifier < 0 || w->conns[ld->verifier].state == CS_DEAD ||
                    w->conns[ld->verifier].state == CS_CLOSING || (vc && vc->phase == LG_PHASE_FAILED);
        if (!have && !final && !gone) {
            pending = true;
            continue;
        }
        /* all clients of d at the snapshot's version? */
        bool wait = false;
        if (have) {
            for (uint32_t i = 0; i < w->nconns && !wait; i++) {
                conn *c = &w->conns[i];
                if (c->doc == d && c->cl && c->cl->phase == LG_PHASE_LIVE && c->state == CS_OPEN &&
                    c->cl->server_v < vc->server_v)
                    wait = true;
            }
        }
        if (wait && !final) {
            pending = true;
            continue;
        }
        ld->checked = true;
        w->st.docs_checked++;
        ot_buf_clear(&text);
        if (have) ot_text_to_buf(vc->text, &text);
        for (uint32_t i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            if (c->doc != d || c->cl == NULL) continue;
            if (!have || c->cl->phase != LG_PHASE_LIVE || c->cl->server_v != vc->server_v) {
                w->st.clients_unverified++;
                if (c->cl->phase == LG_PHASE_FAILED) w->st.clients_diverged++;
                continue;
            }
            w->st.clients_checked++;
            if (lg_client_text_equals(c->cl, text.data ? text.data : "", text.len)) {
                w->st.clients_equal++;
            } else {
                w->st.clients_diverged++;
                if (!w->cfg->quiet && w->st.clients_diverged == 1)
                    fprintf(stderr, "ringpad-bench: DIVERGED: doc %s client %u (v %llu)\n",
                            c->cl->doc, i, (unsigned long long)vc->server_v);
            }
        }
    }
    ot_buf_free(&text);
    w->st.verify_ran = true;
    return !pending;
}

static void phase_step(worker *w, uint64_t now) {
    const lg_config *cfg = w->cfg;
    shared *sh = w->sh;
    switch (w->phase) {
    case PH_CONNECT: {
        if (cfg->scenario == LG_SC_STORM || cfg->scenario == LG_SC_TLS) {
            w->nready = w->nconns;
        } else {
            while (w->next_connect < w->nconns &&
                   w->next_connect - w->nready - w->nfailed < cfg->max_connecting_per_thread)
                conn_start(w, &w->conns[w->next_connect++]);
        }
        if (w->nready + w->nfailed >= w->nconns || now >= w->deadline) {
            w->phase = PH_WAIT_START;
            atomic_fetch_add(&sh->ready_threads, 1);
        }
        break;
    }
    case PH_WAIT_START:
        /* a thread that never gets ready (it failed to start) must not hold the others */
        if (atomic_load(&sh->ready_threads) < cfg->threads && now < w->deadline + 5000000u) break;
        {
            uint64_t expected = 0;
            atomic_compare_exchange_strong(&sh->start_us, &expected, now);
            w->t_start = atomic_load(&sh->start_us);
        }
        w->t_warm = w->t_start + s_to_us(cfg->warmup_s);
        w->t_end = w->t_warm + s_to_us(cfg->duration_s);
        w->phase = PH_RUN;
        w->st.ready_connections = w->nready;
        for (uint32_t i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            if (cycling(c)) conn_start(w, c);
            else if (c->role == R_ECHO && c->state == CS_OPEN) echo_send(w, c, now);
            else if (c->role == R_EDITOR && cfg->rate_ops_s <= 0) editor_edit(w, c, now);
        }
        break;
    case PH_RUN:
        w->measuring = now >= w->t_warm && now < w->t_end;
        if (w->id == 0 && cfg->server_pid > 0 && w->measuring && w->server_cpu_at_warm < 0)
            w->server_cpu_at_warm = lg_proc_cpu_s(cfg->server_pid);
        if (now < w->t_end) {
            open_loop_edits(w, now);
            break;
        }
        w->measuring = false;
        w->stop_edits = true;
        if (w->id == 0 && cfg->server_pid > 0) {
            w->st.server_rss_after_kb = lg_proc_rss_kb(cfg->server_pid);
            double cpu = lg_proc_cpu_s(cfg->server_pid);
            if (w->server_cpu_at_warm >= 0 && cpu >= 0) w->st.server_cpu_s = cpu - w->server_cpu_at_warm;
        }
        w->phase = PH_DRAIN;
        w->deadline = now + s_to_us(cfg->drain_timeout_s);
        break;
    case PH_DRAIN:
        if (!is_proto(cfg) || all_synchronized(w) || now >= w->deadline) {
            atomic_fetch_add(&sh->drained_threads, 1);
            w->phase = PH_WAIT_DRAINED;
            w->deadline = now + s_to_us(cfg->drain_timeout_s);
        }
        break;
    case PH_WAIT_DRAINED:
        if (atomic_load(&sh->drained_threads) < cfg->threads && now < w->deadline) break;
        if (!is_proto(cfg)) {
            w->phase = PH_DONE;
            break;
        }
        start_verify(w);
        w->phase = PH_VERIFY;
        w->deadline = now + s_to_us(cfg->drain_timeout_s);
        break;
    case PH_VERIFY:
        if (verify_step(w, now >= w->deadline)) w->phase = PH_DONE;
        break;
    default: break;
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    const lg_config *cfg = w->cfg;
    w->deadline = now_us() + s_to_us(cfg->connect_timeout_s);
    if (w->ring_disabled) {
        /* liburing 2.3 has no io_uring_enable_rings(): the register call itself */
        if (syscall(__NR_io_uring_register, w->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) {
            w->err = -errno;
            return NULL;
        }
        w->ring_disabled = false;
    }
    while (w->phase != PH_DONE) {
        for (uint32_t i = 0; i < w->nrearm; i++) {
            conn *c = &w->conns[w->rearm[i]];
            c->want_rearm = false;
            if ((c->state == CS_HANDSHAKE || c->state == CS_OPEN) && !c->recv_armed) arm_recv(w, c);
        }
        w->nrearm = 0;
        for (uint32_t i = 0; i < w->ndirty; i++) flush(w, &w->conns[w->dirty[i]]);
        w->ndirty = 0;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = TICK_US * 1000};
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
            w->err = rc;
            break;
        }
        unsigned head, count = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            /* a clock read per completion: a long batch must not blur latencies */
            on_cqe(w, cqe, now_us());
            count++;
        }
        io_uring_cq_advance(&w->ring, count);
        phase_step(w, now_us());
    }
    if (w->sh->tls) tls_thread_exit();
    return NULL;
}

/* ---- setup ---------------------------------------------------------------- */

static int worker_init(worker *w, shared *sh, uint32_t id) {
    const lg_config *cfg = sh->cfg;
    w->sh = sh;
    w->cfg = cfg;
    w->id = id;
    w->rng = (cfg->seed ^ (0x9E3779B97F4A7C15ull * (id + 1))) | 1;
    w->server_cpu_at_warm = -1;
    lg_stats_init(&w->st);
    ot_buf_init(&w->msg);
    ot_op_init(&w->edit);
    for (uint32_t i = 0; i < 8; i++) lg_rand(&w->rng);

    /* DEFER_TASKRUN: a completion becomes task work that runs when this thread
     * next enters the ring, instead of an IPI and a wake-up per received frame.
     * With 1,000 sockets per op (fanout, hot) those wake-ups were most of both
     * sides' CPU on loopback, where the server's send runs the receive path and
     * its wake-up. SINGLE_ISSUER (required with it) binds the ring to the thread
     * that enables it, so the ring starts disabled and worker_main enables it. */
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
                                .cq_entries = CQ_ENTRIES};
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
    w->ring_disabled = rc == 0;
    if (rc == -EINVAL) {   /* a kernel before 6.1 */
        struct io_uring_params q = {.flags = IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
        rc = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &q);
    }
    if (rc < 0) return rc;
    w->br_bytes = RECV_BUF_COUNT * sizeof(struct io_uring_buf);
    void *ring_mem = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) return -ENOMEM;
    w->br = ring_mem;
    io_uring_buf_ring_init(w->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)w->br,
                                   .ring_entries = RECV_BUF_COUNT,
                                   .bgid = BUF_GROUP};
    rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (rc < 0) return rc;
    w->bufs = malloc((size_t)RECV_BUF_COUNT * RECV_BUF_BYTES);
    if (w->bufs == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < RECV_BUF_COUNT; i++)
        io_uring_buf_ring_add(w->br, w->bufs + (size_t)i * RECV_BUF_BYTES, RECV_BUF_BYTES, (uint16_t)i,
                              io_uring_buf_ring_mask(RECV_BUF_COUNT), (int)i);
    io_uring_buf_ring_advance(w->br, RECV_BUF_COUNT);

    /* connections i with i % threads == id */
    uint32_t n = cfg->connections / cfg->threads + (id < cfg->connections % cfg->threads ? 1 : 0);
    w->nconns = n;
    w->cap_conns = n + (is_proto(cfg) ? cfg->docs : 0);
    w->conns = calloc(w->cap_conns, sizeof(conn));
    w->dirty = calloc(w->cap_conns, sizeof(uint32_t));
    w->rearm = calloc(w->cap_conns, sizeof(uint32_t));
    w->editors = calloc(n ? n : 1, sizeof(uint32_t));
    w->docs = calloc(cfg->docs ? cfg->docs : 1, sizeof(local_doc));
    if (!w->conns || !w->dirty || !w->rearm || !w->editors || !w->docs) return -ENOMEM;
    for (uint32_t i = 0; i < w->cap_conns; i++) {
        w->conns[i].fd = -1;
        w->conns[i].idx = i;
        w->conns[i].role = R_VERIFIER;
    }
    for (uint32_t d = 0; d < cfg->docs; d++) w->docs[d].verifier = -1;
    for (uint32_t i = 0; i < n; i++) {
        conn *c = &w->conns[i];
        uint32_t g = i * cfg->threads + id;     /* global connection number */
        switch (cfg->scenario) {
        case LG_SC_ECHO: c->role = R_ECHO; break;
        case LG_SC_IDLE: c->role = R_IDLE; break;
        case LG_SC_STORM: c->role = R_STORM; break;
        case LG_SC_TLS: c->role = R_TLS; break;
        case LG_SC_FANOUT: c->role = g < cfg->docs ? R_EDITOR : R_READER; break;
        default: c->role = R_EDITOR; break;
        }
        if (!is_proto(cfg)) continue;
        c->doc = g % cfg->docs;
        w->docs[c->doc].has_clients = true;
        c->cl = calloc(1, sizeof(lg_client));
        char name[LG_CLIENT_MAX_DOC_BYTES + 1], prefix[LG_CLIENT_MAX_PREFIX_BYTES + 1];
        snprintf(name, sizeof name, "%s%u", cfg->doc_prefix, c->doc);
        snprintf(prefix, sizeof prefix, "%sc%u", sh->run_id, g);
        if (c->cl == NULL || lg_client_init(c->cl, name, prefix) != 0) return -ENOMEM;
        if (c->role == R_EDITOR) w->editors[w->neditors++] = i;
    }
    if (cfg->scenario == LG_SC_ECHO) {
        w->echo_payload = malloc(cfg->message_bytes ? cfg->message_bytes : 1);
        if (w->echo_payload == NULL) return -ENOMEM;
        for (uint32_t i = 0; i < cfg->message_bytes; i++) w->echo_payload[i] = (uint8_t)lg_rand(&w->rng);
    }
    if (cfg->scenario == LG_SC_PASTE) w->insert_bytes = cfg->message_bytes;
    return 0;
}

static void worker_destroy(worker *w) {
    if (w->ring.ring_fd > 0) io_uring_queue_exit(&w->ring);
    for (uint32_t i = 0; w->conns && i < w->cap_conns; i++) {
        conn *c = &w->conns[i];
        if (c->fd >= 0) close(c->fd);
        free(c->hs);
        if (c->rd_init) ws_reader_free(&c->rd);
        free(c->tx[0].p);
        free(c->tx[1].p);
        if (c->cl) {
            lg_client_free(c->cl);
            free(c->cl);
        }
        lg_tls_free(c->tls);
    }
    lg_tls_session_free(w->tls_session);
    free(w->conns);
    free(w->dirty);
    free(w->rearm);
    free(w->editors);
    free(w->docs);
    free(w->bufs);
    free(w->echo_payload);
    if (w->br) munmap(w->br, w->br_bytes);
    ot_buf_free(&w->msg);
    ot_op_free(&w->edit);
}

int lg_run(const lg_config *cfg, lg_stats *out, char *err, size_t err_len) {
    if (cfg->threads == 0 || cfg->threads > LG_MAX_THREADS || cfg->connections == 0 ||
        cfg->connections > LG_MAX_CONNECTIONS || (is_proto(cfg) && cfg->docs == 0)) {
        snprintf(err, err_len, "bad configuration");
        return -EINVAL;
    }
    shared sh = {.cfg = cfg};
    snprintf(sh.run_id, sizeof sh.run_id, "%llx", (unsigned long long)((cfg->seed * 2654435761u) ^ (uint64_t)getpid()) & 0xffffff);
    atomic_init(&sh.ready_threads, 0);
    atomic_init(&sh.drained_threads, 0);
    atomic_init(&sh.start_us, 0);
    if (cfg->tls || cfg->scenario == LG_SC_TLS) {
        lg_tls_options o = {.version = cfg->tls_version,
                            .ca_path = cfg->tls_ca[0] ? cfg->tls_ca : NULL,
                            .server_name = cfg->tls_server_name[0] ? cfg->tls_server_name : NULL};
        int trc = lg_tls_ctx_new(&o, &sh.tls, err, err_len);
        if (trc != LG_TLS_OK) return trc == LG_TLS_ERR_NOMEM ? -ENOMEM : -EINVAL;
    }
    worker *ws = calloc(cfg->threads, sizeof(worker));
    if (ws == NULL) {
        lg_tls_ctx_free(sh.tls);
        return -ENOMEM;
    }
    int rc = 0;
    uint64_t editors_total = 0;
    for (uint32_t t = 0; t < cfg->threads && rc == 0; t++) {
        rc = worker_init(&ws[t], &sh, t);
        editors_total += ws[t].neditors;
        if (rc < 0) snprintf(err, err_len, "thread %u setup: %s", t, strerror(-rc));
    }
    for (uint32_t t = 0; t < cfg->threads && rc == 0 && editors_total; t++)
        ws[t].rate_local = cfg->rate_ops_s * (double)ws[t].neditors / (double)editors_total;
    lg_stats_init(out);
    if (cfg->server_pid > 0) out->server_rss_before_kb = lg_proc_rss_kb(cfg->server_pid);
    uint32_t started = 0;
    for (uint32_t t = 0; t < cfg->threads && rc == 0; t++, started++) {
        rc = -pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]);
        if (rc < 0) snprintf(err, err_len, "pthread_create: %s", strerror(-rc));
    }
    for (uint32_t t = 0; t < started; t++) pthread_join(ws[t].thread, NULL);
    for (uint32_t t = 0; t < cfg->threads; t++) {
        if (rc == 0 && ws[t].err < 0) {
            rc = ws[t].err;
            snprintf(err, err_len, "thread %u ring: %s", t, strerror(-rc));
        }
        uint64_t after = out->server_rss_after_kb;
        lg_stats_merge(out, &ws[t].st);
        if (ws[t].st.server_rss_after_kb) after = ws[t].st.server_rss_after_kb;
        out->server_rss_after_kb = after;
        worker_destroy(&ws[t]);
    }
    out->measured_s = cfg->duration_s;
    free(ws);
    lg_tls_ctx_free(sh.tls);
    return rc;
}
