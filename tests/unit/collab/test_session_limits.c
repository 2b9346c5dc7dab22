/* The per-connection limits a session enforces (PROTOCOL.md §13), without
 * sockets: open documents, presence rate, and the decoder's bounds as the
 * configuration sets them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "session_harness.h"

static harness H;

static void tight(config *cfg) {
    cfg->max_open_docs = 2;
    cfg->presence_per_sec = 2;
    cfg->max_doc_name_bytes = 8;
    cfg->max_op_components = 3;
    cfg->max_doc_codepoints = 5;
    cfg->max_message_bytes = 512;
}
static void start(void) { harness_start(&H, tight); }
static void stop(void) { harness_stop(&H); }

static struct session *joined(rec_sink *r) {
    struct session *s = harness_open(&H, r);
    harness_send(&H, s, "{\"type\":\"hello\"}");
    const char *w = harness_next(r);
    cr_assert(w != NULL && strstr(w, "\"max_open_docs\":2,") != NULL && strstr(w, "\"presence_per_second\":2}"),
              "welcome advertises the configured limits: %s", w);
    return s;
}

Test(session_limits, open_beyond_max_open_docs_is_too_many_docs, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"a\"}");
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"b\"}");
    harness_next(&r);
    harness_next(&r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"c\"}");
    harness_expect_error(&r, "too_many_docs", "c");
    /* re-opening one already open is not a new one */
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"a\"}");
    harness_expect(&r, "{\"type\":\"snapshot\",\"doc\":\"a\",\"v\":0,\"text\":\"\",\"peers\":[]}");
    /* closing one makes room */
    harness_send(&H, s, "{\"type\":\"close\",\"doc\":\"b\"}");
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"c\"}");
    harness_expect(&r, "{\"type\":\"snapshot\",\"doc\":\"c\",\"v\":0,\"text\":\"\",\"peers\":[]}");
    harness_expect_none(&r);
    harness_end(&H, s, &r);
}

Test(session_limits, presence_faster_than_the_rate_is_dropped_as_rate_limited, .init = start, .fini = stop) {
    rec_sink r = {0}, o = {0};
    struct session *s = joined(&r), *other = joined(&o);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_send(&H, other, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&r);
    harness_next(&o);
    const char *p = "{\"type\":\"presence\",\"doc\":\"d\",\"v\":0,\"sel\":[]}";
    harness_send(&H, s, p);
    harness_send(&H, s, p);
    harness_send(&H, s, p);
    harness_expect_error(&r, "rate_limited", "d");
    harness_expect_none(&r);
    int seen = 0;
    while (harness_next(&o) != NULL) seen++;
    cr_assert_eq(seen, 2, "two of three reached the other session");
    /* half a second refills one token (2 per second) */
    H.w.now_ms += 500;
    harness_send(&H, s, p);
    harness_send(&H, s, p);
    harness_expect_error(&r, "rate_limited", "d");
    cr_assert_not_null(harness_next(&o));
    harness_expect_none(&o);
    harness_end(&H, s, &r);
    harness_end(&H, other, &o);
}

Test(session_limits, the_configured_bounds_reach_the_decoder_and_the_document, .init = start, .fini = stop) {
    rec_sink r = {0};
    struct session *s = joined(&r);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"123456789\"}");
    harness_expect_error(&r, "bad_doc_name", NULL);
    harness_send(&H, s, "{\"type\":\"open\",\"doc\":\"12345678\"}");
    harness_next(&r);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"12345678\",\"v\":0,\"id\":\"c\",\"op\":[\"a\",\"b\",\"c\",\"d\"]}");
    harness_expect_error(&r, "op_too_large", "c");
    /* one insert longer than a document may be is already too large an op */
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"12345678\",\"v\":0,\"id\":\"g\",\"op\":[\"abcdef\"]}");
    harness_expect_error(&r, "op_too_large", "g");
    char big[700];
    snprintf(big, sizeof big, "{\"type\":\"op\",\"doc\":\"12345678\",\"v\":0,\"id\":\"m\",\"op\":[\"%0600d\"]}", 0);
    harness_send(&H, s, big);
    harness_expect_error(&r, "op_too_large", NULL);
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"12345678\",\"v\":0,\"id\":\"ok\",\"op\":[\"abc\"]}");
    harness_expect(&r, "{\"type\":\"ack\",\"doc\":\"12345678\",\"id\":\"ok\",\"v\":0}");
    /* a concurrent insert, fine alone, would grow the document past 5 code points */
    harness_send(&H, s, "{\"type\":\"op\",\"doc\":\"12345678\",\"v\":0,\"id\":\"grow\",\"op\":[\"def\"]}");
    harness_expect_error(&r, "doc_too_large", "grow");
    harness_expect_none(&r);
    harness_end(&H, s, &r);
}
