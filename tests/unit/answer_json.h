/* What an owner sent a key, as text for the suites that compare it: a
 * frame's JSON, or a typed REST answer rendered (an error in the shape of
 * the protocol's, {"type":"error","code","message","ref":doc}, so that one
 * assertion reads both). */
#ifndef RINGPAD_TESTS_ANSWER_JSON_H
#define RINGPAD_TESTS_ANSWER_JSON_H

#include "base/rbuf.h"

#include <stddef.h>

/* Writes the text into out (truncated to cap); asserts frame is one of the two. */
void answer_json(const rbuf *frame, char *out, size_t cap);

#endif
