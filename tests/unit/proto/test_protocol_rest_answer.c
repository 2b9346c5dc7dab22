/* proto/protocol_rest: an owner's typed REST answer packed into one rbuf and
 * back (the strings travel with it), told from a frame, and rendered by the
 * encoder into the bodies of docs/PROTOCOL.md §15. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proto/protocol_rest.h"

static void render(const proto_rest_answer *a, char *out, size_t cap) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(proto_enc_rest_answer(&b, a), 0);
    cr_assert_lt(b.len, cap);
    memcpy(out, b.data, b.len);
    out[b.len] = '\0';
    ot_buf_free(&b);
}

Test(protocol_rest_answer, a_packed_answer_carries_its_fields_and_strings) {
    char text[] = "h\xc3\xa9llo";
    proto_rest_answer a = {.kind = PROTO_REST_TEXT, .v = 7, .codepoints = 5, .doc = proto_cstr("a/b"),
                           .text = proto_cstr(text)};
    rbuf *b = proto_rest_answer_pack(&a);
    cr_assert_not_null(b);
    text[0] = 'X';   /* the answer holds copies */
    cr_assert(proto_rest_answer_is(b));
    proto_rest_answer got;
    cr_assert_eq(proto_rest_answer_unpack(b, &got), 0);
    cr_assert_eq(got.kind, PROTO_REST_TEXT);
    cr_assert_eq(got.v, 7);
    cr_assert_eq(got.codepoints, 5);
    cr_assert_eq(got.doc.len, 3);
    cr_assert_eq(memcmp(got.doc.ptr, "a/b", 3), 0);
    cr_assert_eq(got.text.len, 6);
    cr_assert_eq(memcmp(got.text.ptr, "h\xc3\xa9llo", 6), 0);
    cr_assert((const uint8_t *)got.text.ptr >= b->data && (const uint8_t *)got.text.ptr < b->data + b->len);
    cr_assert_null(got.code.ptr, "absent strings stay absent");
    char out[128];
    render(&got, out, sizeof out);
    cr_assert_str_eq(out, "{\"v\":7,\"codepoints\":5,\"doc\":\"a/b\",\"text\":\"h\xc3\xa9llo\"}");
    rbuf_unref(b);
}

Test(protocol_rest_answer, a_frame_is_not_an_answer) {
    static const char frame[] = "\x81\x7e\x01\x00{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"x\",\"v\":1}..........................................................................................................................";
    rbuf *f = rbuf_from(frame, sizeof frame - 1);
    cr_assert_not(proto_rest_answer_is(f));
    proto_rest_answer a;
    cr_assert_eq(proto_rest_answer_unpack(f, &a), -EINVAL);
    rbuf_unref(f);
    rbuf *tiny = rbuf_from("\x81\x02{}", 4);
    cr_assert_not(proto_rest_answer_is(tiny));
    cr_assert_eq(proto_rest_answer_unpack(tiny, &a), -EINVAL);
    rbuf_unref(tiny);
    cr_assert_not(proto_rest_answer_is(NULL));
}

