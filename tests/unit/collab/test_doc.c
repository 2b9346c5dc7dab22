#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "collab/doc.h"

/* Frames captured per session key, decoded as JSON. */
#define CAP_MAX 256

typedef struct capture {
    uint64_t key[CAP_MAX];
    json_t *msg[CAP_MAX];          /* NULL: a drop */
    char drop_doc[CAP_MAX][64];
    size_t count;
} capture;

static void on_local(void *ctx, uint64_t key, rbuf *frame, const char *doc, size_t doc_len) {
    capture *c = ctx;
    cr_assert_lt(c->count, CAP_MAX);
    c->key[c->count] = key;
    if (frame != NULL) {
        const char *json;
        size_t len;
        cr_assert_eq(fanout_frame_payload(frame, &json, &len), 0);
        json_error_t err;
        c->msg[c->count] = json_loadb(json, len, 0, &err);
        cr_assert_not_null(c->msg[c->count], "frame is JSON: %.*s", (int)len, json);
    } else {
        c->msg[c->count] = NULL;
        snprintf(c->drop_doc[c->count], sizeof c->drop_doc[0], "%.*s", (int)doc_len, doc);
    }
    c->count++;
}

typedef struct fx {
    capture cap;
    fanout out;
    doc *d;
    char path[64];
    int fd;
} fx;

static fx F;

static const uint64_t ALICE = 0x0100000100000001ull;
static const uint64_t BOB = 0x0100000100000002ull;
static const uint64_t CAROL = 0x0100000100000003ull;

static void cap_reset(void) {
    for (size_t i = 0; i < F.cap.count; i++) json_decref(F.cap.msg[i]);
    F.cap.count = 0;
}

static void setup_doc(bool with_log, const char *text, uint32_t history) {
    memset(&F.cap, 0, sizeof F.cap);
    cr_assert_eq(fanout_init(&F.out, 0, 1, NULL, NULL, on_local, &F.cap), 0);
    ot_limits lim = ot_limits_default();
    lim.history_depth = history;
    lim.max_doc_codepoints = 64;
    ot_doc *ot = ot_doc_new(&lim, 0, text, strlen(text));
    cr_assert_not_null(ot);
    store_log *log = NULL;
    F.fd = -1;
    if (with_log) {
        strcpy(F.path, "/tmp/ringpad-doc-XXXXXX");
        F.fd = mkstemp(F.path);
        cr_assert_geq(F.fd, 0);
        store_log_config cfg = store_log_config_default();
        cr_assert_eq(store_log_new(&cfg, F.fd, 0, 0, &log), 0);
    }
    cr_assert_eq(doc_new("notes", 5, ot, log, &F.d), 0);
}

static void teardown_doc(void) {
    cap_reset();
    doc_free(F.d);
    fanout_destroy(&F.out);
    if (F.fd >= 0) {
        close(F.fd);
        unlink(F.path);
    }
}

static void open_as(uint64_t key, const char *session, bool has_v, uint64_t v) {
    doc_who who = {.key = key, .session = session, .by = session, .name = session, .color = "#123456"};
    doc_open(F.d, &who, has_v, v, &F.out);
}

static int submit(uint64_t key, uint64_t v, const char *id, const char *op_json) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_parse_json(&op, op_json, strlen(op_json), NULL, NULL), OT_OK);
    int rc = doc_submit(F.d, key, true, NULL, v, id, strlen(id), &op, 1000, &F.out);
    ot_op_free(&op);
    return rc;
}

/* One synchronous flush with optional faults, reported to the doc. */
static int flush(store_sync_faults *faults) {
    store_flush_result r;
    memset(&r, 0, sizeof r);
    int rc = store_sync_flush(doc_log(F.d), 0, faults, &r);
    doc_on_flush(F.d, &r, &F.out);
    return rc;
}

static const char *type_of(size_t i) { return json_string_value(json_object_get(F.cap.msg[i], "type")); }
static json_int_t int_of(size_t i, const char *k) { return json_integer_value(json_object_get(F.cap.msg[i], k)); }
static const char *str_of(size_t i, const char *k) { return json_string_value(json_object_get(F.cap.msg[i], k)); }

static char *text_now(void) {
    ot_buf b;
    ot_buf_init(&b);
    ot_text_to_buf(ot_doc_text(doc_ot(F.d)), &b);
    char *s = strdup(b.data != NULL ? b.data : "");
    ot_buf_free(&b);
    return s;
}

TestSuite(doc, .fini = teardown_doc);

