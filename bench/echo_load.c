/*
 * Closed-loop WebSocket echo load client (a benchmark tool, not a test):
 * N connections, each sends one masked binary message of S bytes and waits
 * for its echo before sending the next. Prints messages/s over D seconds.
 *
 *   cc -O2 -o echo_load bench/echo_load.c
 *   taskset -c 1 ./echo_load PORT [connections=100] [bytes=1024] [seconds=5] [path=/echo]
 *
 * With seconds = 0 it only opens the connections, prints "idle N" once all are
 * upgraded and holds them for 10 s (for RSS-per-idle-connection figures).
 *
 * epoll is fine here: this is the client, not the server.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 20000

typedef struct lconn {
    int fd;
    int upgraded;
    size_t want;       /* bytes of the echo frame still expected */
    size_t got;
} lconn;

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s PORT [connections] [bytes] [seconds] [path]\n", argv[0]);
        return 2;
    }
    int port = atoi(argv[1]);
    int nconn = argc > 2 ? atoi(argv[2]) : 100;
    size_t bytes = argc > 3 ? (size_t)atol(argv[3]) : 1024;
    double seconds = argc > 4 ? atof(argv[4]) : 5.0;
    const char *path = argc > 5 ? argv[5] : "/echo";
    if (nconn < 1 || nconn > MAX_CONNS || bytes < 126 || seconds < 0 || bytes > 65535) {
        fprintf(stderr, "connections 1..%d, bytes 126..65535\n", MAX_CONNS);
        return 2;
    }
    /* one masked frame, reused: 16-bit length form */
    size_t flen = 8 + bytes;
    uint8_t *frame = malloc(flen);
    frame[0] = 0x82;
    frame[1] = 0x80 | 126;
    frame[2] = (uint8_t)(bytes >> 8);
    frame[3] = (uint8_t)bytes;
    memcpy(frame + 4, "\x11\x22\x33\x44", 4);
    for (size_t i = 0; i < bytes; i++) frame[8 + i] = (uint8_t)('a' + i % 26) ^ frame[4 + i % 4];
    size_t echo_len = 4 + bytes;
    char req[512];
    int reqlen = snprintf(req, sizeof req,
                          "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                          path);
    lconn *cs = calloc((size_t)nconn, sizeof *cs);
    int ep = epoll_create1(0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int i = 0; i < nconn; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            perror("connect");
            return 1;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (write(fd, req, (size_t)reqlen) != reqlen) return 1;
        cs[i].fd = fd;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = (uint32_t)i};
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    }
    static uint8_t buf[1 << 16];
    uint64_t msgs = 0;
    int ready = 0;
    double t0 = 0, deadline = now_s() + 30;
    struct epoll_event evs[512];
    while (now_s() < deadline) {
        int n = epoll_wait(ep, evs, 512, 1000);
        for (int k = 0; k < n; k++) {
            lconn *c = &cs[evs[k].data.u32];
            ssize_t r = read(c->fd, buf, sizeof buf);
            if (r <= 0) {
                fprintf(stderr, "connection closed by server\n");
                return 1;
            }
            if (!c->upgraded) {
                /* the 101 head arrives in one read on loopback */
                if (memmem(buf, (size_t)r, "\r\n\r\n", 4) == NULL || memcmp(buf, "HTTP/1.1 101", 12) != 0) {
                    fprintf(stderr, "bad handshake: %.*s\n", (int)r, buf);
                    return 1;
                }
                c->upgraded = 1;
                if (++ready == nconn) {
                    if (seconds <= 0) {
                        printf("idle %d\n", nconn);
                        fflush(stdout);
                        sleep(10);
                        return 0;
                    }
                    t0 = now_s();
                    deadline = t0 + seconds;
                    for (int i = 0; i < nconn; i++) {
                        if (write(cs[i].fd, frame, flen) != (ssize_t)flen) return 1;
                        cs[i].want = echo_len;
                    }
                }
                continue;
            }
            c->got += (size_t)r;
            while (c->want > 0 && c->got >= c->want) {
                c->got -= c->want;
                msgs++;
                if (write(c->fd, frame, flen) != (ssize_t)flen) return 1;
            }
        }
    }
    double dt = now_s() - t0;
    printf("connections=%d bytes=%zu seconds=%.2f messages=%llu rate=%.0f msg/s\n", nconn, bytes, dt,
           (unsigned long long)msgs, (double)msgs / dt);
    return 0;
}
