/* The TLS filter of a connection (tls/conn_tls.c) on the socket-free
 * transport (conn_fixture.h), against a client session of our own: the
 * handshake through receives and sends, plaintext to the handler, queued
 * replies sealed into one ciphertext entry, a partly sent entry going out
 * before the next seal, close_notify both ways, plaintext HTTP and garbage
 * on the TLS port, and the send-queue gauge through all of it. */
#include <criterion/criterion.h>

#include "conn_fixture.h"
#include "tls/conn_tls.h"
#include "tls/tls.h"
#include "tls_fixture.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define PUMP_ROUNDS_MAX 16

static tls_fixture tfx;
static conn_fixture fx;
static tls_server *server;
static tls_client *client;

typedef struct got {
    uint8_t buf[4096];
    size_t len;
} got;

typedef struct peer {
    conn *c;
    struct io_uring_sqe recv;
    tls_conn *cl;
    got at_client;
    int client_rc;
} peer;

static void setup(void) {
    tls_fixture_make(&tfx, "ringpad-conntls");
    conn_fixture_init(&fx, NULL);
    tls_options o = {.min_version = TLS_V12};
    snprintf(o.cert_path, sizeof o.cert_path, "%s", tfx.cert_path);
    snprintf(o.key_path, sizeof o.key_path, "%s", tfx.key_path);
    char err[256];
    cr_assert_eq(tls_server_new(&o, &server, err, sizeof err), TLS_OK, "%s", err);
    tls_client_options co = {.ca_path = tfx.ca_path, .server_name = "localhost"};
    cr_assert_eq(tls_client_new(&co, &client, err, sizeof err), TLS_OK, "%s", err);
    fx.shared.tls = server;
    fx.shared.filter = &conn_tls_filter;
}

static void teardown(void) {
    conn_fixture_fini(&fx);
    tls_client_free(client);
    tls_server_free(server);
    tls_fixture_remove(&tfx);
}

TestSuite(conn_tls, .init = setup, .fini = teardown, .timeout = 30);

static int client_sink(void *arg, uint8_t *plain, size_t len) {
    got *g = arg;
    cr_assert_leq(g->len + len, sizeof g->buf);
    memcpy(g->buf + g->len, plain, len);
    g->len += len;
    return 0;
}

static void peer_open(peer *p) {
    memset(p, 0, sizeof *p);
    p->c = conn_fixture_open(&fx);
    cr_assert_not_null(p->c->filter_state, "the filter opened a session");
    const struct io_uring_sqe *r = conn_fixture_find(&fx, IORING_OP_RECV);
    cr_assert_not_null(r);
    p->recv = *r;
    p->cl = tls_conn_new_client(client, NULL);
    cr_assert_not_null(p->cl);
}

/* The client's pending ciphertext to the conn. Returns the bytes moved. */
static size_t client_to_conn(peer *p) {
    rbuf *b = tls_conn_take_output(p->cl);
    if (b == NULL) return 0;
    size_t n = b->len;
    conn_fixture_receive(&fx, p->c, &p->recv, b->data, b->len, true);
    rbuf_unref(b);
    return n;
}

/* The bytes of a taken send SQE. */
static const uint8_t *send_bytes(const struct io_uring_sqe *s, size_t *len) {
    cr_assert_eq(s->opcode, IORING_OP_SEND, "TLS sends one sealed entry at a time");
    *len = s->len;
    return (const uint8_t *)(uintptr_t)s->addr;
}

/* Flushes; a send goes to the client whole. Returns the bytes moved. */
static size_t conn_to_client(peer *p) {
    conn_fixture_flush(&fx);
    const struct io_uring_sqe *s = conn_fixture_find(&fx, IORING_OP_SEND);
    if (s == NULL) return 0;
    struct io_uring_sqe send = *s;
    size_t len;
    const uint8_t *bytes = send_bytes(&send, &len);
    if (p->client_rc == TLS_OK) p->client_rc = tls_conn_input(p->cl, bytes, len, client_sink, &p->at_client);
    conn_fixture_complete(&fx, &send, (int)len, 0);
    return len;
}

static void pump(peer *p) {
    int round = 0;
    while (round < PUMP_ROUNDS_MAX && client_to_conn(p) + conn_to_client(p) > 0) round++;
    cr_assert_lt(round, PUMP_ROUNDS_MAX);
}

