/*
 * Packed history records (ot/pack.c) and the history that keeps them: a
 * record gives back the op it was made from, its inverse, id, author and
 * time, for random ops on random text (ot_gen_case_count() cases); decoding
 * into an op that is large enough allocates nothing; the history's byte
 * count follows what it retains.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ot_gen.h"
#include "ot_internal.h"
#include "ot_test_util.h"

#define FAIL_AT "RINGPAD_TEST_SEED=%" PRIu64 " case %" PRIu32 ": "

enum { SALT_PACK = 101, MAX_TEXT_CODEPOINTS = 40, MAX_INSERT_CODEPOINTS = 8 };

Test(ot_pack, round_trip_of_random_ops_and_their_inverses) {
    uint64_t base_seed = ot_gen_base_seed();
    uint32_t cases = ot_gen_case_count();
    ot_buf text, after, back, scratch;
    ot_buf_init(&text);
    ot_buf_init(&after);
    ot_buf_init(&back);
    ot_buf_init(&scratch);
    ot_op op, decoded, inverse, expected_inverse;
    ot_op_init(&op);
    ot_op_init(&decoded);
    ot_op_init(&inverse);
    ot_op_init(&expected_inverse);
    for (uint32_t i = 0; i < cases; i++) {
        ot_gen_rng rng;
        ot_gen_seed(&rng, ot_gen_case_seed(base_seed, SALT_PACK, i));
        ot_buf_clear(&text);
        uint64_t len = ot_gen_below(&rng, MAX_TEXT_CODEPOINTS + 1);
        cr_assert_eq(ot_gen_text(&rng, len, &text), OT_OK);
        ot_text *before = ot_text_from_utf8(text.data ? text.data : "", text.len);
        cr_assert_not_null(before);
        cr_assert_eq(ot_gen_op(&rng, len, MAX_INSERT_CODEPOINTS, &op), OT_OK);
        char id[40], author[24];
        size_t id_len = ot_gen_chance(&rng, 20) ? 0 : (size_t)snprintf(id, sizeof id, "c%" PRIu64 ":%" PRIu32, ot_gen_next(&rng), i);
        size_t author_len = ot_gen_chance(&rng, 20) ? 0 : (size_t)snprintf(author, sizeof author, "user-%" PRIu32, i % 97);
        int64_t times[] = { 0, -1, 1733400000000, INT64_MIN, INT64_MAX, (int64_t)ot_gen_next(&rng) };
        ot_pack_meta meta = { .id = id, .id_len = id_len, .author = author, .author_len = author_len,
                              .time_ms = times[ot_gen_below(&rng, 6)] };
        uint8_t *rec = NULL;
        size_t rec_len = 0;
        cr_assert_eq(ot_pack_record(&op, before, &meta, &rec, &rec_len), OT_OK, FAIL_AT, base_seed, i);
        ot_pack_view v;
        ot_pack_view_of(rec, &v);
        cr_assert_eq(v.len_bytes, rec_len, FAIL_AT "record length", base_seed, i);
        cr_assert_eq(v.time_ms, meta.time_ms, FAIL_AT "time", base_seed, i);
        cr_assert(v.id_len == id_len && memcmp(v.id, id, id_len) == 0, FAIL_AT "id", base_seed, i);
        cr_assert(v.author_len == author_len && memcmp(v.author, author, author_len) == 0, FAIL_AT "author",
                  base_seed, i);
        cr_assert_eq(v.count_components, op.count_components, FAIL_AT, base_seed, i);
        cr_assert_eq(v.insert_bytes, op.text_len_bytes, FAIL_AT, base_seed, i);
        /* The op comes back exactly, lengths included. */
        cr_assert_eq(ot_pack_decode_op(&v, &decoded), OT_OK);
        cr_assert(ot_op_equal(&decoded, &op), FAIL_AT "decoded %s", base_seed, i, ot_gen_op_str(&decoded, &scratch));
        cr_assert_eq(decoded.base_len_codepoints, op.base_len_codepoints, FAIL_AT, base_seed, i);
        cr_assert_eq(decoded.target_len_codepoints, op.target_len_codepoints, FAIL_AT, base_seed, i);
        /* The inverse is ot_invert's, and undoes the op. */
        cr_assert_eq(ot_invert(&op, before, &expected_inverse), OT_OK);
        cr_assert_eq(ot_pack_decode_inverse(&v, &inverse), OT_OK);
        cr_assert(ot_op_equal(&inverse, &expected_inverse), FAIL_AT "inverse %s", base_seed, i,
                  ot_gen_op_str(&inverse, &scratch));
        cr_assert_eq(v.delete_bytes, inverse.text_len_bytes, FAIL_AT, base_seed, i);
        ot_buf_clear(&after);
        ot_buf_clear(&back);
        cr_assert_eq(ot_gen_ref_apply(&op, text.data ? text.data : "", text.len, &after), 0);
        cr_assert_eq(ot_gen_ref_apply(&inverse, after.data ? after.data : "", after.len, &back), 0);
        cr_assert(back.len == text.len && memcmp(back.data ? back.data : "", text.data ? text.data : "", text.len) == 0,
                  FAIL_AT "inverse does not restore the text", base_seed, i);
        cr_assert_geq(ot_pack_cost_bytes(rec_len), rec_len + 8, FAIL_AT, base_seed, i);
        free(rec);
        ot_text_free(before);
    }
    ot_op_free(&op);
    ot_op_free(&decoded);
    ot_op_free(&inverse);
    ot_op_free(&expected_inverse);
    ot_buf_free(&text);
    ot_buf_free(&after);
    ot_buf_free(&back);
    ot_buf_free(&scratch);
}

