#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

#include "store_live.h"

#define SEG0 "log.00000000000000000000"

/* ---- tests ---- */

Test(store_recover, replay_equals_live_doc_and_ids_survive) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "notes/a", true, &rep);
    cr_assert_eq(rep.version, 0);
    for (int i = 0; i < 60; i++) {
        live_edit(&lv, i);
        if (i % 7 == 0)
            live_flush(&lv); /* several group commits of different sizes */
    }
    live_flush(&lv);

    live back;
    live_open(&back, &dd, "notes/a", false, &rep);
    cr_assert_eq(rep.count_replayed, 60);
    cr_assert_not(rep.torn_tail);
    assert_same_doc(lv.doc, back.doc);
    /* Past versions are readable again. */
    ot_buf t1, t2;
    ot_buf_init(&t1);
    ot_buf_init(&t2);
    cr_assert_eq(ot_doc_text_at(lv.doc, 23, &t1), 0);
    cr_assert_eq(ot_doc_text_at(back.doc, 23, &t2), 0);
    cr_assert_eq(t1.len, t2.len);
    ot_buf_free(&t1);
    ot_buf_free(&t2);
    /* A resend of an op applied before the restart is a duplicate. */
    ot_history_entry h;
    ot_history_entry_init(&h);
    cr_assert_eq(ot_doc_history_read(back.doc, 17, &h), OT_OK);
    cr_assert_eq(h.id_len, strlen("client-2:17"));
    cr_assert_arr_eq(h.id, "client-2:17", h.id_len);
    ot_history_entry_free(&h);
    ot_submit_result res;
    ot_op_init(&res.op);
    ot_op any;
    ot_op_init(&any);
    cr_assert_eq(ot_op_retain(&any, ot_text_len_codepoints(ot_doc_text(back.doc))), 0);
    cr_assert_eq(ot_doc_submit(back.doc, ot_doc_version(back.doc), &any, "client-2:17", 11, "x", 1,
                               0, &res), 0);
    cr_assert(res.duplicate);
    cr_assert_eq(res.applied_at_version, 17);
    ot_op_free(&any);
    ot_op_free(&res.op);
    live_close(&back);
    live_close(&lv);
    dd_close(&dd);
}

Test(store_recover, torn_tail_is_truncated_and_appends_continue) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "t", true, &rep);
    for (int i = 0; i < 5; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    off_t good = file_size(doc_file_path(&dd, "t", SEG0));
    /* A crash in the middle of the next write: half a record reached the disk. */
    live_edit(&lv, 5);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(lv.log, 0, &f), 1);
    cr_assert_eq(pwrite(f.fd, f.iov.iov_base, f.iov.iov_len / 2, (off_t)f.offset_bytes),
                 (ssize_t)(f.iov.iov_len / 2));
    ot_doc *at5 = lv.doc;
    lv.doc = NULL;
    live_close(&lv);

    live back;
    live_open(&back, &dd, "t", false, &rep);
    cr_assert(rep.torn_tail);
    cr_assert_eq(rep.valid_len_bytes, (size_t)good);
    cr_assert_eq(rep.torn_bytes, f.iov.iov_len / 2);
    cr_assert_not_null(strstr(rep.message, "t/" SEG0), "%s", rep.message);
    cr_assert_not_null(strstr(rep.message, "torn tail"), "%s", rep.message);
    cr_assert_eq(file_size(doc_file_path(&dd, "t", SEG0)), good);
    cr_assert_eq(rep.version, 5);
    cr_assert_eq(back.files.log_end_offset, (uint64_t)good);
    for (int i = 5; i < 9; i++)
        live_edit(&back, i);
    live_flush(&back);
    ot_doc_free(at5);

    live again;
    live_open(&again, &dd, "t", false, &rep);
    cr_assert_not(rep.torn_tail);
    assert_same_doc(back.doc, again.doc);
    live_close(&again);
    live_close(&back);
    dd_close(&dd);
}

