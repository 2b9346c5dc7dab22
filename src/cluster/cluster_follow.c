/* Following: a node that serves a document another node owns reads the
 * document's log as it grows, with one XREAD BLOCK per worker on a
 * connection of its own (a blocked read would stall the pipeline of the
 * other). The same XREAD reads the worker's inbox: ops forwarded to the
 * documents it owns, refusals of the ops it forwarded, and wake-ups (an
 * entry that ends the blocked read when the set of followed logs changed).
 * Every read starts at the last ID seen, so a reconnect resumes without a
 * gap; the log's IDs are versions, so a gap would show. */
#include "cluster/cluster_internal.h"

#include "base/clock.h"
#include "base/log.h"
#include "io/ring.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The blocked read's timeout (a nil answer is asked again at once). */
#define FOLLOW_BLOCK_MS "5000"
#define FOLLOW_COUNT "1000"
/* Inboxes keep about this many entries (XADD MAXLEN ~). */
#define INBOX_MAXLEN "10000"

static void issue_read(cluster *c);

/* ---- small helpers -------------------------------------------------------------------- */

static const redisReply *field(const redisReply *fields, const char *name) {
    if (fields == NULL || fields->type != REDIS_REPLY_ARRAY) return NULL;
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *k = fields->element[i], *v = fields->element[i + 1];
        if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING && strcmp(k->str, name) == 0) return v;
    }
    return NULL;
}

/* The inbox of the lease holder `token` (<node>#<worker>:<epoch>). 0: not a token. */
static size_t inbox_of(const cluster *c, const char *token, char *out, size_t cap) {
    const char *colon = strrchr(token, ':');
    if (colon == NULL || colon == token) return 0;
    int n = snprintf(out, cap, "%s{n:%.*s}:inbox", c->prefix, (int)(colon - token), token);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static cluster_doc *find_following(cluster *c, const char *log_key, size_t len) {
    for (cluster_doc *d = c->docs; d != NULL; d = d->next)
        if (d->key_lens[CLUSTER_KEY_LOG] == len && memcmp(d->keys[CLUSTER_KEY_LOG], log_key, len) == 0) return d;
    return NULL;
}

static cluster_doc *find_named(cluster *c, const char *name, size_t len) {
    for (cluster_doc *d = c->docs; d != NULL; d = d->next)
        if (d->name_len == len && memcmp(d->name, name, len) == 0) return d;
    return NULL;
}

/* ---- the log's entries ------------------------------------------------------------------- */

/* One entry of a followed (or promoting) document's log, in order. */
static void deliver(cluster_doc *d, const redisReply *entry) {
    if (entry->type != REDIS_REPLY_ARRAY || entry->elements != 2 || entry->element[0]->type != REDIS_REPLY_STRING)
        return;
    uint64_t v = cluster_parse_u64(entry->element[0]->str, entry->element[0]->len);
    if (v < d->acked) return;   /* seen already */
    if (v == d->acked && field(entry->element[1], "deleted") != NULL) {
        cluster_doc_deleted(d);
        return;
    }
    store_record rec;
    if (v > d->acked || cluster_entry_record(entry->element[1], v, &rec) != 0) {
        cluster_doc_lose(d, "a gap or a damaged entry in the followed log; reloading");
        return;
    }
    d->acked = d->sent_to = v + 1;
    int64_t now = clock_wall_ms();
    d->c->stats.stream_lag_ms = now > rec.time_ms ? (uint64_t)(now - rec.time_ms) : 0;
    d->ev->logged(d->ctx, &rec);
}

static void deliver_all(cluster_doc *d, const redisReply *entries) {
    d->refs++;   /* an event may close it */
    for (size_t i = 0; i < entries->elements && cluster_doc_live(d); i++) deliver(d, entries->element[i]);
    cluster_doc_unref(d);
}

/* ---- the inbox --------------------------------------------------------------------------- */

static void forwarded(cluster *c, const redisReply *fields) {
    const redisReply *doc = field(fields, "doc"), *v = field(fields, "v"), *key = field(fields, "key"),
                     *reply = field(fields, "reply");
    store_record rec;
    if (doc == NULL || v == NULL || key == NULL || reply == NULL || c->on_forward == NULL ||
        cluster_entry_record(fields, cluster_parse_u64(v->str, v->len), &rec) != 0)
        return;
    cluster_forward f = {
        .doc = doc->str, .doc_len = doc->len, .rec = rec, .key = cluster_parse_u64(key->str, key->len),
        .reply = reply->str, .reply_len = reply->len,
    };
    c->stats.forwarded_in++;
    c->on_forward(c->forward_ctx, &f);
}

static void refused(cluster *c, const redisReply *fields) {
    const redisReply *doc = field(fields, "doc"), *key = field(fields, "key"), *id = field(fields, "id"),
                     *code = field(fields, "code");
    if (doc == NULL || key == NULL || id == NULL || code == NULL) return;
    cluster_doc *d = find_named(c, doc->str, doc->len);
    if (d == NULL || !cluster_doc_live(d)) return;
    d->ev->refused(d->ctx, cluster_parse_u64(key->str, key->len), id->str, id->len, (int)strtol(code->str, NULL, 10));
}

static void inbox_entries(cluster *c, const redisReply *entries) {
    for (size_t i = 0; i < entries->elements; i++) {
        const redisReply *e = entries->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING) continue;
        snprintf(c->inbox_last, sizeof c->inbox_last, "%s", e->element[0]->str);
        const redisReply *t = field(e->element[1], "t");
        if (t == NULL) continue;
        if (strcmp(t->str, "op") == 0) forwarded(c, e->element[1]);
        else if (strcmp(t->str, "err") == 0) refused(c, e->element[1]);
    }
}

