/*
 * The WebSocket half of a connection (conn.c is the HTTP and transport half):
 * upgrade, message handling per endpoint, heartbeats, close handshake,
 * per-connection rate limit.
 */
#ifndef RINGPAD_CONN_WS_H
#define RINGPAD_CONN_WS_H

#include "io/conn.h"
#include "http/http.h"

/* What the messages of a /ws connection go to (the document sessions),
 * installed by the server as server_shared.ws_app. */
typedef struct conn_ws_app {
    void *(*open)(conn *c);                                  /* NULL: no memory (closed) */
    void (*on_text)(void *session, const uint8_t *data, size_t len);
    void (*close)(void *session);
} conn_ws_app;

/* A WebSocket connection's handler, installed by conn_ws_upgrade. */
extern const conn_handler conn_ws_handler;

/* Validates the upgrade at `endpoint` and installs conn_ws_handler, or answers
 * the handshake error and closes after it. */
void conn_ws_upgrade(conn *c, const http_request *req, int endpoint);

/* Bytes for an open (or closing) WebSocket. */
void conn_ws_on_data(conn *c, uint8_t *data, size_t len);

/* Sends a close frame (once) and marks the conn as closing. */
void conn_ws_send_close(conn *c, uint16_t code, const char *reason);

/* Queues `frame`, a complete unmasked data frame encoded once for any number
 * of receivers (broadcasts, session replies), and counts it as a frame and a
 * message sent. Returns conn_send's result. */
int conn_ws_send_frame(conn *c, rbuf *frame);

/* Heartbeat ping (empty payload). */
void conn_ws_send_ping(conn *c);

/* Frees the WebSocket state (reader, zlib streams). */
void conn_ws_free(conn *c);

/* Text sent once to a client over --max-messages-per-sec. */
#define CONN_WS_RATE_LIMIT_TEXT "{\"type\":\"error\",\"code\":\"rate_limited\",\"message\":\"too many messages per second\"}"

#endif /* RINGPAD_CONN_WS_H */
