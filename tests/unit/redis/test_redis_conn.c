/* A Redis connection on a worker's ring against a real redis-server:
 * pipelined replies in order, a lost connection failing every waiting
 * command and coming back with backoff, a refused connect, and subscriber
 * mode's pushed messages. The ring is pumped here (no worker loop). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/config.h"
#include "io/ring.h"
#include "redis/redis_conn.h"
#include "redis_fixture.h"

typedef struct fixture {
    worker w;
    config cfg;
    metrics_worker metrics;
    server_shared shared;
    _Atomic uint64_t loop_ms[1];
    test_redis redis;
    redis_conn c;
    int ups, downs;
    long long got[256];
    int count_got, count_null;
    char pushed[64];
} fixture;

static fixture f;

static void on_state(void *ctx, bool up) {
    fixture *x = ctx;
    if (up) x->ups++;
    else x->downs++;
}

static void on_reply(void *ctx, const redisReply *r) {
    fixture *x = ctx;
    if (r == NULL) {
        x->count_null++;
        return;
    }
    cr_assert_lt(x->count_got, 256);
    x->got[x->count_got++] = r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
}

static void on_push(void *ctx, const redisReply *r) {
    fixture *x = ctx;
    snprintf(x->pushed, sizeof x->pushed, "%s", r->element[2]->str);
}

static void setup(void) {
    memset(&f, 0, sizeof f);
    config_defaults(&f.cfg);
    f.cfg.max_connections = 16;
    f.shared.cfg = &f.cfg;
    f.shared.count_workers = 1;
    f.shared.metrics = &f.metrics;
    f.shared.loop_ms = f.loop_ms;
    f.w.shared = &f.shared;
    f.w.listen_fd = -1;
    cr_assert_eq(worker_init(&f.w), 0);
    f.w.m = &f.metrics;
    test_redis_start(&f.redis);
}

/* Turns the ring (and the connection's timer) until cond holds or ms pass. */
static bool pump(bool (*cond)(void), uint64_t ms) {
    uint64_t end = clock_mono_ms() + ms;
    while (!cond() && clock_mono_ms() < end) {
        f.w.now_ms = clock_mono_ms();
        redis_conn_tick(&f.c, f.w.now_ms);
        io_uring_submit(&f.w.ring);
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 20 * 1000 * 1000};
        if (io_uring_wait_cqe_timeout(&f.w.ring, &cqe, &ts) != 0 || cqe == NULL) continue;
        f.w.now_ms = clock_mono_ms();
        worker_dispatch(&f.w, cqe);
        io_uring_cqe_seen(&f.w.ring, cqe);
    }
    return cond();
}

static bool is_up(void) { return redis_conn_up(&f.c); }
static bool is_idle(void) { return redis_conn_idle(&f.c); }
static bool got_200(void) { return f.count_got == 200; }
static bool got_null(void) { return f.count_null > 0 && f.downs > 0; }
static bool got_one(void) { return f.count_got >= 1; }
static bool pushed(void) { return f.pushed[0] != '\0'; }
static bool failed_twice(void) { return f.c.count_failures >= 2; }

static void teardown(void) {
    redis_conn_stop(&f.c);
    cr_assert(pump(is_idle, 2000), "the connection's SQEs complete after the stop");
    redis_conn_destroy(&f.c);
    worker_destroy(&f.w);
    test_redis_stop(&f.redis);
}

static void connect_to(uint32_t port) {
    cr_assert_eq(redis_conn_init(&f.c, &f.w, "127.0.0.1", port, 0, on_state, &f), 0);
    cr_assert_eq(redis_conn_command(&f.c, 1, (const char *[]){"PING"}, NULL, on_reply, &f), -ENOTCONN);
}

Test(redis_conn, pipelined_replies_come_back_in_order, .init = setup, .fini = teardown) {
    connect_to(f.redis.port);
    cr_assert(pump(is_up, 3000));
    cr_assert_eq(f.ups, 1);
    const char *argv[] = {"INCR", "counter"};
    size_t lens[] = {4, 7};
    for (int i = 0; i < 200; i++) cr_assert_eq(redis_conn_command(&f.c, 2, argv, lens, on_reply, &f), 0);
    cr_assert(pump(got_200, 5000));
    for (int i = 0; i < 200; i++) cr_assert_eq(f.got[i], i + 1);
    cr_assert_gt(f.metrics.redis_rtt_us[0] + f.metrics.redis_rtt_us[METRICS_FSYNC_BUCKETS] + f.metrics.redis_rtt_us_sum, 0);
}

Test(redis_conn, a_lost_connection_fails_what_waits_and_comes_back, .init = setup, .fini = teardown) {
    connect_to(f.redis.port);
    cr_assert(pump(is_up, 3000));
    /* a command Redis holds: its reply never comes from this server */
    const char *argv[] = {"BLPOP", "nothing", "0"};
    size_t lens[] = {5, 7, 1};
    cr_assert_eq(redis_conn_command(&f.c, 3, argv, lens, on_reply, &f), 0);
    test_redis_kill(&f.redis);
    cr_assert(pump(got_null, 3000), "the waiting command fails and the owner hears the loss");
    cr_assert_eq(f.count_null, 1);
    cr_assert_eq(f.downs, 1);
    cr_assert_eq(redis_conn_command(&f.c, 3, argv, lens, on_reply, &f), -ENOTCONN);
    test_redis_restart(&f.redis);
    cr_assert(pump(is_up, 5000), "it reconnects with backoff");
    cr_assert_eq(f.ups, 2);
    const char *incr[] = {"INCR", "after"};
    size_t incr_lens[] = {4, 5};
    cr_assert_eq(redis_conn_command(&f.c, 2, incr, incr_lens, on_reply, &f), 0);
    cr_assert(pump(got_one, 3000));
    cr_assert_eq(f.got[0], 1);
}

Test(redis_conn, a_refused_connect_is_retried_and_never_up, .init = setup, .fini = teardown) {
    /* the fixture's server moved away: its old port refuses */
    uint32_t port = f.redis.port;
    test_redis_kill(&f.redis);
    connect_to(port);
    cr_assert(pump(failed_twice, 5000), "refused, then retried after the backoff");
    cr_assert_not(redis_conn_up(&f.c));
    cr_assert_eq(f.ups, 0);
    cr_assert_eq(f.downs, 0, "never up: no loss to report");
}

Test(redis_conn, subscriber_mode_hands_messages_to_the_push_callback, .init = setup, .fini = teardown) {
    connect_to(f.redis.port);
    f.c.on_push = on_push;
    f.c.push_ctx = &f;
    cr_assert(pump(is_up, 3000));
    const char *sub[] = {"SUBSCRIBE", "ch"};
    size_t lens[] = {9, 2};
    cr_assert_eq(redis_conn_command(&f.c, 2, sub, lens, on_reply, &f), 0);
    cr_assert(pump(got_one, 3000), "the subscription's confirmation is a command's reply");
    const char *pub[] = {"PUBLISH", "ch", "hello"};
    freeReplyObject(test_redis_cmd(&f.redis, 3, pub));
    cr_assert(pump(pushed, 3000));
    cr_assert_str_eq(f.pushed, "hello");
}
