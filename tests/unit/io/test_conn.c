/* The transport without sockets (conn_fixture.h): what a connection asks
 * the ring for, and what it does with each completion: receives to the
 * handler, corked and partial sends, send failures, the close sequence,
 * deadlines, and the send-queue gauge through all of them. */
#include <criterion/criterion.h>

#include "conn_fixture.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

static conn_fixture fx;

static void setup(void) { conn_fixture_init(&fx, NULL); }
static void teardown(void) { conn_fixture_fini(&fx); }

TestSuite(conn, .init = setup, .fini = teardown, .timeout = 10);

/* The armed receive of a fresh connection. */
static struct io_uring_sqe open_conn(conn **out) {
    *out = conn_fixture_open(&fx);
    const struct io_uring_sqe *recv = conn_fixture_find(&fx, IORING_OP_RECV);
    cr_assert_not_null(recv);
    return *recv;
}

/* Flushes and returns the one send it prepared. */
static struct io_uring_sqe flush_one_send(void) {
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    cr_assert(fx.sqes[0].opcode == IORING_OP_SEND || fx.sqes[0].opcode == IORING_OP_SENDMSG, "opcode %u",
              fx.sqes[0].opcode);
    return fx.sqes[0];
}

/* The conn closed: the socket's close SQE completes, the conn goes back to the pool. */
static void finish_close(void) {
    conn_fixture_finish_close(&fx);
    cr_assert_eq(fx.w.conn_pool.blocks_out, 0);
}

Test(conn, open_arms_one_multishot_receive_on_provided_buffers) {
    cr_assert(fx.w.pbuf, "provided buffers on this kernel");
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(fx.count_sqes, 1);
    cr_assert_eq(recv.fd, c->fd);
    cr_assert(recv.flags & IOSQE_BUFFER_SELECT);
    cr_assert_eq(recv.buf_group, RING_BUF_GROUP);
    cr_assert(recv.ioprio & IORING_RECV_MULTISHOT);
    cr_assert_eq(completion_of(recv.user_data), &c->recv_done);
    cr_assert_eq(c->ops, 1);
    cr_assert(c->recv_armed);
    cr_assert_eq(c->state, CONN_OPEN);
    cr_assert_eq(c->list, &fx.w.input_list, "the handshake deadline runs");
    cr_assert_eq(fx.w.count_conns, 1);
    cr_assert_eq(atomic_load(&fx.shared.open_connections), 1);
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    conn_fixture_take(&fx);
    const struct io_uring_sqe *cancel = conn_fixture_find(&fx, IORING_OP_ASYNC_CANCEL);
    cr_assert_not_null(cancel, "the armed receive is cancelled");
    cr_assert_eq(cancel->fd, c->fd);
    cr_assert(cancel->cancel_flags & IORING_ASYNC_CANCEL_ALL);
    cr_assert_eq(cancel->user_data, 0, "its own CQE is ignored");
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(fx.closes, 1);
    cr_assert_eq(atomic_load(&fx.shared.open_connections), 0);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_SHUTDOWN), 1);
}

Test(conn, received_bytes_reach_the_handler_in_order) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_fixture_receive(&fx, c, &recv, "GET / HT", 8, true);
    conn_fixture_receive(&fx, c, &recv, "TP/1.1\r\n", 8, true);
    cr_assert_eq(fx.data_calls, 2);
    cr_assert_eq(fx.got_len, 16);
    cr_assert_eq(memcmp(fx.got, "GET / HTTP/1.1\r\n", 16), 0);
    cr_assert_eq(atomic_load(&fx.metrics.bytes_in), 16);
    cr_assert_eq(conn_fixture_take(&fx), 0, "a multishot with MORE stays armed");
    cr_assert_eq(fx.w.recv_out, 0, "each buffer went back to the kernel");
    cr_assert_eq(c->ops, 1);
    conn_fixture_close(&fx, c, &recv);
}

