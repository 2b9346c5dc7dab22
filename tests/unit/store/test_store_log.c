#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"

typedef struct fixture {
    char path[64];
    int fd;
    store_log *log;
} fixture;

static void fx_open(fixture *fx, store_fsync_policy policy) {
    strcpy(fx->path, "/tmp/ringpad-store-log-XXXXXX");
    fx->fd = mkstemp(fx->path);
    cr_assert_geq(fx->fd, 0);
    store_log_config cfg = store_log_config_default();
    cfg.fsync_policy = policy;
    cfg.fsync_interval_ms = 100;
    cr_assert_eq(store_log_new(&cfg, fx->fd, 0, 0, &fx->log), 0);
}

static void fx_close(fixture *fx) {
    store_log_free(fx->log);
    close(fx->fd);
    unlink(fx->path);
}

static void append(store_log *log, uint64_t base) {
    char id[32];
    snprintf(id, sizeof id, "c:%llu", (unsigned long long)base);
    store_record r = {
        .base_version = base, .time_ms = 1000 + (int64_t)base,
        .id = id, .id_len = strlen(id), .author = "al", .author_len = 2,
        .op_json = "[\"z\"]", .op_len = 5,
    };
    cr_assert_eq(store_log_append(log, &r), 0);
}

/* Reads the file back and scans it. */
static store_scan_report scan_file(const fixture *fx) {
    struct stat st;
    cr_assert_eq(fstat(fx->fd, &st), 0);
    uint8_t *buf = malloc((size_t)st.st_size + 1);
    cr_assert_eq(pread(fx->fd, buf, (size_t)st.st_size, 0), st.st_size);
    store_scan_report rep;
    int rc = store_scan_segment(buf, (size_t)st.st_size, NULL, NULL, &rep);
    cr_assert_eq(rc, 0);
    free(buf);
    return rep;
}

Test(store_log, group_commit_one_write_for_many_records) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    for (uint64_t v = 0; v < 10; v++)
        append(fx.log, v);
    cr_assert_eq(store_log_durable_version(fx.log), 0);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f), 1);
    cr_assert(f.fsync);
    cr_assert_eq(f.offset_bytes, 0);
    cr_assert_eq(f.fd, fx.fd);
    /* While the write is in flight: more appends, no second flush. */
    append(fx.log, 10);
    store_flush f2;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f2), 0);
    cr_assert_eq(pwrite(f.fd, f.iov.iov_base, f.iov.iov_len, (off_t)f.offset_bytes),
                 (ssize_t)f.iov.iov_len);
    store_flush_result res;
    cr_assert_eq(store_log_flush_done(fx.log, 0, (int64_t)f.iov.iov_len, 0, &res), 0);
    cr_assert_eq(res.error, 0);
    cr_assert_eq(res.durable_version, 10);
    cr_assert_eq(res.newly_durable_from, 0);
    cr_assert_eq(res.newly_durable_to, 10);
    cr_assert_eq(store_log_end_offset(fx.log), f.iov.iov_len);
    /* The next flush carries only record 10, at the end of the first write. */
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, &res), 0);
    cr_assert_eq(res.newly_durable_from, 10);
    cr_assert_eq(res.newly_durable_to, 11);
    cr_assert(store_log_idle(fx.log));
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f2), 0);
    store_scan_report rep = scan_file(&fx);
    cr_assert_eq(rep.count_records, 11);
    cr_assert_not(rep.torn_tail);
    fx_close(&fx);
}

Test(store_log, append_refuses_wrong_version) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    store_record r = {.base_version = 5, .op_json = "[]", .op_len = 2};
    cr_assert_eq(store_log_append(fx.log, &r), -EINVAL);
    r.base_version = 0;
    cr_assert_eq(store_log_append(fx.log, &r), -EINVAL);
    cr_assert_eq(store_log_next_version(fx.log), 1);
    fx_close(&fx);
}

Test(store_log, done_without_prepare_is_an_error) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    store_flush_result res;
    cr_assert_eq(store_log_flush_done(fx.log, 0, 0, 0, &res), -EINVAL);
    fx_close(&fx);
}

