/*
 * The error-message out-parameter of loaders and checks: a caller's buffer
 * (err, err_len) that gets one line saying what went wrong, or nothing when
 * the caller passed none.
 */
#ifndef RINGPAD_ERRMSG_H
#define RINGPAD_ERRMSG_H

#include <stddef.h>

/* Formats into err (truncated to err_len); does nothing when err is NULL or err_len 0. */
void errmsg_set(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* RINGPAD_ERRMSG_H */
