#include "base/token_bucket.h"

#include <assert.h>

void token_bucket_init(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms) {
    b->tokens_milli = (int64_t)rate_per_s * 1000;
    b->refill_ms = now_ms;
}

static void refill(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms) {
    int64_t cap = (int64_t)rate_per_s * 1000;
    if (now_ms > b->refill_ms && rate_per_s > 0) {
        uint64_t elapsed_ms = now_ms - b->refill_ms;
        /* compared before multiplying: a long idle time cannot overflow */
        uint64_t to_full_ms = (uint64_t)(cap - b->tokens_milli) / rate_per_s + 1;
        b->tokens_milli = elapsed_ms >= to_full_ms ? cap : b->tokens_milli + (int64_t)elapsed_ms * rate_per_s;
        if (b->tokens_milli > cap) b->tokens_milli = cap;
    }
    b->refill_ms = now_ms > b->refill_ms ? now_ms : b->refill_ms;
    assert(b->tokens_milli <= cap || rate_per_s == 0);
}

bool token_bucket_take(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms) {
    refill(b, rate_per_s, now_ms);
    if (b->tokens_milli < 1000) return false;
    b->tokens_milli -= 1000;
    return true;
}

int64_t token_bucket_charge(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms) {
    refill(b, rate_per_s, now_ms);
    b->tokens_milli -= 1000;
    return b->tokens_milli;
}
