#include "answer_json.h"

#include <criterion/criterion.h>

#include "collab/fanout.h"
#include "proto/protocol_rest.h"

#include <stdio.h>

void answer_json(const rbuf *frame, char *out, size_t cap) {
    proto_rest_answer a;
    if (proto_rest_answer_unpack(frame, &a) != 0) {
        const char *js;
        size_t len;
        cr_assert_eq(fanout_frame_payload(frame, &js, &len), 0, "a frame or a typed answer");
        snprintf(out, cap, "%.*s", (int)len, js);
        return;
    }
    if (a.kind == PROTO_REST_ERROR) {
        snprintf(out, cap, "{\"type\":\"error\",\"code\":\"%.*s\",\"message\":\"%.*s\",\"ref\":\"%.*s\"}", (int)a.code.len,
                 a.code.ptr, (int)a.message.len, a.message.ptr, (int)a.doc.len, a.doc.ptr);
        return;
    }
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(proto_enc_rest_answer(&b, &a), 0);
    snprintf(out, cap, "%.*s", (int)b.len, b.data);
    ot_buf_free(&b);
}
