/* The node registry: every worker writes what it owns and follows into one
 * hash (a field per worker, stamped with the time) and reads the whole hash
 * back, on the timer. GET /api/cluster answers from that copy, so an HTTP
 * request never waits for Redis; an entry older than a few leases is a node
 * that stopped (or lost Redis) and is left out. */
#include "cluster/cluster_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "io/ring.h"
#include "proto/protocol.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The registry is read back this often (its entries are written every third
 * of a lease, and at once when what a worker owns changes), so that
 * /api/cluster reflects a lease taken or lost within a fraction of a second. */
#define REGISTRY_READ_MS 200u
/* An entry this much older than its lease is a node gone. */
#define REGISTRY_STALE_LEASES 3u
/* Names listed per worker and kind (owned, following); the counts are exact. */
#define REGISTRY_MAX_NAMES 1000u

static size_t nodes_key(const cluster *c, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s{cluster}:nodes", c->prefix);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static int names(const cluster *c, uint8_t phase, ot_buf *b, uint32_t *count) {
    int rc = ot_buf_append(b, "[", 1);
    *count = 0;
    for (const cluster_doc *d = c->docs; d != NULL && rc == 0; d = d->next) {
        if (d->phase != phase) continue;
        if (++*count > REGISTRY_MAX_NAMES) continue;
        if (*count > 1) rc = ot_buf_append(b, ",", 1);
        if (rc == 0) rc = proto_json_string(b, d->name, d->name_len);
    }
    return rc == 0 ? ot_buf_append(b, "]", 1) : rc;
}

/* "<wall ms> {json}": this worker as the registry holds it. */
static int entry(const cluster *c, int64_t now_wall, ot_buf *b) {
    char head[CLUSTER_NODE_MAX_BYTES * 2 + 96];
    uint32_t owned = 0, following = 0;
    int n = snprintf(head, sizeof head, "%" PRId64 " {\"worker\":", now_wall);
    int rc = n > 0 && (size_t)n < sizeof head ? ot_buf_append(b, head, (size_t)n) : -ENOSPC;
    if (rc == 0) rc = proto_json_string(b, c->me, strlen(c->me));
    if (rc == 0) rc = ot_buf_append(b, ",\"node\":", 8);
    if (rc == 0) rc = proto_json_string(b, c->node, strlen(c->node));
    n = snprintf(head, sizeof head, ",\"at\":%" PRId64 ",\"redis_rtt_us\":%" PRIu64 ",\"owned\":", now_wall,
                 c->conn.last_rtt_us);
    if (rc == 0) rc = ot_buf_append(b, head, (size_t)n);
    if (rc == 0) rc = names(c, PHASE_OWNED, b, &owned);
    if (rc == 0) rc = ot_buf_append(b, ",\"following\":", 13);
    if (rc == 0) rc = names(c, PHASE_FOLLOWING, b, &following);
    n = snprintf(head, sizeof head, ",\"count_owned\":%u,\"count_following\":%u}", owned, following);
    if (rc == 0) rc = ot_buf_append(b, head, (size_t)n);
    return rc;
}

static void free_registry(cluster *c) {
    for (uint32_t i = 0; i < c->count_registry; i++) free(c->registry[i]);
    free(c->registry);
    c->registry = NULL;
    c->count_registry = 0;
}

static void on_registry(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    c->registry_out = false;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || c->stopping) return;
    free_registry(c);
    c->registry = calloc(r->elements / 2 + 1, sizeof *c->registry);
    if (c->registry == NULL) return;
    for (size_t i = 1; i < r->elements; i += 2) {
        const redisReply *v = r->element[i];
        if (v->type != REDIS_REPLY_STRING) continue;
        char *s = malloc(v->len + 1);
        if (s == NULL) break;
        memcpy(s, v->str, v->len + 1);
        c->registry[c->count_registry++] = s;
    }
}

