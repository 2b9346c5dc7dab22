/*
 * The document table's disk side: reads of a missing document never create
 * it, the listing answers from the metadata cache without loading, /ops is
 * served from the log beyond the in-memory history, and requests for a
 * document whose load (on the disk helper thread) is out wait in order.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/membudget.h"
#include "collab/docs.h"
#include "collab/docs_disk.h"
#include "collab/fanout.h"
#include "store/store.h"
#include "store_fixture.h"
#include "answer_json.h"

#define GOT_MAX 32

typedef struct got {
    uint64_t keys[GOT_MAX];
    char json[GOT_MAX][2048];
    char drop[GOT_MAX][64];
    int count;
} got;

static void on_local(void *ctx, uint64_t key, rbuf *frame, const char *doc, size_t doc_len) {
    got *g = ctx;
    cr_assert_lt(g->count, GOT_MAX);
    g->keys[g->count] = key;
    g->json[g->count][0] = '\0';
    g->drop[g->count][0] = '\0';
    if (frame != NULL) {
        answer_json(frame, g->json[g->count], sizeof g->json[0]);
    } else {
        snprintf(g->drop[g->count], sizeof g->drop[0], "%.*s", (int)doc_len, doc);
    }
    g->count++;
}

static char dir[64];

static void make_dir(void) {
    strcpy(dir, "/tmp/ringpad-docs-XXXXXX");
    cr_assert_not_null(mkdtemp(dir));
}

static void rm_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

static docs_config config_for(void) {
    docs_config dc = {
        .data_dir_fd = -1,
        .data_dir_path = dir,
        .limits = ot_limits_default(),
        .history_depth = 100,
        .log = store_log_config_default(),
        .idle_ms = 1000,
    };
    return dc;
}

static docs *table(void) {
    docs_config dc = config_for();
    docs *t;
    cr_assert_eq(docs_new(&dc, &t), 0);
    return t;
}

static docs_request *req(uint32_t kind, uint64_t key, const char *doc, uint64_t v, uint64_t to) {
    docs_request *r = docs_request_new(kind, 0);
    cr_assert_not_null(r);
    r->key = key;
    r->doc_len = strlen(doc);
    memcpy(r->doc, doc, r->doc_len);
    r->v = v;
    r->to = to;
    r->rest = kind >= DOCS_REQ_REST_GET;
    strcpy(r->session, "s");
    strcpy(r->by, "tester");
    return r;
}

static void run(docs *t, fanout *f, docs_request *r) {
    docs_execute(t, r, f, 0);
    mailbox_msg_unref(&r->hdr);
}

/* A REST op on doc at v0, id "i:1", inserting text (a JSON string). */
static docs_request *rest_insert(const char *doc, const char *text_json) {
    docs_request *op = req(DOCS_REQ_OP, 9, doc, 0, 0);
    op->rest = true;
    strcpy(op->id, "i:1");
    op->id_len = 3;
    char json[64];
    snprintf(json, sizeof json, "[%s]", text_json);
    cr_assert_eq(ot_op_parse_json(&op->op, json, strlen(json), NULL, NULL), OT_OK);
    return op;
}

static bool has(const got *g, int i, const char *needle) {
    return i < g->count && strstr(g->json[i], needle) != NULL;
}

static bool exists(const char *rel) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    struct stat st;
    return stat(p, &st) == 0;
}


