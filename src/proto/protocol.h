/*
 * The ringpad.v1 JSON message codec (docs/PROTOCOL.md is the contract).
 *
 * Decoding: one client text message -> a typed proto_msg, or a precise error
 * (a proto_err code plus a human message naming the field, and the op id in
 * `err_ref` when the message was an op with a readable id). Decoding uses
 * jansson with bounded size and nesting; a proto_msg is meant to be a reusable
 * per-worker scratch (its ot_op keeps its allocation between decodes).
 *
 * Encoding: every server message is appended to a caller-owned ot_buf by a
 * hand-written JSON writer (no jansson, no allocation beyond the buffer's
 * growth). Strings must be valid UTF-8; they are escaped per RFC 8259 (quote,
 * backslash and control characters; everything else written as UTF-8).
 * Encoders return 0, -ENOMEM, or -EINVAL for invalid UTF-8; on error the
 * buffer is restored to its length before the call.
 */
#ifndef RINGPAD_PROTOCOL_H
#define RINGPAD_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto/auth.h"
#include "proto/docname.h"
#include "ringpad/ot.h"

#define PROTO_SUBPROTOCOL "ringpad.v1"
#define PROTO_MAX_SAFE_INTEGER 9007199254740991ULL /* 2^53 - 1: exact in every JSON client */
#define PROTO_MAX_DOC_NAME_BYTES DOCNAME_MAX_BYTES   /* hard cap; proto_limits may lower it */
#define PROTO_MAX_ID_BYTES 128
#define PROTO_MAX_NAME_BYTES 128       /* display name in hello */
#define PROTO_MAX_COLOR_BYTES 7        /* "#rrggbb" */
#define PROTO_MAX_TOKEN_BYTES AUTH_MAX_TOKEN_BYTES
#define PROTO_MAX_SEL_RANGES 32        /* hard cap; proto_limits may lower it */
#define PROTO_MAX_ERR_MESSAGE_BYTES 256

/* Stable error codes, sent as error.code (proto_err_code_str). */
typedef enum proto_err {
    PROTO_OK = 0,
    PROTO_ERR_BAD_JSON = -1,
    PROTO_ERR_BAD_MESSAGE = -2,
    PROTO_ERR_UNKNOWN_TYPE = -3,
    PROTO_ERR_UNAUTHORIZED = -4,
    PROTO_ERR_FORBIDDEN = -5,
    PROTO_ERR_BAD_DOC_NAME = -6,
    PROTO_ERR_BAD_OP = -7,
    PROTO_ERR_VERSION_TOO_OLD = -8,
    PROTO_ERR_VERSION_AHEAD = -9,
    PROTO_ERR_DOC_TOO_LARGE = -10,
    PROTO_ERR_OP_TOO_LARGE = -11,
    PROTO_ERR_TOO_MANY_DOCS = -12,
    PROTO_ERR_RATE_LIMITED = -13,
    PROTO_ERR_NOT_OPEN = -14,
    PROTO_ERR_STORAGE_UNAVAILABLE = -15,
    PROTO_ERR_INTERNAL = -16,
    PROTO_ERR_BAD_SELECTION = -17,  /* a presence position beyond the text at its version */
    PROTO_ERR_NO_MEMORY = -18,
} proto_err;

/* The message of every no_memory error: the server could not allocate what the
 * request needed; nothing was applied, and the same request may succeed later. */
#define PROTO_NO_MEMORY_MESSAGE "the server is out of memory; nothing was applied, retry later"

/* After jansson failed on `json`: true when the failure was an allocation
 * (no_memory) rather than the text (bad_json). */
struct json_error_t;
bool proto_json_failed_for_memory(const struct json_error_t *err, const char *json, size_t len_bytes,
                                  unsigned max_depth);

/* "bad_json", "bad_message", ..., "internal"; "internal" for unknown values. */
const char *proto_err_code_str(int err);
/* The proto_err whose string is `code`; PROTO_OK when none is (a REST-only
 * code such as not_found). */
int proto_err_from_code_str(const char *code, size_t len);

/* The protocol error for an error of ot_doc_submit(): version_too_old,
 * version_ahead, doc_too_large (OT_ERR_TOO_LARGE at submit time means the
 * document would grow past its limit), no_memory, else bad_op. */
proto_err proto_err_from_ot_submit(int ot_err);

typedef enum proto_type {
    PROTO_HELLO = 1,
    PROTO_OPEN = 2,
    PROTO_OP = 3,
    PROTO_PRESENCE = 4,
    PROTO_CLOSE = 5,
    PROTO_PING = 6,
} proto_type;

