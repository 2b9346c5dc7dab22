/* The document listing's names: scanned from the data dir once, then kept
 * current by the documents' owner, so a listing page never scans. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collab/docs.h"
#include "session_harness.h"
#include "answer_json.h"
#include "store_fixture.h"

static harness H;

static void stop(void) { harness_stop(&H); }

static bool first_frame(void *ctx, rbuf *frame) {
    answer_json(frame, ctx, 256);
    return true;
}

static void page(const char *after, uint32_t limit, const char *want) {
    char *out[16];
    bool more;
    int n = nameset_page(H.sw->names, after, limit, NULL, NULL, out, &more);
    cr_assert_geq(n, 0);
    char got[256] = "";
    for (int i = 0; i < n; i++) {
        strcat(got, out[i]);
        strcat(got, " ");
        free(out[i]);
    }
    if (more) strcat(got, "...");
    cr_assert_str_eq(got, want);
}

static void docs_before_start(config *cfg) {
    store_fixture_write_doc(cfg->data_dir, "old-b", 1, NULL, NULL, NULL);
    store_fixture_write_doc(cfg->data_dir, "old-a", 2, NULL, NULL, NULL);
}

Test(session_names, the_data_dir_is_scanned_once_then_kept_current_without_scans, .fini = stop) {
    harness_start(&H, docs_before_start);
    cr_assert_eq(H.shared.doc_names.count_fills, 1, "the session layer's start scanned the data dir");
    page("", 10, "old-a old-b ");
    /* a document created by an open is listed */
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"new\"}");
    page("", 10, "new old-a old-b ");
    page("new", 1, "old-a ...");
    /* one written behind the server's back is not: no page scans the directory */
    store_fixture_write_doc(H.dir, "behind", 1, NULL, NULL, NULL);
    for (int i = 0; i < 100; i++) cr_assert_eq(session_worker_fill_names(H.sw), 0);
    page("", 10, "new old-a old-b ");
    cr_assert_eq(H.shared.doc_names.count_fills, 1, "pages never scan");
    /* a delete removes it */
    char answer[256] = "";
    uint64_t key = session_waiter_add(H.sw, first_frame, answer);
    docs_request *del = docs_request_new(DOCS_REQ_REST_DELETE, 0);
    cr_assert_not_null(del);
    del->key = key;
    strcpy(del->doc, "old-a");
    del->doc_len = 5;
    del->rest = true;
    cr_assert_eq(session_route(H.sw, del), 0);
    harness_pump(&H);
    cr_assert_str_eq(answer, "{\"deleted\":true}");
    page("", 10, "new old-b ");
    /* a restart of the session layer keeps the index (it belongs to the server) */
    harness_end(&H, s, &r);
    harness_restart(&H);
    cr_assert_eq(H.shared.doc_names.count_fills, 1);
    page("", 10, "new old-b ");
}

Test(session_names, an_empty_data_dir_lists_nothing_until_a_document_is_made, .fini = stop) {
    harness_start(&H, NULL);
    page("", 10, "");
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"first\"}");
    page("", 10, "first ");
    harness_end(&H, s, &r);
}
