/*
 * systemd's notify protocol (sd_notify(3)) without libsystemd: datagrams of
 * "KEY=value" lines to the unix socket named by NOTIFY_SOCKET (a path, or an
 * abstract name when it starts with '@'). Type=notify units wait for READY=1;
 * with WatchdogSec= the service must send WATCHDOG=1 at least every
 * WATCHDOG_USEC, which the workers' loops do (worker 0, while every loop turns).
 */
#ifndef RINGPAD_SDNOTIFY_H
#define RINGPAD_SDNOTIFY_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

typedef struct sdnotify {
    int fd;                        /* -1: not under a notify-aware supervisor */
    struct sockaddr_un addr;
    socklen_t addr_len;
    uint64_t watchdog_interval_ms; /* 0: no watchdog; else half of WATCHDOG_USEC */
    uint64_t watchdog_next_ms;     /* written by worker 0 only */
} sdnotify;

/*
 * From the values of NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (each may be
 * NULL). A watchdog meant for another pid is ignored. Returns 0 (also when
 * there is no socket: sends are then no-ops), -EINVAL for a socket name that
 * is not a path or '@' name or is too long, or a negative errno from socket().
 */
int sdnotify_open(sdnotify *n, const char *notify_socket, const char *watchdog_usec, const char *watchdog_pid);

/* One datagram, without blocking. 0, or a negative errno (nothing listens, ...). */
int sdnotify_send(const sdnotify *n, const char *message);

/*
 * Called from worker 0's timer: sends WATCHDOG=1 every watchdog interval while
 * every worker's loop has turned within WATCHDOG_USEC (`loop_ms[i]`, stored by
 * each worker). A stuck worker stops the pings and systemd restarts the service.
 * Returns 1 when a ping was sent, else 0.
 */
int sdnotify_watchdog_tick(sdnotify *n, uint64_t now_ms, const _Atomic uint64_t *loop_ms, uint32_t count);

void sdnotify_close(sdnotify *n);

#endif /* RINGPAD_SDNOTIFY_H */
