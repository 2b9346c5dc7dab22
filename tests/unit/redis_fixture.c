#include "redis_fixture.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The server is not our child (the script started it in the background):
 * wait for it to be gone, bounded. */
static void kill_and_wait(pid_t pid) {
    kill(pid, SIGKILL);
    for (int i = 0; i < 200 && kill(pid, 0) == 0; i++) usleep(10 * 1000);
}

static void launch(test_redis *r, const char *cmd) {
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    int pid = 0;
    int n = fscanf(p, "%u %d %255s", &r->port, &pid, r->dir);
    cr_assert_eq(pclose(p), 0, "redis-server.sh failed");
    cr_assert_eq(n, 3);
    r->pid = (pid_t)pid;
}

static void connect_client(test_redis *r) {
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert_geq(r->fd, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)r->port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    cr_assert_eq(connect(r->fd, (struct sockaddr *)&a, sizeof a), 0);
    r->reader = redisReaderCreate();
    cr_assert_not_null(r->reader);
}

void test_redis_start(test_redis *r) {
    memset(r, 0, sizeof *r);
    launch(r, "sh tests/integration/lib/redis-server.sh");
    connect_client(r);
}

void test_redis_kill(test_redis *r) {
    if (r->reader != NULL) redisReaderFree(r->reader);
    r->reader = NULL;
    if (r->fd >= 0) close(r->fd);
    r->fd = -1;
    kill_and_wait(r->pid);
    r->pid = 0;
}

void test_redis_restart(test_redis *r) {
    char cmd[400];
    snprintf(cmd, sizeof cmd, "sh tests/integration/lib/redis-server.sh '%s' %u", r->dir, r->port);
    launch(r, cmd);
    connect_client(r);
}

void test_redis_stop(test_redis *r) {
    if (r->reader != NULL) redisReaderFree(r->reader);
    if (r->fd >= 0) close(r->fd);
    if (r->pid > 0) kill_and_wait(r->pid);
    if (r->dir[0] != '\0') {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", r->dir);
        cr_assert_eq(system(cmd), 0);
    }
}

redisReply *test_redis_cmd(test_redis *r, int argc, const char **argv) {
    char *cmd = NULL;
    long long n = redisFormatCommandArgv(&cmd, argc, argv, NULL);
    cr_assert_gt(n, 0);
    for (long long off = 0; off < n;) {
        ssize_t w = write(r->fd, cmd + off, (size_t)(n - off));
        cr_assert_gt(w, 0);
        off += w;
    }
    redisFreeCommand(cmd);
    void *reply = NULL;
    /* bounded: the server answers or closes */
    while (reply == NULL) {
        cr_assert_eq(redisReaderGetReply(r->reader, &reply), REDIS_OK);
        if (reply != NULL) break;
        char buf[4096];
        ssize_t got = read(r->fd, buf, sizeof buf);
        cr_assert_gt(got, 0, "redis closed the connection");
        cr_assert_eq(redisReaderFeed(r->reader, buf, (size_t)got), REDIS_OK);
    }
    return reply;
}
