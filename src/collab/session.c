#include "collab/session.h"
#include "base/token_bucket.h"
#include "base/clock.h"

#include "base/log.h"
#include "io/ring.h"
#include "proto/docname.h"
#include "proto/protocol_rest.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SESSION_MAX_SLOTS (1u << 24)
_Static_assert(SESSION_MAX_SLOTS <= FANOUT_KEY_TYPED, "a slot's index stays below the key's typed bit");

typedef struct session_doc {
    char name[DOCNAME_MAX_BYTES + 1];
    size_t len;
    auth_role role;
    token_bucket presence;          /* --presence-per-sec */
} session_doc;

typedef struct session {
    session_worker *sw;
    session_sink sink;
    uint64_t key;
    char id[DOC_SESSION_ID_BYTES];
    bool hello;
    bool authed;
    bool has_name;
    bool has_color;
    char name[PROTO_MAX_NAME_BYTES + 1];
    char color[PROTO_MAX_COLOR_BYTES + 1];
    char by[DOC_BY_BYTES + 1];
    /* Only the grants of the verified token are kept (malloc'd, count_grants
     * entries): the full auth_claims is ~9 KB, most of an idle connection. */
    auth_grant *grants;
    uint32_t count_grants;
    session_doc *docs;
    uint32_t count_docs;
    uint32_t cap_docs;
} session;

typedef struct session_slot {
    uint32_t gen;
    uint32_t next_free;
    struct session *s;
    session_waiter_fn fn;
    void *ctx;
} session_slot;

static int64_t wall_s(void) { return clock_wall_ms() / 1000; }

/* ---- slots ------------------------------------------------------------------ */

static uint64_t slot_alloc(session_worker *sw, session *s, session_waiter_fn fn, void *ctx) {
    uint32_t i;
    if (sw->free_head != UINT32_MAX) {
        i = sw->free_head;
        sw->free_head = sw->slots[i].next_free;
    } else {
        if (sw->count_slots == sw->cap_slots) {
            if (sw->cap_slots >= SESSION_MAX_SLOTS) return 0;
            uint32_t cap = sw->cap_slots == 0 ? 64 : sw->cap_slots * 2;
            session_slot *g = realloc(sw->slots, sizeof *g * cap);
            if (g == NULL) return 0;
            sw->slots = g;
            sw->cap_slots = cap;
        }
        i = sw->count_slots++;
        sw->slots[i].gen = 0;
    }
    session_slot *sl = &sw->slots[i];
    sl->gen = (sl->gen + 1) & 0xFFFFFFu;
    if (sl->gen == 0) sl->gen = 1;
    sl->s = s;
    sl->fn = fn;
    sl->ctx = ctx;
    sl->next_free = UINT32_MAX;
    return fanout_key(sw->self, i, sl->gen);
}

static session_slot *slot_of(session_worker *sw, uint64_t key) {
    if (fanout_key_worker(key) != sw->self) return NULL;
    uint32_t i = fanout_key_slot(key);
    if (i >= sw->count_slots) return NULL;
    session_slot *sl = &sw->slots[i];
    if (sl->gen != fanout_key_gen(key) || (sl->s == NULL && sl->fn == NULL)) return NULL;
    return sl;
}

static void slot_free(session_worker *sw, uint64_t key) {
    session_slot *sl = slot_of(sw, key);
    if (sl == NULL) return;
    sl->s = NULL;
    sl->fn = NULL;
    sl->ctx = NULL;
    sl->gen = (sl->gen + 1) & 0xFFFFFFu;   /* stale keys miss from now on */
    sl->next_free = sw->free_head;
    sw->free_head = fanout_key_slot(key);
}

uint64_t session_waiter_add(session_worker *sw, session_waiter_fn fn, void *ctx) {
    return slot_alloc(sw, NULL, fn, ctx);
}

uint64_t session_waiter_add_typed(session_worker *sw, session_waiter_fn fn, void *ctx) {
    uint64_t key = slot_alloc(sw, NULL, fn, ctx);
    return key != 0 ? key | FANOUT_KEY_TYPED : 0;
}

void session_waiter_remove(session_worker *sw, uint64_t key) { slot_free(sw, key); }

/* ---- delivery --------------------------------------------------------------- */

