#include "collab/docs_disk.h"
#include "base/clock.h"

#include "base/log.h"
#include "collab/doc_history.h"
#include "store/store_faults.h"

#include "proto/protocol.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The helper's own ring only posts messages: a few entries are plenty. */
#define DOCS_DISK_RING_ENTRIES 8u
/* A refused post is retried every millisecond for this long; a worker that
 * reads nothing for 5 s is stopping (its result is then dropped, logged). */
#define DOCS_DISK_POST_RETRIES 5000

struct docs_disk {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    docs_job *head;                 /* under lock */
    docs_job *tail;
    uint32_t count_queued;
    bool stop;
    struct io_uring ring;           /* the helper's, used only from its thread */
    mailbox_target *targets;
    uint32_t self;
};

static void job_destroy(mailbox_msg *m) {
    docs_job *j = (docs_job *)m;
    if (j->doc != NULL) ot_doc_free(j->doc);
    store_doc_files_close(&j->files);
    if (j->doc_dir_fd >= 0) close(j->doc_dir_fd);
    if (j->segment_fd >= 0) close(j->segment_fd);
    free(j->image);
    ot_buf_free(&j->ops_json);
    if (j->req != NULL) mailbox_msg_unref(j->req);
    free(j);
}

void docs_job_answered(docs_job *j, uint32_t kind, int rc, const char *name, size_t name_len) {
    assert(name_len < sizeof j->name);
    memset(j, 0, sizeof *j);
    j->kind = kind;
    j->rc = rc;
    memcpy(j->name, name, name_len);
    j->name[name_len] = '\0';
    j->name_len = name_len;
    j->files.dir_fd = j->files.log_fd = -1;
}

docs_job *docs_job_new(uint32_t kind, uint32_t from_worker) {
    docs_job *j = mailbox_msg_new(sizeof *j, DOCS_MSG_DISK_DONE, from_worker, job_destroy);
    if (j == NULL) return NULL;
    j->kind = kind;
    j->data_dir_fd = -1;
    j->doc_dir_fd = -1;
    j->segment_fd = -1;
    j->files.dir_fd = -1;
    j->files.log_fd = -1;
    ot_buf_init(&j->ops_json);
    return j;
}

static int render_op(void *ctx, const store_record *rec, size_t offset_bytes) {
    (void)offset_bytes;
    return docs_job_render_op(ctx, rec);
}

int docs_job_render_op(docs_job *j, const store_record *rec) {
    if (j->count_ops >= j->max_count) return 1;   /* stop: enough for one answer */
    proto_op_item it = {.v = rec->base_version, .id = {rec->id, rec->id_len}, .by = {rec->author, rec->author_len},
                        .time_ms = rec->time_ms, .op_json = {rec->op_json, rec->op_len}};
    if (proto_enc_rest_op_item(&j->ops_json, j->count_ops == 0, &it) != 0) return -ENOMEM;
    j->count_ops++;
    j->next_version = rec->base_version + 1;
    return 0;
}

/* A fault the test plan injects at `point` (0 without a plan). A short
 * write has no meaning for these whole-file steps: it fails them like EIO. */
static int injected(docs_job *j, store_point point) {
    int f = store_fault_hit(j->faults, point);
    return f == STORE_FAULT_SHORT ? -EIO : f;
}

