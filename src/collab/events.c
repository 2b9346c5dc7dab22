#include "collab/events.h"

#include "collab/rest_call.h"
#include "collab/rest_route.h"
#include "http/path.h"
#include "proto/protocol_rest.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct events_stream {
    session_worker *sw;
    const events_sink_ops *ops;
    void *ctx;
    rest_target t;
    auth_claims claims;
    uint64_t key;                   /* the waiter subscribed on the owner; 0 once over */
    bool started;
    ot_buf scratch;
};

bool events_matches(const http_request *req) {
    static const char prefix[] = "/api/docs/";
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0) return false;
    size_t n = 0;
    while (n < req->target_len && req->target[n] != '?' && req->target[n] != '#') n++;
    return n > sizeof prefix - 1 + 7 && memcmp(req->target, prefix, sizeof prefix - 1) == 0 &&
           memcmp(req->target + n - 7, "/events", 7) == 0;
}

/* The top-level "type" of a message the server wrote (always its first member). */
static size_t type_of(const char *json, size_t len, const char **type) {
    static const char head[] = "{\"type\":\"";
    if (len < sizeof head || memcmp(json, head, sizeof head - 1) != 0) return 0;
    const char *t = json + sizeof head - 1;
    const char *end = memchr(t, '"', len - (sizeof head - 1));
    if (end == NULL) return 0;
    *type = t;
    return (size_t)(end - t);
}

/* The top-level "v" of an op or snapshot: it precedes any text, and a
 * document name holds no quote, so the first ,"v": is it. */
static bool version_of(const char *json, size_t len, uint64_t *v) {
    static const char key[] = ",\"v\":";
    for (size_t i = 0; i + sizeof key - 1 < len; i++) {
        if (memcmp(json + i, key, sizeof key - 1) != 0) continue;
        char *end = NULL;
        *v = strtoull(json + i + sizeof key - 1, &end, 10);
        return end != json + i + sizeof key - 1;
    }
    return false;
}

int events_format(ot_buf *out, const char *json, size_t len) {
    const char *type = "message";
    size_t type_len = type_of(json, len, &type);
    if (type_len == 0) type_len = strlen(type);
    char id[40] = "";
    uint64_t v = 0;
    bool is_op = type_len == 2 && memcmp(type, "op", 2) == 0;
    bool is_snapshot = type_len == 8 && memcmp(type, "snapshot", 8) == 0;
    /* an op's id is its version; a snapshot at v stands for the ops before v */
    if (is_op && version_of(json, len, &v)) snprintf(id, sizeof id, "id: %llu\n", (unsigned long long)v);
    if (is_snapshot && version_of(json, len, &v) && v > 0)
        snprintf(id, sizeof id, "id: %llu\n", (unsigned long long)(v - 1));
    int rc = ot_buf_append(out, "event: ", 7);
    if (rc == 0) rc = ot_buf_append(out, type, type_len);
    if (rc == 0) rc = ot_buf_append(out, "\n", 1);
    if (rc == 0) rc = ot_buf_append(out, id, strlen(id));
    if (rc == 0) rc = ot_buf_append(out, "data: ", 6);
    if (rc == 0) rc = ot_buf_append(out, json, len);
    if (rc == 0) rc = ot_buf_append(out, "\n\n", 2);
    return rc == 0 ? 0 : -ENOMEM;
}

static docs_request *request(events_stream *e, uint32_t kind) {
    docs_request *r = docs_request_new(kind, e->sw->self);
    if (r == NULL) return NULL;
    r->key = e->key;
    memcpy(r->doc, e->t.doc, e->t.doc_len + 1);
    r->doc_len = e->t.doc_len;
    r->rest = true;   /* an open that never creates the document */
    return r;
}

/* No more frames: the owner forgets the subscription, the waiter goes. */
static void unsubscribe(events_stream *e) {
    if (e->key == 0) return;
    docs_request *r = request(e, DOCS_REQ_CLOSE);
    if (r != NULL && session_route(e->sw, r) != 0) r = NULL;
    (void)r;   /* a lost close leaves a subscriber whose frames miss a stale key */
    session_waiter_remove(e->sw, e->key);
    e->key = 0;
}

