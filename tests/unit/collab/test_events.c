/* Server-Sent Events: which requests are streams, and the bytes of one event. */
#include <criterion/criterion.h>
#include <string.h>

#include "collab/events.h"

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
