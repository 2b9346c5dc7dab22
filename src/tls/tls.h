/*
 * TLS termination with wolfSSL, without sockets: wolfSSL never touches a file
 * descriptor. Ciphertext comes in from the ring's receive completions
 * (tls_conn_input) and goes out as an rbuf that the connection queues and the
 * ring sends (tls_conn_take_output). The custom I/O callbacks hand wolfSSL the
 * bytes of the current input call and append what it writes to the output
 * buffer; with nothing left to read they answer WANT_READ, so nothing blocks
 * and the handshake advances one completion at a time.
 *
 * tls_server: the process-wide context (certificate chain, key, minimum
 * version, ALPN http/1.1, session tickets, cipher list). tls_server_reload
 * builds a new context from the files and swaps it in for new connections
 * only; connections already open keep the context they started with (wolfSSL
 * reference-counts it). A bad file keeps the old context.
 *
 * tls_client: a client context (trust, server name, versions, ALPN offer) for
 * the load generator and the server's own load-time self test. Its sessions
 * are tls_conn too, started with tls_conn_start: one implementation of the
 * I/O callbacks, read loop, write and shutdown serves both sides.
 *
 * tls_conn: one connection's session; used by its worker thread only.
 */
#ifndef RINGPAD_TLS_H
#define RINGPAD_TLS_H

#include "base/rbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TLS_PATH_MAX_BYTES 1024
/* Certificate chains and keys larger than this are refused (files are read whole). */
#define TLS_PEM_MAX_BYTES (1024u * 1024u)
/* Plaintext decrypted per wolfSSL_read call: one full record. */
#define TLS_PLAIN_CHUNK_BYTES 16384u
/* Ciphertext a session may hold before it is taken. The connection's send-queue
 * limit is the real bound (a seal encrypts at most the queued plaintext); past
 * this the connection is dropped as a slow consumer. */
#define TLS_OUT_MAX_BYTES (1024u * 1024u * 1024u)
/* Bound on record overhead (header, IV, MAC or tag, padding) used to size output. */
#define TLS_RECORD_OVERHEAD_MAX_BYTES 128u
/* Longest server name (SNI, certificate check) a client context takes. */
#define TLS_SERVER_NAME_MAX_BYTES 255u
/* The application protocol offered in ALPN. */
#define TLS_ALPN_HTTP11 "http/1.1"

typedef enum tls_version {
    TLS_V12 = 12,
    TLS_V13 = 13,
} tls_version;

typedef enum tls_status {
    TLS_OK = 0,
    TLS_PEER_CLOSED = 1,            /* close_notify received: no more plaintext */
    TLS_ERR_NOMEM = -12,            /* -ENOMEM */
    TLS_ERR_IO = -5,                /* a file could not be read (-EIO) */
    TLS_ERR_CONFIG = -7001,         /* certificate/key/version rejected */
    TLS_ERR_HANDSHAKE = -7002,      /* handshake failed: tls_conn_error_str says why */
    TLS_ERR_PROTOCOL = -7003,       /* a record after the handshake was bad */
    TLS_ERR_OUTPUT_FULL = -7004,    /* more than TLS_OUT_MAX_BYTES waiting to be taken */
    TLS_ERR_STATE = -7005,          /* the session already failed or was shut down */
} tls_status;

const char *tls_status_str(int status);

/* "1.2" / "1.3" -> TLS_V12 / TLS_V13; -1 otherwise. */
int tls_version_parse(const char *text);

typedef struct tls_options {
    char cert_path[TLS_PATH_MAX_BYTES];  /* PEM: the leaf first, then intermediates */
    char key_path[TLS_PATH_MAX_BYTES];   /* PEM private key (RSA or EC) */
    int min_version;                     /* tls_version */
} tls_options;

typedef struct tls_server tls_server;

/* Initialises wolfSSL once per process (thread-safe, idempotent). */
int tls_library_init(void);

/* Frees the calling thread's wolfCrypt caches (ECC fixed-point tables);
 * call at the end of every thread that did handshakes. */
void tls_thread_exit(void);

/*
 * Loads the certificate chain and key and builds the first context. On error
 * returns a tls_status and writes one line into `err` (which file, wolfSSL's
 * reason).
 */
int tls_server_new(const tls_options *opts, tls_server **out, char *err, size_t err_len);

/*
 * Reads the files again and swaps the new context in for connections opened
 * from now on. On error the old context stays and `err` says why. Thread-safe
 * against tls_conn_new on other threads.
 */
int tls_server_reload(tls_server *s, char *err, size_t err_len);

