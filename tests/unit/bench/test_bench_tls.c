/* bench_tls: the load generator's TLS client (bench/loadgen/tlsc.c) against
 * the server's own sessions (src/tls/tls.c), through memory only. */
#include <criterion/criterion.h>

#include "tls/tls.h"
#include "tls/tls_cert.h"
#include "tls_fixture.h"
#include "tlsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 16
#define BIG_BYTES (100u * 1024u)

static tls_fixture fx;

static void setup(void) { tls_fixture_make(&fx, "ringpad-lgtls"); }
static void teardown(void) { tls_fixture_remove(&fx); }

TestSuite(bench_tls, .init = setup, .fini = teardown, .timeout = 30);

/* ---- a client and a server session joined by memory --------------------------- */

typedef struct sink_buf {
    uint8_t *buf;
    size_t len, cap;
} sink_buf;

static int sink(void *arg, uint8_t *plain, size_t len) {
    sink_buf *s = arg;
    cr_assert_leq(s->len + len, s->cap);
    memcpy(s->buf + s->len, plain, len);
    s->len += len;
    return 0;
}

typedef struct pair {
    tls_server *srv;
    lg_tls_ctx *cx;
    lg_tls *cl;
    tls_conn *sv;
    sink_buf at_server, at_client;
    int client_rc, server_rc;
} pair;

static tls_server *server_new(int min_version) {
    tls_options o = {.min_version = min_version};
    snprintf(o.cert_path, sizeof o.cert_path, "%s", fx.cert_path);
    snprintf(o.key_path, sizeof o.key_path, "%s", fx.key_path);
    tls_server *s = NULL;
    char err[256];
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "%s", err);
    return s;
}

static lg_tls_ctx *client_ctx(int version, const char *ca, const char *name) {
    lg_tls_options o = {.version = version, .ca_path = ca, .server_name = name};
    lg_tls_ctx *x = NULL;
    char err[256] = "";
    cr_assert_eq(lg_tls_ctx_new(&o, &x, err, sizeof err), LG_TLS_OK, "%s", err);
    return x;
}

static void pair_open(pair *p, tls_server *srv, lg_tls_ctx *cx, lg_tls_session *resume) {
    memset(p, 0, sizeof *p);
    p->srv = srv;
    p->cx = cx;
    p->cl = lg_tls_new(cx, resume);
    cr_assert_not_null(p->cl);
    p->sv = tls_conn_new(srv);
    cr_assert_not_null(p->sv);
    p->at_server = (sink_buf){.buf = malloc(4 * BIG_BYTES), .cap = 4 * BIG_BYTES};
    p->at_client = (sink_buf){.buf = malloc(4 * BIG_BYTES), .cap = 4 * BIG_BYTES};
    cr_assert(p->at_server.buf && p->at_client.buf);
}

static void pair_close(pair *p) {
    lg_tls_free(p->cl);
    tls_conn_free(p->sv);
    free(p->at_server.buf);
    free(p->at_client.buf);
}

/* One exchange each way: the client's whole output to the server (as the
 * loop does: flight, sent), the server's back. Returns bytes moved. */
static size_t pump(pair *p) {
    size_t moved = 0;
    const uint8_t *bytes;
    size_t n;
    while ((n = lg_tls_flight(p->cl, &bytes)) > 0) {   /* bounded: each pass sends all of a buffer */
        if (p->server_rc == TLS_OK) p->server_rc = tls_conn_input(p->sv, bytes, n, sink, &p->at_server);
        lg_tls_sent(p->cl, n);
        moved += n;
    }
    rbuf *out = tls_conn_take_output(p->sv);
    if (out != NULL) {
        if (p->client_rc == LG_TLS_OK) p->client_rc = lg_tls_input(p->cl, out->data, out->len, sink, &p->at_client);
        moved += out->len;
        rbuf_unref(out);
    }
    return moved;
}

/* Runs the handshake and then exchanges until both sides are quiet (the
 * TLS 1.3 ticket arrives after the client's Finished). */
static void handshake(pair *p) {
    cr_assert_eq(lg_tls_start(p->cl), LG_TLS_OK);
    int round = 0;
    while (round < ROUNDS_MAX && pump(p) > 0) round++;
    cr_assert_lt(round, ROUNDS_MAX);
}

static void fill(uint8_t *b, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) b[i] = (uint8_t)((i * 2654435761u + seed) >> 13);
}

