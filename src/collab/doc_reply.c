/* What the sender of a request hears about it, written for the receiver its
 * key names: a ringpad.v1 frame for a session, a packed proto_rest_answer for
 * a REST call (fanout_key_typed). The owner never asks which: the key says. */
#include "collab/doc.h"

#include "base/metrics.h"

#include <errno.h>

int doc_send_answer(fanout *out, uint64_t key, const proto_rest_answer *a) {
    rbuf *b = proto_rest_answer_pack(a);
    if (b == NULL) {
        /* the caller is told its answer was lost (an internal error), never left waiting */
        fanout_doom(out, fanout_key_worker(key), &key, 1);
        return -ENOMEM;
    }
    fanout_send(out, key, b);
    rbuf_unref(b);
    return 0;
}

int doc_send_error(fanout *out, uint64_t key, int code, const char *message, const char *ref, size_t ref_len) {
    if (fanout_key_typed(key)) {
        /* the ref travels in doc: a REST body leaves it out ({code, message}), an
         * event stream writes the error event a session would have got */
        proto_rest_answer a = {.kind = PROTO_REST_ERROR, .code = proto_cstr(proto_err_code_str(code)),
                               .message = proto_cstr(message), .doc = {ref, ref != NULL ? ref_len : 0}};
        return doc_send_answer(out, key, &a);
    }
    ot_buf b;
    ot_buf_init(&b);
    int rc = proto_enc_error(&b, code, proto_cstr(message), (proto_str){ref, ref_len});
    if (rc == 0) {
        rbuf *f = fanout_frame(b.data, b.len);
        if (f == NULL) rc = -ENOMEM;
        else {
            fanout_send(out, key, f);
            rbuf_unref(f);
        }
    }
    ot_buf_free(&b);
    /* no frame: rather than a silent gap in its stream, the session is closed (PROTOCOL.md §5) */
    if (rc != 0) fanout_doom(out, fanout_key_worker(key), &key, 1);
    return rc;
}

int doc_send_no_memory(struct metrics_worker *m, fanout *out, uint64_t key, const char *ref, size_t ref_len) {
    if (m != NULL) metrics_add(&m->errors[METRICS_ERR_NO_MEMORY], 1);
    return doc_send_error(out, key, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, ref, ref_len);
}
