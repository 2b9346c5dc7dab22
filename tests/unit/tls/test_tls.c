/* tls: a wolfSSL client and our sessions talking through memory buffers only. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <criterion/criterion.h>

#include "tls/tls.h"
#include "tls/tls_cert.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PIPE_BYTES (256u * 1024u)
#define PUMP_ROUNDS_MAX 64

/* One direction of the wire. */
typedef struct wire {
    uint8_t buf[PIPE_BYTES];
    size_t len, off;
} wire;

typedef struct plain_sink {
    uint8_t buf[PIPE_BYTES];
    size_t len;
    int stop_after_calls;   /* 0 = never stop */
    int calls;
} plain_sink;

typedef struct peer {
    WOLFSSL_CTX *ctx;
    WOLFSSL *ssl;
    wire c2s, s2c;
    tls_conn *server;
    plain_sink got;
    int server_rc;
} peer;

static char dir[64];
static char cert_a[128], key_a[128], cert_b[128], key_b[128], ca_path[128];
static tls_cert_pem ca, leaf_a, leaf_b;

static void write_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void make_leaf(tls_cert_pem *out, int64_t from, int64_t to) {
    tls_cert_params p = {.not_before_unix = from, .not_after_unix = to, .issuer_cert_pem = ca.cert, .issuer_key_pem = ca.key};
    int rc = tls_cert_make(&p, out);
    cr_assert_eq(rc, 0, "%s", tls_cert_error_str(rc));
}

static void setup(void) {
    cr_assert_eq(tls_library_init(), TLS_OK);
    snprintf(dir, sizeof dir, "/tmp/ringpad-tls-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    int64_t now = (int64_t)time(NULL);
    tls_cert_params cap = {.is_ca = true, .not_before_unix = now - 3600, .not_after_unix = now + 86400};
    cr_assert_eq(tls_cert_make(&cap, &ca), 0);
    make_leaf(&leaf_a, now - 3600, now + 86400);
    make_leaf(&leaf_b, now - 3600, now + 86400);
    snprintf(cert_a, sizeof cert_a, "%s/a.pem", dir);
    snprintf(key_a, sizeof key_a, "%s/a-key.pem", dir);
    snprintf(cert_b, sizeof cert_b, "%s/b.pem", dir);
    snprintf(key_b, sizeof key_b, "%s/b-key.pem", dir);
    snprintf(ca_path, sizeof ca_path, "%s/ca.pem", dir);
    write_text(cert_a, leaf_a.cert, leaf_a.cert_len);
    write_text(key_a, leaf_a.key, leaf_a.key_len);
    write_text(cert_b, leaf_b.cert, leaf_b.cert_len);
    write_text(key_b, leaf_b.key, leaf_b.key_len);
    write_text(ca_path, ca.cert, ca.cert_len);
}

static void teardown(void) {
    const char *files[] = {cert_a, key_a, cert_b, key_b, ca_path};
    for (size_t i = 0; i < 5; i++) unlink(files[i]);
    rmdir(dir);
}

TestSuite(tls, .init = setup, .fini = teardown, .timeout = 30);

static tls_options opts_for(const char *cert, const char *key, int min_version) {
    tls_options o = {.min_version = min_version};
    snprintf(o.cert_path, sizeof o.cert_path, "%s", cert);
    snprintf(o.key_path, sizeof o.key_path, "%s", key);
    return o;
}

static tls_server *server_new(int min_version) {
    tls_options o = opts_for(cert_a, key_a, min_version);
    tls_server *s = NULL;
    char err[256];
    int rc = tls_server_new(&o, &s, err, sizeof err);
    cr_assert_eq(rc, TLS_OK, "%s", err);
    return s;
}

/* ---- the client side: wolfSSL over the same kind of buffers ------------------- */

static int client_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    wire *w = ctx;
    if (w->off == w->len) return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = w->len - w->off < (size_t)sz ? w->len - w->off : (size_t)sz;
    memcpy(buf, w->buf + w->off, n);
    w->off += n;
    return (int)n;
}

