/*
 * The TLS half of a connection (conn.c is transport, conn_ws.c WebSocket):
 * received ciphertext goes through the session before HTTP/WebSocket parsing,
 * and at flush time everything queued as plaintext is sealed into one
 * ciphertext entry at the head of the send queue (cork: as few records as the
 * bytes allow, one send). The queue then holds [sealed][plaintext queued
 * since]; only the sealed entry is sent, and the next seal happens once it
 * has gone out completely, so TLS bytes never interleave with plaintext.
 */
#ifndef RINGPAD_CONN_TLS_H
#define RINGPAD_CONN_TLS_H

#include "io/conn.h"
#include "io/shared.h"

/* Body of the 400 sent in plaintext to a plaintext HTTP request on the TLS port. */
#define CONN_TLS_PLAINTEXT_BODY "This port speaks TLS: use https:// or wss://\n"

/* Starts a session when the server has TLS on (c is zeroed, before anything
 * else). Returns 0 (also without TLS) or -ENOMEM. */
int conn_tls_open(conn *c, const server_shared *s);

/* Ciphertext received: handshake progress, plaintext to conn_on_plain_data,
 * failures counted, logged and closed. May close the connection. */
void conn_tls_on_data(conn *c, const uint8_t *data, size_t len);

/* Called by conn_flush with nothing in flight: seals the queued plaintext
 * (and a close_notify when draining). Returns 0, or -1 after closing the
 * connection. */
int conn_tls_seal(conn *c);

/* Frees the session (idempotent). */
void conn_tls_free(conn *c);

/* The four above as a connection's filter (server_shared.filter with TLS on). */
extern const conn_filter conn_tls_filter;

#endif /* RINGPAD_CONN_TLS_H */