void cluster_refuse(cluster *c, const cluster_forward *f, int code) {
    char key[24], cs[16];
    const char *argv[] = {"XADD", f->reply, "MAXLEN", "~", INBOX_MAXLEN, "*", "t", "err", "doc", f->doc,
                          "key", key, "id", f->rec.id, "code", cs};
    size_t lens[] = {4, f->reply_len, 6, 1, strlen(INBOX_MAXLEN), 1, 1, 3, 3, f->doc_len,
                     3, (size_t)snprintf(key, sizeof key, "%" PRIu64, f->key), 2, f->rec.id_len,
                     4, (size_t)snprintf(cs, sizeof cs, "%d", code)};
    if (redis_conn_command(&c->conn, 16, argv, lens, NULL, NULL) != 0)
        log_warn("cluster: a refusal for document %.*s could not be sent", (int)f->doc_len, f->doc);
}

int cluster_doc_forward(cluster_doc *d, const store_record *rec, uint64_t key) {
    cluster *c = d->c;
    if (d->phase != PHASE_FOLLOWING) return -EAGAIN;
    char to[KEY_MAX_BYTES], v[24], k[24], time[24];
    size_t to_len = inbox_of(c, d->holder, to, sizeof to);
    if (to_len == 0) return -EAGAIN;
    const char *argv[] = {"XADD", to, "MAXLEN", "~", INBOX_MAXLEN, "*", "t", "op", "doc", d->name, "v", v,
                          "id", rec->id, "by", rec->author, "time", time, "op", rec->op_json, "key", k,
                          "reply", c->inbox};
    size_t lens[] = {4, to_len, 6, 1, strlen(INBOX_MAXLEN), 1, 1, 2, 3, d->name_len,
                     1, (size_t)snprintf(v, sizeof v, "%" PRIu64, rec->base_version),
                     2, rec->id_len, 2, rec->author_len,
                     4, (size_t)snprintf(time, sizeof time, "%" PRId64, rec->time_ms),
                     2, rec->op_len, 3, (size_t)snprintf(k, sizeof k, "%" PRIu64, key),
                     5, c->inbox_len};
    int rc = redis_conn_command(&c->conn, 24, argv, lens, NULL, NULL);
    if (rc == 0) c->stats.forwarded_out++;
    return rc;
}