typedef struct proto_limits {
    size_t max_message_bytes;      /* whole JSON text of one message */
    uint32_t max_depth;            /* nesting of arrays/objects */
    uint32_t max_doc_name_bytes;   /* <= PROTO_MAX_DOC_NAME_BYTES */
    uint32_t max_sel_ranges;       /* <= PROTO_MAX_SEL_RANGES */
    ot_limits ot;                  /* op size and component count */
} proto_limits;

/* ot_limits_default() plus: messages up to max_op_bytes + 64 KiB, depth 8,
 * 256-byte doc names, 32 selection ranges. */
proto_limits proto_limits_default(void);

typedef struct proto_range {
    uint64_t anchor;               /* code point positions */
    uint64_t head;
} proto_range;

/* A decoded client message. Which fields are meaningful depends on `type`:
 *   hello    has_token/token, has_name/name, has_color/color
 *   open     doc, has_v/v
 *   op       doc, v, id, op
 *   presence doc, v, sel/count_sel
 *   close    doc
 *   ping     -
 * Strings are NUL-terminated copies with their lengths. */
typedef struct proto_msg {
    proto_type type;
    char doc[PROTO_MAX_DOC_NAME_BYTES + 1];
    size_t doc_len;
    bool has_v;
    uint64_t v;
    char id[PROTO_MAX_ID_BYTES + 1];
    size_t id_len;
    ot_op op;
    bool has_token;
    char token[PROTO_MAX_TOKEN_BYTES + 1];
    size_t token_len;
    bool has_name;
    char name[PROTO_MAX_NAME_BYTES + 1];
    size_t name_len;
    bool has_color;
    char color[PROTO_MAX_COLOR_BYTES + 1];
    uint32_t count_sel;
    proto_range sel[PROTO_MAX_SEL_RANGES];
    /* After a failed decode: what went wrong, and the op id when known. */
    char err_message[PROTO_MAX_ERR_MESSAGE_BYTES];
    bool has_err_ref;
    char err_ref[PROTO_MAX_ID_BYTES + 1];
    size_t err_ref_len;
} proto_msg;

void proto_msg_init(proto_msg *msg);
void proto_msg_free(proto_msg *msg);

/* Decodes one message. Returns PROTO_OK or one of bad_json, bad_message,
 * unknown_type, bad_doc_name, bad_op, op_too_large, no_memory;
 * msg->err_message then says why. */
int proto_decode(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg);

/* The common op message, {"type":"op","id":..,"doc":..,"v":..,"op":[..]} in any
 * key order, decoded straight into msg without building a JSON tree. True only
 * when the message is valid and msg holds exactly what proto_decode's general
 * path would give. False for anything else (another type, an unknown or
 * duplicate key, \u escapes, floats, any fault): msg is then partly written and
 * the caller resets it and decodes the general way, which also produces the
 * error, so errors stay those of the general path. Needs limits->max_depth >= 2
 * and len_bytes <= limits->max_message_bytes (the caller checks). */
bool proto_decode_op_fast(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg);

/* proto_decode without the fast path: every message through a jansson tree.
 * limits is not NULL. The reference the fast path is tested against. */
int proto_decode_tree(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg);

/* A REST op body {v, id, op} for document `doc` (already validated by the
 * caller) straight into msg as an op message; other keys are ignored. The
 * same errors as proto_decode for the same fields. */
int proto_decode_op_body(const proto_limits *limits, const char *json, size_t len_bytes, const char *doc,
                         size_t doc_len, proto_msg *msg);

/* Document names: 1..max_bytes bytes of [A-Za-z0-9._/-], no leading or
 * trailing '/', no empty ("//"), "." or ".." segment. */
bool proto_doc_name_valid(const char *name, size_t len_bytes, size_t max_bytes);

/* ---- encoding ------------------------------------------------------------ */

/* A borrowed string. ptr == NULL encodes as JSON null where a field allows it. */
typedef struct proto_str {
    const char *ptr;
    size_t len;
} proto_str;

static inline proto_str proto_cstr(const char *s) {
    proto_str r = {s, 0};
    if (s != NULL)
        while (s[r.len] != '\0') r.len++;
    return r;
}

/* Limits advertised in welcome.limits (names as in PROTOCOL.md). */
typedef struct proto_welcome_limits {
    uint64_t max_message_bytes;
    uint64_t max_op_bytes;
    uint64_t max_op_components;
    uint64_t max_doc_codepoints;
    uint64_t max_doc_name_bytes;
    uint64_t max_open_docs;
    uint64_t history_depth;
    uint64_t presence_per_second;
} proto_welcome_limits;

