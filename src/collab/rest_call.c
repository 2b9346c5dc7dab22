#include "collab/rest_call.h"
#include "base/clock.h"

#include "collab/docs.h"
#include "collab/rest_route.h"
#include "io/ring.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rest_call {
    session_worker *sw;
    const rest_reply_ops *ops;
    void *ctx;
    rest_target t;                  /* the parsed head */
    uint64_t key;                   /* waiter */
    uint8_t *body;
    size_t body_len;
    size_t body_need;
    bool dispatched;
    bool auth_on;
    auth_claims claims;
    /* listing */
    char **names;
    uint32_t count_names;
    uint32_t answered;
    json_t **answers;
    bool more;
};

rest_call *rest_call_new(session_worker *sw, const rest_reply_ops *ops, void *ctx) {
    rest_call *k = sw != NULL ? calloc(1, sizeof *k) : NULL;
    if (k == NULL) return NULL;
    k->sw = sw;
    k->ops = ops;
    k->ctx = ctx;
    k->auth_on = sw->auth_on;
    return k;
}

static void call_free(rest_call *k) {
    if (k == NULL) return;
    free(k->body);
    for (uint32_t i = 0; i < k->count_names; i++) {
        free(k->names[i]);
        if (k->answers != NULL && k->answers[i] != NULL) json_decref(k->answers[i]);
    }
    free(k->names);
    free(k->answers);
    free(k);
}

static void respond(rest_call *k, int status, const char *json, size_t len) {
    k->ops->respond(k->ctx, status, json, len);
}

static void respond_error(rest_call *k, const char *code, const char *message) {
    ot_buf b;
    ot_buf_init(&b);
    if (proto_enc_rest_error(&b, code, proto_cstr(message)) == 0) respond(k, rest_status_for(code), b.data, b.len);
    else respond(k, 503, REST_OOM_BODY, sizeof REST_OOM_BODY - 1);
    ot_buf_free(&b);
}

/* Ends the call (after its response): the waiter goes, then the caller is told. */
static void finish(rest_call *k) {
    const rest_reply_ops *ops = k->ops;
    void *ctx = k->ctx;
    if (k->key != 0) session_waiter_remove(k->sw, k->key);
    call_free(k);
    ops->done(ctx);
}

static void finish_error(rest_call *k, const char *code, const char *message) {
    respond_error(k, code, message);
    finish(k);
}

/* An allocation of this call failed: counted here, where it happened (a
 * no_memory answer relayed from a document was counted by the document). */
