/* Unit tests for request-target decoding (src/http/path.c). */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http/path.h"

static int decode(const char *target, char *out, size_t cap) {
    size_t len = 12345;
    int rc = path_decode(target, strlen(target), out, cap, &len);
    if (rc == PATH_OK)
        cr_assert_eq(len, strlen(out));
    else
        cr_assert_str_eq(out, "", "error leaves an empty output");
    return rc;
}

static void assert_decodes(const char *target, const char *want) {
    char out[PATH_MAX_DECODED_BYTES + 1];
    cr_assert_eq(decode(target, out, sizeof out), PATH_OK, "%s", target);
    cr_assert_str_eq(out, want, "%s", target);
}

static void assert_refused(const char *target, int err) {
    char out[PATH_MAX_DECODED_BYTES + 1];
    int rc = decode(target, out, sizeof out);
    cr_assert_eq(rc, err, "%s: got %d (%s), want %d", target, rc, path_err_str(rc), err);
}

Test(path, normal_paths) {
    assert_decodes("/", "");
    assert_decodes("/index.html", "index.html");
    assert_decodes("/js/app.js", "js/app.js");
    assert_decodes("/a//b///c", "a/b/c");
    assert_decodes("/dir/", "dir");
    assert_decodes("//", "");
    assert_decodes("/a%20b.txt", "a b.txt");
    assert_decodes("/caf%C3%A9", "caf\xc3\xa9");
    assert_decodes("/%7euser", "~user");
    assert_decodes("/a+b", "a+b"); /* '+' is literal in a path */
    assert_decodes("/.well-known/x", ".well-known/x");
    assert_decodes("/...", "...");
    assert_decodes("/..a", "..a");
    assert_decodes("/a..", "a..");
    assert_decodes("/a.b.c", "a.b.c");
}

Test(path, query_and_fragment_stripped) {
    assert_decodes("/a.js?v=1", "a.js");
    assert_decodes("/a.js?x=%2f..", "a.js");
    assert_decodes("/?", "");
    assert_decodes("/x#frag", "x");
    assert_decodes("/x?y#z", "x");
}

Test(path, not_origin_form) {
    assert_refused("", PATH_ERR_NOT_ORIGIN_FORM);
    assert_refused("a/b", PATH_ERR_NOT_ORIGIN_FORM);
    assert_refused("?x", PATH_ERR_NOT_ORIGIN_FORM);
    assert_refused("http://h/x", PATH_ERR_NOT_ORIGIN_FORM);
    assert_refused("*", PATH_ERR_NOT_ORIGIN_FORM);
}

