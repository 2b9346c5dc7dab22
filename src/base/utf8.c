/*
 * UTF-8 validation as a table-driven DFA: one byte -> one class lookup and one
 * transition lookup, no data-dependent branches except the ASCII fast path.
 *
 * Byte classes split the lead and continuation ranges exactly where RFC 3629
 * restricts the second byte (E0: A0..BF, ED: 80..9F, F0: 90..BF, F4: 80..8F),
 * so overlongs, surrogates and > U+10FFFF fail on the byte that makes them so.
 */
#include "base/utf8.h"

#include <errno.h>
#include <string.h>

enum {
    C_ASCII,   /* 00..7F */
    C_80_8F,   /* continuation, low */
    C_90_9F,   /* continuation, mid */
    C_A0_BF,   /* continuation, high */
    C_BAD,     /* C0, C1, F5..FF: never valid */
    C_L2,      /* C2..DF: 2-byte lead */
    C_E0,      /* 3-byte lead, second byte A0..BF (no overlong) */
    C_L3,      /* E1..EC, EE..EF */
    C_ED,      /* 3-byte lead, second byte 80..9F (no surrogates) */
    C_F0,      /* 4-byte lead, second byte 90..BF (no overlong) */
    C_L4,      /* F1..F3 */
    C_F4,      /* 4-byte lead, second byte 80..8F (<= U+10FFFF) */
    COUNT_CLASSES
};

enum {
    S_ACCEPT = UTF8_STATE_ACCEPT,
    S_REJECT = UTF8_STATE_REJECT,
    S_CONT1,   /* one more 80..BF */
    S_CONT2,   /* two more 80..BF */
    S_E0,      /* need A0..BF, then one more */
    S_ED,      /* need 80..9F, then one more */
    S_CONT3,   /* three more 80..BF */
    S_F0,      /* need 90..BF, then two more */
    S_F4,      /* need 80..8F, then two more */
    COUNT_STATES
};

static uint8_t byte_class(uint8_t b) {
    static const uint8_t classes[256] = {
        /* 00..7F */
        [0x00 ... 0x7f] = C_ASCII,
        [0x80 ... 0x8f] = C_80_8F,
        [0x90 ... 0x9f] = C_90_9F,
        [0xa0 ... 0xbf] = C_A0_BF,
        [0xc0 ... 0xc1] = C_BAD,
        [0xc2 ... 0xdf] = C_L2,
        [0xe0] = C_E0,
        [0xe1 ... 0xec] = C_L3,
        [0xed] = C_ED,
        [0xee ... 0xef] = C_L3,
        [0xf0] = C_F0,
        [0xf1 ... 0xf3] = C_L4,
        [0xf4] = C_F4,
        [0xf5 ... 0xff] = C_BAD,
    };
    return classes[b];
}

#define R S_REJECT
static const uint8_t transitions[COUNT_STATES][COUNT_CLASSES] = {
    /*              ASCII     80-8F    90-9F    A0-BF    BAD  L2       E0    L3       ED    F0    L4       F4 */
    [S_ACCEPT] = { S_ACCEPT, R,       R,       R,       R,   S_CONT1, S_E0, S_CONT2, S_ED, S_F0, S_CONT3, S_F4 },
    [S_REJECT] = { R,        R,       R,       R,       R,   R,       R,    R,       R,    R,    R,       R },
    [S_CONT1]  = { R,        S_ACCEPT, S_ACCEPT, S_ACCEPT, R, R,      R,    R,       R,    R,    R,       R },
    [S_CONT2]  = { R,        S_CONT1, S_CONT1, S_CONT1, R,   R,       R,    R,       R,    R,    R,       R },
    [S_E0]     = { R,        R,       R,       S_CONT1, R,   R,       R,    R,       R,    R,    R,       R },
    [S_ED]     = { R,        S_CONT1, S_CONT1, R,       R,   R,       R,    R,       R,    R,    R,       R },
    [S_CONT3]  = { R,        S_CONT2, S_CONT2, S_CONT2, R,   R,       R,    R,       R,    R,    R,       R },
    [S_F0]     = { R,        R,       S_CONT2, S_CONT2, R,   R,       R,    R,       R,    R,    R,       R },
    [S_F4]     = { R,        S_CONT2, R,       R,       R,   R,       R,    R,       R,    R,    R,       R },
};
#undef R

void utf8_init(utf8_validator *v) {
    v->state = S_ACCEPT;
}

int utf8_feed(utf8_validator *v, const uint8_t *p, size_t len, size_t *bad_offset) {
    uint8_t state = v->state;
    size_t i = 0;
    if (state == S_REJECT) {
        if (bad_offset)
            *bad_offset = 0;
        return -EILSEQ;
    }
    while (i < len) {
        /* JSON text is mostly ASCII: skip 8 ASCII bytes per step at a boundary. */
        if (state == S_ACCEPT) {
            while (len - i >= 8) {
                uint64_t word;
                memcpy(&word, p + i, sizeof word);
                if (word & UINT64_C(0x8080808080808080))
                    break;
                i += 8;
            }
            if (i == len)
                break;
        }
        state = transitions[state][byte_class(p[i])];
        if (state == S_REJECT) {
            v->state = S_REJECT;
            if (bad_offset)
                *bad_offset = i;
            return -EILSEQ;
        }
        i++;
    }
    v->state = state;
    return 0;
}

bool utf8_is_complete(const utf8_validator *v) {
    return v->state == S_ACCEPT;
}

bool utf8_validate(const uint8_t *p, size_t len) {
    utf8_validator v;
    utf8_init(&v);
    return utf8_feed(&v, p, len, NULL) == 0 && utf8_is_complete(&v);
}
