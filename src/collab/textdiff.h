/*
 * The op that turns one text into another by keeping their common prefix
 * and suffix (in code points) and replacing only what lies between: a whole
 * text written from a backend (REST PUT .../text) then moves editors'
 * cursors only where the text really changed.
 */
#ifndef RINGPAD_TEXTDIFF_H
#define RINGPAD_TEXTDIFF_H

#include <ringpad/ot.h>

#include <stdbool.h>
#include <stddef.h>

/* Builds into `out` (cleared first) the op whose base is old_utf8 and whose
 * target is new_utf8; both must be valid UTF-8 (new_utf8 is checked:
 * OT_ERR_BAD_UTF8). OT_OK or an ot_err. */
int textdiff_op(const char *old_utf8, size_t old_len_bytes, const char *new_utf8, size_t new_len_bytes, ot_op *out);

/* The op changes nothing (only a retain, or nothing at all). */
bool textdiff_is_noop(const ot_op *op);

#endif /* RINGPAD_TEXTDIFF_H */