Test(store_log, enospc_never_durable_then_recovers) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    append(fx.log, 1);
    store_flush_result res;
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, &res), 0);
    cr_assert_eq(res.durable_version, 2);

    append(fx.log, 2);
    append(fx.log, 3);
    store_sync_faults faults = {.fail_write_errno = ENOSPC, .fail_write_count = 1,
                                .short_write_bytes = 7};
    cr_assert_eq(store_sync_flush(fx.log, 0, &faults, &res), -ENOSPC);
    cr_assert_eq(res.error, -ENOSPC);
    cr_assert_eq(res.failed_from, 2);
    cr_assert_eq(res.failed_to, 4);
    cr_assert_eq(res.newly_durable_to - res.newly_durable_from, 0);
    cr_assert_eq(res.durable_version, 2);
    cr_assert(store_log_failed(fx.log));
    cr_assert_eq(store_log_last_error(fx.log), -ENOSPC);
    cr_assert_not(store_log_accepting(fx.log));
    cr_assert_eq(store_log_durable_version(fx.log), 2);

    /* A second failure reports nothing new as failed. */
    faults = (store_sync_faults){.fail_write_errno = EIO, .fail_write_count = 1};
    cr_assert_eq(store_sync_flush(fx.log, 0, &faults, &res), -EIO);
    cr_assert_eq(res.failed_to - res.failed_from, 0);
    cr_assert(store_log_failed(fx.log));

    /* The retry writes the same bytes at the same offset and clears the state;
     * the records reported failed are durable but never reported ackable. */
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, &res), 0);
    cr_assert_not(store_log_failed(fx.log));
    cr_assert(store_log_accepting(fx.log));
    cr_assert_eq(res.durable_version, 4);
    cr_assert_eq(res.newly_durable_to - res.newly_durable_from, 0);
    append(fx.log, 4);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, &res), 0);
    cr_assert_eq(res.newly_durable_from, 4);
    cr_assert_eq(res.newly_durable_to, 5);
    /* The file is clean: the partial write was overwritten. */
    store_scan_report rep = scan_file(&fx);
    cr_assert_eq(rep.count_records, 5);
    cr_assert_not(rep.torn_tail);
    fx_close(&fx);
}

Test(store_log, failed_fsync_rewrites_and_never_acks) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    store_sync_faults faults = {.fail_fsync_errno = EIO, .fail_fsync_count = 1};
    store_flush_result res;
    cr_assert_eq(store_sync_flush(fx.log, 0, &faults, &res), -EIO);
    cr_assert_eq(res.durable_version, 0);
    cr_assert_eq(res.failed_from, 0);
    cr_assert_eq(res.failed_to, 1);
    cr_assert(store_log_failed(fx.log));
    cr_assert_eq(store_log_synced_version(fx.log), 0);
    /* The retry offers the whole write again, from the same offset. */
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f), 1);
    cr_assert_eq(f.offset_bytes, 0);
    cr_assert_gt(f.iov.iov_len, STORE_SEGMENT_HEADER_BYTES);
    cr_assert(f.fsync);
    cr_assert_eq(pwrite(f.fd, f.iov.iov_base, f.iov.iov_len, 0), (ssize_t)f.iov.iov_len);
    cr_assert_eq(store_log_flush_done(fx.log, 0, (int64_t)f.iov.iov_len, 0, &res), 0);
    cr_assert_not(store_log_failed(fx.log));
    cr_assert_eq(store_log_durable_version(fx.log), 1);
    cr_assert_eq(store_log_end_offset(fx.log), f.iov.iov_len);
    fx_close(&fx);
}

Test(store_log, linked_fsync_cancelled_by_failed_write) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f), 1);
    store_flush_result res;
    cr_assert_eq(store_log_flush_done(fx.log, 0, -EIO, -ECANCELED, &res), 0);
    cr_assert_eq(res.error, -EIO);
    cr_assert_eq(res.durable_version, 0);
    cr_assert(store_log_failed(fx.log));
    fx_close(&fx);
}

