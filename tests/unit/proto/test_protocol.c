#include <criterion/criterion.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "proto/protocol.h"

static proto_msg msg;

static void setup(void) { proto_msg_init(&msg); }
static void teardown(void) { proto_msg_free(&msg); }

TestSuite(protocol, .init = setup, .fini = teardown);

static int dec(const char *json) {
    return proto_decode(NULL, json, strlen(json), &msg);
}

static int dec_with(const proto_limits *l, const char *json) {
    return proto_decode(l, json, strlen(json), &msg);
}

static char *op_json(const ot_op *op) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_op_to_json(op, &b), OT_OK);
    char *s = strdup(b.data);
    ot_buf_free(&b);
    return s;
}

#define EXPECT_ERR(json, code, needle)                                                       \
    do {                                                                                     \
        int rc_ = dec(json);                                                                 \
        cr_assert_eq(rc_, (code), "%s -> %s (%s)", (json), proto_err_code_str(rc_),          \
                     msg.err_message);                                                       \
        cr_assert(strstr(msg.err_message, (needle)) != NULL, "%s: message \"%s\" lacks \"%s\"", \
                  (json), msg.err_message, (needle));                                        \
    } while (0)

/* ---- decoding: every message ------------------------------------------------------- */

Test(protocol, decode_hello) {
    cr_assert_eq(dec("{\"type\":\"hello\",\"token\":\"a.b.c\",\"name\":\"Zo\xc3\xab \xf0\x9f\x98\x80\","
                     "\"color\":\"#1a2B3c\"}"), PROTO_OK, "%s", msg.err_message);
    cr_assert_eq(msg.type, PROTO_HELLO);
    cr_assert(msg.has_token);
    cr_assert_str_eq(msg.token, "a.b.c");
    cr_assert_eq(msg.token_len, 5);
    cr_assert(msg.has_name);
    cr_assert_str_eq(msg.name, "Zo\xc3\xab \xf0\x9f\x98\x80");
    cr_assert(msg.has_color);
    cr_assert_str_eq(msg.color, "#1a2B3c");
    cr_assert_eq(dec("{\"type\":\"hello\"}"), PROTO_OK);
    cr_assert(!msg.has_token && !msg.has_name && !msg.has_color);
    cr_assert_eq(dec("{\"type\":\"hello\",\"color\":\"#abc\"}"), PROTO_OK);
}

Test(protocol, decode_open_with_and_without_v) {
    cr_assert_eq(dec("{\"type\":\"open\",\"doc\":\"notes/today.md\"}"), PROTO_OK);
    cr_assert_eq(msg.type, PROTO_OPEN);
    cr_assert_str_eq(msg.doc, "notes/today.md");
    cr_assert_eq(msg.doc_len, 14);
    cr_assert(!msg.has_v);
    cr_assert_eq(dec("{\"doc\":\"x\",\"v\":42,\"type\":\"open\"}"), PROTO_OK);
    cr_assert(msg.has_v);
    cr_assert_eq(msg.v, 42);
}

Test(protocol, decode_op_with_emoji_and_cjk) {
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"d\",\"v\":7,\"id\":\"c1:3\","
                     "\"op\":[2,\"\xf0\x9f\x98\x80\xe4\xb8\xad\",-1,\"\\ud83d\\ude00\",4]}"),
                 PROTO_OK, "%s", msg.err_message);
    cr_assert_eq(msg.type, PROTO_OP);
    cr_assert_str_eq(msg.doc, "d");
    cr_assert_eq(msg.v, 7);
    cr_assert_str_eq(msg.id, "c1:3");
    cr_assert_eq(msg.id_len, 4);
    char *j = op_json(&msg.op);
    /* canonical: the two inserts merge ahead of the delete */
    cr_assert_str_eq(j, "[2,\"\xf0\x9f\x98\x80\xe4\xb8\xad\xf0\x9f\x98\x80\",-1,4]");
    free(j);
    cr_assert_eq(msg.op.base_len_codepoints, 7);
    cr_assert_eq(msg.op.target_len_codepoints, 9);
}

Test(protocol, decode_empty_op_is_the_noop_on_an_empty_doc) {
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[]}"), PROTO_OK);
    cr_assert_eq(msg.op.count_components, 0);
}