Test(doc, open_sends_snapshot_with_peers) {
    setup_doc(false, "hello", 100);
    open_as(ALICE, "a", false, 0);
    cr_assert_eq(F.cap.count, 1);
    cr_assert_str_eq(type_of(0), "snapshot");
    cr_assert_str_eq(str_of(0, "text"), "hello");
    cr_assert_eq(int_of(0, "v"), 0);
    cr_assert_eq(json_array_size(json_object_get(F.cap.msg[0], "peers")), 0);
    cap_reset();
    open_as(BOB, "b", false, 0);
    cr_assert_eq(F.cap.count, 1);
    json_t *peers = json_object_get(F.cap.msg[0], "peers");
    cr_assert_eq(json_array_size(peers), 1);
    cr_assert_str_eq(json_string_value(json_object_get(json_array_get(peers, 0), "session")), "a");
    cr_assert_eq(doc_count_subscribers(F.d), 2);
}

Test(doc, op_acked_to_sender_broadcast_to_others_without_log) {
    setup_doc(false, "abc", 100);
    open_as(ALICE, "a", false, 0);
    open_as(BOB, "b", false, 0);
    cap_reset();
    cr_assert_eq(submit(ALICE, 0, "a:1", "[3,\"d\"]"), 0);
    cr_assert_eq(F.cap.count, 2);
    cr_assert_eq(F.cap.key[0], BOB);
    cr_assert_str_eq(type_of(0), "op");
    cr_assert_str_eq(str_of(0, "by"), "a");
    cr_assert_eq(F.cap.key[1], ALICE);
    cr_assert_str_eq(type_of(1), "ack");
    cr_assert_eq(int_of(1, "v"), 0);
}

Test(doc, concurrent_op_transformed_and_ordered_before_ack) {
    setup_doc(false, "abc", 100);
    open_as(ALICE, "a", false, 0);
    open_as(BOB, "b", false, 0);
    cap_reset();
    cr_assert_eq(submit(BOB, 0, "b:1", "[1,\"Y\",2]"), 0);
    cr_assert_eq(submit(ALICE, 0, "a:1", "[1,\"X\",2]"), 0);
    /* Alice got Bob's op (v0) before her ack (v1) */
    size_t op_i = 99, ack_i = 99;
    for (size_t i = 0; i < F.cap.count; i++) {
        if (F.cap.key[i] != ALICE) continue;
        if (strcmp(type_of(i), "op") == 0) op_i = i;
        if (strcmp(type_of(i), "ack") == 0) ack_i = i;
    }
    cr_assert_lt(op_i, ack_i);
    cr_assert_eq(int_of(ack_i, "v"), 1);
    char *t = text_now();
    cr_assert_str_eq(t, "aXYbc");
    free(t);
}

Test(doc, duplicate_id_acked_with_original_version) {
    setup_doc(false, "", 100);
    open_as(ALICE, "a", false, 0);
    cap_reset();
    cr_assert_eq(submit(ALICE, 0, "a:1", "[\"x\"]"), 0);
    cr_assert_eq(submit(ALICE, 1, "a:2", "[1,\"y\"]"), 0);
    cap_reset();
    cr_assert_eq(submit(ALICE, 0, "a:1", "[\"x\"]"), 0);
    cr_assert_eq(F.cap.count, 1);
    cr_assert_str_eq(type_of(0), "ack");
    cr_assert_eq(int_of(0, "v"), 0);
    cr_assert_eq(doc_version(F.d), 2);
}

Test(doc, op_errors_carry_ref) {
    setup_doc(false, "abc", 2);
    open_as(ALICE, "a", false, 0);
    cap_reset();
    cr_assert_eq(submit(ALICE, 5, "a:1", "[3]"), PROTO_ERR_VERSION_AHEAD);
    cr_assert_str_eq(str_of(0, "code"), "version_ahead");
    cr_assert_str_eq(str_of(0, "ref"), "a:1");
    cr_assert_eq(submit(ALICE, 0, "a:2", "[2]"), PROTO_ERR_BAD_OP);
    cr_assert_str_eq(str_of(1, "code"), "bad_op");
    for (int i = 0; i < 3; i++) {
        char id[16];
        snprintf(id, sizeof id, "x:%d", i);
        cr_assert_eq(submit(ALICE, (uint64_t)i, id, i == 0 ? "[3,\"z\"]" : i == 1 ? "[4,\"z\"]" : "[5,\"z\"]"), 0);
    }
    cap_reset();
    cr_assert_eq(submit(ALICE, 0, "a:3", "[3,\"q\"]"), PROTO_ERR_VERSION_TOO_OLD);
    cr_assert_str_eq(str_of(0, "code"), "version_too_old");
    /* 64 code points max */
    char big[128];
    snprintf(big, sizeof big, "[6,\"%s\"]", "0123456789012345678901234567890123456789012345678901234567890");
    cr_assert_eq(submit(ALICE, 3, "a:4", big), PROTO_ERR_DOC_TOO_LARGE);
    cr_assert_eq(submit(CAROL, 3, "c:1", "[6]"), PROTO_ERR_NOT_OPEN);
}

