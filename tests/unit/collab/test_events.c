/* Server-Sent Events: which requests are streams, and the bytes of one event. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "collab/events.h"
#include "collab/rest_call.h"
#include "session_harness.h"

static void expect_event(const char *json, const char *want) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(events_format(&b, json, strlen(json)), 0);
    cr_assert_eq(b.len, strlen(want), "%.*s", (int)b.len, b.data);
    cr_assert_eq(memcmp(b.data, want, b.len), 0, "%.*s", (int)b.len, b.data);
    ot_buf_free(&b);
}

Test(events, an_event_is_named_by_its_type_and_an_op_carries_its_version) {
    expect_event("{\"type\":\"op\",\"doc\":\"a\",\"v\":12,\"id\":\"x\",\"op\":[1],\"by\":\"u\"}",
                 "event: op\nid: 12\ndata: {\"type\":\"op\",\"doc\":\"a\",\"v\":12,\"id\":\"x\",\"op\":[1],\"by\":\"u\"}\n\n");
    /* a snapshot at v stands for the ops before v; its text may hold ,"v": */
    expect_event("{\"type\":\"snapshot\",\"doc\":\"a\",\"v\":3,\"text\":\",\\\"v\\\":9\",\"peers\":[]}",
                 "event: snapshot\nid: 2\ndata: {\"type\":\"snapshot\",\"doc\":\"a\",\"v\":3,\"text\":\",\\\"v\\\":9\",\"peers\":[]}\n\n");
    expect_event("{\"type\":\"snapshot\",\"doc\":\"a\",\"v\":0,\"text\":\"\",\"peers\":[]}",
                 "event: snapshot\ndata: {\"type\":\"snapshot\",\"doc\":\"a\",\"v\":0,\"text\":\"\",\"peers\":[]}\n\n");
    expect_event("{\"type\":\"synced\",\"doc\":\"a\",\"v\":4}", "event: synced\ndata: {\"type\":\"synced\",\"doc\":\"a\",\"v\":4}\n\n");
    expect_event("{\"x\":1}", "event: message\ndata: {\"x\":1}\n\n");
}

static bool matches(const char *head) {
    http_request req;
    http_limits hl = http_limits_default();
    cr_assert_gt(http_parse_request(head, strlen(head), &hl, &req), 0, "%s", head);
    return events_matches(&req);
}

Test(events, only_get_of_a_documents_events_is_a_stream) {
    cr_assert(matches("GET /api/docs/a/events HTTP/1.1\r\nHost: x\r\n\r\n"));
    cr_assert(matches("GET /api/docs/a/b/events?from=3 HTTP/1.1\r\nHost: x\r\n\r\n"));
    cr_assert_not(matches("POST /api/docs/a/events HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"));
    cr_assert_not(matches("GET /api/docs/events HTTP/1.1\r\nHost: x\r\n\r\n"), "the document named events");
    cr_assert_not(matches("GET /api/docs/a?x=/events HTTP/1.1\r\nHost: x\r\n\r\n"));
    cr_assert_not(matches("GET /x/docs/a/events HTTP/1.1\r\nHost: x\r\n\r\n"));
}

/* ---- a stream on the session layer (session_harness.h) ---------------------------- */

static harness H;

static void start_harness(void) { harness_start(&H, NULL); }
static void stop_harness(void) { harness_stop(&H); }

typedef struct stream_rec {
    char refused[64];
    char message[128];
    int starts, ends;
    char events[2048];
    size_t events_len;
} stream_rec;

static void rec_refuse(void *ctx, const char *code, const char *message) {
    stream_rec *r = ctx;
    snprintf(r->refused, sizeof r->refused, "%s", code);
    snprintf(r->message, sizeof r->message, "%s", message);
}
static void rec_start(void *ctx) { ((stream_rec *)ctx)->starts++; }
static int rec_send(void *ctx, const char *bytes, size_t len) {
    stream_rec *r = ctx;
    cr_assert_lt(r->events_len + len, sizeof r->events);
    memcpy(r->events + r->events_len, bytes, len);
    r->events_len += len;
    r->events[r->events_len] = '\0';
    return 0;
}
static void rec_end(void *ctx) { ((stream_rec *)ctx)->ends++; }

