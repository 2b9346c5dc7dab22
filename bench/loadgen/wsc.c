#include "wsc.h"

#include "ws/ws.h"
#include "ws/ws_handshake.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>

#include <stdio.h>
#include <string.h>
#include <strings.h>

const char *lg_wsc_err_str(int err) {
    switch (err) {
    case LG_WSC_ERR_NOBUFS: return "buffer too small";
    case LG_WSC_ERR_TOO_LONG: return "handshake response head too long";
    case LG_WSC_ERR_STATUS: return "handshake status is not 101";
    case LG_WSC_ERR_UPGRADE: return "handshake response without Upgrade: websocket";
    case LG_WSC_ERR_CONNECTION: return "handshake response without Connection: upgrade";
    case LG_WSC_ERR_ACCEPT: return "Sec-WebSocket-Accept missing or wrong";
    case LG_WSC_ERR_PROTOCOL: return "subprotocol not selected by the server";
    case LG_WSC_ERR_EXTENSION: return "server selected an extension we did not offer";
    case LG_WSC_ERR_CRYPTO: return "base64/sha1 failed";
    default: return "unknown error";
    }
}

int lg_wsc_make_key(const uint8_t random16[16], char key[LG_WSC_KEY_CHARS + 1]) {
    word32 out_len = LG_WSC_KEY_CHARS + 1;
    if (Base64_Encode_NoNl(random16, 16, (byte *)key, &out_len) != 0 || out_len != LG_WSC_KEY_CHARS)
        return LG_WSC_ERR_CRYPTO;
    key[LG_WSC_KEY_CHARS] = '\0';
    return 0;
}

int lg_wsc_write_request(char *out, size_t cap, const char *host, uint16_t port,
                         const char *path, const char *key, const char *subprotocol) {
    int n = snprintf(out, cap,
                     "GET %s HTTP/1.1\r\n"
                     "Host: %s:%u\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\n"
                     "%s%s%s"
                     "\r\n",
                     path, host, (unsigned)port, key, subprotocol ? "Sec-WebSocket-Protocol: " : "",
                     subprotocol ? subprotocol : "", subprotocol ? "\r\n" : "");
    if (n < 0 || (size_t)n >= cap) return LG_WSC_ERR_NOBUFS;
    return n;
}

/* Does a comma-separated header value contain `token` (case-insensitive)? */
static bool list_has_token(const char *v, size_t len, const char *token) {
    size_t tl = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ',')) i++;
        size_t s = i;
        while (i < len && v[i] != ',') i++;
        size_t e = i;
        while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t')) e--;
        if (e - s == tl && strncasecmp(v + s, token, tl) == 0) return true;
    }
    return false;
}

int lg_wsc_parse_response(const char *buf, size_t len, const char *key,
                          const char *subprotocol, int *status) {
    const char *end = memmem(buf, len, "\r\n\r\n", 4);
    if (end == NULL) return len > LG_WSC_MAX_RESPONSE_BYTES ? LG_WSC_ERR_TOO_LONG : 0;
    size_t head_len = (size_t)(end - buf) + 4;
    if (head_len > LG_WSC_MAX_RESPONSE_BYTES) return LG_WSC_ERR_TOO_LONG;
    if (status) *status = 0;
    if (head_len < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0) return LG_WSC_ERR_STATUS;
    int code = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (status) *status = code;
    if (code != 101) return LG_WSC_ERR_STATUS;

    char want_accept[WS_ACCEPT_CHARS + 1];
    if (ws_handshake_accept_key(key, strlen(key), want_accept) != 0) return LG_WSC_ERR_CRYPTO;
    bool upgrade = false, connection = false, accept = false, proto = subprotocol == NULL;
    const char *p = memchr(buf, '\n', head_len) + 1;
    const char *stop = buf + head_len - 2;
    while (p < stop) {
        const char *eol = memmem(p, (size_t)(stop - p) + 2, "\r\n", 2);
        if (eol == NULL) break;
        const char *colon = memchr(p, ':', (size_t)(eol - p));
        if (colon != NULL) {
            size_t name_len = (size_t)(colon - p);
            const char *v = colon + 1;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t')) ve--;
            size_t vl = (size_t)(ve - v);
#define IS(name) (name_len == sizeof(name) - 1 && strncasecmp(p, name, name_len) == 0)
            if (IS("Upgrade")) upgrade = list_has_token(v, vl, "websocket");
            else if (IS("Connection")) connection = list_has_token(v, vl, "upgrade");
            else if (IS("Sec-WebSocket-Accept"))
                accept = vl == WS_ACCEPT_CHARS && memcmp(v, want_accept, vl) == 0;
            else if (IS("Sec-WebSocket-Protocol"))
                proto = subprotocol != NULL && vl == strlen(subprotocol) && memcmp(v, subprotocol, vl) == 0;
            else if (IS("Sec-WebSocket-Extensions") && vl > 0)
                return LG_WSC_ERR_EXTENSION;
#undef IS
        }
        p = eol + 2;
    }
    if (!upgrade) return LG_WSC_ERR_UPGRADE;
    if (!connection) return LG_WSC_ERR_CONNECTION;
    if (!accept) return LG_WSC_ERR_ACCEPT;
    if (!proto) return LG_WSC_ERR_PROTOCOL;
    return (int)head_len;
}

size_t lg_wsc_encode_header(uint8_t *out, bool fin, uint8_t opcode, uint64_t len,
                            const uint8_t mask[4]) {
    return ws_encode_frame_header(out, fin, opcode, false, len, mask);
}

void lg_wsc_mask_payload(uint8_t *payload, size_t len, const uint8_t mask[4]) {
    ws_mask(payload, len, mask, 0);
}

int64_t lg_wsc_encode(uint8_t *out, size_t cap, uint8_t opcode, const void *payload,
                      size_t len, const uint8_t mask[4]) {
    int64_t n = ws_encode_frame(out, cap, true, opcode, false, payload, len, mask);
    return n < 0 ? LG_WSC_ERR_NOBUFS : n;
}
