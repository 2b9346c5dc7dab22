/* The cluster's list of documents: a sorted set P{cluster}:docs (every score
 * 0, so ZRANGEBYLEX pages the names in byte order) that a document's owner
 * adds it to when it loads it (created or found in Redis) and that a delete
 * takes it out of; the listing reads a page of names, then each document's
 * meta (version, code points, bytes) on the worker's connection. And the
 * deletion of a document, by any node. */
#include "cluster/cluster_internal.h"

#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names asked per ZRANGEBYLEX when a filter may leave some out. */
#define LIST_BATCH_MIN 64u

size_t cluster_docs_key(const cluster *c, char *out, size_t cap) {
    int n = snprintf(out, cap, "%s{cluster}:docs", c->prefix);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

void cluster_doc_register(cluster_doc *d, uint64_t version, bool created) {
    char key[KEY_MAX_BYTES], v[24];
    size_t key_len = cluster_docs_key(d->c, key, sizeof key);
    const char *undelete[] = {"HDEL", d->keys[CLUSTER_KEY_META], "deleted"};
    size_t undelete_lens[] = {4, d->key_lens[CLUSTER_KEY_META], 7};
    if (created && redis_conn_command(&d->c->conn, 3, undelete, undelete_lens, NULL, NULL) != 0)
        log_warn("cluster: document %.*s: its deletion mark stays", (int)d->name_len, d->name);
    /* a created document exists in Redis from now on, even before its first op */
    const char *meta[] = {"HSETNX", d->keys[CLUSTER_KEY_META], "version", v};
    size_t meta_lens[] = {6, d->key_lens[CLUSTER_KEY_META], 7, (size_t)snprintf(v, sizeof v, "%" PRIu64, version)};
    const char *add[] = {"ZADD", key, "0", d->name};
    size_t add_lens[] = {4, key_len, 1, d->name_len};
    if (key_len == 0 || redis_conn_command(&d->c->conn, 4, meta, meta_lens, NULL, NULL) != 0 ||
        redis_conn_command(&d->c->conn, 4, add, add_lens, NULL, NULL) != 0)
        log_warn("cluster: document %.*s: not added to the cluster's list", (int)d->name_len, d->name);
}

typedef struct list_read {
    cluster *c;
    uint32_t limit;
    cluster_name_filter keep;
    cluster_list_fn fn;
    void *ctx;
    char **names;                   /* [limit + 1]: kept names, in order */
    uint32_t count_names;
    char last[CLUSTER_LIST_NAME_MAX + 2];   /* "(" + the last name read */
    size_t last_len;
    cluster_doc_info *infos;        /* [limit] */
    uint32_t count_infos, answered;
    bool failed_send;
} list_read;

static void list_free(list_read *lr) {
    for (uint32_t i = 0; i < lr->count_names; i++) free(lr->names[i]);
    free(lr->names);
    free(lr->infos);
    free(lr);
}

static void list_end(list_read *lr, int rc) {
    const char *next = lr->count_names > lr->limit ? lr->names[lr->limit - 1] : NULL;
    if (!lr->c->stopping) lr->fn(lr->ctx, rc, lr->infos, rc == 0 ? lr->count_infos : 0, next);
    else lr->fn(lr->ctx, -ECANCELED, NULL, 0, NULL);
    list_free(lr);
}

static void on_info(void *ctx, const redisReply *r) {
    cluster_doc_info *info = ctx;
    list_read *lr = info->read;
    if (r == NULL) info->failed = true;
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 4 && r->element[0]->type == REDIS_REPLY_STRING &&
             r->element[3]->type != REDIS_REPLY_STRING) {
        info->found = true;
        info->v = cluster_parse_u64(r->element[0]->str, r->element[0]->len);
        if (r->element[1]->type == REDIS_REPLY_STRING)
            info->codepoints = cluster_parse_u64(r->element[1]->str, r->element[1]->len);
        if (r->element[2]->type == REDIS_REPLY_STRING)
            info->bytes = cluster_parse_u64(r->element[2]->str, r->element[2]->len);
    }
    if (++lr->answered < lr->count_infos) return;
    /* every answer is in: the documents found, in order (one deleted meanwhile is left out) */
    bool failed = lr->failed_send;
    uint32_t n = 0;
    for (uint32_t i = 0; i < lr->count_infos; i++) {
        failed |= lr->infos[i].failed;
        if (lr->infos[i].found) lr->infos[n++] = lr->infos[i];
    }
    lr->count_infos = n;
    list_end(lr, failed ? -EIO : 0);
}

