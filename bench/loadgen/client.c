#include "client.h"

#include "json.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lg_client_err_str(int err) {
    switch (err) {
    case LG_CLIENT_ERR_NOMEM: return "out of memory";
    case LG_CLIENT_ERR_BAD_MESSAGE: return "malformed server message";
    case LG_CLIENT_ERR_VERSION_GAP: return "server op out of version order";
    case LG_CLIENT_ERR_BAD_OP: return "server op does not parse or apply";
    case LG_CLIENT_ERR_NOT_LIVE: return "document not live";
    case LG_CLIENT_ERR_EDIT: return "local edit does not apply";
    default: return "unknown error";
    }
}

uint64_t lg_rand(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

int lg_client_init(lg_client *c, const char *doc, const char *prefix) {
    memset(c, 0, sizeof(*c));
    size_t dl = strlen(doc), pl = strlen(prefix);
    if (dl == 0 || dl > LG_CLIENT_MAX_DOC_BYTES || pl == 0 || pl > LG_CLIENT_MAX_PREFIX_BYTES)
        return -EINVAL;
    memcpy(c->doc, doc, dl + 1);
    c->doc_len = dl;
    memcpy(c->prefix, prefix, pl + 1);
    c->prefix_len = pl;
    ot_op_init(&c->out);
    ot_op_init(&c->buf);
    ot_op_init(&c->in);
    ot_op_init(&c->t1);
    ot_op_init(&c->t2);
    ot_op_init(&c->t3);
    ot_buf_init(&c->str);
    return 0;
}

void lg_client_free(lg_client *c) {
    if (c->text) ot_text_free(c->text);
    ot_op_free(&c->out);
    ot_op_free(&c->buf);
    ot_op_free(&c->in);
    ot_op_free(&c->t1);
    ot_op_free(&c->t2);
    ot_op_free(&c->t3);
    ot_buf_free(&c->str);
    memset(c, 0, sizeof(*c));
}

static void swap_op(ot_op *a, ot_op *b) {
    ot_op t = *a;
    *a = *b;
    *b = t;
}

static int append_fmt(ot_buf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int append_fmt(ot_buf *out, const char *fmt, ...) {
    char tmp[LG_CLIENT_MAX_DOC_BYTES + LG_CLIENT_MAX_ID_BYTES + 128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof tmp) return LG_CLIENT_ERR_NOMEM;
    return ot_buf_append(out, tmp, (size_t)n) == 0 ? 0 : LG_CLIENT_ERR_NOMEM;
}

int lg_client_write_hello(lg_client *c, ot_buf *out) {
    ot_buf_clear(out);
    return append_fmt(out, "{\"type\":\"hello\",\"name\":\"%s\"}", c->prefix);
}

int lg_client_write_open(lg_client *c, ot_buf *out) {
    ot_buf_clear(out);
    int rc = append_fmt(out, "{\"type\":\"open\",\"doc\":\"%s\"}", c->doc);
    if (rc == 0) c->phase = LG_PHASE_OPENING;
    return rc;
}

/* Sends `buf` as the new outstanding op: a fresh id, base server_v. */
static int send_op(lg_client *c, ot_op *op, uint64_t t0_us, ot_buf *out) {
    swap_op(&c->out, op);
    c->has_out = true;
    c->out_t0_us = t0_us;
    c->seq++;
    int n = snprintf(c->out_id, sizeof c->out_id, "%s:%" PRIu64 ":%" PRIu64, c->prefix, c->seq, t0_us);
    if (n < 0 || (size_t)n >= sizeof c->out_id) return LG_CLIENT_ERR_NOMEM;
    c->out_id_len = (size_t)n;
    ot_buf_clear(out);
    if (append_fmt(out, "{\"type\":\"op\",\"doc\":\"%s\",\"v\":%" PRIu64 ",\"id\":\"%s\",\"op\":", c->doc,
                   c->server_v, c->out_id) != 0 ||
        ot_op_to_json(&c->out, out) != 0 || ot_buf_append(out, "}", 1) != 0)
        return LG_CLIENT_ERR_NOMEM;
    c->count_ops_sent++;
    return 1;
}

int lg_client_local_edit(lg_client *c, const ot_op *e, uint64_t now_us, ot_buf *out) {
    if (c->phase != LG_PHASE_LIVE) return LG_CLIENT_ERR_NOT_LIVE;
    if (ot_apply(e, c->text) != 0) return LG_CLIENT_ERR_EDIT;
    if (!c->has_out) {
        if (ot_op_copy(&c->t1, e) != 0) return LG_CLIENT_ERR_NOMEM;
        return send_op(c, &c->t1, now_us, out);
    }
    if (!c->has_buf) {
        if (ot_op_copy(&c->buf, e) != 0) return LG_CLIENT_ERR_NOMEM;
        c->has_buf = true;
        c->buf_t0_us = now_us;
        return 0;
    }
    if (ot_compose(&c->buf, e, &c->t1) != 0) return LG_CLIENT_ERR_NOMEM;
    swap_op(&c->buf, &c->t1);
    return 0;
}

static int fail(lg_client *c, int err) {
    c->phase = LG_PHASE_FAILED;
    return err;
}

/* t0 from an id "<prefix>:<seq>:<t0>" (any prefix without ':'), or false. */
static bool id_time(const lg_jval *id, uint64_t *t0) {
    if (!id->present || !id->is_string || id->escaped) return false;
    size_t colons = 0, last = 0;
    for (size_t i = 0; i < id->len; i++)
        if (id->p[i] == ':') colons++, last = i + 1;
    if (colons != 2 || last >= id->len) return false;
    lg_jval t = {.p = id->p + last, .len = id->len - last, .present = true};
    return lg_json_uint(&t, t0) == 0;
}

static int on_ack(lg_client *c, uint64_t v, uint64_t now_us, lg_event *ev, ot_buf *out) {
    c->server_v = v + 1;
    c->has_out = false;
    c->count_acks++;
    ev->kind = LG_EV_ACK;
    ev->has_latency = true;
    ev->latency_us = now_us > c->out_t0_us ? now_us - c->out_t0_us : 0;
    if (c->has_buf) {
        c->has_buf = false;
        return send_op(c, &c->buf, c->buf_t0_us, out);
    }
    return 0;
}

#define TYPE_IS(t, s) ((t)->len == sizeof(s) - 1 && memcmp((t)->p, s, (t)->len) == 0)

int lg_msg_parse(lg_msg *pm, const char *json, size_t len, ot_op *op_storage) {
    memset(pm, 0, sizeof *pm);
    if (lg_json_scan(json, len, &pm->m) != 0 || !pm->m.type.is_string) return LG_CLIENT_ERR_BAD_MESSAGE;
    pm->has_v = lg_json_uint(&pm->m.v, &pm->v) == 0;
    pm->has_t0 = id_time(&pm->m.id, &pm->t0);
    if (TYPE_IS(&pm->m.type, "op") && pm->m.op.present &&
        ot_op_parse_json(op_storage, pm->m.op.p, pm->m.op.len, NULL, NULL) == 0)
        pm->op = op_storage;
    return 0;
}

int lg_client_on_message(lg_client *c, const char *json, size_t len, uint64_t now_us,
                         lg_event *ev, ot_buf *out) {
    lg_msg pm;
    if (lg_msg_parse(&pm, json, len, &c->in) != 0) {
        memset(ev, 0, sizeof(*ev));
        return LG_CLIENT_ERR_BAD_MESSAGE;
    }
    return lg_client_on_msg(c, &pm, now_us, ev, out);
}

/* A remote op at the client's version: transformed past what is in flight, applied. */
static int on_remote_op(lg_client *c, const lg_msg *pm, uint64_t now_us, lg_event *ev) {
    if (pm->op == NULL) return fail(c, LG_CLIENT_ERR_BAD_OP);
    const ot_op *s = pm->op;
    if (c->has_out) {
        if (ot_transform(&c->out, s, &c->t1, &c->t2) != 0) return fail(c, LG_CLIENT_ERR_BAD_OP);
        swap_op(&c->out, &c->t1);
        s = &c->t2;
        if (c->has_buf) {
            if (ot_transform(&c->buf, s, &c->t1, &c->t3) != 0) return fail(c, LG_CLIENT_ERR_BAD_OP);
            swap_op(&c->buf, &c->t1);
            s = &c->t3;
        }
    }
    if (ot_apply(s, c->text) != 0) return fail(c, LG_CLIENT_ERR_BAD_OP);
    c->server_v = pm->v + 1;
    c->count_remote_ops++;
    ev->kind = LG_EV_REMOTE_OP;
    if (pm->has_t0) {
        ev->has_latency = true;
        ev->latency_us = now_us > pm->t0 ? now_us - pm->t0 : 0;
    }
    return 0;
}

int lg_client_on_msg(lg_client *c, const lg_msg *pm, uint64_t now_us, lg_event *ev, ot_buf *out) {
    memset(ev, 0, sizeof(*ev));
    const lg_jmsg *m = &pm->m;
    const lg_jval *t = &m->type;
    if (TYPE_IS(t, "error")) {
        ev->kind = LG_EV_ERROR;
        if (m->code.is_string) {
            ev->code = m->code.p;
            ev->code_len = m->code.len;
        }
        if (c->has_out && lg_json_str_eq(&m->ref, c->out_id, c->out_id_len)) {
            /* the op was refused: the local text has diverged (§9) */
            ev->about_outstanding = true;
            c->phase = LG_PHASE_FAILED;
        } else if (c->phase == LG_PHASE_OPENING && lg_json_str_eq(&m->ref, c->doc, c->doc_len)) {
            c->phase = LG_PHASE_FAILED;
        }
        return 0;
    }
    if (TYPE_IS(t, "pong")) {
        ev->kind = LG_EV_PONG;
        return 0;
    }
    bool is_ack = TYPE_IS(t, "ack"), is_op = TYPE_IS(t, "op"), is_snap = TYPE_IS(t, "snapshot");
    if (!is_ack && !is_op && !is_snap) return 0;
    if (!lg_json_str_eq(&m->doc, c->doc, c->doc_len)) return m->doc.is_string ? 0 : LG_CLIENT_ERR_BAD_MESSAGE;
    if (!pm->has_v) return fail(c, LG_CLIENT_ERR_BAD_MESSAGE);
    uint64_t v = pm->v;

    if (is_snap) {
        if (c->phase != LG_PHASE_OPENING) return 0;
        ot_buf_clear(&c->str);
        if (lg_json_unescape(&m->text, &c->str) != 0) return fail(c, LG_CLIENT_ERR_BAD_MESSAGE);
        ot_text *nt = ot_text_from_utf8(c->str.data ? c->str.data : "", c->str.len);
        if (nt == NULL) return fail(c, LG_CLIENT_ERR_BAD_MESSAGE);
        if (c->text) ot_text_free(c->text);
        c->text = nt;
        c->server_v = v;
        c->phase = LG_PHASE_LIVE;
        ev->kind = LG_EV_SNAPSHOT;
        return 0;
    }
    if (c->phase != LG_PHASE_LIVE) return 0;

    if (is_ack) {
        if (!c->has_out || !lg_json_str_eq(&m->id, c->out_id, c->out_id_len)) return 0; /* stale */
        if (v < c->server_v) return fail(c, LG_CLIENT_ERR_VERSION_GAP);
        return on_ack(c, v, now_us, ev, out);
    }

    /* a remote op */
    if (v != c->server_v) return fail(c, LG_CLIENT_ERR_VERSION_GAP);
    if (c->has_out && lg_json_str_eq(&m->id, c->out_id, c->out_id_len))
        return on_ack(c, v, now_us, ev, out);     /* our op in a catch-up (§10) */
    return on_remote_op(c, pm, now_us, ev);
}

bool lg_client_synchronized(const lg_client *c) { return !c->has_out && !c->has_buf; }

uint64_t lg_client_len(const lg_client *c) { return c->text ? ot_text_len_codepoints(c->text) : 0; }

bool lg_client_text_equals(const lg_client *c, const char *utf8, size_t len) {
    if (c->text == NULL) return len == 0;
    return ot_text_equals(c->text, utf8, len);
}

static const char letters[65] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 \n";

int lg_edit_random(uint64_t *rng, uint64_t doc_len, uint32_t insert_bytes, uint64_t target_len,
                   ot_op *out) {
    ot_op_clear(out);
    if (insert_bytes == 0) insert_bytes = 1;
    bool del = false;
    if (doc_len > target_len) {
        /* the further past the target, the likelier a delete: the length hovers near it */
        uint64_t excess = doc_len - target_len;
        del = lg_rand(rng) % (target_len + 1) < excess || excess >= target_len;
    }
    if (del && doc_len > 0) {
        uint64_t n = 1 + lg_rand(rng) % insert_bytes;
        if (n > doc_len) n = doc_len;
        uint64_t pos = lg_rand(rng) % (doc_len - n + 1);
        if (ot_op_retain(out, pos) != 0 || ot_op_delete(out, n) != 0 ||
            ot_op_retain(out, doc_len - pos - n) != 0)
            return -ENOMEM;
        return 0;
    }
    uint64_t pos = lg_rand(rng) % (doc_len + 1);
    if (ot_op_retain(out, pos) != 0) return -ENOMEM;
    uint32_t left = insert_bytes;
    uint32_t off = (uint32_t)(lg_rand(rng) % 64);
    while (left > 0) {
        uint32_t n = 64 - off < left ? 64 - off : left;
        if (ot_op_insert(out, letters + off, n) != 0) return -ENOMEM;
        left -= n;
        off = 0;
    }
    if (ot_op_retain(out, doc_len - pos) != 0) return -ENOMEM;
    return 0;
}
