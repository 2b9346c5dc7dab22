/*
 * The fan-out's outbox: a cross-worker message the mailbox refuses waits in a
 * bounded per-target queue and is retried in order; past the bound its
 * receivers are killed (told, then closed) instead of silently missing a frame.
 * Two real rings in one thread play worker 0 (sender) and worker 1 (receiver);
 * the mailbox is made to refuse by filling the target's in-flight count.
 */
#include <criterion/criterion.h>

#include "collab/docs.h"
#include "collab/fanout.h"
#include "io/mailbox.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#define SINK_MAX 64

typedef struct sink {
    uint64_t keys[SINK_MAX];
    char what[SINK_MAX][64];   /* frame JSON, "drop:<doc>" or "kill" */
    int count;
} sink;

static void on_local(void *ctx, uint64_t key, rbuf *frame, const char *doc, size_t doc_len) {
    sink *s = ctx;
    cr_assert_lt(s->count, SINK_MAX);
    s->keys[s->count] = key;
    if (frame != NULL) {
        const char *js;
        size_t len;
        cr_assert_eq(fanout_frame_payload(frame, &js, &len), 0);
        snprintf(s->what[s->count], sizeof s->what[0], "%.*s", (int)len, js);
    } else {
        snprintf(s->what[s->count], sizeof s->what[0], "drop:%.*s", (int)doc_len, doc);
    }
    s->count++;
}

static void on_kill(void *ctx, uint64_t key) {
    sink *s = ctx;
    cr_assert_lt(s->count, SINK_MAX);
    s->keys[s->count] = key;
    snprintf(s->what[s->count], sizeof s->what[0], "kill");
    s->count++;
}

typedef struct pair {
    struct io_uring a, b;
    mailbox_target targets[2];
    fanout f;        /* worker 0 */
    fanout g;        /* worker 1 */
    sink got;        /* what worker 1's sessions saw */
} pair;

static void pair_init(pair *p) {
    memset(p, 0, sizeof *p);
    cr_assert_eq(io_uring_queue_init(64, &p->a, 0), 0);
    cr_assert_eq(io_uring_queue_init(64, &p->b, 0), 0);
    p->targets[0].ring_fd = p->a.ring_fd;
    p->targets[1].ring_fd = p->b.ring_fd;
    cr_assert_eq(fanout_init(&p->f, 0, 2, &p->a, p->targets, on_local, &p->got), 0);
    cr_assert_eq(fanout_init(&p->g, 1, 2, &p->b, p->targets, on_local, &p->got), 0);
    fanout_set_kill(&p->g, on_kill);
}

static void pair_free(pair *p) {
    fanout_destroy(&p->f);
    fanout_destroy(&p->g);
    io_uring_queue_exit(&p->a);
    io_uring_queue_exit(&p->b);
}

/* Submits worker 0's SQEs and runs every message worker 1 received. */
static int pump(pair *p) {
    io_uring_submit(&p->a);
    struct io_uring_cqe *cqe;
    int sent_failures = 0;
    /* bounded: a handful of rounds over what is already posted */
    for (int round = 0; round < 4; round++) {
        while (io_uring_peek_cqe(&p->a, &cqe) == 0) {
            if (mailbox_on_sent_cqe(p->targets, cqe) < 0) sent_failures++;
            io_uring_cqe_seen(&p->a, cqe);
        }
        while (io_uring_peek_cqe(&p->b, &cqe) == 0) {
            cr_assert(mailbox_cqe_is_delivery(cqe));
            mailbox_msg *m = mailbox_on_receive_cqe(p->targets, 1, cqe);
            io_uring_cqe_seen(&p->b, cqe);
            fanout_on_message(&p->g, (const fanout_deliver *)m);
            mailbox_msg_unref(m);
        }
    }
    return sent_failures;
}

static void send_text(fanout *f, uint64_t key, const char *json) {
    rbuf *fr = fanout_frame(json, strlen(json));
    cr_assert_not_null(fr);
    fanout_send(f, key, fr);
    rbuf_unref(fr);
}

static void refuse(pair *p, bool on) {
    atomic_store(&p->targets[1].inflight, on ? MAILBOX_MAX_INFLIGHT_PER_TARGET : 0u);
}

Test(fanout, refused_posts_wait_in_the_outbox_and_keep_their_order) {
    pair p;
    pair_init(&p);
    uint64_t k = fanout_key(1, 7, 1);
    send_text(&p.f, k, "{\"n\":0}");
    fanout_flush(&p.f);
    refuse(&p, true);
    char js[32];
    for (int i = 1; i <= 5; i++) {
        snprintf(js, sizeof js, "{\"n\":%d}", i);
        send_text(&p.f, k, js);
        fanout_flush(&p.f);   /* one message each */
    }
    fanout_drop(&p.f, k, "doc", 3);
    cr_assert_eq(fanout_outbox_count(&p.f, 1), 6, "5 frames and the drop wait");
    cr_assert_eq(p.f.count_deferred, 6);
    refuse(&p, false);
    send_text(&p.f, k, "{\"n\":6}");   /* must not overtake the outbox */
    fanout_flush(&p.f);
    cr_assert_eq(fanout_outbox_count(&p.f, 1), 0);
    cr_assert_eq(pump(&p), 0);
    cr_assert_eq(p.got.count, 8);
    for (int i = 0; i <= 5; i++) {
        snprintf(js, sizeof js, "{\"n\":%d}", i);
        cr_assert_str_eq(p.got.what[i], js);
        cr_assert_eq(p.got.keys[i], k);
    }
    cr_assert_str_eq(p.got.what[6], "drop:doc");
    cr_assert_str_eq(p.got.what[7], "{\"n\":6}");
    cr_assert_eq(p.f.count_killed, 0);
    pair_free(&p);
}

