/*
 * Server side of the RFC 6455 opening handshake.
 *
 * Header lookups are local (not http_find_header) because a request may carry
 * a header several times and the rules here differ per header: exactly one
 * Sec-WebSocket-Key / -Version, token lists merged across Connection,
 * Upgrade, Sec-WebSocket-Protocol and Sec-WebSocket-Extensions.
 */
#include "ws/ws_handshake.h"

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/coding.h>
#include <wolfssl/wolfcrypt/sha.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_KEY_CHARS 24                 /* base64 of 16 bytes */
#define WS_KEY_BYTES 16

static bool name_is(const http_header *h, const char *name) {
    return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

static size_t count_headers(const http_request *req, const char *name, const http_header **first) {
    size_t n = 0;
    *first = NULL;
    for (size_t i = 0; i < req->count_headers; i++) {
        if (name_is(&req->headers[i], name)) {
            if (n == 0)
                *first = &req->headers[i];
            n++;
        }
    }
    return n;
}

/* Does the comma-separated `value` hold `token` (OWS around elements)? */
static bool list_has(const char *value, size_t len, const char *token, bool ignore_case) {
    size_t token_len = strlen(token);
    size_t i = 0;
    while (i < len) {
        while (i < len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end - start == token_len &&
            (ignore_case ? strncasecmp(value + start, token, token_len)
                         : strncmp(value + start, token, token_len)) == 0)
            return true;
    }
    return false;
}

static bool any_header_has(const http_request *req, const char *name, const char *token,
                           bool ignore_case) {
    for (size_t i = 0; i < req->count_headers; i++) {
        const http_header *h = &req->headers[i];
        if (name_is(h, name) && list_has(h->value, h->value_len, token, ignore_case))
            return true;
    }
    return false;
}

static bool key_is_valid(const char *key, size_t len) {
    if (len != WS_KEY_CHARS || key[22] != '=' || key[23] != '=')
        return false;
    for (size_t i = 0; i < 22; i++) {
        char c = key[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return false;
    }
    byte raw[WS_KEY_BYTES + 2];
    word32 raw_len = sizeof raw;
    if (Base64_Decode((const byte *)key, (word32)len, raw, &raw_len) != 0)
        return false;
    return raw_len == WS_KEY_BYTES;
}

int ws_handshake_accept_key(const char *key, size_t key_len, char out[WS_ACCEPT_CHARS + 1]) {
    wc_Sha sha;
    byte digest[WC_SHA_DIGEST_SIZE];
    if (wc_InitSha(&sha) != 0)
        return -EIO;
    int rc = wc_ShaUpdate(&sha, (const byte *)key, (word32)key_len);
    if (rc == 0)
        rc = wc_ShaUpdate(&sha, (const byte *)WS_GUID, (word32)strlen(WS_GUID));
    if (rc == 0)
        rc = wc_ShaFinal(&sha, digest);
    wc_ShaFree(&sha);
    if (rc != 0)
        return -EIO;
    word32 out_len = WS_ACCEPT_CHARS + 1;
    if (Base64_Encode_NoNl(digest, sizeof digest, (byte *)out, &out_len) != 0 ||
        out_len != WS_ACCEPT_CHARS)
        return -EIO;
    out[WS_ACCEPT_CHARS] = '\0';
    return 0;
}

static int reject(ws_handshake_result *res, int status, const char *reason) {
    res->status = status;
    res->reason = reason;
    return -status;
}

static bool origin_allowed(const http_header *origin, const ws_handshake_config *cfg) {
    if (cfg->count_allowed_origins == 0)
        return true;
    /* A list is a promise about who may connect; a client that leaves the
     * header out (any non-browser one) would walk past it. */
    if (origin == NULL)
        return false;
    for (size_t i = 0; i < cfg->count_allowed_origins; i++) {
        const char *allowed = cfg->allowed_origins[i];
        if (strlen(allowed) == origin->value_len &&
            memcmp(allowed, origin->value, origin->value_len) == 0)
            return true;
    }
    return false;
}

int ws_handshake_check(const http_request *req, const ws_handshake_config *cfg,
                       ws_handshake_result *res) {
    memset(res, 0, sizeof *res);
    const http_header *h;
    if (req->method_len != 3 || memcmp(req->method, "GET", 3) != 0)
        return reject(res, 405, "websocket upgrade needs GET");
    if (req->minor_version < 1)
        return reject(res, 400, "websocket upgrade needs HTTP/1.1");
    if ((req->has_content_length && req->content_length > 0) || req->chunked)
        return reject(res, 400, "websocket upgrade with a body");
    if (count_headers(req, "Host", &h) != 1)
        return reject(res, 400, "missing or repeated Host");
    if (!any_header_has(req, "Upgrade", "websocket", true))
        return reject(res, 400, "Upgrade: websocket missing");
    if (!any_header_has(req, "Connection", "upgrade", true))
        return reject(res, 400, "Connection: upgrade missing");

    if (count_headers(req, "Sec-WebSocket-Version", &h) != 1 || h->value_len != 2 ||
        memcmp(h->value, "13", 2) != 0)
        return reject(res, 426, "Sec-WebSocket-Version must be 13");

    const http_header *key;
    if (count_headers(req, "Sec-WebSocket-Key", &key) != 1 ||
        !key_is_valid(key->value, key->value_len))
        return reject(res, 400, "Sec-WebSocket-Key must be base64 of 16 bytes");

    const http_header *origin;
    if (count_headers(req, "Origin", &origin) > 1)
        return reject(res, 400, "repeated Origin");
    if (!origin_allowed(origin, cfg))
        return reject(res, 403, origin == NULL ? "an Origin header is required (--allowed-origins is set)"
                                               : "origin not allowed");

    res->subprotocol = any_header_has(req, "Sec-WebSocket-Protocol",
                                      WS_HANDSHAKE_SUBPROTOCOL, false);
    for (size_t i = 0; i < req->count_headers && !res->deflate; i++) {
        h = &req->headers[i];
        if (name_is(h, "Sec-WebSocket-Extensions"))
            res->deflate = pmd_negotiate(h->value, h->value_len, &cfg->deflate,
                                         &res->deflate_params) == 1;
    }
    if (ws_handshake_accept_key(key->value, key->value_len, res->accept) != 0)
        return reject(res, 400, "cannot compute Sec-WebSocket-Accept");
    res->status = 101;
    res->reason = "Switching Protocols";
    return 0;
}

int ws_handshake_write_response(const ws_handshake_result *res, char *out, size_t cap) {
    /* The longest answer (every parameter with a value) is 128 characters. */
    char ext[320] = "";
    if (res->deflate) {
        char value[256];
        if (pmd_format_response(&res->deflate_params, value, sizeof value) < 0)
            return -ENOBUFS;
        snprintf(ext, sizeof ext, "Sec-WebSocket-Extensions: %s\r\n", value);
    }
    int n = snprintf(out, cap,
                     "HTTP/1.1 101 Switching Protocols\r\n"
                     "Upgrade: websocket\r\n"
                     "Connection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n"
                     "%s%s"
                     "\r\n",
                     res->accept,
                     res->subprotocol ? "Sec-WebSocket-Protocol: " WS_HANDSHAKE_SUBPROTOCOL "\r\n"
                                      : "",
                     ext);
    if (n < 0 || (size_t)n >= cap)
        return -ENOBUFS;
    return n;
}

static const char *status_text(int status) {
    switch (status) {
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 426: return "Upgrade Required";
    default: return "Error";
    }
}

int ws_handshake_write_error(const ws_handshake_result *res, char *out, size_t cap) {
    const char *reason = res->reason ? res->reason : "";
    int n = snprintf(out, cap,
                     "HTTP/1.1 %d %s\r\n"
                     "%s"
                     "Connection: close\r\n"
                     "Content-Type: text/plain\r\n"
                     "Content-Length: %zu\r\n"
                     "\r\n"
                     "%s\n",
                     res->status, status_text(res->status),
                     res->status == 426 ? "Sec-WebSocket-Version: 13\r\n"
                     : res->status == 405 ? "Allow: GET\r\n" : "",
                     strlen(reason) + 1, reason);
    if (n < 0 || (size_t)n >= cap)
        return -ENOBUFS;
    return n;
}
