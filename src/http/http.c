/*
 * HTTP/1.1 request head parser (see http.h for the contract and the rules).
 *
 * The parser re-scans the buffer from its start on every call. Heads are
 * bounded by max_header_bytes (16 KiB by default), so feeding a head one byte
 * at a time costs at most a few hundred KiB of scanning, and the parser keeps
 * no state between calls: nothing to reset, nothing to get out of sync.
 */
#include "http/http.h"

#include <limits.h>
#include <string.h>

#define HTTP_VERSION_BYTES 8 /* "HTTP/1.1" */

http_limits http_limits_default(void) {
    return (http_limits){
        .max_request_line_bytes = 8 * 1024,
        .max_header_bytes = 16 * 1024,
        .max_header_count = HTTP_MAX_HEADERS,
    };
}

/* tchar from RFC 9110 5.6.2. */
static bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field value octets: VCHAR, obs-text, SP, HTAB. Everything else (NUL, CR, LF,
 * other controls, DEL) is refused so that no consumer ever sees it. */
static bool is_field_vchar(unsigned char c) {
    return c == ' ' || c == '\t' || (c >= 0x21 && c != 0x7f);
}

/* Origin-form target octets: visible ASCII without '#' (a fragment is never
 * sent). Finer rules (escapes, dot segments) belong to path.c. */
static bool is_target_char(unsigned char c) {
    return c >= 0x21 && c <= 0x7e && c != '#';
}

static char lower_ascii(char c) {
    return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool equals_nocase(const char *a, size_t a_len, const char *b) {
    size_t b_len = strlen(b);
    if (a_len != b_len)
        return false;
    for (size_t i = 0; i < a_len; i++)
        if (lower_ascii(a[i]) != lower_ascii(b[i]))
            return false;
    return true;
}

/* Position of the LF ending the line that starts at `from`, or `len` when the
 * line is not complete yet. */
static size_t find_lf(const char *buf, size_t from, size_t len) {
    const char *lf = memchr(buf + from, '\n', len - from);
    return lf ? (size_t)(lf - buf) : len;
}

/* Parses "HTTP/d.d"; 0 on success, else an http_err. */
static int parse_version(const char *v, size_t len, int *minor) {
    if (len != HTTP_VERSION_BYTES || memcmp(v, "HTTP/", 5) != 0 || v[6] != '.')
        return HTTP_ERR_BAD_REQUEST;
    if (v[5] < '0' || v[5] > '9' || v[7] < '0' || v[7] > '9')
        return HTTP_ERR_BAD_REQUEST;
    if (v[5] != '1' || (v[7] != '0' && v[7] != '1'))
        return HTTP_ERR_VERSION;
    *minor = v[7] - '0';
    return 0;
}

/* The request line without its CRLF: method SP target SP version. */
static int parse_request_line(const char *line, size_t len, http_request *req) {
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i]))
        i++;
    if (i == 0 || i == len || line[i] != ' ')
        return HTTP_ERR_BAD_REQUEST;
    req->method = line;
    req->method_len = i;
    i++;

    size_t target_start = i;
    while (i < len && is_target_char((unsigned char)line[i]))
        i++;
    if (i == target_start || i == len || line[i] != ' ' || line[target_start] != '/')
        return HTTP_ERR_BAD_REQUEST;
    req->target = line + target_start;
    req->target_len = i - target_start;
    i++;

    return parse_version(line + i, len - i, &req->minor_version);
}

/* Strict Content-Length: 1*DIGIT, no sign, no list, no overflow. */
static int parse_content_length(const char *v, size_t len, uint64_t *out) {
    if (len == 0)
        return HTTP_ERR_BAD_REQUEST;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (v[i] < '0' || v[i] > '9')
            return HTTP_ERR_BAD_REQUEST;
        unsigned d = (unsigned)(v[i] - '0');
        if (n > (UINT64_MAX - d) / 10)
            return HTTP_ERR_BAD_REQUEST;
        n = n * 10 + d;
    }
    *out = n;
    return 0;
}

/* Framing state gathered over all header lines, judged once the head ends. */
typedef struct framing {
    size_t count_host;
    size_t count_chunked;        /* "chunked" codings over all Transfer-Encoding lines */
    bool has_transfer_encoding;
    bool last_coding_chunked;    /* the final coding seen is "chunked" */
    bool connection_close;
    bool connection_keep_alive;
} framing;

