#include "collab/docs_internal.h"

#include "base/log.h"
#include "base/membudget.h"
#include "cluster/cluster.h"
#include "collab/webhook.h"
#include "io/ring.h"
#include "store/store_faults.h"
#include "store/store_ring.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void request_destroy(mailbox_msg *m) {
    docs_request *r = (docs_request *)m;
    ot_op_free(&r->op);
    free(r->text);
    free(r->sel_heap);
    free(r);
}

docs_request *docs_request_new(uint32_t kind, uint32_t from_worker) {
    docs_request *r = mailbox_msg_new(sizeof *r, DOCS_MSG_REQUEST, from_worker, request_destroy);
    if (r == NULL) return NULL;
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
    if (cfg->store_faults != NULL && cfg->store_faults[0] != '\0') {
        char err[256];
        t->faults = malloc(sizeof *t->faults);
        int rc = t->faults != NULL ? store_fault_plan_parse(cfg->store_faults, t->faults, err, sizeof err) : -ENOMEM;
        if (rc != 0) {
            if (rc == -EINVAL) log_error("%s", err);
            free(t->faults);
            free(t);
            return rc;
        }
    }
    if (cfg->cluster != NULL) docs_cluster_attach(t);
    if (cfg->disk_thread) {
        int rc = docs_disk_start(cfg->targets, cfg->self, &t->disk);
        if (rc != 0) {
            free(t->faults);
            free(t);
            return rc;
        }
    }
    *out = t;
    return 0;
}

void docs_stop_disk(docs *t) {
    docs_disk_stop(t->disk);
    t->disk = NULL;
}

uint32_t docs_count_loaded(const docs *t) { return t->count_loaded; }
uint32_t docs_count_busy(const docs *t) { return t->count_busy; }

docs_entry *docs_entry_find(docs *t, const char *name, size_t len, docs_entry ***link) {
    docs_entry **p = &t->buckets[fnv1a(name, len) % DOCS_HASH_BUCKETS];
    for (; *p != NULL; p = &(*p)->next)
        if ((*p)->name_len == len && memcmp((*p)->name, name, len) == 0) break;
    if (link != NULL) *link = p;
    return *p;
}

doc *docs_find(docs *t, const char *name, size_t len) {
    docs_entry *e = docs_entry_find(t, name, len, NULL);
    return e != NULL && e->state == ENTRY_READY ? e->d : NULL;
}

