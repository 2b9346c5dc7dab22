/* UTF-8 validation and code point arithmetic for the OT engine. */
#include "ot_internal.h"

size_t ot_utf8_seq_len(const unsigned char *s, size_t len_bytes)
{
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
                     size_t *out_bad_offset_bytes)
{
    const unsigned char *s = (const unsigned char *)utf8;
    uint64_t count = 0;
    size_t i = 0;
    while (i < len_bytes) {
        /* ASCII fast path: most text is mostly ASCII. */
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

uint64_t ot_utf8_count(const char *utf8, size_t len_bytes)
{
    const unsigned char *s = (const unsigned char *)utf8;
    uint64_t count = 0;
    for (size_t i = 0; i < len_bytes; i++)
        count += (s[i] & 0xC0) != 0x80;
    return count;
}

size_t ot_utf8_advance(const char *utf8, size_t len_bytes, uint64_t count_codepoints)
{
    const unsigned char *s = (const unsigned char *)utf8;
    size_t i = 0;
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

size_t ot_utf8_encode(uint32_t cp, char out[4])
{
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
