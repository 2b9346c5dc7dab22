/*
 * Several clients, each running ot.js's client state machine (client.js:
 * Synchronized / AwaitingConfirm / AwaitingWithBuffer), edit one ot_doc through
 * ot_doc_submit. Each client has an uplink and a downlink channel, FIFO within
 * the channel (as a WebSocket is); the scheduler picks which channel moves next
 * with per-client random weights, so messages are delayed and reordered BETWEEN
 * clients. Clients sometimes send an op twice (a resend after a timeout): the
 * server must ack it with the original version and not apply it again. Half
 * the runs keep a short history: an op based on a version that has left it is
 * refused (OT_ERR_VERSION_TOO_OLD) and the client resyncs from a snapshot,
 * dropping its pending edits, as a real client would have to. At the end every
 * client has converged on the server's text.
 *
 * Runs: ot_gen_case_count() / SIM_CASES_PER_RUN seeds (500 by default); a
 * failure names RINGPAD_TEST_SEED, the run and the step.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringpad/ot.h>

#include "ot_gen.h"

#define FAIL_AT "RINGPAD_TEST_SEED=%" PRIu64 " run %" PRIu32 " step %" PRIu32 ": "
#define AT(sim) (sim)->seed, (sim)->run, (sim)->step

enum {
    SIM_CLIENTS = 5,
    SIM_QUEUE_MAX_MESSAGES = 256,
    SIM_EDITS_MAX = 60,             /* local edits per run, all clients together */
    SIM_STEPS_MAX = 4000,           /* scheduler steps per run, drain included */
    SIM_CASES_PER_RUN = 20,         /* runs = case count / this */
    SIM_ID_MAX_BYTES = 24,
    SIM_MAX_INSERT_CODEPOINTS = 4,
    SIM_INITIAL_MAX_CODEPOINTS = 20,
    SIM_WEIGHT_MAX = 10,
    SIM_EDIT_WEIGHT = 25,
    SIM_DUPLICATE_PERCENT = 15,
    SIM_GHOST_PERCENT = 2,
    SIM_SHORT_HISTORY_MIN = 3,      /* history_depth of the short-history runs */
    SIM_SHORT_HISTORY_SPAN = 8,
    SIM_SALT = 101,
};

typedef enum sim_msg_kind {
    SIM_MSG_OP = 1,
    SIM_MSG_ACK = 2,
    SIM_MSG_RESYNC = 3,     /* "your op was too old": the server's text and version */
} sim_msg_kind;

typedef struct sim_msg {
    sim_msg_kind kind;
    uint64_t version;   /* uplink: base version; downlink: the version it was applied at */
    uint32_t seq;       /* the sending client's op number (uplink and acks) */
    ot_op op;           /* SIM_MSG_OP only */
    ot_buf text;        /* SIM_MSG_RESYNC only */
    char id[SIM_ID_MAX_BYTES];
} sim_msg;

typedef struct sim_queue {
    sim_msg slots[SIM_QUEUE_MAX_MESSAGES];
    uint32_t head;
    uint32_t count;
} sim_queue;

typedef enum sim_state {
    SIM_SYNCHRONIZED = 0,
    SIM_AWAITING_CONFIRM = 1,
    SIM_AWAITING_WITH_BUFFER = 2,
} sim_state;

typedef struct sim_client {
    ot_text *text;
    uint64_t revision;          /* the last server version this client has seen */
    sim_state state;
    ot_op outstanding;
    uint32_t outstanding_seq;
    ot_op buffer;
    uint32_t next_seq;
    uint64_t acked_version[SIM_EDITS_MAX]; /* by seq: the version its ack carried */
    bool acked[SIM_EDITS_MAX];
    bool refused[SIM_EDITS_MAX];        /* by seq: answered with a resync */
    uint32_t duplicate_acks_due;
    uint32_t weight_up, weight_down;
    sim_queue up, down;
} sim_client;

typedef struct sim {
    uint64_t seed;
    uint32_t run, step;
    ot_gen_rng rng;
    ot_doc *doc;
    uint64_t start_version;
    ot_buf snapshots[SIM_EDITS_MAX + 1]; /* server text by version - start_version */
    uint32_t edits_done;
    /* How much concurrency the run really had. */
    uint32_t duplicates_sent;
    uint32_t server_transforms;    /* ops that arrived based on an older version */
    uint32_t client_transforms;    /* server ops that met an outstanding op */
    uint32_t buffer_composes;      /* local edits composed into a buffer */
    uint32_t refused_too_old;      /* ops refused as older than the history */
    uint32_t duplicates_detected;  /* resends the server recognised by id */
    uint32_t history_depth;
    sim_client clients[SIM_CLIENTS];
    ot_op t1, t2, t3, t4;       /* scratch */
    ot_buf scratch, msg1, msg2;
    ot_submit_result result;
} sim;

