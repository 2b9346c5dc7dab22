#include "cluster/cluster_scripts.h"

#include <stdio.h>
#include <string.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hash.h>

/* Take the lease with a new epoch in one step: a failed attempt burns no
 * epoch, and no other node can slip between the INCR and the SET. */
static const char acquire_lua[] =
    "local cur = redis.call('GET', KEYS[1])\n"
    "if cur then return {0, cur} end\n"
    "local e = redis.call('INCR', KEYS[2])\n"
    "local tok = ARGV[1] .. ':' .. e\n"
    "redis.call('SET', KEYS[1], tok, 'PX', ARGV[2])\n"
    "return {1, tok}\n";

/* -1: the lease is gone because the document was deleted (meta, when given). */
static const char renew_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('PEXPIRE', KEYS[1], ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "if KEYS[2] and redis.call('HGET', KEYS[2], 'deleted') then return -1 end\n"
    "return 0\n";

static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  redis.call('DEL', KEYS[1])\n"
    "  return 1\n"
    "end\n"
    "return 0\n";

/* The fence: the owner's token, then a known id (its original version, so a
 * resend across a failover is acked once), then the expected version. The
 * stream ID is the op's base version, so the log's IDs are the versions.
 * The text's length after the op (codepoints, bytes) goes to meta with the
 * version, for the listing. */
static const char append_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then\n"
    "  if redis.call('HGET', KEYS[2], 'deleted') then return {4, 0} end\n"
    "  return {0, 0}\n"
    "end\n"
    "if ARGV[3] ~= '' then\n"
    "  local old = redis.call('HGET', KEYS[4], ARGV[3])\n"
    "  if old then return {2, tonumber(old)} end\n"
    "end\n"
    "local v = tonumber(redis.call('HGET', KEYS[2], 'version') or '0')\n"
    "if v ~= tonumber(ARGV[2]) then return {3, v} end\n"
    "redis.call('XADD', KEYS[3], v .. '-1', 'op', ARGV[6], 'id', ARGV[3], 'by', ARGV[4], 'time', ARGV[5])\n"
    "if ARGV[8] then redis.call('HSET', KEYS[2], 'version', v + 1, 'codepoints', ARGV[7], 'bytes', ARGV[8])\n"
    "else redis.call('HSET', KEYS[2], 'version', v + 1) end\n"
    "if ARGV[3] ~= '' then redis.call('HSET', KEYS[4], ARGV[3], v) end\n"
    "return {1, v}\n";

/* A snapshot only moves forward. The log is trimmed only down to a version
 * whose text is kept, so that every retained version can be rebuilt: the
 * base hash holds the text at the oldest retained version (version, text)
 * and a candidate (next_version, next_text), an earlier snapshot. Once the
 * candidate is at or below trim_below and, when before_ms is given (an age
 * limit), the entry just below it (an op or a tombstone) was written before
 * before_ms, the log is cut there (XTRIM MINID, never DEL: the stream's last
 * ID must survive), the ids of the trimmed ops leave the dedupe hash, the
 * candidate becomes the base and this snapshot the next candidate. So the log keeps at least the ops
 * asked for (by count or by age) and at most about twice as many, with three
 * texts at most in Redis. The age test reads one entry (the IDs are the
 * versions), so the script stays O(1) besides the trimmed ops themselves. */
static const char snap_lua[] =
    "if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end\n"
    "local sv = tonumber(redis.call('HGET', KEYS[2], 'version') or '-1')\n"
    "local v = tonumber(ARGV[2])\n"
    "if v <= sv then return 1 end\n"
    "redis.call('HSET', KEYS[2], 'version', v, 'text', ARGV[3])\n"
    "local below = tonumber(ARGV[4])\n"
    "if below <= 0 then return 1 end\n"
    "local cv = tonumber(redis.call('HGET', KEYS[5], 'next_version') or '-1')\n"
    "local before = tonumber(ARGV[5] or '0')\n"
    "local old = true\n"
    "if cv > 0 and before > 0 then\n"
    "  local last = redis.call('XRANGE', KEYS[3], (cv - 1) .. '-1', (cv - 1) .. '-1')\n"
    "  if last[1] then\n"
    "    local f = last[1][2]\n"
    "    for i = 1, #f, 2 do\n"
    "      local t = (f[i] == 'time' or f[i] == 'deleted') and tonumber(f[i + 1])\n"
    "      if t and t >= before then old = false end\n"
    "    end\n"
    "  end\n"
    "end\n"
    "if cv >= 0 and cv <= below and old then\n"
    "  local gone = redis.call('XRANGE', KEYS[3], '-', '(' .. cv .. '-0')\n"
    "  for _, e in ipairs(gone) do\n"
    "    local f = e[2]\n"
    "    for i = 1, #f, 2 do\n"
    "      if f[i] == 'id' and f[i + 1] ~= '' then redis.call('HDEL', KEYS[4], f[i + 1]) end\n"
    "    end\n"
    "  end\n"
    "  redis.call('XTRIM', KEYS[3], 'MINID', cv .. '-0')\n"
    "  redis.call('HSET', KEYS[5], 'version', cv, 'text', redis.call('HGET', KEYS[5], 'next_text'))\n"
    "  cv = -1\n"
    "end\n"
    "if cv < 0 then redis.call('HSET', KEYS[5], 'next_version', v, 'next_text', ARGV[3]) end\n"
    "return 1\n";

/* A deletion, by any node: the lease goes (a live owner is fenced out: its
 * next append or renewal fails, and says why), the log keeps one entry, a
 * tombstone at the next version (ID v-1 with a `deleted` field, which
 * followers read like an op), everything before it is trimmed (never DEL: a
 * follower's XREAD resumes from its last ID, so IDs must only grow), the
 * snapshot and the base are the empty text at v+1, and meta says deleted at
 * v+1. A document created again under that name starts
 * at v+1 on an empty text (base), so no client can take its old version for
 * one of the new document. -1: there is no such document. */
static const char delete_lua[] =
    "local v = redis.call('HGET', KEYS[2], 'version')\n"
    "if not v or redis.call('HGET', KEYS[2], 'deleted') then return -1 end\n"
    "v = tonumber(v)\n"
    "redis.call('DEL', KEYS[1], KEYS[4], KEYS[5], KEYS[6])\n"
    "redis.call('XADD', KEYS[3], v .. '-1', 'deleted', ARGV[1])\n"
    "redis.call('XTRIM', KEYS[3], 'MINID', v .. '-1')\n"
    "redis.call('HSET', KEYS[6], 'version', v + 1, 'text', '')\n"
    "redis.call('HSET', KEYS[5], 'version', v + 1, 'text', '')\n"
    "redis.call('HSET', KEYS[2], 'version', v + 1, 'deleted', '1', 'codepoints', 0, 'bytes', 0)\n"
    "return v + 1\n";

const char *cluster_script_text(cluster_script_id id) {
    switch (id) {
    case CLUSTER_SCRIPT_ACQUIRE: return acquire_lua;
    case CLUSTER_SCRIPT_RENEW: return renew_lua;
    case CLUSTER_SCRIPT_RELEASE: return release_lua;
    case CLUSTER_SCRIPT_APPEND: return append_lua;
    case CLUSTER_SCRIPT_SNAP: return snap_lua;
    case CLUSTER_SCRIPT_DELETE: return delete_lua;
    case CLUSTER_SCRIPT_COUNT: break;
    }
    return "";
}

void cluster_script_sha(cluster_script_id id, char out[CLUSTER_SHA_HEX]) {
    const char *text = cluster_script_text(id);
    byte digest[WC_SHA_DIGEST_SIZE];
    if (wc_ShaHash((const byte *)text, (word32)strlen(text), digest) != 0) {
        out[0] = '\0';
        return;
    }
    for (int i = 0; i < WC_SHA_DIGEST_SIZE; i++) snprintf(out + 2 * i, 3, "%02x", digest[i]);
}

size_t cluster_key_name(const char *prefix, const char *name, size_t name_len, cluster_key key, char *out,
                        size_t cap) {
    static const char *const suffix[CLUSTER_KEY_COUNT] = {"owner", "epoch", "log", "meta", "snap", "ids", "presence",
                                                                 "base"};
    if ((unsigned)key >= CLUSTER_KEY_COUNT || name_len > 1u << 20) return 0;
    int n = snprintf(out, cap, "%s{d:%.*s}:%s", prefix, (int)name_len, name, suffix[key]);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}
