/*
 * RFC 6455 framing and the per-connection message reader.
 *
 * The reader is a state machine over HEADER -> PAYLOAD -> HEADER ... that
 * returns as soon as one event is complete, so the caller handles events in
 * order without a queue and the reader needs no allocation for control frames
 * or for whole unfragmented messages (delivered in place).
 */
#include "ws/ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WS_MIN_GROW_BYTES 256
#define WS_DEFAULT_RETAIN_BUFFER_BYTES ((size_t)16 << 10)

const char *ws_err_str(int err) {
    switch (err) {
    case 0: return "ok";
    case WS_ERR_NOT_MASKED: return "client frame not masked";
    case WS_ERR_MASKED: return "server frame masked";
    case WS_ERR_RSV: return "reserved bit set";
    case WS_ERR_OPCODE: return "reserved opcode";
    case WS_ERR_CONTROL_TOO_LONG: return "control frame payload over 125 bytes";
    case WS_ERR_CONTROL_FRAGMENTED: return "fragmented control frame";
    case WS_ERR_LENGTH_TOP_BIT: return "64-bit length with the top bit set";
    case WS_ERR_LENGTH_NOT_MINIMAL: return "length not minimally encoded";
    case WS_ERR_CONTINUATION_WITHOUT_START: return "continuation without a message";
    case WS_ERR_DATA_INSIDE_FRAGMENTED: return "new message inside a fragmented message";
    case WS_ERR_CLOSE_ONE_BYTE: return "close payload of one byte";
    case WS_ERR_CLOSE_CODE: return "invalid close code";
    case WS_ERR_CLOSE_REASON_UTF8: return "close reason not UTF-8";
    case WS_ERR_TEXT_UTF8: return "text message not UTF-8";
    case WS_ERR_INFLATE: return "corrupt compressed message";
    case WS_ERR_TOO_BIG: return "message too big";
    case WS_ERR_NOMEM: return "out of memory";
    case WS_ERR_NOBUFS: return "output buffer too small";
    default: return "unknown websocket error";
    }
}

uint16_t ws_err_close_code(int err) {
    switch (err) {
    case WS_ERR_NOT_MASKED:
    case WS_ERR_MASKED:
    case WS_ERR_RSV:
    case WS_ERR_OPCODE:
    case WS_ERR_CONTROL_TOO_LONG:
    case WS_ERR_CONTROL_FRAGMENTED:
    case WS_ERR_LENGTH_TOP_BIT:
    case WS_ERR_LENGTH_NOT_MINIMAL:
    case WS_ERR_CONTINUATION_WITHOUT_START:
    case WS_ERR_DATA_INSIDE_FRAGMENTED:
    case WS_ERR_CLOSE_ONE_BYTE:
    case WS_ERR_CLOSE_CODE:
        return WS_CLOSE_PROTOCOL_ERROR;
    case WS_ERR_CLOSE_REASON_UTF8:
    case WS_ERR_TEXT_UTF8:
    case WS_ERR_INFLATE:
        return WS_CLOSE_INVALID_PAYLOAD;
    case WS_ERR_TOO_BIG:
        return WS_CLOSE_MESSAGE_TOO_BIG;
    default:
        return WS_CLOSE_INTERNAL_ERROR;
    }
}

static bool is_control(uint8_t opcode) {
    return opcode >= 0x8;
}

/* ---- frame header ----------------------------------------------------------------- */