/* Walks the codings of one Transfer-Encoding line. */
static int scan_transfer_encoding(const char *v, size_t len, framing *f) {
    f->has_transfer_encoding = true;
    size_t i = 0;
    bool any = false;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end == start)
            continue;
        any = true;
        /* Parameters (";q=...") make a coding something other than chunked. */
        f->last_coding_chunked = equals_nocase(v + start, end - start, "chunked");
        if (f->last_coding_chunked)
            f->count_chunked++;
    }
    return any ? 0 : HTTP_ERR_BAD_REQUEST;
}

/* One header line without its CRLF. */
static int parse_header_line(const char *line, size_t len, http_request *req, framing *f) {
    size_t i = 0;
    while (i < len && is_tchar((unsigned char)line[i]))
        i++;
    /* No whitespace between name and colon (RFC 9112 5.1: MUST reject). */
    if (i == 0 || i == len || line[i] != ':')
        return HTTP_ERR_BAD_REQUEST;
    size_t name_len = i;
    i++;
    for (size_t k = i; k < len; k++)
        if (!is_field_vchar((unsigned char)line[k]))
            return HTTP_ERR_BAD_REQUEST;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    size_t end = len;
    while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
        end--;

    http_header *h = &req->headers[req->count_headers++];
    h->name = line;
    h->name_len = name_len;
    h->value = line + i;
    h->value_len = end - i;

    if (equals_nocase(h->name, name_len, "content-length")) {
        uint64_t n = 0;
        int rc = parse_content_length(h->value, h->value_len, &n);
        if (rc < 0)
            return rc;
        if (req->has_content_length && req->content_length != n)
            return HTTP_ERR_BAD_REQUEST;
        req->has_content_length = true;
        req->content_length = n;
    } else if (equals_nocase(h->name, name_len, "transfer-encoding")) {
        return scan_transfer_encoding(h->value, h->value_len, f);
    } else if (equals_nocase(h->name, name_len, "host")) {
        f->count_host++;
    } else if (equals_nocase(h->name, name_len, "connection")) {
        if (http_value_has_token(h->value, h->value_len, "close"))
            f->connection_close = true;
        if (http_value_has_token(h->value, h->value_len, "keep-alive"))
            f->connection_keep_alive = true;
    }
    return 0;
}

/* Message framing rules applied once the whole head is known. */
static int finish_head(http_request *req, const framing *f) {
    if (req->minor_version == 1 && f->count_host != 1)
        return HTTP_ERR_BAD_REQUEST;
    if (f->count_host > 1)
        return HTTP_ERR_BAD_REQUEST;
    if (f->has_transfer_encoding) {
        /* Smuggling defences: TE with CL, TE in HTTP/1.0, chunked not last or twice. */
        if (req->has_content_length || req->minor_version == 0)
            return HTTP_ERR_BAD_REQUEST;
        if (f->count_chunked != 1 || !f->last_coding_chunked)
            return HTTP_ERR_BAD_REQUEST;
        req->chunked = true;
    }
    if (f->connection_close)
        req->keep_alive = false;
    else if (req->minor_version == 1)
        req->keep_alive = true;
    else
        req->keep_alive = f->connection_keep_alive;
    return 0;
}

/* Judges an incomplete trailing line [start, len): an error as soon as the
 * bytes present already break a limit or a character rule, else INCOMPLETE. */
static int judge_partial(const char *buf, size_t start, size_t len, bool in_request_line,
                         const http_limits *limits) {
    size_t n = len - start;
    /* A trailing CR may be the first half of the CRLF. */
    size_t content = (n > 0 && buf[len - 1] == '\r') ? n - 1 : n;
    for (size_t k = start; k < start + content; k++)
        if (buf[k] == '\r' || buf[k] == '\0')
            return HTTP_ERR_BAD_REQUEST;
    if (in_request_line && content > limits->max_request_line_bytes)
        return HTTP_ERR_URI_TOO_LONG;
    if (len > limits->max_header_bytes)
        return HTTP_ERR_HEADERS_TOO_LARGE;
    return HTTP_INCOMPLETE;
}