void docs_job_run(docs_job *j) {
    switch ((docs_job_kind)j->kind) {
    case DOCS_JOB_LOAD:
        if ((j->rc = injected(j, STORE_POINT_LOAD)) != 0) break;
        /* tried without create first, so the owner knows whether this load made it
         * (create-if-absent writes and the create webhook); the owner runs one job per name */
        j->rc = store_doc_open(j->data_dir_fd, j->name, j->name_len, false, &j->limits, &j->doc, &j->files,
                               &j->report);
        if (j->rc == -ENOENT && j->create) {
            j->rc = store_doc_open(j->data_dir_fd, j->name, j->name_len, true, &j->limits, &j->doc, &j->files,
                                   &j->report);
            j->created = j->rc == 0;
        }
        /* A loaded document changes: its listing cache is stale from now on.
         * The file stays as a floor (the version just recovered), so a log
         * later emptied or removed is noticed at the next start. */
        if (j->rc == 0) {
            store_meta floor = {.version = ot_doc_version(j->doc), .log_end_offset = STORE_META_NOT_A_CACHE};
            if (store_meta_write(j->files.dir_fd, &floor) != 0) store_meta_remove(j->files.dir_fd);
        }
        break;
    case DOCS_JOB_DELETE: j->rc = store_doc_delete(j->data_dir_fd, j->name, j->name_len); break;
    case DOCS_JOB_COMPACT: {
        j->rc = j->image != NULL
                    ? store_checkpoint_write(j->doc_dir_fd, j->snapshot_version, j->image, j->image_len, j->faults)
                    : 0;
        int64_t wall_ms = clock_wall_ms();
        if (j->rc == 0)
            j->rc = store_prune(j->doc_dir_fd, &j->retention, j->start_version, j->from, wall_ms, j->faults,
                                &j->oldest_version);
        break;
    }
    case DOCS_JOB_META: j->rc = store_meta_write(j->doc_dir_fd, &j->meta); break;
    case DOCS_JOB_META_READ: j->rc = store_meta_read(j->data_dir_fd, j->name, j->name_len, &j->meta); break;
    case DOCS_JOB_SEGMENT: {
        int fd = injected(j, STORE_POINT_SEGMENT);
        if (fd == 0) fd = store_segment_create(j->doc_dir_fd, j->start_version);
        j->rc = fd < 0 ? fd : 0;
        j->segment_fd = fd < 0 ? -1 : fd;
        break;
    }
    case DOCS_JOB_READ_OPS:
        j->next_version = j->from;
        j->rc = store_read_ops(j->data_dir_fd, j->name, j->name_len, j->from, j->to, render_op, j);
        if (j->rc == 1) j->rc = 0;   /* stopped at max_count */
        break;
    case DOCS_JOB_TEXT_AT:
        j->rc = store_text_at(j->data_dir_fd, j->name, j->name_len, j->from, &j->ops_json, NULL);
        break;
    case DOCS_JOB_HISTORY:
        j->rc = doc_history_sessions(j->data_dir_fd, j->name, j->name_len, j->from, j->to, j->max_count,
                                     j->gap_ms != 0 ? j->gap_ms : DOC_HISTORY_GAP_MS,
                                     &j->ops_json, &j->count_ops, &j->next_version);
        break;
    case DOCS_JOB_AUTHORS:
        j->rc = doc_history_authors(j->data_dir_fd, j->name, j->name_len, j->from, j->to, &j->ops_json);
        break;
    }
}

/* Posts the finished job to the worker (bounded retries while it is refused). */
static void post_back(docs_disk *d, docs_job *j) {
    for (int attempt = 0; attempt < DOCS_DISK_POST_RETRIES; attempt++) {
        int rc = mailbox_post(&d->ring, d->targets, d->self, &j->hdr);
        if (rc == 0) {
            io_uring_submit(&d->ring);
            struct io_uring_cqe *cqe = NULL;
            if (io_uring_wait_cqe(&d->ring, &cqe) == 0) {
                int res = mailbox_on_sent_cqe(d->targets, cqe);
                io_uring_cqe_seen(&d->ring, cqe);
                if (res >= 0) return;
            }
        }
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    log_error("worker %u: disk helper could not post a finished job for %s; dropped", d->self, j->name);
}

static void *helper_main(void *arg) {
    docs_disk *d = arg;
    for (;;) {
        pthread_mutex_lock(&d->lock);
        while (d->head == NULL && !d->stop) pthread_cond_wait(&d->wake, &d->lock);
        if (d->stop) {
            pthread_mutex_unlock(&d->lock);
            break;
        }
        docs_job *j = d->head;
        d->head = j->next;
        if (d->head == NULL) d->tail = NULL;
        d->count_queued--;
        pthread_mutex_unlock(&d->lock);
        j->next = NULL;
        docs_job_run(j);
        post_back(d, j);
        mailbox_msg_unref(&j->hdr);
    }
    return NULL;
}

int docs_disk_start(mailbox_target *targets, uint32_t self, docs_disk **out) {
    docs_disk *d = calloc(1, sizeof *d);
    if (d == NULL) return -ENOMEM;
    d->targets = targets;
    d->self = self;
    int rc = io_uring_queue_init(DOCS_DISK_RING_ENTRIES, &d->ring, 0);
    if (rc < 0) {
        free(d);
        return rc;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->wake, NULL);
    rc = pthread_create(&d->thread, NULL, helper_main, d);
    if (rc != 0) {
        io_uring_queue_exit(&d->ring);
        pthread_mutex_destroy(&d->lock);
        pthread_cond_destroy(&d->wake);
        free(d);
        return -rc;
    }
    *out = d;
    return 0;
}

int docs_disk_submit(docs_disk *d, docs_job *j) {
    pthread_mutex_lock(&d->lock);
    if (d->count_queued >= DOCS_DISK_MAX_QUEUED_JOBS || d->stop) {
        pthread_mutex_unlock(&d->lock);
        return -EAGAIN;
    }
    j->next = NULL;
    if (d->tail != NULL) d->tail->next = j;
    else d->head = j;
    d->tail = j;
    d->count_queued++;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    return 0;
}

void docs_disk_stop(docs_disk *d) {
    if (d == NULL) return;
    pthread_mutex_lock(&d->lock);
    d->stop = true;
    pthread_cond_signal(&d->wake);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    for (docs_job *j = d->head, *next; j != NULL; j = next) {
        next = j->next;
        mailbox_msg_unref(&j->hdr);
    }
    io_uring_queue_exit(&d->ring);
    pthread_mutex_destroy(&d->lock);
    pthread_cond_destroy(&d->wake);
    free(d);
}
