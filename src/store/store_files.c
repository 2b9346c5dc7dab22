/*
 * The blocking file side of the store: opening (recovering) a document,
 * listing, deleting, compacting and reading old ops. Used before the loop
 * starts, on a document's first open, and by tools; appends during serving go
 * through store_log and the worker's ring instead.
 *
 * Every path is relative to a directory fd (openat & co.), and every name
 * that reaches the file system went through docname_to_file, so nothing can
 * escape the data directory.
 */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto/docname.h"
#include "store/store_internal.h"

#define STORE_TOMBSTONE_PREFIX "%deleted%"
/* Passes over a directory being emptied (entries may appear in a later pass). */
#define STORE_MAX_REMOVE_PASSES 4

void store_segment_file_name(uint64_t start_version, char out[STORE_SEGMENT_NAME_BYTES]) {
    snprintf(out, STORE_SEGMENT_NAME_BYTES, STORE_SEGMENT_PREFIX "%020llu", (unsigned long long)start_version);
}

void store_checkpoint_file_name(uint64_t version, char out[STORE_SEGMENT_NAME_BYTES]) {
    snprintf(out, STORE_SEGMENT_NAME_BYTES, STORE_CHECKPOINT_PREFIX "%020llu", (unsigned long long)version);
}

/* `prefix` followed by exactly 20 digits. */
static bool store_parse_versioned_name(const char *name, const char *prefix, uint64_t *version) {
    size_t plen = strlen(prefix);
    if (strncmp(name, prefix, plen) != 0 || strlen(name) != plen + 20)
        return false;
    uint64_t v = 0;
    for (size_t i = plen; i < plen + 20; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t digit = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    *version = v;
    return true;
}

int store_fsync_fd(int fd) {
    return fsync(fd) == 0 ? 0 : -errno;
}

int store_doc_file_name(const char *name, size_t name_len, char out[DOCNAME_FILE_MAX_BYTES]) {
    return docname_to_file(name, name_len, out, DOCNAME_FILE_MAX_BYTES, NULL) == DOCNAME_OK
               ? 0
               : -EINVAL;
}

int store_read_file(int dir_fd, const char *name, uint8_t **out, size_t *out_len) {
    *out = NULL;
    *out_len = 0;
    int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size > 0 ? size : 1);
    if (buf == NULL) {
        close(fd);
        return -ENOMEM;
    }
    size_t done = 0;
    /* Bounded by the size taken above: a file growing meanwhile is read up to it. */
    while (done < size) {
        ssize_t n = pread(fd, buf + done, size - done, (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            int err = n < 0 ? -errno : -EIO;
            free(buf);
            close(fd);
            return err;
        }
        done += (size_t)n;
    }
    close(fd);
    *out = buf;
    *out_len = size;
    return 0;
}

static int store_cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* A directory stream over a duplicate of dir_fd (the caller keeps its fd),
 * read from the start. */
static int open_dir_stream(int dir_fd, DIR **out) {
    int fd = dup(dir_fd);
    if (fd < 0)
        return -errno;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        int err = -errno;
        close(fd);
        return err;
    }
    rewinddir(dir);
    *out = dir;
    return 0;
}

int store_list_versions(int dir_fd, const char *prefix, uint64_t **out, size_t *count) {
    *out = NULL;
    *count = 0;
    DIR *dir = NULL;
    int open_rc = open_dir_stream(dir_fd, &dir);
    if (open_rc != 0)
        return open_rc;
    uint64_t *versions = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(dir)) != NULL) {
        uint64_t v;
        if (!store_parse_versioned_name(de->d_name, prefix, &v))
            continue;
        if (n == STORE_MAX_SEGMENTS) {
            rc = -E2BIG;
            break;
        }
        if (n == cap) {
            size_t ncap = cap == 0 ? 8 : cap * 2;
            uint64_t *nv = realloc(versions, ncap * sizeof *nv);
            if (nv == NULL) {
                rc = -ENOMEM;
                break;
            }
            versions = nv;
            cap = ncap;
        }
        versions[n++] = v;
    }
    closedir(dir);
    if (rc != 0) {
        free(versions);
        return rc;
    }
    if (n > 1)
        qsort(versions, n, sizeof *versions, store_cmp_u64);
    *out = versions;
    *count = n;
    return 0;
}

