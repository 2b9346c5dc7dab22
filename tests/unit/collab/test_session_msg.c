/* The ringpad.v1 state machine, message by message, without sockets: each
 * session writes to a recording sink (session_harness.h) and every document
 * is owned by the one worker. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "collab/fanout.h"
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
    harness_end(&H, s, &r);
}

Test(session_msg, ping_is_answered_by_pong_without_hello, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = harness_open(&H, &r);
    harness_send(&H, s, "{\"type\":\"ping\"}");
    harness_expect(&r, "{\"type\":\"pong\"}");
    harness_expect_none(&r);
    harness_end(&H, s, &r);
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
    harness_end(&H, s, &r);
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
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
}

Test(session_msg, presence_reaches_the_others_and_shows_in_their_snapshot, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined(&ra), *b = harness_open(&H, &rb);
    harness_send(&H, b, "{\"type\":\"hello\",\"name\":\"Bo\",\"color\":\"#123\"}");
    harness_next(&rb);
    harness_send(&H, a, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, b, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&ra);
    char want[512];
    snprintf(want, sizeof want,
             "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":0,\"text\":\"\",\"peers\":[{\"session\":\"%s\",\"name\":null,"
             "\"color\":null,\"sel\":[]}]}",
             session_id(a));
    harness_expect(&rb, want);
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[[0,0]]}");
    snprintf(want, sizeof want,
             "{\"type\":\"presence\",\"doc\":\"d\",\"session\":\"%s\",\"name\":\"Bo\",\"color\":\"#123\",\"v\":0,"
             "\"sel\":[[0,0]]}",
             session_id(b));
    harness_expect(&ra, want);
    harness_expect_none(&rb);
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
}

/* A presence position beyond the text at its v: bad_selection (ref: the
 * document) to the sender only; the others hear nothing. */
Test(session_msg, a_presence_beyond_the_text_is_bad_selection_and_not_relayed, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined(&ra), *b = joined(&rb);
    harness_send(&H, a, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, a, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"a1\",\"op\":[\"abc\"]}");
    harness_send(&H, b, "{\"type\":\"open\",\"doc\":\"d\"}");
    while (harness_next(&ra) != NULL) {}
    while (harness_next(&rb) != NULL) {}
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":1,\"sel\":[[1,4]]}");
    harness_expect(&rb, "{\"type\":\"error\",\"code\":\"bad_selection\",\"message\":\"sel[0] [1, 4] is beyond "
                        "the text: 3 code points at v 1\",\"ref\":\"d\"}");
    harness_expect_none(&rb);
    harness_expect_none(&ra);
    /* within the text it is relayed */
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":1,\"sel\":[[1,3]]}");
    const char *got = harness_next(&ra);
    cr_assert(got != NULL && strstr(got, "\"sel\":[[1,3]]}") != NULL, "relayed: %s", got);
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
}

/* Two ranges travel inside the request, more in a separate allocation: both
 * reach the others whole and in order, and a bad range among many is named. */
Test(session_msg, presence_with_few_and_many_ranges_is_relayed_whole, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined(&ra), *b = joined(&rb);
    harness_send(&H, a, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, a, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"a1\",\"op\":[\"abcdef\"]}");
    harness_send(&H, b, "{\"type\":\"open\",\"doc\":\"d\"}");
    while (harness_next(&ra) != NULL) {}
    while (harness_next(&rb) != NULL) {}
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":1,\"sel\":[[1,2],[3,4]]}");
    const char *got = harness_next(&ra);
    cr_assert(got != NULL && strstr(got, "\"sel\":[[1,2],[3,4]]}") != NULL, "relayed: %s", got);
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":1,\"sel\":[[0,1],[2,3],[4,5],[6,6],[5,0]]}");
    got = harness_next(&ra);
    cr_assert(got != NULL && strstr(got, "\"sel\":[[0,1],[2,3],[4,5],[6,6],[5,0]]}") != NULL, "relayed: %s", got);
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":1,\"sel\":[[0,1],[2,3],[4,9]]}");
    harness_expect(&rb, "{\"type\":\"error\",\"code\":\"bad_selection\",\"message\":\"sel[2] [4, 9] is beyond "
                        "the text: 6 code points at v 1\",\"ref\":\"d\"}");
    harness_expect_none(&ra);
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
}

Test(session_msg, close_and_disconnect_send_leave_to_the_others, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0}, rc = {0};
    struct session *a = joined(&ra), *b = joined(&rb), *c = joined(&rc);
    harness_send(&H, a, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, b, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, c, "{\"type\":\"open\",\"doc\":\"d\"}");
    while (harness_next(&ra) != NULL) {}
    while (harness_next(&rb) != NULL) {}
    while (harness_next(&rc) != NULL) {}
    harness_send(&H, b, "{\"type\":\"close\",\"doc\":\"d\"}");
    harness_expect_none(&rb);   /* close has no reply */
    char want[256];
    snprintf(want, sizeof want, "{\"type\":\"leave\",\"doc\":\"d\",\"session\":\"%s\"}", session_id(b));
    harness_expect(&ra, want);
    harness_expect(&rc, want);
    /* b no longer gets ops of d */
    harness_send(&H, a, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[\"z\"]}");
    harness_expect_none(&rb);
    harness_next(&ra);
    harness_next(&rc);
    snprintf(want, sizeof want, "{\"type\":\"leave\",\"doc\":\"d\",\"session\":\"%s\"}", session_id(c));
    harness_close(&H, c);   /* the connection went away */
    harness_expect(&ra, want);
    harness_expect_none(&ra);
    harness_close(&H, a);
    harness_close(&H, b);
    rec_sink_free(&ra);
    rec_sink_free(&rb);
    rec_sink_free(&rc);
}

