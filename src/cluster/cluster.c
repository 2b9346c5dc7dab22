#include "cluster/cluster_internal.h"

#include "base/log.h"
#include "io/ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void on_state(void *ctx, bool up);
static void send_appends(cluster_doc *d);

/* ---- small helpers ----------------------------------------------------------------- */

static uint64_t now_of(const cluster *c) { return c->w->now_ms; }

void cluster_doc_unref(cluster_doc *d) {
    if (--d->refs > 0) return;
    cluster_load_free(&d->load);
    free(d);
}

/* The doc may hear events: open, not lost, the worker not stopping. */
bool cluster_doc_live(const cluster_doc *d) { return !d->closed && !d->c->stopping && d->phase != PHASE_LOST; }

static bool reply_int(const redisReply *r, long long *v) {
    if (r == NULL || r->type != REDIS_REPLY_INTEGER) return false;
    *v = r->integer;
    return true;
}

uint64_t cluster_parse_u64(const char *s, size_t n) {
    uint64_t v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (uint64_t)(s[i] - '0');
    return v;
}

/* EVALSHA script with the document's keys and args; the reply goes to fn(d). */
static int eval(cluster_doc *d, cluster_script_id id, const cluster_key *keys, int nkeys, const char **args,
                const size_t *arg_lens, int nargs, redis_reply_fn fn) {
    const char *argv[16];
    size_t lens[16];
    char nk[8];
    int n = 0;
    argv[n] = "EVALSHA";
    lens[n++] = 7;
    argv[n] = d->c->sha[id];
    lens[n++] = CLUSTER_SHA_HEX - 1;
    lens[n] = (size_t)snprintf(nk, sizeof nk, "%d", nkeys);
    argv[n++] = nk;
    for (int i = 0; i < nkeys; i++) {
        argv[n] = d->keys[keys[i]];
        lens[n++] = d->key_lens[keys[i]];
    }
    for (int i = 0; i < nargs; i++) {
        argv[n] = args[i];
        lens[n++] = arg_lens[i];
    }
    int rc = redis_conn_command(&d->c->conn, n, argv, lens, fn, fn != NULL ? d : NULL);
    if (rc == 0 && fn != NULL) d->refs++;
    return rc;
}

static void release(cluster_doc *d);

void cluster_doc_lose(cluster_doc *d, const char *why) {
    if (!cluster_doc_live(d)) return;
    log_warn("cluster: document %.*s: %s", (int)d->name_len, d->name, why);
    release(d);
    d->phase = PHASE_LOST;
    d->c->stats.lost++;
    cluster_registry_changed(d->c);
    d->ev->lost(d->ctx, why);
}

void cluster_doc_deleted(cluster_doc *d) {
    if (!cluster_doc_live(d)) return;
    log_info("cluster: document %.*s: deleted", (int)d->name_len, d->name);
    d->token[0] = '\0';   /* the deletion took the lease */
    d->phase = PHASE_LOST;
    cluster_registry_changed(d->c);
    d->ev->deleted(d->ctx);
}

static void load_failed(cluster_doc *d, int rc) {
    if (!cluster_doc_live(d)) return;
    release(d);
    d->phase = PHASE_LOST;
    d->ev->loaded(d->ctx, rc, NULL);
}

/* A NOSCRIPT answer (the scripts were flushed): the connection starts again,
 * which loads them first and resends what failed, in order; the command
 * counts as failed like every other one in flight. */
static bool noscript(cluster_doc *d, const redisReply *r) {
    if (r == NULL || r->type != REDIS_REPLY_ERROR || strncmp(r->str, "NOSCRIPT", 8) != 0) return false;
    redis_conn_reset(&d->c->conn, "the scripts are gone (NOSCRIPT)");
    return true;
}

/* ---- the lease ----------------------------------------------------------------------- */

static void lease_granted(cluster_doc *d, uint64_t sent_ms) {
    /* Redis starts the lease no earlier than we sent the command; a tenth is
     * left for the clocks' rates and the reply's way back. */
    d->deadline_ms = sent_ms + d->c->lease_ms - d->c->lease_ms / 10;
    d->renew_at_ms = sent_ms + d->c->lease_ms / 3;
}

