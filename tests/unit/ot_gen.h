/*
 * Shared generators and naive reference models for the OT property tests and
 * the client simulation (tests only, not part of the engine).
 *
 * Reproducibility: every property derives one PRNG per case from a base seed
 * and the case index. The base seed is RINGPAD_TEST_SEED (decimal or 0x hex;
 * "random" picks one from the clock) or a fixed default, and every failure
 * message names it together with the case index. RINGPAD_TEST_CASES overrides
 * the number of cases per property (default OT_GEN_CASES_DEFAULT).
 */
#ifndef RINGPAD_TESTS_OT_GEN_H
#define RINGPAD_TESTS_OT_GEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ringpad/ot.h>

enum {
    OT_GEN_CASES_DEFAULT = 10000,
    OT_GEN_CASES_MAX = 100000000,
};

/* xoshiro256** seeded through splitmix64. */
typedef struct ot_gen_rng {
    uint64_t s[4];
} ot_gen_rng;

void ot_gen_seed(ot_gen_rng *rng, uint64_t seed);
uint64_t ot_gen_next(ot_gen_rng *rng);
/* Uniform in [0, bound); 0 when bound == 0. */
uint64_t ot_gen_below(ot_gen_rng *rng, uint64_t bound);
/* True with probability percent/100. */
bool ot_gen_chance(ot_gen_rng *rng, unsigned percent);

/* The base seed (RINGPAD_TEST_SEED or the default) and the case count. */
uint64_t ot_gen_base_seed(void);
uint32_t ot_gen_case_count(void);
/* A well-mixed seed for case `index` of a property named by `salt`. */
uint64_t ot_gen_case_seed(uint64_t base_seed, uint64_t salt, uint64_t index);

/* Appends exactly count_codepoints random code points to out: ASCII (with JSON
 * specials and control characters), 2/3/4-byte UTF-8 boundaries, CJK, combining
 * marks, emoji with skin tones, ZWJ sequences and flags. Returns 0 or an ot_err. */
int ot_gen_text(ot_gen_rng *rng, uint64_t count_codepoints, ot_buf *out);

/* A random op whose base length is base_len_codepoints, built with the
 * canonical builders. `max_insert_codepoints` bounds one insert. */
int ot_gen_op(ot_gen_rng *rng, uint64_t base_len_codepoints, uint64_t max_insert_codepoints,
              ot_op *out);

/* ---- naive reference models (O(document), obviously right) ------------------ */

/* Code points in valid UTF-8. */
uint64_t ot_gen_utf8_count(const char *utf8, size_t len_bytes);
/* Byte offset of code point `pos` (pos <= count). */
size_t ot_gen_utf8_offset(const char *utf8, size_t len_bytes, uint64_t pos_codepoints);

/* Applies op to the UTF-8 doc by walking its components; appends to out.
 * Returns 0, or -1 when the op's base length does not match the doc. */
int ot_gen_ref_apply(const ot_op *op, const char *doc, size_t doc_len_bytes, ot_buf *out);

/* ot.js's transformIndex semantics, with side BEFORE stopping at an insert
 * that sits exactly at the position; a position past the base is first
 * clamped to the base length. */
uint64_t ot_gen_ref_position(uint64_t pos_codepoints, const ot_op *op, ot_side side);

/* The op as JSON text for failure messages (never NULL; uses scratch). */
const char *ot_gen_op_str(const ot_op *op, ot_buf *scratch);

#endif /* RINGPAD_TESTS_OT_GEN_H */
