/* REST calls without sockets: a head (and body) in, the one response out,
 * against the same session layer as the WebSocket sessions. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "collab/doc.h"
#include "collab/rest_call.h"
#include "collab/rest_route.h"
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

/* ---- REST writes: the ack and every error the owner can answer with --------------- */

static void tight_limits(config *cfg) {
    cfg->max_doc_codepoints = 5;
    cfg->history_depth = 3;
}
static void start_tight(void) { harness_start(&H, tight_limits); }

/* "abcd" at v4 (the oldest base accepted is 1), posted op by op. */
static void write_abcd(void) {
    static const char *const posts[] = {
        "{\"v\":0,\"id\":\"o0\",\"op\":[\"a\"]}", "{\"v\":1,\"id\":\"o1\",\"op\":[1,\"b\"]}",
        "{\"v\":2,\"id\":\"o2\",\"op\":[2,\"c\"]}", "{\"v\":3,\"id\":\"o3\",\"op\":[3,\"d\"]}",
    };
    reply r;
    for (size_t i = 0; i < sizeof posts / sizeof posts[0]; i++) {
        call(&r, "POST", "/api/docs/d/ops", posts[i]);
        char want[96];
        snprintf(want, sizeof want, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"o%zu\",\"v\":%zu}", i, i);
        expect(&r, 200, want);
    }
}

/* The owner's refusals of a posted op reach the caller with the code,
 * message and HTTP status a session's error frame would have given. */
Test(rest_call, a_posted_op_refused_by_the_owner_keeps_its_code_and_status, .init = start_tight, .fini = stop) {
    write_abcd();
    reply r;
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":9,\"id\":\"x1\",\"op\":[\"z\"]}");
    expect(&r, 409, "{\"code\":\"version_ahead\",\"message\":\"base version is newer than the document\"}");
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":0,\"id\":\"x2\",\"op\":[\"z\"]}");
    expect(&r, 410, "{\"code\":\"version_too_old\",\"message\":\"base version is older than the retained history\"}");
    /* fine alone at v3, past 5 code points once transformed over "d" */
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":3,\"id\":\"x3\",\"op\":[3,\"ef\"]}");
    expect(&r, 413, "{\"code\":\"doc_too_large\",\"message\":\"operation or document beyond the configured size limits\"}");
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":4,\"id\":\"x4\",\"op\":[3,\"e\"]}");
    expect(&r, 400, "{\"code\":\"bad_op\",\"message\":\"the op spans 3 code points (retains + deletes) but the document has 4 at v4\"}");
    /* a resend of an acked op is acked at its version, not applied again */
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":3,\"id\":\"o3\",\"op\":[3,\"d\"]}");
    expect(&r, 200, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"o3\",\"v\":3}");
    call(&r, "GET", "/api/docs/d", NULL);
    expect(&r, 200, "{\"v\":4,\"codepoints\":4,\"doc\":\"d\",\"text\":\"abcd\"}");
}

Test(rest_call, text_writes_and_restores_refused_by_the_owner_keep_their_codes, .init = start_tight, .fini = stop) {
    write_abcd();
    reply r;
    call(&r, "PUT", "/api/docs/d/text", "{\"text\":\"abcdef\"}");
    expect(&r, 413, "{\"code\":\"doc_too_large\",\"message\":\"operation or document beyond the configured size limits\"}");
    call(&r, "POST", "/api/docs/d/append", "{\"text\":\"ef\"}");
    expect(&r, 413, "{\"code\":\"doc_too_large\",\"message\":\"operation or document beyond the configured size limits\"}");
    call(&r, "POST", "/api/docs/d/restore", "{\"v\":9}");
    cr_assert_eq(r.status, 409, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "{\"code\":\"version_ahead\",\"message\":\""), "%s", r.body);
    /* the ack of a restore is the ack message; of a text write, {doc, v, changed} */
    call(&r, "POST", "/api/docs/d/restore", "{\"v\":2}");
    cr_assert_eq(r.status, 200, "%s", r.body);
    cr_assert_not_null(strstr(r.body, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"restore:2:"), "%s", r.body);
    cr_assert_not_null(strstr(r.body, "\",\"v\":4}"), "%s", r.body);
    call(&r, "PUT", "/api/docs/d/text", "{\"text\":\"xyz\"}");
    expect(&r, 200, "{\"doc\":\"d\",\"v\":6,\"changed\":true}");
    call(&r, "GET", "/api/docs/d", NULL);
    expect(&r, 200, "{\"v\":6,\"codepoints\":3,\"doc\":\"d\",\"text\":\"xyz\"}");
}

