/* The load generator's run: phases with deadlines, worker setup and threads, lg_run. */
#include "spread.h"
#include "worker.h"

#include "tls/tls.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- phases ----------------------------------------------------------------- */

static uint64_t s_to_us(double s) { return s <= 0 ? 0 : (uint64_t)(s * 1e6); }

static void open_loop_edits(worker *w, uint64_t now) {
    if (w->rate_local <= 0 || w->neditors == 0) return;
    uint64_t due = (uint64_t)(w->rate_local * (double)(now - w->t_start) / 1e6);
    if (due <= w->issued) return;
    uint64_t n = due - w->issued;
    if (n > MAX_EDITS_PER_TICK) {
        if (w->measuring) w->st.edits_behind += n - MAX_EDITS_PER_TICK;
        w->issued += n - MAX_EDITS_PER_TICK;
        n = MAX_EDITS_PER_TICK;
    }
    for (uint64_t i = 0; i < n; i++) {
        conn *c = &w->conns[w->editors[w->rr]];
        w->rr = (w->rr + 1) % w->neditors;
        lg_editor_edit(w, c, now);
        w->issued++;
    }
}

static bool all_synchronized(worker *w) {
    for (uint32_t i = 0; i < w->neditors; i++) {
        conn *c = &w->conns[w->editors[i]];
        if (c->state == CS_OPEN && c->cl && c->cl->phase == LG_PHASE_LIVE && !lg_client_synchronized(c->cl))
            return false;
    }
    return true;
}

static void start_verify(worker *w) {
    uint32_t next = w->nconns;
    for (uint32_t d = 0; d < w->cfg->docs; d++) {
        if (!w->docs[d].has_clients) continue;
        conn *v = &w->conns[next];
        w->docs[d].verifier = (int32_t)next;
        next++;
        v->cl = calloc(1, sizeof(lg_client));
        char name[LG_CLIENT_MAX_DOC_BYTES + 1], prefix[LG_CLIENT_MAX_PREFIX_BYTES + 1];
        snprintf(name, sizeof name, "%s%u", w->cfg->doc_prefix, d);
        snprintf(prefix, sizeof prefix, "v%ut%u", d, w->id);
        if (v->cl == NULL || lg_client_init(v->cl, name, prefix) != 0) {
            w->docs[d].verifier = -1;
            continue;
        }
        lg_conn_start(w, v);
    }
}

/* Compares every client of every document whose verifier has its snapshot;
 * returns true when nothing is left to check. */
static bool verify_step(worker *w, bool final) {
    bool pending = false;
    ot_buf text;
    ot_buf_init(&text);
    for (uint32_t d = 0; d < w->cfg->docs; d++) {
        local_doc *ld = &w->docs[d];
        if (!ld->has_clients || ld->checked) continue;
        lg_client *vc = ld->verifier >= 0 ? w->conns[ld->verifier].cl : NULL;
        bool have = vc && vc->phase == LG_PHASE_LIVE;
        /* a verifier that could not connect will not get a snapshot: do not wait for it */
        bool gone = ld->verifier < 0 || w->conns[ld->verifier].state == CS_DEAD ||
                    w->conns[ld->verifier].state == CS_CLOSING || (vc && vc->phase == LG_PHASE_FAILED);
        if (!have && !final && !gone) {
            pending = true;
            continue;
        }
        /* all clients of d at the snapshot's version? */
        bool wait = false;
        if (have) {
            for (uint32_t i = 0; i < w->nconns && !wait; i++) {
                conn *c = &w->conns[i];
                if (c->doc == d && c->cl && c->cl->phase == LG_PHASE_LIVE && c->state == CS_OPEN &&
                    c->cl->server_v < vc->server_v)
                    wait = true;
            }
        }
        if (wait && !final) {
            pending = true;
            continue;
        }
        ld->checked = true;
        w->st.docs_checked++;
        ot_buf_clear(&text);
        if (have) ot_text_to_buf(vc->text, &text);
        for (uint32_t i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            if (c->doc != d || c->cl == NULL) continue;
            if (!have || c->cl->phase != LG_PHASE_LIVE || c->cl->server_v != vc->server_v) {
                w->st.clients_unverified++;
                if (c->cl->phase == LG_PHASE_FAILED) w->st.clients_diverged++;
                continue;
            }
            w->st.clients_checked++;
            if (lg_client_text_equals(c->cl, text.data ? text.data : "", text.len)) {
                w->st.clients_equal++;
            } else {
                w->st.clients_diverged++;
                if (!w->cfg->quiet && w->st.clients_diverged == 1)
                    fprintf(stderr, "ringpad-bench: DIVERGED: doc %s client %u (v %llu)\n",
                            c->cl->doc, i, (unsigned long long)vc->server_v);
            }
        }
    }
    ot_buf_free(&text);
    w->st.verify_ran = true;
    return !pending;
}

