/*
 * The text buffer: UTF-8 in fixed-capacity chunks, with two Fenwick trees (code
 * points and bytes per chunk) as the index. Locating a position is O(log
 * chunks); an edit moves at most one chunk's bytes; only splits and merges,
 * which happen once per ~chunk of edits, rebuild the index in O(chunks).
 *
 * Edits reserve everything they can need before changing anything (spare
 * chunks, index capacity), so a failed allocation leaves the text unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "ot_internal.h"

enum {
    chunk_cap_bytes = 4096,  /* storage of one chunk */
    chunk_fill_bytes = 2048, /* how full new chunks are made: room to grow */
    chunk_min_bytes = 512,   /* below this a chunk merges into a neighbour */
    spare_chunks_max = 8,    /* freed chunks kept for reuse beyond one edit */
};

typedef struct chunk {
    uint32_t len_bytes;
    uint32_t len_codepoints;
    char data[chunk_cap_bytes];
} chunk;

struct ot_text {
    chunk **chunks;          /* in text order, none empty */
    size_t count_chunks;
    size_t capacity_chunks;  /* of chunks and of both Fenwick arrays (+1) */
    uint64_t *fen_codepoints;/* 1-based Fenwick trees over the chunks */
    uint64_t *fen_bytes;
    chunk **spares;          /* allocated, unused chunks */
    size_t count_spares;
    size_t capacity_spares;
    uint64_t len_codepoints;
    uint64_t len_bytes;
};

/* ---- index ------------------------------------------------------------------------ */

static void fen_rebuild(ot_text *t) {
    size_t n = t->count_chunks;
    for (size_t i = 1; i <= n; i++) {
        t->fen_codepoints[i] = t->chunks[i - 1]->len_codepoints;
        t->fen_bytes[i] = t->chunks[i - 1]->len_bytes;
    }
    for (size_t i = 1; i <= n; i++) {
        size_t j = i + (i & (~i + 1));
        if (j <= n) {
            t->fen_codepoints[j] += t->fen_codepoints[i];
            t->fen_bytes[j] += t->fen_bytes[i];
        }
    }
}

/* Adds (two's complement) deltas to chunk `index` (0-based). */
static void fen_add(ot_text *t, size_t index, uint64_t delta_codepoints, uint64_t delta_bytes) {
    for (size_t i = index + 1; i <= t->count_chunks; i += i & (~i + 1)) {
        t->fen_codepoints[i] += delta_codepoints;
        t->fen_bytes[i] += delta_bytes;
    }
}

typedef struct locus {
    size_t chunk;            /* index of the chunk holding the position */
    uint32_t offset_codepoints; /* within that chunk: 0..len (0 only at the text start) */
    uint64_t chunk_start_bytes;  /* byte offset of the chunk in the text */
} locus;

/* The chunk where position `pos` (0 < pos <= len, or 0) falls: the last chunk
 * whose start is < pos, so an end-of-chunk position stays in that chunk. */
static locus locate(const ot_text *t, uint64_t pos) {
    size_t idx = 0;
    uint64_t rem = pos, bytes = 0;
    size_t step = 1;
    while (step * 2 <= t->count_chunks)
        step *= 2;
    for (; step; step /= 2) {
        if (idx + step <= t->count_chunks && t->fen_codepoints[idx + step] < rem) {
            idx += step;
            rem -= t->fen_codepoints[idx];
            bytes += t->fen_bytes[idx];
        }
    }
    if (idx == t->count_chunks) { /* only when pos == 0 on an empty text */
        locus l = { .chunk = idx, .offset_codepoints = 0, .chunk_start_bytes = bytes };
        return l;
    }
    locus l = { .chunk = idx, .offset_codepoints = (uint32_t)rem, .chunk_start_bytes = bytes };
    return l;
}