/* ---- the read --------------------------------------------------------------------------- */

static void on_read(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    c->read_out = false;
    if (r == NULL || c->stopping) return;   /* the connection failed: read again once it is back */
    if (r->type == REDIS_REPLY_ARRAY) {
        for (size_t i = 0; i < r->elements; i++) {
            const redisReply *s = r->element[i];
            if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 || s->element[0]->type != REDIS_REPLY_STRING ||
                s->element[1]->type != REDIS_REPLY_ARRAY)
                continue;
            const redisReply *name = s->element[0];
            if (name->len == c->inbox_len && memcmp(name->str, c->inbox, name->len) == 0) {
                inbox_entries(c, s->element[1]);
                continue;
            }
            cluster_doc *d = find_following(c, name->str, name->len);
            if (d != NULL && d->phase == PHASE_FOLLOWING) deliver_all(d, s->element[1]);
        }
    } else if (r->type == REDIS_REPLY_ERROR) {
        log_warn("cluster: XREAD: %s", r->str);
    }
    issue_read(c);
}

/* The last ID seen of a log whose next version is v. */
static int last_id(uint64_t v, char *out, size_t cap) {
    return v == 0 ? snprintf(out, cap, "0-0") : snprintf(out, cap, "%" PRIu64 "-1", v - 1);
}

static void issue_read(cluster *c) {
    if (c->read_out || c->stopping || !redis_conn_up(&c->follow) || c->inbox_last[0] == '\0') return;
    uint32_t n = 0;
    for (cluster_doc *d = c->docs; d != NULL; d = d->next) n += d->phase == PHASE_FOLLOWING;
    size_t count = 7 + 2 * (size_t)(n + 1);
    const char **argv = malloc(sizeof *argv * count);
    size_t *lens = malloc(sizeof *lens * count);
    char *ids = malloc((size_t)n * 24 + 1);
    if (argv == NULL || lens == NULL || ids == NULL) {
        free(argv);
        free(lens);
        free(ids);
        log_warn("cluster: no memory for the follow read; retried at the next change");
        return;
    }
    static const char *const head[] = {"XREAD", "COUNT", FOLLOW_COUNT, "BLOCK", FOLLOW_BLOCK_MS, "STREAMS"};
    size_t a = 0;
    for (; a < 6; a++) {
        argv[a] = head[a];
        lens[a] = strlen(head[a]);
    }
    argv[a] = c->inbox;
    lens[a++] = c->inbox_len;
    for (cluster_doc *d = c->docs; d != NULL; d = d->next) {
        if (d->phase != PHASE_FOLLOWING) continue;
        argv[a] = d->keys[CLUSTER_KEY_LOG];
        lens[a++] = d->key_lens[CLUSTER_KEY_LOG];
    }
    argv[a] = c->inbox_last;
    lens[a++] = strlen(c->inbox_last);
    size_t at = 0;
    for (cluster_doc *d = c->docs; d != NULL; d = d->next) {
        if (d->phase != PHASE_FOLLOWING) continue;
        int len = last_id(d->acked, ids + at, 24);
        argv[a] = ids + at;
        lens[a++] = (size_t)len;
        at += (size_t)len + 1;
    }
    if (redis_conn_command(&c->follow, (int)a, argv, lens, on_read, c) == 0) c->read_out = true;
    free(argv);
    free(lens);
    free(ids);
}

