#include "collab/rest.h"

#include "io/conn.h"
#include "collab/docs.h"
#include "http/http_response.h"
#include "base/log.h"
#include "http/path.h"
#include "io/ring.h"
#include "collab/session.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <strings.h>
#include <unistd.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Longest query value read (limit, after); a longer one counts as absent. */
#define REST_MAX_QUERY_VALUE_BYTES 256u

typedef enum rest_route { REST_LIST = 1, REST_DOC = 2, REST_OPS = 3 } rest_route;

typedef struct rest_call {
    conn *c;
    session_worker *sw;
    rest_route route;
    char method[8];
    char doc[DOCNAME_MAX_BYTES + 1];
    size_t doc_len;
    bool has_v;
    uint64_t v;
    uint64_t to;
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
    /* keep-alive: the connection stays when the client allows it; bytes of
     * pipelined requests wait here and are replayed after the response */
    bool keep_alive;
    uint64_t body_remaining;        /* request body bytes not yet received */
    uint8_t *stash;
    size_t stash_len;
    bool stash_overflow;            /* more than REST_MAX_PIPELINED_BYTES: close after the response */
} rest_call;

bool rest_matches(const http_request *req) {
    return req->target_len >= 8 && memcmp(req->target, "/api/doc", 8) == 0;
}

int rest_status_for(const char *code) {
    static const struct { const char *code; int status; } map[] = {
        {"bad_json", 400}, {"bad_message", 400}, {"unknown_type", 400}, {"bad_doc_name", 400}, {"bad_op", 400},
        {"unauthorized", 401}, {"forbidden", 403}, {"not_open", 404}, {"not_found", 404},
        {"version_ahead", 409}, {"version_too_old", 410}, {"doc_too_large", 413}, {"op_too_large", 413},
        {"too_many_docs", 429}, {"rate_limited", 429}, {"storage_unavailable", 503}, {"internal", 500},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0) return map[i].status;
    return 500;
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
    free(k->stash);
    free(k);
}

/* Sends a complete response; closes the connection after it unless keep_alive. */
static void respond_ka(conn *c, bool keep_alive, int status, const char *json, size_t len) {
    rbuf *b = rbuf_new(HTTP_RESPONSE_HEAD_MAX_BYTES + len);
    if (b == NULL) {
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    http_response_head h = {
        .status = status,
        .content_type = "application/json",
        .content_length = (int64_t)len,
        .keep_alive = keep_alive,
        .date_unix_s = (int64_t)time(NULL),
        .extra_headers = "Cache-Control: no-store\r\n",
    };
    int n = http_response_write_head(&h, (char *)b->data, b->cap);
    if (n < 0) {
        rbuf_unref(b);
        conn_close(c, METRICS_CLOSE_IO_ERROR);
        return;
    }
    memcpy(b->data + n, json, len);
    b->len = (uint32_t)n + (uint32_t)len;
    if (status >= 100 && status < 600) metrics_add(&c->w->m->http_responses_by_class[status / 100], 1);
    int rc = conn_send(c, b, 0, b->len);
    rbuf_unref(b);
    if (rc == 0 && !keep_alive)
        conn_close_after_flush(c, status >= 400 ? METRICS_CLOSE_HTTP_ERROR : METRICS_CLOSE_HTTP_DONE);
}

static bool keeps(const rest_call *k) { return k->keep_alive && !k->stash_overflow && !k->c->w->draining; }

static void respond(rest_call *k, int status, const char *json, size_t len) {
    respond_ka(k->c, keeps(k), status, json, len);
}

static void respond_error_ka(conn *c, bool keep_alive, const char *code, const char *message) {
    json_t *o = json_pack("{s:s, s:s}", "code", code, "message", message);
    char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
    if (s != NULL) respond_ka(c, keep_alive, rest_status_for(code), s, strlen(s));
    else conn_close(c, METRICS_CLOSE_IO_ERROR);
    free(s);
    json_decref(o);
}

static void respond_error(rest_call *k, const char *code, const char *message) {
    respond_error_ka(k->c, keeps(k), code, message);
}

/* Ends the call: the connection no longer points at it. On a kept
 * connection the rest of the body is skipped and the pipelined bytes that
 * waited are parsed now, in order. */
static void finish(rest_call *k) {
    conn *c = k->c;
    uint8_t *stash = NULL;
    size_t stash_len = 0;
    if (c != NULL) {
        c->rest = NULL;
        if (c->state == CONN_HTTP) {
            c->body_skip_bytes = k->body_remaining;
            stash = k->stash;
            stash_len = k->stash_len;
            k->stash = NULL;
            conn_http_request_done(c);
        }
    }
    if (k->key != 0) session_waiter_remove(k->sw, k->key);
    call_free(k);
    if (stash_len > 0 && c->state == CONN_HTTP) conn_on_plain_data(c, stash, stash_len);   /* already decrypted */
    free(stash);
}

static void finish_error(rest_call *k, const char *code, const char *message) {
    respond_error(k, code, message);
    finish(k);
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
    json_t *arr = json_array();
    for (uint32_t i = 0; i < k->count_names; i++) {
        json_t *a = k->answers[i];
        if (a == NULL || json_object_get(a, "code") != NULL) continue;   /* failed to load: left out */
        json_t *e = json_pack("{s:s, s:O, s:O, s:O}", "name", k->names[i], "v", json_object_get(a, "v"),
                              "codepoints", json_object_get(a, "codepoints"), "bytes", json_object_get(a, "bytes"));
        if (e != NULL) json_array_append_new(arr, e);
    }
    json_t *o = json_pack("{s:o}", "docs", arr);
    if (k->more) json_object_set_new(o, "next", json_string(k->names[k->count_names - 1]));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s != NULL) respond(k, 200, s, strlen(s));
    free(s);
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
        finish_error(k, "internal", "bad answer");
        return true;
    }
    const char *type = json_string_value(json_object_get(ans, "type"));
    bool done = true;
    if (k->route == REST_LIST) {
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
    r->has_v = k->has_v;
    r->v = k->v;
    r->to = k->to;
    r->rest = true;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    r->time_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    snprintf(r->by, sizeof r->by, "%s", k->auth_on ? k->claims.sub : "rest");
    return r;
}

