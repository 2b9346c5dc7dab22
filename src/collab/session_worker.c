/* The session layer's side of a worker: setup, and what it registers with
 * the loop (its mail, its logs' completions, the before-sleep flush, the
 * timer, the exit drain). The protocol state machine itself is session.c. */
#include "collab/session.h"
#include "base/clock.h"

#include "base/log.h"
#include "cluster/cluster.h"
#include "io/ring.h"
#include "proto/docname.h"
#include "store/store.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Shutdown: wait this long for log writes in flight. */
#define SESSION_DRAIN_WAIT_MS 2000

typedef struct scan_ctx {
    nameset *ns;
    nameset_add_fn add;
} scan_ctx;

static int add_listed(void *arg, const char *name, size_t len) {
    scan_ctx *c = arg;
    return c->add(c->ns, name, len);
}

static int scan_data_dir(void *ctx, nameset *ns, nameset_add_fn add) {
    const session_worker *sw = ctx;
    int dfd = open(sw->cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return errno == ENOENT ? 0 : -errno;   /* created at the first document */
    scan_ctx c = {.ns = ns, .add = add};
    int rc = store_list(dfd, add_listed, &c);
    close(dfd);
    return rc;
}

session_worker *session_worker_of(const worker *w) { return w->app; }

int session_worker_fill_names(session_worker *sw) { return nameset_fill_once(sw->names, scan_data_dir, sw); }

/* A post of this worker failed: it dooms its receivers (or its requester);
 * the mailbox then drops the receiver's reference. */
static void on_mail_failed(worker *w, const mailbox_msg *msg, uint32_t to) {
    session_worker *sw = session_worker_of(w);
    metrics_add(&w->m->errors[METRICS_ERR_MAILBOX], 1);
    if (sw != NULL && !fanout_on_post_failed(&sw->out, to, msg) && msg->kind == DOCS_MSG_REQUEST) {
        uint64_t key = ((const docs_request *)msg)->key;
        /* a REST waiter would wait forever: answer it too */
        session_kill(sw, key);
    }
}

/* A missing data dir is created at the first document load. */
static int open_data_dir(const char *path) {
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT) return -1;
    return fd < 0 ? -errno : fd;
}

/* Cluster mode: this worker's Redis connection (its first attempt is at the first tick). */
static int start_cluster(session_worker *sw) {
    const config *cfg = sw->cfg;
    char host[CONFIG_HOST_MAX_BYTES], node[CONFIG_HOST_MAX_BYTES];
    uint32_t port = 0, db = 0;
    if (config_redis_parse(cfg->redis, host, sizeof host, &port, &db) != 0) return -EINVAL;
    if (cfg->node_id[0] != '\0') snprintf(node, sizeof node, "%s", cfg->node_id);
    else snprintf(node, sizeof node, "%s:%u", cfg->host, cfg->port);
    cluster_config cc = {
        .host = host, .port = port, .db = db, .node_id = node, .prefix = cfg->cluster_prefix, .lease_ms = cfg->lease_ms,
        .worker = sw->self,
    };
    int rc = cluster_new(&cc, sw->w, &sw->cluster);
    if (rc != 0) log_error("--redis %s: %s", cfg->redis, strerror(-rc));
    return rc;
}

/* The timer's cluster work, and /healthz's view of this worker's Redis (down
 * from the first tick until the first connection, so a node that never
 * reached Redis says so). */
static void cluster_health(session_worker *sw, worker *w) {
    cluster_tick(sw->cluster, w->now_ms);
    bool down = !cluster_up(sw->cluster);
    if (down == sw->redis_down) return;
    sw->redis_down = down;
    if (down) atomic_fetch_add(&w->shared->redis_down, 1);
    else atomic_fetch_sub(&w->shared->redis_down, 1);
}

static void on_mail(worker *w, mailbox_msg *msg);
static void on_store_cqe(worker *w, store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe);
static void flush(worker *w);
static void tick(worker *w);
static void destroy(worker *w);

int session_worker_init(worker *w) { return session_worker_init_with(w, true); }

