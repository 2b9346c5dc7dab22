/*
 * Storage fault injection for tests: named points on the storage path where
 * a test makes the process crash (_exit, as a power cut would stop it) or an
 * I/O call fail. Production never builds a plan: the hooks take a NULL plan
 * and return at once.
 *
 * A plan is per worker (its document table owns it) and set from the
 * RINGPAD_STORE_FAULTS environment variable, a comma-separated list of
 *
 *   crash=<point>:<n>            _exit(STORE_FAULT_CRASH_EXIT) at the n-th passage (1-based)
 *   fail=<point>:<errno>:<n>:<k> passages n .. n+k-1 fail with errno (EIO, ENOSPC,
 *                                EROFS, EDQUOT) or SHORT (a write lands half way)
 *
 * Points: log-write (a log write completed, its fsync not yet), log-fsync (a
 * log fsync completed, nothing acked yet), log-torn (crash only: as
 * log-write, but the write is cut half way first: a torn record), segment
 * (compaction's new segment about to be created), snapshot (compaction's
 * snapshot about to be written), load (a document about to be read).
 * log-* run on the worker, the others on its disk helper thread: each point's
 * counter is touched by one thread only.
 */
#ifndef RINGPAD_STORE_FAULTS_H
#define RINGPAD_STORE_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#define STORE_FAULT_CRASH_EXIT 86
#define STORE_FAULT_SHORT 1   /* a fail "errno" that means: half the bytes */

typedef enum store_point {
    STORE_POINT_LOG_WRITE,
    STORE_POINT_LOG_FSYNC,
    STORE_POINT_LOG_TORN,
    STORE_POINT_SEGMENT,
    STORE_POINT_SNAPSHOT,
    STORE_POINT_LOAD,
    STORE_POINT_COUNT,
} store_point;

typedef struct store_fault_plan {
    int crash_point;              /* a store_point, or -1 */
    uint32_t crash_at;
    int fail_point;               /* a store_point, or -1 */
    int fail_errno;               /* positive errno, or STORE_FAULT_SHORT */
    uint32_t fail_from, fail_count;
    uint32_t passes[STORE_POINT_COUNT];
} store_fault_plan;

/* 0, or -EINVAL with err naming what is wrong. */
int store_fault_plan_parse(const char *spec, store_fault_plan *out, char *err, size_t err_cap);

/* One passage through `point`. NULL plan: 0. Crashes when the plan says so;
 * otherwise 0, or the fault to inject: -errno, or STORE_FAULT_SHORT. */
int store_fault_hit(store_fault_plan *plan, store_point point);

/* Whether the next passage through `point` crashes (log-torn: the caller
 * cuts the write before calling store_fault_hit). */
int store_fault_crashes_next(const store_fault_plan *plan, store_point point);

#endif /* RINGPAD_STORE_FAULTS_H */
