/*
 * The on-disk formats: log records, segment headers, snapshots, and the
 * segment scanner that tells a torn tail (a write cut short by a crash:
 * truncate it) from corruption in the middle (refuse, never drop data).
 */
#include "store/store.h"

#include <errno.h>
#include <string.h>

#include "base/crc32c.h"

static const uint8_t store_segment_magic[8] = {'R', 'P', 'L', 'O', 'G', '0', '0', '1'};
static const uint8_t store_snapshot_magic[8] = {'R', 'P', 'S', 'N', 'A', 'P', '0', '1'};
static const uint8_t store_record_magic[4] = {'R', 'P', 'R', '1'};
enum { STORE_KIND_OP = 1 };

const char *store_err_str(int err) {
    switch (err) {
    case 0: return "ok";
    case STORE_ERR_TORN: return "the data ends inside a record";
    case STORE_ERR_CRC: return "checksum mismatch";
    case STORE_ERR_MAGIC: return "bad magic number";
    case STORE_ERR_MALFORMED: return "malformed record";
    case STORE_ERR_TOO_LARGE: return "record too large";
    case STORE_ERR_VERSION_GAP: return "records are not consecutive versions";
    case STORE_ERR_CORRUPT: return "corrupt record followed by valid records";
    case STORE_ERR_REPLAY: return "a logged op does not apply to the document";
    case STORE_ERR_MISSING: return "logged ops are missing";
    default: break;
    }
    if (err < 0 && err > -4096)
        return strerror(-err);
    return "unknown error";
}

/* ---- little-endian helpers ---- */