Test(store_recover, middle_corruption_refuses_with_file_and_offset) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "docs/c", true, &rep);
    for (int i = 0; i < 6; i++) {
        live_edit(&lv, i);
        live_flush(&lv);
    }
    live_close(&lv);
    /* Find record 3's offset by scanning, then flip a byte inside it. */
    const char *path = doc_file_path(&dd, "docs+c", SEG0);
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t buf[4096];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    cr_assert_gt(n, 0);
    size_t off = STORE_SEGMENT_HEADER_BYTES;
    for (int i = 0; i < 3; i++) {
        store_record r;
        size_t used;
        cr_assert_eq(store_record_decode(buf + off, (size_t)n - off, &r, &used), 0);
        off += used;
    }
    uint8_t b = buf[off + 15] ^ 0x20;
    cr_assert_eq(pwrite(fd, &b, 1, (off_t)(off + 15)), 1);
    close(fd);

    ot_limits lim = test_limits();
    ot_doc *doc = NULL;
    store_doc_files files;
    int rc = store_doc_open(dd.fd, "docs/c", 6, false, &lim, &doc, &files, &rep);
    cr_assert_eq(rc, STORE_ERR_CORRUPT);
    cr_assert_null(doc);
    cr_assert_eq(files.dir_fd, -1);
    char want[128];
    snprintf(want, sizeof want, "docs+c/" SEG0 ": corrupt record followed by valid records at "
             "byte offset %zu", off);
    cr_assert_not_null(strstr(rep.message, want), "%s", rep.message);
    /* Nothing was truncated or rewritten. */
    cr_assert_eq(file_size(path), n);
    dd_close(&dd);
}

Test(store_recover, checkpoints_keep_every_segment_until_retention_prunes) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "big", true, &rep);
    for (int i = 0; i < 50; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 10), 0);
    cr_assert_eq(lv.files.snapshot_version, 40);
    cr_assert_eq(lv.files.log_start_version, 50);
    /* log.0 still holds ops 40..49, within the history depth. */
    cr_assert_gt(file_size(doc_file_path(&dd, "big", SEG0)), 0);
    for (int i = 50; i < 100; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 10), 0);
    cr_assert_eq(lv.files.snapshot_version, 90);
    struct stat st;
    /* retention all: every segment and checkpoint stays */
    cr_assert_eq(stat(doc_file_path(&dd, "big", SEG0), &st), 0, "old segment kept");
    cr_assert_eq(stat(doc_file_path(&dd, "big", "ckpt.00000000000000000040"), &st), 0);
    cr_assert_eq(stat(doc_file_path(&dd, "big", "ckpt.00000000000000000090"), &st), 0);
    /* a retention of 10 ops lets the checkpoint at 40 and the segment before 50 go */
    store_retention keep10 = {.keep = STORE_KEEP_OPS, .ops = 10};
    uint64_t oldest = 0;
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep10, 100, 90, 0, NULL, &oldest), 0);
    cr_assert_eq(oldest, 90);
    cr_assert_eq(stat(doc_file_path(&dd, "big", SEG0), &st), -1, "old segment dropped");
    cr_assert_eq(stat(doc_file_path(&dd, "big", "ckpt.00000000000000000040"), &st), -1);
    cr_assert_eq(stat(doc_file_path(&dd, "big", "log.00000000000000000050"), &st), 0);
    cr_assert_eq(stat(doc_file_path(&dd, "big", "log.00000000000000000100"), &st), 0);
    for (int i = 100; i < 105; i++)
        live_edit(&lv, i);
    live_flush(&lv);

    live back;
    live_open(&back, &dd, "big", false, &rep);
    cr_assert_eq(rep.snapshot_version, 90);
    cr_assert_eq(rep.count_replayed, 15);
    assert_same_doc(lv.doc, back.doc);
    /* Every version within the history depth is still readable, and equal. */
    cr_assert_leq(ot_doc_oldest_version(back.doc), 105 - 10);
    for (uint64_t v = 95; v <= 105; v++) {
        ot_buf a, b;
        ot_buf_init(&a);
        ot_buf_init(&b);
        cr_assert_eq(ot_doc_text_at(lv.doc, v, &a), 0);
        cr_assert_eq(ot_doc_text_at(back.doc, v, &b), 0, "v %llu", (unsigned long long)v);
        cr_assert_eq(a.len, b.len);
        if (a.len)
            cr_assert_arr_eq(a.data, b.data, a.len);
        ot_buf_free(&a);
        ot_buf_free(&b);
    }
    ot_buf old;
    ot_buf_init(&old);
    cr_assert_eq(ot_doc_text_at(back.doc, 89, &old), OT_ERR_VERSION_TOO_OLD);
    ot_buf_free(&old);
    live_close(&back);
    live_close(&lv);
    dd_close(&dd);
}

