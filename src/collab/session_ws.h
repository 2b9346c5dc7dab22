/*
 * The WebSocket connection as a session's sink: a /ws connection's session
 * writes its frames to the connection's send queue and closes it with a
 * close frame.
 */
#ifndef RINGPAD_SESSION_WS_H
#define RINGPAD_SESSION_WS_H

#include "ws/conn_ws.h"

/* The document sessions as the application of /ws connections
 * (server_shared.ws_app): each connection's session writes to it. */
extern const conn_ws_app session_ws_app;

#endif /* RINGPAD_SESSION_WS_H */
