#include "proto/protocol_rest.h"

#include <errno.h>
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
