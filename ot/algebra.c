/*
 * The OT algebra on canonical ops: apply, compose, transform, invert and
 * position transform. compose and transform follow the case analysis of
 * ot.js's TextOperation, with the tie-break documented in ot.h.
 */
#include <string.h>

#include "ot_internal.h"

/* ---- apply ----------------------------------------------------------------------- */

int ot_apply(const ot_op *op, ot_text *text) {
    if (op->base_len_codepoints != ot_text_len_codepoints(text))
        return OT_ERR_BASE_LENGTH;
    /* Reserve up front: after this no step can fail, so the text is either
     * fully changed or untouched. */
    int rc = ot_text_reserve_for_op(text, op);
    if (rc)
        return rc;
    uint64_t pos = 0;
    for (uint32_t i = 0; i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        switch (c->kind) {
        case OT_RETAIN:
            pos += c->count_codepoints;
            break;
        case OT_INSERT:
            rc = ot_text_insert(text, pos, ot_op_insert_text(op, c), c->text_len_bytes,
                                c->count_codepoints);
            pos += c->count_codepoints;
            break;
        case OT_DELETE:
            rc = ot_text_delete(text, pos, c->count_codepoints);
            break;
        }
        if (rc)
            return rc; /* unreachable after the reservation; kept for safety */
    }
    ot_text_trim(text);
    return OT_OK;
}

int ot_apply_utf8(const ot_op *op, const char *utf8, size_t len_bytes, ot_buf *out) {
    uint64_t cps = 0;
    int rc = ot_utf8_validate(utf8, len_bytes, &cps, NULL);
    if (rc)
        return rc;
    if (op->base_len_codepoints != cps)
        return OT_ERR_BASE_LENGTH;
    /* One pass over the string: no index needed. */
    size_t rollback = out->len;
    size_t at = 0;
    for (uint32_t i = 0; rc == OT_OK && i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        size_t n;
        switch (c->kind) {
        case OT_RETAIN:
            n = ot_utf8_advance(utf8 + at, len_bytes - at, c->count_codepoints);
            rc = ot_buf_append(out, utf8 + at, n);
            at += n;
            break;
        case OT_INSERT:
            rc = ot_buf_append(out, ot_op_insert_text(op, c), c->text_len_bytes);
            break;
        case OT_DELETE:
            at += ot_utf8_advance(utf8 + at, len_bytes - at, c->count_codepoints);
            break;
        }
    }
    if (rc == OT_OK)
        rc = ot_buf_append(out, "", 0); /* NUL-terminated even when empty */
    if (rc) {
        out->len = rollback;
        if (out->data)
            out->data[rollback] = '\0';
    }
    return rc;
}

/* ---- a cursor over an op's components, consuming them piecewise ------------------- */

typedef struct cursor {
    const ot_op *op;
    uint32_t index;
    uint64_t used_codepoints;  /* of the current component */
    uint32_t used_bytes;       /* of the current insert's text */
} cursor;

static const ot_component *cur(const cursor *it) {
    return it->index < it->op->count_components ? &it->op->components[it->index] : NULL;
}

static uint64_t remaining(const cursor *it) {
    return it->op->components[it->index].count_codepoints - it->used_codepoints;
}

/* Consumes n code points of the current component; for inserts, returns their
 * text in *text / *len_bytes. */
static void take(cursor *it, uint64_t n, const char **text, size_t *len_bytes) {
    const ot_component *c = &it->op->components[it->index];
    if (c->kind == OT_INSERT) {
        const char *base = ot_op_insert_text(it->op, c) + it->used_bytes;
        size_t left = c->text_len_bytes - it->used_bytes;
        size_t bytes = n == remaining(it) ? left : ot_utf8_advance(base, left, n);
        *text = base;
        *len_bytes = bytes;
        it->used_bytes += (uint32_t)bytes;
    }
    it->used_codepoints += n;
    if (it->used_codepoints == c->count_codepoints) {
        it->index++;
        it->used_codepoints = 0;
        it->used_bytes = 0;
    }
}

static uint64_t min_u64(uint64_t a, uint64_t b) {
    return a < b ? a : b;
}

/* ---- compose ---------------------------------------------------------------------- */

int ot_compose(const ot_op *a, const ot_op *b, ot_op *out) {
    if (a->target_len_codepoints != b->base_len_codepoints)
        return OT_ERR_COMPOSE_MISMATCH;
    ot_op_clear(out);
    cursor ia = { .op = a }, ib = { .op = b };
    int rc = OT_OK;
    const char *text = NULL;
    size_t len = 0;
    /* Every step finishes a component of a or of b: at most count(a) + count(b)
     * iterations. */
    while (rc == OT_OK) {
        const ot_component *ca = cur(&ia), *cb = cur(&ib);
        if (!ca && !cb)
            break;
        if (ca && ca->kind == OT_DELETE) {
            rc = ot_op_delete(out, remaining(&ia));
            take(&ia, remaining(&ia), &text, &len);
            continue;
        }
        if (cb && cb->kind == OT_INSERT) {
            uint64_t n = remaining(&ib);
            take(&ib, n, &text, &len);
            rc = ot_op_insert_valid(out, text, len, n);
            continue;
        }
        /* Lengths matched, so both sides are present here. */
        uint64_t n = min_u64(remaining(&ia), remaining(&ib));
        if (ca->kind == OT_RETAIN && cb->kind == OT_RETAIN) {
            rc = ot_op_retain(out, n);
            take(&ia, n, &text, &len);
            take(&ib, n, &text, &len);
        } else if (ca->kind == OT_INSERT && cb->kind == OT_DELETE) {
            take(&ia, n, &text, &len); /* inserted then deleted: nothing */
            take(&ib, n, &text, &len);
        } else if (ca->kind == OT_INSERT && cb->kind == OT_RETAIN) {
            take(&ia, n, &text, &len);
            take(&ib, n, &text, &len);
            rc = ot_op_insert_valid(out, text, len, n);
        } else { /* retain, delete */
            rc = ot_op_delete(out, n);
            take(&ia, n, &text, &len);
            take(&ib, n, &text, &len);
        }
    }
    if (rc)
        ot_op_clear(out);
    return rc;
}

