/* Compaction of a loaded document's log into a snapshot, never blocking the worker. */
#include "collab/docs_internal.h"

#include "base/log.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Compaction once the log holds history_depth + max(history_depth, this) ops
 * past the snapshot: a snapshot per history_depth ops at most. */
#define DOCS_COMPACT_MIN_SLACK_OPS 64u

/* A job of compaction for the helper thread, on its own copy of the document's
 * directory fd; on failure compaction is abandoned (retried later). */
static docs_job *compact_job_new(docs *t, docs_entry *e, uint32_t kind) {
    docs_job *j = docs_job_new(kind, t->cfg.self);
    if (j != NULL) j->doc_dir_fd = fcntl(e->files.dir_fd, F_DUPFD_CLOEXEC, 0);
    if (j == NULL || j->doc_dir_fd < 0) {
        if (j != NULL) mailbox_msg_unref(&j->hdr);
        free(e->compact_image);
        e->compact_image = NULL;
        e->compacting = false;
        log_warn("document %s: compaction failed: out of memory or fds", e->name);
        docs_count_compaction(t, false);
        return NULL;
    }
    memcpy(j->name, e->name, e->name_len + 1);
    j->name_len = e->name_len;
    return j;
}

/* Submits compaction's file work: the snapshot held in the entry. */
static void submit_compact_files(docs *t, docs_entry *e, fanout *out, int64_t now_ms) {
    docs_job *j = compact_job_new(t, e, DOCS_JOB_COMPACT);
    if (j == NULL) return;
    j->snapshot_version = e->compact_snap;
    j->image = e->compact_image;
    j->image_len = e->compact_image_len;
    e->compact_image = NULL;
    docs_submit_job(t, j, out, now_ms);
}

/* Compaction, never blocking the worker: the snapshot image is made here in
 * memory (at the published version, so it holds only durable ops); the
 * helper creates the new active segment (create + directory fsync) while
 * ops go on being applied and appended but not flushed (acks wait a moment);
 * the worker then switches the log to it at the seam (everything before in
 * the old segment, everything pending into the new one) and the helper
 * writes the snapshot and drops the old segments. */
void docs_maybe_compact(docs *t, docs_entry *e, fanout *out, int64_t now_ms) {
    uint64_t v = doc_version(e->d);
    uint64_t keep = t->cfg.history_depth;
    uint64_t slack = keep > DOCS_COMPACT_MIN_SLACK_OPS ? keep : DOCS_COMPACT_MIN_SLACK_OPS;
    if (e->compacting || v < e->files.snapshot_version + keep + slack) return;
    if (!store_log_idle(e->io.log) || doc_published_version(e->d) != v) return;
    int rc = store_compact_snapshot_image(doc_ot(e->d), t->cfg.history_depth, e->files.snapshot_version,
                                          &e->compact_snap, &e->compact_image, &e->compact_image_len);
    if (rc != 0) {
        log_warn("document %s: compaction failed: %s", e->name, store_err_str(rc));
        docs_count_compaction(t, false);
        return;
    }
    e->compacting = true;
    log_debug("document %s: compaction to a snapshot at v%llu", e->name, (unsigned long long)e->compact_snap);
    if (e->files.log_start_version == v) {
        submit_compact_files(t, e, out, now_ms);
        return;
    }
    docs_job *j = compact_job_new(t, e, DOCS_JOB_SEGMENT);
    if (j == NULL) return;
    j->start_version = v;
    e->switching = true;
    docs_submit_job(t, j, out, now_ms);
}

void docs_segment_done(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    docs_entry *e = docs_entry_find(t, j->name, j->name_len, NULL);
    if (e == NULL || e->state != ENTRY_READY || !e->switching) return;   /* unloaded or deleted meanwhile */
    e->switching = false;
    int rc = j->rc;
    if (rc == 0) rc = store_log_switch_segment_pending(e->io.log, j->segment_fd, j->start_version);
    if (rc == 0) {
        close(e->files.log_fd);
        e->files.log_fd = j->segment_fd;
        j->segment_fd = -1;
        e->files.log_start_version = j->start_version;
        e->files.log_end_offset = 0;
        log_debug("document %s: new segment at v%llu (%llu ops waited for it)", e->name,
                  (unsigned long long)j->start_version, (unsigned long long)(doc_version(e->d) - j->start_version));
        docs_entry_mark_dirty(t, e);   /* the header and the ops that waited */
        submit_compact_files(t, e, out, now_ms);
        return;
    }
    log_warn("document %s: compaction failed: new segment: %s", e->name, store_err_str(rc));
    docs_count_compaction(t, false);
    if (j->segment_fd >= 0) {
        /* an empty segment named for a version the log moved past would
         * mislead recovery: remove it (rare: the preconditions are held) */
        char seg[STORE_SEGMENT_NAME_BYTES];
        store_segment_file_name(j->start_version, seg);
        unlinkat(e->files.dir_fd, seg, 0);
    }
    free(e->compact_image);
    e->compact_image = NULL;
    e->compacting = false;
    if (!store_log_idle(e->io.log)) docs_entry_mark_dirty(t, e);
}

void docs_compact_done(docs *t, docs_job *j) {
    docs_entry *e = docs_entry_find(t, j->name, j->name_len, NULL);
    if (j->rc != 0) log_warn("document %s: compaction failed: %s", j->name, store_err_str(j->rc));
    docs_count_compaction(t, j->rc == 0);
    if (e == NULL || e->state != ENTRY_READY) return;
    log_debug("document %s: compaction done (%s)", j->name, j->rc == 0 ? "ok" : store_err_str(j->rc));
    e->compacting = false;
    if (j->rc == 0 && j->snapshot_version > e->files.snapshot_version) e->files.snapshot_version = j->snapshot_version;
}
