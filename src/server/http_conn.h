/*
 * The HTTP handler of a connection (requests, REST calls, the upgrade to a
 * WebSocket). Installed on every accepted connection by the server.
 */
#ifndef RINGPAD_HTTP_CONN_H
#define RINGPAD_HTTP_CONN_H

#include "io/conn.h"

extern const conn_handler http_conn_handler;

#endif /* RINGPAD_HTTP_CONN_H */
