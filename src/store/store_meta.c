/*
 * A document's listing metadata: version, size and where its log ended, in a
 * tiny file ("meta") inside its directory, so GET /api/docs can answer for a
 * document that is not loaded without recovering it.
 *
 * The file is a cache, never the truth: it is written when a document is
 * unloaded (and after startup recovery), and trusted only while the active
 * segment it names still has exactly the recorded size. When the document is
 * loaded it is replaced by a floor (log_end_offset = STORE_META_NOT_A_CACHE):
 * its version, a version the log is known to reach, which store_doc_open
 * compares with what the log holds. Anything else (missing, damaged, stale) means "load it".
 * No fsync: losing it costs a load, never a wrong answer, since a crash that
 * could leave it stale is followed by startup recovery, which rewrites it.
 */
#include "store/store.h"

#include "base/crc32c.h"
#include "proto/docname.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define STORE_META_FILE "meta"
#define STORE_META_TMP_FILE "meta.tmp"
#define STORE_META_MAGIC "RPMETA01"
#define STORE_META_BYTES (8u + 5u * 8u + 4u)

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static void encode(const store_meta *m, uint8_t out[STORE_META_BYTES]) {
    memcpy(out, STORE_META_MAGIC, 8);
    put_u64(out + 8, m->version);
    put_u64(out + 16, m->count_codepoints);
    put_u64(out + 24, m->count_bytes);
    put_u64(out + 32, m->log_start_version);
    put_u64(out + 40, m->log_end_offset);
    uint32_t crc = crc32c(out, 48);
    for (int i = 0; i < 4; i++) out[48 + i] = (uint8_t)(crc >> (8 * i));
}

int store_meta_decode(const uint8_t *buf, size_t len, store_meta *out) {
    if (len != STORE_META_BYTES || memcmp(buf, STORE_META_MAGIC, 8) != 0) return STORE_ERR_MAGIC;
    uint32_t crc = (uint32_t)buf[48] | (uint32_t)buf[49] << 8 | (uint32_t)buf[50] << 16 | (uint32_t)buf[51] << 24;
    if (crc != crc32c(buf, 48)) return STORE_ERR_CRC;
    out->version = get_u64(buf + 8);
    out->count_codepoints = get_u64(buf + 16);
    out->count_bytes = get_u64(buf + 24);
    out->log_start_version = get_u64(buf + 32);
    out->log_end_offset = get_u64(buf + 40);
    return 0;
}

int store_meta_write(int doc_dir_fd, const store_meta *m) {
    uint8_t img[STORE_META_BYTES];
    encode(m, img);
    int fd = openat(doc_dir_fd, STORE_META_TMP_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return -errno;
    ssize_t n = pwrite(fd, img, sizeof img, 0);
    int err = n == (ssize_t)sizeof img ? 0 : (n < 0 ? -errno : -EIO);
    close(fd);
    if (err == 0 && renameat(doc_dir_fd, STORE_META_TMP_FILE, doc_dir_fd, STORE_META_FILE) != 0) err = -errno;
    if (err != 0) unlinkat(doc_dir_fd, STORE_META_TMP_FILE, 0);
    return err;
}

int store_meta_remove(int doc_dir_fd) {
    if (unlinkat(doc_dir_fd, STORE_META_FILE, 0) != 0 && errno != ENOENT) return -errno;
    return 0;
}

int store_meta_version(int doc_dir_fd, uint64_t *version) {
    int fd = openat(doc_dir_fd, STORE_META_FILE, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    uint8_t img[STORE_META_BYTES + 1];
    ssize_t n = pread(fd, img, sizeof img, 0);
    close(fd);
    store_meta m;
    if (n < 0) return -EIO;
    int rc = store_meta_decode(img, (size_t)n, &m);
    if (rc != 0) return rc;
    *version = m.version;
    return 0;
}

int store_meta_read(int data_dir_fd, const char *name, size_t name_len, store_meta *out) {
    char fname[DOCNAME_FILE_MAX_BYTES];
    if (docname_to_file(name, name_len, fname, sizeof fname, NULL) != DOCNAME_OK) return -EINVAL;
    int dir_fd = openat(data_dir_fd, fname, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir_fd < 0) return -errno;
    int rc = -ESTALE;
    int fd = openat(dir_fd, STORE_META_FILE, O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        uint8_t img[STORE_META_BYTES + 1];
        ssize_t n = pread(fd, img, sizeof img, 0);
        close(fd);
        if (n == (ssize_t)STORE_META_BYTES && store_meta_decode(img, (size_t)n, out) == 0) {
            char seg[STORE_SEGMENT_NAME_BYTES];
            store_segment_file_name(out->log_start_version, seg);
            struct stat st;
            if (fstatat(dir_fd, seg, &st, 0) == 0 && (uint64_t)st.st_size == out->log_end_offset) rc = 0;
        }
    } else if (errno != ENOENT) {
        rc = -errno;
    }
    close(dir_fd);
    return rc;
}
