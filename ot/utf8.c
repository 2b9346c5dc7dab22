/* UTF-8 validation and code point arithmetic for the OT engine. Position
 * mapping inside a text chunk is the hot loop of every edit, so counting works
 * eight bytes at a time. */
#include <string.h>

#include "ot_internal.h"

static const uint64_t high_bits = 0x8080808080808080ull;

static uint64_t load8(const unsigned char *s) {
    uint64_t w;
    memcpy(&w, s, sizeof w);
    return w;
}

/* Code points starting in these 8 bytes: bytes that are not 10xxxxxx. */
static unsigned leads_in(uint64_t w) {
    uint64_t continuation = w & ~(w << 1) & high_bits;
    return 8u - (unsigned)__builtin_popcountll(continuation);
}

size_t ot_utf8_seq_len(const unsigned char *s, size_t len_bytes) {
    if (len_bytes == 0)
        return 0;
    unsigned char c = s[0];
    if (c == 0)
        return 0; /* NUL would truncate C strings downstream */
    if (c < 0x80)
        return 1;
    size_t need;
    unsigned char lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates U+D800..U+DFFF */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* beyond U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (len_bytes < need)
        return 0;
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < need; i++)
        if ((s[i] & 0xC0) != 0x80)
            return 0;
    return need;
}

int ot_utf8_validate(const char *utf8, size_t len_bytes, uint64_t *out_codepoints,
                     size_t *out_bad_offset_bytes) {
    const unsigned char *s = (const unsigned char *)utf8;
    uint64_t count = 0;
    size_t i = 0;
    while (i < len_bytes) {
        /* ASCII fast path: most text is mostly ASCII. */
        if (i + 8 <= len_bytes) {
            uint64_t w = load8(s + i);
            uint64_t has_zero = (w - 0x0101010101010101ull) & ~w & high_bits;
            if (((w & high_bits) | has_zero) == 0) {
                i += 8;
                count += 8;
                continue;
            }
        }
        if (s[i] != 0 && s[i] < 0x80) {
            i++;
            count++;
            continue;
        }
        size_t n = ot_utf8_seq_len(s + i, len_bytes - i);
        if (n == 0) {
            if (out_bad_offset_bytes)
                *out_bad_offset_bytes = i;
            return OT_ERR_BAD_UTF8;
        }
        i += n;
        count++;
    }
    if (out_codepoints)
        *out_codepoints = count;
    return OT_OK;
}

uint64_t ot_utf8_count(const char *utf8, size_t len_bytes) {
    const unsigned char *s = (const unsigned char *)utf8;
    uint64_t count = 0;
    size_t i = 0;
    for (; i + 8 <= len_bytes; i += 8)
        count += leads_in(load8(s + i));
    for (; i < len_bytes; i++)
        count += (s[i] & 0xC0) != 0x80;
    return count;
}

size_t ot_utf8_advance(const char *utf8, size_t len_bytes, uint64_t count_codepoints) {
    const unsigned char *s = (const unsigned char *)utf8;
    size_t i = 0;
    /* Whole blocks, then words, while they hold no more code points than are
     * left to skip; trailing continuation bytes of a skipped word are skipped
     * by the byte loop below, which stops at the next lead byte. The four
     * counts of a block are independent, so they overlap in the pipeline. */
    while (i + 32 <= len_bytes) {
        unsigned n = leads_in(load8(s + i)) + leads_in(load8(s + i + 8)) +
                     leads_in(load8(s + i + 16)) + leads_in(load8(s + i + 24));
        if (n > count_codepoints)
            break;
        count_codepoints -= n;
        i += 32;
    }
    while (i + 8 <= len_bytes) {
        unsigned n = leads_in(load8(s + i));
        if (n > count_codepoints)
            break;
        count_codepoints -= n;
        i += 8;
    }
    while (i < len_bytes) {
        if ((s[i] & 0xC0) != 0x80) {
            if (count_codepoints == 0)
                return i;
            count_codepoints--;
        }
        i++;
    }
    return i;
}

size_t ot_utf8_retreat(const char *utf8, size_t len_bytes, uint64_t count_codepoints) {
    const unsigned char *s = (const unsigned char *)utf8;
    size_t i = len_bytes;
    if (count_codepoints == 0)
        return i;
    /* Blocks and words that hold fewer code points than are left: the one
     * sought starts further back. */
    while (i >= 32) {
        unsigned n = leads_in(load8(s + i - 32)) + leads_in(load8(s + i - 24)) +
                     leads_in(load8(s + i - 16)) + leads_in(load8(s + i - 8));
        if (n >= count_codepoints)
            break;
        count_codepoints -= n;
        i -= 32;
    }
    while (i >= 8) {
        unsigned n = leads_in(load8(s + i - 8));
        if (n >= count_codepoints)
            break;
        count_codepoints -= n;
        i -= 8;
    }
    while (i > 0) {
        i--;
        if ((s[i] & 0xC0) != 0x80 && --count_codepoints == 0)
            return i;
    }
    return 0;
}

size_t ot_utf8_encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}
