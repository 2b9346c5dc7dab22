/*
 * Fan-out of server -> client frames. A message is encoded once into one
 * WebSocket text frame (an rbuf: header + JSON) and every receiver's send
 * queue holds a reference to the same bytes, on this worker and on the
 * others (rbuf counts are atomic).
 *
 * Receivers are named by a session key: (worker, slot, generation). A frame
 * for a session on this worker goes straight to its connection (the `local`
 * callback); for another worker the keys are gathered into one mailbox
 * message per (frame, worker) and posted at fanout_flush or when a different
 * frame comes for that worker. Messages to one worker keep their order, so a
 * session sees frames in the order the owner produced them.
 *
 * Frames are sent without permessage-deflate (RSV1 clear), which RFC 7692
 * allows on a connection that negotiated it: one compressed copy per
 * receiver would defeat the sharing.
 */
#ifndef RINGPAD_FANOUT_H
#define RINGPAD_FANOUT_H

#include "io/mailbox.h"
#include "base/rbuf.h"
#include "proto/docname.h"

#include <liburing.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Mailbox message kinds of the fan-out (the documents' are DOCS_MSG_*: one
 * number space, 0x52xx). */
enum {
    FANOUT_MSG_DELIVER = 0x5201,   /* fanout_deliver: frame to sessions */
    FANOUT_MSG_DROP = 0x5202,      /* fanout_deliver: the sessions no longer have `doc` open */
    FANOUT_MSG_KILL = 0x5204,      /* fanout_deliver: frames for these sessions were lost: close them */
};

/* Keys gathered per (frame, target) before a message is posted anyway. */
#define FANOUT_MAX_KEYS_PER_MSG 4096u
/* Messages per target waiting in the outbox because the mailbox refused them
 * (full, or no SQE). Beyond it a message is not queued: its receivers are
 * killed (FANOUT_MSG_KILL), so nobody silently misses a frame. */
#define FANOUT_MAX_OUTBOX_MSGS 65536u

/* 8 bits of worker, 24 of generation, 32 of slot: 31 bits of index and, on
 * top, FANOUT_KEY_TYPED. Key 0 is nobody. */
static inline uint64_t fanout_key(uint32_t worker, uint32_t slot, uint32_t gen) {
    return ((uint64_t)(worker & 0xFFu) << 56) | ((uint64_t)(gen & 0xFFFFFFu) << 32) | (slot & 0x7FFFFFFFu);
}
static inline uint32_t fanout_key_worker(uint64_t key) { return (uint32_t)(key >> 56); }
static inline uint32_t fanout_key_gen(uint64_t key) { return (uint32_t)(key >> 32) & 0xFFFFFFu; }
static inline uint32_t fanout_key_slot(uint64_t key) { return (uint32_t)key & 0x7FFFFFFFu; }
/* The receiver (a REST call, an event stream) reads the answers to its own
 * requests, acks and errors, as typed answers (a packed proto_rest_answer),
 * never as ringpad.v1 frames; what a subscriber is broadcast (an event
 * stream's ops) stays frames. The key carries it, so whoever answers a
 * request (the owner, a cluster follower relaying the owner's refusal, a
 * kill) writes what the receiver reads without being told. */
#define FANOUT_KEY_TYPED (1ull << 31)
static inline bool fanout_key_typed(uint64_t key) { return (key & FANOUT_KEY_TYPED) != 0; }

/* A text frame holding `json` (server frames are unmasked). NULL on no memory. */
rbuf *fanout_frame(const char *json, size_t len_bytes);
/* The JSON inside a frame made by fanout_frame (tests, REST). -EINVAL if not one. */
int fanout_frame_payload(const rbuf *frame, const char **json, size_t *len_bytes);

typedef struct fanout_deliver {
    mailbox_msg hdr;
    rbuf *frame;                   /* DELIVER: one reference owned by the message */
    char doc[DOCNAME_MAX_BYTES + 1]; /* DROP */
    uint32_t doc_len;
    uint32_t count_keys;
    uint32_t cap_keys;
    uint64_t keys[];               /* grows by doubling up to FANOUT_MAX_KEYS_PER_MSG */
} fanout_deliver;

