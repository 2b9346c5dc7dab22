#include "io/sendq.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>

void sendq_init(sendq *q, uint64_t max_bytes) {
    *q = (sendq){.max_bytes = max_bytes};
}

static sendq_entry *at(const sendq *q, uint32_t i) { return &q->ring[(q->head + i) & (q->cap - 1)]; }

void sendq_init_pooled(sendq *q, uint64_t max_bytes, bufpool *ring_pool) {
    assert(ring_pool == NULL || ring_pool->block_bytes >= SENDQ_POOL_BLOCK_BYTES);
    *q = (sendq){.max_bytes = max_bytes, .ring_pool = ring_pool};
}

static void free_ring(sendq *q) {
    if (q->ring_pooled) bufpool_put(q->ring_pool, q->ring);
    else free(q->ring);
    q->ring_pooled = false;
}

static int grow(sendq *q) {
    uint32_t cap = q->cap == 0 ? SENDQ_INITIAL_ENTRIES : q->cap * 2;
    if (cap > SENDQ_MAX_ENTRIES) return -ENOBUFS;
    sendq_entry *ring = cap == SENDQ_INITIAL_ENTRIES && q->ring_pool != NULL ? bufpool_get(q->ring_pool) : NULL;
    bool pooled = ring != NULL;
    if (ring == NULL) ring = malloc(cap * sizeof *ring);
    if (ring == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < q->count; i++) ring[i] = *at(q, i);
    if (q->ring != NULL) free_ring(q);
    q->ring = ring;
    q->ring_pooled = pooled;
    q->cap = cap;
    q->head = 0;
    return 0;
}

/* The limit bounds the backlog a stalled reader can build, not the size of one
 * reply: a message larger than the whole limit (a big document's snapshot) may
 * go out when little else is queued (at most SENDQ_OVERSIZE_SLACK_BYTES, or
 * max_bytes if smaller), so memory stays within one message plus that. */
static bool lone_oversize(const sendq *q, uint64_t charge) {
    uint64_t slack = q->max_bytes < SENDQ_OVERSIZE_SLACK_BYTES ? q->max_bytes : SENDQ_OVERSIZE_SLACK_BYTES;
    return charge > q->max_bytes && q->charged_bytes <= slack;
}

static int push(sendq *q, rbuf *b, const uint8_t *ptr, uint32_t len, bool force) {
    assert(b == NULL || (ptr >= b->data && ptr + len <= b->data + b->len));
    uint64_t charge = (uint64_t)len + SENDQ_ENTRY_OVERHEAD_BYTES;
    if (!force && q->charged_bytes + charge > q->max_bytes && !lone_oversize(q, charge)) return -ENOBUFS;
    if (q->count == q->cap) {
        int rc = grow(q);
        if (rc != 0) return rc;
    }
    if (b != NULL) rbuf_ref(b);
    *at(q, q->count) = (sendq_entry){.buf = b, .ptr = ptr, .len = len};
    q->count++;
    q->bytes += len;
    q->charged_bytes += charge;
    return 0;
}

int sendq_push(sendq *q, rbuf *b, const uint8_t *ptr, uint32_t len) { return push(q, b, ptr, len, false); }

int sendq_push_force(sendq *q, rbuf *b, const uint8_t *ptr, uint32_t len) { return push(q, b, ptr, len, true); }

rbuf *sendq_inflight_owner(const sendq *q, uint32_t i) {
    assert(i < q->inflight_entries);
    return at(q, i)->buf;
}

bool sendq_has_pending(const sendq *q) { return q->count > q->inflight_entries; }

bool sendq_in_flight(const sendq *q) { return q->inflight_entries > 0; }

size_t sendq_start(sendq *q, struct iovec *iov, size_t max_iov, uint64_t *total_bytes) {
    assert(q->inflight_entries == 0);
    size_t n = 0;
    uint64_t total = 0;
    while (n < max_iov && n < q->count) {
        sendq_entry *e = at(q, (uint32_t)n);
        iov[n].iov_base = (void *)e->ptr;
        iov[n].iov_len = e->len;
        total += e->len;
        n++;
    }
    q->inflight_entries = (uint32_t)n;
    q->inflight_bytes = total;
    *total_bytes = total;
    return n;
}

static void pop_head(sendq *q) {
    sendq_entry *e = at(q, 0);
    q->bytes -= e->len;
    q->charged_bytes -= (uint64_t)e->len + SENDQ_ENTRY_OVERHEAD_BYTES;
    rbuf_unref(e->buf);
    e->buf = NULL;
    q->head = (q->head + 1) & (q->cap - 1);
    q->count--;
}

static void release_ring_when_empty(sendq *q) {
    /* An idle connection keeps no queue memory. */
    if (q->count == 0 && q->ring != NULL) {
        free_ring(q);
        q->ring = NULL;
        q->cap = 0;
        q->head = 0;
    }
}

void sendq_complete(sendq *q, uint64_t sent_bytes) {
    assert(sent_bytes <= q->inflight_bytes);
    uint32_t done = q->inflight_entries;
    while (done > 0 && sent_bytes > 0) {
        sendq_entry *e = at(q, 0);
        if (sent_bytes >= e->len) {
            sent_bytes -= e->len;
            pop_head(q);
            done--;
        } else {
            e->ptr += sent_bytes;
            e->len -= (uint32_t)sent_bytes;
            q->bytes -= sent_bytes;
            q->charged_bytes -= sent_bytes;
            sent_bytes = 0;
        }
    }
    q->inflight_entries = 0;
    q->inflight_bytes = 0;
    release_ring_when_empty(q);
}

uint64_t sendq_drop_pending(sendq *q) {
    uint64_t dropped = 0;
    while (q->count > q->inflight_entries) {
        sendq_entry *e = at(q, q->count - 1);
        dropped += e->len;
        q->bytes -= e->len;
        q->charged_bytes -= (uint64_t)e->len + SENDQ_ENTRY_OVERHEAD_BYTES;
        rbuf_unref(e->buf);
        e->buf = NULL;
        q->count--;
    }
    release_ring_when_empty(q);
    return dropped;
}

void sendq_free(sendq *q) {
    assert(q->inflight_entries == 0);
    sendq_drop_pending(q);
    if (q->ring != NULL) free_ring(q);
    q->ring = NULL;
    q->cap = 0;
}