Test(protocol_rest_answer, every_kind_renders_its_body) {
    char out[256];
    proto_rest_answer err = {.kind = PROTO_REST_ERROR, .code = proto_cstr("not_found"),
                             .message = proto_cstr("no such \"document\""), .doc = proto_cstr("d")};
    render(&err, out, sizeof out);
    cr_assert_str_eq(out, "{\"code\":\"not_found\",\"message\":\"no such \\\"document\\\"\"}");
    proto_rest_answer written = {.kind = PROTO_REST_WRITTEN, .doc = proto_cstr("d"), .v = 4, .flag = false};
    render(&written, out, sizeof out);
    cr_assert_str_eq(out, "{\"doc\":\"d\",\"v\":4,\"changed\":false}");
    proto_rest_answer info = {.kind = PROTO_REST_INFO, .doc = proto_cstr("m"), .v = 1, .codepoints = 2, .bytes = 6};
    render(&info, out, sizeof out);
    cr_assert_str_eq(out, "{\"doc\":\"m\",\"v\":1,\"codepoints\":2,\"bytes\":6}");
    proto_rest_answer del = {.kind = PROTO_REST_DELETED, .flag = true};
    render(&del, out, sizeof out);
    cr_assert_str_eq(out, "{\"deleted\":true}");
    del.flag = false;
    render(&del, out, sizeof out);
    cr_assert_str_eq(out, "{\"deleted\":false}");
    proto_rest_answer ops = {.kind = PROTO_REST_OPS, .v = 9, .from = 2, .to = 4,
                             .items = proto_cstr("{\"v\":2},{\"v\":3}")};
    render(&ops, out, sizeof out);
    cr_assert_str_eq(out, "{\"v\":9,\"from\":2,\"to\":4,\"ops\":[{\"v\":2},{\"v\":3}]}");
    ops.items = (proto_str){NULL, 0};
    render(&ops, out, sizeof out);
    cr_assert_str_eq(out, "{\"v\":9,\"from\":2,\"to\":4,\"ops\":[]}");
    proto_rest_answer hist = {.kind = PROTO_REST_HISTORY, .doc = proto_cstr("d"), .v = 9, .from = 0, .to = 9,
                              .items = proto_cstr("{\"by\":\"a\"}")};
    render(&hist, out, sizeof out);
    cr_assert_str_eq(out, "{\"v\":9,\"doc\":\"d\",\"from\":0,\"to\":9,\"sessions\":[{\"by\":\"a\"}]}");
    proto_rest_answer authors = {.kind = PROTO_REST_AUTHORS, .doc = proto_cstr("d"), .v = 3,
                                 .items = proto_cstr("\"text\":\"abc\",\"base\":0,\"spans\":[]")};
    render(&authors, out, sizeof out);
    cr_assert_str_eq(out, "{\"v\":3,\"doc\":\"d\",\"text\":\"abc\",\"base\":0,\"spans\":[]}");
}

Test(protocol_rest_answer, an_unknown_kind_or_bad_text_is_refused_and_leaves_the_buffer) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_buf_append(&b, "keep", 4), OT_OK);
    proto_rest_answer bad = {.kind = 99};
    cr_assert_eq(proto_enc_rest_answer(&b, &bad), -EINVAL);
    proto_rest_answer text = {.kind = PROTO_REST_TEXT, .doc = proto_cstr("d"), .text = {"\xff", 1}};
    cr_assert_eq(proto_enc_rest_answer(&b, &text), -EINVAL);
    cr_assert_eq(b.len, 4);
    cr_assert_eq(memcmp(b.data, "keep", 4), 0);
    ot_buf_free(&b);
}

Test(protocol_rest_answer, history_sessions_and_author_spans_are_written_by_the_encoder) {
    ot_buf b;
    ot_buf_init(&b);
    proto_session_item s1 = {.by = proto_cstr("ann"), .from = 0, .to = 3, .start_ms = -5, .end_ms = 1700000000000,
                             .count_ops = 3, .added = 4, .removed = 1};
    proto_session_item s2 = {.by = proto_cstr("b\"o"), .from = 3, .to = 4, .count_ops = 1};
    cr_assert_eq(proto_enc_rest_session_item(&b, true, &s1), 0);
    cr_assert_eq(proto_enc_rest_session_item(&b, false, &s2), 0);
    cr_assert_str_eq(b.data, "{\"by\":\"ann\",\"from\":0,\"to\":3,\"start\":-5,\"end\":1700000000000,\"ops\":3,"
                             "\"added\":4,\"removed\":1},{\"by\":\"b\\\"o\",\"from\":3,\"to\":4,\"start\":0,\"end\":0,"
                             "\"ops\":1,\"added\":0,\"removed\":0}");
    ot_buf_clear(&b);
    proto_author_span spans[] = {{.by = {NULL, 0}, .from = 0, .to = 2}, {.by = proto_cstr("ann"), .from = 2, .to = 5}};
    cr_assert_eq(proto_enc_rest_authors(&b, proto_cstr("ab\xc3\xa9xy"), 7, spans, 2), 0);
    cr_assert_str_eq(b.data, "\"text\":\"ab\xc3\xa9xy\",\"base\":7,\"spans\":[{\"by\":null,\"from\":0,\"to\":2},"
                             "{\"by\":\"ann\",\"from\":2,\"to\":5}]");
    ot_buf_clear(&b);
    cr_assert_eq(proto_enc_rest_authors(&b, (proto_str){NULL, 0}, 0, NULL, 0), 0);
    cr_assert_str_eq(b.data, "\"text\":\"\",\"base\":0,\"spans\":[]");
    ot_buf_free(&b);
}

