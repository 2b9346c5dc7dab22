/*
 * Packed records: how a document keeps an op while it is in history.
 *
 * An applied op as ot_op (a component array, a text buffer, their
 * capacities) plus its inverse and the id and author in allocations of their
 * own cost ~700 bytes for a one-character insert. A record is one allocation
 * of varints and bytes; the op and its inverse are decoded from it only when
 * a late op is transformed against it, a client catches up, or a past
 * version is rebuilt. The inverse needs no storage of its own: retains stay,
 * inserts become deletes of their length, and each delete keeps the text it
 * removed, which becomes the inverse's insert.
 *
 * Layout (varints are LEB128, time_ms is zigzag):
 *   body_len  time_ms  id_len id  author_len author
 *   count_components  insert_bytes  delete_bytes
 *   per component: count << 2 | kind, then for inserts and deletes
 *   len_bytes and the text inserted or removed.
 */
#include <stdlib.h>
#include <string.h>

#include "ot_internal.h"

/* count << 2 must fit: no document or op reaches 2^62 code points. */
#define PACK_MAX_COUNT (UINT64_MAX >> 2)

static size_t varint_len(uint64_t v) {
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static uint8_t *put_varint(uint8_t *p, uint64_t v) {
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

/* Records are our own output: reads trust them (no bound beyond 10 bytes). */
static const uint8_t *get_varint(const uint8_t *p, uint64_t *out) {
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 64; shift += 7) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
    }
    *out = v;
    return p;
}

