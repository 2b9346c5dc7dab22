/*
 * HTTP-date (RFC 9110 5.6.7): formatting as IMF-fixdate and parsing of all
 * three formats a recipient must accept. Pure, no allocation.
 */
#ifndef RINGPAD_HTTP_DATE_H
#define RINGPAD_HTTP_DATE_H

#include <stddef.h>
#include <stdint.h>

/* "Sun, 06 Nov 1994 08:49:37 GMT" is 29 bytes; + NUL. */
#define HTTP_DATE_BYTES 30

/* Writes the IMF-fixdate of `unix_s` (seconds since the epoch, >= 0) into out,
 * NUL-terminated. Returns 29, or -EINVAL when the time cannot be shown as a
 * four-digit year. */
int http_date_format(int64_t unix_s, char out[HTTP_DATE_BYTES]);

/* Parses an IMF-fixdate, an RFC 850 date or an asctime() date into seconds
 * since the epoch. Returns 0, or -EINVAL for anything else (callers ignore
 * conditional headers whose date does not parse, as RFC 9110 13.1.3 says). */
int http_date_parse(const char *s, size_t len, int64_t *unix_s);

#endif /* RINGPAD_HTTP_DATE_H */
