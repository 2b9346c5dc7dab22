/*
 * Incremental UTF-8 validator (RFC 3629): a small DFA whose state is carried
 * across calls, so a code point split across WebSocket fragments validates,
 * and invalid input is rejected at the first byte that cannot start or
 * continue a valid sequence (overlongs, surrogates U+D800..U+DFFF, code points
 * above U+10FFFF, stray continuation bytes, C0/C1/F5..FF).
 */
#ifndef RINGPAD_UTF8_H
#define RINGPAD_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct utf8_validator {
    uint8_t state;              /* UTF8_STATE_ACCEPT at a code point boundary */
} utf8_validator;

#define UTF8_STATE_ACCEPT 0
#define UTF8_STATE_REJECT 1

void utf8_init(utf8_validator *v);

/* Feeds `len` bytes. Returns 0 while the input so far is a valid prefix of
 * UTF-8, or -EILSEQ at the first invalid byte (then, if `bad_offset` is not
 * NULL, *bad_offset is that byte's index in `p`). Once rejected, stays
 * rejected until utf8_init. */
int utf8_feed(utf8_validator *v, const uint8_t *p, size_t len, size_t *bad_offset);

/* True when the input so far ends on a code point boundary (not mid-sequence
 * and not rejected): a complete text message must end here. */
bool utf8_is_complete(const utf8_validator *v);

/* Whole-buffer validation: a valid, complete UTF-8 string. */
bool utf8_validate(const uint8_t *p, size_t len);

#endif /* RINGPAD_UTF8_H */