/* ---- transform --------------------------------------------------------------------- */

static int push_retain(ot_op *op, uint64_t n) {
    return op ? ot_op_retain(op, n) : OT_OK;
}

static int push_delete(ot_op *op, uint64_t n) {
    return op ? ot_op_delete(op, n) : OT_OK;
}

static int push_insert(ot_op *op, const char *text, size_t len, uint64_t n) {
    return op ? ot_op_insert_valid(op, text, len, n) : OT_OK;
}

int ot_transform(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    if (a->base_len_codepoints != b->base_len_codepoints)
        return OT_ERR_TRANSFORM_MISMATCH;
    if (a_prime)
        ot_op_clear(a_prime);
    if (b_prime)
        ot_op_clear(b_prime);
    cursor ia = { .op = a }, ib = { .op = b };
    int rc = OT_OK;
    const char *text = NULL;
    size_t len = 0;
    while (rc == OT_OK) {
        const ot_component *ca = cur(&ia), *cb = cur(&ib);
        if (!ca && !cb)
            break;
        /* Tie-break: a's insert goes first, before b's insert at the same place. */
        if (ca && ca->kind == OT_INSERT) {
            uint64_t n = remaining(&ia);
            take(&ia, n, &text, &len);
            rc = push_insert(a_prime, text, len, n);
            if (rc == OT_OK)
                rc = push_retain(b_prime, n);
            continue;
        }
        if (cb && cb->kind == OT_INSERT) {
            uint64_t n = remaining(&ib);
            take(&ib, n, &text, &len);
            rc = push_retain(a_prime, n);
            if (rc == OT_OK)
                rc = push_insert(b_prime, text, len, n);
            continue;
        }
        uint64_t n = min_u64(remaining(&ia), remaining(&ib));
        if (ca->kind == OT_RETAIN && cb->kind == OT_RETAIN) {
            rc = push_retain(a_prime, n);
            if (rc == OT_OK)
                rc = push_retain(b_prime, n);
        } else if (ca->kind == OT_DELETE && cb->kind == OT_RETAIN) {
            rc = push_delete(a_prime, n);
        } else if (ca->kind == OT_RETAIN && cb->kind == OT_DELETE) {
            rc = push_delete(b_prime, n);
        } /* delete, delete: both already gone */
        take(&ia, n, &text, &len);
        take(&ib, n, &text, &len);
    }
    if (rc) {
        if (a_prime)
            ot_op_clear(a_prime);
        if (b_prime)
            ot_op_clear(b_prime);
    }
    return rc;
}

/* ---- invert ------------------------------------------------------------------------ */

int ot_invert(const ot_op *op, const ot_text *before, ot_op *out) {
    if (op->base_len_codepoints != ot_text_len_codepoints(before))
        return OT_ERR_BASE_LENGTH;
    ot_op_clear(out);
    uint64_t pos = 0;
    int rc = OT_OK;
    for (uint32_t i = 0; rc == OT_OK && i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        switch (c->kind) {
        case OT_RETAIN:
            rc = ot_op_retain(out, c->count_codepoints);
            pos += c->count_codepoints;
            break;
        case OT_INSERT:
            rc = ot_op_delete(out, c->count_codepoints);
            break;
        case OT_DELETE: {
            /* The deleted text goes straight into out's text tail: no copy. */
            uint64_t from = 0, to = 0;
            rc = ot_text_byte_offset(before, pos, &from);
            if (rc == OT_OK)
                rc = ot_text_byte_offset(before, pos + c->count_codepoints, &to);
            if (rc == OT_OK)
                rc = ot_op_reserve_text(out, to - from);
            if (rc == OT_OK) {
                ot_text_copy_range(before, pos, c->count_codepoints,
                                   out->text + out->text_len_bytes);
                rc = ot_op_commit_insert(out, to - from, c->count_codepoints);
            }
            pos += c->count_codepoints;
            break;
        }
        }
    }
    if (rc)
        ot_op_clear(out);
    return rc;
}

/* ---- positions ---------------------------------------------------------------------- */

uint64_t ot_transform_position(uint64_t pos, const ot_op *op, ot_side side) {
    if (pos > op->base_len_codepoints)
        pos = op->base_len_codepoints;
    uint64_t at = 0;      /* position in the old text */
    uint64_t moved = pos; /* pos in the new text */
    for (uint32_t i = 0; i < op->count_components && at <= pos; i++) {
        const ot_component *c = &op->components[i];
        switch (c->kind) {
        case OT_RETAIN:
            at += c->count_codepoints;
            if (at > pos)
                return moved;
            break;
        case OT_INSERT:
            if (at < pos || side == OT_SIDE_AFTER)
                moved += c->count_codepoints;
            break;
        case OT_DELETE:
            moved -= min_u64(c->count_codepoints, pos - at);
            at += c->count_codepoints;
            break;
        }
    }
    return moved;
}
