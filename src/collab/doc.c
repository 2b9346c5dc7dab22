#include "collab/doc.h"
#include "base/clock.h"

#include "base/membudget.h"
#include "base/metrics.h"

#include <assert.h>
#include <errno.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct doc_sub {
    uint64_t key;
    char session[DOC_SESSION_ID_BYTES];
    char by[DOC_BY_BYTES + 1];
    char name[PROTO_MAX_NAME_BYTES + 1];
    char color[PROTO_MAX_COLOR_BYTES + 1];
    bool has_name;
    bool has_color;
    uint32_t count_sel;
    uint64_t sel_v;                    /* the version sel is valid at */
    proto_range sel[PROTO_MAX_SEL_RANGES];
} doc_sub;

/* A resend of an op that is applied but not yet published: acked with it. */
typedef struct doc_dup_ack {
    uint64_t version;
    uint64_t key;
    char id[PROTO_MAX_ID_BYTES + 1];
    size_t id_len;
} doc_dup_ack;

#define DOC_MAX_DUP_ACKS 1024u

struct doc {
    char name[DOCNAME_MAX_BYTES + 1];
    size_t name_len;
    ot_doc *ot;
    store_log *log;
    doc_sub *subs;
    /* subs[i].key again, densely: every op scans the subscribers (find the
     * sender, broadcast to the rest), and 8 bytes per subscriber stay in
     * cache where a ~600-byte doc_sub per subscriber does not. */
    uint64_t *sub_keys;
    uint32_t count_subs;
    uint32_t cap_subs;
    uint64_t published;                /* every op with base < published was sent */
    uint64_t senders[DOC_MAX_UNPUBLISHED_OPS]; /* [v % max]: who sent unpublished op v (0: nobody) */
    doc_dup_ack *dups;
    uint32_t count_dups;
    ot_buf scratch;
    ot_buf text;
    ot_history_entry hist;             /* a retained op, decoded (reused) */
    uint32_t history_depth;
    size_t history_max_bytes;          /* 0: no bound but the depth */
    membudget *budget;                 /* NULL: not counted */
    size_t counted_bytes;              /* what budget has of this document */
    struct metrics_worker *metrics;
    doc_replica replica;               /* append NULL: the log (or nothing) makes ops durable */
    uint64_t submitted_us[DOC_MAX_UNPUBLISHED_OPS]; /* [v % max]: when unpublished op v arrived */
};

static proto_str pstr(const char *s, size_t n) { return (proto_str){s, n}; }
static void publish_until(doc *d, uint64_t durable, fanout *out);
static void lost(fanout *out, uint64_t key);
static int send_scratch(doc *d, fanout *out, uint64_t key);
static const ot_history_entry *history_at(doc *d, uint64_t v);

int doc_new(const char *name, size_t name_len, ot_doc *ot, store_log *log, doc **out) {
    if (name_len > DOCNAME_MAX_BYTES) return -EINVAL;
    doc *d = calloc(1, sizeof *d);
    if (d == NULL) return -ENOMEM;
    memcpy(d->name, name, name_len);
    d->name_len = name_len;
    d->ot = ot;
    d->log = log;
    d->published = ot_doc_version(ot);
    ot_buf_init(&d->scratch);
    ot_buf_init(&d->text);
    ot_history_entry_init(&d->hist);
    *out = d;
    return 0;
}

void doc_free(doc *d) {
    if (d == NULL) return;
    if (d->budget != NULL) membudget_add(d->budget, -(int64_t)d->counted_bytes);
    ot_doc_free(d->ot);
    store_log_free(d->log);
    free(d->subs);
    free(d->sub_keys);
    free(d->dups);
    ot_buf_free(&d->scratch);
    ot_buf_free(&d->text);
    ot_history_entry_free(&d->hist);
    free(d);
}

struct metrics_worker *doc_metrics(const doc *d) { return d->metrics; }

void doc_set_history_depth(doc *d, uint32_t depth) { d->history_depth = depth; }

size_t doc_memory_bytes(const doc *d) {
    return sizeof *d + ot_doc_history_bytes(d->ot) + (size_t)ot_text_len_bytes(ot_doc_text(d->ot)) +
           d->scratch.cap + d->text.cap;
}

/* Buffers up to this size are kept for the next frame; larger ones (a large
 * op's) are freed once used, or every document would keep its largest. */
#define DOC_KEEP_BUFFER_BYTES (256u * 1024u)