Test(session_msg, messages_for_a_document_not_open_are_not_open, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"o1\",\"op\":[\"z\"]}");
    harness_expect_error(&r, "not_open", "o1");
    harness_send(&H, s, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[]}");
    harness_expect_error(&r, "not_open", "d");
    harness_send(&H, s, "{\"type\":\"close\",\"doc\":\"d\"}");
    harness_expect_error(&r, "not_open", "d");
    harness_expect_none(&r);
    harness_end(&H, s, &r);
}

Test(session_msg, undecodable_messages_get_their_error_and_the_session_goes_on, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":");
    harness_expect_error(&r, "bad_json", NULL);
    harness_send(&H, s, "{\"type\":\"open\"}");
    harness_expect_error(&r, "bad_message", NULL);
    harness_send(&H, s, "{\"type\":\"dance\"}");
    harness_expect_error(&r, "unknown_type", NULL);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"../etc\"}");
    harness_expect_error(&r, "bad_doc_name", NULL);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&r);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"b1\",\"op\":[0]}");
    harness_expect_error(&r, "bad_op", "b1");
    /* valid shape, but the base length (5) is not the document's (0) */
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"b2\",\"op\":[5,\"x\"]}");
    harness_expect_error(&r, "bad_op", "b2");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":7,\"id\":\"b3\",\"op\":[\"x\"]}");
    harness_expect_error(&r, "version_ahead", "b3");
    harness_send(&H, s, "{\"type\":\"ping\"}");
    harness_expect(&r, "{\"type\":\"pong\"}");
    harness_expect_none(&r);
    cr_assert_not(r.closed);
    harness_end(&H, s, &r);
}

Test(session_msg, lost_messages_end_the_session_with_internal_and_1011, .init = start, .fini = stop) {
    rec_sink r = {0}, other = {0};
    struct session *s = joined(&r), *o = joined(&other);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, o, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&r);
    harness_next(&r);
    harness_next(&other);
    /* the key of s is what its id names: s<worker>-<slot>-<generation> */
    unsigned wk, slot, gen;
    cr_assert_eq(sscanf(session_id(s), "s%u-%u-%u", &wk, &slot, &gen), 3);
    session_kill(H.sw, fanout_key(wk, slot, gen));
    harness_expect_error(&r, "internal", NULL);
    cr_assert(r.closed);
    cr_assert_eq(r.close_code, 1011);
    cr_assert_str_eq(r.close_reason, "messages lost");
    /* a frame for it after the close is dropped by its sink */
    harness_send(&H, o, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"x\",\"op\":[\"z\"]}");
    cr_assert_eq(r.sent_after_close, 1);
    harness_expect_none(&r);
    /* a stale key is ignored */
    harness_close(&H, s);
    session_kill(H.sw, fanout_key(wk, slot, gen));
    cr_assert_eq(r.sent_after_close, 1);
    harness_close(&H, o);
    rec_sink_free(&r);
    rec_sink_free(&other);
}

Test(session_msg, a_document_that_cannot_be_loaded_is_internal_and_not_open, .init = start, .fini = stop) {
    char p[128];
    snprintf(p, sizeof p, "%s/blocked", H.dir);
    FILE *f = fopen(p, "w");   /* a file where the document's directory would be */
    cr_assert_not_null(f);
    fclose(f);
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"blocked\"}");
    harness_expect_error(&r, "internal", "blocked");
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"blocked\",\"v\":0,\"id\":\"o\",\"op\":[\"z\"]}");
    harness_expect_error(&r, "not_open", "o");
    harness_expect_none(&r);
    harness_end(&H, s, &r);
}

/* A write the kernel refuses (EFBIG past RLIMIT_FSIZE; each test runs in its
 * own process): the sender hears storage_unavailable at once, and its ack
 * when the timer's retry succeeds. */
Test(session_msg, a_failed_write_is_storage_unavailable_then_acked_by_the_retry, .init = start, .fini = stop) {
    signal(SIGXFSZ, SIG_IGN);
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&r);
    struct rlimit old, tight = {.rlim_cur = 1, .rlim_max = RLIM_INFINITY};
    cr_assert_eq(getrlimit(RLIMIT_FSIZE, &old), 0);
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &tight), 0);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"w1\",\"op\":[\"z\"]}");
    harness_expect_error(&r, "storage_unavailable", "w1");
    harness_expect_none(&r);
    /* while the log has failed, new ops are refused */
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"w2\",\"op\":[1,\"y\"]}");
    harness_expect_error(&r, "storage_unavailable", "w2");
    cr_assert_eq(setrlimit(RLIMIT_FSIZE, &old), 0);
    H.w.now_ms += 1000;
    harness_tick(&H);
    harness_expect(&r, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"w1\",\"v\":0}");
    harness_expect_none(&r);
    harness_end(&H, s, &r);
}
