/*
 * The retained history on disk: checkpoints (the text at a version, beside
 * the log segments), the choice of the checkpoint a rebuild starts from
 * (skipping damaged ones), retention pruning, and the text at any retained
 * version. All blocking: run on a worker's disk helper, at startup or in
 * tools.
 *
 * Why checkpoints and not one snapshot: the log keeps every op, so the text
 * at version v is the newest checkpoint at or below v plus the ops between,
 * at most the ops between two checkpoints. Two or more checkpoints also
 * mean a damaged one costs a longer replay, never the document.
 */
#include "store/store_internal.h"

#include "store/store_faults.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void say_fallback(store_base *base, const char *fname, uint64_t version, int err) {
    if (base->fallback[0] != '\0')
        return;   /* the first (newest) damaged one is the news */
    snprintf(base->fallback, sizeof base->fallback,
             "%s/" STORE_CHECKPOINT_PREFIX "%020llu: %s; falling back to an older checkpoint plus replay",
             fname, (unsigned long long)version, store_err_str(err));
}

int store_pick_base(int dir_fd, const char *fname, uint64_t at, store_base *base) {
    memset(base, 0, sizeof *base);
    uint64_t *ckpts = NULL, *segs = NULL;
    size_t count_ckpts = 0, count_segs = 0;
    int rc = store_list_versions(dir_fd, STORE_CHECKPOINT_PREFIX, &ckpts, &count_ckpts);
    if (rc == 0)
        rc = store_list_versions(dir_fd, STORE_SEGMENT_PREFIX, &segs, &count_segs);
    bool log_from_zero = rc == 0 && (count_segs == 0 || segs[0] == 0);
    for (size_t i = count_ckpts; rc == 0 && i-- > 0;) {
        if (ckpts[i] > at)
            continue;
        char name[STORE_SEGMENT_NAME_BYTES];
        store_checkpoint_file_name(ckpts[i], name);
        uint8_t *bytes = NULL;
        size_t len = 0;
        int read_rc = store_read_file(dir_fd, name, &bytes, &len);
        if (read_rc != 0 && read_rc != -ENOENT) {
            rc = read_rc;
            break;
        }
        uint64_t v = 0;
        const char *text;
        size_t text_len;
        int dec = read_rc == 0 ? store_snapshot_decode(bytes, len, &v, &text, &text_len) : read_rc;
        if (dec == 0 && v != ckpts[i])
            dec = STORE_ERR_MALFORMED;   /* a file under another version's name */
        if (dec == 0) {
            base->version = v;
            base->image = bytes;
            base->image_len = len;
            free(ckpts);
            free(segs);
            return 0;
        }
        free(bytes);
        say_fallback(base, fname, ckpts[i], dec);
    }
    free(ckpts);
    free(segs);
    if (rc != 0)
        return rc;
    if (!log_from_zero)
        return -ERANGE;
    base->version = 0;   /* the empty text before the first op */
    return 0;
}