int ws_parse_frame_header(const uint8_t *buf, size_t len, const ws_header_rules *rules,
                          ws_frame_header *h) {
    if (len < 1)
        return 0;
    uint8_t b0 = buf[0];
    uint8_t opcode = b0 & 0x0f;
    bool fin = b0 & 0x80, rsv1 = b0 & 0x40;
    if (b0 & 0x30)
        return WS_ERR_RSV;              /* RSV2/RSV3: no extension of ours uses them */
    if (opcode > WS_OP_BINARY && opcode != WS_OP_CLOSE && opcode != WS_OP_PING &&
        opcode != WS_OP_PONG)
        return WS_ERR_OPCODE;
    if (is_control(opcode)) {
        if (!fin)
            return WS_ERR_CONTROL_FRAGMENTED;
        if (rsv1)
            return WS_ERR_RSV;          /* RFC 7692: never on control frames */
    } else if (rsv1 && !rules->allow_rsv1) {
        return WS_ERR_RSV;
    }
    if (len < 2)
        return 0;
    uint8_t b1 = buf[1];
    bool masked = b1 & 0x80;
    uint8_t len7 = b1 & 0x7f;
    if (masked != rules->expect_masked)
        return masked ? WS_ERR_MASKED : WS_ERR_NOT_MASKED;
    if (is_control(opcode) && len7 > WS_MAX_CONTROL_PAYLOAD_BYTES)
        return WS_ERR_CONTROL_TOO_LONG;
    size_t count_length_bytes = len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
    size_t need = 2 + count_length_bytes + (masked ? 4 : 0);
    uint64_t payload_len = len7;
    if (count_length_bytes > 0) {
        if (count_length_bytes == 8 && len >= 3 && (buf[2] & 0x80))
            return WS_ERR_LENGTH_TOP_BIT;
        if (len < 2 + count_length_bytes)
            return 0;
        payload_len = 0;
        for (size_t i = 0; i < count_length_bytes; i++)
            payload_len = (payload_len << 8) | buf[2 + i];
        if ((count_length_bytes == 2 && payload_len < 126) ||
            (count_length_bytes == 8 && payload_len <= 0xffff))
            return WS_ERR_LENGTH_NOT_MINIMAL;
    }
    if (len < need)
        return 0;
    h->fin = fin;
    h->rsv1 = rsv1;
    h->rsv2 = false;
    h->rsv3 = false;
    h->opcode = opcode;
    h->masked = masked;
    if (masked)
        memcpy(h->mask, buf + 2 + count_length_bytes, 4);
    else
        memset(h->mask, 0, 4);
    h->payload_len = payload_len;
    h->header_len = need;
    return (int)need;
}

size_t ws_encode_frame_header(uint8_t *out, bool fin, uint8_t opcode, bool rsv1,
                              uint64_t payload_len, const uint8_t *mask) {
    uint8_t mask_bit = mask ? 0x80 : 0x00;
    size_t n;
    out[0] = (uint8_t)((fin ? 0x80 : 0x00) | (rsv1 ? 0x40 : 0x00) | (opcode & 0x0f));
    if (payload_len < 126) {
        out[1] = (uint8_t)(mask_bit | payload_len);
        n = 2;
    } else if (payload_len <= 0xffff) {
        out[1] = mask_bit | 126;
        out[2] = (uint8_t)(payload_len >> 8);
        out[3] = (uint8_t)payload_len;
        n = 4;
    } else {
        out[1] = mask_bit | 127;
        for (size_t i = 0; i < 8; i++)
            out[2 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
        n = 10;
    }
    if (mask) {
        memcpy(out + n, mask, 4);
        n += 4;
    }
    return n;
}

int ws_encode_header_before(uint8_t *payload, size_t room, uint8_t opcode, uint64_t payload_len) {
    uint8_t head[WS_MAX_HEADER_BYTES];
    size_t n = ws_encode_frame_header(head, true, opcode, false, payload_len, NULL);
    if (n > room)
        return WS_ERR_NOBUFS;
    memcpy(payload - n, head, n);
    return (int)n;
}

/* 32 bytes a step: the compiler turns this into vector loads, XORs and stores
 * (SSE/AVX as the target allows) without intrinsics. */
typedef uint8_t ws_mask_block __attribute__((vector_size(32)));

void ws_mask_copy(uint8_t *dst, const uint8_t *src, size_t len, const uint8_t mask[4], uint64_t mask_offset) {
    uint8_t m[32];
    for (size_t i = 0; i < sizeof m; i++)
        m[i] = mask[(mask_offset + i) & 3];
    ws_mask_block mv;
    memcpy(&mv, m, sizeof mv);
    size_t i = 0;
    for (; i + sizeof mv <= len; i += sizeof mv) {
        ws_mask_block v;
        memcpy(&v, src + i, sizeof v);
        v ^= mv;
        memcpy(dst + i, &v, sizeof v);
    }
    /* i is a multiple of 32, so the mask phase of m[] still lines up. */
    for (; i < len; i++)
        dst[i] = src[i] ^ m[i & 31];
}

void ws_mask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t mask_offset) {
    ws_mask_copy(p, p, len, mask, mask_offset);
}