static size_t chunk_byte_at(const chunk *c, uint32_t offset_codepoints) {
    /* All ASCII: code points are bytes. */
    if (c->len_bytes == c->len_codepoints)
        return offset_codepoints;
    /* Otherwise scan from the nearer end. */
    uint32_t from_end = c->len_codepoints - offset_codepoints;
    if (from_end < offset_codepoints)
        return ot_utf8_retreat(c->data, c->len_bytes, from_end);
    return ot_utf8_advance(c->data, c->len_bytes, offset_codepoints);
}

/* Byte offset of code point `offset + count` of c, given the byte offset of
 * code point `offset`: the scan covers only the code points in between when
 * that is shorter. */
static size_t chunk_byte_after(const chunk *c, uint32_t offset_codepoints, size_t offset_bytes,
                               uint32_t count_codepoints) {
    if (c->len_bytes == c->len_codepoints)
        return offset_bytes + count_codepoints;
    if (count_codepoints <= c->len_codepoints - offset_codepoints - count_codepoints)
        return offset_bytes + ot_utf8_advance(c->data + offset_bytes, c->len_bytes - offset_bytes,
                                              count_codepoints);
    return chunk_byte_at(c, offset_codepoints + count_codepoints);
}

/* ---- storage ---------------------------------------------------------------------- */

static int reserve(ot_text *t, size_t extra_chunks) {
    if (extra_chunks > SIZE_MAX / 4 - t->count_chunks)
        return OT_ERR_NOMEM;
    size_t need = t->count_chunks + extra_chunks;
    if (need > t->capacity_chunks) {
        size_t cap = t->capacity_chunks ? t->capacity_chunks : 8;
        while (cap < need)
            cap *= 2;
        chunk **c = realloc(t->chunks, cap * sizeof *c);
        if (!c)
            return OT_ERR_NOMEM;
        t->chunks = c;
        uint64_t *f = realloc(t->fen_codepoints, (cap + 1) * sizeof *f);
        if (!f)
            return OT_ERR_NOMEM;
        t->fen_codepoints = f;
        f = realloc(t->fen_bytes, (cap + 1) * sizeof *f);
        if (!f)
            return OT_ERR_NOMEM;
        t->fen_bytes = f;
        t->capacity_chunks = cap;
    }
    if (extra_chunks > t->capacity_spares) {
        chunk **s = realloc(t->spares, extra_chunks * sizeof *s);
        if (!s)
            return OT_ERR_NOMEM;
        t->spares = s;
        t->capacity_spares = extra_chunks;
    }
    while (t->count_spares < extra_chunks) {
        chunk *c = malloc(sizeof *c);
        if (!c)
            return OT_ERR_NOMEM;
        t->spares[t->count_spares++] = c;
    }
    return OT_OK;
}

static chunk *take_spare(ot_text *t) {
    /* reserve() guaranteed one. */
    chunk *c = t->spares[--t->count_spares];
    c->len_bytes = 0;
    c->len_codepoints = 0;
    return c;
}

static void release(ot_text *t, chunk *c) {
    if (t->count_spares < t->capacity_spares && t->count_spares < spare_chunks_max)
        t->spares[t->count_spares++] = c;
    else
        free(c);
}

/* Removes chunks [first, first+n) from the array (not freeing them). */
static void remove_slots(ot_text *t, size_t first, size_t n) {
    memmove(&t->chunks[first], &t->chunks[first + n],
            (t->count_chunks - first - n) * sizeof *t->chunks);
    t->count_chunks -= n;
}

ot_text *ot_text_new(void) {
    ot_text *t = calloc(1, sizeof *t);
    return t;
}

void ot_text_free(ot_text *t) {
    if (!t)
        return;
    for (size_t i = 0; i < t->count_chunks; i++)
        free(t->chunks[i]);
    for (size_t i = 0; i < t->count_spares; i++)
        free(t->spares[i]);
    free(t->chunks);
    free(t->spares);
    free(t->fen_codepoints);
    free(t->fen_bytes);
    free(t);
}

uint64_t ot_text_len_codepoints(const ot_text *t) {
    return t->len_codepoints;
}

uint64_t ot_text_len_bytes(const ot_text *t) {
    return t->len_bytes;
}

/* Chunks needed to hold len_bytes at the fill level, split at code point
 * boundaries (a split never loses more than 3 bytes of a chunk). */
