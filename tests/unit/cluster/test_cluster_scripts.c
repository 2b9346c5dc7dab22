/* The cluster's scripts against a real redis-server: every outcome of the
 * lease and of the fenced append. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cluster/cluster_scripts.h"
#include "redis_fixture.h"

static test_redis r;
static char keys[CLUSTER_KEY_COUNT][128];

static void start(void) {
    test_redis_start(&r);
    for (int k = 0; k < CLUSTER_KEY_COUNT; k++)
        cr_assert_gt(cluster_key_name("t:", "doc", 3, (cluster_key)k, keys[k], sizeof keys[k]), 0);
}

static void stop(void) { test_redis_stop(&r); }

/* EVALSHA of the script (loaded first, so its SHA is checked too). */
static redisReply *run(cluster_script_id id, int nkeys, const cluster_key *ks, int nargs, const char **args) {
    char sha[CLUSTER_SHA_HEX];
    cluster_script_sha(id, sha);
    const char *load[] = {"SCRIPT", "LOAD", cluster_script_text(id)};
    redisReply *l = test_redis_cmd(&r, 3, load);
    cr_assert_eq(l->type, REDIS_REPLY_STRING);
    cr_assert_str_eq(l->str, sha);
    freeReplyObject(l);
    const char *argv[16] = {"EVALSHA", sha};
    char nk[4];
    snprintf(nk, sizeof nk, "%d", nkeys);
    argv[2] = nk;
    for (int i = 0; i < nkeys; i++) argv[3 + i] = keys[ks[i]];
    for (int i = 0; i < nargs; i++) argv[3 + nkeys + i] = args[i];
    return test_redis_cmd(&r, 3 + nkeys + nargs, argv);
}

static void expect_pair(redisReply *x, long long status, long long v) {
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY, "type %d (%s)", x->type, x->type == REDIS_REPLY_ERROR ? x->str : "");
    cr_assert_eq(x->elements, 2);
    cr_assert_eq(x->element[0]->integer, status);
    cr_assert_eq(x->element[1]->integer, v);
    freeReplyObject(x);
}

static void expect_int(redisReply *x, long long v) {
    cr_assert_eq(x->type, REDIS_REPLY_INTEGER, "type %d (%s)", x->type, x->type == REDIS_REPLY_ERROR ? x->str : "");
    cr_assert_eq(x->integer, v);
    freeReplyObject(x);
}

static const cluster_key acq_keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_EPOCH};
static const cluster_key app_keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_META, CLUSTER_KEY_LOG, CLUSTER_KEY_IDS};

/* acquire for node with a lease; returns its token in tok (or the holder). */
static long long acquire(const char *node, const char *lease, char *tok, size_t cap) {
    const char *args[] = {node, lease};
    redisReply *x = run(CLUSTER_SCRIPT_ACQUIRE, 2, acq_keys, 2, args);
    cr_assert_eq(x->type, REDIS_REPLY_ARRAY);
    long long got = x->element[0]->integer;
    snprintf(tok, cap, "%s", x->element[1]->str);
    freeReplyObject(x);
    return got;
}

static redisReply *append(const char *tok, const char *v, const char *id) {
    const char *args[] = {tok, v, id, "alice", "1700000000000", "[\"x\"]"};
    return run(CLUSTER_SCRIPT_APPEND, 4, app_keys, 6, args);
}

Test(cluster_scripts, keys_share_the_documents_hash_tag) {
    char k[128];
    cr_assert_gt(cluster_key_name("p:", "a b", 3, CLUSTER_KEY_LOG, k, sizeof k), 0);
    cr_assert_str_eq(k, "p:{d:a b}:log");
    cr_assert_eq(cluster_key_name("p:", "a", 1, CLUSTER_KEY_LOG, k, 6), 0);
}

Test(cluster_scripts, the_lease_has_one_holder_and_a_new_epoch_each_time, .init = start, .fini = stop) {
    char tok[64], other[64];
    cr_assert_eq(acquire("n1", "60000", tok, sizeof tok), 1);
    cr_assert_str_eq(tok, "n1:1");
    cr_assert_eq(acquire("n2", "60000", other, sizeof other), 0);
    cr_assert_str_eq(other, "n1:1");   /* the holder */
    const char *rel[] = {tok};
    static const cluster_key owner[] = {CLUSTER_KEY_OWNER};
    expect_int(run(CLUSTER_SCRIPT_RELEASE, 1, owner, 1, rel), 1);
    cr_assert_eq(acquire("n2", "60000", other, sizeof other), 1);
    cr_assert_str_eq(other, "n2:2");
    /* the old holder's release does not free the new one's lease */
    expect_int(run(CLUSTER_SCRIPT_RELEASE, 1, owner, 1, rel), 0);
}