/* A collaborator's presence (snapshot.peers[i], and the presence message). */
typedef struct proto_peer {
    proto_str session;
    proto_str name;                /* NULL -> null */
    proto_str color;               /* NULL -> null */
    const proto_range *sel;
    uint32_t count_sel;
} proto_peer;

/* {"type":"welcome","session":..,"server":..,"limits":{..}} */
int proto_enc_welcome(ot_buf *out, proto_str session, proto_str server,
                      const proto_welcome_limits *limits);
/* {"type":"synced","doc":..,"v":..} */
int proto_enc_synced(ot_buf *out, proto_str doc, uint64_t v);
/* {"type":"snapshot","doc":..,"v":..,"text":..,"peers":[{session,name,color,sel}..]} */
int proto_enc_snapshot(ot_buf *out, proto_str doc, uint64_t v, proto_str text,
                       const proto_peer *peers, size_t count_peers);
/* {"type":"ack","doc":..,"id":..,"v":..} */
int proto_enc_ack(ot_buf *out, proto_str doc, proto_str id, uint64_t v);
/* {"type":"op","doc":..,"v":..,"id":..,"op":[..],"by":..}; op via ot_op_to_json. */
int proto_enc_op(ot_buf *out, proto_str doc, uint64_t v, proto_str id, const ot_op *op,
                 proto_str by);
/* {"type":"presence","doc":..,"session":..,"name":..,"color":..,"v":..,"sel":[[a,h]..]} */
int proto_enc_presence(ot_buf *out, proto_str doc, const proto_peer *peer, uint64_t v);
/* {"type":"leave","doc":..,"session":..} */
int proto_enc_leave(ot_buf *out, proto_str doc, proto_str session);
/* {"type":"error","code":..,"message":..,"ref":..}; ref omitted when ref.ptr == NULL. */
int proto_enc_error(ot_buf *out, int code, proto_str message, proto_str ref);
/* {"type":"pong"} */
int proto_enc_pong(ot_buf *out);

/* ---- REST bodies (PROTOCOL.md §15) ---- */

/* {"code":..,"message":..}: a REST error (code: proto_err_code_str or "not_found"). */
int proto_enc_rest_error(ot_buf *out, const char *code, proto_str message);

/* One op of GET .../ops: its op as an ot_op (op != NULL) or as the JSON the
 * log stored (op_json). */
typedef struct proto_op_item {
    uint64_t v;
    proto_str id;
    proto_str by;
    int64_t time_ms;
    const ot_op *op;
    proto_str op_json;
} proto_op_item;

/* {"v":..,"id":..,"by":..,"time":..,"op":[..]}, preceded by "," unless first. */
int proto_enc_rest_op_item(ot_buf *out, bool first, const proto_op_item *item);

/* One editing session of GET .../history: consecutive ops of one author. */
typedef struct proto_session_item {
    proto_str by;
    uint64_t from, to;
    int64_t start_ms, end_ms;
    uint64_t count_ops, added, removed;
} proto_session_item;

/* {"by","from","to","start","end","ops","added","removed"}, preceded by "," unless first. */
int proto_enc_rest_session_item(ot_buf *out, bool first, const proto_session_item *item);

/* A run of code points of GET .../authors written by one author (by.ptr NULL: unknown). */
typedef struct proto_author_span {
    proto_str by;
    uint64_t from, to;
} proto_author_span;

/* The fields of GET .../authors after "doc": "text":..,"base":..,"spans":[{"by","from","to"}..]. */
int proto_enc_rest_authors(ot_buf *out, proto_str text, uint64_t base, const proto_author_span *spans,
                           size_t count_spans);

/* One entry of GET /api/docs. */
typedef struct proto_doc_info {
    proto_str name;
    uint64_t v;
    uint64_t codepoints;
    uint64_t bytes;
} proto_doc_info;

/* {"docs":[{"name","v","codepoints","bytes"}..],"next":..}; next omitted when next.ptr == NULL. */
int proto_enc_rest_list(ot_buf *out, const proto_doc_info *docs, size_t count, proto_str next);

/* A webhook's body (docs/PROTOCOL.md §15, webhooks): {"event","doc","v"} and, when
 * text.ptr is set, "text". 0, -ENOMEM or -EINVAL (text not UTF-8). */
int proto_enc_webhook(ot_buf *out, proto_str event, proto_str doc, uint64_t v, proto_str text);

/* Appends `s` as a quoted, escaped JSON string (-EINVAL for invalid UTF-8). */
int proto_json_string(ot_buf *out, const char *s, size_t len_bytes);

#endif /* RINGPAD_PROTOCOL_H */
