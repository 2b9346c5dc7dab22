/*
 * Runs the shared OT test vectors in the JSON files of tests/vectors/ (format in
 * tests/vectors/README.md); the web editor's JS client runs the same files.
 * Every op in a vector is built twice, through ot_op_push_int/_string (the
 * decoder path) and through ot_op_parse_json of its compact text, and the two
 * must agree. Expected ops are compared both structurally and as canonical
 * JSON text.
 */
#include <criterion/criterion.h>

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ringpad/ot.h>

enum { VEC_PATH_MAX_BYTES = 256, VEC_HEX_MAX_BYTES = 4096 };

static const struct {
    const char *name;
    int err;
} vec_errors[] = {
    {"json_syntax", OT_ERR_JSON_SYNTAX},
    {"not_array", OT_ERR_NOT_ARRAY},
    {"bad_component", OT_ERR_BAD_COMPONENT},
    {"zero_count", OT_ERR_ZERO_COUNT},
    {"count_range", OT_ERR_COUNT_RANGE},
    {"empty_insert", OT_ERR_EMPTY_INSERT},
    {"bad_utf8", OT_ERR_BAD_UTF8},
    {"lone_surrogate", OT_ERR_LONE_SURROGATE},
    {"base_length", OT_ERR_BASE_LENGTH},
    {"too_large", OT_ERR_TOO_LARGE},
    {"too_many_components", OT_ERR_TOO_MANY_COMPONENTS},
};

static int vec_error_code(const char *name) {
    for (size_t i = 0; i < sizeof vec_errors / sizeof vec_errors[0]; i++)
        if (strcmp(vec_errors[i].name, name) == 0) return vec_errors[i].err;
    cr_assert_fail("unknown error name \"%s\" in a vector", name);
    return 0;
}

static const char *S(const ot_buf *b) { return b->data != NULL ? b->data : ""; }

/* The "cases" array of tests/vectors/<file>; the root is returned for json_decref. */
static json_t *vec_load(const char *file, json_t **cases) {
    char path[VEC_PATH_MAX_BYTES];
    snprintf(path, sizeof path, "tests/vectors/%s", file);
    json_error_t error;
    json_t *root = json_load_file(path, 0, &error);
    cr_assert_not_null(root, "%s:%d: %s (tests run from the repository root)", path, error.line, error.text);
    *cases = json_object_get(root, "cases");
    cr_assert(json_is_array(*cases) && json_array_size(*cases) > 0, "%s: no \"cases\" array", path);
    return root;
}

static const char *vec_name(json_t *c) {
    const char *name = json_string_value(json_object_get(c, "name"));
    cr_assert_not_null(name, "a vector case without a name");
    return name;
}

static json_t *vec_get(json_t *c, const char *key) {
    json_t *v = json_object_get(c, key);
    cr_assert_not_null(v, "case \"%s\": no \"%s\"", vec_name(c), key);
    return v;
}