static int client_send(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    wire *w = ctx;
    if (w->len + (size_t)sz > PIPE_BYTES) return WOLFSSL_CBIO_ERR_WANT_WRITE;
    memcpy(w->buf + w->len, buf, (size_t)sz);
    w->len += (size_t)sz;
    return sz;
}

static int sink(void *arg, uint8_t *plain, size_t len) {
    plain_sink *s = arg;
    cr_assert_leq(s->len + len, PIPE_BYTES);
    memcpy(s->buf + s->len, plain, len);
    s->len += len;
    s->calls++;
    return s->stop_after_calls != 0 && s->calls >= s->stop_after_calls;
}

static peer *peer_new(WOLFSSL_METHOD *method, tls_server *srv, const char *alpn, bool verify) {
    peer *p = calloc(1, sizeof *p);
    cr_assert_not_null(p);
    p->ctx = wolfSSL_CTX_new(method);
    cr_assert_not_null(p->ctx);
    if (verify) {
        cr_assert_eq(wolfSSL_CTX_load_verify_buffer(p->ctx, (const unsigned char *)ca.cert, (long)ca.cert_len,
                                                    WOLFSSL_FILETYPE_PEM), WOLFSSL_SUCCESS);
        wolfSSL_CTX_set_verify(p->ctx, WOLFSSL_VERIFY_PEER, NULL);
    } else {
        wolfSSL_CTX_set_verify(p->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    p->ssl = wolfSSL_new(p->ctx);
    cr_assert_not_null(p->ssl);
    wolfSSL_SSLSetIORecv(p->ssl, client_recv);
    wolfSSL_SSLSetIOSend(p->ssl, client_send);
    wolfSSL_SetIOReadCtx(p->ssl, &p->s2c);
    wolfSSL_SetIOWriteCtx(p->ssl, &p->c2s);
    if (alpn != NULL) {
        char list[64];
        snprintf(list, sizeof list, "%s", alpn);
        cr_assert_eq(wolfSSL_UseALPN(p->ssl, list, (unsigned)strlen(list), WOLFSSL_ALPN_FAILED_ON_MISMATCH), WOLFSSL_SUCCESS);
    }
    p->server = tls_conn_new(srv);
    cr_assert_not_null(p->server);
    return p;
}

static void peer_free(peer *p) {
    wolfSSL_free(p->ssl);
    wolfSSL_CTX_free(p->ctx);
    tls_conn_free(p->server);
    free(p);
}

/* Moves what the client wrote into the server (`chunk` bytes per call, 0 = all
 * at once) and what the server produced back to the client. */
static void pump(peer *p, size_t chunk) {
    while (p->c2s.off < p->c2s.len) {
        size_t n = p->c2s.len - p->c2s.off;
        if (chunk != 0 && n > chunk) n = chunk;
        int rc = tls_conn_input(p->server, p->c2s.buf + p->c2s.off, n, sink, &p->got);
        p->c2s.off += n;
        if (rc != TLS_OK) {
            p->server_rc = rc;
            break;
        }
    }
    rbuf *out = tls_conn_take_output(p->server);
    if (out != NULL) {
        cr_assert_leq(p->s2c.len + out->len, PIPE_BYTES);
        memcpy(p->s2c.buf + p->s2c.len, out->data, out->len);
        p->s2c.len += out->len;
        rbuf_unref(out);
    }
}

/* Drives wolfSSL_connect to the end; returns the client's final error (0 = done). */
static int handshake(peer *p, size_t chunk) {
    for (int round = 0; round < PUMP_ROUNDS_MAX; round++) {
        int r = wolfSSL_connect(p->ssl);
        int e = r == WOLFSSL_SUCCESS ? 0 : wolfSSL_get_error(p->ssl, r);
        pump(p, chunk);
        if (e == 0 && tls_conn_handshake_done(p->server)) return 0;
        if (e != 0 && e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) return e;
        if (p->server_rc != TLS_OK) {
            /* let the client read the alert */
            r = wolfSSL_connect(p->ssl);
            return r == WOLFSSL_SUCCESS ? -1 : wolfSSL_get_error(p->ssl, r);
        }
    }
    cr_assert_fail("handshake did not finish in %d rounds", PUMP_ROUNDS_MAX);
    return -1;
}

/* Client reads whatever is available into buf; returns the byte count. */
static size_t client_read_all(peer *p, uint8_t *buf, size_t cap) {
    size_t got = 0;
    for (int i = 0; i < 4096 && got < cap; i++) {
        int n = wolfSSL_read(p->ssl, buf + got, (int)(cap - got));
        if (n <= 0) break;
        got += (size_t)n;
    }
    return got;
}

static size_t count_records(const uint8_t *p, size_t len, uint8_t type) {
    size_t count = 0;
    for (size_t off = 0; off + 5 <= len;) {
        size_t body = ((size_t)p[off + 3] << 8) | p[off + 4];
        if (p[off] == type) count++;
        off += 5 + body;
    }
    return count;
}

/* ---- tests ------------------------------------------------------------------ */

Test(tls, version_parse_and_status_strings) {
    cr_assert_eq(tls_version_parse("1.2"), TLS_V12);
    cr_assert_eq(tls_version_parse("1.3"), TLS_V13);
    cr_assert_eq(tls_version_parse("1.1"), -1);
    cr_assert_eq(tls_version_parse(""), -1);
    cr_assert_str_eq(tls_status_str(TLS_ERR_HANDSHAKE), "TLS handshake failed");
    cr_assert_str_eq(tls_status_str(12345), "unknown TLS status");
}

Test(tls, tls13_handshake_alpn_and_data_both_ways) {
    tls_server *s = server_new(TLS_V13);
    peer *p = peer_new(wolfSSLv23_client_method(), s, TLS_ALPN_HTTP11, true);
    cr_assert_eq(handshake(p, 0), 0);
    cr_assert_str_eq(tls_conn_version_str(p->server), "TLSv1.3");
    cr_assert_str_eq(wolfSSL_get_version(p->ssl), "TLSv1.3");
    cr_assert_not_null(tls_conn_alpn(p->server));
    cr_assert_str_eq(tls_conn_alpn(p->server), "http/1.1");
    cr_assert_not_null(strstr(tls_conn_cipher_str(p->server), "CHACHA20"), "server order: %s", tls_conn_cipher_str(p->server));
    cr_assert_not(tls_conn_session_reused(p->server));

    cr_assert_eq(wolfSSL_write(p->ssl, "GET / HTTP/1.1\r\n\r\n", 18), 18);
    pump(p, 0);
    cr_assert_eq(p->server_rc, TLS_OK);
    cr_assert_eq(p->got.len, 18);
    cr_assert_eq(memcmp(p->got.buf, "GET / HTTP/1.1\r\n\r\n", 18), 0);

    /* many pieces, written as one stream: as few records as the size allows */
    static uint8_t big[40000];
    for (size_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(i * 7);
    tls_piece parts[] = {{(const uint8_t *)"a", 1}, {(const uint8_t *)"bc", 2}, {big, sizeof big}, {(const uint8_t *)"z", 1}};
    cr_assert_eq(tls_conn_write(p->server, parts, 4), TLS_OK);
    size_t cipher = tls_conn_output_bytes(p->server);
    cr_assert_gt(cipher, 40004);
    rbuf *out = tls_conn_take_output(p->server);
    cr_assert_not_null(out);
    cr_assert_eq(out->len, cipher);
    cr_assert_eq(count_records(out->data, out->len, 23), 3, "40004 bytes fit 3 records of 16 KiB");
    cr_assert_eq(tls_conn_output_bytes(p->server), 0);
    cr_assert_null(tls_conn_take_output(p->server));
    memcpy(p->s2c.buf + p->s2c.len, out->data, out->len);
    p->s2c.len += out->len;
    rbuf_unref(out);
    static uint8_t back[40004];
    cr_assert_eq(client_read_all(p, back, sizeof back), sizeof back);
    cr_assert_eq(memcmp(back, "abc", 3), 0);
    cr_assert_eq(memcmp(back + 3, big, sizeof big), 0);
    cr_assert_eq(back[40003], 'z');
    peer_free(p);
    tls_server_free(s);
}

Test(tls, handshake_fed_one_byte_at_a_time) {
    tls_server *s = server_new(TLS_V13);
    peer *p = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(p, 1), 0);
    cr_assert_null(tls_conn_alpn(p->server), "no ALPN offered, none agreed");
    cr_assert_eq(wolfSSL_write(p->ssl, "ping", 4), 4);
    pump(p, 1);
    cr_assert_eq(p->got.len, 4);
    cr_assert_eq(memcmp(p->got.buf, "ping", 4), 0);
    peer_free(p);
    tls_server_free(s);
}

Test(tls, tls12_client_refused_when_minimum_is_13) {
    tls_server *s = server_new(TLS_V13);
    peer *p = peer_new(wolfTLSv1_2_client_method(), s, NULL, true);
    int e = handshake(p, 0);
    cr_assert_neq(e, 0);
    cr_assert_eq(p->server_rc, TLS_ERR_HANDSHAKE);
    cr_assert(tls_conn_failed(p->server));
    cr_assert_str_neq(tls_conn_error_str(p->server), "");
    cr_assert_not_null(strstr(tls_conn_error_str(p->server), "wolfSSL -"), "%s", tls_conn_error_str(p->server));
    /* a failed session takes nothing more */
    cr_assert_eq(tls_conn_input(p->server, (const uint8_t *)"x", 1, sink, &p->got), TLS_ERR_STATE);
    tls_piece one = {(const uint8_t *)"x", 1};
    cr_assert_eq(tls_conn_write(p->server, &one, 1), TLS_ERR_STATE);
    peer_free(p);
    tls_server_free(s);
}

Test(tls, tls12_client_accepted_when_minimum_is_12) {
    tls_server *s = server_new(TLS_V12);
    peer *p = peer_new(wolfTLSv1_2_client_method(), s, TLS_ALPN_HTTP11, true);
    cr_assert_eq(handshake(p, 0), 0);
    cr_assert_str_eq(tls_conn_version_str(p->server), "TLSv1.2");
    cr_assert_str_eq(tls_conn_alpn(p->server), "http/1.1");
    cr_assert_not_null(strstr(tls_conn_cipher_str(p->server), "ECDHE-ECDSA-CHACHA20"), "%s", tls_conn_cipher_str(p->server));
    peer_free(p);
    tls_server_free(s);
}

Test(tls, alpn_without_http11_is_refused) {
    tls_server *s = server_new(TLS_V13);
    peer *p = peer_new(wolfSSLv23_client_method(), s, "h2", true);
    cr_assert_neq(handshake(p, 0), 0);
    cr_assert_eq(p->server_rc, TLS_ERR_HANDSHAKE);
    peer_free(p);
    tls_server_free(s);
}

static void resume(WOLFSSL_METHOD *(*method)(void), int min_version) {
    tls_server *s = server_new(min_version);
    peer *first = peer_new(method(), s, NULL, true);
    cr_assert_eq(handshake(first, 0), 0);
    /* TLS 1.3 tickets arrive after the handshake: let the client read them */
    uint8_t scratch[16];
    cr_assert_eq(client_read_all(first, scratch, sizeof scratch), 0);
    WOLFSSL_SESSION *sess = wolfSSL_get1_session(first->ssl);
    cr_assert_not_null(sess);
    peer *second = peer_new(method(), s, NULL, true);
    cr_assert_eq(wolfSSL_set_session(second->ssl, sess), WOLFSSL_SUCCESS);
    cr_assert_eq(handshake(second, 0), 0);
    cr_assert(tls_conn_session_reused(second->server), "the server resumed");
    cr_assert_eq(wolfSSL_session_reused(second->ssl), 1, "the client resumed");
    /* and the resumed session carries data */
    cr_assert_eq(wolfSSL_write(second->ssl, "again", 5), 5);
    pump(second, 0);
    cr_assert_eq(second->got.len, 5);
    wolfSSL_SESSION_free(sess);
    peer_free(first);
    peer_free(second);
    tls_server_free(s);
}

Test(tls, resumption_with_a_ticket_tls13) { resume(wolfTLSv1_3_client_method, TLS_V13); }

Test(tls, resumption_with_a_ticket_tls12) { resume(wolfTLSv1_2_client_method, TLS_V12); }

Test(tls, plaintext_http_fails_the_handshake_with_a_reason) {
    tls_server *s = server_new(TLS_V13);
    tls_conn *t = tls_conn_new(s);
    cr_assert_not_null(t);
    plain_sink got = {0};
    const char req[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    int rc = tls_conn_input(t, (const uint8_t *)req, sizeof req - 1, sink, &got);
    cr_assert_eq(rc, TLS_ERR_HANDSHAKE);
    cr_assert(tls_conn_failed(t));
    cr_assert_not(tls_conn_handshake_done(t));
    cr_assert_gt(strlen(tls_conn_error_str(t)), 10, "%s", tls_conn_error_str(t));
    cr_assert_eq(got.len, 0);
    tls_conn_free(t);
    tls_server_free(s);
}

Test(tls, write_before_handshake_is_refused) {
    tls_server *s = server_new(TLS_V13);
    tls_conn *t = tls_conn_new(s);
    tls_piece one = {(const uint8_t *)"x", 1};
    cr_assert_eq(tls_conn_write(t, &one, 1), TLS_ERR_STATE);
    cr_assert_eq(tls_conn_shutdown(t), TLS_ERR_STATE);
    cr_assert_eq(tls_conn_output_bytes(t), 0);
    tls_conn_free(t);
    tls_server_free(s);
}

Test(tls, close_notify_both_ways) {
    tls_server *s = server_new(TLS_V13);
    peer *p = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(p, 0), 0);
    /* server -> client */
    cr_assert_eq(tls_conn_shutdown(p->server), TLS_OK);
    cr_assert_eq(tls_conn_shutdown(p->server), TLS_OK, "idempotent");
    cr_assert_gt(tls_conn_output_bytes(p->server), 0);
    pump(p, 0);
    uint8_t buf[8];
    int n = wolfSSL_read(p->ssl, buf, sizeof buf);
    cr_assert_leq(n, 0);
    cr_assert_eq(wolfSSL_get_error(p->ssl, n), WOLFSSL_ERROR_ZERO_RETURN);
    tls_piece one = {(const uint8_t *)"x", 1};
    cr_assert_eq(tls_conn_write(p->server, &one, 1), TLS_ERR_STATE, "nothing after close_notify");
    /* client -> server */
    wolfSSL_shutdown(p->ssl);
    pump(p, 0);
    cr_assert_eq(p->server_rc, TLS_PEER_CLOSED);
    cr_assert_eq(tls_conn_input(p->server, (const uint8_t *)"x", 1, sink, &p->got), TLS_PEER_CLOSED);
    peer_free(p);
    tls_server_free(s);
}

Test(tls, sink_can_stop_the_input) {
    tls_server *s = server_new(TLS_V13);
    peer *p = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(p, 0), 0);
    cr_assert_eq(wolfSSL_write(p->ssl, "one", 3), 3);
    cr_assert_eq(wolfSSL_write(p->ssl, "two", 3), 3);
    p->got.stop_after_calls = 1;
    pump(p, 0);
    cr_assert_eq(p->server_rc, TLS_OK);
    cr_assert_eq(p->got.calls, 1);
    cr_assert_eq(p->got.len, 3);
    cr_assert_eq(memcmp(p->got.buf, "one", 3), 0);
    peer_free(p);
    tls_server_free(s);
}

static void peer_cert_is(peer *p, const tls_cert_pem *want) {
    WOLFSSL_X509 *x = wolfSSL_get_peer_certificate(p->ssl);
    cr_assert_not_null(x);
    int der_len = 0;
    const unsigned char *der = wolfSSL_X509_get_der(x, &der_len);
    cr_assert_not_null(der);
    WOLFSSL_X509 *w = wolfSSL_X509_load_certificate_buffer((const unsigned char *)want->cert, (int)want->cert_len,
                                                           WOLFSSL_FILETYPE_PEM);
    cr_assert_not_null(w);
    int want_len = 0;
    const unsigned char *want_der = wolfSSL_X509_get_der(w, &want_len);
    cr_assert_eq(der_len, want_len);
    cr_assert_eq(memcmp(der, want_der, (size_t)der_len), 0, "the expected certificate");
    wolfSSL_X509_free(w);
    wolfSSL_X509_free(x);
}

Test(tls, reload_swaps_for_new_connections_and_keeps_old_on_bad_files) {
    tls_server *s = server_new(TLS_V13);
    cr_assert_eq(tls_server_generation(s), 1);
    peer *before = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(before, 0), 0);
    peer_cert_is(before, &leaf_a);

    /* a broken certificate file: the old context stays */
    write_text(cert_a, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", 64);
    char err[256] = "";
    cr_assert_eq(tls_server_reload(s, err, sizeof err), TLS_ERR_CONFIG);
    cr_assert_not_null(strstr(err, cert_a), "%s", err);
    cr_assert_eq(tls_server_generation(s), 1);
    peer *during = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(during, 0), 0);
    peer_cert_is(during, &leaf_a);

    /* a key that does not match */
    write_text(cert_a, leaf_a.cert, leaf_a.cert_len);
    write_text(key_a, leaf_b.key, leaf_b.key_len);
    cr_assert_eq(tls_server_reload(s, err, sizeof err), TLS_ERR_CONFIG);
    cr_assert_not_null(strstr(err, "does not match"), "%s", err);

    /* a missing file */
    unlink(key_a);
    cr_assert_eq(tls_server_reload(s, err, sizeof err), TLS_ERR_IO);
    cr_assert_not_null(strstr(err, "No such file"), "%s", err);
    cr_assert_eq(tls_server_generation(s), 1);

    /* a good new pair: new connections get it */
    write_text(cert_a, leaf_b.cert, leaf_b.cert_len);
    write_text(key_a, leaf_b.key, leaf_b.key_len);
    cr_assert_eq(tls_server_reload(s, err, sizeof err), TLS_OK, "%s", err);
    cr_assert_eq(tls_server_generation(s), 2);
    peer *after = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(after, 0), 0);
    peer_cert_is(after, &leaf_b);

    /* the connection from before still works, on its old context */
    cr_assert_eq(wolfSSL_write(before->ssl, "still here", 10), 10);
    pump(before, 0);
    cr_assert_eq(before->got.len, 10);
    tls_piece reply = {(const uint8_t *)"yes", 3};
    cr_assert_eq(tls_conn_write(before->server, &reply, 1), TLS_OK);
    pump(before, 0);
    uint8_t buf[8];
    cr_assert_eq(client_read_all(before, buf, sizeof buf), 3);
    peer_free(before);
    peer_free(during);
    peer_free(after);
    tls_server_free(s);
}

