/*
 * ringpad OT engine: operational transformation on plain text.
 *
 * Pure C17, no I/O, no global state. Positions and lengths count Unicode code
 * points (not bytes, not UTF-16 units). Text is always valid UTF-8 without
 * surrogate code points.
 *
 * An operation spans the whole document and is written in the compact JSON form
 * of ot.js: an array whose positive integers retain, strings insert and
 * negative integers delete, e.g. [5,"abc",-3,2]. Its base length (retains +
 * deletes) must equal the document's length.
 *
 * Canonical form (what every builder and every function here produces):
 *   - adjacent components of one kind are merged;
 *   - at one position an insert comes before a delete;
 *   - a trailing retain is KEPT (the op still spans the whole document), so
 *     [3] is the canonical no-op on a 3-code-point document and [] the no-op on
 *     an empty one.
 *
 * Errors: every function returning int returns OT_OK (0) or a negative ot_err.
 * ot_err_str() gives a stable, human readable message.
 */
#ifndef RINGPAD_OT_H
#define RINGPAD_OT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ot_err {
    OT_OK = 0,
    OT_ERR_NOMEM = -1,             /* allocation failed */
    OT_ERR_JSON_SYNTAX = -2,       /* the op text is not well-formed JSON */
    OT_ERR_NOT_ARRAY = -3,         /* the op is not a JSON array */
    OT_ERR_BAD_COMPONENT = -4,     /* a component is neither an integer nor a string */
    OT_ERR_ZERO_COUNT = -5,        /* a retain/delete count of 0 */
    OT_ERR_COUNT_RANGE = -6,       /* a count that is fractional, has an exponent or overflows */
    OT_ERR_EMPTY_INSERT = -7,      /* an insert of "" */
    OT_ERR_BAD_UTF8 = -8,          /* insert text is not valid UTF-8 (or contains \u0000) */
    OT_ERR_LONE_SURROGATE = -9,    /* a \uD800-\uDFFF escape without its pair */
    OT_ERR_BASE_LENGTH = -10,      /* the op's base length differs from the document's length */
    OT_ERR_TOO_LARGE = -11,        /* op bytes or resulting document beyond the configured limits */
    OT_ERR_TOO_MANY_COMPONENTS = -12, /* more components than the configured limit */
    OT_ERR_VERSION_TOO_OLD = -13,  /* base version older than the retained history */
    OT_ERR_VERSION_AHEAD = -14,    /* base version newer than the document */
    OT_ERR_RANGE = -15,            /* a position or count outside the text */
    OT_ERR_COMPOSE_MISMATCH = -16, /* compose(a,b): b's base length != a's target length */
    OT_ERR_TRANSFORM_MISMATCH = -17, /* transform(a,b): a and b have different base lengths */
} ot_err;

/* Stable message for an ot_err (never NULL; "unknown error" for unknown codes). */
const char *ot_err_str(int err);

/* ---- Limits ------------------------------------------------------------- */

typedef struct ot_limits {
    uint64_t max_doc_codepoints;   /* a document never grows past this */
    uint32_t max_op_bytes;         /* JSON text of one op, and inserted bytes of one op */
    uint32_t max_op_components;    /* components of one op */
    uint32_t history_depth;        /* ops an ot_doc keeps for transforming late ops (>= 1) */
} ot_limits;

/* 16 M code points, 1 MiB op, 65536 components, 1000 ops of history. */
ot_limits ot_limits_default(void);

/* ---- Growable byte buffer (output of serializers and text copies) -------- */

typedef struct ot_buf {
    char *data;        /* NUL-terminated when len > 0 or after any append */
    size_t len;        /* bytes used, excluding the NUL */
    size_t cap;        /* bytes allocated */
} ot_buf;

void ot_buf_init(ot_buf *buf);
void ot_buf_free(ot_buf *buf);
void ot_buf_clear(ot_buf *buf);    /* len = 0, keeps the allocation */
int ot_buf_append(ot_buf *buf, const char *bytes, size_t len_bytes);

/* ---- Operations ----------------------------------------------------------- */

typedef enum ot_kind { OT_RETAIN = 1, OT_INSERT = 2, OT_DELETE = 3 } ot_kind;

typedef struct ot_component {
    ot_kind kind;
    uint64_t count_codepoints;     /* > 0 */
    uint32_t text_offset_bytes;    /* OT_INSERT only: offset into ot_op.text */
    uint32_t text_len_bytes;       /* OT_INSERT only */
} ot_component;

