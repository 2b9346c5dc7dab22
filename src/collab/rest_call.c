#include "collab/rest_call.h"
#include "base/clock.h"

#include "cluster/cluster.h"
#include "collab/docs.h"
#include "collab/rest_route.h"
#include "proto/protocol_rest.h"
#include "io/ring.h"

#include <errno.h>
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
    proto_doc_info *infos;          /* [count_names]: the owners' answers */
    bool *listed;                   /* [count_names]: infos[i] holds one */
    bool more;
    bool redis_out;                 /* cluster mode: the listing's read from Redis is out */
    bool aborted;                   /* ... and the caller is gone: freed when it ends */
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
    for (uint32_t i = 0; i < k->count_names; i++) free(k->names[i]);
    free(k->names);
    free(k->infos);
    free(k->listed);
    free(k);
}

static void respond(rest_call *k, int status, const char *json, size_t len) {
    rest_response r = {.status = status, .content_type = REST_JSON, .body = json, .len_bytes = len};
    k->ops->respond(k->ctx, &r);
}

void rest_error_response(ot_buf *b, const char *code, const char *message, const char *allow, rest_response *out) {
    *out = rest_no_memory_response();
    if (proto_enc_rest_error(b, code, proto_cstr(message)) == 0)
        *out = (rest_response){.status = rest_status_for(code), .content_type = REST_JSON, .allow = allow,
                               .body = b->data, .len_bytes = b->len};
}

static void respond_error_allow(rest_call *k, const char *code, const char *message, const char *allow) {
    ot_buf b;
    ot_buf_init(&b);
    rest_response r;
    rest_error_response(&b, code, message, allow, &r);
    k->ops->respond(k->ctx, &r);
    ot_buf_free(&b);
}

