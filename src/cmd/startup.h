/*
 * Checks before the workers start: the auth mode (open mode is announced
 * loudly and needs --allow-open on a non-loopback host) and the data dir
 * (created if missing; every document recovered once, so a torn tail is
 * truncated and logged now and a corrupt record stops the start with a
 * message naming the file and offset).
 */
#ifndef RINGPAD_STARTUP_H
#define RINGPAD_STARTUP_H

#include "base/config.h"

#include <stdbool.h>

/* 0 to start; otherwise the process exit code (2: configuration, 1: data). */
int startup_check(const config *cfg, char *const envp[]);

/* The auth half of startup_check: 0, or 2 with the reason logged. */
int startup_check_auth(const config *cfg);

/* True for 127.0.0.0/8 and ::1. */
bool startup_host_is_loopback(const char *host);

#endif /* RINGPAD_STARTUP_H */