Test(path, dot_segments_raw_and_encoded) {
    static const char *const bad[] = {
        "/..",          "/../etc/passwd", "/a/../../b",  "/a/..",       "/.",
        "/./a",         "/a/./b",         "/%2e%2e/x",   "/%2E%2E/x",   "/.%2e/x",
        "/%2e./x",      "/a/%2e%2e",      "/%2e",        "/a/%2E/b",    "//..//x",
        "/..?q",        "/..#f",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_refused(bad[i], PATH_ERR_DOT_SEGMENT);
}

Test(path, encoded_slash) {
    assert_refused("/a%2fb", PATH_ERR_ENCODED_SLASH);
    assert_refused("/a%2Fb", PATH_ERR_ENCODED_SLASH);
    assert_refused("/..%2f..%2fetc", PATH_ERR_ENCODED_SLASH);
    assert_refused("/%2f", PATH_ERR_ENCODED_SLASH);
}

Test(path, nul) {
    assert_refused("/a%00.html", PATH_ERR_NUL);
    assert_refused("/%00", PATH_ERR_NUL);
    static const char raw[] = "/a\0b";
    char out[64];
    size_t len = 0;
    cr_assert_eq(path_decode(raw, sizeof raw - 1, out, sizeof out, &len), PATH_ERR_NUL);
}

Test(path, backslash) {
    assert_refused("/a\\b", PATH_ERR_BACKSLASH);
    assert_refused("/..\\..\\etc", PATH_ERR_BACKSLASH);
    assert_refused("/a%5cb", PATH_ERR_BACKSLASH);
    assert_refused("/a%5Cb", PATH_ERR_BACKSLASH);
}

Test(path, control_bytes) {
    assert_refused("/a%0ab", PATH_ERR_CONTROL);
    assert_refused("/a%0D%0Ab", PATH_ERR_CONTROL);
    assert_refused("/a%1f", PATH_ERR_CONTROL);
    assert_refused("/a%7f", PATH_ERR_CONTROL);
    assert_refused("/a\tb", PATH_ERR_CONTROL);
    assert_refused("/a\x7f", PATH_ERR_CONTROL);
}

Test(path, bad_escapes) {
    assert_refused("/%", PATH_ERR_BAD_ESCAPE);
    assert_refused("/%2", PATH_ERR_BAD_ESCAPE);
    assert_refused("/%zz", PATH_ERR_BAD_ESCAPE);
    assert_refused("/%g0", PATH_ERR_BAD_ESCAPE);
    assert_refused("/a%2/b", PATH_ERR_BAD_ESCAPE);
    assert_refused("/%%32%65", PATH_ERR_BAD_ESCAPE);
    /* Double encoding decodes once: "%252e" is the literal "%2e", a plain name. */
    assert_decodes("/%252e%252e", "%2e%2e");
}

Test(path, escape_at_query_boundary) {
    /* The escape must be complete inside the path part. */
    assert_refused("/a%2?x", PATH_ERR_BAD_ESCAPE);
    assert_refused("/a%?2f", PATH_ERR_BAD_ESCAPE);
}

Test(path, too_long) {
    size_t n = PATH_MAX_DECODED_BYTES + 1;
    char *t = malloc(n + 2);
    cr_assert_not_null(t);
    t[0] = '/';
    memset(t + 1, 'a', n);
    t[n + 1] = '\0';
    assert_refused(t, PATH_ERR_TOO_LONG);
    t[n] = '\0'; /* exactly PATH_MAX_DECODED_BYTES */
    char out[PATH_MAX_DECODED_BYTES + 1];
    cr_assert_eq(decode(t, out, sizeof out), PATH_OK);
    cr_assert_eq(strlen(out), PATH_MAX_DECODED_BYTES);
    free(t);

    /* Too many segments. */
    char segs[PATH_MAX_SEGMENTS * 2 + 8];
    size_t k = 0;
    for (size_t i = 0; i < PATH_MAX_SEGMENTS + 1; i++) {
        segs[k++] = '/';
        segs[k++] = 'x';
    }
    segs[k] = '\0';
    assert_refused(segs, PATH_ERR_TOO_LONG);
    segs[k - 2] = '\0';
    assert_decodes(segs, segs + 1);
}

Test(path, small_buffer) {
    char out[4];
    cr_assert_eq(decode("/abc", out, sizeof out), PATH_OK);
    cr_assert_str_eq(out, "abc");
    cr_assert_eq(decode("/abcd", out, sizeof out), PATH_ERR_NO_SPACE);
    cr_assert_eq(decode("/ab/c", out, sizeof out), PATH_ERR_NO_SPACE);
    size_t len = 0;
    cr_assert_eq(path_decode("/a", 2, out, 0, &len), PATH_ERR_NO_SPACE);
}

Test(path, target_len_bounds_input) {
    char out[64];
    size_t len = 0;
    cr_assert_eq(path_decode("/abc/../x", 4, out, sizeof out, &len), PATH_OK);
    cr_assert_str_eq(out, "abc");
}

Test(path, err_str) {
    cr_assert_str_eq(path_err_str(PATH_OK), "ok");
    cr_assert_str_eq(path_err_str(PATH_ERR_DOT_SEGMENT), "dot segment in path");
    cr_assert_str_eq(path_err_str(PATH_ERR_ENCODED_SLASH), "encoded '/' in path");
    cr_assert_str_eq(path_err_str(-100), "unknown path error");
    for (int e = PATH_ERR_NO_SPACE; e < 0; e++)
        cr_assert_str_neq(path_err_str(e), "unknown path error", "%d", e);
}

static int query(const char *target, const char *name, char *out, size_t cap) {
    return path_query_param(target, strlen(target), name, out, cap);
}

Test(path, query_param_found) {
    char out[64];
    cr_assert_eq(query("/d/x?v=12&name=a%20b+c", "v", out, sizeof out), 2);
    cr_assert_str_eq(out, "12");
    cr_assert_eq(query("/d/x?v=12&name=a%20b+c", "name", out, sizeof out), 5);
    cr_assert_str_eq(out, "a b c");
    cr_assert_eq(query("/x?flag&v=1", "flag", out, sizeof out), 0);
    cr_assert_str_eq(out, "");
    cr_assert_eq(query("/x?v=", "v", out, sizeof out), 0);
    cr_assert_eq(query("/x?v=1&v=2", "v", out, sizeof out), 1);
    cr_assert_str_eq(out, "1", "first one wins");
    cr_assert_eq(query("/x?&&v=3&", "v", out, sizeof out), 1);
    cr_assert_str_eq(out, "3");
    cr_assert_eq(query("/x?my%20key=z", "my key", out, sizeof out), 1);
    cr_assert_str_eq(out, "z");
    cr_assert_eq(query("/x?a=b=c", "a", out, sizeof out), 3);
    cr_assert_str_eq(out, "b=c");
}

Test(path, query_param_absent) {
    char out[8] = "junk";
    cr_assert_eq(query("/x", "v", out, sizeof out), -ENOENT);
    cr_assert_str_eq(out, "");
    cr_assert_eq(query("/x?", "v", out, sizeof out), -ENOENT);
    cr_assert_eq(query("/x?vv=1&w=2", "v", out, sizeof out), -ENOENT);
    cr_assert_eq(query("/x?V=1", "v", out, sizeof out), -ENOENT);
    cr_assert_eq(query("/x#?v=1", "v", out, sizeof out), -ENOENT);
    cr_assert_eq(query("/x?a=1#v=1", "v", out, sizeof out), -ENOENT);
}

Test(path, query_param_errors) {
    char out[4];
    cr_assert_eq(query("/x?v=%zz", "v", out, sizeof out), -EINVAL);
    cr_assert_eq(query("/x?v=%4", "v", out, sizeof out), -EINVAL);
    cr_assert_eq(query("/x?v=a%00", "v", out, sizeof out), -EINVAL);
    cr_assert_str_eq(out, "");
    cr_assert_eq(query("/x?v=abcd", "v", out, sizeof out), -ENOSPC);
    cr_assert_eq(query("/x?v=abc", "v", out, sizeof out), 3);
    cr_assert_eq(query("/x?v=abc", "v", out, 0), -ENOSPC);
    /* A malformed key is skipped, not fatal. */
    cr_assert_eq(query("/x?%zz=1&v=2", "v", out, sizeof out), 1);
    cr_assert_str_eq(out, "2");
}
