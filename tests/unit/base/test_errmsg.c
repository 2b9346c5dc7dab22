/* base/errmsg: the one setter of a caller's error line. */
#include <criterion/criterion.h>

#include "base/errmsg.h"

#include <string.h>

Test(errmsg, formats_into_the_callers_buffer_and_truncates) {
    char err[16];
    errmsg_set(err, sizeof err, "%s: %d", "port", 70000);
    cr_assert_str_eq(err, "port: 70000");
    errmsg_set(err, sizeof err, "a line longer than the buffer");
    cr_assert_str_eq(err, "a line longer t");
}

Test(errmsg, no_buffer_no_write) {
    errmsg_set(NULL, 64, "ignored %d", 1);
    char err[4] = "xyz";
    errmsg_set(err, 0, "ignored");
    cr_assert_str_eq(err, "xyz");
}
