/* tls_client: the client role of src/tls/tls.c (contexts, started sessions,
 * resumption, the output limit) against its own server sessions, in memory. */
#include <criterion/criterion.h>

#include "tls/tls.h"
#include "tls/tls_cert.h"
#include "tls_fixture.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS_MAX 16

static tls_fixture fx;

static void setup(void) { tls_fixture_make(&fx, "ringpad-tlsc"); }
static void teardown(void) { tls_fixture_remove(&fx); }

TestSuite(tls_client, .init = setup, .fini = teardown, .timeout = 30);

static tls_server *server_new(int min_version) {
    tls_options o = {.min_version = min_version};
    snprintf(o.cert_path, sizeof o.cert_path, "%s", fx.cert_path);
    snprintf(o.key_path, sizeof o.key_path, "%s", fx.key_path);
    tls_server *s = NULL;
    char err[256];
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "%s", err);
    return s;
}

static tls_client *client_new(const tls_client_options *o) {
    tls_client *c = NULL;
    char err[256] = "";
    cr_assert_eq(tls_client_new(o, &c, err, sizeof err), TLS_OK, "%s", err);
    return c;
}

typedef struct got {
    uint8_t buf[256];
    size_t len;
} got;

static int sink(void *arg, uint8_t *plain, size_t len) {
    got *g = arg;
    if (g == NULL) return 0;
    cr_assert_leq(g->len + len, sizeof g->buf);
    memcpy(g->buf + g->len, plain, len);
    g->len += len;
    return 0;
}

/* Moves what `from` wrote into `to`; returns the bytes moved. */
static size_t pass(tls_conn *from, tls_conn *to, got *g, int *rc) {
    rbuf *b = tls_conn_take_output(from);
    if (b == NULL) return 0;
    size_t n = b->len;
    if (*rc == TLS_OK) *rc = tls_conn_input(to, b->data, b->len, sink, g);
    rbuf_unref(b);
    return n;
}

typedef struct pair {
    tls_conn *cl, *sv;
    int client_rc, server_rc;
    got at_client, at_server;
} pair;

static void run(pair *p) {
    cr_assert_eq(tls_conn_start(p->cl), TLS_OK);
    int round = 0;
    while (round < ROUNDS_MAX) {
        size_t moved = pass(p->cl, p->sv, &p->at_server, &p->server_rc);
        moved += pass(p->sv, p->cl, &p->at_client, &p->client_rc);
        if (moved == 0) break;
        round++;
    }
    cr_assert_lt(round, ROUNDS_MAX);
}

static void pair_open(pair *p, tls_server *srv, tls_client *c, tls_session *resume) {
    memset(p, 0, sizeof *p);
    p->cl = tls_conn_new_client(c, resume);
    p->sv = tls_conn_new(srv);
    cr_assert(p->cl != NULL && p->sv != NULL);
}

static void pair_close(pair *p) {
    tls_conn_free(p->cl);
    tls_conn_free(p->sv);
}

Test(tls_client, verified_handshake_data_both_ways_and_close) {
    tls_server *srv = server_new(TLS_V12);
    tls_client_options o = {.ca_path = fx.ca_path, .server_name = "localhost", .alpn = TLS_ALPN_HTTP11};
    tls_client *c = client_new(&o);
    pair p;
    pair_open(&p, srv, c, NULL);
    run(&p);
    cr_assert_eq(p.client_rc, TLS_OK, "%s", tls_conn_error_str(p.cl));
    cr_assert_eq(p.server_rc, TLS_OK, "%s", tls_conn_error_str(p.sv));
    cr_assert(tls_conn_handshake_done(p.cl) && tls_conn_handshake_done(p.sv));
    cr_assert_str_eq(tls_conn_version_str(p.cl), "TLSv1.3", "1.2..1.3 offered: the highest wins");
    cr_assert_str_eq(tls_conn_alpn(p.cl), "http/1.1");
    tls_piece up = {(const uint8_t *)"ping", 4};
    cr_assert_eq(tls_conn_write(p.cl, &up, 1), TLS_OK);
    tls_piece down = {(const uint8_t *)"pong!", 5};
    cr_assert_eq(tls_conn_write(p.sv, &down, 1), TLS_OK);
    pass(p.cl, p.sv, &p.at_server, &p.server_rc);
    pass(p.sv, p.cl, &p.at_client, &p.client_rc);
    cr_assert_eq(p.at_server.len, 4);
    cr_assert_eq(memcmp(p.at_server.buf, "ping", 4), 0);
    cr_assert_eq(p.at_client.len, 5);
    cr_assert_eq(memcmp(p.at_client.buf, "pong!", 5), 0);
    cr_assert_eq(tls_conn_shutdown(p.cl), TLS_OK);
    pass(p.cl, p.sv, &p.at_server, &p.server_rc);
    cr_assert_eq(p.server_rc, TLS_PEER_CLOSED);
    pair_close(&p);
    tls_client_free(c);
    tls_server_free(srv);
}

Test(tls_client, version_range_and_no_alpn_offer) {
    tls_server *srv = server_new(TLS_V12);
    tls_client_options o = {.max_version = TLS_V12, .server_name = "127.0.0.1"};   /* an IP: no SNI */
    tls_client *c = client_new(&o);
    pair p;
    pair_open(&p, srv, c, NULL);
    run(&p);
    cr_assert_eq(p.client_rc, TLS_OK, "%s", tls_conn_error_str(p.cl));
    cr_assert_str_eq(tls_conn_version_str(p.cl), "TLSv1.2");
    cr_assert_null(tls_conn_alpn(p.cl));
    pair_close(&p);
    tls_client_free(c);
    tls_server_free(srv);
}