static const char *S(const ot_buf *b) { return b->data != NULL ? b->data : ""; }

static void queue_init(sim_queue *q) {
    q->head = 0;
    q->count = 0;
    for (uint32_t i = 0; i < SIM_QUEUE_MAX_MESSAGES; i++) {
        ot_op_init(&q->slots[i].op);
        ot_buf_init(&q->slots[i].text);
    }
}

static void queue_fini(sim_queue *q) {
    for (uint32_t i = 0; i < SIM_QUEUE_MAX_MESSAGES; i++) {
        ot_op_free(&q->slots[i].op);
        ot_buf_free(&q->slots[i].text);
    }
}

static void queue_push(sim *s, sim_queue *q, sim_msg_kind kind, uint64_t version, uint32_t seq,
                       const ot_op *op, const char *id) {
    cr_assert_lt(q->count, SIM_QUEUE_MAX_MESSAGES, FAIL_AT "channel full", AT(s));
    sim_msg *m = &q->slots[(q->head + q->count) % SIM_QUEUE_MAX_MESSAGES];
    m->kind = kind;
    m->version = version;
    m->seq = seq;
    if (op != NULL) cr_assert_eq(ot_op_copy(&m->op, op), OT_OK);
    else ot_op_clear(&m->op);
    snprintf(m->id, sizeof m->id, "%s", id);
    ot_buf_clear(&m->text);
    q->count++;
}

static sim_msg *queue_back(sim_queue *q) {
    return &q->slots[(q->head + q->count - 1) % SIM_QUEUE_MAX_MESSAGES];
}

static sim_msg *queue_front(sim_queue *q) { return &q->slots[q->head]; }

static void queue_drop_front(sim_queue *q) {
    q->head = (q->head + 1) % SIM_QUEUE_MAX_MESSAGES;
    q->count--;
}

static void op_id(char *out, size_t cap, uint32_t client, uint32_t seq) {
    snprintf(out, cap, "c%" PRIu32 "-%" PRIu32, client, seq);
}

/* ---- the client (ot.js client.js) ------------------------------------------ */

static void client_send(sim *s, uint32_t ci, const ot_op *op) {
    sim_client *c = &s->clients[ci];
    cr_assert_lt(c->next_seq, SIM_EDITS_MAX);
    const uint32_t seq = c->next_seq++;
    char id[SIM_ID_MAX_BYTES];
    op_id(id, sizeof id, ci, seq);
    cr_assert_eq(ot_op_copy(&c->outstanding, op), OT_OK);
    c->outstanding_seq = seq;
    queue_push(s, &c->up, SIM_MSG_OP, c->revision, seq, op, id);
    if (ot_gen_chance(&s->rng, SIM_DUPLICATE_PERCENT)) {
        queue_push(s, &c->up, SIM_MSG_OP, c->revision, seq, op, id);
        c->duplicate_acks_due++;
        s->duplicates_sent++;
    }
}

static void client_local_edit(sim *s, uint32_t ci) {
    sim_client *c = &s->clients[ci];
    ot_op *op = &s->t1;
    cr_assert_eq(ot_gen_op(&s->rng, ot_text_len_codepoints(c->text), SIM_MAX_INSERT_CODEPOINTS, op), OT_OK);
    cr_assert_eq(ot_apply(op, c->text), OT_OK, FAIL_AT "client %" PRIu32 " local apply", AT(s), ci);
    switch (c->state) {
    case SIM_SYNCHRONIZED:
        client_send(s, ci, op);
        c->state = SIM_AWAITING_CONFIRM;
        break;
    case SIM_AWAITING_CONFIRM:
        cr_assert_eq(ot_op_copy(&c->buffer, op), OT_OK);
        c->state = SIM_AWAITING_WITH_BUFFER;
        break;
    case SIM_AWAITING_WITH_BUFFER: {
        int rc = ot_compose(&c->buffer, op, &s->t2);
        cr_assert_eq(rc, OT_OK, FAIL_AT "compose buffer %s with %s: %s", AT(s), ot_gen_op_str(&c->buffer, &s->msg1),
                     ot_gen_op_str(op, &s->msg2), ot_err_str(rc));
        cr_assert_eq(ot_op_copy(&c->buffer, &s->t2), OT_OK);
        s->buffer_composes++;
        break;
    }
    }
}