Test(cluster_scripts, renewal_by_a_stale_token_fails, .init = start, .fini = stop) {
    char tok[64], other[64];
    cr_assert_eq(acquire("n1", "200", tok, sizeof tok), 1);
    static const cluster_key owner[] = {CLUSTER_KEY_OWNER};
    const char *good[] = {tok, "200"};
    expect_int(run(CLUSTER_SCRIPT_RENEW, 1, owner, 2, good), 1);
    usleep(300 * 1000);   /* the lease runs out */
    cr_assert_eq(acquire("n2", "60000", other, sizeof other), 1);
    cr_assert_str_eq(other, "n2:2");
    expect_int(run(CLUSTER_SCRIPT_RENEW, 1, owner, 2, good), 0);
    const char *never[] = {"n1:0", "200"};
    expect_int(run(CLUSTER_SCRIPT_RENEW, 1, owner, 2, never), 0);
}

Test(cluster_scripts, append_outcomes, .init = start, .fini = stop) {
    char tok[64];
    cr_assert_eq(acquire("n1", "60000", tok, sizeof tok), 1);
    expect_pair(append(tok, "0", "op-a"), CLUSTER_APPEND_OK, 0);
    expect_pair(append(tok, "1", "op-b"), CLUSTER_APPEND_OK, 1);
    /* a known id answers its original version, whatever version it names */
    expect_pair(append(tok, "2", "op-a"), CLUSTER_APPEND_DUPLICATE, 0);
    expect_pair(append(tok, "7", "op-b"), CLUSTER_APPEND_DUPLICATE, 1);
    /* the expected version is not the log's: nothing written */
    expect_pair(append(tok, "5", "op-c"), CLUSTER_APPEND_CONFLICT, 2);
    expect_pair(append(tok, "1", "op-c"), CLUSTER_APPEND_CONFLICT, 2);
    /* the fence: a token that is not the owner's */
    expect_pair(append("n1:0", "2", "op-c"), CLUSTER_APPEND_NOTOWNER, 0);
    /* empty ids are never duplicates */
    expect_pair(append(tok, "2", ""), CLUSTER_APPEND_OK, 2);
    expect_pair(append(tok, "3", ""), CLUSTER_APPEND_OK, 3);
    const char *xlen[] = {"XLEN", keys[CLUSTER_KEY_LOG]};
    expect_int(test_redis_cmd(&r, 2, xlen), 4);
    const char *meta[] = {"HGET", keys[CLUSTER_KEY_META], "version"};
    redisReply *m = test_redis_cmd(&r, 3, meta);
    cr_assert_str_eq(m->str, "4");
    freeReplyObject(m);
    /* the log's IDs are the versions */
    const char *range[] = {"XRANGE", keys[CLUSTER_KEY_LOG], "1-1", "1-1"};
    redisReply *x = test_redis_cmd(&r, 4, range);
    cr_assert_eq(x->elements, 1);
    cr_assert_str_eq(x->element[0]->element[1]->element[3]->str, "op-b");
    freeReplyObject(x);
}

Test(cluster_scripts, a_stale_owner_cannot_append_after_a_takeover, .init = start, .fini = stop) {
    char old[64], tok[64];
    cr_assert_eq(acquire("n1", "100", old, sizeof old), 1);
    expect_pair(append(old, "0", "a"), CLUSTER_APPEND_OK, 0);
    usleep(200 * 1000);
    cr_assert_eq(acquire("n2", "60000", tok, sizeof tok), 1);
    expect_pair(append(old, "1", "b"), CLUSTER_APPEND_NOTOWNER, 0);
    /* the resend of an op the old owner wrote is acked once, at its version */
    expect_pair(append(tok, "1", "a"), CLUSTER_APPEND_DUPLICATE, 0);
    expect_pair(append(tok, "1", "b"), CLUSTER_APPEND_OK, 1);
}

