/* Cluster mode's reads of a document's past: what a single node reads from
 * its files on the disk helper (ops, sessions, authorship, the text at a
 * version) is read here from the document's Redis stream, in pages, on the
 * worker's connection. The result is put in a job like the disk helper's and
 * answered by the same code, so both modes answer alike. */
#include "collab/docs_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "collab/doc_history.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

typedef struct hist_read {
    docs *t;
    docs_job *j;                    /* kind, from, to, req; the result */
    doc_sessions *sessions;         /* HISTORY */
    doc_authors *authors;           /* AUTHORS */
    ot_text *text;                  /* TEXT_AT */
    ot_op op;
    ot_limits limits;
    bool full;                      /* HISTORY: the answer's sessions are all there */
} hist_read;

static void hist_free(hist_read *h) {
    doc_sessions_free(h->sessions);
    doc_authors_free(h->authors);
    if (h->text != NULL) ot_text_free(h->text);
    ot_op_free(&h->op);
    if (h->j != NULL) mailbox_msg_unref(&h->j->hdr);
    free(h);
}

static int on_base(void *ctx, uint64_t oldest, const char *text, size_t len, uint64_t *from, uint64_t *to) {
    hist_read *h = ctx;
    docs_job *j = h->j;
    switch ((docs_job_kind)j->kind) {
    case DOCS_JOB_READ_OPS:
        if (j->from < oldest) return -ERANGE;
        *from = j->from;
        *to = j->to;
        return 0;
    case DOCS_JOB_HISTORY:
        /* from the oldest retained version at the earliest, as the answer says */
        if (j->from < oldest) j->from = oldest;
        h->sessions = doc_sessions_new(j->from, j->max_count, DOC_HISTORY_GAP_MS, &j->ops_json);
        *from = j->from;
        *to = j->to;
        return h->sessions != NULL ? 0 : -ENOMEM;
    case DOCS_JOB_AUTHORS:
        if (j->to < oldest) return -ERANGE;
        j->from = oldest;
        h->authors = doc_authors_new(oldest, text, len);
        *from = oldest;
        *to = j->to;
        return h->authors != NULL ? 0 : -ENOMEM;
    case DOCS_JOB_TEXT_AT:
        /* the text at the base, then every op up to the version asked */
        if (j->from < oldest) return -ERANGE;
        h->text = ot_text_from_utf8(text, len);
        *from = oldest;
        *to = j->from;
        return h->text != NULL ? 0 : -ENOMEM;
    default: return -EINVAL;
    }
}

static int on_entry(void *ctx, const store_record *rec) {
    hist_read *h = ctx;
    docs_job *j = h->j;
    switch ((docs_job_kind)j->kind) {
    case DOCS_JOB_READ_OPS: return docs_job_render_op(j, rec);
    case DOCS_JOB_HISTORY: {
        int rc = doc_sessions_feed(h->sessions, rec);
        if (rc == 1) h->full = true;
        return rc;
    }
    case DOCS_JOB_AUTHORS: return doc_authors_feed(h->authors, rec);
    case DOCS_JOB_TEXT_AT:
        ot_op_clear(&h->op);
        if (ot_op_parse_json(&h->op, rec->op_json, rec->op_len, &h->limits, NULL) != OT_OK ||
            ot_apply(&h->op, h->text) != OT_OK)
            return -EIO;
        return 0;
    default: return -EINVAL;
    }
}

/* The read's result into the job, as the disk helper leaves it. */
static int finish_job(hist_read *h) {
    docs_job *j = h->j;
    switch ((docs_job_kind)j->kind) {
    case DOCS_JOB_HISTORY:
        return doc_sessions_end(h->sessions, h->full, j->to, &j->count_ops, &j->next_version);
    case DOCS_JOB_AUTHORS: return doc_authors_end(h->authors, j->to, &j->ops_json);
    case DOCS_JOB_TEXT_AT: return ot_text_to_buf(h->text, &j->ops_json) == OT_OK ? 0 : -ENOMEM;
    default: return 0;
    }
}

static void on_done(void *ctx, int rc) {
    hist_read *h = ctx;
    if (rc == -ECANCELED) {
        hist_free(h);
        return;
    }
    docs_job *j = h->j;
    if (rc == 0) rc = finish_job(h);
    if (rc == -EIO) log_warn("document %s: its history could not be read from Redis", j->name);
    j->rc = rc;
    docs_on_disk_done(h->t, j, h->t->cfg.cluster_out, (int64_t)clock_mono_ms());
    hist_free(h);
}

static const cluster_log_reader reader = {.base = on_base, .entry = on_entry, .done = on_done};

void docs_cluster_read(docs *t, docs_entry *e, const docs_request *r, uint32_t kind, uint64_t from, uint64_t to,
                       uint32_t max_count, fanout *out, int64_t now_ms) {
    hist_read *h = calloc(1, sizeof *h);
    docs_job *j = h != NULL ? docs_job_new(kind, t->cfg.self) : NULL;
    if (j == NULL) {
        free(h);
        doc_send_no_memory(t->cfg.metrics, out, r->key, NULL, 0);
        return;
    }
    h->t = t;
    h->j = j;
    h->limits = t->cfg.limits;
    /* ops were accepted under the limits of their day */
    h->limits.max_op_bytes = UINT32_MAX;
    h->limits.max_op_components = UINT32_MAX;
    ot_op_init(&h->op);
    memcpy(j->name, e->name, e->name_len + 1);
    j->name_len = e->name_len;
    j->from = from;
    j->to = to;
    j->max_count = max_count;
    j->next_version = from;
    mailbox_msg_ref((mailbox_msg *)&r->hdr);
    j->req = (mailbox_msg *)&r->hdr;
    bool text = kind == DOCS_JOB_AUTHORS || kind == DOCS_JOB_TEXT_AT;
    int rc = cluster_read_log(t->cfg.cluster, e->name, e->name_len, text, &reader, h);
    if (rc == 0) return;
    /* not started (Redis is down): answered now, as a failed read */
    j->rc = rc == -ENOMEM ? -ENOMEM : -EIO;
    docs_on_disk_done(t, j, out, now_ms);
    hist_free(h);
}