static void on_renew(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    d->renew_out = false;
    long long v;
    if (cluster_doc_live(d) && d->phase == PHASE_OWNED && r != NULL && !noscript(d, r)) {
        if (reply_int(r, &v) && v == 1) lease_granted(d, d->renew_sent_ms);
        else if (reply_int(r, &v) && v == -1) cluster_doc_deleted(d);
        else cluster_doc_lose(d, r->type == REDIS_REPLY_ERROR ? r->str : "the lease went to another node");
    }
    cluster_doc_unref(d);
}

static void renew(cluster_doc *d) {
    char lease[16];
    const char *args[] = {d->token, lease};
    size_t lens[] = {strlen(d->token), (size_t)snprintf(lease, sizeof lease, "%u", d->c->lease_ms)};
    cluster_key keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_META};
    d->renew_sent_ms = now_of(d->c);
    if (eval(d, CLUSTER_SCRIPT_RENEW, keys, 2, args, lens, 2, on_renew) == 0) d->renew_out = true;
}

static void release(cluster_doc *d) {
    if (d->token[0] == '\0' || !redis_conn_up(&d->c->conn)) return;
    const char *args[] = {d->token};
    size_t lens[] = {strlen(d->token)};
    cluster_key keys[] = {CLUSTER_KEY_OWNER};
    eval(d, CLUSTER_SCRIPT_RELEASE, keys, 1, args, lens, 1, NULL);
    d->token[0] = '\0';
}

/* ---- loading: snapshot, meta, then the log's pages ------------------------------------- */

int cluster_entry_record(const redisReply *fields, uint64_t v, store_record *out) {
    if (fields->type != REDIS_REPLY_ARRAY) return -EIO;
    const redisReply *op = NULL, *id = NULL, *by = NULL, *time = NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *val = fields->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING) return -EIO;
        if (strcmp(k->str, "op") == 0) op = val;
        else if (strcmp(k->str, "id") == 0) id = val;
        else if (strcmp(k->str, "by") == 0) by = val;
        else if (strcmp(k->str, "time") == 0) time = val;
    }
    if (op == NULL || id == NULL || by == NULL || time == NULL) return -EIO;
    *out = (store_record){
        .base_version = v,
        .time_ms = (int64_t)cluster_parse_u64(time->str, time->len),
        .id = id->str,
        .id_len = id->len,
        .author = by->str,
        .author_len = by->len,
        .op_json = op->str,
        .op_len = op->len,
    };
    return 0;
}

static int load_push(cluster_load *ld, uint64_t v, const redisReply *fields) {
    store_record in;
    if (cluster_entry_record(fields, v, &in) != 0) return -EIO;
    if (ld->count_ops == ld->cap_ops) {
        size_t cap = ld->cap_ops == 0 ? 64 : ld->cap_ops * 2;
        store_record *o = realloc(ld->ops, sizeof *o * cap);
        if (o == NULL) return -ENOMEM;
        ld->ops = o;
        char **b = realloc(ld->bufs, sizeof *b * cap);
        if (b == NULL) return -ENOMEM;
        ld->bufs = b;
        ld->cap_ops = cap;
    }
    char *buf = malloc(in.op_len + in.id_len + in.author_len + 3);
    if (buf == NULL) return -ENOMEM;
    memcpy(buf, in.op_json, in.op_len + 1);
    memcpy(buf + in.op_len + 1, in.id, in.id_len + 1);
    memcpy(buf + in.op_len + in.id_len + 2, in.author, in.author_len + 1);
    ld->bufs[ld->count_ops] = buf;
    in.op_json = buf;
    in.id = buf + in.op_len + 1;
    in.author = buf + in.op_len + in.id_len + 2;
    ld->ops[ld->count_ops++] = in;
    return 0;
}

static void load_range(cluster_doc *d, const char *from, size_t from_len);

static void load_finish(cluster_doc *d) {
    cluster_load *ld = &d->load;
    if (ld->snap_version + ld->count_ops != ld->version) {
        log_error("cluster: document %.*s: the log has ops to v%" PRIu64 " but meta says v%" PRIu64,
                  (int)d->name_len, d->name, ld->snap_version + ld->count_ops, ld->version);
        load_failed(d, -EIO);
        return;
    }
    ld->owned = d->phase == PHASE_LOADING;
    d->phase = ld->owned ? PHASE_OWNED : PHASE_FOLLOWING;
    if (ld->owned) cluster_doc_register(d, ld->version, !ld->exists);
    d->acked = d->sent_to = ld->version;
    d->refs++;
    cluster_registry_changed(d->c);
    cluster_presence_listen(d, true);
    d->ev->loaded(d->ctx, 0, ld);
    cluster_load_free(ld);
    if (cluster_doc_live(d) && d->phase == PHASE_FOLLOWING) {
        log_debug("cluster: document %.*s: following %s from v%" PRIu64, (int)d->name_len, d->name, d->holder,
                  d->acked);
        cluster_follow_changed(d->c);
    }
    cluster_doc_unref(d);
}

