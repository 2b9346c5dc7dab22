/* Response heads (see http_response.h). */
#include "http/http_response.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "http/http_date.h"

/* Bounded appender: remembers overflow instead of writing past cap. */
typedef struct writer {
    char *buf;
    size_t cap;
    size_t len;
    bool overflow;
} writer;

static void put(writer *w, const char *s, size_t n) {
    if (w->overflow || w->cap - w->len < n) {
        w->overflow = true;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
}

static void puts_w(writer *w, const char *s) {
    put(w, s, strlen(s));
}

__attribute__((format(printf, 2, 3))) static void printf_w(writer *w, const char *fmt, ...) {
    if (w->overflow)
        return;
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) {
        w->overflow = true;
        return;
    }
    put(w, tmp, (size_t)n);
}

static bool is_tchar(unsigned char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return true;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Every line: token ':' value-without-CR/LF/NUL CRLF. */
static bool extra_headers_valid(const char *s) {
    size_t i = 0;
    while (s[i] != '\0') {
        size_t name = i;
        while (is_tchar((unsigned char)s[i]))
            i++;
        if (i == name || s[i] != ':')
            return false;
        i++;
        while (s[i] != '\0' && s[i] != '\r' && s[i] != '\n') {
            unsigned char c = (unsigned char)s[i];
            if (c < 0x20 && c != '\t')
                return false;
            i++;
        }
        if (s[i] != '\r' || s[i + 1] != '\n')
            return false;
        i += 2;
    }
    return true;
}

/* Content-Type values are ours, but check them like any header value. */
static bool value_valid(const char *s) {
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\t')
            return false;
    return true;
}

int http_response_write_head(const http_response_head *head, char *buf, size_t cap) {
    if (head->status < 100 || head->status > 599)
        return -EINVAL;
    if (head->extra_headers != NULL && !extra_headers_valid(head->extra_headers))
        return -EINVAL;
    if (head->content_type != NULL && !value_valid(head->content_type))
        return -EINVAL;

    writer w = {.buf = buf, .cap = cap};
    printf_w(&w, "HTTP/1.1 %d %s\r\nServer: ringpad\r\n", head->status,
             http_status_reason(head->status));
    if (head->date_unix_s >= 0) {
        char date[HTTP_DATE_BYTES];
        if (http_date_format(head->date_unix_s, date) > 0)
            printf_w(&w, "Date: %s\r\n", date);
    }
    if (head->content_type != NULL) {
        puts_w(&w, "Content-Type: ");
        puts_w(&w, head->content_type);
        puts_w(&w, "\r\n");
    }
    if (head->content_length >= 0)
        printf_w(&w, "Content-Length: %" PRId64 "\r\n", head->content_length);
    if (!head->omit_connection)
        puts_w(&w, head->keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n");
    if (head->extra_headers != NULL)
        puts_w(&w, head->extra_headers);
    puts_w(&w, "\r\n");
    if (w.overflow || w.len > (size_t)INT32_MAX)
        return -ENOSPC;
    return (int)w.len;
}

int http_error_response(int status, const char *message, const char *extra_headers, char *buf,
                        size_t cap) {
    if (status < 400 || status > 599)
        return -EINVAL;
    if (message == NULL)
        message = http_status_reason(status);
    size_t message_len = strlen(message);

    /* 426 tells the client which WebSocket version to speak (RFC 6455 4.4). */
    char extra[HTTP_RESPONSE_HEAD_MAX_BYTES];
    const char *ws_version = status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "";
    int n = snprintf(extra, sizeof extra, "%s%s", ws_version, extra_headers ? extra_headers : "");
    if (n < 0 || (size_t)n >= sizeof extra)
        return -ENOSPC;

    http_response_head head = {
        .status = status,
        .content_type = "text/plain; charset=utf-8",
        .content_length = (int64_t)message_len + 1,
        .keep_alive = false,
        .date_unix_s = -1,
        .extra_headers = n > 0 ? extra : NULL,
    };
    int head_len = http_response_write_head(&head, buf, cap);
    if (head_len < 0)
        return head_len;
    writer w = {.buf = buf, .cap = cap, .len = (size_t)head_len};
    put(&w, message, message_len);
    put(&w, "\n", 1);
    if (w.overflow || w.len > (size_t)INT32_MAX)
        return -ENOSPC;
    return (int)w.len;
}