static void trim_buffers(doc *d) {
    if (d->scratch.cap > DOC_KEEP_BUFFER_BYTES) ot_buf_free(&d->scratch);
    if (d->text.cap > DOC_KEEP_BUFFER_BYTES) ot_buf_free(&d->text);
    if (d->hist.op.text_capacity_bytes > DOC_KEEP_BUFFER_BYTES) ot_history_entry_free(&d->hist);
}

/* Frees large buffers and brings the budget's count of this document up to date. */
static void count_memory(doc *d) {
    trim_buffers(d);
    if (d->budget == NULL) return;
    size_t now = doc_memory_bytes(d);
    if (now != d->counted_bytes) membudget_add(d->budget, (int64_t)now - (int64_t)d->counted_bytes);
    d->counted_bytes = now;
}

size_t doc_shed_history(doc *d, size_t want_bytes) {
    size_t before = ot_doc_history_bytes(d->ot);
    /* bounded by the published ops retained */
    while (ot_doc_oldest_version(d->ot) < d->published && before - ot_doc_history_bytes(d->ot) < want_bytes)
        ot_doc_forget_before(d->ot, ot_doc_oldest_version(d->ot) + 1);
    size_t freed = before - ot_doc_history_bytes(d->ot);
    count_memory(d);
    return freed;
}

/* What the history keeps once ops are published: history_depth of them (the
 * OT ring has room for DOC_MAX_UNPUBLISHED_OPS more so that unpublished ops
 * outlive any client's view, but once published they would only hold memory),
 * within history_max_bytes, and less while the process is over its budget.
 * Unpublished ops always stay: they are still to be sent. */
static void retain(doc *d) {
    if (d->history_depth > 0 && d->published > d->history_depth)
        ot_doc_forget_before(d->ot, d->published - d->history_depth);
    size_t bytes = ot_doc_history_bytes(d->ot);
    size_t want = d->history_max_bytes > 0 && bytes > d->history_max_bytes ? bytes - d->history_max_bytes : 0;
    uint64_t over = membudget_over(d->budget);
    if (over > want) want = over > SIZE_MAX ? SIZE_MAX : (size_t)over;
    if (want > 0) doc_shed_history(d, want);
    count_memory(d);
}

void doc_set_memory(doc *d, size_t history_max_bytes, membudget *budget) {
    if (d->budget != NULL) membudget_add(d->budget, -(int64_t)d->counted_bytes);
    d->counted_bytes = 0;
    d->history_max_bytes = history_max_bytes;
    d->budget = budget;
    count_memory(d); /* before retain: its own bytes count toward the budget */
    retain(d);
}
void doc_set_metrics(doc *d, struct metrics_worker *m) { d->metrics = m; }

void doc_set_replica(doc *d, const doc_replica *r) { d->replica = *r; }

void doc_on_replicated(doc *d, uint64_t durable_to, fanout *out) { publish_until(d, durable_to, out); }

void doc_ack(doc *d, uint64_t key, const char *id, size_t id_len, uint64_t v, fanout *out) {
    if (fanout_key_typed(key)) {
        proto_rest_answer a = {.kind = PROTO_REST_ACK, .doc = pstr(d->name, d->name_len), .id = pstr(id, id_len),
                               .v = v};
        doc_send_answer(out, key, &a);
        return;
    }
    ot_buf_clear(&d->scratch);
    if (proto_enc_ack(&d->scratch, pstr(d->name, d->name_len), pstr(id, id_len), v) == 0) send_scratch(d, out, key);
    else lost(out, key);
}

int doc_apply_logged(doc *d, uint64_t v, const ot_op *op, const char *id, size_t id_len, const char *author,
                     size_t author_len, int64_t time_ms, uint64_t sender, fanout *out) {
    if (v != ot_doc_version(d->ot) || d->published != v) return -EIO;
    ot_submit_result res;
    ot_op_init(&res.op);
    int rc = ot_doc_submit(d->ot, v, op, id, id_len, author, author_len, time_ms, &res);
    bool exact = rc == OT_OK && !res.duplicate && res.applied_at_version == v;
    ot_op_free(&res.op);
    if (!exact) return -EIO;
    d->senders[v % DOC_MAX_UNPUBLISHED_OPS] = sender;
    if (d->metrics != NULL) d->submitted_us[v % DOC_MAX_UNPUBLISHED_OPS] = clock_mono_us();
    publish_until(d, v + 1, out);
    return 0;
}

