#include <criterion/criterion.h>

#include "base/bufpool.h"
#include "base/rbuf.h"
#include "io/sendq.h"

#include <errno.h>
#include <string.h>

Test(sendq, push_start_complete_releases_in_order) {
    sendq q;
    sendq_init(&q, 1 << 20);
    rbuf *a = rbuf_from("hello", 5), *b = rbuf_from("world!", 6);
    cr_assert_eq(sendq_push(&q, a, a->data + (0), 5), 0);
    cr_assert_eq(sendq_push(&q, b, b->data + (1), 5), 0);
    cr_assert_eq(atomic_load(&a->refs), 2);
    cr_assert_eq(q.bytes, 10);
    cr_assert_eq(q.charged_bytes, 10 + 2 * SENDQ_ENTRY_OVERHEAD_BYTES);
    struct iovec iov[4];
    uint64_t total = 0;
    cr_assert(sendq_has_pending(&q));
    cr_assert_eq(sendq_start(&q, iov, 4, &total), 2);
    cr_assert_eq(total, 10);
    cr_assert_eq(memcmp(iov[1].iov_base, "orld!", 5), 0);
    cr_assert(sendq_in_flight(&q));
    cr_assert_not(sendq_has_pending(&q));
    /* partial send: all of a, 2 bytes of b */
    sendq_complete(&q, 7);
    cr_assert_eq(atomic_load(&a->refs), 1, "a released");
    cr_assert_eq(q.bytes, 3);
    cr_assert_not(sendq_in_flight(&q));
    cr_assert_eq(sendq_start(&q, iov, 4, &total), 1);
    cr_assert_eq(total, 3);
    cr_assert_eq(memcmp(iov[0].iov_base, "ld!", 3), 0);
    sendq_complete(&q, 3);
    cr_assert_eq(q.bytes, 0);
    cr_assert_eq(q.charged_bytes, 0);
    cr_assert_null(q.ring, "idle queue keeps no memory");
    cr_assert_eq(atomic_load(&b->refs), 1);
    sendq_free(&q);
    rbuf_unref(a);
    rbuf_unref(b);
}

Test(sendq, byte_limit_counts_overhead) {
    sendq q;
    sendq_init(&q, 100);
    rbuf *b = rbuf_new(64);
    b->len = 64;
    cr_assert_eq(sendq_push(&q, b, b->data + (0), 60), 0);              /* 92 charged */
    cr_assert_eq(sendq_push(&q, b, b->data + (0), 0), -ENOBUFS);        /* +32 > 100 */
    cr_assert_eq(q.bytes, 60);
    sendq_free(&q);
    cr_assert_eq(atomic_load(&b->refs), 1);
    rbuf_unref(b);
}

/* One message larger than the whole limit (a big snapshot) goes out when the
 * queue is nearly empty; behind a backlog, or a second one, it does not. */
Test(sendq, lone_oversize_message) {
    sendq q;
    sendq_init(&q, 1000);
    rbuf *big = rbuf_new(5000);
    big->len = 5000;
    cr_assert_eq(sendq_push(&q, big, big->data, 100), 0);            /* a small welcome first */
    cr_assert_eq(sendq_push(&q, big, big->data, 5000), 0);           /* the oversized snapshot */
    cr_assert_eq(q.bytes, 5100);
    cr_assert_eq(sendq_push(&q, big, big->data, 5000), -ENOBUFS);    /* not a second one */
    cr_assert_eq(sendq_push(&q, big, big->data, 10), -ENOBUFS);      /* nor anything else past the limit */
    sendq_free(&q);

    sendq_init(&q, 100 * 1024);
    rbuf *huge = rbuf_new(200 * 1024);
    huge->len = 200 * 1024;
    for (int i = 0; i < 3; i++) cr_assert_eq(sendq_push(&q, huge, huge->data, 30000), 0);  /* 90 KB backlog */
    cr_assert_eq(sendq_push(&q, huge, huge->data, 200 * 1024), -ENOBUFS, "a backlog is a slow reader");
    sendq_free(&q);
    cr_assert_eq(atomic_load(&big->refs), 1);
    rbuf_unref(big);
    rbuf_unref(huge);
}

Test(sendq, growth_and_iov_cap) {
    sendq q;
    sendq_init(&q, 1 << 20);
    rbuf *b = rbuf_from("abcdefghij", 10);
    for (uint32_t i = 0; i < 100; i++) cr_assert_eq(sendq_push(&q, b, b->data + (i % 10), 1), 0);
    cr_assert_eq(atomic_load(&b->refs), 101);
    struct iovec iov[16];
    uint64_t total = 0;
    cr_assert_eq(sendq_start(&q, iov, 16, &total), 16);
    cr_assert_eq(total, 16);
    /* entries behind the in-flight ones may be dropped; in-flight stay */
    cr_assert_eq(sendq_drop_pending(&q), 84);
    cr_assert_eq(atomic_load(&b->refs), 17);
    sendq_complete(&q, 16);
    cr_assert_eq(atomic_load(&b->refs), 1);
    cr_assert_eq(q.count, 0);
    sendq_free(&q);
    rbuf_unref(b);
}