static size_t chunks_for(size_t len_bytes) {
    return len_bytes / (chunk_fill_bytes - 4) + 1;
}

/* Cuts `bytes` into new chunks of about chunk_fill_bytes, written to out[]
 * (which has room for chunks_for(len) entries); returns how many. */
static size_t pack(ot_text *t, const char *bytes, size_t len_bytes, chunk **out) {
    size_t n = 0, i = 0;
    while (i < len_bytes) {
        size_t take = len_bytes - i;
        if (take > chunk_fill_bytes) {
            take = chunk_fill_bytes;
            while ((bytes[i + take] & 0xC0) == 0x80) /* keep code points whole */
                take--;
        }
        chunk *c = take_spare(t);
        memcpy(c->data, bytes + i, take);
        c->len_bytes = (uint32_t)take;
        c->len_codepoints = (uint32_t)ot_utf8_count(bytes + i, take);
        out[n++] = c;
        i += take;
    }
    return n;
}

ot_text *ot_text_from_utf8(const char *utf8, size_t len_bytes) {
    uint64_t cps = 0;
    if (ot_utf8_validate(utf8, len_bytes, &cps, NULL) != OT_OK)
        return NULL;
    ot_text *t = ot_text_new();
    if (!t)
        return NULL;
    if (len_bytes && ot_text_insert(t, 0, utf8, len_bytes, cps) != OT_OK) {
        ot_text_free(t);
        return NULL;
    }
    return t;
}

/* ---- reading ------------------------------------------------------------------- */

int ot_text_to_buf(const ot_text *t, ot_buf *out) {
    /* One reservation, so the appends below cannot fail. */
    int rc = ot_buf_reserve(out, t->len_bytes);
    for (size_t i = 0; rc == OT_OK && i < t->count_chunks; i++)
        rc = ot_buf_append(out, t->chunks[i]->data, t->chunks[i]->len_bytes);
    if (rc == OT_OK)
        rc = ot_buf_append(out, "", 0);
    return rc;
}

void ot_text_copy_range(const ot_text *t, uint64_t start, uint64_t count, char *dst) {
    if (count == 0)
        return;
    /* Locate start+1 so the chunk is the one holding the first code point. */
    locus l = locate(t, start + 1);
    size_t ci = l.chunk;
    uint32_t off = l.offset_codepoints - 1;
    while (count) {
        const chunk *c = t->chunks[ci];
        size_t from = chunk_byte_at(c, off);
        uint64_t avail = c->len_codepoints - off;
        uint64_t take = count < avail ? count : avail;
        size_t to = chunk_byte_after(c, off, from, (uint32_t)take);
        memcpy(dst, c->data + from, to - from);
        dst += to - from;
        count -= take;
        off = 0;
        ci++;
    }
}

int ot_text_slice(const ot_text *t, uint64_t start, uint64_t count, ot_buf *out) {
    if (start > t->len_codepoints || count > t->len_codepoints - start)
        return OT_ERR_RANGE;
    uint64_t from = 0, to = 0;
    int rc = ot_text_byte_offset(t, start, &from);
    if (rc == OT_OK)
        rc = ot_text_byte_offset(t, start + count, &to);
    if (rc == OT_OK)
        rc = ot_buf_reserve(out, to - from);
    if (rc)
        return rc;
    ot_text_copy_range(t, start, count, out->data + out->len);
    out->len += to - from;
    out->data[out->len] = '\0';
    return OT_OK;
}

int ot_text_byte_offset(const ot_text *t, uint64_t pos, uint64_t *out_offset_bytes) {
    if (pos > t->len_codepoints)
        return OT_ERR_RANGE;
    if (pos == 0 || t->count_chunks == 0) {
        *out_offset_bytes = 0;
        return OT_OK;
    }
    locus l = locate(t, pos);
    *out_offset_bytes = l.chunk_start_bytes + chunk_byte_at(t->chunks[l.chunk], l.offset_codepoints);
    return OT_OK;
}

