/*
 * The load generator's WebSocket client side (RFC 6455), no I/O:
 *  - the opening handshake: a request with a fresh Sec-WebSocket-Key, and the
 *    server's 101 response checked (status, Upgrade, Connection, the
 *    Sec-WebSocket-Accept derived from our key, the subprotocol if asked);
 *  - masked client frames (src/ws/ws.h's header encoder and ws_mask).
 * Server frames are read with src/ws/ws.h's ws_reader configured for the client
 * role (expect_masked = false), which also reassembles fragments.
 */
#ifndef RINGPAD_LG_WSC_H
#define RINGPAD_LG_WSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LG_WSC_KEY_CHARS 24                 /* base64 of 16 random bytes */
#define LG_WSC_MAX_RESPONSE_BYTES 4096      /* a 101 response head longer than this is refused */
#define LG_WSC_MAX_FRAME_HEADER_BYTES 14

typedef enum lg_wsc_err {
    LG_WSC_ERR_NOBUFS = -1,             /* output buffer too small */
    LG_WSC_ERR_TOO_LONG = -2,           /* response head over LG_WSC_MAX_RESPONSE_BYTES */
    LG_WSC_ERR_STATUS = -3,             /* not "HTTP/1.1 101" */
    LG_WSC_ERR_UPGRADE = -4,            /* Upgrade: websocket missing */
    LG_WSC_ERR_CONNECTION = -5,         /* Connection: upgrade missing */
    LG_WSC_ERR_ACCEPT = -6,             /* Sec-WebSocket-Accept missing or wrong */
    LG_WSC_ERR_PROTOCOL = -7,           /* asked subprotocol not selected */
    LG_WSC_ERR_EXTENSION = -8,          /* an extension we did not offer */
    LG_WSC_ERR_CRYPTO = -9,
} lg_wsc_err;

const char *lg_wsc_err_str(int err);

/* Base64 of 16 bytes taken from `random16` into key (24 chars + NUL). */
int lg_wsc_make_key(const uint8_t random16[16], char key[LG_WSC_KEY_CHARS + 1]);

/* The upgrade request. `subprotocol` may be NULL. Returns its length or
 * LG_WSC_ERR_NOBUFS. */
int lg_wsc_write_request(char *out, size_t cap, const char *host, uint16_t port,
                         const char *path, const char *key, const char *subprotocol);

/* Checks the response head in buf[0..len). Returns the head's length in bytes
 * (data after it are WebSocket frames), 0 when the head is not complete yet,
 * or a negative lg_wsc_err. `status` (may be NULL) gets the status code. */
int lg_wsc_parse_response(const char *buf, size_t len, const char *key,
                          const char *subprotocol, int *status);

/* One whole masked client frame (FIN set) into out. Returns its length or
 * LG_WSC_ERR_NOBUFS. */
int64_t lg_wsc_encode(uint8_t *out, size_t cap, uint8_t opcode, const void *payload,
                      size_t len, const uint8_t mask[4]);

/* A masked frame header for a payload the caller writes right after it and
 * then masks with lg_wsc_mask_payload (lets a message be built in place). */
size_t lg_wsc_encode_header(uint8_t *out, bool fin, uint8_t opcode, uint64_t len,
                            const uint8_t mask[4]);
void lg_wsc_mask_payload(uint8_t *payload, size_t len, const uint8_t mask[4]);

#endif
