#include "collab/rest_route.h"

#include "http/path.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int rest_status_for(const char *code) {
    static const struct { const char *code; int status; } map[] = {
        {"bad_json", 400}, {"bad_message", 400}, {"unknown_type", 400}, {"bad_doc_name", 400}, {"bad_op", 400},
        {"unknown_parameter", 400}, {"unauthorized", 401}, {"forbidden", 403}, {"not_open", 404},
        {"not_found", 404}, {"method_not_allowed", 405}, {"version_ahead", 409}, {"version_too_old", 410},
        {"already_exists", 412}, {"doc_too_large", 413}, {"op_too_large", 413}, {"too_many_docs", 429},
        {"rate_limited", 429}, {"storage_unavailable", 503}, {"no_memory", 503}, {"internal", 500},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
        if (strcmp(map[i].code, code) == 0) return map[i].status;
    return 500;
}

/* Each route: its path's last segment, its methods, and the query
 * parameters each method knows (anything else is refused, never ignored). */
typedef struct route_spec {
    rest_route route;
    const char *suffix;             /* "/ops"; NULL: the document itself; "" the listing */
    const char *allow;
    struct { rest_method method; const char *params[3]; } methods[2];
} route_spec;

static const route_spec routes[] = {
    {REST_LIST, "", "GET", {{REST_GET, {"limit", "after"}}}},
    {REST_DOC, NULL, "GET, DELETE", {{REST_GET, {"v"}}, {REST_DELETE, {NULL}}}},
    {REST_OPS, "/ops", "GET, POST", {{REST_GET, {"from", "to"}}, {REST_POST, {NULL}}}},
    {REST_TEXT, "/text", "PUT", {{REST_PUT, {NULL}}}},
    {REST_APPEND, "/append", "POST", {{REST_POST, {NULL}}}},
    {REST_EVENTS, "/events", "GET", {{REST_GET, {"from"}}}},
    {REST_HISTORY, "/history", "GET", {{REST_GET, {"from"}}}},
    {REST_AUTHORS, "/authors", "GET", {{REST_GET, {"v"}}}},
    {REST_RESTORE, "/restore", "POST", {{REST_POST, {NULL}}}},
};

