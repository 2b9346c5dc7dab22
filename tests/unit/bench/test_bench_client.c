/* bench_client: the load generator's ringpad.v1 client state machine and its
 * convergence check, on canned message sequences (PROTOCOL.md §9, §10, §14)
 * and on a seeded simulation against the server's own codec and OT document. */
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "json.h"
#include "proto/protocol.h"

static lg_client *new_client(const char *doc, const char *prefix) {
    lg_client *c = malloc(sizeof *c);
    cr_assert_eq(lg_client_init(c, doc, prefix), 0);
    return c;
}

static void drop_client(lg_client *c) {
    lg_client_free(c);
    free(c);
}

/* Feeds one server message; returns lg_client_on_message's result. */
static int feed(lg_client *c, const char *json, uint64_t now, lg_event *ev, ot_buf *out) {
    return lg_client_on_message(c, json, strlen(json), now, ev, out);
}

static void open_with(lg_client *c, const char *snapshot, ot_buf *out) {
    lg_event ev;
    cr_assert_eq(lg_client_write_hello(c, out), 0);
    cr_assert_eq(lg_client_write_open(c, out), 0);
    cr_assert_eq(c->phase, LG_PHASE_OPENING);
    cr_assert_eq(feed(c, snapshot, 0, &ev, out), 0);
    cr_assert_eq(ev.kind, LG_EV_SNAPSHOT);
    cr_assert_eq(c->phase, LG_PHASE_LIVE);
}

static void text_is(const lg_client *c, const char *want) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_text_to_buf(c->text, &b), 0);
    cr_assert_eq(b.len, strlen(want), "text '%.*s' want '%s'", (int)b.len, b.data ? b.data : "", want);
    if (b.len) cr_assert_arr_eq(b.data, want, b.len);
    cr_assert(lg_client_text_equals(c, want, strlen(want)));
    ot_buf_free(&b);
}

static void edit(lg_client *c, const char *op_json, uint64_t now, int want_rc, ot_buf *out) {
    ot_op e;
    ot_op_init(&e);
    cr_assert_eq(ot_op_parse_json(&e, op_json, strlen(op_json), NULL, NULL), 0);
    cr_assert_eq(lg_client_local_edit(c, &e, now, out), want_rc);
    ot_op_free(&e);
}

/* The sent message decoded by the server's own decoder. */
static void sent_is(const ot_buf *out, const char *doc, uint64_t v, const char *op_json) {
    proto_limits lim = proto_limits_default();
    proto_msg *m = malloc(sizeof *m);
    proto_msg_init(m);
    cr_assert_eq(proto_decode(&lim, out->data, out->len, m), 0, "%s", m->err_message);
    cr_assert_eq(m->type, PROTO_OP);
    cr_assert_str_eq(m->doc, doc);
    cr_assert_eq(m->v, v);
    ot_op want;
    ot_op_init(&want);
    cr_assert_eq(ot_op_parse_json(&want, op_json, strlen(op_json), NULL, NULL), 0);
    cr_assert(ot_op_equal(&m->op, &want), "op differs from %s", op_json);
    ot_op_free(&want);
    proto_msg_free(m);
    free(m);
}

Test(bench_client, hello_and_open_decode_on_the_server) {
    lg_client *c = new_client("notes/today", "t0c1");
    ot_buf out;
    ot_buf_init(&out);
    proto_limits lim = proto_limits_default();
    proto_msg *m = malloc(sizeof *m);
    proto_msg_init(m);
    cr_assert_eq(lg_client_write_hello(c, &out), 0);
    cr_assert_eq(proto_decode(&lim, out.data, out.len, m), 0);
    cr_assert_eq(m->type, PROTO_HELLO);
    cr_assert_eq(lg_client_write_open(c, &out), 0);
    cr_assert_eq(proto_decode(&lim, out.data, out.len, m), 0);
    cr_assert_eq(m->type, PROTO_OPEN);
    cr_assert_str_eq(m->doc, "notes/today");
    cr_assert_not(m->has_v);
    proto_msg_free(m);
    free(m);
    ot_buf_free(&out);
    drop_client(c);
}

