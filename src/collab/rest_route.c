#include "collab/rest_route.h"

#include "http/path.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rest_status_for(const char *code) {
    static const struct { const char *code; int status; } map[] = {
        {"bad_json", 400}, {"bad_message", 400}, {"unknown_type", 400}, {"bad_doc_name", 400}, {"bad_op", 400},
        {"unauthorized", 401}, {"forbidden", 403}, {"not_open", 404}, {"not_found", 404},
        {"version_ahead", 409}, {"version_too_old", 410}, {"doc_too_large", 413}, {"op_too_large", 413},
        {"too_many_docs", 429}, {"rate_limited", 429}, {"storage_unavailable", 503}, {"no_memory", 503}, {"internal", 500},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0) return map[i].status;
    return 500;
}

static int refuse(rest_refusal *why, const char *code, const char *message) {
    why->code = code;
    why->message = message;
    return -1;
}

static bool parse_u64(const char *s, uint64_t *out) {
    if (*s < '0' || *s > '9') return false;
    char *end = NULL;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end != '\0' || v > PROTO_MAX_SAFE_INTEGER) return false;
    *out = v;
    return true;
}

static bool method_is(const http_request *req, const char *m) {
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

/* path_decode collapses "a//b/" into "a/b"; a document name must be taken
 * as sent, or "notes/" would reach "notes" here while the same name is
 * bad_doc_name over WebSocket. */
static bool raw_path_has_empty_segment(const char *target, size_t len) {
    size_t end = 0;
    while (end < len && target[end] != '?' && target[end] != '#') end++;
    if (end > 1 && target[end - 1] == '/') return true;
    for (size_t i = 1; i < end; i++)
        if (target[i] == '/' && target[i - 1] == '/') return true;
    return false;
}

/* Route, document name and method. */
static int parse_path(const http_request *req, const rest_rules *rules, rest_target *t, rest_refusal *why) {
    char path[PATH_MAX_DECODED_BYTES + 1];
    size_t plen = 0;
    if (path_decode(req->target, req->target_len, path, sizeof path, &plen) != PATH_OK)
        return refuse(why, "bad_doc_name", "the path cannot be decoded");
    t->method = method_is(req, "GET") ? REST_GET : method_is(req, "POST") ? REST_POST
              : method_is(req, "DELETE") ? REST_DELETE : 0;
    /* path_decode drops the leading '/' */
    if (strcmp(path, "api/docs") == 0) {
        t->route = REST_LIST;
    } else if (plen > 9 && memcmp(path, "api/docs/", 9) == 0) {
        const char *name = path + 9;
        size_t nlen = plen - 9;
        t->route = REST_DOC;
        if (nlen > 4 && memcmp(name + nlen - 4, "/ops", 4) == 0) {
            t->route = REST_OPS;
            nlen -= 4;
        }
        if (!proto_doc_name_valid(name, nlen, rules->max_doc_name_bytes) ||
            raw_path_has_empty_segment(req->target, req->target_len))
            return refuse(why, "bad_doc_name", "invalid document name");
        memcpy(t->doc, name, nlen);
        t->doc[nlen] = '\0';
        t->doc_len = nlen;
    } else {
        return refuse(why, "not_found", "no such API route");
    }
    bool allowed = (t->route == REST_LIST && t->method == REST_GET) ||
                   (t->route == REST_DOC && (t->method == REST_GET || t->method == REST_DELETE)) ||
                   (t->route == REST_OPS && (t->method == REST_GET || t->method == REST_POST));
    if (!allowed) return refuse(why, "bad_message", "method not allowed on this route");
    return 0;
}

static int check_auth(const http_request *req, const rest_rules *rules, const rest_target *t, auth_claims *claims,
                      rest_refusal *why) {
    if (!rules->auth_on) return 0;
    const http_header *h = http_find_header(req, "Authorization");
    if (h == NULL || h->value_len < 8 || strncasecmp(h->value, "Bearer ", 7) != 0)
        return refuse(why, "unauthorized", "a Bearer token is required");
    int rc = auth_verify(rules->secret, h->value + 7, h->value_len - 7, rules->now_s, claims);
    if (rc != AUTH_OK) return refuse(why, "unauthorized", auth_err_str(rc));
    auth_role need = t->method == REST_GET ? AUTH_ROLE_READ : AUTH_ROLE_WRITE;
    if (t->route != REST_LIST && auth_role_for(claims, t->doc, t->doc_len) < need)
        return refuse(why, "forbidden",
                      need == AUTH_ROLE_WRITE ? "this needs the write role on the document" : "no grant for this document");
    return 0;
}

/* A query parameter that must be an integer, when present. */
static int query_u64(const http_request *req, const char *name, uint64_t *out, bool *present) {
    char val[32];
    if (path_query_param(req->target, req->target_len, name, val, sizeof val) == -ENOENT) return 0;
    if (!parse_u64(val, out)) return -1;
    if (present != NULL) *present = true;
    return 0;
}

static int parse_query(const http_request *req, const rest_rules *rules, rest_target *t, rest_refusal *why) {
    if (t->route == REST_DOC && query_u64(req, "v", &t->v, &t->has_v) != 0)
        return refuse(why, "bad_message", "v must be a non-negative integer");
    if (t->route == REST_OPS && t->method == REST_GET) {
        t->v = 0;
        t->to = PROTO_MAX_SAFE_INTEGER;
        if (query_u64(req, "from", &t->v, NULL) != 0)
            return refuse(why, "bad_message", "from must be a non-negative integer");
        if (query_u64(req, "to", &t->to, NULL) != 0)
            return refuse(why, "bad_message", "to must be a non-negative integer");
    }
    if (t->method == REST_POST) {
        if (req->content_length == 0) return refuse(why, "bad_json", "a JSON body {v, id, op} is required");
        /* The same bound as a WebSocket message, so an op that fits one fits here. */
        if (req->content_length > rules->max_body_bytes)
            return refuse(why, "op_too_large", "the body is larger than --max-message-bytes");
        t->body_bytes = (size_t)req->content_length;
    }
    if (t->route == REST_LIST) {
        char val[REST_MAX_QUERY_BYTES + 1];
        t->limit = REST_DEFAULT_PAGE;
        if (path_query_param(req->target, req->target_len, "limit", val, sizeof val) >= 0) {
            char *end = NULL;
            unsigned long n = strtoul(val, &end, 10);
            if (end == val || *end != '\0' || n == 0 || n > REST_MAX_PAGE)
                return refuse(why, "bad_message", "limit must be 1..1000");
            t->limit = (uint32_t)n;
        }
        if (path_query_param(req->target, req->target_len, "after", t->after, sizeof t->after) < 0) t->after[0] = '\0';
    }
    return 0;
}

int rest_route_parse(const http_request *req, const rest_rules *rules, rest_target *t, auth_claims *claims,
                     rest_refusal *why) {
    memset(t, 0, sizeof *t);
    if (parse_path(req, rules, t, why) != 0) return -1;
    if (check_auth(req, rules, t, claims, why) != 0) return -1;
    return parse_query(req, rules, t, why);
}
