#include "server/cluster_api.h"

#include "cluster/cluster.h"
#include "collab/rest.h"
#include "collab/rest_call.h"
#include "collab/session.h"
#include "io/conn.h"
#include "io/ring.h"

#include <string.h>

static bool path_is(const http_request *req, const char *path) {
    size_t n = strlen(path);
    return req->target_len >= n && memcmp(req->target, path, n) == 0 &&
           (req->target_len == n || req->target[n] == '?');
}

bool cluster_api_matches(const struct conn *c, const http_request *req) {
    const worker *w = c->w;
    return session_worker_of(w) != NULL && session_worker_of(w)->cluster != NULL && path_is(req, "/api/cluster");
}

void cluster_api_answer(struct conn *c, const http_request *req) {
    session_worker *sw = session_worker_of(c->w);
    bool get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
    if (!get) {
        static const char body[] = "{\"code\":\"method_not_allowed\",\"message\":\"GET only\"}";
        rest_response r = {.status = 405, .content_type = REST_JSON, .allow = "GET", .body = body,
                           .len_bytes = sizeof body - 1};
        rest_respond(c, req->keep_alive, &r);
        return;
    }
    ot_buf b;
    ot_buf_init(&b);
    if (cluster_describe(sw->cluster, !sw->auth_on, &b) != 0) {
        rest_response oom = rest_no_memory_response();
        rest_respond(c, req->keep_alive, &oom);
    } else {
        rest_response r = {.status = 200, .content_type = REST_JSON, .body = b.data, .len_bytes = b.len};
        rest_respond(c, req->keep_alive, &r);
    }
    ot_buf_free(&b);
}