int store_open_doc_dir(int data_dir_fd, const char *fname, bool create) {
    int fd = openat(data_dir_fd, fname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0)
        return fd;
    if (errno != ENOENT || !create)
        return -errno;
    if (mkdirat(data_dir_fd, fname, 0755) != 0 && errno != EEXIST)
        return -errno;
    int rc = store_fsync_fd(data_dir_fd);
    if (rc != 0)
        return rc;
    fd = openat(data_dir_fd, fname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    return fd >= 0 ? fd : -errno;
}

/* Creates an empty segment file and makes its directory entry durable. */
static int store_create_segment(int dir_fd, uint64_t start_version) {
    char seg[STORE_SEGMENT_NAME_BYTES];
    store_segment_file_name(start_version, seg);
    int fd = openat(dir_fd, seg, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return -errno;
    int rc = store_fsync_fd(dir_fd);
    if (rc != 0) {
        close(fd);
        return rc;
    }
    return fd;
}

int store_segment_create(int doc_dir_fd, uint64_t start_version) {
    return store_create_segment(doc_dir_fd, start_version);
}

void store_doc_files_close(store_doc_files *files) {
    if (files->log_fd >= 0)
        close(files->log_fd);
    if (files->dir_fd >= 0)
        close(files->dir_fd);
    files->log_fd = -1;
    files->dir_fd = -1;
}

typedef struct store_images {
    store_segment_image snapshot;
    store_segment_image *segments;
    char (*names)[STORE_PATH_NAME_BYTES];
    uint64_t *versions;
    size_t count;
} store_images;

static void store_images_free(store_images *im) {
    free((void *)im->snapshot.bytes);
    for (size_t i = 0; i < im->count; i++)
        free((void *)im->segments[i].bytes);
    free(im->segments);
    free(im->names);
    free(im->versions);
    memset(im, 0, sizeof *im);
}

/* The base checkpoint's image and the segments from the one holding its
 * version on: what a recovery at base->version needs (never older ones). */
static int store_images_load(int dir_fd, const char *fname, store_base *base, store_images *im,
                             char *snap_name) {
    memset(im, 0, sizeof *im);
    char ck[STORE_SEGMENT_NAME_BYTES];
    store_checkpoint_file_name(base->version, ck);
    snprintf(snap_name, STORE_PATH_NAME_BYTES, "%s/%s", fname, ck);
    im->snapshot = (store_segment_image){.name = snap_name, .bytes = base->image, .len_bytes = base->image_len};
    base->image = NULL;   /* im owns it now */
    uint64_t *all = NULL;
    size_t count = 0;
    int rc = store_list_versions(dir_fd, STORE_SEGMENT_PREFIX, &all, &count);
    if (rc != 0)
        return rc;
    size_t first = 0;
    while (first + 1 < count && all[first + 1] <= base->version)
        first++;
    size_t n = count - first;
    im->versions = calloc(n > 0 ? n : 1, sizeof *im->versions);
    im->segments = calloc(n > 0 ? n : 1, sizeof *im->segments);
    im->names = calloc(n > 0 ? n : 1, sizeof *im->names);
    if (im->versions == NULL || im->segments == NULL || im->names == NULL) {
        free(all);
        return -ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        im->versions[i] = all[first + i];
        char seg[STORE_SEGMENT_NAME_BYTES];
        store_segment_file_name(im->versions[i], seg);
        snprintf(im->names[i], STORE_PATH_NAME_BYTES, "%s/%s", fname, seg);
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = store_read_file(dir_fd, seg, &bytes, &len);
        if (rc != 0)
            break;
        im->segments[i] = (store_segment_image){.name = im->names[i], .bytes = bytes, .len_bytes = len};
        im->count = i + 1;
    }
    free(all);
    return rc;
}

/* An older release kept one checkpoint, "snapshot": it becomes ckpt.<v>. A
 * damaged one is left where it is (and so never used). */
static int store_migrate_snapshot(int dir_fd) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    int rc = store_read_file(dir_fd, STORE_SNAPSHOT_FILE, &bytes, &len);
    if (rc == -ENOENT)
        return 0;
    if (rc != 0)
        return rc;
    uint64_t v = 0;
    const char *text;
    size_t text_len;
    rc = store_snapshot_decode(bytes, len, &v, &text, &text_len);
    free(bytes);
    if (rc != 0)
        return 0;
    char ck[STORE_SEGMENT_NAME_BYTES];
    store_checkpoint_file_name(v, ck);
    if (renameat(dir_fd, STORE_SNAPSHOT_FILE, dir_fd, ck) != 0)
        return -errno;
    return store_fsync_fd(dir_fd);
}

static int store_truncate_segment(int dir_fd, uint64_t start_version, size_t len_bytes) {
    char seg[STORE_SEGMENT_NAME_BYTES];
    store_segment_file_name(start_version, seg);
    int fd = openat(dir_fd, seg, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = ftruncate(fd, (off_t)len_bytes) == 0 ? 0 : -errno;
    if (rc == 0 && fdatasync(fd) != 0)
        rc = -errno;
    close(fd);
    return rc;
}

/* Picks (or creates) the segment new records go to, after recovery. */
static int store_open_active_segment(const store_images *im, const store_recovery *rec,
                                     uint64_t version, store_doc_files *files) {
    if (im->count > 0) {
        size_t last = im->count - 1;
        size_t valid = rec->torn_tail ? rec->valid_len_bytes : im->segments[last].len_bytes;
        uint64_t start = im->versions[last];
        char seg[STORE_SEGMENT_NAME_BYTES];
        store_segment_file_name(start, seg);
        if (valid > 0 || start == version) {
            int fd = openat(files->dir_fd, seg, O_WRONLY | O_CLOEXEC);
            if (fd < 0)
                return -errno;
            files->log_fd = fd;
            files->log_start_version = start;
            files->log_end_offset = valid;
            return 0;
        }
        /* An empty segment named for another version: its name would mislead
         * the ordering, so replace it. */
        if (unlinkat(files->dir_fd, seg, 0) != 0)
            return -errno;
    }
    int fd = store_create_segment(files->dir_fd, version);
    if (fd < 0)
        return fd;
    files->log_fd = fd;
    files->log_start_version = version;
    files->log_end_offset = 0;
    return 0;
}

/* The highest version the document is known to have reached durably, and
 * the evidence (for the message): the newest segment's name, or the meta
 * file. 0 when nothing says. */
static uint64_t store_known_version(int dir_fd, const char *fname, const store_images *im,
                                    char *why, size_t why_cap) {
    uint64_t known = 0;
    why[0] = '\0';
    if (im->count > 0) {
        known = im->versions[im->count - 1];
        snprintf(why, why_cap, "segment %s starts there", im->segments[im->count - 1].name);
    }
    uint64_t meta_version = 0;
    if (store_meta_version(dir_fd, &meta_version) == 0 && meta_version > known) {
        known = meta_version;
        snprintf(why, why_cap, "%s/meta recorded it", fname);
    }
    return known;
}

/* Compares what recovery reached with what the document is known to have
 * reached: a missing range is refused, or accepted and described. */
static int store_check_missing(int dir_fd, const char *fname, const store_images *im,
                               uint64_t version, unsigned flags, store_recovery *report) {
    char why[STORE_PATH_NAME_BYTES + 64];
    uint64_t known = store_known_version(dir_fd, fname, im, why, sizeof why);
    if (version >= known)
        return 0;
    report->lost_from = version;
    report->lost_to = known;
    if (flags & STORE_OPEN_ACCEPT_LOSS) {
        snprintf(report->message, sizeof report->message,
                 "%s: ops [%llu, %llu) are lost: the log ends at version %llu but version %llu "
                 "was reached (%s); accepted (--accept-data-loss): the document continues at "
                 "version %llu", fname, (unsigned long long)version, (unsigned long long)known,
                 (unsigned long long)version, (unsigned long long)known, why,
                 (unsigned long long)version);
        return 0;
    }
    snprintf(report->message, sizeof report->message,
             "%s: ops [%llu, %llu) are missing: the log ends at version %llu but version %llu "
             "was reached (%s); a log segment was emptied or removed. Refusing to start "
             "(restore the files, or pass --accept-data-loss to continue without those ops)",
             fname, (unsigned long long)version, (unsigned long long)known,
             (unsigned long long)version, (unsigned long long)known, why);
    report->error = STORE_ERR_MISSING;
    return STORE_ERR_MISSING;
}

int store_doc_open(int data_dir_fd, const char *name, size_t name_len, unsigned flags,
                   const ot_limits *limits, ot_doc **out_doc, store_doc_files *files,
                   store_recovery *report) {
    bool create = (flags & STORE_OPEN_CREATE) != 0;
    memset(report, 0, sizeof *report);
    *out_doc = NULL;
    files->dir_fd = -1;
    files->log_fd = -1;
    files->log_start_version = 0;
    files->log_end_offset = 0;
    files->snapshot_version = 0;
    char fname[DOCNAME_FILE_MAX_BYTES];
    int rc = store_doc_file_name(name, name_len, fname);
    if (rc != 0)
        return rc;
    int dir_fd = store_open_doc_dir(data_dir_fd, fname, create);
    if (dir_fd < 0) {
        if (dir_fd != -ENOENT)
            snprintf(report->message, sizeof report->message, "%s: cannot %s its directory: %s",
                     fname, create ? "open or create" : "open", strerror(-dir_fd));
        return dir_fd;
    }
    files->dir_fd = dir_fd;
    /* A checkpoint that never got renamed into place is garbage. */
    if ((unlinkat(dir_fd, STORE_SNAPSHOT_TMP_FILE, 0) != 0 && errno != ENOENT) ||
        (unlinkat(dir_fd, STORE_CHECKPOINT_TMP_FILE, 0) != 0 && errno != ENOENT)) {
        rc = -errno;
        store_doc_files_close(files);
        return rc;
    }
    rc = store_migrate_snapshot(dir_fd);
    store_base base;
    memset(&base, 0, sizeof base);
    if (rc == 0)
        rc = store_pick_base(dir_fd, fname, UINT64_MAX, &base);
    if (rc == -ERANGE)
        snprintf(report->message, sizeof report->message, "%s: no sound checkpoint and the log does not "
                 "start at version 0; refusing to start", fname);
    memcpy(report->fallback, base.fallback, sizeof report->fallback);

    store_images im;
    memset(&im, 0, sizeof im);
    char snap_name[STORE_PATH_NAME_BYTES];
    if (rc == 0)
        rc = store_images_load(dir_fd, fname, &base, &im, snap_name);
    free(base.image);
    ot_doc *doc = NULL;
    if (rc == 0) {
        char fallback[sizeof report->fallback];
        memcpy(fallback, report->fallback, sizeof fallback);
        rc = store_recover_images(limits, &im.snapshot, im.segments, im.count, &doc, report);
        memcpy(report->fallback, fallback, sizeof fallback);
    } else if (report->message[0] == '\0') {
        snprintf(report->message, sizeof report->message, "%s: cannot read: %s", fname,
                 store_err_str(rc));
    }
    if (rc == 0)
        rc = store_check_missing(dir_fd, fname, &im, ot_doc_version(doc), flags, report);
    if (rc == 0 && report->torn_tail)
        rc = store_truncate_segment(dir_fd, im.versions[report->torn_segment],
                                    report->valid_len_bytes);
    if (rc == 0)
        rc = store_open_active_segment(&im, report, ot_doc_version(doc), files);
    store_images_free(&im);
    if (rc != 0) {
        if (report->error == 0)
            report->error = rc;
        ot_doc_free(doc);
        store_doc_files_close(files);
        return rc;
    }
    files->snapshot_version = report->snapshot_version;
    rc = store_oldest_version(dir_fd, &files->oldest_version);
    if (rc != 0) {
        ot_doc_free(doc);
        store_doc_files_close(files);
        return rc;
    }
    *out_doc = doc;
    return 0;
}

/* Empties and removes directory `name` in parent_fd. */
static int store_remove_dir(int parent_fd, const char *name) {
    for (int pass = 0; pass < STORE_MAX_REMOVE_PASSES; pass++) {
        int fd = openat(parent_fd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0)
            return -errno;
        DIR *dir = fdopendir(fd);
        if (dir == NULL) {
            int err = -errno;
            close(fd);
            return err;
        }
        struct dirent *de;
        int rc = 0;
        while ((de = readdir(dir)) != NULL) {
            if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
                continue;
            if (unlinkat(dirfd(dir), de->d_name, 0) != 0 && errno != ENOENT) {
                rc = -errno;
                break;
            }
        }
        closedir(dir);
        if (rc != 0)
            return rc;
        if (unlinkat(parent_fd, name, AT_REMOVEDIR) == 0)
            return 0;
        if (errno != ENOTEMPTY)
            return -errno;
    }
    return -ENOTEMPTY;
}

int store_doc_delete(int data_dir_fd, const char *name, size_t name_len) {
    char fname[DOCNAME_FILE_MAX_BYTES];
    int rc = store_doc_file_name(name, name_len, fname);
    if (rc != 0)
        return rc;
    char tomb[sizeof STORE_TOMBSTONE_PREFIX + DOCNAME_FILE_MAX_BYTES];
    snprintf(tomb, sizeof tomb, "%s%s", STORE_TOMBSTONE_PREFIX, fname);
    /* Left over from a delete that crashed half way. */
    rc = store_remove_dir(data_dir_fd, tomb);
    if (rc != 0 && rc != -ENOENT)
        return rc;
    /* One rename makes the delete atomic: a crash never leaves a document
     * with some of its files gone ('%' makes the tombstone unlistable). */
    if (renameat(data_dir_fd, fname, data_dir_fd, tomb) != 0)
        return -errno;
    rc = store_fsync_fd(data_dir_fd);
    if (rc != 0)
        return rc;
    rc = store_remove_dir(data_dir_fd, tomb);
    if (rc != 0)
        return rc;
    return store_fsync_fd(data_dir_fd);
}

int store_list(int data_dir_fd, store_name_fn fn, void *ctx) {
    DIR *dir = NULL;
    int open_rc = open_dir_stream(data_dir_fd, &dir);
    if (open_rc != 0)
        return open_rc;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        char name[DOCNAME_MAX_BYTES + 1];
        size_t name_len = 0;
        if (docname_from_file(de->d_name, strlen(de->d_name), name, sizeof name, &name_len) !=
            DOCNAME_OK)
            continue;
        bool is_dir = de->d_type == DT_DIR;
        if (de->d_type == DT_UNKNOWN) {
            struct stat st;
            is_dir = fstatat(dirfd(dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                     S_ISDIR(st.st_mode);
        }
        if (is_dir)
            rc = fn(ctx, name, name_len);
    }
    closedir(dir);
    return rc;
}

int store_compact_snapshot_image(const ot_doc *doc, uint64_t at, uint64_t current_snapshot_version,
                                 uint64_t *snapshot_version, uint8_t **image, size_t *image_len) {
    *image = NULL;
    *image_len = 0;
    uint64_t snap = at;
    if (snap > ot_doc_version(doc))
        snap = ot_doc_version(doc);
    if (snap < ot_doc_oldest_version(doc))
        snap = ot_doc_oldest_version(doc);
    /* Never move back: checkpoints are written in version order. */
    if (snap < current_snapshot_version)
        snap = current_snapshot_version;
    *snapshot_version = snap;
    if (snap == current_snapshot_version)
        return 0;
    ot_buf text;
    ot_buf_init(&text);
    int rc = ot_doc_text_at(doc, snap, &text);
    if (rc != OT_OK) {
        ot_buf_free(&text);
        return rc == OT_ERR_NOMEM ? -ENOMEM : -EINVAL;
    }
    size_t size = store_snapshot_size(text.len);
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        ot_buf_free(&text);
        return -ENOMEM;
    }
    size_t n = 0;
    rc = store_snapshot_encode(snap, text.len > 0 ? text.data : "", text.len, buf, size, &n);
    ot_buf_free(&text);
    if (rc != 0) {
        free(buf);
        return rc;
    }
    *image = buf;
    *image_len = n;
    return 0;
}

typedef struct store_range {
    uint64_t from, to, expect;
    store_record_fn fn;
    void *ctx;
} store_range;

static int store_range_record(void *ctx, const store_record *rec, size_t offset_bytes) {
    store_range *r = ctx;
    if (rec->base_version < r->from || rec->base_version >= r->to)
        return 0;
    if (rec->base_version != r->expect)
        return -ERANGE;
    r->expect++;
    return r->fn(r->ctx, rec, offset_bytes);
}

int store_read_ops(int data_dir_fd, const char *name, size_t name_len, uint64_t from,
                   uint64_t to, store_record_fn fn, void *ctx) {
    char fname[DOCNAME_FILE_MAX_BYTES];
    int rc = store_doc_file_name(name, name_len, fname);
    if (rc != 0)
        return rc;
    if (from >= to)
        return 0;
    int dir_fd = store_open_doc_dir(data_dir_fd, fname, false);
    if (dir_fd < 0)
        return dir_fd;
    uint64_t *versions = NULL;
    size_t count = 0;
    rc = store_list_versions(dir_fd, STORE_SEGMENT_PREFIX, &versions, &count);
    store_range range = {.from = from, .to = to, .expect = from, .fn = fn, .ctx = ctx};
    for (size_t i = 0; rc == 0 && i < count; i++) {
        if (i + 1 < count && versions[i + 1] <= from)
            continue;
        if (versions[i] >= to)
            break;
        char seg[STORE_SEGMENT_NAME_BYTES];
        store_segment_file_name(versions[i], seg);
        uint8_t *bytes = NULL;
        size_t len = 0;
        rc = store_read_file(dir_fd, seg, &bytes, &len);
        if (rc != 0)
            break;
        store_scan_report scan;
        /* A torn tail here is the live writer's unfinished write: stop there. */
        rc = store_scan_segment(bytes, len, store_range_record, &range, &scan);
        free(bytes);
    }
    free(versions);
    close(dir_fd);
    if (rc == 0 && range.expect == from)
        return -ERANGE; /* nothing at `from`: it left the log (or is in the future) */
    return rc;
}
