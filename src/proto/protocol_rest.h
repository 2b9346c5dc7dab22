/*
 * A REST answer as a document's owner hands it back: typed fields, not JSON.
 * It travels to the caller's waiter packed into one immutable rbuf
 * (proto_rest_answer_pack), by the same fan-out as frames, and the REST side
 * renders it with the one JSON writer (proto_enc_rest_answer, protocol_enc.c).
 * Acks of a REST write and the protocol's own errors travel the same way:
 * whoever answers a REST call's key (fanout_key_typed) sends one of these,
 * never a ringpad.v1 frame. Below them, the REST bodies that are not a
 * ringpad.v1 message, decoded here like an op body is in protocol.c.
 */
#ifndef RINGPAD_PROTOCOL_REST_H
#define RINGPAD_PROTOCOL_REST_H

#include "base/rbuf.h"
#include "proto/protocol.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum proto_rest_kind {
    PROTO_REST_ERROR = 1,   /* code (not_found, already_exists, ...), message; doc: the error's ref, if any */
    PROTO_REST_TEXT,        /* the text at v: doc, v, text (codepoints counted from it) */
    PROTO_REST_WRITTEN,     /* a whole-text write: doc, v (whose text is the one written), flag: changed */
    PROTO_REST_INFO,        /* a listing's entry: doc, v, codepoints, bytes */
    PROTO_REST_DELETED,     /* flag: deleted */
    PROTO_REST_OPS,         /* v, from, to, items: proto_enc_rest_op_item's */
    PROTO_REST_HISTORY,     /* doc, v, from, to, items: proto_enc_rest_session_item's */
    PROTO_REST_AUTHORS,     /* doc, v, items: proto_enc_rest_authors' fields */
    PROTO_REST_ACK,         /* a posted op is durable: doc, id, v (the version it was applied at) */
} proto_rest_kind;

typedef struct proto_rest_answer {
    uint32_t kind;          /* proto_rest_kind */
    bool flag;
    uint64_t v;
    uint64_t codepoints;
    uint64_t bytes;
    uint64_t from;
    uint64_t to;
    proto_str doc;
    proto_str id;           /* ACK: the op's id */
    proto_str code;
    proto_str message;
    proto_str text;
    proto_str items;        /* JSON already written by this module's item encoders */
} proto_rest_answer;

/* One rbuf holding `a` and copies of its strings; NULL on no memory. */
rbuf *proto_rest_answer_pack(const proto_rest_answer *a);

/* Whether b holds a packed answer (rather than a frame). */
bool proto_rest_answer_is(const rbuf *b);

/* The answer inside b (its strings point into b, valid while b is held), or
 * -EINVAL when b is something else (a ringpad.v1 frame). */
int proto_rest_answer_unpack(const rbuf *b, proto_rest_answer *out);

/* The answer's REST body (docs/PROTOCOL.md §15). An error is {code, message};
 * an INFO entry alone is {"doc","v","codepoints","bytes"}; an ACK is the ack
 * message of §4, {"type":"ack","doc","id","v"}, byte for byte what a session
 * gets. 0 or -ENOMEM. */
int proto_enc_rest_answer(ot_buf *out, const proto_rest_answer *a);

/* ---- REST bodies that are not a ringpad.v1 message (docs/PROTOCOL.md §15) ----
 * An op body is one (proto_decode_op_body, protocol.h). These decode the
 * others straight into what the request carries; a refusal is a proto_err
 * with *why, a static message for the caller. */

/* POST .../restore: {"v": N}, N a non-negative safe integer. PROTO_OK,
 * PROTO_ERR_BAD_JSON (not a JSON object) or PROTO_ERR_BAD_MESSAGE. */
int proto_decode_restore_body(const char *body, size_t len_bytes, uint64_t *v, const char **why);

/* PUT .../text, POST .../append: the text itself (plain: valid UTF-8, no NUL)
 * or a JSON object {"text": string}. On PROTO_OK *text is a NUL-terminated
 * malloc'ed copy of *text_len bytes. Else PROTO_ERR_BAD_JSON, _BAD_MESSAGE,
 * _OP_TOO_LARGE (over max_text_bytes) or _NO_MEMORY (the copy). */
int proto_decode_text_body(const char *body, size_t len_bytes, bool plain, size_t max_text_bytes, char **text,
                           size_t *text_len, const char **why);

#endif /* RINGPAD_PROTOCOL_REST_H */