/* Following: the op goes to the owner as it came (the owner transforms it). */
static int forward_op(doc *d, uint64_t key, const char *author, uint64_t v, const char *id, size_t id_len,
                      const ot_op *op, int64_t now_ms, fanout *out) {
    uint64_t at;
    if (ot_doc_find_id(d->ot, id, id_len, &at)) {
        doc_ack(d, key, id, id_len, at, out);
        return 0;
    }
    /* a base ahead of this follower is the owner's to judge: its log may be ahead */
    if (v < doc_oldest_version(d)) {
        doc_send_error(out, key, PROTO_ERR_VERSION_TOO_OLD, "base version is older than the retained history", id,
                       id_len);
        return PROTO_ERR_VERSION_TOO_OLD;
    }
    ot_buf_clear(&d->scratch);
    int rc = ot_op_to_json(op, &d->scratch);
    store_record rec = {
        .base_version = v, .time_ms = now_ms, .id = id, .id_len = id_len, .author = author,
        .author_len = strlen(author), .op_json = d->scratch.data, .op_len = d->scratch.len,
    };
    if (rc == OT_OK) rc = d->replica.forward(d->replica.ctx, key, &rec);
    if (rc == 0) return 0;
    doc_send_error(out, key, PROTO_ERR_STORAGE_UNAVAILABLE,
                   "the document's owner cannot be reached now; retry with the same id", id, id_len);
    return PROTO_ERR_STORAGE_UNAVAILABLE;
}

void doc_on_replica_failed(doc *d, uint64_t from, uint64_t to, const char *why, fanout *out) {
    for (uint64_t v = from; v < to && v < ot_doc_version(d->ot); v++) {
        uint64_t sender = d->senders[v % DOC_MAX_UNPUBLISHED_OPS];
        const ot_history_entry *e = sender != 0 ? history_at(d, v) : NULL;
        if (e != NULL) doc_send_error(out, sender, PROTO_ERR_STORAGE_UNAVAILABLE, why, e->id, e->id_len);
    }
}

uint64_t doc_oldest_version(const doc *d) {
    uint64_t oldest = ot_doc_oldest_version(d->ot);
    if (d->history_depth > 0 && d->published > d->history_depth && d->published - d->history_depth > oldest)
        oldest = d->published - d->history_depth;
    return oldest;
}

const char *doc_name(const doc *d, size_t *len) {
    if (len != NULL) *len = d->name_len;
    return d->name;
}
uint64_t doc_version(const doc *d) { return ot_doc_version(d->ot); }
uint64_t doc_published_version(const doc *d) { return d->published; }
uint32_t doc_count_subscribers(const doc *d) { return d->count_subs; }
store_log *doc_log(doc *d) { return d->log; }
const ot_doc *doc_ot(const doc *d) { return d->ot; }
bool doc_storage_failed(const doc *d) { return d->log != NULL && store_log_failed(d->log); }

bool doc_is_quiet(const doc *d) {
    return d->count_subs == 0 && d->published == ot_doc_version(d->ot) && d->count_dups == 0 &&
           (d->log == NULL || store_log_idle(d->log));
}

static doc_sub *find_sub(const doc *d, uint64_t key) {
    const uint64_t *keys = d->sub_keys;
    for (uint32_t i = 0; i < d->count_subs; i++)
        if (keys[i] == key) return &d->subs[i];
    return NULL;
}

bool doc_is_subscribed(const doc *d, uint64_t key) { return find_sub(d, key) != NULL; }

/* ---- frames ---------------------------------------------------------------- */

/* A frame for `key` could not be made (no memory): rather than a silent gap
 * in its stream, the session is closed with 1011 after what it was sent
 * (PROTOCOL.md §5), and the client reconnects. */
static void lost(fanout *out, uint64_t key) {
    fanout_doom(out, fanout_key_worker(key), &key, 1);
}

static void lost_all(doc *d, fanout *out, uint64_t except) {
    for (uint32_t i = 0; i < d->count_subs; i++)
        if (d->sub_keys[i] != except) lost(out, d->sub_keys[i]);
}

/* Sends the JSON in d->scratch to one session. */
static int send_scratch(doc *d, fanout *out, uint64_t key) {
    rbuf *f = fanout_frame_in(out, d->scratch.data, d->scratch.len);
    if (f == NULL) {
        lost(out, key);
        return -ENOMEM;
    }
    fanout_send(out, key, f);
    rbuf_unref(f);
    return 0;
}

/* Sends the JSON in d->scratch to every subscriber but `except`. */
static int broadcast_scratch(doc *d, fanout *out, uint64_t except) {
    if (d->count_subs == 0 || (d->count_subs == 1 && d->sub_keys[0] == except)) return 0;
    rbuf *f = fanout_frame_in(out, d->scratch.data, d->scratch.len);
    if (f == NULL) {
        lost_all(d, out, except);
        return -ENOMEM;
    }
    for (uint32_t i = 0; i < d->count_subs; i++)
        if (d->sub_keys[i] != except) fanout_send(out, d->sub_keys[i], f);
    rbuf_unref(f);
    return 0;
}

