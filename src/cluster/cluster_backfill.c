/* The listing's backfill: documents written to Redis before the cluster's
 * list of documents (P{cluster}:docs) existed are only added to it when a
 * node loads them. So once per cluster, the first worker of a node walks
 * the keyspace with SCAN for P{d:*}:meta, a page at a time (one page in
 * flight, each handled in one event-loop turn), and adds every document
 * whose meta is not marked deleted. A complete walk sets P{cluster}:listed,
 * so later starts skip it. Two nodes started together may both walk: ZADD
 * of a name already listed changes nothing. */
#include "cluster/cluster_internal.h"

#include "base/log.h"
#include "io/ring.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys asked per SCAN call: a hint to Redis, which may answer a few more. */
#define BACKFILL_SCAN_COUNT "500"
/* A failed step (Redis gone, no memory) is tried again this much later. */
#define BACKFILL_RETRY_MS 2000u

typedef struct backfill_page {
    cluster *c;
    char cursor[24];                /* the next page's cursor ("0": this was the last) */
    size_t count, answered;
    bool failed;
    char **names;                   /* [count] */
} backfill_page;

static size_t listed_key(const cluster *c, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s{cluster}:listed", c->prefix);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

/* The SCAN pattern: the prefix with its glob characters escaped. */
static size_t meta_pattern(const cluster *c, char *out, size_t cap) {
    size_t n = 0;
    for (const char *p = c->prefix; *p != '\0'; p++) {
        if (n + 2 >= cap) return 0;
        if (strchr("*?[]\\", *p) != NULL) out[n++] = '\\';
        out[n++] = *p;
    }
    int m = snprintf(out + n, cap - n, "{d:*}:meta");
    return m > 0 && (size_t)m < cap - n ? n + (size_t)m : 0;
}

static void retry_later(cluster *c) {
    c->backfill = BACKFILL_CHECK;
    c->backfill_at_ms = c->w->now_ms + BACKFILL_RETRY_MS;
}

static void page_free(backfill_page *pg) {
    for (size_t i = 0; i < pg->count; i++) free(pg->names[i]);
    free(pg->names);
    free(pg);
}

static void on_listed_set(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    if (r == NULL || r->type == REDIS_REPLY_ERROR) retry_later(c);
    else log_info("cluster: every document in Redis is in the cluster's list");
}

static void scan_page(cluster *c);

/* A page is done when every HGET answered: the next one, or the walk's end. */
static void page_done(backfill_page *pg) {
    cluster *c = pg->c;
    if (c->stopping) {
        c->backfill = BACKFILL_DONE;
    } else if (pg->failed) {
        retry_later(c);
    } else if (strcmp(pg->cursor, "0") == 0) {
        char key[KEY_MAX_BYTES];
        size_t key_len = listed_key(c, key, sizeof key);
        const char *argv[] = {"SET", key, "1"};
        size_t lens[] = {3, key_len, 1};
        c->backfill = BACKFILL_DONE;
        if (key_len == 0 || redis_conn_command(&c->conn, 3, argv, lens, on_listed_set, c) != 0) retry_later(c);
    } else {
        snprintf(c->backfill_cursor, sizeof c->backfill_cursor, "%s", pg->cursor);
        scan_page(c);
    }
    page_free(pg);
}

/* meta's deleted field: absent, the document is listed. */
static void on_deleted_field(void *ctx, const redisReply *r) {
    backfill_page *pg = ctx;
    const char *name = pg->names[pg->answered];
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        pg->failed = true;
    } else if (r->type == REDIS_REPLY_NIL && !pg->failed && !pg->c->stopping) {
        char key[KEY_MAX_BYTES];
        size_t key_len = cluster_docs_key(pg->c, key, sizeof key);
        const char *add[] = {"ZADD", key, "0", name};
        size_t lens[] = {4, key_len, 1, strlen(name)};
        if (key_len == 0 || redis_conn_command(&pg->c->conn, 4, add, lens, NULL, NULL) != 0) pg->failed = true;
    }
    if (++pg->answered == pg->count) page_done(pg);
}

