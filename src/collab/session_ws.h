/*
 * The WebSocket connection as a session's sink: a /ws connection's session
 * writes its frames to the connection's send queue and closes it with a
 * close frame.
 */
#ifndef RINGPAD_SESSION_WS_H
#define RINGPAD_SESSION_WS_H

struct conn;
struct session;

/* A session on the upgraded /ws connection c (NULL on no memory: close it). */
struct session *session_ws_open(struct conn *c);

#endif /* RINGPAD_SESSION_WS_H */