static void read_infos(list_read *lr) {
    uint32_t n = lr->count_names < lr->limit ? lr->count_names : lr->limit;
    if (n == 0) {
        list_end(lr, 0);
        return;
    }
    lr->infos = calloc(n, sizeof *lr->infos);
    if (lr->infos == NULL) {
        list_end(lr, -ENOMEM);
        return;
    }
    lr->count_infos = n;
    for (uint32_t i = 0; i < n; i++) {
        cluster_doc_info *info = &lr->infos[i];
        info->read = lr;
        info->name = lr->names[i];
        info->name_len = strlen(lr->names[i]);
        char key[KEY_MAX_BYTES];
        size_t key_len = cluster_key_name(lr->c->prefix, info->name, info->name_len, CLUSTER_KEY_META, key, sizeof key);
        const char *argv[] = {"HMGET", key, "version", "codepoints", "bytes", "deleted"};
        size_t lens[] = {5, key_len, 7, 10, 5, 7};
        if (key_len == 0 || redis_conn_command(&lr->c->conn, 6, argv, lens, on_info, info) != 0) {
            /* no memory to send it: the replies to those sent end the list, failed */
            lr->failed_send = true;
            lr->count_infos = i;
            if (i == 0) list_end(lr, -EIO);
            return;
        }
    }
}

static int read_names(list_read *lr);

static uint32_t batch_of(const list_read *lr) { return lr->limit + 1 > LIST_BATCH_MIN ? lr->limit + 1 : LIST_BATCH_MIN; }

static void on_names(void *ctx, const redisReply *r) {
    list_read *lr = ctx;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || lr->c->stopping) {
        if (r != NULL && r->type == REDIS_REPLY_ERROR) log_warn("cluster: ZRANGEBYLEX: %s", r->str);
        list_end(lr, -EIO);
        return;
    }
    for (size_t i = 0; i < r->elements && lr->count_names <= lr->limit; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_STRING || e->len > CLUSTER_LIST_NAME_MAX) continue;
        lr->last[0] = '(';
        memcpy(lr->last + 1, e->str, e->len);
        lr->last_len = e->len + 1;
        if (memchr(e->str, '\0', e->len) != NULL || (lr->keep != NULL && !lr->keep(lr->ctx, e->str, e->len))) continue;
        char *name = malloc(e->len + 1);
        if (name == NULL) {
            list_end(lr, -ENOMEM);
            return;
        }
        memcpy(name, e->str, e->len + 1);
        lr->names[lr->count_names++] = name;
    }
    /* a full batch with room left: the names after the last one read */
    if (lr->count_names <= lr->limit && r->elements > 0 && r->elements == batch_of(lr)) {
        if (read_names(lr) != 0) list_end(lr, -EIO);
        return;
    }
    read_infos(lr);
}

static int read_names(list_read *lr) {
    char key[KEY_MAX_BYTES], count[16];
    size_t key_len = cluster_docs_key(lr->c, key, sizeof key);
    uint32_t batch = batch_of(lr);
    const char *argv[] = {"ZRANGEBYLEX", key, lr->last_len > 0 ? lr->last : "-", "+", "LIMIT", "0", count};
    size_t lens[] = {11, key_len, lr->last_len > 0 ? lr->last_len : 1, 1, 5, 1,
                     (size_t)snprintf(count, sizeof count, "%u", batch)};
    if (key_len == 0) return -EINVAL;
    return redis_conn_command(&lr->c->conn, 7, argv, lens, on_names, lr);
}

