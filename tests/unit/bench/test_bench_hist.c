/* bench_hist: the load generator's log-linear histogram against exact sorted references. */
#include <criterion/criterion.h>

#include <stdlib.h>

#include "hist.h"

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The exact percentile: the ceil(p/100*n)-th smallest value. */
static uint64_t exact(const uint64_t *sorted, size_t n, double p) {
    double want_f = p / 100.0 * (double)n;
    size_t want = (size_t)want_f;
    if ((double)want < want_f) want++;
    if (want == 0) want = 1;
    return sorted[want - 1];
}

static uint64_t rng_next(uint64_t *s) {
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void check_against_reference(uint64_t *vals, size_t n) {
    lg_hist *h = malloc(sizeof *h);
    cr_assert_not_null(h);
    lg_hist_reset(h);
    for (size_t i = 0; i < n; i++) lg_hist_record(h, vals[i]);
    qsort(vals, n, sizeof *vals, cmp_u64);
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++) {
        uint64_t want = exact(vals, n, ps[i]);
        uint64_t got = lg_hist_percentile(h, ps[i]);
        /* the bucket holding `want` reports its top, clamped to the max: never
         * below the true value, and above it by less than 1/64 of it */
        cr_assert_geq(got, want, "p%g: got %lu want %lu", ps[i], (unsigned long)got, (unsigned long)want);
        cr_assert_leq(got - want, want / 64, "p%g: got %lu want %lu", ps[i], (unsigned long)got,
                      (unsigned long)want);
    }
    cr_assert_eq(h->count, n);
    cr_assert_eq(h->min_us, vals[0]);
    cr_assert_eq(h->max_us, vals[n - 1]);
    cr_assert_eq(lg_hist_percentile(h, 100), vals[n - 1]);
    free(h);
}

Test(bench_hist, exact_below_128) {
    lg_hist *h = malloc(sizeof *h);
    lg_hist_reset(h);
    for (uint64_t v = 0; v < 100; v++) lg_hist_record(h, v);
    cr_assert_eq(lg_hist_percentile(h, 50), 49);
    cr_assert_eq(lg_hist_percentile(h, 1), 0);
    cr_assert_eq(lg_hist_percentile(h, 100), 99);
    cr_assert_float_eq(lg_hist_mean(h), 49.5, 1e-9);
    free(h);
}

Test(bench_hist, empty_is_zero) {
    lg_hist *h = malloc(sizeof *h);
    lg_hist_reset(h);
    cr_assert_eq(lg_hist_percentile(h, 99), 0);
    cr_assert_float_eq(lg_hist_mean(h), 0.0, 1e-12);
    free(h);
}

Test(bench_hist, buckets_are_contiguous_and_tight) {
    /* every value maps to a bucket whose top is >= it and within 1/64 */
    uint32_t prev = 0;
    for (uint64_t v = 0; v < 1u << 20; v += 1 + v / 300) {
        uint32_t b = lg_hist_bucket(v);
        cr_assert_geq(b, prev);
        cr_assert_lt(b, LG_HIST_BUCKETS);
        uint64_t hi = lg_hist_bucket_high(b);
        cr_assert_geq(hi, v);
        cr_assert_leq(hi - v, v / 64);
        if (b > 0) cr_assert_lt(lg_hist_bucket_high(b - 1), v);
        prev = b;
    }
    cr_assert_eq(lg_hist_bucket(LG_HIST_MAX_US), LG_HIST_BUCKETS - 1);
    cr_assert_eq(lg_hist_bucket_high(LG_HIST_BUCKETS - 1), LG_HIST_MAX_US);
}

Test(bench_hist, uniform_random_vs_sorted) {
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof *v);
    uint64_t s = 12345;
    for (size_t i = 0; i < N; i++) v[i] = rng_next(&s) % 1000000;
    check_against_reference(v, N);
    free(v);
}

Test(bench_hist, long_tail_vs_sorted) {
    /* latencies look like this: most small, a few huge */
    enum { N = 20000 };
    uint64_t *v = malloc(N * sizeof *v);
    uint64_t s = 777;
    for (size_t i = 0; i < N; i++) {
        uint64_t r = rng_next(&s);
        v[i] = (r % 100 < 95) ? 50 + r % 2000 : (r >> 20) % 5000000;
    }
    check_against_reference(v, N);
    free(v);
}

Test(bench_hist, merge_equals_recording_all) {
    lg_hist *a = malloc(sizeof *a), *b = malloc(sizeof *b), *all = malloc(sizeof *all);
    lg_hist_reset(a);
    lg_hist_reset(b);
    lg_hist_reset(all);
    uint64_t s = 99;
    for (int i = 0; i < 5000; i++) {
        uint64_t x = rng_next(&s) % 300000;
        lg_hist_record(i % 3 ? a : b, x);
        lg_hist_record(all, x);
    }
    lg_hist_merge(a, b);
    cr_assert_eq(a->count, all->count);
    cr_assert_eq(a->min_us, all->min_us);
    cr_assert_eq(a->max_us, all->max_us);
    cr_assert_eq(a->sum_us, all->sum_us);
    for (double p = 0; p <= 100; p += 2.5) cr_assert_eq(lg_hist_percentile(a, p), lg_hist_percentile(all, p));
    free(a);
    free(b);
    free(all);
}

Test(bench_hist, clamps_huge_values) {
    lg_hist *h = malloc(sizeof *h);
    lg_hist_reset(h);
    lg_hist_record(h, UINT64_MAX);
    lg_hist_record(h, 10);
    cr_assert_eq(h->clamped, 1);
    cr_assert_eq(h->max_us, LG_HIST_MAX_US);
    cr_assert_eq(lg_hist_percentile(h, 100), LG_HIST_MAX_US);
    cr_assert_eq(lg_hist_percentile(h, 50), 10);
    free(h);
}
