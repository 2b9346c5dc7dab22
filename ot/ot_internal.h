/*
 * Private helpers shared by the files of the OT engine (ot/). Not installed;
 * nothing outside ot/ and its tests should include this.
 */
#ifndef RINGPAD_OT_INTERNAL_H
#define RINGPAD_OT_INTERNAL_H

#include "ringpad/ot.h"

/* ---- UTF-8 (utf8.c) ---------------------------------------------------------- */

/* Checks that bytes are valid UTF-8 (shortest form, no surrogates, <= U+10FFFF)
 * and contain no NUL. On success *out_codepoints gets the count. On failure
 * *out_bad_offset_bytes (if not NULL) gets the offset of the first bad byte. */
int ot_utf8_validate(const char *utf8, size_t len_bytes, uint64_t *out_codepoints,
                     size_t *out_bad_offset_bytes);

/* Length of the valid sequence starting at utf8[0] (1..4), or 0 if invalid,
 * NUL, a surrogate, or truncated by len_bytes. */
size_t ot_utf8_seq_len(const unsigned char *utf8, size_t len_bytes);

/* Code points in valid UTF-8 (counts non-continuation bytes). */
uint64_t ot_utf8_count(const char *utf8, size_t len_bytes);

/* Byte offset just after `count_codepoints` code points of valid UTF-8
 * (stops at len_bytes). */
size_t ot_utf8_advance(const char *utf8, size_t len_bytes, uint64_t count_codepoints);

/* Byte offset where the last `count_codepoints` code points of valid UTF-8
 * begin (0 when there are fewer): ot_utf8_advance from the end. */
size_t ot_utf8_retreat(const char *utf8, size_t len_bytes, uint64_t count_codepoints);

/* Writes cp (a scalar value, not a surrogate) as UTF-8 into out; returns 1..4. */
size_t ot_utf8_encode(uint32_t cp, char out[4]);

/* ---- Buffers (buf.c) ----------------------------------------------------------- */

/* Makes room for `extra_bytes` more bytes plus a NUL. */
int ot_buf_reserve(ot_buf *buf, size_t extra_bytes);

/* ---- Text buffer (text.c) ------------------------------------------------------- */

/* Reserves everything the inserts of `op` can need, so that applying it cannot
 * fail halfway (ot_apply stays all-or-nothing). */
int ot_text_reserve_for_op(ot_text *text, const ot_op *op);
/* Copies code points [start, start+count) (in range) to dst, which has room
 * for their bytes (see ot_text_byte_offset). */
void ot_text_copy_range(const ot_text *text, uint64_t start_codepoints,
                        uint64_t count_codepoints, char *dst);
/* Frees spare storage beyond the small reuse pool. */
void ot_text_trim(ot_text *text);

/* ---- Operations (op.c) ------------------------------------------------------------ */

/* Makes room for `extra_components` more components and `extra_text_bytes`
 * more insert text, so that the ot_op_put_* appenders below cannot fail. */
int ot_op_reserve(ot_op *op, uint64_t extra_components, size_t extra_text_bytes);
/* Makes room for `extra_bytes` more insert text at op->text + op->text_len_bytes. */
int ot_op_reserve_text(ot_op *op, size_t extra_bytes);
/* Turns the `len_bytes` bytes already written at op->text + op->text_len_bytes
 * (valid UTF-8 of count_codepoints code points) into an insert, canonically. */
int ot_op_commit_insert(ot_op *op, size_t len_bytes, uint64_t count_codepoints);
/* ot_op_insert for text already known to be valid UTF-8 of count_codepoints. */
int ot_op_insert_valid(ot_op *op, const char *utf8, size_t len_bytes, uint64_t count_codepoints);
/* The checks ot_op_push_string applies to an insert of len_bytes / count_codepoints
 * (EMPTY_INSERT, TOO_LARGE for op bytes or target length, TOO_MANY_COMPONENTS). */
int ot_op_check_insert(const ot_op *op, size_t len_bytes, uint64_t count_codepoints,
                       const ot_limits *limits);
/* The inserted text of component c. */
const char *ot_op_insert_text(const ot_op *op, const ot_component *c);

/* ot_op_clear, inlinable into the hot loops of the algebra. */
static inline void ot_op_reset(ot_op *op) {
    op->count_components = 0;
    op->text_len_bytes = 0;
    op->base_len_codepoints = 0;
    op->target_len_codepoints = 0;
}

/* Appenders for the hot loops of the algebra: canonical exactly like the
 * builders (merging; an insert goes before a delete at one position), but with
 * no checks, so they inline to a few instructions. The caller has reserved the
 * room (ot_op_reserve) and has ruled out length overflow. n > 0. */
static inline void ot_op_put_count(ot_op *op, ot_kind kind, uint64_t n) {
    ot_component *l = op->count_components ? &op->components[op->count_components - 1] : NULL;
    if (l && l->kind == kind)
        l->count_codepoints += n;
    else
        op->components[op->count_components++] =
            (ot_component){ .kind = kind, .count_codepoints = n };
    op->base_len_codepoints += n;
    if (kind == OT_RETAIN)
        op->target_len_codepoints += n;
}

/* The insert a new insert merges into: the last component, or the one before
 * a final delete (its text always ends op->text: other kinds own no text). */
static inline ot_component *ot_op_insert_merge_target(const ot_op *op) {
    uint32_t count = op->count_components;
    ot_component *l = count ? &op->components[count - 1] : NULL;
    if (l && l->kind == OT_INSERT)
        return l;
    if (l && l->kind == OT_DELETE && count >= 2 && op->components[count - 2].kind == OT_INSERT)
        return &op->components[count - 2];
    return NULL;
}

/* The insert's len_bytes of text are already at op->text + op->text_len_bytes. */
static inline void ot_op_put_written_insert(ot_op *op, uint32_t len_bytes, uint64_t n) {
    uint32_t count = op->count_components;
    ot_component *l = count ? &op->components[count - 1] : NULL;
    ot_component *merge_into = ot_op_insert_merge_target(op);
    if (merge_into) {
        merge_into->count_codepoints += n;
        merge_into->text_len_bytes += len_bytes;
    } else {
        ot_component ins = { .kind = OT_INSERT,
                             .count_codepoints = n,
                             .text_offset_bytes = op->text_len_bytes,
                             .text_len_bytes = len_bytes };
        if (l && l->kind == OT_DELETE) {
            op->components[count] = *l;
            *l = ins;
        } else {
            op->components[count] = ins;
        }
        op->count_components = count + 1;
    }
    op->text_len_bytes += len_bytes;
    op->target_len_codepoints += n;
}

static inline void ot_op_put_insert(ot_op *op, const char *utf8, uint32_t len_bytes, uint64_t n) {
    __builtin_memcpy(op->text + op->text_len_bytes, utf8, len_bytes);
    ot_op_put_written_insert(op, len_bytes, n);
}

/* ---- The algebra (algebra.c) ------------------------------------------------------ */

/* ot_transform's checks and reservations: clears both halves, then
 * OT_ERR_TRANSFORM_MISMATCH, OT_ERR_RANGE or an allocation error. */
int ot_transform_prepare(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime);
/* ot_transform's component walk, without its no-op shortcuts (the tests
 * compare the two); the halves were prepared by ot_transform_prepare. */
void ot_transform_general(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime);

#endif /* RINGPAD_OT_INTERNAL_H */
