/*
 * Broadcasts parsed once: with N editors on a document every op reaches the
 * process N - 1 times as the same frame, and each client used to scan the
 * JSON and parse the op itself. The cache keeps the parse of each distinct
 * broadcast (type "op") frame, keyed by a hash of its bytes and checked
 * against a copy of them, so a hash collision costs a parse, never a wrong
 * message. Other messages (acks, snapshots, errors: one receiver each) are
 * parsed into a scratch slot and not kept.
 *
 * Bounded: LG_MSGCACHE_SLOTS entries, direct-mapped (a new frame replaces
 * the one in its slot), frames up to LG_MSGCACHE_MAX_FRAME_BYTES. One cache
 * per load generator thread (no locks: a thread's clients share it). A
 * returned message is valid until the next lg_msgcache_get.
 */
#ifndef RINGPAD_LG_MSGCACHE_H
#define RINGPAD_LG_MSGCACHE_H

#include "client.h"

#include <stddef.h>
#include <stdint.h>

#define LG_MSGCACHE_SLOTS 1024u                   /* power of two: ops in flight at once, with room */
#define LG_MSGCACHE_MAX_FRAME_BYTES (16u * 1024u) /* larger broadcasts are parsed per client */

typedef struct lg_msgcache_slot {
    uint64_t hash;
    char *bytes;               /* the frame (the message's members point here) */
    size_t len, cap;
    bool used;
    lg_msg msg;
    ot_op op;
} lg_msgcache_slot;

typedef struct lg_msgcache {
    lg_msgcache_slot *slots;
    lg_msgcache_slot scratch;  /* the last message that was not kept */
    uint64_t hits, misses, collisions, uncached;
} lg_msgcache;

/* 0 or -ENOMEM. */
int lg_msgcache_init(lg_msgcache *mc);
void lg_msgcache_free(lg_msgcache *mc);

/* The parse of one server message: 0 and *out, or LG_CLIENT_ERR_BAD_MESSAGE
 * (as lg_msg_parse). A failed copy (no memory) is not an error: the message
 * is then returned uncached. */
int lg_msgcache_get(lg_msgcache *mc, const char *json, size_t len, const lg_msg **out);

/* The key: a 64-bit hash of the bytes. */
uint64_t lg_msgcache_hash(const char *p, size_t len);

#endif
