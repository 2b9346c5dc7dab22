/*
 * Per-worker counters and their Prometheus text rendering.
 * Each worker owns one metrics_worker and is its only writer (relaxed
 * load + store, no locked instruction); /metrics, served by any worker,
 * reads every worker's block with relaxed loads and sums.
 */
#ifndef RINGPAD_METRICS_H
#define RINGPAD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef _Atomic uint64_t metrics_counter;

/* Why a connection ended (label reason="..."). */
typedef enum metrics_close_reason {
    METRICS_CLOSE_PEER_EOF,          /* peer closed TCP first */
    METRICS_CLOSE_HTTP_DONE,         /* Connection: close / HTTP/1.0 after the response */
    METRICS_CLOSE_HTTP_ERROR,        /* 4xx/5xx error response then close */
    METRICS_CLOSE_WS_CLOSED,         /* WebSocket close handshake completed */
    METRICS_CLOSE_WS_PROTOCOL,       /* we sent 1002/1007/1009 ... because of peer input */
    METRICS_CLOSE_IDLE,              /* silent past --idle-timeout-ms */
    METRICS_CLOSE_HANDSHAKE_TIMEOUT, /* no complete request within --handshake-timeout-ms */
    METRICS_CLOSE_CLOSE_TIMEOUT,     /* peer never answered our close frame */
    METRICS_CLOSE_SLOW_CONSUMER,     /* send queue over --max-send-queue-bytes */
    METRICS_CLOSE_RATE_LIMIT,        /* sustained abuse of --max-messages-per-sec */
    METRICS_CLOSE_LIMIT,             /* over a connection limit (503) */
    METRICS_CLOSE_SHUTDOWN,          /* server shutting down */
    METRICS_CLOSE_IO_ERROR,          /* recv/send failed */
    METRICS_CLOSE_TLS_ERROR,         /* TLS handshake or record failed, or not TLS at all */
    METRICS_CLOSE_REASON_COUNT,
} metrics_close_reason;

/* Error kinds (label kind="..."). */
typedef enum metrics_error_kind {
    METRICS_ERR_ACCEPT,
    METRICS_ERR_RECV,
    METRICS_ERR_SEND,
    METRICS_ERR_HTTP_PARSE,
    METRICS_ERR_WS_PROTOCOL,
    METRICS_ERR_NO_BUFFERS,   /* provided-buffer ring ran dry (-ENOBUFS) */
    METRICS_ERR_NO_MEMORY,
    METRICS_ERR_SQ_FULL,
    METRICS_ERR_MAILBOX,
    METRICS_ERR_TLS_HANDSHAKE,  /* failed TLS handshakes (plaintext to the TLS port included) */
    METRICS_ERR_KIND_COUNT,
} metrics_error_kind;

/* WebSocket close codes counted individually; everything else is "other". */
#define METRICS_CLOSE_CODES_TRACKED 11
extern const uint16_t metrics_close_codes[METRICS_CLOSE_CODES_TRACKED];

/* Other valid codes (1004-1015 leftovers, 3000-4999) get a labelled series of
 * their own in a small per-worker table; past it they count as "other". */
#define METRICS_CLOSE_EXTRA_SLOTS 32

/* Upper bounds of the CQEs-per-loop-iteration histogram; one more bucket is +Inf. */
#define METRICS_CQE_BUCKETS 10
extern const uint32_t metrics_cqe_bucket_le[METRICS_CQE_BUCKETS];

/* Upper bounds (microseconds) of the submit-to-ack latency histogram; one more is +Inf. */
#define METRICS_ACK_BUCKETS 12
extern const uint32_t metrics_ack_bucket_le_us[METRICS_ACK_BUCKETS];

/* Upper bounds (microseconds) of the store flush (write + fdatasync) histogram; one more is +Inf. */
#define METRICS_FSYNC_BUCKETS 12
extern const uint32_t metrics_fsync_bucket_le_us[METRICS_FSYNC_BUCKETS];

/* Upper bounds of the ops-made-durable-per-fsync histogram (group commit size); one more is +Inf. */
#define METRICS_GROUP_BUCKETS 11
extern const uint32_t metrics_group_bucket_le[METRICS_GROUP_BUCKETS];

