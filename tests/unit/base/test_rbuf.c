#include <criterion/criterion.h>

#include "base/rbuf.h"

#include <pthread.h>
#include <string.h>

Test(rbuf, pool_block_is_reused_after_last_unref) {
    rbuf_pool *p = rbuf_pool_new(256, 8);
    cr_assert_not_null(p);
    rbuf *a = rbuf_pool_get(p, 100);
    cr_assert_not_null(a);
    cr_assert_eq(a->pool, p);
    cr_assert_eq(a->cap, 256);
    cr_assert_eq(a->len, 0);
    cr_assert_eq(atomic_load(&a->refs), 1);
    cr_assert_eq(atomic_load(&p->refs), 2, "owner + one block out");
    memset(a->data, 'x', 256);
    a->len = 256;
    rbuf_ref(a);
    rbuf_unref(a);
    cr_assert_eq(atomic_load(&p->refs), 2, "still referenced");
    rbuf_unref(a);
    cr_assert_eq(atomic_load(&p->refs), 1, "back in the pool");
    rbuf *b = rbuf_pool_get(p, 256);
    cr_assert_eq(b, a, "the same block comes back: no malloc");
    cr_assert_eq(b->len, 0);
    cr_assert_eq(atomic_load(&b->refs), 1);
    rbuf_unref(b);
    rbuf_pool_release(p);
}

Test(rbuf, pool_larger_than_block_falls_back_to_malloc) {
    rbuf_pool *p = rbuf_pool_new(64, 8);
    rbuf *big = rbuf_pool_get(p, 65);
    cr_assert_not_null(big);
    cr_assert_null(big->pool);
    cr_assert_eq(big->cap, 65);
    cr_assert_eq(atomic_load(&p->refs), 1, "not counted as a pool block");
    rbuf_unref(big);
    rbuf *none = rbuf_pool_get(NULL, 10);
    cr_assert_not_null(none);
    cr_assert_null(none->pool);
    rbuf_unref(none);
    cr_assert_null(rbuf_pool_new(4, 1), "blocks must hold the free-list link");
    rbuf_pool_release(p);
}

Test(rbuf, pool_keeps_at_most_keep_free_max) {
    rbuf_pool *p = rbuf_pool_new(32, 2);
    rbuf *b[5];
    for (int i = 0; i < 5; i++) b[i] = rbuf_pool_get(p, 32);
    for (int i = 0; i < 5; i++) rbuf_unref(b[i]);
    cr_assert_eq(atomic_load(&p->refs), 1);
    rbuf *again = rbuf_pool_get(p, 1);
    /* five came back, two are cached, one of them is handed out */
    cr_assert_eq(p->free_count, 1);
    rbuf_unref(again);
    rbuf_pool_release(p);
}

Test(rbuf, pool_outlives_its_owner_until_the_last_block) {
    rbuf_pool *p = rbuf_pool_new(32, 4);
    rbuf *held = rbuf_pool_get(p, 8);
    memcpy(held->data, "frame", 5);
    held->len = 5;
    rbuf_pool_release(p);    /* the worker exits while another still sends the frame */
    cr_assert_eq(memcmp(held->data, "frame", 5), 0);
    rbuf_unref(held);        /* frees the pool too (ASan/valgrind see no leak, no use after free) */
}

typedef struct {
    rbuf **blocks;
    int count;
} unref_job;

static void *unref_all(void *arg) {
    unref_job *j = arg;
    for (int i = 0; i < j->count; i++) rbuf_unref(j->blocks[i]);
    return NULL;
}

Test(rbuf, pool_blocks_come_back_from_other_threads) {
    enum { N = 2000 };
    rbuf_pool *p = rbuf_pool_new(64, N);
    static rbuf *blocks[2][N / 2];
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < N / 2; i++) blocks[t][i] = rbuf_pool_get(p, 64);
    unref_job jobs[2] = {{blocks[0], N / 2}, {blocks[1], N / 2}};
    pthread_t th[2];
    for (int t = 0; t < 2; t++) cr_assert_eq(pthread_create(&th[t], NULL, unref_all, &jobs[t]), 0);
    /* the owner keeps taking blocks meanwhile */
    rbuf *mine[100];
    for (int i = 0; i < 100; i++) mine[i] = rbuf_pool_get(p, 64);
    for (int t = 0; t < 2; t++) pthread_join(th[t], NULL);
    cr_assert_eq(atomic_load(&p->refs), 1 + 100, "exactly the owner's 100 are out");
    for (int i = 0; i < 100; i++) rbuf_unref(mine[i]);
    cr_assert_eq(atomic_load(&p->refs), 1, "every block came back through the return stack");
    /* the blocks are reusable: a whole round of N gets never sees a foreign block */
    static rbuf *again[N];
    for (int i = 0; i < N; i++) {
        again[i] = rbuf_pool_get(p, 64);
        cr_assert_eq(again[i]->pool, p);
        cr_assert_eq(atomic_load(&again[i]->refs), 1);
    }
    for (int i = 0; i < N; i++) rbuf_unref(again[i]);
    rbuf_pool_release(p);
}

/* Blocks in the owner's memory: the pool hands them out by wrapping, and a
 * block whose last reference drops comes back on the returned chain, never
 * freed (free() on this array would crash). */
Test(rbuf, lent_blocks_come_back_to_the_owner_never_freed) {
    enum { block_bytes = 64, count = 3 };
    static _Alignas(rbuf) uint8_t mem[count][sizeof(rbuf) + block_bytes];
    rbuf_pool *p = rbuf_pool_new_lent(block_bytes);
    cr_assert_not_null(p);
    cr_assert_null(rbuf_pool_take_returned(p), "nothing out yet");
    rbuf *b[count];
    for (int i = 0; i < count; i++) {
        b[i] = rbuf_pool_wrap(p, mem[i]);
        cr_assert_eq((void *)b[i], (void *)mem[i]);
        cr_assert_eq(b[i]->cap, block_bytes);
        cr_assert_eq(b[i]->len, 0);
        cr_assert_eq(atomic_load(&b[i]->refs), 1);
    }
    cr_assert_eq(p->lent_out, count, "three blocks out");
    rbuf_ref(b[1]);                 /* lent on: a send queue holds it */
    rbuf_unref(b[0]);
    rbuf_unref(b[1]);
    rbuf_unref(b[2]);
    rbuf *chain = rbuf_pool_take_returned(p);
    cr_assert_eq(chain, b[2], "last returned first");
    cr_assert_eq(rbuf_returned_next(chain), b[0]);
    cr_assert_null(rbuf_returned_next(b[0]), "b[1] is still held");
    cr_assert_null(rbuf_pool_take_returned(p), "taken once");
    rbuf_unref(b[1]);
    cr_assert_eq(rbuf_pool_take_returned(p), b[1]);
    cr_assert_eq(p->lent_out, 0, "every block back");
    rbuf *again = rbuf_pool_wrap(p, mem[0]);
    cr_assert_eq(atomic_load(&again->refs), 1, "a block wraps anew each time");
    cr_assert_eq(p->lent_out, 1);
    rbuf_pool_release(p);           /* the owner lets go while a block is out */
    rbuf_unref(again);              /* the last block frees the pool, not the block */
    mem[0][sizeof(rbuf)] = 1;       /* still ours to write */
}