typedef struct collected {
    uint64_t bases[128];
    int count;
} collected;

static int collect_op(void *ctx, const store_record *rec, size_t off) {
    (void)off;
    collected *c = ctx;
    c->bases[c->count++] = rec->base_version;
    return 0;
}

Test(store_recover, read_ops_by_range_across_segments) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "r", true, &rep);
    for (int i = 0; i < 30; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 25), 0);
    for (int i = 30; i < 40; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    collected c = {0};
    cr_assert_eq(store_read_ops(dd.fd, "r", 1, 25, 35, collect_op, &c), 0);
    cr_assert_eq(c.count, 10);
    for (int i = 0; i < 10; i++)
        cr_assert_eq(c.bases[i], 25 + (uint64_t)i);
    c.count = 0;
    cr_assert_eq(store_read_ops(dd.fd, "r", 1, 38, 1000, collect_op, &c), 0);
    cr_assert_eq(c.count, 2);
    cr_assert_eq(store_read_ops(dd.fd, "r", 1, 40, 50, collect_op, &c), -ERANGE);
    cr_assert_eq(store_read_ops(dd.fd, "nope", 4, 0, 5, collect_op, &c), -ENOENT);
    cr_assert_eq(store_read_ops(dd.fd, "../r", 4, 0, 5, collect_op, &c), -EINVAL);
    live_close(&lv);
    dd_close(&dd);
}

typedef struct names {
    char list[8][64];
    int count;
} names;

static int collect_name(void *ctx, const char *name, size_t len) {
    names *n = ctx;
    cr_assert_lt(n->count, 8);
    memcpy(n->list[n->count], name, len);
    n->list[n->count][len] = '\0';
    n->count++;
    return 0;
}

static bool has_name(const names *n, const char *want) {
    for (int i = 0; i < n->count; i++)
        if (strcmp(n->list[i], want) == 0)
            return true;
    return false;
}

Test(store_recover, names_list_delete_and_escapes) {
    datadir dd;
    dd_open(&dd);
    ot_limits lim = test_limits();
    store_recovery rep;
    const char *bad[] = {"../x", "/etc", "a/../../b", "a//b", "", "a/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ot_doc *doc = NULL;
        store_doc_files files;
        cr_assert_eq(store_doc_open(dd.fd, bad[i], strlen(bad[i]), true, &lim, &doc, &files, &rep),
                     -EINVAL, "%s", bad[i]);
        cr_assert_eq(store_doc_delete(dd.fd, bad[i], strlen(bad[i])), -EINVAL);
    }
    ot_doc *doc = NULL;
    store_doc_files files;
    cr_assert_eq(store_doc_open(dd.fd, "a\0b", 3, true, &lim, &doc, &files, &rep), -EINVAL);
    cr_assert_eq(store_doc_open(dd.fd, "missing", 7, false, &lim, &doc, &files, &rep), -ENOENT);

    live a, b;
    live_open(&a, &dd, "notes/a", true, &rep);
    live_open(&b, &dd, "b.txt", true, &rep);
    live_edit(&a, 0);
    live_flush(&a);
    live_close(&a);
    live_close(&b);
    /* A stray file and a foreign directory are not documents. */
    int fd = openat(dd.fd, "README", O_CREAT | O_WRONLY, 0644);
    close(fd);
    cr_assert_eq(mkdirat(dd.fd, "%deleted%zzz", 0755), 0);

    names n = {0};
    cr_assert_eq(store_list(dd.fd, collect_name, &n), 0);
    cr_assert_eq(n.count, 2);
    cr_assert(has_name(&n, "notes/a"));
    cr_assert(has_name(&n, "b.txt"));

    cr_assert_eq(store_doc_delete(dd.fd, "notes/a", 7), 0);
    cr_assert_eq(store_doc_delete(dd.fd, "notes/a", 7), -ENOENT);
    struct stat st;
    cr_assert_eq(fstatat(dd.fd, "notes+a", &st, 0), -1);
    cr_assert_eq(fstatat(dd.fd, "%deleted%notes+a", &st, 0), -1);
    n.count = 0;
    cr_assert_eq(store_list(dd.fd, collect_name, &n), 0);
    cr_assert_eq(n.count, 1);
    cr_assert(has_name(&n, "b.txt"));
    /* Re-creating a deleted document starts it afresh. */
    live again;
    live_open(&again, &dd, "notes/a", true, &rep);
    cr_assert_eq(ot_doc_version(again.doc), 0);
    live_close(&again);
    cr_assert_eq(unlinkat(dd.fd, "README", 0), 0);
    cr_assert_eq(unlinkat(dd.fd, "%deleted%zzz", AT_REMOVEDIR), 0);
    dd_close(&dd);
}

