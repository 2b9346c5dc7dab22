/*
 * A token bucket counted in thousandths of a token, refilled at `rate` tokens
 * per second up to a burst of one second's worth. Used for the message rate
 * of a WebSocket connection and the presence rate of a session's document.
 */
#ifndef RINGPAD_TOKEN_BUCKET_H
#define RINGPAD_TOKEN_BUCKET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct token_bucket {
    int64_t tokens_milli;           /* may go below 0 (token_bucket_charge: debt) */
    uint64_t refill_ms;             /* when it was last refilled */
} token_bucket;

/* Starts full: a second's worth of tokens. */
void token_bucket_init(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms);

/* Takes one token if there is one. */
bool token_bucket_take(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms);

/* Spends one token even when there is none, and returns the balance in
 * thousandths: negative is the debt, which refills like any deficit. */
int64_t token_bucket_charge(token_bucket *b, uint32_t rate_per_s, uint64_t now_ms);

#endif /* RINGPAD_TOKEN_BUCKET_H */