static void phase_step(worker *w, uint64_t now) {
    const lg_config *cfg = w->cfg;
    shared *sh = w->sh;
    switch (w->phase) {
    case PH_CONNECT: {
        if (cfg->scenario == LG_SC_STORM || cfg->scenario == LG_SC_TLS) {
            w->nready = w->nconns;
        } else {
            bool readers_wait = lg_readers_wait_for_writers(cfg->scenario, cfg->nservers) &&
                                atomic_load(&sh->editors_settled) < sh->editors_total;
            while (w->next_connect < w->nconns &&
                   w->next_connect - w->nready - w->nfailed < cfg->max_connecting_per_thread) {
                if (readers_wait && w->conns[w->next_connect].role == R_READER) break;
                lg_conn_start(w, &w->conns[w->next_connect++]);
            }
        }
        if (w->nready + w->nfailed >= w->nconns || now >= w->deadline) {
            w->phase = PH_WAIT_START;
            atomic_fetch_add(&sh->ready_threads, 1);
        }
        break;
    }
    case PH_WAIT_START:
        /* a thread that never gets ready (it failed to start) must not hold the others */
        if (atomic_load(&sh->ready_threads) < cfg->threads && now < w->deadline + 5000000u) break;
        {
            uint64_t expected = 0;
            atomic_compare_exchange_strong(&sh->start_us, &expected, now);
            w->t_start = atomic_load(&sh->start_us);
        }
        w->t_warm = w->t_start + s_to_us(cfg->warmup_s);
        w->t_end = w->t_warm + s_to_us(cfg->duration_s);
        w->phase = PH_RUN;
        w->st.ready_connections = w->nready;
        for (uint32_t i = 0; i < w->nconns; i++) {
            conn *c = &w->conns[i];
            if (cycling(c)) lg_conn_start(w, c);
            else if (c->role == R_ECHO && c->state == CS_OPEN) lg_echo_send(w, c, now);
            else if (c->role == R_EDITOR && cfg->rate_ops_s <= 0) lg_editor_edit(w, c, now);
        }
        break;
    case PH_RUN:
        w->measuring = now >= w->t_warm && now < w->t_end;
        if (w->id == 0 && cfg->server_pid > 0 && w->measuring && w->server_cpu_at_warm < 0)
            w->server_cpu_at_warm = lg_proc_cpu_s(cfg->server_pid);
        if (now < w->t_end) {
            open_loop_edits(w, now);
            break;
        }
        w->measuring = false;
        w->stop_edits = true;
        if (w->id == 0 && cfg->server_pid > 0) {
            w->st.server_rss_after_kb = lg_proc_rss_kb(cfg->server_pid);
            double cpu = lg_proc_cpu_s(cfg->server_pid);
            if (w->server_cpu_at_warm >= 0 && cpu >= 0) w->st.server_cpu_s = cpu - w->server_cpu_at_warm;
        }
        w->phase = PH_DRAIN;
        w->deadline = now + s_to_us(cfg->drain_timeout_s);
        break;
    case PH_DRAIN:
        if (!is_proto(cfg) || all_synchronized(w) || now >= w->deadline) {
            atomic_fetch_add(&sh->drained_threads, 1);
            w->phase = PH_WAIT_DRAINED;
            w->deadline = now + s_to_us(cfg->drain_timeout_s);
        }
        break;
    case PH_WAIT_DRAINED:
        if (atomic_load(&sh->drained_threads) < cfg->threads && now < w->deadline) break;
        if (!is_proto(cfg)) {
            w->phase = PH_DONE;
            break;
        }
        start_verify(w);
        w->phase = PH_VERIFY;
        w->deadline = now + s_to_us(cfg->drain_timeout_s);
        break;
    case PH_VERIFY:
        if (verify_step(w, now >= w->deadline)) w->phase = PH_DONE;
        break;
    default: break;
    }
}

