/* The transport's limits without sockets (conn_fixture.h): connection
 * limits at accept (soft: a 503 to come; hard: refused), per address, the
 * pool; the send queue's byte limit (a slow consumer loses its backlog and
 * closes after what is in flight), control frames past it, responses, and
 * zero-copy sends with their notifications. */
#include <criterion/criterion.h>

#include "conn_fixture.h"
#include "server/http_conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static conn_fixture fx;
static _Atomic uint32_t *ip_counts;

static void small_queue(config *cfg) {
    cfg->max_send_queue_bytes = 1024;
    cfg->zerocopy_min_bytes = 4096;
}

static void setup(void) { conn_fixture_init(&fx, small_queue); }
static void teardown(void) {
    conn_fixture_fini(&fx);
    free(ip_counts);
    ip_counts = NULL;
}

TestSuite(conn_limits, .init = setup, .fini = teardown, .timeout = 10);

static struct io_uring_sqe recv_of(void) {
    const struct io_uring_sqe *r = conn_fixture_find(&fx, IORING_OP_RECV);
    cr_assert_not_null(r);
    return *r;
}

Test(conn_limits, past_the_soft_limit_a_conn_is_kept_for_its_503) {
    atomic_store(&fx.shared.open_connections, fx.cfg.max_connections - 1);
    conn *under = conn_fixture_open(&fx);
    struct io_uring_sqe r1 = recv_of();
    cr_assert_not(under->over_limit);
    conn *over = conn_fixture_open(&fx);
    struct io_uring_sqe r2 = recv_of();
    cr_assert(over->over_limit);
    cr_assert_eq(atomic_load(&fx.shared.open_connections), fx.cfg.max_connections + 1);
    conn_fixture_close(&fx, under, &r1);
    conn_fixture_close(&fx, over, &r2);
    cr_assert_eq(atomic_load(&fx.shared.open_connections), fx.cfg.max_connections - 1);
}

Test(conn_limits, past_the_hard_limit_nothing_is_opened) {
    uint32_t max = fx.cfg.max_connections;
    uint32_t hard = max + max / 8 + 64;
    atomic_store(&fx.shared.open_connections, hard);
    cr_assert_null(conn_fixture_try_open(&fx));
    cr_assert_eq(fx.count_sqes, 0, "no receive armed");
    cr_assert_eq(atomic_load(&fx.shared.open_connections), hard, "the count is given back");
    cr_assert_eq(fx.w.count_conns, 0);
}

Test(conn_limits, an_empty_pool_refuses_and_counts) {
    fx.w.conn_pool.max_blocks_out = 0;
    cr_assert_null(conn_fixture_try_open(&fx));
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_NO_MEMORY]), 1);
    cr_assert_eq(atomic_load(&fx.shared.open_connections), 0);
}

Test(conn_limits, per_address_limit_marks_the_second_conn_and_frees_its_slot) {
    ip_counts = calloc(SERVER_IP_SLOTS, sizeof *ip_counts);
    cr_assert_not_null(ip_counts);
    fx.shared.ip_counts = ip_counts;
    fx.cfg.max_connections_per_ip = 1;
    conn *a = conn_fixture_open(&fx);
    struct io_uring_sqe ra = recv_of();
    conn *b = conn_fixture_open(&fx);
    struct io_uring_sqe rb = recv_of();
    cr_assert(a->counted_ip && b->counted_ip);
    cr_assert_eq(a->ip_slot, b->ip_slot, "one peer address");
    cr_assert_not(a->over_limit);
    cr_assert(b->over_limit);
    cr_assert_eq(atomic_load(&ip_counts[a->ip_slot]), 2);
    uint32_t slot = a->ip_slot;
    conn_fixture_close(&fx, a, &ra);
    cr_assert_eq(atomic_load(&ip_counts[slot]), 1);
    conn_fixture_close(&fx, b, &rb);
    cr_assert_eq(atomic_load(&ip_counts[slot]), 0);
}

