/*
 * ringpad.v1: decoding client messages (see protocol.h, docs/PROTOCOL.md).
 *
 * Peer input never trips an assert here: every fault becomes a stable code and
 * a message naming the field, because a client author reads these messages
 * while debugging their client.
 */
#include "proto/protocol.h"

#include "proto/docname.h"
#include "proto/json_check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

const char *proto_err_code_str(int err) {
    switch (err) {
    case PROTO_OK: return "ok";
    case PROTO_ERR_BAD_JSON: return "bad_json";
    case PROTO_ERR_BAD_MESSAGE: return "bad_message";
    case PROTO_ERR_UNKNOWN_TYPE: return "unknown_type";
    case PROTO_ERR_UNAUTHORIZED: return "unauthorized";
    case PROTO_ERR_FORBIDDEN: return "forbidden";
    case PROTO_ERR_BAD_DOC_NAME: return "bad_doc_name";
    case PROTO_ERR_BAD_OP: return "bad_op";
    case PROTO_ERR_VERSION_TOO_OLD: return "version_too_old";
    case PROTO_ERR_VERSION_AHEAD: return "version_ahead";
    case PROTO_ERR_DOC_TOO_LARGE: return "doc_too_large";
    case PROTO_ERR_OP_TOO_LARGE: return "op_too_large";
    case PROTO_ERR_TOO_MANY_DOCS: return "too_many_docs";
    case PROTO_ERR_RATE_LIMITED: return "rate_limited";
    case PROTO_ERR_NOT_OPEN: return "not_open";
    case PROTO_ERR_STORAGE_UNAVAILABLE: return "storage_unavailable";
    case PROTO_ERR_BAD_SELECTION: return "bad_selection";
    case PROTO_ERR_NO_MEMORY: return "no_memory";
    default: return "internal";
    }
}

int proto_err_from_code_str(const char *code, size_t len) {
    for (int err = PROTO_ERR_BAD_JSON; err >= PROTO_ERR_NO_MEMORY; err--) {
        const char *s = proto_err_code_str(err);
        if (code != NULL && strlen(s) == len && memcmp(s, code, len) == 0) return err;
    }
    return PROTO_OK;
}

proto_err proto_err_from_ot_submit(int ot_err) {
    switch (ot_err) {
    case OT_OK: return PROTO_OK;
    case OT_ERR_VERSION_TOO_OLD: return PROTO_ERR_VERSION_TOO_OLD;
    case OT_ERR_VERSION_AHEAD: return PROTO_ERR_VERSION_AHEAD;
    case OT_ERR_TOO_LARGE: return PROTO_ERR_DOC_TOO_LARGE;
    case OT_ERR_TOO_MANY_COMPONENTS: return PROTO_ERR_OP_TOO_LARGE;
    case OT_ERR_NOMEM: return PROTO_ERR_NO_MEMORY;
    default: return PROTO_ERR_BAD_OP;
    }
}

proto_limits proto_limits_default(void) {
    proto_limits l;
    l.ot = ot_limits_default();
    l.max_message_bytes = (size_t)l.ot.max_op_bytes + 64 * 1024;
    l.max_depth = 8;
    l.max_doc_name_bytes = PROTO_MAX_DOC_NAME_BYTES;
    l.max_sel_ranges = PROTO_MAX_SEL_RANGES;
    return l;
}

void proto_msg_init(proto_msg *msg) {
    memset(msg, 0, sizeof *msg);
    ot_op_init(&msg->op);
}

void proto_msg_free(proto_msg *msg) {
    ot_op_free(&msg->op);
}

static void msg_reset(proto_msg *msg) {
    msg->type = 0;
    msg->doc[0] = '\0';
    msg->doc_len = 0;
    msg->has_v = false;
    msg->v = 0;
    msg->id[0] = '\0';
    msg->id_len = 0;
    ot_op_clear(&msg->op);
    msg->has_token = false;
    msg->token[0] = '\0';
    msg->token_len = 0;
    msg->has_name = false;
    msg->name[0] = '\0';
    msg->name_len = 0;
    msg->has_color = false;
    msg->color[0] = '\0';
    msg->count_sel = 0;
    msg->err_message[0] = '\0';
    msg->has_err_ref = false;
    msg->err_ref[0] = '\0';
    msg->err_ref_len = 0;
}

