/* Operations: storage, canonical builders, strict builders, equality. */
#include <stdlib.h>
#include <string.h>

#include "ot_internal.h"

void ot_op_init(ot_op *op) {
    ot_op_init_with(op, NULL);
}

void ot_op_init_with(ot_op *op, const ot_allocator *allocator) {
    memset(op, 0, sizeof *op);
    op->allocator = allocator;
}

static void *resize(const ot_op *op, void *ptr, size_t old_size_bytes, size_t new_size_bytes) {
    if (op->allocator)
        return op->allocator->resize(op->allocator->ctx, ptr, old_size_bytes, new_size_bytes);
    if (new_size_bytes == 0) {
        free(ptr);
        return NULL;
    }
    return realloc(ptr, new_size_bytes);
}

void ot_op_free(ot_op *op) {
    if (op->components)
        resize(op, op->components, (size_t)op->capacity_components * sizeof *op->components, 0);
    if (op->text)
        resize(op, op->text, op->text_capacity_bytes, 0);
    ot_op_init_with(op, op->allocator);
}

void ot_op_clear(ot_op *op) {
    ot_op_reset(op);
}

static int reserve_components(ot_op *op, uint32_t extra) {
    if (extra > UINT32_MAX - op->count_components)
        return OT_ERR_TOO_MANY_COMPONENTS;
    uint32_t need = op->count_components + extra;
    if (need <= op->capacity_components)
        return OT_OK;
    uint64_t cap = op->capacity_components ? op->capacity_components : 8;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    ot_component *c = resize(op, op->components,
                             (size_t)op->capacity_components * sizeof *c, (size_t)cap * sizeof *c);
    if (!c)
        return OT_ERR_NOMEM;
    op->components = c;
    op->capacity_components = (uint32_t)cap;
    return OT_OK;
}

int ot_op_reserve_text(ot_op *op, size_t extra_bytes) {
    if (extra_bytes > (size_t)(UINT32_MAX - 1) - op->text_len_bytes)
        return OT_ERR_TOO_LARGE; /* offsets are 32-bit */
    uint64_t need = (uint64_t)op->text_len_bytes + extra_bytes;
    if (need <= op->text_capacity_bytes)
        return OT_OK;
    uint64_t cap = op->text_capacity_bytes ? op->text_capacity_bytes : 32;
    while (cap < need)
        cap *= 2;
    if (cap > UINT32_MAX)
        cap = UINT32_MAX;
    char *t = resize(op, op->text, op->text_capacity_bytes, (size_t)cap);
    if (!t)
        return OT_ERR_NOMEM;
    op->text = t;
    op->text_capacity_bytes = (uint32_t)cap;
    return OT_OK;
}

int ot_op_reserve(ot_op *op, uint64_t extra_components, size_t extra_text_bytes) {
    if (extra_components > UINT32_MAX)
        return OT_ERR_TOO_MANY_COMPONENTS;
    int rc = reserve_components(op, (uint32_t)extra_components);
    if (rc == OT_OK)
        rc = ot_op_reserve_text(op, extra_text_bytes);
    return rc;
}

int ot_op_copy(ot_op *dst, const ot_op *src) {
    if (dst == src)
        return OT_OK;
    ot_op_clear(dst);
    int rc = reserve_components(dst, src->count_components);
    if (rc)
        return rc;
    rc = ot_op_reserve_text(dst, src->text_len_bytes);
    if (rc)
        return rc;
    if (src->count_components)
        memcpy(dst->components, src->components, src->count_components * sizeof *src->components);
    if (src->text_len_bytes)
        memcpy(dst->text, src->text, src->text_len_bytes);
    dst->count_components = src->count_components;
    dst->text_len_bytes = src->text_len_bytes;
    dst->base_len_codepoints = src->base_len_codepoints;
    dst->target_len_codepoints = src->target_len_codepoints;
    return OT_OK;
}

const char *ot_op_insert_text(const ot_op *op, const ot_component *c) {
    return op->text + c->text_offset_bytes;
}

static ot_component *last(ot_op *op) {
    return op->count_components ? &op->components[op->count_components - 1] : NULL;
}

/* Retain and delete share everything but the lengths they move. */
static int push_count(ot_op *op, ot_kind kind, uint64_t n) {
    if (n == 0)
        return OT_OK;
    if (n > UINT64_MAX - op->base_len_codepoints)
        return OT_ERR_RANGE;
    if (kind == OT_RETAIN && n > UINT64_MAX - op->target_len_codepoints)
        return OT_ERR_RANGE;
    ot_component *l = last(op);
    bool merges = l && l->kind == kind;
    if (merges && n > UINT64_MAX - l->count_codepoints)
        return OT_ERR_RANGE;
    int rc = merges ? OT_OK : reserve_components(op, 1);
    if (rc)
        return rc;
    ot_op_put_count(op, kind, n);
    return OT_OK;
}

int ot_op_retain(ot_op *op, uint64_t count_codepoints) {
    return push_count(op, OT_RETAIN, count_codepoints);
}

int ot_op_delete(ot_op *op, uint64_t count_codepoints) {
    return push_count(op, OT_DELETE, count_codepoints);
}

