#include "fanout.h"

#include "ws.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define FANOUT_INITIAL_KEYS 16u

rbuf *fanout_frame(const char *json, size_t len_bytes) {
    if (len_bytes > RBUF_MAX_BYTES - WS_MAX_HEADER_BYTES) return NULL;
    rbuf *b = rbuf_new(WS_MAX_HEADER_BYTES + len_bytes);
    if (b == NULL) return NULL;
    size_t hl = ws_encode_frame_header(b->data, true, WS_OP_TEXT, false, len_bytes, NULL);
    if (len_bytes > 0) memcpy(b->data + hl, json, len_bytes);
    b->len = (uint32_t)(hl + len_bytes);
    return b;
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

static fanout_deliver *deliver_new(uint32_t kind, uint32_t from, rbuf *frame, uint32_t cap_keys) {
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
    f->pending = calloc(count_workers > 0 ? count_workers : 1, sizeof *f->pending);
    return f->pending == NULL ? -ENOMEM : 0;
}

static void post(fanout *f, uint32_t to, fanout_deliver *d) {
    int rc = mailbox_post(f->ring, f->targets, to, &d->hdr);
    if (rc != 0) f->count_post_failures++;
    mailbox_msg_unref(&d->hdr);
}

static void flush_target(fanout *f, uint32_t to) {
    fanout_deliver *d = f->pending[to];
    if (d == NULL) return;
    f->pending[to] = NULL;
    post(f, to, d);
}

void fanout_flush(fanout *f) {
    for (uint32_t i = 0; i < f->count_workers; i++) flush_target(f, i);
}

void fanout_destroy(fanout *f) {
    if (f->pending != NULL) {
        for (uint32_t i = 0; i < f->count_workers; i++)
            if (f->pending[i] != NULL) mailbox_msg_unref(&f->pending[i]->hdr);
    }
    free(f->pending);
    f->pending = NULL;
}

static bool is_local(const fanout *f, uint32_t to) {
    return f->ring == NULL || to == f->self || to >= f->count_workers;
}

void fanout_send(fanout *f, uint64_t key, rbuf *frame) {
    uint32_t to = fanout_key_worker(key);
    if (is_local(f, to)) {
        f->local(f->local_ctx, key, frame, NULL, 0);
        return;
    }
    fanout_deliver *d = f->pending[to];
    if (d != NULL && (d->frame != frame || d->count_keys == FANOUT_MAX_KEYS_PER_MSG)) {
        flush_target(f, to);
        d = NULL;
    }
    if (d == NULL) {
        d = deliver_new(FANOUT_MSG_DELIVER, f->self, frame, FANOUT_INITIAL_KEYS);
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
    if (doc_len > FANOUT_MAX_DOC_NAME_BYTES) return;
    uint32_t to = fanout_key_worker(key);
    if (is_local(f, to)) {
        f->local(f->local_ctx, key, NULL, doc, doc_len);
        return;
    }
    flush_target(f, to);   /* the frames before the drop go first */
    fanout_deliver *d = deliver_new(FANOUT_MSG_DROP, f->self, NULL, 1);
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
    for (uint32_t i = 0; i < msg->count_keys; i++) {
        if (drop) f->local(f->local_ctx, msg->keys[i], NULL, msg->doc, msg->doc_len);
        else f->local(f->local_ctx, msg->keys[i], msg->frame, NULL, 0);
    }
}