static proto_peer peer_of(const doc_sub *s) {
    return (proto_peer){
        .session = proto_cstr(s->session),
        .name = s->has_name ? proto_cstr(s->name) : pstr(NULL, 0),
        .color = s->has_color ? proto_cstr(s->color) : pstr(NULL, 0),
        .sel = s->sel,
        .count_sel = s->count_sel,
    };
}

/* The retained op at v, decoded into d->hist; NULL when it left the
 * history (or could not be decoded for want of memory). */
static const ot_history_entry *history_at(doc *d, uint64_t v) {
    return ot_doc_history_read(d->ot, v, &d->hist) == OT_OK ? &d->hist : NULL;
}

/* Moves positions from version `from` to `to` (<= the applied version)
 * through the retained history. False when `from` left the history. */
/* The text's length in code points at version v (oldest retained <= v <=
 * current): the base length of the op applied at v, or the current text's. */
static uint64_t len_at(doc *d, uint64_t v) {
    const ot_history_entry *e = v < ot_doc_version(d->ot) ? history_at(d, v) : NULL;
    return e != NULL ? e->op.base_len_codepoints : ot_text_len_codepoints(ot_doc_text(d->ot));
}

static bool move_sel(doc *d, proto_range *sel, uint32_t count, uint64_t from, uint64_t to) {
    if (from < ot_doc_oldest_version(d->ot)) return false;
    for (uint64_t v = from; v < to; v++) {
        const ot_history_entry *e = history_at(d, v);
        if (e == NULL) return false;
        for (uint32_t i = 0; i < count; i++) {
            sel[i].anchor = ot_transform_position(sel[i].anchor, &e->op, OT_SIDE_BEFORE);
            sel[i].head = ot_transform_position(sel[i].head, &e->op, OT_SIDE_BEFORE);
        }
    }
    return true;
}

/* Brings a subscriber's stored selection to the published version. */
static void refresh_sel(doc *d, doc_sub *s) {
    if (s->sel_v == d->published) return;
    if (!move_sel(d, s->sel, s->count_sel, s->sel_v, d->published)) s->count_sel = 0;
    s->sel_v = d->published;
}

/* ---- publishing ---------------------------------------------------------------- */

/* Resends of the op at v that arrived while it was unpublished: acked. */
static void ack_dups(doc *d, uint64_t v, fanout *out) {
    for (uint32_t i = 0; i < d->count_dups;) {
        doc_dup_ack *a = &d->dups[i];
        if (a->version != v) {
            i++;
            continue;
        }
        doc_ack(d, a->key, a->id, a->id_len, v, out);
        d->dups[i] = d->dups[--d->count_dups];
    }
}

static int publish_one(doc *d, uint64_t v, fanout *out) {
    const ot_history_entry *e = history_at(d, v);
    uint64_t sender = d->senders[v % DOC_MAX_UNPUBLISHED_OPS];
    d->senders[v % DOC_MAX_UNPUBLISHED_OPS] = 0;
    if (d->metrics != NULL) {
        uint64_t now = clock_mono_us(), at = d->submitted_us[v % DOC_MAX_UNPUBLISHED_OPS];
        metrics_count_ack(d->metrics, now > at ? now - at : 0);
    }
    if (e == NULL) {
        /* The history outlives the unpublished window, so only memory fails
         * here (decoding the record into d->hist). The op is stored: its
         * sender and resenders get their ack (the id is read in place), the
         * others miss the op, so their streams are cut (1011) and they resync
         * from the stored document. */
        lost_all(d, out, sender);
        const char *id = NULL;
        size_t id_len = 0;
        if (ot_doc_history_id(d->ot, v, &id, &id_len) != OT_OK) id_len = 0;
        if (sender != 0) {
            if (id_len > 0) doc_ack(d, sender, id, id_len, v, out);
            else lost(out, sender);
        }
        ack_dups(d, v, out);
        return -ENOMEM;
    }
    ot_buf_clear(&d->scratch);
    int rc = proto_enc_op(&d->scratch, pstr(d->name, d->name_len), v, pstr(e->id, e->id_len), &e->op,
                          pstr(e->author, e->author_len));
    if (rc == 0) rc = broadcast_scratch(d, out, sender);
    else lost_all(d, out, sender);
    if (sender != 0) doc_ack(d, sender, e->id, e->id_len, v, out);
    ack_dups(d, v, out);
    return rc;
}

