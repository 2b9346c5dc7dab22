/*
 * A document's live events for a reader without WebSocket (Server-Sent
 * Events, GET /api/docs/{name}/events), apart from its connection: the head
 * is checked like a REST call (rest_route.c: name, read grant, ?from= or
 * Last-Event-ID), then a waiter key subscribes to the document on its owner
 * exactly like a read-only session's open (a snapshot, or the ops since
 * `from` then synced; then every op, presence and leave). Each frame
 * becomes one event named by its message type, an op's id being its
 * version. The connection side (server/sse_conn.c) is one sink; tests can
 * be another.
 */
#ifndef RINGPAD_EVENTS_H
#define RINGPAD_EVENTS_H

#include "collab/session.h"
#include "http/http.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct events_stream events_stream;

/* Where a stream goes. Before start, refuse may end it with a REST error
 * (status from the code); after start, send carries event bytes and end
 * says the stream is over (after its last event). Nothing follows
 * refuse or end. */
typedef struct events_sink_ops {
    void (*refuse)(void *ctx, const char *code, const char *message);
    void (*start)(void *ctx);
    int (*send)(void *ctx, const char *bytes, size_t len_bytes);
    void (*end)(void *ctx);
} events_sink_ops;

/* GET /api/docs/{name}/events (query ignored): the requests events_open takes. */
bool events_matches(const http_request *req);

/* Checks the head and subscribes; refuse may run before this returns. NULL
 * on no memory (nothing was called). */
events_stream *events_open(session_worker *sw, const http_request *req, const events_sink_ops *ops, void *ctx);

/* The connection is gone (or done): unsubscribes and frees. */
void events_close(events_stream *e);

/* The event for one ringpad.v1 message (json): "event: <type>\n", "id: <v>\n"
 * for an op, "data: <json>\n\n". 0 or -ENOMEM. */
int events_format(ot_buf *out, const char *json, size_t len_bytes);

#endif /* RINGPAD_EVENTS_H */
