/*
 * HTTP routes: a table from (path) to a handler. The handlers answer from
 * memory (static files, /healthz, /metrics) or ask for a WebSocket upgrade;
 * the sessions work adds /api/... rows here.
 */
#ifndef RINGPAD_ROUTER_H
#define RINGPAD_ROUTER_H

#include "http/http.h"
#include "base/rbuf.h"
#include "io/shared.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* /metrics renders into a buffer of this size. */
#define ROUTER_REPLY_MAX_BYTES (METRICS_TEXT_MAX_BYTES + 1024)

typedef enum router_action {
    ROUTER_REPLY,      /* send head (+ body), then keep-alive or close */
    ROUTER_UPGRADE,    /* WebSocket upgrade requested at `endpoint` (the conn validates it) */
} router_action;

/* What an upgraded connection speaks. */
typedef enum router_endpoint {
    ROUTER_EP_WS,     /* /ws: the document protocol */
    ROUTER_EP_ECHO,   /* /echo: transport benchmark */
} router_endpoint;

typedef struct router_reply {
    router_action action;
    int status;
    rbuf *head;                /* owned: head, and the body when it is small */
    const uint8_t *body;       /* static bytes (web root in memory), not owned; NULL when none */
    size_t body_len;
    bool close;                /* Connection: close was sent: close after sending */
    int endpoint;              /* ROUTER_UPGRADE: router_endpoint */
} router_reply;

typedef struct router_ctx {
    const server_shared *shared;
    int64_t now_unix_s;        /* for Date headers */
} router_ctx;

/* Routes one complete request. Returns 0 with *out filled, or -ENOMEM. */
int router_route(const router_ctx *ctx, const http_request *req, router_reply *out);

/* A complete error response (Connection: close) for a status with an
 * optional message; *out as from router_route. Returns 0 or -ENOMEM. */
int router_error(int status, const char *message, router_reply *out);

#endif /* RINGPAD_ROUTER_H */