static void client_receive(sim *s, uint32_t ci) {
    sim_client *c = &s->clients[ci];
    sim_msg *m = queue_front(&c->down);
    if (m->kind == SIM_MSG_ACK) {
        if (c->state != SIM_SYNCHRONIZED && m->seq == c->outstanding_seq) {
            cr_assert_eq(m->version, c->revision, FAIL_AT "client %" PRIu32 " ack out of order", AT(s), ci);
            c->acked[m->seq] = true;
            c->acked_version[m->seq] = m->version;
            c->revision++;
            if (c->state == SIM_AWAITING_CONFIRM) {
                c->state = SIM_SYNCHRONIZED;
            } else {
                cr_assert_eq(ot_op_copy(&s->t1, &c->buffer), OT_OK);
                client_send(s, ci, &s->t1);
                c->state = SIM_AWAITING_CONFIRM;
            }
        } else {
            /* The ack of a resent op: same version as the first ack, nothing to do. */
            cr_assert(m->seq < SIM_EDITS_MAX && c->acked[m->seq],
                      FAIL_AT "client %" PRIu32 " got an ack for op %" PRIu32 " it is not waiting for", AT(s), ci, m->seq);
            cr_assert_eq(m->version, c->acked_version[m->seq],
                         FAIL_AT "duplicate of %s acked at version %" PRIu64 ", first ack said %" PRIu64, AT(s),
                         m->id, m->version, c->acked_version[m->seq]);
            cr_assert_gt(c->duplicate_acks_due, 0);
            c->duplicate_acks_due--;
        }
        queue_drop_front(&c->down);
        return;
    }

    if (m->kind == SIM_MSG_RESYNC) {
        if (c->state != SIM_SYNCHRONIZED && m->seq == c->outstanding_seq) {
            /* The pending edits are lost; start over from the server's state. */
            ot_text_free(c->text);
            c->text = ot_text_from_utf8(S(&m->text), m->text.len);
            cr_assert_not_null(c->text);
            c->revision = m->version;
            c->state = SIM_SYNCHRONIZED;
            ot_op_clear(&c->outstanding);
            ot_op_clear(&c->buffer);
            c->refused[m->seq] = true;
        } else {
            /* The resent copy of an op already refused, or of one applied so
             * long ago that its id has left the history with its base version
             * (so it cannot be applied twice either). */
            cr_assert(m->seq < SIM_EDITS_MAX && (c->refused[m->seq] || c->acked[m->seq]),
                      FAIL_AT "client %" PRIu32 " got a resync for op %" PRIu32 " it did not expect", AT(s), ci, m->seq);
            cr_assert_gt(c->duplicate_acks_due, 0);
            c->duplicate_acks_due--;
        }
        queue_drop_front(&c->down);
        return;
    }

    cr_assert_eq(m->version, c->revision, FAIL_AT "client %" PRIu32 " op for version %" PRIu64 " at revision %" PRIu64,
                 AT(s), ci, m->version, c->revision);
    c->revision++;
    const ot_op *to_apply = &m->op;
    if (c->state != SIM_SYNCHRONIZED) {
        /* The server ordered m->op first: the outstanding op is the one being transformed. */
        int rc = ot_transform(&c->outstanding, &m->op, &s->t1, &s->t2);
        cr_assert_eq(rc, OT_OK, FAIL_AT "client transform %s vs %s: %s", AT(s), ot_gen_op_str(&c->outstanding, &s->msg1),
                     ot_gen_op_str(&m->op, &s->msg2), ot_err_str(rc));
        cr_assert_eq(ot_op_copy(&c->outstanding, &s->t1), OT_OK);
        to_apply = &s->t2;
        s->client_transforms++;
        if (c->state == SIM_AWAITING_WITH_BUFFER) {
            rc = ot_transform(&c->buffer, &s->t2, &s->t3, &s->t4);
            cr_assert_eq(rc, OT_OK, FAIL_AT "client transform of the buffer: %s", AT(s), ot_err_str(rc));
            cr_assert_eq(ot_op_copy(&c->buffer, &s->t3), OT_OK);
            to_apply = &s->t4;
        }
    }
    int rc = ot_apply(to_apply, c->text);
    cr_assert_eq(rc, OT_OK, FAIL_AT "client %" PRIu32 " apply of %s: %s", AT(s), ci, ot_gen_op_str(to_apply, &s->msg1),
                 ot_err_str(rc));
    queue_drop_front(&c->down);
}

/* ---- the server -------------------------------------------------------------- */