Test(cluster_scripts, a_snapshot_trims_the_log_down_to_a_kept_text, .init = start, .fini = stop) {
    char tok[64];
    cr_assert_eq(acquire("n1", "60000", tok, sizeof tok), 1);
    expect_pair(append(tok, "0", "a"), CLUSTER_APPEND_OK, 0);
    expect_pair(append(tok, "1", "b"), CLUSTER_APPEND_OK, 1);
    expect_pair(append(tok, "2", "c"), CLUSTER_APPEND_OK, 2);
    static const cluster_key snap_keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_SNAP, CLUSTER_KEY_LOG, CLUSTER_KEY_IDS,
                                            CLUSTER_KEY_BASE};
    /* no candidate yet: nothing whose text is known to cut at; this one becomes it */
    const char *first[] = {tok, "3", "xxx", "2"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 4, first), 1);
    const char *xlen[] = {"XLEN", keys[CLUSTER_KEY_LOG]};
    expect_int(test_redis_cmd(&r, 2, xlen), 3);
    expect_pair(append(tok, "3", "d"), CLUSTER_APPEND_OK, 3);
    expect_pair(append(tok, "4", "e"), CLUSTER_APPEND_OK, 4);
    /* the next snapshot cuts at the candidate (v3 <= 4), which becomes the base */
    const char *second[] = {tok, "5", "xxxyy", "4"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 4, second), 1);
    expect_int(test_redis_cmd(&r, 2, xlen), 2);
    const char *hlen[] = {"HLEN", keys[CLUSTER_KEY_IDS]};
    expect_int(test_redis_cmd(&r, 2, hlen), 2);
    const char *base[] = {"HMGET", keys[CLUSTER_KEY_BASE], "version", "text"};
    redisReply *b = test_redis_cmd(&r, 4, base);
    cr_assert_str_eq(b->element[0]->str, "3");
    cr_assert_str_eq(b->element[1]->str, "xxx");
    freeReplyObject(b);
    const char *next[] = {"HMGET", keys[CLUSTER_KEY_BASE], "next_version", "next_text"};
    b = test_redis_cmd(&r, 4, next);
    cr_assert_str_eq(b->element[0]->str, "5");
    cr_assert_str_eq(b->element[1]->str, "xxxyy");
    freeReplyObject(b);
    /* the stream keeps its last ID: the next append still needs v5 */
    expect_pair(append(tok, "5", "f"), CLUSTER_APPEND_OK, 5);
    /* an older snapshot does not replace a newer one; a stale token writes nothing */
    const char *older[] = {tok, "1", "old", "0"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 4, older), 1);
    const char *stale[] = {"n9:9", "9", "bad", "0"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 4, stale), 0);
    const char *get[] = {"HMGET", keys[CLUSTER_KEY_SNAP], "version", "text"};
    redisReply *s = test_redis_cmd(&r, 4, get);
    cr_assert_str_eq(s->element[0]->str, "5");
    cr_assert_str_eq(s->element[1]->str, "xxxyy");
    freeReplyObject(s);
}

static redisReply *append_at(const char *tok, const char *v, const char *id, const char *time_ms) {
    const char *args[] = {tok, v, id, "alice", time_ms, "[\"x\"]"};
    return run(CLUSTER_SCRIPT_APPEND, 4, app_keys, 6, args);
}

static void expect_base(const char *version, const char *next_version) {
    const char *get[] = {"HMGET", keys[CLUSTER_KEY_BASE], "version", "next_version"};
    redisReply *b = test_redis_cmd(&r, 4, get);
    cr_assert_eq(b->type, REDIS_REPLY_ARRAY);
    if (version == NULL) cr_assert_eq(b->element[0]->type, REDIS_REPLY_NIL);
    else cr_assert_str_eq(b->element[0]->str, version);
    cr_assert_str_eq(b->element[1]->str, next_version);
    freeReplyObject(b);
}

