#include "base/membudget.h"

#include <unistd.h>

#define MEMBUDGET_MIN_DEFAULT_BYTES (64ull * 1024 * 1024)

void membudget_init(membudget *b, uint64_t limit_bytes) {
    atomic_init(&b->used_bytes, 0);
    b->limit_bytes = limit_bytes;
}

void membudget_add(membudget *b, int64_t delta_bytes) {
    /* relaxed: the sum only steers when to shed, it orders nothing */
    atomic_fetch_add_explicit(&b->used_bytes, delta_bytes, memory_order_relaxed);
}

uint64_t membudget_used(const membudget *b) {
    int64_t used = atomic_load_explicit(&b->used_bytes, memory_order_relaxed);
    return used > 0 ? (uint64_t)used : 0;
}

uint64_t membudget_over(const membudget *b) {
    if (b == NULL || b->limit_bytes == 0) return 0;
    uint64_t used = membudget_used(b);
    return used > b->limit_bytes ? used - b->limit_bytes : 0;
}

uint64_t membudget_default_bytes(void) {
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_bytes = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_bytes <= 0) return MEMBUDGET_MIN_DEFAULT_BYTES;
    uint64_t quarter = (uint64_t)pages * (uint64_t)page_bytes / 4;
    return quarter > MEMBUDGET_MIN_DEFAULT_BYTES ? quarter : MEMBUDGET_MIN_DEFAULT_BYTES;
}
