/*
 * The ot.js compact JSON form of an operation: parse (a small bounded parser
 * for exactly one array of integers and strings) and canonical serialization.
 * No recursion, no allocation beyond the op's own storage.
 */
#include <string.h>

#include "ot_internal.h"

typedef struct parser {
    const char *json;
    size_t len_bytes;
    size_t pos;
    size_t err_offset_bytes;
} parser;

static bool is_ws(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void skip_ws(parser *p) {
    while (p->pos < p->len_bytes && is_ws(p->json[p->pos]))
        p->pos++;
}

static int fail(parser *p, size_t offset, int err) {
    p->err_offset_bytes = offset;
    return err;
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

/* A JSON number; only integers are counts. */
static int parse_number(parser *p, ot_op *op, const ot_limits *limits) {
    size_t start = p->pos;
    bool negative = false;
    if (p->json[p->pos] == '-') {
        negative = true;
        p->pos++;
    }
    if (p->pos >= p->len_bytes || !is_digit(p->json[p->pos]))
        return fail(p, p->pos, OT_ERR_JSON_SYNTAX);
    size_t digits = p->pos;
    if (p->json[p->pos] == '0' && p->pos + 1 < p->len_bytes && is_digit(p->json[p->pos + 1]))
        return fail(p, p->pos, OT_ERR_JSON_SYNTAX); /* leading zero */
    while (p->pos < p->len_bytes && is_digit(p->json[p->pos]))
        p->pos++;
    size_t digits_end = p->pos;
    bool integral = true;
    if (p->pos < p->len_bytes && p->json[p->pos] == '.') {
        integral = false;
        p->pos++;
        if (p->pos >= p->len_bytes || !is_digit(p->json[p->pos]))
            return fail(p, p->pos, OT_ERR_JSON_SYNTAX);
        while (p->pos < p->len_bytes && is_digit(p->json[p->pos]))
            p->pos++;
    }
    if (p->pos < p->len_bytes && (p->json[p->pos] == 'e' || p->json[p->pos] == 'E')) {
        integral = false;
        p->pos++;
        if (p->pos < p->len_bytes && (p->json[p->pos] == '+' || p->json[p->pos] == '-'))
            p->pos++;
        if (p->pos >= p->len_bytes || !is_digit(p->json[p->pos]))
            return fail(p, p->pos, OT_ERR_JSON_SYNTAX);
        while (p->pos < p->len_bytes && is_digit(p->json[p->pos]))
            p->pos++;
    }
    if (!integral)
        return fail(p, start, OT_ERR_COUNT_RANGE);
    uint64_t magnitude = 0;
    for (size_t i = digits; i < digits_end; i++) {
        uint64_t d = (uint64_t)(p->json[i] - '0');
        if (magnitude > (INT64_MAX - d) / 10)
            return fail(p, start, OT_ERR_COUNT_RANGE);
        magnitude = magnitude * 10 + d;
    }
    int64_t value = negative ? -(int64_t)magnitude : (int64_t)magnitude;
    int rc = ot_op_push_int(op, value, limits);
    return rc ? fail(p, start, rc) : OT_OK;
}

static int hex4(const char *s, uint32_t *out) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char c = s[i];
        uint32_t d;
        if (c >= '0' && c <= '9')
            d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            d = (uint32_t)(c - 'A' + 10);
        else
            return -1;
        v = v << 4 | d;
    }
    *out = v;
    return 0;
}

/* Reads \uXXXX at p->pos (pointing at the backslash). */
static int read_u_escape(parser *p, uint32_t *out) {
    if (p->len_bytes - p->pos < 6 || p->json[p->pos + 1] != 'u' ||
        hex4(p->json + p->pos + 2, out) != 0)
        return OT_ERR_JSON_SYNTAX;
    return OT_OK;
}

/* A JSON string, decoded straight into the op's text tail, then committed as
 * an insert. Decoded text is never longer than its JSON spelling. */
