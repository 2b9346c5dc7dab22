#include "base/metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

const uint16_t metrics_close_codes[METRICS_CLOSE_CODES_TRACKED] = {1000, 1001, 1002, 1003, 1006, 1007,
                                                                   1008, 1009, 1010, 1011, 1012};
const uint32_t metrics_cqe_bucket_le[METRICS_CQE_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
const uint32_t metrics_ack_bucket_le_us[METRICS_ACK_BUCKETS] = {100,   250,    500,    1000,   2500,    5000,
                                                                10000, 25000, 50000, 100000, 250000, 1000000};

const uint32_t metrics_fsync_bucket_le_us[METRICS_FSYNC_BUCKETS] = {50,    100,   250,    500,    1000,   2500,
                                                                    5000, 10000, 25000, 100000, 250000, 1000000};
const uint32_t metrics_group_bucket_le[METRICS_GROUP_BUCKETS] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};

void metrics_count_redis_rtt(metrics_worker *m, uint64_t latency_us) {
    size_t b = 0;
    while (b < METRICS_FSYNC_BUCKETS && latency_us > metrics_fsync_bucket_le_us[b]) b++;
    metrics_add(&m->redis_rtt_us[b], 1);
    metrics_add(&m->redis_rtt_us_sum, latency_us);
}

void metrics_count_fsync(metrics_worker *m, uint64_t latency_us, uint64_t ops) {
    size_t b = 0;
    while (b < METRICS_FSYNC_BUCKETS && latency_us > metrics_fsync_bucket_le_us[b]) b++;
    metrics_add(&m->store_fsync_us[b], 1);
    metrics_add(&m->store_fsync_us_sum, latency_us);
    b = 0;
    while (b < METRICS_GROUP_BUCKETS && ops > metrics_group_bucket_le[b]) b++;
    metrics_add(&m->store_group_ops[b], 1);
    metrics_add(&m->store_group_ops_sum, ops);
}

void metrics_count_ack(metrics_worker *m, uint64_t latency_us) {
    size_t b = 0;
    while (b < METRICS_ACK_BUCKETS && latency_us > metrics_ack_bucket_le_us[b]) b++;
    metrics_add(&m->ack_latency_us[b], 1);
    metrics_add(&m->ack_latency_us_sum, latency_us);
    metrics_add(&m->ops_applied, 1);
}

static const char *const close_reason_names[METRICS_CLOSE_REASON_COUNT] = {
    [METRICS_CLOSE_PEER_EOF] = "peer_eof",
    [METRICS_CLOSE_HTTP_DONE] = "http_done",
    [METRICS_CLOSE_HTTP_ERROR] = "http_error",
    [METRICS_CLOSE_WS_CLOSED] = "ws_closed",
    [METRICS_CLOSE_WS_PROTOCOL] = "ws_protocol_error",
    [METRICS_CLOSE_IDLE] = "idle_timeout",
    [METRICS_CLOSE_HANDSHAKE_TIMEOUT] = "handshake_timeout",
    [METRICS_CLOSE_CLOSE_TIMEOUT] = "close_timeout",
    [METRICS_CLOSE_SLOW_CONSUMER] = "slow_consumer",
    [METRICS_CLOSE_RATE_LIMIT] = "rate_limit",
    [METRICS_CLOSE_LIMIT] = "connection_limit",
    [METRICS_CLOSE_SHUTDOWN] = "shutdown",
    [METRICS_CLOSE_IO_ERROR] = "io_error",
    [METRICS_CLOSE_TLS_ERROR] = "tls_error",
};

static const char *const error_kind_names[METRICS_ERR_KIND_COUNT] = {
    [METRICS_ERR_ACCEPT] = "accept",
    [METRICS_ERR_RECV] = "recv",
    [METRICS_ERR_SEND] = "send",
    [METRICS_ERR_HTTP_PARSE] = "http_parse",
    [METRICS_ERR_WS_PROTOCOL] = "ws_protocol",
    [METRICS_ERR_NO_BUFFERS] = "no_buffers",
    [METRICS_ERR_NO_MEMORY] = "no_memory",
    [METRICS_ERR_SQ_FULL] = "sq_full",
    [METRICS_ERR_MAILBOX] = "mailbox",
    [METRICS_ERR_TLS_HANDSHAKE] = "tls_handshake",
};

