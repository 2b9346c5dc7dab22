/* ot_doc: submit at the head and from older versions, duplicates, version
 * errors, limits, history access and eviction, past texts. */
#include <stdio.h>

#include "ot_test_util.h"

static ot_doc *new_doc(uint32_t depth, uint64_t version, const char *text) {
    ot_limits l = ot_limits_default();
    l.history_depth = depth;
    ot_doc *doc = ot_doc_new(&l, version, text, strlen(text));
    cr_assert_not_null(doc);
    return doc;
}

static void expect_doc_text(const ot_doc *doc, const char *want) {
    cr_assert(ot_text_equals(ot_doc_text(doc), want, strlen(want)));
}

/* Submits json at base; returns the rc, leaves the result in *res. */
static int submit(ot_doc *doc, uint64_t base, const char *json, const char *id,
                  ot_submit_result *res) {
    ot_op op = ot_t_parse(json);
    int rc = ot_doc_submit(doc, base, &op, id, id ? strlen(id) : 0, "alice", 5, 1234, res);
    ot_op_free(&op);
    return rc;
}

Test(ot_doc, new_and_accessors) {
    ot_doc *doc = new_doc(10, 7, "h\xc3\xa9llo");
    cr_assert_eq(ot_doc_version(doc), 7);
    cr_assert_eq(ot_doc_oldest_version(doc), 7);
    cr_assert_eq(ot_text_len_codepoints(ot_doc_text(doc)), 5);
    ot_history_entry e;
    ot_history_entry_init(&e);
    cr_assert_eq(ot_doc_history_read(doc, 7, &e), OT_ERR_VERSION_AHEAD);
    cr_assert_eq(ot_doc_history_read(doc, 6, &e), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(ot_doc_history_bytes(doc), 0);
    ot_history_entry_free(&e);
    ot_doc_free(doc);
    ot_doc_free(NULL);
    cr_assert_null(ot_doc_new(NULL, 0, "\xff", 1));
    ot_limits l = ot_limits_default();
    l.max_doc_codepoints = 3;
    cr_assert_null(ot_doc_new(&l, 0, "abcd", 4));
    l.history_depth = 0; /* treated as 1 */
    doc = ot_doc_new(&l, 0, "abc", 3);
    cr_assert_not_null(doc);
    ot_doc_free(doc);
    doc = ot_doc_new(NULL, 0, NULL, 0);
    cr_assert_not_null(doc);
    cr_assert_eq(ot_text_len_codepoints(ot_doc_text(doc)), 0);
    ot_doc_free(doc);
}

Test(ot_doc, submit_at_head_and_history) {
    ot_doc *doc = new_doc(10, 0, "hello");
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(submit(doc, 0, "[5,\" world\"]", "op-1", &res), OT_OK);
    cr_assert_not(res.duplicate);
    cr_assert_eq(res.applied_at_version, 0);
    ot_t_expect_json(&res.op, "[5,\" world\"]");
    cr_assert_eq(ot_doc_version(doc), 1);
    expect_doc_text(doc, "hello world");
    ot_history_entry h;
    ot_history_entry_init(&h);
    const ot_history_entry *e = &h;
    cr_assert_eq(ot_doc_history_read(doc, 0, &h), OT_OK);
    cr_assert_eq(e->base_version, 0);
    cr_assert_eq(e->id_len, 4);
    cr_assert_eq(memcmp(e->id, "op-1", 4), 0);
    cr_assert_eq(e->author_len, 5);
    cr_assert_eq(memcmp(e->author, "alice", 5), 0);
    cr_assert_eq(e->time_ms, 1234);
    ot_t_expect_json(&e->op, "[5,\" world\"]");
    ot_op inverse;
    ot_op_init(&inverse);
    cr_assert_eq(ot_doc_history_inverse(doc, 0, &inverse), OT_OK);
    ot_t_expect_json(&inverse, "[5,-6]");
    ot_op_free(&inverse);
    /* No id: accepted, not indexed. */
    cr_assert_eq(submit(doc, 1, "[-1,10]", NULL, &res), OT_OK);
    cr_assert_eq(res.applied_at_version, 1);
    expect_doc_text(doc, "ello world");
    cr_assert_eq(ot_doc_history_read(doc, 1, &h), OT_OK);
    cr_assert_eq(h.id_len, 0);
    ot_history_entry_free(&h);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, late_op_is_transformed_one_op_at_a_time) {
    ot_doc *doc = new_doc(10, 0, "abc");
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(submit(doc, 0, "[1,\"X\",2]", "a", &res), OT_OK);  /* aXbc */
    cr_assert_eq(submit(doc, 1, "[-1,3]", "b", &res), OT_OK);       /* Xbc */
    /* Based on version 0, inserting at the same place as "a": goes first. */
    cr_assert_eq(submit(doc, 0, "[1,\"\xf0\x9f\x98\x80\",2]", "c", &res), OT_OK);
    cr_assert_eq(res.applied_at_version, 2);
    ot_t_expect_json(&res.op, "[\"\xf0\x9f\x98\x80\",3]");
    expect_doc_text(doc, "\xf0\x9f\x98\x80Xbc");
    /* Based on version 1, deleting the "c" (index 3 in aXbc). */
    cr_assert_eq(submit(doc, 1, "[3,-1]", "d", &res), OT_OK);
    ot_t_expect_json(&res.op, "[3,-1]");
    expect_doc_text(doc, "\xf0\x9f\x98\x80Xb");
    cr_assert_eq(ot_doc_version(doc), 4);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, duplicate_returns_the_original) {
    ot_doc *doc = new_doc(10, 0, "ab");
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(submit(doc, 0, "[2,\"c\"]", "same", &res), OT_OK);
    cr_assert_eq(submit(doc, 1, "[\"z\",3]", "other", &res), OT_OK);
    /* The resend, from its original base: nothing changes. */
    cr_assert_eq(submit(doc, 0, "[2,\"c\"]", "same", &res), OT_OK);
    cr_assert(res.duplicate);
    cr_assert_eq(res.applied_at_version, 0);
    ot_t_expect_json(&res.op, "[2,\"c\"]");
    cr_assert_eq(ot_doc_version(doc), 2);
    expect_doc_text(doc, "zabc");
    /* Even when its base would now be an error. */
    cr_assert_eq(submit(doc, 99, "[1]", "other", &res), OT_OK);
    cr_assert(res.duplicate);
    cr_assert_eq(res.applied_at_version, 1);
    /* A prefix of an id is another id. */
    cr_assert_eq(submit(doc, 2, "[4]", "sam", &res), OT_OK);
    cr_assert_not(res.duplicate);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, version_errors_leave_the_doc_unchanged) {
    ot_doc *doc = new_doc(2, 10, "abc");
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(submit(doc, 11, "[3]", "x", &res), OT_ERR_VERSION_AHEAD);
    cr_assert_eq(submit(doc, 9, "[3]", "x", &res), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(submit(doc, 10, "[\"1\",3]", NULL, &res), OT_OK);
    cr_assert_eq(submit(doc, 11, "[\"2\",4]", NULL, &res), OT_OK);
    cr_assert_eq(submit(doc, 12, "[\"3\",5]", NULL, &res), OT_OK);
    cr_assert_eq(ot_doc_oldest_version(doc), 11); /* depth 2 */
    cr_assert_eq(submit(doc, 10, "[3]", "x", &res), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(submit(doc, 14, "[6]", "x", &res), OT_ERR_VERSION_AHEAD);
    cr_assert_eq(submit(doc, 11, "[3]", "x", &res), OT_ERR_BASE_LENGTH); /* v11 had 4 */
    cr_assert_eq(submit(doc, 13, "[5]", "x", &res), OT_ERR_BASE_LENGTH);
    cr_assert_eq(ot_doc_version(doc), 13);
    expect_doc_text(doc, "321abc");
    /* The failed id was not recorded. */
    cr_assert_eq(submit(doc, 11, "[2,\"!\",2]", "x", &res), OT_OK);
    cr_assert_not(res.duplicate);
    expect_doc_text(doc, "321a!bc");
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, too_large) {
    ot_limits l = ot_limits_default();
    l.max_doc_codepoints = 5;
    ot_doc *doc = ot_doc_new(&l, 0, "abc", 3);
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(submit(doc, 0, "[3,\"de\"]", NULL, &res), OT_OK);
    cr_assert_eq(submit(doc, 1, "[5,\"f\"]", NULL, &res), OT_ERR_TOO_LARGE);
    /* Transformed against a concurrent insert, a fitting op outgrows the doc. */
    cr_assert_eq(submit(doc, 0, "[3,\"x\"]", NULL, &res), OT_ERR_TOO_LARGE);
    expect_doc_text(doc, "abcde");
    cr_assert_eq(ot_doc_version(doc), 1);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, text_at_past_versions) {
    ot_doc *doc = new_doc(3, 0, "\xe4\xb8\xad");
    ot_submit_result res;
    ot_op_init(&res.op);
    const char *texts[] = { "\xe4\xb8\xad", "\xe4\xb8\xad" "a", "\xe4\xb8\xad" "ab",
                            "ab", "\xf0\x9f\x98\x80" "ab" };
    cr_assert_eq(submit(doc, 0, "[1,\"a\"]", NULL, &res), OT_OK);
    cr_assert_eq(submit(doc, 1, "[2,\"b\"]", NULL, &res), OT_OK);
    cr_assert_eq(submit(doc, 2, "[-1,2]", NULL, &res), OT_OK);
    cr_assert_eq(submit(doc, 3, "[\"\xf0\x9f\x98\x80\",2]", NULL, &res), OT_OK);
    ot_buf b;
    ot_buf_init(&b);
    for (uint64_t v = 1; v <= 4; v++) {
        ot_buf_clear(&b);
        cr_assert_eq(ot_doc_text_at(doc, v, &b), OT_OK);
        cr_assert_str_eq(b.data, texts[v], "version %lu", (unsigned long)v);
    }
    cr_assert_eq(ot_doc_text_at(doc, 0, &b), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(ot_doc_text_at(doc, 5, &b), OT_ERR_VERSION_AHEAD);
    ot_buf_free(&b);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, ids_leave_with_their_ops) {
    enum { depth = 8, ops = 200 };
    ot_doc *doc = new_doc(depth, 0, "");
    ot_submit_result res;
    ot_op_init(&res.op);
    char id[32];
    for (int i = 0; i < ops; i++) {
        snprintf(id, sizeof id, "id-%d", i);
        ot_op op;
        ot_op_init(&op);
        cr_assert_eq(ot_op_retain(&op, (uint64_t)i), OT_OK);
        cr_assert_eq(ot_op_insert(&op, "x", 1), OT_OK);
        cr_assert_eq(ot_doc_submit(doc, (uint64_t)i, &op, id, strlen(id), NULL, 0, i, &res), OT_OK);
        cr_assert_not(res.duplicate, "%s", id);
        ot_op_free(&op);
        /* Every retained id is found; every evicted one is gone. */
        for (int j = i - depth - 2; j <= i; j++) {
            if (j < 0)
                continue;
            snprintf(id, sizeof id, "id-%d", j);
            bool found = false;
            ot_history_entry h;
            ot_history_entry_init(&h);
            for (uint64_t v = ot_doc_oldest_version(doc); v < ot_doc_version(doc); v++) {
                cr_assert_eq(ot_doc_history_read(doc, v, &h), OT_OK);
                if (h.id_len == strlen(id) && memcmp(h.id, id, h.id_len) == 0)
                    found = true;
            }
            ot_history_entry_free(&h);
            cr_assert_eq(found, j > i - depth, "i %d j %d", i, j);
        }
    }
    /* A resend of a retained id is a duplicate... */
    ot_op noop;
    ot_op_init(&noop);
    cr_assert_eq(ot_op_retain(&noop, ops), OT_OK);
    snprintf(id, sizeof id, "id-%d", ops - 3);
    cr_assert_eq(ot_doc_submit(doc, ops, &noop, id, strlen(id), NULL, 0, 0, &res), OT_OK);
    cr_assert(res.duplicate);
    cr_assert_eq(res.applied_at_version, ops - 3);
    /* ...and of an evicted one is a new op. */
    snprintf(id, sizeof id, "id-%d", ops - depth - 1);
    cr_assert_eq(ot_doc_submit(doc, ops, &noop, id, strlen(id), NULL, 0, 0, &res), OT_OK);
    cr_assert_not(res.duplicate);
    cr_assert_eq(ot_doc_version(doc), ops + 1);
    ot_op_free(&noop);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

/* Whether the op at base version v is in the history. */
static bool retained(const ot_doc *doc, uint64_t v) {
    ot_history_entry e;
    ot_history_entry_init(&e);
    int rc = ot_doc_history_read(doc, v, &e);
    ot_history_entry_free(&e);
    return rc == OT_OK;
}

Test(ot_doc, forget_before_frees_older_ops_and_keeps_the_rest) {
    ot_doc *doc = new_doc(8, 0, "");
    ot_submit_result res;
    ot_op_init(&res.op);
    char id[16], json[16];
    for (int i = 0; i < 6; i++) {
        snprintf(id, sizeof id, "op-%d", i);
        snprintf(json, sizeof json, i == 0 ? "[\"a\"]" : "[%d,\"a\"]", i);
        cr_assert_eq(submit(doc, (uint64_t)i, json, id, &res), OT_OK);
        /* a ring with room for 8 keeps every one of them until told otherwise */
        if (i > 0) cr_assert_eq(submit(doc, 0, "[\"a\"]", "op-0", &res), OT_OK);
    }
    cr_assert_eq(ot_doc_oldest_version(doc), 0);
    ot_doc_forget_before(doc, 4);
    cr_assert_eq(ot_doc_oldest_version(doc), 4);
    cr_assert_not(retained(doc, 3));
    cr_assert(retained(doc, 4));
    cr_assert(retained(doc, 5));
    /* the forgotten ops left the id index: a resend is no longer a duplicate */
    cr_assert_eq(submit(doc, 0, "[\"a\"]", "op-1", &res), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(submit(doc, 5, "[5,\"b\"]", "op-5", &res), OT_OK);
    cr_assert(res.duplicate);
    cr_assert_eq(res.applied_at_version, 5);
    /* before the oldest or beyond the head: only what is retained goes */
    ot_doc_forget_before(doc, 2);
    cr_assert_eq(ot_doc_oldest_version(doc), 4);
    ot_doc_forget_before(doc, 99);
    cr_assert_eq(ot_doc_oldest_version(doc), 6);
    cr_assert_eq(ot_doc_version(doc), 6);
    expect_doc_text(doc, "aaaaaa");
    /* and the ring takes new ops after being emptied */
    cr_assert_eq(submit(doc, 6, "[6,\"z\"]", "op-6", &res), OT_OK);
    cr_assert_not(res.duplicate);
    expect_doc_text(doc, "aaaaaaz");
    cr_assert(retained(doc, 6));
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

Test(ot_doc, undo_last_takes_the_newest_op_back) {
    ot_doc *doc = new_doc(4, 0, "abc");
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(ot_doc_undo_last(doc), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(submit(doc, 0, "[3,\"d\"]", "op-1", &res), OT_OK);
    cr_assert_eq(submit(doc, 1, "[-1,3]", "op-2", &res), OT_OK);
    expect_doc_text(doc, "bcd");
    cr_assert_eq(ot_doc_undo_last(doc), OT_OK);
    cr_assert_eq(ot_doc_version(doc), 1);
    expect_doc_text(doc, "abcd");
    cr_assert_not(retained(doc, 1));
    /* its id is gone: the same id is a new op again, at the same version */
    cr_assert_eq(submit(doc, 1, "[-1,3]", "op-2", &res), OT_OK);
    cr_assert_not(res.duplicate);
    cr_assert_eq(res.applied_at_version, 1);
    expect_doc_text(doc, "bcd");
    /* the older op stays a duplicate */
    cr_assert_eq(submit(doc, 0, "[3,\"d\"]", "op-1", &res), OT_OK);
    cr_assert(res.duplicate);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}

/* The id index carried over each doubling of the history (8, 16, ... 512):
 * every retained id still maps to its base version, ops without an id and an
 * undone op's id stay out, and forgotten ids are gone. */
Test(ot_doc, ids_survive_every_doubling) {
    enum { depth = 512, ops = 500 };
    ot_doc *doc = new_doc(depth, 40, "");
    ot_submit_result res;
    ot_op_init(&res.op);
    char id[32];
    for (int i = 0; i < ops; i++) {
        snprintf(id, sizeof id, "op/%d", i);
        bool with_id = i % 7 != 3;
        ot_op op;
        ot_op_init(&op);
        cr_assert_eq(ot_op_retain(&op, (uint64_t)i), OT_OK);
        cr_assert_eq(ot_op_insert(&op, "y", 1), OT_OK);
        cr_assert_eq(ot_doc_submit(doc, 40 + (uint64_t)i, &op, with_id ? id : NULL, with_id ? strlen(id) : 0,
                                   NULL, 0, i, &res), OT_OK);
        ot_op_free(&op);
        if (i == 100) {   /* taken back: its id must not reappear after a doubling */
            cr_assert_eq(ot_doc_undo_last(doc), OT_OK);
            ot_op_init(&op);
            cr_assert_eq(ot_op_retain(&op, (uint64_t)i), OT_OK);
            cr_assert_eq(ot_op_insert(&op, "y", 1), OT_OK);
            cr_assert_eq(ot_doc_submit(doc, 40 + (uint64_t)i, &op, "other", 5, NULL, 0, i, &res), OT_OK);
            ot_op_free(&op);
        }
    }
    for (int i = 0; i < ops; i++) {
        snprintf(id, sizeof id, "op/%d", i);
        uint64_t at = 0;
        bool want = i % 7 != 3 && i != 100;
        cr_assert_eq(ot_doc_find_id(doc, id, strlen(id), &at), want, "%s", id);
        if (want) cr_assert_eq(at, 40 + (uint64_t)i, "%s at %llu", id, (unsigned long long)at);
    }
    uint64_t at = 0;
    cr_assert(ot_doc_find_id(doc, "other", 5, &at));
    cr_assert_eq(at, 140);
    const char *got = NULL;
    size_t got_len = 0;
    cr_assert_eq(ot_doc_history_id(doc, 140, &got, &got_len), OT_OK);
    cr_assert(got_len == 5 && memcmp(got, "other", 5) == 0);
    cr_assert_eq(ot_doc_history_id(doc, 40 + 3, &got, &got_len), OT_OK);   /* submitted without an id */
    cr_assert_eq(got_len, 0);
    cr_assert_eq(ot_doc_history_id(doc, 40 + 499, &got, &got_len), OT_OK);
    cr_assert(got_len == 6 && memcmp(got, "op/499", 6) == 0);
    cr_assert_eq(ot_doc_history_id(doc, 40 + ops, &got, &got_len), OT_ERR_VERSION_AHEAD);
    cr_assert_eq(ot_doc_history_id(doc, 39, &got, &got_len), OT_ERR_VERSION_TOO_OLD);
    ot_doc_forget_before(doc, 40 + 250);
    snprintf(id, sizeof id, "op/%d", 249);
    cr_assert_not(ot_doc_find_id(doc, id, strlen(id), &at));
    snprintf(id, sizeof id, "op/%d", 250);
    cr_assert(ot_doc_find_id(doc, id, strlen(id), &at));
    cr_assert_eq(at, 290);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}