static const events_sink_ops rec_ops = {.refuse = rec_refuse, .start = rec_start, .send = rec_send, .end = rec_end};

static events_stream *open_stream(stream_rec *r, const char *target) {
    memset(r, 0, sizeof *r);
    static char head[256];
    snprintf(head, sizeof head, "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", target);
    http_request req;
    http_limits hl = http_limits_default();
    cr_assert_gt(http_parse_request(head, strlen(head), &hl, &req), 0);
    events_stream *e = events_open(H.sw, &req, &rec_ops, r);
    cr_assert_not_null(e);
    harness_pump(&H);
    return e;
}

Test(events, a_missing_document_refuses_the_stream_before_it_starts, .init = start_harness, .fini = stop_harness) {
    stream_rec r;
    events_stream *e = open_stream(&r, "/api/docs/nope/events");
    cr_assert_str_eq(r.refused, "not_found");
    cr_assert_str_eq(r.message, "no such document");
    cr_assert_eq(r.starts, 0);
    cr_assert_eq(r.events_len, 0);
    events_close(e);
}

Test(events, a_document_streams_its_snapshot_then_its_ops, .init = start_harness, .fini = stop_harness) {
    rec_sink rs = {0};
    struct session *s = harness_open(&H, &rs);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"e1\",\"op\":[\"a\"]}");
    stream_rec r;
    events_stream *e = open_stream(&r, "/api/docs/d/events");
    cr_assert_str_eq(r.refused, "");
    cr_assert_eq(r.starts, 1);
    cr_assert_not_null(strstr(r.events, "event: snapshot\n"), "%s", r.events);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"e2\",\"op\":[1,\"b\"]}");
    cr_assert_not_null(strstr(r.events, "event: op\nid: 1\n"), "%s", r.events);
    events_close(e);
    harness_close(&H, s);
    rec_sink_free(&rs);
}

static void count_respond(void *ctx, const rest_response *res) {
    cr_assert_eq(res->status, 200);
    (*(int *)ctx)++;
}
static void count_done(void *ctx) { (*(int *)ctx)++; }
static const rest_reply_ops count_ops = {.respond = count_respond, .done = count_done};

/* The stream's key is typed: its errors come as typed answers. Before any
 * event they refuse the stream with their code; once streaming, the error
 * a session would get is the last event, byte for byte, then the end. */
Test(events, errors_refuse_before_the_stream_and_end_it_after, .init = start_harness, .fini = stop_harness) {
    rec_sink rs = {0};
    struct session *s = harness_open(&H, &rs);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"e1\",\"op\":[\"a\"]}");
    stream_rec r;
    events_stream *e = open_stream(&r, "/api/docs/d/events?from=9");
    cr_assert_str_eq(r.refused, "version_ahead");
    cr_assert_eq(r.starts, 0);
    events_close(e);
    e = open_stream(&r, "/api/docs/d/events");
    cr_assert_eq(r.starts, 1);
    /* a REST delete: its subscribers get not_open (ref: the document) */
    http_request req;
    http_limits hl = http_limits_default();
    static const char del[] = "DELETE /api/docs/d HTTP/1.1\r\nHost: x\r\n\r\n";
    cr_assert_gt(http_parse_request(del, sizeof del - 1, &hl, &req), 0);
    int deleted = 0;
    rest_call *k = rest_call_new(H.sw, &count_ops, &deleted);
    cr_assert_not_null(k);
    rest_call_begin(k, &req);
    harness_pump(&H);
    cr_assert_eq(deleted, 2, "answered and done");
    cr_assert_eq(r.ends, 1, "the stream is over");
    cr_assert_not_null(strstr(r.events, "event: error\ndata: {\"type\":\"error\",\"code\":\"not_open\",\"message\":\""),
                       "%s", r.events);
    cr_assert_not_null(strstr(r.events, "\",\"ref\":\"d\"}\n\n"), "%s", r.events);
    events_close(e);
    harness_close(&H, s);
    rec_sink_free(&rs);
}