Test(fanout, a_full_outbox_kills_the_receivers_after_what_was_queued) {
    pair p;
    pair_init(&p);
    p.f.max_outbox_msgs = 3;
    uint64_t k = fanout_key(1, 7, 1), other = fanout_key(1, 8, 1);
    refuse(&p, true);
    char js[32];
    for (int i = 1; i <= 3; i++) {
        snprintf(js, sizeof js, "{\"n\":%d}", i);
        send_text(&p.f, k, js);
        fanout_flush(&p.f);
    }
    cr_assert_eq(fanout_outbox_count(&p.f, 1), 3);
    send_text(&p.f, k, "{\"n\":4}");     /* no room: k misses it */
    fanout_flush(&p.f);
    send_text(&p.f, k, "{\"n\":5}");     /* k is doomed: not sent any more */
    send_text(&p.f, other, "{\"o\":1}"); /* no room either: other is doomed too */
    fanout_flush(&p.f);
    cr_assert_eq(fanout_outbox_count(&p.f, 1), 3, "nothing beyond the bound");
    refuse(&p, false);
    fanout_flush(&p.f);                  /* the 3 queued frames, then one kill */
    cr_assert_eq(pump(&p), 0);
    cr_assert_eq(p.got.count, 5);
    cr_assert_str_eq(p.got.what[0], "{\"n\":1}");
    cr_assert_str_eq(p.got.what[2], "{\"n\":3}");
    /* the kill carries both keys, each once */
    cr_assert_str_eq(p.got.what[3], "kill");
    cr_assert_str_eq(p.got.what[4], "kill");
    cr_assert((p.got.keys[3] == k && p.got.keys[4] == other) || (p.got.keys[3] == other && p.got.keys[4] == k));
    cr_assert_eq(p.f.count_killed, 2);
    /* afterwards the target is clean: frames flow again */
    send_text(&p.f, other, "{\"o\":2}");
    fanout_flush(&p.f);
    pump(&p);
    cr_assert_eq(p.got.count, 6);
    cr_assert_str_eq(p.got.what[5], "{\"o\":2}");
    pair_free(&p);
}

Test(fanout, a_post_that_fails_after_submission_kills_its_receivers) {
    pair p;
    pair_init(&p);
    uint64_t k = fanout_key(1, 3, 9);
    fanout_deliver *d = aligned_alloc(16, (sizeof *d + sizeof d->keys[0] + 15) & ~(size_t)15);
    cr_assert_not_null(d);
    memset(d, 0, sizeof *d);
    mailbox_msg_init(&d->hdr, FANOUT_MSG_DELIVER, 0, NULL);
    d->keys[0] = k;
    d->count_keys = 1;
    cr_assert(fanout_on_post_failed(&p.f, 1, &d->hdr));
    mailbox_msg req;
    mailbox_msg_init(&req, DOCS_MSG_REQUEST, 0, NULL);
    cr_assert_not(fanout_on_post_failed(&p.f, 1, &req), "requests are the session's to answer");
    send_text(&p.f, k, "{\"late\":1}");   /* after a gap: not delivered */
    fanout_flush(&p.f);
    pump(&p);
    cr_assert_eq(p.got.count, 1);
    cr_assert_str_eq(p.got.what[0], "kill");
    cr_assert_eq(p.got.keys[0], k);
    free(d);
    pair_free(&p);
}

Test(fanout, local_dooms_kill_at_once_and_full_outbox_refuses_posts) {
    sink s = {0};
    fanout f;
    cr_assert_eq(fanout_init(&f, 0, 1, NULL, NULL, on_local, &s), 0);
    fanout_set_kill(&f, on_kill);
    uint64_t keys[2] = {fanout_key(0, 1, 1), fanout_key(0, 2, 1)};
    fanout_doom(&f, 0, keys, 2);
    cr_assert_eq(s.count, 2);
    cr_assert_str_eq(s.what[0], "kill");
    cr_assert_eq(s.keys[1], keys[1]);
    fanout_destroy(&f);

    pair p;
    pair_init(&p);
    p.f.max_outbox_msgs = 1;
    refuse(&p, true);
    mailbox_msg m1, m2;
    mailbox_msg_init(&m1, DOCS_MSG_REQUEST, 0, NULL);
    mailbox_msg_init(&m2, DOCS_MSG_REQUEST, 0, NULL);
    cr_assert_eq(fanout_post(&p.f, 1, &m1), 0, "queued");
    cr_assert_eq(atomic_load(&m1.refs), 2, "the outbox holds a reference");
    cr_assert_eq(fanout_post(&p.f, 1, &m2), -ENOBUFS);
    cr_assert_eq(atomic_load(&m2.refs), 1, "a refused message is not kept");
    refuse(&p, false);
    fanout_destroy(&p.f);   /* drops the queued reference */
    cr_assert_eq(atomic_load(&m1.refs), 1);
    memset(&p.f, 0, sizeof p.f);
    fanout_destroy(&p.g);
    io_uring_queue_exit(&p.a);
    io_uring_queue_exit(&p.b);
}
