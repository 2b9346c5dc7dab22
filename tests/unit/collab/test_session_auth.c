/* Tokens, grants and roles in the session state machine (PROTOCOL.md §12),
 * without sockets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "session_harness.h"

#define SECRET "0123456789abcdef0123456789abcdef-session-tests"

static harness H;

static void with_auth(config *cfg) { snprintf(cfg->auth_secret, sizeof cfg->auth_secret, "%s", SECRET); }
static void start(void) { harness_start(&H, with_auth); }
static void stop(void) { harness_stop(&H); }

static void hello_with(struct session *s, const char *token) {
    char m[2048];
    snprintf(m, sizeof m, "{\"type\":\"hello\",\"token\":\"%s\",\"name\":\"Hello Name\"}", token);
    harness_send(&H, s, m);
}

static void expect_unauthorized(rec_sink *r) {
    harness_expect_error(r, "unauthorized", NULL);
    harness_expect_none(r);
    cr_assert(r->closed);
    cr_assert_eq(r->close_code, 4401);
    cr_assert_str_eq(r->close_reason, "unauthorized");
}

Test(session_auth, the_first_message_must_be_a_hello_with_a_valid_token, .init = start, .fini = stop) {
    const char *first[] = {
        "{\"type\":\"open\",\"doc\":\"d\"}", "{\"type\":\"ping\"}", "{\"type\":\"hello\"}", "not json",
        "{\"type\":\"hello\",\"token\":\"abc.def.ghi\"}",
    };
    for (size_t i = 0; i < sizeof first / sizeof first[0]; i++) {
        rec_sink r = {0};
        struct session *s = harness_open(&H, &r);
        harness_send(&H, s, first[i]);
        expect_unauthorized(&r);
        harness_close(&H, s);
        rec_sink_free(&r);
    }
}

Test(session_auth, expired_and_wrongly_signed_tokens_are_unauthorized, .init = start, .fini = stop) {
    char token[2048];
    const char *grants[] = {"*:write", NULL};
    harness_token(SECRET, "ada", grants, -3600, token, sizeof token);
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    hello_with(s, token);
    const char *got = harness_next(&r);
    cr_assert(got != NULL && strstr(got, "\"code\":\"unauthorized\"") && strstr(got, "expired"), "%s", got);
    cr_assert_eq(r.close_code, 4401);
    harness_end(&H, s, &r);
    harness_token("another secret of at least thirty-two bytes!", "ada", grants, 3600, token, sizeof token);
    s = harness_open(&H, &r);
    hello_with(s, token);
    expect_unauthorized(&r);
    harness_end(&H, s, &r);
}

Test(session_auth, grants_decide_open_and_the_role_decides_op, .init = start, .fini = stop) {
    char token[2048];
    const char *grants[] = {"team/*:write", "public:read", NULL};
    harness_token(SECRET, "ada", grants, 3600, token, sizeof token);
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    hello_with(s, token);
    const char *w = harness_next(&r);
    cr_assert(w != NULL && strncmp(w, "{\"type\":\"welcome\"", 17) == 0, "%s", w);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"secret\"}");
    harness_expect_error(&r, "forbidden", "secret");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"secret\",\"v\":0,\"id\":\"s1\",\"op\":[\"x\"]}");
    harness_expect_error(&r, "not_open", "s1");
    /* read: open and presence, no ops */
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"public\"}");
    harness_expect(&r, "{\"type\":\"snapshot\",\"doc\":\"public\",\"v\":0,\"text\":\"\",\"peers\":[]}");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"public\",\"v\":0,\"id\":\"p1\",\"op\":[\"x\"]}");
    harness_expect_error(&r, "forbidden", "p1");
    harness_send(&H, s, "{\"type\":\"presence\",\"doc\":\"public\",\"v\":0,\"sel\":[]}");
    harness_expect_none(&r);
    /* write: ops are acked and carry the token's sub as `by` */
    rec_sink o = {0};
    struct session *other = harness_open(&H, &o);
    hello_with(other, token);
    harness_next(&o);
    harness_send(&H, other, "{\"type\":\"open\",\"doc\":\"team/x\"}");
    harness_next(&o);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"team/x\"}");
    char want[512];
    snprintf(want, sizeof want,
             "{\"type\":\"snapshot\",\"doc\":\"team/x\",\"v\":0,\"text\":\"\",\"peers\":[{\"session\":\"%s\",\"name\":"
             "\"Hello Name\",\"color\":null,\"sel\":[]}]}",
             session_id(other));
    harness_expect(&r, want);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"team/x\",\"v\":0,\"id\":\"t1\",\"op\":[\"x\"]}");
    harness_expect(&r, "{\"type\":\"ack\",\"doc\":\"team/x\",\"id\":\"t1\",\"v\":0}");
    harness_expect(&o, "{\"type\":\"op\",\"doc\":\"team/x\",\"v\":0,\"id\":\"t1\",\"op\":[\"x\"],\"by\":\"ada\"}");
    cr_assert_not(r.closed);
    harness_end(&H, s, &r);
    harness_end(&H, other, &o);
}

Test(session_auth, without_a_secret_every_session_may_write_without_a_token, .init = NULL) {
    harness_start(&H, NULL);
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");   /* hello is optional in open mode */
    harness_expect(&r, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":0,\"text\":\"\",\"peers\":[]}");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[\"x\"]}");
    harness_expect(&r, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"x\",\"v\":0}");
    harness_end(&H, s, &r);
    harness_stop(&H);
}