static void server_receive(sim *s, uint32_t ci) {
    sim_client *c = &s->clients[ci];
    sim_msg *m = queue_front(&c->up);
    const uint64_t before = ot_doc_version(s->doc);
    ot_submit_result *r = &s->result;
    int rc = ot_doc_submit(s->doc, m->version, &m->op, m->id, strlen(m->id), "sim", 3, (int64_t)s->step, r);
    if (rc == OT_ERR_VERSION_TOO_OLD) {
        cr_assert_lt(m->version, ot_doc_oldest_version(s->doc),
                     FAIL_AT "base %" PRIu64 " refused as too old, oldest is %" PRIu64, AT(s), m->version,
                     ot_doc_oldest_version(s->doc));
        cr_assert_eq(ot_doc_version(s->doc), before);
        const ot_buf *now = &s->snapshots[before - s->start_version];
        cr_assert(ot_text_equals(ot_doc_text(s->doc), S(now), now->len), FAIL_AT "refused op changed the text", AT(s));
        queue_push(s, &c->down, SIM_MSG_RESYNC, before, m->seq, NULL, m->id);
        cr_assert_eq(ot_buf_append(&queue_back(&c->down)->text, S(now), now->len), OT_OK);
        s->refused_too_old++;
        queue_drop_front(&c->up);
        return;
    }
    cr_assert_eq(rc, OT_OK, FAIL_AT "submit of %s %s at base %" PRIu64 " (doc at %" PRIu64 "): %s", AT(s), m->id,
                 ot_gen_op_str(&m->op, &s->msg1), m->version, before, ot_err_str(rc));
    if (r->duplicate) {
        cr_assert_eq(ot_doc_version(s->doc), before, FAIL_AT "duplicate %s changed the version", AT(s), m->id);
        cr_assert(ot_text_equals(ot_doc_text(s->doc), S(&s->snapshots[before - s->start_version]),
                                 s->snapshots[before - s->start_version].len),
                  FAIL_AT "duplicate %s changed the text", AT(s), m->id);
        ot_history_entry h;
        ot_history_entry_init(&h);
        const ot_history_entry *e = &h;
        cr_assert_eq(ot_doc_history_read(s->doc, r->applied_at_version, &h), OT_OK,
                     FAIL_AT "duplicate %s names version %" PRIu64 " outside the history", AT(s), m->id,
                     r->applied_at_version);
        cr_assert(e->id_len == strlen(m->id) && memcmp(e->id, m->id, e->id_len) == 0,
                  FAIL_AT "duplicate %s names version %" PRIu64 " which holds another op", AT(s), m->id,
                  r->applied_at_version);
        cr_assert(ot_op_equal(&r->op, &e->op), FAIL_AT "duplicate's op differs from the applied one", AT(s));
        ot_history_entry_free(&h);
        queue_push(s, &c->down, SIM_MSG_ACK, r->applied_at_version, m->seq, NULL, m->id);
        queue_drop_front(&c->up);
        s->duplicates_detected++;
        return;
    }
    cr_assert_eq(r->applied_at_version, before, FAIL_AT "applied at %" PRIu64 ", doc was at %" PRIu64, AT(s),
                 r->applied_at_version, before);
    cr_assert_eq(ot_doc_version(s->doc), before + 1);
    if (m->version < before) s->server_transforms++;
    const uint64_t slot = before + 1 - s->start_version;
    cr_assert_leq(slot, SIM_EDITS_MAX);
    ot_buf_clear(&s->snapshots[slot]);
    cr_assert_eq(ot_text_to_buf(ot_doc_text(s->doc), &s->snapshots[slot]), OT_OK);
    queue_push(s, &c->down, SIM_MSG_ACK, before, m->seq, NULL, m->id);
    for (uint32_t k = 0; k < SIM_CLIENTS; k++)
        if (k != ci) queue_push(s, &s->clients[k].down, SIM_MSG_OP, before, 0, &r->op, "");
    queue_drop_front(&c->up);
}

/* A submit from nowhere, based on a version the document has not reached. */
static void server_ghost(sim *s) {
    const uint64_t version = ot_doc_version(s->doc);
    ot_op_clear(&s->t1);
    cr_assert_eq(ot_op_retain(&s->t1, ot_text_len_codepoints(ot_doc_text(s->doc))), OT_OK);
    cr_assert_eq(ot_op_insert(&s->t1, "ghost", 5), OT_OK);
    int rc = ot_doc_submit(s->doc, version + 1, &s->t1, "ghost", 5, "", 0, 0, &s->result);
    cr_assert_eq(rc, OT_ERR_VERSION_AHEAD, FAIL_AT "submit ahead of the document: %s", AT(s), ot_err_str(rc));
    cr_assert_eq(ot_doc_version(s->doc), version);
}

