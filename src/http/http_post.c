#include "http/http_post.h"
#include "base/clock.h"

#include <errno.h>
#include <stdbool.h>
#include <netdb.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

int http_url_parse(const char *url, http_url *out, const char **why) {
    memset(out, 0, sizeof *out);
    static const char scheme[] = "http://";
    if (strncmp(url, scheme, sizeof scheme - 1) != 0) {
        *why = "only http:// URLs are supported (put a TLS relay in front for https)";
        return -EINVAL;
    }
    const char *h = url + sizeof scheme - 1;
    const char *path = strchr(h, '/');
    size_t hostport = path != NULL ? (size_t)(path - h) : strlen(h);
    const char *host = h;
    size_t host_len = hostport;
    const char *port = NULL;
    if (hostport > 0 && h[0] == '[') {
        const char *close = memchr(h, ']', hostport);
        if (close == NULL) {
            *why = "an IPv6 host needs its closing ']'";
            return -EINVAL;
        }
        host = h + 1;
        host_len = (size_t)(close - host);
        if (close + 1 < h + hostport) {
            if (close[1] != ':') {
                *why = "after ']' only ':port' may follow";
                return -EINVAL;
            }
            port = close + 2;
        }
    } else {
        const char *colon = memchr(h, ':', hostport);
        if (colon != NULL) {
            host_len = (size_t)(colon - h);
            port = colon + 1;
        }
    }
    size_t port_len = port != NULL ? (size_t)(h + hostport - port) : 0;
    if (host_len == 0 || host_len >= sizeof out->host) {
        *why = "the host is empty or too long";
        return -EINVAL;
    }
    if (port != NULL && (port_len == 0 || port_len >= sizeof out->port || strspn(port, "0123456789") < port_len)) {
        *why = "the port must be digits";
        return -EINVAL;
    }
    const char *p = path != NULL ? path : "/";
    if (strlen(p) >= sizeof out->path || strpbrk(p, " \r\n") != NULL) {
        *why = "the path is too long or holds a space or line break";
        return -EINVAL;
    }
    memcpy(out->host, host, host_len);
    if (port != NULL) memcpy(out->port, port, port_len);
    else memcpy(out->port, "80", 3);
    snprintf(out->path, sizeof out->path, "%s", p);
    return 0;
}

static int64_t mono_ms(void) { return (int64_t)clock_mono_ms(); }

typedef struct post_wait {
    int64_t deadline_ms;
    const _Atomic bool *cancel;
} post_wait;

/* Waits until fd is ready for `events`, the deadline passes or the caller cancels. */
static int wait_fd(int fd, short events, const post_wait *pw) {
    /* bounded by the deadline: each pass sleeps at most one check interval */
    for (;;) {
        if (pw->cancel != NULL && atomic_load(pw->cancel)) return -ECANCELED;
        int64_t left = pw->deadline_ms - mono_ms();
        if (left <= 0) return -ETIMEDOUT;
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(left < HTTP_POST_CANCEL_CHECK_MS ? left : HTTP_POST_CANCEL_CHECK_MS));
        if (n < 0 && errno != EINTR) return -errno;
        if (n > 0) return 0;
    }
}

static int connect_to(const http_url *u, const post_wait *pw, int *out_fd) {
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    if (getaddrinfo(u->host, u->port, &hints, &res) != 0 || res == NULL) return -EHOSTUNREACH;
    int rc = -ECONNREFUSED;
    for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        if (connect(fd, a->ai_addr, a->ai_addrlen) != 0 && errno != EINPROGRESS) {
            rc = -errno;
            close(fd);
            continue;
        }
        int w = wait_fd(fd, POLLOUT, pw);
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (w == 0 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == 0 && soerr == 0) {
            *out_fd = fd;
            freeaddrinfo(res);
            return 0;
        }
        rc = w != 0 ? w : -soerr;
        close(fd);
    }
    freeaddrinfo(res);
    return rc;
}

static int send_all(int fd, const char *p, size_t len, const post_wait *pw) {
    /* bounded by the deadline: each pass sends bytes or waits for room */
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -errno;
        int w = wait_fd(fd, POLLOUT, pw);
        if (w != 0) return w;
    }
    return 0;
}

/* Reads until the status line is in: "HTTP/1.x NNN". */
static int read_status(int fd, const post_wait *pw, int *status) {
    char buf[64];
    size_t have = 0;
    while (have < 12) {
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n == 0) return -EPROTO;
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR) return -errno;
            int w = wait_fd(fd, POLLIN, pw);
            if (w != 0) return w;
            continue;
        }
        have += (size_t)n;
    }
    buf[have] = '\0';
    if (strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ' || buf[9] < '1' || buf[9] > '5') return -EPROTO;
    *status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    return 0;
}

int http_post(const http_url *u, const char *extra_headers, const char *body, size_t len, uint32_t timeout_ms,
              const _Atomic bool *cancel, int *status) {
    post_wait pw = {.deadline_ms = mono_ms() + timeout_ms, .cancel = cancel};
    const post_wait *deadline = &pw;
    int fd = -1;
    int rc = connect_to(u, deadline, &fd);
    if (rc != 0) return rc;
    bool v6 = strchr(u->host, ':') != NULL;
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: ringpad\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
                     u->path, v6 ? "[" : "", u->host, v6 ? "]" : "", strcmp(u->port, "80") != 0 ? ":" : "",
                     strcmp(u->port, "80") != 0 ? u->port : "", len, extra_headers != NULL ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof head) rc = -ENAMETOOLONG;
    if (rc == 0) rc = send_all(fd, head, (size_t)n, deadline);
    if (rc == 0) rc = send_all(fd, body, len, deadline);
    if (rc == 0) rc = read_status(fd, deadline, status);
    close(fd);
    return rc;
}
