#include "http/router.h"

#include "http/http_response.h"
#include "http/static_site.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

typedef int (*route_fn)(const router_ctx *ctx, const http_request *req, router_reply *out);

typedef struct route {
    const char *path;          /* exact match on the target's path (query ignored) */
    route_fn fn;
} route;

static bool method_is(const http_request *req, const char *m) {
    size_t n = strlen(m);
    return req->method_len == n && memcmp(req->method, m, n) == 0;
}

/* A reply whose head and body are copied into one rbuf. */
static int reply_text(const router_ctx *ctx, const http_request *req, int status, const char *content_type,
                      const char *body, size_t body_len, const char *extra, router_reply *out) {
    bool head_only = method_is(req, "HEAD");
    rbuf *b = rbuf_new(HTTP_RESPONSE_HEAD_MAX_BYTES + body_len);
    if (b == NULL) return -ENOMEM;
    http_response_head h = {
        .status = status,
        .content_type = content_type,
        .content_length = (int64_t)body_len,
        .keep_alive = req->keep_alive,
        .date_unix_s = ctx->now_unix_s,
        .extra_headers = extra,
    };
    int n = http_response_write_head(&h, (char *)b->data, b->cap);
    if (n < 0) {
        rbuf_unref(b);
        return n == -ENOSPC ? -ENOMEM : n;
    }
    b->len = (uint32_t)n;
    if (!head_only && body_len > 0) {
        memcpy(b->data + b->len, body, body_len);
        b->len += (uint32_t)body_len;
    }
    *out = (router_reply){.action = ROUTER_REPLY, .status = status, .head = b, .close = !req->keep_alive};
    return 0;
}

static int only_get(const router_ctx *ctx, const http_request *req, router_reply *out) {
    (void)ctx;
    (void)req;
    return router_error(405, NULL, out) == 0 ? 0 : -ENOMEM;
}

static int route_healthz(const router_ctx *ctx, const http_request *req, router_reply *out) {
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) return only_get(ctx, req, out);
    bool stopping = atomic_load_explicit(&((server_shared *)ctx->shared)->shutting_down, memory_order_relaxed);
    if (stopping) return reply_text(ctx, req, 503, "text/plain; charset=utf-8", "shutting down\n", 14,
                                    "Cache-Control: no-store\r\nRetry-After: 1\r\n", out);
    uint32_t degraded = atomic_load_explicit(&((server_shared *)ctx->shared)->degraded_docs, memory_order_relaxed);
    uint32_t redis_down = atomic_load_explicit(&((server_shared *)ctx->shared)->redis_down, memory_order_relaxed);
    if (redis_down > 0) {
        /* reads are served from memory; writes are refused until it is back */
        char body[96];
        int n = snprintf(body, sizeof body, "degraded: Redis unreachable from %u workers; writes refused\n", redis_down);
        return reply_text(ctx, req, 503, "text/plain; charset=utf-8", body, (size_t)n, "Cache-Control: no-store\r\n", out);
    }
    if (degraded > 0) {
        char body[96];
        int n = snprintf(body, sizeof body, "degraded: storage failed for %u documents\n", degraded);
        return reply_text(ctx, req, 503, "text/plain; charset=utf-8", body, (size_t)n, "Cache-Control: no-store\r\n", out);
    }
    return reply_text(ctx, req, 200, "text/plain; charset=utf-8", "ok\n", 3, "Cache-Control: no-store\r\n", out);
}

static int route_metrics(const router_ctx *ctx, const http_request *req, router_reply *out) {
    if (!method_is(req, "GET") && !method_is(req, "HEAD")) return only_get(ctx, req, out);
    const server_shared *s = ctx->shared;
    metrics_process proc = {
        .workers = s->count_workers,
        .shutting_down = atomic_load_explicit(&((server_shared *)s)->shutting_down, memory_order_relaxed),
        .zerocopy_enabled = atomic_load_explicit(&((server_shared *)s)->zerocopy, memory_order_relaxed),
        .provided_buffers = atomic_load_explicit(&((server_shared *)s)->provided_buffers, memory_order_relaxed),
        .documents_memory_bytes = membudget_used(&s->memory),
        .documents_memory_limit_bytes = s->memory.limit_bytes,
    };
    char text[METRICS_TEXT_MAX_BYTES];
    int n = metrics_format(s->metrics, s->count_workers, &proc, text, sizeof text);
    if (n < 0) return router_error(500, "metrics too large", out);
    return reply_text(ctx, req, 200, "text/plain; version=0.0.4; charset=utf-8", text, (size_t)n,
                      "Cache-Control: no-store\r\n", out);
}

static int route_ws(const router_ctx *ctx, const http_request *req, router_reply *out) {
    (void)ctx;
    (void)req;
    *out = (router_reply){.action = ROUTER_UPGRADE, .endpoint = ROUTER_EP_WS};
    return 0;
}

static int route_echo(const router_ctx *ctx, const http_request *req, router_reply *out) {
    if (!ctx->shared->cfg->enable_echo) return router_error(404, NULL, out);
    (void)req;
    *out = (router_reply){.action = ROUTER_UPGRADE, .endpoint = ROUTER_EP_ECHO};
    return 0;
}

static int route_static(const router_ctx *ctx, const http_request *req, router_reply *out) {
    if (ctx->shared->site == NULL) return router_error(404, NULL, out);
    static_reply r;
    if (static_site_respond(ctx->shared->site, req, &r) != 0) return router_error(500, NULL, out);
    rbuf *b = rbuf_from(r.head, r.head_len);
    if (b == NULL) return -ENOMEM;
    *out = (router_reply){
        .action = ROUTER_REPLY,
        .status = r.status,
        .head = b,
        .body = r.body,
        .body_len = r.body != NULL ? r.body_len : 0,
        .close = r.close_connection,
    };
    return 0;
}

/* Exact paths first; anything else is a static file. */
static const route routes[] = {
    {"/healthz", route_healthz},
    {"/metrics", route_metrics},
    {"/ws", route_ws},
    {"/echo", route_echo},
};

int router_route(const router_ctx *ctx, const http_request *req, router_reply *out) {
    size_t path_len = 0;
    while (path_len < req->target_len && req->target[path_len] != '?') path_len++;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        size_t n = strlen(routes[i].path);
        if (n == path_len && memcmp(routes[i].path, req->target, n) == 0) return routes[i].fn(ctx, req, out);
    }
    return route_static(ctx, req, out);
}

int router_error(int status, const char *message, router_reply *out) {
    enum { error_max_bytes = 1024 };
    rbuf *b = rbuf_new(error_max_bytes);
    if (b == NULL) return -ENOMEM;
    const char *extra = status == 405 ? "Allow: GET, HEAD\r\n" : status == 503 ? "Retry-After: 1\r\n" : NULL;
    int n = http_error_response(status, message, extra, (char *)b->data, b->cap);
    if (n < 0) {
        rbuf_unref(b);
        return -ENOMEM;
    }
    b->len = (uint32_t)n;
    *out = (router_reply){.action = ROUTER_REPLY, .status = status, .head = b, .close = true};
    return 0;
}
