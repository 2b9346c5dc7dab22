/* Keeping a worker's documents within the process-wide memory budget. */
#include "collab/docs_internal.h"

#include "base/log.h"
#include "base/membudget.h"

/* Over the budget: published history leaves memory first (every document
 * here), then quiet documents are unloaded, until this worker has freed the
 * excess or has nothing left to free. The other workers do the same on their
 * ticks; the shared count tells each what is still over. */
void docs_shed_memory(docs *t, fanout *out, int64_t now_ms) {
    uint64_t over = membudget_over(t->cfg.budget);
    for (uint32_t b = 0; b < DOCS_HASH_BUCKETS && over > 0; b++) {
        for (docs_entry *e = t->buckets[b]; e != NULL && over > 0; e = e->next) {
            if (e->state != ENTRY_READY) continue;
            size_t freed = doc_shed_history(e->d, (size_t)over);
            over = freed < over ? over - freed : 0;
        }
    }
    for (uint32_t b = 0; b < DOCS_HASH_BUCKETS && over > 0; b++) {
        for (docs_entry *e = t->buckets[b], *next; e != NULL && over > 0; e = next) {
            next = e->next;
            if (e->state != ENTRY_READY || !doc_is_quiet(e->d) || (e->io.log != NULL && !store_log_idle(e->io.log)) || e->compacting ||
                e->dirty || store_ring_busy(&e->io))
                continue;
            size_t bytes = doc_memory_bytes(e->d);
            log_debug("document %s unloaded: the memory budget is exceeded", e->name);
            docs_entry_unload(t, e, true, out, now_ms);
            over = bytes < over ? over - bytes : 0;
        }
    }
}

