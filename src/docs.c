#include "docs.h"

#include "log.h"
#include "ring.h"
#include "store_ring.h"
#include "ud.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Compaction once the log holds history_depth + max(history_depth, this) ops
 * past the snapshot: a snapshot per history_depth ops at most. */
#define DOCS_COMPACT_MIN_SLACK_OPS 64u

typedef struct docs_entry {
    store_ring_io io;               /* first: CQEs carry a pointer to it */
    doc *d;
    store_doc_files files;
    struct docs_entry *next;        /* hash chain */
    struct docs_entry *dirty_next;
    bool dirty;
    bool degraded;                  /* counted in cfg.degraded */
    uint64_t quiet_since_ms;        /* 0: not quiet */
    uint64_t last_retry_ms;
} docs_entry;

struct docs {
    docs_config cfg;
    docs_entry *buckets[DOCS_HASH_BUCKETS];
    docs_entry *dirty;
    uint32_t count_loaded;
};

static void request_destroy(mailbox_msg *m) {
    docs_request *r = (docs_request *)m;
    ot_op_free(&r->op);
    free(r);
}

docs_request *docs_request_new(uint32_t kind, uint32_t from_worker) {
    docs_request *r = aligned_alloc(16, (sizeof *r + 15) & ~(size_t)15);
    if (r == NULL) return NULL;
    memset(r, 0, sizeof *r);
    mailbox_msg_init(&r->hdr, FANOUT_MSG_REQUEST, from_worker, request_destroy);
    r->kind = kind;
    ot_op_init(&r->op);
    return r;
}

static uint32_t fnv1a(const char *s, size_t n) {
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) h = (h ^ (uint8_t)s[i]) * 16777619u;
    return h;
}

uint32_t docs_owner(const char *name, size_t len, uint32_t count_workers) {
    return count_workers <= 1 ? 0 : fnv1a(name, len) % count_workers;
}

int docs_new(const docs_config *cfg, docs **out) {
    docs *t = calloc(1, sizeof *t);
    if (t == NULL) return -ENOMEM;
    t->cfg = *cfg;
    *out = t;
    return 0;
}

uint32_t docs_count_loaded(const docs *t) { return t->count_loaded; }

static docs_entry *find(docs *t, const char *name, size_t len, docs_entry ***link) {
    docs_entry **p = &t->buckets[fnv1a(name, len) % DOCS_HASH_BUCKETS];
    for (; *p != NULL; p = &(*p)->next) {
        size_t n;
        const char *en = doc_name((*p)->d, &n);
        if (n == len && memcmp(en, name, len) == 0) break;
    }
    if (link != NULL) *link = p;
    return *p;
}

doc *docs_find(docs *t, const char *name, size_t len) {
    docs_entry *e = find(t, name, len, NULL);
    return e != NULL ? e->d : NULL;
}