Test(bench_tls, verified_tls13_handshake_alpn_and_data_both_ways) {
    tls_server *srv = server_new(TLS_V13);
    lg_tls_ctx *cx = client_ctx(13, fx.ca_path, "localhost");
    pair p;
    pair_open(&p, srv, cx, NULL);
    cr_assert_not(lg_tls_handshake_done(p.cl));
    handshake(&p);
    cr_assert_eq(p.client_rc, LG_TLS_OK, "%s", lg_tls_error_str(p.cl));
    cr_assert_eq(p.server_rc, TLS_OK, "%s", tls_conn_error_str(p.sv));
    cr_assert(lg_tls_handshake_done(p.cl));
    cr_assert(tls_conn_handshake_done(p.sv));
    cr_assert_str_eq(lg_tls_version_str(p.cl), "TLSv1.3");
    cr_assert_not_null(lg_tls_alpn(p.cl));
    cr_assert_str_eq(lg_tls_alpn(p.cl), "http/1.1");
    cr_assert_str_eq(tls_conn_alpn(p.sv), "http/1.1");
    cr_assert_not(lg_tls_session_reused(p.cl));
    cr_assert_eq(lg_tls_unsent_bytes(p.cl), 0);

    /* 100 KiB up (several records) and 100 KiB down arrive intact */
    static uint8_t up[BIG_BYTES], down[BIG_BYTES];
    fill(up, sizeof up, 1);
    fill(down, sizeof down, 2);
    cr_assert_eq(lg_tls_write(p.cl, up, sizeof up), LG_TLS_OK);
    cr_assert_gt(lg_tls_unsent_bytes(p.cl), sizeof up);   /* ciphertext: records add overhead */
    tls_piece piece = {down, sizeof down};
    cr_assert_eq(tls_conn_write(p.sv, &piece, 1), TLS_OK);
    pump(&p);
    cr_assert_eq(p.at_server.len, sizeof up);
    cr_assert_eq(memcmp(p.at_server.buf, up, sizeof up), 0);
    cr_assert_eq(p.at_client.len, sizeof down);
    cr_assert_eq(memcmp(p.at_client.buf, down, sizeof down), 0);

    /* our close_notify ends the server's input; the server's ends ours */
    cr_assert_eq(lg_tls_shutdown(p.cl), LG_TLS_OK);
    cr_assert_eq(lg_tls_write(p.cl, up, 1), LG_TLS_ERR_STATE);
    cr_assert_eq(tls_conn_shutdown(p.sv), TLS_OK);
    pump(&p);
    cr_assert_eq(p.server_rc, TLS_PEER_CLOSED);
    cr_assert_eq(p.client_rc, LG_TLS_PEER_CLOSED);
    cr_assert_eq(lg_tls_input(p.cl, up, 10, sink, &p.at_client), LG_TLS_PEER_CLOSED);
    pair_close(&p);
    lg_tls_ctx_free(cx);
    tls_server_free(srv);
}