/* Where an op's storage comes from. `resize` works like realloc when
 * new_size_bytes > 0 (returns NULL on failure, leaving `ptr` as it was) and
 * frees `ptr` when new_size_bytes == 0 (then its return value is ignored). */
typedef struct ot_allocator {
    void *(*resize)(void *ctx, void *ptr, size_t old_size_bytes, size_t new_size_bytes);
    void *ctx;
} ot_allocator;

typedef struct ot_op {
    ot_component *components;
    uint32_t count_components;
    uint32_t capacity_components;
    char *text;                    /* inserted UTF-8 of all inserts, back to back */
    uint32_t text_len_bytes;
    uint32_t text_capacity_bytes;
    uint64_t base_len_codepoints;  /* retains + deletes */
    uint64_t target_len_codepoints;/* retains + inserts */
    const ot_allocator *allocator; /* NULL: the C library's realloc and free */
} ot_op;

/* An empty op whose storage comes from the C library. */
void ot_op_init(ot_op *op);
/* An empty op whose storage comes from `allocator` (which must outlive it);
 * NULL is the C library. Clearing, copying into and freeing the op keep using
 * it; moving the struct by value moves it along with the storage. */
void ot_op_init_with(ot_op *op, const ot_allocator *allocator);
void ot_op_free(ot_op *op);
void ot_op_clear(ot_op *op);       /* empty op, keeps allocations */
int ot_op_copy(ot_op *dst, const ot_op *src);

/* Builders: append one component, keeping the canonical form (merging, and
 * moving an insert before a preceding delete). n == 0 / len == 0 is a no-op. */
int ot_op_retain(ot_op *op, uint64_t count_codepoints);
/* Validates the UTF-8 (OT_ERR_BAD_UTF8 on invalid input, NUL or surrogates). */
int ot_op_insert(ot_op *op, const char *utf8, size_t len_bytes);
int ot_op_delete(ot_op *op, uint64_t count_codepoints);

/* Strict builders for decoders that already hold a parsed JSON value: apply the
 * same rules as ot_op_parse_json (0 → OT_ERR_ZERO_COUNT, INT64_MIN →
 * OT_ERR_COUNT_RANGE, "" → OT_ERR_EMPTY_INSERT, bad text → OT_ERR_BAD_UTF8,
 * limits → OT_ERR_TOO_LARGE / OT_ERR_TOO_MANY_COMPONENTS). limits may be NULL.
 * OT_ERR_TOO_LARGE also covers a base or target length beyond
 * max_doc_codepoints (such an op can never apply). On error op is unchanged. */
int ot_op_push_int(ot_op *op, int64_t value, const ot_limits *limits);
int ot_op_push_string(ot_op *op, const char *utf8, size_t len_bytes, const ot_limits *limits);

/* True when the op changes nothing (only retains, or empty). */
bool ot_op_is_noop(const ot_op *op);
/* True when both ops have the same canonical components. */
bool ot_op_equal(const ot_op *a, const ot_op *b);

/* Parses the JSON array form. `out` is cleared first (and left empty on error).
 * limits may be NULL (defaults). On error `*err_offset_bytes` (if not NULL) gets
 * the byte offset of the fault: the start of the offending element for count,
 * component, empty-insert and limit errors; the offending byte or escape for
 * syntax, UTF-8 and surrogate errors; max_op_bytes for JSON text beyond it. Floats and exponents (1.5, 1e3) are
 * OT_ERR_COUNT_RANGE; true/false/null/objects/arrays OT_ERR_BAD_COMPONENT. */
int ot_op_parse_json(ot_op *out, const char *json, size_t len_bytes,
                     const ot_limits *limits, size_t *err_offset_bytes);
/* Appends the canonical JSON form to `out` (strings escaped per RFC 8259,
 * non-ASCII written as UTF-8, "/" not escaped). */
int ot_op_to_json(const ot_op *op, ot_buf *out);

/* ---- Text buffer -----------------------------------------------------------
 * A text with a code point index: edits and code point <-> byte mapping are
 * O(log n) per call, not O(document), so large documents stay fast.
 * (UTF-8 in 4 KiB chunks indexed by Fenwick trees of code point and byte
 * counts; inside a chunk an all-ASCII one maps positions directly, others are
 * scanned from the nearer end; a text holds at most a few spare chunks for
 * allocation-free edits.)
 * Edits fail without changing the text (OT_ERR_RANGE, OT_ERR_NOMEM). */

