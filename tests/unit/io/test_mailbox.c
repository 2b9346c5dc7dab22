#include <criterion/criterion.h>

#include "io/mailbox.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

enum { KIND_PING = 1, KIND_PONG = 2 };

typedef struct test_msg {
    mailbox_msg base;
    uint64_t seq;
} test_msg;

static _Atomic uint64_t destroyed;

static void test_msg_destroy(mailbox_msg *m) {
    atomic_fetch_add(&destroyed, 1);
    free(m);
}

static test_msg *test_msg_new(uint32_t kind, uint32_t from, uint64_t seq) {
    test_msg *m = mailbox_msg_new(sizeof *m, kind, from, test_msg_destroy);
    cr_assert_not_null(m);
    m->seq = seq;
    return m;
}

Test(mailbox, a_new_message_is_zeroed_aligned_and_owned_once) {
    uint64_t before = atomic_load(&destroyed);
    test_msg *m = mailbox_msg_new(sizeof *m, KIND_PONG, 3, test_msg_destroy);
    cr_assert_not_null(m);
    cr_assert_eq((uintptr_t)m % 16, 0);
    cr_assert_eq(m->seq, 0);
    cr_assert_eq(m->base.kind, KIND_PONG);
    cr_assert_eq(m->base.from_worker, 3);
    cr_assert_eq(atomic_load(&m->base.refs), 1);
    mailbox_msg_unref(&m->base);
    cr_assert_eq(atomic_load(&destroyed), before + 1);
}

typedef struct side {
    uint32_t self;
    mailbox_target *targets;
    pthread_barrier_t *ready;
    uint64_t count;
    bool burst;              /* sender posts everything at once instead of ping-pong */
    uint64_t received;       /* messages received in order */
    int failures;            /* out-of-order, wrong kind, post or sent errors */
} side;

/* Waits for one CQE that carries a message for us; handles sent-CQEs meanwhile. */
static test_msg *receive(struct io_uring *ring, side *s) {
    for (int spins = 0; spins < 1000000; spins++) {
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 5};
        int rc = io_uring_submit_and_wait_timeout(ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR) return NULL;
        if (rc == -ETIME) return NULL;
        if (io_uring_peek_cqe(ring, &cqe) != 0) continue;
        if (mailbox_cqe_is_sent(cqe)) {
            if (mailbox_on_sent_cqe(s->targets, cqe) < 0) s->failures++;
            io_uring_cqe_seen(ring, cqe);
            continue;
        }
        if (!mailbox_cqe_is_delivery(cqe)) { s->failures++; io_uring_cqe_seen(ring, cqe); continue; }
        test_msg *m = (test_msg *)mailbox_on_receive_cqe(s->targets, s->self, cqe);
        io_uring_cqe_seen(ring, cqe);
        return m;
    }
    return NULL;
}

static void *run_side(void *arg) {
    side *s = arg;
    struct io_uring ring;
    struct io_uring_params p = {.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN};
    int rc = io_uring_queue_init_params(256, &ring, &p);
    if (rc < 0) { s->failures++; pthread_barrier_wait(s->ready); return NULL; }
    s->targets[s->self].ring_fd = ring.ring_fd;
    pthread_barrier_wait(s->ready);
    uint32_t peer = 1 - s->self;
    if (s->self == 0) {
        /* the initiator */
        for (uint64_t i = 0; i < s->count; i++) {
            test_msg *m = test_msg_new(KIND_PING, 0, i);
            while ((rc = mailbox_post(&ring, s->targets, peer, &m->base)) == -EBUSY) io_uring_submit(&ring);
            if (rc != 0) s->failures++;
            mailbox_msg_unref(&m->base);
            io_uring_submit(&ring);
            if (!s->burst) {
                test_msg *reply = receive(&ring, s);
                if (reply == NULL) { s->failures++; break; }
                if (reply->base.kind != KIND_PONG || reply->seq != i || reply->base.from_worker != 1) s->failures++;
                else s->received++;
                mailbox_msg_unref(&reply->base);
            }
        }
        if (s->burst) {
            test_msg *done = receive(&ring, s);   /* the peer says when it saw everything */
            if (done == NULL || done->seq != s->count) s->failures++;
            if (done != NULL) mailbox_msg_unref(&done->base);
        }
        /* reap remaining sent-CQEs */
        struct io_uring_cqe *cqe;
        while (io_uring_peek_cqe(&ring, &cqe) == 0) {
            if (mailbox_cqe_is_sent(cqe) && mailbox_on_sent_cqe(s->targets, cqe) < 0)
                s->failures++;
            io_uring_cqe_seen(&ring, cqe);
        }
    } else {
        for (uint64_t i = 0; i < s->count; i++) {
            test_msg *m = receive(&ring, s);
            if (m == NULL) { s->failures++; break; }
            if (m->base.kind != KIND_PING || m->seq != i || m->base.from_worker != 0) s->failures++;
            else s->received++;
            mailbox_msg_unref(&m->base);
            if (!s->burst) {
                test_msg *r = test_msg_new(KIND_PONG, 1, i);
                if (mailbox_post(&ring, s->targets, peer, &r->base) != 0) s->failures++;
                mailbox_msg_unref(&r->base);
                io_uring_submit(&ring);
            }
        }
        if (s->burst) {
            test_msg *r = test_msg_new(KIND_PONG, 1, s->received);
            if (mailbox_post(&ring, s->targets, peer, &r->base) != 0) s->failures++;
            mailbox_msg_unref(&r->base);
            io_uring_submit(&ring);
        }
        /* wait for our sent-CQEs (the peer's ring is still open until the barrier) */
        struct io_uring_cqe *cqe;
        struct __kernel_timespec ts = {.tv_sec = 1};
        while (io_uring_wait_cqe_timeout(&ring, &cqe, &ts) == 0) {
            if (mailbox_cqe_is_sent(cqe) && mailbox_on_sent_cqe(s->targets, cqe) < 0)
                s->failures++;
            io_uring_cqe_seen(&ring, cqe);
            ts.tv_sec = 0;
            ts.tv_nsec = 1000000;
        }
    }
    pthread_barrier_wait(s->ready);
    io_uring_queue_exit(&ring);
    return NULL;
}