/* ---- in-memory recovery ---- */

static size_t seg_with(uint8_t *buf, uint64_t start, const char **ops, int count) {
    store_segment_header_encode(start, buf);
    size_t len = STORE_SEGMENT_HEADER_BYTES;
    for (int i = 0; i < count; i++) {
        store_record r = {.base_version = start + (uint64_t)i, .op_json = ops[i],
                          .op_len = strlen(ops[i]), .id = "i", .id_len = 1};
        char id[8];
        snprintf(id, sizeof id, "i%d", (int)(start + (uint64_t)i));
        r.id = id;
        r.id_len = strlen(id);
        size_t n = 0;
        cr_assert_eq(store_record_encode(&r, buf + len, 4096, &n), 0);
        len += n;
    }
    return len;
}

Test(store_recover, images_without_anything_is_empty_doc) {
    ot_doc *doc = NULL;
    store_recovery rep;
    cr_assert_eq(store_recover_images(NULL, NULL, NULL, 0, &doc, &rep), 0);
    cr_assert_eq(ot_doc_version(doc), 0);
    cr_assert_eq(ot_text_len_bytes(ot_doc_text(doc)), 0);
    ot_doc_free(doc);
}

Test(store_recover, images_snapshot_then_segments) {
    uint8_t snap[128];
    size_t sn = 0;
    cr_assert_eq(store_snapshot_encode(2, "ab", 2, snap, sizeof snap, &sn), 0);
    uint8_t s0[4096], s1[4096];
    /* Segment 0 has ops 0..2 (0 and 1 are older than the snapshot). */
    const char *ops0[] = {"[\"a\"]", "[1,\"b\"]", "[2,\"c\"]"};
    const char *ops1[] = {"[-1,2]"};
    store_segment_image segs[2] = {
        {.name = "s0", .bytes = s0, .len_bytes = seg_with(s0, 0, ops0, 3)},
        {.name = "s1", .bytes = s1, .len_bytes = seg_with(s1, 3, ops1, 1)},
    };
    store_segment_image si = {.name = "snap", .bytes = snap, .len_bytes = sn};
    ot_doc *doc = NULL;
    store_recovery rep;
    cr_assert_eq(store_recover_images(NULL, &si, segs, 2, &doc, &rep), 0, "%s", rep.message);
    cr_assert_eq(rep.snapshot_version, 2);
    cr_assert_eq(rep.count_replayed, 2);
    cr_assert_eq(ot_doc_version(doc), 4);
    cr_assert(ot_text_equals(ot_doc_text(doc), "bc", 2));
    ot_doc_free(doc);
}

