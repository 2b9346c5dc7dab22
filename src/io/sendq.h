/*
 * A connection's outbound queue: references to rbufs (offset + length), in
 * order, bounded in bytes. Every entry is charged SENDQ_ENTRY_OVERHEAD_BYTES on
 * top of its payload, so many tiny frames cannot grow memory past the limit
 * either. The head entries covered by a submitted send are "in flight" and
 * stay untouched until sendq_complete.
 */
#ifndef RINGPAD_SENDQ_H
#define RINGPAD_SENDQ_H

#include "base/bufpool.h"
#include "base/rbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define SENDQ_ENTRY_OVERHEAD_BYTES 32u
#define SENDQ_MAX_ENTRIES 8192u
#define SENDQ_INITIAL_ENTRIES 8u
/* A message larger than max_bytes is still queued while at most this much is. */
#define SENDQ_OVERSIZE_SLACK_BYTES (64u * 1024u)

typedef struct sendq_entry {
    rbuf *buf;                   /* owner of the bytes, NULL for memory that outlives the queue */
    const uint8_t *ptr;
    uint32_t len;
} sendq_entry;

typedef struct sendq {
    sendq_entry *ring;           /* NULL until the first push; freed when drained */
    uint32_t cap;                /* power of two */
    uint32_t head;
    uint32_t count;
    uint32_t inflight_entries;   /* head entries handed to the kernel */
    uint64_t inflight_bytes;
    uint64_t bytes;              /* payload bytes queued, in flight included */
    uint64_t charged_bytes;      /* bytes + overhead per entry, compared with max_bytes */
    uint64_t max_bytes;
    bufpool *ring_pool;          /* first rings (SENDQ_INITIAL_ENTRIES) come from here, or NULL */
    bool ring_pooled;            /* ring is a ring_pool block */
} sendq;

void sendq_init(sendq *q, uint64_t max_bytes);

/* Like sendq_init; the first ring of SENDQ_INITIAL_ENTRIES entries (the only
 * one most connections ever need) is taken from `ring_pool` (blocks of at
 * least SENDQ_POOL_BLOCK_BYTES) and given back when the queue drains, so a
 * connection sending a message per iteration does not malloc. */
void sendq_init_pooled(sendq *q, uint64_t max_bytes, bufpool *ring_pool);
#define SENDQ_POOL_BLOCK_BYTES (SENDQ_INITIAL_ENTRIES * sizeof(sendq_entry))

/* Appends [ptr, ptr+len), bytes inside `b` (a new reference is taken), or,
 * with b NULL, bytes that outlive every queue (the in-memory web root).
 * Returns 0, -ENOBUFS when the queue would pass max_bytes (or
 * SENDQ_MAX_ENTRIES), -ENOMEM. A single message larger than max_bytes is
 * accepted while no more than SENDQ_OVERSIZE_SLACK_BYTES are queued. */
int sendq_push(sendq *q, rbuf *b, const uint8_t *ptr, uint32_t len);

/* Like sendq_push, ignoring max_bytes (a close frame after a backlog was
 * dropped must still go out). */
int sendq_push_force(sendq *q, rbuf *b, const uint8_t *ptr, uint32_t len);

/* The owner of the i-th in-flight entry (NULL for static bytes). */
rbuf *sendq_inflight_owner(const sendq *q, uint32_t i);

/* True when entries wait that are not in flight. */
bool sendq_has_pending(const sendq *q);
bool sendq_in_flight(const sendq *q);

/* Fills up to max_iov iovecs with the entries after the in-flight ones and
 * marks them in flight (one send at a time: call only when !sendq_in_flight).
 * Returns the iovec count; *total_bytes their sum. */
size_t sendq_start(sendq *q, struct iovec *iov, size_t max_iov, uint64_t *total_bytes);

/* The in-flight send finished having sent `sent_bytes` (<= inflight_bytes):
 * releases fully sent entries, advances a partly sent one, clears in-flight. */
void sendq_complete(sendq *q, uint64_t sent_bytes);

/* Releases the entries that are not in flight (a stalled reader's backlog).
 * Returns the payload bytes dropped. */
uint64_t sendq_drop_pending(sendq *q);

/* Releases everything; only when no send is in flight. */
void sendq_free(sendq *q);

#endif /* RINGPAD_SENDQ_H */