int64_t ws_encode_frame(uint8_t *out, size_t cap, bool fin, uint8_t opcode, bool rsv1,
                        const uint8_t *payload, size_t payload_len, const uint8_t *mask) {
    uint8_t header[WS_MAX_HEADER_BYTES];
    size_t n = ws_encode_frame_header(header, fin, opcode, rsv1, payload_len, mask);
    if (cap < n || cap - n < payload_len)
        return WS_ERR_NOBUFS;
    memcpy(out, header, n);
    if (payload_len > 0)
        memcpy(out + n, payload, payload_len);
    if (mask)
        ws_mask(out + n, payload_len, mask, 0);
    return (int64_t)(n + payload_len);
}

#define WS_MAX_SERVER_HEADER_BYTES 10    /* unmasked: 2 + 8 */

size_t ws_message_bound(size_t len) {
    return WS_MAX_SERVER_HEADER_BYTES + pmd_deflate_bound(len);
}

int64_t ws_encode_message(uint8_t *out, size_t cap, uint8_t opcode, const uint8_t *payload,
                          size_t len, pmd_deflater *def) {
    if (def && pmd_should_compress(def, len) && cap > WS_MAX_SERVER_HEADER_BYTES) {
        /* Compress behind the largest header, then slide it behind the real one. */
        uint8_t *body = out + WS_MAX_SERVER_HEADER_BYTES;
        int64_t c = pmd_deflate_message(def, payload, len, body,
                                        cap - WS_MAX_SERVER_HEADER_BYTES);
        if (c == PMD_ERR_NOMEM)
            return WS_ERR_NOMEM;
        if (c >= 0 && (size_t)c < len) {
            uint8_t header[WS_MAX_HEADER_BYTES];
            size_t n = ws_encode_frame_header(header, true, opcode, true, (uint64_t)c, NULL);
            memmove(out + n, body, (size_t)c);
            memcpy(out, header, n);
            return (int64_t)(n + (size_t)c);
        }
        pmd_deflater_reset(def);        /* not sent compressed: forget it */
    }
    return ws_encode_frame(out, cap, true, opcode, false, payload, len, NULL);
}

/* ---- close frames ------------------------------------------------------------------- */