Test(docs, reads_of_a_missing_document_do_not_create_it, .init = make_dir, .fini = rm_dir) {
    got g = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &g), 0);
    docs *t = table();
    run(t, &f, req(DOCS_REQ_REST_GET, 9, "nope", 0, 0));
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "nope", 0, 10));
    run(t, &f, req(DOCS_REQ_REST_INFO, 9, "nope", 0, 0));
    run(t, &f, req(DOCS_REQ_REST_DELETE, 9, "nope", 0, 0));
    run(t, &f, req(DOCS_REQ_CLOSE, 7, "nope", 0, 0));
    run(t, &f, req(DOCS_REQ_PRESENCE, 7, "nope", 0, 0));
    cr_assert_eq(g.count, 5, "close answers nothing");
    for (int i = 0; i < 3; i++)
        cr_assert(has(&g, i, "\"code\":\"not_found\"") && has(&g, i, "\"ref\":\"nope\""), "%d: %s", i, g.json[i]);
    cr_assert_str_eq(g.json[3], "{\"deleted\":false}");
    cr_assert(has(&g, 4, "\"not_open\""));
    cr_assert_not(exists("nope"), "nothing was created");
    cr_assert_eq(docs_count_loaded(t), 0);
    cr_assert_eq(docs_count_busy(t), 0);
    /* open creates it */
    run(t, &f, req(DOCS_REQ_OPEN, 7, "nope", 0, 0));
    cr_assert(has(&g, 5, "\"snapshot\""), "%s", g.json[5]);
    cr_assert(exists("nope/log.00000000000000000000"));
    docs_free(t, 0);
    fanout_destroy(&f);
}

Test(docs, listing_answers_from_metadata_without_loading_until_it_is_stale, .init = make_dir, .fini = rm_dir) {
    got g = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &g), 0);
    docs *t = table();
    run(t, &f, rest_insert("m", "\"日本\""));
    docs_free(t, 0);   /* flush, unload: the metadata is written */
    cr_assert(exists("m/meta"));
    t = table();
    g.count = 0;
    run(t, &f, req(DOCS_REQ_REST_INFO, 9, "m", 0, 0));
    cr_assert_str_eq(g.json[0], "{\"doc\":\"m\",\"v\":1,\"codepoints\":2,\"bytes\":6}");
    cr_assert_eq(docs_count_loaded(t), 0, "answered from the metadata");
    /* the log grew behind the cache's back: stale, so the document is loaded */
    char p[128];
    snprintf(p, sizeof p, "%s/m/log.00000000000000000000", dir);
    int fd = open(p, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "x", 1), 1);   /* a torn tail: truncated by the load */
    close(fd);
    run(t, &f, req(DOCS_REQ_REST_INFO, 9, "m", 0, 0));
    cr_assert_str_eq(g.json[1], "{\"doc\":\"m\",\"v\":1,\"codepoints\":2,\"bytes\":6}");
    cr_assert_eq(docs_count_loaded(t), 1);
    /* a loaded document's meta file is only a version floor, never a valid cache */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    store_meta m;
    cr_assert_eq(store_meta_read(dfd, "m", 1, &m), -ESTALE, "a loaded document has no valid listing cache");
    int ddir = openat(dfd, "m", O_RDONLY | O_DIRECTORY);
    uint64_t floor = 0;
    cr_assert_eq(store_meta_version(ddir, &floor), 0);
    cr_assert_eq(floor, 1);
    close(ddir);
    close(dfd);
    docs_free(t, 0);
    fanout_destroy(&f);
}

Test(docs, meta_files_damaged_or_stale_are_refused, .init = make_dir, .fini = rm_dir) {
    store_fixture_write_doc(dir, "d", 3, NULL, NULL, NULL);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    char p[128];
    snprintf(p, sizeof p, "%s/d", dir);
    int ddir = open(p, O_RDONLY | O_DIRECTORY);
    cr_assert_geq(ddir, 0);
    store_meta m;
    cr_assert_eq(store_meta_read(dfd, "d", 1, &m), -ESTALE, "no file yet");
    cr_assert_eq(store_meta_read(dfd, "zz", 2, &m), -ENOENT);
    cr_assert_eq(store_meta_read(dfd, "../x", 4, &m), -EINVAL);
    struct stat st;
    snprintf(p, sizeof p, "%s/d/log.00000000000000000000", dir);
    cr_assert_eq(stat(p, &st), 0);
    store_meta w = {.version = 3, .count_codepoints = 3, .count_bytes = 3, .log_start_version = 0,
                    .log_end_offset = (uint64_t)st.st_size};
    cr_assert_eq(store_meta_write(ddir, &w), 0);
    cr_assert_eq(store_meta_read(dfd, "d", 1, &m), 0);
    cr_assert_eq(m.version, 3);
    cr_assert_eq(m.log_end_offset, (uint64_t)st.st_size);
    w.log_end_offset++;
    cr_assert_eq(store_meta_write(ddir, &w), 0);
    cr_assert_eq(store_meta_read(dfd, "d", 1, &m), -ESTALE, "the segment has another size");
    w.log_end_offset--;
    w.log_start_version = 7;
    cr_assert_eq(store_meta_write(ddir, &w), 0);
    cr_assert_eq(store_meta_read(dfd, "d", 1, &m), -ESTALE, "the segment is gone");
    /* the image */
    uint8_t img[52];
    snprintf(p, sizeof p, "%s/d/meta", dir);
    int fd = open(p, O_RDONLY);
    cr_assert_eq(read(fd, img, sizeof img), 52);
    close(fd);
    cr_assert_eq(store_meta_decode(img, 52, &m), 0);
    cr_assert_eq(store_meta_decode(img, 51, &m), STORE_ERR_MAGIC);
    img[20] ^= 1;
    cr_assert_eq(store_meta_decode(img, 52, &m), STORE_ERR_CRC);
    img[0] = 'X';
    cr_assert_eq(store_meta_decode(img, 52, &m), STORE_ERR_MAGIC);
    cr_assert_eq(store_meta_remove(ddir), 0);
    cr_assert_eq(store_meta_remove(ddir), 0, "absent is fine");
    cr_assert_eq(store_meta_read(dfd, "d", 1, &m), -ESTALE);
    close(ddir);
    close(dfd);
}

