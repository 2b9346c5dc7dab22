/* The REST reads of a document's past and restore (PROTOCOL.md §15): from the
 * in-memory history when it holds the version, else from the files on the
 * disk helper, so no worker ever waits for the disk. */
#include "collab/docs_internal.h"

#include "base/log.h"
#include "collab/doc_history.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Code points in a UTF-8 byte string. */
static uint64_t count_codepoints(const char *s, size_t len) {
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) n += ((uint8_t)s[i] & 0xC0) != 0x80;
    return n;
}

static void answer_text(fanout *out, const docs_request *r, uint64_t v, const char *text, size_t len) {
    proto_rest_answer a = {.kind = PROTO_REST_TEXT, .v = v, .codepoints = count_codepoints(text, len),
                           .text = {text != NULL ? text : "", len}};
    docs_send_answer(out, r, &a);
}

static void too_old(fanout *out, const docs_request *r, const char *what) {
    doc_send_error(out, r->key, PROTO_ERR_VERSION_TOO_OLD, what, r->doc, r->doc_len);
}

static void ahead(fanout *out, const docs_request *r, const char *what) {
    doc_send_error(out, r->key, PROTO_ERR_VERSION_AHEAD, what, r->doc, r->doc_len);
}

/* The text at v from memory, when the in-memory history reaches it. */
static int text_in_memory(const doc *d, uint64_t v, ot_buf *text) {
    const ot_doc *ot = doc_ot(d);
    if (v < ot_doc_oldest_version(ot) || v > ot_doc_version(ot)) return -ERANGE;
    int rc = v == ot_doc_version(ot) ? ot_text_to_buf(ot_doc_text(ot), text) : ot_doc_text_at(ot, v, text);
    return rc == OT_OK ? 0 : -ENOMEM;
}

static void restore_to(docs *t, docs_entry *e, const docs_request *r, const char *want, size_t want_len, fanout *out);

/* The text at v for r (a read or a restore): from memory, else from the files on the helper. */
static void with_text_at(docs *t, docs_entry *e, const docs_request *r, uint64_t v, fanout *out, int64_t now_ms) {
    ot_buf text;
    ot_buf_init(&text);
    int rc = text_in_memory(e->d, v, &text);
    if (rc == 0 && r->kind == DOCS_REQ_REST_RESTORE) restore_to(t, e, r, text.data, text.len, out);
    else if (rc == 0) answer_text(out, r, v, text.data, text.len);
    else if (rc != -ERANGE) doc_send_no_memory(t->cfg.metrics, out, r->key, NULL, 0);
    else if (v < e->files.oldest_version) too_old(out, r, "v is older than the retained history");
    else docs_read_job(t, e, r, DOCS_JOB_TEXT_AT, v, v + 1, 0, out, now_ms);
    ot_buf_free(&text);
}

void docs_rest_version_text(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    uint64_t pub = doc_published_version(e->d);
    uint64_t v = r->has_v ? r->v : pub;
    if (v > pub) ahead(out, r, "v is newer than the document");
    else with_text_at(t, e, r, v, out, now_ms);
}

void docs_rest_history(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    uint64_t pub = doc_published_version(e->d);
    if (r->v > pub) {
        ahead(out, r, "from is newer than the document");
        return;
    }
    uint64_t from = r->v < e->files.oldest_version ? e->files.oldest_version : r->v;
    docs_read_job(t, e, r, DOCS_JOB_HISTORY, from, pub, DOC_HISTORY_MAX_SESSIONS, out, now_ms);
}

void docs_rest_authors(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    uint64_t pub = doc_published_version(e->d);
    uint64_t v = r->has_v ? r->v : pub;
    if (v > pub) {
        ahead(out, r, "v is newer than the document");
        return;
    }
    if (v < e->files.oldest_version) {
        too_old(out, r, "v is older than the retained history");
        return;
    }
    docs_read_job(t, e, r, DOCS_JOB_AUTHORS, e->files.oldest_version, v, 0, out, now_ms);
}


/* The op that turns `cur` into `want`: the common prefix and suffix kept,
 * the middle replaced (cut on code point boundaries). */