Test(ot_pack, a_record_of_a_wrong_base_is_refused) {
    ot_text *t = ot_text_from_utf8("abc", 3);
    ot_op op = ot_t_parse("[2,-2,\"x\"]"); /* base 4 */
    uint8_t *rec = (uint8_t *)"untouched";
    size_t len = 7;
    ot_pack_meta meta = { 0 };
    cr_assert_eq(ot_pack_record(&op, t, &meta, &rec, &len), OT_ERR_BASE_LENGTH);
    cr_assert_null(rec);
    cr_assert_eq(len, 0);
    ot_op_free(&op);
    ot_text_free(t);
}

Test(ot_pack, small_op_record_is_small) {
    /* A one-character insert with a session's id: the op costs bytes, not
     * component arrays. */
    ot_text *t = ot_text_from_utf8("hello world", 11);
    ot_op op = ot_t_parse("[5,\"!\",6]");
    ot_pack_meta meta = { .id = "k3J9x0QpL2mZ7vTa:1234", .id_len = 21, .author = "user-042", .author_len = 8,
                          .time_ms = 1733400000000 };
    uint8_t *rec = NULL;
    size_t len = 0;
    cr_assert_eq(ot_pack_record(&op, t, &meta, &rec, &len), OT_OK);
    /* 1 body length + 6 time + 22 id + 9 author + 3 counts + 1 (retain) + 3 (insert) + 1 (retain) */
    cr_assert_eq(len, 46);
    cr_assert_eq(ot_pack_cost_bytes(len), 64);
    free(rec);
    ot_op_free(&op);
    ot_text_free(t);
}

Test(ot_pack, decoding_into_a_large_enough_op_allocates_nothing) {
    ot_text *t = ot_text_from_utf8("abcdefgh", 8);
    ot_op big = ot_t_parse("[1,\"xyzxyzxyz\",-2,1,\"\xe2\x82\xac\",-1,3]");
    ot_op small = ot_t_parse("[4,\"q\",4]");
    ot_pack_meta meta = { 0 };
    uint8_t *rec_big = NULL, *rec_small = NULL;
    size_t len = 0;
    cr_assert_eq(ot_pack_record(&big, t, &meta, &rec_big, &len), OT_OK);
    cr_assert_eq(ot_pack_record(&small, t, &meta, &rec_small, &len), OT_OK);
    ot_pack_view vb, vs;
    ot_pack_view_of(rec_big, &vb);
    ot_pack_view_of(rec_small, &vs);
    ot_op out;
    ot_op_init(&out);
    cr_assert_eq(ot_pack_decode_op(&vb, &out), OT_OK);
    ot_component *components = out.components;
    char *text = out.text;
    uint32_t cap_c = out.capacity_components, cap_t = out.text_capacity_bytes;
    for (int k = 0; k < 3; k++) {
        cr_assert_eq(ot_pack_decode_op(&vs, &out), OT_OK);
        ot_t_expect_json(&out, "[4,\"q\",4]");
        cr_assert_eq(ot_pack_decode_inverse(&vs, &out), OT_OK);
        ot_t_expect_json(&out, "[4,-1,4]");
        cr_assert_eq(ot_pack_decode_op(&vb, &out), OT_OK);
        ot_t_expect_json(&out, "[1,\"xyzxyzxyz\",-2,1,\"\xe2\x82\xac\",-1,3]");
        cr_assert_eq(ot_pack_decode_inverse(&vb, &out), OT_OK);
        ot_t_expect_json(&out, "[1,\"bc\",-9,1,\"e\",-1,3]");
    }
    cr_assert_eq(out.components, components);
    cr_assert_eq(out.text, text);
    cr_assert_eq(out.capacity_components, cap_c);
    cr_assert_eq(out.text_capacity_bytes, cap_t);
    ot_op_free(&out);
    free(rec_big);
    free(rec_small);
    ot_op_free(&big);
    ot_op_free(&small);
    ot_text_free(t);
}

