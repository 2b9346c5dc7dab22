#include "proto/protocol_rest.h"

#include "base/utf8.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* Tells a packed answer from a frame (whose first byte is 0x81, FIN + text). */
#define PROTO_REST_MAGIC 0x52455354u

typedef struct packed {
    uint32_t magic;
    proto_rest_answer a;
} packed;

/* Copies s to *at and points the copy's field there. */
static void put_str(uint8_t **at, proto_str *field) {
    if (field->ptr == NULL) return;
    memcpy(*at, field->ptr, field->len);
    field->ptr = (const char *)*at;
    *at += field->len;
}

rbuf *proto_rest_answer_pack(const proto_rest_answer *a) {
    const proto_str *strs[] = {&a->doc, &a->id, &a->code, &a->message, &a->text, &a->items};
    size_t total = sizeof(packed);
    for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) total += strs[i]->ptr != NULL ? strs[i]->len : 0;
    rbuf *b = rbuf_new(total);
    if (b == NULL) return NULL;
    packed p = {.magic = PROTO_REST_MAGIC, .a = *a};
    uint8_t *at = b->data + sizeof p;
    put_str(&at, &p.a.doc);
    put_str(&at, &p.a.id);
    put_str(&at, &p.a.code);
    put_str(&at, &p.a.message);
    put_str(&at, &p.a.text);
    put_str(&at, &p.a.items);
    memcpy(b->data, &p, sizeof p);
    b->len = (uint32_t)total;
    return b;
}

bool proto_rest_answer_is(const rbuf *b) {
    uint32_t magic;
    if (b == NULL || b->len < sizeof(packed)) return false;
    memcpy(&magic, b->data, sizeof magic);
    return magic == PROTO_REST_MAGIC;
}

int proto_rest_answer_unpack(const rbuf *b, proto_rest_answer *out) {
    if (!proto_rest_answer_is(b)) return -EINVAL;
    packed p;
    memcpy(&p, b->data, sizeof p);
    *out = p.a;
    return 0;
}

/* ---- REST bodies ------------------------------------------------------------- */

int proto_decode_restore_body(const char *body, size_t len_bytes, uint64_t *v, const char **why) {
    json_error_t jerr;
    json_t *root = json_loadb(body, len_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        *why = "the body is not a JSON object {\"v\": N}";
        return PROTO_ERR_BAD_JSON;
    }
    json_t *jv = json_object_get(root, "v");
    json_int_t n = json_is_integer(jv) ? json_integer_value(jv) : -1;
    json_decref(root);
    if (n < 0 || (uint64_t)n > PROTO_MAX_SAFE_INTEGER) {
        *why = "v must be the non-negative integer version to restore";
        return PROTO_ERR_BAD_MESSAGE;
    }
    *v = (uint64_t)n;
    return PROTO_OK;
}

/* The "text" string of a JSON body {"text": string}: *root holds it. */
static int text_of_json(const char *body, size_t len_bytes, json_t **root, const char **src, size_t *n,
                        const char **why) {
    json_error_t jerr;
    *root = json_loadb(body, len_bytes, JSON_REJECT_DUPLICATES, &jerr);
    if (*root == NULL || !json_is_object(*root)) {
        *why = "the body is not a JSON object; send {\"text\": \"...\"} or Content-Type: text/plain";
        return PROTO_ERR_BAD_JSON;
    }
    json_t *v = json_object_get(*root, "text");
    if (!json_is_string(v) || json_object_size(*root) != 1) {
        *why = "the JSON body must be exactly {\"text\": string}";
        return PROTO_ERR_BAD_MESSAGE;
    }
    *src = json_string_value(v);
    *n = json_string_length(v);
    return PROTO_OK;
}

int proto_decode_text_body(const char *body, size_t len_bytes, bool plain, size_t max_text_bytes, char **text,
                           size_t *text_len, const char **why) {
    const char *src = body;
    size_t n = len_bytes;
    json_t *root = NULL;
    int rc = PROTO_OK;
    if (!plain) {
        rc = text_of_json(body, len_bytes, &root, &src, &n, why);
    } else if (n > 0 && (!utf8_validate((const uint8_t *)src, n) || memchr(src, '\0', n) != NULL)) {
        *why = "the text/plain body is not valid UTF-8 (or holds a NUL byte)";
        rc = PROTO_ERR_BAD_MESSAGE;
    }
    if (rc == PROTO_OK && n > max_text_bytes) {
        *why = "the text is larger than the inserted text one op may carry (max_op_bytes)";
        rc = PROTO_ERR_OP_TOO_LARGE;
    }
    if (rc == PROTO_OK) {
        *text = malloc(n + 1);
        if (*text == NULL) {
            *why = PROTO_NO_MEMORY_MESSAGE;
            rc = PROTO_ERR_NO_MEMORY;
        } else {
            memcpy(*text, src != NULL ? src : "", n);
            (*text)[n] = '\0';
            *text_len = n;
        }
    }
    json_decref(root);
    return rc;
}
