#include "collab/fanout.h"

#include "ws/ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FANOUT_INITIAL_KEYS 16u

static rbuf *frame_from(rbuf_pool *pool, const char *json, size_t len_bytes) {
    if (len_bytes > RBUF_MAX_BYTES - WS_MAX_HEADER_BYTES) return NULL;
    rbuf *b = rbuf_pool_get(pool, WS_MAX_HEADER_BYTES + len_bytes);
    if (b == NULL) return NULL;
    size_t hl = ws_encode_frame_header(b->data, true, WS_OP_TEXT, false, len_bytes, NULL);
    if (len_bytes > 0) memcpy(b->data + hl, json, len_bytes);
    b->len = (uint32_t)(hl + len_bytes);
    return b;
}

rbuf *fanout_frame(const char *json, size_t len_bytes) { return frame_from(NULL, json, len_bytes); }

rbuf *fanout_frame_in(fanout *f, const char *json, size_t len_bytes) {
    return frame_from(f->frame_pool, json, len_bytes);
}

int fanout_frame_payload(const rbuf *frame, const char **json, size_t *len_bytes) {
    if (frame == NULL || frame->len < 2 || frame->data[0] != (0x80 | WS_OP_TEXT)) return -EINVAL;
    uint8_t l7 = frame->data[1] & 0x7F;
    size_t hl = 2;
    uint64_t n = l7;
    if (l7 == 126) {
        if (frame->len < 4) return -EINVAL;
        n = ((uint64_t)frame->data[2] << 8) | frame->data[3];
        hl = 4;
    } else if (l7 == 127) {
        if (frame->len < 10) return -EINVAL;
        n = 0;
        for (int i = 0; i < 8; i++) n = (n << 8) | frame->data[2 + i];
        hl = 10;
    }
    if (hl + n != frame->len) return -EINVAL;
    *json = (const char *)frame->data + hl;
    *len_bytes = (size_t)n;
    return 0;
}

static void deliver_destroy(mailbox_msg *m) {
    fanout_deliver *d = (fanout_deliver *)m;
    rbuf_unref(d->frame);
    free(d);
}

static fanout_deliver *deliver_alloc(uint32_t kind, uint32_t from, rbuf *frame, uint32_t cap_keys) {
    fanout_deliver *d = malloc(sizeof *d + (size_t)cap_keys * sizeof d->keys[0]);
    if (d == NULL) return NULL;
    mailbox_msg_init(&d->hdr, kind, from, deliver_destroy);
    d->frame = frame;
    if (frame != NULL) rbuf_ref(frame);
    d->doc_len = 0;
    d->doc[0] = '\0';
    d->count_keys = 0;
    d->cap_keys = cap_keys;
    return d;
}

int fanout_init(fanout *f, uint32_t self, uint32_t count_workers, struct io_uring *ring,
                mailbox_target *targets, fanout_local_fn local, void *local_ctx) {
    memset(f, 0, sizeof *f);
    f->self = self;
    f->count_workers = count_workers;
    f->ring = ring;
    f->targets = targets;
    f->local = local;
    f->local_ctx = local_ctx;
    f->max_outbox_msgs = FANOUT_MAX_OUTBOX_MSGS;
    uint32_t n = count_workers > 0 ? count_workers : 1;
    f->pending = calloc(n, sizeof *f->pending);
    f->outbox = calloc(n, sizeof *f->outbox);
    if (f->pending == NULL || f->outbox == NULL) {
        free(f->pending);
        free(f->outbox);
        f->pending = NULL;
        f->outbox = NULL;
        return -ENOMEM;
    }
    return 0;
}

void fanout_set_kill(fanout *f, fanout_kill_fn kill) { f->kill = kill; }

static bool is_local(const fanout *f, uint32_t to) {
    return f->ring == NULL || to == f->self || to >= f->count_workers;
}

uint32_t fanout_outbox_count(const fanout *f, uint32_t to) {
    return to < f->count_workers && f->outbox != NULL ? f->outbox[to].count : 0;
}

static int outbox_push(fanout *f, fanout_outbox *o, mailbox_msg *msg) {
    if (o->count >= f->max_outbox_msgs) return -ENOBUFS;
    if (o->msgs == NULL) {
        o->msgs = calloc(f->max_outbox_msgs, sizeof *o->msgs);
        if (o->msgs == NULL) return -ENOMEM;
        o->head = 0;
    }
    mailbox_msg_ref(msg);
    o->msgs[(o->head + o->count) % f->max_outbox_msgs] = msg;
    o->count++;
    f->count_deferred++;
    return 0;
}

