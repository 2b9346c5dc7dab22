/*
 * RFC 6455 WebSocket framing, independent of any event loop:
 *  - frame header parse/encode, masking;
 *  - ws_reader: a per-connection message reader fed with received bytes (any
 *    split, down to one byte at a time) that yields one event at a time:
 *    a complete message (unmasked, inflated, UTF-8 checked), ping, pong,
 *    close, or a protocol error with the close code to send.
 *
 * Decisions where RFC 6455 leaves room:
 *  - A non-minimal payload length encoding (e.g. 126 + 16-bit length < 126)
 *    is a protocol error (1002): RFC 6455 5.2 says the minimal number of bytes
 *    MUST be used, so such a frame is malformed.
 *  - Data after a valid close frame is ignored (RFC 6455 5.5.1).
 *  - A compressed message that fails to inflate closes with 1007 (the payload
 *    data is inconsistent with the message type), as Node's ws does.
 */
#ifndef RINGPAD_WS_H
#define RINGPAD_WS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ws/deflate.h"
#include "base/utf8.h"

enum {
    WS_OP_CONTINUATION = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xa,
};

enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL_ERROR = 1002,
    WS_CLOSE_UNSUPPORTED_DATA = 1003,
    WS_CLOSE_NO_STATUS = 1005,          /* never on the wire: "close had no code" */
    WS_CLOSE_ABNORMAL = 1006,           /* never on the wire */
    WS_CLOSE_INVALID_PAYLOAD = 1007,
    WS_CLOSE_POLICY_VIOLATION = 1008,
    WS_CLOSE_MESSAGE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL_ERROR = 1011,
};

#define WS_MAX_HEADER_BYTES 14          /* 2 + 8 (64-bit length) + 4 (mask) */
#define WS_MAX_CONTROL_PAYLOAD_BYTES 125
#define WS_MAX_CLOSE_REASON_BYTES 123   /* 125 - 2 bytes of code */
#define WS_DEFAULT_MAX_MESSAGE_BYTES ((size_t)1 << 20)

/* Every way a peer can break the protocol; each maps to one close code. */
typedef enum ws_err {
    WS_ERR_NOT_MASKED = -1,             /* 1002: client frame without mask */
    WS_ERR_MASKED = -2,                 /* 1002: server frame with mask (client role) */
    WS_ERR_RSV = -3,                    /* 1002: RSV bit not allowed here */
    WS_ERR_OPCODE = -4,                 /* 1002: reserved opcode */
    WS_ERR_CONTROL_TOO_LONG = -5,       /* 1002: control payload > 125 */
    WS_ERR_CONTROL_FRAGMENTED = -6,     /* 1002: control frame without FIN */
    WS_ERR_LENGTH_TOP_BIT = -7,         /* 1002: 64-bit length with the top bit set */
    WS_ERR_LENGTH_NOT_MINIMAL = -8,     /* 1002: 16/64-bit length that fits a shorter form */
    WS_ERR_CONTINUATION_WITHOUT_START = -9, /* 1002 */
    WS_ERR_DATA_INSIDE_FRAGMENTED = -10,/* 1002: text/binary while a message is open */
    WS_ERR_CLOSE_ONE_BYTE = -11,        /* 1002: close payload of 1 byte */
    WS_ERR_CLOSE_CODE = -12,            /* 1002: invalid close code */
    WS_ERR_CLOSE_REASON_UTF8 = -13,     /* 1007 */
    WS_ERR_TEXT_UTF8 = -14,             /* 1007 */
    WS_ERR_INFLATE = -15,               /* 1007: corrupt compressed data */
    WS_ERR_TOO_BIG = -16,               /* 1009: message over max_message_bytes */
    WS_ERR_NOMEM = -17,                 /* 1011 */
    WS_ERR_NOBUFS = -18,                /* encoder: output buffer too small (local) */
} ws_err;

const char *ws_err_str(int err);
/* The close code to send for a negative ws_err (1011 for unknown codes). */
uint16_t ws_err_close_code(int err);

/* ---- frame header ---------------------------------------------------------- */

typedef struct ws_frame_header {
    bool fin;
    bool rsv1, rsv2, rsv3;
    uint8_t opcode;
    bool masked;
    uint8_t mask[4];
    uint64_t payload_len;
    size_t header_len;                  /* bytes of header: 2..14 */
} ws_frame_header;

typedef struct ws_header_rules {
    bool expect_masked;                 /* server: true (client frames masked); client: false */
    bool allow_rsv1;                    /* permessage-deflate negotiated: RSV1 ok on data frames */
} ws_header_rules;

/* Parses and checks one frame header against `rules` and the per-frame rules
 * of RFC 6455 (opcodes, RSV2/RSV3, control frame length and FIN, lengths).
 * Returns header_len (> 0) when the header is complete and valid, 0 when more
 * bytes are needed, or a negative ws_err as soon as the bytes present break a
 * rule (a bad first byte fails with len == 1). RSV1 on a continuation frame is
 * a message-level rule checked by ws_reader. */
int ws_parse_frame_header(const uint8_t *buf, size_t len, const ws_header_rules *rules,
                          ws_frame_header *h);

/* Writes a frame header (minimal length encoding) into `out` (room for
 * WS_MAX_HEADER_BYTES). `mask` NULL for server frames; 4 bytes for client
 * frames (the caller then masks the payload with ws_mask). Returns its length. */
size_t ws_encode_frame_header(uint8_t *out, bool fin, uint8_t opcode, bool rsv1,
                              uint64_t payload_len, const uint8_t *mask);

/* Writes the header of a whole unmasked frame (a server's) of `payload_len`
 * bytes into the `room` bytes just before `payload`, so a payload already in
 * place is sent without a copy. Returns the header length, or WS_ERR_NOBUFS
 * when `room` is too small. A client's frame header is always longer than the
 * server's for the same payload (it carries a mask), so a masked message
 * unmasked in place has room in front of it. */