static int restore_op(const char *cur, size_t cur_len, const char *want, size_t want_len, ot_op *op) {
    size_t pre = 0;
    while (pre < cur_len && pre < want_len && cur[pre] == want[pre]) pre++;
    while (pre > 0 && pre < cur_len && ((uint8_t)cur[pre] & 0xC0) == 0x80) pre--;
    size_t suf = 0;
    while (suf < cur_len - pre && suf < want_len - pre && cur[cur_len - 1 - suf] == want[want_len - 1 - suf]) suf++;
    while (suf > 0 && ((uint8_t)cur[cur_len - suf] & 0xC0) == 0x80) suf--;
    int rc = ot_op_retain(op, count_codepoints(cur, pre));
    if (rc == OT_OK) rc = ot_op_delete(op, count_codepoints(cur + pre, cur_len - pre - suf));
    if (rc == OT_OK) rc = ot_op_insert(op, want + pre, want_len - pre - suf);
    if (rc == OT_OK) rc = ot_op_retain(op, count_codepoints(cur + cur_len - suf, suf));
    return rc;
}

/* The restore itself: one op on the current version, by the caller. */
static void restore_to(docs *t, docs_entry *e, const docs_request *r, const char *want, size_t want_len,
                       fanout *out) {
    ot_buf cur;
    ot_buf_init(&cur);
    ot_op op;
    ot_op_init(&op);
    const ot_doc *ot = doc_ot(e->d);
    int rc = ot_text_to_buf(ot_doc_text(ot), &cur);
    if (rc == OT_OK) rc = restore_op(cur.data != NULL ? cur.data : "", cur.len, want != NULL ? want : "", want_len, &op);
    if (rc != OT_OK) {
        doc_send_no_memory(t->cfg.metrics, out, r->key, NULL, 0);
    } else {
        char id[64];
        int n = snprintf(id, sizeof id, "restore:%llu:%lld:%llu", (unsigned long long)r->v, (long long)r->time_ms,
                         (unsigned long long)r->key);
        doc_submit(e->d, r->key, false, r->by, doc_version(e->d), id, (size_t)n, &op, r->time_ms, out);
        docs_entry_mark_dirty(t, e);
    }
    ot_op_free(&op);
    ot_buf_free(&cur);
}

void docs_rest_restore(docs *t, docs_entry *e, const docs_request *r, fanout *out, int64_t now_ms) {
    if (r->v > doc_published_version(e->d)) ahead(out, r, "v is newer than the document");
    else with_text_at(t, e, r, r->v, out, now_ms);
}

void docs_history_done(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    const docs_request *r = (const docs_request *)j->req;
    if (j->rc == -ERANGE || j->rc == -ENOENT) {
        too_old(out, r, "that version is older than the retained history");
        return;
    }
    if (j->rc != 0) {
        log_warn("document %s: the history could not be read: %s", j->name, store_err_str(j->rc));
        doc_send_error(out, r->key, PROTO_ERR_STORAGE_UNAVAILABLE, "the history could not be read", r->doc,
                       r->doc_len);
        return;
    }
    docs_entry *e = docs_entry_find(t, r->doc, r->doc_len, NULL);
    switch ((docs_job_kind)j->kind) {
    case DOCS_JOB_TEXT_AT:
        if (r->kind != DOCS_REQ_REST_RESTORE)
            answer_text(out, r, j->from, j->ops_json.data, j->ops_json.len);
        else if (e != NULL && e->state == ENTRY_READY) restore_to(t, e, r, j->ops_json.data, j->ops_json.len, out);
        else docs_execute(t, r, out, now_ms);   /* unloaded meanwhile: load it again */
        break;
    case DOCS_JOB_HISTORY: {
        uint64_t pub = e != NULL && e->state == ENTRY_READY ? doc_published_version(e->d) : j->to;
        proto_rest_answer a = {.kind = PROTO_REST_HISTORY, .v = pub, .from = j->from, .to = j->next_version,
                               .items = {j->ops_json.data, j->ops_json.len}};
        docs_send_answer(out, r, &a);
        break;
    }
    case DOCS_JOB_AUTHORS: {
        proto_rest_answer a = {.kind = PROTO_REST_AUTHORS, .v = j->to, .items = {j->ops_json.data, j->ops_json.len}};
        docs_send_answer(out, r, &a);
        break;
    }
    default: break;
    }
}