/* A write the kernel refuses (EFBIG past RLIMIT_FSIZE; each test runs in its
 * own process): storage_unavailable (503), then the same id is acked once a
 * retried write succeeds. */
Test(rest_call, a_failed_write_is_storage_unavailable_and_the_resend_is_acked, .init = start, .fini = stop) {
    signal(SIGXFSZ, SIG_IGN);
    reply r;
    call(&r, "PUT", "/api/docs/d/text", "{\"text\":\"a\"}");
    expect(&r, 200, "{\"doc\":\"d\",\"v\":1,\"changed\":true}");
    struct rlimit old, tight_fsize = {.rlim_cur = 1, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &tight_fsize), 0);
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":1,\"id\":\"w1\",\"op\":[1,\"b\"]}");
    expect(&r, 503, "{\"code\":\"storage_unavailable\",\"message\":\"the op could not be made durable (File too large); "
                    "retry later with the same id\"}");
    call(&r, "POST", "/api/docs/d/append", "{\"text\":\"c\"}");
    expect(&r, 503, "{\"code\":\"storage_unavailable\",\"message\":\"storage failed; the document refuses ops until a "
                    "write succeeds\"}");
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    H.w.now_ms += 1000;
    harness_tick(&H);
    call(&r, "POST", "/api/docs/d/ops", "{\"v\":1,\"id\":\"w1\",\"op\":[1,\"b\"]}");
    expect(&r, 200, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"w1\",\"v\":1}");
    call(&r, "GET", "/api/docs/d", NULL);
    expect(&r, 200, "{\"v\":2,\"codepoints\":2,\"doc\":\"d\",\"text\":\"ab\"}");
}

/* ---- typed keys: what a REST call's waiter is sent --------------------------------- */

typedef struct typed_got {
    int count;
    bool typed;
    char body[512];
} typed_got;

/* Records one message (rendered when typed) and keeps waiting. */
static bool record(void *ctx, rbuf *msg) {
    typed_got *g = ctx;
    proto_rest_answer a;
    g->typed = proto_rest_answer_unpack(msg, &a) == 0;
    g->count++;
    if (!g->typed) return false;
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(proto_enc_rest_answer(&b, &a), 0);
    snprintf(g->body, sizeof g->body, "%.*s", (int)b.len, b.data);
    ot_buf_free(&b);
    return false;
}

Test(rest_call, a_lost_message_reaches_a_rest_key_as_a_typed_internal_error, .init = start, .fini = stop) {
    typed_got got = {0}, frame = {0};
    uint64_t key = session_waiter_add_typed(H.sw, record, &got);
    uint64_t untyped = session_waiter_add(H.sw, record, &frame);
    cr_assert(fanout_key_typed(key));
    cr_assert_not(fanout_key_typed(untyped), "an event stream's key reads frames");
    session_kill(H.sw, key);
    cr_assert_eq(got.count, 1);
    cr_assert(got.typed);
    cr_assert_str_eq(got.body, "{\"code\":\"internal\",\"message\":\"messages for this connection were lost inside "
                               "the server; reconnect and re-open\"}");
    cr_assert_eq(rest_status_for("internal"), 500);
    session_kill(H.sw, untyped);
    cr_assert_eq(frame.count, 1);
    cr_assert_not(frame.typed, "a frame, as before");
    session_waiter_remove(H.sw, key);
    session_kill(H.sw, key);   /* a stale key: nobody */
    cr_assert_eq(got.count, 1);
    session_waiter_remove(H.sw, untyped);
}

/* Every protocol error an owner can send a REST writer: typed, with the
 * code's string, and the HTTP status PROTOCOL.md §15 gives it. */
