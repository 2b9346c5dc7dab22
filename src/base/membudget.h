/*
 * The process-wide memory budget of the documents: one counter that every
 * worker adds its documents' bytes to (atomics, no lock), and the limit they
 * shed history and unload idle documents to stay under. Each worker owns its
 * documents; only the sum is shared. The server owns the one instance and
 * passes it to the workers.
 */
#ifndef RINGPAD_MEMBUDGET_H
#define RINGPAD_MEMBUDGET_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

typedef struct membudget {
    _Atomic int64_t used_bytes;   /* signed: a worker may subtract before another adds */
    uint64_t limit_bytes;         /* what the documents may hold together; 0: no limit */
} membudget;

/* The documents' share of a --memory-budget: half of it; the other half is
 * headroom for what is in flight (messages, their parse, log writes, frames)
 * and the allocator's slack. */
#define MEMBUDGET_DOCS_SHARE_DIVISOR 2u

void membudget_init(membudget *b, uint64_t limit_bytes);
/* Adds (or, negative, takes back) bytes held. */
void membudget_add(membudget *b, int64_t delta_bytes);
uint64_t membudget_used(const membudget *b);
/* Bytes beyond the limit (0 when under it, without a limit, or b is NULL). */
uint64_t membudget_over(const membudget *b);

/* A quarter of the machine's RAM (sysconf), at least 64 MiB: the default
 * --memory-budget. */
uint64_t membudget_default_bytes(void);

#endif /* RINGPAD_MEMBUDGET_H */