/* A REST write's ack travels typed and renders byte for byte as the ack
 * message a session gets (PROTOCOL.md §4, §15: POST .../ops answers it). */
Test(protocol_rest_answer, an_ack_packs_its_id_and_renders_as_the_ack_message) {
    char id[] = "backend:\"7\"";
    proto_rest_answer a = {.kind = PROTO_REST_ACK, .doc = proto_cstr("notes/a"), .id = proto_cstr(id), .v = 41};
    rbuf *b = proto_rest_answer_pack(&a);
    cr_assert_not_null(b);
    id[0] = 'X';   /* the answer holds a copy */
    proto_rest_answer got;
    cr_assert_eq(proto_rest_answer_unpack(b, &got), 0);
    cr_assert_eq(got.kind, PROTO_REST_ACK);
    cr_assert_eq(got.v, 41);
    cr_assert_eq(got.id.len, strlen("backend:\"7\""));
    cr_assert_eq(memcmp(got.id.ptr, "backend:\"7\"", got.id.len), 0);
    char out[256];
    render(&got, out, sizeof out);
    cr_assert_str_eq(out, "{\"type\":\"ack\",\"doc\":\"notes/a\",\"id\":\"backend:\\\"7\\\"\",\"v\":41}");
    ot_buf frame;
    ot_buf_init(&frame);
    cr_assert_eq(proto_enc_ack(&frame, proto_cstr("notes/a"), proto_cstr("backend:\"7\""), 41), 0);
    cr_assert_eq(frame.len, strlen(out));
    cr_assert_eq(memcmp(frame.data, out, frame.len), 0, "the same bytes as a session's ack");
    ot_buf_free(&frame);
    rbuf_unref(b);
}

/* A webhook's body comes from the encoder: byte for byte what jansson wrote
 * for it before, but for the hex of \u escapes (control characters), which
 * the one escaper writes in lowercase; the receiver's HMAC is over the bytes
 * sent either way. */
Test(protocol_rest_answer, a_webhook_body_is_written_by_the_encoder_as_jansson_wrote_it) {
    static const char *const texts[] = {NULL, "", "plain", "quote \" back \\ slash / nl\n tab\t cr\r",
                                        "h\xc3\xa9 \xe2\x80\xa8 \xf0\x9f\x98\x80"};
    for (size_t i = 0; i < sizeof texts / sizeof texts[0]; i++) {
        ot_buf b;
        ot_buf_init(&b);
        proto_str text = texts[i] != NULL ? proto_cstr(texts[i]) : (proto_str){NULL, 0};
        cr_assert_eq(proto_enc_webhook(&b, proto_cstr("changed"), proto_cstr("notes/a b"), 7, text), 0);
        json_t *o = json_pack("{s:s, s:s, s:I}", "event", "changed", "doc", "notes/a b", "v", (json_int_t)7);
        if (texts[i] != NULL) json_object_set_new(o, "text", json_string(texts[i]));
        char *want = json_dumps(o, JSON_COMPACT);
        cr_assert_str_eq(b.data, want, "text %zu", i);
        free(want);
        json_decref(o);
        ot_buf_free(&b);
    }
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(proto_enc_webhook(&b, proto_cstr("created"), proto_cstr("d"), 0, proto_cstr("ctl \x01\x1f")), 0);
    cr_assert_str_eq(b.data, "{\"event\":\"created\",\"doc\":\"d\",\"v\":0,\"text\":\"ctl \\u0001\\u001f\"}");
    ot_buf_free(&b);
}