int ws_encode_header_before(uint8_t *payload, size_t room, uint8_t opcode, uint64_t payload_len);

/* XORs `len` bytes with `mask`, starting at `mask_offset` bytes into the
 * payload (so a payload unmasked in pieces lines up). In place; 32 bytes a step. */
void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t mask_offset);

/* ws_mask from `src` into `dst` in one pass (unmask while copying); `dst` may
 * equal `src` but must not otherwise overlap it. */
void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4], uint64_t mask_offset);

/* Header + payload (masked when `mask` is given) into `out`. Returns the frame
 * length, or WS_ERR_NOBUFS when `cap` is too small. */
int64_t ws_encode_frame(uint8_t *out, size_t cap, bool fin, uint8_t opcode, bool rsv1,
                        const uint8_t *payload, size_t payload_len, const uint8_t *mask);

/* Room for ws_encode_message of a `len`-byte message. */
size_t ws_message_bound(size_t len);

/* One whole server data message (unmasked, FIN) into `out`: compressed with
 * RSV1 when `def` is given and pmd_should_compress says so and it helps,
 * plain otherwise (the deflater is then reset, so its context never holds
 * bytes the peer did not see). Returns the frame length, WS_ERR_NOBUFS, or
 * WS_ERR_NOMEM. */
int64_t ws_encode_message(uint8_t *out, size_t cap, uint8_t opcode, const uint8_t *payload,
                          size_t len, pmd_deflater *def);

/* ---- close frames ----------------------------------------------------------- */

/* Codes a peer may send: 1000-1003, 1007-1014, 3000-4999. */
bool ws_close_code_is_valid(uint16_t code);

/* A whole server close frame (unmasked) into `out` (room for 2 + 125 bytes).
 * code WS_CLOSE_NO_STATUS (1005) writes an empty close (echo of a close that
 * carried no code); the reason is cut to 123 bytes at a UTF-8 boundary.
 * Returns the frame length. */
size_t ws_encode_close(uint16_t code, const char *reason, uint8_t *out);

/* ---- message reader --------------------------------------------------------- */

typedef struct ws_reader_config {
    size_t max_message_bytes;           /* 0 -> WS_DEFAULT_MAX_MESSAGE_BYTES; after inflation */
    size_t retain_buffer_bytes;         /* reassembly buffer kept between messages up to this */
    bool expect_masked;                 /* true on the server */
    pmd_inflater *inflater;             /* non-NULL when permessage-deflate was negotiated */
} ws_reader_config;

typedef enum ws_event_type {
    WS_EV_NONE = 0,                     /* all input consumed, no event yet */
    WS_EV_MESSAGE,                      /* opcode, data, len */
    WS_EV_PING,                         /* data, len: answer with a pong of the same bytes */
    WS_EV_PONG,
    WS_EV_CLOSE,                        /* close_code (1005 if none), reason; echo it */
    WS_EV_ERROR,                        /* err, close_code to send, reason (static text) */
} ws_event_type;

typedef struct ws_event {
    ws_event_type type;
    uint8_t opcode;                     /* MESSAGE: WS_OP_TEXT or WS_OP_BINARY */
    bool compressed;                    /* MESSAGE: arrived with RSV1 */
    const uint8_t *data;                /* valid until the next ws_reader_feed call */
    size_t len;
    uint16_t close_code;
    const char *reason;                 /* CLOSE: peer bytes (not NUL-terminated) */
    size_t reason_len;
    int err;                            /* ERROR: the ws_err */
} ws_event;

enum ws_reader_state { WS_RS_HEADER, WS_RS_PAYLOAD, WS_RS_CLOSED, WS_RS_FAILED };

typedef struct ws_reader {
    ws_reader_config cfg;
    enum ws_reader_state state;
    ws_header_rules rules;
    uint8_t header_bytes[WS_MAX_HEADER_BYTES];
    size_t header_have;
    ws_frame_header frame;
    uint64_t frame_done;                /* payload bytes of `frame` consumed */
    /* the data message in progress (fragmented, partial or compressed) */
    bool in_message;
    uint8_t message_opcode;
    bool message_compressed;
    uint64_t message_wire_bytes;        /* payload bytes on the wire so far */
    utf8_validator utf8;
    uint8_t *buf;                       /* reassembly / inflate output, grows bounded */
    size_t buf_len;
    size_t buf_cap;
    /* control frame payload arriving in pieces */
    uint8_t control[WS_MAX_CONTROL_PAYLOAD_BYTES];
    int failed_err;
} ws_reader;

int ws_reader_init(ws_reader *r, const ws_reader_config *cfg);
void ws_reader_free(ws_reader *r);
/* Frees the reassembly buffer unless a message is in progress (an idle
 * connection keeps no buffer; the next message allocates again). */
void ws_reader_release_idle(ws_reader *r);

/* Consumes bytes of `buf` up to the end of the first complete event and
 * returns how many it consumed; *ev is that event, or WS_EV_NONE when all of
 * `buf` was consumed without one. Call again with the rest of the buffer.
 * `buf` is scratch: a whole uncompressed, unfragmented message found in it is
 * unmasked in place and returned as a pointer into it (no copy), pieces of
 * other messages are unmasked while being copied out (the bytes left in `buf`
 * are then unspecified), so `buf` must stay
 * valid until the event is handled. After an ERROR the reader consumes
 * nothing and repeats the error; after a CLOSE it discards further input. */
size_t ws_reader_feed(ws_reader *r, uint8_t *buf, size_t len, ws_event *ev);

#endif /* RINGPAD_WS_H */
