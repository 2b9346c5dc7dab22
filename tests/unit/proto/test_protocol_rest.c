/* REST bodies through the protocol codec: op bodies decoded straight into a
 * proto_msg, and every REST answer written by the one encoder. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "proto/protocol.h"
#include "proto/protocol_rest.h"

static proto_msg msg;
static ot_buf out;

static void setup(void) {
    proto_msg_init(&msg);
    ot_buf_init(&out);
}
static void teardown(void) {
    proto_msg_free(&msg);
    ot_buf_free(&out);
}

static int body(const char *json) {
    proto_limits l = proto_limits_default();
    return proto_decode_op_body(&l, json, strlen(json), "notes/a", 7, &msg);
}

Test(protocol_rest, an_op_body_decodes_into_an_op_message_for_the_path_document, .init = setup, .fini = teardown) {
    cr_assert_eq(body("{\"v\":3,\"id\":\"r1\",\"op\":[2,\"x\",-1],\"type\":\"ignored\",\"doc\":\"other\"}"), PROTO_OK);
    cr_assert_eq(msg.type, PROTO_OP);
    cr_assert_str_eq(msg.doc, "notes/a");
    cr_assert_eq(msg.doc_len, 7);
    cr_assert_eq(msg.v, 3);
    cr_assert_str_eq(msg.id, "r1");
    ot_buf_clear(&out);
    cr_assert_eq(ot_op_to_json(&msg.op, &out), OT_OK);
    cr_assert_str_eq(out.data, "[2,\"x\",-1]");
}

Test(protocol_rest, bad_op_bodies_get_the_codes_of_the_websocket_decoder, .init = setup, .fini = teardown) {
    cr_assert_eq(body("[1]"), PROTO_ERR_BAD_JSON);
    cr_assert_str_eq(msg.err_message, "the body must be a JSON object {v, id, op}");
    cr_assert_eq(body("{\"v\":"), PROTO_ERR_BAD_JSON);
    cr_assert_eq(body("{\"id\":\"a\\u0000\",\"v\":0,\"op\":[]}"), PROTO_ERR_BAD_JSON, "NUL is refused in REST bodies");
    cr_assert_eq(body("{\"id\":\"a\",\"id\":\"b\",\"v\":0,\"op\":[]}"), PROTO_ERR_BAD_JSON, "duplicate keys");
    cr_assert_eq(body("{\"v\":0,\"op\":[\"x\"]}"), PROTO_ERR_BAD_MESSAGE);
    cr_assert_str_eq(msg.err_message, "missing field \"id\"");
    cr_assert_eq(body("{\"id\":\"q\",\"op\":[\"x\"]}"), PROTO_ERR_BAD_MESSAGE);
    cr_assert_str_eq(msg.err_message, "missing field \"v\"");
    cr_assert(msg.has_err_ref && strcmp(msg.err_ref, "q") == 0, "errors after the id name it");
    cr_assert_eq(body("{\"id\":\"q\",\"v\":0,\"op\":[0.5]}"), PROTO_ERR_BAD_OP);
    cr_assert_eq(body("{\"id\":\"q\",\"v\":0,\"op\":[[[[[[[[[1]]]]]]]]]}"), PROTO_ERR_BAD_JSON, "nesting");
    proto_limits l = proto_limits_default();
    l.max_message_bytes = 10;
    cr_assert_eq(proto_decode_op_body(&l, "{\"v\":0,\"id\":\"x\",\"op\":[]}", 24, "d", 1, &msg), PROTO_ERR_OP_TOO_LARGE);
}

Test(protocol_rest, errors_and_listings_are_written_by_the_encoder, .init = setup, .fini = teardown) {
    cr_assert_eq(proto_enc_rest_error(&out, "not_found", proto_cstr("no \"such\"\ndocument")), 0);
    cr_assert_str_eq(out.data, "{\"code\":\"not_found\",\"message\":\"no \\\"such\\\"\\ndocument\"}");
    ot_buf_clear(&out);
    proto_doc_info docs[2] = {
        {.name = proto_cstr("a"), .v = 1, .codepoints = 2, .bytes = 3},
        {.name = proto_cstr("b/c"), .v = 9007199254740991ULL, .codepoints = 0, .bytes = 0},
    };
    cr_assert_eq(proto_enc_rest_list(&out, docs, 2, proto_cstr("b/c")), 0);
    cr_assert_str_eq(out.data, "{\"docs\":[{\"name\":\"a\",\"v\":1,\"codepoints\":2,\"bytes\":3},{\"name\":\"b/c\","
                               "\"v\":9007199254740991,\"codepoints\":0,\"bytes\":0}],\"next\":\"b/c\"}");
    ot_buf_clear(&out);
    cr_assert_eq(proto_enc_rest_list(&out, NULL, 0, (proto_str){NULL, 0}), 0);
    cr_assert_str_eq(out.data, "{\"docs\":[]}");
}

Test(protocol_rest, op_items_render_a_live_op_and_a_logged_one_alike, .init = setup, .fini = teardown) {
    proto_limits l = proto_limits_default();
    cr_assert_eq(proto_decode_op_body(&l, "{\"v\":0,\"id\":\"x\",\"op\":[1,\"\\u00e9\"]}", 34, "d", 1, &msg), PROTO_OK);
    proto_op_item live = {.v = 4, .id = proto_cstr("x"), .by = proto_cstr("ada"), .time_ms = 1700000000123, .op = &msg.op};
    proto_op_item logged = {.v = 5, .id = proto_cstr("y"), .by = proto_cstr("bo"), .time_ms = -5,
                            .op_json = proto_cstr("[\"z\"]")};
    cr_assert_eq(proto_enc_rest_op_item(&out, true, &live), 0);
    cr_assert_eq(proto_enc_rest_op_item(&out, false, &logged), 0);
    cr_assert_str_eq(out.data, "{\"v\":4,\"id\":\"x\",\"by\":\"ada\",\"time\":1700000000123,\"op\":[1,\"\xc3\xa9\"]},"
                               "{\"v\":5,\"id\":\"y\",\"by\":\"bo\",\"time\":-5,\"op\":[\"z\"]}");
    /* invalid UTF-8 is refused and the buffer left as it was */
    size_t before = out.len;
    proto_op_item bad = {.v = 6, .id = proto_cstr("\xff"), .by = proto_cstr("a"), .op_json = proto_cstr("[]")};
    cr_assert_eq(proto_enc_rest_op_item(&out, false, &bad), -EINVAL);
    cr_assert_eq(out.len, before);
}

