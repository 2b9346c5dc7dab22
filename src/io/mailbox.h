/*
 * Messages between worker rings. A message is immutable once posted and
 * reference-counted (atomically: the last holder may be on any thread).
 * Posting submits IORING_OP_MSG_RING on the sender's ring; the target ring gets
 * a CQE completing into the message's `delivered` record, which hands the
 * message to the worker's on_mail. The sender's own CQE (the `sent` record,
 * the target in the top bits) reports failure, in which case the reference
 * the target would have owned is dropped there (mailbox_on_sent_cqe).
 * Messages from one sender to one target arrive in posting order.
 */
#ifndef RINGPAD_MAILBOX_H
#define RINGPAD_MAILBOX_H

#include "io/completion.h"

#include <liburing.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Messages posted to one target and not yet received; beyond it mailbox_post
 * says -EAGAIN so a stalled worker cannot pile up unbounded memory. */
#define MAILBOX_MAX_INFLIGHT_PER_TARGET 65536u

typedef struct mailbox_msg mailbox_msg;
typedef void (*mailbox_destroy_fn)(mailbox_msg *msg);

/* Embed at the start of a message struct (creators cast back to their type). */
struct mailbox_msg {
    _Atomic uint32_t refs;
    uint32_t kind;               /* user-defined message type */
    uint32_t from_worker;        /* set by the creator */
    uint32_t reserved;
    mailbox_destroy_fn destroy;  /* called when the last reference goes */
    completion delivered;        /* the target's CQE */
    completion sent;             /* the sender's CQE */
};

/* One per worker, shared read-only (ring_fd) plus the atomic in-flight count. */
typedef struct mailbox_target {
    int ring_fd;
    _Atomic uint32_t inflight;
} mailbox_target;

/* refs = 1 (the creator's). A message may be posted to several targets. */
void mailbox_msg_init(mailbox_msg *msg, uint32_t kind, uint32_t from_worker, mailbox_destroy_fn destroy);
/* A zeroed message struct of `bytes` (its mailbox_msg first), 16-byte
 * aligned, initialised as above; NULL when memory is short. Free it through
 * its destroy. */
void *mailbox_msg_new(size_t bytes, uint32_t kind, uint32_t from_worker, mailbox_destroy_fn destroy);
void mailbox_msg_ref(mailbox_msg *msg);
void mailbox_msg_unref(mailbox_msg *msg);

/*
 * Queues an SQE on `from` that delivers `msg` to targets[to]. Takes a new
 * reference on behalf of the receiver and one for the post (until its own
 * CQE: mailbox_on_sent_cqe); the caller keeps its own. The SQE is
 * submitted with the sender's next submit. Returns 0, -EAGAIN (target has
 * MAILBOX_MAX_INFLIGHT_PER_TARGET pending) or -EBUSY (no free SQE).
 */
int mailbox_post(struct io_uring *from, mailbox_target *targets, uint32_t to, mailbox_msg *msg);

/* The target's side: the message of a delivery CQE. The receiver owns one
 * reference and must mailbox_msg_unref it when done. A worker's loop does
 * this itself (the message goes to w->on_mail); other rings call it. */
mailbox_msg *mailbox_on_receive_cqe(mailbox_target *targets, uint32_t self, const struct io_uring_cqe *cqe);

/* The sender's side of a post's CQE (every ring that posts must reap them):
 * drops the post's reference, and on failure (res < 0) the receiver's and
 * the in-flight count. Returns cqe->res. */
int mailbox_on_sent_cqe(mailbox_target *targets, const struct io_uring_cqe *cqe);

/* What a CQE on a ring that also posts or receives messages is. */
bool mailbox_cqe_is_delivery(const struct io_uring_cqe *cqe);
bool mailbox_cqe_is_sent(const struct io_uring_cqe *cqe);
/* The message a post's CQE (mailbox_cqe_is_sent) is about, and its target. */
const mailbox_msg *mailbox_sent_msg(const struct io_uring_cqe *cqe, uint32_t *to);

#endif /* RINGPAD_MAILBOX_H */