static int parse_string(parser *p, ot_op *op, const ot_limits *limits) {
    size_t start = p->pos;
    p->pos++; /* opening quote */
    /* +4: never a zero-byte reservation (op->text may still be NULL). */
    int rc = ot_op_reserve_text(op, p->len_bytes - p->pos + 4);
    if (rc)
        return fail(p, start, rc);
    char *out = op->text + op->text_len_bytes;
    size_t out_len = 0;
    uint64_t cps = 0;
    const unsigned char *s = (const unsigned char *)p->json;
    for (;;) {
        if (p->pos >= p->len_bytes)
            return fail(p, p->pos, OT_ERR_JSON_SYNTAX); /* unterminated */
        unsigned char c = s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20)
            return fail(p, p->pos, c == 0 ? OT_ERR_BAD_UTF8 : OT_ERR_JSON_SYNTAX);
        if (c == '\\') {
            if (p->pos + 1 >= p->len_bytes)
                return fail(p, p->pos, OT_ERR_JSON_SYNTAX);
            char e = p->json[p->pos + 1];
            char simple = 0;
            switch (e) {
            case '"': simple = '"'; break;
            case '\\': simple = '\\'; break;
            case '/': simple = '/'; break;
            case 'b': simple = '\b'; break;
            case 'f': simple = '\f'; break;
            case 'n': simple = '\n'; break;
            case 'r': simple = '\r'; break;
            case 't': simple = '\t'; break;
            case 'u': break;
            default: return fail(p, p->pos, OT_ERR_JSON_SYNTAX);
            }
            if (simple) {
                out[out_len++] = simple;
                cps++;
                p->pos += 2;
                continue;
            }
            size_t esc = p->pos;
            uint32_t cp;
            if (read_u_escape(p, &cp))
                return fail(p, esc, OT_ERR_JSON_SYNTAX);
            p->pos += 6;
            if (cp >= 0xDC00 && cp <= 0xDFFF)
                return fail(p, esc, OT_ERR_LONE_SURROGATE);
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                uint32_t lo;
                if (p->pos >= p->len_bytes || p->json[p->pos] != '\\' ||
                    p->pos + 1 >= p->len_bytes || p->json[p->pos + 1] != 'u')
                    return fail(p, esc, OT_ERR_LONE_SURROGATE);
                if (read_u_escape(p, &lo))
                    return fail(p, p->pos, OT_ERR_JSON_SYNTAX);
                if (lo < 0xDC00 || lo > 0xDFFF)
                    return fail(p, esc, OT_ERR_LONE_SURROGATE);
                p->pos += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            if (cp == 0)
                return fail(p, esc, OT_ERR_BAD_UTF8);
            out_len += ot_utf8_encode(cp, out + out_len);
            cps++;
            continue;
        }
        if (c < 0x80) {
            out[out_len++] = (char)c;
            cps++;
            p->pos++;
            continue;
        }
        size_t n = ot_utf8_seq_len(s + p->pos, p->len_bytes - p->pos);
        if (n == 0)
            return fail(p, p->pos, OT_ERR_BAD_UTF8);
        memcpy(out + out_len, s + p->pos, n);
        out_len += n;
        cps++;
        p->pos += n;
    }
    rc = ot_op_check_insert(op, out_len, cps, limits);
    if (rc == OT_OK)
        rc = ot_op_commit_insert(op, out_len, cps);
    return rc ? fail(p, start, rc) : OT_OK;
}