Test(conn, a_receive_that_ends_is_armed_again) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_fixture_receive(&fx, c, &recv, "abc", 3, false);
    cr_assert_eq(fx.got_len, 3);
    cr_assert_eq(conn_fixture_take(&fx), 1);
    cr_assert_eq(fx.sqes[0].opcode, IORING_OP_RECV);
    cr_assert_eq(completion_of(fx.sqes[0].user_data), &c->recv_done);
    cr_assert_eq(c->ops, 1, "the ended receive's op was released, the new one counted");
    conn_fixture_close(&fx, c, &recv);
}

Test(conn, no_buffers_is_counted_and_the_receive_rearmed) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_fixture_complete(&fx, &recv, -ENOBUFS, 0);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_NO_BUFFERS]), 1);
    cr_assert_eq(conn_fixture_take(&fx), 1);
    cr_assert_eq(fx.sqes[0].opcode, IORING_OP_RECV);
    cr_assert_eq(c->state, CONN_OPEN);
    cr_assert_eq(fx.data_calls, 0);
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    conn_fixture_complete(&fx, &fx.sqes[0], -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, without_provided_buffers_the_conn_receives_into_its_own_buffer) {
    fx.w.pbuf = false;
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_not_null(c->recv_buf);
    cr_assert_eq(recv.addr, (uint64_t)(uintptr_t)c->recv_buf);
    cr_assert_eq(recv.len, RING_PLAIN_RECV_BUF_BYTES);
    cr_assert_eq(recv.flags & IOSQE_BUFFER_SELECT, 0);
    conn_fixture_receive(&fx, c, &recv, "hello", 5, false);
    cr_assert_eq(fx.got_len, 5);
    cr_assert_eq(memcmp(fx.got, "hello", 5), 0);
    cr_assert_eq(conn_fixture_take(&fx), 1, "a plain receive is armed again");
    struct io_uring_sqe again = fx.sqes[0];
    cr_assert_eq(again.addr, recv.addr, "the same buffer");
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    conn_fixture_complete(&fx, &again, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(fx.w.recvbuf_pool.blocks_out, 0, "the buffer went back with the conn");
}

Test(conn, peer_eof_on_an_idle_http_conn_closes_it) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_fixture_complete(&fx, &recv, 0, 0);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_PEER_EOF), 1);
    cr_assert_eq(atomic_load(&fx.metrics.closed), 1);
    cr_assert_eq(fx.closes, 1);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, a_receive_error_is_counted_and_closes) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_fixture_complete(&fx, &recv, -ECONNRESET, 0);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_RECV]), 1);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_IO_ERROR), 1);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, a_handler_that_closes_mid_delivery_gets_no_rearm) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    fx.close_on_data = true;
    conn_fixture_receive(&fx, c, &recv, "x", 1, false);
    cr_assert_eq(fx.data_calls, 1);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_HTTP_ERROR), 1);
    conn_fixture_take(&fx);
    cr_assert_null(conn_fixture_find(&fx, IORING_OP_RECV), "closed: no new receive");
    finish_close();
}

Test(conn, sends_are_corked_until_the_flush_and_gathered) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "hello "), 0);
    cr_assert_eq(conn_fixture_send(c, "world"), 0);
    cr_assert_eq(conn_fixture_take(&fx), 0, "nothing goes out before the flush");
    cr_assert(c->dirty);
    cr_assert_eq(conn_fixture_gauge(&fx), 11);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(send.opcode, IORING_OP_SEND, "two small entries: joined into one buffer");
    cr_assert_eq(send.fd, c->fd);
    cr_assert_eq(send.msg_flags, MSG_NOSIGNAL);
    cr_assert_eq(send.len, 11);
    cr_assert_eq(memcmp((const char *)(uintptr_t)send.addr, "hello world", 11), 0);
    cr_assert_eq(atomic_load(&fx.metrics.sends), 1);
    cr_assert_eq(atomic_load(&fx.metrics.joined_sends), 1);
    cr_assert_eq(c->ops, 2);
    cr_assert_eq(conn_fixture_flush(&fx), 0, "one send in flight at a time");
    conn_fixture_complete(&fx, &send, 11, 0);
    cr_assert_eq(atomic_load(&fx.metrics.bytes_out), 11);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    cr_assert_eq(c->ops, 1);
    cr_assert_eq(conn_fixture_flush(&fx), 0, "nothing left");
    conn_fixture_close(&fx, c, &recv);
}

