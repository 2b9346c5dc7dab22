#include "base/bufpool.h"

#include <assert.h>
#include <stdlib.h>

void bufpool_init(bufpool *p, size_t block_bytes, uint32_t max_blocks_out, uint32_t keep_free_max) {
    assert(block_bytes >= sizeof(void *));
    p->block_bytes = (block_bytes + 15) & ~(size_t)15;
    p->max_blocks_out = max_blocks_out;
    p->keep_free_max = keep_free_max;
    p->blocks_out = 0;
    p->free_count = 0;
    p->free_list = NULL;
}

void *bufpool_get(bufpool *p) {
    if (p->blocks_out >= p->max_blocks_out) return NULL;
    void *b = p->free_list;
    if (b != NULL) {
        p->free_list = *(void **)b;
        p->free_count--;
    } else {
        b = aligned_alloc(16, p->block_bytes);
        if (b == NULL) return NULL;
    }
    p->blocks_out++;
    return b;
}

void bufpool_put(bufpool *p, void *block) {
    if (block == NULL) return;
    assert(p->blocks_out > 0);
    p->blocks_out--;
    if (p->free_count >= p->keep_free_max) {
        free(block);
        return;
    }
    *(void **)block = p->free_list;
    p->free_list = block;
    p->free_count++;
}

void bufpool_destroy(bufpool *p) {
    assert(p->blocks_out == 0);
    while (p->free_list != NULL) {
        void *next = *(void **)p->free_list;
        free(p->free_list);
        p->free_list = next;
    }
    p->free_count = 0;
}
