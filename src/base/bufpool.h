/*
 * A per-worker pool of fixed-size blocks: a free list in front of malloc with
 * a hard cap on blocks out at once and on blocks kept for reuse. Single
 * threaded (one pool per worker). Blocks are 16-byte aligned.
 */
#ifndef RINGPAD_BUFPOOL_H
#define RINGPAD_BUFPOOL_H

#include <stddef.h>
#include <stdint.h>

typedef struct bufpool {
    size_t block_bytes;
    uint32_t max_blocks_out;     /* bufpool_get returns NULL beyond this */
    uint32_t keep_free_max;      /* free blocks kept; more are returned to malloc */
    uint32_t blocks_out;
    uint32_t free_count;
    void *free_list;             /* singly linked through the first word of each block */
} bufpool;

void bufpool_init(bufpool *p, size_t block_bytes, uint32_t max_blocks_out, uint32_t keep_free_max);

/* A block of block_bytes, or NULL when max_blocks_out are out or malloc fails. */
void *bufpool_get(bufpool *p);

/* Returns a block from this pool (NULL is ignored). */
void bufpool_put(bufpool *p, void *block);

/* Frees the cached blocks; blocks still out must have been put back first. */
void bufpool_destroy(bufpool *p);

#endif /* RINGPAD_BUFPOOL_H */
