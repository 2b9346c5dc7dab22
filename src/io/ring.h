/*
 * A worker: one thread, one io_uring, one SO_REUSEPORT listener, its own
 * connections, pools and counters. Everything here is touched by its own
 * thread only; other threads reach a worker through its mailbox or wake fd.
 */
#ifndef RINGPAD_RING_H
#define RINGPAD_RING_H

#include "base/bufpool.h"
#include "base/metrics.h"
#include "base/rbuf.h"
#include "io/completion.h"
#include "io/sendq.h"
#include "io/shared.h"

#include <liburing.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Provided-buffer ring: receive buffers shared by all connections of a worker
 * (~8 MiB). Each holds a 64 KiB message with its frame header, so a message
 * up to 64 KiB usually arrives in one completion and is delivered in place
 * (with 16 KiB buffers a 16 KiB message always straddled two and was copied
 * into the reassembly buffer). A buffer goes back to the kernel once nothing
 * references its bytes: a large echo is sent straight from it
 * (worker_lend_recv_bytes). */
#define RING_RECV_BUF_BYTES (65536u + 64u)
/* Each buffer is preceded by its rbuf header, in a cache line of its own. */
#define RING_RECV_SLOT_HEAD_BYTES 64u
#define RING_RECV_BUF_COUNT 128u          /* power of two */
/* The receive area is mapped aligned to (and a multiple of) this, so the
 * kernel can back it with transparent huge pages. */
#define RING_RECV_HUGE_PAGE_BYTES (2u * 1024u * 1024u)
/* Buffers kept in the kernel's ring at least. The ring is FIFO: a buffer
 * given back waits behind every buffer posted before it, so posting all of
 * them would cycle every receive through the whole area (8 MiB, far beyond
 * L2) and the kernel's receive copy would write cold memory each time.
 * Instead free buffers wait on a stack and the ring holds only about what
 * the receives between two reclaims take (see worker_reclaim_recv_buffers),
 * so the same few, recently touched buffers come round again. A wait runs
 * a bounded batch of receives (about 20 on Linux 6.13+). */
#define RING_RECV_POSTED_MIN 32u
/* Buffers lent to send queues at most; beyond, bytes are copied, so slow
 * readers cannot starve the receives of buffers. */
#define RING_RECV_LEND_MAX (RING_RECV_BUF_COUNT / 2u)
/* Per-connection buffer of the plain-recv fallback (no provided buffers). */
#define RING_PLAIN_RECV_BUF_BYTES 16384u
#define RING_BUF_GROUP 0
#define RING_SQ_ENTRIES 4096u
#define RING_CQ_ENTRIES 16384u
/* Largest gather per send (iovecs). */
#define RING_SEND_MAX_IOV 64u
/* Bytes a handler may hold per connection while its input is incomplete (a request head). */
#define RING_INBUF_BYTES 16384u
/* Pooled frame blocks: a 1 KiB echo or a typical op frame fits; larger
 * frames are malloc'd. Free blocks kept per worker (x 2 KiB). */
#define RING_FRAME_POOL_BLOCK_BYTES (2048u - 32u)
#define RING_FRAME_POOL_KEEP 1024u
/* A send of several queued entries up to this many bytes in all is copied
 * into one pooled frame block and sent as one buffer (conn.c). */
#define RING_SEND_JOIN_MAX_BYTES RING_FRAME_POOL_BLOCK_BYTES
/* Send-queue rings kept for reuse per worker (x 192 bytes). */
#define RING_SENDQ_RINGS_KEEP 4096u
/* Timer granularity bounds: the tick is a quarter of the shortest timeout. */
#define RING_TICK_MIN_MS 5u
#define RING_TICK_MAX_MS 250u

/* Hooks of each kind a worker runs (per iteration, per tick, at stop). */
#define RING_MAX_HOOKS 4u

struct conn;
struct worker;
struct mailbox_msg;

/* Work registered with the loop: run in registration order. */
typedef void (*worker_hook_fn)(struct worker *w);
typedef struct worker_hooks {
    worker_hook_fn fn[RING_MAX_HOOKS];
    uint32_t count;
} worker_hooks;

/* Where a worker's mailbox deliveries go (mailbox.c calls them). */
typedef void (*worker_mail_fn)(struct worker *w, struct mailbox_msg *msg);
typedef void (*worker_mail_failed_fn)(struct worker *w, const struct mailbox_msg *msg, uint32_t to);

/* An intrusive FIFO of connections ordered by the time they entered it. */
typedef struct conn_list {
    struct conn *head, *tail;
    uint32_t count;
} conn_list;

