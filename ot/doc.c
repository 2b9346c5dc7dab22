/*
 * A document with history: the single serialization point of one document.
 * Keeps the last history_depth applied ops as packed records (pack.c: the op,
 * the text its deletes removed, id, author, time) in a ring that grows with
 * them, and a hash index of op ids for duplicate detection whose entries
 * leave with their ops.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "ot_internal.h"

/* 8 bytes a slot: the version is kept modulo 2^32, which is enough because
 * the history never spans more than history_depth (< 2^32) versions. */
typedef struct id_slot {
    uint32_t tag;           /* 0 = empty; else the id's 32-bit hash (0 taken as 1) */
    uint32_t version_low;   /* the op's base version, low 32 bits */
} id_slot;

struct ot_doc {
    ot_limits limits;
    ot_text *text;
    uint64_t version;
    uint8_t **ring;         /* cap records, the oldest at head */
    uint32_t depth;         /* what cap may grow to */
    uint32_t cap;
    uint32_t count;         /* retained records */
    uint32_t head;
    id_slot *ids;           /* open addressing, linear probing, >= 2 * cap slots */
    size_t ids_mask;
    size_t record_bytes;    /* ot_pack_cost_bytes of every retained record */
    ot_op scratch_a, scratch_b, scratch_hist; /* reused across submits */
};

static uint32_t hash_id(const char *id, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 0x100000001b3ull;
    }
    uint32_t tag = (uint32_t)(h ^ (h >> 32));
    return tag ? tag : 1;
}

static uint64_t oldest(const ot_doc *doc) {
    return doc->version - doc->count;
}

/* Callers checked that base_version is retained: the record is there. */
static uint8_t *record_at(const ot_doc *doc, uint64_t base_version) {
    assert(base_version >= oldest(doc) && base_version < doc->version);
    uint64_t k = base_version - oldest(doc);
    return doc->ring[(doc->head + k) % doc->cap];
}

/* The base version an id slot names. */
static uint64_t slot_version(const ot_doc *doc, const id_slot *s) {
    return doc->version - (uint32_t)((uint32_t)doc->version - s->version_low);
}

ot_doc *ot_doc_new(const ot_limits *limits, uint64_t version, const char *utf8, size_t len_bytes) {
    ot_doc *doc = calloc(1, sizeof *doc);
    if (!doc)
        return NULL;
    doc->limits = limits ? *limits : ot_limits_default();
    doc->depth = doc->limits.history_depth ? doc->limits.history_depth : 1;
    doc->version = version;
    ot_op_init(&doc->scratch_a);
    ot_op_init(&doc->scratch_b);
    ot_op_init(&doc->scratch_hist);
    doc->text = ot_text_from_utf8(utf8, len_bytes);
    if (!doc->text || ot_text_len_codepoints(doc->text) > doc->limits.max_doc_codepoints) {
        ot_doc_free(doc);
        return NULL;
    }
    return doc;
}

void ot_doc_free(ot_doc *doc) {
    if (!doc)
        return;
    for (uint32_t k = 0; k < doc->count; k++)
        free(doc->ring[(doc->head + k) % doc->cap]);
    free(doc->ring);
    free(doc->ids);
    ot_text_free(doc->text);
    ot_op_free(&doc->scratch_a);
    ot_op_free(&doc->scratch_b);
    ot_op_free(&doc->scratch_hist);
    free(doc);
}

uint64_t ot_doc_version(const ot_doc *doc) {
    return doc->version;
}

const ot_text *ot_doc_text(const ot_doc *doc) {
    return doc->text;
}

uint64_t ot_doc_oldest_version(const ot_doc *doc) {
    return oldest(doc);
}

size_t ot_doc_history_bytes(const ot_doc *doc) {
    size_t ids = doc->ids ? (doc->ids_mask + 1) * sizeof *doc->ids : 0;
    return doc->record_bytes + (size_t)doc->cap * sizeof *doc->ring + ids;
}

void ot_history_entry_init(ot_history_entry *e) {
    memset(e, 0, sizeof *e);
    ot_op_init(&e->op);
}

void ot_history_entry_free(ot_history_entry *e) {
    ot_op_free(&e->op);
    ot_history_entry_init(e);
}