static const route_spec *spec_of(rest_route route) {
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        if (routes[i].route == route) return &routes[i];
    return NULL;
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

static bool ends_with(const char *s, size_t len, const char *suffix) {
    size_t n = strlen(suffix);
    return len > n && memcmp(s + len - n, suffix, n) == 0;
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
              : method_is(req, "DELETE") ? REST_DELETE : method_is(req, "PUT") ? REST_PUT : 0;
    /* path_decode drops the leading '/' */
    if (strcmp(path, "api/docs") == 0) {
        t->route = REST_LIST;
    } else if (plen > 9 && memcmp(path, "api/docs/", 9) == 0) {
        const char *name = path + 9;
        size_t nlen = plen - 9;
        t->route = REST_DOC;
        for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
            const char *suffix = routes[i].suffix;
            if (suffix != NULL && suffix[0] != '\0' && ends_with(name, nlen, suffix)) {
                t->route = routes[i].route;
                nlen -= strlen(suffix);
                break;
            }
        }
        if (!proto_doc_name_valid(name, nlen, rules->max_doc_name_bytes) ||
            raw_path_has_empty_segment(req->target, req->target_len))
            return refuse(why, "bad_doc_name", "invalid document name");
        memcpy(t->doc, name, nlen);
        t->doc[nlen] = '\0';
        t->doc_len = nlen;
    } else {
        return refuse(why, "not_found",
                      "no such API route: see docs/openapi.yaml (/api/docs, /api/docs/{name}[/ops|/text|/append|/events|/history|/authors|/restore])");
    }
    const route_spec *s = spec_of(t->route);
    for (size_t i = 0; i < sizeof s->methods / sizeof s->methods[0]; i++)
        if (s->methods[i].method != 0 && s->methods[i].method == t->method) return 0;
    why->allow = s->allow;
    snprintf(why->detail, sizeof why->detail, "%.*s is not allowed here; this route allows %s", (int)req->method_len,
             req->method, s->allow);
    return refuse(why, "method_not_allowed", why->detail);
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

/* Every query parameter must be one the route's method knows. */
static int check_params(const http_request *req, const rest_target *t, rest_refusal *why) {
    const route_spec *s = spec_of(t->route);
    const char *const *known = NULL;
    for (size_t i = 0; i < sizeof s->methods / sizeof s->methods[0]; i++)
        if (s->methods[i].method == t->method) known = s->methods[i].params;
    char key[48];
    /* bounded: each pass reads one more parameter of a bounded target */
    for (size_t i = 0; i <= req->target_len; i++) {
        int n = path_query_key_at(req->target, req->target_len, i, key, sizeof key);
        if (n == -ENOENT) return 0;
        bool ok = false;
        for (size_t j = 0; n >= 0 && known != NULL && j < 3 && known[j] != NULL; j++)
            if (strcmp(key, known[j]) == 0) ok = true;
        if (ok) continue;
        if (n < 0) snprintf(key, sizeof key, "(undecodable)");
        snprintf(why->detail, sizeof why->detail, "unknown query parameter \"%s\"", key);
        return refuse(why, "unknown_parameter", why->detail);
    }
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

static bool header_has(const http_request *req, const char *name, const char *token) {
    const http_header *h = http_find_header(req, name);
    if (h == NULL) return false;
    size_t n = strlen(token);
    for (size_t i = 0; i + n <= h->value_len; i++)
        if (strncasecmp(h->value + i, token, n) == 0) return true;
    return false;
}

/* Bodies of POST and PUT: present when required, within --max-message-bytes. */
static int parse_body(const http_request *req, const rest_rules *rules, rest_target *t, rest_refusal *why) {
    if (t->method != REST_POST && t->method != REST_PUT) return 0;
    bool json_only = t->route == REST_OPS || t->route == REST_RESTORE;
    if (!json_only) t->body_plain = header_has(req, "Content-Type", "text/plain");
    if (req->content_length == 0 && !t->body_plain)
        return refuse(why, "bad_json", t->route == REST_OPS       ? "a JSON body {v, id, op} is required"
                                       : t->route == REST_RESTORE ? "a JSON body {\"v\": N} is required"
                                                                  : "a body is required: JSON {\"text\": ...} or text/plain");
    /* The same bound as a WebSocket message, so an op that fits one fits here. */
    if (req->content_length > rules->max_body_bytes)
        return refuse(why, "op_too_large", "the body is larger than --max-message-bytes");
    t->body_bytes = (size_t)req->content_length;
    if (t->route == REST_TEXT) {
        const http_header *h = http_find_header(req, "If-None-Match");
        if (h != NULL && !(h->value_len == 1 && h->value[0] == '*'))
            return refuse(why, "bad_message", "If-None-Match on a text write takes only \"*\" (create if absent)");
        t->if_absent = h != NULL;
    }
    return 0;
}

static int parse_query(const http_request *req, const rest_rules *rules, rest_target *t, rest_refusal *why) {
    if (check_params(req, t, why) != 0) return -1;
    if ((t->route == REST_DOC || t->route == REST_AUTHORS) && query_u64(req, "v", &t->v, &t->has_v) != 0)
        return refuse(why, "bad_message", "v must be a non-negative integer");
    if (t->route == REST_HISTORY && query_u64(req, "from", &t->v, NULL) != 0)
        return refuse(why, "bad_message", "from must be a non-negative integer");
    if (t->route == REST_DOC && t->method == REST_GET)
        t->accept_text = header_has(req, "Accept", "text/plain") && !header_has(req, "Accept", "application/json");
    if (t->route == REST_OPS && t->method == REST_GET) {
        t->v = 0;
        t->to = PROTO_MAX_SAFE_INTEGER;
        if (query_u64(req, "from", &t->v, NULL) != 0)
            return refuse(why, "bad_message", "from must be a non-negative integer");
        if (query_u64(req, "to", &t->to, NULL) != 0)
            return refuse(why, "bad_message", "to must be a non-negative integer");
    }
    if (t->route == REST_EVENTS) {
        if (query_u64(req, "from", &t->v, &t->has_from) != 0)
            return refuse(why, "bad_message", "from must be a non-negative integer");
        const http_header *h = http_find_header(req, "Last-Event-ID");
        if (h != NULL && h->value_len > 0) {
            /* the id of the last event received is its version: resume after it */
            char val[32];
            uint64_t last = 0;
            snprintf(val, sizeof val, "%.*s", (int)(h->value_len < 31 ? h->value_len : 31), h->value);
            if (h->value_len > 31 || !parse_u64(val, &last) || last >= PROTO_MAX_SAFE_INTEGER)
                return refuse(why, "bad_message", "Last-Event-ID must be the version of an event");
            t->v = last + 1;
            t->has_from = true;
        }
    }
    if (parse_body(req, rules, t, why) != 0) return -1;
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
    why->allow = NULL;
    if (parse_path(req, rules, t, why) != 0) return -1;
    if (check_auth(req, rules, t, claims, why) != 0) return -1;
    return parse_query(req, rules, t, why);
}
