/* The retained history on disk: checkpoints, the text at any version, a
 * damaged checkpoint's fallback, retention by count and by age, and the
 * fault points of checkpoint writing and pruning. */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_faults.h"
#include "store_live.h"

#define CK(v) "ckpt.000000000000000000" #v

/* 60 edits with a checkpoint every 10 (history depth 0: at the version). */
static void build(datadir *dd, live *lv, ot_buf texts[61]) {
    dd_open(dd);
    store_recovery rep;
    live_open(lv, dd, "h", true, &rep);
    for (int i = 0; i < 60; i++) {
        text_of(lv->doc, &texts[i]);
        live_edit(lv, i);
        live_flush(lv);
        if ((i + 1) % 10 == 0 && i < 59)
            cr_assert_eq(compact_blocking(&lv->files, lv->log, lv->doc, 0), 0);
    }
    text_of(lv->doc, &texts[60]);
}

static void assert_text(const datadir *dd, uint64_t v, const ot_buf *want) {
    ot_buf got;
    ot_buf_init(&got);
    uint64_t ck = 0;
    cr_assert_eq(store_text_at(dd->fd, "h", 1, v, &got, &ck), 0, "v %llu", (unsigned long long)v);
    cr_assert_leq(v - ck, 10, "at most 10 op applications from checkpoint %llu", (unsigned long long)ck);
    cr_assert_eq(got.len, want->len, "v %llu", (unsigned long long)v);
    if (got.len > 0) cr_assert_arr_eq(got.data, want->data, got.len);
    ot_buf_free(&got);
}

Test(store_history, text_at_every_version_from_the_nearest_checkpoint) {
    datadir dd;
    live lv;
    ot_buf texts[61];
    build(&dd, &lv, texts);
    for (uint64_t v = 0; v <= 60; v++) assert_text(&dd, v, &texts[v]);
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(store_text_at(dd.fd, "h", 1, 61, &b, NULL), -ERANGE, "past the log's end");
    cr_assert_eq(store_text_at(dd.fd, "nope", 4, 0, &b, NULL), -ENOENT);
    ot_buf_free(&b);
    for (int i = 0; i <= 60; i++) ot_buf_free(&texts[i]);
    live_close(&lv);
    dd_close(&dd);
}

Test(store_history, a_damaged_checkpoint_falls_back_to_the_previous_one) {
    datadir dd;
    live lv;
    ot_buf texts[61];
    build(&dd, &lv, texts);
    live_close(&lv);
    const char *path = doc_file_path(&dd, "h", CK(50));
    int fd = open(path, O_RDWR);
    cr_assert_geq(fd, 0);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, 30), 1);
    byte ^= 0xff;
    cr_assert_eq(pwrite(fd, &byte, 1, 30), 1);
    close(fd);
    store_recovery rep;
    live back;
    live_open(&back, &dd, "h", false, &rep);
    cr_assert_eq(rep.snapshot_version, 40, "the previous checkpoint");
    cr_assert_not_null(strstr(rep.fallback, "ckpt.00000000000000000050: checksum mismatch; falling back"), "%s",
                       rep.fallback);
    cr_assert_eq(ot_doc_version(back.doc), 60);
    ot_buf now;
    text_of(back.doc, &now);
    cr_assert_eq(now.len, texts[60].len);
    ot_buf_free(&now);
    /* the text at 55 skips the damaged checkpoint too */
    ot_buf got;
    ot_buf_init(&got);
    uint64_t ck = 0;
    cr_assert_eq(store_text_at(dd.fd, "h", 1, 55, &got, &ck), 0);
    cr_assert_eq(ck, 40);
    cr_assert_eq(got.len, texts[55].len);
    ot_buf_free(&got);
    for (int i = 0; i <= 60; i++) ot_buf_free(&texts[i]);
    live_close(&back);
    dd_close(&dd);
}

