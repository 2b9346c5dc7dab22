/*
 * A document with history: the single serialization point of one document.
 * Keeps the last history_depth applied ops (with their inverses, ids, authors
 * and times) in a ring, and a hash index of op ids for duplicate detection
 * whose entries leave with their ops.
 */
#include <stdlib.h>
#include <string.h>

#include "ot_internal.h"

typedef struct id_slot {
    uint64_t hash;
    uint64_t version_plus1; /* 0 = empty; else the base version of the op + 1 */
} id_slot;

struct ot_doc {
    ot_limits limits;
    ot_text *text;
    uint64_t version;
    ot_history_entry *ring; /* history_depth entries, ops initialised */
    uint32_t depth;
    uint32_t count;         /* retained entries */
    uint32_t head;          /* ring index of the oldest entry */
    id_slot *ids;           /* open addressing, linear probing, >= 2 * depth slots */
    size_t ids_mask;
    ot_op scratch_a, scratch_b, scratch_inverse; /* reused across submits */
};

static uint64_t hash_id(const char *id, size_t len) {
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)id[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t oldest(const ot_doc *doc) {
    return doc->version - doc->count;
}

static ot_history_entry *entry_at(const ot_doc *doc, uint64_t base_version) {
    uint64_t k = base_version - oldest(doc);
    return &doc->ring[(doc->head + k) % doc->depth];
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
    ot_op_init(&doc->scratch_inverse);
    size_t slots = 4;
    while (slots < (size_t)doc->depth * 2)
        slots *= 2;
    doc->ring = calloc(doc->depth, sizeof *doc->ring);
    doc->ids = calloc(slots, sizeof *doc->ids);
    doc->ids_mask = slots - 1;
    doc->text = ot_text_from_utf8(utf8, len_bytes);
    if (!doc->ring || !doc->ids || !doc->text ||
        ot_text_len_codepoints(doc->text) > doc->limits.max_doc_codepoints) {
        ot_doc_free(doc);
        return NULL;
    }
    for (uint32_t i = 0; i < doc->depth; i++) {
        ot_op_init(&doc->ring[i].op);
        ot_op_init(&doc->ring[i].inverse);
    }
    return doc;
}

void ot_doc_free(ot_doc *doc) {
    if (!doc)
        return;
    if (doc->ring) {
        for (uint32_t i = 0; i < doc->depth; i++) {
            ot_op_free(&doc->ring[i].op);
            ot_op_free(&doc->ring[i].inverse);
            free(doc->ring[i].id);
            free(doc->ring[i].author);
        }
    }
    free(doc->ring);
    free(doc->ids);
    ot_text_free(doc->text);
    ot_op_free(&doc->scratch_a);
    ot_op_free(&doc->scratch_b);
    ot_op_free(&doc->scratch_inverse);
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

const ot_history_entry *ot_doc_history_at(const ot_doc *doc, uint64_t base_version) {
    if (base_version < oldest(doc) || base_version >= doc->version)
        return NULL;
    return entry_at(doc, base_version);
}

/* ---- the id index ---------------------------------------------------------------- */

static const ot_history_entry *find_id(const ot_doc *doc, const char *id, size_t id_len) {
    uint64_t h = hash_id(id, id_len);
    /* At most every slot; the table is never more than half full. */
    for (size_t i = h & doc->ids_mask, probes = 0; probes <= doc->ids_mask;
         i = (i + 1) & doc->ids_mask, probes++) {
        const id_slot *s = &doc->ids[i];
        if (!s->version_plus1)
            return NULL;
        if (s->hash != h)
            continue;
        const ot_history_entry *e = entry_at(doc, s->version_plus1 - 1);
        if (e->id_len == id_len && memcmp(e->id, id, id_len) == 0)
            return e;
    }
    return NULL;
}

static void add_id(ot_doc *doc, uint64_t hash, uint64_t base_version) {
    size_t i = hash & doc->ids_mask;
    while (doc->ids[i].version_plus1)
        i = (i + 1) & doc->ids_mask;
    doc->ids[i] = (id_slot){ .hash = hash, .version_plus1 = base_version + 1 };
}

static void remove_id(ot_doc *doc, uint64_t hash, uint64_t base_version) {
    size_t i = hash & doc->ids_mask;
    size_t probes = 0;
    while (doc->ids[i].version_plus1 != base_version + 1) {
        if (!doc->ids[i].version_plus1 || ++probes > doc->ids_mask)
            return; /* not indexed */
        i = (i + 1) & doc->ids_mask;
    }
    /* Backward-shift deletion keeps probe chains unbroken without tombstones. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & doc->ids_mask;
        if (!doc->ids[j].version_plus1)
            break;
        size_t home = doc->ids[j].hash & doc->ids_mask;
        bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
        if (stays)
            continue;
        doc->ids[i] = doc->ids[j];
        i = j;
    }
    doc->ids[i] = (id_slot){ 0 };
}

/* ---- submit -------------------------------------------------------------------------- */

static int dup_bytes(const char *s, size_t len, char **out) {
    *out = NULL;
    if (len == 0)
        return OT_OK;
    char *p = malloc(len + 1);
    if (!p)
        return OT_ERR_NOMEM;
    memcpy(p, s, len);
    p[len] = '\0';
    *out = p;
    return OT_OK;
}

/* Takes an entry's id out of the index and frees its id and author. */
static void release_entry_ids(ot_doc *doc, ot_history_entry *e) {
    if (e->id_len)
        remove_id(doc, hash_id(e->id, e->id_len), e->base_version);
    free(e->id);
    free(e->author);
    e->id = e->author = NULL;
    e->id_len = e->author_len = 0;
}

/* Drops the oldest retained entry; its op storage stays in the slot for reuse. */
static void drop_oldest(ot_doc *doc) {
    release_entry_ids(doc, &doc->ring[doc->head]);
    doc->head = (doc->head + 1) % doc->depth;
    doc->count--;
}

void ot_doc_forget_before(ot_doc *doc, uint64_t base_version) {
    /* Bounded by the retained count. The storage is freed, not kept for reuse:
     * a ring sized for a burst would otherwise hold the burst's largest ops
     * for good. */
    while (doc->count > 0 && oldest(doc) < base_version) {
        ot_history_entry *gone = &doc->ring[doc->head];
        drop_oldest(doc);
        ot_op_free(&gone->op);
        ot_op_free(&gone->inverse);
    }
}

int ot_doc_submit(ot_doc *doc, uint64_t base_version, const ot_op *op,
                  const char *id, size_t id_len, const char *author, size_t author_len,
                  int64_t time_ms, ot_submit_result *result) {
    result->duplicate = false;
    if (id_len) {
        /* Before the version checks: a client resending after a reconnect
         * may hold a base version that has since left the history. */
        const ot_history_entry *e = find_id(doc, id, id_len);
        if (e) {
            int rc = ot_op_copy(&result->op, &e->op);
            if (rc)
                return rc;
            result->applied_at_version = e->base_version;
            result->duplicate = true;
            return OT_OK;
        }
    }
    if (base_version > doc->version)
        return OT_ERR_VERSION_AHEAD;
    if (base_version < oldest(doc))
        return OT_ERR_VERSION_TOO_OLD;

    /* One retained op at a time: composition is not closed under transform. */
    int rc = ot_op_copy(&doc->scratch_a, op);
    for (uint64_t v = base_version; rc == OT_OK && v < doc->version; v++) {
        rc = ot_transform(&doc->scratch_a, &entry_at(doc, v)->op, &doc->scratch_b, NULL);
        if (rc == OT_ERR_TRANSFORM_MISMATCH)
            rc = OT_ERR_BASE_LENGTH;
        ot_op tmp = doc->scratch_a;
        doc->scratch_a = doc->scratch_b;
        doc->scratch_b = tmp;
    }
    if (rc)
        return rc;
    const ot_op *applied = &doc->scratch_a;
    if (applied->base_len_codepoints != ot_text_len_codepoints(doc->text))
        return OT_ERR_BASE_LENGTH;
    if (applied->target_len_codepoints > doc->limits.max_doc_codepoints)
        return OT_ERR_TOO_LARGE;
    rc = ot_invert(applied, doc->text, &doc->scratch_inverse);
    if (rc)
        return rc;

    /* Everything that can fail happens before the text changes. */
    char *id_copy = NULL, *author_copy = NULL;
    rc = dup_bytes(id, id_len, &id_copy);
    if (rc == OT_OK)
        rc = dup_bytes(author, author_len, &author_copy);
    if (rc == OT_OK)
        rc = ot_op_copy(&result->op, applied);
    if (rc == OT_OK)
        rc = ot_apply(applied, doc->text);
    if (rc) {
        free(id_copy);
        free(author_copy);
        return rc;
    }

    if (doc->count == doc->depth)
        drop_oldest(doc);
    ot_history_entry *e = &doc->ring[(doc->head + doc->count) % doc->depth];
    /* Swap storage so the ring reuses the evicted op's allocations next time. */
    ot_op tmp = e->op;
    e->op = doc->scratch_a;
    doc->scratch_a = tmp;
    tmp = e->inverse;
    e->inverse = doc->scratch_inverse;
    doc->scratch_inverse = tmp;
    e->base_version = doc->version;
    e->id = id_copy;
    e->id_len = id_len;
    e->author = author_copy;
    e->author_len = author_len;
    e->time_ms = time_ms;
    doc->count++;
    if (id_len)
        add_id(doc, hash_id(id, id_len), doc->version);
    result->applied_at_version = doc->version;
    doc->version++;
    return OT_OK;
}

int ot_doc_undo_last(ot_doc *doc) {
    if (doc->count == 0)
        return OT_ERR_VERSION_TOO_OLD;
    ot_history_entry *e = entry_at(doc, doc->version - 1);
    int rc = ot_apply(&e->inverse, doc->text);
    if (rc)
        return rc;
    release_entry_ids(doc, e);
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
    for (uint64_t v = doc->version; rc == OT_OK && v > version; v--)
        rc = ot_apply(&entry_at(doc, v - 1)->inverse, past);
    if (rc == OT_OK)
        rc = ot_text_to_buf(past, out);
    ot_text_free(past);
    return rc;
}