int docs_ensure_data_dir(docs *t) {
    /* blocking, but once per process: mkdir + open of the data dir */
    if (t->cfg.data_dir_fd >= 0) return 0;
    if (mkdir(t->cfg.data_dir_path, 0755) != 0 && errno != EEXIST) return -errno;
    int fd = open(t->cfg.data_dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -errno;
    t->cfg.data_dir_fd = fd;
    return 0;
}

/* A new entry waiting for a job, in the table. */
static docs_entry *entry_new(docs *t, const char *name, size_t len, entry_state state) {
    /* a new entry waits for its job; names were checked by the caller's decoder */
    assert(state != ENTRY_READY && len <= DOCNAME_MAX_BYTES);
    docs_entry *e = calloc(1, sizeof *e);
    if (e == NULL) return NULL;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    e->name_len = len;
    e->state = (uint8_t)state;
    e->files.dir_fd = -1;
    e->files.log_fd = -1;
    docs_entry **link;
    docs_entry_find(t, name, len, &link);
    *link = e;
    t->count_busy++;
    return e;
}

/* Takes a busy entry out of the table; its waiting requests are returned. */
static docs_request *entry_remove_busy(docs *t, docs_entry *e) {
    docs_entry **link;
    docs_entry_find(t, e->name, e->name_len, &link);
    *link = e->next;
    docs_request *w = e->wait_head;
    t->count_busy--;
    free(e);
    return w;
}

static void wait_push(docs_entry *e, docs_request *r) {
    mailbox_msg_ref(&r->hdr);
    r->next = NULL;
    if (e->wait_tail != NULL) e->wait_tail->next = r;
    else e->wait_head = r;
    e->wait_tail = r;
    e->count_waiting++;
}

static docs_request *wait_take(docs_entry *e) {
    docs_request *w = e->wait_head;
    e->wait_head = e->wait_tail = NULL;
    e->count_waiting = 0;
    return w;
}

/* Hands a job to the helper, or runs it here (no helper, or its queue is
 * full: blocking, but never lost). Takes the caller's reference. */
void docs_submit_job(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    j->faults = t->faults;
    if (t->disk != NULL && docs_disk_submit(t->disk, j) == 0) return;
    docs_job_run(j);
    docs_on_disk_done(t, j, out, now_ms);
    mailbox_msg_unref(&j->hdr);
}


static void start_load(docs *t, docs_entry *e, fanout *out, int64_t now_ms) {
    if (t->cfg.cluster != NULL) {
        docs_cluster_load(t, e, out, now_ms);
        return;
    }
    docs_job *j = docs_job_new(DOCS_JOB_LOAD, t->cfg.self);
    int drc = j != NULL ? docs_ensure_data_dir(t) : -ENOMEM;
    if (drc != 0) {
        if (j != NULL) mailbox_msg_unref(&j->hdr);
        docs_job failed;
        memset(&failed, 0, sizeof failed);
        failed.kind = DOCS_JOB_LOAD;
        failed.rc = drc;
        memcpy(failed.name, e->name, e->name_len + 1);
        failed.name_len = e->name_len;
        failed.files.dir_fd = failed.files.log_fd = -1;
        docs_on_disk_done(t, &failed, out, now_ms);
        return;
    }
    j->data_dir_fd = t->cfg.data_dir_fd;
    memcpy(j->name, e->name, e->name_len + 1);
    j->name_len = e->name_len;
    j->create = e->load_create;
    j->limits = t->cfg.limits;
    docs_submit_job(t, j, out, now_ms);
}

/* The load finished well: the entry becomes a document. */
static int make_ready(docs *t, docs_entry *e, docs_job *j) {
    store_log *lg = NULL;
    /* cluster mode: Redis is the log */
    int rc = t->cfg.cluster != NULL ? 0
             : store_log_new(&t->cfg.log, j->files.log_fd, j->files.log_end_offset, ot_doc_version(j->doc), &lg);
    doc *d = NULL;
    if (rc == 0) rc = doc_new(e->name, e->name_len, j->doc, lg, &d);
    if (rc != 0) {
        if (lg != NULL) store_log_free(lg);
        return rc;
    }
    j->doc = NULL;   /* the doc owns it now */
    e->files = j->files;
    j->files.dir_fd = j->files.log_fd = -1;
    doc_set_history_depth(d, t->cfg.history_depth);
    doc_set_memory(d, t->cfg.history_memory_bytes, t->cfg.budget);
    doc_set_metrics(d, t->cfg.metrics);
    store_ring_io_init(&e->io, lg, t->cfg.store_cqe);
    e->d = d;
    if (e->cd != NULL) docs_cluster_ready(t, e, d);
    e->fresh = j->created;
    assert(e->state == ENTRY_LOADING && t->count_busy > 0);
    e->state = ENTRY_READY;
    t->count_busy--;
    t->count_loaded++;
    log_debug("document %s loaded at v%llu", e->name, (unsigned long long)doc_version(d));
    return 0;
}

void docs_entry_set_degraded(docs *t, docs_entry *e, bool failed) {
    if (failed == e->degraded) return;
    e->degraded = failed;
    if (t->cfg.degraded != NULL) {
        if (failed) atomic_fetch_add(t->cfg.degraded, 1);
        else atomic_fetch_sub(t->cfg.degraded, 1);
    }
}

/* The listing cache of a document about to be unloaded (docs_disk META). */
static void write_meta(docs *t, docs_entry *e, fanout *out, int64_t now_ms) {
    store_log *lg = e->io.log;
    if (lg == NULL || !store_log_idle(lg) || store_log_failed(lg) || e->files.dir_fd < 0) return;
    docs_job *j = docs_job_new(DOCS_JOB_META, t->cfg.self);
    if (j == NULL) return;
    j->doc_dir_fd = fcntl(e->files.dir_fd, F_DUPFD_CLOEXEC, 0);
    if (j->doc_dir_fd < 0) {
        mailbox_msg_unref(&j->hdr);
        return;
    }
    const ot_text *text = ot_doc_text(doc_ot(e->d));
    j->meta = (store_meta){
        .version = doc_version(e->d),
        .count_codepoints = ot_text_len_codepoints(text),
        .count_bytes = ot_text_len_bytes(text),
        .log_start_version = e->files.log_start_version,
        .log_end_offset = store_log_end_offset(lg),
    };
    memcpy(j->name, e->name, e->name_len + 1);
    j->name_len = e->name_len;
    docs_submit_job(t, j, out, now_ms);
}

/* Frees a loaded document; with meta, its listing cache is written first. */
void docs_entry_unload(docs *t, docs_entry *e, bool meta, fanout *out, int64_t now_ms) {
    size_t n = e->name_len;
    const char *name = e->name;
    docs_entry **link;
    docs_entry_find(t, name, n, &link);
    *link = e->next;
    if (e->dirty) {
        for (docs_entry **p = &t->dirty; *p != NULL; p = &(*p)->dirty_next) {
            if (*p == e) {
                *p = e->dirty_next;
                break;
            }
        }
    }
    if (e->io.log != NULL && !store_log_idle(e->io.log)) store_ring_drain_sync(e->io.log, now_ms);
    if (e->cd != NULL) docs_cluster_unload(e);
    if (meta) write_meta(t, e, out, now_ms);
    docs_entry_set_degraded(t, e, false);
    log_debug("document %.*s unloaded", (int)n, name);
    free(e->compact_image);
    doc_free(e->d);
    store_doc_files_close(&e->files);
    free(e);
    t->count_loaded--;
}

void docs_entry_mark_dirty(docs *t, docs_entry *e) {
    e->quiet_since_ms = 0;
    if (e->dirty) return;
    e->dirty = true;
    e->dirty_next = t->dirty;
    t->dirty = e;
}

/* ---- REST answers: typed, to the caller's key ------------------------------------ */

static void send_deleted(fanout *out, const docs_request *r, bool deleted) {
    proto_rest_answer a = {.kind = PROTO_REST_DELETED, .flag = deleted};
    docs_send_answer(out, r, &a);
}

/* Appends published ops [from, to) from the in-memory history (at most
 * *budget), as items; *next gets where it stopped. */
static int append_memory_ops(const doc *d, uint64_t from, uint64_t to, bool first, uint32_t *budget, ot_buf *b,
                             uint64_t *next) {
    const ot_doc *ot = doc_ot(d);
    ot_history_entry e;
    ot_history_entry_init(&e);
    int rc = 0;
    uint64_t v = from;
    for (; rc == 0 && v < to && *budget > 0; v++) {
        int got = ot_doc_history_read(ot, v, &e);
        if (got == OT_ERR_NOMEM) rc = -ENOMEM;
        if (got != OT_OK) break;
        proto_op_item it = {.v = v, .id = {e.id, e.id_len}, .by = {e.author, e.author_len},
                            .time_ms = e.time_ms, .op = &e.op};
        rc = proto_enc_rest_op_item(b, first && v == from, &it);
        (*budget)--;
    }
    ot_history_entry_free(&e);
    *next = v;
    return rc;
}

/* The /ops answer: disk items (may be empty) then memory ops up to `to`. */
static void answer_ops(const doc *d, const docs_request *r, uint64_t pub, const ot_buf *disk, uint32_t count_disk,
                       uint64_t next, fanout *out) {
    uint64_t to = r->to > pub ? pub : r->to;
    uint32_t budget = DOCS_MAX_OPS_PER_ANSWER - count_disk;
    ot_buf b;
    ot_buf_init(&b);
    int rc = count_disk > 0 ? ot_buf_append(&b, disk->data, disk->len) : 0;
    if (rc == 0 && d != NULL && next < to) rc = append_memory_ops(d, next, to, count_disk == 0, &budget, &b, &next);
    proto_rest_answer a = {.kind = PROTO_REST_OPS, .v = pub, .from = r->v, .to = next < r->v ? r->v : next,
                           .items = {b.data, b.len}};
    if (rc == 0) docs_send_answer(out, r, &a);
    else doc_send_no_memory(doc_metrics(d), out, r->key, NULL, 0);
    ot_buf_free(&b);
}

static void rest_ops(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    doc *d = e->d;
    uint64_t pub = doc_published_version(d);
    uint64_t from = r->v, to = r->to > pub ? pub : r->to;
    if (from > pub) {
        doc_send_error(out, r->key, PROTO_ERR_VERSION_AHEAD, "from is newer than the document", r->doc, r->doc_len);
        return;
    }
    uint64_t mem_oldest = ot_doc_oldest_version(doc_ot(d));
    if (from >= mem_oldest || from >= to) {
        answer_ops(d, r, pub, NULL, 0, from, out);
        return;
    }
    /* older than memory: read the log on the helper (the rest follows from memory) */
    docs_read_job(t, e, r, DOCS_JOB_READ_OPS, from, to < mem_oldest ? to : mem_oldest, DOCS_MAX_OPS_PER_ANSWER, out,
                  now_ms);
}

void docs_read_job(docs *t, docs_entry *e, const docs_request *r, uint32_t kind, uint64_t from, uint64_t to,
                   uint32_t max_count, fanout *out, int64_t now_ms) {
    if (t->cfg.cluster != NULL) {
        /* the log is the document's Redis stream */
        docs_cluster_read(t, e, r, kind, from, to, max_count, out, now_ms);
        return;
    }
    docs_job *j = docs_job_new(kind, t->cfg.self);
    if (j == NULL || docs_ensure_data_dir(t) != 0) {
        if (j != NULL) mailbox_msg_unref(&j->hdr);
        doc_send_no_memory(t->cfg.metrics, out, r->key, NULL, 0);
        return;
    }
    j->data_dir_fd = t->cfg.data_dir_fd;
    memcpy(j->name, e->name, e->name_len + 1);
    j->name_len = e->name_len;
    j->from = from;
    j->to = to;
    j->max_count = max_count;
    mailbox_msg_ref((mailbox_msg *)&r->hdr);
    j->req = (mailbox_msg *)&r->hdr;
    docs_submit_job(t, j, out, now_ms);
}

static void read_ops_done(docs *t, docs_job *j, fanout *out) {
    const docs_request *r = (const docs_request *)j->req;
    if (j->rc == -ERANGE || j->rc == -ENOENT) {
        doc_send_error(out, r->key, PROTO_ERR_VERSION_TOO_OLD, "from is older than the retained log", r->doc,
                       r->doc_len);
        return;
    }
    if (j->rc != 0) {
        doc_send_error(out, r->key, PROTO_ERR_STORAGE_UNAVAILABLE, "the log could not be read", r->doc, r->doc_len);
        return;
    }
    docs_entry *e = docs_entry_find(t, r->doc, r->doc_len, NULL);
    doc *d = e != NULL && e->state == ENTRY_READY ? e->d : NULL;
    uint64_t pub = d != NULL ? doc_published_version(d) : j->next_version;
    answer_ops(d, r, pub, &j->ops_json, j->count_ops, j->next_version, out);
}

/* ---- requests -------------------------------------------------------------------- */

static bool creates(const docs_request *r) {
    /* an open from REST (an event stream) reads: it never creates */
    return (r->kind == DOCS_REQ_OPEN && !r->rest) || r->kind == DOCS_REQ_REST_TEXT || (r->kind == DOCS_REQ_OP && r->rest);
}

static const char *ref_of(const docs_request *r, size_t *len) {
    *len = r->kind == DOCS_REQ_OP ? r->id_len : r->doc_len;
    return r->kind == DOCS_REQ_OP ? r->id : r->doc;
}

/* The document does not exist (and r does not create it). */
static void answer_absent(const docs_request *r, fanout *out) {
    size_t rl;
    const char *ref = ref_of(r, &rl);
    switch ((docs_request_kind)r->kind) {
    case DOCS_REQ_CLOSE: break;
    case DOCS_REQ_OP:
    case DOCS_REQ_PRESENCE: doc_send_error(out, r->key, PROTO_ERR_NOT_OPEN, "the document is not open", ref, rl); break;
    case DOCS_REQ_REST_DELETE: send_deleted(out, r, false); break;
    case DOCS_REQ_OPEN:
    case DOCS_REQ_REST_GET:
    case DOCS_REQ_REST_OPS:
    case DOCS_REQ_REST_TEXT:
    case DOCS_REQ_REST_INFO:
    case DOCS_REQ_REST_HISTORY:
    case DOCS_REQ_REST_AUTHORS:
    case DOCS_REQ_REST_RESTORE: docs_send_not_found(out, r); break;
    }
}

/* The document could not be loaded (or the wait queue is full). */
static void answer_unavailable(const docs *t, const docs_request *r, int err, const char *message, fanout *out) {
    if (r->kind == DOCS_REQ_CLOSE) return;
    size_t rl;
    const char *ref = ref_of(r, &rl);
    if (err == -ENOMEM) {
        doc_send_no_memory(t->cfg.metrics, out, r->key, ref, rl);
        if (r->kind == DOCS_REQ_OPEN) fanout_drop(out, r->key, r->doc, r->doc_len);
        return;
    }
    int code = err == -ENOSPC || err == -EIO || err == -EROFS || err == -EACCES || err == -EAGAIN
                   ? PROTO_ERR_STORAGE_UNAVAILABLE
                   : PROTO_ERR_INTERNAL;
    doc_send_error(out, r->key, code, message, ref, rl);
    if (r->kind == DOCS_REQ_OPEN) fanout_drop(out, r->key, r->doc, r->doc_len);
}

static void wait_or_refuse(docs *t, docs_entry *e, const docs_request *r, fanout *out) {
    uint32_t max = t->cfg.max_waiting_per_doc != 0 ? t->cfg.max_waiting_per_doc : DOCS_MAX_WAITING_PER_DOC;
    if (e->count_waiting >= max && r->kind != DOCS_REQ_CLOSE) {
        answer_unavailable(t, r, -EAGAIN, "the document is busy loading; retry", out);
        return;
    }
    wait_push(e, (docs_request *)r);
}

/* Runs requests that waited for a job, in order; each releases its reference. */
static void run_waiting(docs *t, docs_request *w, fanout *out, int64_t now_ms) {
    /* bounded by the requests that waited */
    while (w != NULL) {
        docs_request *r = w;
        w = r->next;
        r->next = NULL;
        docs_execute(t, r, out, now_ms);
        mailbox_msg_unref(&r->hdr);
    }
}

static void start_delete(docs *t, docs_entry *e, fanout *out, int64_t now_ms) {
    if (t->cfg.cluster != NULL) {
        docs_cluster_delete(t, e);
        return;
    }
    docs_job *j = docs_job_new(DOCS_JOB_DELETE, t->cfg.self);
    int rc = j != NULL ? docs_ensure_data_dir(t) : -ENOMEM;
    if (rc != 0) {
        if (j != NULL) mailbox_msg_unref(&j->hdr);
        docs_request *w = entry_remove_busy(t, e);
        docs_request *del = w;
        w = del->next;
        doc_send_error(out, del->key, PROTO_ERR_STORAGE_UNAVAILABLE, "the document could not be deleted", NULL, 0);
        mailbox_msg_unref(&del->hdr);
        run_waiting(t, w, out, now_ms);
        return;
    }
    j->data_dir_fd = t->cfg.data_dir_fd;
    memcpy(j->name, e->name, e->name_len + 1);
    j->name_len = e->name_len;
    docs_submit_job(t, j, out, now_ms);
}

static void rest_delete(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    if (t->cfg.cluster != NULL && !cluster_up(t->cfg.cluster)) {
        /* nothing is touched: the clients stay, the caller retries */
        doc_send_error(out, r->key, PROTO_ERR_STORAGE_UNAVAILABLE, "the cluster's storage (Redis) is unreachable; retry",
                       NULL, 0);
        return;
    }
    if (e != NULL) {
        if (store_ring_busy(&e->io)) {
            /* a flush in flight: waiting would need a queue of deletes; the caller retries */
            doc_send_error(out, r->key, PROTO_ERR_STORAGE_UNAVAILABLE, "a write is in flight; retry", NULL, 0);
            return;
        }
        doc_evict_all(e->d, PROTO_ERR_NOT_OPEN, "the document was deleted", out);
        docs_entry_unload(t, e, false, out, now_ms);
    }
    docs_entry *n = entry_new(t, r->doc, r->doc_len, ENTRY_DELETING);
    if (n == NULL) {
        doc_send_no_memory(t->cfg.metrics, out, r->key, NULL, 0);
        return;
    }
    wait_push(n, (docs_request *)r);   /* first in line: answered by the job */
    start_delete(t, n, out, now_ms);
}

void docs_load_for(docs *t, const docs_request *r, fanout *out, int64_t now_ms) {
    if (docs_entry_find(t, r->doc, r->doc_len, NULL) != NULL) {
        docs_execute(t, r, out, now_ms);   /* loaded or busy meanwhile: like any request */
        return;
    }
    docs_entry *e = entry_new(t, r->doc, r->doc_len, ENTRY_LOADING);
    if (e == NULL) {
        answer_unavailable(t, r, -ENOMEM, PROTO_NO_MEMORY_MESSAGE, out);
        return;
    }
    e->load_create = creates(r);
    wait_push(e, (docs_request *)r);
    start_load(t, e, out, now_ms);
}

void docs_execute(docs *t, const docs_request *r, fanout *out, int64_t now_ms) {
    docs_entry *e = docs_entry_find(t, r->doc, r->doc_len, NULL);
    if (e != NULL && e->state != ENTRY_READY) {
        wait_or_refuse(t, e, r, out);
        return;
    }
    if (r->kind == DOCS_REQ_REST_DELETE) {
        rest_delete(t, e, r, out, now_ms);
        return;
    }
    if (e == NULL) {
        if (r->kind == DOCS_REQ_CLOSE) return;
        if ((r->kind == DOCS_REQ_PRESENCE || r->kind == DOCS_REQ_OP) && !r->rest) {
            answer_absent(r, out);
            return;
        }
        if (r->kind == DOCS_REQ_REST_INFO && t->cfg.cluster == NULL && docs_ensure_data_dir(t) == 0) {
            /* listing: the metadata file (read by the disk helper) when it is current, else a load */
            docs_rest_info_absent(t, r, out, now_ms);
            return;
        }
        docs_load_for(t, r, out, now_ms);
        return;
    }
    e->quiet_since_ms = 0;
    bool fresh = e->fresh;
    e->fresh = false;
    switch ((docs_request_kind)r->kind) {
    case DOCS_REQ_OPEN: {
        /* a follower behind the client's version: the log will get there */
        if (e->following && r->has_v && r->v > doc_published_version(e->d) && docs_cluster_hold_open(e, r)) break;
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
        docs_entry_mark_dirty(t, e);
        break;
    case DOCS_REQ_PRESENCE: doc_presence(e->d, r->key, r->v, docs_request_sel(r), r->count_sel, out); break;
    case DOCS_REQ_CLOSE: doc_close(e->d, r->key, out); break;
    case DOCS_REQ_REST_GET: docs_rest_version_text(t, e, r, out, now_ms); break;
    case DOCS_REQ_REST_HISTORY: docs_rest_history(t, e, r, out, now_ms); break;
    case DOCS_REQ_REST_AUTHORS: docs_rest_authors(t, e, r, out, now_ms); break;
    case DOCS_REQ_REST_RESTORE: docs_rest_restore(t, e, r, out, now_ms); break;
    case DOCS_REQ_REST_OPS: rest_ops(t, e, r, out, now_ms); break;
    case DOCS_REQ_REST_INFO: {
        const ot_text *text = ot_doc_text(doc_ot(e->d));
        docs_send_info(out, r, doc_published_version(e->d), ot_text_len_codepoints(text), ot_text_len_bytes(text));
        break;
    }
    case DOCS_REQ_REST_TEXT: docs_rest_text(t, e, r, fresh, out); break;
    case DOCS_REQ_REST_DELETE: break;
    }
}

/* ---- finished disk jobs ---------------------------------------------------------- */

/* A load that failed in the file system (not a missing or damaged document):
 * the data dir went read-only, lost its permissions or its disk. /healthz
 * says degraded until a load succeeds again (loaded documents report their
 * own write failures through the same count). */
static bool storage_errno(int rc) {
    return rc == -EACCES || rc == -EPERM || rc == -EROFS || rc == -EIO || rc == -ENOSPC || rc == -EDQUOT;
}

static void set_load_degraded(docs *t, bool failed) {
    if (failed == t->load_degraded) return;
    t->load_degraded = failed;
    if (t->cfg.degraded == NULL) return;
    if (failed) atomic_fetch_add(t->cfg.degraded, 1);
    else atomic_fetch_sub(t->cfg.degraded, 1);
}

static void load_done(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    docs_entry *e = docs_entry_find(t, j->name, j->name_len, NULL);
    if (e == NULL || e->state != ENTRY_LOADING) return;   /* not ours any more (cannot happen: one job per entry) */
    if (storage_errno(j->rc)) {
        set_load_degraded(t, true);
    } else if (j->rc == 0 && t->load_degraded) {
        log_info("data dir %s: documents load again", t->cfg.data_dir_path);
        set_load_degraded(t, false);
    }
    if (j->rc == 0) {
        if (j->report.torn_tail)
            log_warn("document %s: truncated a torn log tail of %zu bytes", e->name, j->report.torn_bytes);
        if (j->report.fallback[0] != '\0') log_warn("document %s: %s", e->name, j->report.fallback);
        int rc = make_ready(t, e, j);
        /* a listing shows it from now on (a failed add only hides it there) */
        if (rc == 0 && t->cfg.names != NULL && nameset_add(t->cfg.names, e->name, e->name_len) != 0)
            log_warn("document %s: not added to the listing: out of memory", e->name);
        if (rc == 0) {
            if (e->fresh) webhook_notify(t->cfg.hooks, WEBHOOK_CREATED, e->name, e->name_len, 0, "", 0);
            run_waiting(t, wait_take(e), out, now_ms);
            return;
        }
        j->rc = rc;
    }
    bool create = e->load_create;
    docs_request *w = entry_remove_busy(t, e);
    if (j->rc == -ENOENT && !create) {
        /* absent: answer in order until a request that creates it, which
         * starts a new load that the rest then wait for */
        while (w != NULL) {
            docs_request *r = w;
            w = r->next;
            r->next = NULL;
            if (docs_entry_find(t, r->doc, r->doc_len, NULL) != NULL || creates(r)) docs_execute(t, r, out, now_ms);
            else answer_absent(r, out);
            mailbox_msg_unref(&r->hdr);
        }
        return;
    }
    log_error("document %s: cannot load from data dir %s: %s%s%s", j->name, t->cfg.data_dir_path,
              store_err_str(j->rc), j->report.message[0] ? ": " : "", j->report.message);
    while (w != NULL) {
        docs_request *r = w;
        w = r->next;
        answer_unavailable(t, r, j->rc, "the document could not be loaded", out);
        mailbox_msg_unref(&r->hdr);
    }
}

void docs_load_outcome(docs *t, int rc, const char *name, size_t name_len, ot_doc *ot, bool created, fanout *out,
                       int64_t now_ms) {
    docs_job j;
    docs_job_answered(&j, DOCS_JOB_LOAD, rc, name, name_len);
    j.doc = ot;
    j.created = created;
    load_done(t, &j, out, now_ms);
    if (j.doc != NULL) ot_doc_free(j.doc);
}

static void delete_done(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    docs_entry *e = docs_entry_find(t, j->name, j->name_len, NULL);
    if (e == NULL || e->state != ENTRY_DELETING) return;
    docs_request *w = entry_remove_busy(t, e);
    docs_request *del = w;
    w = del->next;
    if ((j->rc == 0 || j->rc == -ENOENT) && t->cfg.names != NULL) nameset_remove(t->cfg.names, j->name, j->name_len);
    if (j->rc == 0) webhook_notify(t->cfg.hooks, WEBHOOK_DELETED, j->name, j->name_len, 0, NULL, 0);
    if (j->rc == 0 || j->rc == -ENOENT) send_deleted(out, del, j->rc == 0);
    else doc_send_error(out, del->key, PROTO_ERR_STORAGE_UNAVAILABLE, "the document could not be deleted", NULL, 0);
    mailbox_msg_unref(&del->hdr);
    run_waiting(t, w, out, now_ms);
}


void docs_on_disk_done(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    switch ((docs_job_kind)j->kind) {
    case DOCS_JOB_LOAD: load_done(t, j, out, now_ms); break;
    case DOCS_JOB_DELETE: delete_done(t, j, out, now_ms); break;
    case DOCS_JOB_COMPACT: docs_compact_done(t, j); break;
    case DOCS_JOB_META:
        if (j->rc != 0) log_debug("document %s: listing metadata not written: %s", j->name, strerror(-j->rc));
        break;
    case DOCS_JOB_READ_OPS: read_ops_done(t, j, out); break;
    case DOCS_JOB_TEXT_AT:
    case DOCS_JOB_HISTORY:
    case DOCS_JOB_AUTHORS: docs_history_done(t, j, out, now_ms); break;
    case DOCS_JOB_SEGMENT: docs_segment_done(t, j, out, now_ms); break;
    case DOCS_JOB_META_READ: docs_rest_info_done(t, j, out, now_ms); break;
    }
}

/* The heap an ot_doc's history holds (its packed records, ring and id index). */
static uint64_t history_bytes(docs_entry *e) {
    return ot_doc_history_bytes(doc_ot(e->d));
}

void docs_tick(docs *t, struct worker *w, fanout *out, int64_t now_ms) {
    if (membudget_over(t->cfg.budget) > 0) docs_shed_memory(t, out, now_ms);
    uint64_t subscribers = 0, history = 0;
    for (uint32_t b = 0; b < DOCS_HASH_BUCKETS; b++) {
        for (docs_entry *e = t->buckets[b], *next; e != NULL; e = next) {
            next = e->next;
            if (e->state != ENTRY_READY) continue;
            subscribers += doc_count_subscribers(e->d);
            history += history_bytes(e);
            store_log *lg = e->io.log;
            if (lg == NULL) {
                docs_cluster_tick(t, e, &history, out, now_ms);
                continue;
            }
            if (store_log_failed(lg)) {
                if ((uint64_t)now_ms - e->last_retry_ms >= DOCS_RETRY_MS && !store_ring_busy(&e->io)) {
                    e->last_retry_ms = (uint64_t)now_ms;
                    docs_entry_kick(t, e, w, out, now_ms);
                }
                continue;
            }
            int64_t due = store_log_fsync_due_ms(lg);
            if (due >= 0 && due <= now_ms) docs_entry_kick(t, e, w, out, now_ms);
            if (store_ring_busy(&e->io)) continue;
            docs_maybe_compact(t, e, out, now_ms);
            if (!doc_is_quiet(e->d) || !store_log_idle(lg) || e->compacting) {
                e->quiet_since_ms = 0;
                continue;
            }
            if (e->quiet_since_ms == 0) e->quiet_since_ms = (uint64_t)now_ms + 1;
            else if ((uint64_t)now_ms - e->quiet_since_ms >= t->cfg.idle_ms && !e->dirty) {
                history -= history_bytes(e);
                docs_entry_unload(t, e, true, out, now_ms);
            }
        }
    }
    if (t->cfg.metrics != NULL) {
        metrics_set(&t->cfg.metrics->docs_loaded, t->count_loaded);
        metrics_set(&t->cfg.metrics->doc_subscribers, subscribers);
        metrics_set(&t->cfg.metrics->doc_history_bytes, history);
    }
}

void docs_free(docs *t, int64_t now_ms) {
    if (t == NULL) return;
    docs_stop_disk(t);
    for (uint32_t b = 0; b < DOCS_HASH_BUCKETS; b++) {
        while (t->buckets[b] != NULL) {
            docs_entry *e = t->buckets[b];
            if (e->state != ENTRY_READY) {
                if (e->cd != NULL) cluster_doc_close(e->cd);
                docs_request *w = entry_remove_busy(t, e);
                while (w != NULL) {
                    docs_request *r = w;
                    w = r->next;
                    mailbox_msg_unref(&r->hdr);
                }
                continue;
            }
            if (e->io.log != NULL && store_ring_busy(&e->io)) {
                /* the ring is gone with its CQE: the log state is unknown, keep the bytes on disk as they are */
                t->buckets[b] = e->next;
                docs_entry_set_degraded(t, e, false);
                free(e->compact_image);
                doc_free(e->d);
                store_doc_files_close(&e->files);
                free(e);
                t->count_loaded--;
                continue;
            }
            /* the helper is stopped: the metadata is written inline */
            docs_entry_unload(t, e, true, NULL, now_ms);
        }
    }
    set_load_degraded(t, false);
    if (t->cfg.data_dir_fd >= 0) close(t->cfg.data_dir_fd);
    free(t->faults);
    free(t);
}