/* A document whose snapshot (v30) is newer than the start of its log (v0):
 * after a load the memory history starts at 30, the log still has 0..49. */
static void doc_with_old_log(void) {
    ot_doc *doc;
    store_doc_files files;
    store_log *log;
    store_fixture_write_doc(dir, "h", 50, &doc, &files, &log);
    uint64_t snap;
    uint8_t *image;
    size_t len;
    cr_assert_eq(store_compact_snapshot_image(doc, 30, 0, &snap, &image, &len), 0);
    cr_assert_eq(snap, 30);
    cr_assert_eq(store_checkpoint_write(files.dir_fd, snap, image, len, NULL), 0);
    free(image);
    store_log_free(log);
    ot_doc_free(doc);
    store_doc_files_close(&files);
}

Test(docs, ops_beyond_the_memory_history_come_from_the_log, .init = make_dir, .fini = rm_dir) {
    doc_with_old_log();
    got g = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &g), 0);
    docs *t = table();
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 5, 8));
    cr_assert(has(&g, 0, "\"from\":5,\"to\":8,\"ops\":[{\"v\":5,\"id\":\"w:5\",\"by\":\"t\",\"time\":0,\"op\":[5,\"a\"]},"),
              "%s", g.json[0]);
    cr_assert(has(&g, 0, "\"id\":\"w:7\"") && !has(&g, 0, "\"id\":\"w:8\""));
    cr_assert_eq(docs_count_loaded(t), 1);
    /* across the seam: 28, 29 from the log, 30, 31 from memory */
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 28, 32));
    cr_assert(has(&g, 1, "\"to\":32"), "%s", g.json[1]);
    const char *ids[] = {"\"w:28\"", "\"w:29\"", "\"w:30\"", "\"w:31\""};
    const char *at = g.json[1];
    for (int i = 0; i < 4; i++) {
        const char *n = strstr(at, ids[i]);
        cr_assert_not_null(n, "%s missing or out of order in %s", ids[i], g.json[1]);
        at = n;
    }
    cr_assert(strstr(g.json[1], "\"w:32\"") == NULL);
    /* from in the future */
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 60, 70));
    cr_assert(has(&g, 2, "\"version_ahead\""), "%s", g.json[2]);
    docs_free(t, 0);
    fanout_destroy(&f);
}

