/* Reconnection with `v`, resends by id and restarts (PROTOCOL.md §7, §10),
 * through the session state machine without sockets. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "session_harness.h"

static harness H;

static void small_history(config *cfg) { cfg->history_depth = 3; }
static void start(void) { harness_start(&H, small_history); }
static void stop(void) { harness_stop(&H); }

static struct session *joined_to_d(rec_sink *r, const char *open) {
    struct session *s = harness_open(&H, r);
    harness_send(&H, s, "{\"type\":\"hello\"}");
    harness_next(r);
    harness_send(&H, s, open);
    return s;
}

/* Writes ops "0".."n-1", each appended at the end, from session s. */
static void write_ops(struct session *s, rec_sink *r, int n) {
    for (int i = 0; i < n; i++) {
        char m[160], ack[128];
        if (i == 0) snprintf(m, sizeof m, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"i0\",\"op\":[\"0\"]}");
        else
            snprintf(m, sizeof m, "{\"type\":\"op\",\"doc\":\"d\",\"v\":%d,\"id\":\"i%d\",\"op\":[%d,\"%d\"]}", i, i,
                     i, i);
        harness_send(&H, s, m);
        snprintf(ack, sizeof ack, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"i%d\",\"v\":%d}", i, i);
        harness_expect(r, ack);
    }
}

Test(session_sync, open_with_v_replays_the_missed_ops_then_synced, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined_to_d(&ra, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&ra);
    write_ops(a, &ra, 3);
    struct session *b = joined_to_d(&rb, "{\"type\":\"open\",\"doc\":\"d\",\"v\":1}");
    char want[256];
    snprintf(want, sizeof want, "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"i1\",\"op\":[1,\"1\"],\"by\":\"%s\"}",
             session_id(a));
    harness_expect(&rb, want);
    snprintf(want, sizeof want, "{\"type\":\"op\",\"doc\":\"d\",\"v\":2,\"id\":\"i2\",\"op\":[2,\"2\"],\"by\":\"%s\"}",
             session_id(a));
    harness_expect(&rb, want);
    harness_expect(&rb, "{\"type\":\"synced\",\"doc\":\"d\",\"v\":3}");
    harness_expect_none(&rb);
    /* at the head: nothing to replay */
    rec_sink rc = {0};
    struct session *c = joined_to_d(&rc, "{\"type\":\"open\",\"doc\":\"d\",\"v\":3}");
    harness_expect(&rc, "{\"type\":\"synced\",\"doc\":\"d\",\"v\":3}");
    harness_expect_none(&rc);
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
    harness_end(&H, c, &rc);
}

Test(session_sync, open_with_v_outside_the_history_is_refused, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined_to_d(&ra, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&ra);
    write_ops(a, &ra, 5);   /* history_depth 3: versions below 2 are gone */
    struct session *b = joined_to_d(&rb, "{\"type\":\"open\",\"doc\":\"d\",\"v\":9}");
    harness_expect_error(&rb, "version_ahead", "d");
    harness_send(&H, b, "{\"type\":\"open\",\"doc\":\"d\",\"v\":1}");
    harness_expect_error(&rb, "version_too_old", "d");
    /* a refused open leaves the document closed */
    harness_send(&H, b, "{\"type\":\"presence\",\"doc\":\"d\",\"v\":5,\"sel\":[]}");
    harness_expect_error(&rb, "not_open", "d");
    /* an op on a version older than the history is refused the same way */
    harness_send(&H, a, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"old\",\"op\":[\"x\"]}");
    harness_expect_error(&ra, "version_too_old", "old");
    harness_expect_none(&ra);
    harness_expect_none(&rb);
    harness_end(&H, a, &ra);
    harness_end(&H, b, &rb);
}

Test(session_sync, a_resent_op_is_acked_once_at_its_first_version, .init = start, .fini = stop) {
    rec_sink ra = {0}, rb = {0};
    struct session *a = joined_to_d(&ra, "{\"type\":\"open\",\"doc\":\"d\"}");
    struct session *b = joined_to_d(&rb, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&ra);
    harness_next(&rb);
    harness_expect_none(&ra);   /* another session's open sends nothing to a */
    harness_send(&H, a, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"once\",\"op\":[\"x\"]}");
    harness_expect(&ra, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"once\",\"v\":0}");
    harness_next(&rb);
    /* the connection dropped before the ack arrived: the client reconnects,
     * catches up (its own op is in the replay) and resends the same id */
    char want[256];
    snprintf(want, sizeof want, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"once\",\"op\":[\"x\"],\"by\":\"%s\"}",
             session_id(a));
    harness_end(&H, a, &ra);
    while (harness_next(&rb) != NULL) {}
    struct session *a2 = joined_to_d(&ra, "{\"type\":\"open\",\"doc\":\"d\",\"v\":0}");
    harness_expect(&ra, want);
    harness_expect(&ra, "{\"type\":\"synced\",\"doc\":\"d\",\"v\":1}");
    harness_send(&H, a2, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"once\",\"op\":[\"x\"]}");
    harness_expect(&ra, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"once\",\"v\":0}");
    harness_expect_none(&ra);
    harness_expect_none(&rb);   /* not applied twice: nobody sees it again */
    harness_end(&H, a2, &ra);
    harness_end(&H, b, &rb);
}

Test(session_sync, acked_ops_survive_a_restart, .init = start, .fini = stop) {
    rec_sink ra = {0};
    struct session *a = joined_to_d(&ra, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_next(&ra);
    write_ops(a, &ra, 2);
    harness_end(&H, a, &ra);
    harness_restart(&H);
    a = joined_to_d(&ra, "{\"type\":\"open\",\"doc\":\"d\"}");
    harness_expect(&ra, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":2,\"text\":\"01\",\"peers\":[]}");
    harness_end(&H, a, &ra);
}