/* The document's name in one of its meta keys, malloc'ed; NULL when it is not one. */
static char *name_of(const cluster *c, const redisReply *k) {
    size_t pre = strlen(c->prefix);
    static const char head[] = "{d:", tail[] = "}:meta";
    if (k->type != REDIS_REPLY_STRING || k->len < pre + 3 + 6 + 1 || k->len - pre - 9 > CLUSTER_LIST_NAME_MAX ||
        memcmp(k->str, c->prefix, pre) != 0 || memcmp(k->str + pre, head, 3) != 0 ||
        memcmp(k->str + k->len - 6, tail, 6) != 0)
        return NULL;
    size_t len = k->len - pre - 9;
    if (memchr(k->str + pre + 3, '\0', len) != NULL) return NULL;
    char *name = malloc(len + 1);
    if (name == NULL) return NULL;
    memcpy(name, k->str + pre + 3, len);
    name[len] = '\0';
    return name;
}

static void on_scan(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    if (c->stopping) {
        c->backfill = BACKFILL_DONE;
        return;
    }
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[0]->len >= sizeof c->backfill_cursor || r->element[1]->type != REDIS_REPLY_ARRAY) {
        if (r != NULL && r->type == REDIS_REPLY_ERROR) log_warn("cluster: SCAN: %s", r->str);
        retry_later(c);
        return;
    }
    const redisReply *keys = r->element[1];
    backfill_page *pg = calloc(1, sizeof *pg);
    if (pg != NULL) pg->names = calloc(keys->elements + 1, sizeof *pg->names);
    if (pg == NULL || pg->names == NULL) {
        free(pg);
        retry_later(c);
        return;
    }
    pg->c = c;
    memcpy(pg->cursor, r->element[0]->str, r->element[0]->len);
    for (size_t i = 0; i < keys->elements; i++) {
        char *name = name_of(c, keys->element[i]);
        if (name != NULL) pg->names[pg->count++] = name;
    }
    if (pg->count == 0) {
        page_done(pg);
        return;
    }
    /* count is final before the first send: a reply cannot come back within this turn */
    size_t sent = 0;
    for (; sent < pg->count; sent++) {
        char key[KEY_MAX_BYTES];
        const char *name = pg->names[sent];
        size_t key_len = cluster_key_name(c->prefix, name, strlen(name), CLUSTER_KEY_META, key, sizeof key);
        const char *argv[] = {"HGET", key, "deleted"};
        size_t lens[] = {4, key_len, 7};
        if (key_len == 0 || redis_conn_command(&c->conn, 3, argv, lens, on_deleted_field, pg) != 0) break;
    }
    if (sent == pg->count) return;
    /* the replies to those sent finish the page, failed */
    pg->failed = true;
    for (size_t i = sent; i < pg->count; i++) free(pg->names[i]);
    pg->count = sent;
    if (pg->answered == pg->count) page_done(pg);
}

static void scan_page(cluster *c) {
    char pattern[KEY_MAX_BYTES];
    size_t pattern_len = meta_pattern(c, pattern, sizeof pattern);
    const char *argv[] = {"SCAN", c->backfill_cursor, "MATCH", pattern, "COUNT", BACKFILL_SCAN_COUNT};
    size_t lens[] = {4, strlen(c->backfill_cursor), 5, pattern_len, 5, strlen(BACKFILL_SCAN_COUNT)};
    c->backfill = BACKFILL_SCANNING;
    if (pattern_len == 0) {
        log_warn("cluster: the prefix is too long to list the documents written before the list");
        c->backfill = BACKFILL_DONE;
    } else if (redis_conn_command(&c->conn, 6, argv, lens, on_scan, c) != 0) {
        retry_later(c);
    }
}

static void on_listed(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    if (c->stopping) c->backfill = BACKFILL_DONE;
    else if (r == NULL || r->type == REDIS_REPLY_ERROR) retry_later(c);
    else if (r->type != REDIS_REPLY_NIL) c->backfill = BACKFILL_DONE;
    else scan_page(c);
}

void cluster_backfill_tick(cluster *c, uint64_t now_ms) {
    if (c->backfill != BACKFILL_CHECK || c->stopping || now_ms < c->backfill_at_ms) return;
    char key[KEY_MAX_BYTES];
    size_t key_len = listed_key(c, key, sizeof key);
    const char *argv[] = {"GET", key};
    size_t lens[] = {3, key_len};
    c->backfill = BACKFILL_ASKING;
    /* the cursor survives a failure: SCAN's cursors hold no state in Redis */
    if (c->backfill_cursor[0] == '\0') snprintf(c->backfill_cursor, sizeof c->backfill_cursor, "0");
    if (key_len == 0 || redis_conn_command(&c->conn, 2, argv, lens, on_listed, c) != 0) retry_later(c);
}