int ot_op_commit_insert(ot_op *op, size_t len_bytes, uint64_t count_codepoints) {
    if (len_bytes == 0)
        return OT_OK;
    if (count_codepoints > UINT64_MAX - op->target_len_codepoints)
        return OT_ERR_RANGE;
    /* Merging into an insert (the last component, or the one before a final
     * delete) needs no new slot; anything else may. */
    bool merges = ot_op_insert_merge_target(op) != NULL;
    int rc = merges ? OT_OK : reserve_components(op, 1);
    if (rc)
        return rc;
    ot_op_put_written_insert(op, (uint32_t)len_bytes, count_codepoints);
    return OT_OK;
}

int ot_op_insert_valid(ot_op *op, const char *utf8, size_t len_bytes, uint64_t count_codepoints) {
    if (len_bytes == 0)
        return OT_OK;
    int rc = ot_op_reserve_text(op, len_bytes);
    if (rc)
        return rc;
    rc = reserve_components(op, 1);
    if (rc)
        return rc;
    memcpy(op->text + op->text_len_bytes, utf8, len_bytes);
    return ot_op_commit_insert(op, len_bytes, count_codepoints);
}

int ot_op_insert(ot_op *op, const char *utf8, size_t len_bytes) {
    uint64_t cps = 0;
    int rc = ot_utf8_validate(utf8, len_bytes, &cps, NULL);
    if (rc)
        return rc;
    return ot_op_insert_valid(op, utf8, len_bytes, cps);
}

/* ---- strict builders --------------------------------------------------------- */

static const ot_limits *limits_or_default(const ot_limits *limits, ot_limits *storage) {
    if (limits)
        return limits;
    *storage = ot_limits_default();
    return storage;
}

int ot_op_push_int(ot_op *op, int64_t value, const ot_limits *limits) {
    ot_limits storage;
    limits = limits_or_default(limits, &storage);
    if (value == 0)
        return OT_ERR_ZERO_COUNT;
    if (value == INT64_MIN)
        return OT_ERR_COUNT_RANGE;
    if (op->count_components >= limits->max_op_components)
        return OT_ERR_TOO_MANY_COMPONENTS;
    uint64_t n = value > 0 ? (uint64_t)value : (uint64_t)-value;
    /* An op whose base or target outgrows the largest document can never be
     * applied; refusing it here also keeps the sums far from overflow. */
    if (n > limits->max_doc_codepoints ||
        op->base_len_codepoints > limits->max_doc_codepoints - n)
        return OT_ERR_TOO_LARGE;
    if (value > 0 && op->target_len_codepoints > limits->max_doc_codepoints - n)
        return OT_ERR_TOO_LARGE;
    return push_count(op, value > 0 ? OT_RETAIN : OT_DELETE, n);
}

int ot_op_check_insert(const ot_op *op, size_t len_bytes, uint64_t count_codepoints,
                       const ot_limits *limits) {
    if (len_bytes == 0)
        return OT_ERR_EMPTY_INSERT;
    if (len_bytes > limits->max_op_bytes ||
        op->text_len_bytes > limits->max_op_bytes - len_bytes)
        return OT_ERR_TOO_LARGE;
    if (count_codepoints > limits->max_doc_codepoints ||
        op->target_len_codepoints > limits->max_doc_codepoints - count_codepoints)
        return OT_ERR_TOO_LARGE;
    if (op->count_components >= limits->max_op_components)
        return OT_ERR_TOO_MANY_COMPONENTS;
    return OT_OK;
}

int ot_op_push_string(ot_op *op, const char *utf8, size_t len_bytes, const ot_limits *limits) {
    ot_limits storage;
    limits = limits_or_default(limits, &storage);
    if (len_bytes == 0)
        return OT_ERR_EMPTY_INSERT;
    if (len_bytes > limits->max_op_bytes)
        return OT_ERR_TOO_LARGE; /* before spending time validating it */
    uint64_t cps = 0;
    int rc = ot_utf8_validate(utf8, len_bytes, &cps, NULL);
    if (rc)
        return rc;
    rc = ot_op_check_insert(op, len_bytes, cps, limits);
    if (rc)
        return rc;
    return ot_op_insert_valid(op, utf8, len_bytes, cps);
}

/* ---- predicates ------------------------------------------------------------------- */

bool ot_op_is_noop(const ot_op *op) {
    for (uint32_t i = 0; i < op->count_components; i++)
        if (op->components[i].kind != OT_RETAIN)
            return false;
    return true;
}

bool ot_op_equal(const ot_op *a, const ot_op *b) {
    if (a->count_components != b->count_components)
        return false;
    for (uint32_t i = 0; i < a->count_components; i++) {
        const ot_component *x = &a->components[i];
        const ot_component *y = &b->components[i];
        if (x->kind != y->kind || x->count_codepoints != y->count_codepoints)
            return false;
        if (x->kind == OT_INSERT &&
            (x->text_len_bytes != y->text_len_bytes ||
             memcmp(ot_op_insert_text(a, x), ot_op_insert_text(b, y), x->text_len_bytes) != 0))
            return false;
    }
    return true;
}
