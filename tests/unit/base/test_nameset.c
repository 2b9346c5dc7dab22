#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/nameset.h"

static int fill_three(void *ctx, nameset *ns, nameset_add_fn add) {
    int *calls = ctx;
    (*calls)++;
    cr_assert_eq(add(ns, "b", 1), 0);
    cr_assert_eq(add(ns, "a/x", 3), 0);
    cr_assert_eq(add(ns, "c", 1), 0);
    return 0;
}

static int fill_fails(void *ctx, nameset *ns, nameset_add_fn add) {
    (void)ctx;
    (void)ns;
    (void)add;
    return -EIO;
}

static bool not_b(void *ctx, const char *name, size_t len) {
    (void)ctx;
    return !(len == 1 && name[0] == 'b');
}

static void free_all(char **out, int n) {
    for (int i = 0; i < n; i++) free(out[i]);
}

Test(nameset, fills_once_then_pages_in_order) {
    nameset ns;
    cr_assert_eq(nameset_init(&ns), 0);
    int calls = 0;
    cr_assert_eq(nameset_fill_once(&ns, fill_three, &calls), 0);
    cr_assert_eq(nameset_fill_once(&ns, fill_three, &calls), 0);
    cr_assert_eq(calls, 1, "the scan runs once");
    cr_assert_eq(ns.count_fills, 1);
    char *out[4];
    bool more;
    int n = nameset_page(&ns, "", 2, NULL, NULL, out, &more);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[0], "a/x");
    cr_assert_str_eq(out[1], "b");
    cr_assert(more);
    free_all(out, n);
    n = nameset_page(&ns, "b", 2, NULL, NULL, out, &more);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out[0], "c");
    cr_assert_not(more);
    free_all(out, n);
    /* an `after` that is not a member starts at the next name */
    n = nameset_page(&ns, "a/y", 4, NULL, NULL, out, &more);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(out[0], "b");
    free_all(out, n);
    nameset_free(&ns);
}

Test(nameset, a_filter_skips_names_and_more_counts_only_kept_ones) {
    nameset ns;
    cr_assert_eq(nameset_init(&ns), 0);
    cr_assert_eq(nameset_add(&ns, "a", 1), 0);
    cr_assert_eq(nameset_add(&ns, "b", 1), 0);
    char *out[4];
    bool more;
    int n = nameset_page(&ns, "", 1, not_b, NULL, out, &more);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out[0], "a");
    cr_assert_not(more, "b is not kept, so nothing more");
    free_all(out, n);
    nameset_free(&ns);
}

Test(nameset, add_is_idempotent_and_remove_forgets) {
    nameset ns;
    cr_assert_eq(nameset_init(&ns), 0);
    for (int i = 0; i < 200; i++) {
        char name[8];
        int len = snprintf(name, sizeof name, "d%03d", 199 - i);
        cr_assert_eq(nameset_add(&ns, name, (size_t)len), 0);
        cr_assert_eq(nameset_add(&ns, name, (size_t)len), 0);
    }
    cr_assert_eq(nameset_count(&ns), 200);
    nameset_remove(&ns, "d100", 4);
    nameset_remove(&ns, "nope", 4);
    cr_assert_eq(nameset_count(&ns), 199);
    char *out[2];
    bool more;
    int n = nameset_page(&ns, "d099", 1, NULL, NULL, out, &more);
    cr_assert_eq(n, 1);
    cr_assert_str_eq(out[0], "d101");
    free_all(out, n);
    /* counted names compare as whole names, not prefixes */
    cr_assert_eq(nameset_add(&ns, "d1", 2), 0);
    n = nameset_page(&ns, "", 1, NULL, NULL, out, &more);
    cr_assert_str_eq(out[0], "d000");
    free_all(out, n);
    nameset_free(&ns);
}

Test(nameset, a_failed_fill_is_retried) {
    nameset ns;
    cr_assert_eq(nameset_init(&ns), 0);
    cr_assert_eq(nameset_fill_once(&ns, fill_fails, NULL), -EIO);
    int calls = 0;
    cr_assert_eq(nameset_fill_once(&ns, fill_three, &calls), 0);
    cr_assert_eq(calls, 1);
    cr_assert_eq(ns.count_fills, 2);
    cr_assert_eq(nameset_count(&ns), 3);
    nameset_free(&ns);
}
