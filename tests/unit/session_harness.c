#include "session_harness.h"

#include "collab/fanout.h"
#include "proto/auth.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the recording sink ---------------------------------------------------------- */

static int rec_send(void *ctx, rbuf *frame) {
    rec_sink *r = ctx;
    if (r->closed) {
        r->sent_after_close++;
        return -1;
    }
    const char *js;
    size_t len;
    cr_assert_eq(fanout_frame_payload(frame, &js, &len), 0, "a session sends text frames");
    cr_assert_lt(r->count, HARNESS_MAX_FRAMES);
    r->frames[r->count] = strndup(js, len);
    cr_assert_not_null(r->frames[r->count]);
    r->count++;
    return 0;
}

static void rec_close(void *ctx, uint16_t code, const char *reason) {
    rec_sink *r = ctx;
    if (r->closed) return;
    r->closed = true;
    r->close_code = code;
    snprintf(r->close_reason, sizeof r->close_reason, "%s", reason);
}

static const session_sink_ops rec_ops = {.send = rec_send, .close = rec_close};

void rec_sink_free(rec_sink *r) {
    for (int i = 0; i < r->count; i++) free(r->frames[i]);
    memset(r, 0, sizeof *r);
}

const char *harness_next(rec_sink *r) { return r->seen < r->count ? r->frames[r->seen++] : NULL; }

void harness_expect(rec_sink *r, const char *json) {
    const char *got = harness_next(r);
    cr_assert_not_null(got, "expected %s, nothing more was sent", json);
    cr_assert_str_eq(got, json);
}

void harness_expect_error(rec_sink *r, const char *code, const char *ref) {
    const char *got = harness_next(r);
    cr_assert_not_null(got, "expected error %s, nothing more was sent", code);
    char head[160];
    snprintf(head, sizeof head, "{\"type\":\"error\",\"code\":\"%s\",\"message\":\"", code);
    cr_assert_eq(strncmp(got, head, strlen(head)), 0, "expected error %s: %s", code, got);
    char tail[200];
    if (ref != NULL) snprintf(tail, sizeof tail, "\",\"ref\":\"%s\"}", ref);
    else snprintf(tail, sizeof tail, "\"}");
    size_t gl = strlen(got), tl = strlen(tail);
    cr_assert(gl > tl && strcmp(got + gl - tl, tail) == 0, "expected ref %s: %s", ref != NULL ? ref : "(none)", got);
    if (ref == NULL) cr_assert_null(strstr(got, "\"ref\":"), "no ref expected: %s", got);
}

void harness_expect_none(rec_sink *r) {
    const char *got = harness_next(r);
    cr_assert_null(got, "nothing more expected, got %s", got);
}

/* ---- the worker ------------------------------------------------------------------- */

static void layer_start(harness *h) {
    memset(&h->w, 0, sizeof h->w);
    memset(&h->m, 0, sizeof h->m);
    h->shared.cfg = &h->cfg;
    h->shared.count_workers = 1;
    h->shared.targets = h->targets;
    h->w.id = 0;
    h->w.cfg = &h->cfg;
    h->w.shared = &h->shared;
    h->w.m = &h->m;
    h->w.now_ms = 1000000;
    cr_assert_eq(io_uring_queue_init(64, &h->w.ring, 0), 0);
    h->targets[0].ring_fd = h->w.ring.ring_fd;
    cr_assert_eq(session_worker_init_with(&h->w, false), 0);
    h->sw = session_worker_of(&h->w);
}

static void run_hooks(harness *h, const worker_hooks *hooks) {
    for (uint32_t i = 0; i < hooks->count; i++) hooks->fn[i](&h->w);
}

void harness_tick(harness *h) {
    run_hooks(h, &h->w.on_tick);
    harness_pump(h);
}

static void layer_stop(harness *h) {
    harness_pump(h);
    run_hooks(h, &h->w.on_exit);
    cr_assert_null(h->w.app, "the exit hook freed the session layer");
    io_uring_queue_exit(&h->w.ring);
    h->sw = NULL;
}

void harness_start(harness *h, void (*tune)(config *cfg)) {
    memset(h, 0, sizeof *h);
    cr_assert_eq(nameset_init(&h->shared.doc_names), 0);
    strcpy(h->dir, "/tmp/ringpad-session-XXXXXX");
    cr_assert_not_null(mkdtemp(h->dir));
    config_defaults(&h->cfg);
    snprintf(h->cfg.data_dir, sizeof h->cfg.data_dir, "%s", h->dir);
    if (tune != NULL) tune(&h->cfg);
    layer_start(h);
}

void harness_stop(harness *h) {
    layer_stop(h);
    nameset_free(&h->shared.doc_names);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", h->dir);
    cr_assert_eq(system(cmd), 0);
}

void harness_restart(harness *h) {
    layer_stop(h);
    layer_start(h);
}

struct session *harness_open(harness *h, rec_sink *r) {
    struct session *s = session_open(h->sw, (session_sink){.ops = &rec_ops, .ctx = r});
    cr_assert_not_null(s);
    return s;
}

void harness_close(harness *h, struct session *s) {
    session_close(s);
    harness_pump(h);
}

void harness_end(harness *h, struct session *s, rec_sink *r) {
    harness_close(h, s);
    rec_sink_free(r);
}

void harness_send(harness *h, struct session *s, const char *json) {
    session_on_text(s, (const uint8_t *)json, strlen(json));
    harness_pump(h);
}

/* Bounded: every round either finishes a flush or finds nothing to do. */
void harness_pump(harness *h) {
    for (int round = 0; round < 1000; round++) {
        run_hooks(h, &h->w.before_sleep);
        int inflight = io_uring_submit(&h->w.ring);
        cr_assert_geq(inflight, 0);
        if (inflight == 0 && h->sw->local_head == NULL) return;
        while (inflight > 0) {
            struct io_uring_cqe *cqe = NULL;
            cr_assert_eq(io_uring_wait_cqe(&h->w.ring, &cqe), 0);
            /* only log flushes are submitted here: their records route them to the documents */
            worker_dispatch(&h->w, cqe);
            io_uring_cqe_seen(&h->w.ring, cqe);
            inflight--;
        }
    }
    cr_assert_fail("the session layer never went quiet");
}

void harness_token(const char *secret, const char *sub, const char *const *grants, int64_t exp_offset_s,
                   char *out, size_t cap) {
    auth_secret sec;
    cr_assert_eq(auth_secret_set(&sec, secret, strlen(secret)), AUTH_OK);
    auth_claims c;
    auth_claims_init(&c);
    snprintf(c.sub, sizeof c.sub, "%s", sub);
    c.exp_s = (int64_t)time(NULL) + exp_offset_s;
    for (size_t i = 0; grants != NULL && grants[i] != NULL; i++)
        cr_assert_eq(auth_claims_add_grant_spec(&c, grants[i]), AUTH_OK);
    size_t len = 0;
    cr_assert_eq(auth_sign(&sec, &c, out, cap, &len), AUTH_OK);
}
