#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store_fixture.h"
#include "answer_json.h"
#include "base/config.h"
#include "collab/docs.h"
#include "collab/fanout.h"
#include "collab/rest_route.h"
#include "collab/rest_route.h"
#include "cmd/startup.h"
#include "store/store.h"

/* ---- fanout ------------------------------------------------------------------ */

typedef struct sink {
    uint64_t keys[64];
    char json[64][512];
    char drop[64][64];
    int count;
} sink;

static void on_local(void *ctx, uint64_t key, rbuf *frame, const char *doc, size_t doc_len) {
    sink *s = ctx;
    cr_assert_lt(s->count, 64);
    s->keys[s->count] = key;
    s->json[s->count][0] = '\0';
    s->drop[s->count][0] = '\0';
    if (frame != NULL) {
        answer_json(frame, s->json[s->count], sizeof s->json[0]);
    } else {
        snprintf(s->drop[s->count], sizeof s->drop[0], "%.*s", (int)doc_len, doc);
    }
    s->count++;
}

Test(session, fanout_keys_round_trip) {
    uint64_t k = fanout_key(3, 123456, 0xABCDEF);
    cr_assert_eq(fanout_key_worker(k), 3);
    cr_assert_eq(fanout_key_slot(k), 123456);
    cr_assert_eq(fanout_key_gen(k), 0xABCDEF);
    cr_assert_neq(fanout_key(0, 0, 1), 0, "a live key is never 0");
}

Test(session, fanout_frame_lengths) {
    size_t sizes[] = {0, 5, 125, 126, 65535, 65536, 200000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        char *buf = malloc(sizes[i] + 1);
        memset(buf, 'q', sizes[i]);
        rbuf *f = fanout_frame(buf, sizes[i]);
        cr_assert_not_null(f);
        cr_assert_eq(f->data[0], 0x81, "FIN + text, no RSV1");
        const char *js;
        size_t len;
        cr_assert_eq(fanout_frame_payload(f, &js, &len), 0);
        cr_assert_eq(len, sizes[i]);
        cr_assert(sizes[i] == 0 || memcmp(js, buf, len) == 0);
        rbuf_unref(f);
        free(buf);
    }
    rbuf *bad = rbuf_from("\x82\x00", 2);
    const char *js;
    size_t len;
    cr_assert_eq(fanout_frame_payload(bad, &js, &len), -EINVAL, "binary frames are not ours");
    rbuf_unref(bad);
}

Test(session, fanout_without_ring_delivers_locally_in_order) {
    sink s = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &s), 0);
    rbuf *a = fanout_frame("{\"n\":1}", 7), *b = fanout_frame("{\"n\":2}", 7);
    fanout_send(&f, 11, a);
    fanout_drop(&f, 12, "doc", 3);
    fanout_send(&f, 11, b);
    fanout_flush(&f);
    cr_assert_eq(s.count, 3);
    cr_assert_str_eq(s.json[0], "{\"n\":1}");
    cr_assert_str_eq(s.drop[1], "doc");
    cr_assert_eq(s.keys[1], 12);
    cr_assert_str_eq(s.json[2], "{\"n\":2}");
    rbuf_unref(a);
    rbuf_unref(b);
    fanout_destroy(&f);
}

/* ---- owners, statuses, hosts ------------------------------------------------------- */

Test(session, owner_is_stable_and_spread) {
    uint32_t counts[4] = {0};
    for (int i = 0; i < 4000; i++) {
        char name[32];
        int n = snprintf(name, sizeof name, "doc-%d", i);
        uint32_t o = docs_owner(name, (size_t)n, 4);
        cr_assert_lt(o, 4);
        cr_assert_eq(o, docs_owner(name, (size_t)n, 4));
        counts[o]++;
    }
    for (int w = 0; w < 4; w++) cr_assert(counts[w] > 800 && counts[w] < 1200, "worker %d owns %u", w, counts[w]);
    cr_assert_eq(docs_owner("x", 1, 1), 0);
}