int http_parse_request(const char *buf, size_t len, const http_limits *limits,
                       http_request *req) {
    size_t max_count = limits->max_header_count;
    if (max_count > HTTP_MAX_HEADERS)
        max_count = HTTP_MAX_HEADERS;

    /* Reset everything but the header array (up to 64 entries, filled as parsed). */
    req->method = NULL;
    req->method_len = 0;
    req->target = NULL;
    req->target_len = 0;
    req->minor_version = 0;
    req->count_headers = 0;
    req->head_len_bytes = 0;
    req->content_length = 0;
    req->has_content_length = false;
    req->chunked = false;
    req->keep_alive = false;
    framing f = {0};

    /* RFC 9112 2.2: ignore empty lines before the request line (CRLF only). */
    size_t pos = 0;
    while (pos + 1 < len && buf[pos] == '\r' && buf[pos + 1] == '\n') {
        pos += 2;
        if (pos > limits->max_header_bytes)
            return HTTP_ERR_HEADERS_TOO_LARGE;
    }
    if (pos < len && buf[pos] == '\n')
        return HTTP_ERR_BAD_REQUEST;

    size_t lf = find_lf(buf, pos, len);
    if (lf == len)
        return judge_partial(buf, pos, len, true, limits);
    /* Bare LF is refused everywhere: lenient line endings are a smuggling vector. */
    if (lf == pos || buf[lf - 1] != '\r')
        return HTTP_ERR_BAD_REQUEST;
    size_t line_len = lf - 1 - pos;
    if (line_len > limits->max_request_line_bytes)
        return HTTP_ERR_URI_TOO_LONG;
    if (lf + 1 > limits->max_header_bytes)
        return HTTP_ERR_HEADERS_TOO_LARGE;
    int rc = parse_request_line(buf + pos, line_len, req);
    if (rc < 0)
        return rc;
    pos = lf + 1;

    for (;;) {
        lf = find_lf(buf, pos, len);
        if (lf == len) {
            /* A header line has begun while the count is used up. */
            if (pos < len && buf[pos] != '\r' && req->count_headers >= max_count)
                return HTTP_ERR_HEADERS_TOO_LARGE;
            if (pos < len && (buf[pos] == ' ' || buf[pos] == '\t'))
                return HTTP_ERR_BAD_REQUEST;
            return judge_partial(buf, pos, len, false, limits);
        }
        if (lf + 1 > limits->max_header_bytes)
            return HTTP_ERR_HEADERS_TOO_LARGE;
        if (lf == pos || buf[lf - 1] != '\r')
            return HTTP_ERR_BAD_REQUEST;
        line_len = lf - 1 - pos;
        if (line_len == 0)
            break; /* the blank line */
        /* obs-fold (a line starting with SP/HTAB) is refused (RFC 9112 5.2). */
        if (buf[pos] == ' ' || buf[pos] == '\t')
            return HTTP_ERR_BAD_REQUEST;
        if (req->count_headers >= max_count)
            return HTTP_ERR_HEADERS_TOO_LARGE;
        rc = parse_header_line(buf + pos, line_len, req, &f);
        if (rc < 0)
            return rc;
        pos = lf + 1;
    }

    rc = finish_head(req, &f);
    if (rc < 0)
        return rc;
    req->head_len_bytes = lf + 1;
    if (req->head_len_bytes > (size_t)INT_MAX)
        return HTTP_ERR_HEADERS_TOO_LARGE;
    return (int)req->head_len_bytes;
}

const http_header *http_find_header(const http_request *req, const char *name) {
    for (size_t i = 0; i < req->count_headers; i++) {
        const http_header *h = &req->headers[i];
        if (equals_nocase(h->name, h->name_len, name))
            return h;
    }
    return NULL;
}

bool http_value_has_token(const char *value, size_t value_len, const char *token) {
    size_t i = 0;
    while (i < value_len) {
        while (i < value_len && (value[i] == ' ' || value[i] == '\t' || value[i] == ','))
            i++;
        size_t start = i;
        while (i < value_len && value[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (value[end - 1] == ' ' || value[end - 1] == '\t'))
            end--;
        if (end > start && equals_nocase(value + start, end - start, token))
            return true;
    }
    return false;
}

const char *http_status_reason(int status) {
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
    }
}
