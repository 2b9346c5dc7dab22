#include "base/rbuf.h"

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
    b->pool = NULL;
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

/* The next-pointer of a free block lives in its first data bytes. */
static rbuf *next_of(const rbuf *b) {
    rbuf *n;
    memcpy(&n, b->data, sizeof n);
    return n;
}

static void set_next(rbuf *b, rbuf *n) { memcpy(b->data, &n, sizeof n); }

static void free_chain(rbuf *b) {
    while (b != NULL) {
        rbuf *n = next_of(b);
        free(b);
        b = n;
    }
}

static void pool_unref(rbuf_pool *p) {
    if (atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    /* the owner has let go and every block is back: nobody else can touch p */
    if (!p->lent) {
        free_chain(atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire));
        free_chain(p->free_list);
    }
    free(p);
}

/* Lent blocks come back on the owner's thread: plain list and count, no atomics. */
static void lent_return(rbuf_pool *p, rbuf *b) {
    assert(p->lent_out > 0);
    set_next(b, p->lent_returned);
    p->lent_returned = b;
    p->lent_out--;
    if (p->lent_released && p->lent_out == 0) free(p);
}

static void pool_return(rbuf_pool *p, rbuf *b) {
    if (p->lent) {
        lent_return(p, b);
        return;
    }
    /* Treiber push; only the owner pops, and it takes the whole stack at once
     * (atomic exchange), so there is no ABA. */
    rbuf *head = atomic_load_explicit(&p->returned, memory_order_relaxed);
    do {
        set_next(b, head);
    } while (!atomic_compare_exchange_weak_explicit(&p->returned, &head, b, memory_order_release,
                                                    memory_order_relaxed));
    pool_unref(p);
}

void rbuf_unref(rbuf *b) {
    if (b == NULL) return;
    uint32_t before = atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel);
    assert(before > 0);
    if (before != 1) return;
    if (b->pool != NULL) pool_return(b->pool, b);
    else free(b);
}

rbuf_pool *rbuf_pool_new(uint32_t block_cap_bytes, uint32_t keep_free_max) {
    if (block_cap_bytes < sizeof(rbuf *) || block_cap_bytes > RBUF_MAX_BYTES) return NULL;
    rbuf_pool *p = calloc(1, sizeof *p);
    if (p == NULL) return NULL;
    p->block_cap_bytes = block_cap_bytes;
    p->keep_free_max = keep_free_max;
    atomic_init(&p->returned, NULL);
    atomic_init(&p->refs, 1);
    return p;
}

rbuf *rbuf_pool_get(rbuf_pool *p, size_t cap) {
    assert(p == NULL || !p->lent);
    if (p == NULL || cap > p->block_cap_bytes) return rbuf_new(cap);
    if (p->free_list == NULL && atomic_load_explicit(&p->returned, memory_order_relaxed) != NULL) {
        /* take back everything returned since; trim to the cache bound */
        rbuf *b = atomic_exchange_explicit(&p->returned, NULL, memory_order_acquire);
        while (b != NULL) {
            rbuf *n = next_of(b);
            if (p->free_count < p->keep_free_max) {
                set_next(b, p->free_list);
                p->free_list = b;
                p->free_count++;
            } else {
                free(b);
            }
            b = n;
        }
    }
    rbuf *b = p->free_list;
    if (b != NULL) {
        p->free_list = next_of(b);
        p->free_count--;
    } else {
        b = malloc(sizeof *b + p->block_cap_bytes);
        if (b == NULL) return NULL;
        b->pool = p;
    }
    atomic_init(&b->refs, 1);
    b->len = 0;
    b->cap = p->block_cap_bytes;
    b->reserved = 0;
    atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
    return b;
}

void rbuf_pool_release(rbuf_pool *p) {
    if (p == NULL) return;
    if (p->lent) {
        /* the owner lets go: the pool goes with the last lent block back */
        assert(!p->lent_released);
        p->lent_released = true;
        if (p->lent_out == 0) free(p);
        return;
    }
    free_chain(p->free_list);
    p->free_list = NULL;
    p->free_count = 0;
    pool_unref(p);
}

rbuf_pool *rbuf_pool_new_lent(uint32_t block_cap_bytes) {
    rbuf_pool *p = rbuf_pool_new(block_cap_bytes, 0);
    if (p != NULL) p->lent = true;
    return p;
}

rbuf *rbuf_pool_wrap(rbuf_pool *p, void *mem) {
    assert(p->lent && ((uintptr_t)mem % _Alignof(rbuf)) == 0);
    rbuf *b = mem;
    atomic_init(&b->refs, 1);
    b->len = 0;
    b->cap = p->block_cap_bytes;
    b->reserved = 0;
    b->pool = p;
    p->lent_out++;
    return b;
}

rbuf *rbuf_pool_take_returned(rbuf_pool *p) {
    assert(p->lent);
    rbuf *chain = p->lent_returned;
    p->lent_returned = NULL;
    return chain;
}

rbuf *rbuf_returned_next(const rbuf *b) { return next_of(b); }
