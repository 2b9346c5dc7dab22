// fuzz-sources: src/ws/deflate.c
/*
 * Fuzz target for the permessage-deflate inflater: the input is split into
 * messages at 0x00 0x00 0xff 0xff markers (as a peer would strip them) and
 * each message is fed in pieces. The output must never pass the limit, and a
 * message that inflates must come back the same through our deflater and a
 * fresh inflater (round trip).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ws/deflate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_OUT_BYTES (64 << 10)
#define FUZZ_MAX_MESSAGES 64

static void roundtrip(const uint8_t *msg, size_t len) {
    pmd_deflater d;
    pmd_inflater inf;
    pmd_deflater_init(&d, 15, 1, 8, true, 0);
    pmd_inflater_init(&inf, 15, true);
    size_t cap = pmd_deflate_bound(len);
    uint8_t *comp = malloc(cap);
    int64_t c = pmd_deflate_message(&d, msg, len, comp, cap);
    if (c < 0)
        abort();
    uint8_t *out = NULL;
    size_t out_len = 0, out_cap = 0;
    if (pmd_inflate(&inf, comp, (size_t)c, true, &out, &out_len, &out_cap, len) != 0 ||
        out_len != len || (len && memcmp(out, msg, len) != 0))
        abort();
    free(out);
    free(comp);
    pmd_deflater_free(&d);
    pmd_inflater_free(&inf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1)
        return 0;
    uint8_t knobs = data[0];
    data++;
    size--;
    int bits = 8 + (knobs & 7);
    size_t step = (size_t)((knobs >> 3) & 7) * 5 + 1;
    pmd_inflater inf;
    pmd_inflater_init(&inf, bits, knobs & 0x80);
    uint8_t *out = NULL;
    size_t out_len = 0, out_cap = 0;
    size_t start = 0;
    for (int m = 0; m < FUZZ_MAX_MESSAGES && start <= size; m++) {
        size_t end = start;
        while (end + 4 <= size && memcmp(data + end, "\x00\x00\xff\xff", 4) != 0)
            end++;
        if (end + 4 > size)
            end = size;
        out_len = 0;
        int rc = 0;
        for (size_t off = start; off < end && rc == 0; off += step) {
            size_t n = end - off < step ? end - off : step;
            rc = pmd_inflate(&inf, data + off, n, false, &out, &out_len, &out_cap,
                             FUZZ_MAX_OUT_BYTES);
        }
        if (rc == 0)
            rc = pmd_inflate(&inf, NULL, 0, true, &out, &out_len, &out_cap, FUZZ_MAX_OUT_BYTES);
        if (out_cap > FUZZ_MAX_OUT_BYTES + 1)
            abort();
        if (rc != 0) {
            if (rc != PMD_ERR_DATA && rc != PMD_ERR_TOO_BIG)
                abort();
            break;
        }
        if (out_len > FUZZ_MAX_OUT_BYTES)
            abort();
        roundtrip(out, out_len);
        start = end + 4;
    }
    free(out);
    pmd_inflater_free(&inf);
    return 0;
}
