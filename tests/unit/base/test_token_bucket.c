#include <criterion/criterion.h>
#include <stdint.h>

#include "base/token_bucket.h"

Test(token_bucket, starts_with_a_second_of_tokens_then_refuses) {
    token_bucket b;
    token_bucket_init(&b, 5, 1000);
    for (int i = 0; i < 5; i++) cr_assert(token_bucket_take(&b, 5, 1000), "token %d", i);
    cr_assert_not(token_bucket_take(&b, 5, 1000));
    cr_assert_eq(b.tokens_milli, 0, "a refusal spends nothing");
}

Test(token_bucket, refills_at_the_rate_up_to_one_second) {
    token_bucket b;
    token_bucket_init(&b, 10, 0);
    for (int i = 0; i < 10; i++) cr_assert(token_bucket_take(&b, 10, 0));
    cr_assert_not(token_bucket_take(&b, 10, 99), "99 ms at 10/s is 0.99 of a token");
    cr_assert(token_bucket_take(&b, 10, 100));
    /* an hour idle: full again, never more than the burst */
    cr_assert(token_bucket_take(&b, 10, 3600u * 1000u));
    cr_assert_eq(b.tokens_milli, 9000);
}

Test(token_bucket, charge_goes_into_debt_that_refills) {
    token_bucket b;
    token_bucket_init(&b, 2, 0);
    cr_assert_eq(token_bucket_charge(&b, 2, 0), 1000);
    cr_assert_eq(token_bucket_charge(&b, 2, 0), 0);
    cr_assert_eq(token_bucket_charge(&b, 2, 0), -1000);
    cr_assert_eq(token_bucket_charge(&b, 2, 0), -2000);
    /* 1.5 s at 2/s pays 3 tokens back: -2000 + 3000 - 1000 */
    cr_assert_eq(token_bucket_charge(&b, 2, 1500), 0);
}

Test(token_bucket, a_clock_far_ahead_does_not_overflow) {
    token_bucket b;
    token_bucket_init(&b, 100000000u, 0);
    for (int i = 0; i < 3; i++) token_bucket_charge(&b, 100000000u, 0);
    cr_assert(token_bucket_take(&b, 100000000u, UINT64_MAX - 1));
    cr_assert_eq(b.tokens_milli, (int64_t)100000000 * 1000 - 1000);
}

Test(token_bucket, a_zero_rate_never_gives_a_token) {
    token_bucket b;
    token_bucket_init(&b, 0, 0);
    cr_assert_not(token_bucket_take(&b, 0, 0));
    cr_assert_not(token_bucket_take(&b, 0, 1000000));
}

Test(token_bucket, a_clock_going_back_adds_nothing) {
    token_bucket b;
    token_bucket_init(&b, 1, 5000);
    cr_assert(token_bucket_take(&b, 1, 5000));
    cr_assert_not(token_bucket_take(&b, 1, 4000));
    cr_assert_eq(b.refill_ms, 5000);
}