Test(store_history, retention_by_count_keeps_a_loadable_document) {
    datadir dd;
    live lv;
    ot_buf texts[61];
    build(&dd, &lv, texts);
    store_retention keep = {.keep = STORE_KEEP_ALL};
    uint64_t oldest = 99;
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 60, 0, NULL, &oldest), 0);
    cr_assert_eq(oldest, 0, "all: nothing goes");
    keep = (store_retention){.keep = STORE_KEEP_OPS, .ops = 25};
    /* the client catch-up bound wins over the count */
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 12, 0, NULL, &oldest), 0);
    cr_assert_eq(oldest, 10);
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 60, 0, NULL, &oldest), 0);
    cr_assert_eq(oldest, 30, "the newest checkpoint at or below 60 - 25");
    struct stat st;
    cr_assert_eq(stat(doc_file_path(&dd, "h", CK(20)), &st), -1);
    cr_assert_eq(stat(doc_file_path(&dd, "h", "log.00000000000000000020"), &st), -1);
    cr_assert_eq(stat(doc_file_path(&dd, "h", "log.00000000000000000030"), &st), 0);
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(store_text_at(dd.fd, "h", 1, 29, &b, NULL), -ERANGE, "older than every checkpoint");
    ot_buf_free(&b);
    assert_text(&dd, 30, &texts[30]);
    live_close(&lv);
    store_recovery rep;
    live back;
    live_open(&back, &dd, "h", false, &rep);
    cr_assert_eq(back.files.oldest_version, 30);
    cr_assert_eq(ot_doc_version(back.doc), 60);
    for (int i = 0; i <= 60; i++) ot_buf_free(&texts[i]);
    live_close(&back);
    dd_close(&dd);
}

Test(store_history, retention_by_age_drops_segments_older_than_it) {
    datadir dd;
    live lv;
    ot_buf texts[61];
    build(&dd, &lv, texts);
    struct stat st;
    cr_assert_eq(stat(doc_file_path(&dd, "h", "log.00000000000000000040"), &st), 0);
    int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    store_retention keep = {.keep = STORE_KEEP_AGE, .age_ms = 60000};
    uint64_t oldest = 0;
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 60, mtime_ms + 1000, NULL, &oldest), 0);
    cr_assert_eq(oldest, 0, "everything is younger than a minute");
    /* an hour later every closed segment is older than the age */
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 60, mtime_ms + 3600000, NULL, &oldest), 0);
    cr_assert_eq(oldest, 50);
    cr_assert_eq(stat(doc_file_path(&dd, "h", "log.00000000000000000040"), &st), -1);
    cr_assert_eq(stat(doc_file_path(&dd, "h", "log.00000000000000000050"), &st), 0, "the active segment stays");
    for (int i = 0; i <= 60; i++) ot_buf_free(&texts[i]);
    live_close(&lv);
    dd_close(&dd);
}

Test(store_history, injected_failures_leave_the_files_as_they_were) {
    datadir dd;
    live lv;
    ot_buf texts[61];
    build(&dd, &lv, texts);
    char err[256];
    store_fault_plan plan;
    cr_assert_eq(store_fault_plan_parse("fail=checkpoint:EIO:1:1", &plan, err, sizeof err), 0, "%s", err);
    uint8_t image[64];
    size_t n = 0;
    cr_assert_eq(store_snapshot_encode(70, "x", 1, image, sizeof image, &n), 0);
    cr_assert_eq(store_checkpoint_write(lv.files.dir_fd, 70, image, n, &plan), -EIO);
    struct stat st;
    cr_assert_eq(stat(doc_file_path(&dd, "h", CK(70)), &st), -1, "never renamed into place");
    cr_assert_eq(stat(doc_file_path(&dd, "h", "ckpt.tmp"), &st), -1, "the temporary file is gone");
    cr_assert_eq(store_fault_plan_parse("fail=snapshot:SHORT:1:1", &plan, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_checkpoint_write(lv.files.dir_fd, 70, image, n, &plan), -EIO);
    cr_assert_eq(stat(doc_file_path(&dd, "h", CK(70)), &st), -1);
    cr_assert_eq(store_fault_plan_parse("fail=prune:ENOSPC:2:1", &plan, err, sizeof err), 0, "%s", err);
    store_retention keep = {.keep = STORE_KEEP_OPS, .ops = 5};
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 60, 0, &plan, NULL), -ENOSPC);
    cr_assert_eq(stat(doc_file_path(&dd, "h", CK(10)), &st), -1, "the first removal happened");
    cr_assert_eq(stat(doc_file_path(&dd, "h", CK(20)), &st), 0, "the second failed");
    /* loadable, and the next prune finishes the job */
    uint64_t oldest = 0;
    cr_assert_eq(store_prune(lv.files.dir_fd, &keep, 60, 60, 0, NULL, &oldest), 0);
    cr_assert_eq(oldest, 50);
    live_close(&lv);
    store_recovery rep;
    live back;
    live_open(&back, &dd, "h", false, &rep);
    cr_assert_eq(ot_doc_version(back.doc), 60);
    for (int i = 0; i <= 60; i++) ot_buf_free(&texts[i]);
    live_close(&back);
    dd_close(&dd);
}
