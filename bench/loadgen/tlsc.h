/*
 * The load generator's TLS client: a thin adapter over the server's session
 * layer (src/tls/tls.h, its client role), so one implementation of the wolfSSL
 * I/O callbacks, read loop, write and shutdown serves both sides. What it adds
 * is the loop's send discipline: the output is double-buffered. lg_tls_flight
 * hands out a buffer (taken from the session) that stays put while its send is
 * in flight, and new output collects in the session meanwhile, so nothing
 * moves under the kernel.
 *
 * lg_tls_ctx: one client context (version, trust, SNI/ALPN), shared by the
 * threads (wolfSSL_new on a context is thread-safe).
 * lg_tls: one connection's session, used by one thread.
 */
#ifndef RINGPAD_LG_TLSC_H
#define RINGPAD_LG_TLSC_H

#include "tls/tls.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plaintext decrypted per wolfSSL_read call: one full record. */
#define LG_TLS_PLAIN_CHUNK_BYTES TLS_PLAIN_CHUNK_BYTES
/* Ciphertext a session may hold (sent and unsent); past this writes fail. It is
 * above the engine's per-connection plaintext bound plus record overhead. */
#define LG_TLS_OUT_MAX_BYTES (16u << 20)
#define LG_TLS_SERVER_NAME_MAX_BYTES TLS_SERVER_NAME_MAX_BYTES
#define LG_TLS_PATH_MAX_BYTES 1024u

/* The session layer's codes (tls_status), under the names the engine uses. */
typedef enum lg_tls_status {
    LG_TLS_OK = TLS_OK,
    LG_TLS_PEER_CLOSED = TLS_PEER_CLOSED,             /* close_notify received */
    LG_TLS_ERR_NOMEM = TLS_ERR_NOMEM,
    LG_TLS_ERR_CONFIG = TLS_ERR_CONFIG,               /* context: version, CA file */
    LG_TLS_ERR_HANDSHAKE = TLS_ERR_HANDSHAKE,         /* lg_tls_error_str says why (wolfSSL's reason) */
    LG_TLS_ERR_PROTOCOL = TLS_ERR_PROTOCOL,           /* a bad record after the handshake */
    LG_TLS_ERR_OUTPUT_FULL = TLS_ERR_OUTPUT_FULL,     /* more than LG_TLS_OUT_MAX_BYTES held */
    LG_TLS_ERR_STATE = TLS_ERR_STATE,                 /* failed, shut down, or handshake not done */
} lg_tls_status;

const char *lg_tls_status_str(int status);

typedef struct lg_tls_options {
    int version;                    /* 12 or 13: that version only (0 = 13) */
    const char *ca_path;            /* PEM CA file to verify the server; NULL = no verification */
    const char *server_name;        /* SNI (skipped for an IP literal) and the name verified; NULL = "localhost" */
} lg_tls_options;

typedef struct lg_tls_ctx lg_tls_ctx;
typedef struct lg_tls lg_tls;
typedef tls_session lg_tls_session;   /* a resumable session */

int lg_tls_ctx_new(const lg_tls_options *o, lg_tls_ctx **out, char *err, size_t err_len);
void lg_tls_ctx_free(lg_tls_ctx *x);

/* A client session; `resume` (may be NULL) is offered for resumption. NULL
 * when memory is short. */
lg_tls *lg_tls_new(lg_tls_ctx *x, lg_tls_session *resume);
void lg_tls_free(lg_tls *t);

/* Writes the ClientHello into the output. Call once, first. */
int lg_tls_start(lg_tls *t);

/* Called with every plaintext chunk in order; non-zero stops (the rest of the
 * input is dropped). */
typedef int (*lg_tls_sink)(void *arg, uint8_t *plain, size_t len);

/*
 * Feeds ciphertext from the server: drives the handshake, passes plaintext to
 * `sink`, appends what wolfSSL answers to the output. Returns LG_TLS_OK (wants
 * more), LG_TLS_PEER_CLOSED, or an error (the session is dead).
 */
int lg_tls_input(lg_tls *t, const uint8_t *cipher, size_t len, lg_tls_sink sink, void *arg);

/* Encrypts plaintext into the output (records of up to 16 KiB). After the
 * handshake only. */
int lg_tls_write(lg_tls *t, const uint8_t *plain, size_t len);

/* Appends a close_notify (once; after the handshake). */
int lg_tls_shutdown(lg_tls *t);

/* The bytes to send next: the unsent rest of the buffer in flight or, when
 * none is, the output collected so far (which becomes the one in flight).
 * Returns their length (0: nothing to send); *p stays valid until
 * lg_tls_sent has covered them. */
size_t lg_tls_flight(lg_tls *t, const uint8_t **p);
/* n bytes of the flight were sent. */
void lg_tls_sent(lg_tls *t, size_t n);
/* Ciphertext not yet sent (in flight or collecting). */
size_t lg_tls_unsent_bytes(const lg_tls *t);

bool lg_tls_handshake_done(const lg_tls *t);
bool lg_tls_failed(const lg_tls *t);
bool lg_tls_session_reused(const lg_tls *t);
const char *lg_tls_version_str(const lg_tls *t);
const char *lg_tls_cipher_str(const lg_tls *t);
/* The agreed ALPN protocol, or NULL. */
const char *lg_tls_alpn(const lg_tls *t);
const char *lg_tls_error_str(const lg_tls *t);

/* A session to resume from later, once the server sent what resumption needs
 * (TLS 1.3: a NewSessionTicket, after the handshake); NULL before that. */
lg_tls_session *lg_tls_get_session(lg_tls *t);
void lg_tls_session_free(lg_tls_session *s);

#endif