static void publish_until(doc *d, uint64_t durable, fanout *out) {
    uint64_t applied = ot_doc_version(d->ot);
    assert(d->published <= applied);
    if (durable > applied) durable = applied;
    assert(durable <= d->published || durable - d->published <= DOC_MAX_UNPUBLISHED_OPS);
    /* bounded by DOC_MAX_UNPUBLISHED_OPS */
    while (d->published < durable) {
        publish_one(d, d->published, out);
        d->published++;
    }
    /* The OT ring has room for DOC_MAX_UNPUBLISHED_OPS more than history_depth
     * so that unpublished ops outlive any client's view; once published, only
     * history_depth of them are kept, or each document would hold thousands
     * of ops (and their inverses) however large they are. */
    if (d->history_depth > 0 && d->published > d->history_depth)
        ot_doc_forget_before(d->ot, d->published - d->history_depth);
    assert(d->published <= ot_doc_version(d->ot));
    retain(d);
}

void doc_on_flush(doc *d, const store_flush_result *r, fanout *out) {
    for (uint64_t v = r->failed_from; v < r->failed_to; v++) {
        uint64_t sender = d->senders[v % DOC_MAX_UNPUBLISHED_OPS];
        const ot_history_entry *e = sender != 0 ? history_at(d, v) : NULL;
        if (e == NULL) continue;
        char msg[160];
        snprintf(msg, sizeof msg, "the op could not be made durable (%s); retry later with the same id",
                 store_err_str(r->error));
        doc_send_error(out, sender, PROTO_ERR_STORAGE_UNAVAILABLE, msg, e->id, e->id_len);
    }
    publish_until(d, d->log != NULL ? store_log_durable_version(d->log) : ot_doc_version(d->ot), out);
}

/* ---- open / close ---------------------------------------------------------------- */