static void on_range(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    d->cmd_out = false;
    if (!cluster_doc_live(d)) goto out;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        load_failed(d, -EIO);
        goto out;
    }
    cluster_load *ld = &d->load;
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *e = r->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
            e->element[1]->type != REDIS_REPLY_ARRAY) {
            load_failed(d, -EIO);
            goto out;
        }
        uint64_t v = cluster_parse_u64(e->element[0]->str, e->element[0]->len);
        int rc = v == ld->snap_version + ld->count_ops ? load_push(ld, v, e->element[1]) : -EIO;
        if (rc != 0) {
            load_failed(d, rc);
            goto out;
        }
    }
    if (r->elements == CLUSTER_LOAD_PAGE) {
        const redisReply *last = r->element[r->elements - 1]->element[0];
        char from[48];
        int n = snprintf(from, sizeof from, "(%s", last->str);
        load_range(d, from, (size_t)n);
    } else {
        load_finish(d);
    }
out:
    cluster_doc_unref(d);
}

static void load_range(cluster_doc *d, const char *from, size_t from_len) {
    char count[16];
    const char *argv[] = {"XRANGE", d->keys[CLUSTER_KEY_LOG], from, "+", "COUNT", count};
    size_t lens[] = {6, d->key_lens[CLUSTER_KEY_LOG], from_len, 1, 5,
                     (size_t)snprintf(count, sizeof count, "%u", CLUSTER_LOAD_PAGE)};
    if (redis_conn_command(&d->c->conn, 6, argv, lens, on_range, d) != 0) {
        load_failed(d, -EIO);
        return;
    }
    d->refs++;
    d->cmd_out = true;
}

static void on_meta(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    d->cmd_out = false;
    if (!cluster_doc_live(d)) goto out;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        load_failed(d, -EIO);
        goto out;
    }
    cluster_load *ld = &d->load;
    const redisReply *v = r->element[0];
    if (r->element[1]->type == REDIS_REPLY_STRING) {
        /* deleted: absent; created again, it starts past the tombstone on an empty text */
        ld->exists = false;
        ld->version = ld->snap_version = v->type == REDIS_REPLY_STRING ? cluster_parse_u64(v->str, v->len) : 0;
        free(ld->snap_text);
        ld->snap_text = NULL;
        ld->snap_len = 0;
    } else if (v->type == REDIS_REPLY_STRING) {
        ld->exists = true;
        ld->version = cluster_parse_u64(v->str, v->len);
    } else {
        ld->version = ld->snap_version;
    }
    if (!ld->exists && !d->create) {
        release(d);
        load_failed(d, -ENOENT);
        goto out;
    }
    char from[32];
    int n = snprintf(from, sizeof from, "%" PRIu64 "-0", ld->snap_version);
    load_range(d, from, (size_t)n);
out:
    cluster_doc_unref(d);
}

static void on_snap(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    if (cluster_doc_live(d) && r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
        r->element[0]->type == REDIS_REPLY_STRING && r->element[1]->type == REDIS_REPLY_STRING) {
        cluster_load *ld = &d->load;
        ld->exists = true;
        ld->snap_version = cluster_parse_u64(r->element[0]->str, r->element[0]->len);
        ld->snap_text = malloc(r->element[1]->len + 1);
        if (ld->snap_text != NULL) {
            memcpy(ld->snap_text, r->element[1]->str, r->element[1]->len + 1);
            ld->snap_len = r->element[1]->len;
        } else {
            load_failed(d, -ENOMEM);
        }
    }
    /* a failed read fails the meta read that follows it on the connection */
    cluster_doc_unref(d);
}