Test(sendq, static_bytes_and_force) {
    static const uint8_t page[] = "static page";
    sendq q;
    sendq_init(&q, 40);
    cr_assert_eq(sendq_push(&q, NULL, page, 5), 0);
    cr_assert_eq(sendq_push(&q, NULL, page, 5), -ENOBUFS);
    cr_assert_eq(sendq_push_force(&q, NULL, page + 5, 6), 0);
    struct iovec iov[4];
    uint64_t total = 0;
    cr_assert_eq(sendq_start(&q, iov, 4, &total), 2);
    cr_assert_eq(total, 11);
    cr_assert_null(sendq_inflight_owner(&q, 0));
    cr_assert_eq(iov[1].iov_base, (void *)(page + 5));
    sendq_complete(&q, 11);
    cr_assert_eq(q.charged_bytes, 0);
    sendq_free(&q);
}

Test(sendq, entry_cap) {
    sendq q;
    sendq_init(&q, UINT64_MAX / 2);
    rbuf *b = rbuf_from("x", 1);
    uint32_t i = 0;
    int rc = 0;
    while ((rc = sendq_push(&q, b, b->data + (0), 1)) == 0 && i < SENDQ_MAX_ENTRIES + 10) i++;
    cr_assert_eq(rc, -ENOBUFS);
    cr_assert_eq(i, SENDQ_MAX_ENTRIES);
    sendq_free(&q);
    cr_assert_eq(atomic_load(&b->refs), 1);
    rbuf_unref(b);
}

Test(rbuf, refcount_and_bounds) {
    rbuf *b = rbuf_from("abc", 3);
    cr_assert_eq(b->len, 3);
    cr_assert_eq(b->cap, 3);
    rbuf_ref(b);
    cr_assert_eq(atomic_load(&b->refs), 2);
    rbuf_unref(b);
    rbuf_unref(b);
    rbuf_unref(NULL);
    cr_assert_null(rbuf_new((size_t)RBUF_MAX_BYTES + 1));
}

Test(bufpool, caps_and_reuse) {
    bufpool p;
    bufpool_init(&p, 100, 3, 1);
    cr_assert_eq(p.block_bytes, 112, "rounded to 16");
    void *a = bufpool_get(&p), *b = bufpool_get(&p), *c = bufpool_get(&p);
    cr_assert(a && b && c);
    cr_assert_null(bufpool_get(&p), "max_blocks_out");
    memset(a, 1, 112);
    bufpool_put(&p, a);
    cr_assert_eq(p.free_count, 1);
    bufpool_put(&p, b);
    cr_assert_eq(p.free_count, 1, "keep_free_max");
    void *d = bufpool_get(&p);
    cr_assert_eq(d, a, "cached block reused");
    cr_assert_eq(p.blocks_out, 2);
    bufpool_put(&p, NULL);
    bufpool_put(&p, c);
    bufpool_put(&p, d);
    cr_assert_eq(p.blocks_out, 0);
    bufpool_destroy(&p);
    cr_assert_eq(p.free_count, 0);
}

Test(sendq, pooled_ring_goes_back_to_the_pool_when_drained) {
    bufpool pool;
    bufpool_init(&pool, SENDQ_POOL_BLOCK_BYTES, 16, 16);
    sendq q;
    sendq_init_pooled(&q, 1 << 20, &pool);
    rbuf *b = rbuf_from("abcdef", 6);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(sendq_push(&q, b, b->data, 6), 0);
        cr_assert_eq(pool.blocks_out, 1, "the first ring is a pool block");
        struct iovec iov[1];
        uint64_t total = 0;
        cr_assert_eq(sendq_start(&q, iov, 1, &total), 1);
        sendq_complete(&q, total);
        cr_assert_eq(pool.blocks_out, 0, "drained: back to the pool");
        cr_assert_null(q.ring);
        cr_assert_eq(pool.free_count, 1, "reused, not freed");
    }
    /* growing past the first ring moves to malloc and returns the block */
    for (uint32_t i = 0; i < SENDQ_INITIAL_ENTRIES + 1; i++) cr_assert_eq(sendq_push(&q, b, b->data, 1), 0);
    cr_assert_eq(q.cap, SENDQ_INITIAL_ENTRIES * 2);
    cr_assert_eq(pool.blocks_out, 0);
    cr_assert_eq(sendq_drop_pending(&q), SENDQ_INITIAL_ENTRIES + 1);
    sendq_free(&q);
    cr_assert_eq(atomic_load(&b->refs), 1);
    rbuf_unref(b);
    bufpool_destroy(&pool);
}

Test(sendq, pooled_ring_falls_back_to_malloc_when_the_pool_is_out) {
    bufpool pool;
    bufpool_init(&pool, SENDQ_POOL_BLOCK_BYTES, 1, 1);
    sendq q1, q2;
    sendq_init_pooled(&q1, 1 << 20, &pool);
    sendq_init_pooled(&q2, 1 << 20, &pool);
    rbuf *b = rbuf_from("x", 1);
    cr_assert_eq(sendq_push(&q1, b, b->data, 1), 0);
    cr_assert_eq(sendq_push(&q2, b, b->data, 1), 0, "the pool's only block is out: malloc");
    cr_assert(q1.ring_pooled);
    cr_assert_not(q2.ring_pooled);
    sendq_free(&q2);
    cr_assert_eq(pool.blocks_out, 1, "a malloc'd ring is not put into the pool");
    sendq_free(&q1);
    cr_assert_eq(pool.blocks_out, 0);
    rbuf_unref(b);
    bufpool_destroy(&pool);
}