Test(store_recover, images_refuse_gap_bad_op_bad_snapshot_and_early_torn_segment) {
    uint8_t s0[4096], s1[4096];
    const char *ops0[] = {"[\"a\"]", "[1,\"b\"]"};
    const char *ops1[] = {"[2,\"x\"]"};
    store_segment_image segs[2] = {
        {.name = "s0", .bytes = s0, .len_bytes = seg_with(s0, 0, ops0, 2)},
        {.name = "s1", .bytes = s1, .len_bytes = seg_with(s1, 5, ops1, 1)},
    };
    ot_doc *doc = NULL;
    store_recovery rep;
    cr_assert_eq(store_recover_images(NULL, NULL, segs, 2, &doc, &rep), STORE_ERR_VERSION_GAP);
    cr_assert_null(doc);
    cr_assert_not_null(strstr(rep.message, "s1: record at byte offset 24 is version 5, not 2: "
                                           "ops [2, 5) are missing"),
                       "%s", rep.message);

    /* An op whose base length does not match the text. */
    const char *bad_ops[] = {"[\"a\"]", "[7,\"b\"]"};
    segs[0].len_bytes = seg_with(s0, 0, bad_ops, 2);
    cr_assert_eq(store_recover_images(NULL, NULL, segs, 1, &doc, &rep), STORE_ERR_REPLAY);
    cr_assert_not_null(strstr(rep.message, "does not apply"), "%s", rep.message);

    /* Torn tail in a segment that is not the last. */
    segs[0].len_bytes = seg_with(s0, 0, ops0, 2) - 3;
    segs[1].len_bytes = seg_with(s1, 1, ops1, 1);
    cr_assert_eq(store_recover_images(NULL, NULL, segs, 2, &doc, &rep), STORE_ERR_CORRUPT);
    cr_assert_not_null(strstr(rep.message, "s0: damaged record"), "%s", rep.message);
    /* ... but as the last one it is truncated. */
    cr_assert_eq(store_recover_images(NULL, NULL, segs, 1, &doc, &rep), 0);
    cr_assert(rep.torn_tail);
    cr_assert_eq(rep.version, 1);
    ot_doc_free(doc);

    uint8_t snap[64];
    size_t sn = 0;
    cr_assert_eq(store_snapshot_encode(1, "a", 1, snap, sizeof snap, &sn), 0);
    snap[25] ^= 1;
    store_segment_image si = {.name = "x/snapshot", .bytes = snap, .len_bytes = sn};
    cr_assert_eq(store_recover_images(NULL, &si, NULL, 0, &doc, &rep), STORE_ERR_CRC);
    cr_assert_not_null(strstr(rep.message, "x/snapshot: checksum mismatch"), "%s", rep.message);
}

Test(store_recover, duplicate_id_in_log_is_applied_again) {
    /* The same id twice (the first had left a smaller history): both apply. */
    uint8_t s0[4096];
    store_segment_header_encode(0, s0);
    size_t len = STORE_SEGMENT_HEADER_BYTES;
    const char *ops[] = {"[\"a\"]", "[1,\"b\"]"};
    for (int i = 0; i < 2; i++) {
        store_record r = {.base_version = (uint64_t)i, .op_json = ops[i], .op_len = strlen(ops[i]),
                          .id = "same", .id_len = 4};
        size_t n = 0;
        cr_assert_eq(store_record_encode(&r, s0 + len, sizeof s0 - len, &n), 0);
        len += n;
    }
    store_segment_image seg = {.name = "s", .bytes = s0, .len_bytes = len};
    ot_doc *doc = NULL;
    store_recovery rep;
    cr_assert_eq(store_recover_images(NULL, NULL, &seg, 1, &doc, &rep), 0, "%s", rep.message);
    cr_assert_eq(ot_doc_version(doc), 2);
    cr_assert(ot_text_equals(ot_doc_text(doc), "ab", 2));
    ot_doc_free(doc);
}

Test(store_recover, compaction_under_interval_policy_and_reopen_with_empty_segment) {
    datadir dd;
    dd_open(&dd);
    ot_limits lim = test_limits();
    store_recovery rep;
    live lv;
    memset(&lv, 0, sizeof lv);
    lv.rng = 99;
    cr_assert_eq(store_doc_open(dd.fd, "iv", 2, true, &lim, &lv.doc, &lv.files, &rep), 0);
    store_log_config cfg = store_log_config_default();
    cfg.fsync_policy = STORE_FSYNC_INTERVAL;
    cfg.fsync_interval_ms = 1000000; /* never due by the clock */
    cr_assert_eq(store_log_new(&cfg, lv.files.log_fd, 0, 0, &lv.log), 0);
    for (int i = 0; i < 12; i++)
        live_edit(&lv, i);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(lv.log, 5, &f), 1);
    cr_assert_not(f.fsync);
    cr_assert_eq(pwrite(f.fd, f.iov.iov_base, f.iov.iov_len, (off_t)f.offset_bytes),
                 (ssize_t)f.iov.iov_len);
    cr_assert_eq(store_log_flush_done(lv.log, 5, (int64_t)f.iov.iov_len, 0, NULL), 0);
    cr_assert_eq(store_log_synced_version(lv.log), 0);
    /* Compaction forces the fsync before switching segments. */
    cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 4), 0);
    cr_assert_eq(store_log_synced_version(lv.log), 12);
    cr_assert_eq(lv.files.snapshot_version, 8);
    live_close(&lv);

    /* log.12 exists but is empty (nothing appended after the compaction). */
    struct stat st;
    cr_assert_eq(stat(doc_file_path(&dd, "iv", "log.00000000000000000012"), &st), 0);
    cr_assert_eq(st.st_size, 0);
    live back;
    live_open(&back, &dd, "iv", false, &rep);
    cr_assert_eq(rep.version, 12);
    cr_assert_eq(rep.snapshot_version, 8);
    cr_assert_eq(back.files.log_start_version, 12);
    cr_assert_eq(back.files.log_end_offset, 0);
    live_edit(&back, 12);
    live_flush(&back);
    live_close(&back);
    live again;
    live_open(&again, &dd, "iv", false, &rep);
    cr_assert_eq(rep.version, 13);
    live_close(&again);
    dd_close(&dd);
}