/* Bob in PROTOCOL.md §14: concurrent edits of version 1. */
Test(bench_client, transcript_concurrent_edit) {
    lg_client *b = new_client("notes/today", "b2c9");
    ot_buf out;
    ot_buf_init(&out);
    lg_event ev;
    open_with(b, "{\"type\":\"snapshot\",\"doc\":\"notes/today\",\"v\":1,\"text\":\"Hello\",\"peers\":"
                 "[{\"session\":\"s1\",\"name\":\"Alice\",\"color\":\"#e91e63\",\"sel\":[]}]}", &out);
    cr_assert_eq(b->server_v, 1);
    edit(b, "[\"Oh! \",5]", 100, 1, &out);
    sent_is(&out, "notes/today", 1, "[\"Oh! \",5]");
    cr_assert_not(lg_client_synchronized(b));
    /* presence is ignored */
    cr_assert_eq(feed(b, "{\"type\":\"presence\",\"doc\":\"notes/today\",\"session\":\"s1\",\"name\":\"Alice\","
                         "\"color\":\"#e91e63\",\"v\":1,\"sel\":[[5,5]]}", 150, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_NONE);
    cr_assert_eq(feed(b, "{\"type\":\"op\",\"doc\":\"notes/today\",\"v\":1,\"id\":\"a7f3:2\",\"op\":[5,\" world\"],"
                         "\"by\":\"alice\"}", 200, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_REMOTE_OP);
    cr_assert_not(ev.has_latency, "a foreign id carries no timestamp");
    text_is(b, "Oh! Hello world");
    cr_assert_eq(b->server_v, 2);
    char ack[160];
    snprintf(ack, sizeof ack, "{\"type\":\"ack\",\"doc\":\"notes/today\",\"id\":\"%s\",\"v\":2}", b->out_id);
    cr_assert_eq(feed(b, ack, 700, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_ACK);
    cr_assert(ev.has_latency);
    cr_assert_eq(ev.latency_us, 600);
    cr_assert_eq(b->server_v, 3);
    cr_assert(lg_client_synchronized(b));
    /* the same ack again is stale and ignored */
    cr_assert_eq(feed(b, ack, 800, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_NONE);
    cr_assert_eq(b->server_v, 3);
    ot_buf_free(&out);
    drop_client(b);
}

/* AwaitingWithBuffer: edits compose into one buffer sent after the ack, with
 * both outstanding and buffer transformed through a remote op. */
Test(bench_client, buffer_composes_and_is_sent_after_ack) {
    lg_client *c = new_client("d", "me");
    ot_buf out;
    ot_buf_init(&out);
    lg_event ev;
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":5,\"text\":\"abc\",\"peers\":[]}", &out);
    edit(c, "[1,\"X\",2]", 10, 1, &out);             /* aXbc, outstanding */
    char first_id[LG_CLIENT_MAX_ID_BYTES + 1];
    memcpy(first_id, c->out_id, c->out_id_len + 1);
    cr_assert_str_eq(first_id, "me:1:10");
    edit(c, "[4,\"!\"]", 20, 0, &out);               /* aXbc! buffered */
    edit(c, "[\"<\",5]", 30, 0, &out);               /* <aXbc! composed */
    text_is(c, "<aXbc!");
    /* a remote insert at the same position as ours: ours stays left (tie-break) */
    cr_assert_eq(feed(c, "{\"type\":\"op\",\"doc\":\"d\",\"v\":5,\"id\":\"other:7:3\",\"op\":[1,\"Y\",2],\"by\":\"o\"}",
                      40, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_REMOTE_OP);
    cr_assert(ev.has_latency);
    cr_assert_eq(ev.latency_us, 37);                 /* 40 - t0 3 from the id */
    text_is(c, "<aXYbc!");
    cr_assert_eq(c->server_v, 6);
    cr_assert_eq(feed(c, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"me:1:10\",\"v\":6}", 50, &ev, &out), 1);
    cr_assert_eq(ev.kind, LG_EV_ACK);
    cr_assert_eq(ev.latency_us, 40);
    cr_assert_eq(c->server_v, 7);
    /* the buffer went out on top of v 7 = aXYbc: "<" at 0 and "!" at the end */
    sent_is(&out, "d", 7, "[\"<\",5,\"!\"]");
    cr_assert_str_eq(c->out_id, "me:2:20");          /* t0 = the buffer's first edit */
    cr_assert_eq(feed(c, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"me:2:20\",\"v\":7}", 60, &ev, &out), 0);
    cr_assert(lg_client_synchronized(c));
    cr_assert_eq(c->server_v, 8);
    ot_buf_free(&out);
    drop_client(c);
}

/* §10: in a catch-up, our own op id arriving as an op is its ack. */
Test(bench_client, own_op_in_catch_up_is_the_ack) {
    lg_client *c = new_client("d", "me");
    ot_buf out;
    ot_buf_init(&out);
    lg_event ev;
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":3,\"text\":\"Oh! Hello world\",\"peers\":[]}", &out);
    edit(c, "[15,\"!\"]", 1, 1, &out);
    cr_assert_eq(feed(c, "{\"type\":\"op\",\"doc\":\"d\",\"v\":3,\"id\":\"me:1:1\",\"op\":[15,\"!\"],\"by\":\"bob\"}",
                      9, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_ACK);
    text_is(c, "Oh! Hello world!");                  /* not applied twice */
    cr_assert_eq(c->server_v, 4);
    cr_assert(lg_client_synchronized(c));
    ot_buf_free(&out);
    drop_client(c);
}

Test(bench_client, refused_op_fails_the_client) {
    lg_client *c = new_client("d", "me");
    ot_buf out;
    ot_buf_init(&out);
    lg_event ev;
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":0,\"text\":\"\",\"peers\":[]}", &out);
    /* an error about something else is counted but changes nothing */
    cr_assert_eq(feed(c, "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"slow down\",\"ref\":\"d\"}", 1,
                      &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_ERROR);
    cr_assert_eq(ev.code_len, strlen("rate_limited"));
    cr_assert_arr_eq(ev.code, "rate_limited", ev.code_len);
    cr_assert_not(ev.about_outstanding);
    cr_assert_eq(c->phase, LG_PHASE_LIVE);
    edit(c, "[\"x\"]", 2, 1, &out);
    cr_assert_eq(feed(c, "{\"type\":\"error\",\"code\":\"bad_op\",\"message\":\"no\",\"ref\":\"me:1:2\"}", 3, &ev, &out), 0);
    cr_assert(ev.about_outstanding);
    cr_assert_eq(c->phase, LG_PHASE_FAILED);
    edit(c, "[1,\"y\"]", 4, LG_CLIENT_ERR_NOT_LIVE, &out);
    ot_buf_free(&out);
    drop_client(c);
}

Test(bench_client, broken_streams_are_errors) {
    ot_buf out;
    ot_buf_init(&out);
    lg_event ev;
    lg_client *c = new_client("d", "me");
    cr_assert_eq(feed(c, "not json", 0, &ev, &out), LG_CLIENT_ERR_BAD_MESSAGE);
    cr_assert_eq(feed(c, "{\"type\":1}", 0, &ev, &out), LG_CLIENT_ERR_BAD_MESSAGE);
    cr_assert_eq(feed(c, "{\"type\":\"op\"", 0, &ev, &out), LG_CLIENT_ERR_BAD_MESSAGE);
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":2,\"text\":\"ab\",\"peers\":[]}", &out);
    /* other documents are not ours */
    cr_assert_eq(feed(c, "{\"type\":\"op\",\"doc\":\"e\",\"v\":9,\"id\":\"o:1:1\",\"op\":[\"z\"],\"by\":\"o\"}", 0, &ev, &out), 0);
    cr_assert_eq(ev.kind, LG_EV_NONE);
    /* a gap in versions */
    cr_assert_eq(feed(c, "{\"type\":\"op\",\"doc\":\"d\",\"v\":3,\"id\":\"o:1:1\",\"op\":[2,\"z\"],\"by\":\"o\"}", 0, &ev, &out),
                 LG_CLIENT_ERR_VERSION_GAP);
    cr_assert_eq(c->phase, LG_PHASE_FAILED);
    drop_client(c);
    /* an op that does not fit the text */
    c = new_client("d", "me");
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":2,\"text\":\"ab\",\"peers\":[]}", &out);
    cr_assert_eq(feed(c, "{\"type\":\"op\",\"doc\":\"d\",\"v\":2,\"id\":\"o:1:1\",\"op\":[5,\"z\"],\"by\":\"o\"}", 0, &ev, &out),
                 LG_CLIENT_ERR_BAD_OP);
    drop_client(c);
    /* a string v */
    c = new_client("d", "me");
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":0,\"text\":\"\",\"peers\":[]}", &out);
    cr_assert_eq(feed(c, "{\"type\":\"ack\",\"doc\":\"d\",\"id\":\"x\",\"v\":\"1\"}", 0, &ev, &out), LG_CLIENT_ERR_BAD_MESSAGE);
    drop_client(c);
    ot_buf_free(&out);
}

Test(bench_client, snapshot_text_escapes) {
    lg_client *c = new_client("d", "me");
    ot_buf out;
    ot_buf_init(&out);
    open_with(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":4,\"text\":\"h\\u00e9\\\"\\n\\ud83d\\ude00\\\\/\",\"peers\":[]}",
              &out);
    text_is(c, "h\xc3\xa9\"\n\xf0\x9f\x98\x80\\/");
    cr_assert_eq(lg_client_len(c), 7);
    ot_buf_free(&out);
    drop_client(c);
    /* a lone surrogate is refused */
    c = new_client("d", "me");
    lg_event ev;
    lg_client_write_open(c, &out);
    cr_assert_eq(feed(c, "{\"type\":\"snapshot\",\"doc\":\"d\",\"v\":0,\"text\":\"\\ud800\",\"peers\":[]}", 0, &ev, &out),
                 LG_CLIENT_ERR_BAD_MESSAGE);
    ot_buf_free(&out);
    drop_client(c);
}

Test(bench_client, random_edits_span_the_document) {
    uint64_t rng = 42;
    ot_op e;
    ot_op_init(&e);
    ot_text *t = ot_text_new();
    int deletes = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t len = ot_text_len_codepoints(t);
        cr_assert_eq(lg_edit_random(&rng, len, 1 + (uint32_t)(i % 8), 200, &e), 0);
        cr_assert_eq(e.base_len_codepoints, len);
        if (e.target_len_codepoints < len) deletes++;
        cr_assert_eq(ot_apply(&e, t), 0);
    }
    cr_assert_gt(deletes, 0);
    cr_assert_leq(ot_text_len_codepoints(t), 400, "length hovers near the target");
    ot_text_free(t);
    ot_op_free(&e);
}