Test(conn_limits, a_slow_consumer_loses_its_backlog_and_closes_after_the_flight) {
    conn *c = conn_fixture_open(&fx);
    struct io_uring_sqe recv = recv_of();
    char chunk[401];
    memset(chunk, 'a', 400);
    chunk[400] = '\0';
    cr_assert_eq(conn_fixture_send(c, chunk), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe send = fx.sqes[0];
    cr_assert_eq(conn_fixture_send(c, chunk), 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 800);
    cr_assert_eq(conn_fixture_send(c, chunk), -ENOBUFS, "400 + 3 x 32 bytes of overhead: past 1024");
    cr_assert_eq(fx.overflows, 1, "the handler has its last word");
    cr_assert_eq(c->state, CONN_DRAIN);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_SLOW_CONSUMER), 1);
    cr_assert_eq(conn_fixture_gauge(&fx), 400, "only the bytes in flight are left");
    cr_assert_eq(c->q.bytes, 400);
    cr_assert_eq(conn_fixture_send(c, "x"), 0, "a drain still sends what fits");
    conn_fixture_complete(&fx, &send, 400, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 1);
    conn_fixture_flush(&fx);   /* the byte, then the half-close */
    struct io_uring_sqe last = fx.sqes[0];
    cr_assert_eq(last.len, 1);
    conn_fixture_complete(&fx, &last, 1, 0);
    conn_fixture_flush(&fx);
    cr_assert_not_null(conn_fixture_find(&fx, IORING_OP_SHUTDOWN));
    struct io_uring_sqe shut = *conn_fixture_find(&fx, IORING_OP_SHUTDOWN);
    conn_fixture_complete(&fx, &shut, 0, 0);
    conn_fixture_complete(&fx, &recv, 0, 0);
    conn_fixture_take(&fx);
    const struct io_uring_sqe *cl = conn_fixture_find(&fx, IORING_OP_CLOSE);
    cr_assert_not_null(cl);
    struct io_uring_sqe copy = *cl;
    conn_fixture_complete(&fx, &copy, 0, 0);
    cr_assert_eq(atomic_load(&fx.metrics.closed), 1);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    cr_assert_eq(fx.w.count_conns, 0);
}

Test(conn_limits, control_frames_pass_the_limit) {
    conn *c = conn_fixture_open(&fx);
    struct io_uring_sqe recv = recv_of();
    char big[1001];
    memset(big, 'b', 1000);
    big[1000] = '\0';
    cr_assert_eq(conn_fixture_send(c, big), 0, "one message over the limit still goes alone");
    cr_assert_eq(conn_fixture_send(c, "more"), -ENOBUFS);
    rbuf *close_frame = rbuf_from("\x88\x02\x03\xe8", 4);
    cr_assert_eq(conn_send_control(c, close_frame), 0);
    rbuf_unref(close_frame);
    cr_assert_eq(c->q.count, 1, "the backlog was dropped, the close frame queued");
    cr_assert_eq(conn_fixture_gauge(&fx), 4);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe send = fx.sqes[0];
    cr_assert_eq(send.len, 4);
    conn_fixture_complete(&fx, &send, 4, 0);
    conn_fixture_close(&fx, c, &recv);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    cr_assert_eq(fx.w.count_conns, 0);
}

/* The HTTP handler counts the class; the transport queues head and body. */
Test(conn_limits, a_response_counts_its_class_and_its_body_obeys_the_limit) {
    conn *c = conn_fixture_open(&fx);
    struct io_uring_sqe recv = recv_of();
    static const uint8_t body[600] = {0};
    rbuf *head = rbuf_from("HTTP/1.1 200 OK\r\n\r\n", 19);
    cr_assert_eq(http_conn_send_response(c, 200, head, body, 600), 0);
    cr_assert_eq(atomic_load(&fx.metrics.http_responses_by_class[2]), 1);
    cr_assert_eq(conn_fixture_gauge(&fx), 619);
    head = rbuf_from("HTTP/1.1 404 Not Found\r\n\r\n", 26);
    cr_assert_eq(http_conn_send_response(c, 404, head, body, 400), -ENOBUFS, "past 1024 with the overheads");
    cr_assert_eq(atomic_load(&fx.metrics.http_responses_by_class[4]), 1);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_SLOW_CONSUMER), 1);
    cr_assert_eq(c->state, CONN_DRAIN);
    cr_assert_eq(conn_fixture_gauge(&fx), 0, "nothing was in flight: all of it dropped");
    conn_fixture_flush(&fx);
    cr_assert_not_null(conn_fixture_find(&fx, IORING_OP_SHUTDOWN));
    struct io_uring_sqe shut = *conn_fixture_find(&fx, IORING_OP_SHUTDOWN);
    conn_fixture_complete(&fx, &shut, 0, 0);
    conn_fixture_close(&fx, c, &recv);
}