Test(conn, a_partial_send_sends_the_rest_next) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "0123456789"), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(send.opcode, IORING_OP_SEND, "one entry: a plain send");
    cr_assert_eq(send.len, 10);
    const char *start = (const char *)(uintptr_t)send.addr;
    conn_fixture_complete(&fx, &send, 4, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 6);
    cr_assert_eq(c->q.bytes, 6);
    struct io_uring_sqe rest = flush_one_send();
    cr_assert_eq(rest.len, 6);
    cr_assert_eq((const char *)(uintptr_t)rest.addr, start + 4);
    cr_assert_eq(memcmp((const char *)(uintptr_t)rest.addr, "456789", 6), 0);
    conn_fixture_complete(&fx, &rest, 6, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    cr_assert_eq(atomic_load(&fx.metrics.bytes_out), 10);
    cr_assert_eq(atomic_load(&fx.metrics.sends), 2);
    conn_fixture_close(&fx, c, &recv);
}

Test(conn, bytes_queued_during_a_send_wait_for_it) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "first"), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(conn_fixture_send(c, "second"), 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 11);
    cr_assert_eq(conn_fixture_flush(&fx), 0, "still in flight");
    conn_fixture_complete(&fx, &send, 5, 0);
    struct io_uring_sqe next = flush_one_send();
    cr_assert_eq(next.len, 6);
    cr_assert_eq(memcmp((const char *)(uintptr_t)next.addr, "second", 6), 0);
    conn_fixture_complete(&fx, &next, 6, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    conn_fixture_close(&fx, c, &recv);
}

/* The gauge counts a failed send's bytes out once, not twice. */
Test(conn, a_failed_send_closes_and_leaves_the_gauge_at_zero) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "lost"), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(conn_fixture_send(c, "behind"), 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 10);
    conn_fixture_complete(&fx, &send, -EPIPE, 0);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_SEND]), 1);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_IO_ERROR), 1);
    cr_assert_eq(c->state, CONN_DEAD);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    conn_fixture_take(&fx);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
}

/* Bytes in flight when the conn closes leave the gauge once their send completes. */
Test(conn, bytes_in_flight_at_a_close_leave_the_gauge) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "in flight"), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(conn_fixture_send(c, "pending"), 0);
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    cr_assert_eq(conn_fixture_gauge(&fx), 9, "the pending bytes are dropped at once");
    conn_fixture_take(&fx);
    conn_fixture_complete(&fx, &send, -ECANCELED, 0);
    cr_assert_eq(atomic_load(&fx.metrics.errors[METRICS_ERR_SEND]), 0, "a cancel is no send error");
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
}

Test(conn, a_partial_send_after_the_close_leaves_nothing_in_the_gauge) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "0123456789"), 0);
    struct io_uring_sqe send = flush_one_send();
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    conn_fixture_take(&fx);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    cr_assert_eq(conn_fixture_take(&fx), 0, "the send still names the conn");
    conn_fixture_complete(&fx, &send, 3, 0);
    cr_assert_eq(atomic_load(&fx.metrics.bytes_out), 3);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(conn_fixture_gauge(&fx), 0, "the unsent 7 bytes were freed with the queue");
}

Test(conn, close_after_flush_sends_then_half_closes_then_lingers) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "bye"), 0);
    conn_close_after_flush(c, METRICS_CLOSE_HTTP_DONE);
    cr_assert_eq(c->state, CONN_DRAIN);
    cr_assert_eq(c->list, &fx.w.closing_list);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_HTTP_DONE), 1, "counted when decided");
    conn_fixture_receive(&fx, c, &recv, "late", 4, true);
    cr_assert_eq(fx.data_calls, 0, "input while draining is discarded");
    struct io_uring_sqe send = flush_one_send();
    conn_fixture_complete(&fx, &send, 3, 0);
    cr_assert_eq(conn_fixture_flush(&fx), 1);
    cr_assert_eq(fx.sqes[0].opcode, IORING_OP_SHUTDOWN, "our FIN after the last byte");
    cr_assert_eq(fx.sqes[0].len, SHUT_WR);
    cr_assert_eq(completion_of(fx.sqes[0].user_data), &c->op_done);
    struct io_uring_sqe shut = fx.sqes[0];
    cr_assert_eq(c->state, CONN_LINGER);
    cr_assert_eq(c->ops, 2, "the receive and the shutdown");
    conn_fixture_complete(&fx, &shut, 0, 0);
    conn_fixture_complete(&fx, &recv, 0, 0);   /* the peer's FIN */
    cr_assert_eq(c->state, CONN_DEAD);
    cr_assert_eq(atomic_load(&fx.metrics.closed), 1, "one close, counted once");
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_PEER_EOF), 0);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(fx.closes, 1);
}