int session_worker_init_with(worker *w, bool disk_thread) {
    const config *cfg = w->cfg;
    session_worker *sw = calloc(1, sizeof *sw);
    if (sw == NULL) return -ENOMEM;
    sw->w = w;
    sw->cfg = cfg;
    sw->self = w->id;
    sw->count_workers = w->shared->count_workers;
    sw->free_head = UINT32_MAX;
    proto_msg_init(&sw->msg);
    ot_buf_init(&sw->enc);
    sw->limits = proto_limits_default();
    sw->limits.ot.max_doc_codepoints = cfg->max_doc_codepoints;
    sw->limits.ot.max_op_bytes = (uint32_t)cfg->max_op_bytes;
    sw->limits.ot.max_op_components = cfg->max_op_components;
    sw->limits.ot.history_depth = cfg->history_depth;
    sw->limits.max_message_bytes = (size_t)cfg->max_message_bytes;
    sw->limits.max_doc_name_bytes = cfg->max_doc_name_bytes < DOCNAME_MAX_BYTES ? cfg->max_doc_name_bytes
                                                                                : DOCNAME_MAX_BYTES;
    const char *flag = cfg->auth_secret_file[0] != '\0' ? NULL : (cfg->auth_secret[0] != '\0' ? cfg->auth_secret : NULL);
    const char *file = cfg->auth_secret_file[0] != '\0' ? cfg->auth_secret_file : NULL;
    int rc = auth_secret_resolve(&sw->secret, &sw->auth_on, flag, file, NULL);
    if (rc != AUTH_OK) {
        log_error("auth secret: %s", auth_err_str(rc));
        free(sw);
        return -EINVAL;
    }
    int dfd = open_data_dir(cfg->data_dir);
    if (dfd < -1) {
        log_error("--data-dir %s: %s", cfg->data_dir, strerror(-dfd));
        free(sw);
        return dfd;
    }
    docs_config dc = {
        .data_dir_fd = dfd,
        .data_dir_path = cfg->data_dir,
        .limits = sw->limits.ot,
        .history_depth = cfg->history_depth,
        .history_memory_bytes = (size_t)cfg->history_memory_bytes,
        .budget = &w->shared->memory,
        .log = store_log_config_default(),
        .idle_ms = cfg->doc_idle_ms,
        .degraded = &w->shared->degraded_docs,
        .metrics = w->m,
        .store_faults = cfg->store_faults,
    };
    dc.limits.history_depth = cfg->history_depth + DOC_MAX_UNPUBLISHED_OPS;
    dc.disk_thread = disk_thread;
    dc.targets = w->shared->targets;
    dc.self = w->id;
    dc.store_cqe = on_store_cqe;
    dc.log.fsync_policy = strcmp(cfg->fsync, "interval") == 0 ? STORE_FSYNC_INTERVAL : STORE_FSYNC_ALWAYS;
    dc.log.fsync_interval_ms = cfg->fsync_interval_ms;
    dc.names = &w->shared->doc_names;
    dc.checkpoint_ops = cfg->checkpoint_ops;
    dc.checkpoint_bytes = cfg->checkpoint_bytes;
    dc.retention = (store_retention){
        .keep = cfg->retention_ops != 0       ? STORE_KEEP_OPS
                : cfg->retention_age_ms != 0 ? STORE_KEEP_AGE
                                             : STORE_KEEP_ALL,
        .ops = cfg->retention_ops,
        .age_ms = (int64_t)cfg->retention_age_ms,
    };
    dc.store_faults = cfg->store_faults;
    dc.hooks = w->shared->webhooks;
    sw->names = dc.names;
    if (cfg->redis[0] != '\0') {
        rc = start_cluster(sw);
        if (rc != 0) {
            if (dfd >= 0) close(dfd);
            free(sw);
            return rc;
        }
        dc.cluster = sw->cluster;
        dc.cluster_out = &sw->out;
    }
    if (session_worker_fill_names(sw) != 0)
        log_warn("--data-dir %s: cannot be listed yet; retried by the first listing", cfg->data_dir);
    rc = docs_new(&dc, &sw->docs);
    if (rc == 0) rc = session_worker_init_fanout(sw, &w->ring, w->shared->targets);
    sw->out.frame_pool = w->frame_pool;
    if (rc != 0) {
        if (sw->docs != NULL) docs_free(sw->docs, 0);
        else if (dfd >= 0) close(dfd);
        if (sw->cluster != NULL) cluster_free(sw->cluster);
        free(sw);
        return rc;
    }
    w->app = sw;
    w->on_mail = on_mail;
    w->on_mail_failed = on_mail_failed;
    rc = worker_add_hook(&w->before_sleep, flush);
    if (rc == 0) rc = worker_add_hook(&w->on_tick, tick);
    if (rc == 0) rc = worker_add_hook(&w->on_exit, destroy);
    return rc;
}

static void on_mail(worker *w, mailbox_msg *msg) {
    session_worker *sw = session_worker_of(w);
    if (sw == NULL) return;
    switch (msg->kind) {
    case DOCS_MSG_REQUEST: docs_execute(sw->docs, (const docs_request *)msg, &sw->out, (int64_t)w->now_ms); break;
    case FANOUT_MSG_DELIVER:
    case FANOUT_MSG_DROP:
    case FANOUT_MSG_KILL: fanout_on_message(&sw->out, (const fanout_deliver *)msg); break;
    case DOCS_MSG_DISK_DONE: docs_on_disk_done(sw->docs, (docs_job *)msg, &sw->out, (int64_t)w->now_ms); break;
    default: break;
    }
}

