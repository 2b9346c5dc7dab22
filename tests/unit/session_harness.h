/* One worker's session layer without sockets or threads: a ring only for
 * the log's write + fdatasync, disk jobs inline, every document owned here,
 * and sessions writing to sinks that record their frames and close. */
#ifndef RINGPAD_TESTS_SESSION_HARNESS_H
#define RINGPAD_TESTS_SESSION_HARNESS_H

#include "base/config.h"
#include "collab/session.h"
#include "io/ring.h"

#include <stdbool.h>
#include <stdint.h>

#define HARNESS_MAX_FRAMES 256

/* What a session sent: the JSON of each frame, then its close, if any. */
typedef struct rec_sink {
    char *frames[HARNESS_MAX_FRAMES];
    int count;
    int seen;                       /* frames already taken by harness_next */
    bool closed;
    uint16_t close_code;
    char close_reason[64];
    int sent_after_close;           /* frames offered after the close (dropped) */
} rec_sink;

typedef struct harness {
    worker w;
    server_shared shared;
    config cfg;
    metrics_worker m;
    mailbox_target targets[1];
    char dir[64];
    session_worker *sw;
} harness;

/* Defaults with a temporary data dir; tune (may be NULL) adjusts the
 * configuration before the session layer starts. */
void harness_start(harness *h, void (*tune)(config *cfg));
/* Stops the session layer and removes the data dir. */
void harness_stop(harness *h);
/* Stops and starts the session layer on the same data dir (a restart). */
void harness_restart(harness *h);

struct session *harness_open(harness *h, rec_sink *r);
void harness_close(harness *h, struct session *s);
/* harness_close, then rec_sink_free: the end of a test's connection. */
void harness_end(harness *h, struct session *s, rec_sink *r);
/* One text message, then the owner's work until nothing is left to do
 * (requests, log flushes and their completions, fan-out). */
void harness_send(harness *h, struct session *s, const char *json);
void harness_pump(harness *h);
/* The timer: the session layer's tick hooks, then the work they started. */
void harness_tick(harness *h);

/* The next frame not yet taken (NULL when there is none). */
const char *harness_next(rec_sink *r);
/* Asserts the next frame is exactly `json`. */
void harness_expect(rec_sink *r, const char *json);
/* Asserts the next frame is an error with this code and ref (NULL: none). */
void harness_expect_error(rec_sink *r, const char *code, const char *ref);
/* Asserts nothing more was sent. */
void harness_expect_none(rec_sink *r);
void rec_sink_free(rec_sink *r);

/* A token signed with secret for sub, with the grants "pattern:role" given
 * (NULL-terminated), valid for an hour (exp_offset_s: seconds from now). */
void harness_token(const char *secret, const char *sub, const char *const *grants, int64_t exp_offset_s,
                   char *out, size_t cap);

#endif