Test(tls_client, tls12_only_client_is_refused_by_a_tls13_server) {
    tls_server *srv = server_new(TLS_V13);
    tls_client_options o = {.max_version = TLS_V12};
    tls_client *c = client_new(&o);
    pair p;
    pair_open(&p, srv, c, NULL);
    run(&p);
    cr_assert_eq(p.server_rc, TLS_ERR_HANDSHAKE);
    cr_assert_not(tls_conn_handshake_done(p.cl));
    pair_close(&p);
    tls_client_free(c);
    tls_server_free(srv);
}

Test(tls_client, resumption_with_a_ticket) {
    tls_server *srv = server_new(TLS_V12);
    tls_client_options o = {.min_version = TLS_V13};
    tls_client *c = client_new(&o);
    pair first;
    pair_open(&first, srv, c, NULL);
    cr_assert_null(tls_conn_get_session(first.cl), "nothing before the handshake");
    run(&first);
    tls_session *s = tls_conn_get_session(first.cl);
    cr_assert_not_null(s);
    cr_assert_null(tls_conn_get_session(first.sv), "server sessions hand out nothing");
    pair again;
    pair_open(&again, srv, c, s);
    run(&again);
    cr_assert_eq(again.client_rc, TLS_OK, "%s", tls_conn_error_str(again.cl));
    cr_assert(tls_conn_session_reused(again.cl));
    cr_assert(tls_conn_session_reused(again.sv));
    tls_session_free(s);
    pair_close(&again);
    pair_close(&first);
    tls_client_free(c);
    tls_server_free(srv);
}

Test(tls_client, start_only_once_and_only_for_clients) {
    tls_server *srv = server_new(TLS_V13);
    tls_client_options o = {0};
    tls_client *c = client_new(&o);
    tls_conn *cl = tls_conn_new_client(c, NULL);
    tls_conn *sv = tls_conn_new(srv);
    cr_assert(cl != NULL && sv != NULL);
    uint8_t x = 0x16;
    cr_assert_eq(tls_conn_input(cl, &x, 1, sink, NULL), TLS_ERR_STATE, "input before start");
    cr_assert_eq(tls_conn_start(sv), TLS_ERR_STATE, "a server session is never started");
    cr_assert_eq(tls_conn_start(cl), TLS_OK);
    cr_assert_gt(tls_conn_output_bytes(cl), 5, "the ClientHello");
    cr_assert_eq(tls_conn_start(cl), TLS_ERR_STATE);
    const char reply[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
    cr_assert_eq(tls_conn_input(cl, (const uint8_t *)reply, sizeof reply - 1, sink, NULL), TLS_ERR_HANDSHAKE);
    cr_assert(tls_conn_failed(cl));
    cr_assert_neq(strstr(tls_conn_error_str(cl), "wolfSSL -"), NULL, "%s", tls_conn_error_str(cl));
    tls_conn_free(cl);
    tls_conn_free(sv);
    tls_client_free(c);
    tls_server_free(srv);
}

Test(tls_client, output_limit_refuses_what_does_not_fit) {
    tls_server *srv = server_new(TLS_V13);
    tls_client_options o = {0};
    tls_client *c = client_new(&o);
    pair p;
    pair_open(&p, srv, c, NULL);
    run(&p);
    cr_assert(tls_conn_handshake_done(p.cl));
    static uint8_t big[64 * 1024];
    tls_conn_set_output_limit(p.cl, 32 * 1024);
    tls_piece piece = {big, sizeof big};
    cr_assert_eq(tls_conn_write(p.cl, &piece, 1), TLS_ERR_OUTPUT_FULL);
    cr_assert_eq(tls_conn_output_bytes(p.cl), 0, "nothing written");
    piece.len = 16 * 1024;
    cr_assert_eq(tls_conn_write(p.cl, &piece, 1), TLS_OK);
    tls_conn_set_output_limit(p.cl, SIZE_MAX);   /* capped at TLS_OUT_MAX_BYTES */
    piece.len = sizeof big;
    cr_assert_eq(tls_conn_write(p.cl, &piece, 1), TLS_OK);
    cr_assert_gt(tls_conn_output_bytes(p.cl), 16 * 1024 + sizeof big);
    pair_close(&p);
    tls_client_free(c);
    tls_server_free(srv);
}

Test(tls_client, bad_client_options) {
    tls_client *c = NULL;
    char err[256];
    tls_client_options bad_version = {.min_version = 11};
    cr_assert_eq(tls_client_new(&bad_version, &c, err, sizeof err), TLS_ERR_CONFIG);
    tls_client_options inverted = {.min_version = TLS_V13, .max_version = TLS_V12};
    cr_assert_eq(tls_client_new(&inverted, &c, err, sizeof err), TLS_ERR_CONFIG);
    tls_client_options empty_name = {.server_name = ""};
    cr_assert_eq(tls_client_new(&empty_name, &c, err, sizeof err), TLS_ERR_CONFIG);
    char long_name[TLS_SERVER_NAME_MAX_BYTES + 2];
    memset(long_name, 'a', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    tls_client_options too_long = {.server_name = long_name};
    cr_assert_eq(tls_client_new(&too_long, &c, err, sizeof err), TLS_ERR_CONFIG);
    tls_client_options long_alpn = {.alpn = "a-protocol-name-well-past-the-limit"};
    cr_assert_eq(tls_client_new(&long_alpn, &c, err, sizeof err), TLS_ERR_CONFIG);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/none.pem", fx.dir);
    tls_client_options no_file = {.ca_path = missing};
    cr_assert_eq(tls_client_new(&no_file, &c, err, sizeof err), TLS_ERR_CONFIG);
    cr_assert_not_null(strstr(err, missing), "%s", err);
    cr_assert_null(c);
}