/* The document text of a case. */
static const char *vec_str(json_t *c, const char *key, size_t *len) {
    json_t *v = vec_get(c, key);
    cr_assert(json_is_string(v), "case \"%s\": \"%s\" is not a string", vec_name(c), key);
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Builds `out` from a JSON array through both paths and checks they agree. */
static void vec_op(json_t *c, const char *key, ot_op *out) {
    json_t *arr = vec_get(c, key);
    cr_assert(json_is_array(arr), "case \"%s\": \"%s\" is not an array", vec_name(c), key);
    const ot_limits limits = ot_limits_default();
    ot_op_clear(out);
    size_t i;
    json_t *item;
    json_array_foreach(arr, i, item) {
        int rc;
        if (json_is_integer(item)) rc = ot_op_push_int(out, json_integer_value(item), &limits);
        else if (json_is_string(item)) rc = ot_op_push_string(out, json_string_value(item), json_string_length(item), &limits);
        else rc = OT_ERR_BAD_COMPONENT;
        cr_assert_eq(rc, OT_OK, "case \"%s\": %s[%zu] refused: %s", vec_name(c), key, i, ot_err_str(rc));
    }
    char *text = json_dumps(arr, JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_not_null(text);
    ot_op parsed;
    ot_op_init(&parsed);
    size_t err_at = 0;
    int rc = ot_op_parse_json(&parsed, text, strlen(text), NULL, &err_at);
    cr_assert_eq(rc, OT_OK, "case \"%s\": parse of %s %s: %s at byte %zu", vec_name(c), key, text, ot_err_str(rc), err_at);
    cr_assert(ot_op_equal(&parsed, out), "case \"%s\": %s parsed and pushed differ", vec_name(c), key);
    ot_op_free(&parsed);
    free(text);
}

/* `actual` equals the op in c[key], structurally and as canonical text. */
static void vec_expect_op(json_t *c, const char *key, const ot_op *actual) {
    ot_op want;
    ot_op_init(&want);
    vec_op(c, key, &want);
    ot_buf got_text;
    ot_buf_init(&got_text);
    cr_assert_eq(ot_op_to_json(actual, &got_text), OT_OK);
    char *want_text = json_dumps(vec_get(c, key), JSON_COMPACT | JSON_ENCODE_ANY);
    cr_assert_not_null(want_text);
    cr_assert(ot_op_equal(actual, &want), "case \"%s\": %s = %s, want %s", vec_name(c), key, S(&got_text), want_text);
    cr_assert_str_eq(S(&got_text), want_text, "case \"%s\": %s serialized as %s, want %s", vec_name(c), key,
                     S(&got_text), want_text);
    free(want_text);
    ot_buf_free(&got_text);
    ot_op_free(&want);
}

/* out = apply(op, text), asserting success. */
static void vec_apply(json_t *c, const ot_op *op, const char *text, size_t len, ot_buf *out) {
    ot_buf_clear(out);
    int rc = ot_apply_utf8(op, text, len, out);
    cr_assert_eq(rc, OT_OK, "case \"%s\": apply to \"%s\": %s", vec_name(c), text, ot_err_str(rc));
}

static void vec_expect_text(json_t *c, const char *key, const ot_buf *actual, const char *what) {
    size_t len;
    const char *want = vec_str(c, key, &len);
    cr_assert(actual->len == len && (len == 0 || memcmp(actual->data, want, len) == 0),
              "case \"%s\": %s = \"%s\", want \"%s\"", vec_name(c), what, S(actual), want);
}

Test(ot_vectors, transform) {
    json_t *cases;
    json_t *root = vec_load("transform.json", &cases);
    ot_op a, b, ap, bp;
    ot_op_init(&a);
    ot_op_init(&b);
    ot_op_init(&ap);
    ot_op_init(&bp);
    ot_buf t1, t2;
    ot_buf_init(&t1);
    ot_buf_init(&t2);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        size_t doc_len;
        const char *doc = vec_str(c, "doc", &doc_len);
        vec_op(c, "a", &a);
        vec_op(c, "b", &b);
        int rc = ot_transform(&a, &b, &ap, &bp);
        cr_assert_eq(rc, OT_OK, "case \"%s\": transform: %s", vec_name(c), ot_err_str(rc));
        vec_expect_op(c, "a_prime", &ap);
        vec_expect_op(c, "b_prime", &bp);
        vec_apply(c, &a, doc, doc_len, &t1);
        vec_apply(c, &bp, S(&t1), t1.len, &t2);
        vec_expect_text(c, "result", &t2, "apply(apply(doc, a), b')");
        vec_apply(c, &b, doc, doc_len, &t1);
        vec_apply(c, &ap, S(&t1), t1.len, &t2);
        vec_expect_text(c, "result", &t2, "apply(apply(doc, b), a')");
        /* Half results only. */
        cr_assert_eq(ot_transform(&a, &b, &ap, NULL), OT_OK);
        vec_expect_op(c, "a_prime", &ap);
        cr_assert_eq(ot_transform(&a, &b, NULL, &bp), OT_OK);
        vec_expect_op(c, "b_prime", &bp);
    }
    ot_buf_free(&t1);
    ot_buf_free(&t2);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&ap);
    ot_op_free(&bp);
    json_decref(root);
}

Test(ot_vectors, compose) {
    json_t *cases;
    json_t *root = vec_load("compose.json", &cases);
    ot_op a, b, ab;
    ot_op_init(&a);
    ot_op_init(&b);
    ot_op_init(&ab);
    ot_buf t1, t2;
    ot_buf_init(&t1);
    ot_buf_init(&t2);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        size_t doc_len;
        const char *doc = vec_str(c, "doc", &doc_len);
        vec_op(c, "a", &a);
        vec_op(c, "b", &b);
        int rc = ot_compose(&a, &b, &ab);
        cr_assert_eq(rc, OT_OK, "case \"%s\": compose: %s", vec_name(c), ot_err_str(rc));
        vec_expect_op(c, "composed", &ab);
        vec_apply(c, &ab, doc, doc_len, &t1);
        vec_expect_text(c, "result", &t1, "apply(doc, composed)");
        vec_apply(c, &a, doc, doc_len, &t1);
        vec_apply(c, &b, S(&t1), t1.len, &t2);
        vec_expect_text(c, "result", &t2, "apply(apply(doc, a), b)");
    }
    ot_buf_free(&t1);
    ot_buf_free(&t2);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&ab);
    json_decref(root);
}

