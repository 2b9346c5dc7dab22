/*
 * The WebSocket opening handshake (RFC 6455 4.2), server side: validates an
 * upgrade request parsed by http_parse_request and writes the 101 response
 * (or the error response) into a caller buffer. No allocation.
 *
 * Decisions:
 *  - A request without Origin is allowed even with an allow-list: browsers
 *    always send Origin, non-browser clients (load generators, CLIs) send none,
 *    and the allow-list exists to stop cross-site browser pages.
 *  - Non-GET -> 405, not HTTP/1.1 / missing Host / body / bad Upgrade,
 *    Connection or key -> 400, Origin not allowed -> 403, Sec-WebSocket-Version
 *    missing or not 13 -> 426 (the response carries Sec-WebSocket-Version: 13).
 *  - Subprotocol names compare case-sensitively (they are opaque tokens); a
 *    client that offers others but not ringpad.v1 gets no Sec-WebSocket-Protocol
 *    and decides itself whether to go on.
 */
#ifndef RINGPAD_WS_HANDSHAKE_H
#define RINGPAD_WS_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>

#include "ws/deflate.h"
#include "http/http.h"

#define WS_HANDSHAKE_SUBPROTOCOL "ringpad.v1"
#define WS_ACCEPT_CHARS 28              /* base64 of a 20-byte SHA-1 */
#define WS_HANDSHAKE_MAX_RESPONSE_BYTES 512   /* enough for any response we write */

typedef struct ws_handshake_config {
    const char *const *allowed_origins; /* exact matches; count 0: any origin */
    size_t count_allowed_origins;
    pmd_config deflate;                 /* deflate.enable = false: never negotiated */
} ws_handshake_config;

typedef struct ws_handshake_result {
    int status;                         /* 101, or 400 / 403 / 405 / 426 */
    const char *reason;                 /* static text: logs and the error body */
    char accept[WS_ACCEPT_CHARS + 1];   /* Sec-WebSocket-Accept, NUL-terminated */
    bool subprotocol;                   /* ringpad.v1 selected */
    bool deflate;                       /* permessage-deflate negotiated */
    pmd_params deflate_params;
} ws_handshake_result;

/* Validates the upgrade. Returns 0 (res->status 101) or -status (-400, -403,
 * -405, -426) with res->reason set. */
int ws_handshake_check(const http_request *req, const ws_handshake_config *cfg,
                       ws_handshake_result *res);

/* The 101 response head for a successful check into `out`. Returns its length,
 * or -ENOBUFS. */
int ws_handshake_write_response(const ws_handshake_result *res, char *out, size_t cap);

/* The error response for a failed check (status line, Connection: close,
 * Sec-WebSocket-Version: 13 for 426, Allow: GET for 405, reason as a
 * text/plain body). Returns its length, or -ENOBUFS. */
int ws_handshake_write_error(const ws_handshake_result *res, char *out, size_t cap);

/* base64(SHA-1(key + RFC 6455 GUID)) into out (28 chars + NUL). 0 or -EIO. */
int ws_handshake_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_CHARS + 1]);

#endif /* RINGPAD_WS_HANDSHAKE_H */