/* ---- one run ------------------------------------------------------------------- */

static sim *sim_new(uint64_t seed, uint32_t run) {
    sim *s = calloc(1, sizeof *s);
    cr_assert_not_null(s);
    s->seed = seed;
    s->run = run;
    ot_gen_seed(&s->rng, ot_gen_case_seed(seed, SIM_SALT, run));
    ot_op_init(&s->t1);
    ot_op_init(&s->t2);
    ot_op_init(&s->t3);
    ot_op_init(&s->t4);
    ot_op_init(&s->result.op);
    ot_buf_init(&s->scratch);
    ot_buf_init(&s->msg1);
    ot_buf_init(&s->msg2);
    for (uint32_t i = 0; i <= SIM_EDITS_MAX; i++) ot_buf_init(&s->snapshots[i]);

    ot_buf *initial = &s->snapshots[0];
    cr_assert_eq(ot_gen_text(&s->rng, ot_gen_below(&s->rng, SIM_INITIAL_MAX_CODEPOINTS + 1), initial), OT_OK);
    s->start_version = ot_gen_chance(&s->rng, 50) ? 0 : ot_gen_below(&s->rng, 1u << 20);
    ot_limits limits = ot_limits_default();
    if (run % 2 == 1)
        limits.history_depth = SIM_SHORT_HISTORY_MIN + (uint32_t)ot_gen_below(&s->rng, SIM_SHORT_HISTORY_SPAN);
    s->history_depth = limits.history_depth;
    s->doc = ot_doc_new(&limits, s->start_version, S(initial), initial->len);
    cr_assert_not_null(s->doc);
    for (uint32_t i = 0; i < SIM_CLIENTS; i++) {
        sim_client *c = &s->clients[i];
        c->text = ot_text_from_utf8(S(initial), initial->len);
        cr_assert_not_null(c->text);
        c->revision = s->start_version;
        c->state = SIM_SYNCHRONIZED;
        ot_op_init(&c->outstanding);
        ot_op_init(&c->buffer);
        c->weight_up = 1 + (uint32_t)ot_gen_below(&s->rng, SIM_WEIGHT_MAX);
        c->weight_down = 1 + (uint32_t)ot_gen_below(&s->rng, SIM_WEIGHT_MAX);
        queue_init(&c->up);
        queue_init(&c->down);
    }
    return s;
}

static void sim_free(sim *s) {
    for (uint32_t i = 0; i < SIM_CLIENTS; i++) {
        sim_client *c = &s->clients[i];
        ot_text_free(c->text);
        ot_op_free(&c->outstanding);
        ot_op_free(&c->buffer);
        queue_fini(&c->up);
        queue_fini(&c->down);
    }
    for (uint32_t i = 0; i <= SIM_EDITS_MAX; i++) ot_buf_free(&s->snapshots[i]);
    ot_op_free(&s->t1);
    ot_op_free(&s->t2);
    ot_op_free(&s->t3);
    ot_op_free(&s->t4);
    ot_op_free(&s->result.op);
    ot_buf_free(&s->scratch);
    ot_buf_free(&s->msg1);
    ot_buf_free(&s->msg2);
    ot_doc_free(s->doc);
    free(s);
}

/* One scheduler step; false when nothing is left to do. */
static bool sim_step(sim *s) {
    /* The server takes an uplink message only when every downlink has room. */
    bool room = true;
    for (uint32_t i = 0; i < SIM_CLIENTS; i++)
        if (s->clients[i].down.count + 1 >= SIM_QUEUE_MAX_MESSAGES) room = false;

    uint64_t total = 0;
    const uint64_t edit_weight = s->edits_done < SIM_EDITS_MAX ? SIM_EDIT_WEIGHT : 0;
    total += edit_weight;
    for (uint32_t i = 0; i < SIM_CLIENTS; i++) {
        const sim_client *c = &s->clients[i];
        if (room && c->up.count > 0) total += c->weight_up;
        if (c->down.count > 0) total += c->weight_down;
    }
    if (total == 0) return false;

    uint64_t pick = ot_gen_below(&s->rng, total);
    if (pick < edit_weight) {
        client_local_edit(s, (uint32_t)ot_gen_below(&s->rng, SIM_CLIENTS));
        s->edits_done++;
        if (ot_gen_chance(&s->rng, SIM_GHOST_PERCENT)) server_ghost(s);
        return true;
    }
    pick -= edit_weight;
    for (uint32_t i = 0; i < SIM_CLIENTS; i++) {
        const sim_client *c = &s->clients[i];
        if (room && c->up.count > 0) {
            if (pick < c->weight_up) {
                server_receive(s, i);
                return true;
            }
            pick -= c->weight_up;
        }
        if (c->down.count > 0) {
            if (pick < c->weight_down) {
                client_receive(s, i);
                return true;
            }
            pick -= c->weight_down;
        }
    }
    cr_assert_fail("scheduler pick out of range");
    return false;
}