static int ensure_data_dir(docs *t) {
    if (t->cfg.data_dir_fd >= 0) return 0;
    if (mkdir(t->cfg.data_dir_path, 0755) != 0 && errno != EEXIST) return -errno;
    int fd = open(t->cfg.data_dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    t->cfg.data_dir_fd = fd;
    return 0;
}

static docs_entry *load(docs *t, const char *name, size_t len, int *err) {
    ot_doc *ot = NULL;
    int drc = ensure_data_dir(t);
    if (drc != 0) {
        log_error("--data-dir %s: %s", t->cfg.data_dir_path, strerror(-drc));
        *err = drc;
        return NULL;
    }
    store_doc_files files;
    store_recovery rep;
    memset(&rep, 0, sizeof rep);
    int rc = store_doc_open(t->cfg.data_dir_fd, name, len, true, &t->cfg.limits, &ot, &files, &rep);
    if (rc != 0) {
        log_error("document %.*s: cannot load: %s%s%s", (int)len, name, store_err_str(rc), rep.message[0] ? ": " : "",
                  rep.message);
        *err = rc;
        return NULL;
    }
    if (rep.torn_tail)
        log_warn("document %.*s: truncated a torn log tail of %zu bytes", (int)len, name, rep.torn_bytes);
    store_log *lg = NULL;
    rc = store_log_new(&t->cfg.log, files.log_fd, files.log_end_offset, ot_doc_version(ot), &lg);
    docs_entry *e = rc == 0 ? calloc(1, sizeof *e) : NULL;
    doc *d = NULL;
    if (e != NULL) rc = doc_new(name, len, ot, lg, &d);
    if (e == NULL || rc != 0) {
        free(e);
        if (lg != NULL) store_log_free(lg);
        ot_doc_free(ot);
        store_doc_files_close(&files);
        *err = rc != 0 ? rc : -ENOMEM;
        return NULL;
    }
    doc_set_history_depth(d, t->cfg.history_depth);
    doc_set_metrics(d, t->cfg.metrics);
    store_ring_io_init(&e->io, lg);
    e->d = d;
    e->files = files;
    docs_entry **link;
    find(t, name, len, &link);
    *link = e;
    t->count_loaded++;
    log_debug("document %.*s loaded at v%llu", (int)len, name, (unsigned long long)ot_doc_version(ot));
    return e;
}

static void set_degraded(docs *t, docs_entry *e, bool failed) {
    if (failed == e->degraded) return;
    e->degraded = failed;
    if (t->cfg.degraded != NULL) {
        if (failed) atomic_fetch_add(t->cfg.degraded, 1);
        else atomic_fetch_sub(t->cfg.degraded, 1);
    }
}

static void unload(docs *t, docs_entry *e, int64_t now_ms) {
    size_t n;
    const char *name = doc_name(e->d, &n);
    docs_entry **link;
    find(t, name, n, &link);
    *link = e->next;
    if (e->dirty) {
        for (docs_entry **p = &t->dirty; *p != NULL; p = &(*p)->dirty_next) {
            if (*p == e) {
                *p = e->dirty_next;
                break;
            }
        }
    }
    if (!store_log_idle(e->io.log)) store_ring_drain_sync(e->io.log, now_ms);
    set_degraded(t, e, false);
    log_debug("document %.*s unloaded", (int)n, name);
    doc_free(e->d);
    store_doc_files_close(&e->files);
    free(e);
    t->count_loaded--;
}

static void mark_dirty(docs *t, docs_entry *e) {
    e->quiet_since_ms = 0;
    if (e->dirty) return;
    e->dirty = true;
    e->dirty_next = t->dirty;
    t->dirty = e;
}

/* ---- REST answers: plain JSON objects in a frame to the caller's key ---------- */

static void send_json(fanout *out, uint64_t key, const ot_buf *b) {
    rbuf *f = fanout_frame(b->data, b->len);
    if (f == NULL) return;
    fanout_send(out, key, f);
    rbuf_unref(f);
}

static void rest_get(doc *d, const docs_request *r, fanout *out) {
    ot_buf text, b;
    ot_buf_init(&text);
    ot_buf_init(&b);
    uint64_t v = r->has_v ? r->v : doc_published_version(d);
    const ot_doc *ot = doc_ot(d);
    int rc;
    if (v > doc_published_version(d)) {
        doc_send_error(out, r->key, PROTO_ERR_VERSION_AHEAD, "v is newer than the document", r->doc, r->doc_len);
        goto done;
    }
    if (v < doc_oldest_version(d)) {
        doc_send_error(out, r->key, PROTO_ERR_VERSION_TOO_OLD, "v is older than the retained history", r->doc,
                       r->doc_len);
        goto done;
    }
    rc = v == ot_doc_version(ot) ? ot_text_to_buf(ot_doc_text(ot), &text) : ot_doc_text_at(ot, v, &text);
    char head[64];
    int n = snprintf(head, sizeof head, "{\"v\":%llu,\"doc\":", (unsigned long long)v);
    if (rc != OT_OK || ot_buf_append(&b, head, (size_t)n) != 0 || proto_json_string(&b, r->doc, r->doc_len) != 0 ||
        ot_buf_append(&b, ",\"text\":", 8) != 0 ||
        proto_json_string(&b, text.data != NULL ? text.data : "", text.len) != 0 || ot_buf_append(&b, "}", 1) != 0) {
        doc_send_error(out, r->key, PROTO_ERR_INTERNAL, "out of memory", NULL, 0);
        goto done;
    }
    send_json(out, r->key, &b);
done:
    ot_buf_free(&text);
    ot_buf_free(&b);
}

static void rest_ops(doc *d, const docs_request *r, fanout *out) {
    const ot_doc *ot = doc_ot(d);
    uint64_t pub = doc_published_version(d);
    uint64_t from = r->v, to = r->to > pub ? pub : r->to;
    if (from < doc_oldest_version(d)) {
        doc_send_error(out, r->key, PROTO_ERR_VERSION_TOO_OLD, "from is older than the retained history", r->doc,
                       r->doc_len);
        return;
    }
    if (from > pub) {
        doc_send_error(out, r->key, PROTO_ERR_VERSION_AHEAD, "from is newer than the document", r->doc, r->doc_len);
        return;
    }
    ot_buf b;
    ot_buf_init(&b);
    char head[96];
    int n = snprintf(head, sizeof head, "{\"v\":%llu,\"from\":%llu,\"to\":%llu,\"ops\":[", (unsigned long long)pub,
                     (unsigned long long)from, (unsigned long long)(to < from ? from : to));
    int rc = ot_buf_append(&b, head, (size_t)n);
    for (uint64_t v = from; rc == 0 && v < to; v++) {
        const ot_history_entry *e = ot_doc_history_at(ot, v);
        if (e == NULL) break;
        if (v > from) rc = ot_buf_append(&b, ",", 1);
        char vb[48];
        n = snprintf(vb, sizeof vb, "{\"v\":%llu,\"id\":", (unsigned long long)v);
        if (rc == 0) rc = ot_buf_append(&b, vb, (size_t)n);
        if (rc == 0) rc = proto_json_string(&b, e->id, e->id_len);
        if (rc == 0) rc = ot_buf_append(&b, ",\"by\":", 6);
        if (rc == 0) rc = proto_json_string(&b, e->author, e->author_len);
        n = snprintf(vb, sizeof vb, ",\"time\":%lld,\"op\":", (long long)e->time_ms);
        if (rc == 0) rc = ot_buf_append(&b, vb, (size_t)n);
        if (rc == 0) rc = ot_op_to_json(&e->op, &b) == OT_OK ? 0 : -ENOMEM;
        if (rc == 0) rc = ot_buf_append(&b, "}", 1);
    }
    if (rc == 0) rc = ot_buf_append(&b, "]}", 2);
    if (rc == 0) send_json(out, r->key, &b);
    else doc_send_error(out, r->key, PROTO_ERR_INTERNAL, "out of memory", NULL, 0);
    ot_buf_free(&b);
}

static void rest_delete(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    if (e != NULL) {
        if (store_ring_busy(&e->io)) {
            /* a flush in flight: waiting would need a queue of deletes; the caller retries */
            doc_send_error(out, r->key, PROTO_ERR_STORAGE_UNAVAILABLE, "a write is in flight; retry", NULL, 0);
            return;
        }
        doc_evict_all(e->d, PROTO_ERR_NOT_OPEN, "the document was deleted", out);
        unload(t, e, now_ms);
    }
    int rc = ensure_data_dir(t);
    if (rc == 0) rc = store_doc_delete(t->cfg.data_dir_fd, r->doc, r->doc_len);
    if (rc != 0 && rc != -ENOENT) {
        doc_send_error(out, r->key, PROTO_ERR_STORAGE_UNAVAILABLE, "the document could not be deleted", NULL, 0);
        return;
    }
    ot_buf b;
    ot_buf_init(&b);
    if (ot_buf_append(&b, "{\"deleted\":", 11) == 0 && ot_buf_append(&b, rc == 0 ? "true}" : "false}", rc == 0 ? 5 : 6) == 0)
        send_json(out, r->key, &b);
    ot_buf_free(&b);
}

/* ---- requests -------------------------------------------------------------------- */

void docs_execute(docs *t, const docs_request *r, fanout *out, int64_t now_ms) {
    docs_entry *e = find(t, r->doc, r->doc_len, NULL);
    if (r->kind == DOCS_REQ_REST_DELETE) {
        rest_delete(t, e, r, out, now_ms);
        return;
    }
    if (e == NULL) {
        if (r->kind == DOCS_REQ_CLOSE) return;
        if ((r->kind == DOCS_REQ_PRESENCE || r->kind == DOCS_REQ_OP) && !r->rest) {
            doc_send_error(out, r->key, PROTO_ERR_NOT_OPEN, "the document is not open",
                           r->kind == DOCS_REQ_OP ? r->id : r->doc, r->kind == DOCS_REQ_OP ? r->id_len : r->doc_len);
            return;
        }
        int err = 0;
        e = load(t, r->doc, r->doc_len, &err);
        if (e == NULL) {
            int code = err == -ENOSPC || err == -EIO || err == -EROFS || err == -EACCES ? PROTO_ERR_STORAGE_UNAVAILABLE
                                                                                       : PROTO_ERR_INTERNAL;
            doc_send_error(out, r->key, code, "the document could not be loaded", r->kind == DOCS_REQ_OP ? r->id : r->doc,
                           r->kind == DOCS_REQ_OP ? r->id_len : r->doc_len);
            if (r->kind == DOCS_REQ_OPEN) fanout_drop(out, r->key, r->doc, r->doc_len);
            return;
        }
    }
    e->quiet_since_ms = 0;
    switch ((docs_request_kind)r->kind) {
    case DOCS_REQ_OPEN: {
        doc_who who = {
            .key = r->key,
            .session = r->session,
            .by = r->by,
            .name = r->has_name ? r->name : NULL,
            .color = r->has_color ? r->color : NULL,
        };
        doc_open(e->d, &who, r->has_v, r->v, out);
        break;
    }
    case DOCS_REQ_OP:
        doc_submit(e->d, r->key, !r->rest, r->by, r->v, r->id, r->id_len, &r->op, r->time_ms, out);
        mark_dirty(t, e);
        break;
    case DOCS_REQ_PRESENCE: doc_presence(e->d, r->key, r->v, r->sel, r->count_sel, out); break;
    case DOCS_REQ_CLOSE: doc_close(e->d, r->key, out); break;
    case DOCS_REQ_REST_GET: rest_get(e->d, r, out); break;
    case DOCS_REQ_REST_OPS: rest_ops(e->d, r, out); break;
    case DOCS_REQ_REST_INFO: {
        ot_buf b;
        ot_buf_init(&b);
        const ot_text *text = ot_doc_text(doc_ot(e->d));
        char tail[128];
        int n = snprintf(tail, sizeof tail, ",\"v\":%llu,\"codepoints\":%llu,\"bytes\":%llu}",
                         (unsigned long long)doc_published_version(e->d),
                         (unsigned long long)ot_text_len_codepoints(text), (unsigned long long)ot_text_len_bytes(text));
        if (ot_buf_append(&b, "{\"doc\":", 7) == 0 && proto_json_string(&b, r->doc, r->doc_len) == 0 &&
            ot_buf_append(&b, tail, (size_t)n) == 0)
            send_json(out, r->key, &b);
        ot_buf_free(&b);
        break;
    }
    case DOCS_REQ_REST_DELETE: break;
    }
}

/* ---- storage ------------------------------------------------------------------------- */

static void report(docs *t, docs_entry *e, const store_flush_result *res, fanout *out) {
    doc_on_flush(e->d, res, out);
    bool failed = store_log_failed(e->io.log);
    if (failed && !e->degraded)
        log_error("document %s: storage failed (%s); refusing ops until a write succeeds", doc_name(e->d, NULL),
                  store_err_str(res->error));
    if (!failed && e->degraded) log_info("document %s: storage works again", doc_name(e->d, NULL));
    set_degraded(t, e, failed);
}

static void kick(docs *t, docs_entry *e, struct worker *w, fanout *out, int64_t now_ms) {
    store_flush_result failed;
    if (store_ring_kick(w, &e->io, now_ms, &failed) == -EAGAIN) report(t, e, &failed, out);
}

void docs_flush(docs *t, struct worker *w, fanout *out, int64_t now_ms) {
    /* bounded: each entry leaves the list once */
    while (t->dirty != NULL) {
        docs_entry *e = t->dirty;
        t->dirty = e->dirty_next;
        e->dirty_next = NULL;
        e->dirty = false;
        if (store_log_failed(e->io.log)) continue;   /* retried by the timer, not in a spin */
        kick(t, e, w, out, now_ms);
    }
}

void docs_on_store_cqe(docs *t, const struct io_uring_cqe *cqe, fanout *out, int64_t now_ms) {
    docs_entry *e = (docs_entry *)ud_get_ptr(cqe->user_data);
    store_flush_result res;
    bool fsync_cqe = ud_get_tag(cqe->user_data) == UD_TAG_STORE_FSYNC;
    if (store_ring_on_cqe(&e->io, cqe, fsync_cqe, now_ms, &res) == 1) {
        report(t, e, &res, out);
        if (!store_log_idle(e->io.log)) mark_dirty(t, e);
    }
}

static void maybe_compact(docs *t, docs_entry *e) {
    uint64_t v = doc_version(e->d);
    uint64_t keep = t->cfg.history_depth;
    uint64_t slack = keep > DOCS_COMPACT_MIN_SLACK_OPS ? keep : DOCS_COMPACT_MIN_SLACK_OPS;
    if (v < e->files.snapshot_version + keep + slack) return;
    if (!store_log_idle(e->io.log) || doc_published_version(e->d) != v) return;
    int rc = store_compact(&e->files, e->io.log, doc_ot(e->d), t->cfg.history_depth);
    if (rc != 0) log_warn("document %s: compaction failed: %s", doc_name(e->d, NULL), store_err_str(rc));
}

void docs_tick(docs *t, struct worker *w, fanout *out, int64_t now_ms) {
    for (uint32_t b = 0; b < DOCS_HASH_BUCKETS; b++) {
        for (docs_entry *e = t->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            store_log *lg = e->io.log;
            if (store_log_failed(lg)) {
                if ((uint64_t)now_ms - e->last_retry_ms >= DOCS_RETRY_MS && !store_ring_busy(&e->io)) {
                    e->last_retry_ms = (uint64_t)now_ms;
                    kick(t, e, w, out, now_ms);
                }
                continue;
            }
            int64_t due = store_log_fsync_due_ms(lg);
            if (due >= 0 && due <= now_ms) kick(t, e, w, out, now_ms);
            if (store_ring_busy(&e->io)) continue;
            maybe_compact(t, e);
            if (!doc_is_quiet(e->d) || !store_log_idle(lg)) {
                e->quiet_since_ms = 0;
                continue;
            }
            if (e->quiet_since_ms == 0) e->quiet_since_ms = (uint64_t)now_ms + 1;
            else if ((uint64_t)now_ms - e->quiet_since_ms >= t->cfg.idle_ms && !e->dirty) unload(t, e, now_ms);
        }
    }
}

void docs_free(docs *t, int64_t now_ms) {
    if (t == NULL) return;
    for (uint32_t b = 0; b < DOCS_HASH_BUCKETS; b++) {
        while (t->buckets[b] != NULL) {
            docs_entry *e = t->buckets[b];
            if (store_ring_busy(&e->io)) {
                /* the ring is gone with its CQE: the log state is unknown, keep the bytes on disk as they are */
                t->buckets[b] = e->next;
                set_degraded(t, e, false);
                doc_free(e->d);
                store_doc_files_close(&e->files);
                free(e);
                t->count_loaded--;
                continue;
            }
            unload(t, e, now_ms);
        }
    }
    if (t->cfg.data_dir_fd >= 0) close(t->cfg.data_dir_fd);
    free(t);
}