Test(store_log, short_write_keeps_remainder) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    append(fx.log, 1);
    store_sync_faults faults = {.fail_write_count = 1, .short_write_bytes = 30};
    store_flush_result res;
    cr_assert_eq(store_sync_flush(fx.log, 0, &faults, &res), 0);
    cr_assert_eq(res.durable_version, 0);
    cr_assert_not(store_log_failed(fx.log));
    cr_assert_eq(store_log_end_offset(fx.log), 30);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f), 1);
    cr_assert_eq(f.offset_bytes, 30);
    cr_assert_eq(pwrite(f.fd, f.iov.iov_base, f.iov.iov_len, 30), (ssize_t)f.iov.iov_len);
    cr_assert_eq(store_log_flush_done(fx.log, 0, (int64_t)f.iov.iov_len, 0, &res), 0);
    cr_assert_eq(res.durable_version, 2);
    store_scan_report rep = scan_file(&fx);
    cr_assert_eq(rep.count_records, 2);
    fx_close(&fx);
}

Test(store_log, zero_byte_write_is_eio) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &f), 1);
    store_flush_result res;
    cr_assert_eq(store_log_flush_done(fx.log, 0, 0, -ECANCELED, &res), 0);
    cr_assert_eq(res.error, -EIO);
    fx_close(&fx);
}

Test(store_log, interval_acks_after_write_and_fsyncs_on_schedule) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_INTERVAL);
    store_flush_result res;
    append(fx.log, 0);
    /* First flush at t=1000: the interval since t=0 has passed; the write
     * goes alone and the fsync right after it. */
    cr_assert_eq(store_sync_flush(fx.log, 1000, NULL, &res), 0);
    cr_assert_eq(store_log_durable_version(fx.log), 1);
    cr_assert_eq(store_log_synced_version(fx.log), 0);
    cr_assert_eq(store_sync_flush(fx.log, 1000, NULL, &res), 0);
    cr_assert_eq(store_log_synced_version(fx.log), 1);
    cr_assert_eq(store_log_fsync_due_ms(fx.log), -1);

    append(fx.log, 1);
    store_flush f;
    cr_assert_eq(store_log_prepare_flush(fx.log, 1050, &f), 1);
    cr_assert_not(f.fsync);
    cr_assert_eq(pwrite(f.fd, f.iov.iov_base, f.iov.iov_len, (off_t)f.offset_bytes),
                 (ssize_t)f.iov.iov_len);
    cr_assert_eq(store_log_flush_done(fx.log, 1050, (int64_t)f.iov.iov_len, 0, &res), 0);
    cr_assert_eq(res.newly_durable_from, 1);
    cr_assert_eq(res.newly_durable_to, 2);
    cr_assert_eq(store_log_synced_version(fx.log), 1);
    cr_assert_eq(store_log_fsync_due_ms(fx.log), 1100);
    cr_assert_eq(store_log_prepare_flush(fx.log, 1099, &f), 0);
    /* Due: an fsync with no write. */
    cr_assert_eq(store_log_prepare_flush(fx.log, 1100, &f), 1);
    cr_assert_eq(f.iov.iov_len, 0);
    cr_assert(f.fsync);
    cr_assert_eq(store_log_flush_done(fx.log, 1100, 0, 0, &res), 0);
    cr_assert_eq(store_log_synced_version(fx.log), 2);
    cr_assert(store_log_idle(fx.log));
    fx_close(&fx);
}

/* Writes the prepared flush's bytes (if any) and reports them done. */
static void do_flush(store_log *log, int64_t now_ms, const store_flush *f, store_flush_result *res) {
    if (f->iov.iov_len > 0)
        cr_assert_eq(pwrite(f->fd, f->iov.iov_base, f->iov.iov_len, (off_t)f->offset_bytes),
                     (ssize_t)f->iov.iov_len);
    cr_assert_eq(store_log_flush_done(log, now_ms, (int64_t)f->iov.iov_len, 0, res), 0);
}

