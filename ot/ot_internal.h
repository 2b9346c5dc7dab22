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

#endif /* RINGPAD_OT_INTERNAL_H */