static void finish_no_memory(rest_call *k) {
    metrics_add(&k->sw->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
    finish_error(k, "no_memory", PROTO_NO_MEMORY_MESSAGE);
}

/* ---- answers ---------------------------------------------------------------------- */

static bool list_answer(rest_call *k, json_t *ans) {
    const char *name = json_string_value(json_object_get(ans, "doc"));
    for (uint32_t i = 0; name != NULL && i < k->count_names; i++) {
        if (k->answers[i] == NULL && strcmp(k->names[i], name) == 0) {
            k->answers[i] = json_incref(ans);
            break;
        }
    }
    k->answered++;
    if (k->answered < k->count_names) return false;
    proto_doc_info *infos = calloc(k->count_names, sizeof *infos);
    uint32_t n = 0;
    for (uint32_t i = 0; infos != NULL && i < k->count_names; i++) {
        json_t *a = k->answers[i];
        if (a == NULL || json_object_get(a, "code") != NULL) continue;   /* failed to load: left out */
        infos[n++] = (proto_doc_info){
            .name = proto_cstr(k->names[i]),
            .v = (uint64_t)json_integer_value(json_object_get(a, "v")),
            .codepoints = (uint64_t)json_integer_value(json_object_get(a, "codepoints")),
            .bytes = (uint64_t)json_integer_value(json_object_get(a, "bytes")),
        };
    }
    ot_buf b;
    ot_buf_init(&b);
    proto_str next = k->more ? proto_cstr(k->names[k->count_names - 1]) : (proto_str){NULL, 0};
    if (infos != NULL && proto_enc_rest_list(&b, infos, n, next) == 0) respond(k, 200, b.data, b.len);
    else respond_error(k, "no_memory", PROTO_NO_MEMORY_MESSAGE);
    ot_buf_free(&b);
    free(infos);
    return true;
}

static bool on_answer(void *ctx, rbuf *frame) {
    rest_call *k = ctx;
    const char *js;
    size_t len;
    if (fanout_frame_payload(frame, &js, &len) != 0) {
        finish_error(k, "internal", "bad answer");
        return true;
    }
    json_error_t jerr;
    json_t *ans = json_loadb(js, len, 0, &jerr);
    if (ans == NULL) {
        /* the server's own answer, so the parse can only have failed for memory */
        finish_no_memory(k);
        return true;
    }
    const char *type = json_string_value(json_object_get(ans, "type"));
    bool done = true;
    if (k->t.route == REST_LIST) {
        if (type != NULL && strcmp(type, "error") == 0) {
            json_object_set(ans, "doc", json_null());
        }
        done = list_answer(k, ans);
    } else if (type != NULL && strcmp(type, "error") == 0) {
        const char *code = json_string_value(json_object_get(ans, "code"));
        const char *msg = json_string_value(json_object_get(ans, "message"));
        respond_error(k, code != NULL ? code : "internal", msg != NULL ? msg : "");
    } else {
        respond(k, 200, js, len);
    }
    json_decref(ans);
    if (done) finish(k);
    return done;
}

/* ---- requests ----------------------------------------------------------------------- */

static docs_request *new_req(rest_call *k, uint32_t kind, const char *doc, size_t doc_len) {
    docs_request *r = docs_request_new(kind, k->sw->self);
    if (r == NULL) return NULL;
    r->key = k->key;
    memcpy(r->doc, doc, doc_len);
    r->doc[doc_len] = '\0';
    r->doc_len = doc_len;
    r->has_v = k->t.has_v;
    r->v = k->t.v;
    r->to = k->t.to;
    r->rest = true;
    r->time_ms = clock_wall_ms();
    snprintf(r->by, sizeof r->by, "%s", k->auth_on ? k->claims.sub : "rest");
    return r;
}

static void dispatch_op(rest_call *k) {
    proto_msg *m = &k->sw->msg;
    int rc = proto_decode_op_body(&k->sw->limits, (const char *)k->body, k->body_len, k->t.doc, k->t.doc_len, m);
    if (rc == PROTO_ERR_NO_MEMORY) {
        finish_no_memory(k);
        return;
    }
    if (rc != PROTO_OK) {
        finish_error(k, proto_err_code_str(rc), m->err_message);
        return;
    }
    docs_request *r = new_req(k, DOCS_REQ_OP, k->t.doc, k->t.doc_len);
    if (r == NULL || ot_op_copy(&r->op, &m->op) != OT_OK) {
        if (r != NULL) mailbox_msg_unref(&r->hdr);
        finish_no_memory(k);
        return;
    }
    r->v = m->v;
    memcpy(r->id, m->id, m->id_len);
    r->id_len = m->id_len;
    if (session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

static bool granted(void *ctx, const char *name, size_t len) {
    rest_call *k = ctx;
    return session_role_for(k->sw, &k->claims, name, len) != AUTH_ROLE_NONE;
}

static void dispatch_list(rest_call *k) {
    uint32_t limit = k->t.limit;
    /* names come from the shared index, never a directory scan per page */
    if (session_worker_fill_names(k->sw) != 0) {
        finish_error(k, "storage_unavailable", "the data dir cannot be listed");
        return;
    }
    k->names = calloc(limit, sizeof *k->names);
    k->answers = calloc(limit, sizeof *k->answers);
    int n = k->names != NULL ? nameset_page(k->sw->names, k->t.after, limit, granted, k, k->names, &k->more) : -ENOMEM;
    if (n >= 0) k->count_names = (uint32_t)n;
    if (n < 0 || k->answers == NULL) {
        finish_no_memory(k);
        return;
    }
    if (k->count_names == 0) {
        respond(k, 200, "{\"docs\":[]}", 11);
        finish(k);
        return;
    }
    k->dispatched = true;
    uint32_t count = k->count_names;
    for (uint32_t i = 0; i < count; i++) {
        docs_request *r = new_req(k, DOCS_REQ_REST_INFO, k->names[i], strlen(k->names[i]));
        if (r == NULL || session_route(k->sw, r) != 0) {
            /* counted as answered so the listing still completes */
            json_t *err = json_pack("{s:s, s:s}", "doc", k->names[i], "code", r == NULL ? "no_memory" : "internal");
            bool done = list_answer(k, err);
            json_decref(err);
            if (done) {
                session_waiter_remove(k->sw, k->key);
                finish(k);
                return;
            }
        }
    }
}

static void dispatch(rest_call *k) {
    k->key = session_waiter_add(k->sw, on_answer, k);
    if (k->key == 0) {
        finish_no_memory(k);
        return;
    }
    if (k->t.route == REST_LIST) {
        dispatch_list(k);
        return;
    }
    k->dispatched = true;
    if (k->t.method == REST_POST) {
        dispatch_op(k);
        return;
    }
    uint32_t kind = k->t.method == REST_DELETE ? DOCS_REQ_REST_DELETE
                    : k->t.route == REST_OPS   ? DOCS_REQ_REST_OPS
                                               : DOCS_REQ_REST_GET;
    docs_request *r = new_req(k, kind, k->t.doc, k->t.doc_len);
    if (r == NULL) finish_no_memory(k);
    else if (session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

/* ---- the call ------------------------------------------------------------------------ */

void rest_call_begin(rest_call *k, const http_request *req) {
    session_worker *sw = k->sw;
    rest_rules rules = {
        .max_doc_name_bytes = sw->limits.max_doc_name_bytes,
        .max_body_bytes = sw->cfg->max_message_bytes,
        .auth_on = sw->auth_on,
        .secret = &sw->secret,
        .now_s = (int64_t)time(NULL),
    };
    rest_refusal why;
    if (rest_route_parse(req, &rules, &k->t, &k->claims, &why) != 0) {
        finish_error(k, why.code, why.message);
        return;
    }
    if (k->t.method == REST_POST) {
        k->body_need = k->t.body_bytes;
        k->body = malloc(k->body_need);
        if (k->body == NULL) finish_no_memory(k);
        return;   /* rest_call_feed collects the body, rest_call_continue runs it */
    }
    dispatch(k);
}

void rest_call_feed(rest_call *k, const uint8_t *data, size_t len) {
    if (k->body == NULL || k->dispatched) return;
    size_t room = k->body_need - k->body_len;
    size_t take = len < room ? len : room;
    memcpy(k->body + k->body_len, data, take);
    k->body_len += take;
}

void rest_call_continue(rest_call *k) {
    if (k->body == NULL || k->dispatched || k->body_len < k->body_need) return;
    k->dispatched = true;
    k->key = session_waiter_add(k->sw, on_answer, k);
    if (k->key == 0) finish_no_memory(k);
    else dispatch_op(k);
}

void rest_call_abort(rest_call *k) {
    if (k == NULL) return;
    if (k->key != 0) session_waiter_remove(k->sw, k->key);
    call_free(k);
}