Test(protocol, decode_presence) {
    cr_assert_eq(dec("{\"type\":\"presence\",\"doc\":\"d\",\"v\":3,\"sel\":[[1,4],[9,9]]}"), PROTO_OK);
    cr_assert_eq(msg.type, PROTO_PRESENCE);
    cr_assert_eq(msg.v, 3);
    cr_assert_eq(msg.count_sel, 2);
    cr_assert_eq(msg.sel[0].anchor, 1);
    cr_assert_eq(msg.sel[0].head, 4);
    cr_assert_eq(msg.sel[1].anchor, 9);
    cr_assert_eq(msg.sel[1].head, 9);
    cr_assert_eq(dec("{\"type\":\"presence\",\"doc\":\"d\",\"v\":3,\"sel\":[]}"), PROTO_OK);
    cr_assert_eq(msg.count_sel, 0);
}

Test(protocol, decode_close_and_ping) {
    cr_assert_eq(dec("{\"type\":\"close\",\"doc\":\"a-b_c.d\"}"), PROTO_OK);
    cr_assert_eq(msg.type, PROTO_CLOSE);
    cr_assert_str_eq(msg.doc, "a-b_c.d");
    cr_assert_eq(dec("{\"type\":\"ping\"}"), PROTO_OK);
    cr_assert_eq(msg.type, PROTO_PING);
}

Test(protocol, unknown_fields_are_ignored) {
    cr_assert_eq(dec("{\"type\":\"close\",\"doc\":\"a\",\"future\":{\"x\":[1,2]}}"), PROTO_OK);
}

Test(protocol, a_reused_msg_forgets_the_previous_message) {
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"x\",\"op\":[1,\"a\"]}"), PROTO_OK);
    cr_assert_eq(dec("{\"type\":\"open\",\"doc\":\"e\"}"), PROTO_OK);
    cr_assert(!msg.has_v);
    cr_assert_eq(msg.id_len, 0);
    cr_assert_eq(msg.op.count_components, 0);
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"x\",\"op\":[0]}"), PROTO_ERR_BAD_OP);
    cr_assert(msg.has_err_ref);
    cr_assert_eq(dec("{\"type\":\"ping\"}"), PROTO_OK);
    cr_assert(!msg.has_err_ref);
    cr_assert_str_eq(msg.err_message, "");
}

/* ---- decoding: errors ------------------------------------------------------------------ */

