/*
 * Allocation-failure injection for a test build of the server
 * (ringpad-faultalloc; the server proper has no hook and no global state for
 * it). Linked into the executable, these definitions take the place of
 * libc's malloc, calloc, realloc, aligned_alloc and posix_memalign for the
 * server and every library it loads (jansson, wolfSSL, libc's own strdup),
 * and pass through to glibc's allocator.
 *
 *   RINGPAD_FAULT_ALLOC_NTH=N   the N-th allocation after arming fails (once);
 *                               0 or unset: none fails, only counted
 *
 * Counting is armed by the first JSON document the server parses (its first
 * WebSocket message or REST body), so startup is never counted and N indexes
 * the allocations of a client's session. At exit the count is written to
 * stderr as `faultalloc: <count> allocations, failed <N or 0>`, which is how a
 * sweep learns the range of N to cover.
 */
#include <dlfcn.h>
#include <errno.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t count, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t alignment, size_t size);

static atomic_bool armed;
static atomic_long count_allocs;
static long fail_nth = -1; /* read once, when armed */
static atomic_long failed_nth;

static void arm(void) {
    if (atomic_load(&armed)) return;
    const char *s = getenv("RINGPAD_FAULT_ALLOC_NTH");
    fail_nth = s != NULL ? strtol(s, NULL, 10) : 0;
    atomic_store(&armed, true);
}

static bool should_fail(void) {
    if (!atomic_load_explicit(&armed, memory_order_relaxed)) return false;
    long n = atomic_fetch_add(&count_allocs, 1) + 1;
    if (n != fail_nth) return false;
    atomic_store(&failed_nth, n);
    errno = ENOMEM;
    return true;
}

void *malloc(size_t size) { return should_fail() ? NULL : __libc_malloc(size); }
void *calloc(size_t count, size_t size) { return should_fail() ? NULL : __libc_calloc(count, size); }
void *realloc(void *p, size_t size) { return should_fail() ? NULL : __libc_realloc(p, size); }
void *aligned_alloc(size_t alignment, size_t size) { return should_fail() ? NULL : __libc_memalign(alignment, size); }

int posix_memalign(void **out, size_t alignment, size_t size) {
    if (should_fail()) return ENOMEM;
    void *p = __libc_memalign(alignment, size);
    if (p == NULL) return ENOMEM;
    *out = p;
    return 0;
}

typedef json_t *(*loadb_fn)(const char *, size_t, size_t, json_error_t *);

json_t *json_loadb(const char *buffer, size_t buflen, size_t flags, json_error_t *error) {
    static _Atomic(loadb_fn) real;
    loadb_fn f = atomic_load(&real);
    if (f == NULL) {
        f = (loadb_fn)dlsym(RTLD_NEXT, "json_loadb");
        atomic_store(&real, f);
    }
    arm();
    return f(buffer, buflen, flags, error);
}

__attribute__((destructor)) static void report(void) {
    char line[96];
    int n = snprintf(line, sizeof line, "faultalloc: %ld allocations, failed %ld\n", atomic_load(&count_allocs),
                     atomic_load(&failed_nth));
    if (n > 0) (void)!write(2, line, (size_t)n);
}