static session_doc *find_doc(session *s, const char *name, size_t len) {
    for (uint32_t i = 0; i < s->count_docs; i++)
        if (s->docs[i].len == len && memcmp(s->docs[i].name, name, len) == 0) return &s->docs[i];
    return NULL;
}

static void remove_doc(session *s, session_doc *d) { *d = s->docs[--s->count_docs]; }

static void deliver(void *ctx, uint64_t key, rbuf *frame, const char *doc, size_t doc_len) {
    session_worker *sw = ctx;
    session_slot *sl = slot_of(sw, key);
    if (sl == NULL) return;
    if (sl->fn != NULL) {
        /* fn may remove the waiter itself; a second removal misses (generation) */
        if (frame != NULL && sl->fn(sl->ctx, frame)) slot_free(sw, key);
        return;
    }
    session *s = sl->s;
    assert(!fanout_key_typed(key));
    assert(frame == NULL || !proto_rest_answer_is(frame));   /* typed answers go to waiters only */
    if (frame == NULL) {
        session_doc *d = find_doc(s, doc, doc_len);
        if (d != NULL) remove_doc(s, d);
        return;
    }
    s->sink.ops->send(s->sink.ctx, frame);
}

/* A frame or request of this session was lost between workers, so its
 * stream has a gap: tell it and close (PROTOCOL.md §5 `internal`, close 1011).
 * A REST waiter gets the same error as its answer. */
static void kill_key(void *ctx, uint64_t key) {
    session_worker *sw = ctx;
    session_kill(sw, key);
}

void session_kill(session_worker *sw, uint64_t key) {
    session_slot *sl = slot_of(sw, key);
    if (sl == NULL) return;
    static const char msg[] = "messages for this connection were lost inside the server; reconnect and re-open";
    rbuf *f;
    if (fanout_key_typed(key)) {
        proto_rest_answer a = {.kind = PROTO_REST_ERROR, .code = proto_cstr(proto_err_code_str(PROTO_ERR_INTERNAL)),
                               .message = proto_cstr(msg)};
        f = proto_rest_answer_pack(&a);
    } else {
        ot_buf_clear(&sw->enc);
        if (proto_enc_error(&sw->enc, PROTO_ERR_INTERNAL, proto_cstr(msg), (proto_str){NULL, 0}) != 0) return;
        f = fanout_frame(sw->enc.data, sw->enc.len);
    }
    if (sl->fn != NULL) {
        if (f != NULL && sl->fn(sl->ctx, f)) slot_free(sw, key);
        if (f != NULL) rbuf_unref(f);
        return;
    }
    session *s = sl->s;
    log_warn("worker %u: session %s lost cross-worker messages; closing it with 1011", sw->self, s->id);
    if (f != NULL) s->sink.ops->send(s->sink.ctx, f);
    s->sink.ops->close(s->sink.ctx, SESSION_CLOSE_LOST, "messages lost");
    if (f != NULL) rbuf_unref(f);
}

int session_worker_init_fanout(session_worker *sw, struct io_uring *ring, mailbox_target *targets) {
    int rc = fanout_init(&sw->out, sw->self, sw->count_workers, ring, targets, deliver, sw);
    if (rc == 0) fanout_set_kill(&sw->out, kill_key);
    return rc;
}

/* ---- routing ------------------------------------------------------------------- */

int session_route(session_worker *sw, docs_request *req) {
    uint32_t owner = docs_owner(req->doc, req->doc_len, sw->count_workers);
    if (owner == sw->self) {
        req->next = NULL;
        if (sw->local_tail != NULL) sw->local_tail->next = req;
        else sw->local_head = req;
        sw->local_tail = req;
        return 0;
    }
    int rc = fanout_post(&sw->out, owner, &req->hdr);
    uint64_t key = req->key;
    mailbox_msg_unref(&req->hdr);
    if (rc != 0) {
        metrics_add(&sw->w->m->errors[METRICS_ERR_MAILBOX], 1);
        /* a lost request leaves the session out of step with the owner */
        session_slot *sl = slot_of(sw, key);
        if (sl != NULL && sl->s != NULL) session_kill(sw, key);
    }
    return rc;
}