Test(conn, eof_with_a_response_queued_sends_it_first) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "response"), 0);
    conn_fixture_complete(&fx, &recv, 0, 0);
    cr_assert_eq(c->state, CONN_DRAIN);
    cr_assert(c->peer_eof);
    struct io_uring_sqe send = flush_one_send();
    conn_fixture_complete(&fx, &send, 8, 0);
    conn_fixture_flush(&fx);
    cr_assert_null(conn_fixture_find(&fx, IORING_OP_SHUTDOWN), "the peer closed already: no linger");
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_PEER_EOF), 1);
    finish_close();
}

Test(conn, a_conn_closed_while_dirty_is_freed_by_the_flush) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "x"), 0);
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    conn_fixture_take(&fx);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    const struct io_uring_sqe *cl = conn_fixture_find(&fx, IORING_OP_CLOSE);
    cr_assert_not_null(cl);
    struct io_uring_sqe copy = *cl;
    conn_fixture_complete(&fx, &copy, 0, 0);
    cr_assert_eq(fx.w.count_conns, 1, "still on the dirty list");
    cr_assert_eq(conn_fixture_flush(&fx), 0);
    cr_assert_eq(fx.w.count_conns, 0);
    cr_assert_eq(fx.w.conn_pool.blocks_out, 0);
}

Test(conn, shutdown_asks_the_handler) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_begin_shutdown(c);
    cr_assert_eq(fx.shutdowns, 1);
    conn_fixture_close(&fx, c, &recv);
}

Test(conn, an_idle_http_conn_meets_the_handshake_deadline) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    uint64_t t0 = fx.w.now_ms;
    conn_fixture_tick_at(&fx, t0 + fx.cfg.handshake_timeout_ms - 1);
    cr_assert_eq(c->state, CONN_OPEN);
    conn_fixture_tick_at(&fx, t0 + fx.cfg.handshake_timeout_ms);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_HANDSHAKE_TIMEOUT), 1);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, an_http_conn_still_sending_is_not_idle) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    uint64_t t0 = fx.w.now_ms;
    cr_assert_eq(conn_fixture_send(c, "big response"), 0);
    struct io_uring_sqe send = flush_one_send();
    conn_fixture_tick_at(&fx, t0 + fx.cfg.handshake_timeout_ms);
    cr_assert_eq(c->state, CONN_OPEN);
    cr_assert_eq(c->list_since_ms, t0 + fx.cfg.handshake_timeout_ms, "a fresh deadline");
    conn_fixture_complete(&fx, &send, 12, 0);
    conn_touch(c);
    conn_fixture_tick_at(&fx, t0 + 2 * fx.cfg.handshake_timeout_ms);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_HANDSHAKE_TIMEOUT), 1);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, a_silent_websocket_is_pinged_once_then_dropped) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_set_handler(c, &fx.live_handler);   /* what the upgrade does */
    cr_assert_eq(c->state, CONN_OPEN);
    cr_assert_eq(c->list, &fx.w.silence_list);
    uint64_t t0 = fx.w.now_ms;
    conn_fixture_tick_at(&fx, t0 + fx.cfg.ping_interval_ms - 1);
    cr_assert_eq(fx.silents, 0);
    conn_fixture_tick_at(&fx, t0 + fx.cfg.ping_interval_ms);
    cr_assert_eq(fx.silents, 1);
    conn_fixture_tick_at(&fx, t0 + fx.cfg.ping_interval_ms + 10);
    cr_assert_eq(fx.silents, 1, "one ping outstanding at a time");
    conn_fixture_tick_at(&fx, t0 + fx.cfg.idle_timeout_ms);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_IDLE), 1);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, a_word_from_the_peer_resets_the_silence) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_set_handler(c, &fx.live_handler);
    uint64_t t0 = fx.w.now_ms;
    conn_fixture_tick_at(&fx, t0 + fx.cfg.ping_interval_ms);
    cr_assert(fx.ping_outstanding);
    static uint8_t pong[] = {0x8a, 0x00};
    conn_on_plain_data(c, pong, sizeof pong);   /* the live handler hears the pong: it touches the conn */
    cr_assert_not(fx.ping_outstanding);
    cr_assert_eq(c->list_since_ms, t0 + fx.cfg.ping_interval_ms);
    conn_fixture_tick_at(&fx, t0 + fx.cfg.idle_timeout_ms);
    cr_assert_eq(c->state, CONN_OPEN, "heard from since");
    cr_assert_eq(c->list, &fx.w.silence_list);
    conn_fixture_close(&fx, c, &recv);
}

