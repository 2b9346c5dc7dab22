/* Generators and naive reference models for the OT tests; see ot_gen.h. */
#include "ot_gen.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Fixed so that a plain `./zigw build test` is reproducible run to run. */
#define OT_GEN_SEED_DEFAULT UINT64_C(0x52494e4750414421)

static uint64_t splitmix64(uint64_t *state) {
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void ot_gen_seed(ot_gen_rng *rng, uint64_t seed) {
    uint64_t sm = seed;
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&sm);
}

uint64_t ot_gen_next(ot_gen_rng *rng) {
    uint64_t *s = rng->s;
    const uint64_t result = rotl64(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

uint64_t ot_gen_below(ot_gen_rng *rng, uint64_t bound) {
    if (bound == 0) return 0;
    /* Rejection keeps it uniform; the loop ends with probability >= 1/2 per try. */
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    for (;;) {
        uint64_t x = ot_gen_next(rng);
        if (x < limit) return x % bound;
    }
}

bool ot_gen_chance(ot_gen_rng *rng, unsigned percent) { return ot_gen_below(rng, 100) < percent; }

uint64_t ot_gen_base_seed(void) {
    const char *env = getenv("RINGPAD_TEST_SEED");
    if (env == NULL || *env == '\0') return OT_GEN_SEED_DEFAULT;
    if (strcmp(env, "random") == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t sm = (uint64_t)ts.tv_sec * UINT64_C(1000000000) + (uint64_t)ts.tv_nsec;
        return splitmix64(&sm);
    }
    return strtoull(env, NULL, 0);
}

uint32_t ot_gen_case_count(void) {
    const char *env = getenv("RINGPAD_TEST_CASES");
    if (env == NULL || *env == '\0') return OT_GEN_CASES_DEFAULT;
    unsigned long long n = strtoull(env, NULL, 0);
    if (n == 0) n = 1;
    if (n > OT_GEN_CASES_MAX) n = OT_GEN_CASES_MAX;
    return (uint32_t)n;
}

uint64_t ot_gen_case_seed(uint64_t base_seed, uint64_t salt, uint64_t index) {
    uint64_t sm = base_seed ^ (salt * UINT64_C(0xd1342543de82ef95));
    uint64_t a = splitmix64(&sm);
    sm = a ^ index;
    return splitmix64(&sm);
}

/* Multi-byte atoms: UTF-8 length boundaries, CJK, combining marks, emoji with
 * modifiers, ZWJ sequences and flags (several code points that look like one). */
static const char *const atoms[] = {
    "\xc2\x80",                 /* U+0080, first 2-byte */
    "\xdf\xbf",                 /* U+07FF, last 2-byte */
    "\xe0\xa0\x80",             /* U+0800, first 3-byte */
    "\xed\x9f\xbf",             /* U+D7FF, just below the surrogates */
    "\xee\x80\x80",             /* U+E000, just above the surrogates */
    "\xef\xbf\xbd",             /* U+FFFD */
    "\xf0\x90\x80\x80",         /* U+10000, first 4-byte */
    "\xf4\x8f\xbf\xbf",         /* U+10FFFF, last code point */
    "\xc3\xa9",                 /* é precomposed */
    "e\xcc\x81",                /* e + combining acute (2 code points) */
    "\xcc\x88",                 /* lone combining diaeresis */
    "a\xcc\x8a\xcc\x81",        /* a + two combining marks */
    "\xd0\x96",                 /* Ж */
    "\xce\xbb",                 /* λ */
    "\xe4\xb8\xad",             /* 中 */
    "\xe6\x96\x87",             /* 文 */
    "\xe5\xad\x97",             /* 字 */
    "\xed\x95\x9c",             /* 한 */
    "\xe2\x82\xac",             /* € */
    "\xe2\x80\x8d",             /* lone ZWJ */
    "\xe2\x80\xa8",             /* U+2028 line separator */
    "\xf0\x9f\x98\x80",         /* 😀 */
    "\xf0\x9d\x84\x9e",         /* 𝄞 */
    "\xf0\x9f\x91\x8d\xf0\x9f\x8f\xbd",                 /* 👍🏽 */
    "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb",     /* 👩‍💻 (3 cp) */
    "\xf0\x9f\x91\xa8\xe2\x80\x8d\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x91\xa7", /* 👨‍👩‍👧 (5 cp) */
    "\xf0\x9f\x87\xab\xf0\x9f\x87\xb7",                 /* 🇫🇷 */
};

static const char ascii_plain[] = "abcdefghijklmnopqrstuvwxyz0123456789 ";
/* Characters a JSON serializer must escape or may be tempted to. */
static const char ascii_special[] = "\"\\/\t\n\r\b\f\x01\x1f\x7f";

int ot_gen_text(ot_gen_rng *rng, uint64_t count_codepoints, ot_buf *out) {
    uint64_t remaining = count_codepoints;
    while (remaining > 0) {
        const uint64_t roll = ot_gen_below(rng, 100);
        int rc;
        if (roll < 45) {
            char c = ascii_plain[ot_gen_below(rng, sizeof ascii_plain - 1)];
            rc = ot_buf_append(out, &c, 1);
            remaining -= 1;
        } else if (roll < 50) {
            char c = ascii_special[ot_gen_below(rng, sizeof ascii_special - 1)];
            rc = ot_buf_append(out, &c, 1);
            remaining -= 1;
        } else {
            const char *atom = atoms[ot_gen_below(rng, sizeof atoms / sizeof atoms[0])];
            size_t len = strlen(atom);
            uint64_t cps = ot_gen_utf8_count(atom, len);
            if (cps > remaining) { /* a ZWJ sequence does not fit: one code point instead */
                atom = "\xf0\x9f\x98\x80";
                len = 4;
                cps = 1;
            }
            rc = ot_buf_append(out, atom, len);
            remaining -= cps;
        }
        if (rc != 0) return rc;
    }
    return OT_OK;
}

/* Mostly short runs (so that components collide), sometimes long ones. */
static uint64_t gen_run(ot_gen_rng *rng, uint64_t max) {
    if (max == 0) return 0;
    uint64_t cap = ot_gen_chance(rng, 80) ? 4 : max;
    if (cap > max) cap = max;
    return 1 + ot_gen_below(rng, cap);
}

int ot_gen_op(ot_gen_rng *rng, uint64_t base_len_codepoints, uint64_t max_insert_codepoints,
              ot_op *out) {
    ot_op_clear(out);
    ot_buf text;
    ot_buf_init(&text);
    uint64_t pos = 0;
    const uint64_t steps = ot_gen_below(rng, 7);
    int rc = OT_OK;
    for (uint64_t i = 0; i < steps && rc == OT_OK; i++) {
        const uint64_t remaining = base_len_codepoints - pos;
        const uint64_t roll = ot_gen_below(rng, 100);
        if (roll < 35 && remaining > 0) {
            uint64_t n = gen_run(rng, remaining);
            rc = ot_op_retain(out, n);
            pos += n;
        } else if (roll < 65 && remaining > 0) {
            uint64_t n = gen_run(rng, remaining);
            rc = ot_op_delete(out, n);
            pos += n;
        } else if (max_insert_codepoints > 0) {
            ot_buf_clear(&text);
            rc = ot_gen_text(rng, gen_run(rng, max_insert_codepoints), &text);
            if (rc == OT_OK) rc = ot_op_insert(out, text.data, text.len);
        }
    }
    if (rc == OT_OK && pos < base_len_codepoints) {
        /* Ops often end in a delete, not only in a retain. */
        if (ot_gen_chance(rng, 15)) rc = ot_op_delete(out, base_len_codepoints - pos);
        else rc = ot_op_retain(out, base_len_codepoints - pos);
    }
    if (rc == OT_OK && max_insert_codepoints > 0 && ot_gen_chance(rng, 10)) {
        ot_buf_clear(&text);
        rc = ot_gen_text(rng, gen_run(rng, max_insert_codepoints), &text);
        if (rc == OT_OK) rc = ot_op_insert(out, text.data, text.len);
    }
    ot_buf_free(&text);
    return rc;
}

uint64_t ot_gen_utf8_count(const char *utf8, size_t len_bytes) {
    uint64_t n = 0;
    for (size_t i = 0; i < len_bytes; i++)
        if (((unsigned char)utf8[i] & 0xC0) != 0x80) n++;
    return n;
}

size_t ot_gen_utf8_offset(const char *utf8, size_t len_bytes, uint64_t pos_codepoints) {
    uint64_t seen = 0;
    for (size_t i = 0; i < len_bytes; i++) {
        if (((unsigned char)utf8[i] & 0xC0) != 0x80) {
            if (seen == pos_codepoints) return i;
            seen++;
        }
    }
    assert(seen == pos_codepoints);
    return len_bytes;
}

int ot_gen_ref_apply(const ot_op *op, const char *doc, size_t doc_len_bytes, ot_buf *out) {
    if (op->base_len_codepoints != ot_gen_utf8_count(doc, doc_len_bytes)) return -1;
    size_t at = 0; /* byte offset in doc */
    for (uint32_t i = 0; i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        if (c->kind == OT_INSERT) {
            if (ot_buf_append(out, op->text + c->text_offset_bytes, c->text_len_bytes) != 0) return -1;
            continue;
        }
        const size_t end = at + ot_gen_utf8_offset(doc + at, doc_len_bytes - at, c->count_codepoints);
        if (c->kind == OT_RETAIN && ot_buf_append(out, doc + at, end - at) != 0) return -1;
        at = end;
    }
    if (out->data == NULL && ot_buf_append(out, "", 0) != 0) return -1;
    return at == doc_len_bytes ? 0 : -1;
}

uint64_t ot_gen_ref_position(uint64_t pos_codepoints, const ot_op *op, ot_side side) {
    /* A position past the base is treated as the end of the base text. */
    if (pos_codepoints > op->base_len_codepoints) pos_codepoints = op->base_len_codepoints;
    uint64_t remaining = pos_codepoints; /* base code points still before the position */
    uint64_t moved = pos_codepoints;
    for (uint32_t i = 0; i < op->count_components; i++) {
        const ot_component *c = &op->components[i];
        if (c->kind == OT_RETAIN) {
            if (remaining < c->count_codepoints) break;
            remaining -= c->count_codepoints;
        } else if (c->kind == OT_INSERT) {
            if (remaining == 0 && side == OT_SIDE_BEFORE) break;
            moved += c->count_codepoints;
        } else {
            const uint64_t gone = remaining < c->count_codepoints ? remaining : c->count_codepoints;
            moved -= gone;
            if (remaining < c->count_codepoints) break; /* inside the deleted range */
            remaining -= gone;
        }
    }
    return moved;
}

const char *ot_gen_op_str(const ot_op *op, ot_buf *scratch) {
    ot_buf_clear(scratch);
    if (ot_op_to_json(op, scratch) != 0 || scratch->data == NULL) return "<unserializable op>";
    return scratch->data;
}
