/* REST calls without sockets: a head (and body) in, the one response out,
 * against the same session layer as the WebSocket sessions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collab/rest_call.h"
#include "session_harness.h"

static harness H;

static void start(void) { harness_start(&H, NULL); }
static void stop(void) { harness_stop(&H); }

typedef struct reply {
    int status;
    char body[4096];
    int count_responses;
    bool done;
} reply;

static void on_respond(void *ctx, const rest_response *res) {
    reply *r = ctx;
    r->status = res->status;
    snprintf(r->body, sizeof r->body, "%.*s", (int)res->len_bytes, res->body);
    r->count_responses++;
}

static void on_done(void *ctx) { ((reply *)ctx)->done = true; }

static const rest_reply_ops ops = {.respond = on_respond, .done = on_done};

/* Runs "METHOD target" (with body when not NULL, fed in two pieces) to its end. */
static void call(reply *r, const char *method, const char *target, const char *body) {
    memset(r, 0, sizeof *r);
    static char head[512];
    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", method, target,
             body != NULL ? strlen(body) : 0);
    http_request req;
    http_limits hl = http_limits_default();
    cr_assert_gt(http_parse_request(head, strlen(head), &hl, &req), 0);
    rest_call *k = rest_call_new(H.sw, &ops, r);
    cr_assert_not_null(k);
    rest_call_begin(k, &req);
    if (body != NULL && !r->done) {
        size_t half = strlen(body) / 2;
        rest_call_feed(k, (const uint8_t *)body, half);
        rest_call_continue(k);
        cr_assert_not(r->done, "half a body does not run the call");
        rest_call_feed(k, (const uint8_t *)body + half, strlen(body) - half);
        rest_call_continue(k);
    }
    harness_pump(&H);
    cr_assert(r->done, "%s %s ended", method, target);
    cr_assert_eq(r->count_responses, 1, "one response");
}

static void expect(reply *r, int status, const char *body) {
    cr_assert_eq(r->status, status, "status %d: %s", r->status, r->body);
    cr_assert_str_eq(r->body, body);
}

/* A session with `doc` open and text "ab" at v 2. */
static struct session *editor(rec_sink *rs, const char *doc) {
    struct session *s = harness_open(&H, rs);
    char m[256];
    snprintf(m, sizeof m, "{\"type\":\"open\",\"doc\":\"%s\"}", doc);
    harness_send(&H, s, m);
    snprintf(m, sizeof m, "{\"type\":\"op\",\"doc\":\"%s\",\"v\":0,\"id\":\"e1\",\"op\":[\"a\"]}", doc);
    harness_send(&H, s, m);
    snprintf(m, sizeof m, "{\"type\":\"op\",\"doc\":\"%s\",\"v\":1,\"id\":\"e2\",\"op\":[1,\"b\"]}", doc);
    harness_send(&H, s, m);
    while (harness_next(rs) != NULL) {}
    return s;
}

Test(rest_call, get_reads_the_text_now_and_at_a_past_version, .init = start, .fini = stop) {
    rec_sink rs = {0};
    struct session *s = editor(&rs, "d");
    reply r;
    call(&r, "GET", "/api/docs/d", NULL);
    expect(&r, 200, "{\"v\":2,\"codepoints\":2,\"doc\":\"d\",\"text\":\"ab\"}");
    call(&r, "GET", "/api/docs/d?v=1", NULL);
    expect(&r, 200, "{\"v\":1,\"codepoints\":1,\"doc\":\"d\",\"text\":\"a\"}");
    call(&r, "GET", "/api/docs/d?v=3", NULL);
    expect(&r, 409, "{\"code\":\"version_ahead\",\"message\":\"v is newer than the document\"}");
    call(&r, "GET", "/api/docs/none", NULL);
    expect(&r, 404, "{\"code\":\"not_found\",\"message\":\"no such document\"}");
    call(&r, "GET", "/api/docs/d/../x", NULL);
    expect(&r, 400, "{\"code\":\"bad_doc_name\",\"message\":\"the path cannot be decoded\"}");
    harness_end(&H, s, &rs);
}

Test(rest_call, history_lists_the_ops_with_their_authors, .init = start, .fini = stop) {
    rec_sink rs = {0};
    struct session *s = editor(&rs, "d");
    reply r;
    call(&r, "GET", "/api/docs/d/ops?from=1", NULL);
    cr_assert_eq(r.status, 200, "%s", r.body);
    char want[256];
    snprintf(want, sizeof want, "\"ops\":[{\"v\":1,\"id\":\"e2\",\"by\":\"%s\",\"time\":", session_id(s));
    cr_assert_not_null(strstr(r.body, want), "%s", r.body);
    cr_assert_not_null(strstr(r.body, ",\"op\":[1,\"b\"]}]"), "%s", r.body);
    harness_end(&H, s, &rs);
}