static void load_start(cluster_doc *d) {
    const char *snap[] = {"HMGET", d->keys[CLUSTER_KEY_SNAP], "version", "text"};
    size_t snap_lens[] = {5, d->key_lens[CLUSTER_KEY_SNAP], 7, 4};
    const char *meta[] = {"HMGET", d->keys[CLUSTER_KEY_META], "version", "deleted"};
    size_t meta_lens[] = {5, d->key_lens[CLUSTER_KEY_META], 7, 7};
    redis_conn *conn = &d->c->conn;
    if (redis_conn_command(conn, 4, snap, snap_lens, on_snap, d) != 0) {
        load_failed(d, -EIO);
        return;
    }
    d->refs++;
    if (redis_conn_command(conn, 4, meta, meta_lens, on_meta, d) != 0) {
        load_failed(d, -EIO);
        return;
    }
    d->refs++;
    d->cmd_out = true;
}

static void on_acquire(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    d->cmd_out = false;
    bool following = d->phase == PHASE_FOLLOWING;
    if (!cluster_doc_live(d) || (d->phase != PHASE_ACQUIRING && !following) || r == NULL || noscript(d, r)) goto out;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        log_error("cluster: acquire: unexpected reply%s%s", r->type == REDIS_REPLY_ERROR ? ": " : "",
                  r->type == REDIS_REPLY_ERROR ? r->str : "");
        if (!following) load_failed(d, -EIO);
        goto out;
    }
    if (r->element[0]->integer != 1) {
        /* another node holds it: read it and follow its log; ask again now and then */
        bool moved = following && strcmp(d->holder, r->element[1]->str) != 0;
        snprintf(d->holder, sizeof d->holder, "%s", r->element[1]->str);
        if (moved) d->ev->owner_changed(d->ctx);
        d->retry_at_ms = now_of(d->c) + d->c->lease_ms / 3 + 1;
        if (!following) {
            d->phase = PHASE_FOLLOW_LOADING;
            load_start(d);
        }
        goto out;
    }
    snprintf(d->token, sizeof d->token, "%s", r->element[1]->str);
    lease_granted(d, d->renew_sent_ms);
    log_debug("cluster: document %.*s: owned as %s", (int)d->name_len, d->name, d->token);
    if (following) {
        d->c->stats.takeovers++;
        cluster_follow_promote(d);
        goto out;
    }
    d->phase = PHASE_LOADING;
    load_start(d);
out:
    cluster_doc_unref(d);
}

static void acquire(cluster_doc *d) {
    uint64_t now = now_of(d->c);
    char lease[16];
    const char *args[] = {d->c->me, lease};
    size_t lens[] = {strlen(d->c->me), (size_t)snprintf(lease, sizeof lease, "%u", d->c->lease_ms)};
    cluster_key keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_EPOCH};
    d->renew_sent_ms = now;
    d->retry_at_ms = now + d->c->lease_ms / 6 + 1;
    if (eval(d, CLUSTER_SCRIPT_ACQUIRE, keys, 2, args, lens, 2, on_acquire) == 0) d->cmd_out = true;
}

cluster_doc *cluster_doc_open(cluster *c, const char *name, size_t name_len, bool create,
                              const cluster_doc_events *ev, void *ctx) {
    if (name_len >= sizeof ((cluster_doc *)0)->name) return NULL;
    cluster_doc *d = calloc(1, sizeof *d);
    if (d == NULL) return NULL;
    d->c = c;
    memcpy(d->name, name, name_len);
    d->name_len = name_len;
    for (int k = 0; k < CLUSTER_KEY_COUNT; k++) {
        d->key_lens[k] = cluster_key_name(c->prefix, name, name_len, (cluster_key)k, d->keys[k], KEY_MAX_BYTES);
        if (d->key_lens[k] == 0) {
            free(d);
            return NULL;
        }
    }
    d->create = create;
    d->ev = ev;
    d->ctx = ctx;
    d->refs = 1;
    d->phase = PHASE_ACQUIRING;
    /* a holder that died leaves its lease to run out: wait for that, and a bit */
    d->give_up_ms = now_of(c) + 2u * c->lease_ms + 1000u;
    d->next = c->docs;
    if (c->docs != NULL) c->docs->prev = d;
    c->docs = d;
    /* no event before this returns: a failure to send is retried by the timer */
    if (redis_conn_up(&c->conn)) acquire(d);
    return d;
}

