#include <criterion/criterion.h>

#include "base/config.h"
#include "io/conn.h"
#include "http/router.h"

#include <string.h>

static server_shared shared;
static config cfg;

static void setup(void) {
    config_defaults(&cfg);
    memset(&shared, 0, sizeof shared);
    shared.cfg = &cfg;
    shared.count_workers = 1;
    static metrics_worker m[1];
    memset(m, 0, sizeof m);
    shared.metrics = m;
}

static http_request parse(const char *text) {
    http_request req;
    http_limits lim = http_limits_default();
    int rc = http_parse_request(text, strlen(text), &lim, &req);
    cr_assert_gt(rc, 0, "parse %d", rc);
    return req;
}

static router_reply route(const char *text) {
    router_ctx ctx = {.shared = &shared, .now_unix_s = 1700000000};
    http_request req = parse(text);
    router_reply r;
    cr_assert_eq(router_route(&ctx, &req, &r), 0);
    return r;
}

static bool head_has(const router_reply *r, const char *s) {
    return memmem(r->head->data, r->head->len, s, strlen(s)) != NULL;
}

TestSuite(router, .init = setup);

Test(router, healthz_turns_503_when_shutting_down) {
    router_reply r = route("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 200);
    cr_assert_eq(r.action, ROUTER_REPLY);
    cr_assert(head_has(&r, "\r\n\r\nok\n"));
    cr_assert_not(r.close);
    rbuf_unref(r.head);
    atomic_store(&shared.shutting_down, true);
    r = route("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 503);
    rbuf_unref(r.head);
}

Test(router, head_has_no_body) {
    router_reply r = route("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 200);
    cr_assert(head_has(&r, "Content-Length: 3\r\n"));
    cr_assert_eq(r.head->data[r.head->len - 1], '\n');
    cr_assert(memcmp(r.head->data + r.head->len - 4, "\r\n\r\n", 4) == 0);
    rbuf_unref(r.head);
}

Test(router, metrics_is_prometheus_text) {
    router_reply r = route("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 200);
    cr_assert(head_has(&r, "text/plain; version=0.0.4"));
    cr_assert(head_has(&r, "ringpad_connections_open 0"));
    rbuf_unref(r.head);
}

Test(router, method_not_allowed) {
    router_reply r = route("DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 405);
    cr_assert(r.close);
    cr_assert(head_has(&r, "Allow: GET, HEAD"));
    rbuf_unref(r.head);
}

Test(router, upgrades_and_echo_switch) {
    router_reply r = route("GET /ws?doc=a HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.action, ROUTER_UPGRADE);
    cr_assert_eq(r.endpoint, ROUTER_EP_WS);
    r = route("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.action, ROUTER_REPLY);
    cr_assert_eq(r.status, 404);
    rbuf_unref(r.head);
    cfg.enable_echo = true;
    r = route("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.action, ROUTER_UPGRADE);
    cr_assert_eq(r.endpoint, ROUTER_EP_ECHO);
}

Test(router, static_without_site_is_404) {
    router_reply r = route("GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n");
    cr_assert_eq(r.status, 404);
    cr_assert(r.close);
    rbuf_unref(r.head);
}

Test(router, error_responses_close) {
    static const int statuses[] = {400, 404, 405, 413, 414, 426, 431, 503};
    for (size_t i = 0; i < sizeof statuses / sizeof statuses[0]; i++) {
        router_reply r;
        cr_assert_eq(router_error(statuses[i], NULL, &r), 0);
        cr_assert_eq(r.status, statuses[i]);
        cr_assert(r.close);
        cr_assert(head_has(&r, "Connection: close"), "%d", statuses[i]);
        rbuf_unref(r.head);
    }
}