Test(protocol, bad_json) {
    EXPECT_ERR("", PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("hello", PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("{\"type\":\"ping\"", PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("{\"type\":\"ping\"} x", PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("\"ping\"", PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("[{\"type\":\"ping\"}]", PROTO_ERR_BAD_JSON, "must be a JSON object");
    EXPECT_ERR("{\"type\":\"ping\",\"type\":\"ping\"}", PROTO_ERR_BAD_JSON, "duplicate");
    EXPECT_ERR("{\"type\":\"hello\",\"name\":\"\\ud800\"}", PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"x\",\"op\":[99999999999999999999]}",
               PROTO_ERR_BAD_JSON, "not JSON");
    EXPECT_ERR("{\"a\":[[[[[[[[[1]]]]]]]]]}", PROTO_ERR_BAD_JSON, "nested deeper than 8");
    /* Brackets inside strings do not count as nesting. */
    cr_assert_eq(dec("{\"type\":\"hello\",\"name\":\"[[[[[[[[[[[[\\\"[[[[\"}"), PROTO_OK,
                 "%s", msg.err_message);
    cr_assert_str_eq(proto_err_code_str(PROTO_ERR_BAD_JSON), "bad_json");
}

Test(protocol, error_messages_are_printable_ascii) {
    /* jansson quotes the offending input; an invalid byte must not leak through. */
    cr_assert_eq(dec("{\"type\":\"\xff\xfe\"}"), PROTO_ERR_BAD_JSON);
    for (const char *p = msg.err_message; *p; p++)
        cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e, "%s", msg.err_message);
    cr_assert_eq(dec("{\"type\":\"\xc3\xa9t\xc3\xa9\"}"), PROTO_ERR_UNKNOWN_TYPE);
    for (const char *p = msg.err_message; *p; p++)
        cr_assert((unsigned char)*p >= 0x20 && (unsigned char)*p <= 0x7e, "%s", msg.err_message);
}

Test(protocol, bad_message_names_the_field) {
    EXPECT_ERR("{}", PROTO_ERR_BAD_MESSAGE, "missing field \"type\"");
    EXPECT_ERR("{\"type\":3}", PROTO_ERR_BAD_MESSAGE, "field \"type\" must be a string");
    EXPECT_ERR("{\"type\":\"open\"}", PROTO_ERR_BAD_MESSAGE, "missing field \"doc\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":5}", PROTO_ERR_BAD_MESSAGE, "field \"doc\" must be a string");
    EXPECT_ERR("{\"type\":\"close\"}", PROTO_ERR_BAD_MESSAGE, "missing field \"doc\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":-1}", PROTO_ERR_BAD_MESSAGE, "field \"v\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":1.5}", PROTO_ERR_BAD_MESSAGE, "field \"v\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":1.0}", PROTO_ERR_BAD_MESSAGE, "field \"v\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":1e3}", PROTO_ERR_BAD_MESSAGE, "field \"v\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":\"3\"}", PROTO_ERR_BAD_MESSAGE, "field \"v\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":null}", PROTO_ERR_BAD_MESSAGE, "field \"v\"");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"d\",\"v\":9007199254740992}", PROTO_ERR_BAD_MESSAGE,
               "field \"v\" must be an integer in 0..9007199254740991");
    cr_assert_eq(dec("{\"type\":\"open\",\"doc\":\"d\",\"v\":9007199254740991}"), PROTO_OK);
    cr_assert_eq(msg.v, 9007199254740991ULL);

    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"id\":\"x\",\"op\":[]}", PROTO_ERR_BAD_MESSAGE,
               "missing field \"v\"");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"op\":[]}", PROTO_ERR_BAD_MESSAGE,
               "missing field \"id\"");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":7,\"op\":[]}", PROTO_ERR_BAD_MESSAGE,
               "field \"id\" must be a string");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"\",\"op\":[]}", PROTO_ERR_BAD_MESSAGE,
               "field \"id\" must be 1..128 bytes of printable ASCII");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"a\\nb\",\"op\":[]}",
               PROTO_ERR_BAD_MESSAGE, "field \"id\"");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"\xc3\xa9\",\"op\":[]}",
               PROTO_ERR_BAD_MESSAGE, "field \"id\"");
    EXPECT_ERR("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\"}", PROTO_ERR_BAD_MESSAGE,
               "missing field \"op\"");

    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0}", PROTO_ERR_BAD_MESSAGE,
               "missing field \"sel\"");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"sel\":[]}", PROTO_ERR_BAD_MESSAGE,
               "missing field \"v\"");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":{}}", PROTO_ERR_BAD_MESSAGE,
               "field \"sel\" must be an array");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[[1]]}", PROTO_ERR_BAD_MESSAGE,
               "field \"sel[0]\"");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[[1,2],[1,2,3]]}",
               PROTO_ERR_BAD_MESSAGE, "field \"sel[1]\"");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[[1,-2]]}", PROTO_ERR_BAD_MESSAGE,
               "field \"sel[0]\"");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[[1,2.5]]}", PROTO_ERR_BAD_MESSAGE,
               "field \"sel[0]\"");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[3]}", PROTO_ERR_BAD_MESSAGE,
               "field \"sel[0]\"");
    char many[2048] = "{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[";
    for (int i = 0; i <= PROTO_MAX_SEL_RANGES; i++) strcat(many, i ? ",[1,1]" : "[1,1]");
    strcat(many, "]}");
    EXPECT_ERR(many, PROTO_ERR_BAD_MESSAGE, "more than 32 ranges");

    EXPECT_ERR("{\"type\":\"hello\",\"token\":5}", PROTO_ERR_BAD_MESSAGE, "field \"token\"");
    EXPECT_ERR("{\"type\":\"hello\",\"token\":\"\"}", PROTO_ERR_BAD_MESSAGE, "field \"token\"");
    EXPECT_ERR("{\"type\":\"hello\",\"name\":\"a\\u0007b\"}", PROTO_ERR_BAD_MESSAGE,
               "field \"name\" must not contain control characters");
    EXPECT_ERR("{\"type\":\"hello\",\"name\":\"a\\u0000b\"}", PROTO_ERR_BAD_MESSAGE, "field \"name\"");
    char long_name[200] = "{\"type\":\"hello\",\"name\":\"";
    for (int i = 0; i < PROTO_MAX_NAME_BYTES + 1; i++) strcat(long_name, "n");
    strcat(long_name, "\"}");
    EXPECT_ERR(long_name, PROTO_ERR_BAD_MESSAGE, "field \"name\" must be 1..128 bytes");
    EXPECT_ERR("{\"type\":\"hello\",\"color\":\"red\"}", PROTO_ERR_BAD_MESSAGE, "field \"color\"");
    EXPECT_ERR("{\"type\":\"hello\",\"color\":\"#12345g\"}", PROTO_ERR_BAD_MESSAGE, "field \"color\"");
    EXPECT_ERR("{\"type\":\"hello\",\"color\":\"#1234\"}", PROTO_ERR_BAD_MESSAGE, "field \"color\"");
    EXPECT_ERR("{\"type\":\"hello\",\"color\":\"#12345678\"}", PROTO_ERR_BAD_MESSAGE, "field \"color\"");
    cr_assert_str_eq(proto_err_code_str(PROTO_ERR_BAD_MESSAGE), "bad_message");
}