static void *worker_main(void *arg) {
    worker *w = arg;
    const lg_config *cfg = w->cfg;
    w->deadline = now_us() + s_to_us(cfg->connect_timeout_s);
    if (w->ring_disabled) {
        /* liburing 2.3 has no io_uring_enable_rings(): the register call itself */
        if (syscall(__NR_io_uring_register, w->ring.ring_fd, IORING_REGISTER_ENABLE_RINGS, NULL, 0) < 0) {
            w->err = -errno;
            return NULL;
        }
        w->ring_disabled = false;
    }
    while (w->phase != PH_DONE) {
        for (uint32_t i = 0; i < w->nrearm; i++) {
            conn *c = &w->conns[w->rearm[i]];
            c->want_rearm = false;
            if ((c->state == CS_HANDSHAKE || c->state == CS_OPEN) && !c->recv_armed) lg_conn_arm_recv(w, c);
        }
        w->nrearm = 0;
        for (uint32_t i = 0; i < w->ndirty; i++) lg_conn_flush(w, &w->conns[w->dirty[i]]);
        w->ndirty = 0;
        struct __kernel_timespec ts = {.tv_sec = 0, .tv_nsec = TICK_US * 1000};
        struct io_uring_cqe *cqe = NULL;
        int rc = io_uring_submit_and_wait_timeout(&w->ring, &cqe, 1, &ts, NULL);
        if (rc < 0 && rc != -ETIME && rc != -EINTR && rc != -EBUSY) {
            w->err = rc;
            break;
        }
        unsigned head, count = 0;
        io_uring_for_each_cqe(&w->ring, head, cqe) {
            /* a clock read per completion: a long batch must not blur latencies */
            lg_on_cqe(w, cqe, now_us());
            count++;
        }
        io_uring_cq_advance(&w->ring, count);
        phase_step(w, now_us());
    }
    if (w->sh->tls) tls_thread_exit();
    return NULL;
}

/* ---- setup ---------------------------------------------------------------- */

