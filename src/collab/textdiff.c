#include "collab/textdiff.h"

static bool is_continuation(char c) { return ((unsigned char)c & 0xC0u) == 0x80u; }

static uint64_t count_codepoints(const char *s, size_t len) {
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) n += !is_continuation(s[i]);
    return n;
}

int textdiff_op(const char *old_utf8, size_t old_len, const char *new_utf8, size_t new_len, ot_op *out) {
    ot_op_clear(out);
    size_t shorter = old_len < new_len ? old_len : new_len;
    size_t prefix = 0;
    while (prefix < shorter && old_utf8[prefix] == new_utf8[prefix]) prefix++;
    /* a code point shared only in its first bytes is not shared */
    while (prefix > 0 && prefix < old_len && is_continuation(old_utf8[prefix])) prefix--;
    while (prefix > 0 && prefix < new_len && is_continuation(new_utf8[prefix])) prefix--;
    size_t suffix = 0;
    while (suffix < shorter - prefix && old_utf8[old_len - 1 - suffix] == new_utf8[new_len - 1 - suffix]) suffix++;
    /* the suffix starts on a code point's first byte in both texts (they are equal there) */
    while (suffix > 0 && is_continuation(old_utf8[old_len - suffix])) suffix--;
    int rc = ot_op_retain(out, count_codepoints(old_utf8, prefix));
    if (rc == OT_OK) rc = ot_op_delete(out, count_codepoints(old_utf8 + prefix, old_len - prefix - suffix));
    if (rc == OT_OK) rc = ot_op_insert(out, new_utf8 + prefix, new_len - prefix - suffix);
    if (rc == OT_OK) rc = ot_op_retain(out, count_codepoints(old_utf8 + old_len - suffix, suffix));
    return rc;
}

bool textdiff_is_noop(const ot_op *op) {
    return op->count_components == 0 || (op->count_components == 1 && op->components[0].kind == OT_RETAIN);
}