int cluster_list_docs(cluster *c, const char *after, size_t after_len, uint32_t limit, cluster_name_filter keep,
                      cluster_list_fn fn, void *ctx) {
    if (!redis_conn_up(&c->conn)) return -ENOTCONN;
    if (limit == 0 || after_len > CLUSTER_LIST_NAME_MAX) return -EINVAL;
    list_read *lr = calloc(1, sizeof *lr);
    if (lr == NULL) return -ENOMEM;
    lr->names = calloc((size_t)limit + 1, sizeof *lr->names);
    if (lr->names == NULL) {
        free(lr);
        return -ENOMEM;
    }
    lr->c = c;
    lr->limit = limit;
    lr->keep = keep;
    lr->fn = fn;
    lr->ctx = ctx;
    if (after_len > 0) {
        lr->last[0] = '(';
        memcpy(lr->last + 1, after, after_len);
        lr->last_len = after_len + 1;
    }
    int rc = read_names(lr);
    if (rc != 0) list_free(lr);
    return rc;
}

/* ---- deletion ------------------------------------------------------------------------ */

typedef struct delete_op {
    cluster *c;
    cluster_delete_fn fn;
    void *ctx;
} delete_op;

static void on_delete(void *ctx, const redisReply *r) {
    delete_op *op = ctx;
    long long v = r != NULL && r->type == REDIS_REPLY_INTEGER ? r->integer : -2;
    if (r != NULL && r->type == REDIS_REPLY_ERROR) {
        log_warn("cluster: delete: %s", r->str);
        if (strncmp(r->str, "NOSCRIPT", 8) == 0) redis_conn_reset(&op->c->conn, "the scripts are gone (NOSCRIPT)");
    }
    int rc = op->c->stopping ? -ECANCELED : v >= 0 ? 0 : v == -1 ? -ENOENT : -EIO;
    op->fn(op->ctx, rc);
    free(op);
}

int cluster_delete_doc(cluster *c, const char *name, size_t name_len, int64_t time_ms, cluster_delete_fn fn,
                       void *ctx) {
    if (!redis_conn_up(&c->conn)) return -ENOTCONN;
    static const cluster_key order[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_META, CLUSTER_KEY_LOG,
                                        CLUSTER_KEY_IDS, CLUSTER_KEY_SNAP, CLUSTER_KEY_BASE};
    char keys[6][KEY_MAX_BYTES], list[KEY_MAX_BYTES], time[24];
    const char *argv[10];
    size_t lens[10];
    argv[0] = "EVALSHA";
    lens[0] = 7;
    argv[1] = c->sha[CLUSTER_SCRIPT_DELETE];
    lens[1] = CLUSTER_SHA_HEX - 1;
    argv[2] = "6";
    lens[2] = 1;
    for (int i = 0; i < 6; i++) {
        lens[3 + i] = cluster_key_name(c->prefix, name, name_len, order[i], keys[i], sizeof keys[i]);
        argv[3 + i] = keys[i];
        if (lens[3 + i] == 0) return -EINVAL;
    }
    argv[9] = time;
    lens[9] = (size_t)snprintf(time, sizeof time, "%" PRId64, time_ms);
    size_t list_len = cluster_docs_key(c, list, sizeof list);
    const char *rem[] = {"ZREM", list, name};
    size_t rem_lens[] = {4, list_len, name_len};
    delete_op *op = calloc(1, sizeof *op);
    if (op == NULL || list_len == 0) {
        free(op);
        return list_len == 0 ? -EINVAL : -ENOMEM;
    }
    *op = (delete_op){c, fn, ctx};
    int rc = redis_conn_command(&c->conn, 10, argv, lens, on_delete, op);
    if (rc != 0) {
        free(op);
        return rc;
    }
    /* out of the list after the tombstone (a listing skips a deleted meta meanwhile) */
    if (redis_conn_command(&c->conn, 3, rem, rem_lens, NULL, NULL) != 0)
        log_warn("cluster: document %.*s: left in the cluster's list", (int)name_len, name);
    return 0;
}