Test(bench_tls, the_flight_stays_put_while_new_output_collects) {
    tls_server *srv = server_new(TLS_V13);
    lg_tls_ctx *cx = client_ctx(13, NULL, NULL);
    pair p;
    pair_open(&p, srv, cx, NULL);
    handshake(&p);
    cr_assert(lg_tls_handshake_done(p.cl));

    static uint8_t a[3000], b[70000];
    fill(a, sizeof a, 3);
    fill(b, sizeof b, 4);
    cr_assert_eq(lg_tls_write(p.cl, a, sizeof a), LG_TLS_OK);
    const uint8_t *f1;
    size_t n1 = lg_tls_flight(p.cl, &f1);
    cr_assert_gt(n1, sizeof a);
    uint8_t copy[4096];
    cr_assert_leq(n1, sizeof copy);
    memcpy(copy, f1, n1);
    /* more output while the first flight is "in the kernel": it collects
     * elsewhere (and grows its buffer) without moving the flight */
    cr_assert_eq(lg_tls_write(p.cl, b, sizeof b), LG_TLS_OK);
    const uint8_t *again;
    cr_assert_eq(lg_tls_flight(p.cl, &again), n1);
    cr_assert_eq(again, f1);
    cr_assert_eq(memcmp(f1, copy, n1), 0);
    size_t all = lg_tls_unsent_bytes(p.cl);
    cr_assert_gt(all, n1 + sizeof b);

    /* a partial send: the rest of the same flight comes next */
    cr_assert_eq(tls_conn_input(p.sv, f1, 100, sink, &p.at_server), TLS_OK);
    lg_tls_sent(p.cl, 100);
    cr_assert_eq(lg_tls_unsent_bytes(p.cl), all - 100);
    const uint8_t *rest;
    cr_assert_eq(lg_tls_flight(p.cl, &rest), n1 - 100);
    cr_assert_eq(rest, f1 + 100);
    cr_assert_eq(tls_conn_input(p.sv, rest, n1 - 100, sink, &p.at_server), TLS_OK);
    lg_tls_sent(p.cl, n1 - 100);
    cr_assert_eq(p.at_server.len, sizeof a);
    /* then the collected output becomes the flight */
    const uint8_t *f2;
    size_t n2 = lg_tls_flight(p.cl, &f2);
    cr_assert_eq(n2, all - n1);
    cr_assert_eq(tls_conn_input(p.sv, f2, n2, sink, &p.at_server), TLS_OK);
    lg_tls_sent(p.cl, n2);
    cr_assert_eq(lg_tls_flight(p.cl, &f2), 0);
    cr_assert_eq(lg_tls_unsent_bytes(p.cl), 0);
    cr_assert_eq(p.at_server.len, sizeof a + sizeof b);
    cr_assert_eq(memcmp(p.at_server.buf + sizeof a, b, sizeof b), 0);
    pair_close(&p);
    lg_tls_ctx_free(cx);
    tls_server_free(srv);
}

static void resumes(int version) {
    tls_server *srv = server_new(version == 13 ? TLS_V13 : TLS_V12);
    lg_tls_ctx *cx = client_ctx(version, fx.ca_path, "localhost");
    pair first;
    pair_open(&first, srv, cx, NULL);
    handshake(&first);
    cr_assert(lg_tls_handshake_done(first.cl));
    lg_tls_session *s = lg_tls_get_session(first.cl);
    cr_assert_not_null(s, "no resumable session after the handshake (and the ticket)");
    pair_close(&first);

    for (int i = 0; i < 2; i++) {   /* the same session resumes more than once */
        pair again;
        pair_open(&again, srv, cx, s);
        handshake(&again);
        cr_assert_eq(again.client_rc, LG_TLS_OK, "%s", lg_tls_error_str(again.cl));
        cr_assert(lg_tls_handshake_done(again.cl));
        cr_assert(lg_tls_session_reused(again.cl));
        cr_assert(tls_conn_session_reused(again.sv));
        cr_assert_str_eq(lg_tls_version_str(again.cl), version == 13 ? "TLSv1.3" : "TLSv1.2");
        pair_close(&again);
    }
    lg_tls_session_free(s);
    lg_tls_ctx_free(cx);
    tls_server_free(srv);
}

Test(bench_tls, resumes_with_a_ticket_tls13) { resumes(13); }
Test(bench_tls, resumes_tls12) { resumes(12); }

Test(bench_tls, no_session_before_the_handshake) {
    tls_server *srv = server_new(TLS_V13);
    lg_tls_ctx *cx = client_ctx(13, NULL, NULL);
    pair p;
    pair_open(&p, srv, cx, NULL);
    cr_assert_null(lg_tls_get_session(p.cl));
    cr_assert_eq(lg_tls_start(p.cl), LG_TLS_OK);
    cr_assert_eq(lg_tls_start(p.cl), LG_TLS_ERR_STATE);
    cr_assert_null(lg_tls_get_session(p.cl));
    pair_close(&p);
    lg_tls_ctx_free(cx);
    tls_server_free(srv);
}

static void refused(lg_tls_ctx *cx, tls_server *srv) {
    pair p;
    pair_open(&p, srv, cx, NULL);
    handshake(&p);
    cr_assert_eq(p.client_rc, LG_TLS_ERR_HANDSHAKE);
    cr_assert(lg_tls_failed(p.cl));
    cr_assert_not(lg_tls_handshake_done(p.cl));
    cr_assert_neq(strstr(lg_tls_error_str(p.cl), "wolfSSL -"), NULL, "%s", lg_tls_error_str(p.cl));
    uint8_t x = 0;
    cr_assert_eq(lg_tls_input(p.cl, &x, 1, sink, &p.at_client), LG_TLS_ERR_STATE);
    cr_assert_eq(lg_tls_write(p.cl, &x, 1), LG_TLS_ERR_STATE);
    pair_close(&p);
}

