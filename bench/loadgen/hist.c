#include "hist.h"

#include <string.h>

void lg_hist_reset(lg_hist *h) {
    memset(h, 0, sizeof(*h));
    h->min_us = UINT64_MAX;
}

uint32_t lg_hist_bucket(uint64_t v) {
    if (v > LG_HIST_MAX_US) v = LG_HIST_MAX_US;
    if (v < ((uint64_t)2 << LG_HIST_SUB_BITS)) return (uint32_t)v;
    /* shift so that v >> shift lands in [64, 128) */
    uint32_t msb = 63u - (uint32_t)__builtin_clzll(v);
    uint32_t shift = msb - LG_HIST_SUB_BITS;
    return (shift << LG_HIST_SUB_BITS) + (uint32_t)(v >> shift);
}

uint64_t lg_hist_bucket_high(uint32_t b) {
    uint32_t sub = 1u << LG_HIST_SUB_BITS;
    if (b < 2 * sub) return b;
    uint32_t shift = (b >> LG_HIST_SUB_BITS) - 1u;
    uint64_t mant = (uint64_t)(b - (shift << LG_HIST_SUB_BITS));   /* in [64, 128) */
    return ((mant + 1u) << shift) - 1u;
}

void lg_hist_record(lg_hist *h, uint64_t v) {
    if (v > LG_HIST_MAX_US) {
        h->clamped++;
        v = LG_HIST_MAX_US;
    }
    h->buckets[lg_hist_bucket(v)]++;
    h->count++;
    h->sum_us += v;
    if (v < h->min_us) h->min_us = v;
    if (v > h->max_us) h->max_us = v;
}

void lg_hist_merge(lg_hist *dst, const lg_hist *src) {
    if (src->count == 0) return;
    for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++) dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->clamped += src->clamped;
    dst->sum_us += src->sum_us;
    if (src->min_us < dst->min_us) dst->min_us = src->min_us;
    if (src->max_us > dst->max_us) dst->max_us = src->max_us;
}

uint64_t lg_hist_percentile(const lg_hist *h, double p) {
    if (h->count == 0) return 0;
    if (p < 0) p = 0;
    if (p > 100) p = 100;
    double want_f = p / 100.0 * (double)h->count;
    uint64_t want = (uint64_t)want_f;
    if ((double)want < want_f) want++;
    if (want == 0) want = 1;
    uint64_t seen = 0;
    for (uint32_t i = 0; i < LG_HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= want) {
            uint64_t v = lg_hist_bucket_high(i);
            if (v > h->max_us) v = h->max_us;
            if (v < h->min_us) v = h->min_us;
            return v;
        }
    }
    return h->max_us;
}

double lg_hist_mean(const lg_hist *h) {
    return h->count ? (double)h->sum_us / (double)h->count : 0.0;
}
