/*
 * A completion record: what an SQE's owner embeds so that the loop can hand
 * the CQE back without knowing the owner. The SQE's user_data is the
 * record's address; the loop calls record->fn, which finds its owner with
 * completion_owner (container_of). A record may serve several SQEs in flight
 * at once when its callback needs nothing but the owner (a connection's
 * close and shutdown). user_data 0 means "ignore the CQE" (cancels).
 *
 * The top 16 bits of user_data are free on x86-64 and arm64 user space: a
 * poster may carry a small number there (the mailbox: the target worker).
 */
#ifndef RINGPAD_COMPLETION_H
#define RINGPAD_COMPLETION_H

#include <assert.h>
#include <liburing.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
typedef struct completion completion;

/* w: the worker whose ring produced the CQE. */
typedef void (*completion_fn)(struct worker *w, completion *self, const struct io_uring_cqe *cqe);

struct completion {
    completion_fn fn;
};

#define COMPLETION_PTR_MASK 0x0000FFFFFFFFFFFFull

/* The owner of a record: `type` whose `member` is *self. */
#define completion_owner(self, type, member) ((type *)(void *)((char *)(self) - offsetof(type, member)))

static inline uint64_t completion_ud(completion *c, uint16_t high) {
    assert(c == NULL || c->fn != NULL);
    assert(((uintptr_t)c & ~COMPLETION_PTR_MASK) == 0);
    return (uint64_t)(uintptr_t)c | ((uint64_t)high << 48);
}

static inline completion *completion_of(uint64_t user_data) {
    return (completion *)(uintptr_t)(user_data & COMPLETION_PTR_MASK);
}

static inline uint16_t completion_high(uint64_t user_data) { return (uint16_t)(user_data >> 48); }

/* The SQE completes into c (NULL: its CQE is ignored). */
static inline void completion_set(struct io_uring_sqe *sqe, completion *c) {
    io_uring_sqe_set_data64(sqe, completion_ud(c, 0));
}

#endif /* RINGPAD_COMPLETION_H */