Test(docs, over_the_memory_budget_history_is_shed_and_quiet_documents_unloaded, .init = make_dir, .fini = rm_dir) {
    doc_with_old_log();
    got g = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &g), 0);
    membudget b;
    membudget_init(&b, 1); /* over from the first byte */
    docs_config dc = config_for();
    dc.budget = &b;
    dc.history_memory_bytes = 1 << 20;
    docs *t;
    cr_assert_eq(docs_new(&dc, &t), 0);
    /* Loaded for a read: its history (30..49, published) leaves memory at once... */
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 40, 42));
    doc *h = docs_find(t, "h", 1);
    cr_assert_not_null(h);
    cr_assert_eq(ot_doc_oldest_version(doc_ot(h)), 50);
    cr_assert_eq(membudget_used(&b), doc_memory_bytes(h));
    /* ...and /ops reads those ops from the log instead. */
    cr_assert(has(&g, 0, "\"from\":40,\"to\":42,\"ops\":[{\"v\":40,\"id\":\"w:40\""), "%s", g.json[0]);
    cr_assert(has(&g, 0, "\"id\":\"w:41\"") && !has(&g, 0, "\"id\":\"w:42\""), "%s", g.json[0]);
    /* A document someone has open stays; a quiet one is unloaded on the tick. */
    run(t, &f, req(DOCS_REQ_OPEN, 7, "busy", 0, 0));
    cr_assert(has(&g, 1, "\"snapshot\""), "%s", g.json[1]);
    cr_assert_eq(docs_count_loaded(t), 2);
    docs_tick(t, NULL, &f, 1);
    cr_assert_eq(docs_count_loaded(t), 1);
    cr_assert_null(docs_find(t, "h", 1));
    doc *busy = docs_find(t, "busy", 4);
    cr_assert_not_null(busy);
    cr_assert_eq(membudget_used(&b), doc_memory_bytes(busy));
    /* Under the budget nothing is unloaded before --doc-idle-ms. */
    b.limit_bytes = 0;
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 40, 42));
    cr_assert_eq(docs_count_loaded(t), 2);
    cr_assert_eq(ot_doc_oldest_version(doc_ot(docs_find(t, "h", 1))), 30, "the history is kept");
    docs_tick(t, NULL, &f, 2);
    cr_assert_eq(docs_count_loaded(t), 2);
    docs_free(t, 0);
    cr_assert_eq(membudget_used(&b), 0);
    fanout_destroy(&f);
}

Test(docs, ops_that_retention_dropped_are_version_too_old, .init = make_dir, .fini = rm_dir) {
    doc_with_old_log();
    /* a second compaction: new segment at 50, snapshot at 55, segment 0 dropped */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY);
    ot_doc *doc;
    store_doc_files files;
    store_recovery rep;
    ot_limits lim = ot_limits_default();
    cr_assert_eq(store_doc_open(dfd, "h", 1, false, &lim, &doc, &files, &rep), 0);
    store_log_config cfg = store_log_config_default();
    store_log *log;
    cr_assert_eq(store_log_new(&cfg, files.log_fd, files.log_end_offset, 50, &log), 0);
    /* the server's path: the segment job makes the file, the worker switches */
    int seg_fd = store_segment_create(files.dir_fd, 50);
    cr_assert_geq(seg_fd, 0);
    cr_assert_eq(store_log_switch_segment_pending(log, seg_fd, 49), -EINVAL, "not the log's version");
    cr_assert_eq(store_segment_create(files.dir_fd, 50), -EEXIST, "the job made it already");
    cr_assert_eq(store_log_switch_segment_pending(log, seg_fd, 50), 0);
    close(files.log_fd);
    files.log_fd = seg_fd;
    files.log_start_version = 50;
    files.log_end_offset = 0;
    cr_assert_eq(store_log_end_offset(log), 0, "the new header is not written yet");
    cr_assert_eq(store_sync_flush(log, 0, NULL, NULL), 0);
    cr_assert_eq(store_log_end_offset(log), STORE_SEGMENT_HEADER_BYTES, "the header is there");
    for (int i = 50; i < 60; i++) {
        char id[16], op[32];
        snprintf(id, sizeof id, "w:%d", i);
        snprintf(op, sizeof op, "[%d,\"b\"]", i);
        ot_op o;
        ot_op_init(&o);
        cr_assert_eq(ot_op_parse_json(&o, op, strlen(op), NULL, NULL), OT_OK);
        ot_submit_result res;
        ot_op_init(&res.op);
        cr_assert_eq(ot_doc_submit(doc, (uint64_t)i, &o, id, strlen(id), "t", 1, 0, &res), OT_OK);
        ot_op_free(&res.op);
        ot_op_free(&o);
        store_record rec = {.base_version = (uint64_t)i, .id = id, .id_len = strlen(id), .author = "t",
                            .author_len = 1, .op_json = op, .op_len = strlen(op)};
        cr_assert_eq(store_log_append(log, &rec), 0);
    }
    cr_assert_eq(store_sync_flush(log, 0, NULL, NULL), 0);
    uint64_t snap;
    uint8_t *image;
    size_t len;
    cr_assert_eq(store_compact_snapshot_image(doc, 55, files.snapshot_version, &snap, &image, &len), 0);
    cr_assert_eq(snap, 55);
    cr_assert_eq(store_checkpoint_write(files.dir_fd, snap, image, len, NULL), 0);
    /* a retention of 5 ops lets everything before the checkpoint at 55 go */
    store_retention keep5 = {.keep = STORE_KEEP_OPS, .ops = 5};
    uint64_t oldest = 0;
    cr_assert_eq(store_prune(files.dir_fd, &keep5, 60, 55, 0, NULL, &oldest), 0);
    cr_assert_eq(oldest, 55);
    cr_assert_not(exists("h/ckpt.00000000000000000030"));
    free(image);
    store_log_free(log);
    ot_doc_free(doc);
    store_doc_files_close(&files);
    close(dfd);
    cr_assert_not(exists("h/log.00000000000000000000"));

    got g = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &g), 0);
    docs *t = table();
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 5, 8));
    cr_assert(has(&g, 0, "\"version_too_old\""), "%s", g.json[0]);
    run(t, &f, req(DOCS_REQ_REST_OPS, 9, "h", 52, 57));
    cr_assert(has(&g, 1, "\"id\":\"w:52\"") && has(&g, 1, "\"id\":\"w:56\"") && has(&g, 1, "\"to\":57"), "%s",
              g.json[1]);
    docs_free(t, 0);
    fanout_destroy(&f);
}

