// fuzz-sources: src/proto/protocol.c src/proto/protocol_enc.c src/proto/protocol_fast.c src/proto/auth.c src/proto/docname.c src/proto/json_check.c src/base/utf8.c
/*
 * Fuzzes the ringpad.v1 decoder, the JSON string writer and JWT verification.
 * The first byte picks the target; the rest is the input.
 *   0: proto_decode; a decoded op/presence is re-encoded as the server would
 *      send it, decoded again, and must come back equal.
 *   1: proto_json_string; whatever it accepts must parse back (jansson) to
 *      exactly the input bytes.
 *   2: auth_verify with a fixed secret: any result, never a crash.
 *   3: the direct op decoder against the jansson tree: whatever the direct
 *      one accepts, the tree accepts with the same fields.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/auth.h"
#include "proto/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int cond) {
    if (!cond) abort();
}

static void fuzz_decode(const char *in, size_t len) {
    static proto_msg msg, again;
    static int ready;
    if (!ready) {
        proto_msg_init(&msg);
        proto_msg_init(&again);
        ready = 1;
    }
    proto_limits limits = proto_limits_default();
    limits.ot.max_op_bytes = 4096;
    limits.ot.max_op_components = 256;
    int rc = proto_decode(&limits, in, len, &msg);
    if (rc != PROTO_OK) {
        check(msg.err_message[0] != '\0');
        check(proto_err_code_str(rc)[0] != '\0');
        ot_buf b;
        ot_buf_init(&b);
        proto_str ref = {msg.has_err_ref ? msg.err_ref : NULL, msg.err_ref_len};
        check(proto_enc_error(&b, rc, proto_cstr(msg.err_message), ref) == 0);
        ot_buf_free(&b);
        return;
    }
    ot_buf b;
    ot_buf_init(&b);
    proto_str doc = {msg.doc, msg.doc_len};
    if (msg.type == PROTO_OP) {
        check(proto_enc_op(&b, doc, msg.v, (proto_str){msg.id, msg.id_len}, &msg.op,
                           proto_cstr("by")) == 0);
        check(proto_decode(&limits, b.data, b.len, &again) == PROTO_OK);
        check(again.type == PROTO_OP && again.v == msg.v && ot_op_equal(&again.op, &msg.op));
        check(again.id_len == msg.id_len && memcmp(again.id, msg.id, msg.id_len) == 0);
        check(again.doc_len == msg.doc_len && memcmp(again.doc, msg.doc, msg.doc_len) == 0);
    } else if (msg.type == PROTO_PRESENCE) {
        proto_peer peer = {proto_cstr("s"), proto_cstr("n"), proto_cstr("#fff"), msg.sel,
                           msg.count_sel};
        check(proto_enc_presence(&b, doc, &peer, msg.v) == 0);
        check(proto_decode(&limits, b.data, b.len, &again) == PROTO_OK);
        check(again.type == PROTO_PRESENCE && again.count_sel == msg.count_sel);
        check(memcmp(again.sel, msg.sel, msg.count_sel * sizeof msg.sel[0]) == 0);
    } else if (msg.type == PROTO_HELLO && msg.has_name) {
        check(proto_json_string(&b, msg.name, msg.name_len) == 0);
    }
    ot_buf_free(&b);
}

static void fuzz_fast(const char *in, size_t len) {
    static proto_msg fast, tree;
    static int ready;
    if (!ready) {
        proto_msg_init(&fast);
        proto_msg_init(&tree);
        ready = 1;
    }
    proto_limits limits = proto_limits_default();
    limits.ot.max_op_bytes = 4096;
    limits.ot.max_op_components = 256;
    proto_msg_free(&fast);
    proto_msg_init(&fast);
    if (!proto_decode_op_fast(&limits, in, len, &fast)) return;
    check(proto_decode_tree(&limits, in, len, &tree) == PROTO_OK);
    check(fast.type == tree.type && fast.v == tree.v && fast.has_v == tree.has_v);
    check(fast.id_len == tree.id_len && memcmp(fast.id, tree.id, fast.id_len) == 0);
    check(fast.doc_len == tree.doc_len && memcmp(fast.doc, tree.doc, fast.doc_len) == 0);
    check(ot_op_equal(&fast.op, &tree.op));
}

static void fuzz_string(const char *in, size_t len) {
    ot_buf b;
    ot_buf_init(&b);
    if (proto_json_string(&b, in, len) == 0) {
        json_error_t e;
        json_t *v = json_loadb(b.data, b.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
        check(v != NULL && json_is_string(v));
        check(json_string_length(v) == len && memcmp(json_string_value(v), in, len) == 0);
        json_decref(v);
    } else {
        check(b.len == 0);
    }
    ot_buf_free(&b);
}

static void fuzz_token(const char *in, size_t len) {
    auth_secret secret;
    check(auth_secret_set(&secret, "fuzz-secret-0123456789", 22) == AUTH_OK);
    static auth_claims claims;
    int rc = auth_verify(&secret, in, len, 1700000000, &claims);
    check(auth_err_str(rc)[0] != '\0');
    if (rc == AUTH_OK) (void)auth_role_for(&claims, "notes/a", 7);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 4) {
    case 0: fuzz_decode(in, len); break;
    case 1: fuzz_string(in, len); break;
    case 3: fuzz_fast(in, len); break;
    default: fuzz_token(in, len); break;
    }
    return 0;
}
