/*
 * ringpad.v1: encoding server messages with a small JSON writer.
 *
 * op, ack and presence are written for every edit and every cursor move, so
 * they go straight into the caller's buffer: no DOM, no allocation beyond the
 * buffer's growth. Escaping follows RFC 8259; the output is always valid
 * UTF-8 (a WebSocket text frame requires it), so invalid input is refused
 * rather than passed on.
 */
#include "proto/protocol.h"
#include "proto/protocol_rest.h"

#include <errno.h>
#include <string.h>

#define TRY(expr)                     \
    do {                              \
        int try_rc_ = (expr);         \
        if (try_rc_ != 0) return try_rc_; \
    } while (0)

static int put(ot_buf *out, const char *bytes, size_t len) {
    return ot_buf_append(out, bytes, len) == OT_OK ? 0 : -ENOMEM;
}

/* `"" lit ""` only compiles for a string literal, so sizeof is its length. */
#define PUT_LIT(out, lit) put((out), "" lit "", sizeof(lit) - 1)

static int put_u64(ot_buf *out, uint64_t v) {
    char digits[20];
    size_t n = 0;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0 && n < sizeof digits);
    return put(out, digits + sizeof digits - n, n);
}

/* A key (a literal with its quotes, colon and any leading comma) and its number. */
static int put_key_u64(ot_buf *out, const char *key, size_t key_len, uint64_t v) {
    TRY(put(out, key, key_len));
    return put_u64(out, v);
}

#define PUT_KEY_U64(out, lit, v) put_key_u64((out), "" lit "", sizeof(lit) - 1, (v))

/* Length of the valid UTF-8 sequence starting at s[0] (>= 0x80), 0 if invalid
 * (overlong, surrogate, beyond U+10FFFF or truncated). */
static size_t utf8_seq_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

static int json_string_body(ot_buf *out, const char *str, size_t len) {
    const unsigned char *s = (const unsigned char *)str;
    size_t run = 0; /* start of bytes that need no escaping */
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t n = utf8_seq_len(s + i, len - i);
            if (n == 0) return -EINVAL;
            i += n;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        TRY(put(out, str + run, i - run));
        char esc[6] = {'\\', 0, 0, 0, 0, 0};
        size_t esc_len = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default: {
            static const char hex[] = "0123456789abcdef";
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex[c >> 4];
            esc[5] = hex[c & 0xf];
            esc_len = 6;
        }
        }
        TRY(put(out, esc, esc_len));
        i++;
        run = i;
    }
    return put(out, str + run, len - run);
}