Test(protocol, id_of_128_bytes_is_accepted_129_refused) {
    char json[512], id[130];
    memset(id, 'i', 128);
    id[128] = '\0';
    snprintf(json, sizeof json, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"%s\",\"op\":[]}", id);
    cr_assert_eq(dec(json), PROTO_OK);
    cr_assert_eq(msg.id_len, 128);
    id[128] = 'i';
    id[129] = '\0';
    snprintf(json, sizeof json, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"%s\",\"op\":[]}", id);
    cr_assert_eq(dec(json), PROTO_ERR_BAD_MESSAGE);
    cr_assert(!msg.has_err_ref);
}

Test(protocol, unknown_type) {
    EXPECT_ERR("{\"type\":\"subscribe\"}", PROTO_ERR_UNKNOWN_TYPE, "unknown message type \"subscribe\"");
    EXPECT_ERR("{\"type\":\"OP\"}", PROTO_ERR_UNKNOWN_TYPE, "\"OP\"");
    EXPECT_ERR("{\"type\":\"\"}", PROTO_ERR_UNKNOWN_TYPE, "unknown message type");
    /* A NUL inside the type must not let it pass for a shorter one. */
    EXPECT_ERR("{\"type\":\"ping\\u0000x\"}", PROTO_ERR_UNKNOWN_TYPE, "unknown message type");
    /* Server-only types are not client messages. */
    EXPECT_ERR("{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"x\",\"v\":1}", PROTO_ERR_UNKNOWN_TYPE, "\"ack\"");
    cr_assert_str_eq(proto_err_code_str(PROTO_ERR_UNKNOWN_TYPE), "unknown_type");
}