typedef struct ot_text ot_text;

ot_text *ot_text_new(void);
/* Validates UTF-8 (no NUL, no surrogates); NULL on invalid input or no memory. */
ot_text *ot_text_from_utf8(const char *utf8, size_t len_bytes);
void ot_text_free(ot_text *text);
uint64_t ot_text_len_codepoints(const ot_text *text);
uint64_t ot_text_len_bytes(const ot_text *text);
/* Appends the whole text / a code point range to `out`. */
int ot_text_to_buf(const ot_text *text, ot_buf *out);
int ot_text_slice(const ot_text *text, uint64_t start_codepoints,
                  uint64_t count_codepoints, ot_buf *out);
/* Byte offset of a code point position (position <= length). */
int ot_text_byte_offset(const ot_text *text, uint64_t pos_codepoints, uint64_t *out_offset_bytes);
/* `utf8` must be valid UTF-8 of exactly count_codepoints code points. */
int ot_text_insert(ot_text *text, uint64_t pos_codepoints, const char *utf8,
                   size_t len_bytes, uint64_t count_codepoints);
int ot_text_delete(ot_text *text, uint64_t pos_codepoints, uint64_t count_codepoints);
/* True when the text equals the given UTF-8 bytes. */
bool ot_text_equals(const ot_text *text, const char *utf8, size_t len_bytes);

/* ---- The algebra ------------------------------------------------------------ */

/* Applies op to text in place. OT_ERR_BASE_LENGTH when op.base != text length;
 * on any error (including OT_ERR_NOMEM) the text is unchanged. */
int ot_apply(const ot_op *op, ot_text *text);
/* Convenience for strings: out gets the result (appended). One pass over the
 * string; OT_ERR_BAD_UTF8 when utf8 is not valid text. */
int ot_apply_utf8(const ot_op *op, const char *utf8, size_t len_bytes, ot_buf *out);

/* out = a then b (apply(apply(d,a),b) == apply(d,compose(a,b))). */
int ot_compose(const ot_op *a, const ot_op *b, ot_op *out);

/* Concurrent a and b on the same base: a' = a after b, b' = b after a, so that
 * apply(apply(d,a),b') == apply(apply(d,b),a').
 * Allocates nothing itself: it writes into a_prime / b_prime, growing them only
 * when they lack room for count(a) + count(b) components and a's (b's) insert
 * text, so ops reused across calls (as ot_doc does) reach a steady state with
 * no allocation. OT_ERR_RANGE when a's and b's target lengths sum past 2^64.
 * Tie-break: when both insert at one position, a's insert is placed first.
 * Call it as transform(op_being_ordered, op_already_ordered), as ot.js's
 * transform(clientOp, serverOp) and ShareDB's side 'left' do.
 * a_prime or b_prime may be NULL when that half is not needed. */
int ot_transform(const ot_op *a, const ot_op *b, ot_op *a_prime, ot_op *b_prime);

/* out = the op that undoes `op` applied to `before` (the text before op). */
int ot_invert(const ot_op *op, const ot_text *before, ot_op *out);

typedef enum ot_side {
    OT_SIDE_BEFORE = 0,  /* an insert at the cursor goes after it: cursor stays before */
    OT_SIDE_AFTER = 1,   /* an insert at the cursor pushes it: cursor ends after it */
} ot_side;

/* Position after op. A position inside a deleted range moves to its start.
 * A position beyond op's base length is treated as the base length. */
uint64_t ot_transform_position(uint64_t pos_codepoints, const ot_op *op, ot_side side);

/* ---- A document with history ------------------------------------------------
 * Retained ops are kept packed (one allocation each: varint counts, the text
 * inserted and the text deleted, id, author, time; ~50 bytes beyond the text
 * for a small op) and decoded on demand into caller-owned ops. */

typedef struct ot_history_entry {
    uint64_t base_version;   /* the op took the document from base_version to base_version+1 */
    ot_op op;                /* as applied; storage owned by the entry, reused across reads */
    const char *id;          /* client-chosen op id (may be empty; not NUL-terminated) */
    size_t id_len;
    const char *author;      /* who submitted it (may be empty; not NUL-terminated) */
    size_t author_len;
    int64_t time_ms;         /* caller-provided timestamp */
} ot_history_entry;