Test(conn, a_peer_that_never_answers_our_close_frame_meets_the_close_deadline) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_set_handler(c, &fx.live_handler);
    conn_set_closing(c);
    cr_assert_eq(c->state, CONN_CLOSING);
    cr_assert_eq(c->list, &fx.w.closing_list);
    uint64_t t0 = fx.w.now_ms;
    conn_fixture_tick_at(&fx, t0 + fx.cfg.close_timeout_ms - 1);
    cr_assert_eq(c->state, CONN_CLOSING);
    conn_fixture_tick_at(&fx, t0 + fx.cfg.close_timeout_ms);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_CLOSE_TIMEOUT), 1);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
}

Test(conn, a_drain_past_the_close_deadline_keeps_its_reason) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "never read"), 0);
    conn_close_after_flush(c, METRICS_CLOSE_HTTP_ERROR);
    struct io_uring_sqe send = flush_one_send();
    uint64_t t0 = fx.w.now_ms;
    conn_fixture_tick_at(&fx, t0 + fx.cfg.close_timeout_ms);
    cr_assert_eq(c->state, CONN_DEAD);
    cr_assert_eq(conn_fixture_closed(&fx, METRICS_CLOSE_HTTP_ERROR), 1);
    cr_assert_eq(atomic_load(&fx.metrics.closed), 1);
    conn_fixture_complete(&fx, &send, -ECANCELED, 0);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
}

Test(conn, sending_on_a_dead_conn_is_refused) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    conn_close(c, METRICS_CLOSE_SHUTDOWN);
    cr_assert_eq(conn_fixture_send(c, "x"), -EPIPE);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    conn_fixture_complete(&fx, &recv, -ECANCELED, 0);
    conn_fixture_take(&fx);
    finish_close();
}

/* A finished send with nothing behind it leaves the flush list: the next
 * flush goes in the order bytes were queued (the last given bytes first),
 * not in the order the previous sends finished. */
Test(conn, the_flush_order_follows_the_queueing_not_the_last_completions) {
    conn *a, *b;
    struct io_uring_sqe recv_a = open_conn(&a);
    struct io_uring_sqe recv_b = open_conn(&b);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(conn_fixture_send(a, "broadcast"), 0);
        cr_assert_eq(conn_fixture_send(b, "ack"), 0);
        cr_assert_eq(conn_fixture_flush(&fx), 2);
        cr_assert_eq(fx.sqes[0].fd, b->fd, "round %d: the last given bytes goes first", round);
        cr_assert_eq(fx.sqes[1].fd, a->fd, "round %d", round);
        struct io_uring_sqe first = fx.sqes[0], second = fx.sqes[1];
        /* the kernel finishes them in the order they were submitted */
        conn_fixture_complete(&fx, &first, 3, 0);
        conn_fixture_complete(&fx, &second, 9, 0);
        cr_assert(!a->dirty && !b->dirty, "round %d: nothing more to send", round);
        cr_assert_eq(fx.w.dirty, NULL);
    }
    cr_assert_eq(conn_fixture_flush(&fx), 0);
    conn_fixture_close(&fx, a, &recv_a);
    conn_fixture_close(&fx, b, &recv_b);
}