void cluster_doc_close(cluster_doc *d) {
    cluster *c = d->c;
    if (d->prev != NULL) d->prev->next = d->next;
    else c->docs = d->next;
    if (d->next != NULL) d->next->prev = d->prev;
    d->prev = d->next = NULL;
    if (d->phase == PHASE_LOADING || d->phase == PHASE_OWNED || d->phase == PHASE_PROMOTING) release(d);
    bool following = d->phase == PHASE_FOLLOWING;
    cluster_presence_listen(d, false);
    d->closed = true;
    if (following) cluster_follow_changed(c);
    cluster_registry_changed(c);
    for (size_t i = 0; i < d->count_ops; i++) free(d->ops[(d->ops_head + i) % d->cap_ops].buf);
    free(d->ops);
    d->ops = NULL;
    d->count_ops = 0;
    cluster_doc_unref(d);
}

/* ---- appends ------------------------------------------------------------------------ */

bool cluster_doc_writable(const cluster_doc *d, uint64_t now_ms) {
    return d->phase == PHASE_OWNED && redis_conn_up(&d->c->conn) && now_ms < d->deadline_ms;
}


static void on_append(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    if (!cluster_doc_live(d) || d->count_ops == 0) goto out;
    const pending_op *head = &d->ops[d->ops_head];
    if (r == NULL || noscript(d, r)) {
        if (!d->resend) {
            d->resend = true;
            d->sent_to = d->acked;
            d->ev->append_failed(d->ctx, d->acked, d->acked + d->count_ops);
        }
        goto out;
    }
    if (d->resend) goto out;   /* an answer to a send before the failure: the resend decides */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[0]->type != REDIS_REPLY_INTEGER ||
        r->element[1]->type != REDIS_REPLY_INTEGER) {
        cluster_doc_lose(d, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected append reply");
        goto out;
    }
    long long status = r->element[0]->integer;
    uint64_t v = (uint64_t)r->element[1]->integer;
    bool landed = (status == CLUSTER_APPEND_OK || status == CLUSTER_APPEND_DUPLICATE) && v == head->rec.base_version;
    if (status == CLUSTER_APPEND_DELETED) {
        cluster_doc_deleted(d);
        goto out;
    }
    if (!landed) {
        cluster_doc_lose(d, status == CLUSTER_APPEND_NOTOWNER ? "fenced: another node owns it now"
                : status == CLUSTER_APPEND_CONFLICT ? "the log moved past this node's version"
                                                    : "an op id is in the log at another version");
        goto out;
    }
    free(head->buf);
    d->ops_head = (d->ops_head + 1) % d->cap_ops;
    d->count_ops--;
    d->acked = v + 1;
    d->ev->appended(d->ctx, d->acked);
out:
    cluster_doc_unref(d);
}

static int send_append(cluster_doc *d, const pending_op *p) {
    const store_record *rec = &p->rec;
    char v[24], time[24], cps[24], bytes[24];
    const char *args[] = {d->token, v, rec->id, rec->author, time, rec->op_json, cps, bytes};
    size_t lens[] = {strlen(d->token),
                     (size_t)snprintf(v, sizeof v, "%" PRIu64, rec->base_version),
                     rec->id_len,
                     rec->author_len,
                     (size_t)snprintf(time, sizeof time, "%" PRId64, rec->time_ms),
                     rec->op_len,
                     (size_t)snprintf(cps, sizeof cps, "%" PRIu64, p->codepoints),
                     (size_t)snprintf(bytes, sizeof bytes, "%" PRIu64, p->bytes)};
    cluster_key keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_META, CLUSTER_KEY_LOG, CLUSTER_KEY_IDS};
    return eval(d, CLUSTER_SCRIPT_APPEND, keys, 4, args, lens, 8, on_append);
}

/* Sends the queued appends from sent_to on (all of them after a failure). */
static void send_appends(cluster_doc *d) {
    if (d->phase != PHASE_OWNED || !redis_conn_up(&d->c->conn)) return;
    d->resend = false;
    /* bounded by the queue */
    while (d->sent_to < d->acked + d->count_ops) {
        const pending_op *p = &d->ops[(d->ops_head + (d->sent_to - d->acked)) % d->cap_ops];
        if (send_append(d, p) != 0) return;
        d->sent_to++;
    }
}

static int ops_grow(cluster_doc *d) {
    size_t cap = d->cap_ops == 0 ? 64 : d->cap_ops * 2;
    pending_op *o = malloc(sizeof *o * cap);
    if (o == NULL) return -ENOMEM;
    for (size_t i = 0; i < d->count_ops; i++) o[i] = d->ops[(d->ops_head + i) % d->cap_ops];
    free(d->ops);
    d->ops = o;
    d->cap_ops = cap;
    d->ops_head = 0;
    return 0;
}