/* id and author point into the document: valid until it next changes (a
 * submit, ot_doc_forget_before, ot_doc_free). */
void ot_history_entry_init(ot_history_entry *e);
void ot_history_entry_free(ot_history_entry *e);

typedef struct ot_doc ot_doc;

/* A document at `version` with `text` (valid UTF-8). NULL on bad text, text
 * beyond limits->max_doc_codepoints, or no memory. limits may be NULL
 * (defaults); a history_depth of 0 is taken as 1. The history's storage
 * grows with the ops retained, up to history_depth of them. */
ot_doc *ot_doc_new(const ot_limits *limits, uint64_t version, const char *utf8, size_t len_bytes);
void ot_doc_free(ot_doc *doc);
uint64_t ot_doc_version(const ot_doc *doc);
const ot_text *ot_doc_text(const ot_doc *doc);
/* Oldest base version that submit still accepts (== version when history is empty). */
uint64_t ot_doc_oldest_version(const ot_doc *doc);
/* Decodes the retained op applied at base_version into `out` (its op is
 * reused: no allocation once it is large enough). OT_ERR_VERSION_TOO_OLD
 * below the history, OT_ERR_VERSION_AHEAD at or past the version,
 * OT_ERR_NOMEM. */
int ot_doc_history_read(const ot_doc *doc, uint64_t base_version, ot_history_entry *out);
/* The inverse of the retained op at base_version (undoes it), into `out`. */
int ot_doc_history_inverse(const ot_doc *doc, uint64_t base_version, ot_op *out);
/* The id of the retained op at base_version (*id_len 0: none), read in place:
 * allocates nothing, so it answers where ot_doc_history_read ran out of
 * memory. *id points into the history until the next change of the doc. */
int ot_doc_history_id(const ot_doc *doc, uint64_t base_version, const char **id, size_t *id_len);
/* Drops (and frees) every retained op with a base version below base_version:
 * history_depth is a capacity, this is the retention. */
void ot_doc_forget_before(ot_doc *doc, uint64_t base_version);
/* Heap bytes the retained history holds: its records (as the allocator
 * counts them: header and rounding), the ring and the id index. */
size_t ot_doc_history_bytes(const ot_doc *doc);
/* Takes back the newest op (its inverse applied to the text, its id and
 * history entry gone, the version one less): for an op that could not be
 * stored. OT_ERR_VERSION_TOO_OLD when no op is retained; on OT_ERR_NOMEM
 * nothing changed. */
int ot_doc_undo_last(ot_doc *doc);
/* The id is in the retained history: *base_version gets its op's version.
 * An empty id is never found. */
bool ot_doc_find_id(const ot_doc *doc, const char *id, size_t id_len, uint64_t *base_version);

typedef struct ot_submit_result {
    ot_op op;                /* the op as applied (transformed); caller inits/frees */
    uint64_t applied_at_version; /* its base version; the document is now at this + 1 */
    bool duplicate;          /* the id was already applied: nothing changed, op/version are the original's */
} ot_submit_result;

/* Transforms `op` (based on base_version) against every retained op since,
 * one at a time, applies it and records it. An id already in the retained
 * history is not applied again: result->duplicate = true with its original
 * version and op (checked before the version, so a resend after a reconnect
 * is recognised even when its base has left the history; ids leave with their
 * ops). An empty id is never a duplicate. Errors: OT_ERR_VERSION_TOO_OLD,
 * OT_ERR_VERSION_AHEAD, OT_ERR_BASE_LENGTH, OT_ERR_TOO_LARGE (resulting
 * document beyond max_doc_codepoints), OT_ERR_NOMEM; on error the document is
 * unchanged. result->op must be initialised (ot_op_init) by the caller. */
int ot_doc_submit(ot_doc *doc, uint64_t base_version, const ot_op *op,
                  const char *id, size_t id_len, const char *author, size_t author_len,
                  int64_t time_ms, ot_submit_result *result);

/* Appends the text of a past version (oldest_version..version) to out, by
 * applying the retained inverses to a copy: O(document + ops undone).
 * OT_ERR_VERSION_TOO_OLD / OT_ERR_VERSION_AHEAD outside that range. */
int ot_doc_text_at(const ot_doc *doc, uint64_t version, ot_buf *out);

#ifdef __cplusplus
}
#endif
#endif /* RINGPAD_OT_H */