Test(ot_vectors, apply) {
    json_t *cases;
    json_t *root = vec_load("apply.json", &cases);
    ot_op op;
    ot_op_init(&op);
    ot_buf out;
    ot_buf_init(&out);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        size_t doc_len;
        const char *doc = vec_str(c, "doc", &doc_len);
        vec_op(c, "op", &op);
        ot_text *text = ot_text_from_utf8(doc, doc_len);
        cr_assert_not_null(text, "case \"%s\": doc refused", vec_name(c));
        json_t *error = json_object_get(c, "error");
        if (error != NULL) {
            const int want = vec_error_code(json_string_value(error));
            ot_buf_clear(&out);
            cr_assert_eq(ot_apply_utf8(&op, doc, doc_len, &out), want, "case \"%s\"", vec_name(c));
            cr_assert_eq(ot_apply(&op, text), want, "case \"%s\" (ot_text)", vec_name(c));
            cr_assert(ot_text_equals(text, doc, doc_len), "case \"%s\": failed apply changed the text", vec_name(c));
        } else {
            vec_apply(c, &op, doc, doc_len, &out);
            vec_expect_text(c, "result", &out, "apply_utf8");
            cr_assert_eq(ot_apply(&op, text), OT_OK, "case \"%s\" (ot_text)", vec_name(c));
            ot_buf_clear(&out);
            cr_assert_eq(ot_text_to_buf(text, &out), OT_OK);
            vec_expect_text(c, "result", &out, "ot_apply on ot_text");
        }
        ot_text_free(text);
    }
    ot_buf_free(&out);
    ot_op_free(&op);
    json_decref(root);
}

Test(ot_vectors, invert) {
    json_t *cases;
    json_t *root = vec_load("invert.json", &cases);
    ot_op op, inv;
    ot_op_init(&op);
    ot_op_init(&inv);
    ot_buf t1, t2;
    ot_buf_init(&t1);
    ot_buf_init(&t2);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        size_t doc_len;
        const char *doc = vec_str(c, "doc", &doc_len);
        vec_op(c, "op", &op);
        ot_text *text = ot_text_from_utf8(doc, doc_len);
        cr_assert_not_null(text);
        int rc = ot_invert(&op, text, &inv);
        cr_assert_eq(rc, OT_OK, "case \"%s\": invert: %s", vec_name(c), ot_err_str(rc));
        vec_expect_op(c, "inverse", &inv);
        vec_apply(c, &op, doc, doc_len, &t1);
        vec_apply(c, &inv, S(&t1), t1.len, &t2);
        vec_expect_text(c, "doc", &t2, "apply(apply(doc, op), inverse)");
        ot_text_free(text);
    }
    ot_buf_free(&t1);
    ot_buf_free(&t2);
    ot_op_free(&op);
    ot_op_free(&inv);
    json_decref(root);
}

Test(ot_vectors, positions) {
    json_t *cases;
    json_t *root = vec_load("positions.json", &cases);
    ot_op op;
    ot_op_init(&op);
    size_t i, k;
    json_t *c, *p;
    json_array_foreach(cases, i, c) {
        vec_op(c, "op", &op);
        json_t *positions = vec_get(c, "positions");
        cr_assert(json_array_size(positions) > 0);
        json_array_foreach(positions, k, p) {
            const json_int_t pos = json_integer_value(json_object_get(p, "pos"));
            const json_int_t want = json_integer_value(json_object_get(p, "expected"));
            const char *side_name = json_string_value(json_object_get(p, "side"));
            cr_assert(side_name != NULL && (strcmp(side_name, "before") == 0 || strcmp(side_name, "after") == 0),
                      "case \"%s\": bad side", vec_name(c));
            const ot_side side = strcmp(side_name, "before") == 0 ? OT_SIDE_BEFORE : OT_SIDE_AFTER;
            const uint64_t got = ot_transform_position((uint64_t)pos, &op, side);
            cr_assert_eq(got, (uint64_t)want, "case \"%s\": position %lld side %s -> %" PRIu64 ", want %lld",
                         vec_name(c), (long long)pos, side_name, got, (long long)want);
        }
    }
    ot_op_free(&op);
    json_decref(root);
}