int cluster_doc_append(cluster_doc *d, const store_record *rec, uint64_t codepoints, uint64_t bytes) {
    if (d->phase != PHASE_OWNED) return -EAGAIN;
    if (rec->base_version != d->acked + d->count_ops) return -EINVAL;
    if (d->count_ops == d->cap_ops && ops_grow(d) != 0) return -ENOMEM;
    char *buf = malloc(rec->op_len + rec->id_len + rec->author_len + 3);
    if (buf == NULL) return -ENOMEM;
    pending_op *p = &d->ops[(d->ops_head + d->count_ops) % d->cap_ops];
    memcpy(buf, rec->op_json, rec->op_len);
    buf[rec->op_len] = '\0';
    memcpy(buf + rec->op_len + 1, rec->id, rec->id_len);
    buf[rec->op_len + 1 + rec->id_len] = '\0';
    memcpy(buf + rec->op_len + rec->id_len + 2, rec->author, rec->author_len);
    buf[rec->op_len + rec->id_len + 2 + rec->author_len] = '\0';
    p->buf = buf;
    p->codepoints = codepoints;
    p->bytes = bytes;
    p->rec = *rec;
    p->rec.op_json = buf;
    p->rec.id = buf + rec->op_len + 1;
    p->rec.author = buf + rec->op_len + rec->id_len + 2;
    d->count_ops++;
    if (!d->resend) send_appends(d);
    return 0;
}

int cluster_doc_snapshot(cluster_doc *d, const char *text, size_t len, uint64_t version, uint64_t trim_below,
                         int64_t before_ms) {
    if (d->phase != PHASE_OWNED) return -EAGAIN;
    char v[24], below[24], before[24];
    const char *args[] = {d->token, v, text, below, before};
    size_t lens[] = {strlen(d->token), (size_t)snprintf(v, sizeof v, "%" PRIu64, version), len,
                     (size_t)snprintf(below, sizeof below, "%" PRIu64, trim_below),
                     (size_t)snprintf(before, sizeof before, "%" PRId64, before_ms > 0 ? before_ms : 0)};
    cluster_key keys[] = {CLUSTER_KEY_OWNER, CLUSTER_KEY_SNAP, CLUSTER_KEY_LOG, CLUSTER_KEY_IDS, CLUSTER_KEY_BASE};
    return eval(d, CLUSTER_SCRIPT_SNAP, keys, 5, args, lens, 5, NULL);
}

/* ---- the worker's cluster ------------------------------------------------------------ */

static void on_script_load(void *ctx, const redisReply *r) {
    (void)ctx;
    if (r != NULL && r->type == REDIS_REPLY_ERROR) log_error("cluster: SCRIPT LOAD: %s", r->str);
}

static void on_state(void *ctx, bool up) {
    cluster *c = ctx;
    if (!up || c->stopping) return;
    for (int i = 0; i < CLUSTER_SCRIPT_COUNT; i++) {
        const char *argv[] = {"SCRIPT", "LOAD", cluster_script_text((cluster_script_id)i)};
        size_t lens[] = {6, 4, strlen(argv[2])};
        redis_conn_command(&c->conn, 3, argv, lens, on_script_load, NULL);
    }
    /* what the failure interrupted: renewals (they check the token), then the appends */
    for (cluster_doc *d = c->docs; d != NULL; d = d->next) {
        if (d->phase != PHASE_OWNED) continue;
        if (!d->renew_out) renew(d);
        if (d->resend) send_appends(d);
    }
}

int cluster_new(const cluster_config *cfg, struct worker *w, cluster **out) {
    cluster *c = calloc(1, sizeof *c);
    if (c == NULL) return -ENOMEM;
    c->w = w;
    c->lease_ms = cfg->lease_ms;
    snprintf(c->node, sizeof c->node, "%s", cfg->node_id);
    snprintf(c->prefix, sizeof c->prefix, "%s", cfg->prefix);
    snprintf(c->me, sizeof c->me, "%s#%u", cfg->node_id, cfg->worker);
    c->backfill = cfg->worker == 0 ? BACKFILL_CHECK : BACKFILL_DONE;
    for (int i = 0; i < CLUSTER_SCRIPT_COUNT; i++) cluster_script_sha((cluster_script_id)i, c->sha[i]);
    int rc = redis_conn_init(&c->conn, w, cfg->host, cfg->port, cfg->db, on_state, c);
    if (rc == 0) rc = cluster_follow_init(c, cfg->host, cfg->port, cfg->db);
    if (rc == 0) rc = cluster_presence_init(c, cfg->host, cfg->port, cfg->db);
    if (rc != 0) {
        redis_conn_destroy(&c->conn);
        redis_conn_destroy(&c->follow);
        free(c);
        return rc;
    }
    *out = c;
    return 0;
}

