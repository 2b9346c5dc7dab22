#include "store_live.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void dd_open(datadir *dd) {
    strcpy(dd->path, "/tmp/ringpad-store-XXXXXX");
    cr_assert_not_null(mkdtemp(dd->path));
    dd->fd = open(dd->path, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(dd->fd, 0);
}

int dd_delete_one(void *ctx, const char *name, size_t len) {
    return store_doc_delete(*(int *)ctx, name, len);
}

void dd_close(datadir *dd) {
    cr_assert_eq(store_list(dd->fd, dd_delete_one, &dd->fd), 0);
    close(dd->fd);
    cr_assert_eq(rmdir(dd->path), 0, "data dir left files behind");
}

char *doc_file_path(const datadir *dd, const char *dir, const char *file) {
    static char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", dd->path, dir, file);
    return path;
}

ot_limits test_limits(void) {
    ot_limits lim = ot_limits_default();
    lim.history_depth = 1000;
    return lim;
}


void live_open(live *lv, const datadir *dd, const char *name, bool create,
                      store_recovery *rep) {
    ot_limits lim = test_limits();
    memset(lv, 0, sizeof *lv);
    lv->rng = 0x1234567u;
    int rc = store_doc_open(dd->fd, name, strlen(name), create, &lim, &lv->doc, &lv->files, rep);
    cr_assert_eq(rc, 0, "open: %s", rep->message);
    store_log_config cfg = store_log_config_default();
    cr_assert_eq(store_log_new(&cfg, lv->files.log_fd, lv->files.log_end_offset,
                               ot_doc_version(lv->doc), &lv->log), 0);
}

void live_close(live *lv) {
    store_log_free(lv->log);
    store_doc_files_close(&lv->files);
    ot_doc_free(lv->doc);
}

static uint32_t rnd(live *lv) {
    lv->rng = lv->rng * 1103515245u + 12345u;
    return lv->rng >> 8;
}

/* A random op on the text of version `base` (ASCII, CJK and emoji inserts). */
void random_op(live *lv, uint64_t base, ot_op *op) {
    ot_buf text;
    ot_buf_init(&text);
    cr_assert_eq(ot_doc_text_at(lv->doc, base, &text), 0);
    ot_text *t = ot_text_from_utf8(text.len ? text.data : "", text.len);
    uint64_t len = ot_text_len_codepoints(t);
    ot_text_free(t);
    ot_buf_free(&text);
    ot_op_clear(op);
    uint64_t pos = len ? rnd(lv) % (len + 1) : 0;
    cr_assert_eq(ot_op_retain(op, pos), 0);
    if (len - pos > 0 && rnd(lv) % 3 == 0) {
        uint64_t del = 1 + rnd(lv) % (len - pos);
        cr_assert_eq(ot_op_delete(op, del), 0);
        pos += del;
    } else {
        static const char *pieces[] = {"a", "hello ", "\xe6\xbc\xa2\xe5\xad\x97", "\xf0\x9f\x98\x80", "\n"};
        const char *p = pieces[rnd(lv) % 5];
        cr_assert_eq(ot_op_insert(op, p, strlen(p)), 0);
    }
    cr_assert_eq(ot_op_retain(op, len - pos), 0);
}

/* Submits one op (based on a recent version, so it is often transformed),
 * logs it and flushes. */
void live_edit(live *lv, int index) {
    uint64_t v = ot_doc_version(lv->doc);
    uint64_t back = rnd(lv) % 4;
    uint64_t base = v - (back > v - ot_doc_oldest_version(lv->doc) ? 0 : back);
    ot_op op;
    ot_op_init(&op);
    random_op(lv, base, &op);
    char id[32];
    snprintf(id, sizeof id, "client-%d:%d", index % 3, index);
    ot_submit_result res;
    ot_op_init(&res.op);
    cr_assert(store_log_accepting(lv->log));
    cr_assert_eq(ot_doc_submit(lv->doc, base, &op, id, strlen(id), "alice", 5, 1000 + index, &res), 0);
    cr_assert_not(res.duplicate);
    ot_buf json;
    ot_buf_init(&json);
    cr_assert_eq(ot_op_to_json(&res.op, &json), 0);
    store_record rec = {.base_version = res.applied_at_version, .time_ms = 1000 + index,
                        .id = id, .id_len = strlen(id), .author = "alice", .author_len = 5,
                        .op_json = json.data, .op_len = json.len};
    cr_assert_eq(store_log_append(lv->log, &rec), 0);
    ot_buf_free(&json);
    ot_op_free(&op);
    ot_op_free(&res.op);
}

void live_flush(live *lv) {
    store_flush_result res;
    cr_assert_eq(store_sync_flush(lv->log, 0, NULL, &res), 0);
    cr_assert_eq(store_log_durable_version(lv->log), ot_doc_version(lv->doc));
}

void text_of(const ot_doc *doc, ot_buf *out) {
    ot_buf_init(out);
    cr_assert_eq(ot_text_to_buf(ot_doc_text(doc), out), 0);
}

void assert_same_doc(const ot_doc *a, const ot_doc *b) {
    cr_assert_eq(ot_doc_version(a), ot_doc_version(b));
    ot_buf ta, tb;
    text_of(a, &ta);
    text_of(b, &tb);
    cr_assert_eq(ta.len, tb.len);
    if (ta.len > 0)
        cr_assert_arr_eq(ta.data, tb.data, ta.len);
    ot_buf_free(&ta);
    ot_buf_free(&tb);
}

/* Step 1 of compaction as the server runs it: the segment job's file
 * (store_segment_create), then the worker's switch at the seam. */
int compact_new_segment(store_doc_files *files, store_log *log, uint64_t version) {
    int fd = store_segment_create(files->dir_fd, version);
    if (fd < 0)
        return fd;
    int rc = store_log_switch_segment_pending(log, fd, version);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    close(files->log_fd);
    files->log_fd = fd;
    files->log_start_version = version;
    files->log_end_offset = 0;
    return 0;
}

/* The three compaction steps of store.h run back to back, blocking: the log
 * flushed, a new segment, the snapshot written, the old segments dropped. */
int compact_blocking(store_doc_files *files, store_log *log, const ot_doc *doc,
                            uint32_t history_depth) {
    uint64_t version = ot_doc_version(doc);
    if (store_log_next_version(log) != version)
        return -EINVAL;
    store_log_request_fsync(log);
    /* Bounded: each round either finishes the flush or fails. */
    for (int round = 0; round < 4 && !store_log_idle(log); round++) {
        int rc = store_sync_flush(log, 0, NULL, NULL);
        if (rc != 0)
            return rc;
    }
    if (!store_log_idle(log))
        return -EBUSY;

    int rc = compact_new_segment(files, log, version);
    if (rc != 0)
        return rc;

    uint64_t snap = 0;
    uint8_t *image = NULL;
    size_t image_len = 0;
    uint64_t at = version > history_depth ? version - history_depth : 0;
    rc = store_compact_snapshot_image(doc, at, files->snapshot_version, &snap, &image, &image_len);
    if (rc != 0)
        return rc;
    rc = image != NULL ? store_checkpoint_write(files->dir_fd, snap, image, image_len, NULL) : 0;
    free(image);
    if (rc == 0)
        files->snapshot_version = snap;
    return rc;
}

off_t file_size(const char *path) {
    struct stat st;
    cr_assert_eq(stat(path, &st), 0, "%s", path);
    return st.st_size;
}