static void respond_error(rest_call *k, const char *code, const char *message) {
    respond_error_allow(k, code, message, NULL);
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

/* An answer that could not be rendered for want of memory: counted here too. */
static void respond_no_memory(rest_call *k) {
    metrics_add(&k->sw->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
    respond_error(k, "no_memory", PROTO_NO_MEMORY_MESSAGE);
}

/* ---- answers ---------------------------------------------------------------------- */

static void respond_list(rest_call *k);

/* One listed document's answer: its info, or (a NULL or an error) a
 * document left out. True once every listed document answered. */
static bool list_answer(rest_call *k, const proto_rest_answer *a) {
    for (uint32_t i = 0; a != NULL && a->kind == PROTO_REST_INFO && i < k->count_names; i++) {
        if (!k->listed[i] && strlen(k->names[i]) == a->doc.len && memcmp(k->names[i], a->doc.ptr, a->doc.len) == 0) {
            k->infos[i] = (proto_doc_info){.name = proto_cstr(k->names[i]), .v = a->v, .codepoints = a->codepoints,
                                           .bytes = a->bytes};
            k->listed[i] = true;
            break;
        }
    }
    k->answered++;
    if (k->answered < k->count_names) return false;
    respond_list(k);
    return true;
}

/* The page: the documents that answered, in name order, and where the next starts. */
static void respond_list(rest_call *k) {
    uint32_t n = 0;
    for (uint32_t i = 0; i < k->count_names; i++) {
        if (k->listed[i]) k->infos[n++] = k->infos[i];   /* failed to load: left out */
    }
    ot_buf b;
    ot_buf_init(&b);
    proto_str next = k->more ? proto_cstr(k->names[k->count_names - 1]) : (proto_str){NULL, 0};
    if (proto_enc_rest_list(&b, k->infos, n, next) == 0) respond(k, 200, b.data, b.len);
    else respond_no_memory(k);
    ot_buf_free(&b);
}

/* A typed answer from an owner, rendered here: the error's code gives the
 * status; the ack of a whole-text write becomes {"doc","v","changed"}. */
static void respond_answer(rest_call *k, const proto_rest_answer *a) {
    int status = 200;
    proto_rest_answer written;
    if (a->kind == PROTO_REST_ERROR) {
        char code[64];
        snprintf(code, sizeof code, "%.*s", (int)a->code.len, a->code.ptr != NULL ? a->code.ptr : "");
        status = rest_status_for(code);
    } else if (a->kind == PROTO_REST_TEXT && k->t.accept_text) {
        rest_response r = {.status = 200, .content_type = REST_TEXT_PLAIN,
                           .body = a->text.ptr != NULL ? a->text.ptr : "", .len_bytes = a->text.len};
        k->ops->respond(k->ctx, &r);
        return;
    } else if (a->kind == PROTO_REST_ACK && (k->t.route == REST_TEXT || k->t.route == REST_APPEND)) {
        /* the write's op is durable at v: the text written is the one of v + 1 */
        written = (proto_rest_answer){.kind = PROTO_REST_WRITTEN, .doc = proto_cstr(k->t.doc), .v = a->v + 1,
                                      .flag = true};
        a = &written;
    }
    ot_buf b;
    ot_buf_init(&b);
    if (proto_enc_rest_answer(&b, a) == 0) respond(k, status, b.data, b.len);
    else respond_no_memory(k);
    ot_buf_free(&b);
}

/* Everything sent to a REST call's key is typed (session_waiter_add_typed):
 * the owners' answers, their acks and errors, and a kill's internal error. */
static bool on_answer(void *ctx, rbuf *msg) {
    rest_call *k = ctx;
    proto_rest_answer a;
    if (proto_rest_answer_unpack(msg, &a) != 0) {
        /* cannot happen: a call subscribes to nothing, so only answers reach its key */
        finish_error(k, "internal", "the document's owner answered with a frame");
        return true;
    }
    if (k->t.route == REST_LIST) {
        /* an error (storage, memory): that document is left out */
        bool done = list_answer(k, &a);
        if (done) finish(k);
        return done;
    }
    respond_answer(k, &a);
    finish(k);
    return true;
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

/* POST .../restore {"v": N}: the text of version N comes back as a new op. */
static void dispatch_restore(rest_call *k) {
    uint64_t v = 0;
    const char *why = NULL;
    int rc = proto_decode_restore_body((const char *)k->body, k->body_len, &v, &why);
    if (rc != PROTO_OK) {
        finish_error(k, proto_err_code_str(rc), why);
        return;
    }
    docs_request *r = new_req(k, DOCS_REQ_REST_RESTORE, k->t.doc, k->t.doc_len);
    if (r == NULL) {
        finish_no_memory(k);
        return;
    }
    r->has_v = true;
    r->v = v;
    if (session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

static void dispatch_post(rest_call *k) {
    if (k->t.route == REST_RESTORE) dispatch_restore(k);
    else dispatch_op(k);
}

/* PUT .../text or POST .../append: the text (the body itself, or the
 * "text" of a JSON object) goes to the owner, which makes the op. */
static void dispatch_text(rest_call *k) {
    const char *why = NULL;
    char *text = NULL;
    size_t len = 0;
    int rc = proto_decode_text_body((const char *)k->body, k->body_len, k->t.body_plain,
                                    k->sw->limits.ot.max_op_bytes, &text, &len, &why);
    if (rc == PROTO_ERR_NO_MEMORY) {
        finish_no_memory(k);
        return;
    }
    if (rc != PROTO_OK) {
        finish_error(k, proto_err_code_str(rc), why);
        return;
    }
    docs_request *r = new_req(k, DOCS_REQ_REST_TEXT, k->t.doc, k->t.doc_len);
    if (r == NULL) {
        free(text);
        finish_no_memory(k);
        return;
    }
    r->text = text;
    r->text_len = len;
    r->append = k->t.route == REST_APPEND;
    r->if_absent = k->t.if_absent;
    /* unique on this server: the worker, the waiter's key and the time */
    r->id_len = (size_t)snprintf(r->id, sizeof r->id, "rest-%s-%u-%llu-%lld", r->append ? "append" : "text",
                                 k->sw->self, (unsigned long long)(k->key & ~FANOUT_KEY_TYPED), (long long)r->time_ms);
    if (session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

static bool granted(void *ctx, const char *name, size_t len) {
    rest_call *k = ctx;
    return session_role_for(k->sw, &k->claims, name, len) != AUTH_ROLE_NONE;
}

/* Cluster mode: the page from the cluster's list in Redis, each document's
 * version and length from its meta there (never by loading it). */
static void on_cluster_list(void *ctx, int rc, const cluster_doc_info *infos, uint32_t n, const char *next) {
    rest_call *k = ctx;
    k->redis_out = false;
    if (k->aborted) {
        call_free(k);
        return;
    }
    if (rc == -ECANCELED) return;   /* stopping: the caller's abort frees it */
    if (rc != 0) {
        finish_error(k, rc == -ENOMEM ? "no_memory" : "storage_unavailable",
                     rc == -ENOMEM ? PROTO_NO_MEMORY_MESSAGE : "the cluster's documents could not be listed (Redis)");
        return;
    }
    proto_doc_info *docs = calloc(n > 0 ? n : 1, sizeof *docs);
    if (docs == NULL) {
        finish_no_memory(k);
        return;
    }
    for (uint32_t i = 0; i < n; i++)
        docs[i] = (proto_doc_info){.name = {infos[i].name, infos[i].name_len}, .v = infos[i].v,
                                   .codepoints = infos[i].codepoints, .bytes = infos[i].bytes};
    ot_buf b;
    ot_buf_init(&b);
    if (proto_enc_rest_list(&b, docs, n, next != NULL ? proto_cstr(next) : (proto_str){NULL, 0}) == 0)
        respond(k, 200, b.data, b.len);
    else
        respond_error(k, "no_memory", PROTO_NO_MEMORY_MESSAGE);
    ot_buf_free(&b);
    free(docs);
    finish(k);
}

static void dispatch_cluster_list(rest_call *k) {
    int rc = cluster_list_docs(k->sw->cluster, k->t.after, strlen(k->t.after), k->t.limit, granted,
                               on_cluster_list, k);
    if (rc == 0) {
        k->dispatched = true;
        k->redis_out = true;
    } else if (rc == -ENOMEM) {
        finish_no_memory(k);
    } else {
        finish_error(k, "storage_unavailable", "the cluster's documents cannot be listed: Redis is unreachable");
    }
}

static void dispatch_list(rest_call *k) {
    if (k->sw->cluster != NULL) {
        dispatch_cluster_list(k);
        return;
    }
    uint32_t limit = k->t.limit;
    /* names come from the shared index, never a directory scan per page */
    if (session_worker_fill_names(k->sw) != 0) {
        finish_error(k, "storage_unavailable", "the data dir cannot be listed");
        return;
    }
    k->names = calloc(limit, sizeof *k->names);
    k->infos = calloc(limit, sizeof *k->infos);
    k->listed = calloc(limit, sizeof *k->listed);
    int n = k->names != NULL ? nameset_page(k->sw->names, k->t.after, limit, granted, k, k->names, &k->more) : -ENOMEM;
    if (n >= 0) k->count_names = (uint32_t)n;
    if (n < 0 || k->infos == NULL || k->listed == NULL) {
        finish_no_memory(k);
        return;
    }
    if (k->count_names == 0) {
        respond_list(k);
        finish(k);
        return;
    }
    k->dispatched = true;
    uint32_t count = k->count_names;
    for (uint32_t i = 0; i < count; i++) {
        docs_request *r = new_req(k, DOCS_REQ_REST_INFO, k->names[i], strlen(k->names[i]));
        if (r == NULL || session_route(k->sw, r) != 0) {
            /* counted as answered (left out) so the listing still completes */
            if (list_answer(k, NULL)) {
                session_waiter_remove(k->sw, k->key);
                finish(k);
                return;
            }
        }
    }
}

static void dispatch(rest_call *k) {
    k->key = session_waiter_add_typed(k->sw, on_answer, k);
    if (k->key == 0) {
        finish_no_memory(k);
        return;
    }
    if (k->t.route == REST_LIST) {
        dispatch_list(k);
        return;
    }
    k->dispatched = true;
    if (k->t.route == REST_TEXT || k->t.route == REST_APPEND) {
        dispatch_text(k);
        return;
    }
    if (k->t.method == REST_POST) {
        dispatch_post(k);
        return;
    }
    uint32_t kind = k->t.method == REST_DELETE     ? DOCS_REQ_REST_DELETE
                    : k->t.route == REST_OPS       ? DOCS_REQ_REST_OPS
                    : k->t.route == REST_HISTORY   ? DOCS_REQ_REST_HISTORY
                    : k->t.route == REST_AUTHORS   ? DOCS_REQ_REST_AUTHORS
                                                   : DOCS_REQ_REST_GET;
    docs_request *r = new_req(k, kind, k->t.doc, k->t.doc_len);
    if (r == NULL) finish_no_memory(k);
    else if (session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

/* ---- the call ------------------------------------------------------------------------ */

void rest_call_rules(const session_worker *sw, rest_rules *out) {
    *out = (rest_rules){
        .max_doc_name_bytes = sw->limits.max_doc_name_bytes,
        .max_body_bytes = sw->cfg->max_message_bytes,
        .auth_on = sw->auth_on,
        .secret = &sw->secret,
        .now_s = clock_wall_s(),
    };
}

void rest_call_begin(rest_call *k, const http_request *req) {
    rest_rules rules;
    rest_call_rules(k->sw, &rules);
    rest_refusal why;
    if (rest_route_parse(req, &rules, &k->t, &k->claims, &why) != 0) {
        respond_error_allow(k, why.code, why.message, why.allow);
        finish(k);
        return;
    }
    if ((k->t.method == REST_POST || k->t.method == REST_PUT) && k->t.body_bytes > 0) {
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
    k->key = session_waiter_add_typed(k->sw, on_answer, k);
    if (k->key == 0) finish_no_memory(k);
    else if (k->t.route == REST_TEXT || k->t.route == REST_APPEND) dispatch_text(k);
    else dispatch_post(k);
}

void rest_call_abort(rest_call *k) {
    if (k == NULL) return;
    if (k->key != 0) session_waiter_remove(k->sw, k->key);
    k->key = 0;
    if (k->redis_out) {
        k->aborted = true;   /* Redis's answer frees it */
        return;
    }
    call_free(k);
}