Test(rest_call, a_posted_op_is_acked_and_reaches_the_sessions, .init = start, .fini = stop) {
    rec_sink rs = {0};
    struct session *s = editor(&rs, "d");
    reply r;
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":2,\"id\":\"r1\",\"op\":[2,\"c\"]}");
    expect(&r, 200, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"r1\",\"v\":2}");
    harness_expect(&rs, "{\"type\":\"op\",\"doc\":\"d\",\"v\":2,\"id\":\"r1\",\"op\":[2,\"c\"],\"by\":\"rest\"}");
    /* the same id again is a duplicate: acked at its first version, not applied twice */
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":2,\"id\":\"r1\",\"op\":[2,\"c\"]}");
    expect(&r, 200, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"r1\",\"v\":2}");
    harness_expect_none(&rs);
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":2,\"id\":\"r2\"");
    cr_assert_eq(r.status, 400);
    cr_assert_not_null(strstr(r.body, "{\"code\":\"bad_json\",\"message\":\"not JSON: "), "%s", r.body);
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":0,\"id\":\"r3\",\"op\":[9,\"x\"]}");
    expect(&r, 400, "{\"code\":\"bad_op\",\"message\":\"the op spans 9 code points (retains + deletes) but the document has 0 at v0\"}");
    call(&r, "GET", "/api/docs/d", NULL);
    expect(&r, 200, "{\"v\":3,\"codepoints\":3,\"doc\":\"d\",\"text\":\"abc\"}");
    harness_end(&H, s, &rs);
}

Test(rest_call, the_listing_pages_and_a_delete_leaves_it, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = editor(&ra, "one"), *b = editor(&rb, "two");
    reply r;
    call(&r, "GET", "/api/docs?limit=1", NULL);
    expect(&r, 200, "{\"docs\":[{\"name\":\"one\",\"v\":2,\"codepoints\":2,\"bytes\":2}],\"next\":\"one\"}");
    call(&r, "GET", "/api/docs?limit=1&after=one", NULL);
    expect(&r, 200, "{\"docs\":[{\"name\":\"two\",\"v\":2,\"codepoints\":2,\"bytes\":2}]}");
    call(&r, "DELETE", "/api/docs/one", NULL);
    expect(&r, 200, "{\"deleted\":true}");
    harness_expect_error(&ra, "not_open", "one");   /* its subscribers lose it */
    call(&r, "GET", "/api/docs", NULL);
    expect(&r, 200, "{\"docs\":[{\"name\":\"two\",\"v\":2,\"codepoints\":2,\"bytes\":2}]}");
    call(&r, "DELETE", "/api/docs/one", NULL);
    expect(&r, 200, "{\"deleted\":false}");
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
}

Test(rest_call, an_aborted_call_answers_nobody, .init = start, .fini = stop) {
    reply r = {0};
    static const char head[] = "GET /api/docs/x HTTP/1.1\r\nHost: x\r\n\r\n";
    http_request req;
    http_limits hl = http_limits_default();
    cr_assert_gt(http_parse_request(head, sizeof head - 1, &hl, &req), 0);
    rest_call *k = rest_call_new(H.sw, &ops, &r);
    rest_call_begin(k, &req);   /* queued for the owner, not run yet */
    cr_assert_not(r.done);
    rest_call_abort(k);
    harness_pump(&H);
    cr_assert_eq(r.count_responses, 0);
    cr_assert_not(r.done);
}

Test(rest_call, text_writes_diff_against_the_current_text, .init = start, .fini = stop) {
    reply r;
    call(&r, "PUT", "/api/docs/t/text", "{\"text\":\"hello world\"}");
    expect(&r, 200, "{\"doc\":\"t\",\"v\":1,\"changed\":true}");
    call(&r, "PUT", "/api/docs/t/text", "{\"text\":\"hello big world\"}");
    expect(&r, 200, "{\"doc\":\"t\",\"v\":2,\"changed\":true}");
    call(&r, "PUT", "/api/docs/t/text", "{\"text\":\"hello big world\"}");
    expect(&r, 200, "{\"doc\":\"t\",\"v\":2,\"changed\":false}");
    call(&r, "POST", "/api/docs/t/append", "{\"text\":\"!\"}");
    expect(&r, 200, "{\"doc\":\"t\",\"v\":3,\"changed\":true}");
    call(&r, "GET", "/api/docs/t/ops?from=1&to=3", NULL);
    cr_assert_not_null(strstr(r.body, "\"op\":[6,\"big \",5]}"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\"op\":[15,\"!\"]}"), "%s", r.body);
    call(&r, "PUT", "/api/docs/t/text", "{\"text\":1}");
    expect(&r, 400, "{\"code\":\"bad_message\",\"message\":\"the JSON body must be exactly {\\\"text\\\": string}\"}");
}

Test(rest_call, an_empty_data_dir_lists_an_empty_page, .init = start, .fini = stop) {
    reply r;
    call(&r, "GET", "/api/docs", NULL);
    expect(&r, 200, "{\"docs\":[]}");
    call(&r, "GET", "/api/docs?after=zzz&limit=5", NULL);
    expect(&r, 200, "{\"docs\":[]}");
}