Test(doc, reopen_with_v_catches_up_then_synced) {
    setup_doc(false, "", 100);
    open_as(ALICE, "a", false, 0);
    submit(ALICE, 0, "a:1", "[\"x\"]");
    submit(ALICE, 1, "a:2", "[1,\"y\"]");
    submit(ALICE, 2, "a:3", "[2,\"z\"]");
    cap_reset();
    open_as(BOB, "b", true, 1);
    cr_assert_eq(F.cap.count, 3);
    cr_assert_str_eq(type_of(0), "op");
    cr_assert_eq(int_of(0, "v"), 1);
    cr_assert_str_eq(str_of(0, "id"), "a:2");
    cr_assert_eq(int_of(1, "v"), 2);
    cr_assert_str_eq(type_of(2), "synced");
    cr_assert_eq(int_of(2, "v"), 3);
    cap_reset();
    open_as(CAROL, "c", true, 9);
    cr_assert_str_eq(str_of(0, "code"), "version_ahead");
    cr_assert_str_eq(str_of(0, "ref"), "notes");
    cr_assert_null(F.cap.msg[1]);
    cr_assert_str_eq(F.cap.drop_doc[1], "notes");
    cr_assert_not(doc_is_subscribed(F.d, CAROL));
}

Test(doc, reopen_too_old) {
    setup_doc(false, "", 2);
    open_as(ALICE, "a", false, 0);
    submit(ALICE, 0, "a:1", "[\"x\"]");
    submit(ALICE, 1, "a:2", "[1,\"y\"]");
    submit(ALICE, 2, "a:3", "[2,\"z\"]");
    cap_reset();
    open_as(BOB, "b", true, 0);
    cr_assert_str_eq(str_of(0, "code"), "version_too_old");
}

Test(doc, presence_moved_to_current_version_and_leave) {
    setup_doc(false, "abc", 100);
    open_as(ALICE, "a", false, 0);
    open_as(BOB, "b", false, 0);
    submit(ALICE, 0, "a:1", "[\"XY\",3]");
    cap_reset();
    proto_range sel[1] = {{1, 2}};
    cr_assert_eq(doc_presence(F.d, BOB, 0, sel, 1, &F.out), 0);
    cr_assert_eq(F.cap.count, 1);
    cr_assert_eq(F.cap.key[0], ALICE);
    cr_assert_str_eq(type_of(0), "presence");
    cr_assert_eq(int_of(0, "v"), 1);
    json_t *r = json_array_get(json_object_get(F.cap.msg[0], "sel"), 0);
    cr_assert_eq(json_integer_value(json_array_get(r, 0)), 3);
    cr_assert_eq(json_integer_value(json_array_get(r, 1)), 4);
    cr_assert_str_eq(str_of(0, "name"), "b");
    cap_reset();
    /* a newcomer's snapshot carries Bob's selection */
    open_as(CAROL, "c", false, 0);
    json_t *peers = json_object_get(F.cap.msg[0], "peers");
    cr_assert_eq(json_array_size(peers), 2);
    cap_reset();
    cr_assert_eq(doc_presence(F.d, BOB, 7, sel, 1, &F.out), PROTO_ERR_VERSION_AHEAD);
    cap_reset();
    doc_close(F.d, BOB, &F.out);
    cr_assert_eq(F.cap.count, 2);
    cr_assert_str_eq(type_of(0), "leave");
    cr_assert_str_eq(str_of(0, "session"), "b");
    cr_assert_eq(doc_presence(F.d, BOB, 1, sel, 1, &F.out), PROTO_ERR_NOT_OPEN);
}