void cluster_registry_tick(cluster *c, uint64_t now_ms) {
    uint64_t every = c->lease_ms / 3 > 500 ? c->lease_ms / 3 : 500;
    if (c->registry_out || !redis_conn_up(&c->conn)) return;
    bool write = now_ms >= c->registry_at_ms;
    if (!write && now_ms < c->registry_read_at_ms) return;
    c->registry_read_at_ms = now_ms + REGISTRY_READ_MS;
    char key[KEY_MAX_BYTES];
    size_t key_len = nodes_key(c, key, sizeof key);
    if (key_len == 0) return;
    ot_buf b;
    ot_buf_init(&b);
    if (write && entry(c, clock_wall_ms(), &b) == 0) {
        const char *set[] = {"HSET", key, c->me, b.data};
        size_t set_lens[] = {4, key_len, strlen(c->me), b.len};
        if (redis_conn_command(&c->conn, 4, set, set_lens, NULL, NULL) == 0) c->registry_at_ms = now_ms + every;
    }
    ot_buf_free(&b);
    const char *get[] = {"HGETALL", key};
    size_t get_lens[] = {7, key_len};
    if (redis_conn_command(&c->conn, 2, get, get_lens, on_registry, c) == 0) c->registry_out = true;
}

void cluster_registry_changed(cluster *c) {
    c->registry_at_ms = 0;
    if (!c->stopping) cluster_registry_tick(c, c->w->now_ms);
}

void cluster_registry_leave(cluster *c) {
    char key[KEY_MAX_BYTES];
    size_t key_len = nodes_key(c, key, sizeof key);
    const char *del[] = {"HDEL", key, c->me};
    size_t lens[] = {4, key_len, strlen(c->me)};
    if (key_len > 0) redis_conn_command(&c->conn, 3, del, lens, NULL, NULL);
}

void cluster_registry_free(cluster *c) { free_registry(c); }

/* The registry's copy of this worker's entry (shown live instead). */
static bool own_entry(const cluster *c, const char *json) {
    static const char head[] = "{\"worker\":\"";
    size_t n = strlen(c->me);
    return strncmp(json, head, sizeof head - 1) == 0 && strncmp(json + sizeof head - 1, c->me, n) == 0 &&
           json[sizeof head - 1 + n] == '"';
}

int cluster_describe(const cluster *c, bool with_names, ot_buf *out) {
    char head[CLUSTER_NODE_MAX_BYTES + 128];
    int64_t now = clock_wall_ms(), stale = (int64_t)c->lease_ms * REGISTRY_STALE_LEASES + 3000;
    int n = snprintf(head, sizeof head, "{\"redis\":\"%s\",\"lease_ms\":%u,\"node\":",
                     redis_conn_up(&c->conn) ? "up" : "down", c->lease_ms);
    int rc = ot_buf_append(out, head, (size_t)n);
    if (rc == 0) rc = proto_json_string(out, c->node, strlen(c->node));
    if (rc == 0) rc = ot_buf_append(out, ",\"workers\":[", 12);
    uint32_t listed = 0;
    /* this worker's own entry as it is now, then the others' as last read */
    ot_buf mine;
    ot_buf_init(&mine);
    if (rc == 0) rc = entry(c, now, &mine);
    for (uint32_t i = 0; i <= c->count_registry && rc == 0; i++) {
        const char *s = i == 0 ? mine.data : c->registry[i - 1];
        char *json = NULL;
        int64_t at = strtoll(s, &json, 10);
        if (json == NULL || *json != ' ' || now - at > stale) continue;
        json++;
        if (i > 0 && own_entry(c, json)) continue;
        if (listed++ > 0) rc = ot_buf_append(out, ",", 1);
        if (rc != 0) break;
        if (with_names) {
            rc = ot_buf_append(out, json, strlen(json));
            continue;
        }
        /* without names: the worker, its node and its counts */
        const char *owned = strstr(json, ",\"owned\":");
        const char *counts = strstr(json, ",\"count_owned\":");
        if (owned == NULL || counts == NULL) continue;
        rc = ot_buf_append(out, json, (size_t)(owned - json));
        if (rc == 0) rc = ot_buf_append(out, counts, strlen(counts));
    }
    ot_buf_free(&mine);
    if (rc == 0) rc = ot_buf_append(out, "]}", 2);
    return rc;
}
