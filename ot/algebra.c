/*
 * The OT algebra on canonical ops: apply, compose, transform, invert and
 * position transform. compose and transform follow the case analysis of
 * ot.js's TextOperation, with the tie-break documented in ot.h.
 */
#include <stdbool.h>
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

static bool is_noop_canonical(const ot_op *op) {
    /* Canonical ops merge adjacent retains: a no-op is [] or [n]. */
    return op->count_components == 0 ||
           (op->count_components == 1 && op->components[0].kind == OT_RETAIN);
}

static void put_count(ot_op *op, ot_kind kind, uint64_t n) {
    if (op)
        ot_op_put_count(op, kind, n);
}

/* Both halves reserved for the worst case, so the loops below cannot fail:
 * every step finishes a component of a or of b and appends at most one
 * component to each half. */
static int reserve_half(ot_op *half, uint64_t components, uint32_t text_bytes) {
    /* Checked here first: a reused half (the usual case) needs no call. */
    if (components <= half->capacity_components && text_bytes <= half->text_capacity_bytes)
        return OT_OK;
    return ot_op_reserve(half, components, text_bytes);
}

static int reserve_halves(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    uint64_t components = (uint64_t)a->count_components + b->count_components;
    int rc = a_prime ? reserve_half(a_prime, components, a->text_len_bytes) : OT_OK;
    if (rc == OT_OK && b_prime)
        rc = reserve_half(b_prime, components, b->text_len_bytes);
    return rc;
}

/* transform(a, b) when a changes nothing: a' retains b's result, b' is b. */
static void transform_noop(const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    if (a_prime && b->target_len_codepoints)
        ot_op_put_count(a_prime, OT_RETAIN, b->target_len_codepoints);
    if (b_prime) {
        if (b->count_components)
            memcpy(b_prime->components, b->components,
                   b->count_components * sizeof *b->components);
        if (b->text_len_bytes)
            memcpy(b_prime->text, b->text, b->text_len_bytes);
        b_prime->count_components = b->count_components;
        b_prime->text_len_bytes = b->text_len_bytes;
        b_prime->base_len_codepoints = b->base_len_codepoints;
        b_prime->target_len_codepoints = b->target_len_codepoints;
    }
}

void ot_transform_general(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    cursor ia = { .op = a }, ib = { .op = b };
    const char *text = NULL;
    size_t len = 0;
    for (;;) {
        const ot_component *ca = cur(&ia), *cb = cur(&ib);
        if (!ca && !cb)
            break;
        /* Tie-break: a's insert goes first, before b's insert at the same place. */
        if (ca && ca->kind == OT_INSERT) {
            uint64_t n = remaining(&ia);
            take(&ia, n, &text, &len);
            if (a_prime)
                ot_op_put_insert(a_prime, text, (uint32_t)len, n);
            put_count(b_prime, OT_RETAIN, n);
            continue;
        }
        if (cb && cb->kind == OT_INSERT) {
            uint64_t n = remaining(&ib);
            take(&ib, n, &text, &len);
            put_count(a_prime, OT_RETAIN, n);
            if (b_prime)
                ot_op_put_insert(b_prime, text, (uint32_t)len, n);
            continue;
        }
        uint64_t n = min_u64(remaining(&ia), remaining(&ib));
        if (ca->kind == OT_RETAIN && cb->kind == OT_RETAIN) {
            put_count(a_prime, OT_RETAIN, n);
            put_count(b_prime, OT_RETAIN, n);
        } else if (ca->kind == OT_DELETE && cb->kind == OT_RETAIN) {
            put_count(a_prime, OT_DELETE, n);
        } else if (ca->kind == OT_RETAIN && cb->kind == OT_DELETE) {
            put_count(b_prime, OT_DELETE, n);
        } /* delete, delete: both already gone */
        take(&ia, n, &text, &len);
        take(&ib, n, &text, &len);
    }
}

/* ---- transform of one-site ops ----------------------------------------------------
 * Most ops edit one place: [retain] (insert | delete) [retain]. For two such
 * ops the result is computed from positions alone, without walking
 * components; the case analysis is the component walk's, folded (the tests
 * check that both agree on random inputs). */

typedef struct site {
    ot_kind kind;            /* OT_INSERT or OT_DELETE; OT_RETAIN: changes nothing */
    uint64_t pos_codepoints;
    uint64_t count_codepoints;
    const char *text;        /* OT_INSERT only */
    uint32_t text_len_bytes;
} site;

static bool as_site(const ot_op *op, site *out) {
    const ot_component *c = op->components;
    uint32_t n = op->count_components, i = 0;
    out->pos_codepoints = 0;
    if (i < n && c[i].kind == OT_RETAIN)
        out->pos_codepoints = c[i++].count_codepoints;
    if (i == n)
        return false; /* a no-op: the caller's shortcut */
    out->kind = c[i].kind;
    out->count_codepoints = c[i].count_codepoints;
    out->text = out->kind == OT_INSERT ? ot_op_insert_text(op, &c[i]) : NULL;
    out->text_len_bytes = c[i].text_len_bytes;
    i++;
    if (i < n && c[i].kind == OT_RETAIN)
        i++;
    return i == n;
}

