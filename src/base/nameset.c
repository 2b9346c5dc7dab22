#include "base/nameset.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int nameset_init(nameset *ns) {
    memset(ns, 0, sizeof *ns);
    return -pthread_mutex_init(&ns->lock, NULL);
}

static void clear_names(nameset *ns) {
    for (uint32_t i = 0; i < ns->count; i++) free(ns->names[i]);
    free(ns->names);
    ns->names = NULL;
    ns->count = 0;
    ns->cap = 0;
}

void nameset_free(nameset *ns) {
    clear_names(ns);
    pthread_mutex_destroy(&ns->lock);
}

/* Compares a stored name with a counted one as strcmp would. */
static int cmp_counted(const char *stored, const char *name, size_t len) {
    int c = strncmp(stored, name, len);
    if (c != 0) return c;
    return stored[len] == '\0' ? 0 : 1;
}

/* The first index whose name is >= name (found: equal). */
static uint32_t lower_bound(const nameset *ns, const char *name, size_t len, bool *found) {
    uint32_t lo = 0, hi = ns->count;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (cmp_counted(ns->names[mid], name, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    *found = lo < ns->count && cmp_counted(ns->names[lo], name, len) == 0;
    return lo;
}

static int add_locked(nameset *ns, const char *name, size_t len) {
    bool found;
    uint32_t at = lower_bound(ns, name, len, &found);
    if (found) return 0;
    if (ns->count >= NAMESET_MAX_NAMES) return -ENOSPC;
    if (ns->count == ns->cap) {
        uint32_t cap = ns->cap == 0 ? 64 : ns->cap * 2;
        char **g = realloc(ns->names, sizeof *g * cap);
        if (g == NULL) return -ENOMEM;
        ns->names = g;
        ns->cap = cap;
    }
    char *copy = strndup(name, len);
    if (copy == NULL) return -ENOMEM;
    memmove(&ns->names[at + 1], &ns->names[at], sizeof *ns->names * (ns->count - at));
    ns->names[at] = copy;
    ns->count++;
    return 0;
}

int nameset_fill_once(nameset *ns, nameset_fill_fn fill, void *ctx) {
    pthread_mutex_lock(&ns->lock);
    int rc = 0;
    if (!ns->filled) {
        ns->count_fills++;
        rc = fill(ctx, ns, add_locked);
        if (rc == 0) ns->filled = true;
    }
    pthread_mutex_unlock(&ns->lock);
    return rc;
}

int nameset_add(nameset *ns, const char *name, size_t len_bytes) {
    pthread_mutex_lock(&ns->lock);
    int rc = add_locked(ns, name, len_bytes);
    pthread_mutex_unlock(&ns->lock);
    return rc;
}

void nameset_remove(nameset *ns, const char *name, size_t len_bytes) {
    pthread_mutex_lock(&ns->lock);
    bool found;
    uint32_t at = lower_bound(ns, name, len_bytes, &found);
    if (found) {
        free(ns->names[at]);
        memmove(&ns->names[at], &ns->names[at + 1], sizeof *ns->names * (ns->count - at - 1));
        ns->count--;
    }
    pthread_mutex_unlock(&ns->lock);
}

uint32_t nameset_count(nameset *ns) {
    pthread_mutex_lock(&ns->lock);
    uint32_t n = ns->count;
    pthread_mutex_unlock(&ns->lock);
    return n;
}

int nameset_page(nameset *ns, const char *after, uint32_t limit, nameset_keep_fn keep, void *ctx, char **out,
                 bool *more) {
    pthread_mutex_lock(&ns->lock);
    bool found;
    size_t alen = strlen(after);
    uint32_t i = alen == 0 ? 0 : lower_bound(ns, after, alen, &found);
    if (alen > 0 && found) i++;
    uint32_t n = 0;
    int rc = 0;
    *more = false;
    /* bounded by the set's size */
    for (; i < ns->count; i++) {
        const char *name = ns->names[i];
        if (keep != NULL && !keep(ctx, name, strlen(name))) continue;
        if (n == limit) {
            *more = true;
            break;
        }
        out[n] = strdup(name);
        if (out[n] == NULL) {
            rc = -ENOMEM;
            break;
        }
        n++;
    }
    pthread_mutex_unlock(&ns->lock);
    if (rc != 0) {
        for (uint32_t k = 0; k < n; k++) free(out[k]);
        return rc;
    }
    return (int)n;
}