Test(rest_call, every_protocol_error_reaches_a_rest_key_typed_with_its_status, .init = start, .fini = stop) {
    static const struct { int code; const char *name; int status; } errs[] = {
        {PROTO_ERR_BAD_JSON, "bad_json", 400},
        {PROTO_ERR_BAD_MESSAGE, "bad_message", 400},
        {PROTO_ERR_UNKNOWN_TYPE, "unknown_type", 400},
        {PROTO_ERR_UNAUTHORIZED, "unauthorized", 401},
        {PROTO_ERR_FORBIDDEN, "forbidden", 403},
        {PROTO_ERR_BAD_DOC_NAME, "bad_doc_name", 400},
        {PROTO_ERR_BAD_OP, "bad_op", 400},
        {PROTO_ERR_VERSION_TOO_OLD, "version_too_old", 410},
        {PROTO_ERR_VERSION_AHEAD, "version_ahead", 409},
        {PROTO_ERR_DOC_TOO_LARGE, "doc_too_large", 413},
        {PROTO_ERR_OP_TOO_LARGE, "op_too_large", 413},
        {PROTO_ERR_TOO_MANY_DOCS, "too_many_docs", 429},
        {PROTO_ERR_RATE_LIMITED, "rate_limited", 429},
        {PROTO_ERR_NOT_OPEN, "not_open", 404},
        {PROTO_ERR_STORAGE_UNAVAILABLE, "storage_unavailable", 503},
        {PROTO_ERR_NO_MEMORY, "no_memory", 503},
        {PROTO_ERR_INTERNAL, "internal", 500},
    };
    typed_got got = {0};
    uint64_t key = session_waiter_add_typed(H.sw, record, &got);
    for (size_t i = 0; i < sizeof errs / sizeof errs[0]; i++) {
        cr_assert_eq(doc_send_error(&H.sw->out, key, errs[i].code, "why \"not\"", "ref", 3), 0);
        harness_pump(&H);
        cr_assert_eq(got.count, (int)i + 1, "%s delivered", errs[i].name);
        cr_assert(got.typed, "%s is a typed answer, not a frame", errs[i].name);
        char want[128];
        snprintf(want, sizeof want, "{\"code\":\"%s\",\"message\":\"why \\\"not\\\"\"}", errs[i].name);
        cr_assert_str_eq(got.body, want);
        cr_assert_eq(rest_status_for(errs[i].name), errs[i].status, "%s", errs[i].name);
    }
    /* no_memory with its own message */
    cr_assert_eq(doc_send_no_memory(NULL, &H.sw->out, key, "r1", 2), 0);
    harness_pump(&H);
    cr_assert(got.typed);
    char want[160];
    snprintf(want, sizeof want, "{\"code\":\"no_memory\",\"message\":\"%s\"}", PROTO_NO_MEMORY_MESSAGE);
    cr_assert_str_eq(got.body, want);
    session_waiter_remove(H.sw, key);
}

/* The owner acks a REST key's op with a typed ACK (the same for a
 * duplicate), never with the frame a session gets. */
Test(rest_call, a_document_acks_a_rest_key_typed, .init = start, .fini = stop) {
    typed_got got = {0};
    uint64_t key = session_waiter_add_typed(H.sw, record, &got);
    ot_limits lim = ot_limits_default();
    ot_doc *ot = ot_doc_new(&lim, 0, "", 0);
    cr_assert_not_null(ot);
    doc *d;
    cr_assert_eq(doc_new("d", 1, ot, NULL, &d), 0);   /* no log: published at once */
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_insert(&op, "x", 1), OT_OK);
    cr_assert_eq(doc_submit(d, key, false, "rest", 0, "i1", 2, &op, 0, &H.sw->out), 0);
    harness_pump(&H);
    cr_assert_eq(got.count, 1);
    cr_assert(got.typed);
    cr_assert_str_eq(got.body, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"i1\",\"v\":0}");
    cr_assert_eq(doc_submit(d, key, false, "rest", 0, "i1", 2, &op, 0, &H.sw->out), 0);
    harness_pump(&H);
    cr_assert_eq(got.count, 2);
    cr_assert(got.typed);
    cr_assert_str_eq(got.body, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"i1\",\"v\":0}");
    cr_assert_eq(doc_version(d), 1, "the duplicate was not applied");
    ot_op_free(&op);
    doc_free(d);
    session_waiter_remove(H.sw, key);
}