Test(protocol, doc_names) {
    const char *good[] = {"a", "notes/2024-01-01.md", "a..b", ".hidden", "x/.y/z", "A_b-C.9",
                          "..a", "a/b/c/d"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        cr_assert(proto_doc_name_valid(good[i], strlen(good[i]), 256), "%s", good[i]);
    const char *bad[] = {"", "/a", "a/", "a//b", "..", "a/../b", "../a", "a/..", ".", "./a",
                         "a/./b", "a b", "a\\b", "caf\xc3\xa9", "a*", "a:b", "a?b", "%2e%2e"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert(!proto_doc_name_valid(bad[i], strlen(bad[i]), 256), "%s", bad[i]);
    char name[300];
    memset(name, 'n', sizeof name);
    cr_assert(proto_doc_name_valid(name, PROTO_MAX_DOC_NAME_BYTES, 300));
    cr_assert(!proto_doc_name_valid(name, PROTO_MAX_DOC_NAME_BYTES + 1, 300)); /* the hard cap */
    cr_assert(!proto_doc_name_valid(name, 11, 10));   /* a configured lower limit */
    cr_assert(!proto_doc_name_valid("a\0b", 3, 256));

    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"../etc/passwd\"}", PROTO_ERR_BAD_DOC_NAME, "document names");
    EXPECT_ERR("{\"type\":\"close\",\"doc\":\"\"}", PROTO_ERR_BAD_DOC_NAME, "1..200 bytes");
    EXPECT_ERR("{\"type\":\"presence\",\"doc\":\"/abs\",\"v\":0,\"sel\":[]}", PROTO_ERR_BAD_DOC_NAME,
               "document names");
    EXPECT_ERR("{\"type\":\"open\",\"doc\":\"a\\u0000b\"}", PROTO_ERR_BAD_DOC_NAME, "document names");
    proto_limits l = proto_limits_default();
    l.max_doc_name_bytes = 4;
    cr_assert_eq(dec_with(&l, "{\"type\":\"open\",\"doc\":\"abcd\"}"), PROTO_OK);
    cr_assert_eq(dec_with(&l, "{\"type\":\"open\",\"doc\":\"abcde\"}"), PROTO_ERR_BAD_DOC_NAME);
    cr_assert(strstr(msg.err_message, "1..4 bytes") != NULL, "%s", msg.err_message);
    cr_assert_str_eq(proto_err_code_str(PROTO_ERR_BAD_DOC_NAME), "bad_doc_name");
}

static void expect_bad_op(const char *op, const char *needle) {
    char json[512];
    snprintf(json, sizeof json, "{\"type\":\"op\",\"doc\":\"d\",\"v\":3,\"id\":\"c:9\",\"op\":%s}", op);
    int rc = dec(json);
    cr_assert_eq(rc, PROTO_ERR_BAD_OP, "%s -> %s (%s)", op, proto_err_code_str(rc), msg.err_message);
    cr_assert(strstr(msg.err_message, needle) != NULL, "%s: \"%s\" lacks \"%s\"", op,
              msg.err_message, needle);
    cr_assert(msg.has_err_ref);
    cr_assert_str_eq(msg.err_ref, "c:9");
    cr_assert_eq(msg.err_ref_len, 3);
}

Test(protocol, bad_op_carries_ot_error_and_ref) {
    expect_bad_op("{}", ot_err_str(OT_ERR_NOT_ARRAY));
    expect_bad_op("\"abc\"", ot_err_str(OT_ERR_NOT_ARRAY));
    expect_bad_op("[1,0]", "op[1]: ");
    expect_bad_op("[1,0]", ot_err_str(OT_ERR_ZERO_COUNT));
    expect_bad_op("[\"\"]", ot_err_str(OT_ERR_EMPTY_INSERT));
    expect_bad_op("[1.5]", ot_err_str(OT_ERR_COUNT_RANGE));
    expect_bad_op("[2,1e2]", "op[1]: ");
    expect_bad_op("[9007199254740992]", ot_err_str(OT_ERR_COUNT_RANGE));
    expect_bad_op("[-9007199254740992]", ot_err_str(OT_ERR_COUNT_RANGE));
    expect_bad_op("[true]", ot_err_str(OT_ERR_BAD_COMPONENT));
    expect_bad_op("[null]", ot_err_str(OT_ERR_BAD_COMPONENT));
    expect_bad_op("[[1]]", ot_err_str(OT_ERR_BAD_COMPONENT));
    expect_bad_op("[{\"i\":\"x\"}]", ot_err_str(OT_ERR_BAD_COMPONENT));
    expect_bad_op("[1,\"a\\u0000b\"]", ot_err_str(OT_ERR_BAD_UTF8));
    cr_assert_str_eq(proto_err_code_str(PROTO_ERR_BAD_OP), "bad_op");
}

Test(protocol, errors_before_the_id_have_no_ref_and_after_it_do) {
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"op\":[]}"), PROTO_ERR_BAD_MESSAGE);
    cr_assert(!msg.has_err_ref);
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"/bad\",\"v\":0,\"id\":\"q\",\"op\":[]}"),
                 PROTO_ERR_BAD_DOC_NAME);
    cr_assert(msg.has_err_ref);
    cr_assert_str_eq(msg.err_ref, "q");
    cr_assert_eq(dec("{\"type\":\"op\",\"doc\":\"d\",\"v\":-1,\"id\":\"q\",\"op\":[]}"),
                 PROTO_ERR_BAD_MESSAGE);
    cr_assert(msg.has_err_ref);
    cr_assert_eq(dec("{\"type\":\"open\",\"doc\":\"/bad\",\"id\":\"q\"}"), PROTO_ERR_BAD_DOC_NAME);
    cr_assert(!msg.has_err_ref);
}