static void put_u16(uint8_t *p, uint16_t v) {
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64(uint8_t *p, uint64_t v) {
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint16_t get_u16(const uint8_t *p) {
    return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get_u32(const uint8_t *p) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get_u64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

/* ---- records ---- */

size_t store_record_size(const store_record *rec) {
    if (rec->id_len > STORE_MAX_ID_BYTES || rec->author_len > STORE_MAX_AUTHOR_BYTES)
        return 0;
    uint64_t payload = (uint64_t)STORE_RECORD_FIXED_BYTES + rec->id_len + rec->author_len +
                       (uint64_t)rec->op_len;
    if (payload > STORE_MAX_RECORD_BYTES - STORE_RECORD_HEADER_BYTES)
        return 0;
    return (size_t)(STORE_RECORD_HEADER_BYTES + payload);
}

int store_record_encode(const store_record *rec, uint8_t *out, size_t cap, size_t *written) {
    size_t size = store_record_size(rec);
    if (size == 0)
        return -EINVAL;
    if (size > cap)
        return -ENOBUFS;
    uint32_t payload_len = (uint32_t)(size - STORE_RECORD_HEADER_BYTES);
    memcpy(out, store_record_magic, 4);
    put_u32(out + 4, payload_len);
    uint8_t *p = out + STORE_RECORD_HEADER_BYTES;
    *p++ = STORE_KIND_OP;
    put_u64(p, rec->base_version);
    p += 8;
    put_u64(p, (uint64_t)rec->time_ms);
    p += 8;
    put_u16(p, (uint16_t)rec->id_len);
    p += 2;
    if (rec->id_len > 0)
        memcpy(p, rec->id, rec->id_len);
    p += rec->id_len;
    put_u16(p, (uint16_t)rec->author_len);
    p += 2;
    if (rec->author_len > 0)
        memcpy(p, rec->author, rec->author_len);
    p += rec->author_len;
    put_u32(p, (uint32_t)rec->op_len);
    p += 4;
    if (rec->op_len > 0)
        memcpy(p, rec->op_json, rec->op_len);
    p += rec->op_len;
    /* The CRC covers the length too, so a flipped length bit is caught. */
    uint32_t crc = crc32c_update(crc32c(out + 4, 4), out + STORE_RECORD_HEADER_BYTES, payload_len);
    put_u32(out + 8, crc);
    *written = size;
    return 0;
}

static int store_record_parse_payload(const uint8_t *p, size_t len, store_record *out) {
    if (len < STORE_RECORD_FIXED_BYTES || p[0] != STORE_KIND_OP)
        return STORE_ERR_MALFORMED;
    size_t off = 1;
    out->base_version = get_u64(p + off);
    off += 8;
    out->time_ms = (int64_t)get_u64(p + off);
    off += 8;
    out->id_len = get_u16(p + off);
    off += 2;
    /* Remaining fixed bytes after id: author_len(2) + op_len(4). */
    if (len - off < out->id_len + 6u)
        return STORE_ERR_MALFORMED;
    out->id = (const char *)p + off;
    off += out->id_len;
    out->author_len = get_u16(p + off);
    off += 2;
    if (len - off < out->author_len + 4u)
        return STORE_ERR_MALFORMED;
    out->author = (const char *)p + off;
    off += out->author_len;
    out->op_len = get_u32(p + off);
    off += 4;
    if (len - off != out->op_len)
        return STORE_ERR_MALFORMED;
    out->op_json = (const char *)p + off;
    return 0;
}

int store_record_decode(const uint8_t *buf, size_t len, store_record *out, size_t *consumed) {
    if (len < STORE_RECORD_HEADER_BYTES)
        return len >= 4 && memcmp(buf, store_record_magic, 4) != 0 ? STORE_ERR_MAGIC
                                                                    : STORE_ERR_TORN;
    if (memcmp(buf, store_record_magic, 4) != 0)
        return STORE_ERR_MAGIC;
    uint32_t payload_len = get_u32(buf + 4);
    if (payload_len > STORE_MAX_RECORD_BYTES - STORE_RECORD_HEADER_BYTES)
        return STORE_ERR_TOO_LARGE;
    if (len - STORE_RECORD_HEADER_BYTES < payload_len)
        return STORE_ERR_TORN;
    uint32_t crc = crc32c_update(crc32c(buf + 4, 4), buf + STORE_RECORD_HEADER_BYTES, payload_len);
    if (crc != get_u32(buf + 8))
        return STORE_ERR_CRC;
    int rc = store_record_parse_payload(buf + STORE_RECORD_HEADER_BYTES, payload_len, out);
    if (rc != 0)
        return rc;
    *consumed = STORE_RECORD_HEADER_BYTES + payload_len;
    return 0;
}

/* ---- segment header ---- */

void store_segment_header_encode(uint64_t start_version, uint8_t out[STORE_SEGMENT_HEADER_BYTES]) {
    memcpy(out, store_segment_magic, 8);
    put_u64(out + 8, start_version);
    put_u32(out + 16, crc32c(out, 16));
    put_u32(out + 20, 0);
}

int store_segment_header_decode(const uint8_t *buf, size_t len, uint64_t *start_version) {
    if (len < STORE_SEGMENT_HEADER_BYTES)
        return STORE_ERR_TORN;
    if (memcmp(buf, store_segment_magic, 8) != 0)
        return STORE_ERR_MAGIC;
    if (crc32c(buf, 16) != get_u32(buf + 16) || get_u32(buf + 20) != 0)
        return STORE_ERR_CRC;
    *start_version = get_u64(buf + 8);
    return 0;
}

/* ---- scanning ---- */

/* True when a well-formed record (magic + CRC) starts anywhere in [from, len). */
static bool store_valid_record_after(const uint8_t *buf, size_t len, size_t from) {
    while (from + STORE_RECORD_HEADER_BYTES <= len) {
        const uint8_t *hit = memmem(buf + from, len - from, store_record_magic, 4);
        if (hit == NULL)
            return false;
        size_t at = (size_t)(hit - buf);
        store_record rec;
        size_t consumed;
        int rc = store_record_decode(buf + at, len - at, &rec, &consumed);
        /* MALFORMED passed the CRC: those bytes were written as a record. */
        if (rc == 0 || rc == STORE_ERR_MALFORMED)
            return true;
        from = at + 1;
    }
    return false;
}

int store_scan_segment(const uint8_t *buf, size_t len, store_record_fn fn, void *ctx,
                       store_scan_report *report) {
    memset(report, 0, sizeof *report);
    if (len == 0)
        return 0;
    uint64_t start = 0;
    int rc = store_segment_header_decode(buf, len, &start);
    if (rc != 0) {
        if (store_valid_record_after(buf, len, 0)) {
            report->error = rc == STORE_ERR_TORN ? STORE_ERR_CORRUPT : rc;
            report->error_offset_bytes = 0;
            return report->error;
        }
        report->torn_tail = true;
        return 0;
    }
    report->start_version = start;
    report->next_version = start;
    size_t off = STORE_SEGMENT_HEADER_BYTES;
    report->valid_len_bytes = off;
    while (off < len) {
        store_record rec;
        size_t consumed = 0;
        rc = store_record_decode(buf + off, len - off, &rec, &consumed);
        if (rc == STORE_ERR_MALFORMED) {
            report->error = rc;
            report->error_offset_bytes = off;
            return rc;
        }
        if (rc != 0) {
            if (store_valid_record_after(buf, len, off + 1)) {
                report->error = STORE_ERR_CORRUPT;
                report->error_offset_bytes = off;
                return report->error;
            }
            report->torn_tail = true;
            return 0;
        }
        if (rec.base_version != report->next_version) {
            report->error = STORE_ERR_VERSION_GAP;
            report->error_offset_bytes = off;
            return report->error;
        }
        if (fn != NULL) {
            int stop = fn(ctx, &rec, off);
            if (stop != 0) {
                report->error = stop;
                report->error_offset_bytes = off;
                return stop;
            }
        }
        off += consumed;
        report->next_version++;
        report->count_records++;
        report->valid_len_bytes = off;
    }
    return 0;
}

/* ---- snapshots ---- */

size_t store_snapshot_size(size_t text_len) {
    return STORE_SNAPSHOT_OVERHEAD_BYTES + text_len;
}

int store_snapshot_encode(uint64_t version, const char *text, size_t text_len, uint8_t *out,
                          size_t cap, size_t *written) {
    if (text_len > STORE_MAX_SNAPSHOT_TEXT_BYTES)
        return -EINVAL;
    size_t size = store_snapshot_size(text_len);
    if (size > cap)
        return -ENOBUFS;
    memcpy(out, store_snapshot_magic, 8);
    put_u64(out + 8, version);
    put_u64(out + 16, text_len);
    if (text_len > 0)
        memcpy(out + 24, text, text_len);
    put_u32(out + 24 + text_len, crc32c(out, 24 + text_len));
    *written = size;
    return 0;
}

int store_snapshot_decode(const uint8_t *buf, size_t len, uint64_t *version, const char **text,
                          size_t *text_len) {
    if (len < STORE_SNAPSHOT_OVERHEAD_BYTES)
        return STORE_ERR_TORN;
    if (memcmp(buf, store_snapshot_magic, 8) != 0)
        return STORE_ERR_MAGIC;
    uint64_t tlen = get_u64(buf + 16);
    if (tlen != len - STORE_SNAPSHOT_OVERHEAD_BYTES)
        return tlen > len - STORE_SNAPSHOT_OVERHEAD_BYTES ? STORE_ERR_TORN : STORE_ERR_MALFORMED;
    if (crc32c(buf, 24 + tlen) != get_u32(buf + 24 + tlen))
        return STORE_ERR_CRC;
    *version = get_u64(buf + 8);
    *text = (const char *)buf + 24;
    *text_len = (size_t)tlen;
    return 0;
}