Test(tls, server_new_reports_bad_inputs) {
    tls_server *s = NULL;
    char err[256];
    tls_options o = opts_for("/nonexistent/cert.pem", key_a, TLS_V13);
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_ERR_IO);
    cr_assert_not_null(strstr(err, "/nonexistent/cert.pem"), "%s", err);
    cr_assert_null(s);
    o = opts_for(cert_a, key_a, 11);
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_ERR_CONFIG);
    o = opts_for(key_a, key_a, TLS_V13);
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_ERR_CONFIG, "a key is not a certificate");
    o = opts_for(cert_a, cert_a, TLS_V13);
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_ERR_CONFIG, "a certificate is not a key");
    o = opts_for(dir, key_a, TLS_V13);
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_ERR_IO, "a folder is not a file");
}

Test(tls, chain_file_with_intermediate_is_sent) {
    /* leaf + CA in one file: the client gets both */
    char chain[TLS_CERT_PEM_MAX_BYTES * 2];
    int n = snprintf(chain, sizeof chain, "%s%s", leaf_a.cert, ca.cert);
    write_text(cert_b, chain, (size_t)n);
    write_text(key_b, leaf_a.key, leaf_a.key_len);
    tls_options o = opts_for(cert_b, key_b, TLS_V13);
    tls_server *s = NULL;
    char err[256];
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "%s", err);
    peer *p = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_eq(handshake(p, 0), 0);
    WOLFSSL_X509_CHAIN *c = wolfSSL_get_peer_chain(p->ssl);
    cr_assert_not_null(c);
    cr_assert_eq(wolfSSL_get_chain_count(c), 2);
    peer_free(p);
    tls_server_free(s);
}

