/* The owner's REST answers that are not about loading: typed answers to a
 * caller's key (the REST side renders them) and the whole-text writes
 * (PUT .../text, POST .../append). */
#include "collab/docs_internal.h"

#include "collab/textdiff.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void docs_send_answer(fanout *out, const docs_request *r, const proto_rest_answer *a) {
    proto_rest_answer full = *a;
    if (full.doc.ptr == NULL) full.doc = (proto_str){r->doc, r->doc_len};
    doc_send_answer(out, r->key, &full);
}

void docs_send_rest_error(fanout *out, const docs_request *r, const char *code, const char *message) {
    proto_rest_answer a = {.kind = PROTO_REST_ERROR, .code = proto_cstr(code), .message = proto_cstr(message)};
    docs_send_answer(out, r, &a);
}

void docs_send_not_found(fanout *out, const docs_request *r) {
    docs_send_rest_error(out, r, "not_found", "no such document");
}

void docs_send_info(fanout *out, const docs_request *r, uint64_t v, uint64_t codepoints, uint64_t bytes) {
    proto_rest_answer a = {.kind = PROTO_REST_INFO, .v = v, .codepoints = codepoints, .bytes = bytes};
    docs_send_answer(out, r, &a);
}

void docs_rest_info_absent(docs *t, const docs_request *r, fanout *out, int64_t now_ms) {
    docs_job *j = docs_job_new(DOCS_JOB_META_READ, t->cfg.self);
    if (j == NULL) {
        doc_send_no_memory(t->cfg.metrics, out, r->key, NULL, 0);
        return;
    }
    j->data_dir_fd = t->cfg.data_dir_fd;
    memcpy(j->name, r->doc, r->doc_len);
    j->name[r->doc_len] = '\0';
    j->name_len = r->doc_len;
    mailbox_msg_ref((mailbox_msg *)&r->hdr);
    j->req = (mailbox_msg *)&r->hdr;
    docs_submit_job(t, j, out, now_ms);
}

void docs_rest_info_done(docs *t, docs_job *j, fanout *out, int64_t now_ms) {
    const docs_request *r = (const docs_request *)j->req;
    if (j->rc == 0) docs_send_info(out, r, j->meta.version, j->meta.count_codepoints, j->meta.count_bytes);
    else if (j->rc == -ENOENT) docs_send_not_found(out, r);
    else docs_load_for(t, r, out, now_ms);   /* stale or damaged: the document itself answers */
}

/* The whole text replaced (the minimal op between the current text and
 * r->text) or r->text appended, as one op at the current version: a REST
 * write needs no transform. Answered by the op's ack, or at once when the
 * text is already what was asked. */
void docs_rest_text(docs *t, docs_entry *e, const docs_request *r, bool fresh, fanout *out) {
    if (r->if_absent && !fresh) {
        docs_send_rest_error(out, r, "already_exists", "the document exists (If-None-Match: * creates it only when absent)");
        return;
    }
    const ot_doc *ot = doc_ot(e->d);
    uint64_t v = ot_doc_version(ot);
    ot_op op;
    ot_op_init(&op);
    ot_buf cur;
    ot_buf_init(&cur);
    int rc;
    if (r->append) {
        rc = ot_op_retain(&op, ot_text_len_codepoints(ot_doc_text(ot)));
        if (rc == OT_OK) rc = ot_op_insert(&op, r->text, r->text_len);
    } else {
        rc = ot_text_to_buf(ot_doc_text(ot), &cur);
        if (rc == OT_OK) rc = textdiff_op(cur.data != NULL ? cur.data : "", cur.len, r->text, r->text_len, &op);
    }
    if (rc != OT_OK) {
        doc_send_error(out, r->key, proto_err_from_ot_submit(rc), ot_err_str(rc), r->doc, r->doc_len);
    } else if (textdiff_is_noop(&op)) {
        proto_rest_answer a = {.kind = PROTO_REST_WRITTEN, .v = v, .flag = false};
        docs_send_answer(out, r, &a);
    } else {
        doc_submit(e->d, r->key, false, r->by, v, r->id, r->id_len, &op, r->time_ms, out);
        docs_entry_mark_dirty(t, e);
    }
    ot_op_free(&op);
    ot_buf_free(&cur);
}