static void dispatch_op(rest_call *k) {
    json_error_t jerr;
    json_t *o = json_loadb((const char *)k->body, k->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (o == NULL || !json_is_object(o)) {
        json_decref(o);
        finish_error(k, "bad_json", "the body must be a JSON object {v, id, op}");
        return;
    }
    json_object_set_new(o, "type", json_string("op"));
    json_object_set_new(o, "doc", json_stringn(k->doc, k->doc_len));
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    if (s == NULL) {
        finish_error(k, "internal", "out of memory");
        return;
    }
    proto_msg *m = &k->sw->msg;
    int rc = proto_decode(&k->sw->limits, s, strlen(s), m);
    free(s);
    if (rc != PROTO_OK) {
        finish_error(k, proto_err_code_str(rc), m->err_message);
        return;
    }
    docs_request *r = new_req(k, DOCS_REQ_OP, k->doc, k->doc_len);
    if (r == NULL || ot_op_copy(&r->op, &m->op) != OT_OK) {
        if (r != NULL) mailbox_msg_unref(&r->hdr);
        finish_error(k, "internal", "out of memory");
        return;
    }
    r->v = m->v;
    memcpy(r->id, m->id, m->id_len);
    r->id_len = m->id_len;
    if (session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

static int cmp_names(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

typedef struct list_ctx {
    rest_call *k;
    char **all;
    uint32_t count;
    uint32_t cap;
} list_ctx;

static int collect_name(void *arg, const char *name, size_t len) {
    list_ctx *l = arg;
    if (session_role_for(l->k->sw, &l->k->claims, name, len) == AUTH_ROLE_NONE) return 0;
    if (l->count == l->cap) {
        uint32_t cap = l->cap == 0 ? 64 : l->cap * 2;
        char **g = realloc(l->all, sizeof *g * cap);
        if (g == NULL) return -ENOMEM;
        l->all = g;
        l->cap = cap;
    }
    l->all[l->count] = strndup(name, len);
    if (l->all[l->count] == NULL) return -ENOMEM;
    l->count++;
    return 0;
}

static void dispatch_list(rest_call *k, const http_request *req) {
    char val[REST_MAX_QUERY_VALUE_BYTES + 1];
    uint32_t limit = REST_DEFAULT_PAGE;
    if (path_query_param(req->target, req->target_len, "limit", val, sizeof val) >= 0) {
        char *end = NULL;
        unsigned long n = strtoul(val, &end, 10);
        if (end == val || *end != '\0' || n == 0 || n > REST_MAX_PAGE) {
            finish_error(k, "bad_message", "limit must be 1..1000");
            return;
        }
        limit = (uint32_t)n;
    }
    char after[REST_MAX_QUERY_VALUE_BYTES + 1] = "";
    if (path_query_param(req->target, req->target_len, "after", after, sizeof after) < 0) after[0] = '\0';
    list_ctx l = {.k = k};
    int dfd = open(k->sw->cfg->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int rc = 0;
    if (dfd >= 0) {
        rc = store_list(dfd, collect_name, &l);
        close(dfd);
    }
    if (rc != 0) {
        for (uint32_t i = 0; i < l.count; i++) free(l.all[i]);
        free(l.all);
        finish_error(k, "storage_unavailable", "the data dir cannot be listed");
        return;
    }
    if (l.count > 1) qsort(l.all, l.count, sizeof l.all[0], cmp_names); /* l.all is NULL when empty */
    uint32_t start = 0;
    while (start < l.count && after[0] != '\0' && strcmp(l.all[start], after) <= 0) start++;
    uint32_t n = l.count - start < limit ? l.count - start : limit;
    k->more = start + n < l.count;
    k->names = calloc(n > 0 ? n : 1, sizeof *k->names);
    k->answers = calloc(n > 0 ? n : 1, sizeof *k->answers);
    for (uint32_t i = 0; i < l.count; i++) {
        if (i >= start && i < start + n && k->names != NULL) k->names[k->count_names++] = l.all[i];
        else free(l.all[i]);
    }
    free(l.all);
    if (k->names == NULL || k->answers == NULL) {
        finish_error(k, "internal", "out of memory");
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
            json_t *err = json_pack("{s:s, s:s}", "doc", k->names[i], "code", "internal");
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

static void dispatch(rest_call *k, const http_request *req) {
    k->key = session_waiter_add(k->sw, on_answer, k);
    if (k->key == 0) {
        finish_error(k, "internal", "out of memory");
        return;
    }
    if (k->route == REST_LIST) {
        dispatch_list(k, req);
        return;
    }
    k->dispatched = true;
    if (strcmp(k->method, "POST") == 0) {
        dispatch_op(k);
        return;
    }
    uint32_t kind = strcmp(k->method, "DELETE") == 0 ? DOCS_REQ_REST_DELETE
                    : k->route == REST_OPS          ? DOCS_REQ_REST_OPS
                                                    : DOCS_REQ_REST_GET;
    docs_request *r = new_req(k, kind, k->doc, k->doc_len);
    if (r == NULL || session_route(k->sw, r) != 0) finish_error(k, "internal", "the document owner is busy");
}

/* ---- parsing -------------------------------------------------------------------------- */

static bool parse_u64(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return false;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > PROTO_MAX_SAFE_INTEGER) return false;
    *out = v;
    return true;
}

static const char *check_auth(rest_call *k, const http_request *req, auth_role need, const char **code) {
    session_worker *sw = k->sw;
    k->auth_on = sw->auth_on;
    if (!sw->auth_on) return NULL;
    const http_header *h = http_find_header(req, "Authorization");
    *code = "unauthorized";
    if (h == NULL || h->value_len < 8 || strncasecmp(h->value, "Bearer ", 7) != 0) return "a Bearer token is required";
    int rc = auth_verify(&sw->secret, h->value + 7, h->value_len - 7, (int64_t)time(NULL), &k->claims);
    if (rc != AUTH_OK) return auth_err_str(rc);
    if (k->route != REST_LIST && session_role_for(sw, &k->claims, k->doc, k->doc_len) < need) {
        *code = "forbidden";
        return need == AUTH_ROLE_WRITE ? "this needs the write role on the document" : "no grant for this document";
    }
    return NULL;
}

void rest_begin(conn *c, const http_request *req) {
    session_worker *sw = c->w->sw;
    rest_call *k = sw != NULL ? calloc(1, sizeof *k) : NULL;
    if (k == NULL) {
        respond_error_ka(c, false, "internal", "out of memory");
        return;
    }
    k->c = c;
    k->sw = sw;
    k->keep_alive = req->keep_alive;
    k->body_remaining = req->content_length;
    c->rest = k;
    snprintf(k->method, sizeof k->method, "%.*s", (int)(req->method_len < 7 ? req->method_len : 7), req->method);
    char path[PATH_MAX_DECODED_BYTES + 1];
    size_t plen = 0;
    if (path_decode(req->target, req->target_len, path, sizeof path, &plen) != PATH_OK) {
        finish_error(k, "bad_doc_name", "the path cannot be decoded");
        return;
    }
    bool get = strcmp(k->method, "GET") == 0, post = strcmp(k->method, "POST") == 0,
         del = strcmp(k->method, "DELETE") == 0;
    /* path_decode drops the leading '/' */
    if (strcmp(path, "api/docs") == 0) {
        k->route = REST_LIST;
    } else if (plen > 9 && memcmp(path, "api/docs/", 9) == 0) {
        const char *name = path + 9;
        size_t nlen = plen - 9;
        k->route = REST_DOC;
        if (nlen > 4 && memcmp(name + nlen - 4, "/ops", 4) == 0) {
            k->route = REST_OPS;
            nlen -= 4;
        }
        if (!proto_doc_name_valid(name, nlen, sw->limits.max_doc_name_bytes)) {
            finish_error(k, "bad_doc_name", "invalid document name");
            return;
        }
        memcpy(k->doc, name, nlen);
        k->doc_len = nlen;
    } else {
        finish_error(k, "not_found", "no such API route");
        return;
    }
    bool allowed = (k->route == REST_LIST && get) || (k->route == REST_DOC && (get || del)) ||
                   (k->route == REST_OPS && (get || post));
    if (!allowed) {
        finish_error(k, "bad_message", "method not allowed on this route");
        return;
    }
    const char *code = NULL;
    const char *why = check_auth(k, req, get ? AUTH_ROLE_READ : AUTH_ROLE_WRITE, &code);
    if (why != NULL) {
        finish_error(k, code, why);
        return;
    }
    char val[32];
    if (k->route == REST_DOC && path_query_param(req->target, req->target_len, "v", val, sizeof val) != -ENOENT) {
        if (!parse_u64(val, &k->v)) {
            finish_error(k, "bad_message", "v must be a non-negative integer");
            return;
        }
        k->has_v = true;
    }
    if (k->route == REST_OPS && get) {
        k->v = 0;
        k->to = PROTO_MAX_SAFE_INTEGER;
        if (path_query_param(req->target, req->target_len, "from", val, sizeof val) != -ENOENT &&
            !parse_u64(val, &k->v)) {
            finish_error(k, "bad_message", "from must be a non-negative integer");
            return;
        }
        if (path_query_param(req->target, req->target_len, "to", val, sizeof val) != -ENOENT &&
            !parse_u64(val, &k->to)) {
            finish_error(k, "bad_message", "to must be a non-negative integer");
            return;
        }
    }
    (void)del;
    if (post) {
        if (req->content_length == 0) {
            finish_error(k, "bad_json", "a JSON body {v, id, op} is required");
            return;
        }
        /* The same bound as a WebSocket message, so an op that fits one fits here. */
        if (req->content_length > k->sw->cfg->max_message_bytes) {
            finish_error(k, "op_too_large", "the body is larger than --max-message-bytes");
            return;
        }
        k->body_need = (size_t)req->content_length;
        k->body = malloc(k->body_need);
        if (k->body == NULL) {
            finish_error(k, "internal", "out of memory");
            return;
        }
        return;   /* rest_feed collects the body, then dispatches */
    }
    dispatch(k, req);
}

size_t rest_feed(conn *c, const uint8_t *data, size_t len) {
    rest_call *k = c->rest;
    if (k == NULL) return len;
    size_t used = 0;
    if (k->body_remaining > 0) {
        size_t take = k->body_remaining < len ? (size_t)k->body_remaining : len;
        if (k->body != NULL && !k->dispatched) {
            memcpy(k->body + k->body_len, data, take);
            k->body_len += take;
        }
        k->body_remaining -= take;
        used = take;
    }
    if (used < len) {
        /* a pipelined request: it waits for this call's answer (bounded) */
        size_t more = len - used;
        if (k->stash_overflow || k->stash_len + more > REST_MAX_PIPELINED_BYTES) {
            k->stash_overflow = true;
        } else {
            uint8_t *g = realloc(k->stash, k->stash_len + more);
            if (g == NULL) {
                k->stash_overflow = true;
            } else {
                memcpy(g + k->stash_len, data + used, more);
                k->stash = g;
                k->stash_len += more;
            }
        }
    }
    if (k->body != NULL && !k->dispatched && k->body_len == k->body_need) {
        k->dispatched = true;
        k->key = session_waiter_add(k->sw, on_answer, k);
        if (k->key == 0) finish_error(k, "internal", "out of memory");
        else dispatch_op(k);
    }
    return len;
}

void rest_abort(conn *c) {
    rest_call *k = c->rest;
    if (k == NULL) return;
    c->rest = NULL;
    k->c = NULL;
    if (k->key != 0) session_waiter_remove(k->sw, k->key);
    call_free(k);
}