const char *metrics_close_reason_str(metrics_close_reason reason) {
    return (unsigned)reason < METRICS_CLOSE_REASON_COUNT ? close_reason_names[reason] : "unknown";
}

const char *metrics_error_kind_str(metrics_error_kind kind) {
    return (unsigned)kind < METRICS_ERR_KIND_COUNT ? error_kind_names[kind] : "unknown";
}

void metrics_count_close(metrics_worker *m, metrics_close_reason reason) {
    metrics_add(&m->closed, 1);
    if ((unsigned)reason < METRICS_CLOSE_REASON_COUNT) metrics_add(&m->closed_by_reason[reason], 1);
}

void metrics_count_ws_close(metrics_worker *m, uint16_t code, bool sent) {
    for (size_t i = 0; i < METRICS_CLOSE_CODES_TRACKED; i++) {
        if (metrics_close_codes[i] == code) {
            metrics_add(sent ? &m->ws_close_sent[i] : &m->ws_close_received[i], 1);
            return;
        }
    }
    size_t d = sent ? 0 : 1;
    if (code != 0) {
        for (size_t i = 0; i < METRICS_CLOSE_EXTRA_SLOTS; i++) {
            uint64_t have = atomic_load_explicit(&m->ws_close_extra_code[d][i], memory_order_relaxed);
            if (have == 0) {
                /* release: a reader that sees the code sees a valid count slot */
                atomic_store_explicit(&m->ws_close_extra_code[d][i], code, memory_order_release);
                have = code;
            }
            if (have == code) {
                metrics_add(&m->ws_close_extra_count[d][i], 1);
                return;
            }
        }
    }
    size_t other = METRICS_CLOSE_CODES_TRACKED;
    metrics_add(sent ? &m->ws_close_sent[other] : &m->ws_close_received[other], 1);
}

void metrics_count_iteration(metrics_worker *m, uint32_t cqes) {
    metrics_add(&m->loop_iterations, 1);
    metrics_add(&m->cqes, cqes);
    size_t b = 0;
    while (b < METRICS_CQE_BUCKETS && cqes > metrics_cqe_bucket_le[b]) b++;
    metrics_add(&m->cqes_per_iteration[b], 1);
}

typedef struct out {
    char *buf;
    size_t cap, len;
    bool overflow;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(out *o, const char *fmt, ...) {
    if (o->overflow) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len) { o->overflow = true; return; }
    o->len += (size_t)n;
}

/* Sum of one field across workers: `offset` is the field's byte offset. */
static uint64_t sum_at(const metrics_worker *w, size_t count, size_t offset) {
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        const metrics_counter *c = (const metrics_counter *)(const void *)((const char *)&w[i] + offset);
        total += atomic_load_explicit(c, memory_order_relaxed);
    }
    return total;
}

#define SUM(field) sum_at(workers, count, offsetof(metrics_worker, field))