static void copy_str(char *dst, size_t cap, const char *src, bool *has) {
    bool present = src != NULL;
    if (has != NULL) *has = present;
    if (!present) src = "";
    size_t n = strlen(src);
    if (n >= cap) n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int open_fail(doc *d, const doc_who *who, int code, const char *msg, fanout *out) {
    if (code == PROTO_ERR_NO_MEMORY && d->metrics != NULL) metrics_add(&d->metrics->errors[METRICS_ERR_NO_MEMORY], 1);
    doc_send_error(out, who->key, code, msg, d->name, d->name_len);
    fanout_drop(out, who->key, d->name, d->name_len);
    return code;
}

static int send_snapshot(doc *d, const doc_sub *self, fanout *out) {
    ot_buf_clear(&d->text);
    int rc;
    if (d->published == ot_doc_version(d->ot)) rc = ot_text_to_buf(ot_doc_text(d->ot), &d->text);
    else rc = ot_doc_text_at(d->ot, d->published, &d->text);
    if (rc != OT_OK) return -ENOMEM;
    proto_peer *peers = NULL;
    uint32_t n = 0;
    if (d->count_subs > 1) {
        peers = malloc(sizeof *peers * d->count_subs);
        if (peers == NULL) return -ENOMEM;
        for (uint32_t i = 0; i < d->count_subs; i++) {
            doc_sub *s = &d->subs[i];
            if (s == self) continue;
            refresh_sel(d, s);
            peers[n++] = peer_of(s);
        }
    }
    ot_buf_clear(&d->scratch);
    rc = proto_enc_snapshot(&d->scratch, pstr(d->name, d->name_len), d->published,
                            pstr(d->text.data != NULL ? d->text.data : "", d->text.len), peers, n);
    free(peers);
    if (rc == 0) rc = send_scratch(d, out, self->key);
    return rc;
}

int doc_open(doc *d, const doc_who *who, bool has_v, uint64_t v, fanout *out) {
    if (has_v && v < doc_oldest_version(d))
        return open_fail(d, who, PROTO_ERR_VERSION_TOO_OLD, "v is older than the retained history; open without v",
                         out);
    if (has_v && v > d->published)
        return open_fail(d, who, PROTO_ERR_VERSION_AHEAD, "v is newer than the document", out);
    doc_sub *s = find_sub(d, who->key);
    if (s == NULL) {
        if (d->count_subs == DOC_MAX_SUBSCRIBERS)
            return open_fail(d, who, PROTO_ERR_INTERNAL, "too many subscribers on this document", out);
        if (d->count_subs == d->cap_subs) {
            uint32_t cap = d->cap_subs == 0 ? 4 : d->cap_subs * 2;
            uint64_t *k = realloc(d->sub_keys, sizeof *k * cap);
            if (k == NULL) return open_fail(d, who, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, out);
            d->sub_keys = k;
            doc_sub *g = realloc(d->subs, sizeof *g * cap);
            if (g == NULL) return open_fail(d, who, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, out);
            d->subs = g;
            d->cap_subs = cap;
        }
        d->sub_keys[d->count_subs] = who->key;
        s = &d->subs[d->count_subs++];
        memset(s, 0, sizeof *s);
        s->key = who->key;
    }
    copy_str(s->session, sizeof s->session, who->session, NULL);
    copy_str(s->by, sizeof s->by, who->by, NULL);
    copy_str(s->name, sizeof s->name, who->name, &s->has_name);
    copy_str(s->color, sizeof s->color, who->color, &s->has_color);
    s->count_sel = 0;
    s->sel_v = d->published;
    if (!has_v) {
        if (send_snapshot(d, s, out) != 0) {
            doc_close(d, who->key, out);
            return open_fail(d, who, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, out);
        }
        return 0;
    }
    for (uint64_t b = v; b < d->published; b++) {
        const ot_history_entry *e = history_at(d, b);
        ot_buf_clear(&d->scratch);
        if (e == NULL || proto_enc_op(&d->scratch, pstr(d->name, d->name_len), b, pstr(e->id, e->id_len),
                                      &e->op, pstr(e->author, e->author_len)) != 0 ||
            send_scratch(d, out, who->key) != 0) {
            doc_close(d, who->key, out);
            return open_fail(d, who, PROTO_ERR_INTERNAL, "catch-up failed", out);
        }
    }
    ot_buf_clear(&d->scratch);
    if (proto_enc_synced(&d->scratch, pstr(d->name, d->name_len), d->published) == 0)
        send_scratch(d, out, who->key);
    else
        lost(out, who->key);
    return 0;
}

/* The frame in d->scratch, for the other nodes' subscribers too (cluster mode). */
static void relay_out(doc *d) {
    if (d->replica.presence != NULL) d->replica.presence(d->replica.ctx, d->scratch.data, d->scratch.len);
}

static void send_leave(doc *d, const char *session, uint64_t except, fanout *out) {
    ot_buf_clear(&d->scratch);
    if (proto_enc_leave(&d->scratch, pstr(d->name, d->name_len), proto_cstr(session)) == 0) {
        broadcast_scratch(d, out, except);
        relay_out(d);
    } else {
        lost_all(d, out, except);
    }
}

void doc_relay(doc *d, const char *json, size_t len, fanout *out) {
    ot_buf_clear(&d->scratch);
    if (ot_buf_append(&d->scratch, json, len) == 0) broadcast_scratch(d, out, 0);
}

void doc_close(doc *d, uint64_t key, fanout *out) {
    doc_sub *s = find_sub(d, key);
    if (s == NULL) return;
    char session[DOC_SESSION_ID_BYTES];
    memcpy(session, s->session, sizeof session);
    d->count_subs--;
    d->sub_keys[s - d->subs] = d->sub_keys[d->count_subs];
    *s = d->subs[d->count_subs];
    send_leave(d, session, 0, out);
}

void doc_evict_all(doc *d, int code, const char *message, fanout *out) {
    /* bounded by the subscriber count, which only shrinks here */
    while (d->count_subs > 0) {
        doc_sub *s = &d->subs[d->count_subs - 1];
        uint64_t key = s->key;
        d->count_subs--;
        doc_send_error(out, key, code, message, d->name, d->name_len);
        fanout_drop(out, key, d->name, d->name_len);
    }
}

/* ---- ops ---------------------------------------------------------------------------- */

/* A refused op's message; a length mismatch names both lengths. */
static void submit_error_message(doc *d, int rc, const ot_op *op, uint64_t v, char *msg, size_t cap) {
    if (rc != OT_ERR_BASE_LENGTH) {
        snprintf(msg, cap, "%s", ot_err_str(rc));
        return;
    }
    /* the length at a past version is the base length of the op made there */
    const ot_history_entry *past = v < ot_doc_version(d->ot) ? history_at(d, v) : NULL;
    uint64_t len = past != NULL ? past->op.base_len_codepoints : ot_text_len_codepoints(ot_doc_text(d->ot));
    snprintf(msg, cap, "the op spans %llu code points (retains + deletes) but the document has %llu at v%llu",
             (unsigned long long)op->base_len_codepoints, (unsigned long long)len, (unsigned long long)v);
}

/* The storage cannot take an op now (failed, behind, or in cluster mode not
 * writable here): storage_unavailable, sent. 0 when it can. */
static int refuse_storage(doc *d, uint64_t key, const char *id, size_t id_len, fanout *out) {
    uint64_t applied = ot_doc_version(d->ot);
    if (d->replica.append != NULL &&
        (!d->replica.writable(d->replica.ctx) || applied - d->published >= DOC_MAX_UNPUBLISHED_OPS)) {
        doc_send_error(out, key, PROTO_ERR_STORAGE_UNAVAILABLE,
                       "the cluster's storage is unavailable or this node does not own the document now; retry",
                       id, id_len);
        return PROTO_ERR_STORAGE_UNAVAILABLE;
    }
    if (d->log != NULL && (!store_log_accepting(d->log) || applied - d->published >= DOC_MAX_UNPUBLISHED_OPS)) {
        const char *why = store_log_failed(d->log) ? "storage failed; the document refuses ops until a write succeeds"
                                                   : "storage is behind; retry later";
        doc_send_error(out, key, PROTO_ERR_STORAGE_UNAVAILABLE, why, id, id_len);
        return PROTO_ERR_STORAGE_UNAVAILABLE;
    }
    return 0;
}

int doc_submit(doc *d, uint64_t key, bool require_subscribed, const char *by, uint64_t v,
               const char *id, size_t id_len, const ot_op *op, int64_t now_ms, fanout *out) {
    const char *author = by;
    if (require_subscribed) {
        doc_sub *s = find_sub(d, key);
        if (s == NULL) {
            doc_send_error(out, key, PROTO_ERR_NOT_OPEN, "the document is not open", id, id_len);
            return PROTO_ERR_NOT_OPEN;
        }
        author = s->by;
    }
    if (author == NULL) author = "";
    int refused = refuse_storage(d, key, id, id_len, out);
    if (refused != 0) return refused;
    if (d->replica.forward != NULL) return forward_op(d, key, author, v, id, id_len, op, now_ms, out);
    if (v < doc_oldest_version(d) && v <= ot_doc_version(d->ot)) {
        doc_send_error(out, key, PROTO_ERR_VERSION_TOO_OLD, "base version is older than the retained history", id,
                       id_len);
        return PROTO_ERR_VERSION_TOO_OLD;
    }
    ot_submit_result res;
    ot_op_init(&res.op);
    int rc = ot_doc_submit(d->ot, v, op, id, id_len, author, strlen(author), now_ms, &res);
    if (rc != OT_OK) {
        ot_op_free(&res.op);
        int code = proto_err_from_ot_submit(rc);
        if (code == PROTO_ERR_NO_MEMORY && d->metrics != NULL) metrics_add(&d->metrics->errors[METRICS_ERR_NO_MEMORY], 1);
        char msg[192];
        submit_error_message(d, rc, op, v, msg, sizeof msg);
        doc_send_error(out, key, code, msg, id, id_len);
        return code;
    }
    if (res.duplicate) {
        ot_op_free(&res.op);
        if (res.applied_at_version < d->published) {
            doc_ack(d, key, id, id_len, res.applied_at_version, out);
            return 0;
        }
        if (d->count_dups == DOC_MAX_DUP_ACKS) {
            doc_send_error(out, key, PROTO_ERR_STORAGE_UNAVAILABLE, "storage is behind; retry later", id, id_len);
            return PROTO_ERR_STORAGE_UNAVAILABLE;
        }
        if (d->dups == NULL) {
            d->dups = malloc(sizeof *d->dups * DOC_MAX_DUP_ACKS);
            if (d->dups == NULL) {
                doc_send_no_memory(d->metrics, out, key, id, id_len);
                return PROTO_ERR_INTERNAL;
            }
        }
        doc_dup_ack *a = &d->dups[d->count_dups++];
        a->version = res.applied_at_version;
        a->key = key;
        memcpy(a->id, id, id_len < PROTO_MAX_ID_BYTES ? id_len : PROTO_MAX_ID_BYTES);
        a->id_len = id_len < PROTO_MAX_ID_BYTES ? id_len : PROTO_MAX_ID_BYTES;
        return 0;
    }
    uint64_t at = res.applied_at_version;
    d->senders[at % DOC_MAX_UNPUBLISHED_OPS] = key;
    if (d->metrics != NULL) d->submitted_us[at % DOC_MAX_UNPUBLISHED_OPS] = clock_mono_us();
    if (d->log != NULL || d->replica.append != NULL) {
        ot_buf_clear(&d->scratch);
        rc = ot_op_to_json(&res.op, &d->scratch);
        store_record rec = {
            .base_version = at,
            .time_ms = now_ms,
            .id = id,
            .id_len = id_len,
            .author = author,
            .author_len = strlen(author),
            .op_json = d->scratch.data,
            .op_len = d->scratch.len,
        };
        if (rc == OT_OK) rc = d->log != NULL ? store_log_append(d->log, &rec) : d->replica.append(d->replica.ctx, &rec);
        if (rc != 0) {
            ot_op_free(&res.op);
            /* Memory for the record ran out (the log is unchanged): take the
             * op back out, so the document stays as it was and keeps serving. */
            bool nomem = rc == -ENOMEM || rc == OT_ERR_NOMEM;
            if ((nomem || d->log == NULL) && ot_doc_undo_last(d->ot) == OT_OK) {
                d->senders[at % DOC_MAX_UNPUBLISHED_OPS] = 0;
                if (nomem) doc_send_no_memory(d->metrics, out, key, id, id_len);
                else doc_send_error(out, key, PROTO_ERR_STORAGE_UNAVAILABLE, "the op could not be queued; retry", id, id_len);
                return nomem ? PROTO_ERR_NO_MEMORY : PROTO_ERR_STORAGE_UNAVAILABLE;
            }
            /* The op is applied but cannot be logged: nothing may be acked
             * after it. Refuse further ops; a restart recovers the log. */
            doc_send_error(out, key, PROTO_ERR_INTERNAL, "the op could not be logged", id, id_len);
            return PROTO_ERR_INTERNAL;
        }
    }
    ot_op_free(&res.op);
    if (d->log == NULL && d->replica.append == NULL) publish_until(d, ot_doc_version(d->ot), out);
    else count_memory(d);
    return 0;
}

/* ---- presence ------------------------------------------------------------------------- */

int doc_presence(doc *d, uint64_t key, uint64_t v, const proto_range *sel, uint32_t count_sel, fanout *out) {
    doc_sub *s = find_sub(d, key);
    if (s == NULL) {
        doc_send_error(out, key, PROTO_ERR_NOT_OPEN, "the document is not open", d->name, d->name_len);
        return PROTO_ERR_NOT_OPEN;
    }
    if (v > d->published) {
        doc_send_error(out, key, PROTO_ERR_VERSION_AHEAD, "presence v is newer than the document", d->name,
                       d->name_len);
        return PROTO_ERR_VERSION_AHEAD;
    }
    if (count_sel > PROTO_MAX_SEL_RANGES) count_sel = PROTO_MAX_SEL_RANGES;
    if (v < ot_doc_oldest_version(d->ot)) {
        doc_send_error(out, key, PROTO_ERR_VERSION_TOO_OLD, "presence v is older than the retained history",
                       d->name, d->name_len);
        return PROTO_ERR_VERSION_TOO_OLD;
    }
    /* Positions are relayed to every subscriber: one beyond the text would
     * make their editors place a cursor nowhere (or throw). */
    uint64_t len = len_at(d, v);
    for (uint32_t i = 0; i < count_sel; i++) {
        if (sel[i].anchor <= len && sel[i].head <= len) continue;
        char why[160];
        snprintf(why, sizeof why, "sel[%u] [%llu, %llu] is beyond the text: %llu code points at v %llu", i,
                 (unsigned long long)sel[i].anchor, (unsigned long long)sel[i].head, (unsigned long long)len,
                 (unsigned long long)v);
        doc_send_error(out, key, PROTO_ERR_BAD_SELECTION, why, d->name, d->name_len);
        return PROTO_ERR_BAD_SELECTION;
    }
    proto_range moved[PROTO_MAX_SEL_RANGES];
    memcpy(moved, sel, sizeof moved[0] * count_sel);
    if (!move_sel(d, moved, count_sel, v, d->published)) {
        doc_send_error(out, key, PROTO_ERR_VERSION_TOO_OLD, "presence v is older than the retained history",
                       d->name, d->name_len);
        return PROTO_ERR_VERSION_TOO_OLD;
    }
    memcpy(s->sel, moved, sizeof moved[0] * count_sel);
    s->count_sel = count_sel;
    s->sel_v = d->published;
    proto_peer p = peer_of(s);
    ot_buf_clear(&d->scratch);
    int rc = proto_enc_presence(&d->scratch, pstr(d->name, d->name_len), &p, d->published);
    if (rc == 0) rc = broadcast_scratch(d, out, key);
    else lost_all(d, out, key);
    if (rc == 0) relay_out(d);
    return rc == 0 ? 0 : PROTO_ERR_INTERNAL;
}