/* Successful loads so far (1 after tls_server_new). */
uint64_t tls_server_generation(tls_server *s);

/* Frees the server's reference; open sessions keep their context alive. */
void tls_server_free(tls_server *s);

typedef struct tls_conn tls_conn;

/* A server-side session on the current context; NULL when memory is short. */
tls_conn *tls_conn_new(tls_server *s);
void tls_conn_free(tls_conn *t);

typedef struct tls_client_options {
    int min_version;          /* tls_version; 0 = TLS_V12 */
    int max_version;          /* tls_version; 0 = TLS_V13 */
    const char *ca_path;      /* PEM CA file to verify the server; NULL = no verification */
    const char *server_name;  /* sent as SNI (not for an IP literal) and checked against the
                               * certificate when verifying; NULL = neither */
    const char *alpn;         /* protocol offered in ALPN (a mismatch is not fatal); NULL = none */
} tls_client_options;

typedef struct tls_client tls_client;
typedef struct tls_session tls_session;   /* a resumable session (a WOLFSSL_SESSION) */

/* Builds a client context; shared by threads. On error returns a tls_status
 * (TLS_ERR_CONFIG for versions, name or CA file) and `err` says why. */
int tls_client_new(const tls_client_options *opts, tls_client **out, char *err, size_t err_len);
void tls_client_free(tls_client *c);

/* A client session; `resume` (may be NULL) is offered for resumption (one
 * that no longer fits just means a full handshake). NULL when memory is short.
 * Nothing happens until tls_conn_start. */
tls_conn *tls_conn_new_client(tls_client *c, tls_session *resume);

/* Client sessions: writes the ClientHello into the output. Once, before any
 * tls_conn_input; TLS_ERR_STATE on a second call or a server session. */
int tls_conn_start(tls_conn *t);

/* Client sessions: a session to resume from later, once the server sent what
 * resumption needs (TLS 1.3: a NewSessionTicket, after the handshake); NULL
 * before that. Free with tls_session_free. */
tls_session *tls_conn_get_session(tls_conn *t);
void tls_session_free(tls_session *s);

/* Bounds the ciphertext the session holds (default TLS_OUT_MAX_BYTES; never
 * above it). A caller that keeps taken output until it is sent lowers it by
 * what it still holds, so both together stay within its own bound. */
void tls_conn_set_output_limit(tls_conn *t, size_t max_bytes);

/*
 * Called with every plaintext chunk in order. Returns 0 to go on, non-zero
 * to stop (the connection closed): the rest of the input is dropped.
 */
typedef int (*tls_plain_sink)(void *arg, uint8_t *plain, size_t len);

/*
 * Feeds ciphertext received from the peer (a client session: after
 * tls_conn_start, else TLS_ERR_STATE), drives the handshake and passes
 * any plaintext to `sink`. Everything wolfSSL wants to send in answer
 * (handshake flights, tickets, alerts) is appended to the output. Returns
 * TLS_OK (wants more input), TLS_PEER_CLOSED, or an error (the session is
 * dead; the output may hold an alert worth sending before the close).
 */
int tls_conn_input(tls_conn *t, const uint8_t *cipher, size_t len, tls_plain_sink sink, void *arg);

/*
 * Encrypts plaintext into the output as full-size records. `parts` are
 * written as one stream: many small pieces become as few records as the
 * total allows. Only after the handshake. Returns TLS_OK or an error.
 */
typedef struct tls_piece {
    const uint8_t *ptr;
    size_t len;
} tls_piece;
int tls_conn_write(tls_conn *t, const tls_piece *parts, size_t count_parts);

/* Appends a close_notify alert (once). */
int tls_conn_shutdown(tls_conn *t);

/* Ciphertext waiting to be sent, in bytes. */
size_t tls_conn_output_bytes(const tls_conn *t);

/* Hands over the ciphertext produced so far (the caller owns the reference);
 * NULL when there is none. */
rbuf *tls_conn_take_output(tls_conn *t);

bool tls_conn_handshake_done(const tls_conn *t);
bool tls_conn_failed(const tls_conn *t);
bool tls_conn_session_reused(const tls_conn *t);

/* The negotiated version ("TLSv1.3"), cipher suite name and ALPN protocol
 * (NULL when none was agreed). Valid after the handshake. */
const char *tls_conn_version_str(const tls_conn *t);
const char *tls_conn_cipher_str(const tls_conn *t);
const char *tls_conn_alpn(const tls_conn *t);

/* wolfSSL's reason for the failure ("" when none). */
const char *tls_conn_error_str(const tls_conn *t);

#endif /* RINGPAD_TLS_H */
