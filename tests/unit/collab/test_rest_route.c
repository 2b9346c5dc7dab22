/* REST routes without sockets: a request head in, a typed call or the exact
 * refusal (code, message, status) out. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collab/rest_route.h"
#include "session_harness.h"

#define SECRET "0123456789abcdef0123456789abcdef-rest-route"

static http_request req;
static char head[4096];
static rest_target t;
static rest_refusal why;
static auth_claims claims;

static rest_rules open_rules(void) {
    return (rest_rules){.max_doc_name_bytes = 200, .max_body_bytes = 1000, .auth_on = false};
}

/* Parses "METHOD target" with extra header lines (may be ""). */
static int parse(const rest_rules *rules, const char *method, const char *target, const char *headers) {
    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: x\r\n%s\r\n", method, target, headers);
    http_limits hl = http_limits_default();
    cr_assert_gt(http_parse_request(head, strlen(head), &hl, &req), 0, "%s", head);
    return rest_route_parse(&req, rules, &t, &claims, &why);
}

static void refused(const rest_rules *rules, const char *method, const char *target, const char *headers,
                    const char *code, const char *message, int status) {
    cr_assert_eq(parse(rules, method, target, headers), -1, "%s %s was taken", method, target);
    cr_assert_str_eq(why.code, code, "%s %s", method, target);
    cr_assert_str_eq(why.message, message, "%s %s", method, target);
    cr_assert_eq(rest_status_for(why.code), status);
}

Test(rest_route, each_route_parses_into_a_typed_call) {
    rest_rules r = open_rules();
    cr_assert_eq(parse(&r, "GET", "/api/docs?limit=5&after=b", ""), 0);
    cr_assert_eq(t.route, REST_LIST);
    cr_assert_eq(t.limit, 5);
    cr_assert_str_eq(t.after, "b");
    cr_assert_eq(parse(&r, "GET", "/api/docs", ""), 0);
    cr_assert_eq(t.limit, REST_DEFAULT_PAGE);
    cr_assert_str_eq(t.after, "");
    cr_assert_eq(parse(&r, "GET", "/api/docs/notes/a%2Eb?v=7", ""), 0);
    cr_assert_eq(t.route, REST_DOC);
    cr_assert_eq(t.method, REST_GET);
    cr_assert_str_eq(t.doc, "notes/a.b");
    cr_assert(t.has_v && t.v == 7);
    cr_assert_eq(parse(&r, "GET", "/api/docs/n/ops?from=3&to=9", ""), 0);
    cr_assert_eq(t.route, REST_OPS);
    cr_assert_str_eq(t.doc, "n");
    cr_assert(t.v == 3 && t.to == 9);
    cr_assert_eq(parse(&r, "GET", "/api/docs/n/ops", ""), 0);
    cr_assert(t.v == 0 && t.to == PROTO_MAX_SAFE_INTEGER, "the whole history by default");
    cr_assert_eq(parse(&r, "POST", "/api/docs/n/ops", "Content-Length: 12\r\n"), 0);
    cr_assert(t.method == REST_POST && t.body_bytes == 12);
    cr_assert_eq(parse(&r, "DELETE", "/api/docs/n", ""), 0);
    cr_assert(t.method == REST_DELETE && t.route == REST_DOC);
}

Test(rest_route, bad_heads_are_refused_with_their_code_and_status) {
    rest_rules r = open_rules();
    refused(&r, "GET", "/api/docsx", "", "not_found", "no such API route", 404);
    refused(&r, "GET", "/api/docs/a%20b", "", "bad_doc_name", "invalid document name", 400);
    refused(&r, "GET", "/api/docs/a/../b", "", "bad_doc_name", "the path cannot be decoded", 400);
    refused(&r, "GET", "/api/docs/a%zz", "", "bad_doc_name", "the path cannot be decoded", 400);
    refused(&r, "PUT", "/api/docs/a", "", "bad_message", "method not allowed on this route", 400);
    refused(&r, "POST", "/api/docs/a", "Content-Length: 2\r\n", "bad_message", "method not allowed on this route", 400);
    refused(&r, "DELETE", "/api/docs", "", "bad_message", "method not allowed on this route", 400);
    refused(&r, "GET", "/api/docs/a?v=-1", "", "bad_message", "v must be a non-negative integer", 400);
    refused(&r, "GET", "/api/docs/a?v=9007199254740992", "", "bad_message", "v must be a non-negative integer", 400);
    refused(&r, "GET", "/api/docs/a/ops?from=x", "", "bad_message", "from must be a non-negative integer", 400);
    refused(&r, "GET", "/api/docs/a/ops?to=1.5", "", "bad_message", "to must be a non-negative integer", 400);
    refused(&r, "GET", "/api/docs?limit=0", "", "bad_message", "limit must be 1..1000", 400);
    refused(&r, "GET", "/api/docs?limit=1001", "", "bad_message", "limit must be 1..1000", 400);
    refused(&r, "POST", "/api/docs/a/ops", "", "bad_json", "a JSON body {v, id, op} is required", 400);
    refused(&r, "POST", "/api/docs/a/ops", "Content-Length: 1001\r\n", "op_too_large",
            "the body is larger than --max-message-bytes", 413);
    r.max_doc_name_bytes = 3;
    refused(&r, "GET", "/api/docs/abcd", "", "bad_doc_name", "invalid document name", 400);
}

Test(rest_route, tokens_and_grants_decide_before_the_query_is_read) {
    auth_secret sec;
    cr_assert_eq(auth_secret_set(&sec, SECRET, strlen(SECRET)), AUTH_OK);
    rest_rules r = {.max_doc_name_bytes = 200, .max_body_bytes = 1000, .auth_on = true, .secret = &sec,
                    .now_s = (int64_t)time(NULL)};
    refused(&r, "GET", "/api/docs/a?v=x", "", "unauthorized", "a Bearer token is required", 401);
    refused(&r, "GET", "/api/docs/a", "Authorization: Basic abc\r\n", "unauthorized", "a Bearer token is required",
            401);
    char token[2048], hdr[2200];
    const char *grants[] = {"pub:read", "team/*:write", NULL};
    harness_token(SECRET, "ada", grants, 3600, token, sizeof token);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
    refused(&r, "GET", "/api/docs/secret", hdr, "forbidden", "no grant for this document", 403);
    refused(&r, "DELETE", "/api/docs/pub", hdr, "forbidden", "this needs the write role on the document", 403);
    cr_assert_eq(parse(&r, "GET", "/api/docs/pub", hdr), 0);
    cr_assert_str_eq(claims.sub, "ada");
    cr_assert_eq(parse(&r, "GET", "/api/docs", hdr), 0, "the listing is filtered later, not refused");
    char post[2300];
    snprintf(post, sizeof post, "%sContent-Length: 5\r\n", hdr);
    cr_assert_eq(parse(&r, "POST", "/api/docs/team/x/ops", post), 0);
    harness_token(SECRET, "ada", grants, -3600, token, sizeof token);
    snprintf(hdr, sizeof hdr, "Authorization: Bearer %s\r\n", token);
    cr_assert_eq(parse(&r, "GET", "/api/docs/pub", hdr), -1);
    cr_assert_str_eq(why.code, "unauthorized");
    cr_assert_str_eq(why.message, auth_err_str(AUTH_ERR_EXPIRED));
}