/* ---- a seeded simulation: clients vs the server's own decoder and document ---- */

#define SIM_CLIENTS 4
#define SIM_QUEUE 512

typedef struct sim_queue {
    char *msg[SIM_QUEUE];
    int head, tail;
} sim_queue;

static void q_push(sim_queue *q, const char *s, size_t len) {
    cr_assert_lt(q->tail, SIM_QUEUE);
    q->msg[q->tail] = strndup(s, len);
    q->tail++;
}

static char *q_pop(sim_queue *q) {
    if (q->head == q->tail) return NULL;
    char *m = q->msg[q->head++];
    if (q->head == q->tail) q->head = q->tail = 0;   /* empty again: reuse the slots */
    return m;
}

typedef struct sim {
    ot_doc *doc;
    lg_client *c[SIM_CLIENTS];
    sim_queue up[SIM_CLIENTS];    /* client -> server */
    sim_queue down[SIM_CLIENTS];  /* server -> client */
    proto_msg *m;
    ot_buf buf;
} sim;

/* The server takes the next message of client i, as ringpad does: submit,
 * ack to the author, the transformed op to everyone else. */
static void server_step(sim *s, int i) {
    char *raw = q_pop(&s->up[i]);
    if (raw == NULL) return;
    proto_limits lim = proto_limits_default();
    cr_assert_eq(proto_decode(&lim, raw, strlen(raw), s->m), 0, "%s", s->m->err_message);
    cr_assert_eq(s->m->type, PROTO_OP);
    ot_submit_result r;
    ot_op_init(&r.op);
    cr_assert_eq(ot_doc_submit(s->doc, s->m->v, &s->m->op, s->m->id, s->m->id_len, "u", 1, 0, &r), 0);
    proto_str d = proto_cstr("sim"), id = {s->m->id, s->m->id_len};
    ot_buf_clear(&s->buf);
    cr_assert_eq(proto_enc_ack(&s->buf, d, id, r.applied_at_version), 0);
    q_push(&s->down[i], s->buf.data, s->buf.len);
    ot_buf_clear(&s->buf);
    cr_assert_eq(proto_enc_op(&s->buf, d, r.applied_at_version, id, &r.op, proto_cstr("u")), 0);
    for (int j = 0; j < SIM_CLIENTS; j++)
        if (j != i) q_push(&s->down[j], s->buf.data, s->buf.len);
    ot_op_free(&r.op);
    free(raw);
}

