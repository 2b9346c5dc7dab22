#include <criterion/criterion.h>
#include <string.h>

#include "proto/docname.h"

static int validate(const char *s) {
    return docname_validate(s, strlen(s));
}

Test(docname, accepts_ordinary_names) {
    const char *ok[] = {"a", "notes", "notes/a", "a.b-c_d/E9", ".hidden", "a/.b", "a..b", "...",
                        "x/y/z", "v1.2.3"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        cr_assert_eq(validate(ok[i]), DOCNAME_OK, "%s", ok[i]);
}

Test(docname, rejects_escapes) {
    cr_assert_eq(validate("../x"), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(validate(".."), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(validate("."), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(validate("a/../../b"), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(validate("a/./b"), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(validate("a/.."), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(validate("/etc"), DOCNAME_ERR_LEADING_SLASH);
    cr_assert_eq(validate("/"), DOCNAME_ERR_LEADING_SLASH);
    cr_assert_eq(validate("a/"), DOCNAME_ERR_TRAILING_SLASH);
    cr_assert_eq(validate("a//b"), DOCNAME_ERR_EMPTY_SEGMENT);
    cr_assert_eq(validate(""), DOCNAME_ERR_EMPTY);
    cr_assert_eq(docname_validate("a\0b", 3), DOCNAME_ERR_BAD_CHAR);
    cr_assert_eq(validate("a\\b"), DOCNAME_ERR_BAD_CHAR);
    cr_assert_eq(validate("a b"), DOCNAME_ERR_BAD_CHAR);
    cr_assert_eq(validate("a%2Fb"), DOCNAME_ERR_BAD_CHAR);
    cr_assert_eq(validate("a+b"), DOCNAME_ERR_BAD_CHAR);
    cr_assert_eq(validate("caf\xc3\xa9"), DOCNAME_ERR_BAD_CHAR);
}

Test(docname, length_limit) {
    char buf[DOCNAME_MAX_BYTES + 2];
    memset(buf, 'x', sizeof buf);
    cr_assert_eq(docname_validate(buf, DOCNAME_MAX_BYTES), DOCNAME_OK);
    cr_assert_eq(docname_validate(buf, DOCNAME_MAX_BYTES + 1), DOCNAME_ERR_TOO_LONG);
}

Test(docname, maps_slash_and_round_trips) {
    char file[DOCNAME_FILE_MAX_BYTES];
    char back[DOCNAME_MAX_BYTES + 1];
    size_t flen = 0, blen = 0;
    cr_assert_eq(docname_to_file("notes/a", 7, file, sizeof file, &flen), DOCNAME_OK);
    cr_assert_str_eq(file, "notes+a");
    cr_assert_eq(flen, 7);
    cr_assert_eq(docname_from_file(file, flen, back, sizeof back, &blen), DOCNAME_OK);
    cr_assert_str_eq(back, "notes/a");
    cr_assert_eq(blen, 7);

    const char *names[] = {"a", "a/b/c", ".x/..y/z.", "x-y_z.9", "a/b/c/d/e/f"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        cr_assert_eq(docname_to_file(names[i], strlen(names[i]), file, sizeof file, &flen), 0);
        cr_assert_null(memchr(file, '/', flen));
        cr_assert_eq(docname_from_file(file, flen, back, sizeof back, &blen), 0);
        cr_assert_str_eq(back, names[i]);
    }
}

Test(docname, worst_case_fits_in_max_file_bytes) {
    char name[DOCNAME_MAX_BYTES];
    for (size_t i = 0; i < sizeof name; i++)
        name[i] = (i % 2 == 0) ? 'a' : '/';
    name[sizeof name - 1] = 'a'; /* no trailing slash */
    char file[DOCNAME_FILE_MAX_BYTES];
    size_t flen = 0;
    cr_assert_eq(docname_to_file(name, sizeof name, file, sizeof file, &flen), DOCNAME_OK);
    cr_assert_lt(flen, sizeof file);
    cr_assert_leq(flen, 255); /* NAME_MAX */
}

Test(docname, to_file_rejects_bad_names_and_small_buffers) {
    char file[8];
    cr_assert_eq(docname_to_file("../x", 4, file, sizeof file, NULL), DOCNAME_ERR_DOT_SEGMENT);
    cr_assert_eq(docname_to_file("abcdefgh", 8, file, sizeof file, NULL), DOCNAME_ERR_NO_SPACE);
    cr_assert_eq(docname_to_file("abc/def", 7, file, sizeof file, NULL), DOCNAME_OK);
    cr_assert_str_eq(file, "abc+def");
}

Test(docname, from_file_rejects_foreign_names) {
    char out[DOCNAME_MAX_BYTES + 1];
    const char *bad[] = {"a%2Fb", "a/b", "..", ".", "+a", "a+", "a++b", "a+..+b", "a+.+b",
                         "x y", "", "snapshot.tmp%", "%del%x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(docname_from_file(bad[i], strlen(bad[i]), out, sizeof out, NULL),
                     DOCNAME_ERR_BAD_FILE_NAME, "%s", bad[i]);
    cr_assert_eq(docname_from_file("abc", 3, out, 3, NULL), DOCNAME_ERR_NO_SPACE);
    cr_assert_str_eq(docname_err_str(DOCNAME_ERR_DOT_SEGMENT),
                     "document name contains a '.' or '..' segment");
    cr_assert_str_eq(docname_err_str(12345), "unknown error");
}