Test(tls, expired_certificate_is_rejected_by_a_verifying_client) {
    int64_t now = (int64_t)time(NULL);
    tls_cert_pem old;
    make_leaf(&old, now - 30 * 86400, now - 86400);
    write_text(cert_b, old.cert, old.cert_len);
    write_text(key_b, old.key, old.key_len);
    tls_options o = opts_for(cert_b, key_b, TLS_V13);
    tls_server *s = NULL;
    char err[256];
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "the server still loads it: %s", err);
    peer *p = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    int e = handshake(p, 0);
    cr_assert_eq(e, ASN_AFTER_DATE_E, "client error %d", e);
    peer_free(p);
    tls_server_free(s);
}

Test(tls, untrusted_certificate_is_rejected_by_a_verifying_client) {
    int64_t now = (int64_t)time(NULL);
    tls_cert_pem self;
    tls_cert_params sp = {.not_before_unix = now - 60, .not_after_unix = now + 3600};
    cr_assert_eq(tls_cert_make(&sp, &self), 0);
    write_text(cert_b, self.cert, self.cert_len);
    write_text(key_b, self.key, self.key_len);
    tls_options o = opts_for(cert_b, key_b, TLS_V13);
    tls_server *s = NULL;
    char err[256];
    cr_assert_eq(tls_server_new(&o, &s, err, sizeof err), TLS_OK, "%s", err);
    peer *p = peer_new(wolfSSLv23_client_method(), s, NULL, true);
    cr_assert_neq(handshake(p, 0), 0);
    peer_free(p);
    tls_server_free(s);
}

Test(tls, cert_make_rejects_bad_parameters) {
    tls_cert_pem out;
    tls_cert_params p = {.not_before_unix = 100, .not_after_unix = 100};
    cr_assert_eq(tls_cert_make(&p, &out), -EINVAL, "empty validity");
    p.not_after_unix = 200;
    p.issuer_cert_pem = ca.cert;
    cr_assert_eq(tls_cert_make(&p, &out), -EINVAL, "issuer certificate without key");
    p.issuer_cert_pem = NULL;
    char long_cn[200];
    memset(long_cn, 'x', sizeof long_cn - 1);
    long_cn[sizeof long_cn - 1] = '\0';
    p.common_name = long_cn;
    cr_assert_eq(tls_cert_make(&p, &out), -EINVAL, "common name too long");
    p.common_name = NULL;
    p.issuer_cert_pem = "not a pem";
    p.issuer_key_pem = "not a pem";
    cr_assert_lt(tls_cert_make(&p, &out), 0, "garbage issuer");
    cr_assert_str_eq(tls_cert_error_str(-EINVAL), "invalid certificate parameters");
}