static void submit_insert(ot_doc *doc, const char *id, const char *text) {
    ot_op op;
    ot_op_init(&op);
    uint64_t len = ot_text_len_codepoints(ot_doc_text(doc));
    cr_assert_eq(ot_op_retain(&op, len), OT_OK);
    cr_assert_eq(ot_op_insert(&op, text, strlen(text)), OT_OK);
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert_eq(ot_doc_submit(doc, ot_doc_version(doc), &op, id, id ? strlen(id) : 0, "a", 1, 7, &res), OT_OK);
    cr_assert_not(res.duplicate);
    ot_op_free(&res.op);
    ot_op_free(&op);
}

Test(ot_pack, history_bytes_follow_what_is_retained) {
    ot_limits l = ot_limits_default();
    l.history_depth = 64;
    ot_doc *doc = ot_doc_new(&l, 10, "", 0);
    cr_assert_not_null(doc);
    cr_assert_eq(ot_doc_history_bytes(doc), 0);
    char id[16];
    size_t prev = 0;
    for (int i = 0; i < 20; i++) {
        snprintf(id, sizeof id, "op-%d", i);
        submit_insert(doc, id, "xy");
        size_t now = ot_doc_history_bytes(doc);
        cr_assert_gt(now, prev, "op %d", i);
        prev = now;
    }
    /* ring (8 B a slot) and id index (8 B a slot) grew to 32 and 64 slots */
    cr_assert_eq(ot_doc_history_bytes(doc), 20 * 32 + 32 * 8 + 64 * 8);
    /* A big op counts its text, inserted and deleted. */
    char big[4001];
    memset(big, 'b', 4000);
    big[4000] = '\0';
    submit_insert(doc, "big", big);
    size_t with_big = ot_doc_history_bytes(doc);
    cr_assert_geq(with_big - prev, 4000);
    /* Forgetting frees the records and their ids: a resend is no longer a duplicate. */
    ot_doc_forget_before(doc, 10 + 15);
    cr_assert_eq(ot_doc_oldest_version(doc), 25);
    cr_assert_eq(ot_doc_history_bytes(doc), with_big - 15 * 32);
    ot_doc_forget_before(doc, ot_doc_version(doc));
    cr_assert_eq(ot_doc_oldest_version(doc), ot_doc_version(doc));
    cr_assert_eq(ot_doc_history_bytes(doc), 32 * 8 + 64 * 8);
    submit_insert(doc, "op-3", "z"); /* would be a duplicate if op-3 were still indexed */
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_doc_text_at(doc, ot_doc_version(doc) - 1, &b), OT_OK);
    cr_assert_eq(b.len, 40 + 4000);
    cr_assert_eq(ot_doc_text_at(doc, ot_doc_version(doc) - 2, &b), OT_ERR_VERSION_TOO_OLD);
    ot_buf_free(&b);
    ot_doc_free(doc);
}

Test(ot_pack, ids_survive_the_ring_growing_and_wrapping) {
    ot_limits l = ot_limits_default();
    l.history_depth = 50;
    ot_doc *doc = ot_doc_new(&l, 0, "", 0);
    char id[16];
    for (int i = 0; i < 130; i++) {
        snprintf(id, sizeof id, "g-%d", i);
        submit_insert(doc, id, "q");
    }
    cr_assert_eq(ot_doc_oldest_version(doc), 80);
    ot_op noop;
    ot_op_init(&noop);
    cr_assert_eq(ot_op_retain(&noop, 130), OT_OK);
    ot_submit_result res;
    ot_op_init(&res.op);
    for (int i = 80; i < 130; i++) {
        snprintf(id, sizeof id, "g-%d", i);
        cr_assert_eq(ot_doc_submit(doc, 130, &noop, id, strlen(id), NULL, 0, 0, &res), OT_OK);
        cr_assert(res.duplicate, "%s", id);
        cr_assert_eq(res.applied_at_version, (uint64_t)i);
        char want[24];
        snprintf(want, sizeof want, "[%d,\"q\"]", i);
        ot_t_expect_json(&res.op, want);
    }
    for (int i = 0; i < 80; i++) {
        /* gone with their ops: new ops (no-ops here) */
        snprintf(id, sizeof id, "g-%d", i);
        cr_assert_eq(ot_doc_submit(doc, ot_doc_version(doc), &noop, id, strlen(id), NULL, 0, 0, &res), OT_OK);
        cr_assert_not(res.duplicate, "%s", id);
    }
    ot_op_free(&noop);
    ot_op_free(&res.op);
    ot_doc_free(doc);
}
