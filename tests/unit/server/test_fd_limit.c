#include "server/server.h"

#include <criterion/criterion.h>
#include <sys/resource.h>

/* Each Criterion test runs in its own process: lowering the limits here is contained. */
static void set_limits(rlim_t soft, rlim_t hard) {
    struct rlimit rl = {.rlim_cur = soft, .rlim_max = hard};
    cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
}

static rlim_t soft_limit(void) {
    struct rlimit rl;
    cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    return rl.rlim_cur;
}

Test(fd_limit, default_follows_the_hard_limit) {
    set_limits(1024, 8192);
    cr_assert_eq(server_fit_fd_limit(0), 8192 - 1024, "the soft limit goes to the hard one, minus the reserve");
    cr_assert_eq(soft_limit(), 8192);
}

Test(fd_limit, a_small_limit_keeps_a_quarter_for_files) {
    set_limits(256, 256);
    cr_assert_eq(server_fit_fd_limit(0), 192);
}

Test(fd_limit, an_explicit_value_that_fits_raises_only_what_it_needs) {
    set_limits(1024, 8192);
    cr_assert_eq(server_fit_fd_limit(2000), 2000);
    cr_assert_eq(soft_limit(), 3024);
}

Test(fd_limit, an_explicit_value_beyond_the_hard_limit_is_kept_and_warned) {
    set_limits(1024, 4096);
    cr_assert_eq(server_fit_fd_limit(100000), 100000, "the operator's value stands; the log says why it cannot be reached");
    cr_assert_eq(soft_limit(), 4096);
}