Test(doc, presence_beyond_the_text_at_its_version_is_refused) {
    setup_doc(false, "abcde", 100);
    open_as(ALICE, "a", false, 0);
    open_as(BOB, "b", false, 0);
    submit(ALICE, 0, "a:1", "[5,\"XYZ\"]");   /* v1: 8 code points */
    cap_reset();
    proto_range far[2] = {{1, 9999}, {9007199254740991ull, 0}};
    cr_assert_eq(doc_presence(F.d, BOB, 0, far, 2, &F.out), PROTO_ERR_BAD_SELECTION);
    cr_assert_eq(F.cap.count, 1, "only the sender hears of it");
    cr_assert_eq(F.cap.key[0], BOB);
    cr_assert_str_eq(str_of(0, "code"), "bad_selection");
    cr_assert_str_eq(str_of(0, "message"), "sel[0] [1, 9999] is beyond the text: 5 code points at v 0");
    cr_assert_str_eq(str_of(0, "ref"), "notes");
    cap_reset();
    /* judged at its own version: 8 fits at v1, not at v0 */
    proto_range end[1] = {{8, 8}};
    cr_assert_eq(doc_presence(F.d, BOB, 0, end, 1, &F.out), PROTO_ERR_BAD_SELECTION);
    cr_assert_str_eq(str_of(0, "message"), "sel[0] [8, 8] is beyond the text: 5 code points at v 0");
    cap_reset();
    cr_assert_eq(doc_presence(F.d, BOB, 1, end, 1, &F.out), 0);
    cr_assert_eq(F.cap.count, 1);
    cr_assert_eq(F.cap.key[0], ALICE);
    cr_assert_str_eq(type_of(0), "presence");
    cap_reset();
    proto_range edge[1] = {{5, 0}};   /* the end of the text is a position */
    cr_assert_eq(doc_presence(F.d, BOB, 0, edge, 1, &F.out), 0);
}

Test(doc, ack_waits_for_durability) {
    setup_doc(true, "", 100);
    open_as(ALICE, "a", false, 0);
    open_as(BOB, "b", false, 0);
    cap_reset();
    cr_assert_eq(submit(ALICE, 0, "a:1", "[\"x\"]"), 0);
    cr_assert_eq(submit(BOB, 0, "b:1", "[\"y\"]"), 0);
    cr_assert_eq(F.cap.count, 0, "nothing before the flush");
    cr_assert_eq(doc_published_version(F.d), 0);
    /* a newcomer sees the durable state only */
    open_as(CAROL, "c", false, 0);
    cr_assert_str_eq(str_of(0, "text"), "");
    cr_assert_eq(int_of(0, "v"), 0);
    cap_reset();
    /* a resend of a:1 while it is unpublished waits for it */
    cr_assert_eq(submit(ALICE, 0, "a:1", "[\"x\"]"), 0);
    cr_assert_eq(F.cap.count, 0);
    cr_assert_eq(flush(NULL), 0);
    cr_assert_eq(doc_published_version(F.d), 2);
    /* Alice: ack 0, ack 0 (dup), op 1; Bob: op 0, ack 1; Carol: op 0, op 1 */
    int acks_alice = 0, ops_carol = 0;
    for (size_t i = 0; i < F.cap.count; i++) {
        if (F.cap.key[i] == ALICE && strcmp(type_of(i), "ack") == 0) acks_alice++;
        if (F.cap.key[i] == CAROL && strcmp(type_of(i), "op") == 0) ops_carol++;
    }
    cr_assert_eq(acks_alice, 2);
    cr_assert_eq(ops_carol, 2);
    cr_assert(doc_is_quiet(F.d) == false);   /* still subscribed */
}

Test(doc, storage_fault_refuses_then_recovers) {
    setup_doc(true, "", 100);
    open_as(ALICE, "a", false, 0);
    cap_reset();
    cr_assert_eq(submit(ALICE, 0, "a:1", "[\"x\"]"), 0);
    store_sync_faults faults = {.fail_write_errno = ENOSPC, .fail_write_count = 1};
    cr_assert_eq(flush(&faults), -ENOSPC);
    cr_assert_eq(F.cap.count, 1);
    cr_assert_str_eq(str_of(0, "code"), "storage_unavailable");
    cr_assert_str_eq(str_of(0, "ref"), "a:1");
    cr_assert(doc_storage_failed(F.d));
    cap_reset();
    cr_assert_eq(submit(ALICE, 1, "a:2", "[1,\"y\"]"), PROTO_ERR_STORAGE_UNAVAILABLE);
    cr_assert_eq(doc_version(F.d), 1);
    cap_reset();
    /* the retry succeeds: a:1 is published (acked) and ops are taken again */
    cr_assert_eq(flush(NULL), 0);
    cr_assert_not(doc_storage_failed(F.d));
    cr_assert_eq(F.cap.count, 1);
    cr_assert_str_eq(type_of(0), "ack");
    cr_assert_str_eq(str_of(0, "id"), "a:1");
    cr_assert_eq(submit(ALICE, 1, "a:2", "[1,\"y\"]"), 0);
}

Test(doc, evict_all_drops_every_subscriber) {
    setup_doc(false, "", 100);
    open_as(ALICE, "a", false, 0);
    open_as(BOB, "b", false, 0);
    cap_reset();
    doc_evict_all(F.d, PROTO_ERR_NOT_OPEN, "deleted", &F.out);
    cr_assert_eq(F.cap.count, 4);
    cr_assert_eq(doc_count_subscribers(F.d), 0);
    cr_assert(doc_is_quiet(F.d));
}