Test(protocol, op_too_large) {
    proto_limits l = proto_limits_default();
    l.ot.max_op_components = 3;
    l.ot.max_op_bytes = 8;
    l.max_message_bytes = 200;
    /* More JSON components than allowed, before any is parsed. */
    cr_assert_eq(dec_with(&l, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[1,-1,\"a\",1]}"),
                 PROTO_ERR_OP_TOO_LARGE);
    cr_assert(strstr(msg.err_message, "4 components, the limit is 3") != NULL, "%s", msg.err_message);
    cr_assert(msg.has_err_ref);
    /* Inserted bytes past max_op_bytes (OT's own check). */
    cr_assert_eq(dec_with(&l, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[\"123456789\"]}"),
                 PROTO_ERR_OP_TOO_LARGE);
    cr_assert(strstr(msg.err_message, ot_err_str(OT_ERR_TOO_LARGE)) != NULL, "%s", msg.err_message);
    cr_assert_eq(dec_with(&l, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[\"12345678\"]}"),
                 PROTO_OK, "%s", msg.err_message);
    /* A retain beyond the largest document. */
    l.ot.max_doc_codepoints = 100;
    cr_assert_eq(dec_with(&l, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[101]}"),
                 PROTO_ERR_OP_TOO_LARGE);
    /* The whole message past max_message_bytes. */
    char big[400];
    snprintf(big, sizeof big, "{\"type\":\"hello\",\"name\":\"%0150d\",\"pad\":\"%050d\"}", 0, 0);
    cr_assert_eq(dec_with(&l, big), PROTO_ERR_OP_TOO_LARGE);
    cr_assert(strstr(msg.err_message, "over the 200 byte limit") != NULL, "%s", msg.err_message);
    cr_assert_str_eq(proto_err_code_str(PROTO_ERR_OP_TOO_LARGE), "op_too_large");
}

Test(protocol, error_codes_are_exactly_the_contract) {
    const char *want[] = {"bad_json", "bad_message", "unknown_type", "unauthorized", "forbidden",
                          "bad_doc_name", "bad_op", "version_too_old", "version_ahead",
                          "doc_too_large", "op_too_large", "too_many_docs", "rate_limited",
                          "not_open", "storage_unavailable", "internal", "bad_selection",
                          "no_memory"};
    for (int i = 0; i < 18; i++)
        cr_assert_str_eq(proto_err_code_str(-(i + 1)), want[i]);
    cr_assert_str_eq(proto_err_code_str(-99), "internal");
    cr_assert_eq(proto_err_from_ot_submit(OT_OK), PROTO_OK);
    cr_assert_eq(proto_err_from_ot_submit(OT_ERR_VERSION_TOO_OLD), PROTO_ERR_VERSION_TOO_OLD);
    cr_assert_eq(proto_err_from_ot_submit(OT_ERR_VERSION_AHEAD), PROTO_ERR_VERSION_AHEAD);
    cr_assert_eq(proto_err_from_ot_submit(OT_ERR_TOO_LARGE), PROTO_ERR_DOC_TOO_LARGE);
    cr_assert_eq(proto_err_from_ot_submit(OT_ERR_BASE_LENGTH), PROTO_ERR_BAD_OP);
    cr_assert_eq(proto_err_from_ot_submit(OT_ERR_NOMEM), PROTO_ERR_NO_MEMORY);
}

/* ---- encoding ---------------------------------------------------------------------------- */

static ot_buf buf;
static void enc_setup(void) { ot_buf_init(&buf); proto_msg_init(&msg); }
static void enc_teardown(void) { ot_buf_free(&buf); proto_msg_free(&msg); }

TestSuite(protocol_enc, .init = enc_setup, .fini = enc_teardown);

#define S(lit) ((proto_str){(lit), sizeof(lit) - 1})
#define NONE ((proto_str){NULL, 0})

Test(protocol_enc, welcome) {
    proto_welcome_limits l = {.max_message_bytes = 1114112, .max_op_bytes = 1048576,
                              .max_op_components = 65536, .max_doc_codepoints = 16777216,
                              .max_doc_name_bytes = 256, .max_open_docs = 64,
                              .history_depth = 1000, .presence_per_second = 20};
    cr_assert_eq(proto_enc_welcome(&buf, S("s-1"), S("ringpad/0.1"), &l), 0);
    cr_assert_str_eq(buf.data,
        "{\"type\":\"welcome\",\"session\":\"s-1\",\"server\":\"ringpad/0.1\",\"limits\":{"
        "\"max_message_bytes\":1114112,\"max_op_bytes\":1048576,\"max_op_components\":65536,"
        "\"max_doc_codepoints\":16777216,\"max_doc_name_bytes\":256,\"max_open_docs\":64,"
        "\"history_depth\":1000,\"presence_per_second\":20}}");
}

Test(protocol_enc, synced_ack_leave_pong) {
    cr_assert_eq(proto_enc_synced(&buf, S("notes/a"), 12), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"synced\",\"doc\":\"notes/a\",\"v\":12}");
    ot_buf_clear(&buf);
    cr_assert_eq(proto_enc_ack(&buf, S("d"), S("c1:7"), 18446744073709551615ULL), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"c1:7\",\"v\":18446744073709551615}");
    ot_buf_clear(&buf);
    cr_assert_eq(proto_enc_leave(&buf, S("d"), S("s-2")), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"leave\",\"doc\":\"d\",\"session\":\"s-2\"}");
    ot_buf_clear(&buf);
    cr_assert_eq(proto_enc_pong(&buf), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"pong\"}");
    /* Encoders append: two messages back to back. */
    cr_assert_eq(proto_enc_synced(&buf, S("d"), 0), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"pong\"}{\"type\":\"synced\",\"doc\":\"d\",\"v\":0}");
}

Test(protocol_enc, error_with_and_without_ref) {
    cr_assert_eq(proto_enc_error(&buf, PROTO_ERR_BAD_OP, S("op[1]: \"x\""), S("c:1")), 0);
    cr_assert_str_eq(buf.data,
        "{\"type\":\"error\",\"code\":\"bad_op\",\"message\":\"op[1]: \\\"x\\\"\",\"ref\":\"c:1\"}");
    ot_buf_clear(&buf);
    cr_assert_eq(proto_enc_error(&buf, PROTO_ERR_UNAUTHORIZED, S("token expired"), NONE), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"error\",\"code\":\"unauthorized\",\"message\":\"token expired\"}");
}

Test(protocol_enc, snapshot_with_peers_and_null_fields) {
    proto_range sel[] = {{1, 3}, {5, 5}};
    proto_peer peers[] = {
        {.session = S("s-1"), .name = S("Ann"), .color = S("#fa0"), .sel = sel, .count_sel = 2},
        {.session = S("s-2"), .name = NONE, .color = NONE, .sel = NULL, .count_sel = 0},
    };
    cr_assert_eq(proto_enc_snapshot(&buf, S("d"), 4, S("he\"llo\n"), peers, 2), 0);
    cr_assert_str_eq(buf.data,
        "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":4,\"text\":\"he\\\"llo\\n\",\"peers\":["
        "{\"session\":\"s-1\",\"name\":\"Ann\",\"color\":\"#fa0\",\"sel\":[[1,3],[5,5]]},"
        "{\"session\":\"s-2\",\"name\":null,\"color\":null,\"sel\":[]}]}");
    ot_buf_clear(&buf);
    cr_assert_eq(proto_enc_snapshot(&buf, S("e"), 0, S(""), NULL, 0), 0);
    cr_assert_str_eq(buf.data, "{\"type\":\"snapshot\",\"doc\":\"e\",\"v\":0,\"text\":\"\",\"peers\":[]}");
}

Test(protocol_enc, op_round_trips_through_the_decoder) {
    ot_op op;
    ot_op_init(&op);
    const char *text = "[3,\"\\\"\xf0\x9f\x8e\x89\\n\",-2,1]";
    cr_assert_eq(ot_op_parse_json(&op, text, strlen(text), NULL, NULL), OT_OK);
    cr_assert_eq(proto_enc_op(&buf, S("d/x"), 41, S("c2:5"), &op, S("alice")), 0);
    char *ops = op_json(&op);
    char want[256];
    snprintf(want, sizeof want,
             "{\"type\":\"op\",\"doc\":\"d/x\",\"v\":41,\"id\":\"c2:5\",\"op\":%s,\"by\":\"alice\"}", ops);
    cr_assert_str_eq(buf.data, want);
    free(ops);
    /* A server op is also a valid client op: decode it back. */
    cr_assert_eq(proto_decode(NULL, buf.data, buf.len, &msg), PROTO_OK, "%s", msg.err_message);
    cr_assert_eq(msg.type, PROTO_OP);
    cr_assert_str_eq(msg.doc, "d/x");
    cr_assert_eq(msg.v, 41);
    cr_assert_str_eq(msg.id, "c2:5");
    cr_assert(ot_op_equal(&msg.op, &op));
    ot_op_free(&op);
}

Test(protocol_enc, presence_round_trips_through_the_decoder) {
    proto_range sel[] = {{0, 7}, {9007199254740991ULL, 2}};
    proto_peer p = {.session = S("s-9"), .name = S("Bo \xe6\x9d\x8e"), .color = S("#00ff00"),
                    .sel = sel, .count_sel = 2};
    cr_assert_eq(proto_enc_presence(&buf, S("d"), &p, 6), 0);
    cr_assert_str_eq(buf.data,
        "{\"type\":\"presence\",\"doc\":\"d\",\"session\":\"s-9\",\"name\":\"Bo \xe6\x9d\x8e\","
        "\"color\":\"#00ff00\",\"v\":6,\"sel\":[[0,7],[9007199254740991,2]]}");
    cr_assert_eq(proto_decode(NULL, buf.data, buf.len, &msg), PROTO_OK, "%s", msg.err_message);
    cr_assert_eq(msg.type, PROTO_PRESENCE);
    cr_assert_eq(msg.v, 6);
    cr_assert_eq(msg.count_sel, 2);
    cr_assert_eq(msg.sel[1].anchor, 9007199254740991ULL);
    cr_assert_eq(msg.sel[1].head, 2);
}

Test(protocol_enc, every_message_is_valid_json) {
    proto_range sel[] = {{1, 2}};
    proto_peer p = {.session = S("s"), .name = S("n"), .color = NONE, .sel = sel, .count_sel = 1};
    proto_welcome_limits l = {0};
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_retain(&op, 2), OT_OK);
    cr_assert_eq(proto_enc_welcome(&buf, S("s"), S("v"), &l), 0);
    cr_assert_eq(proto_enc_synced(&buf, S("d"), 1), 0);
    cr_assert_eq(proto_enc_snapshot(&buf, S("d"), 1, S("t"), &p, 1), 0);
    cr_assert_eq(proto_enc_ack(&buf, S("d"), S("i"), 1), 0);
    cr_assert_eq(proto_enc_op(&buf, S("d"), 1, S("i"), &op, S("b")), 0);
    cr_assert_eq(proto_enc_presence(&buf, S("d"), &p, 1), 0);
    cr_assert_eq(proto_enc_leave(&buf, S("d"), S("s")), 0);
    cr_assert_eq(proto_enc_error(&buf, PROTO_ERR_INTERNAL, S("m"), S("r")), 0);
    cr_assert_eq(proto_enc_pong(&buf), 0);
    const char *types[] = {"welcome", "synced", "snapshot", "ack", "op", "presence", "leave",
                           "error", "pong"};
    size_t off = 0;
    for (size_t i = 0; i < 9; i++) {
        json_error_t e;
        json_t *v = json_loadb(buf.data + off, buf.len - off, JSON_DISABLE_EOF_CHECK, &e);
        cr_assert_not_null(v, "message %zu: %s", i, e.text);
        cr_assert(json_is_object(v));
        cr_assert_str_eq(json_string_value(json_object_get(v, "type")), types[i]);
        off += (size_t)e.position;
        json_decref(v);
    }
    cr_assert_eq(off, buf.len);
    ot_op_free(&op);
}

Test(protocol_enc, escaping_control_chars_quotes_unicode_emoji) {
    const char in[] = "\x01\x1f\b\f\n\r\t\"\\/\x7f" "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf";
    cr_assert_eq(proto_json_string(&buf, in, sizeof in - 1), 0);
    cr_assert_str_eq(buf.data,
        "\"\\u0001\\u001f\\b\\f\\n\\r\\t\\\"\\\\/\x7f" "caf\xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"");
    ot_buf_clear(&buf);
    const char nul[] = {'a', '\0', 'b'};
    cr_assert_eq(proto_json_string(&buf, nul, 3), 0);
    cr_assert_str_eq(buf.data, "\"a\\u0000b\"");
}

Test(protocol_enc, every_byte_round_trips_through_jansson) {
    char in[160];
    size_t n = 0;
    for (int c = 0; c < 0x80; c++) in[n++] = (char)c;
    memcpy(in + n, "\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf0\x9f\xa7\x91", 18);
    n += 18;
    cr_assert_eq(proto_json_string(&buf, in, n), 0);
    json_error_t e;
    json_t *v = json_loadb(buf.data, buf.len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    cr_assert_not_null(v, "%s", e.text);
    cr_assert_eq(json_string_length(v), n);
    cr_assert(memcmp(json_string_value(v), in, n) == 0);
    json_decref(v);
}

Test(protocol_enc, invalid_utf8_is_refused_and_rolled_back) {
    const char *bad[] = {"\x80", "\xc0\x80", "\xc1\xbf", "\xe0\x80\x80", "\xed\xa0\x80",
                         "\xf0\x80\x80\x80", "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf0\x9f\x98",
                         "\xe4\xb8", "\xc3", "ok\xff", "\xc3\x28"};
    cr_assert_eq(proto_enc_pong(&buf), 0);
    size_t before = buf.len;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(proto_json_string(&buf, bad[i], strlen(bad[i])), -EINVAL, "case %zu", i);
        cr_assert_eq(buf.len, before, "case %zu", i);
        cr_assert_eq(proto_enc_ack(&buf, S("d"), (proto_str){bad[i], strlen(bad[i])}, 1), -EINVAL);
        cr_assert_eq(buf.len, before, "case %zu", i);
        cr_assert_str_eq(buf.data, "{\"type\":\"pong\"}");
    }
}
