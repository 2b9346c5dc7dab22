/*
 * A connection serving a document's live events as Server-Sent Events
 * (collab/events.c is the stream): after the request head it swaps in its
 * own handler. Once the stream starts the connection counts as a long-lived
 * reader like a WebSocket: its streaming table waits on silence
 * (CONN_WAIT_SILENCE), where --ping-interval-ms sends a heartbeat comment
 * instead of a ping, and the send-queue limit
 * (--max-send-queue-bytes) ends a slow reader with an error event.
 */
#ifndef RINGPAD_SSE_CONN_H
#define RINGPAD_SSE_CONN_H

#include "http/http.h"
#include "io/conn.h"

/* Takes GET /api/docs/{name}/events (events_matches): answers a refusal
 * as JSON, or streams until either side ends. */
void sse_conn_begin(conn *c, const http_request *req);

extern const conn_handler sse_conn_handler;

#endif /* RINGPAD_SSE_CONN_H */
