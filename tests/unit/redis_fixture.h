/*
 * Unit tests' Redis: a real redis-server started by the integration suite's
 * helper (tests/integration/lib/redis-server.sh: a free loopback port, AOF
 * with appendfsync always, a temp dir), stopped by its pid; and a blocking
 * client for the tests' own commands (hiredis's formatter and reader).
 */
#ifndef RINGPAD_TEST_REDIS_FIXTURE_H
#define RINGPAD_TEST_REDIS_FIXTURE_H

#include <hiredis/hiredis.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct test_redis {
    uint32_t port;
    pid_t pid;
    char dir[256];
    int fd;
    redisReader *reader;
} test_redis;

/* Starts the server and connects; asserts on failure. */
void test_redis_start(test_redis *r);
/* Kills the server (SIGKILL) and keeps its dir and port. */
void test_redis_kill(test_redis *r);
/* Starts it again on the same dir and port (its AOF is replayed); the
 * blocking client connects again. */
void test_redis_restart(test_redis *r);
/* Disconnects, kills the server by pid and removes its dir. */
void test_redis_stop(test_redis *r);
/* One command, its reply (freeReplyObject it); asserts on I/O failure. */
redisReply *test_redis_cmd(test_redis *r, int argc, const char **argv);

#endif
