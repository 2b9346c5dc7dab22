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

#endif /* RINGPAD_CLOCK_H */
