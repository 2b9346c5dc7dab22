/*
 * One simulated editor of one document: the ringpad.v1 client state machine
 * of docs/PROTOCOL.md §9 (Synchronized / AwaitingConfirm / AwaitingWithBuffer)
 * over a local copy of the text, with no I/O: events go in (local edits,
 * server messages), at most one outgoing message comes out per call (into a
 * caller buffer the caller frames and sends).
 *
 * Op ids are "<prefix>:<seq>:<t0>" where t0 is the microsecond (CLOCK_MONOTONIC)
 * time of the first local edit in the op. Another client in the same process
 * that receives the op reads t0 back from the id to measure submit->delivery
 * latency: the id is the lookup key and carries its own table entry, so no
 * table is shared between threads.
 */
#ifndef RINGPAD_LG_CLIENT_H
#define RINGPAD_LG_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "json.h"
#include "ringpad/ot.h"

#define LG_CLIENT_MAX_DOC_BYTES 256
#define LG_CLIENT_MAX_PREFIX_BYTES 48
#define LG_CLIENT_MAX_ID_BYTES 128

typedef enum lg_client_phase {
    LG_PHASE_NEW = 0,          /* nothing sent */
    LG_PHASE_OPENING,          /* hello + open sent, waiting for the snapshot */
    LG_PHASE_LIVE,             /* snapshot applied: editing */
    LG_PHASE_FAILED,           /* an op was refused or the stream broke: text no longer trusted */
} lg_client_phase;

typedef enum lg_event_kind {
    LG_EV_NONE = 0,            /* ignored message (welcome, presence, leave, stale ack, other doc) */
    LG_EV_SNAPSHOT,
    LG_EV_ACK,                 /* latency_us = now - t0 of the acked op */
    LG_EV_REMOTE_OP,           /* latency_us = now - t0 from the id (has_latency false if foreign id) */
    LG_EV_ERROR,               /* code: the error code string (not NUL-terminated) */
    LG_EV_PONG,
} lg_event_kind;

typedef struct lg_event {
    lg_event_kind kind;
    bool has_latency;
    uint64_t latency_us;
    const char *code;          /* LG_EV_ERROR: points into the message */
    size_t code_len;
    bool about_outstanding;    /* LG_EV_ERROR: ref was our outstanding op (it was refused) */
} lg_event;

typedef enum lg_client_err {
    LG_CLIENT_ERR_NOMEM = -1,
    LG_CLIENT_ERR_BAD_MESSAGE = -2,    /* server message not JSON / a field missing or mistyped */
    LG_CLIENT_ERR_VERSION_GAP = -3,    /* op.v != server_v: the ordering guarantee broke */
    LG_CLIENT_ERR_BAD_OP = -4,         /* a server op that does not parse or apply */
    LG_CLIENT_ERR_NOT_LIVE = -5,       /* local edit before the snapshot / after a failure */
    LG_CLIENT_ERR_EDIT = -6,           /* local edit does not apply to the local text */
} lg_client_err;

const char *lg_client_err_str(int err);

typedef struct lg_client {
    char doc[LG_CLIENT_MAX_DOC_BYTES + 1];
    size_t doc_len;
    char prefix[LG_CLIENT_MAX_PREFIX_BYTES + 1];
    size_t prefix_len;
    uint64_t seq;
    lg_client_phase phase;
    ot_text *text;
    uint64_t server_v;
    bool has_out;
    ot_op out;
    char out_id[LG_CLIENT_MAX_ID_BYTES + 1];
    size_t out_id_len;
    uint64_t out_t0_us;
    bool has_buf;
    ot_op buf;
    uint64_t buf_t0_us;
    /* scratch, kept between calls so that steady state does not allocate */
    ot_op in, t1, t2, t3;
    ot_buf str;
    /* counters */
    uint64_t count_acks;
    uint64_t count_remote_ops;
    uint64_t count_ops_sent;
} lg_client;

/* doc must be a valid document name; prefix 1..48 bytes of [A-Za-z0-9_-]. */
int lg_client_init(lg_client *c, const char *doc, const char *prefix);
void lg_client_free(lg_client *c);

/* {"type":"hello","name":...} / {"type":"open","doc":...} into out (cleared
 * first). write_open moves the client to LG_PHASE_OPENING. */
int lg_client_write_hello(lg_client *c, ot_buf *out);
int lg_client_write_open(lg_client *c, ot_buf *out);

/* A local edit `e` on the current local text (base length = local length),
 * made at now_us. Applies it and runs the state machine. Returns 1 when out
 * (cleared first) holds an op message to send now, 0 when the edit was
 * buffered behind the op in flight, or a negative lg_client_err. */
int lg_client_local_edit(lg_client *c, const ot_op *e, uint64_t now_us, ot_buf *out);

/* One server text message. Returns 1 when out (cleared first) holds a message
 * to send (the buffer, after an ack), 0 otherwise, or a negative lg_client_err
 * (the client is then LG_PHASE_FAILED). *ev says what the message was. */
int lg_client_on_message(lg_client *c, const char *json, size_t len, uint64_t now_us,
                         lg_event *ev, ot_buf *out);

/* What a client reads from one server message, parsed once so that every
 * client receiving the same frame can share it (msgcache.h). The members
 * point into the bytes it was parsed from; op points to storage the parser
 * was given. */
typedef struct lg_msg {
    lg_jmsg m;
    bool has_v;
    uint64_t v;
    bool has_t0;               /* the id carries a submit time (<prefix>:<seq>:<t0>) */
    uint64_t t0;
    const ot_op *op;           /* type "op" with an op that parses; NULL otherwise */
} lg_msg;

/* 0, or LG_CLIENT_ERR_BAD_MESSAGE (not one JSON object with a string type).
 * A type "op" message's op is parsed into *op_storage. */
int lg_msg_parse(lg_msg *pm, const char *json, size_t len, ot_op *op_storage);

/* lg_client_on_message for a message already parsed (not changed by the call). */
int lg_client_on_msg(lg_client *c, const lg_msg *pm, uint64_t now_us, lg_event *ev, ot_buf *out);

/* Nothing in flight and nothing buffered. */
bool lg_client_synchronized(const lg_client *c);
uint64_t lg_client_len(const lg_client *c);
bool lg_client_text_equals(const lg_client *c, const char *utf8, size_t len);

/* A random edit on a text of doc_len code points: an insert of insert_bytes
 * ASCII letters at a random position, or (when the text is longer than
 * target_len, with probability growing with the excess) a delete of up to
 * insert_bytes code points. rng is a xorshift64 state (non-zero). */
int lg_edit_random(uint64_t *rng, uint64_t doc_len, uint32_t insert_bytes, uint64_t target_len,
                   ot_op *out);

uint64_t lg_rand(uint64_t *rng);

#endif