static uint64_t zigzag(int64_t v) {
    return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v) {
    return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

/* Byte offsets in `before` of the code points [pos, pos + count). */
static int delete_span(const ot_text *before, uint64_t pos, uint64_t count, uint64_t *from,
                       uint64_t *to) {
    int rc = ot_text_byte_offset(before, pos, from);
    if (rc == OT_OK)
        rc = ot_text_byte_offset(before, pos + count, to);
    return rc;
}

int ot_pack_record(const ot_op *op, const ot_text *before, const ot_pack_meta *meta,
                   uint8_t **out, size_t *out_len_bytes) {
    *out = NULL;
    *out_len_bytes = 0;
    if (op->base_len_codepoints != ot_text_len_codepoints(before))
        return OT_ERR_BASE_LENGTH;
    /* First pass: the size, with the deleted bytes. */
    uint64_t delete_bytes = 0, pos = 0;
    size_t comps_len = 0;
    for (uint32_t i = 0; i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        if (c->count_codepoints > PACK_MAX_COUNT)
            return OT_ERR_RANGE;
        comps_len += varint_len(c->count_codepoints << 2 | (uint64_t)c->kind);
        if (c->kind == OT_INSERT) {
            comps_len += varint_len(c->text_len_bytes) + c->text_len_bytes;
        } else if (c->kind == OT_DELETE) {
            uint64_t from = 0, to = 0;
            int rc = delete_span(before, pos, c->count_codepoints, &from, &to);
            if (rc)
                return rc;
            comps_len += varint_len(to - from) + (to - from);
            delete_bytes += to - from;
        }
        if (c->kind != OT_INSERT)
            pos += c->count_codepoints;
    }
    size_t body_len = varint_len(zigzag(meta->time_ms)) + varint_len(meta->id_len) + meta->id_len +
                      varint_len(meta->author_len) + meta->author_len +
                      varint_len(op->count_components) + varint_len(op->text_len_bytes) +
                      varint_len(delete_bytes) + comps_len;
    size_t len = varint_len(body_len) + body_len;
    uint8_t *rec = malloc(len);
    if (!rec)
        return OT_ERR_NOMEM;
    /* Second pass: the bytes. */
    uint8_t *p = put_varint(rec, body_len);
    p = put_varint(p, zigzag(meta->time_ms));
    p = put_varint(p, meta->id_len);
    if (meta->id_len)
        memcpy(p, meta->id, meta->id_len);
    p += meta->id_len;
    p = put_varint(p, meta->author_len);
    if (meta->author_len)
        memcpy(p, meta->author, meta->author_len);
    p += meta->author_len;
    p = put_varint(p, op->count_components);
    p = put_varint(p, op->text_len_bytes);
    p = put_varint(p, delete_bytes);
    pos = 0;
    for (uint32_t i = 0; i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        p = put_varint(p, c->count_codepoints << 2 | (uint64_t)c->kind);
        if (c->kind == OT_INSERT) {
            p = put_varint(p, c->text_len_bytes);
            memcpy(p, ot_op_insert_text(op, c), c->text_len_bytes);
            p += c->text_len_bytes;
        } else if (c->kind == OT_DELETE) {
            uint64_t from = 0, to = 0;
            (void)delete_span(before, pos, c->count_codepoints, &from, &to); /* succeeded above */
            p = put_varint(p, to - from);
            ot_text_copy_range(before, pos, c->count_codepoints, (char *)p);
            p += to - from;
        }
        if (c->kind != OT_INSERT)
            pos += c->count_codepoints;
    }
    *out = rec;
    *out_len_bytes = len;
    return OT_OK;
}

void ot_pack_view_of(const uint8_t *record, ot_pack_view *v) {
    uint64_t body_len = 0, x = 0;
    const uint8_t *p = get_varint(record, &body_len);
    v->len_bytes = (size_t)(p - record) + (size_t)body_len;
    p = get_varint(p, &x);
    v->time_ms = unzigzag(x);
    p = get_varint(p, &x);
    v->id = (const char *)p;
    v->id_len = (size_t)x;
    p = get_varint(p + x, &x);
    v->author = (const char *)p;
    v->author_len = (size_t)x;
    p = get_varint(p + x, &x);
    v->count_components = (uint32_t)x;
    p = get_varint(p, &x);
    v->insert_bytes = (uint32_t)x;
    p = get_varint(p, &x);
    v->delete_bytes = x;
    v->components = p;
}

/* Walks the components; `inverse` swaps inserts and deletes. Every
 * allocation happens up front, so the walk itself cannot fail. */
static int decode(const ot_pack_view *v, bool inverse, ot_op *out) {
    ot_op_clear(out);
    if (v->delete_bytes > UINT32_MAX - 1)
        return OT_ERR_TOO_LARGE; /* an inverse's text offsets are 32-bit */
    int rc = ot_op_reserve(out, v->count_components, inverse ? (size_t)v->delete_bytes : v->insert_bytes);
    if (rc)
        return rc;
    const uint8_t *p = v->components;
    for (uint32_t i = 0; i < v->count_components; i++) {
        uint64_t word = 0, len = 0;
        p = get_varint(p, &word);
        ot_kind kind = (ot_kind)(word & 3);
        uint64_t n = word >> 2;
        if (kind == OT_RETAIN) {
            ot_op_put_count(out, OT_RETAIN, n);
            continue;
        }
        p = get_varint(p, &len);
        bool keeps_text = (kind == OT_INSERT) != inverse;
        if (keeps_text)
            ot_op_put_insert(out, (const char *)p, (uint32_t)len, n);
        else
            ot_op_put_count(out, OT_DELETE, n);
        p += len;
    }
    return OT_OK;
}

int ot_pack_decode_op(const ot_pack_view *v, ot_op *out) {
    return decode(v, false, out);
}

int ot_pack_decode_inverse(const ot_pack_view *v, ot_op *out) {
    return decode(v, true, out);
}

size_t ot_pack_cost_bytes(size_t record_len_bytes) {
    /* glibc's malloc: an 8-byte header, 16-byte granules, 32 bytes at least. */
    size_t chunk = (record_len_bytes + 8 + 15) & ~(size_t)15;
    return chunk < 32 ? 32 : chunk;
}
