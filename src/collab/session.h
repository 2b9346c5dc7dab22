/*
 * Sessions: the ringpad.v1 protocol on one /ws connection, and the worker's
 * side of the document layer.
 *
 * A session decodes each text message, checks what only the connection
 * knows (hello and token, grants and roles, which documents it has open,
 * the open-document limit, the presence rate) and turns the rest into a
 * docs_request for the document's owner worker: posted through the mailbox,
 * or queued locally when this worker owns the document. Every request is
 * executed at the end of the loop iteration, never from inside a delivery,
 * so a connection closing while frames are fanned out cannot change a
 * document under its own feet.
 *
 * Frames come back through the fanout, addressed by session key; a key whose
 * session has gone (slot generation changed) is ignored.
 *
 * A session never sees its connection: it writes to a session_sink (send a
 * frame, close with a code). The WebSocket connection is one sink
 * (session_ws.c); the unit tests use one that records frames, so the whole
 * state machine runs without sockets.
 */
#ifndef RINGPAD_SESSION_H
#define RINGPAD_SESSION_H

#include "proto/auth.h"
#include "base/config.h"
#include "collab/docs.h"
#include "collab/fanout.h"
#include "io/mailbox.h"
#include "proto/protocol.h"

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct worker;
struct session;

/* Where a session's frames go. send takes a borrowed reference and returns
 * 0, or a negative error when the peer can no longer receive (the frame is
 * dropped: the peer is closing). close sends a close with `code` and
 * `reason` after the frames already sent, then ends the connection; frames
 * sent after it are dropped. */
typedef struct session_sink_ops {
    int (*send)(void *ctx, rbuf *frame);
    void (*close)(void *ctx, uint16_t code, const char *reason);
} session_sink_ops;

typedef struct session_sink {
    const session_sink_ops *ops;
    void *ctx;
} session_sink;

/* Close code after `unauthorized`. */
#define SESSION_CLOSE_UNAUTHORIZED 4401
#define SESSION_SERVER_NAME "ringpad/0.1"
/* Close code after messages for the connection were lost between workers
 * (error `internal` first): the client reconnects and re-opens. */
#define SESSION_CLOSE_LOST 1011
/* Requests run per end-of-iteration pass at most (more wait for the next). */
#define SESSION_MAX_LOCAL_PER_FLUSH 100000u

/* A caller without a session waiting for the owners' answers (a REST call,
 * an event stream): gets each message sent to its key (a frame, or for a
 * typed key a packed proto_rest_answer); returns true when it needs no more
 * (the waiter is removed). */
typedef bool (*session_waiter_fn)(void *ctx, rbuf *frame);

typedef struct session_worker {
    struct worker *w;
    const config *cfg;
    uint32_t self;
    uint32_t count_workers;
    fanout out;
    docs *docs;
    nameset *names;                 /* the documents of the data dir (shared by the workers) */
    proto_limits limits;
    proto_msg msg;                  /* decode scratch */
    ot_buf enc;                     /* encode scratch */
    bool auth_on;
    auth_secret secret;
    auth_claims claims;             /* hello: token verification scratch */
    /* session slots: key = (worker, slot, generation) */
    struct session_slot *slots;
    uint32_t count_slots;
    uint32_t cap_slots;
    uint32_t free_head;             /* UINT32_MAX: none */
    /* requests for documents this worker owns, run at the end of the iteration */
    docs_request *local_head;
    docs_request *local_tail;
    struct cluster *cluster;        /* cluster mode (--redis), else NULL */
    bool redis_down;                /* counted in shared->redis_down */
} session_worker;

/* The session layer of worker w (the loop keeps it as an opaque pointer:
 * it knows none of its users). NULL before setup and after the exit hook. */
session_worker *session_worker_of(const struct worker *w);

/* After worker_init, on the worker's thread: opens the data dir, resolves the
 * secret, and registers with the worker: its mail, its logs' completions,
 * and hooks (before sleep: run local requests, submit log flushes, post
 * fan-out; tick: the documents' timers; exit: drain and free). */
int session_worker_init(struct worker *w);
/* init with the disk work on a helper thread (disk_thread) or inline (unit
 * tests: loads and deletes complete before the call that needs them returns). */
int session_worker_init_with(struct worker *w, bool disk_thread);

/* Sets up sw->out: frames for this worker's keys reach their sessions or
 * waiters, lost ones kill them (session_kill). */
int session_worker_init_fanout(session_worker *sw, struct io_uring *ring, mailbox_target *targets);

/* A session writing to `sink` (NULL on no memory: close the connection). */
struct session *session_open(session_worker *sw, session_sink sink);
/* Its id, as sent in welcome.session ("s<worker>-<slot>-<generation>"). */
const char *session_id(const struct session *s);
/* The connection is going away: leave every document. */
void session_close(struct session *s);
/* One complete text message. */
void session_on_text(struct session *s, const uint8_t *data, size_t len);

/* A waiter slot gets a key like a session; what is sent to it calls fn until
 * it returns true. Returns the key, 0 on no memory. */
uint64_t session_waiter_add(session_worker *sw, session_waiter_fn fn, void *ctx);
/* The same with a typed key (fanout_key_typed): a REST call's or an event
 * stream's, whose acks and errors come as packed proto_rest_answers. */
uint64_t session_waiter_add_typed(session_worker *sw, session_waiter_fn fn, void *ctx);
void session_waiter_remove(session_worker *sw, uint64_t key);
/* Sends a request to the owner of req->doc (takes the caller's reference). */
int session_route(session_worker *sw, docs_request *req);
/* Fills sw->names from the data dir the first time any worker asks (a
 * directory scan once per process, never per listing). 0 or a negative errno. */
int session_worker_fill_names(session_worker *sw);
/* Runs the requests queued for documents this worker owns (at most
 * SESSION_MAX_LOCAL_PER_FLUSH). */
void session_worker_run_local(session_worker *sw, int64_t now_ms);
/* The session or waiter `key` missed a message: error `internal`, then close
 * 1011 (a waiter gets the error as its answer). A stale key is ignored. */
void session_kill(session_worker *sw, uint64_t key);

/* Open mode or a verified token: the role on a document. */
auth_role session_role_for(const session_worker *sw, const auth_claims *claims, const char *doc, size_t len);

#endif /* RINGPAD_SESSION_H */