Test(session, rest_statuses) {
    cr_assert_eq(rest_status_for("bad_op"), 400);
    cr_assert_eq(rest_status_for("unauthorized"), 401);
    cr_assert_eq(rest_status_for("forbidden"), 403);
    cr_assert_eq(rest_status_for("not_open"), 404);
    cr_assert_eq(rest_status_for("version_ahead"), 409);
    cr_assert_eq(rest_status_for("version_too_old"), 410);
    cr_assert_eq(rest_status_for("doc_too_large"), 413);
    cr_assert_eq(rest_status_for("storage_unavailable"), 503);
    cr_assert_eq(rest_status_for("whatever"), 500);
}

Test(session, loopback_hosts) {
    cr_assert(startup_host_is_loopback("127.0.0.1"));
    cr_assert(startup_host_is_loopback("127.1.2.3"));
    cr_assert(startup_host_is_loopback("::1"));
    cr_assert_not(startup_host_is_loopback("0.0.0.0"));
    cr_assert_not(startup_host_is_loopback("::"));
    cr_assert_not(startup_host_is_loopback("10.0.0.1"));
}

/* ---- the document table without a ring ------------------------------------------------ */

static char data_dir[64];

static void make_dir(void) {
    strcpy(data_dir, "/tmp/ringpad-docs-XXXXXX");
    cr_assert_not_null(mkdtemp(data_dir));
}

static void rm_dir(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", data_dir);
    cr_assert_eq(system(cmd), 0);
}

static docs *table(void) {
    docs_config dc = {
        .data_dir_fd = -1,
        .data_dir_path = data_dir,
        .limits = ot_limits_default(),
        .history_depth = 100,
        .log = store_log_config_default(),
        .idle_ms = 1000,
    };
    docs *t;
    cr_assert_eq(docs_new(&dc, &t), 0);
    return t;
}

static void run(docs *t, fanout *f, uint32_t kind, uint64_t key, const char *doc, const char *op_json, uint64_t v,
                const char *id) {
    docs_request *r = docs_request_new(kind, 0);
    r->key = key;
    r->doc_len = strlen(doc);
    memcpy(r->doc, doc, r->doc_len);
    r->v = v;
    r->to = 1000;
    strcpy(r->session, "s");
    strcpy(r->by, "tester");
    if (id != NULL) {
        r->id_len = strlen(id);
        memcpy(r->id, id, r->id_len);
    }
    if (op_json != NULL) cr_assert_eq(ot_op_parse_json(&r->op, op_json, strlen(op_json), NULL, NULL), OT_OK);
    docs_execute(t, r, f, 0);
    mailbox_msg_unref(&r->hdr);
}

