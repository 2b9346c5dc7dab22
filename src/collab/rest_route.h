/*
 * A REST request head as a typed call: the route, the document, the query
 * and the caller's role, checked in the order the API answers them (path,
 * name, method, token and grant, query, body size). No connection and no
 * document is touched, so every rule is unit-tested without sockets; rest.c
 * runs the call.
 */
#ifndef RINGPAD_REST_ROUTE_H
#define RINGPAD_REST_ROUTE_H

#include "http/http.h"
#include "proto/auth.h"
#include "proto/protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REST_DEFAULT_PAGE 100u
#define REST_MAX_PAGE 1000u
/* Query values read for the listing (longer ones read as absent). */
#define REST_MAX_QUERY_BYTES 256u

/* The document routes are told apart by the path's last segment (a name
 * ending in one of them means the route of its parent). */
typedef enum rest_route {
    REST_LIST = 1,      /* /api/docs */
    REST_DOC = 2,       /* /api/docs/{name} */
    REST_OPS = 3,       /* /api/docs/{name}/ops */
    REST_HISTORY = 4,   /* GET .../history[?from=] */
    REST_AUTHORS = 5,   /* GET .../authors[?v=] */
    REST_RESTORE = 6,   /* POST .../restore {"v":N} */
    REST_TEXT = 7,      /* /api/docs/{name}/text */
    REST_APPEND = 8,    /* /api/docs/{name}/append */
    REST_EVENTS = 9,    /* /api/docs/{name}/events */
} rest_route;
typedef enum rest_method { REST_GET = 1, REST_POST = 2, REST_DELETE = 3, REST_PUT = 4 } rest_method;

typedef struct rest_target {
    rest_route route;
    rest_method method;
    char doc[PROTO_MAX_DOC_NAME_BYTES + 1];
    size_t doc_len;
    bool has_v;                     /* GET /api/docs/{name}?v=, .../authors?v= */
    uint64_t v;                     /* that v, or /ops and /history ?from= */
    uint64_t to;                    /* /ops ?to= (PROTO_MAX_SAFE_INTEGER when absent) */
    uint32_t limit;                 /* listing page size */
    char after[REST_MAX_QUERY_BYTES + 1];   /* listing: names after this one ("" = first) */
    size_t body_bytes;              /* POST, PUT: the body to collect */
    bool body_plain;                /* PUT text, append: Content-Type text/plain (else JSON {"text"}) */
    bool accept_text;               /* GET /api/docs/{name}: Accept prefers text/plain */
    bool if_absent;                 /* PUT text with If-None-Match: * */
    bool has_from;                  /* events: ?from= or Last-Event-ID given (in v) */
} rest_target;

/* Why a call is refused: a code of rest_status_for and a message for the caller. */
typedef struct rest_refusal {
    const char *code;
    const char *message;
    const char *allow;              /* method_not_allowed: the route's methods, for the Allow header */
    char detail[96];                /* a message naming what was refused, when message points here */
} rest_refusal;

typedef struct rest_rules {
    uint32_t max_doc_name_bytes;
    uint64_t max_body_bytes;        /* --max-message-bytes */
    bool auth_on;
    const auth_secret *secret;
    int64_t now_s;
} rest_rules;

/* Parses and checks the head. 0 with *t filled (and *claims, when auth is
 * on, holding the verified token), or -1 with *why set. */
int rest_route_parse(const http_request *req, const rest_rules *rules, rest_target *t, auth_claims *claims,
                     rest_refusal *why);

/* HTTP status for a protocol error code string ("bad_op" -> 400, ...). */
int rest_status_for(const char *code);

#endif /* RINGPAD_REST_ROUTE_H */