static int worker_init(worker *w, shared *sh, uint32_t id) {
    const lg_config *cfg = sh->cfg;
    w->sh = sh;
    w->cfg = cfg;
    w->id = id;
    w->rng = (cfg->seed ^ (0x9E3779B97F4A7C15ull * (id + 1))) | 1;
    w->server_cpu_at_warm = -1;
    lg_stats_init(&w->st);
    ot_buf_init(&w->msg);
    ot_op_init(&w->edit);
    if (lg_msgcache_init(&w->msgs) != 0) return -ENOMEM;
    for (uint32_t i = 0; i < 8; i++) lg_rand(&w->rng);

    /* DEFER_TASKRUN: a completion becomes task work that runs when this thread
     * next enters the ring, instead of an IPI and a wake-up per received frame.
     * With 1,000 sockets per op (fanout, hot) those wake-ups were most of both
     * sides' CPU on loopback, where the server's send runs the receive path and
     * its wake-up. SINGLE_ISSUER (required with it) binds the ring to the thread
     * that enables it, so the ring starts disabled and worker_main enables it. */
    struct io_uring_params p = {.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SINGLE_ISSUER |
                                         IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
                                .cq_entries = CQ_ENTRIES};
    int rc = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &p);
    w->ring_disabled = rc == 0;
    if (rc == -EINVAL) {   /* a kernel before 6.1 */
        struct io_uring_params q = {.flags = IORING_SETUP_CQSIZE, .cq_entries = CQ_ENTRIES};
        rc = io_uring_queue_init_params(SQ_ENTRIES, &w->ring, &q);
    }
    if (rc < 0) return rc;
    w->br_bytes = RECV_BUF_COUNT * sizeof(struct io_uring_buf);
    void *ring_mem = mmap(NULL, w->br_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem == MAP_FAILED) return -ENOMEM;
    w->br = ring_mem;
    io_uring_buf_ring_init(w->br);
    struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)w->br,
                                   .ring_entries = RECV_BUF_COUNT,
                                   .bgid = BUF_GROUP};
    rc = io_uring_register_buf_ring(&w->ring, &reg, 0);
    if (rc < 0) return rc;
    w->bufs = malloc((size_t)RECV_BUF_COUNT * RECV_BUF_BYTES);
    if (w->bufs == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < RECV_BUF_COUNT; i++)
        io_uring_buf_ring_add(w->br, w->bufs + (size_t)i * RECV_BUF_BYTES, RECV_BUF_BYTES, (uint16_t)i,
                              io_uring_buf_ring_mask(RECV_BUF_COUNT), (int)i);
    io_uring_buf_ring_advance(w->br, RECV_BUF_COUNT);

    /* connections i with i % threads == id */
    uint32_t n = cfg->connections / cfg->threads + (id < cfg->connections % cfg->threads ? 1 : 0);
    w->nconns = n;
    w->cap_conns = n + (is_proto(cfg) ? cfg->docs : 0);
    w->conns = calloc(w->cap_conns, sizeof(conn));
    w->dirty = calloc(w->cap_conns, sizeof(uint32_t));
    w->rearm = calloc(w->cap_conns, sizeof(uint32_t));
    w->editors = calloc(n ? n : 1, sizeof(uint32_t));
    w->docs = calloc(cfg->docs ? cfg->docs : 1, sizeof(local_doc));
    if (!w->conns || !w->dirty || !w->rearm || !w->editors || !w->docs) return -ENOMEM;
    for (uint32_t i = 0; i < w->cap_conns; i++) {
        w->conns[i].fd = -1;
        w->conns[i].idx = i;
        w->conns[i].role = R_VERIFIER;
    }
    for (uint32_t d = 0; d < cfg->docs; d++) w->docs[d].verifier = -1;
    for (uint32_t i = 0; i < n; i++) {
        conn *c = &w->conns[i];
        uint32_t g = i * cfg->threads + id;     /* global connection number */
        switch (cfg->scenario) {
        case LG_SC_ECHO: c->role = R_ECHO; break;
        case LG_SC_IDLE: c->role = R_IDLE; break;
        case LG_SC_STORM: c->role = R_STORM; break;
        case LG_SC_TLS: c->role = R_TLS; break;
        case LG_SC_FANOUT: c->role = g < cfg->docs ? R_EDITOR : R_READER; break;
        default: c->role = R_EDITOR; break;
        }
        c->server = lg_server_of(cfg->scenario, cfg->docs, cfg->nservers, g);
        if (!is_proto(cfg)) continue;
        c->doc = g % cfg->docs;
        w->docs[c->doc].has_clients = true;
        c->cl = calloc(1, sizeof(lg_client));
        char name[LG_CLIENT_MAX_DOC_BYTES + 1], prefix[LG_CLIENT_MAX_PREFIX_BYTES + 1];
        snprintf(name, sizeof name, "%s%u", cfg->doc_prefix, c->doc);
        snprintf(prefix, sizeof prefix, "%sc%u", sh->run_id, g);
        if (c->cl == NULL || lg_client_init(c->cl, name, prefix) != 0) return -ENOMEM;
        if (c->role == R_EDITOR) w->editors[w->neditors++] = i;
    }
    if (cfg->scenario == LG_SC_ECHO) {
        w->echo_payload = malloc(cfg->message_bytes ? cfg->message_bytes : 1);
        if (w->echo_payload == NULL) return -ENOMEM;
        for (uint32_t i = 0; i < cfg->message_bytes; i++) w->echo_payload[i] = (uint8_t)lg_rand(&w->rng);
    }
    if (cfg->scenario == LG_SC_PASTE) w->insert_bytes = cfg->message_bytes;
    return 0;
}

