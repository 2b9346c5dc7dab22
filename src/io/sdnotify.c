#include "io/sdnotify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Strict decimal, like systemd's own parsing of these variables. */
static int parse_u64(const char *s, uint64_t *out) {
    if (s == NULL || *s < '0' || *s > '9') return -EINVAL;
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++) {
        uint64_t d = (uint64_t)(*s - '0');
        if (v > (UINT64_MAX - d) / 10) return -ERANGE;
        v = v * 10 + d;
    }
    if (*s != '\0') return -EINVAL;
    *out = v;
    return 0;
}

int sdnotify_open(sdnotify *n, const char *notify_socket, const char *watchdog_usec, const char *watchdog_pid) {
    memset(n, 0, sizeof *n);
    n->fd = -1;
    if (notify_socket == NULL || notify_socket[0] == '\0') return 0;
    size_t len = strlen(notify_socket);
    if ((notify_socket[0] != '/' && notify_socket[0] != '@') || len >= sizeof n->addr.sun_path) return -EINVAL;
    n->addr.sun_family = AF_UNIX;
    memcpy(n->addr.sun_path, notify_socket, len);
    if (notify_socket[0] == '@') n->addr.sun_path[0] = '\0';   /* abstract namespace: no trailing NUL */
    n->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (notify_socket[0] == '/' ? 1 : 0));
    uint64_t usec = 0, pid = 0;
    bool for_us = watchdog_pid == NULL || (parse_u64(watchdog_pid, &pid) == 0 && pid == (uint64_t)getpid());
    if (for_us && parse_u64(watchdog_usec, &usec) == 0 && usec > 0) {
        /* half the timeout, as sd_watchdog_enabled(3) advises; at least 1 ms */
        n->watchdog_interval_ms = usec / 2000 > 0 ? usec / 2000 : 1;
    }
    n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (n->fd < 0) return -errno;
    return 0;
}

int sdnotify_send(const sdnotify *n, const char *message) {
    if (n == NULL || n->fd < 0) return 0;
    ssize_t sent = sendto(n->fd, message, strlen(message), MSG_NOSIGNAL, (const struct sockaddr *)&n->addr,
                          n->addr_len);
    return sent < 0 ? -errno : 0;
}

int sdnotify_watchdog_tick(sdnotify *n, uint64_t now_ms, const _Atomic uint64_t *loop_ms, uint32_t count) {
    if (n == NULL || n->fd < 0 || n->watchdog_interval_ms == 0 || now_ms < n->watchdog_next_ms) return 0;
    for (uint32_t i = 0; i < count; i++) {
        uint64_t seen = atomic_load_explicit(&loop_ms[i], memory_order_relaxed);
        /* a loop silent for a whole WATCHDOG_USEC is stuck: no ping, systemd restarts us */
        if (seen + 2 * n->watchdog_interval_ms < now_ms) return 0;
    }
    n->watchdog_next_ms = now_ms + n->watchdog_interval_ms;
    return sdnotify_send(n, "WATCHDOG=1") == 0 ? 1 : 0;
}

void sdnotify_close(sdnotify *n) {
    if (n->fd >= 0) close(n->fd);
    n->fd = -1;
}
