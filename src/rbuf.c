#include "rbuf.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

rbuf *rbuf_new(size_t cap) {
    if (cap > RBUF_MAX_BYTES) return NULL;
    rbuf *b = malloc(sizeof *b + cap);
    if (b == NULL) return NULL;
    atomic_init(&b->refs, 1);
    b->len = 0;
    b->cap = (uint32_t)cap;
    b->reserved = 0;
    return b;
}

rbuf *rbuf_from(const void *bytes, size_t len) {
    rbuf *b = rbuf_new(len);
    if (b == NULL) return NULL;
    if (len > 0) memcpy(b->data, bytes, len);
    b->len = (uint32_t)len;
    return b;
}

void rbuf_ref(rbuf *b) { atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed); }

void rbuf_unref(rbuf *b) {
    if (b == NULL) return;
    uint32_t before = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before == 1) free(b);
}