void cluster_follow_changed(cluster *c) {
    if (!c->read_out) {
        issue_read(c);
        return;
    }
    /* the blocked read ends once the inbox has an entry; the next one has the new set */
    const char *argv[] = {"XADD", c->inbox, "MAXLEN", "~", INBOX_MAXLEN, "*", "t", "wake"};
    size_t lens[] = {4, c->inbox_len, 6, 1, strlen(INBOX_MAXLEN), 1, 1, 4};
    redis_conn_command(&c->conn, 8, argv, lens, NULL, NULL);
}

/* The inbox's first mark: reading starts after it, so entries left from an
 * earlier run of this node are not taken for new ones. */
static void on_mark(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    if (r == NULL || r->type != REDIS_REPLY_STRING) {
        if (r != NULL) log_warn("cluster: cannot mark the inbox %s", c->inbox);
        return;
    }
    snprintf(c->inbox_last, sizeof c->inbox_last, "%s", r->str);
    issue_read(c);
}

static void on_follow_state(void *ctx, bool up) {
    cluster *c = ctx;
    if (!up || c->stopping) return;
    if (c->inbox_last[0] != '\0') {
        issue_read(c);
        return;
    }
    const char *argv[] = {"XADD", c->inbox, "MAXLEN", "~", INBOX_MAXLEN, "*", "t", "mark"};
    size_t lens[] = {4, c->inbox_len, 6, 1, strlen(INBOX_MAXLEN), 1, 1, 4};
    redis_conn_command(&c->follow, 8, argv, lens, on_mark, c);
}

int cluster_follow_init(cluster *c, const char *host, uint32_t port, uint32_t db) {
    int n = snprintf(c->inbox, sizeof c->inbox, "%s{n:%s}:inbox", c->prefix, c->me);
    if (n <= 0 || (size_t)n >= sizeof c->inbox) return -EINVAL;
    c->inbox_len = (size_t)n;
    int rc = redis_conn_init(&c->follow, c->w, host, port, db, on_follow_state, c);
    c->follow.blocking = true;
    return rc;
}

/* ---- promotion -------------------------------------------------------------------------- */

static void catch_up(cluster_doc *d);

static void on_catch_up(void *ctx, const redisReply *r) {
    cluster_doc *d = ctx;
    d->cmd_out = false;
    if (!cluster_doc_live(d) || d->phase != PHASE_PROMOTING) goto out;
    if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
        cluster_doc_lose(d, "the log could not be read after the takeover");
        goto out;
    }
    size_t n = r->elements;
    deliver_all(d, r);
    if (!cluster_doc_live(d)) goto out;
    if (n == CLUSTER_LOAD_PAGE) {
        catch_up(d);
        goto out;
    }
    d->phase = PHASE_OWNED;
    d->sent_to = d->acked;
    cluster_registry_changed(d->c);
    log_info("cluster: document %.*s: taken over at v%" PRIu64 " as %s", (int)d->name_len, d->name, d->acked,
             d->token);
    d->ev->promoted(d->ctx);
out:
    cluster_doc_unref(d);
}

static void catch_up(cluster_doc *d) {
    char from[32];
    int n = d->acked == 0 ? snprintf(from, sizeof from, "-") : snprintf(from, sizeof from, "(%" PRIu64 "-1", d->acked - 1);
    char count[16];
    const char *argv[] = {"XRANGE", d->keys[CLUSTER_KEY_LOG], from, "+", "COUNT", count};
    size_t lens[] = {6, d->key_lens[CLUSTER_KEY_LOG], (size_t)n, 1, 5,
                     (size_t)snprintf(count, sizeof count, "%u", CLUSTER_LOAD_PAGE)};
    if (redis_conn_command(&d->c->conn, 6, argv, lens, on_catch_up, d) != 0) {
        cluster_doc_lose(d, "the log could not be read after the takeover");
        return;
    }
    d->refs++;
    d->cmd_out = true;
}

void cluster_follow_promote(cluster_doc *d) {
    d->phase = PHASE_PROMOTING;
    cluster_follow_changed(d->c);
    catch_up(d);
}