/* The worker's cluster figures for /metrics. */
static void publish_metrics(cluster *c, uint32_t owned, uint32_t followed) {
    metrics_worker *m = c->w->m;
    if (m == NULL) return;
    metrics_set(&m->cluster_enabled, 1);
    metrics_set(&m->cluster_owned_docs, owned);
    metrics_set(&m->cluster_followed_docs, followed);
    metrics_set(&m->cluster_forwarded[0], c->stats.forwarded_out);
    metrics_set(&m->cluster_forwarded[1], c->stats.forwarded_in);
    metrics_set(&m->cluster_takeovers, c->stats.takeovers);
    metrics_set(&m->cluster_lost, c->stats.lost);
    metrics_set(&m->cluster_stream_lag_ms, c->stats.stream_lag_ms);
}

void cluster_tick(cluster *c, uint64_t now_ms) {
    redis_conn_tick(&c->conn, now_ms);
    redis_conn_tick(&c->follow, now_ms);
    redis_conn_tick(&c->sub, now_ms);
    bool up = redis_conn_up(&c->conn);
    uint32_t owned = 0, followed = 0;
    for (cluster_doc *d = c->docs, *next; d != NULL; d = next) {
        next = d->next;
        owned += d->phase == PHASE_OWNED;
        followed += d->phase == PHASE_FOLLOWING;
        if (d->phase == PHASE_ACQUIRING && !d->cmd_out && now_ms >= d->give_up_ms)
            load_failed(d, up ? -EAGAIN : -EIO);
        else if (!up) continue;
        else if ((d->phase == PHASE_ACQUIRING || d->phase == PHASE_FOLLOWING) && !d->cmd_out &&
                 now_ms >= d->retry_at_ms)
            acquire(d);
        else if (d->phase == PHASE_OWNED && !d->renew_out && now_ms >= d->renew_at_ms) renew(d);
    }
    publish_metrics(c, owned, followed);
    cluster_registry_tick(c, now_ms);
    if (up) cluster_backfill_tick(c, now_ms);
}

bool cluster_up(const cluster *c) { return redis_conn_up(&c->conn); }
bool cluster_idle(const cluster *c) {
    return redis_conn_idle(&c->conn) && redis_conn_idle(&c->follow) && redis_conn_idle(&c->sub);
}
bool cluster_doc_owned(const cluster_doc *d) { return d->phase == PHASE_OWNED; }
void cluster_set_forward_handler(cluster *c, cluster_forward_fn fn, void *ctx) {
    c->on_forward = fn;
    c->forward_ctx = ctx;
}
const char *cluster_node_id(const cluster *c) { return c->node; }

void cluster_release_all(cluster *c) {
    if (redis_conn_up(&c->conn)) cluster_registry_leave(c);
    for (cluster_doc *d = c->docs; d != NULL; d = d->next)
        if (d->phase == PHASE_LOADING || d->phase == PHASE_OWNED || d->phase == PHASE_PROMOTING) release(d);
    c->stopping = true;
}

void cluster_stop(cluster *c) {
    c->stopping = true;
    redis_conn_stop(&c->conn);
    redis_conn_stop(&c->follow);
    redis_conn_stop(&c->sub);
}

void cluster_free(cluster *c) {
    if (c == NULL) return;
    if (!redis_conn_idle(&c->conn) || !redis_conn_idle(&c->follow) || !redis_conn_idle(&c->sub)) {
        /* the kernel may still write into it: leave it (the process is exiting) */
        log_warn("cluster: the Redis socket is still in the kernel at exit; its buffers are left");
        return;
    }
    redis_conn_destroy(&c->conn);
    redis_conn_destroy(&c->follow);
    redis_conn_destroy(&c->sub);
    cluster_registry_free(c);
    free(c);
}

void cluster_load_free(cluster_load *ld) {
    for (size_t i = 0; i < ld->count_ops; i++) free(ld->bufs[i]);
    free(ld->bufs);
    free(ld->ops);
    free(ld->snap_text);
    memset(ld, 0, sizeof *ld);
}