static bool send_event(events_stream *e, const char *json, size_t len) {
    ot_buf_clear(&e->scratch);
    return events_format(&e->scratch, json, len) == 0 && e->ops->send(e->ctx, e->scratch.data, e->scratch.len) == 0;
}

/* An error once streaming (not_open after a delete, internal after a loss):
 * its last event is the error message a session would get, then the end. */
static void end_with_error(events_stream *e, const proto_rest_answer *a) {
    ot_buf frame;
    ot_buf_init(&frame);
    int code = proto_err_from_code_str(a->code.ptr, a->code.len);
    if (proto_enc_error(&frame, code != PROTO_OK ? code : PROTO_ERR_INTERNAL, a->message, a->doc) == 0)
        send_event(e, frame.data, frame.len);
    ot_buf_free(&frame);
    e->ops->end(e->ctx);
}

/* A typed answer from the owner (the stream's key is typed: every error is
 * one): before any event the stream is refused with the code's status
 * (404, 410, ...); once streaming, it ends with the error as its last event. */
static void on_answer(events_stream *e, const proto_rest_answer *a) {
    unsubscribe(e);
    if (e->started) {
        if (a->kind == PROTO_REST_ERROR) end_with_error(e, a);
        else e->ops->end(e->ctx);
        return;
    }
    char code[64], message[256];
    snprintf(code, sizeof code, "%.*s", (int)a->code.len, a->code.ptr != NULL ? a->code.ptr : "internal");
    snprintf(message, sizeof message, "%.*s", (int)a->message.len, a->message.ptr != NULL ? a->message.ptr : "");
    e->ops->refuse(e->ctx, code, message);
}

static bool on_frame(void *ctx, rbuf *frame) {
    events_stream *e = ctx;
    const char *js;
    size_t len;
    proto_rest_answer typed;
    if (proto_rest_answer_unpack(frame, &typed) == 0) {
        on_answer(e, &typed);
        return false;   /* the waiter is already removed */
    }
    /* a frame is the document's news (snapshot, op, presence, leave, synced) */
    if (fanout_frame_payload(frame, &js, &len) != 0) return false;
    if (!e->started) {
        e->started = true;
        e->ops->start(e->ctx);
    }
    if (!send_event(e, js, len)) {
        /* a gap would follow: end here, the reader resumes with Last-Event-ID */
        unsubscribe(e);
        e->ops->end(e->ctx);
    }
    return false;
}

events_stream *events_open(session_worker *sw, const http_request *req, const events_sink_ops *ops, void *ctx) {
    events_stream *e = calloc(1, sizeof *e);
    if (e == NULL) return NULL;
    e->sw = sw;
    e->ops = ops;
    e->ctx = ctx;
    ot_buf_init(&e->scratch);
    rest_rules rules;
    rest_call_rules(sw, &rules);
    rest_refusal why;
    if (rest_route_parse(req, &rules, &e->t, &e->claims, &why) != 0) {
        ops->refuse(ctx, why.code, why.message);
        return e;
    }
    if (e->t.route != REST_EVENTS) {
        ops->refuse(ctx, "not_found", "not an event stream route");
        return e;
    }
    e->key = session_waiter_add_typed(sw, on_frame, e);
    docs_request *r = e->key != 0 ? request(e, DOCS_REQ_OPEN) : NULL;
    if (r == NULL) {
        if (e->key != 0) session_waiter_remove(sw, e->key);
        e->key = 0;
        ops->refuse(ctx, "internal", "out of memory");
        return e;
    }
    r->has_v = e->t.has_from;
    r->v = e->t.v;
    snprintf(r->session, sizeof r->session, "e%u-%llx", sw->self, (unsigned long long)(e->key & ~FANOUT_KEY_TYPED & 0xFFFFFFFFFFull));
    snprintf(r->by, sizeof r->by, "%s", sw->auth_on ? e->claims.sub : "events");
    if (session_route(sw, r) != 0) {
        session_waiter_remove(sw, e->key);
        e->key = 0;
        ops->refuse(ctx, "internal", "the document owner is busy");
    }
    return e;
}

void events_close(events_stream *e) {
    if (e == NULL) return;
    unsubscribe(e);
    ot_buf_free(&e->scratch);
    free(e);
}
