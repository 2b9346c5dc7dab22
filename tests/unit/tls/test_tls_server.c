/* tls_server: the real loop in-process with TLS on, a wolfSSL client over a
 * real loopback socket that counts the TLS records it receives. */
#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include <criterion/criterion.h>

#include "base/config.h"
#include "base/log.h"
#include "server/server.h"
#include "tls/tls_cert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_S 3
#define ECHO_COUNT 50

static server *srv;
static char dir[64], cert_path[128], key_path[128];

typedef struct counting_client {
    int fd;
    WOLFSSL_CTX *ctx;
    WOLFSSL *ssl;
    /* record parser over the bytes received */
    uint8_t hdr[5];
    size_t hdr_len;
    size_t body_left;
    uint32_t records_app_data;
} counting_client;

static void write_text(const char *path, const char *text, size_t len) {
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void setup(void) {
    log_set_level(LOG_ERROR);
    snprintf(dir, sizeof dir, "/tmp/ringpad-tlssrv-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
    int64_t now = (int64_t)time(NULL);
    tls_cert_params p = {.not_before_unix = now - 60, .not_after_unix = now + 3600};
    tls_cert_pem pem;
    cr_assert_eq(tls_cert_make(&p, &pem), 0);
    snprintf(cert_path, sizeof cert_path, "%s/c.pem", dir);
    snprintf(key_path, sizeof key_path, "%s/k.pem", dir);
    write_text(cert_path, pem.cert, pem.cert_len);
    write_text(key_path, pem.key, pem.key_len);
    config cfg;
    char err[256];
    char *const argv[] = {"ringpad", "--port", "0", "--threads", "1", "--web-root", "web/public", "--log-level",
                          "error", "--enable-echo", "--tls-cert", cert_path, "--tls-key", key_path};
    char *const envp[] = {NULL};
    cr_assert_eq(config_parse(&cfg, 14, argv, envp, err, sizeof err), CONFIG_OK, "%s", err);
    cr_assert_eq(server_start(&cfg, &srv), 0);
}

static void teardown(void) {
    if (srv != NULL) {
        server_request_stop(srv);
        server_wait_and_destroy(srv);
        srv = NULL;
    }
    unlink(cert_path);
    unlink(key_path);
    rmdir(dir);
}

TestSuite(tls_server, .init = setup, .fini = teardown, .timeout = 30);

static void count_records(counting_client *cc, const uint8_t *p, size_t n) {
    while (n > 0) {   /* bounded: every pass consumes >= 1 byte */
        if (cc->body_left > 0) {
            size_t take = n < cc->body_left ? n : cc->body_left;
            cc->body_left -= take;
            p += take;
            n -= take;
            continue;
        }
        cc->hdr[cc->hdr_len++] = *p++;
        n--;
        if (cc->hdr_len == 5) {
            if (cc->hdr[0] == 23) cc->records_app_data++;
            cc->body_left = ((size_t)cc->hdr[3] << 8) | cc->hdr[4];
            cc->hdr_len = 0;
        }
    }
}

static int sock_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    counting_client *cc = ctx;
    ssize_t n = recv(cc->fd, buf, (size_t)sz, 0);
    if (n == 0) return WOLFSSL_CBIO_ERR_CONN_CLOSE;
    if (n < 0) return WOLFSSL_CBIO_ERR_GENERAL;   /* includes the receive timeout */
    count_records(cc, (const uint8_t *)buf, (size_t)n);
    return (int)n;
}

static int sock_send(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    counting_client *cc = ctx;
    ssize_t n = send(cc->fd, buf, (size_t)sz, MSG_NOSIGNAL);
    return n < 0 ? WOLFSSL_CBIO_ERR_GENERAL : (int)n;
}

static void client_open(counting_client *cc) {
    memset(cc, 0, sizeof *cc);
    cc->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(cc->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(cc->fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(cc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    cc->ctx = wolfSSL_CTX_new(wolfTLSv1_3_client_method());
    cr_assert_not_null(cc->ctx);
    wolfSSL_CTX_set_verify(cc->ctx, WOLFSSL_VERIFY_NONE, NULL);
    cc->ssl = wolfSSL_new(cc->ctx);
    wolfSSL_SSLSetIORecv(cc->ssl, sock_recv);
    wolfSSL_SSLSetIOSend(cc->ssl, sock_send);
    wolfSSL_SetIOReadCtx(cc->ssl, cc);
    wolfSSL_SetIOWriteCtx(cc->ssl, cc);
    int r = wolfSSL_connect(cc->ssl);
    cr_assert_eq(r, WOLFSSL_SUCCESS, "handshake: %d", wolfSSL_get_error(cc->ssl, r));
}

static void client_close(counting_client *cc) {
    wolfSSL_free(cc->ssl);
    wolfSSL_CTX_free(cc->ctx);
    close(cc->fd);
}

/* Reads plaintext until `want` bytes arrived (or the needle appears). */
static size_t client_read(counting_client *cc, char *buf, size_t cap, size_t want, const char *needle) {
    size_t len = 0;
    buf[0] = '\0';
    for (int rounds = 0; rounds < 1000 && len + 1 < cap && len < want; rounds++) {
        int n = wolfSSL_read(cc->ssl, buf + len, (int)(cap - 1 - len));
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
        if (needle != NULL && strstr(buf, needle) != NULL) break;
    }
    return len;
}

Test(tls_server, replies_of_one_iteration_are_corked_into_one_record) {
    counting_client cc;
    client_open(&cc);
    const char *up = "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    cr_assert_eq(wolfSSL_write(cc.ssl, up, (int)strlen(up)), (int)strlen(up));
    char buf[8192];
    client_read(&cc, buf, sizeof buf, sizeof buf, "\r\n\r\n");
    cr_assert(strncmp(buf, "HTTP/1.1 101 ", 13) == 0, "%s", buf);

    /* 50 masked text frames in one record: the server reads them in one
     * completion and answers 50 frames, sealed at one flush */
    uint8_t frames[ECHO_COUNT * 9];
    size_t n = 0;
    for (int i = 0; i < ECHO_COUNT; i++) {
        frames[n++] = 0x81;
        frames[n++] = 0x80 | 3;
        memset(frames + n, 0, 4);   /* a zero mask leaves the payload as is */
        n += 4;
        frames[n++] = 'm';
        frames[n++] = (uint8_t)('0' + i / 10);
        frames[n++] = (uint8_t)('0' + i % 10);
    }
    uint32_t before = cc.records_app_data;
    cr_assert_eq(wolfSSL_write(cc.ssl, frames, (int)n), (int)n);
    size_t want = ECHO_COUNT * 5;
    cr_assert_eq(client_read(&cc, buf, sizeof buf, want, NULL), want);
    for (int i = 0; i < ECHO_COUNT; i++) {
        const char *f = buf + i * 5;
        cr_assert_eq((uint8_t)f[0], 0x81);
        cr_assert_eq(f[1], 3);
        cr_assert_eq(f[3], '0' + i / 10);
        cr_assert_eq(f[4], '0' + i % 10);
    }
    uint32_t records = cc.records_app_data - before;
    cr_assert_leq(records, 2, "%d replies came in %u records", ECHO_COUNT, records);
    cr_assert_geq(records, 1);
    client_close(&cc);
}

Test(tls_server, large_reply_uses_full_records) {
    counting_client cc;
    client_open(&cc);
    const char *up = "GET /echo HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    cr_assert_eq(wolfSSL_write(cc.ssl, up, (int)strlen(up)), (int)strlen(up));
    char head[4096];
    client_read(&cc, head, sizeof head, sizeof head, "\r\n\r\n");
    cr_assert(strncmp(head, "HTTP/1.1 101 ", 13) == 0, "%s", head);
    /* one 100000-byte binary message: the echo is 100010 bytes on the wire */
    enum { PAYLOAD = 100000 };
    static uint8_t msg[PAYLOAD + 14];
    msg[0] = 0x82;
    msg[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) msg[2 + i] = (uint8_t)((uint64_t)PAYLOAD >> (56 - 8 * i));
    memset(msg + 10, 0, 4);
    for (size_t i = 0; i < PAYLOAD; i++) msg[14 + i] = (uint8_t)(i * 13);
    uint32_t before = cc.records_app_data;
    cr_assert_eq(wolfSSL_write(cc.ssl, msg, (int)sizeof msg), (int)sizeof msg);
    static char back[PAYLOAD + 64];
    size_t want = PAYLOAD + 10;
    cr_assert_eq(client_read(&cc, back, sizeof back, want, NULL), want);
    cr_assert_eq((uint8_t)back[0], 0x82);
    cr_assert_eq(memcmp(back + 10, msg + 14, PAYLOAD), 0);
    uint32_t records = cc.records_app_data - before;
    /* 100010 bytes need 7 records of 16 KiB; a record per fragment would be more */
    cr_assert_leq(records, 8, "%u records", records);
    client_close(&cc);
}