static int write_all(int fd, const uint8_t *p, size_t len) {
    size_t done = 0;
    /* Bounded: every round writes at least one byte or fails. */
    while (done < len) {
        ssize_t w = pwrite(fd, p + done, len - done, (off_t)done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        done += (size_t)w;
    }
    return 0;
}

int store_checkpoint_write(int doc_dir_fd, uint64_t version, const uint8_t *image, size_t image_len,
                           struct store_fault_plan *faults) {
    int fault = store_fault_hit(faults, STORE_POINT_SNAPSHOT);
    int fd = openat(doc_dir_fd, STORE_CHECKPOINT_TMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = fault < 0 ? fault : 0;
    if (fault == STORE_FAULT_SHORT) {
        /* half the image lands, as a disk filling up mid-write would leave it */
        rc = write_all(fd, image, image_len / 2);
        if (rc == 0)
            rc = -EIO;
    }
    if (rc == 0)
        rc = write_all(fd, image, image_len);
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    if (rc == 0)
        rc = store_fault_hit(faults, STORE_POINT_CHECKPOINT);
    char name[STORE_SEGMENT_NAME_BYTES];
    store_checkpoint_file_name(version, name);
    if (rc == 0 && renameat(doc_dir_fd, STORE_CHECKPOINT_TMP_FILE, doc_dir_fd, name) != 0)
        rc = -errno;
    if (rc == 0)
        rc = store_fsync_fd(doc_dir_fd);
    if (rc != 0)
        unlinkat(doc_dir_fd, STORE_CHECKPOINT_TMP_FILE, 0);
    return rc < 0 ? rc : (rc == 0 ? 0 : -EIO);
}

int store_oldest_version(int doc_dir_fd, uint64_t *oldest_version) {
    uint64_t *ckpts = NULL, *segs = NULL;
    size_t count_ckpts = 0, count_segs = 0;
    int rc = store_list_versions(doc_dir_fd, STORE_CHECKPOINT_PREFIX, &ckpts, &count_ckpts);
    if (rc == 0)
        rc = store_list_versions(doc_dir_fd, STORE_SEGMENT_PREFIX, &segs, &count_segs);
    if (rc == 0)
        *oldest_version = count_segs == 0 || segs[0] == 0 || count_ckpts == 0 ? 0 : ckpts[0];
    free(ckpts);
    free(segs);
    return rc;
}

/* The first version of the ops younger than age_ms: the start of the oldest
 * segment written to within it (a segment's mtime is its newest op's). */
static int age_bound(int dir_fd, const uint64_t *segs, size_t count_segs, int64_t age_ms, int64_t now_ms,
                     uint64_t *bound) {
    *bound = 0;
    for (size_t i = 0; i + 1 < count_segs; i++) {
        char name[STORE_SEGMENT_NAME_BYTES];
        store_segment_file_name(segs[i], name);
        struct stat st;
        if (fstatat(dir_fd, name, &st, 0) != 0)
            return -errno;
        int64_t mtime_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (mtime_ms >= now_ms - age_ms)
            break;
        *bound = segs[i + 1];
    }
    return 0;
}

static int remove_versioned(int dir_fd, const char *prefix, uint64_t version, struct store_fault_plan *faults) {
    int fault = store_fault_hit(faults, STORE_POINT_PRUNE);
    if (fault != 0)
        return fault < 0 ? fault : -EIO;
    char name[STORE_SEGMENT_NAME_BYTES];
    snprintf(name, sizeof name, "%s%020llu", prefix, (unsigned long long)version);
    if (unlinkat(dir_fd, name, 0) != 0 && errno != ENOENT)
        return -errno;
    return 0;
}

int store_prune(int doc_dir_fd, const store_retention *retention, uint64_t version, uint64_t keep_from,
                int64_t now_ms, struct store_fault_plan *faults, uint64_t *oldest_version) {
    uint64_t *ckpts = NULL, *segs = NULL;
    size_t count_ckpts = 0, count_segs = 0;
    int rc = 0;
    bool removed = false;
    if (retention->keep == STORE_KEEP_ALL)
        goto done;
    rc = store_list_versions(doc_dir_fd, STORE_CHECKPOINT_PREFIX, &ckpts, &count_ckpts);
    if (rc == 0)
        rc = store_list_versions(doc_dir_fd, STORE_SEGMENT_PREFIX, &segs, &count_segs);
    uint64_t bound = keep_from;
    if (rc == 0 && retention->keep == STORE_KEEP_OPS) {
        uint64_t by_ops = version > retention->ops ? version - retention->ops : 0;
        if (by_ops < bound)
            bound = by_ops;
    }
    if (rc == 0 && retention->keep == STORE_KEEP_AGE) {
        uint64_t by_age = 0;
        rc = age_bound(doc_dir_fd, segs, count_segs, retention->age_ms, now_ms, &by_age);
        if (by_age < bound)
            bound = by_age;
    }
    /* the cut: the newest checkpoint within the bound (none: nothing goes) */
    size_t cut = count_ckpts;
    for (size_t i = 0; rc == 0 && i < count_ckpts && ckpts[i] <= bound; i++)
        cut = i;
    if (rc != 0 || cut == count_ckpts)
        goto done;
    uint64_t cut_version = ckpts[cut];
    /* checkpoints first: until the segments go, older ones would still work */
    for (size_t i = 0; rc == 0 && i < cut; i++) {
        rc = remove_versioned(doc_dir_fd, STORE_CHECKPOINT_PREFIX, ckpts[i], faults);
        removed = rc == 0;
    }
    for (size_t i = 0; rc == 0 && i + 1 < count_segs && segs[i + 1] <= cut_version; i++) {
        rc = remove_versioned(doc_dir_fd, STORE_SEGMENT_PREFIX, segs[i], faults);
        removed = rc == 0;
    }
done:
    free(ckpts);
    free(segs);
    if (removed) {
        int sync_rc = store_fsync_fd(doc_dir_fd);
        if (rc == 0)
            rc = sync_rc;
    }
    if (rc == 0 && oldest_version != NULL)
        rc = store_oldest_version(doc_dir_fd, oldest_version);
    return rc;
}

typedef struct store_rebuild {
    ot_text *text;
    ot_op op;
    ot_limits limits;
    uint64_t applied;
} store_rebuild;

static int rebuild_apply(void *ctx, const store_record *rec, size_t offset_bytes) {
    (void)offset_bytes;
    store_rebuild *r = ctx;
    int rc = ot_op_parse_json(&r->op, rec->op_json, rec->op_len, &r->limits, NULL);
    if (rc == OT_OK)
        rc = ot_apply(&r->op, r->text);
    if (rc != OT_OK)
        return rc == OT_ERR_NOMEM ? -ENOMEM : STORE_ERR_REPLAY;
    r->applied++;
    return 0;
}

int store_text_at(int data_dir_fd, const char *name, size_t name_len, uint64_t v, ot_buf *out,
                  uint64_t *ckpt_version) {
    char fname[DOCNAME_FILE_MAX_BYTES];
    int rc = store_doc_file_name(name, name_len, fname);
    if (rc != 0)
        return rc;
    int dir_fd = store_open_doc_dir(data_dir_fd, fname, false);
    if (dir_fd < 0)
        return dir_fd;
    store_base base;
    rc = store_pick_base(dir_fd, fname, v, &base);
    close(dir_fd);
    if (rc != 0)
        return rc;
    const char *text = "";
    size_t text_len = 0;
    uint64_t snap_v = 0;
    if (base.image != NULL)
        rc = store_snapshot_decode(base.image, base.image_len, &snap_v, &text, &text_len);
    store_rebuild r = {.limits = ot_limits_default()};
    /* ops were accepted under the limits of their day */
    r.limits.max_op_bytes = UINT32_MAX;
    r.limits.max_op_components = UINT32_MAX;
    ot_op_init(&r.op);
    if (rc == 0) {
        r.text = ot_text_from_utf8(text, text_len);
        if (r.text == NULL)
            rc = -ENOMEM;
    }
    free(base.image);
    if (rc == 0 && v > base.version) {
        rc = store_read_ops(data_dir_fd, name, name_len, base.version, v, rebuild_apply, &r);
        if (rc == 0 && r.applied != v - base.version)
            rc = -ERANGE;   /* the log ends before v */
    }
    if (rc == 0)
        rc = ot_text_to_buf(r.text, out) == OT_OK ? 0 : -ENOMEM;
    if (rc == 0 && ckpt_version != NULL)
        *ckpt_version = base.version;
    ot_op_free(&r.op);
    ot_text_free(r.text);
    return rc;
}