static int hex_digit(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* Limits from a case: the defaults with its "limits" fields applied. */
static ot_limits vec_limits(json_t *c) {
    ot_limits limits = ot_limits_default();
    json_t *l = json_object_get(c, "limits");
    if (l == NULL) return limits;
    const char *key;
    json_t *v;
    json_object_foreach(l, key, v) {
        cr_assert(json_is_integer(v) && json_integer_value(v) > 0, "case \"%s\": limit %s", vec_name(c), key);
        const json_int_t n = json_integer_value(v);
        if (strcmp(key, "max_op_bytes") == 0) limits.max_op_bytes = (uint32_t)n;
        else if (strcmp(key, "max_op_components") == 0) limits.max_op_components = (uint32_t)n;
        else if (strcmp(key, "max_doc_codepoints") == 0) limits.max_doc_codepoints = (uint64_t)n;
        else cr_assert_fail("case \"%s\": unknown limit %s", vec_name(c), key);
    }
    return limits;
}

Test(ot_vectors, parse_errors) {
    json_t *cases;
    json_t *root = vec_load("parse_errors.json", &cases);
    ot_op op;
    ot_op_init(&op);
    char bytes[VEC_HEX_MAX_BYTES];
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        const int want = vec_error_code(json_string_value(vec_get(c, "error")));
        const ot_limits limits = vec_limits(c);
        const char *text;
        size_t len;
        json_t *hex = json_object_get(c, "json_hex");
        if (hex != NULL) {
            const char *h = json_string_value(hex);
            cr_assert_not_null(h);
            len = strlen(h) / 2;
            cr_assert(strlen(h) % 2 == 0 && len <= sizeof bytes, "case \"%s\": bad json_hex", vec_name(c));
            for (size_t k = 0; k < len; k++) {
                const int hi = hex_digit(h[2 * k]), lo = hex_digit(h[2 * k + 1]);
                cr_assert(hi >= 0 && lo >= 0, "case \"%s\": bad json_hex", vec_name(c));
                bytes[k] = (char)(hi * 16 + lo);
            }
            text = bytes;
        } else {
            text = vec_str(c, "json", &len);
        }
        size_t err_at = SIZE_MAX;
        const int rc = ot_op_parse_json(&op, text, len, &limits, &err_at);
        cr_assert_eq(rc, want, "case \"%s\": got %d (%s), want %d (%s)", vec_name(c), rc, ot_err_str(rc), want,
                     ot_err_str(want));
        cr_assert_leq(err_at, len, "case \"%s\": error offset %zu past the input (%zu bytes)", vec_name(c), err_at, len);
        cr_assert_str_neq(ot_err_str(rc), "unknown error");

        /* Where jansson can read the op as ints and strings, the push API agrees. */
        json_t *parsed = hex == NULL ? json_loadb(text, len, JSON_DECODE_ANY, NULL) : NULL;
        if (json_is_array(parsed)) {
            bool expressible = true;
            size_t k;
            json_t *item;
            json_array_foreach(parsed, k, item) {
                if (!json_is_integer(item) && !json_is_string(item)) expressible = false;
            }
            if (expressible) {
                ot_op_clear(&op);
                int push_rc = OT_OK;
                json_array_foreach(parsed, k, item) {
                    if (push_rc != OT_OK) break;
                    push_rc = json_is_integer(item)
                                  ? ot_op_push_int(&op, json_integer_value(item), &limits)
                                  : ot_op_push_string(&op, json_string_value(item), json_string_length(item), &limits);
                }
                cr_assert_eq(push_rc, want, "case \"%s\": push API gave %s, want %s", vec_name(c),
                             ot_err_str(push_rc), ot_err_str(want));
            }
        }
        json_decref(parsed);
    }
    ot_op_free(&op);
    json_decref(root);
}

Test(ot_vectors, canonical) {
    json_t *cases;
    json_t *root = vec_load("canonical.json", &cases);
    ot_op op;
    ot_op_init(&op);
    ot_buf out;
    ot_buf_init(&out);
    size_t i;
    json_t *c;
    json_array_foreach(cases, i, c) {
        size_t len, want_len;
        const char *text = vec_str(c, "json", &len);
        const char *want = vec_str(c, "canonical", &want_len);
        size_t err_at = 0;
        int rc = ot_op_parse_json(&op, text, len, NULL, &err_at);
        cr_assert_eq(rc, OT_OK, "case \"%s\": %s at byte %zu", vec_name(c), ot_err_str(rc), err_at);
        ot_buf_clear(&out);
        cr_assert_eq(ot_op_to_json(&op, &out), OT_OK);
        cr_assert_str_eq(S(&out), want, "case \"%s\": %s serialized as %s, want %s", vec_name(c), text, S(&out), want);
        /* The canonical text is a fixed point. */
        cr_assert_eq(ot_op_parse_json(&op, want, want_len, NULL, NULL), OT_OK);
        ot_buf_clear(&out);
        cr_assert_eq(ot_op_to_json(&op, &out), OT_OK);
        cr_assert_str_eq(S(&out), want, "case \"%s\": canonical text not stable", vec_name(c));
    }
    ot_buf_free(&out);
    ot_op_free(&op);
    json_decref(root);
}
