/*
 * The REST API for backends, on the HTTP port:
 *
 *   GET    /api/docs[?limit=N&after=NAME]   names, versions, sizes (sorted, paginated)
 *   GET    /api/docs/{name}[?v=N]           text and version (a past version within the history)
 *   GET    /api/docs/{name}/ops?from=N[&to=M]  history: ops with base in [from, to)
 *   POST   /api/docs/{name}/ops  {v,id,op}  a server-side edit: transformed, logged, broadcast, acked
 *   DELETE /api/docs/{name}                 subscribers get error not_open and lose the document
 *
 * JSON in and out; errors are {"code","message"} with the status of the code
 * (rest_status_for). With auth on, `Authorization: Bearer <token>`: read role
 * for GET, write role for POST and DELETE.
 *
 * The head is parsed in rest_route.c and the call runs in rest_call.c (no
 * connection there); this file is the HTTP connection's side. A request runs
 * on the document's owner worker like a session's (a typed waiter key
 * receives the owner's typed answer), so it is asynchronous: the connection waits,
 * bytes of pipelined requests are held (up to REST_MAX_PIPELINED_BYTES) and
 * parsed after the response, so responses keep the request order. The
 * connection stays open when the client allows it (HTTP/1.1 without
 * `Connection: close`, HTTP/1.0 with keep-alive), except while the server
 * drains or when more than REST_MAX_PIPELINED_BYTES were pipelined.
 */
#ifndef RINGPAD_REST_H
#define RINGPAD_REST_H

#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conn;

/* Bytes of pipelined requests held while a call waits for its answer. */
#define REST_MAX_PIPELINED_BYTES (64u * 1024u)

/* The target is under /api/. */
bool rest_matches(const http_request *req);

/* Starts a call on c (the head is parsed; a body may follow). Always takes
 * the request: errors are answered. */
void rest_begin(struct conn *c, const http_request *req);

/* Bytes after the head while a call is active: body bytes are collected,
 * anything after is held for later. Returns the bytes consumed (always len). */
size_t rest_feed(struct conn *c, const uint8_t *data, size_t len);

struct rest_response;
/* Sends one complete REST response on c; closes after it unless keep_alive. */
void rest_respond(struct conn *c, bool keep_alive, const struct rest_response *r);

/* The connection closes: forget the call (a late answer is dropped). */
void rest_abort(struct conn *c);

#endif /* RINGPAD_REST_H */