static void client_step(sim *s, int i, uint64_t now, bool lenient) {
    char *raw = q_pop(&s->down[i]);
    if (raw == NULL) return;
    lg_event ev;
    int rc = lg_client_on_message(s->c[i], raw, strlen(raw), now, &ev, &s->buf);
    if (!lenient) cr_assert_geq(rc, 0, "%s", lg_client_err_str(rc));
    if (rc == 1) q_push(&s->up[i], s->buf.data, s->buf.len);
    free(raw);
}

static void run_sim(uint64_t seed, bool drop_one_delivery, int *diverged) {
    sim s;
    memset(&s, 0, sizeof s);
    s.doc = ot_doc_new(NULL, 0, "", 0);
    s.m = malloc(sizeof *s.m);
    proto_msg_init(s.m);
    ot_buf_init(&s.buf);
    uint64_t rng = seed;
    ot_op e;
    ot_op_init(&e);
    for (int i = 0; i < SIM_CLIENTS; i++) {
        char prefix[16];
        snprintf(prefix, sizeof prefix, "c%d", i);
        s.c[i] = new_client("sim", prefix);
        lg_client_write_open(s.c[i], &s.buf);
        lg_event ev;
        cr_assert_eq(feed(s.c[i], "{\"type\":\"snapshot\",\"doc\":\"sim\",\"v\":0,\"text\":\"\",\"peers\":[]}", 0, &ev, &s.buf), 0);
    }
    bool dropped = false;
    for (int step = 0; step < 3000; step++) {
        int i = (int)(lg_rand(&rng) % SIM_CLIENTS);
        switch (lg_rand(&rng) % 3) {
        case 0:
            if (s.c[i]->phase != LG_PHASE_LIVE) break;
            if (s.up[i].tail > SIM_QUEUE - 8 || s.down[i].tail > SIM_QUEUE - 8 * SIM_CLIENTS) break;
            cr_assert_eq(lg_edit_random(&rng, lg_client_len(s.c[i]), 3, 30, &e), 0);
            int rc = lg_client_local_edit(s.c[i], &e, (uint64_t)step, &s.buf);
            cr_assert_geq(rc, 0);
            if (rc == 1) q_push(&s.up[i], s.buf.data, s.buf.len);
            break;
        case 1: server_step(&s, i); break;
        default:
            if (drop_one_delivery && !dropped && i == 1 && s.down[1].head < s.down[1].tail) {
                /* lose one message on its way to client 1 */
                if (strstr(s.down[1].msg[s.down[1].head], "\"type\":\"op\"") != NULL) {
                    free(q_pop(&s.down[1]));
                    dropped = true;
                    break;
                }
            }
            client_step(&s, i, (uint64_t)step, drop_one_delivery);
            break;
        }
    }
    /* drain: the server takes everything, every client reads everything */
    for (int round = 0; round < 100; round++) {
        bool busy = false;
        for (int i = 0; i < SIM_CLIENTS; i++) {
            while (s.up[i].head < s.up[i].tail) server_step(&s, i), busy = true;
            while (s.down[i].head < s.down[i].tail) {
                if (drop_one_delivery && i == 1 && s.c[1]->phase == LG_PHASE_FAILED) {
                    free(q_pop(&s.down[1]));
                    continue;
                }
                char *raw = q_pop(&s.down[i]);
                lg_event ev;
                int rc = lg_client_on_message(s.c[i], raw, strlen(raw), 0, &ev, &s.buf);
                if (rc == 1) q_push(&s.up[i], s.buf.data, s.buf.len);
                if (!drop_one_delivery) cr_assert_geq(rc, 0);
                free(raw);
                busy = true;
            }
        }
        if (!busy) break;
    }
    if (drop_one_delivery) cr_assert(dropped);
    /* the convergence check of ringpad-bench: every client equals the server */
    ot_buf text;
    ot_buf_init(&text);
    cr_assert_eq(ot_text_to_buf(ot_doc_text(s.doc), &text), 0);
    *diverged = 0;
    for (int i = 0; i < SIM_CLIENTS; i++) {
        bool ok = s.c[i]->phase == LG_PHASE_LIVE && lg_client_synchronized(s.c[i]) &&
                  s.c[i]->server_v == ot_doc_version(s.doc) &&
                  lg_client_text_equals(s.c[i], text.data ? text.data : "", text.len);
        if (!ok) (*diverged)++;
    }
    if (!drop_one_delivery) cr_assert_gt(ot_doc_version(s.doc), 50, "the simulation did edit");
    ot_buf_free(&text);
    for (int i = 0; i < SIM_CLIENTS; i++) drop_client(s.c[i]);
    ot_op_free(&e);
    ot_buf_free(&s.buf);
    proto_msg_free(s.m);
    free(s.m);
    ot_doc_free(s.doc);
}

Test(bench_client, simulation_converges) {
    for (uint64_t seed = 1; seed <= 8; seed++) {
        int diverged = -1;
        run_sim(seed * 7919, false, &diverged);
        cr_assert_eq(diverged, 0, "seed %lu", (unsigned long)seed);
    }
}

Test(bench_client, simulation_detects_a_lost_op) {
    int diverged = 0;
    run_sim(4242, true, &diverged);
    cr_assert_eq(diverged, 1, "the client that lost an op is the one reported");
}