/* Posts the outbox of `to` in order until the mailbox refuses one. */
static void outbox_retry(fanout *f, uint32_t to) {
    fanout_outbox *o = &f->outbox[to];
    /* bounded by the outbox size */
    while (o->count > 0) {
        mailbox_msg *m = o->msgs[o->head];
        if (mailbox_post(f->ring, f->targets, to, m) != 0) return;
        mailbox_msg_unref(m);
        o->head = (o->head + 1) % f->max_outbox_msgs;
        o->count--;
    }
}

int fanout_post(fanout *f, uint32_t to, mailbox_msg *msg) {
    fanout_outbox *o = &f->outbox[to];
    if (o->count > 0) outbox_retry(f, to);
    if (o->count == 0 && mailbox_post(f->ring, f->targets, to, msg) == 0) return 0;
    return outbox_push(f, o, msg);
}

static int cmp_key(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t dedupe(uint64_t *keys, uint32_t n) {
    if (n < 2) return n;
    qsort(keys, n, sizeof keys[0], cmp_key);
    uint32_t out = 1;
    for (uint32_t i = 1; i < n; i++)
        if (keys[i] != keys[out - 1]) keys[out++] = keys[i];
    return out;
}

void fanout_doom(fanout *f, uint32_t to, const uint64_t *keys, uint32_t count_keys) {
    if (is_local(f, to)) {
        for (uint32_t i = 0; i < count_keys; i++) {
            f->count_killed++;
            if (f->kill != NULL) f->kill(f->local_ctx, keys[i]);
        }
        return;
    }
    fanout_outbox *o = &f->outbox[to];
    for (uint32_t i = 0; i < count_keys; i++) {
        if (o->count_doomed == o->cap_doomed) {
            o->count_doomed = dedupe(o->doomed, o->count_doomed);
            if (o->count_doomed > o->cap_doomed / 2 || o->cap_doomed == 0) {
                uint32_t cap = o->cap_doomed == 0 ? 64 : o->cap_doomed * 2;
                uint64_t *g = realloc(o->doomed, sizeof *g * cap);
                if (g == NULL) {
                    f->count_post_failures++;
                    return;
                }
                o->doomed = g;
                o->cap_doomed = cap;
            }
        }
        o->doomed[o->count_doomed++] = keys[i];
    }
}

/* Queues the kills of `to` behind its outbox, as far as there is room. */
static void post_kills(fanout *f, uint32_t to) {
    fanout_outbox *o = &f->outbox[to];
    if (o->count_doomed == 0) return;
    o->count_doomed = dedupe(o->doomed, o->count_doomed);
    /* bounded: each pass moves up to FANOUT_MAX_KEYS_PER_MSG keys */
    while (o->count_doomed > 0 && o->count < f->max_outbox_msgs) {
        uint32_t n = o->count_doomed < FANOUT_MAX_KEYS_PER_MSG ? o->count_doomed : FANOUT_MAX_KEYS_PER_MSG;
        fanout_deliver *k = deliver_alloc(FANOUT_MSG_KILL, f->self, NULL, n);
        if (k == NULL) return;
        memcpy(k->keys, o->doomed + o->count_doomed - n, sizeof k->keys[0] * n);
        k->count_keys = n;
        int rc = fanout_post(f, to, &k->hdr);
        mailbox_msg_unref(&k->hdr);
        if (rc != 0) return;
        o->count_doomed -= n;
        f->count_killed += n;
    }
}

void fanout_destroy(fanout *f) {
    if (f->pending != NULL) {
        for (uint32_t i = 0; i < f->count_workers; i++)
            if (f->pending[i] != NULL) mailbox_msg_unref(&f->pending[i]->hdr);
    }
    if (f->outbox != NULL) {
        for (uint32_t i = 0; i < f->count_workers; i++) {
            fanout_outbox *o = &f->outbox[i];
            for (uint32_t j = 0; j < o->count; j++) mailbox_msg_unref(o->msgs[(o->head + j) % f->max_outbox_msgs]);
            free(o->msgs);
            free(o->doomed);
        }
    }
    free(f->pending);
    free(f->outbox);
    f->pending = NULL;
    f->outbox = NULL;
}

/* Posts a DELIVER/DROP; when even the outbox refuses it, its receivers are doomed. */
static void post(fanout *f, uint32_t to, fanout_deliver *d) {
    int rc = fanout_post(f, to, &d->hdr);
    if (rc != 0) fanout_doom(f, to, d->keys, d->count_keys);
    mailbox_msg_unref(&d->hdr);
}

static void flush_target(fanout *f, uint32_t to) {
    fanout_deliver *d = f->pending[to];
    if (d == NULL) return;
    f->pending[to] = NULL;
    post(f, to, d);
}

void fanout_flush(fanout *f) {
    for (uint32_t i = 0; i < f->count_workers; i++) {
        if (is_local(f, i)) continue;
        outbox_retry(f, i);
        flush_target(f, i);
        post_kills(f, i);
    }
}

bool fanout_on_post_failed(fanout *f, uint32_t to, const mailbox_msg *msg) {
    if (msg->kind != FANOUT_MSG_DELIVER && msg->kind != FANOUT_MSG_DROP && msg->kind != FANOUT_MSG_KILL) return false;
    const fanout_deliver *d = (const fanout_deliver *)msg;
    /* a lost KILL: its keys are doomed again, so the kill is retried */
    if (msg->kind == FANOUT_MSG_KILL) f->count_killed -= d->count_keys < f->count_killed ? d->count_keys : f->count_killed;
    fanout_doom(f, to, d->keys, d->count_keys);
    return true;
}


void fanout_send(fanout *f, uint64_t key, rbuf *frame) {
    uint32_t to = fanout_key_worker(key);
    if (is_local(f, to)) {
        f->local(f->local_ctx, key, frame, NULL, 0);
        return;
    }
    const fanout_outbox *o = &f->outbox[to];
    /* a doomed session gets nothing more: its next message is the kill
     * (bounded by the doomed keys of one target, usually none) */
    for (uint32_t i = 0; i < o->count_doomed; i++)
        if (o->doomed[i] == key) return;
    fanout_deliver *d = f->pending[to];
    if (d != NULL && (d->frame != frame || d->count_keys == FANOUT_MAX_KEYS_PER_MSG)) {
        flush_target(f, to);
        d = NULL;
    }
    if (d == NULL) {
        d = deliver_alloc(FANOUT_MSG_DELIVER, f->self, frame, FANOUT_INITIAL_KEYS);
        if (d == NULL) {
            f->count_post_failures++;
            return;
        }
        f->pending[to] = d;
    }
    if (d->count_keys == d->cap_keys) {
        uint32_t cap = d->cap_keys * 2 > FANOUT_MAX_KEYS_PER_MSG ? FANOUT_MAX_KEYS_PER_MSG : d->cap_keys * 2;
        fanout_deliver *g = realloc(d, sizeof *d + (size_t)cap * sizeof d->keys[0]);
        if (g == NULL) {
            f->count_post_failures++;
            return;
        }
        g->cap_keys = cap;
        d = g;
        f->pending[to] = g;
    }
    d->keys[d->count_keys++] = key;
}

void fanout_drop(fanout *f, uint64_t key, const char *doc, size_t doc_len) {
    if (doc_len > DOCNAME_MAX_BYTES) return;
    uint32_t to = fanout_key_worker(key);
    if (is_local(f, to)) {
        f->local(f->local_ctx, key, NULL, doc, doc_len);
        return;
    }
    flush_target(f, to);   /* the frames before the drop go first */
    fanout_deliver *d = deliver_alloc(FANOUT_MSG_DROP, f->self, NULL, 1);
    if (d == NULL) {
        f->count_post_failures++;
        return;
    }
    memcpy(d->doc, doc, doc_len);
    d->doc[doc_len] = '\0';
    d->doc_len = (uint32_t)doc_len;
    d->keys[0] = key;
    d->count_keys = 1;
    post(f, to, d);
}

void fanout_on_message(fanout *f, const fanout_deliver *msg) {
    bool drop = msg->hdr.kind == FANOUT_MSG_DROP;
    if (msg->hdr.kind == FANOUT_MSG_KILL) {
        for (uint32_t i = 0; i < msg->count_keys; i++)
            if (f->kill != NULL) f->kill(f->local_ctx, msg->keys[i]);
        return;
    }
    for (uint32_t i = 0; i < msg->count_keys; i++) {
        if (drop) f->local(f->local_ctx, msg->keys[i], NULL, msg->doc, msg->doc_len);
        else f->local(f->local_ctx, msg->keys[i], msg->frame, NULL, 0);
    }
}