static void run_pair(uint64_t count, bool burst) {
    mailbox_target targets[2] = {{.ring_fd = -1}, {.ring_fd = -1}};
    pthread_barrier_t ready;
    pthread_barrier_init(&ready, NULL, 2);
    side sides[2] = {{.self = 0, .targets = targets, .ready = &ready, .count = count, .burst = burst},
                     {.self = 1, .targets = targets, .ready = &ready, .count = count, .burst = burst}};
    atomic_store(&destroyed, 0);
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, run_side, &sides[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&ready);
    cr_assert_eq(sides[0].failures, 0);
    cr_assert_eq(sides[1].failures, 0);
    cr_assert_eq(sides[1].received, count);
    if (!burst) cr_assert_eq(sides[0].received, count);
    cr_assert_eq(atomic_load(&destroyed), burst ? count + 1 : 2 * count, "every message freed once");
    cr_assert_eq(atomic_load(&targets[0].inflight), 0);
    cr_assert_eq(atomic_load(&targets[1].inflight), 0);
}

Test(mailbox, ping_pong_in_order) { run_pair(2000, false); }

Test(mailbox, burst_in_order) { run_pair(5000, true); }

Test(mailbox, bounded_inflight) {
    struct io_uring ring;
    cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
    mailbox_target targets[1] = {{.ring_fd = ring.ring_fd}};
    atomic_store(&targets[0].inflight, MAILBOX_MAX_INFLIGHT_PER_TARGET);
    atomic_store(&destroyed, 0);
    test_msg *m = test_msg_new(KIND_PING, 0, 0);
    cr_assert_eq(mailbox_post(&ring, targets, 0, &m->base), -EAGAIN);
    cr_assert_eq(atomic_load(&m->base.refs), 1, "no reference taken on failure");
    mailbox_msg_unref(&m->base);
    cr_assert_eq(atomic_load(&destroyed), 1);
    io_uring_queue_exit(&ring);
}

Test(mailbox, failed_delivery_drops_the_reference) {
    struct io_uring ring;
    cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
    /* a target fd that is not a ring: the kernel refuses the MSG_RING */
    mailbox_target targets[1] = {{.ring_fd = 0}};
    atomic_store(&destroyed, 0);
    test_msg *m = test_msg_new(KIND_PING, 0, 0);
    cr_assert_eq(mailbox_post(&ring, targets, 0, &m->base), 0);
    mailbox_msg_unref(&m->base);
    cr_assert_eq(atomic_load(&destroyed), 0, "receiver's reference still held");
    io_uring_submit(&ring);
    struct io_uring_cqe *cqe;
    cr_assert_eq(io_uring_wait_cqe(&ring, &cqe), 0);
    cr_assert(mailbox_cqe_is_sent(cqe));
    cr_assert_lt(mailbox_on_sent_cqe(targets, cqe), 0);
    io_uring_cqe_seen(&ring, cqe);
    cr_assert_eq(atomic_load(&destroyed), 1);
    cr_assert_eq(atomic_load(&targets[0].inflight), 0);
    io_uring_queue_exit(&ring);
}

/* The receiver may be done with a message before the sender reaps its own
 * CQE, which completes into the message: the post holds it until then. */
Test(mailbox, the_post_holds_the_message_until_the_senders_cqe) {
    struct io_uring ring;
    cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
    mailbox_target targets[1] = {{.ring_fd = ring.ring_fd}};   /* to ourselves */
    atomic_store(&destroyed, 0);
    test_msg *m = test_msg_new(KIND_PING, 0, 7);
    cr_assert_eq(mailbox_post(&ring, targets, 0, &m->base), 0);
    cr_assert_eq(atomic_load(&m->base.refs), 3, "creator, receiver, post");
    mailbox_msg_unref(&m->base);   /* the creator lets go */
    cr_assert_eq(io_uring_submit_and_wait(&ring, 2), 1);
    struct io_uring_cqe *cqes[2];
    cr_assert_eq(io_uring_peek_batch_cqe(&ring, cqes, 2), 2);
    struct io_uring_cqe *in = mailbox_cqe_is_delivery(cqes[0]) ? cqes[0] : cqes[1];
    struct io_uring_cqe *sent = in == cqes[0] ? cqes[1] : cqes[0];
    cr_assert(mailbox_cqe_is_sent(sent));
    mailbox_msg *got = mailbox_on_receive_cqe(targets, 0, in);
    cr_assert_eq(got, &m->base);
    mailbox_msg_unref(got);        /* the receiver is done first */
    cr_assert_eq(atomic_load(&destroyed), 0, "the post's reference keeps it");
    cr_assert_eq(atomic_load(&m->base.refs), 1);
    cr_assert_eq(mailbox_on_sent_cqe(targets, sent), 0);
    cr_assert_eq(atomic_load(&destroyed), 1, "freed with the sender's CQE");
    io_uring_cq_advance(&ring, 2);
    io_uring_queue_exit(&ring);
}
