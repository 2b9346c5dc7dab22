// fuzz-sources: src/store/store_format.c src/store/store_recover.c src/base/crc32c.c src/base/utf8.c
/*
 * libFuzzer target: the log record decoder, the segment scanner and recovery.
 * Input byte 0 picks the mode; the rest is a segment image (mode & 1: the
 * image is preceded by a snapshot of the first 16 bytes as text, when valid).
 * Invariants checked beyond "no crash, no UB":
 *   - a torn tail's valid prefix scans clean with the same records;
 *   - every decoded record re-encodes to exactly its bytes;
 *   - recovery succeeds exactly when the scan does (or a replay refuses).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"

typedef struct fuzz_ctx {
    const uint8_t *base;
    uint64_t count;
} fuzz_ctx;

static int fuzz_check_record(void *ctx, const store_record *rec, size_t offset) {
    fuzz_ctx *c = ctx;
    size_t size = store_record_size(rec);
    if (size == 0)
        abort();
    uint8_t *buf = malloc(size);
    size_t n = 0;
    if (buf == NULL || store_record_encode(rec, buf, size, &n) != 0 || n != size ||
        memcmp(buf, c->base + offset, size) != 0)
        abort();
    free(buf);
    c->count++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 20))
        return 0;
    uint8_t mode = data[0];
    const uint8_t *img = data + 1;
    size_t len = size - 1;

    store_record rec;
    size_t used = 0;
    if (store_record_decode(img, len, &rec, &used) == 0 && (used > len || used == 0))
        abort();

    fuzz_ctx ctx = {.base = img};
    store_scan_report rep;
    int rc = store_scan_segment(img, len, fuzz_check_record, &ctx, &rep);
    if (rc == 0) {
        if (rep.valid_len_bytes > len || ctx.count != rep.count_records)
            abort();
        if (rep.torn_tail) {
            store_scan_report again;
            if (store_scan_segment(img, rep.valid_len_bytes, NULL, NULL, &again) != 0 ||
                again.torn_tail || again.count_records != rep.count_records)
                abort();
        } else if (rep.valid_len_bytes != len && len != 0) {
            abort();
        }
    } else if (rep.error_offset_bytes > len) {
        abort();
    }

    uint8_t snap[16 + STORE_SNAPSHOT_OVERHEAD_BYTES];
    store_segment_image snapshot = {.name = "snapshot"};
    if ((mode & 1) && len >= 16) {
        size_t n = 0;
        if (store_snapshot_encode(mode >> 1, (const char *)img, 16, snap, sizeof snap, &n) == 0) {
            snapshot.bytes = snap;
            snapshot.len_bytes = n;
        }
    }
    store_segment_image seg = {.name = "log", .bytes = img, .len_bytes = len};
    ot_doc *doc = NULL;
    store_recovery recovery;
    int rrc = store_recover_images(NULL, &snapshot, &seg, 1, &doc, &recovery);
    if (rrc == 0) {
        if (doc == NULL || recovery.version != ot_doc_version(doc))
            abort();
        ot_doc_free(doc);
    } else if (doc != NULL || recovery.message[0] == '\0') {
        abort();
    }
    /* A scan failure always fails recovery (with no snapshot in the way). */
    if (rc != 0 && snapshot.len_bytes == 0 && rrc == 0)
        abort();
    return 0;
}