Test(session, docs_table_open_op_persist_reload_delete, .init = make_dir, .fini = rm_dir) {
    sink s = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &s), 0);
    docs *t = table();
    run(t, &f, DOCS_REQ_OP, 7, "a/b", "[\"x\"]", 0, "x:1");
    cr_assert_eq(s.count, 1);
    cr_assert(strstr(s.json[0], "\"not_open\"") != NULL, "%s", s.json[0]);
    run(t, &f, DOCS_REQ_OPEN, 7, "a/b", NULL, 0, NULL);
    cr_assert(strstr(s.json[1], "\"snapshot\"") != NULL);
    cr_assert_eq(docs_count_loaded(t), 1);
    run(t, &f, DOCS_REQ_OP, 7, "a/b", "[\"héllo\"]", 0, "x:2");
    cr_assert_eq(s.count, 2, "no ack before the log is flushed");
    cr_assert_eq(doc_version(docs_find(t, "a/b", 3)), 1);
    docs_free(t, 0);   /* flushes synchronously */
    t = table();
    run(t, &f, DOCS_REQ_REST_GET, 9, "a/b", NULL, 0, NULL);
    cr_assert_str_eq(s.json[2], "{\"v\":1,\"codepoints\":5,\"doc\":\"a/b\",\"text\":\"héllo\"}");
    run(t, &f, DOCS_REQ_REST_INFO, 9, "a/b", NULL, 0, NULL);
    cr_assert_str_eq(s.json[3], "{\"doc\":\"a/b\",\"v\":1,\"codepoints\":5,\"bytes\":6}");
    run(t, &f, DOCS_REQ_OPEN, 8, "a/b", NULL, 0, NULL);
    run(t, &f, DOCS_REQ_REST_DELETE, 9, "a/b", NULL, 0, NULL);
    /* the subscriber: error + drop; the caller: deleted */
    cr_assert(strstr(s.json[5], "\"not_open\"") != NULL, "%s", s.json[5]);
    cr_assert_str_eq(s.drop[6], "a/b");
    cr_assert_str_eq(s.json[7], "{\"deleted\":true}");
    cr_assert_eq(docs_count_loaded(t), 0);
    struct stat st;
    char p[128];
    snprintf(p, sizeof p, "%s/a+b", data_dir);
    cr_assert_neq(stat(p, &st), 0, "the files are gone");
    docs_free(t, 0);
    fanout_destroy(&f);
}

/* ---- startup checks --------------------------------------------------------------------- */


static config base_cfg(void) {
    config cfg;
    config_defaults(&cfg);
    snprintf(cfg.data_dir, sizeof cfg.data_dir, "%s", data_dir);
    return cfg;
}

Test(session, startup_checks_auth_mode_and_data, .init = make_dir, .fini = rm_dir) {
    config cfg = base_cfg();
    cr_assert_eq(startup_check(&cfg, NULL), 0, "open mode on loopback");
    snprintf(cfg.host, sizeof cfg.host, "0.0.0.0");
    cr_assert_eq(startup_check(&cfg, NULL), 2, "open mode elsewhere needs --allow-open");
    cfg.allow_open = true;
    cr_assert_eq(startup_check(&cfg, NULL), 0);
    cfg = base_cfg();
    snprintf(cfg.auth_secret, sizeof cfg.auth_secret, "short");
    cr_assert_eq(startup_check(&cfg, NULL), 2, "a guessable secret is refused");
    snprintf(cfg.auth_secret, sizeof cfg.auth_secret, "0123456789abcdef0123");
    cr_assert_eq(startup_check(&cfg, NULL), 0);

    store_fixture_write_doc(data_dir, "good", 5, NULL, NULL, NULL);
    store_fixture_write_doc(data_dir, "torn", 5, NULL, NULL, NULL);
    cfg = base_cfg();
    char p[160];
    snprintf(p, sizeof p, "%s/torn/log.00000000000000000000", data_dir);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(truncate(p, st.st_size - 2), 0);
    cr_assert_eq(startup_check(&cfg, NULL), 0, "a torn tail is truncated, not fatal");
    struct stat st2;
    cr_assert_eq(stat(p, &st2), 0);
    cr_assert_lt(st2.st_size, st.st_size - 2, "truncated to the last whole record");

    /* damage the first record of "good": records follow, so it is corruption */
    snprintf(p, sizeof p, "%s/good/log.00000000000000000000", data_dir);
    int fd = open(p, O_RDWR);
    uint8_t byte;
    cr_assert_eq(pread(fd, &byte, 1, 24 + 12 + 2), 1);
    byte ^= 0x5A;
    cr_assert_eq(pwrite(fd, &byte, 1, 24 + 12 + 2), 1);
    close(fd);
    cr_assert_eq(stat(p, &st), 0);
    cr_assert_eq(startup_check(&cfg, NULL), 1, "a corrupt middle record refuses to start");
    cr_assert_eq(stat(p, &st2), 0);
    cr_assert_eq(st2.st_size, st.st_size, "nothing was changed");
}
