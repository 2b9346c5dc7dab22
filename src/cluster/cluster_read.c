/* Reads of a document's retained log for the REST routes of its past
 * (/ops, /history, /authors, ?v=): the base (the oldest retained version and
 * its text), then the entries page by page with XRANGE, on the worker's
 * pipelined connection like every other command, so a worker never waits. */
#include "cluster/cluster_internal.h"

#include "base/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct log_read {
    cluster *c;
    char log[KEY_MAX_BYTES];
    size_t log_len;
    uint64_t next, to;              /* the next version wanted, the end (exclusive) */
    bool first_page;
    bool want_text;
    const cluster_log_reader *rd;
    void *ctx;
} log_read;

static void finish(log_read *lr, int rc) {
    lr->rd->done(lr->ctx, lr->c->stopping ? -ECANCELED : rc);
    free(lr);
}

static int request_page(log_read *lr);

static void on_page(void *ctx, const redisReply *r) {
    log_read *lr = ctx;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || lr->c->stopping) {
        if (r != NULL && r->type == REDIS_REPLY_ERROR) log_warn("cluster: XRANGE %s: %s", lr->log, r->str);
        finish(lr, -EIO);
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) {
            finish(lr, -EIO);
            return;
        }
        uint64_t v = cluster_parse_u64(e->element[0]->str, e->element[0]->len);
        store_record rec;
        if (v != lr->next || cluster_entry_record(e->element[1], v, &rec) != 0) {
            /* the first entry past the asked version: trimmed meanwhile; later, a gap */
            finish(lr, lr->first_page && i == 0 && v > lr->next ? -ERANGE : -EIO);
            return;
        }
        int rc = lr->rd->entry(lr->ctx, &rec);
        if (rc != 0) {
            finish(lr, rc > 0 ? 0 : rc);
            return;
        }
        lr->next = v + 1;
    }
    bool first = lr->first_page;
    lr->first_page = false;
    if (lr->next >= lr->to) finish(lr, 0);
    else if (r->elements == 0) finish(lr, first ? -ERANGE : -EIO);   /* trimmed past `to`, or the log ends early */
    else if (request_page(lr) != 0) finish(lr, -EIO);
}

static int request_page(log_read *lr) {
    char from[32], to[32], count[16];
    const char *argv[] = {"XRANGE", lr->log, from, to, "COUNT", count};
    size_t lens[] = {6, lr->log_len, (size_t)snprintf(from, sizeof from, "%" PRIu64 "-0", lr->next),
                     (size_t)snprintf(to, sizeof to, "%" PRIu64 "-1", lr->to - 1), 5,
                     (size_t)snprintf(count, sizeof count, "%u", CLUSTER_LOAD_PAGE)};
    return redis_conn_command(&lr->c->conn, 6, argv, lens, on_page, lr);
}

static void on_base(void *ctx, const redisReply *r) {
    log_read *lr = ctx;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || lr->c->stopping) {
        if (r != NULL && r->type == REDIS_REPLY_ERROR) log_warn("cluster: HMGET base: %s", r->str);
        finish(lr, -EIO);
        return;
    }
    /* no base: the log was never trimmed, it starts at v0 on an empty text */
    const redisReply *v = r->element[0], *text = r->element[1];
    uint64_t oldest = v->type == REDIS_REPLY_STRING ? cluster_parse_u64(v->str, v->len) : 0;
    bool has_text = lr->want_text && text->type == REDIS_REPLY_STRING;
    int rc = lr->rd->base(lr->ctx, oldest, has_text ? text->str : "", has_text ? text->len : 0, &lr->next, &lr->to);
    if (rc != 0) finish(lr, rc);
    else if (lr->next >= lr->to) finish(lr, 0);
    else if (request_page(lr) != 0) finish(lr, -EIO);
}

int cluster_read_log(cluster *c, const char *name, size_t name_len, bool want_text, const cluster_log_reader *rd,
                     void *ctx) {
    if (!redis_conn_up(&c->conn)) return -ENOTCONN;
    log_read *lr = calloc(1, sizeof *lr);
    if (lr == NULL) return -ENOMEM;
    char base[KEY_MAX_BYTES];
    size_t base_len = cluster_key_name(c->prefix, name, name_len, CLUSTER_KEY_BASE, base, sizeof base);
    lr->log_len = cluster_key_name(c->prefix, name, name_len, CLUSTER_KEY_LOG, lr->log, sizeof lr->log);
    if (base_len == 0 || lr->log_len == 0) {
        free(lr);
        return -EINVAL;
    }
    lr->c = c;
    lr->rd = rd;
    lr->ctx = ctx;
    lr->first_page = true;
    lr->want_text = want_text;
    /* the text only when the reader rebuilds text; "version" twice keeps the reply's shape */
    const char *argv[] = {"HMGET", base, "version", want_text ? "text" : "version"};
    size_t lens[] = {5, base_len, 7, want_text ? 4 : 7};
    int rc = redis_conn_command(&c->conn, 4, argv, lens, on_base, lr);
    if (rc != 0) free(lr);
    return rc;
}
