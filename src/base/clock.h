/*
 * The server's clocks, in one place: the monotonic clock every deadline,
 * timer and latency uses, and the wall clock stamped on ops and logs.
 */
#ifndef RINGPAD_CLOCK_H
#define RINGPAD_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds: deadlines and timers. */
uint64_t clock_mono_ms(void);
/* CLOCK_MONOTONIC in microseconds: the clock of every latency histogram. */
uint64_t clock_mono_us(void);
/* CLOCK_REALTIME in milliseconds since the Unix epoch: when an op was applied. */
int64_t clock_wall_ms(void);
/* CLOCK_REALTIME_COARSE in seconds: HTTP dates and token expiry, which need
 * no more than the second (the coarse clock skips the vDSO's counter read). */
int64_t clock_wall_s(void);

#endif /* RINGPAD_CLOCK_H */
