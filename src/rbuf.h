/*
 * A reference-counted byte buffer for outgoing frames. A broadcast frame is
 * encoded once into one rbuf and every receiver's send queue holds a
 * reference to the same bytes; the count is atomic because holders may live
 * on different workers. The bytes are immutable once the first reference is
 * shared.
 */
#ifndef RINGPAD_RBUF_H
#define RINGPAD_RBUF_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct rbuf {
    _Atomic uint32_t refs;
    uint32_t len;            /* bytes used */
    uint32_t cap;            /* bytes allocated in data */
    uint32_t reserved;
    uint8_t data[];
} rbuf;

#define RBUF_MAX_BYTES (UINT32_MAX - 64u)

/* A buffer with room for `cap` bytes, len 0, refs 1; NULL when cap is too
 * large or memory is short. */
rbuf *rbuf_new(size_t cap);

/* A buffer holding a copy of `len` bytes. */
rbuf *rbuf_from(const void *bytes, size_t len);

void rbuf_ref(rbuf *b);
/* Frees on the last reference (NULL is ignored). */
void rbuf_unref(rbuf *b);

#endif /* RINGPAD_RBUF_H */