/* ---- the disk helper thread ------------------------------------------------------------- */

typedef struct helper_env {
    struct io_uring ring;          /* plays the worker's ring */
    mailbox_target targets[1];
    got g;
    fanout f;
    docs *t;
} helper_env;

static void helper_init(helper_env *h, uint32_t max_waiting) {
    memset(h, 0, sizeof *h);
    cr_assert_eq(io_uring_queue_init(16, &h->ring, 0), 0);
    h->targets[0].ring_fd = h->ring.ring_fd;
    cr_assert_eq(fanout_init(&h->f, 0, 1, NULL, NULL, on_local, &h->g), 0);
    docs_config dc = config_for();
    dc.disk_thread = true;
    dc.targets = h->targets;
    dc.self = 0;
    dc.max_waiting_per_doc = max_waiting;
    cr_assert_eq(docs_new(&dc, &h->t), 0);
}

/* Waits (bounded) for one finished job and hands it to the table. */
static void helper_pump(helper_env *h) {
    struct io_uring_cqe *cqe = NULL;
    struct __kernel_timespec ts = {.tv_sec = 5};
    cr_assert_eq(io_uring_wait_cqe_timeout(&h->ring, &cqe, &ts), 0, "the helper posted nothing");
    cr_assert(mailbox_cqe_is_delivery(cqe));
    mailbox_msg *m = mailbox_on_receive_cqe(h->targets, 0, cqe);
    io_uring_cqe_seen(&h->ring, cqe);
    cr_assert_eq(m->kind, DOCS_MSG_DISK_DONE);
    docs_on_disk_done(h->t, (docs_job *)m, &h->f, 0);
    mailbox_msg_unref(m);
}

static void helper_free(helper_env *h) {
    docs_free(h->t, 0);
    fanout_destroy(&h->f);
    io_uring_queue_exit(&h->ring);
}

