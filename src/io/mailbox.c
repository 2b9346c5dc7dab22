#include "io/mailbox.h"

#include "io/ring.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void on_delivered(worker *w, completion *self, const struct io_uring_cqe *cqe);
static void on_sent(worker *w, completion *self, const struct io_uring_cqe *cqe);

void mailbox_msg_init(mailbox_msg *msg, uint32_t kind, uint32_t from_worker, mailbox_destroy_fn destroy) {
    atomic_init(&msg->refs, 1);
    msg->delivered.fn = on_delivered;
    msg->sent.fn = on_sent;
    msg->kind = kind;
    msg->from_worker = from_worker;
    msg->reserved = 0;
    msg->destroy = destroy;
}

void *mailbox_msg_new(size_t bytes, uint32_t kind, uint32_t from_worker, mailbox_destroy_fn destroy) {
    assert(bytes >= sizeof(mailbox_msg));
    /* aligned_alloc wants a multiple of the alignment */
    mailbox_msg *msg = aligned_alloc(16, (bytes + 15) & ~(size_t)15);
    if (msg == NULL) return NULL;
    memset(msg, 0, bytes);
    mailbox_msg_init(msg, kind, from_worker, destroy);
    return msg;
}

void mailbox_msg_ref(mailbox_msg *msg) { atomic_fetch_add_explicit(&msg->refs, 1, memory_order_relaxed); }

void mailbox_msg_unref(mailbox_msg *msg) {
    uint32_t before = atomic_fetch_sub_explicit(&msg->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before == 1 && msg->destroy != NULL) msg->destroy(msg);
}

int mailbox_post(struct io_uring *from, mailbox_target *targets, uint32_t to, mailbox_msg *msg) {
    assert(to <= UINT16_MAX);
    mailbox_target *t = &targets[to];
    if (atomic_load_explicit(&t->inflight, memory_order_relaxed) >= MAILBOX_MAX_INFLIGHT_PER_TARGET) return -EAGAIN;
    struct io_uring_sqe *sqe = io_uring_get_sqe(from);
    if (sqe == NULL) return -EBUSY;
    /* One reference for the receiver, one for the post itself: the sender's
     * CQE completes into msg->sent, so the message must outlive it even when
     * the receiver is done first (mailbox_on_sent_cqe drops it). */
    mailbox_msg_ref(msg);
    mailbox_msg_ref(msg);
    atomic_fetch_add_explicit(&t->inflight, 1, memory_order_relaxed);
    /* The target's CQE carries the pointer in user_data; res (len) is unused.
     * The sender's CQE carries the target in the high bits for the failure path. */
    assert(msg->delivered.fn == on_delivered && msg->sent.fn == on_sent);
    io_uring_prep_msg_ring(sqe, t->ring_fd, 0, completion_ud(&msg->delivered, 0), 0);
    io_uring_sqe_set_data64(sqe, completion_ud(&msg->sent, (uint16_t)to));
    return 0;
}

mailbox_msg *mailbox_on_receive_cqe(mailbox_target *targets, uint32_t self, const struct io_uring_cqe *cqe) {
    assert(mailbox_cqe_is_delivery(cqe));
    atomic_fetch_sub_explicit(&targets[self].inflight, 1, memory_order_relaxed);
    return completion_owner(completion_of(cqe->user_data), mailbox_msg, delivered);
}

int mailbox_on_sent_cqe(mailbox_target *targets, const struct io_uring_cqe *cqe) {
    assert(mailbox_cqe_is_sent(cqe));
    mailbox_msg *msg = completion_owner(completion_of(cqe->user_data), mailbox_msg, sent);
    if (cqe->res < 0) {
        atomic_fetch_sub_explicit(&targets[completion_high(cqe->user_data)].inflight, 1, memory_order_relaxed);
        mailbox_msg_unref(msg);   /* the receiver's */
    }
    mailbox_msg_unref(msg);       /* the post's */
    return cqe->res;
}

bool mailbox_cqe_is_delivery(const struct io_uring_cqe *cqe) {
    const completion *c = completion_of(cqe->user_data);
    return c != NULL && c->fn == on_delivered;
}

bool mailbox_cqe_is_sent(const struct io_uring_cqe *cqe) {
    const completion *c = completion_of(cqe->user_data);
    return c != NULL && c->fn == on_sent;
}

const mailbox_msg *mailbox_sent_msg(const struct io_uring_cqe *cqe, uint32_t *to) {
    assert(mailbox_cqe_is_sent(cqe));
    *to = completion_high(cqe->user_data);
    return completion_owner(completion_of(cqe->user_data), mailbox_msg, sent);
}

/* On a worker's ring: the message goes to its on_mail, then is released. */
static void on_delivered(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    mailbox_msg *msg = mailbox_on_receive_cqe(w->shared->targets, w->id, cqe);
    (void)self;
    assert(&msg->delivered == self);
    metrics_add(&w->m->mailbox_received, 1);
    if (w->on_mail != NULL) w->on_mail(w, msg);
    mailbox_msg_unref(msg);
}

static void on_sent(worker *w, completion *self, const struct io_uring_cqe *cqe) {
    (void)self;
    if (cqe->res < 0 && w->on_mail_failed != NULL) {
        uint32_t to;
        const mailbox_msg *msg = mailbox_sent_msg(cqe, &to);
        w->on_mail_failed(w, msg, to);
    }
    mailbox_on_sent_cqe(w->shared->targets, cqe);
}