Test(bench_tls, an_untrusted_chain_or_another_name_fails_the_handshake) {
    tls_server *srv = server_new(TLS_V13);
    lg_tls_ctx *other = client_ctx(13, fx.other_ca_path, "localhost");
    refused(other, srv);
    lg_tls_ctx *wrong_name = client_ctx(13, fx.ca_path, "example.com");
    refused(wrong_name, srv);
    lg_tls_ctx_free(other);
    lg_tls_ctx_free(wrong_name);
    tls_server_free(srv);
}

Test(bench_tls, a_tls12_client_is_refused_by_a_tls13_server) {
    tls_server *srv = server_new(TLS_V13);
    lg_tls_ctx *cx = client_ctx(12, NULL, NULL);
    refused(cx, srv);
    lg_tls_ctx_free(cx);
    tls_server_free(srv);
}

Test(bench_tls, bytes_that_are_not_tls_fail_the_handshake) {
    lg_tls_ctx *cx = client_ctx(13, NULL, NULL);
    lg_tls *t = lg_tls_new(cx, NULL);
    cr_assert_not_null(t);
    uint8_t x = 0;
    cr_assert_eq(lg_tls_input(t, &x, 1, sink, NULL), LG_TLS_ERR_STATE, "input before start");
    cr_assert_eq(lg_tls_start(t), LG_TLS_OK);
    const uint8_t *hello;
    cr_assert_gt(lg_tls_flight(t, &hello), 5);
    cr_assert_eq(hello[0], 0x16, "a handshake record (ClientHello)");
    const char reply[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
    cr_assert_eq(lg_tls_input(t, (const uint8_t *)reply, sizeof reply - 1, sink, NULL), LG_TLS_ERR_HANDSHAKE);
    cr_assert(lg_tls_failed(t));
    cr_assert_eq(lg_tls_shutdown(t), LG_TLS_ERR_STATE);
    lg_tls_free(t);
    lg_tls_ctx_free(cx);
}

Test(bench_tls, output_is_bounded) {
    tls_server *srv = server_new(TLS_V13);
    lg_tls_ctx *cx = client_ctx(13, NULL, NULL);
    pair p;
    pair_open(&p, srv, cx, NULL);
    handshake(&p);
    size_t chunk = LG_TLS_OUT_MAX_BYTES / 2;
    uint8_t *big = calloc(1, chunk);
    cr_assert_not_null(big);
    cr_assert_eq(lg_tls_write(p.cl, big, LG_TLS_OUT_MAX_BYTES + 1), LG_TLS_ERR_OUTPUT_FULL);
    cr_assert_not(lg_tls_failed(p.cl), "a refused size leaves the session usable");
    cr_assert_eq(lg_tls_write(p.cl, big, chunk - 4096), LG_TLS_OK);
    /* nothing sent: the second half does not fit with the record overhead */
    cr_assert_eq(lg_tls_write(p.cl, big, chunk), LG_TLS_ERR_OUTPUT_FULL);
    cr_assert(lg_tls_failed(p.cl));
    cr_assert_str_eq(lg_tls_error_str(p.cl), "TLS output buffer full");
    free(big);
    pair_close(&p);
    lg_tls_ctx_free(cx);
    tls_server_free(srv);
}

Test(bench_tls, bad_client_configuration) {
    lg_tls_ctx *x = NULL;
    char err[256] = "";
    lg_tls_options bad_version = {.version = 11};
    cr_assert_eq(lg_tls_ctx_new(&bad_version, &x, err, sizeof err), LG_TLS_ERR_CONFIG);
    cr_assert_null(x);
    char missing[200];
    snprintf(missing, sizeof missing, "%s/none.pem", fx.dir);
    lg_tls_options no_file = {.ca_path = missing};
    cr_assert_eq(lg_tls_ctx_new(&no_file, &x, err, sizeof err), LG_TLS_ERR_CONFIG);
    cr_assert_null(x);
    cr_assert_neq(strstr(err, "none.pem"), NULL, "%s", err);
    cr_assert_str_eq(lg_tls_status_str(LG_TLS_ERR_HANDSHAKE), "TLS handshake failed");
    cr_assert_str_eq(lg_tls_status_str(12345), "unknown TLS status");
}