void session_worker_run_local(session_worker *sw, int64_t now_ms) {
    for (uint32_t n = 0; sw->local_head != NULL && n < SESSION_MAX_LOCAL_PER_FLUSH; n++) {
        docs_request *r = sw->local_head;
        sw->local_head = r->next;
        if (sw->local_head == NULL) sw->local_tail = NULL;
        docs_execute(sw->docs, r, &sw->out, now_ms);
        mailbox_msg_unref(&r->hdr);
    }
}

auth_role session_role_for(const session_worker *sw, const auth_claims *claims, const char *doc, size_t len) {
    if (!sw->auth_on) return AUTH_ROLE_WRITE;
    return auth_role_for(claims, doc, len);
}

/* ---- replies to this connection -------------------------------------------------- */

/* Sends sw->enc, which encode_rc says was encoded (0) or not. */
static void send_enc(session *s, int encode_rc) {
    session_worker *sw = s->sw;
    rbuf *f = encode_rc == 0 ? fanout_frame_in(&sw->out, sw->enc.data, sw->enc.len) : NULL;
    if (f == NULL) {
        /* a reply lost for memory: close rather than leave a silent gap (PROTOCOL.md §5) */
        metrics_add(&sw->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
        s->sink.ops->close(s->sink.ctx, SESSION_CLOSE_LOST, "out of memory");
        return;
    }
    s->sink.ops->send(s->sink.ctx, f);
    rbuf_unref(f);
}

static void send_error(session *s, int code, const char *message, const char *ref, size_t ref_len) {
    if (code == PROTO_ERR_NO_MEMORY) metrics_add(&s->sw->w->m->errors[METRICS_ERR_NO_MEMORY], 1);
    ot_buf_clear(&s->sw->enc);
    send_enc(s, proto_enc_error(&s->sw->enc, code, proto_cstr(message), (proto_str){ref, ref_len}));
}

static void unauthorized(session *s, const char *why) {
    char msg[160];
    snprintf(msg, sizeof msg, "a hello with a valid token is required: %s", why);
    send_error(s, PROTO_ERR_UNAUTHORIZED, msg, NULL, 0);
    s->sink.ops->close(s->sink.ctx, SESSION_CLOSE_UNAUTHORIZED, "unauthorized");
}

static void copy_field(char *dst, size_t cap, const char *src, size_t len) {
    if (len >= cap) len = cap - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* ---- messages ------------------------------------------------------------------- */

static void on_hello(session *s, const proto_msg *m) {
    session_worker *sw = s->sw;
    if (s->hello) {
        send_error(s, PROTO_ERR_BAD_MESSAGE, "hello was already received on this connection", NULL, 0);
        return;
    }
    if (sw->auth_on) {
        if (!m->has_token) {
            unauthorized(s, "no token");
            return;
        }
        auth_claims *claims = &sw->claims;   /* scratch: only the grants are kept */
        int rc = auth_verify(&sw->secret, m->token, m->token_len, wall_s(), claims);
        if (rc != AUTH_OK) {
            unauthorized(s, auth_err_str(rc));
            return;
        }
        uint32_t n = claims->count_grants < AUTH_MAX_GRANTS ? claims->count_grants : AUTH_MAX_GRANTS;
        if (n > 0) {
            s->grants = malloc(sizeof *s->grants * n);
            if (s->grants == NULL) {
                send_error(s, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, NULL, 0);
                return;
            }
            memcpy(s->grants, claims->grants, sizeof *s->grants * n);
        }
        s->count_grants = n;
        s->authed = true;
        copy_field(s->by, sizeof s->by, claims->sub, strlen(claims->sub));
        if (claims->has_name) {
            s->has_name = true;
            copy_field(s->name, sizeof s->name, claims->name, strlen(claims->name));
        }
    }
    s->hello = true;
    if (!s->has_name && m->has_name) {   /* the token's name wins over the hello's */
        s->has_name = true;
        copy_field(s->name, sizeof s->name, m->name, m->name_len);
    }
    if (m->has_color) {
        s->has_color = true;
        copy_field(s->color, sizeof s->color, m->color, strlen(m->color));
    }
    const config *cfg = sw->cfg;
    proto_welcome_limits lim = {
        .max_message_bytes = sw->limits.max_message_bytes,
        .max_op_bytes = cfg->max_op_bytes,
        .max_op_components = cfg->max_op_components,
        .max_doc_codepoints = cfg->max_doc_codepoints,
        .max_doc_name_bytes = sw->limits.max_doc_name_bytes,
        .max_open_docs = cfg->max_open_docs,
        .history_depth = cfg->history_depth,
        .presence_per_second = cfg->presence_per_sec,
    };
    ot_buf_clear(&sw->enc);
    send_enc(s, proto_enc_welcome(&sw->enc, proto_cstr(s->id), proto_cstr(SESSION_SERVER_NAME), &lim));
}

static docs_request *new_request(session *s, uint32_t kind, const proto_msg *m) {
    docs_request *r = docs_request_new(kind, s->sw->self);
    if (r == NULL) return NULL;
    r->key = s->key;
    memcpy(r->doc, m->doc, m->doc_len);
    r->doc[m->doc_len] = '\0';
    r->doc_len = m->doc_len;
    r->has_v = m->has_v;
    r->v = m->v;
    r->time_ms = clock_wall_ms();
    memcpy(r->session, s->id, sizeof r->session);
    memcpy(r->by, s->by, sizeof r->by);
    return r;
}

static void on_open(session *s, const proto_msg *m) {
    session_worker *sw = s->sw;
    auth_role role = sw->auth_on ? auth_role_for_grants(s->grants, s->count_grants, m->doc, m->doc_len)
                                 : AUTH_ROLE_WRITE;
    if (role == AUTH_ROLE_NONE) {
        send_error(s, PROTO_ERR_FORBIDDEN, "your token has no grant for this document", m->doc, m->doc_len);
        return;
    }
    session_doc *d = find_doc(s, m->doc, m->doc_len);
    if (d == NULL) {
        if (s->count_docs >= sw->cfg->max_open_docs) {
            send_error(s, PROTO_ERR_TOO_MANY_DOCS, "too many documents open on this connection", m->doc, m->doc_len);
            return;
        }
        if (s->count_docs == s->cap_docs) {
            /* most connections edit one document: start with one slot */
            uint32_t cap = s->cap_docs == 0 ? 1 : s->cap_docs * 2;
            session_doc *g = realloc(s->docs, sizeof *g * cap);
            if (g == NULL) {
                send_error(s, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, m->doc, m->doc_len);
                return;
            }
            s->docs = g;
            s->cap_docs = cap;
        }
        d = &s->docs[s->count_docs++];
        memset(d, 0, sizeof *d);
        memcpy(d->name, m->doc, m->doc_len);
        d->len = m->doc_len;
        token_bucket_init(&d->presence, sw->cfg->presence_per_sec, sw->w->now_ms);
    }
    d->role = role;
    docs_request *r = new_request(s, DOCS_REQ_OPEN, m);
    if (r == NULL) {
        send_error(s, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, m->doc, m->doc_len);
        return;
    }
    memcpy(r->name, s->name, sizeof r->name);
    memcpy(r->color, s->color, sizeof r->color);
    r->has_name = s->has_name;
    r->has_color = s->has_color;
    if (session_route(sw, r) != 0) send_error(s, PROTO_ERR_INTERNAL, "the document owner is busy", m->doc, m->doc_len);
}

static void on_op(session *s, const proto_msg *m) {
    session_doc *d = find_doc(s, m->doc, m->doc_len);
    if (d == NULL) {
        send_error(s, PROTO_ERR_NOT_OPEN, "open the document first", m->id, m->id_len);
        return;
    }
    if (d->role < AUTH_ROLE_WRITE) {
        send_error(s, PROTO_ERR_FORBIDDEN, "your role on this document is read", m->id, m->id_len);
        return;
    }
    docs_request *r = new_request(s, DOCS_REQ_OP, m);
    if (r == NULL || ot_op_copy(&r->op, &m->op) != OT_OK) {
        if (r != NULL) mailbox_msg_unref(&r->hdr);
        send_error(s, PROTO_ERR_NO_MEMORY, PROTO_NO_MEMORY_MESSAGE, m->id, m->id_len);
        return;
    }
    memcpy(r->id, m->id, m->id_len);
    r->id_len = m->id_len;
    if (session_route(s->sw, r) != 0) send_error(s, PROTO_ERR_INTERNAL, "the document owner is busy", m->id, m->id_len);
}

static void on_presence(session *s, const proto_msg *m) {
    session_doc *d = find_doc(s, m->doc, m->doc_len);
    if (d == NULL) {
        send_error(s, PROTO_ERR_NOT_OPEN, "open the document first", m->doc, m->doc_len);
        return;
    }
    if (!token_bucket_take(&d->presence, s->sw->cfg->presence_per_sec, s->sw->w->now_ms)) {
        send_error(s, PROTO_ERR_RATE_LIMITED, "too many presence messages; this one was dropped", m->doc, m->doc_len);
        return;
    }
    docs_request *r = new_request(s, DOCS_REQ_PRESENCE, m);
    if (r == NULL) return;
    proto_range *sel = r->sel_inline;
    if (m->count_sel > DOCS_REQUEST_INLINE_SEL) {
        sel = r->sel_heap = malloc(sizeof *sel * m->count_sel);
        if (sel == NULL) {   /* dropped, like a presence without a request */
            mailbox_msg_unref(&r->hdr);
            return;
        }
    }
    r->count_sel = m->count_sel;
    memcpy(sel, m->sel, sizeof *sel * m->count_sel);
    session_route(s->sw, r);
}

static void route_close(session *s, const char *doc, size_t len) {
    docs_request *r = docs_request_new(DOCS_REQ_CLOSE, s->sw->self);
    if (r == NULL) return;
    r->key = s->key;
    memcpy(r->doc, doc, len);
    r->doc_len = len;
    session_route(s->sw, r);
}

static void on_close(session *s, const proto_msg *m) {
    session_doc *d = find_doc(s, m->doc, m->doc_len);
    if (d == NULL) {
        send_error(s, PROTO_ERR_NOT_OPEN, "the document is not open", m->doc, m->doc_len);
        return;
    }
    remove_doc(s, d);
    route_close(s, m->doc, m->doc_len);
}

void session_on_text(struct session *s, const uint8_t *data, size_t len) {
    session_worker *sw = s->sw;
    proto_msg *m = &sw->msg;
    int rc = proto_decode(&sw->limits, (const char *)data, len, m);
    bool need_auth = sw->auth_on && !s->authed;
    if (rc != PROTO_OK) {
        if (need_auth) {
            unauthorized(s, m->err_message);
            return;
        }
        send_error(s, rc, m->err_message, m->has_err_ref ? m->err_ref : NULL, m->has_err_ref ? m->err_ref_len : 0);
        return;
    }
    if (need_auth && m->type != PROTO_HELLO) {
        unauthorized(s, "the first message must be hello");
        return;
    }
    switch (m->type) {
    case PROTO_HELLO: on_hello(s, m); break;
    case PROTO_OPEN: on_open(s, m); break;
    case PROTO_OP: on_op(s, m); break;
    case PROTO_PRESENCE: on_presence(s, m); break;
    case PROTO_CLOSE: on_close(s, m); break;
    case PROTO_PING:
        ot_buf_clear(&sw->enc);
        send_enc(s, proto_enc_pong(&sw->enc));
        break;
    }
}

/* ---- lifecycle ------------------------------------------------------------------ */

struct session *session_open(session_worker *sw, session_sink sink) {
    if (sw == NULL) return NULL;
    session *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->sw = sw;
    s->sink = sink;
    s->key = slot_alloc(sw, s, NULL, NULL);
    if (s->key == 0) {
        free(s);
        return NULL;
    }
    snprintf(s->id, sizeof s->id, "s%u-%u-%u", fanout_key_worker(s->key), fanout_key_slot(s->key),
             fanout_key_gen(s->key));
    memcpy(s->by, s->id, sizeof s->id);
    return s;
}

const char *session_id(const struct session *s) { return s->id; }

void session_close(struct session *s) {
    if (s == NULL) return;
    /* bounded by max_open_docs */
    for (uint32_t i = 0; i < s->count_docs; i++) route_close(s, s->docs[i].name, s->docs[i].len);
    slot_free(s->sw, s->key);
    free(s->docs);
    free(s->grants);
    free(s);
}