/* The retained record at base_version, read in place. */
static int view_at(const ot_doc *doc, uint64_t base_version, ot_pack_view *v) {
    if (base_version < oldest(doc))
        return OT_ERR_VERSION_TOO_OLD;
    if (base_version >= doc->version)
        return OT_ERR_VERSION_AHEAD;
    ot_pack_view_of(record_at(doc, base_version), v);
    return OT_OK;
}

int ot_doc_history_read(const ot_doc *doc, uint64_t base_version, ot_history_entry *out) {
    ot_pack_view v;
    int rc = view_at(doc, base_version, &v);
    if (rc == OT_OK)
        rc = ot_pack_decode_op(&v, &out->op);
    if (rc)
        return rc;
    out->base_version = base_version;
    out->id = v.id;
    out->id_len = v.id_len;
    out->author = v.author;
    out->author_len = v.author_len;
    out->time_ms = v.time_ms;
    return OT_OK;
}

int ot_doc_history_inverse(const ot_doc *doc, uint64_t base_version, ot_op *out) {
    ot_pack_view v;
    int rc = view_at(doc, base_version, &v);
    return rc ? rc : ot_pack_decode_inverse(&v, out);
}

int ot_doc_history_id(const ot_doc *doc, uint64_t base_version, const char **id, size_t *id_len) {
    ot_pack_view v;
    int rc = view_at(doc, base_version, &v);
    if (rc)
        return rc;
    *id = v.id;
    *id_len = v.id_len;
    return OT_OK;
}

/* ---- the id index ---------------------------------------------------------------- */

/* The retained record with this id (and its base version), or NULL. */
static const uint8_t *find_id(const ot_doc *doc, const char *id, size_t id_len, uint64_t *base_version) {
    if (!doc->ids)
        return NULL;
    uint32_t tag = hash_id(id, id_len);
    /* At most every slot; the table is never more than half full. */
    for (size_t i = tag & doc->ids_mask, probes = 0; probes <= doc->ids_mask;
         i = (i + 1) & doc->ids_mask, probes++) {
        const id_slot *s = &doc->ids[i];
        if (!s->tag)
            return NULL;
        if (s->tag != tag)
            continue;
        uint64_t v = slot_version(doc, s);
        const uint8_t *rec = record_at(doc, v);
        ot_pack_view view;
        ot_pack_view_of(rec, &view);
        if (view.id_len == id_len && memcmp(view.id, id, id_len) == 0) {
            *base_version = v;
            return rec;
        }
    }
    return NULL;
}

bool ot_doc_find_id(const ot_doc *doc, const char *id, size_t id_len, uint64_t *base_version) {
    return id_len > 0 && find_id(doc, id, id_len, base_version) != NULL;
}

static void add_id(id_slot *ids, size_t mask, uint32_t tag, uint64_t base_version) {
    size_t i = tag & mask;
    while (ids[i].tag)
        i = (i + 1) & mask;
    ids[i] = (id_slot){ .tag = tag, .version_low = (uint32_t)base_version };
}