/* Moves s over the concurrent edit o. s_first: s's insert goes before o's at
 * one position. False when the result is no longer one site (o inserts
 * strictly inside s's deleted range). */
static bool move_site(site *s, const site *o, bool s_first) {
    uint64_t o_end = o->pos_codepoints + (o->kind == OT_DELETE ? o->count_codepoints : 0);
    if (s->kind == OT_INSERT) {
        if (o->kind == OT_INSERT) {
            if (o->pos_codepoints < s->pos_codepoints ||
                (o->pos_codepoints == s->pos_codepoints && !s_first))
                s->pos_codepoints += o->count_codepoints;
        } else if (s->pos_codepoints > o->pos_codepoints) {
            s->pos_codepoints = s->pos_codepoints >= o_end ? s->pos_codepoints - o->count_codepoints
                                                           : o->pos_codepoints;
        }
        return true;
    }
    uint64_t s_end = s->pos_codepoints + s->count_codepoints;
    if (o->kind == OT_INSERT) {
        /* An insert at the start of a delete goes before it, whoever is first. */
        if (o->pos_codepoints <= s->pos_codepoints)
            s->pos_codepoints += o->count_codepoints;
        else if (o->pos_codepoints < s_end)
            return false;
        return true;
    }
    uint64_t lo = s->pos_codepoints > o->pos_codepoints ? s->pos_codepoints : o->pos_codepoints;
    uint64_t hi = s_end < o_end ? s_end : o_end;
    if (s->pos_codepoints > o->pos_codepoints)
        s->pos_codepoints = s->pos_codepoints >= o_end ? s->pos_codepoints - o->count_codepoints
                                                       : o->pos_codepoints;
    s->count_codepoints -= hi > lo ? hi - lo : 0; /* o already deleted the overlap */
    if (s->count_codepoints == 0)
        s->kind = OT_RETAIN;
    return true;
}

/* Writes site s as a canonical op on a text of len_codepoints. */
static void put_site(ot_op *op, const site *s, uint64_t len_codepoints) {
    if (s->kind == OT_RETAIN) {
        if (len_codepoints)
            ot_op_put_count(op, OT_RETAIN, len_codepoints);
        return;
    }
    uint64_t rest = len_codepoints - s->pos_codepoints;
    if (s->pos_codepoints)
        ot_op_put_count(op, OT_RETAIN, s->pos_codepoints);
    if (s->kind == OT_INSERT) {
        ot_op_put_insert(op, s->text, s->text_len_bytes, s->count_codepoints);
    } else {
        ot_op_put_count(op, OT_DELETE, s->count_codepoints);
        rest -= s->count_codepoints;
    }
    if (rest)
        ot_op_put_count(op, OT_RETAIN, rest);
}

/* False (nothing written) when a or b is not one site, or a half would not be. */
static bool transform_sites(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    site x, y;
    if (!as_site(a, &x) || !as_site(b, &y))
        return false;
    site x_moved = x, y_moved = y;
    if (a_prime && !move_site(&x_moved, &y, true))
        return false;
    if (b_prime && !move_site(&y_moved, &x, false))
        return false;
    if (a_prime)
        put_site(a_prime, &x_moved, b->target_len_codepoints);
    if (b_prime)
        put_site(b_prime, &y_moved, a->target_len_codepoints);
    return true;
}

static inline int prepare(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    if (a->base_len_codepoints != b->base_len_codepoints)
        return OT_ERR_TRANSFORM_MISMATCH;
    if (a_prime)
        ot_op_reset(a_prime);
    if (b_prime)
        ot_op_reset(b_prime);
    /* Every length of a' and b' is at most a's target plus b's. */
    if (a->target_len_codepoints > UINT64_MAX - b->target_len_codepoints)
        return OT_ERR_RANGE;
    return reserve_halves(a, b, a_prime, b_prime);
}

int ot_transform_prepare(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    return prepare(a, b, a_prime, b_prime);
}

int ot_transform(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime) {
    int rc = prepare(a, b, a_prime, b_prime);
    if (rc)
        return rc;
    /* A late op whose text a concurrent delete took is a no-op; so are the
     * cursor-only ops of idle editors. Both cost O(1) here, as do two edits
     * at one place each (typing). */
    if (is_noop_canonical(a))
        transform_noop(b, a_prime, b_prime);
    else if (is_noop_canonical(b))
        transform_noop(a, b_prime, a_prime);
    else if (!transform_sites(a, b, a_prime, b_prime))
        ot_transform_general(a, b, a_prime, b_prime);
    return OT_OK;
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