/* The bodies of restore and whole-text writes decode in the codec too, with
 * the codes and messages REST answers them with (PROTOCOL.md §15). */
Test(protocol_rest, a_restore_body_is_a_version) {
    uint64_t v = 0;
    const char *why = NULL;
    cr_assert_eq(proto_decode_restore_body("{\"v\":7}", 7, &v, &why), PROTO_OK);
    cr_assert_eq(v, 7);
    cr_assert_eq(proto_decode_restore_body("[7]", 3, &v, &why), PROTO_ERR_BAD_JSON);
    cr_assert_str_eq(why, "the body is not a JSON object {\"v\": N}");
    cr_assert_eq(proto_decode_restore_body("{\"v\":1,\"v\":2}", 13, &v, &why), PROTO_ERR_BAD_JSON, "duplicate keys");
    cr_assert_eq(proto_decode_restore_body("{\"v\":-1}", 8, &v, &why), PROTO_ERR_BAD_MESSAGE);
    cr_assert_str_eq(why, "v must be the non-negative integer version to restore");
    cr_assert_eq(proto_decode_restore_body("{\"v\":9007199254740992}", 22, &v, &why), PROTO_ERR_BAD_MESSAGE,
                 "beyond 2^53 - 1");
    cr_assert_eq(proto_decode_restore_body("{\"v\":\"1\"}", 9, &v, &why), PROTO_ERR_BAD_MESSAGE);
    cr_assert_eq(v, 7, "untouched by a refusal");
}

Test(protocol_rest, a_text_body_is_plain_text_or_one_json_string) {
    char *text = NULL;
    size_t len = 0;
    const char *why = NULL;
    cr_assert_eq(proto_decode_text_body("{\"text\":\"h\\u00e9\"}", 18, false, 100, &text, &len, &why), PROTO_OK);
    cr_assert_eq(len, 3);
    cr_assert_str_eq(text, "h\xc3\xa9");
    free(text);
    cr_assert_eq(proto_decode_text_body("a\"b", 3, true, 100, &text, &len, &why), PROTO_OK, "plain is taken as is");
    cr_assert_str_eq(text, "a\"b");
    free(text);
    cr_assert_eq(proto_decode_text_body(NULL, 0, true, 100, &text, &len, &why), PROTO_OK, "an empty plain body clears");
    cr_assert_eq(len, 0);
    cr_assert_str_eq(text, "");
    free(text);
    cr_assert_eq(proto_decode_text_body("{\"text\":", 8, false, 100, &text, &len, &why), PROTO_ERR_BAD_JSON);
    cr_assert_str_eq(why, "the body is not a JSON object; send {\"text\": \"...\"} or Content-Type: text/plain");
    cr_assert_eq(proto_decode_text_body("{\"text\":1}", 10, false, 100, &text, &len, &why), PROTO_ERR_BAD_MESSAGE);
    cr_assert_str_eq(why, "the JSON body must be exactly {\"text\": string}");
    cr_assert_eq(proto_decode_text_body("{\"text\":\"a\",\"x\":1}", 18, false, 100, &text, &len, &why),
                 PROTO_ERR_BAD_MESSAGE, "nothing but text");
    cr_assert_eq(proto_decode_text_body("a\xff", 2, true, 100, &text, &len, &why), PROTO_ERR_BAD_MESSAGE);
    cr_assert_str_eq(why, "the text/plain body is not valid UTF-8 (or holds a NUL byte)");
    cr_assert_eq(proto_decode_text_body("a\0b", 3, true, 100, &text, &len, &why), PROTO_ERR_BAD_MESSAGE, "NUL");
    cr_assert_eq(proto_decode_text_body("abcd", 4, true, 3, &text, &len, &why), PROTO_ERR_OP_TOO_LARGE);
    cr_assert_str_eq(why, "the text is larger than the inserted text one op may carry (max_op_bytes)");
    cr_assert_eq(proto_decode_text_body("{\"text\":\"abcd\"}", 15, false, 3, &text, &len, &why),
                 PROTO_ERR_OP_TOO_LARGE);
}