Test(docs, requests_wait_in_order_while_the_helper_loads, .init = make_dir, .fini = rm_dir) {
    store_fixture_write_doc(dir, "w", 2, NULL, NULL, NULL);
    helper_env h;
    helper_init(&h, 0);
    run(h.t, &h.f, req(DOCS_REQ_OPEN, 7, "w", 0, 0));
    cr_assert_eq(docs_count_busy(h.t), 1, "loading on the helper");
    cr_assert_eq(h.g.count, 0, "nothing answered yet");
    cr_assert_null(docs_find(h.t, "w", 1));
    run(h.t, &h.f, req(DOCS_REQ_REST_GET, 9, "w", 0, 0));
    run(h.t, &h.f, req(DOCS_REQ_CLOSE, 7, "w", 0, 0));
    run(h.t, &h.f, req(DOCS_REQ_REST_INFO, 9, "w", 0, 0));
    helper_pump(&h);
    cr_assert_eq(docs_count_busy(h.t), 0);
    cr_assert_eq(docs_count_loaded(h.t), 1);
    cr_assert_eq(h.g.count, 3);
    cr_assert(has(&h.g, 0, "\"snapshot\"") && h.g.keys[0] == 7, "%s", h.g.json[0]);
    cr_assert(has(&h.g, 1, "\"text\":\"aa\"") && h.g.keys[1] == 9, "%s", h.g.json[1]);
    cr_assert(has(&h.g, 2, "\"codepoints\":2"), "%s", h.g.json[2]);
    cr_assert_eq(doc_count_subscribers(docs_find(h.t, "w", 1)), 0, "the close ran after the open");
    helper_free(&h);
}

/* A listed document that is not loaded: the helper reads its metadata file,
 * never the worker; a stale file makes the helper load it next. */
Test(docs, the_listing_reads_metadata_on_the_helper_then_loads_when_stale, .init = make_dir, .fini = rm_dir) {
    got g = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &g), 0);
    docs *t = table();
    run(t, &f, rest_insert("m", "\"ab\""));
    docs_free(t, 0);   /* unloaded: the metadata is written */
    fanout_destroy(&f);
    helper_env h;
    helper_init(&h, 0);
    run(h.t, &h.f, req(DOCS_REQ_REST_INFO, 9, "m", 0, 0));
    cr_assert_eq(h.g.count, 0, "the worker did not read the file");
    helper_pump(&h);
    cr_assert_eq(h.g.count, 1);
    cr_assert_str_eq(h.g.json[0], "{\"doc\":\"m\",\"v\":1,\"codepoints\":2,\"bytes\":2}");
    cr_assert_eq(docs_count_loaded(h.t), 0, "answered from the metadata");
    run(h.t, &h.f, req(DOCS_REQ_REST_INFO, 9, "none", 0, 0));
    helper_pump(&h);
    cr_assert(has(&h.g, 1, "\"not_found\""), "%s", h.g.json[1]);
    /* the log grew behind the cache's back: stale, so the helper loads it */
    char p[128];
    snprintf(p, sizeof p, "%s/m/log.00000000000000000000", dir);
    int fd = open(p, O_WRONLY | O_APPEND);
    cr_assert_geq(fd, 0);
    cr_assert_eq(write(fd, "x", 1), 1);
    close(fd);
    run(h.t, &h.f, req(DOCS_REQ_REST_INFO, 9, "m", 0, 0));
    helper_pump(&h);   /* the metadata: stale */
    cr_assert_eq(h.g.count, 2);
    cr_assert_eq(docs_count_busy(h.t), 1, "loading on the helper");
    helper_pump(&h);   /* the load */
    cr_assert_eq(h.g.count, 3);
    cr_assert_str_eq(h.g.json[2], "{\"doc\":\"m\",\"v\":1,\"codepoints\":2,\"bytes\":2}");
    cr_assert_eq(docs_count_loaded(h.t), 1);
    helper_free(&h);
}