/* A histogram from non-cumulative per-worker buckets; `scale` divides bounds and sum (1e6: us -> s). */
static void histogram(out *o, const metrics_worker *workers, size_t count, const char *name, const char *help,
                      size_t buckets_offset, size_t sum_offset, const uint32_t *le, size_t n, double scale) {
    put(o, "# HELP ringpad_%s %s\n# TYPE ringpad_%s histogram\n", name, help, name);
    uint64_t cumulative = 0;
    for (size_t b = 0; b < n; b++) {
        cumulative += sum_at(workers, count, buckets_offset + b * sizeof(metrics_counter));
        put(o, "ringpad_%s_bucket{le=\"%g\"} %" PRIu64 "\n", name, le[b] / scale, cumulative);
    }
    cumulative += sum_at(workers, count, buckets_offset + n * sizeof(metrics_counter));
    put(o, "ringpad_%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    uint64_t sum = sum_at(workers, count, sum_offset);
    if (scale == 1.0) put(o, "ringpad_%s_sum %" PRIu64 "\n", name, sum);
    else put(o, "ringpad_%s_sum %.6f\n", name, (double)sum / scale);
    put(o, "ringpad_%s_count %" PRIu64 "\n", name, cumulative);
}

static void scalar(out *o, const char *name, const char *type, const char *help, uint64_t v) {
    put(o, "# HELP ringpad_%s %s\n# TYPE ringpad_%s %s\nringpad_%s %" PRIu64 "\n", name, help, name, type, name, v);
}

/* ringpad_ws_close_frames_total: the tracked codes, "other", then the extra
 * codes each worker recorded, summed across workers. */
static void format_ws_close_frames(out *o, const metrics_worker *workers, size_t count) {
    static const char *const dir_names[2] = {"sent", "received"};
    put(o, "# HELP ringpad_ws_close_frames_total WebSocket close frames by direction and code.\n"
            "# TYPE ringpad_ws_close_frames_total counter\n");
    for (size_t d = 0; d < 2; d++) {
        for (size_t i = 0; i <= METRICS_CLOSE_CODES_TRACKED; i++) {
            uint64_t v = d == 0 ? SUM(ws_close_sent[i]) : SUM(ws_close_received[i]);
            if (i < METRICS_CLOSE_CODES_TRACKED)
                put(o, "ringpad_ws_close_frames_total{direction=\"%s\",code=\"%u\"} %" PRIu64 "\n", dir_names[d],
                    (unsigned)metrics_close_codes[i], v);
            else
                put(o, "ringpad_ws_close_frames_total{direction=\"%s\",code=\"other\"} %" PRIu64 "\n",
                    dir_names[d], v);
        }
    }
    for (size_t d = 0; d < 2; d++) {
        /* extra codes summed across workers; at most SLOTS * workers distinct */
        enum { distinct_max = 256 };
        uint16_t codes[distinct_max];
        uint64_t counts[distinct_max];
        size_t n = 0;
        for (size_t w = 0; w < count; w++) {
            for (size_t i = 0; i < METRICS_CLOSE_EXTRA_SLOTS; i++) {
                uint64_t code = atomic_load_explicit(&workers[w].ws_close_extra_code[d][i], memory_order_acquire);
                if (code == 0) break;
                uint64_t c = atomic_load_explicit(&workers[w].ws_close_extra_count[d][i], memory_order_relaxed);
                size_t k = 0;
                while (k < n && codes[k] != code) k++;
                if (k == n) {
                    if (n == distinct_max) continue;
                    codes[n] = (uint16_t)code;
                    counts[n++] = 0;
                }
                counts[k] += c;
            }
        }
        for (size_t k = 0; k < n; k++)
            put(o, "ringpad_ws_close_frames_total{direction=\"%s\",code=\"%u\"} %" PRIu64 "\n", dir_names[d],
                (unsigned)codes[k], counts[k]);
    }
}

/* Cluster mode's figures (shown only in cluster mode). */
static void format_cluster(out *o, const metrics_worker *workers, size_t count) {
    scalar(o, "cluster_owned_documents", "gauge", "Documents whose lease this node holds.", SUM(cluster_owned_docs));
    scalar(o, "cluster_followed_documents", "gauge", "Documents this node serves while another node owns them.",
           SUM(cluster_followed_docs));
    put(o, "# HELP ringpad_cluster_forwarded_ops_total Ops forwarded between nodes, by direction.\n"
           "# TYPE ringpad_cluster_forwarded_ops_total counter\n"
           "ringpad_cluster_forwarded_ops_total{direction=\"out\"} %" PRIu64 "\n"
           "ringpad_cluster_forwarded_ops_total{direction=\"in\"} %" PRIu64 "\n",
        SUM(cluster_forwarded[0]), SUM(cluster_forwarded[1]));
    scalar(o, "cluster_lease_takeovers_total", "counter", "Leases taken over after another node's ran out.",
           SUM(cluster_takeovers));
    scalar(o, "cluster_documents_lost_total", "counter", "Documents this node stopped owning (fenced or lease lost).",
           SUM(cluster_lost));
    uint64_t lag = 0;
    for (size_t i = 0; i < count; i++) {
        uint64_t v = atomic_load_explicit(&workers[i].cluster_stream_lag_ms, memory_order_relaxed);
        if (v > lag) lag = v;
    }
    scalar(o, "cluster_stream_lag_milliseconds", "gauge",
           "Age of the last op read from a followed log when it was read (largest over the workers).", lag);
    histogram(o, workers, count, "redis_rtt_seconds", "Redis commands: queued until their reply.",
              offsetof(metrics_worker, redis_rtt_us), offsetof(metrics_worker, redis_rtt_us_sum),
              metrics_fsync_bucket_le_us, METRICS_FSYNC_BUCKETS, 1e6);
}

int metrics_format(const metrics_worker *workers, size_t count, const metrics_process *proc, char *buf,
                   size_t cap) {
    if (cap == 0) return -ENOSPC;
    out o = {.buf = buf, .cap = cap};
    o.buf[0] = '\0';
    scalar(&o, "workers", "gauge", "Worker threads (one io_uring each).", proc->workers);
    scalar(&o, "shutting_down", "gauge", "1 while the server drains for shutdown.", proc->shutting_down);
    scalar(&o, "zerocopy_enabled", "gauge", "1 when sends may use IORING_OP_SEND_ZC.", proc->zerocopy_enabled);
    scalar(&o, "provided_buffers", "gauge", "1 when receives use a provided-buffer ring.", proc->provided_buffers);
    scalar(&o, "documents_memory_bytes", "gauge", "Bytes loaded documents hold: texts, histories, buffers.",
           proc->documents_memory_bytes);
    scalar(&o, "documents_memory_limit_bytes", "gauge",
           "What documents may hold together (half of --memory-budget); beyond it history is shed and idle "
           "documents unloaded.",
           proc->documents_memory_limit_bytes);
    uint64_t accepted = SUM(accepted), closed = SUM(closed);
    scalar(&o, "connections_open", "gauge", "Open TCP connections.", accepted - closed);
    scalar(&o, "connections_accepted_total", "counter", "Accepted TCP connections.", accepted);
    put(&o, "# HELP ringpad_connections_closed_total Closed TCP connections by reason.\n"
            "# TYPE ringpad_connections_closed_total counter\n");
    for (size_t r = 0; r < METRICS_CLOSE_REASON_COUNT; r++)
        put(&o, "ringpad_connections_closed_total{reason=\"%s\"} %" PRIu64 "\n", close_reason_names[r],
            SUM(closed_by_reason[r]));
    format_ws_close_frames(&o, workers, count);
    scalar(&o, "ws_upgrades_total", "counter", "Completed WebSocket upgrades.", SUM(ws_upgrades));
    scalar(&o, "http_requests_total", "counter", "Parsed HTTP requests.", SUM(http_requests));
    put(&o, "# HELP ringpad_http_responses_total HTTP responses by status class.\n"
            "# TYPE ringpad_http_responses_total counter\n");
    for (size_t c = 1; c <= 5; c++)
        put(&o, "ringpad_http_responses_total{class=\"%zuxx\"} %" PRIu64 "\n", c, SUM(http_responses_by_class[c]));
    scalar(&o, "ws_frames_in_total", "counter", "WebSocket frames received.", SUM(frames_in));
    scalar(&o, "ws_frames_out_total", "counter", "WebSocket frames sent.", SUM(frames_out));
    scalar(&o, "ws_messages_in_total", "counter", "WebSocket data messages received.", SUM(messages_in));
    scalar(&o, "ws_messages_out_total", "counter", "WebSocket data messages sent.", SUM(messages_out));
    scalar(&o, "bytes_in_total", "counter", "TCP bytes received.", SUM(bytes_in));
    scalar(&o, "bytes_out_total", "counter", "TCP bytes sent.", SUM(bytes_out));
    scalar(&o, "send_queue_bytes", "gauge", "Bytes queued for sending, all connections.", SUM(send_queue_bytes));
    put(&o, "# HELP ringpad_errors_total Errors by kind.\n# TYPE ringpad_errors_total counter\n");
    for (size_t k = 0; k < METRICS_ERR_KIND_COUNT; k++)
        put(&o, "ringpad_errors_total{kind=\"%s\"} %" PRIu64 "\n", error_kind_names[k], SUM(errors[k]));
    scalar(&o, "loop_iterations_total", "counter", "Completion loop iterations.", SUM(loop_iterations));
    put(&o, "# HELP ringpad_loop_cqes CQEs handled per loop iteration.\n# TYPE ringpad_loop_cqes histogram\n");
    uint64_t cumulative = 0;
    for (size_t b = 0; b < METRICS_CQE_BUCKETS; b++) {
        cumulative += SUM(cqes_per_iteration[b]);
        put(&o, "ringpad_loop_cqes_bucket{le=\"%u\"} %" PRIu64 "\n", metrics_cqe_bucket_le[b], cumulative);
    }
    cumulative += SUM(cqes_per_iteration[METRICS_CQE_BUCKETS]);
    put(&o, "ringpad_loop_cqes_bucket{le=\"+Inf\"} %" PRIu64 "\n", cumulative);
    put(&o, "ringpad_loop_cqes_sum %" PRIu64 "\nringpad_loop_cqes_count %" PRIu64 "\n", SUM(cqes), cumulative);
    scalar(&o, "sends_total", "counter", "Plain send SQEs.", SUM(sends));
    scalar(&o, "zerocopy_sends_total", "counter", "Zero-copy send SQEs (IORING_OP_SEND_ZC).", SUM(zerocopy_sends));
    scalar(&o, "joined_sends_total", "counter", "Plain sends of several queued frames copied into one buffer.",
           SUM(joined_sends));
    scalar(&o, "zerocopy_copied_total", "counter",
           "Zero-copy sends the kernel reported as copied (always so on loopback).", SUM(zerocopy_copied));
    scalar(&o, "mailbox_messages_total", "counter", "Messages received from other workers.", SUM(mailbox_received));
    scalar(&o, "ops_applied_total", "counter", "Ops applied, made durable and acknowledged.", SUM(ops_applied));
    put(&o, "# HELP ringpad_ack_latency_seconds Op submitted to its owner until its ack was sent.\n"
            "# TYPE ringpad_ack_latency_seconds histogram\n");
    cumulative = 0;
    for (size_t b = 0; b < METRICS_ACK_BUCKETS; b++) {
        cumulative += SUM(ack_latency_us[b]);
        put(&o, "ringpad_ack_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n", metrics_ack_bucket_le_us[b] / 1e6,
            cumulative);
    }
    cumulative += SUM(ack_latency_us[METRICS_ACK_BUCKETS]);
    put(&o, "ringpad_ack_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", cumulative);
    put(&o, "ringpad_ack_latency_seconds_sum %.6f\nringpad_ack_latency_seconds_count %" PRIu64 "\n",
        SUM(ack_latency_us_sum) / 1e6, cumulative);
    scalar(&o, "tls_handshakes_total", "counter", "Completed TLS handshakes.", SUM(tls_handshakes));
    scalar(&o, "tls_resumed_total", "counter", "TLS handshakes that resumed a session.", SUM(tls_resumed));
    scalar(&o, "store_append_bytes_total", "counter", "Bytes appended to document logs.", SUM(store_append_bytes));
    histogram(&o, workers, count, "store_fsync_seconds",
              "One group commit: log write and fdatasync submitted until the fdatasync completed.",
              offsetof(metrics_worker, store_fsync_us), offsetof(metrics_worker, store_fsync_us_sum),
              metrics_fsync_bucket_le_us, METRICS_FSYNC_BUCKETS, 1e6);
    histogram(&o, workers, count, "store_group_commit_ops", "Ops made durable by one fdatasync (group commit size).",
              offsetof(metrics_worker, store_group_ops), offsetof(metrics_worker, store_group_ops_sum),
              metrics_group_bucket_le, METRICS_GROUP_BUCKETS, 1.0);
    put(&o, "# HELP ringpad_store_compactions_total Compactions (a snapshot written, older log segments dropped) by result.\n"
            "# TYPE ringpad_store_compactions_total counter\n"
            "ringpad_store_compactions_total{result=\"done\"} %" PRIu64 "\n"
            "ringpad_store_compactions_total{result=\"failed\"} %" PRIu64 "\n",
        SUM(store_compactions[0]), SUM(store_compactions[1]));
    scalar(&o, "documents_loaded", "gauge", "Documents held in memory.", SUM(docs_loaded));
    scalar(&o, "document_subscribers", "gauge", "Open (session, document) subscriptions.", SUM(doc_subscribers));
    scalar(&o, "document_history_bytes", "gauge",
           "Bytes of op history kept in memory for late ops and reconnects (ops, inverses, ids, authors).",
           SUM(doc_history_bytes));
    if (SUM(cluster_enabled) > 0) format_cluster(&o, workers, count);
    if (o.overflow) return -ENOSPC;
    return (int)o.len;
}