static void remove_id(ot_doc *doc, uint32_t tag, uint64_t base_version) {
    size_t i = tag & doc->ids_mask;
    size_t probes = 0;
    while (doc->ids[i].tag != tag || doc->ids[i].version_low != (uint32_t)base_version) {
        if (!doc->ids[i].tag || ++probes > doc->ids_mask)
            return; /* not indexed */
        i = (i + 1) & doc->ids_mask;
    }
    /* Backward-shift deletion keeps probe chains unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & doc->ids_mask;
        if (!doc->ids[j].tag)
            break;
        size_t home = doc->ids[j].tag & doc->ids_mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        doc->ids[i] = doc->ids[j];
        i = j;
    }
    doc->ids[i] = (id_slot){ 0 };
}

/* ---- storage ------------------------------------------------------------------------ */

/* Room for one more record: the ring doubles up to depth (and the id index
 * with it, rebuilt). Nothing changes on OT_ERR_NOMEM. */
static int grow(ot_doc *doc) {
    if (doc->count < doc->cap || doc->cap == doc->depth)
        return OT_OK;
    uint64_t cap = doc->cap ? (uint64_t)doc->cap * 2 : 8;
    if (cap > doc->depth)
        cap = doc->depth;
    size_t slots = 4;
    while (slots < cap * 2)
        slots *= 2;
    uint8_t **ring = malloc(cap * sizeof *ring);
    id_slot *ids = calloc(slots, sizeof *ids);
    if (!ring || !ids) {
        free(ring);
        free(ids);
        return OT_ERR_NOMEM;
    }
    for (uint32_t k = 0; k < doc->count; k++)
        ring[k] = doc->ring[(doc->head + k) % doc->cap];
    /* The old index already holds every retained id's hash and version: moving
     * its slots touches no record (reading them back, cold, and hashing their
     * ids again was most of the cost of a doubling). */
    for (size_t i = 0; doc->ids && i <= doc->ids_mask; i++)
        if (doc->ids[i].tag)
            add_id(ids, slots - 1, doc->ids[i].tag, doc->ids[i].version_low);
    free(doc->ring);
    free(doc->ids);
    doc->ring = ring;
    doc->ids = ids;
    doc->ids_mask = slots - 1;
    doc->cap = (uint32_t)cap;
    doc->head = 0;
    return OT_OK;
}

static void drop_oldest(ot_doc *doc) {
    assert(doc->count > 0 && doc->ring[doc->head] != NULL);
    uint8_t *rec = doc->ring[doc->head];
    ot_pack_view v;
    ot_pack_view_of(rec, &v);
    if (v.id_len)
        remove_id(doc, hash_id(v.id, v.id_len), oldest(doc));
    doc->record_bytes -= ot_pack_cost_bytes(v.len_bytes);
    free(rec);
    doc->ring[doc->head] = NULL;
    doc->head = (doc->head + 1) % doc->cap;
    doc->count--;
}

void ot_doc_forget_before(ot_doc *doc, uint64_t base_version) {
    /* bounded by the retained count */
    while (doc->count > 0 && oldest(doc) < base_version)
        drop_oldest(doc);
}

/* ---- submit -------------------------------------------------------------------------- */

/* Scratch ops keep their storage for the next submit (small ops then
 * allocate nothing) unless a large op grew them past this. */
#define OT_DOC_SCRATCH_KEEP_BYTES (64u * 1024u)

static void trim_op(ot_op *op) {
    if (op->text_capacity_bytes > OT_DOC_SCRATCH_KEEP_BYTES ||
        (size_t)op->capacity_components * sizeof *op->components > OT_DOC_SCRATCH_KEEP_BYTES)
        ot_op_free(op);
}

static void trim_scratch(ot_doc *doc) {
    trim_op(&doc->scratch_a);
    trim_op(&doc->scratch_b);
    trim_op(&doc->scratch_hist);
}

int ot_doc_submit(ot_doc *doc, uint64_t base_version, const ot_op *op,
                  const char *id, size_t id_len, const char *author, size_t author_len,
                  int64_t time_ms, ot_submit_result *result) {
    result->duplicate = false;
    if (id_len) {
        /* Before the version checks: a client resending after a reconnect
         * may hold a base version that has since left the history. */
        uint64_t at = 0;
        const uint8_t *rec = find_id(doc, id, id_len, &at);
        if (rec) {
            ot_pack_view v;
            ot_pack_view_of(rec, &v);
            int rc = ot_pack_decode_op(&v, &result->op);
            if (rc)
                return rc;
            result->applied_at_version = at;
            result->duplicate = true;
            return OT_OK;
        }
    }
    if (base_version > doc->version)
        return OT_ERR_VERSION_AHEAD;
    if (base_version < oldest(doc))
        return OT_ERR_VERSION_TOO_OLD;

    /* One retained op at a time: composition is not closed under transform.
     * An op on the current version is applied as it is, without a copy. */
    int rc = base_version == doc->version ? OT_OK : ot_op_copy(&doc->scratch_a, op);
    for (uint64_t v = base_version; rc == OT_OK && v < doc->version; v++) {
        ot_pack_view view;
        ot_pack_view_of(record_at(doc, v), &view);
        rc = ot_pack_decode_op(&view, &doc->scratch_hist);
        if (rc == OT_OK)
            rc = ot_transform(&doc->scratch_a, &doc->scratch_hist, &doc->scratch_b, NULL);
        if (rc == OT_ERR_TRANSFORM_MISMATCH)
            rc = OT_ERR_BASE_LENGTH;
        ot_op tmp = doc->scratch_a;
        doc->scratch_a = doc->scratch_b;
        doc->scratch_b = tmp;
    }
    if (rc)
        return rc;
    const ot_op *applied = base_version == doc->version ? op : &doc->scratch_a;
    if (applied->base_len_codepoints != ot_text_len_codepoints(doc->text))
        return OT_ERR_BASE_LENGTH;
    if (applied->target_len_codepoints > doc->limits.max_doc_codepoints)
        return OT_ERR_TOO_LARGE;

    /* Everything that can fail happens before the text changes. */
    rc = grow(doc);
    uint8_t *rec = NULL;
    size_t rec_len = 0;
    ot_pack_meta meta = { .id = id, .id_len = id_len, .author = author, .author_len = author_len,
                          .time_ms = time_ms };
    if (rc == OT_OK)
        rc = ot_pack_record(applied, doc->text, &meta, &rec, &rec_len);
    if (rc == OT_OK)
        rc = ot_op_copy(&result->op, applied);
    if (rc == OT_OK)
        rc = ot_apply(applied, doc->text);
    if (rc) {
        free(rec);
        return rc;
    }

    if (doc->count == doc->cap)
        drop_oldest(doc); /* cap == depth: grow made room otherwise */
    assert(doc->count < doc->cap);
    doc->ring[(doc->head + doc->count) % doc->cap] = rec;
    doc->record_bytes += ot_pack_cost_bytes(rec_len);
    doc->count++;
    if (id_len)
        add_id(doc->ids, doc->ids_mask, hash_id(id, id_len), doc->version);
    result->applied_at_version = doc->version;
    doc->version++;
    /* the applied op was checked against the text, so the text is its target */
    assert(ot_text_len_codepoints(doc->text) == applied->target_len_codepoints);
    assert(doc->count <= doc->cap && doc->cap <= doc->depth);
    trim_scratch(doc);
    return OT_OK;
}

int ot_doc_undo_last(ot_doc *doc) {
    if (doc->count == 0)
        return OT_ERR_VERSION_TOO_OLD;
    uint64_t last = doc->version - 1;
    int rc = ot_doc_history_inverse(doc, last, &doc->scratch_hist);
    if (rc == OT_OK)
        rc = ot_apply(&doc->scratch_hist, doc->text);
    trim_scratch(doc);
    if (rc)
        return rc;
    uint32_t slot = (doc->head + doc->count - 1) % doc->cap;
    uint8_t *rec = doc->ring[slot];
    ot_pack_view v;
    ot_pack_view_of(rec, &v);
    if (v.id_len)
        remove_id(doc, hash_id(v.id, v.id_len), last);
    doc->record_bytes -= ot_pack_cost_bytes(v.len_bytes);
    free(rec);
    doc->ring[slot] = NULL;
    doc->count--;
    doc->version--;
    return OT_OK;
}

int ot_doc_text_at(const ot_doc *doc, uint64_t version, ot_buf *out) {
    if (version > doc->version)
        return OT_ERR_VERSION_AHEAD;
    if (version < oldest(doc))
        return OT_ERR_VERSION_TOO_OLD;
    if (version == doc->version)
        return ot_text_to_buf(doc->text, out);
    ot_buf now;
    ot_buf_init(&now);
    int rc = ot_text_to_buf(doc->text, &now);
    ot_text *past = rc ? NULL : ot_text_from_utf8(now.data, now.len);
    ot_buf_free(&now);
    if (!past)
        return OT_ERR_NOMEM;
    ot_op inverse;
    ot_op_init(&inverse);
    for (uint64_t v = doc->version; rc == OT_OK && v > version; v--) {
        rc = ot_doc_history_inverse(doc, v - 1, &inverse);
        if (rc == OT_OK)
            rc = ot_apply(&inverse, past);
    }
    ot_op_free(&inverse);
    if (rc == OT_OK)
        rc = ot_text_to_buf(past, out);
    ot_text_free(past);
    return rc;
}