Test(docs, a_missing_document_answers_readers_then_the_open_creates_it, .init = make_dir, .fini = rm_dir) {
    helper_env h;
    helper_init(&h, 0);
    run(h.t, &h.f, req(DOCS_REQ_REST_GET, 9, "n", 0, 0));   /* load without create */
    run(h.t, &h.f, req(DOCS_REQ_OPEN, 7, "n", 0, 0));
    run(h.t, &h.f, req(DOCS_REQ_REST_INFO, 9, "n", 0, 0));
    helper_pump(&h);   /* -ENOENT: the reader is told, the open starts a creating load */
    cr_assert_eq(h.g.count, 1);
    cr_assert(has(&h.g, 0, "\"not_found\""), "%s", h.g.json[0]);
    cr_assert_eq(docs_count_busy(h.t), 1);
    helper_pump(&h);
    cr_assert_eq(h.g.count, 3);
    cr_assert(has(&h.g, 1, "\"snapshot\""), "%s", h.g.json[1]);
    cr_assert(has(&h.g, 2, "\"v\":0,\"codepoints\":0"), "%s", h.g.json[2]);
    helper_free(&h);
}

Test(docs, a_full_wait_queue_refuses_but_never_a_close, .init = make_dir, .fini = rm_dir) {
    store_fixture_write_doc(dir, "q", 1, NULL, NULL, NULL);
    helper_env h;
    helper_init(&h, 2);
    run(h.t, &h.f, req(DOCS_REQ_OPEN, 7, "q", 0, 0));
    run(h.t, &h.f, req(DOCS_REQ_REST_GET, 9, "q", 0, 0));
    run(h.t, &h.f, req(DOCS_REQ_OPEN, 8, "q", 0, 0));          /* the third: refused */
    cr_assert_eq(h.g.count, 2);
    cr_assert(has(&h.g, 0, "\"storage_unavailable\"") && h.g.keys[0] == 8, "%s", h.g.json[0]);
    cr_assert_str_eq(h.g.drop[1], "q", "the refused open is dropped by its session");
    run(h.t, &h.f, req(DOCS_REQ_CLOSE, 7, "q", 0, 0));         /* waits anyway */
    helper_pump(&h);
    cr_assert_eq(h.g.count, 4);
    cr_assert(has(&h.g, 2, "\"snapshot\""));
    cr_assert(has(&h.g, 3, "\"text\":\"a\""));
    cr_assert_eq(doc_count_subscribers(docs_find(h.t, "q", 1)), 0);
    helper_free(&h);
}

Test(docs, delete_runs_on_the_helper_and_later_requests_wait_for_it, .init = make_dir, .fini = rm_dir) {
    store_fixture_write_doc(dir, "x", 1, NULL, NULL, NULL);
    helper_env h;
    helper_init(&h, 0);
    run(h.t, &h.f, req(DOCS_REQ_REST_DELETE, 9, "x", 0, 0));
    run(h.t, &h.f, req(DOCS_REQ_REST_GET, 9, "x", 0, 0));
    cr_assert_eq(h.g.count, 0);
    helper_pump(&h);   /* deleted; the get starts a load */
    cr_assert_str_eq(h.g.json[0], "{\"deleted\":true}");
    helper_pump(&h);
    cr_assert(has(&h.g, 1, "\"not_found\""), "%s", h.g.json[1]);
    cr_assert_not(exists("x"));
    helper_free(&h);
}

Test(docs, stopping_the_helper_drops_jobs_not_started) {
    struct io_uring ring;
    cr_assert_eq(io_uring_queue_init(8, &ring, 0), 0);
    mailbox_target targets[1] = {{.ring_fd = ring.ring_fd}};
    docs_disk *d;
    cr_assert_eq(docs_disk_start(targets, 0, &d), 0);
    /* META jobs on a bad fd: they fail fast; whatever was not started is freed by stop */
    for (int i = 0; i < 8; i++) {
        docs_job *j = docs_job_new(DOCS_JOB_META, 0);
        cr_assert_not_null(j);
        cr_assert_eq(docs_disk_submit(d, j), 0);
    }
    docs_disk_stop(d);
    /* the finished ones are on the ring: each carries the helper's answer */
    struct io_uring_cqe *cqe;
    int seen = 0;
    while (io_uring_peek_cqe(&ring, &cqe) == 0) {
        docs_job *j = (docs_job *)mailbox_on_receive_cqe(targets, 0, cqe);
        cr_assert_eq(j->rc, -EBADF);
        mailbox_msg_unref(&j->hdr);
        io_uring_cqe_seen(&ring, cqe);
        seen++;
    }
    cr_assert_leq(seen, 8);
    io_uring_queue_exit(&ring);
}