static void sim_check_converged(sim *s) {
    const uint64_t version = ot_doc_version(s->doc);
    const ot_buf *server_text = &s->snapshots[version - s->start_version];
    cr_assert(ot_text_equals(ot_doc_text(s->doc), S(server_text), server_text->len),
              FAIL_AT "server text differs from its own snapshot", AT(s));
    for (uint32_t i = 0; i < SIM_CLIENTS; i++) {
        sim_client *c = &s->clients[i];
        cr_assert_eq(c->state, SIM_SYNCHRONIZED, FAIL_AT "client %" PRIu32 " still waits at the end", AT(s), i);
        cr_assert_eq(c->revision, version, FAIL_AT "client %" PRIu32 " at revision %" PRIu64 ", server at %" PRIu64,
                     AT(s), i, c->revision, version);
        cr_assert_eq(c->duplicate_acks_due, 0, FAIL_AT "client %" PRIu32 " missed duplicate acks", AT(s), i);
        ot_buf_clear(&s->scratch);
        cr_assert_eq(ot_text_to_buf(c->text, &s->scratch), OT_OK);
        cr_assert(ot_text_equals(c->text, S(server_text), server_text->len),
                  FAIL_AT "client %" PRIu32 " diverged: \"%s\" vs server \"%s\"", AT(s), i, S(&s->scratch),
                  S(server_text));
    }
    /* Every version still in the history can be rebuilt; older ones cannot. */
    const uint64_t oldest = ot_doc_oldest_version(s->doc);
    const uint64_t kept = version - s->start_version < s->history_depth ? version - s->start_version : s->history_depth;
    cr_assert_eq(oldest, version - kept, FAIL_AT "oldest version %" PRIu64 " with depth %" PRIu32 " at version %" PRIu64,
                 AT(s), oldest, s->history_depth, version);
    if (oldest > s->start_version) {
        ot_buf_clear(&s->scratch);
        cr_assert_lt(ot_doc_text_at(s->doc, oldest - 1, &s->scratch), 0, FAIL_AT "text_at before the history", AT(s));
    }
    for (uint64_t v = oldest; v <= version; v++) {
        ot_buf_clear(&s->scratch);
        int rc = ot_doc_text_at(s->doc, v, &s->scratch);
        cr_assert_eq(rc, OT_OK, FAIL_AT "text_at(%" PRIu64 "): %s", AT(s), v, ot_err_str(rc));
        const ot_buf *want = &s->snapshots[v - s->start_version];
        cr_assert(s->scratch.len == want->len && (want->len == 0 || memcmp(s->scratch.data, want->data, want->len) == 0),
                  FAIL_AT "text_at(%" PRIu64 ") = \"%s\", want \"%s\"", AT(s), v, S(&s->scratch), S(want));
    }
}

Test(ot_sim, clients_converge_with_reordering_and_resends) {
    const uint64_t seed = ot_gen_base_seed();
    uint32_t runs = ot_gen_case_count() / SIM_CASES_PER_RUN;
    if (runs == 0) runs = 1;
    uint64_t duplicates = 0, ops_applied = 0, server_transforms = 0, client_transforms = 0, composes = 0, too_old = 0,
             detected = 0;
    for (uint32_t run = 0; run < runs; run++) {
        sim *s = sim_new(seed, run);
        while (sim_step(s)) {
            s->step++;
            cr_assert_lt(s->step, SIM_STEPS_MAX, FAIL_AT "no quiescence", AT(s));
        }
        sim_check_converged(s);
        duplicates += s->duplicates_sent;
        server_transforms += s->server_transforms;
        client_transforms += s->client_transforms;
        composes += s->buffer_composes;
        too_old += s->refused_too_old;
        detected += s->duplicates_detected;
        ops_applied += ot_doc_version(s->doc) - s->start_version;
        sim_free(s);
    }
    /* The runs really exercised what they claim to. */
    cr_log_info("%" PRIu32 " runs: %" PRIu64 " ops applied, %" PRIu64 " late ops transformed by the server, %" PRIu64
                " client transforms, %" PRIu64 " buffer composes, %" PRIu64 " resends (%" PRIu64
                " recognised), %" PRIu64 " refused as too old",
                runs, ops_applied, server_transforms, client_transforms, composes, duplicates, detected, too_old);
    cr_assert_gt(duplicates, 0);
    cr_assert_gt(detected, 0);
    cr_assert_gt(server_transforms, ops_applied / 4);
    cr_assert_gt(client_transforms, 0);
    cr_assert_gt(composes, 0);
    if (runs > 1) cr_assert_gt(too_old, 0);
}