typedef struct metrics_worker {
    metrics_counter accepted;
    metrics_counter closed;                      /* all reasons */
    metrics_counter closed_by_reason[METRICS_CLOSE_REASON_COUNT];
    metrics_counter ws_close_sent[METRICS_CLOSE_CODES_TRACKED + 1];     /* last = other */
    metrics_counter ws_close_received[METRICS_CLOSE_CODES_TRACKED + 1];
    /* [0] sent, [1] received: code 0 = free slot; the code is stored before its count */
    metrics_counter ws_close_extra_code[2][METRICS_CLOSE_EXTRA_SLOTS];
    metrics_counter ws_close_extra_count[2][METRICS_CLOSE_EXTRA_SLOTS];
    metrics_counter ws_upgrades;
    metrics_counter http_requests;
    metrics_counter http_responses_by_class[6];  /* index = status / 100 (1xx..5xx) */
    metrics_counter frames_in, frames_out;
    metrics_counter messages_in, messages_out;
    metrics_counter bytes_in, bytes_out;         /* TCP payload bytes */
    metrics_counter send_queue_bytes;            /* gauge: queued, not yet acknowledged by a CQE */
    metrics_counter errors[METRICS_ERR_KIND_COUNT];
    metrics_counter loop_iterations;
    metrics_counter cqes;                        /* sum over iterations */
    metrics_counter cqes_per_iteration[METRICS_CQE_BUCKETS + 1]; /* non-cumulative buckets */
    metrics_counter sends;                       /* send/sendmsg SQEs */
    metrics_counter zerocopy_sends;              /* send_zc SQEs */
    metrics_counter joined_sends;                /* sends of several entries copied into one buffer */
    metrics_counter zerocopy_copied;             /* notifications saying the kernel copied */
    metrics_counter mailbox_received;
    /* documents (owner side) */
    metrics_counter ops_applied;                 /* ops made durable and published */
    metrics_counter ack_latency_us[METRICS_ACK_BUCKETS + 1]; /* submit -> ack, non-cumulative */
    metrics_counter ack_latency_us_sum;
    metrics_counter tls_handshakes;              /* completed TLS handshakes */
    metrics_counter tls_resumed;                 /* of which resumed a session (ticket or cache) */
    /* storage (owner side) */
    metrics_counter store_append_bytes;          /* log bytes written */
    metrics_counter store_fsync_us[METRICS_FSYNC_BUCKETS + 1];  /* flush submitted -> fdatasync done */
    metrics_counter store_fsync_us_sum;
    metrics_counter store_group_ops[METRICS_GROUP_BUCKETS + 1]; /* ops made durable by one fsync */
    metrics_counter store_group_ops_sum;
    metrics_counter store_compactions[2];        /* [0] done, [1] failed: snapshot + old segments dropped */
    /* documents (gauges, refreshed every tick by the owner) */
    metrics_counter docs_loaded;
    metrics_counter doc_subscribers;
    metrics_counter doc_history_bytes;           /* ops, inverses, ids and authors kept for late ops */
    /* cluster mode (all zero without --redis; then none is shown) */
    metrics_counter cluster_enabled;             /* 1 on every worker in cluster mode */
    metrics_counter cluster_owned_docs;          /* gauge: documents this worker holds the lease of */
    metrics_counter cluster_followed_docs;       /* gauge: documents it follows (another node owns them) */
    metrics_counter cluster_forwarded[2];        /* [0] sent to owners, [1] received from other nodes */
    metrics_counter cluster_takeovers;           /* leases taken from a node whose lease ran out */
    metrics_counter cluster_lost;                /* documents this worker stopped owning (fenced, lease gone) */
    metrics_counter cluster_stream_lag_ms;       /* gauge: the last followed op's age when read */
    metrics_counter redis_rtt_us[METRICS_FSYNC_BUCKETS + 1]; /* command sent -> reply, non-cumulative */
    metrics_counter redis_rtt_us_sum;
} metrics_worker;

/* One Redis round trip (command queued until its reply). */
void metrics_count_redis_rtt(metrics_worker *m, uint64_t latency_us);

/* Records one op published `latency_us` after it was submitted to its owner. */
void metrics_count_ack(metrics_worker *m, uint64_t latency_us);


/* One completed group commit: `latency_us` from submit to fdatasync, `ops` made durable. */
void metrics_count_fsync(metrics_worker *m, uint64_t latency_us, uint64_t ops);

/* Single-writer increment: only the owning worker calls these. */
static inline void metrics_add(metrics_counter *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}
static inline void metrics_set(metrics_counter *c, uint64_t v) {
    atomic_store_explicit(c, v, memory_order_relaxed);
}
static inline void metrics_sub(metrics_counter *c, uint64_t n) {
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) - n, memory_order_relaxed);
}

void metrics_count_close(metrics_worker *m, metrics_close_reason reason);
void metrics_count_ws_close(metrics_worker *m, uint16_t code, bool sent);
void metrics_count_iteration(metrics_worker *m, uint32_t cqes);

const char *metrics_close_reason_str(metrics_close_reason reason);
const char *metrics_error_kind_str(metrics_error_kind kind);

/* Process-level facts rendered alongside the counters. */
typedef struct metrics_process {
    uint32_t workers;
    bool shutting_down;
    bool zerocopy_enabled;
    bool provided_buffers;   /* multishot recv with a provided-buffer ring is in use */
    uint64_t documents_memory_bytes;  /* what loaded documents hold (membudget_used) */
    uint64_t documents_memory_limit_bytes; /* their share of --memory-budget */
} metrics_process;

/*
 * Renders the sum of `workers[0..count)` as Prometheus text (version 0.0.4).
 * Returns the length written (< cap, NUL-terminated) or -ENOSPC when `cap`
 * is too small; METRICS_TEXT_MAX_BYTES is always enough.
 */
#define METRICS_TEXT_MAX_BYTES 49152
int metrics_format(const metrics_worker *workers, size_t count, const metrics_process *proc, char *buf,
                   size_t cap);

#endif /* RINGPAD_METRICS_H */