typedef struct worker {
    uint32_t id;
    server_shared *shared;
    const config *cfg;
    struct io_uring ring;
    int listen_fd;
    int wake_fd;                     /* eventfd: the main thread asks us to stop */
    uint64_t wake_value;
    completion wake_done;            /* the eventfd read */
    completion tick_done;            /* the timer */
    completion accept_done;          /* multishot accept (conn_loop.c) */
    pthread_t thread;
    int start_rc;                    /* ring setup result, read by server_start */

    /* receive buffers */
    bool pbuf;                       /* provided-buffer ring registered */
    struct io_uring_buf_ring *br;
    uint8_t *buf_base;               /* RING_RECV_BUF_COUNT slots: rbuf header, then the buffer */
    size_t br_bytes;
    rbuf_pool *recv_pool;            /* the slots as rbufs: back to the kernel on the last reference */
    uint32_t recv_out;               /* buffers taken by the kernel and not back (delivering or lent) */
    uint16_t recv_free[RING_RECV_BUF_COUNT]; /* bids neither posted nor out; the top was used last */
    uint32_t recv_free_count;
    uint32_t recv_posted_target;     /* buffers to keep in the kernel's ring */
    uint32_t recv_taken;             /* buffers the kernel filled since the last reclaim */
    uint32_t recv_short;             /* receives ended for want of a buffer since the last reclaim */
    rbuf *recv_delivering;           /* the buffer whose bytes are being delivered, or NULL */
    bool zerocopy;                   /* send_zc usable (until the kernel refuses) */

    bufpool conn_pool;               /* struct conn blocks */
    bufpool inbuf_pool;              /* handlers' partial inputs, e.g. a request head (RING_INBUF_BYTES) */
    bufpool recvbuf_pool;            /* plain-recv fallback buffers (RING_PLAIN_RECV_BUF_BYTES) */
    bufpool sendop_pool;             /* in-flight send descriptors */
    bufpool sendq_ring_pool;         /* first send-queue rings (sendq.h) */
    rbuf_pool *frame_pool;           /* outgoing frames up to RING_FRAME_POOL_BLOCK_BYTES */

    metrics_worker *m;
    uint64_t now_ms;                 /* CLOCK_MONOTONIC, refreshed once per iteration */
    uint32_t tick_ms;
    struct __kernel_timespec tick_ts;

    conn_list input_list;            /* CONN_WAIT_INPUT: waiting for a complete input (handshake deadline) */
    conn_list silence_list;          /* CONN_WAIT_SILENCE: long-lived, least recently heard first */
    conn_list closing_list;          /* goodbye said or TCP half-closed, close deadline */
    struct conn *dirty;              /* connections with bytes to flush this iteration */
    uint32_t count_conns;

    bool accepting;
    bool draining;
    uint64_t drain_deadline_ms;
    bool stopped;
    uint32_t cut_conns;              /* still open when the grace period ran out */
    void *app;                       /* the application on this worker, set by it (collab: session_worker_of) */

    worker_hooks before_sleep;       /* after each CQE batch, before waiting again */
    worker_hooks on_tick;            /* each timer tick */
    worker_hooks on_stop;            /* once, when the stop request arrives */
    worker_hooks on_exit;            /* once, on this thread, after the loop ends */
    worker_mail_fn on_mail;          /* a message delivered to this worker; NULL: dropped */
    worker_mail_failed_fn on_mail_failed;   /* a post from this worker failed; may be NULL */
} worker;

/* Sets up the ring, buffer ring and pools; called on the worker's thread.
 * Its users then register their hooks and completions, then worker_start. */
int worker_init(worker *w);

/* Registers fn at the end of `hooks`. -ENOSPC beyond RING_MAX_HOOKS. */
int worker_add_hook(worker_hooks *hooks, worker_hook_fn fn);

/* Arms the stop request and the timer, and submits what the users queued. */
int worker_start(worker *w);

/* The completion loop: each CQE goes to its completion record, then the
 * before_sleep hooks run. Returns once w->stopped (set by a user, or when
 * the grace period has run out), after the on_exit hooks. */
void worker_run(worker *w);

/* Runs one CQE's completion (user_data 0: nothing). */
void worker_dispatch(worker *w, const struct io_uring_cqe *cqe);

void worker_destroy(worker *w);

/* An SQE, submitting what is queued when the SQ is full; NULL only if the
 * kernel refuses to take SQEs at all (counted as METRICS_ERR_SQ_FULL). */
struct io_uring_sqe *worker_get_sqe(worker *w);

/* The provided buffer `bid` the kernel filled with `len` bytes: an rbuf
 * with one reference (the caller's), lendable until worker_recv_done. */
rbuf *worker_recv_begin(worker *w, uint16_t bid, uint32_t len);

/* The delivery of worker_recv_begin's buffer is over; drops the caller's
 * reference (the buffer stays out while it is lent). */
void worker_recv_done(worker *w, rbuf *slot);

/* A new reference to the receive buffer holding [ptr, ptr+len) while it is
 * being delivered, or NULL when the bytes are elsewhere (TLS plaintext, the
 * plain-recv fallback) or RING_RECV_LEND_MAX buffers are lent already. The
 * holder may rewrite the delivered bytes before ptr (a frame header in front
 * of a payload) within the rbuf's data. */
rbuf *worker_lend_recv_bytes(worker *w, const uint8_t *ptr, size_t len);

/* A receive ended with -ENOBUFS: counted, and the next reclaim posts more buffers. */
void worker_recv_no_buffers(worker *w);

/* Buffers in the kernel's ring as far as this thread knows (receives whose
 * completions are not seen yet still count). */
uint32_t worker_recv_posted(const worker *w);

/* Bytes of the receive area (all slots, rounded up to a huge page). */
size_t worker_recv_area_bytes(void);

/* Takes back the buffers whose last reference dropped (once per loop
 * iteration, before waiting), adapts the posted target to the receives
 * since the last call (twice as many, doubled after a shortage, decaying by
 * one per call; RING_RECV_POSTED_MIN..RING_RECV_BUF_COUNT) and tops the
 * kernel's ring up to it from the free stack, most recently used first.
 * Returns how many came back. */
uint32_t worker_reclaim_recv_buffers(worker *w);

#endif /* RINGPAD_RING_H */
