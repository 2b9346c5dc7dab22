#ifndef RINGPAD_JSON_CHECK_H
#define RINGPAD_JSON_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when `text` is one JSON value (RFC 8259: UTF-8, escapes with paired
 * surrogates, numbers, literals, arrays and objects nested at most max_depth
 * deep) with nothing but whitespace around it. Allocates nothing: it tells a
 * parser's failed allocation (jansson reports one as a syntax error at the
 * byte it was reading) from a peer's malformed message. Duplicate keys and
 * integer ranges are the parser's business. */
bool json_syntax_ok(const char *text, size_t len_bytes, unsigned max_depth);

#endif