bool ot_text_equals(const ot_text *t, const char *utf8, size_t len_bytes) {
    if (len_bytes != t->len_bytes)
        return false;
    size_t at = 0;
    for (size_t i = 0; i < t->count_chunks; i++) {
        const chunk *c = t->chunks[i];
        if (memcmp(c->data, utf8 + at, c->len_bytes) != 0)
            return false;
        at += c->len_bytes;
    }
    return true;
}

/* ---- editing ---------------------------------------------------------------------- */

/* Merges chunk i with a neighbour when it has become small, keeping the chunk
 * count proportional to the text size. Returns true when the array changed. */
static bool maybe_merge(ot_text *t, size_t i) {
    if (i >= t->count_chunks || t->chunks[i]->len_bytes >= chunk_min_bytes)
        return false;
    size_t left = i, right = i + 1;
    if (right >= t->count_chunks ||
        t->chunks[left]->len_bytes + t->chunks[right]->len_bytes > chunk_fill_bytes) {
        if (i == 0)
            return false;
        left = i - 1;
        right = i;
        if (t->chunks[left]->len_bytes + t->chunks[right]->len_bytes > chunk_fill_bytes)
            return false;
    }
    chunk *a = t->chunks[left], *b = t->chunks[right];
    memcpy(a->data + a->len_bytes, b->data, b->len_bytes);
    a->len_bytes += b->len_bytes;
    a->len_codepoints += b->len_codepoints;
    remove_slots(t, right, 1);
    release(t, b);
    return true;
}

/* Worst case chunks one insert adds: the new text and the tail of a chunk
 * packed into new chunks. */
static size_t insert_need(size_t len_bytes) {
    return chunks_for(len_bytes + chunk_cap_bytes) + 1;
}

int ot_text_reserve_for_op(ot_text *t, const ot_op *op) {
    size_t need = 0;
    for (uint32_t i = 0; i < op->count_components; i++)
        if (op->components[i].kind == OT_INSERT)
            need += insert_need(op->components[i].text_len_bytes);
    return reserve(t, need);
}

void ot_text_trim(ot_text *t) {
    while (t->count_spares > spare_chunks_max)
        free(t->spares[--t->count_spares]);
}

int ot_text_insert(ot_text *t, uint64_t pos, const char *utf8, size_t len_bytes,
                   uint64_t count_codepoints) {
    if (pos > t->len_codepoints)
        return OT_ERR_RANGE;
    if (len_bytes == 0)
        return OT_OK;
    if (len_bytes > SIZE_MAX / 8)
        return OT_ERR_NOMEM;
    int rc = reserve(t, insert_need(len_bytes));
    if (rc)
        return rc;

    if (t->count_chunks == 0) {
        size_t n = pack(t, utf8, len_bytes, t->chunks);
        t->count_chunks = n;
        t->len_bytes = len_bytes;
        t->len_codepoints = count_codepoints;
        fen_rebuild(t);
        return OT_OK;
    }

    locus l = locate(t, pos);
    chunk *c = t->chunks[l.chunk];
    size_t at = chunk_byte_at(c, l.offset_codepoints);
    t->len_bytes += len_bytes;
    t->len_codepoints += count_codepoints;

    if (c->len_bytes + len_bytes <= chunk_cap_bytes) {
        /* The common case: room in place. */
        memmove(c->data + at + len_bytes, c->data + at, c->len_bytes - at);
        memcpy(c->data + at, utf8, len_bytes);
        c->len_bytes += (uint32_t)len_bytes;
        c->len_codepoints += (uint32_t)count_codepoints;
        fen_add(t, l.chunk, count_codepoints, len_bytes);
        return OT_OK;
    }

    /* Split: the chunk keeps its head; the new text and the old tail go into
     * new chunks placed right after it. */
    char tail[chunk_cap_bytes];
    size_t tail_len = c->len_bytes - at;
    memcpy(tail, c->data + at, tail_len);
    uint32_t tail_cps = c->len_codepoints - l.offset_codepoints;
    c->len_bytes = (uint32_t)at;
    c->len_codepoints = l.offset_codepoints;

    size_t first = l.chunk + 1;
    size_t max_new = chunks_for(len_bytes) + chunks_for(tail_len);
    memmove(&t->chunks[first + max_new], &t->chunks[first],
            (t->count_chunks - first) * sizeof *t->chunks);
    size_t n = pack(t, utf8, len_bytes, &t->chunks[first]);
    /* The old tail joins the last new chunk when it fits, else its own chunk. */
    chunk *lastc = t->chunks[first + n - 1];
    if (tail_len && lastc->len_bytes + tail_len <= chunk_cap_bytes) {
        memcpy(lastc->data + lastc->len_bytes, tail, tail_len);
        lastc->len_bytes += (uint32_t)tail_len;
        lastc->len_codepoints += tail_cps;
    } else if (tail_len) {
        n += pack(t, tail, tail_len, &t->chunks[first + n]);
    }
    if (n != max_new)
        memmove(&t->chunks[first + n], &t->chunks[first + max_new],
                (t->count_chunks - first) * sizeof *t->chunks);
    t->count_chunks += n;
    if (c->len_bytes == 0) {
        remove_slots(t, l.chunk, 1);
        release(t, c);
    } else {
        maybe_merge(t, l.chunk);
    }
    fen_rebuild(t);
    return OT_OK;
}

