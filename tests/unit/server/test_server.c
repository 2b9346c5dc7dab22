/* The real loop, in-process, on an ephemeral loopback port, over real sockets. */
#include <criterion/criterion.h>

#include "base/config.h"
#include "base/log.h"
#include "server/server.h"
#include "ws/ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define IO_TIMEOUT_MS 3000

static server *srv;
static config cfg;

static void base_config(void) {
    char err[256];
    char *const argv[] = {"ringpad", "--port", "0", "--threads", "2", "--web-root", "web/public", "--log-level", "error"};
    char *const envp[] = {NULL};
    cr_assert_eq(config_parse(&cfg, 9, argv, envp, err, sizeof err), CONFIG_OK, "%s", err);
    log_set_level(LOG_ERROR);
}

static void start(void) {
    cr_assert_eq(server_start(&cfg, &srv), 0);
    cr_assert_neq(server_port(srv), 0);
}

static void stop(void) {
    if (srv == NULL) return;
    server_request_stop(srv);
    server_wait_and_destroy(srv);
    srv = NULL;
}

static int dial(void) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(server_port(srv))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0, "connect: %s", strerror(errno));
    struct timeval tv = {.tv_sec = IO_TIMEOUT_MS / 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_all(int fd, const void *buf, size_t len) {
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        cr_assert_gt(n, 0, "send: %s", strerror(errno));
        p += n;
        len -= (size_t)n;
    }
}

/* Reads until `needle` shows up in the accumulated bytes, EOF or timeout.
 * Returns total bytes read; buf is NUL-terminated. */
static size_t read_until(int fd, char *buf, size_t cap, const char *needle) {
    size_t len = 0;
    buf[0] = '\0';
    for (int rounds = 0; rounds < 1000 && len + 1 < cap; rounds++) {
        if (needle != NULL && strstr(buf, needle) != NULL) break;
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0) break;
        len += (size_t)n;
        buf[len] = '\0';
    }
    return len;
}

/* True when the server closes the connection (EOF or reset) within the timeout. */
static bool closed_by_server(int fd) {
    char junk[4096];
    for (int rounds = 0; rounds < 10000; rounds++) {
        ssize_t n = recv(fd, junk, sizeof junk, 0);
        if (n == 0) return true;
        if (n < 0) return errno == ECONNRESET;
    }
    return false;
}

static char *get(const char *target, char *buf, size_t cap) {
    int fd = dial();
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", target);
    send_all(fd, req, strlen(req));
    read_until(fd, buf, cap, NULL);
    close(fd);
    return buf;
}

static uint64_t metric(const char *line_prefix) {
    static char text[65536];
    get("/metrics", text, sizeof text);
    char needle[256];
    snprintf(needle, sizeof needle, "\n%s ", line_prefix);
    const char *p = strstr(text, needle);
    cr_assert_not_null(p, "metric %s missing", line_prefix);
    return strtoull(p + strlen(needle), NULL, 10);
}

/* A close is counted when the worker finishes it, which can be just after the
 * client saw its socket close: poll (bounded) instead of reading once. */
static uint64_t metric_reaching(const char *line_prefix, uint64_t at_least) {
    uint64_t v = 0;
    for (int i = 0; i < 200; i++) {
        v = metric(line_prefix);
        if (v >= at_least) break;
        usleep(10 * 1000);
    }
    return v;
}

TestSuite(server, .init = base_config, .fini = stop, .timeout = 30);

Test(server, healthz_over_a_real_socket) {
    start();
    char buf[4096];
    get("/healthz", buf, sizeof buf);
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK\r\n", 17) == 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "\r\n\r\nok\n"));
}