Test(cluster_scripts, a_snapshot_trims_by_age_only_past_ops_older_than_the_limit, .init = start, .fini = stop) {
    char tok[64];
    cr_assert_eq(acquire("n1", "60000", tok, sizeof tok), 1);
    static const cluster_key snap_keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_SNAP, CLUSTER_KEY_LOG, CLUSTER_KEY_IDS,
                                            CLUSTER_KEY_BASE};
    const char *xlen[] = {"XLEN", keys[CLUSTER_KEY_LOG]};
    expect_pair(append_at(tok, "0", "a", "1000"), CLUSTER_APPEND_OK, 0);
    expect_pair(append_at(tok, "1", "b", "1000"), CLUSTER_APPEND_OK, 1);
    expect_pair(append_at(tok, "2", "c", "2000"), CLUSTER_APPEND_OK, 2);
    /* the first snapshot is only the candidate */
    const char *first[] = {tok, "3", "xxx", "3", "5000"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 5, first), 1);
    expect_base(NULL, "3");
    expect_pair(append_at(tok, "3", "d", "9000"), CLUSTER_APPEND_OK, 3);
    expect_pair(append_at(tok, "4", "e", "9000"), CLUSTER_APPEND_OK, 4);
    /* the op below the candidate (v2, written at 2000) is not older than 2000: kept */
    const char *young[] = {tok, "5", "xxxyy", "5", "2000"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 5, young), 1);
    expect_int(test_redis_cmd(&r, 2, xlen), 5);
    expect_base(NULL, "3");
    /* once it is: the log is cut at the candidate, whose text becomes the base */
    expect_pair(append_at(tok, "5", "f", "9000"), CLUSTER_APPEND_OK, 5);
    const char *old[] = {tok, "6", "xxxyyz", "6", "2001"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 5, old), 1);
    expect_int(test_redis_cmd(&r, 2, xlen), 3);
    expect_base("3", "6");
    const char *first_id[] = {"XRANGE", keys[CLUSTER_KEY_LOG], "-", "+", "COUNT", "1"};
    redisReply *x = test_redis_cmd(&r, 6, first_id);
    cr_assert_str_eq(x->element[0]->element[0]->str, "3-1");
    freeReplyObject(x);
    /* the count bound still applies with an age: a candidate above it stays */
    expect_pair(append_at(tok, "6", "g", "9000"), CLUSTER_APPEND_OK, 6);
    const char *high[] = {tok, "7", "xxxyyzw", "5", "99999"};
    expect_int(run(CLUSTER_SCRIPT_SNAP, 5, snap_keys, 5, high), 1);
    expect_base("3", "6");
    expect_int(test_redis_cmd(&r, 2, xlen), 4);
}

Test(cluster_scripts, a_deletion_fences_the_owner_and_leaves_a_tombstone_past_the_last_version, .init = start,
     .fini = stop) {
    char tok[64], next[64];
    cr_assert_eq(acquire("n1", "60000", tok, sizeof tok), 1);
    expect_pair(append(tok, "0", "a"), CLUSTER_APPEND_OK, 0);
    expect_pair(append(tok, "1", "b"), CLUSTER_APPEND_OK, 1);
    static const cluster_key del_keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_META, CLUSTER_KEY_LOG,
                                           CLUSTER_KEY_IDS,   CLUSTER_KEY_SNAP, CLUSTER_KEY_BASE};
    const char *when[] = {"1700000000001"};
    expect_int(run(CLUSTER_SCRIPT_DELETE, 6, del_keys, 1, when), 3);
    /* the log holds the tombstone only, at v2; the ids and the lease are gone */
    const char *range[] = {"XRANGE", keys[CLUSTER_KEY_LOG], "-", "+"};
    redisReply *x = test_redis_cmd(&r, 4, range);
    cr_assert_eq(x->elements, 1);
    cr_assert_str_eq(x->element[0]->element[0]->str, "2-1");
    cr_assert_str_eq(x->element[0]->element[1]->element[0]->str, "deleted");
    freeReplyObject(x);
    const char *exists[] = {"EXISTS", keys[CLUSTER_KEY_IDS], keys[CLUSTER_KEY_OWNER]};
    expect_int(test_redis_cmd(&r, 3, exists), 0);
    /* the old owner's renewal and append say why they fail */
    static const cluster_key renew_keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_META};
    const char *renew[] = {tok, "60000"};
    expect_int(run(CLUSTER_SCRIPT_RENEW, 2, renew_keys, 2, renew), -1);
    expect_pair(append(tok, "2", "c"), CLUSTER_APPEND_DELETED, 0);
    /* deleting it again finds nothing */
    expect_int(run(CLUSTER_SCRIPT_DELETE, 6, del_keys, 1, when), -1);
    /* created again (the mark cleared by its new owner), it goes on past the tombstone */
    const char *undelete[] = {"HDEL", keys[CLUSTER_KEY_META], "deleted"};
    expect_int(test_redis_cmd(&r, 3, undelete), 1);
    cr_assert_eq(acquire("n2", "60000", next, sizeof next), 1);
    cr_assert_str_eq(next, "n2:2");   /* the epoch survived: tokens never repeat */
    expect_pair(append(next, "0", "d"), CLUSTER_APPEND_CONFLICT, 3);
    expect_pair(append(next, "3", "a"), CLUSTER_APPEND_OK, 3);   /* old ids are forgotten */
    const char *base[] = {"HMGET", keys[CLUSTER_KEY_BASE], "version", "text"};
    x = test_redis_cmd(&r, 4, base);
    cr_assert_str_eq(x->element[0]->str, "3");
    cr_assert_str_eq(x->element[1]->str, "");
    freeReplyObject(x);
}
