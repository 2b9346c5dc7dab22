#include "io/mailbox.h"

#include "io/ud.h"

#include <assert.h>
#include <errno.h>

void mailbox_msg_init(mailbox_msg *msg, uint32_t kind, uint32_t from_worker, mailbox_destroy_fn destroy) {
    atomic_init(&msg->refs, 1);
    msg->kind = kind;
    msg->from_worker = from_worker;
    msg->reserved = 0;
    msg->destroy = destroy;
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
    mailbox_msg_ref(msg);
    atomic_fetch_add_explicit(&t->inflight, 1, memory_order_relaxed);
    /* The target's CQE carries the pointer in user_data; res (len) is unused.
     * The sender's CQE carries the target in the high bits for the failure path. */
    io_uring_prep_msg_ring(sqe, t->ring_fd, 0, ud_pack(msg, UD_TAG_MAILBOX_IN), 0);
    io_uring_sqe_set_data64(sqe, ud_with_high(ud_pack(msg, UD_TAG_MAILBOX_SENT), (uint16_t)to));
    return 0;
}

mailbox_msg *mailbox_on_receive_cqe(mailbox_target *targets, uint32_t self, const struct io_uring_cqe *cqe) {
    atomic_fetch_sub_explicit(&targets[self].inflight, 1, memory_order_relaxed);
    return ud_get_ptr(cqe->user_data);
}

int mailbox_on_sent_cqe(mailbox_target *targets, const struct io_uring_cqe *cqe) {
    if (cqe->res < 0) {
        atomic_fetch_sub_explicit(&targets[ud_get_high(cqe->user_data)].inflight, 1, memory_order_relaxed);
        mailbox_msg_unref(ud_get_ptr(cqe->user_data));
    }
    return cqe->res;
}
