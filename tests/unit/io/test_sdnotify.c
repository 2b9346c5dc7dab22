#include "io/sdnotify.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

/* A datagram socket bound where NOTIFY_SOCKET points, as systemd makes it. */
static int bind_listener(const char *name) {
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    cr_assert_geq(fd, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    memcpy(a.sun_path, name, len);
    if (name[0] == '@') a.sun_path[0] = '\0';
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (name[0] == '/' ? 1 : 0));
    cr_assert_eq(bind(fd, (struct sockaddr *)&a, alen), 0, "bind %s: %s", name, strerror(errno));
    struct timeval tv = {.tv_sec = 2};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void expect_datagram(int fd, const char *want) {
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    cr_assert_gt(n, 0, "no datagram: %s", strerror(errno));
    buf[n] = '\0';
    cr_assert_str_eq(buf, want);
}

Test(sdnotify, sends_to_a_path_socket) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/ringpad-notify-%d", (int)getpid());
    unlink(path);
    int fd = bind_listener(path);
    sdnotify n;
    cr_assert_eq(sdnotify_open(&n, path, NULL, NULL), 0);
    cr_assert_eq(n.watchdog_interval_ms, 0);
    cr_assert_eq(sdnotify_send(&n, "READY=1"), 0);
    expect_datagram(fd, "READY=1");
    cr_assert_eq(sdnotify_send(&n, "STOPPING=1"), 0);
    expect_datagram(fd, "STOPPING=1");
    sdnotify_close(&n);
    close(fd);
    unlink(path);
}

Test(sdnotify, sends_to_an_abstract_socket) {
    char name[64];
    snprintf(name, sizeof name, "@ringpad-notify-%d", (int)getpid());
    int fd = bind_listener(name);
    sdnotify n;
    cr_assert_eq(sdnotify_open(&n, name, "4000000", NULL), 0);
    cr_assert_eq(n.watchdog_interval_ms, 2000, "half of WATCHDOG_USEC");
    cr_assert_eq(sdnotify_send(&n, "READY=1"), 0);
    expect_datagram(fd, "READY=1");
    sdnotify_close(&n);
    close(fd);
}

Test(sdnotify, without_a_socket_sends_are_noops) {
    sdnotify n;
    cr_assert_eq(sdnotify_open(&n, NULL, "1000000", NULL), 0);
    cr_assert_eq(n.fd, -1);
    cr_assert_eq(sdnotify_send(&n, "READY=1"), 0);
    _Atomic uint64_t loops[1] = {100};
    cr_assert_eq(sdnotify_watchdog_tick(&n, 100, loops, 1), 0);
}

Test(sdnotify, bad_names_and_nobody_listening) {
    sdnotify n;
    cr_assert_eq(sdnotify_open(&n, "relative/path", NULL, NULL), -EINVAL);
    char longname[200];
    memset(longname, 'a', sizeof longname - 1);
    longname[0] = '/';
    longname[sizeof longname - 1] = '\0';
    cr_assert_eq(sdnotify_open(&n, longname, NULL, NULL), -EINVAL);
    cr_assert_eq(sdnotify_open(&n, "/tmp/ringpad-nobody-listens-here", NULL, NULL), 0);
    int rc = sdnotify_send(&n, "READY=1");
    cr_assert(rc == -ENOENT || rc == -ECONNREFUSED, "send to nobody: %d", rc);
    sdnotify_close(&n);
}

Test(sdnotify, watchdog_for_another_pid_or_malformed_is_ignored) {
    sdnotify n;
    cr_assert_eq(sdnotify_open(&n, "@ringpad-x", "1000000", "1"), 0);
    cr_assert_eq(n.watchdog_interval_ms, 0, "WATCHDOG_PID names another process");
    sdnotify_close(&n);
    char pid[32];
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    cr_assert_eq(sdnotify_open(&n, "@ringpad-x", "1000000", pid), 0);
    cr_assert_eq(n.watchdog_interval_ms, 500);
    sdnotify_close(&n);
    cr_assert_eq(sdnotify_open(&n, "@ringpad-x", "10s", NULL), 0);
    cr_assert_eq(n.watchdog_interval_ms, 0, "WATCHDOG_USEC must be microseconds");
    sdnotify_close(&n);
}

Test(sdnotify, watchdog_pings_only_while_every_loop_turns) {
    char name[64];
    snprintf(name, sizeof name, "@ringpad-wd-%d", (int)getpid());
    int fd = bind_listener(name);
    sdnotify n;
    cr_assert_eq(sdnotify_open(&n, name, "200000", NULL), 0);   /* 200 ms: a ping every 100 ms */
    _Atomic uint64_t loops[2] = {1000, 1000};
    cr_assert_eq(sdnotify_watchdog_tick(&n, 1000, loops, 2), 1);
    expect_datagram(fd, "WATCHDOG=1");
    cr_assert_eq(sdnotify_watchdog_tick(&n, 1050, loops, 2), 0, "not again before the interval");
    atomic_store(&loops[0], 1100);
    atomic_store(&loops[1], 1100);
    cr_assert_eq(sdnotify_watchdog_tick(&n, 1100, loops, 2), 1);
    expect_datagram(fd, "WATCHDOG=1");
    /* worker 1 stops turning: once it is silent for WATCHDOG_USEC the pings stop */
    atomic_store(&loops[0], 1400);
    cr_assert_eq(sdnotify_watchdog_tick(&n, 1400, loops, 2), 0, "a stuck loop gets no ping");
    atomic_store(&loops[1], 1400);
    cr_assert_eq(sdnotify_watchdog_tick(&n, 1400, loops, 2), 1);
    expect_datagram(fd, "WATCHDOG=1");
    sdnotify_close(&n);
    close(fd);
}