int ot_text_delete(ot_text *t, uint64_t pos, uint64_t count) {
    if (pos > t->len_codepoints || count > t->len_codepoints - pos)
        return OT_ERR_RANGE;
    if (count == 0)
        return OT_OK;
    locus l = locate(t, pos + 1); /* the chunk holding the first deleted code point */
    size_t ci = l.chunk;
    uint32_t off = l.offset_codepoints - 1;
    chunk *c = t->chunks[ci];

    if (count <= c->len_codepoints - off) {
        /* Within one chunk: the common case. */
        size_t from = chunk_byte_at(c, off);
        size_t to = chunk_byte_after(c, off, from, (uint32_t)count);
        memmove(c->data + from, c->data + to, c->len_bytes - to);
        c->len_bytes -= (uint32_t)(to - from);
        c->len_codepoints -= (uint32_t)count;
        t->len_bytes -= to - from;
        t->len_codepoints -= count;
        if (c->len_bytes == 0) {
            remove_slots(t, ci, 1);
            release(t, c);
            fen_rebuild(t);
        } else if (maybe_merge(t, ci)) {
            fen_rebuild(t);
        } else {
            fen_add(t, ci, (uint64_t)0 - count, (uint64_t)0 - (to - from));
        }
        return OT_OK;
    }

    /* Across chunks: trim the first, drop whole middles, trim the last. */
    size_t from = chunk_byte_at(c, off);
    t->len_bytes -= c->len_bytes - from;
    t->len_codepoints -= c->len_codepoints - off;
    count -= c->len_codepoints - off;
    c->len_bytes = (uint32_t)from;
    c->len_codepoints = off;
    size_t next = ci + 1, drop = 0;
    while (count && count >= t->chunks[next + drop]->len_codepoints) {
        chunk *m = t->chunks[next + drop];
        count -= m->len_codepoints;
        t->len_bytes -= m->len_bytes;
        t->len_codepoints -= m->len_codepoints;
        release(t, m);
        drop++;
    }
    remove_slots(t, next, drop);
    if (count) {
        chunk *e = t->chunks[next];
        size_t to = chunk_byte_at(e, (uint32_t)count);
        memmove(e->data, e->data + to, e->len_bytes - to);
        e->len_bytes -= (uint32_t)to;
        e->len_codepoints -= (uint32_t)count;
        t->len_bytes -= to;
        t->len_codepoints -= count;
    }
    if (c->len_bytes == 0) {
        remove_slots(t, ci, 1);
        release(t, c);
    } else {
        maybe_merge(t, ci);
    }
    if (ci < t->count_chunks && ci + 1 < t->count_chunks)
        maybe_merge(t, ci + 1);
    fen_rebuild(t);
    return OT_OK;
}