static void handshake(peer *p) {
    cr_assert_eq(tls_conn_start(p->cl), TLS_OK);
    pump(p);
    cr_assert_eq(p->client_rc, TLS_OK, "%s", tls_conn_error_str(p->cl));
    cr_assert(tls_conn_handshake_done(p->cl));
    cr_assert(tls_conn_handshake_done(p->c->filter_state));
}

static void client_write(peer *p, const char *text) {
    tls_piece piece = {(const uint8_t *)text, strlen(text)};
    cr_assert_eq(tls_conn_write(p->cl, &piece, 1), TLS_OK);
}

/* Closes the conn (cancelled receive) and completes the socket's close. */
static void peer_close(peer *p) {
    conn_fixture_close(&fx, p->c, &p->recv);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    tls_conn_free(p->cl);
}

Test(conn_tls, the_handshake_runs_through_receives_and_sends) {
    peer p;
    peer_open(&p);
    handshake(&p);
    cr_assert_eq(atomic_load(&fx.metrics.tls_handshakes), 1);
    cr_assert_eq(atomic_load(&fx.metrics.tls_resumed), 0);
    cr_assert_eq(fx.data_calls, 0, "no plaintext yet");
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    peer_close(&p);
}

Test(conn_tls, plaintext_reaches_the_handler_and_replies_are_sealed_in_one_send) {
    peer p;
    peer_open(&p);
    handshake(&p);
    client_write(&p, "GET / HTTP/1.1\r\n\r\n");
    client_to_conn(&p);
    cr_assert_eq(fx.got_len, 18);
    cr_assert_eq(memcmp(fx.got, "GET / HTTP/1.1\r\n\r\n", 18), 0);
    cr_assert_eq(conn_fixture_send(p.c, "hello "), 0);
    cr_assert_eq(conn_fixture_send(p.c, "world"), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1, "two plaintext entries, one send");
    struct io_uring_sqe send = fx.sqes[0];
    size_t len;
    const uint8_t *bytes = send_bytes(&send, &len);
    cr_assert_gt(len, 11);
    cr_assert_null(memmem(bytes, len, "hello", 5), "ciphertext only");
    cr_assert_eq(p.c->q.count, 1, "the sealed entry replaced the plaintext");
    cr_assert_eq(conn_fixture_gauge(&fx), len);
    cr_assert_eq(tls_conn_input(p.cl, bytes, len, client_sink, &p.at_client), TLS_OK);
    cr_assert_eq(p.at_client.len, 11);
    cr_assert_eq(memcmp(p.at_client.buf, "hello world", 11), 0);
    conn_fixture_complete(&fx, &send, (int)len, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    peer_close(&p);
}

Test(conn_tls, a_partly_sent_record_goes_out_before_the_next_seal) {
    peer p;
    peer_open(&p);
    handshake(&p);
    cr_assert_eq(conn_fixture_send(p.c, "abc"), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe first = fx.sqes[0];
    size_t len;
    const uint8_t *bytes = send_bytes(&first, &len);
    uint8_t copy[512];
    cr_assert_leq(len, sizeof copy);
    memcpy(copy, bytes, len);
    conn_fixture_complete(&fx, &first, (int)len - 5, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 5);
    cr_assert_eq(conn_fixture_send(p.c, "def"), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe rest = fx.sqes[0];
    size_t rest_len;
    const uint8_t *rest_bytes = send_bytes(&rest, &rest_len);
    cr_assert_eq(rest_len, 5, "the tail of the first record, nothing of the new plaintext");
    cr_assert_eq(memcmp(rest_bytes, copy + len - 5, 5), 0);
    conn_fixture_complete(&fx, &rest, 5, 0);
    cr_assert_eq(tls_conn_input(p.cl, copy, len, client_sink, &p.at_client), TLS_OK);
    conn_to_client(&p);   /* the second seal */
    cr_assert_eq(p.client_rc, TLS_OK);
    cr_assert_eq(p.at_client.len, 6);
    cr_assert_eq(memcmp(p.at_client.buf, "abcdef", 6), 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    peer_close(&p);
}

Test(conn_tls, a_drain_ends_with_close_notify_before_our_fin) {
    peer p;
    peer_open(&p);
    handshake(&p);
    cr_assert_eq(conn_fixture_send(p.c, "bye"), 0);
    conn_close_after_flush(p.c, METRICS_CLOSE_HTTP_DONE);
    conn_to_client(&p);
    cr_assert_eq(p.client_rc, TLS_PEER_CLOSED, "the close_notify came with the last bytes");
    cr_assert_eq(p.at_client.len, 3);
    conn_fixture_flush(&fx);
    cr_assert_not_null(conn_fixture_find(&fx, IORING_OP_SHUTDOWN), "then the half-close");
    struct io_uring_sqe shut = *conn_fixture_find(&fx, IORING_OP_SHUTDOWN);
    conn_fixture_complete(&fx, &shut, 0, 0);
    conn_fixture_complete(&fx, &p.recv, 0, 0);
    cr_assert_eq(p.c->state, CONN_DEAD);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_HTTP_DONE), 1);
    peer_close(&p);
}

Test(conn_tls, the_clients_close_notify_is_its_end_of_data) {
    peer p;
    peer_open(&p);
    handshake(&p);
    cr_assert_eq(tls_conn_shutdown(p.cl), TLS_OK);
    client_to_conn(&p);
    cr_assert_eq(p.c->state, CONN_DEAD);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_PEER_EOF), 1);
    peer_close(&p);
}