/* Records the error message; bytes outside printable ASCII (they may come from
 * the peer's input, e.g. in jansson's messages) become '?', so the message can
 * always be sent back in an error frame. */
__attribute__((format(printf, 3, 4)))
static int fail(proto_msg *msg, int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg->err_message, sizeof msg->err_message, fmt, ap);
    va_end(ap);
    for (char *p = msg->err_message; *p != '\0'; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e) *p = '?';
    return code;
}

/* ---- validation --------------------------------------------------------------- */

/* One rule for names everywhere: the store maps exactly these names to files. */
bool proto_doc_name_valid(const char *name, size_t len_bytes, size_t max_bytes) {
    return len_bytes <= max_bytes && docname_validate(name, len_bytes) == DOCNAME_OK;
}

/* Nesting depth outside strings, before jansson spends memory on deep input. */
static bool depth_ok(const char *json, size_t len, uint32_t max_depth) {
    uint32_t depth = 0;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < len; i++) {
        char c = json[i];
        if (in_string) {
            if (escaped) escaped = false;
            else if (c == '\\') escaped = true;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > max_depth) return false;
        } else if ((c == ']' || c == '}') && depth > 0) {
            depth--;
        }
    }
    return true;
}

static bool hex_digit(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* ---- fields --------------------------------------------------------------------- */

typedef enum field_need { FIELD_OPTIONAL = 0, FIELD_REQUIRED = 1 } field_need;

/* The string field `key`: *s and *len (lengths count: JSON_ALLOW_NUL), *s
 * NULL when an optional field is absent; 0 or a proto_err. */
static int field_str(proto_msg *msg, json_t *obj, const char *key, field_need need, const char **s, size_t *len) {
    json_t *v = json_object_get(obj, key);
    *s = NULL;
    *len = 0;
    if (v == NULL) {
        if (need == FIELD_REQUIRED)
            return fail(msg, PROTO_ERR_BAD_MESSAGE, "missing field \"%s\"", key);
        return PROTO_OK;
    }
    if (!json_is_string(v))
        return fail(msg, PROTO_ERR_BAD_MESSAGE, "field \"%s\" must be a string", key);
    *s = json_string_value(v);
    *len = json_string_length(v);
    return PROTO_OK;
}

/* A string field copied into out (cap includes the NUL). *present tells
 * whether it was there; 0 or a proto_err. */
static int field_string(proto_msg *msg, json_t *obj, const char *key, field_need need,
                        size_t max_bytes, char *out, size_t *out_len, bool *present) {
    if (present != NULL) *present = false;
    const char *s;
    size_t len;
    int rc = field_str(msg, obj, key, need, &s, &len);
    if (rc != PROTO_OK || s == NULL) return rc;
    if (len == 0 || len > max_bytes)
        return fail(msg, PROTO_ERR_BAD_MESSAGE, "field \"%s\" must be 1..%zu bytes", key, max_bytes);
    memcpy(out, s, len);
    out[len] = '\0';
    *out_len = len;
    if (present != NULL) *present = true;
    return PROTO_OK;
}

/* An exact integer 0..2^53-1. */
static int field_uint(proto_msg *msg, json_t *obj, const char *key, field_need need,
                      uint64_t *out, bool *present) {
    json_t *v = json_object_get(obj, key);
    if (present != NULL) *present = false;
    if (v == NULL) {
        if (need == FIELD_REQUIRED)
            return fail(msg, PROTO_ERR_BAD_MESSAGE, "missing field \"%s\"", key);
        return PROTO_OK;
    }
    json_int_t x = json_is_integer(v) ? json_integer_value(v) : -1;
    if (x < 0 || (uint64_t)x > PROTO_MAX_SAFE_INTEGER)
        return fail(msg, PROTO_ERR_BAD_MESSAGE,
                    "field \"%s\" must be an integer in 0..9007199254740991", key);
    *out = (uint64_t)x;
    if (present != NULL) *present = true;
    return PROTO_OK;
}

static int field_doc(const proto_limits *limits, proto_msg *msg, json_t *obj) {
    const char *s;
    size_t len;
    int rc = field_str(msg, obj, "doc", FIELD_REQUIRED, &s, &len);
    if (rc != PROTO_OK) return rc;
    size_t max = limits->max_doc_name_bytes;
    if (!proto_doc_name_valid(s, len, max))
        return fail(msg, PROTO_ERR_BAD_DOC_NAME,
                    "document names are 1..%zu bytes of A-Z a-z 0-9 . _ - /, without a leading or "
                    "trailing /, //, or a . or .. segment",
                    max < PROTO_MAX_DOC_NAME_BYTES ? max : (size_t)PROTO_MAX_DOC_NAME_BYTES);
    memcpy(msg->doc, s, len);
    msg->doc[len] = '\0';
    msg->doc_len = len;
    return PROTO_OK;
}

static int field_id(proto_msg *msg, json_t *obj) {
    const char *s;
    size_t len;
    int rc = field_str(msg, obj, "id", FIELD_REQUIRED, &s, &len);
    if (rc != PROTO_OK) return rc;
    bool ok = len >= 1 && len <= PROTO_MAX_ID_BYTES;
    for (size_t i = 0; ok && i < len; i++) ok = s[i] >= 0x20 && s[i] <= 0x7e;
    if (!ok)
        return fail(msg, PROTO_ERR_BAD_MESSAGE,
                    "field \"id\" must be 1..%d bytes of printable ASCII", PROTO_MAX_ID_BYTES);
    memcpy(msg->id, s, len);
    msg->id[len] = '\0';
    msg->id_len = len;
    /* From here on, errors about this message name the op. */
    memcpy(msg->err_ref, s, len + 1);
    msg->err_ref_len = len;
    msg->has_err_ref = true;
    return PROTO_OK;
}

static int field_op(const proto_limits *limits, proto_msg *msg, json_t *obj) {
    json_t *arr = json_object_get(obj, "op");
    if (arr == NULL) return fail(msg, PROTO_ERR_BAD_MESSAGE, "missing field \"op\"");
    if (!json_is_array(arr))
        return fail(msg, PROTO_ERR_BAD_OP, "field \"op\": %s", ot_err_str(OT_ERR_NOT_ARRAY));
    size_t n = json_array_size(arr);
    if (n > limits->ot.max_op_components)
        return fail(msg, PROTO_ERR_OP_TOO_LARGE, "op has %zu components, the limit is %u", n,
                    limits->ot.max_op_components);
    size_t i;
    json_t *c;
    json_array_foreach(arr, i, c) {
        int rc;
        if (json_is_integer(c)) {
            json_int_t x = json_integer_value(c);
            bool exact = x >= -(json_int_t)PROTO_MAX_SAFE_INTEGER && x <= (json_int_t)PROTO_MAX_SAFE_INTEGER;
            rc = exact ? ot_op_push_int(&msg->op, (int64_t)x, &limits->ot) : OT_ERR_COUNT_RANGE;
        } else if (json_is_string(c)) {
            rc = ot_op_push_string(&msg->op, json_string_value(c), json_string_length(c), &limits->ot);
        } else if (json_is_real(c)) {
            rc = OT_ERR_COUNT_RANGE;
        } else {
            rc = OT_ERR_BAD_COMPONENT;
        }
        if (rc == OT_OK) continue;
        if (rc == OT_ERR_NOMEM) return fail(msg, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE);
        int code = rc == OT_ERR_TOO_LARGE || rc == OT_ERR_TOO_MANY_COMPONENTS
            ? PROTO_ERR_OP_TOO_LARGE : PROTO_ERR_BAD_OP;
        return fail(msg, code, "op[%zu]: %s", i, ot_err_str(rc));
    }
    return PROTO_OK;
}

static int field_sel(const proto_limits *limits, proto_msg *msg, json_t *obj) {
    json_t *arr = json_object_get(obj, "sel");
    if (arr == NULL) return fail(msg, PROTO_ERR_BAD_MESSAGE, "missing field \"sel\"");
    if (!json_is_array(arr))
        return fail(msg, PROTO_ERR_BAD_MESSAGE, "field \"sel\" must be an array of [anchor, head]");
    size_t max = limits->max_sel_ranges < PROTO_MAX_SEL_RANGES ? limits->max_sel_ranges
                                                                : PROTO_MAX_SEL_RANGES;
    if (json_array_size(arr) > max)
        return fail(msg, PROTO_ERR_BAD_MESSAGE, "field \"sel\" has more than %zu ranges", max);
    size_t i;
    json_t *r;
    json_array_foreach(arr, i, r) {
        json_t *a = json_array_get(r, 0), *h = json_array_get(r, 1);
        json_int_t av = json_is_integer(a) ? json_integer_value(a) : -1;
        json_int_t hv = json_is_integer(h) ? json_integer_value(h) : -1;
        if (!json_is_array(r) || json_array_size(r) != 2 || av < 0 || hv < 0 ||
            (uint64_t)av > PROTO_MAX_SAFE_INTEGER || (uint64_t)hv > PROTO_MAX_SAFE_INTEGER)
            return fail(msg, PROTO_ERR_BAD_MESSAGE,
                        "field \"sel[%zu]\" must be [anchor, head], integers in 0..9007199254740991",
                        i);
        msg->sel[i].anchor = (uint64_t)av;
        msg->sel[i].head = (uint64_t)hv;
        msg->count_sel = (uint32_t)(i + 1);
    }
    return PROTO_OK;
}

static int decode_hello(proto_msg *msg, json_t *obj) {
    int rc = field_string(msg, obj, "token", FIELD_OPTIONAL, PROTO_MAX_TOKEN_BYTES, msg->token,
                          &msg->token_len, &msg->has_token);
    if (rc != PROTO_OK) return rc;
    rc = field_string(msg, obj, "name", FIELD_OPTIONAL, PROTO_MAX_NAME_BYTES, msg->name,
                      &msg->name_len, &msg->has_name);
    if (rc != PROTO_OK) return rc;
    for (size_t i = 0; i < msg->name_len; i++) {
        unsigned char c = (unsigned char)msg->name[i];
        if (c < 0x20 || c == 0x7f)
            return fail(msg, PROTO_ERR_BAD_MESSAGE, "field \"name\" must not contain control characters");
    }
    size_t color_len = 0;
    rc = field_string(msg, obj, "color", FIELD_OPTIONAL, PROTO_MAX_COLOR_BYTES, msg->color,
                      &color_len, &msg->has_color);
    if (rc != PROTO_OK) return rc;
    if (msg->has_color) {
        bool ok = (color_len == 4 || color_len == 7) && msg->color[0] == '#';
        for (size_t i = 1; ok && i < color_len; i++) ok = hex_digit(msg->color[i]);
        if (!ok) return fail(msg, PROTO_ERR_BAD_MESSAGE, "field \"color\" must be \"#rgb\" or \"#rrggbb\"");
    }
    return PROTO_OK;
}

static int decode_object(const proto_limits *limits, proto_msg *msg, json_t *obj) {
    const char *t;
    size_t t_len;
    int rc = field_str(msg, obj, "type", FIELD_REQUIRED, &t, &t_len);
    if (rc != PROTO_OK) return rc;
    /* Lengths compared too: with JSON_ALLOW_NUL, "op\u0000x" must not read as "op". */
#define TYPE_IS(lit) (t_len == sizeof(lit) - 1 && memcmp(t, lit, t_len) == 0)
    if (TYPE_IS("op")) {
        msg->type = PROTO_OP;
        if ((rc = field_id(msg, obj)) != PROTO_OK) return rc;
        if ((rc = field_doc(limits, msg, obj)) != PROTO_OK) return rc;
        if ((rc = field_uint(msg, obj, "v", FIELD_REQUIRED, &msg->v, &msg->has_v)) != PROTO_OK) return rc;
        return field_op(limits, msg, obj);
    }
    if (TYPE_IS("presence")) {
        msg->type = PROTO_PRESENCE;
        if ((rc = field_doc(limits, msg, obj)) != PROTO_OK) return rc;
        if ((rc = field_uint(msg, obj, "v", FIELD_REQUIRED, &msg->v, &msg->has_v)) != PROTO_OK) return rc;
        return field_sel(limits, msg, obj);
    }
    if (TYPE_IS("open")) {
        msg->type = PROTO_OPEN;
        if ((rc = field_doc(limits, msg, obj)) != PROTO_OK) return rc;
        return field_uint(msg, obj, "v", FIELD_OPTIONAL, &msg->v, &msg->has_v);
    }
    if (TYPE_IS("close")) {
        msg->type = PROTO_CLOSE;
        return field_doc(limits, msg, obj);
    }
    if (TYPE_IS("hello")) {
        msg->type = PROTO_HELLO;
        return decode_hello(msg, obj);
    }
    if (TYPE_IS("ping")) {
        msg->type = PROTO_PING;
        return PROTO_OK;
    }
#undef TYPE_IS
    return fail(msg, PROTO_ERR_UNKNOWN_TYPE, "unknown message type \"%.40s\"", t);
}

bool proto_json_failed_for_memory(const struct json_error_t *err, const char *json, size_t len_bytes, unsigned max_depth) {
    switch (json_error_code(err)) {
    case json_error_out_of_memory: return true;
    /* the peer's fault whatever else failed */
    case json_error_duplicate_key:
    case json_error_numeric_overflow:
    case json_error_invalid_utf8:
    case json_error_null_character:
    case json_error_null_byte_in_key: return false;
    /* jansson reports a failed allocation as "invalid token" or "string or
     * '}' expected" at the byte it was reading, or with no text at all: a
     * message that is valid JSON failed for memory */
    default: break;
    }
    /* jansson (without JSON_DECODE_ANY) takes only an array or an object */
    size_t i = 0;
    while (i < len_bytes && (json[i] == ' ' || json[i] == '\t' || json[i] == '\n' || json[i] == '\r')) i++;
    if (i == len_bytes || (json[i] != '{' && json[i] != '[')) return false;
    return json_syntax_ok(json, len_bytes, max_depth);
}

/* The checks every message passes before its fields are read; *root is the
 * parsed object on PROTO_OK. */
static int load_object(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg,
                       size_t flags, const char *not_object, json_t **root) {
    if (len_bytes > limits->max_message_bytes)
        return fail(msg, PROTO_ERR_OP_TOO_LARGE, "message of %zu bytes is over the %zu byte limit",
                    len_bytes, limits->max_message_bytes);
    if (!depth_ok(json, len_bytes, limits->max_depth))
        return fail(msg, PROTO_ERR_BAD_JSON, "JSON nested deeper than %u levels", limits->max_depth);
    json_error_t jerr;
    *root = json_loadb(json, len_bytes, JSON_REJECT_DUPLICATES | flags, &jerr);
    if (*root == NULL && proto_json_failed_for_memory(&jerr, json, len_bytes, limits->max_depth))
        return fail(msg, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE);
    if (*root == NULL)
        return fail(msg, PROTO_ERR_BAD_JSON, "not JSON: %s at byte %d", jerr.text, jerr.position);
    if (!json_is_object(*root)) {
        json_decref(*root);
        *root = NULL;
        return fail(msg, PROTO_ERR_BAD_JSON, "%s", not_object);
    }
    return PROTO_OK;
}

int proto_decode(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg) {
    msg_reset(msg);
    proto_limits defaults;
    if (limits == NULL) {
        defaults = proto_limits_default();
        limits = &defaults;
    }
    if (len_bytes <= limits->max_message_bytes && limits->max_depth >= 2) {
        if (proto_decode_op_fast(limits, json, len_bytes, msg)) return PROTO_OK;
        msg_reset(msg);
    }
    return proto_decode_tree(limits, json, len_bytes, msg);
}

int proto_decode_tree(const proto_limits *limits, const char *json, size_t len_bytes, proto_msg *msg) {
    msg_reset(msg);
    json_t *root = NULL;
    int rc = load_object(limits, json, len_bytes, msg, JSON_ALLOW_NUL, "a message must be a JSON object", &root);
    if (rc != PROTO_OK) return rc;
    rc = decode_object(limits, msg, root);
    json_decref(root);
    return rc;
}

int proto_decode_op_body(const proto_limits *limits, const char *json, size_t len_bytes, const char *doc,
                         size_t doc_len, proto_msg *msg) {
    msg_reset(msg);
    if (doc_len > PROTO_MAX_DOC_NAME_BYTES)
        return fail(msg, PROTO_ERR_BAD_DOC_NAME, "document names are at most %d bytes", PROTO_MAX_DOC_NAME_BYTES);
    json_t *root = NULL;
    /* a body with NUL in a string was always bad_json on REST */
    int rc = load_object(limits, json, len_bytes, msg, 0, "the body must be a JSON object {v, id, op}", &root);
    if (rc != PROTO_OK) return rc;
    msg->type = PROTO_OP;
    memcpy(msg->doc, doc, doc_len);
    msg->doc[doc_len] = '\0';
    msg->doc_len = doc_len;
    rc = field_id(msg, root);
    if (rc == PROTO_OK) rc = field_uint(msg, root, "v", FIELD_REQUIRED, &msg->v, &msg->has_v);
    if (rc == PROTO_OK) rc = field_op(limits, msg, root);
    json_decref(root);
    return rc;
}