/* ---- targeted history cases ------------------------------------------------------ */

static void submit_ok(ot_doc *doc, uint64_t base, const char *json, const char *id, ot_submit_result *r) {
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_parse_json(&op, json, strlen(json), NULL, NULL), OT_OK, "parse %s", json);
    int rc = ot_doc_submit(doc, base, &op, id, strlen(id), "t", 1, 0, r);
    cr_assert_eq(rc, OT_OK, "submit %s at %" PRIu64 ": %s", json, base, ot_err_str(rc));
    ot_op_free(&op);
}

static void expect_text(const ot_doc *doc, const char *want) {
    ot_buf b;
    ot_buf_init(&b);
    cr_assert_eq(ot_text_to_buf(ot_doc_text(doc), &b), OT_OK);
    cr_assert_str_eq(S(&b), want);
    ot_buf_free(&b);
}

Test(ot_sim, too_old_and_ahead_versions_are_refused) {
    ot_limits limits = ot_limits_default();
    limits.history_depth = 4;
    ot_doc *doc = ot_doc_new(&limits, 0, "abc", 3);
    cr_assert_not_null(doc);
    ot_submit_result r;
    ot_op_init(&r.op);
    char json[32], id[16];
    for (uint64_t v = 0; v < 10; v++) {
        snprintf(json, sizeof json, "[%" PRIu64 ",\"x\"]", 3 + v);
        snprintf(id, sizeof id, "op%" PRIu64, v);
        submit_ok(doc, v, json, id, &r);
        cr_assert_eq(r.applied_at_version, v);
        cr_assert(!r.duplicate);
    }
    cr_assert_eq(ot_doc_version(doc), 10);
    cr_assert_eq(ot_doc_oldest_version(doc), 6);
    ot_history_entry h;
    ot_history_entry_init(&h);
    cr_assert_eq(ot_doc_history_read(doc, 5, &h), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(ot_doc_history_read(doc, 6, &h), OT_OK);
    cr_assert_eq(ot_doc_history_read(doc, 9, &h), OT_OK);
    cr_assert_eq(ot_doc_history_read(doc, 10, &h), OT_ERR_VERSION_AHEAD);
    ot_history_entry_free(&h);

    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_parse_json(&op, "[\"Y\",8]", 7, NULL, NULL), OT_OK);
    cr_assert_eq(ot_doc_submit(doc, 5, &op, "late", 4, "", 0, 0, &r), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(ot_doc_submit(doc, 0, &op, "", 0, "", 0, 0, &r), OT_ERR_VERSION_TOO_OLD);
    cr_assert_eq(ot_doc_submit(doc, 11, &op, "ahead", 5, "", 0, 0, &r), OT_ERR_VERSION_AHEAD);
    cr_assert_eq(ot_doc_version(doc), 10);
    expect_text(doc, "abcxxxxxxxxxx");

    ot_buf b;
    ot_buf_init(&b);
    cr_assert_lt(ot_doc_text_at(doc, 5, &b), 0);
    cr_assert_lt(ot_doc_text_at(doc, 11, &b), 0);
    ot_buf_clear(&b);
    cr_assert_eq(ot_doc_text_at(doc, 6, &b), OT_OK);
    cr_assert_str_eq(S(&b), "abcxxxxxx");
    ot_buf_free(&b);

    /* The oldest retained base still works and is transformed through 4 ops. */
    submit_ok(doc, 6, "[\"Y\",9]", "first-at-6", &r);
    cr_assert_eq(r.applied_at_version, 10);
    cr_assert(!r.duplicate);
    expect_text(doc, "Yabcxxxxxxxxxx");

    /* A wrong base length at a valid version is its own error. */
    cr_assert_eq(ot_op_parse_json(&op, "[3]", 3, NULL, NULL), OT_OK);
    cr_assert_eq(ot_doc_submit(doc, 11, &op, "short", 5, "", 0, 0, &r), OT_ERR_BASE_LENGTH);
    cr_assert_eq(ot_doc_version(doc), 11);
    ot_op_free(&op);
    ot_op_free(&r.op);
    ot_doc_free(doc);
}

Test(ot_sim, resend_is_acked_with_the_original_version) {
    ot_limits limits = ot_limits_default();
    ot_doc *doc = ot_doc_new(&limits, 40, "hello", 5);
    cr_assert_not_null(doc);
    ot_submit_result r, first;
    ot_op_init(&r.op);
    ot_op_init(&first.op);
    submit_ok(doc, 40, "[5,\" world\"]", "other", &r);  /* v40 -> 41 */
    submit_ok(doc, 40, "[\"\xf0\x9f\x98\x80 \",5]", "mine", &first); /* transformed past "other": applied at 41 */
    cr_assert_eq(first.applied_at_version, 41);
    cr_assert(!first.duplicate);
    expect_text(doc, "\xf0\x9f\x98\x80 hello world");
    submit_ok(doc, 42, "[1,-1,11]", "third", &r);       /* removes the space after the emoji */
    expect_text(doc, "\xf0\x9f\x98\x80hello world");

    /* The same message again, as a client resending after a timeout would. */
    submit_ok(doc, 40, "[\"\xf0\x9f\x98\x80 \",5]", "mine", &r);
    cr_assert(r.duplicate);
    cr_assert_eq(r.applied_at_version, 41);
    cr_assert(ot_op_equal(&r.op, &first.op));
    cr_assert_eq(ot_doc_version(doc), 43);
    expect_text(doc, "\xf0\x9f\x98\x80hello world");

    ot_op_free(&r.op);
    ot_op_free(&first.op);
    ot_doc_free(doc);
}

/* A client that reconnects may resend with a base that has left the history:
 * its id is still there, so it is a duplicate, not an error. */
Test(ot_sim, resend_with_base_older_than_history_is_a_duplicate) {
    ot_limits limits = ot_limits_default();
    limits.history_depth = 2;
    ot_doc *doc = ot_doc_new(&limits, 0, "", 0);
    cr_assert_not_null(doc);
    ot_submit_result r;
    ot_op_init(&r.op);
    submit_ok(doc, 0, "[\"a\"]", "a", &r);
    /* Based on 0, applied at 1; the op being ordered wins the tie: "ba". */
    submit_ok(doc, 0, "[\"b\"]", "b", &r);
    cr_assert_eq(r.applied_at_version, 1);
    expect_text(doc, "ba");
    submit_ok(doc, 2, "[2,\"c\"]", "c", &r);   /* history now holds versions 1 and 2 */
    cr_assert_eq(ot_doc_oldest_version(doc), 1);
    submit_ok(doc, 0, "[\"b\"]", "b", &r);
    cr_assert(r.duplicate);
    cr_assert_eq(r.applied_at_version, 1);
    cr_assert_eq(ot_doc_version(doc), 3);
    expect_text(doc, "bac");
    ot_op_free(&r.op);
    ot_doc_free(doc);
}

/* The document limit holds for the op as transformed, not only as sent. */
Test(ot_sim, submit_beyond_max_doc_codepoints_is_refused) {
    ot_limits limits = ot_limits_default();
    limits.max_doc_codepoints = 10;
    ot_doc *doc = ot_doc_new(&limits, 0, "abcdefg\xf0\x9f\x98\x80", 11);
    cr_assert_not_null(doc);
    ot_submit_result r;
    ot_op_init(&r.op);
    ot_op op;
    ot_op_init(&op);
    cr_assert_eq(ot_op_parse_json(&op, "[8,\"xyz\"]", 9, NULL, NULL), OT_OK);
    cr_assert_eq(ot_doc_submit(doc, 0, &op, "big", 3, "", 0, 0, &r), OT_ERR_TOO_LARGE);
    cr_assert_eq(ot_doc_version(doc), 0);
    expect_text(doc, "abcdefg\xf0\x9f\x98\x80");

    submit_ok(doc, 0, "[8,\"x\xf0\x9f\x98\x80\"]", "fits", &r); /* exactly 10 code points */
    expect_text(doc, "abcdefg\xf0\x9f\x98\x80x\xf0\x9f\x98\x80");
    /* Alone it would fit at version 0; transformed past "fits" it does not. */
    cr_assert_eq(ot_op_parse_json(&op, "[\"z\",8]", 7, NULL, NULL), OT_OK);
    cr_assert_eq(ot_doc_submit(doc, 0, &op, "late", 4, "", 0, 0, &r), OT_ERR_TOO_LARGE);
    cr_assert_eq(ot_doc_version(doc), 1);
    /* Shrinking is always allowed. */
    submit_ok(doc, 1, "[9,-1]", "trim", &r);
    expect_text(doc, "abcdefg\xf0\x9f\x98\x80x");
    ot_op_free(&op);
    ot_op_free(&r.op);
    ot_doc_free(doc);
}
