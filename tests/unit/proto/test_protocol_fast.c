#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "proto/protocol.h"

static proto_msg fast, tree;
static proto_limits limits;

static void setup(void) {
    proto_msg_init(&fast);
    proto_msg_init(&tree);
    limits = proto_limits_default();
}
static void teardown(void) {
    proto_msg_free(&fast);
    proto_msg_free(&tree);
}

TestSuite(protocol_fast, .init = setup, .fini = teardown);

/* The fast path on json; when it accepts, the jansson tree must accept too and
 * give the same fields. Returns whether the fast path accepted. */
static bool fast_agrees(const char *json, size_t len) {
    proto_msg_free(&fast);
    proto_msg_init(&fast);
    bool ok = proto_decode_op_fast(&limits, json, len, &fast);
    int rc = proto_decode_tree(&limits, json, len, &tree);
    if (!ok) return false;
    cr_assert_eq(rc, PROTO_OK, "fast accepted what the tree refuses: %.*s (%s)", (int)len, json, tree.err_message);
    cr_assert_eq(fast.type, tree.type);
    cr_assert_eq(fast.v, tree.v);
    cr_assert(fast.has_v && tree.has_v);
    cr_assert_eq(fast.id_len, tree.id_len);
    cr_assert_str_eq(fast.id, tree.id);
    cr_assert_eq(fast.doc_len, tree.doc_len);
    cr_assert_str_eq(fast.doc, tree.doc);
    cr_assert(fast.has_err_ref && tree.has_err_ref);
    cr_assert_str_eq(fast.err_ref, tree.err_ref);
    cr_assert(ot_op_equal(&fast.op, &tree.op), "ops differ for %.*s", (int)len, json);
    return true;
}

static bool agrees(const char *json) { return fast_agrees(json, strlen(json)); }

Test(protocol_fast, takes_the_common_op_shapes) {
    cr_assert(agrees("{\"type\":\"op\",\"doc\":\"d/1\",\"v\":7,\"id\":\"c:1:2\",\"op\":[3,\"ab\",-2,5]}"));
    cr_assert(agrees("{\"op\":[\"x\"],\"id\":\"a\",\"v\":0,\"doc\":\"d\",\"type\":\"op\"}"));
    cr_assert(agrees(" {\n\t\"type\" : \"op\" ,\"doc\":\"d\", \"v\" : 9007199254740991 ,\"id\":\"i\",\"op\":[ ] }\r\n"));
    cr_assert(agrees("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[1,\"a\\nb\\\"c\\\\d\\/e\\tf\"]}"));
    cr_assert(agrees("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[\"\xf0\x9f\x98\x80\xe4\xb8\xad\"]}"));
    cr_assert_eq(fast.op.count_components, 1);
}

Test(protocol_fast, leaves_the_rest_to_the_tree) {
    const char *declined[] = {
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[\"\\u0041\"]}",      /* \u escape */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"v\":2,\"id\":\"i\",\"op\":[1]}",          /* duplicate key */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[1],\"x\":0}",          /* unknown key */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1.0,\"id\":\"i\",\"op\":[1]}",                /* real */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":01,\"id\":\"i\",\"op\":[1]}",                 /* leading zero */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[-0]}",                 /* -0 */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":9007199254740992,\"id\":\"i\",\"op\":[1]}",   /* 2^53 */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":-1,\"id\":\"i\",\"op\":[1]}",
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[1]} x",                 /* trailing bytes */
        "{\"type\":\"op\",\"doc\":\"../x\",\"v\":1,\"id\":\"i\",\"op\":[1]}",               /* bad name */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"\",\"op\":[1]}",                   /* empty id */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[\"\xc3\x28\"]}",       /* bad UTF-8 */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[0]}",                  /* bad component */
        "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\"}",                              /* no op */
        "{\"type\":\"presence\",\"doc\":\"d\",\"v\":1,\"sel\":[[0,0]]}",
        "{\"type\":\"open\",\"doc\":\"d\"}",
        "[1]",
        "",
    };
    for (size_t i = 0; i < sizeof declined / sizeof declined[0]; i++)
        cr_assert_not(agrees(declined[i]), "fast path took %s", declined[i]);
}

Test(protocol_fast, over_the_component_limit_goes_to_the_tree) {
    limits.ot.max_op_components = 2;
    cr_assert(agrees("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[1,\"a\"]}"));
    cr_assert_not(agrees("{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i\",\"op\":[1,\"a\",2]}"));
}

/* Every single-byte change of valid messages: whenever the fast path accepts,
 * the tree gives the same message, and proto_decode's answer (code and error
 * text) is always the tree's. */
Test(protocol_fast, every_one_byte_mutation_matches_the_tree) {
    const char *bases[] = {
        "{\"type\":\"op\",\"doc\":\"d/a\",\"v\":12,\"id\":\"c:3:9\",\"op\":[3,\"a\\nb\",-2,\"\xc3\xa9\"]}",
        "{ \"op\" : [ 10 , \"xy\" ] , \"v\" : 0 , \"id\" : \"q\" , \"doc\" : \"x.y\" , \"type\" : \"op\" }",
    };
    const char subs[] = {'"', '\\', '0', '1', '-', ' ', ',', ':', '}', ']', '[', '{', 'x', 'n', 'u', '.', 'e',
                         '\x01', '\x80', '\xff', '/'};
    char buf[256];
    proto_msg via;
    proto_msg_init(&via);
    unsigned accepted = 0, total = 0;
    for (size_t b = 0; b < sizeof bases / sizeof bases[0]; b++) {
        size_t len = strlen(bases[b]);
        cr_assert_lt(len, sizeof buf);
        for (size_t i = 0; i < len; i++) {
            for (size_t k = 0; k < sizeof subs; k++) {
                memcpy(buf, bases[b], len);
                buf[i] = subs[k];
                total++;
                if (fast_agrees(buf, len)) accepted++;
                int rc = proto_decode(&limits, buf, len, &via);
                cr_assert_eq(rc, proto_decode_tree(&limits, buf, len, &tree));
                cr_assert_str_eq(via.err_message, tree.err_message);
            }
        }
    }
    proto_msg_free(&via);
    cr_assert_gt(accepted, 20, "the mutations should keep some valid messages (%u of %u)", accepted, total);
}