static void worker_destroy(worker *w) {
    if (w->ring.ring_fd > 0) io_uring_queue_exit(&w->ring);
    for (uint32_t i = 0; w->conns && i < w->cap_conns; i++) {
        conn *c = &w->conns[i];
        if (c->fd >= 0) close(c->fd);
        free(c->hs);
        if (c->rd_init) ws_reader_free(&c->rd);
        free(c->tx[0].p);
        free(c->tx[1].p);
        if (c->cl) {
            lg_client_free(c->cl);
            free(c->cl);
        }
        lg_tls_free(c->tls);
    }
    lg_tls_session_free(w->tls_session);
    free(w->conns);
    free(w->dirty);
    free(w->rearm);
    free(w->editors);
    free(w->docs);
    free(w->bufs);
    free(w->echo_payload);
    if (w->br) munmap(w->br, w->br_bytes);
    ot_buf_free(&w->msg);
    ot_op_free(&w->edit);
    lg_msgcache_free(&w->msgs);
}

int lg_run(const lg_config *cfg, lg_stats *out, char *err, size_t err_len) {
    if (cfg->threads == 0 || cfg->threads > LG_MAX_THREADS || cfg->connections == 0 ||
        cfg->connections > LG_MAX_CONNECTIONS || (is_proto(cfg) && cfg->docs == 0) || cfg->nservers == 0 ||
        cfg->nservers > LG_MAX_SERVERS) {
        snprintf(err, err_len, "bad configuration");
        return -EINVAL;
    }
    shared sh = {.cfg = cfg};
    snprintf(sh.run_id, sizeof sh.run_id, "%llx", (unsigned long long)((cfg->seed * 2654435761u) ^ (uint64_t)getpid()) & 0xffffff);
    atomic_init(&sh.ready_threads, 0);
    atomic_init(&sh.drained_threads, 0);
    atomic_init(&sh.start_us, 0);
    atomic_init(&sh.editors_settled, 0);
    if (cfg->tls || cfg->scenario == LG_SC_TLS) {
        lg_tls_options o = {.version = cfg->tls_version,
                            .ca_path = cfg->tls_ca[0] ? cfg->tls_ca : NULL,
                            .server_name = cfg->tls_server_name[0] ? cfg->tls_server_name : NULL};
        int trc = lg_tls_ctx_new(&o, &sh.tls, err, err_len);
        if (trc != LG_TLS_OK) return trc == LG_TLS_ERR_NOMEM ? -ENOMEM : -EINVAL;
    }
    worker *ws = calloc(cfg->threads, sizeof(worker));
    if (ws == NULL) {
        lg_tls_ctx_free(sh.tls);
        return -ENOMEM;
    }
    int rc = 0;
    uint64_t editors_total = 0;
    for (uint32_t t = 0; t < cfg->threads && rc == 0; t++) {
        rc = worker_init(&ws[t], &sh, t);
        editors_total += ws[t].neditors;
        if (rc < 0) snprintf(err, err_len, "thread %u setup: %s", t, strerror(-rc));
    }
    sh.editors_total = (uint32_t)editors_total;
    for (uint32_t t = 0; t < cfg->threads && rc == 0 && editors_total; t++)
        ws[t].rate_local = cfg->rate_ops_s * (double)ws[t].neditors / (double)editors_total;
    lg_stats_init(out);
    if (cfg->server_pid > 0) out->server_rss_before_kb = lg_proc_rss_kb(cfg->server_pid);
    uint32_t started = 0;
    for (uint32_t t = 0; t < cfg->threads && rc == 0; t++, started++) {
        rc = -pthread_create(&ws[t].thread, NULL, worker_main, &ws[t]);
        if (rc < 0) snprintf(err, err_len, "pthread_create: %s", strerror(-rc));
    }
    for (uint32_t t = 0; t < started; t++) pthread_join(ws[t].thread, NULL);
    for (uint32_t t = 0; t < cfg->threads; t++) {
        if (rc == 0 && ws[t].err < 0) {
            rc = ws[t].err;
            snprintf(err, err_len, "thread %u ring: %s", t, strerror(-rc));
        }
        uint64_t after = out->server_rss_after_kb;
        lg_stats_merge(out, &ws[t].st);
        if (ws[t].st.server_rss_after_kb) after = ws[t].st.server_rss_after_kb;
        out->server_rss_after_kb = after;
        worker_destroy(&ws[t]);
    }
    out->measured_s = cfg->duration_s;
    free(ws);
    lg_tls_ctx_free(sh.tls);
    return rc;
}
