/*
 * The process around the workers: listeners, worker threads, signals,
 * graceful shutdown. One server per process in production; tests may run
 * one in-process on an ephemeral port.
 */
#ifndef RINGPAD_SERVER_H
#define RINGPAD_SERVER_H

#include "base/config.h"
#include "io/shared.h"

#include <stdint.h>

typedef struct server server;

/* Loads the web root, binds every worker's SO_REUSEPORT listener (resolving
 * port 0 on the first) and spawns the workers. Returns 0 or a negative errno;
 * on success the startup line has been logged. */
int server_start(const config *cfg, server **out);

uint16_t server_port(const server *s);

/* Reloads the TLS certificate and key for new connections (SIGHUP). Returns
 * 0, -ENOTSUP without TLS, or a tls_status (the old pair stays; logged). */
int server_reload_tls(server *s);

/* Asks every worker to drain and stop (thread-safe, async-signal-unsafe). */
void server_request_stop(server *s);

/* Waits for every worker to finish, then frees everything. Returns 0 when all
 * connections closed within the grace period, 1 if some were cut. */
int server_wait_and_destroy(server *s);

/*
 * Raises the soft RLIMIT_NOFILE for `want` connections (0: as far as the hard
 * limit goes) and returns the connection limit to use: `want`, or for 0 what
 * the limit allows. Warns only when an explicit `want` does not fit.
 */
uint32_t server_fit_fd_limit(uint32_t want);

/* main: start, wait for SIGTERM/SIGINT (SIGPIPE ignored; SIGHUP reloads TLS), stop, wait.
 * Returns the process exit code. */
int server_run(const config *cfg);

#endif /* RINGPAD_SERVER_H */