Test(conn_tls, plaintext_http_on_the_tls_port_gets_a_plaintext_400) {
    peer p;
    peer_open(&p);
    const char *req = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    conn_fixture_receive(&fx, p.c, &p.recv, req, strlen(req), true);
    cr_assert_eq(fx.data_calls, 0);
    cr_assert_null(p.c->filter, "plaintext from here on");
    cr_assert_null(p.c->filter_state);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_TLS_HANDSHAKE]), 1);
    cr_assert_eq(atomic_load(&fx.metrics.http_responses_by_class[4]), 1);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_TLS_ERROR), 1);
    cr_assert_eq(p.c->state, CONN_DRAIN);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe send = fx.sqes[0];
    size_t len;
    const uint8_t *bytes = send_bytes(&send, &len);
    cr_assert_geq(len, 12);
    cr_assert_eq(memcmp(bytes, "HTTP/1.1 400", 12), 0);
    cr_assert_not_null(memmem(bytes, len, CONN_TLS_PLAINTEXT_BODY, sizeof CONN_TLS_PLAINTEXT_BODY - 1));
    conn_fixture_complete(&fx, &send, (int)len, 0);
    conn_fixture_flush(&fx);
    cr_assert_not_null(conn_fixture_find(&fx, IORING_OP_SHUTDOWN));
    struct io_uring_sqe shut = *conn_fixture_find(&fx, IORING_OP_SHUTDOWN);
    conn_fixture_complete(&fx, &shut, 0, 0);
    peer_close(&p);
}

Test(conn_tls, a_broken_handshake_is_counted_and_closes_after_the_alert) {
    peer p;
    peer_open(&p);
    static const uint8_t junk[] = {0x16, 0x03, 0x01, 0x00, 0x08, 1, 0, 0, 4, 'j', 'u', 'n', 'k'};
    conn_fixture_receive(&fx, p.c, &p.recv, junk, sizeof junk, true);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_TLS_HANDSHAKE]), 1);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_TLS_ERROR), 1);
    cr_assert(p.c->state == CONN_DRAIN || p.c->state == CONN_DEAD, "state %u", p.c->state);
    cr_assert_eq(fx.data_calls, 0);
    peer_close(&p);
}

Test(conn_tls, plaintext_queued_before_the_handshake_is_dropped) {
    peer p;
    peer_open(&p);
    cr_assert_eq(conn_fixture_send(p.c, "too early"), 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 9);
    cr_assert_eq(conn_fixture_flush(&fx), 0, "nothing sealed, nothing sent");
    cr_assert_eq(p.c->q.count, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    peer_close(&p);
}

Test(conn_tls, a_failed_sealed_send_leaves_the_gauge_at_zero) {
    peer p;
    peer_open(&p);
    handshake(&p);
    cr_assert_eq(conn_fixture_send(p.c, "lost"), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe send = fx.sqes[0];
    cr_assert_eq(conn_fixture_send(p.c, "queued behind"), 0);
    conn_fixture_complete(&fx, &send, -ECONNRESET, 0);
    cr_assert_eq(p.c->state, CONN_DEAD);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_SEND]), 1);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    peer_close(&p);
}