int proto_json_string(ot_buf *out, const char *s, size_t len_bytes) {
    size_t start = out->len;
    int rc = PUT_LIT(out, "\"");
    if (rc == 0) rc = json_string_body(out, s, len_bytes);
    if (rc == 0) rc = PUT_LIT(out, "\"");
    if (rc != 0 && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

static int put_str(ot_buf *out, proto_str s) {
    if (s.ptr == NULL) return PUT_LIT(out, "null");
    return proto_json_string(out, s.ptr, s.len);
}

static int put_sel(ot_buf *out, const proto_range *sel, uint32_t count) {
    TRY(PUT_LIT(out, "["));
    for (uint32_t i = 0; i < count; i++) {
        if (i > 0) TRY(PUT_LIT(out, ","));
        TRY(PUT_LIT(out, "["));
        TRY(put_u64(out, sel[i].anchor));
        TRY(PUT_LIT(out, ","));
        TRY(put_u64(out, sel[i].head));
        TRY(PUT_LIT(out, "]"));
    }
    return PUT_LIT(out, "]");
}

/* Every encoder: write, and on failure roll the buffer back. */
static int finish(ot_buf *out, size_t start, int rc) {
    if (rc != 0 && out->data != NULL) {
        out->len = start;
        out->data[start] = '\0';
    }
    return rc;
}

static int welcome_body(ot_buf *out, proto_str session, proto_str server,
                        const proto_welcome_limits *l) {
    TRY(PUT_LIT(out, "{\"type\":\"welcome\",\"session\":"));
    TRY(put_str(out, session));
    TRY(PUT_LIT(out, ",\"server\":"));
    TRY(put_str(out, server));
    const struct { const char *key; size_t key_len; uint64_t value; } fields[] = {
#define F(name) {"\"" #name "\":", sizeof("\"" #name "\":") - 1, l->name}
        F(max_message_bytes), F(max_op_bytes),  F(max_op_components),
        F(max_doc_codepoints), F(max_doc_name_bytes), F(max_open_docs),
        F(history_depth),     F(presence_per_second),
#undef F
    };
    TRY(PUT_LIT(out, ",\"limits\":{"));
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (i > 0) TRY(PUT_LIT(out, ","));
        TRY(put(out, fields[i].key, fields[i].key_len));
        TRY(put_u64(out, fields[i].value));
    }
    return PUT_LIT(out, "}}");
}

int proto_enc_welcome(ot_buf *out, proto_str session, proto_str server,
                      const proto_welcome_limits *limits) {
    size_t start = out->len;
    return finish(out, start, welcome_body(out, session, server, limits));
}

static int synced_body(ot_buf *out, proto_str doc, uint64_t v) {
    TRY(PUT_LIT(out, "{\"type\":\"synced\",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ",\"v\":"));
    TRY(put_u64(out, v));
    return PUT_LIT(out, "}");
}

int proto_enc_synced(ot_buf *out, proto_str doc, uint64_t v) {
    size_t start = out->len;
    return finish(out, start, synced_body(out, doc, v));
}

static int peer_fields(ot_buf *out, const proto_peer *p) {
    TRY(PUT_LIT(out, "\"session\":"));
    TRY(put_str(out, p->session));
    TRY(PUT_LIT(out, ",\"name\":"));
    TRY(put_str(out, p->name));
    TRY(PUT_LIT(out, ",\"color\":"));
    return put_str(out, p->color);
}

static int snapshot_body(ot_buf *out, proto_str doc, uint64_t v, proto_str text,
                         const proto_peer *peers, size_t count_peers) {
    TRY(PUT_LIT(out, "{\"type\":\"snapshot\",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ",\"v\":"));
    TRY(put_u64(out, v));
    TRY(PUT_LIT(out, ",\"text\":"));
    TRY(proto_json_string(out, text.ptr != NULL ? text.ptr : "", text.len));
    TRY(PUT_LIT(out, ",\"peers\":["));
    for (size_t i = 0; i < count_peers; i++) {
        if (i > 0) TRY(PUT_LIT(out, ","));
        TRY(PUT_LIT(out, "{"));
        TRY(peer_fields(out, &peers[i]));
        TRY(PUT_LIT(out, ",\"sel\":"));
        TRY(put_sel(out, peers[i].sel, peers[i].count_sel));
        TRY(PUT_LIT(out, "}"));
    }
    return PUT_LIT(out, "]}");
}

int proto_enc_snapshot(ot_buf *out, proto_str doc, uint64_t v, proto_str text,
                       const proto_peer *peers, size_t count_peers) {
    size_t start = out->len;
    return finish(out, start, snapshot_body(out, doc, v, text, peers, count_peers));
}

static int ack_body(ot_buf *out, proto_str doc, proto_str id, uint64_t v) {
    TRY(PUT_LIT(out, "{\"type\":\"ack\",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ",\"id\":"));
    TRY(put_str(out, id));
    TRY(PUT_LIT(out, ",\"v\":"));
    TRY(put_u64(out, v));
    return PUT_LIT(out, "}");
}

int proto_enc_ack(ot_buf *out, proto_str doc, proto_str id, uint64_t v) {
    size_t start = out->len;
    return finish(out, start, ack_body(out, doc, id, v));
}

static int op_body(ot_buf *out, proto_str doc, uint64_t v, proto_str id, const ot_op *op,
                   proto_str by) {
    TRY(PUT_LIT(out, "{\"type\":\"op\",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ",\"v\":"));
    TRY(put_u64(out, v));
    TRY(PUT_LIT(out, ",\"id\":"));
    TRY(put_str(out, id));
    TRY(PUT_LIT(out, ",\"op\":"));
    int rc = ot_op_to_json(op, out);
    if (rc != OT_OK) return rc == OT_ERR_NOMEM ? -ENOMEM : -EINVAL;
    TRY(PUT_LIT(out, ",\"by\":"));
    TRY(put_str(out, by));
    return PUT_LIT(out, "}");
}

int proto_enc_op(ot_buf *out, proto_str doc, uint64_t v, proto_str id, const ot_op *op,
                 proto_str by) {
    size_t start = out->len;
    return finish(out, start, op_body(out, doc, v, id, op, by));
}

static int presence_body(ot_buf *out, proto_str doc, const proto_peer *peer, uint64_t v) {
    TRY(PUT_LIT(out, "{\"type\":\"presence\",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ","));
    TRY(peer_fields(out, peer));
    TRY(PUT_LIT(out, ",\"v\":"));
    TRY(put_u64(out, v));
    TRY(PUT_LIT(out, ",\"sel\":"));
    TRY(put_sel(out, peer->sel, peer->count_sel));
    return PUT_LIT(out, "}");
}

int proto_enc_presence(ot_buf *out, proto_str doc, const proto_peer *peer, uint64_t v) {
    size_t start = out->len;
    return finish(out, start, presence_body(out, doc, peer, v));
}

static int leave_body(ot_buf *out, proto_str doc, proto_str session) {
    TRY(PUT_LIT(out, "{\"type\":\"leave\",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ",\"session\":"));
    TRY(put_str(out, session));
    return PUT_LIT(out, "}");
}

int proto_enc_leave(ot_buf *out, proto_str doc, proto_str session) {
    size_t start = out->len;
    return finish(out, start, leave_body(out, doc, session));
}

static int error_body(ot_buf *out, int code, proto_str message, proto_str ref) {
    TRY(PUT_LIT(out, "{\"type\":\"error\",\"code\":"));
    TRY(put_str(out, proto_cstr(proto_err_code_str(code))));
    TRY(PUT_LIT(out, ",\"message\":"));
    TRY(proto_json_string(out, message.ptr != NULL ? message.ptr : "", message.len));
    if (ref.ptr != NULL) {
        TRY(PUT_LIT(out, ",\"ref\":"));
        TRY(put_str(out, ref));
    }
    return PUT_LIT(out, "}");
}

int proto_enc_error(ot_buf *out, int code, proto_str message, proto_str ref) {
    size_t start = out->len;
    return finish(out, start, error_body(out, code, message, ref));
}

int proto_enc_pong(ot_buf *out) {
    size_t start = out->len;
    return finish(out, start, PUT_LIT(out, "{\"type\":\"pong\"}"));
}

/* ---- REST bodies (docs/PROTOCOL.md §15): the same writer, no DOM ------------- */

int proto_enc_rest_error(ot_buf *out, const char *code, proto_str message) {
    size_t start = out->len;
    int rc = PUT_LIT(out, "{\"code\":");
    if (rc == 0) rc = put_str(out, proto_cstr(code));
    if (rc == 0) rc = PUT_LIT(out, ",\"message\":");
    if (rc == 0) rc = proto_json_string(out, message.ptr != NULL ? message.ptr : "", message.len);
    if (rc == 0) rc = PUT_LIT(out, "}");
    return finish(out, start, rc);
}

static int put_i64(ot_buf *out, int64_t v) {
    if (v < 0) TRY(PUT_LIT(out, "-"));
    return put_u64(out, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
}

static int op_item_body(ot_buf *out, const proto_op_item *it) {
    TRY(PUT_LIT(out, "{\"v\":"));
    TRY(put_u64(out, it->v));
    TRY(PUT_LIT(out, ",\"id\":"));
    TRY(put_str(out, it->id));
    TRY(PUT_LIT(out, ",\"by\":"));
    TRY(put_str(out, it->by));
    TRY(PUT_LIT(out, ",\"time\":"));
    TRY(put_i64(out, it->time_ms));
    TRY(PUT_LIT(out, ",\"op\":"));
    if (it->op != NULL) TRY(ot_op_to_json(it->op, out) == OT_OK ? 0 : -ENOMEM);
    else TRY(put(out, it->op_json.ptr, it->op_json.len));
    return PUT_LIT(out, "}");
}

int proto_enc_rest_op_item(ot_buf *out, bool first, const proto_op_item *item) {
    size_t start = out->len;
    int rc = first ? 0 : PUT_LIT(out, ",");
    if (rc == 0) rc = op_item_body(out, item);
    return finish(out, start, rc);
}

static int session_item_body(ot_buf *out, const proto_session_item *it) {
    TRY(PUT_LIT(out, "{\"by\":"));
    TRY(put_str(out, it->by));
    TRY(PUT_KEY_U64(out, ",\"from\":", it->from));
    TRY(PUT_KEY_U64(out, ",\"to\":", it->to));
    TRY(PUT_LIT(out, ",\"start\":"));
    TRY(put_i64(out, it->start_ms));
    TRY(PUT_LIT(out, ",\"end\":"));
    TRY(put_i64(out, it->end_ms));
    TRY(PUT_KEY_U64(out, ",\"ops\":", it->count_ops));
    TRY(PUT_KEY_U64(out, ",\"added\":", it->added));
    TRY(PUT_KEY_U64(out, ",\"removed\":", it->removed));
    return PUT_LIT(out, "}");
}

int proto_enc_rest_session_item(ot_buf *out, bool first, const proto_session_item *item) {
    size_t start = out->len;
    int rc = first ? 0 : PUT_LIT(out, ",");
    if (rc == 0) rc = session_item_body(out, item);
    return finish(out, start, rc);
}

static int authors_body(ot_buf *out, proto_str text, uint64_t base, const proto_author_span *spans, size_t count) {
    TRY(PUT_LIT(out, "\"text\":"));
    TRY(proto_json_string(out, text.ptr != NULL ? text.ptr : "", text.len));
    TRY(PUT_LIT(out, ",\"base\":"));
    TRY(put_u64(out, base));
    TRY(PUT_LIT(out, ",\"spans\":["));
    for (size_t i = 0; i < count; i++) {
        TRY(i > 0 ? PUT_LIT(out, ",{\"by\":") : PUT_LIT(out, "{\"by\":"));
        TRY(put_str(out, spans[i].by));
        TRY(PUT_KEY_U64(out, ",\"from\":", spans[i].from));
        TRY(PUT_KEY_U64(out, ",\"to\":", spans[i].to));
        TRY(PUT_LIT(out, "}"));
    }
    return PUT_LIT(out, "]");
}

int proto_enc_rest_authors(ot_buf *out, proto_str text, uint64_t base, const proto_author_span *spans,
                           size_t count_spans) {
    size_t start = out->len;
    return finish(out, start, authors_body(out, text, base, spans, count_spans));
}

static int list_body(ot_buf *out, const proto_doc_info *docs, size_t count, proto_str next) {
    TRY(PUT_LIT(out, "{\"docs\":["));
    for (size_t i = 0; i < count; i++) {
        TRY(i > 0 ? PUT_LIT(out, ",{\"name\":") : PUT_LIT(out, "{\"name\":"));
        TRY(put_str(out, docs[i].name));
        TRY(PUT_KEY_U64(out, ",\"v\":", docs[i].v));
        TRY(PUT_KEY_U64(out, ",\"codepoints\":", docs[i].codepoints));
        TRY(PUT_KEY_U64(out, ",\"bytes\":", docs[i].bytes));
        TRY(PUT_LIT(out, "}"));
    }
    TRY(PUT_LIT(out, "]"));
    if (next.ptr != NULL) {
        TRY(PUT_LIT(out, ",\"next\":"));
        TRY(put_str(out, next));
    }
    return PUT_LIT(out, "}");
}

int proto_enc_rest_list(ot_buf *out, const proto_doc_info *docs, size_t count, proto_str next) {
    size_t start = out->len;
    return finish(out, start, list_body(out, docs, count, next));
}

static int written_body(ot_buf *out, proto_str doc, uint64_t v, bool changed) {
    TRY(PUT_LIT(out, "{\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_LIT(out, ",\"v\":"));
    TRY(put_u64(out, v));
    return changed ? PUT_LIT(out, ",\"changed\":true}") : PUT_LIT(out, ",\"changed\":false}");
}

static int webhook_body(ot_buf *out, proto_str event, proto_str doc, uint64_t v, proto_str text) {
    TRY(PUT_LIT(out, "{\"event\":"));
    TRY(put_str(out, event));
    TRY(PUT_LIT(out, ",\"doc\":"));
    TRY(put_str(out, doc));
    TRY(PUT_KEY_U64(out, ",\"v\":", v));
    if (text.ptr != NULL) {
        TRY(PUT_LIT(out, ",\"text\":"));
        TRY(proto_json_string(out, text.ptr, text.len));
    }
    return PUT_LIT(out, "}");
}

int proto_enc_webhook(ot_buf *out, proto_str event, proto_str doc, uint64_t v, proto_str text) {
    size_t start = out->len;
    return finish(out, start, webhook_body(out, event, doc, v, text));
}

/* ---- REST answers: an owner's typed answer rendered -------------------------- */


/* JSON this module wrote before (items), as it is. */
static int put_raw(ot_buf *out, proto_str json) { return json.len > 0 ? put(out, json.ptr, json.len) : 0; }

static int answer_body(ot_buf *out, const proto_rest_answer *a) {
    switch ((proto_rest_kind)a->kind) {
    case PROTO_REST_ERROR:
        TRY(PUT_LIT(out, "{\"code\":"));
        TRY(put_str(out, a->code));
        TRY(PUT_LIT(out, ",\"message\":"));
        TRY(proto_json_string(out, a->message.ptr != NULL ? a->message.ptr : "", a->message.len));
        return PUT_LIT(out, "}");
    case PROTO_REST_TEXT:
        TRY(PUT_KEY_U64(out, "{\"v\":", a->v));
        TRY(PUT_KEY_U64(out, ",\"codepoints\":", a->codepoints));
        TRY(PUT_LIT(out, ",\"doc\":"));
        TRY(put_str(out, a->doc));
        TRY(PUT_LIT(out, ",\"text\":"));
        TRY(proto_json_string(out, a->text.ptr != NULL ? a->text.ptr : "", a->text.len));
        return PUT_LIT(out, "}");
    case PROTO_REST_WRITTEN: return written_body(out, a->doc, a->v, a->flag);
    case PROTO_REST_ACK: return ack_body(out, a->doc, a->id, a->v);
    case PROTO_REST_INFO:
        TRY(PUT_LIT(out, "{\"doc\":"));
        TRY(put_str(out, a->doc));
        TRY(PUT_KEY_U64(out, ",\"v\":", a->v));
        TRY(PUT_KEY_U64(out, ",\"codepoints\":", a->codepoints));
        TRY(PUT_KEY_U64(out, ",\"bytes\":", a->bytes));
        return PUT_LIT(out, "}");
    case PROTO_REST_DELETED: return a->flag ? PUT_LIT(out, "{\"deleted\":true}") : PUT_LIT(out, "{\"deleted\":false}");
    case PROTO_REST_OPS:
        TRY(PUT_KEY_U64(out, "{\"v\":", a->v));
        TRY(PUT_KEY_U64(out, ",\"from\":", a->from));
        TRY(PUT_KEY_U64(out, ",\"to\":", a->to));
        TRY(PUT_LIT(out, ",\"ops\":["));
        TRY(put_raw(out, a->items));
        return PUT_LIT(out, "]}");
    case PROTO_REST_HISTORY:
    case PROTO_REST_AUTHORS:
        TRY(PUT_KEY_U64(out, "{\"v\":", a->v));
        TRY(PUT_LIT(out, ",\"doc\":"));
        TRY(put_str(out, a->doc));
        if (a->kind == PROTO_REST_AUTHORS) {
            TRY(PUT_LIT(out, ","));
            TRY(put_raw(out, a->items));
            return PUT_LIT(out, "}");
        }
        TRY(PUT_KEY_U64(out, ",\"from\":", a->from));
        TRY(PUT_KEY_U64(out, ",\"to\":", a->to));
        TRY(PUT_LIT(out, ",\"sessions\":["));
        TRY(put_raw(out, a->items));
        return PUT_LIT(out, "]}");
    }
    return -EINVAL;
}

int proto_enc_rest_answer(ot_buf *out, const proto_rest_answer *a) {
    size_t start = out->len;
    return finish(out, start, answer_body(out, a));
}
