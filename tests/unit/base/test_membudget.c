#include <criterion/criterion.h>
#include <pthread.h>
#include <unistd.h>

#include "base/membudget.h"

Test(membudget, counts_adds_and_takes) {
    membudget b;
    membudget_init(&b, 1000);
    cr_assert_eq(membudget_used(&b), 0);
    cr_assert_eq(membudget_over(&b), 0);
    membudget_add(&b, 600);
    membudget_add(&b, 400);
    cr_assert_eq(membudget_used(&b), 1000);
    cr_assert_eq(membudget_over(&b), 0, "at the limit is not over it");
    membudget_add(&b, 250);
    cr_assert_eq(membudget_over(&b), 250);
    membudget_add(&b, -1250);
    cr_assert_eq(membudget_used(&b), 0);
    cr_assert_eq(membudget_over(NULL), 0);
    membudget unlimited;
    membudget_init(&unlimited, 0);
    membudget_add(&unlimited, 1 << 30);
    cr_assert_eq(membudget_used(&unlimited), 1 << 30);
    cr_assert_eq(membudget_over(&unlimited), 0);
}

Test(membudget, a_take_before_its_add_reads_as_zero) {
    membudget b;
    membudget_init(&b, 10);
    membudget_add(&b, -5); /* another worker's add has not landed yet */
    cr_assert_eq(membudget_used(&b), 0);
    cr_assert_eq(membudget_over(&b), 0);
    membudget_add(&b, 20);
    cr_assert_eq(membudget_used(&b), 15);
    cr_assert_eq(membudget_over(&b), 5);
}

enum { THREADS = 4, ROUNDS = 100000 };

static void *churn(void *arg) {
    membudget *b = arg;
    for (int i = 0; i < ROUNDS; i++) {
        membudget_add(b, 7);
        membudget_add(b, -3);
    }
    return NULL;
}

Test(membudget, workers_adding_at_once_lose_nothing) {
    membudget b;
    membudget_init(&b, 1);
    pthread_t th[THREADS];
    for (int i = 0; i < THREADS; i++) cr_assert_eq(pthread_create(&th[i], NULL, churn, &b), 0);
    for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
    cr_assert_eq(membudget_used(&b), (uint64_t)THREADS * ROUNDS * 4);
    cr_assert_eq(membudget_over(&b), (uint64_t)THREADS * ROUNDS * 4 - 1);
}

Test(membudget, default_is_a_quarter_of_ram) {
    uint64_t ram = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t d = membudget_default_bytes();
    uint64_t quarter = ram / 4;
    cr_assert_eq(d, quarter > 64ull << 20 ? quarter : 64ull << 20);
}