_Static_assert(offsetof(fanout_deliver, hdr) == 0, "a delivered mailbox_msg is cast back to its fanout_deliver");

/* Delivery on this worker: a frame for one session (a borrowed reference),
 * or a drop of `doc` for it (frame NULL). */
typedef void (*fanout_local_fn)(void *ctx, uint64_t key, rbuf *frame, const char *doc, size_t doc_len);

/* Sessions whose stream has a gap (a frame could not be delivered): they
 * must be told and closed (session.c: error + close 1011). */
typedef void (*fanout_kill_fn)(void *ctx, uint64_t key);

/* Per target: messages the mailbox refused, retried in order, and the keys
 * to kill once there is room again. */
typedef struct fanout_outbox {
    mailbox_msg **msgs;            /* ring of max_outbox_msgs, allocated on first use */
    uint32_t head;
    uint32_t count;
    uint64_t *doomed;              /* keys (on that target) to kill, deduplicated when full */
    uint32_t count_doomed;
    uint32_t cap_doomed;
} fanout_outbox;

typedef struct fanout {
    uint32_t self;
    uint32_t count_workers;
    struct io_uring *ring;         /* NULL: single worker tests, every key is local */
    mailbox_target *targets;
    fanout_local_fn local;
    void *local_ctx;
    fanout_deliver **pending;      /* [count_workers] open DELIVER message per target */
    fanout_outbox *outbox;         /* [count_workers] */
    uint32_t max_outbox_msgs;      /* FANOUT_MAX_OUTBOX_MSGS (tests shrink it) */
    fanout_kill_fn kill;           /* NULL: kills are ignored */
    uint64_t count_post_failures;  /* messages that could not even be queued (no memory) */
    uint64_t count_deferred;       /* posts that waited in an outbox */
    uint64_t count_killed;         /* keys killed because a frame for them was lost */
    rbuf_pool *frame_pool;         /* frames come from here when set (the worker's pool) */
} fanout;

/* fanout_frame from f's frame pool (no malloc per op once warmed up). */
rbuf *fanout_frame_in(fanout *f, const char *json, size_t len_bytes);

int fanout_init(fanout *f, uint32_t self, uint32_t count_workers, struct io_uring *ring,
                mailbox_target *targets, fanout_local_fn local, void *local_ctx);
void fanout_destroy(fanout *f);

void fanout_set_kill(fanout *f, fanout_kill_fn kill);

/* Posts any mailbox message to worker `to` in order after everything posted
 * to it before (the caller keeps its reference): at once, or from the outbox
 * at a later fanout_flush when the mailbox refuses it. -ENOBUFS when the
 * outbox is full (the message is not sent: the caller must tell whoever
 * waits for it), -ENOMEM. */
int fanout_post(fanout *f, uint32_t to, mailbox_msg *msg);

/* These sessions (all on worker `to`) missed a frame: kill them, after the
 * frames already queued for them. Local keys are killed at once. */
void fanout_doom(fanout *f, uint32_t to, const uint64_t *keys, uint32_t count_keys);

/* A message posted from this ring failed after submission (its SENT CQE):
 * its receivers (DELIVER/DROP/KILL) are doomed. Returns true when handled;
 * REQUEST messages are the caller's (false). Does not drop the reference. */
bool fanout_on_post_failed(fanout *f, uint32_t to, const mailbox_msg *msg);

/* Messages waiting in the outbox for `to`. */
uint32_t fanout_outbox_count(const fanout *f, uint32_t to);

/* Queues `frame` for the session `key` (the caller keeps its reference). */
void fanout_send(fanout *f, uint64_t key, rbuf *frame);
/* Tells the session `key` that `doc` is no longer open for it (after the
 * frames already queued for it). */
void fanout_drop(fanout *f, uint64_t key, const char *doc, size_t doc_len);
/* Retries the outboxes in order, posts every gathered message and the kills
 * that have room (end of a loop iteration, and the timer). */
void fanout_flush(fanout *f);

/* Receiving side: runs a DELIVER, DROP or KILL message through `local` / `kill`. */
void fanout_on_message(fanout *f, const fanout_deliver *msg);

#endif /* RINGPAD_FANOUT_H */
