/*
 * A sorted set of names shared by threads: the document names of the data
 * dir, so that a listing page is a binary search in memory rather than a
 * directory scan per request.
 *
 * It is filled once (nameset_fill_once: the first caller runs the scan, the
 * others wait for it) and then kept current by whoever creates or removes a
 * name (the documents' owners). A mutex guards it; every operation is
 * O(log n) plus the names it copies or moves.
 */
#ifndef RINGPAD_NAMESET_H
#define RINGPAD_NAMESET_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Names beyond this are not kept (a listing shows at most this many). */
#define NAMESET_MAX_NAMES (1u << 24)

typedef struct nameset {
    pthread_mutex_t lock;
    char **names;                   /* sorted by strcmp, each malloc'd */
    uint32_t count;
    uint32_t cap;
    bool filled;
    uint32_t count_fills;           /* scans run (1 after the first fill) */
} nameset;

int nameset_init(nameset *ns);
void nameset_free(nameset *ns);

/* Adds a name during a fill (the lock is held by nameset_fill_once). */
typedef int (*nameset_add_fn)(nameset *ns, const char *name, size_t len_bytes);
/* fill(ctx, ns, add) lists every name through add; returns 0 or a negative error. */
typedef int (*nameset_fill_fn)(void *ctx, nameset *ns, nameset_add_fn add);

/* Runs fill once for the set's lifetime (a failed fill is retried by the
 * next call). Returns 0 or fill's error. */
int nameset_fill_once(nameset *ns, nameset_fill_fn fill, void *ctx);

/* Adds (no-op when present) or removes a name. 0, -ENOMEM, -ENOSPC (full). */
int nameset_add(nameset *ns, const char *name, size_t len_bytes);
void nameset_remove(nameset *ns, const char *name, size_t len_bytes);
uint32_t nameset_count(nameset *ns);

/* Up to `limit` names after `after` ("" = from the first) for which keep
 * (may be NULL) returns true, copied into out[] (malloc'd: the caller frees
 * each); *more tells whether a kept name follows. Returns the count or
 * -ENOMEM (nothing copied). */
typedef bool (*nameset_keep_fn)(void *ctx, const char *name, size_t len_bytes);
int nameset_page(nameset *ns, const char *after, uint32_t limit, nameset_keep_fn keep, void *ctx, char **out,
                 bool *more);

#endif /* RINGPAD_NAMESET_H */