Test(store_log, interval_fsync_follows_the_write_alone_unless_writes_kept_it_waiting) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_INTERVAL);
    store_flush f;
    store_flush_result res;
    append(fx.log, 0);
    /* due (t=1000 > 0 + 100) but a write is waiting: the write goes alone, acked at once */
    cr_assert_eq(store_log_prepare_flush(fx.log, 1000, &f), 1);
    cr_assert_gt(f.iov.iov_len, 0);
    cr_assert_not(f.fsync, "the ack does not wait for the fdatasync");
    do_flush(fx.log, 1000, &f, &res);
    cr_assert_eq(res.newly_durable_to, 1);
    cr_assert_eq(store_log_synced_version(fx.log), 0);
    cr_assert_eq(store_log_fsync_due_ms(fx.log), 100, "still due");
    /* nothing else to write: the fsync alone */
    cr_assert_eq(store_log_prepare_flush(fx.log, 1000, &f), 1);
    cr_assert_eq(f.iov.iov_len, 0);
    cr_assert(f.fsync);
    do_flush(fx.log, 1000, &f, &res);
    cr_assert_eq(store_log_synced_version(fx.log), 1);

    /* due again at 1100, and writes keep coming: deferred once ... */
    append(fx.log, 1);
    cr_assert_eq(store_log_prepare_flush(fx.log, 1100, &f), 1);
    cr_assert_not(f.fsync);
    append(fx.log, 2);   /* appended while that write is in flight */
    do_flush(fx.log, 1100, &f, &res);
    /* ... then it rides with the next write rather than wait behind it again */
    cr_assert_eq(store_log_prepare_flush(fx.log, 1101, &f), 1);
    cr_assert_gt(f.iov.iov_len, 0);
    cr_assert(f.fsync, "writes kept it waiting: linked");
    do_flush(fx.log, 1101, &f, &res);
    cr_assert_eq(store_log_synced_version(fx.log), 3);
    cr_assert(store_log_idle(fx.log));

    /* the next due fsync is deferred for a write again (the waiting was reset) */
    append(fx.log, 3);
    cr_assert_eq(store_log_prepare_flush(fx.log, 1300, &f), 1);
    cr_assert_not(f.fsync);
    do_flush(fx.log, 1300, &f, &res);
    append(fx.log, 4);
    cr_assert_eq(store_log_prepare_flush(fx.log, 1300, &f), 1);
    cr_assert(f.fsync, "the deferred one is still owed");
    do_flush(fx.log, 1300, &f, &res);
    /* not due: a write goes without an fsync */
    append(fx.log, 5);
    cr_assert_eq(store_log_prepare_flush(fx.log, 1350, &f), 1);
    cr_assert_not(f.fsync);
    do_flush(fx.log, 1350, &f, &res);
    cr_assert_eq(store_log_durable_version(fx.log), 6);
    cr_assert_eq(store_log_synced_version(fx.log), 5);
    fx_close(&fx);
}

Test(store_log, interval_failed_fsync_fails_log_until_an_fsync_succeeds) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_INTERVAL);
    store_flush_result res;
    append(fx.log, 0);
    store_sync_faults faults = {.fail_fsync_errno = EIO, .fail_fsync_count = 1};
    cr_assert_eq(store_sync_flush(fx.log, 1000, &faults, &res), 0, "the write, alone");
    cr_assert_eq(store_sync_flush(fx.log, 1000, &faults, &res), -EIO);
    cr_assert(store_log_failed(fx.log));
    cr_assert_eq(store_log_synced_version(fx.log), 0);
    /* While failed the retry does not wait for the interval. */
    cr_assert_eq(store_sync_flush(fx.log, 1001, NULL, &res), 0);
    cr_assert_not(store_log_failed(fx.log));
    cr_assert_eq(store_log_synced_version(fx.log), 1);
    fx_close(&fx);
}

Test(store_log, accepting_applies_back_pressure) {
    char path[] = "/tmp/ringpad-store-log-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0);
    store_log_config cfg = store_log_config_default();
    cfg.max_pending_bytes = 100;
    store_log *log = NULL;
    cr_assert_eq(store_log_new(&cfg, fd, 0, 0, &log), 0);
    cr_assert(store_log_accepting(log));
    append(log, 0);
    append(log, 1);
    cr_assert_not(store_log_accepting(log));
    cr_assert_eq(store_sync_flush(log, 0, NULL, NULL), 0);
    cr_assert(store_log_accepting(log));
    store_log_free(log);
    close(fd);
    unlink(path);
}