Test(conn_limits, large_sends_go_zero_copy_and_keep_their_bytes_until_the_notification) {
    if (!fx.w.zerocopy) cr_skip_test("no send_zc on this kernel");
    conn *c = conn_fixture_open(&fx);
    struct io_uring_sqe recv = recv_of();
    fx.cfg.max_send_queue_bytes = 65536;
    c->q.max_bytes = 65536;
    rbuf *b = rbuf_new(8192);
    cr_assert_not_null(b);
    memset(b->data, 'z', 8192);
    b->len = 8192;
    cr_assert_eq(conn_send(c, b, 0, 8192), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe zc = fx.sqes[0];
    cr_assert_eq(zc.opcode, IORING_OP_SENDMSG_ZC);
    cr_assert_eq(atomic_load(&fx.metrics.zerocopy_sends), 1);
    cr_assert_eq(atomic_load(&b->refs), 3, "ours, the queue's, the send's");
    conn_fixture_complete(&fx, &zc, 8192, IORING_CQE_F_MORE);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    cr_assert_eq(atomic_load(&b->refs), 2, "the queue let go; the send holds on");
    cr_assert_eq(c->ops, 2, "the notification is still to come");
    conn_fixture_complete(&fx, &zc, (int)0x80000000u, IORING_CQE_F_NOTIF);   /* the kernel copied */
    cr_assert_eq(atomic_load(&b->refs), 1);
    cr_assert_eq(c->ops, 1);
    cr_assert(c->zc_copies);
    cr_assert_eq(atomic_load(&fx.metrics.zerocopy_copied), 1);
    cr_assert_eq(conn_send(c, b, 0, 8192), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    cr_assert_eq(fx.sqes[0].opcode, IORING_OP_SEND, "a route that copies gets plain sends");
    struct io_uring_sqe plain = fx.sqes[0];
    conn_fixture_complete(&fx, &plain, 8192, 0);
    rbuf_unref(b);
    conn_fixture_close(&fx, c, &recv);
}

Test(conn_limits, a_refused_zero_copy_is_resent_plain) {
    if (!fx.w.zerocopy) cr_skip_test("no send_zc on this kernel");
    conn *c = conn_fixture_open(&fx);
    struct io_uring_sqe recv = recv_of();
    c->q.max_bytes = 65536;
    rbuf *b = rbuf_new(5000);
    cr_assert_not_null(b);
    memset(b->data, 'q', 5000);
    b->len = 5000;
    cr_assert_eq(conn_send(c, b, 0, 5000), 0);
    rbuf_unref(b);
    conn_fixture_flush(&fx);
    struct io_uring_sqe zc = fx.sqes[0];
    cr_assert_eq(zc.opcode, IORING_OP_SENDMSG_ZC);
    conn_fixture_complete(&fx, &zc, -EOPNOTSUPP, 0);
    cr_assert_not(fx.w.zerocopy, "plain sends from now on");
    cr_assert_eq(c->state, CONN_OPEN, "not an error of the connection");
    cr_assert_eq(conn_fixture_gauge(&fx), 5000);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    struct io_uring_sqe plain = fx.sqes[0];
    cr_assert_eq(plain.opcode, IORING_OP_SEND);
    cr_assert_eq(plain.len, 5000);
    conn_fixture_complete(&fx, &plain, 5000, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    conn_fixture_close(&fx, c, &recv);
}