Test(server, keep_alive_and_pipelining) {
    start();
    int fd = dial();
    const char *two = "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\nGET /metrics HTTP/1.1\r\nHost: t\r\n\r\n";
    send_all(fd, two, strlen(two));
    char buf[32768];
    read_until(fd, buf, sizeof buf, "ringpad_mailbox_messages_total");
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK", 15) == 0, "%s", buf);
    char *second = strstr(buf + 15, "HTTP/1.1 200 OK");
    cr_assert_not_null(second);
    cr_assert_not_null(strstr(second, "text/plain; version=0.0.4"));
    /* a request split across writes */
    send_all(fd, "GET /hea", 8);
    usleep(20000);
    send_all(fd, "lthz HTTP/1.1\r\nHost: t\r\n\r\n", 26);
    read_until(fd, buf, sizeof buf, "ok\n");
    cr_assert(strncmp(buf, "HTTP/1.1 200 OK", 15) == 0, "%s", buf);
    close(fd);
}

Test(server, errors_close_the_connection) {
    start();
    static const struct { const char *req; const char *status; } cases[] = {
        {"GARBAGE\r\n\r\n", "HTTP/1.1 400 "},
        {"POST /healthz HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n", "HTTP/1.1 405 "},
        {"GET / HTTP/1.1\r\nHost: t\r\nContent-Length: 99999999\r\n\r\n", "HTTP/1.1 413 "},
        {"GET /ws HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", "HTTP/1.1 426 "},
        {"GET /echo HTTP/1.1\r\nHost: t\r\n\r\n", "HTTP/1.1 404 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int fd = dial();
        send_all(fd, cases[i].req, strlen(cases[i].req));
        char buf[4096];
        read_until(fd, buf, sizeof buf, "\r\n\r\n");
        cr_expect(strncmp(buf, cases[i].status, strlen(cases[i].status)) == 0, "case %zu: %s", i, buf);
        cr_expect_not_null(strstr(buf, "Connection: close"), "case %zu", i);
        cr_expect(closed_by_server(fd), "case %zu: connection left open", i);
        close(fd);
    }
    /* 431: a head over 16 KiB */
    int fd = dial();
    char big[20000];
    memset(big, 'a', sizeof big);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    send(fd, big, sizeof big, MSG_NOSIGNAL);
    char buf[4096];
    read_until(fd, buf, sizeof buf, "\r\n\r\n");
    cr_expect(strncmp(buf, "HTTP/1.1 431 ", 13) == 0, "%s", buf);
    close(fd);
}

static const char *upgrade_req(const char *path) {
    static char req[512];
    snprintf(req, sizeof req,
             "GET %s HTTP/1.1\r\nHost: t\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", path);
    return req;
}

static int ws_dial(const char *path) {
    int fd = dial();
    const char *req = upgrade_req(path);
    send_all(fd, req, strlen(req));
    char buf[1024];
    size_t n = 0;
    /* read exactly the head: byte by byte up to the blank line */
    while (n + 1 < sizeof buf) {
        ssize_t r = recv(fd, buf + n, 1, 0);
        cr_assert_eq(r, 1, "handshake cut");
        n++;
        buf[n] = '\0';
        if (n >= 4 && memcmp(buf + n - 4, "\r\n\r\n", 4) == 0) break;
    }
    cr_assert(strncmp(buf, "HTTP/1.1 101 ", 13) == 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    return fd;
}

static void ws_send(int fd, uint8_t opcode, const void *payload, size_t len) {
    uint8_t frame[256 + 14];
    cr_assert_lt(len, 126);
    static const uint8_t mask[4] = {1, 2, 3, 4};
    frame[0] = (uint8_t)(0x80 | opcode);
    frame[1] = (uint8_t)(0x80 | len);
    memcpy(frame + 2, mask, 4);
    for (size_t i = 0; i < len; i++) frame[6 + i] = ((const uint8_t *)payload)[i] ^ mask[i % 4];
    send_all(fd, frame, 6 + len);
}

/* Reads one unmasked server frame with a payload < 126 bytes. */
static int ws_recv(int fd, uint8_t *opcode, uint8_t *payload, size_t *len) {
    uint8_t h[2];
    if (recv(fd, h, 2, MSG_WAITALL) != 2) return -1;
    *opcode = h[0] & 0x0f;
    *len = h[1] & 0x7f;
    if (*len >= 126) return -1;
    if (*len > 0 && recv(fd, payload, *len, MSG_WAITALL) != (ssize_t)*len) return -1;
    return 0;
}

Test(server, websocket_echo_ping_and_close) {
    cfg.enable_echo = true;
    start();
    /* /ws speaks ringpad.v1 now (test_session.c); the transport echo is /echo */
    const char *paths[] = {"/echo"};
    for (int p = 0; p < 1; p++) {
        int fd = ws_dial(paths[p]);
        uint8_t op, buf[128];
        size_t len;
        ws_send(fd, 0x1, "hello", 5);
        cr_assert_eq(ws_recv(fd, &op, buf, &len), 0);
        cr_assert_eq(op, 0x1);
        cr_assert_eq(len, 5);
        cr_assert_eq(memcmp(buf, "hello", 5), 0);
        ws_send(fd, 0x9, "pp", 2);
        cr_assert_eq(ws_recv(fd, &op, buf, &len), 0);
        cr_assert_eq(op, 0xA);
        cr_assert_eq(memcmp(buf, "pp", 2), 0);
        ws_send(fd, 0x8, "\x03\xe8" "bye", 5);
        cr_assert_eq(ws_recv(fd, &op, buf, &len), 0);
        cr_assert_eq(op, 0x8);
        cr_assert_geq(len, 2);
        cr_assert_eq(buf[0] << 8 | buf[1], 1000);
        cr_assert(closed_by_server(fd));
        close(fd);
    }
}

/* Reads one unmasked server frame of up to `cap` payload bytes. */
static size_t ws_recv_big(int fd, uint8_t *opcode, uint8_t *payload, size_t cap) {
    uint8_t h[10];
    cr_assert_eq(recv(fd, h, 2, MSG_WAITALL), 2);
    *opcode = h[0] & 0x0f;
    cr_assert_eq(h[1] & 0x80, 0, "server frames are not masked");
    size_t len = h[1] & 0x7f, more = len == 126 ? 2 : len == 127 ? 8 : 0;
    if (more > 0) {
        cr_assert_eq(recv(fd, h + 2, more, MSG_WAITALL), (ssize_t)more);
        len = 0;
        for (size_t i = 0; i < more; i++) len = len << 8 | h[2 + i];
    }
    cr_assert_leq(len, cap);
    if (len > 0) cr_assert_eq(recv(fd, payload, len, MSG_WAITALL), (ssize_t)len);
    return len;
}

/* Large echoes go out from the receive buffer they arrived in, several
 * sharing one buffer: each must come back byte for byte, in order. */
Test(server, large_echoes_come_back_byte_for_byte) {
    cfg.enable_echo = true;
    cfg.max_messages_per_sec = 0;
    start();
    int fd = ws_dial("/echo");
    static const size_t lens[] = { 4000, 4000, 4000, 16384, 65536, 3000 };
    enum { count = sizeof lens / sizeof lens[0] };
    static uint8_t wire[count * (65536 + WS_MAX_HEADER_BYTES)], got[65536];
    size_t at = 0;
    for (size_t m = 0; m < count; m++) {
        static uint8_t payload[65536];
        for (size_t k = 0; k < lens[m]; k++) payload[k] = (uint8_t)(k * 31 + m);
        const uint8_t mask[4] = { (uint8_t)(0x5a + m), 0xc3, 0x96, 0x0f };
        int64_t n = ws_encode_frame(wire + at, sizeof wire - at, true, WS_OP_BINARY, false, payload, lens[m], mask);
        cr_assert_gt(n, 0);
        at += (size_t)n;
    }
    send_all(fd, wire, at);   /* the first three land in one receive buffer */
    for (size_t m = 0; m < count; m++) {
        uint8_t op;
        size_t len = ws_recv_big(fd, &op, got, sizeof got);
        cr_assert_eq(op, WS_OP_BINARY);
        cr_assert_eq(len, lens[m], "message %zu", m);
        for (size_t k = 0; k < len; k++) cr_assert_eq(got[k], (uint8_t)(k * 31 + m), "message %zu byte %zu", m, k);
    }
    close(fd);
}

Test(server, websocket_protocol_error_closes_1002) {
    start();
    int fd = ws_dial("/ws");
    uint8_t unmasked[] = {0x81, 0x02, 'h', 'i'};
    send_all(fd, unmasked, sizeof unmasked);
    uint8_t op, buf[128];
    size_t len;
    cr_assert_eq(ws_recv(fd, &op, buf, &len), 0);
    cr_assert_eq(op, 0x8);
    cr_assert_eq(buf[0] << 8 | buf[1], 1002);
    cr_assert(closed_by_server(fd));
    close(fd);
    cr_assert_geq(metric_reaching("ringpad_connections_closed_total{reason=\"ws_protocol_error\"}", 1), 1);
}

Test(server, heartbeat_ping_then_idle_drop) {
    cfg.ping_interval_ms = 60;
    cfg.idle_timeout_ms = 400;
    start();
    int fd = ws_dial("/ws");
    uint8_t op, buf[128];
    size_t len;
    cr_assert_eq(ws_recv(fd, &op, buf, &len), 0);
    cr_assert_eq(op, 0x9, "server ping");
    /* never answer: dropped without a close frame */
    cr_assert(closed_by_server(fd));
    close(fd);
    cr_assert_geq(metric_reaching("ringpad_connections_closed_total{reason=\"idle_timeout\"}", 1), 1);
}

Test(server, handshake_deadline) {
    cfg.handshake_timeout_ms = 100;
    start();
    int fd = dial();
    send_all(fd, "GET / HTTP/1.1\r\n", 16);
    cr_assert(closed_by_server(fd));
    close(fd);
    cr_assert_geq(metric_reaching("ringpad_connections_closed_total{reason=\"handshake_timeout\"}", 1), 1);
}

Test(server, connection_limit_answers_503) {
    cfg.max_connections = 1;
    start();
    int first = dial();
    usleep(50000);
    int second = dial();
    send_all(second, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 34);
    char buf[4096];
    read_until(second, buf, sizeof buf, "\r\n\r\n");
    cr_assert(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
    cr_assert(closed_by_server(second));
    close(second);
    close(first);
}

Test(server, per_ip_limit_answers_503) {
    cfg.max_connections_per_ip = 1;
    start();
    int first = dial();
    usleep(50000);
    int second = dial();
    send_all(second, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 34);
    char buf[4096];
    read_until(second, buf, sizeof buf, "\r\n\r\n");
    cr_assert(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
    close(second);
    close(first);
}

Test(server, slow_consumer_is_closed_1008) {
    cfg.max_send_queue_bytes = 256 * 1024;
    cfg.close_timeout_ms = 300;
    cfg.max_messages_per_sec = 0;
    cfg.enable_echo = true;
    start();
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int small = 4096;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    close(fd);
    fd = ws_dial("/echo");
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    /* 64 KiB binary messages, never reading the echoes */
    enum { payload_bytes = 65536 };
    static uint8_t frame[payload_bytes + 14];
    frame[0] = 0x82;
    frame[1] = 0x80 | 127;
    memset(frame + 2, 0, 8);
    frame[8] = (payload_bytes >> 8) & 0xff;
    frame[7] = (payload_bytes >> 16) & 0xff;
    memset(frame + 10, 0, 4);   /* zero mask: payload as is */
    memset(frame + 14, 'x', payload_bytes);
    uint64_t closed = 0;
    for (int i = 0; i < 2000 && closed == 0; i++) {
        ssize_t n = send(fd, frame, sizeof frame, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0 && errno != EAGAIN) break;
        if (i % 50 == 49) closed = metric("ringpad_connections_closed_total{reason=\"slow_consumer\"}");
        if (n < 0) usleep(2000);
    }
    for (int i = 0; i < 100 && closed == 0; i++) {
        usleep(20000);
        closed = metric("ringpad_connections_closed_total{reason=\"slow_consumer\"}");
    }
    if (closed != 1) {
        static char text[65536];
        get("/metrics", text, sizeof text);
        cr_log_error("%s", strstr(text, "ringpad_connections_closed_total"));
    }
    cr_assert_eq(closed, 1);
    cr_assert_lt(metric("ringpad_send_queue_bytes"), 256 * 1024, "queue freed");
    close(fd);
}

Test(server, graceful_shutdown_sends_1001) {
    cfg.shutdown_grace_ms = 2000;
    start();
    int fd = ws_dial("/ws");
    server_request_stop(srv);
    uint8_t op, buf[128];
    size_t len;
    cr_assert_eq(ws_recv(fd, &op, buf, &len), 0);
    cr_assert_eq(op, 0x8);
    cr_assert_eq(buf[0] << 8 | buf[1], 1001);
    cr_assert_eq(memcmp(buf + 2, "server shutting down", len - 2), 0);
    ws_send(fd, 0x8, "\x03\xe9", 2);
    cr_assert(closed_by_server(fd));
    close(fd);
    cr_assert_eq(server_wait_and_destroy(srv), 0, "nothing cut");
    srv = NULL;
}

Test(server, metrics_count_requests) {
    start();
    char buf[4096];
    get("/healthz", buf, sizeof buf);
    get("/healthz", buf, sizeof buf);
    cr_assert_geq(metric("ringpad_http_requests_total"), 3);
    cr_assert_geq(metric("ringpad_connections_accepted_total"), 3);
    cr_assert_eq(metric("ringpad_workers"), 2);
}

Test(server, rate_limit_warns_once_then_closes_1008) {
    cfg.max_messages_per_sec = 5;
    cfg.enable_echo = true;
    start();
    int fd = ws_dial("/echo");   /* /ws speaks ringpad.v1 */
    for (int i = 0; i < 20; i++) ws_send(fd, 0x1, "m", 1);
    uint8_t op, buf[128];
    size_t len;
    int echoes = 0, warnings = 0;
    uint16_t close_code = 0;
    for (int i = 0; i < 30 && close_code == 0; i++) {
        cr_assert_eq(ws_recv(fd, &op, buf, &len), 0, "frame %d", i);
        if (op == 0x1 && len == 1) echoes++;
        else if (op == 0x1 && memmem(buf, len, "rate_limited", 12) != NULL) warnings++;
        else if (op == 0x8) close_code = (uint16_t)(buf[0] << 8 | buf[1]);
    }
    cr_assert_eq(echoes, 5, "burst = rate");
    cr_assert_eq(warnings, 1, "told once");
    cr_assert_eq(close_code, 1008);
    close(fd);
}

Test(server, healthz_503_during_the_grace_period) {
    cfg.shutdown_grace_ms = 1500;
    cfg.threads = 1;
    start();
    int stubborn = ws_dial("/ws");        /* never answers the close: keeps the grace period going */
    int http = dial();
    send_all(http, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 34);
    char buf[4096];
    read_until(http, buf, sizeof buf, "ok\n");
    cr_assert(strncmp(buf, "HTTP/1.1 200 ", 13) == 0, "%s", buf);
    server_request_stop(srv);
    uint8_t op, payload[128];
    size_t len;
    cr_assert_eq(ws_recv(stubborn, &op, payload, &len), 0);
    cr_assert_eq(op, 0x8);
    send_all(http, "GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n", 34);
    read_until(http, buf, sizeof buf, "\r\n\r\n");
    cr_assert(strncmp(buf, "HTTP/1.1 503 ", 13) == 0, "%s", buf);
    cr_assert_not_null(strstr(buf, "Connection: close"));
    cr_assert(closed_by_server(http));
    close(http);
    cr_assert(closed_by_server(stubborn), "cut at the end of the grace period");
    close(stubborn);
    cr_assert_eq(server_wait_and_destroy(srv), 1, "one connection was cut");
    srv = NULL;
}
