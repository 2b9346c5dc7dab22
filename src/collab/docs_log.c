/* A loaded document's log on the worker ring: flushes started per iteration,
 * their completions (with the tests' injected faults), what they report to
 * the document and the storage metrics. */
#include "collab/docs_internal.h"
#include "base/clock.h"

#include "base/log.h"
#include "collab/webhook.h"
#include "io/ring.h"

#include <assert.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>

/* Published ops are a change for the webhooks (the text at that version when they want it). */
void docs_notify_changed(docs *t, docs_entry *e) {
    uint64_t v = doc_published_version(e->d);
    const ot_doc *ot = doc_ot(e->d);
    ot_buf text;
    ot_buf_init(&text);
    int rc = OT_OK;
    if (webhook_wants_text(t->cfg.hooks))
        rc = v == ot_doc_version(ot) ? ot_text_to_buf(ot_doc_text(ot), &text) : ot_doc_text_at(ot, v, &text);
    if (rc == OT_OK)
        webhook_notify(t->cfg.hooks, WEBHOOK_CHANGED, e->name, e->name_len, v, text.data != NULL ? text.data : "",
                       text.len);
    else log_warn("document %s: change not notified: out of memory", e->name);
    ot_buf_free(&text);
}

static void report(docs *t, docs_entry *e, const store_flush_result *res, fanout *out) {
    uint64_t before = doc_published_version(e->d);
    doc_on_flush(e->d, res, out);
    if (t->cfg.hooks != NULL && doc_published_version(e->d) != before) docs_notify_changed(t, e);
    bool failed = store_log_failed(e->io.log);
    if (failed && !e->degraded)
        log_error("document %s: storage failed (%s); refusing ops until a write succeeds", doc_name(e->d, NULL),
                  store_err_str(res->error));
    if (!failed && e->degraded) log_info("document %s: storage works again", doc_name(e->d, NULL));
    docs_entry_set_degraded(t, e, failed);
}

void docs_entry_kick(docs *t, docs_entry *e, struct worker *w, fanout *out, int64_t now_ms) {
    /* while compaction's new segment is created, appends wait in the log */
    if (e->switching) return;
    store_flush_result failed;
    int rc = store_ring_kick(w, &e->io, now_ms, &failed);
    /* rc 2: an inline write, already reported through docs_on_store_cqe */
    if (rc == -EAGAIN) report(t, e, &failed, out);
    else if (rc == 1) e->flush_submitted_us = clock_mono_us();
}

/* A completed flush, before its result is reported. */
static void count_flush(docs *t, const docs_entry *e, const store_flush_result *res) {
    metrics_worker *m = t->cfg.metrics;
    if (m == NULL) return;
    if (e->io.has_write && e->io.write_result > 0) metrics_add(&m->store_append_bytes, (uint64_t)e->io.write_result);
    if (e->io.has_fsync && res->error == 0) {
        uint64_t now = clock_mono_us();
        metrics_count_fsync(m, now > e->flush_submitted_us ? now - e->flush_submitted_us : 0,
                            res->newly_durable_to - res->newly_durable_from);
    }
}

void docs_count_compaction(docs *t, bool done) {
    if (t->cfg.metrics != NULL) metrics_add(&t->cfg.metrics->store_compactions[done ? 0 : 1], 1);
}

void docs_flush(docs *t, struct worker *w, fanout *out, int64_t now_ms) {
    /* bounded: an entry comes back only when its inline write completed
     * inside the kick (docs_on_store_cqe marks it dirty again: an fsync may be
     * due, or a short write left bytes); its next kick finds nothing, submits
     * to the ring, or writes the rest: each return made progress. */
    while (t->dirty != NULL) {
        docs_entry *e = t->dirty;
        t->dirty = e->dirty_next;
        e->dirty_next = NULL;
        e->dirty = false;
        /* no log: cluster mode (the appends went to Redis); a failed log is retried by the timer, not in a spin */
        if (e->io.log == NULL || store_log_failed(e->io.log)) continue;
        docs_entry_kick(t, e, w, out, now_ms);
    }
}

/* Tests: the plan's crash or failure at a log write / fsync completion. The
 * CQE's result is what the log sees, so a failure here takes exactly the
 * path a real one takes. */
static void inject_log_fault(docs *t, docs_entry *e, struct io_uring_cqe *c, bool fsync_cqe) {
    if (fsync_cqe) {
        int f = store_fault_hit(t->faults, STORE_POINT_LOG_FSYNC);
        if (f < 0 && c->res == 0) c->res = f;
        return;
    }
    if (t->faults->crash_point == STORE_POINT_LOG_TORN) {
        /* a power cut in the middle of the write: half of it reached the disk */
        if (c->res > 0 && store_fault_crashes_next(t->faults, STORE_POINT_LOG_TORN) &&
            ftruncate(store_log_fd(e->io.log), (off_t)(store_log_end_offset(e->io.log) + (uint64_t)c->res / 2)) != 0)
            log_warn("RINGPAD_STORE_FAULTS: cannot cut the write: %s", strerror(errno));
        store_fault_hit(t->faults, STORE_POINT_LOG_TORN);
    }
    int f = store_fault_hit(t->faults, STORE_POINT_LOG_WRITE);
    if (f == STORE_FAULT_SHORT && c->res > 1) c->res /= 2;
    else if (f < 0 && c->res >= 0) c->res = f;
}

void docs_on_store_cqe(docs *t, store_ring_io *io, const struct io_uring_cqe *cqe, bool fsync_cqe, fanout *out,
                       int64_t now_ms) {
    docs_entry *e = completion_owner(io, docs_entry, io);
    assert(e->state == ENTRY_READY && store_ring_busy(&e->io));
    store_flush_result res;
    struct io_uring_cqe faulted;
    if (t->faults != NULL) {
        faulted = *cqe;
        inject_log_fault(t, e, &faulted, fsync_cqe);
        cqe = &faulted;
    }
    if (store_ring_on_cqe(&e->io, cqe, fsync_cqe, now_ms, &res) == 1) {
        count_flush(t, e, &res);
        report(t, e, &res, out);
        if (!store_log_idle(e->io.log)) docs_entry_mark_dirty(t, e);
    }
}
