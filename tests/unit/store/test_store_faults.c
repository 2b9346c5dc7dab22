#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "store/store_faults.h"

Test(store_faults, no_plan_injects_nothing) {
    for (int p = 0; p < STORE_POINT_COUNT; p++) cr_assert_eq(store_fault_hit(NULL, (store_point)p), 0);
    cr_assert_eq(store_fault_crashes_next(NULL, STORE_POINT_LOG_TORN), 0);
}

Test(store_faults, fail_window_counts_passages_of_its_point_only) {
    store_fault_plan plan;
    char err[256];
    cr_assert_eq(store_fault_plan_parse("fail=log-fsync:ENOSPC:3:2", &plan, err, sizeof err), 0, "%s", err);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_WRITE), 0);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_FSYNC), 0);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_FSYNC), 0);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_FSYNC), -ENOSPC);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_FSYNC), -ENOSPC);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_FSYNC), 0);
    cr_assert_eq(plan.passes[STORE_POINT_LOG_WRITE], 1);
    cr_assert_eq(plan.passes[STORE_POINT_LOG_FSYNC], 5);
    cr_assert_eq(store_fault_plan_parse("fail=log-write:SHORT:1:1,crash=log-torn:2", &plan, err, sizeof err), 0);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_WRITE), STORE_FAULT_SHORT);
    cr_assert_eq(store_fault_crashes_next(&plan, STORE_POINT_LOG_TORN), 0);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_LOG_TORN), 0);
    cr_assert_eq(store_fault_crashes_next(&plan, STORE_POINT_LOG_TORN), 1);
}

Test(store_faults, crash_exits_with_its_code, .exit_code = STORE_FAULT_CRASH_EXIT) {
    store_fault_plan plan;
    char err[256];
    cr_assert_eq(store_fault_plan_parse("crash=snapshot:2", &plan, err, sizeof err), 0);
    cr_assert_eq(store_fault_hit(&plan, STORE_POINT_SNAPSHOT), 0);
    store_fault_hit(&plan, STORE_POINT_SNAPSHOT);
    cr_assert_fail("did not crash");
}

Test(store_faults, bad_specs_are_named) {
    store_fault_plan plan;
    char err[256];
    const char *bad[] = {"crash=nowhere:1", "crash=log-write:0", "crash=log-write", "fail=log-write:EPERM:1:1",
                         "fail=log-torn:EIO:1:1", "fail=load:EIO:1", "boom", "fail=load:EIO:x:1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cr_assert_eq(store_fault_plan_parse(bad[i], &plan, err, sizeof err), -EINVAL, "%s", bad[i]);
        cr_assert_not_null(strstr(err, bad[i]), "%s", err);
    }
}
