/* bench_msgcache: a broadcast frame is parsed once and the parse shared by
 * every client that receives it; the bytes, not the hash, decide a hit. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <string.h>

#include "client.h"
#include "msgcache.h"

static lg_msgcache mc;

static void setup(void) { cr_assert_eq(lg_msgcache_init(&mc), 0); }
static void teardown(void) { lg_msgcache_free(&mc); }

TestSuite(bench_msgcache, .init = setup, .fini = teardown);

static const lg_msg *get(const char *json) {
    const lg_msg *pm = NULL;
    cr_assert_eq(lg_msgcache_get(&mc, json, strlen(json), &pm), 0, "%s", json);
    cr_assert_not_null(pm);
    return pm;
}

static void open_client(lg_client *c, const char *prefix, ot_buf *out) {
    cr_assert_eq(lg_client_init(c, "d", prefix), 0);
    cr_assert_eq(lg_client_write_open(c, out), 0);
    lg_event ev;
    cr_assert_eq(lg_client_on_msg(c, get("{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":0,\"text\":\"ab\"}"), 0, &ev,
                                  out), 0);
    cr_assert_eq(ev.kind, LG_EV_SNAPSHOT);
}

Test(bench_msgcache, a_broadcast_is_parsed_once_for_every_client) {
    const char *op = "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"w:1:100\",\"op\":[1,\"x\",1]}";
    ot_buf out;
    ot_buf_init(&out);
    lg_client cl[3];
    for (int i = 0; i < 3; i++) open_client(&cl[i], i == 0 ? "a" : i == 1 ? "b" : "c", &out);
    /* the frame arrives once per client, in its own receive buffer */
    for (int i = 0; i < 3; i++) {
        char frame[128];
        snprintf(frame, sizeof frame, "%s", op);
        const lg_msg *pm = get(frame);
        cr_assert_not_null(pm->op);
        cr_assert(pm->has_t0);
        cr_assert_eq(pm->t0, 100);
        lg_event ev;
        cr_assert_eq(lg_client_on_msg(&cl[i], pm, 150, &ev, &out), 0);
        cr_assert_eq(ev.kind, LG_EV_REMOTE_OP);
        cr_assert_eq(ev.latency_us, 50);
        cr_assert(lg_client_text_equals(&cl[i], "axb", 3));
        cr_assert_eq(cl[i].server_v, 1);
    }
    cr_assert_eq(mc.misses, 1, "parsed once");
    cr_assert_eq(mc.hits, 2, "shared twice");
    for (int i = 0; i < 3; i++) lg_client_free(&cl[i]);
    ot_buf_free(&out);
}

Test(bench_msgcache, acks_and_snapshots_are_parsed_but_not_kept) {
    const char *ack = "{\"type\":\"ack\",\"doc\":\"d\",\"v\":3,\"id\":\"a:1:5\"}";
    const lg_msg *pm = get(ack);
    cr_assert(pm->has_v);
    cr_assert_eq(pm->v, 3);
    cr_assert_null(pm->op);
    get(ack);
    cr_assert_eq(mc.uncached, 2);
    cr_assert_eq(mc.hits, 0);
    cr_assert_eq(mc.misses, 0);
}

Test(bench_msgcache, the_bytes_decide_not_the_hash) {
    /* two frames in one slot (forced: the same slot index) replace each other */
    const char *a = "{\"type\":\"op\",\"doc\":\"d\",\"v\":1,\"id\":\"w:1:1\",\"op\":[2,\"q\"]}";
    char b[128];
    uint64_t ha = lg_msgcache_hash(a, strlen(a));
    int found = 0;
    for (int i = 0; i < 100000 && !found; i++) {
        snprintf(b, sizeof b, "{\"type\":\"op\",\"doc\":\"d\",\"v\":%d,\"id\":\"w:1:1\",\"op\":[2,\"q\"]}", 2 + i);
        found = (lg_msgcache_hash(b, strlen(b)) & (LG_MSGCACHE_SLOTS - 1)) == (ha & (LG_MSGCACHE_SLOTS - 1));
    }
    cr_assert(found);
    cr_assert_eq(get(a)->v, 1);
    const lg_msg *pb = get(b);
    cr_assert_neq(pb->v, 1, "a different frame in the same slot is parsed, not taken for the first");
    cr_assert_eq(get(a)->v, 1);
    cr_assert_eq(mc.misses, 3);
    cr_assert_eq(mc.hits, 0);
}

Test(bench_msgcache, a_kept_message_points_into_its_own_copy) {
    char frame[128];
    snprintf(frame, sizeof frame, "{\"type\":\"op\",\"doc\":\"d\",\"v\":7,\"id\":\"w:2:9\",\"op\":[\"hi\"]}");
    const lg_msg *pm = get(frame);
    /* the receive buffer is reused for the next frame */
    memset(frame, 'x', sizeof frame - 1);
    cr_assert(lg_json_str_eq(&pm->m.doc, "d", 1));
    cr_assert(lg_json_str_eq(&pm->m.id, "w:2:9", 5));
    cr_assert(pm->op != NULL);
    ot_buf j;
    ot_buf_init(&j);
    cr_assert_eq(ot_op_to_json(pm->op, &j), 0);
    cr_assert_eq(j.len, 6);
    cr_assert_arr_eq(j.data, "[\"hi\"]", 6);
    ot_buf_free(&j);
}

Test(bench_msgcache, bad_frames_and_ops_are_reported_as_before) {
    const lg_msg *pm = NULL;
    cr_assert_eq(lg_msgcache_get(&mc, "not json", 8, &pm), LG_CLIENT_ERR_BAD_MESSAGE);
    cr_assert_eq(lg_msgcache_get(&mc, "", 0, &pm), LG_CLIENT_ERR_BAD_MESSAGE);
    /* an op that does not parse is kept as such: every client fails on it */
    ot_buf out;
    ot_buf_init(&out);
    lg_client c;
    open_client(&c, "a", &out);
    pm = get("{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"w:1:1\",\"op\":[0]}");
    cr_assert_null(pm->op);
    lg_event ev;
    cr_assert_eq(lg_client_on_msg(&c, pm, 0, &ev, &out), LG_CLIENT_ERR_BAD_OP);
    cr_assert_eq(c.phase, LG_PHASE_FAILED);
    lg_client_free(&c);
    ot_buf_free(&out);
}

Test(bench_msgcache, a_large_broadcast_is_parsed_per_client) {
    static char big[LG_MSGCACHE_MAX_FRAME_BYTES + 256];
    int n = snprintf(big, sizeof big, "{\"type\":\"op\",\"doc\":\"d\",\"v\":0,\"id\":\"w:1:1\",\"op\":[\"");
    memset(big + n, 'z', LG_MSGCACHE_MAX_FRAME_BYTES);
    n += LG_MSGCACHE_MAX_FRAME_BYTES;
    n += snprintf(big + n, sizeof big - (size_t)n, "\"]}");
    const lg_msg *pm = NULL;
    cr_assert_eq(lg_msgcache_get(&mc, big, (size_t)n, &pm), 0);
    cr_assert_not_null(pm->op);
    ot_buf j;
    ot_buf_init(&j);
    cr_assert_eq(ot_op_to_json(pm->op, &j), 0);
    cr_assert_eq(j.len, LG_MSGCACHE_MAX_FRAME_BYTES + 4);
    ot_buf_free(&j);
    cr_assert_eq(mc.uncached, 1);
    cr_assert_eq(mc.misses, 0);
}