/* What a finished send still owes: the rest of a partial send, and bytes
 * queued while it was in flight, go out at the next flush. */
Test(conn, a_finished_send_with_bytes_behind_it_is_flushed_again) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    cr_assert_eq(conn_fixture_send(c, "first"), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(conn_fixture_send(c, "second"), 0);
    cr_assert_eq(conn_fixture_flush(&fx), 0, "in flight");
    cr_assert(!c->dirty);
    conn_fixture_complete(&fx, &send, 5, 0);
    cr_assert(c->dirty, "bytes were queued behind the send");
    struct io_uring_sqe next = flush_one_send();
    conn_fixture_complete(&fx, &next, 2, 0);
    cr_assert(c->dirty, "a partial send has a rest");
    struct io_uring_sqe rest = flush_one_send();
    cr_assert_eq(rest.len, 4);
    conn_fixture_complete(&fx, &rest, 4, 0);
    cr_assert(!c->dirty);
    conn_fixture_close(&fx, c, &recv);
}

/* Small frames queued together go out as one copied buffer; a partial send
 * of it resumes at the right byte, joined again from what is left. */
Test(conn, small_entries_are_joined_and_a_partial_join_resumes_at_its_byte) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    const char *frames[] = {"op:1;", "op:22;", "op:333;"};
    for (int i = 0; i < 3; i++) cr_assert_eq(conn_fixture_send(c, frames[i]), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(send.opcode, IORING_OP_SEND);
    cr_assert_eq(send.len, 18);
    cr_assert_eq(memcmp((const char *)(uintptr_t)send.addr, "op:1;op:22;op:333;", 18), 0);
    cr_assert_eq(c->ops, 2);
    conn_fixture_complete(&fx, &send, 8, 0);   /* "op:1;op:" */
    cr_assert_eq(conn_fixture_gauge(&fx), 10);
    struct io_uring_sqe rest = flush_one_send();
    cr_assert_eq(rest.opcode, IORING_OP_SEND);
    cr_assert_eq(rest.len, 10);
    cr_assert_eq(memcmp((const char *)(uintptr_t)rest.addr, "22;op:333;", 10), 0);
    conn_fixture_complete(&fx, &rest, 10, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    cr_assert_eq(atomic_load(&fx.metrics.joined_sends), 2);
    cr_assert_eq(atomic_load(&fx.metrics.bytes_out), 18);
    cr_assert_eq(c->ops, 1, "the joined buffer went with its send");
    conn_fixture_close(&fx, c, &recv);
}

/* Past RING_SEND_JOIN_MAX_BYTES the entries are gathered, not copied. */
Test(conn, entries_past_the_join_limit_are_gathered) {
    conn *c;
    struct io_uring_sqe recv = open_conn(&c);
    static char big[RING_SEND_JOIN_MAX_BYTES];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    cr_assert_eq(conn_fixture_send(c, big), 0);
    cr_assert_eq(conn_fixture_send(c, "tail"), 0);
    struct io_uring_sqe send = flush_one_send();
    cr_assert_eq(send.opcode, IORING_OP_SENDMSG);
    const struct msghdr *msg = (const struct msghdr *)(uintptr_t)send.addr;
    cr_assert_eq(msg->msg_iovlen, 2);
    cr_assert_eq(msg->msg_iov[0].iov_len, RING_SEND_JOIN_MAX_BYTES - 1);
    cr_assert_eq(memcmp(msg->msg_iov[1].iov_base, "tail", 4), 0);
    cr_assert_eq(atomic_load(&fx.metrics.joined_sends), 0);
    conn_fixture_complete(&fx, &send, RING_SEND_JOIN_MAX_BYTES + 3, 0);
    cr_assert_eq(conn_fixture_gauge(&fx), 0);
    conn_fixture_close(&fx, c, &recv);
}
