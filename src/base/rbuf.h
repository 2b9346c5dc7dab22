/*
 * A reference-counted byte buffer for outgoing frames. A broadcast frame is
 * encoded once into one rbuf and every receiver's send queue holds a
 * reference to the same bytes; the count is atomic because holders may live
 * on different workers. The bytes are immutable once the first reference is
 * shared.
 *
 * Hot paths take rbufs from a per-worker rbuf_pool instead of malloc: the
 * owner worker takes blocks, and the last reference (on any thread) gives the
 * block back through a lock-free return stack, so a warmed-up worker does not
 * allocate per message.
 */
#ifndef RINGPAD_RBUF_H
#define RINGPAD_RBUF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rbuf_pool;

typedef struct rbuf {
    _Atomic uint32_t refs;
    uint32_t len;            /* bytes used */
    uint32_t cap;            /* bytes allocated in data */
    uint32_t reserved;
    struct rbuf_pool *pool;  /* where the block goes back, NULL: free() */
    uint8_t data[];
} rbuf;

#define RBUF_MAX_BYTES (UINT32_MAX - 64u)

/* A buffer with room for `cap` bytes, len 0, refs 1; NULL when cap is too
 * large or memory is short. */
rbuf *rbuf_new(size_t cap);

/* A buffer holding a copy of `len` bytes. */
rbuf *rbuf_from(const void *bytes, size_t len);

void rbuf_ref(rbuf *b);
/* Frees (or returns to its pool) on the last reference (NULL is ignored). */
void rbuf_unref(rbuf *b);

/* ---- pool ------------------------------------------------------------------ */

typedef struct rbuf_pool {
    /* owner thread only */
    rbuf *free_list;                 /* linked through the first 8 data bytes */
    uint32_t free_count;
    uint32_t keep_free_max;          /* blocks cached; beyond, returned blocks are freed */
    uint32_t block_cap_bytes;        /* data bytes of every block */
    /* any thread */
    _Atomic(rbuf *) returned;        /* lock-free stack of blocks given back */
    _Atomic uint64_t refs;           /* 1 (the owner) + blocks out */
    bool lent;                       /* blocks live in the owner's memory (rbuf_pool_new_lent) */
    /* lent pools, owner thread only */
    bool lent_released;              /* the owner let go; freed with the last block back */
    uint32_t lent_out;               /* blocks wrapped and not yet back */
    rbuf *lent_returned;             /* blocks back since the last take, newest first */
} rbuf_pool;

/* A pool of blocks with `block_cap_bytes` (>= 8) of data each, keeping at
 * most `keep_free_max` free blocks. NULL on no memory. */
rbuf_pool *rbuf_pool_new(uint32_t block_cap_bytes, uint32_t keep_free_max);

/* Like rbuf_new(cap), from the pool when cap fits a block (owner thread
 * only); a larger cap falls back to rbuf_new. */
rbuf *rbuf_pool_get(rbuf_pool *p, size_t cap);

/* The owner lets go: cached blocks are freed now, the pool itself once the
 * last block out comes back (from whichever thread holds it). */
void rbuf_pool_release(rbuf_pool *p);

/* ---- blocks in the owner's memory ------------------------------------------ */

/* A pool over blocks the owner keeps in its own memory (receive buffers the
 * kernel writes into): the pool never allocates or frees one. A block whose
 * last reference drops waits on the returned chain until the owner takes it
 * back with rbuf_pool_take_returned. Lent blocks are referenced and dropped
 * on the owner's thread only (a worker lends its receive buffers to its own
 * connections' send queues), so their bookkeeping is plain, not atomic; the
 * block's own reference count stays atomic like every rbuf's. NULL on no
 * memory. */
rbuf_pool *rbuf_pool_new_lent(uint32_t block_cap_bytes);

/* Starts the block at `mem` (room for an rbuf and block_cap_bytes of data,
 * aligned like an rbuf): refs 1, len 0, counted out of the pool. Owner only. */
rbuf *rbuf_pool_wrap(rbuf_pool *p, void *mem);

/* Owner only: the blocks given back since the last call as a chain (walk it
 * with rbuf_returned_next before handing any block out again), or NULL. */
rbuf *rbuf_pool_take_returned(rbuf_pool *p);
rbuf *rbuf_returned_next(const rbuf *b);

#endif /* RINGPAD_RBUF_H */
