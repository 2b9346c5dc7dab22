/*
 * Recovery: snapshot + log replay into an ot_doc, from bytes already in
 * memory (the file loader in store_files.c reads them; a session may read
 * them through the ring instead).
 *
 * Ops are replayed with ot_doc_submit at base == current version, so no
 * transform runs and each op's id lands in the document's history again:
 * a client resending an op after a restart is recognised as a duplicate.
 */
#include "store/store.h"
#include "base/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct store_replay {
    ot_doc *doc;
    ot_limits parse_limits;
    ot_op op;
    ot_submit_result result;
    int ot_error;          /* the OT engine's code when a record is refused */
    uint64_t gap_base;     /* the base of the record found after a gap */
    uint64_t count_replayed;
} store_replay;

static void store_recovery_say(store_recovery *report, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(report->message, sizeof report->message, fmt, ap);
    va_end(ap);
}

static int store_replay_record(void *ctx, const store_record *rec, size_t offset_bytes) {
    (void)offset_bytes;
    store_replay *r = ctx;
    uint64_t version = ot_doc_version(r->doc);
    /* Older than the snapshot: a segment compaction has not removed yet. */
    if (rec->base_version < version)
        return 0;
    if (rec->base_version > version) {
        r->gap_base = rec->base_version;
        return STORE_ERR_VERSION_GAP;
    }
    int rc = ot_op_parse_json(&r->op, rec->op_json, rec->op_len, &r->parse_limits, NULL);
    if (rc == OT_OK)
        rc = ot_doc_submit(r->doc, version, &r->op, rec->id, rec->id_len, rec->author,
                           rec->author_len, rec->time_ms, &r->result);
    if (rc == OT_OK && r->result.duplicate) {
        /* The same id twice in the log: the first use had left the live
         * history (a smaller history depth then). Apply it again, as the live
         * document did; the id stays known through the first entry. */
        rc = ot_doc_submit(r->doc, version, &r->op, NULL, 0, rec->author, rec->author_len,
                           rec->time_ms, &r->result);
    }
    if (rc == OT_ERR_NOMEM)
        return -ENOMEM; /* the log is fine: loading it again may succeed */
    if (rc != OT_OK) {
        r->ot_error = rc;
        return STORE_ERR_REPLAY;
    }
    r->count_replayed++;
    return 0;
}

int store_recover_images(const ot_limits *limits, const store_segment_image *snapshot,
                         const store_segment_image *segments, size_t count_segments,
                         ot_doc **out_doc, store_recovery *report) {
    memset(report, 0, sizeof *report);
    *out_doc = NULL;
    ot_limits lim = limits != NULL ? *limits : ot_limits_default();

    uint64_t snap_version = 0;
    const char *text = "";
    size_t text_len = 0;
    if (snapshot != NULL && snapshot->len_bytes > 0) {
        int rc = store_snapshot_decode(snapshot->bytes, snapshot->len_bytes, &snap_version, &text,
                                       &text_len);
        if (rc != 0) {
            report->error = rc;
            store_recovery_say(report, "%s: %s (%zu bytes); refusing to start",
                               snapshot->name != NULL ? snapshot->name : "snapshot",
                               store_err_str(rc), snapshot->len_bytes);
            return rc;
        }
    }
    ot_doc *doc = ot_doc_new(&lim, snap_version, text, text_len);
    if (doc == NULL && utf8_validate((const uint8_t *)text, text_len)) {
        /* valid text that ot_doc_new refused: memory, not the data dir */
        report->error = -ENOMEM;
        store_recovery_say(report, "snapshot at version %llu: out of memory", (unsigned long long)snap_version);
        return report->error;
    }
    if (doc == NULL) {
        report->error = STORE_ERR_REPLAY;
        store_recovery_say(report, "snapshot at version %llu: text is not valid UTF-8 "
                           "or out of memory", (unsigned long long)snap_version);
        return report->error;
    }
    report->snapshot_version = snap_version;

    store_replay replay = {.doc = doc, .parse_limits = lim};
    /* Ops were accepted under the limits of their day: do not refuse them now
     * because a flag got smaller. */
    replay.parse_limits.max_op_bytes = UINT32_MAX;
    replay.parse_limits.max_op_components = UINT32_MAX;
    ot_op_init(&replay.op);
    ot_op_init(&replay.result.op);

    int rc = 0;
    for (size_t i = 0; i < count_segments && rc == 0; i++) {
        const store_segment_image *seg = &segments[i];
        const char *name = seg->name != NULL ? seg->name : "log";
        store_scan_report scan;
        rc = store_scan_segment(seg->bytes, seg->len_bytes, store_replay_record, &replay, &scan);
        if (rc == STORE_ERR_REPLAY) {
            store_recovery_say(report, "%s: the op at byte offset %zu (version %llu) does not "
                               "apply: %s; refusing to start", name, scan.error_offset_bytes,
                               (unsigned long long)ot_doc_version(doc),
                               ot_err_str(replay.ot_error));
        } else if (rc == STORE_ERR_VERSION_GAP && replay.gap_base <= ot_doc_version(doc)) {
            /* inside one segment: its records are not consecutive */
            store_recovery_say(report, "%s: record at byte offset %zu is not version %llu "
                               "(missing ops); refusing to start", name,
                               scan.error_offset_bytes, (unsigned long long)ot_doc_version(doc));
        } else if (rc == STORE_ERR_VERSION_GAP) {
            store_recovery_say(report, "%s: record at byte offset %zu is version %llu, not "
                               "%llu: ops [%llu, %llu) are missing (a log segment was removed "
                               "or emptied); refusing to start", name, scan.error_offset_bytes,
                               (unsigned long long)replay.gap_base,
                               (unsigned long long)ot_doc_version(doc),
                               (unsigned long long)ot_doc_version(doc),
                               (unsigned long long)replay.gap_base);
        } else if (rc != 0) {
            store_recovery_say(report, "%s: %s at byte offset %zu; refusing to start", name,
                               store_err_str(rc), scan.error_offset_bytes);
        } else if (scan.torn_tail) {
            if (i + 1 < count_segments) {
                /* Segments are switched only when everything is fsynced, so
                 * only the last one may end in a torn write. */
                rc = STORE_ERR_CORRUPT;
                store_recovery_say(report, "%s: damaged record at byte offset %zu in a "
                                   "segment that is not the last; refusing to start", name,
                                   scan.valid_len_bytes);
            } else {
                report->torn_tail = true;
                report->torn_segment = i;
                report->valid_len_bytes = scan.valid_len_bytes;
                report->torn_bytes = seg->len_bytes - scan.valid_len_bytes;
                store_recovery_say(report, "%s: torn tail of %zu bytes at byte offset %zu "
                                   "truncated", name, report->torn_bytes,
                                   scan.valid_len_bytes);
            }
        }
    }
    ot_op_free(&replay.op);
    ot_op_free(&replay.result.op);
    if (rc != 0) {
        report->error = rc;
        ot_doc_free(doc);
        return rc;
    }
    report->count_replayed = replay.count_replayed;
    report->version = ot_doc_version(doc);
    *out_doc = doc;
    return 0;
}
