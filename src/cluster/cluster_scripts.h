/*
 * The cluster's Lua scripts and key names. Every key of a document shares the
 * hash tag {d:<name>} so Redis Cluster keeps them on one shard (a script may
 * only touch keys of one slot). The scripts are the only writers of a
 * document's keys, so each check-and-write is atomic in Redis.
 */
#ifndef RINGPAD_CLUSTER_SCRIPTS_H
#define RINGPAD_CLUSTER_SCRIPTS_H

#include <stddef.h>
#include <stdint.h>

typedef enum cluster_script_id {
    CLUSTER_SCRIPT_ACQUIRE = 0,  /* owner, epoch | node, lease_ms -> {1, token} or {0, holder} */
    CLUSTER_SCRIPT_RENEW = 1,    /* owner[, meta] | token, lease_ms -> 1, 0 (not the owner), -1 (deleted) */
    CLUSTER_SCRIPT_RELEASE = 2,  /* owner | token -> 1 or 0 */
    CLUSTER_SCRIPT_APPEND = 3,   /* owner, meta, log, ids | token, v, id, by, time, op[, codepoints, bytes] -> {status, v} */
    CLUSTER_SCRIPT_SNAP = 4,     /* owner, snap, log, ids, base | token, v, text, trim_below[, before_ms] -> 1 or 0 */
    CLUSTER_SCRIPT_DELETE = 5,   /* owner, meta, log, ids, snap, base | time -> the next version, or -1 */
    CLUSTER_SCRIPT_COUNT = 6,
} cluster_script_id;

/* The append's outcomes (the first element of its reply). */
typedef enum cluster_append_status {
    CLUSTER_APPEND_NOTOWNER = 0,   /* the token is not the owner's: nothing written */
    CLUSTER_APPEND_OK = 1,         /* written at v */
    CLUSTER_APPEND_DUPLICATE = 2,  /* the id is in the log at v: nothing written */
    CLUSTER_APPEND_CONFLICT = 3,   /* the log is at v, not at the expected version: nothing written */
    CLUSTER_APPEND_DELETED = 4,    /* not the owner: the document was deleted; nothing written */
} cluster_append_status;

typedef enum cluster_key {
    CLUSTER_KEY_OWNER = 0,
    CLUSTER_KEY_EPOCH = 1,
    CLUSTER_KEY_LOG = 2,
    CLUSTER_KEY_META = 3,
    CLUSTER_KEY_SNAP = 4,
    CLUSTER_KEY_IDS = 5,           /* op id -> version, trimmed with the log */
    CLUSTER_KEY_PRESENCE = 6,      /* the channel of cursors and leaves (PUBLISH: may be lost) */
    CLUSTER_KEY_BASE = 7,          /* the text at the oldest retained version (absent: the log starts at 0) */
    CLUSTER_KEY_COUNT = 8,
} cluster_key;

#define CLUSTER_SHA_HEX 41

const char *cluster_script_text(cluster_script_id id);
/* The script's SHA-1 in hex (what EVALSHA names), computed here. */
void cluster_script_sha(cluster_script_id id, char out[CLUSTER_SHA_HEX]);
/* prefix{d:name}:suffix into out (cap bytes); its length, or 0 when it does not fit. */
size_t cluster_key_name(const char *prefix, const char *name, size_t name_len, cluster_key key, char *out,
                        size_t cap);

#endif /* RINGPAD_CLUSTER_SCRIPTS_H */