int ot_op_parse_json(ot_op *out, const char *json, size_t len_bytes,
                     const ot_limits *limits, size_t *err_offset_bytes) {
    ot_limits storage;
    if (!limits) {
        storage = ot_limits_default();
        limits = &storage;
    }
    ot_op_clear(out);
    parser p = { .json = json, .len_bytes = len_bytes, .pos = 0, .err_offset_bytes = 0 };
    int rc = OT_OK;
    uint64_t elements = 0;
    if (len_bytes > limits->max_op_bytes) {
        rc = fail(&p, limits->max_op_bytes, OT_ERR_TOO_LARGE);
        goto done;
    }
    skip_ws(&p);
    if (p.pos >= len_bytes) {
        rc = fail(&p, p.pos, OT_ERR_JSON_SYNTAX);
        goto done;
    }
    char c = json[p.pos];
    if (c != '[') {
        bool value_start = c == '{' || c == '"' || c == '-' || is_digit(c) || c == 't' ||
                           c == 'f' || c == 'n';
        rc = fail(&p, p.pos, value_start ? OT_ERR_NOT_ARRAY : OT_ERR_JSON_SYNTAX);
        goto done;
    }
    p.pos++;
    skip_ws(&p);
    if (p.pos < len_bytes && json[p.pos] == ']') {
        p.pos++;
    } else {
        for (;;) {
            skip_ws(&p);
            if (p.pos >= len_bytes) {
                rc = fail(&p, p.pos, OT_ERR_JSON_SYNTAX);
                goto done;
            }
            if (++elements > limits->max_op_components) {
                rc = fail(&p, p.pos, OT_ERR_TOO_MANY_COMPONENTS);
                goto done;
            }
            c = json[p.pos];
            if (c == '"')
                rc = parse_string(&p, out, limits);
            else if (c == '-' || is_digit(c))
                rc = parse_number(&p, out, limits);
            else if (c == '{' || c == '[' || c == 't' || c == 'f' || c == 'n')
                rc = fail(&p, p.pos, OT_ERR_BAD_COMPONENT);
            else
                rc = fail(&p, p.pos, OT_ERR_JSON_SYNTAX);
            if (rc)
                goto done;
            skip_ws(&p);
            if (p.pos >= len_bytes) {
                rc = fail(&p, p.pos, OT_ERR_JSON_SYNTAX);
                goto done;
            }
            if (json[p.pos] == ',') {
                p.pos++;
                continue;
            }
            if (json[p.pos] == ']') {
                p.pos++;
                break;
            }
            rc = fail(&p, p.pos, OT_ERR_JSON_SYNTAX);
            goto done;
        }
    }
    skip_ws(&p);
    if (p.pos != len_bytes)
        rc = fail(&p, p.pos, OT_ERR_JSON_SYNTAX); /* trailing garbage */
done:
    if (rc) {
        ot_op_clear(out);
        if (err_offset_bytes)
            *err_offset_bytes = p.err_offset_bytes;
    }
    return rc;
}

/* ---- serialization ------------------------------------------------------------ */

static int append_u64(ot_buf *out, bool negative, uint64_t v) {
    char tmp[24];
    size_t i = sizeof tmp;
    do {
        tmp[--i] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if (negative)
        tmp[--i] = '-';
    return ot_buf_append(out, tmp + i, sizeof tmp - i);
}

static int append_json_string(ot_buf *out, const char *s, size_t len_bytes) {
    /* Worst case every byte becomes \u00XX. */
    if (len_bytes > (SIZE_MAX - 2) / 6)
        return OT_ERR_NOMEM;
    int rc = ot_buf_reserve(out, len_bytes * 6 + 2);
    if (rc)
        return rc;
    static const char hex[] = "0123456789abcdef";
    char *w = out->data + out->len;
    *w++ = '"';
    for (size_t i = 0; i < len_bytes; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            *w++ = '\\';
            *w++ = (char)c;
        } else if (c >= 0x20) {
            *w++ = (char)c;
        } else {
            *w++ = '\\';
            switch (c) {
            case '\b': *w++ = 'b'; break;
            case '\f': *w++ = 'f'; break;
            case '\n': *w++ = 'n'; break;
            case '\r': *w++ = 'r'; break;
            case '\t': *w++ = 't'; break;
            default:
                *w++ = 'u';
                *w++ = '0';
                *w++ = '0';
                *w++ = hex[c >> 4];
                *w++ = hex[c & 15];
            }
        }
    }
    *w++ = '"';
    out->len = (size_t)(w - out->data);
    out->data[out->len] = '\0';
    return OT_OK;
}

int ot_op_to_json(const ot_op *op, ot_buf *out) {
    size_t rollback = out->len;
    int rc = ot_buf_append(out, "[", 1);
    for (uint32_t i = 0; rc == OT_OK && i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        if (i)
            rc = ot_buf_append(out, ",", 1);
        if (rc)
            break;
        if (c->kind == OT_INSERT)
            rc = append_json_string(out, ot_op_insert_text(op, c), c->text_len_bytes);
        else
            rc = append_u64(out, c->kind == OT_DELETE, c->count_codepoints);
    }
    if (rc == OT_OK)
        rc = ot_buf_append(out, "]", 1);
    if (rc) {
        out->len = rollback;
        if (out->data)
            out->data[rollback] = '\0';
    }
    return rc;
}
