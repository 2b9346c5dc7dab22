/* The ringpad.v1 state machine, message by message, without sockets: each
 * session writes to a recording sink (session_harness.h) and every document
 * is owned by the one worker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "session_harness.h"

static harness H;

static void start(void) { harness_start(&H, NULL); }
static void stop(void) { harness_stop(&H); }

/* A session that said hello; its welcome is taken. */
static struct session *joined(rec_sink *r) {
    struct session *s = harness_open(&H, r);
    harness_send(&H, s, "{\"type\":\"hello\"}");
    const char *w = harness_next(r);
    cr_assert(w != NULL && strncmp(w, "{\"type\":\"welcome\"", 17) == 0, "%s", w != NULL ? w : "(none)");
    return s;
}

static void expect_f(rec_sink *r, const char *fmt, const char *a, const char *b) {
    char want[1024];
    snprintf(want, sizeof want, fmt, a, b);
    harness_expect(r, want);
}

Test(session_msg, hello_is_answered_by_welcome_with_the_limits, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    harness_send(&H, s, "{\"type\":\"hello\",\"name\":\"Ada\",\"color\":\"#00ff00\"}");
    char want[512];
    snprintf(want, sizeof want,
             "{\"type\":\"welcome\",\"session\":\"%s\",\"server\":\"ringpad/0.1\",\"limits\":{"
             "\"max_message_bytes\":1048576,\"max_op_bytes\":1048576,\"max_op_components\":65536,"
             "\"max_doc_codepoints\":16777216,\"max_doc_name_bytes\":200,\"max_open_docs\":64,"
             "\"history_depth\":1000,\"presence_per_second\":20}}",
             session_id(s));
    harness_expect(&r, want);
    cr_assert_str_eq(session_id(s), "s0-0-1");
    harness_send(&H, s, "{\"type\":\"hello\"}");
    harness_expect_error(&r, "bad_message", NULL);
    harness_expect_none(&r);
    cr_assert_not(r.closed, "a second hello is an error, not a close");
    harness_close(&H, s);
    rec_sink_free(&r);
}

Test(session_msg, ping_is_answered_by_pong_without_hello, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    harness_send(&H, s, "{\"type\":\"ping\"}");
    harness_expect(&r, "{\"type\":\"pong\"}");
    harness_expect_none(&r);
    harness_close(&H, s);
    rec_sink_free(&r);
}

Test(session_msg, open_creates_the_document_and_answers_a_snapshot, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"notes\"}");
    harness_expect(&r, "{\"type\":\"snapshot\",\"doc\":\"notes\",\"v\":0,\"text\":\"\",\"peers\":[]}");
    harness_expect_none(&r);
    char p[128];
    snprintf(p, sizeof p, "%s/notes", H.dir);
    struct stat st;
    cr_assert_eq(stat(p, &st), 0, "open creates the document on disk");
    harness_close(&H, s);
    rec_sink_free(&r);
}

Test(session_msg, an_op_is_acked_to_its_sender_and_broadcast_to_the_others, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined(&ra), *b = joined(&rb);
    harness_send(&H, a, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, b, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&ra);
    harness_next(&rb);
    harness_send(&H, a, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"a1\",\"op\":[\"hi\"]}");
    harness_expect(&ra, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"a1\",\"v\":0}");
    expect_f(&rb, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"a1\",\"op\":[\"hi\"],\"by\":\"%s\"}%s", session_id(a), "");
    /* b's concurrent insert at v 0 is transformed against a's (ties: the later op goes first) */
    harness_send(&H, b, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"b1\",\"op\":[\"yo\"]}");
    harness_expect(&rb, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"b1\",\"v\":1}");
    expect_f(&ra, "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"b1\",\"op\":[\"yo\",2],\"by\":\"%s\"}%s", session_id(b), "");
    harness_expect_none(&ra);
    harness_expect_none(&rb);
    harness_close(&H, a);
    harness_close(&H, b);
    rec_sink_free(&ra);
    rec_sink_free(&rb);
}