Test(store_log, reopen_at_offset_appends_without_header) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    uint64_t end = store_log_end_offset(fx.log);
    store_log_free(fx.log);
    store_log_config cfg = store_log_config_default();
    cr_assert_eq(store_log_new(&cfg, fx.fd, end, 1, &fx.log), 0);
    append(fx.log, 1);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    store_scan_report rep = scan_file(&fx);
    cr_assert_eq(rep.count_records, 2);
    cr_assert_eq(rep.next_version, 2);
    fx_close(&fx);
}

Test(store_log, switch_segment_only_at_the_written_seam) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    char path2[] = "/tmp/ringpad-store-log-XXXXXX";
    int fd2 = mkstemp(path2);
    cr_assert_eq(store_log_switch_segment_pending(fx.log, fd2, 1), -EINVAL, "op 0 is not written yet");
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    cr_assert(store_log_idle(fx.log));
    cr_assert_eq(store_log_switch_segment_pending(fx.log, fd2, 1), 0);
    cr_assert_eq(store_log_fd(fx.log), fd2);
    append(fx.log, 1);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    uint8_t buf[256];
    ssize_t n = pread(fd2, buf, sizeof buf, 0);
    store_scan_report rep;
    cr_assert_eq(store_scan_segment(buf, (size_t)n, NULL, NULL, &rep), 0);
    cr_assert_eq(rep.start_version, 1);
    cr_assert_eq(rep.count_records, 1);
    close(fd2);
    unlink(path2);
    fx_close(&fx);
}

Test(store_log, switch_segment_pending_moves_the_waiting_records_to_the_new_segment) {
    fixture fx;
    fx_open(&fx, STORE_FSYNC_ALWAYS);
    append(fx.log, 0);
    append(fx.log, 1);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    /* the seam is at 2; ops 2 and 3 arrive while the new segment is made */
    append(fx.log, 2);
    append(fx.log, 3);
    fixture nx;
    strcpy(nx.path, "/tmp/ringpad-store-log-XXXXXX");
    nx.fd = mkstemp(nx.path);
    cr_assert_geq(nx.fd, 0);
    cr_assert_eq(store_log_switch_segment_pending(fx.log, -1, 2), -EINVAL);
    cr_assert_eq(store_log_switch_segment_pending(fx.log, nx.fd, 1), -EINVAL, "not the seam");
    cr_assert_eq(store_log_switch_segment_pending(fx.log, nx.fd, 3), -EINVAL, "not the seam");
    store_flush fl;
    cr_assert_eq(store_log_prepare_flush(fx.log, 0, &fl), 1);
    cr_assert_eq(store_log_switch_segment_pending(fx.log, nx.fd, 2), -EBUSY, "a flush is out");
    store_flush_result res;
    cr_assert_eq(store_log_flush_done(fx.log, 0, -EIO, 0, &res), 0);
    cr_assert(store_log_failed(fx.log));
    cr_assert_eq(store_log_switch_segment_pending(fx.log, nx.fd, 2), -EBUSY, "failed (its bytes belong to the old segment)");
    store_log_free(fx.log);

    /* again, healthy */
    cr_assert_eq(ftruncate(fx.fd, 0), 0);
    store_log_config cfg = store_log_config_default();
    cr_assert_eq(store_log_new(&cfg, fx.fd, 0, 0, &fx.log), 0);
    append(fx.log, 0);
    append(fx.log, 1);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    append(fx.log, 2);
    append(fx.log, 3);
    cr_assert_eq(store_log_switch_segment_pending(fx.log, nx.fd, 2), 0);
    cr_assert_eq(store_sync_flush(fx.log, 0, NULL, NULL), 0);
    cr_assert_eq(store_log_durable_version(fx.log), 4);
    store_scan_report old = scan_file(&fx);
    cr_assert_eq(old.start_version, 0);
    cr_assert_eq(old.next_version, 2, "the old segment ends at the seam");
    store_scan_report neu = scan_file(&nx);
    cr_assert_eq(neu.start_version, 2);
    cr_assert_eq(neu.count_records, 2);
    cr_assert_eq(neu.next_version, 4);
    fx_close(&fx);
    close(nx.fd);
    unlink(nx.path);
}