static void on_store_cqe(worker *w, store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe) {
    session_worker *sw = session_worker_of(w);
    assert(sw != NULL);
    docs_on_store_cqe(sw->docs, io, cqe, fsync_cqe, &sw->out, (int64_t)w->now_ms);
}

static void flush(worker *w) {
    session_worker *sw = session_worker_of(w);
    if (sw == NULL) return;
    session_worker_run_local(sw, (int64_t)w->now_ms);
    docs_flush(sw->docs, w, &sw->out, (int64_t)w->now_ms);
    fanout_flush(&sw->out);
    if (sw->out.count_post_failures > 0 || sw->out.count_killed > 0) {
        /* the receivers were (or will be) closed with 1011: never a silent gap, but loud */
        log_warn("worker %u: %llu cross-worker messages lost (no memory), %llu sessions killed for a lost frame",
                 w->id, (unsigned long long)sw->out.count_post_failures, (unsigned long long)sw->out.count_killed);
        metrics_add(&w->m->errors[METRICS_ERR_MAILBOX], sw->out.count_post_failures + sw->out.count_killed);
        sw->out.count_post_failures = 0;
        sw->out.count_killed = 0;
    }
}

static void tick(worker *w) {
    session_worker *sw = session_worker_of(w);
    if (sw == NULL) return;
    if (sw->cluster != NULL) cluster_health(sw, w);
    docs_tick(sw->docs, w, &sw->out, (int64_t)w->now_ms);
    fanout_flush(&sw->out);
}

/* The Redis socket is shut down; its SQEs complete here (bounded in time). */
static void stop_cluster(worker *w, cluster *c) {
    cluster_stop(c);
    io_uring_submit(&w->ring);
    uint64_t deadline = clock_mono_ms() + 500;
    while (!cluster_idle(c) && clock_mono_ms() < deadline) {
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        if (io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts) != 0 || cqe == NULL) continue;
        if (redis_cqe_is_mine(cqe)) worker_dispatch(w, cqe);
        io_uring_cqe_seen(&w->ring, cqe);
    }
}

static void destroy(worker *w) {
    session_worker *sw = session_worker_of(w);
    if (sw == NULL) return;
    /* Log writes still in flight complete on this ring: wait for them (bounded
     * in time), then write what is pending synchronously. */
    uint64_t deadline = clock_mono_ms() + SESSION_DRAIN_WAIT_MS;
    /* the helper's last posts land on this ring before the drain below;
     * from now on mail is only released */
    docs_stop_disk(sw->docs);
    w->on_mail = NULL;
    w->on_mail_failed = NULL;
    while (sw->local_head != NULL) {
        docs_request *r = sw->local_head;
        sw->local_head = r->next;
        docs_execute(sw->docs, r, &sw->out, (int64_t)clock_mono_ms());
        mailbox_msg_unref(&r->hdr);
    }
    sw->local_tail = NULL;
    /* the leases go back now, so another node need not wait for them to run out */
    if (sw->cluster != NULL) cluster_release_all(sw->cluster);
    io_uring_submit(&w->ring);
    while (clock_mono_ms() < deadline) {
        struct io_uring_cqe *cqe = NULL;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = 50 * 1000 * 1000};
        /* a completion may have queued more (a Redis send after the one in
         * flight): the wait below does not submit them */
        io_uring_submit(&w->ring);
        int rc = io_uring_wait_cqe_timeout(&w->ring, &cqe, &ts);
        if (rc == -ETIME) break;
        if (rc != 0 || cqe == NULL) break;
        /* logs and mail only: the connections are gone with the loop */
        if (store_ring_cqe_is_flush(cqe) || mailbox_cqe_is_delivery(cqe) || mailbox_cqe_is_sent(cqe) ||
            redis_cqe_is_mine(cqe)) {
            w->now_ms = clock_mono_ms();
            worker_dispatch(w, cqe);
        }
        io_uring_cqe_seen(&w->ring, cqe);
    }
    if (sw->cluster != NULL) stop_cluster(w, sw->cluster);
    if (sw->redis_down) atomic_fetch_sub(&w->shared->redis_down, 1);
    fanout_destroy(&sw->out);
    docs_free(sw->docs, (int64_t)clock_mono_ms());
    cluster_free(sw->cluster);
    proto_msg_free(&sw->msg);
    ot_buf_free(&sw->enc);
    free(sw->slots);
    free(sw);
    w->app = NULL;
}
