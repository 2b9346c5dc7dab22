/*
 * HDR-style log-linear histogram of microsecond values, fixed memory.
 *
 * Values below 128 us have their own bucket; above, each power of two is cut
 * into 64 buckets, so a recorded value is known to within 1/64 (1.6 %) of
 * itself. Values past LG_HIST_MAX_US are clamped (and counted as such).
 * Recording is a few instructions and never allocates.
 */
#ifndef RINGPAD_LG_HIST_H
#define RINGPAD_LG_HIST_H

#include <stdint.h>

#define LG_HIST_SUB_BITS 6u                         /* 64 buckets per power of two */
#define LG_HIST_MAX_SHIFT 34u                       /* top bucket starts at 64 << 34 us */
#define LG_HIST_BUCKETS ((LG_HIST_MAX_SHIFT + 2u) << LG_HIST_SUB_BITS)
#define LG_HIST_MAX_US ((((uint64_t)2 << LG_HIST_SUB_BITS) << LG_HIST_MAX_SHIFT) - 1u)

typedef struct lg_hist {
    uint64_t count;
    uint64_t clamped;            /* values above LG_HIST_MAX_US */
    uint64_t min_us;
    uint64_t max_us;
    uint64_t sum_us;
    uint64_t buckets[LG_HIST_BUCKETS];
} lg_hist;

void lg_hist_reset(lg_hist *h);
void lg_hist_record(lg_hist *h, uint64_t value_us);
/* dst += src (histograms of several threads). */
void lg_hist_merge(lg_hist *dst, const lg_hist *src);
/* The smallest recorded value v (to bucket precision, never above the true
 * maximum) with at least ceil(p/100 * count) values <= v; 0 when empty.
 * p in [0, 100]. */
uint64_t lg_hist_percentile(const lg_hist *h, double p);
double lg_hist_mean(const lg_hist *h);

/* Bucket index of a value and the largest value of a bucket (exposed for tests). */
uint32_t lg_hist_bucket(uint64_t value_us);
uint64_t lg_hist_bucket_high(uint32_t bucket);

#endif
