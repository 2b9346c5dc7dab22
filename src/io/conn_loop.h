/*
 * A worker's connections as the loop sees them: the listener (multishot
 * accept), the timer lists, the per-iteration flush of the connections that
 * queued bytes, and the drain when the stop request comes. conn_loop_init
 * registers all of it with the worker (hooks and the accept completion).
 */
#ifndef RINGPAD_CONN_LOOP_H
#define RINGPAD_CONN_LOOP_H

#include "io/ring.h"

/* After worker_init, on the worker's thread. Returns 0 or -ENOSPC. */
int conn_loop_init(worker *w);

#endif /* RINGPAD_CONN_LOOP_H */