bool ws_close_code_is_valid(uint16_t code) {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

size_t ws_encode_close(uint16_t code, const char *reason, uint8_t *out) {
    if (code == WS_CLOSE_NO_STATUS || code == 0)
        return ws_encode_frame_header(out, true, WS_OP_CLOSE, false, 0, NULL);
    size_t reason_len = reason ? strlen(reason) : 0;
    if (reason_len > WS_MAX_CLOSE_REASON_BYTES) {
        reason_len = WS_MAX_CLOSE_REASON_BYTES;
        /* Never cut a code point: back up over continuation bytes. */
        while (reason_len > 0 && ((uint8_t)reason[reason_len] & 0xc0) == 0x80)
            reason_len--;
    }
    size_t n = ws_encode_frame_header(out, true, WS_OP_CLOSE, false, 2 + reason_len, NULL);
    out[n] = (uint8_t)(code >> 8);
    out[n + 1] = (uint8_t)code;
    if (reason_len > 0)
        memcpy(out + n + 2, reason, reason_len);
    return n + 2 + reason_len;
}

/* ---- message reader ------------------------------------------------------------------ */

int ws_reader_init(ws_reader *r, const ws_reader_config *cfg) {
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    if (r->cfg.max_message_bytes == 0)
        r->cfg.max_message_bytes = WS_DEFAULT_MAX_MESSAGE_BYTES;
    if (r->cfg.retain_buffer_bytes == 0)
        r->cfg.retain_buffer_bytes = WS_DEFAULT_RETAIN_BUFFER_BYTES;
    r->rules.expect_masked = cfg->expect_masked;
    r->rules.allow_rsv1 = cfg->inflater != NULL;
    r->state = WS_RS_HEADER;
    utf8_init(&r->utf8);
    return 0;
}

void ws_reader_free(ws_reader *r) {
    free(r->buf);
    r->buf = NULL;
    r->buf_len = 0;
    r->buf_cap = 0;
}

void ws_reader_release_idle(ws_reader *r) {
    if (r->in_message)
        return;
    free(r->buf);
    r->buf = NULL;
    r->buf_len = 0;
    r->buf_cap = 0;
}

static size_t fail(ws_reader *r, int err, size_t consumed, ws_event *ev) {
    r->state = WS_RS_FAILED;
    r->failed_err = err;
    ev->type = WS_EV_ERROR;
    ev->err = err;
    ev->close_code = ws_err_close_code(err);
    ev->reason = ws_err_str(err);
    ev->reason_len = strlen(ev->reason);
    return consumed;
}

/* Message-level rules once a frame header is known. */
static int begin_frame(ws_reader *r) {
    const ws_frame_header *h = &r->frame;
    if (is_control(h->opcode))
        return 0;
    if (h->opcode == WS_OP_CONTINUATION) {
        if (!r->in_message)
            return WS_ERR_CONTINUATION_WITHOUT_START;
        if (h->rsv1)
            return WS_ERR_RSV;          /* RFC 7692: RSV1 only on the first frame */
    } else {
        if (r->in_message)
            return WS_ERR_DATA_INSIDE_FRAGMENTED;
        r->in_message = true;
        r->message_opcode = h->opcode;
        r->message_compressed = h->rsv1;
        utf8_init(&r->utf8);
        r->buf_len = 0;
        r->message_wire_bytes = 0;
        /* A big buffer is kept only for a message that needs at least half of it
         * (a stream of large messages reuses one allocation); an idle connection
         * gives it back through ws_reader_release_idle. */
        bool reuse = !h->rsv1 && r->buf_cap / 2 <= h->payload_len;
        if (r->buf_cap > r->cfg.retain_buffer_bytes && !reuse) {
            /* The last message was big: do not keep its buffer for an idle connection. */
            free(r->buf);
            r->buf = NULL;
            r->buf_cap = 0;
        }
    }
    /* Uncompressed sizes are known up front: refuse before reading a byte of it. */
    if (!r->message_compressed &&
        h->payload_len > r->cfg.max_message_bytes - r->buf_len)
        return WS_ERR_TOO_BIG;
    /* Compressed bytes are bounded too (deflate expands incompressible data by
     * well under 1/256), so empty blocks cannot stretch a message forever. */
    uint64_t max_wire_bytes = pmd_deflate_bound(r->cfg.max_message_bytes);
    if (r->message_compressed && h->payload_len > max_wire_bytes - r->message_wire_bytes)
        return WS_ERR_TOO_BIG;
    r->message_wire_bytes += h->payload_len;
    return 0;
}

static int reserve(ws_reader *r, size_t need) {
    if (need <= r->buf_cap)
        return 0;
    size_t cap = r->buf_cap < WS_MIN_GROW_BYTES ? WS_MIN_GROW_BYTES : r->buf_cap * 2;
    if (cap < need)
        cap = need;
    if (cap > r->cfg.max_message_bytes)
        cap = need > r->cfg.max_message_bytes ? need : r->cfg.max_message_bytes;
    uint8_t *p = realloc(r->buf, cap);
    if (p == NULL)
        return WS_ERR_NOMEM;
    r->buf = p;
    r->buf_cap = cap;
    return 0;
}

/* A piece of a data message that must be copied (or inflated) into r->buf.
 * Uncompressed pieces arrive still masked and are unmasked as they are copied;
 * compressed ones were unmasked in place. */
static int data_chunk(ws_reader *r, const uint8_t *chunk, size_t n, bool message_end) {
    size_t old_len = r->buf_len;
    int rc = 0;
    if (!r->message_compressed) {
        if (n > 0) {
            /* The whole rest of the frame at once (its length was checked
             * against max_message_bytes): one allocation, no regrowth copies. */
            const ws_frame_header *h = &r->frame;
            rc = reserve(r, r->buf_len + (size_t)(h->payload_len - r->frame_done));
            if (rc < 0)
                return rc;
            if (h->masked)
                ws_mask_copy(r->buf + r->buf_len, chunk, n, h->mask, r->frame_done);
            else
                memcpy(r->buf + r->buf_len, chunk, n);
            r->buf_len += n;
        }
    } else {
        rc = pmd_inflate(r->cfg.inflater, chunk, n, message_end, &r->buf, &r->buf_len,
                         &r->buf_cap, r->cfg.max_message_bytes);
        if (r->buf_len > r->cfg.max_message_bytes)
            r->buf_len = r->cfg.max_message_bytes;
    }
    /* Validate what arrived before reporting anything else: fail at the first bad byte. */
    if (r->message_opcode == WS_OP_TEXT && r->buf_len > old_len &&
        utf8_feed(&r->utf8, r->buf + old_len, r->buf_len - old_len, NULL) < 0)
        return WS_ERR_TEXT_UTF8;
    switch (rc) {
    case 0: break;
    case PMD_ERR_TOO_BIG: return WS_ERR_TOO_BIG;
    case PMD_ERR_DATA: return WS_ERR_INFLATE;
    default: return WS_ERR_NOMEM;
    }
    if (message_end && r->message_opcode == WS_OP_TEXT && !utf8_is_complete(&r->utf8))
        return WS_ERR_TEXT_UTF8;
    return 0;
}

static int control_event(ws_reader *r, const uint8_t *payload, size_t n, ws_event *ev) {
    switch (r->frame.opcode) {
    case WS_OP_PING:
        ev->type = WS_EV_PING;
        break;
    case WS_OP_PONG:
        ev->type = WS_EV_PONG;
        break;
    default: /* WS_OP_CLOSE */
        if (n == 1)
            return WS_ERR_CLOSE_ONE_BYTE;
        ev->close_code = WS_CLOSE_NO_STATUS;
        if (n >= 2) {
            uint16_t code = (uint16_t)((payload[0] << 8) | payload[1]);
            if (!ws_close_code_is_valid(code))
                return WS_ERR_CLOSE_CODE;
            if (!utf8_validate(payload + 2, n - 2))
                return WS_ERR_CLOSE_REASON_UTF8;
            ev->close_code = code;
            ev->reason = (const char *)payload + 2;
            ev->reason_len = n - 2;
        }
        ev->type = WS_EV_CLOSE;
        r->state = WS_RS_CLOSED;
        return 0;
    }
    ev->data = payload;
    ev->len = n;
    return 0;
}

/* Reads a frame header from buf[*pos..len), keeping a split header for the
 * next call. Returns 1 when the frame's payload follows (state PAYLOAD), 0
 * when every byte was kept for the next call, or a negative ws_err. */
static int read_header(ws_reader *r, const uint8_t *buf, size_t len, size_t *pos) {
    int rc;
    if (r->header_have == 0) {
        rc = ws_parse_frame_header(buf + *pos, len - *pos, &r->rules, &r->frame);
        if (rc == 0) {
            /* parse wants more than is left, so it fits in header_bytes */
            memcpy(r->header_bytes, buf + *pos, len - *pos);
            r->header_have = len - *pos;
            return 0;
        }
        if (rc < 0)
            return rc;
        *pos += (size_t)rc;
    } else {
        size_t have = r->header_have;
        size_t take = WS_MAX_HEADER_BYTES - have;
        if (take > len - *pos)
            take = len - *pos;
        memcpy(r->header_bytes + have, buf + *pos, take);
        rc = ws_parse_frame_header(r->header_bytes, have + take, &r->rules, &r->frame);
        if (rc == 0) {
            r->header_have = have + take;
            return 0;
        }
        if (rc < 0)
            return rc;
        *pos += (size_t)rc - have;
        r->header_have = 0;
    }
    rc = begin_frame(r);
    if (rc < 0)
        return rc;
    r->frame_done = 0;
    r->state = WS_RS_PAYLOAD;
    return 1;
}

size_t ws_reader_feed(ws_reader *r, uint8_t *buf, size_t len, ws_event *ev) {
    memset(ev, 0, sizeof *ev);
    ev->type = WS_EV_NONE;
    if (r->state == WS_RS_FAILED)
        return fail(r, r->failed_err, 0, ev);
    if (r->state == WS_RS_CLOSED)
        return len;
    size_t pos = 0;
    /* Each pass consumes header or payload bytes, or returns an event. */
    while (pos < len) {
        if (r->state == WS_RS_HEADER) {
            int rc = read_header(r, buf, len, &pos);
            if (rc < 0)
                return fail(r, rc, pos, ev);
            if (rc == 0)
                return len;
        }

        const ws_frame_header *h = &r->frame;
        uint64_t left = h->payload_len - r->frame_done;
        size_t take = left < len - pos ? (size_t)left : len - pos;
        uint8_t *chunk = buf + pos;
        bool frame_end = take == left;
        bool whole_message = h->opcode != WS_OP_CONTINUATION && h->fin && !r->message_compressed &&
                             r->frame_done == 0 && frame_end;
        /* Pieces copied into r->buf are unmasked by the copy (data_chunk). */
        if (h->masked && (is_control(h->opcode) || whole_message || r->message_compressed))
            ws_mask(chunk, take, h->mask, r->frame_done);

        if (is_control(h->opcode)) {
            const uint8_t *payload = chunk;
            if (!(r->frame_done == 0 && frame_end)) {
                memcpy(r->control + r->frame_done, chunk, take);
                payload = r->control;
            }
            r->frame_done += take;
            pos += take;
            if (!frame_end)
                return pos;
            r->state = WS_RS_HEADER;
            int rc = control_event(r, payload, (size_t)h->payload_len, ev);
            if (rc < 0)
                return fail(r, rc, pos, ev);
            return pos;
        }

        if (whole_message) {
            /* A whole message in the caller's buffer: hand out a pointer to it. */
            pos += take;
            r->state = WS_RS_HEADER;
            r->in_message = false;
            if (h->opcode == WS_OP_TEXT && !utf8_validate(chunk, take))
                return fail(r, WS_ERR_TEXT_UTF8, pos, ev);
            ev->type = WS_EV_MESSAGE;
            ev->opcode = h->opcode;
            ev->data = chunk;
            ev->len = take;
            return pos;
        }

        bool message_end = frame_end && h->fin;
        int rc = data_chunk(r, chunk, take, message_end);
        r->frame_done += take;
        pos += take;
        if (rc < 0)
            return fail(r, rc, pos, ev);
        if (!frame_end)
            return pos;
        r->state = WS_RS_HEADER;
        if (message_end) {
            r->in_message = false;
            ev->type = WS_EV_MESSAGE;
            ev->opcode = r->message_opcode;
            ev->compressed = r->message_compressed;
            ev->data = r->buf_len > 0 ? r->buf : (const uint8_t *)"";
            ev->len = r->buf_len;
            return pos;
        }
    }
    return pos;
}