Test(store_recover, compact_refuses_busy_or_mismatched_log) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "busy", true, &rep);
    live_edit(&lv, 0);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(lv.log, 0, &f), 1);
    /* A flush is in flight (the ring has it): compaction must wait. */
    cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 4), -EBUSY);
    cr_assert_eq(store_log_flush_done(lv.log, 0, -EIO, -ECANCELED, NULL), 0);
    cr_assert(store_log_failed(lv.log));
    cr_assert_not(store_log_accepting(lv.log));
    /* The log's version must be the document's. */
    ot_doc *other = ot_doc_new(NULL, 0, "", 0);
    cr_assert_eq(compact_blocking(&lv.files, lv.log, other, 4), -EINVAL);
    ot_doc_free(other);
    /* Compaction flushes first: the retry succeeds and clears the failure. */
    cr_assert_eq(compact_blocking(&lv.files, lv.log, lv.doc, 4), 0);
    cr_assert_not(store_log_failed(lv.log));
    cr_assert_eq(store_log_durable_version(lv.log), 1);
    cr_assert_eq(lv.files.log_start_version, 1);
    live_close(&lv);
    dd_close(&dd);
}

Test(store_recover, stepwise_compaction_while_appending) {
    datadir dd;
    dd_open(&dd);
    live lv;
    store_recovery rep;
    live_open(&lv, &dd, "steps", true, &rep);
    for (int i = 0; i < 20; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    cr_assert(store_log_idle(lv.log));
    /* Step 1: the new segment (the helper's segment job: create + fsync of
     * the dir), then the worker's switch at the seam. */
    char seg[STORE_SEGMENT_NAME_BYTES];
    store_segment_file_name(20, seg);
    cr_assert_str_eq(seg, "log.00000000000000000020");
    int fd = store_segment_create(lv.files.dir_fd, 20);
    cr_assert_geq(fd, 0);
    cr_assert_eq(store_segment_create(lv.files.dir_fd, 20), -EEXIST);
    cr_assert_eq(store_log_switch_segment_pending(lv.log, fd, 20), 0);
    close(lv.files.log_fd);
    lv.files.log_fd = fd;
    lv.files.log_start_version = 20;
    /* Step 2: the image, on the worker. */
    uint64_t snap = 0;
    uint8_t *image = NULL;
    size_t image_len = 0;
    cr_assert_eq(store_compact_snapshot_image(lv.doc, 15, 0, &snap, &image, &image_len), 0);
    cr_assert_eq(snap, 15);
    cr_assert_not_null(image);
    /* Appends go on before step 3 runs. */
    for (int i = 20; i < 25; i++)
        live_edit(&lv, i);
    live_flush(&lv);
    /* Step 3: the files, anywhere. log.0 holds 15..19: kept. */
    cr_assert_eq(store_checkpoint_write(lv.files.dir_fd, snap, image, image_len, NULL), 0);
    free(image);
    struct stat st;
    cr_assert_eq(stat(doc_file_path(&dd, "steps", SEG0), &st), 0);
    /* Nothing newer to snapshot: no image. */
    uint64_t snap2 = 0;
    cr_assert_eq(store_compact_snapshot_image(lv.doc, 0, 15, &snap2, &image, &image_len), 0);
    cr_assert_eq(snap2, 15);
    cr_assert_null(image);

    live back;
    live_open(&back, &dd, "steps", false, &rep);
    cr_assert_eq(rep.snapshot_version, 15);
    cr_assert_eq(rep.count_replayed, 10);
    assert_same_doc(lv.doc, back.doc);
    live_close(&back);
    live_close(&lv);
    dd_close(&dd);
}
