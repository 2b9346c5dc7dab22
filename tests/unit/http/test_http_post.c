/* Webhook URLs: what http_url_parse takes and what it refuses, with why. */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>

#include "http/http_post.h"

Test(http_post, urls_parse_into_host_port_and_path) {
    http_url u;
    const char *why = NULL;
    cr_assert_eq(http_url_parse("http://127.0.0.1:8081/hooks/a?x=1", &u, &why), 0);
    cr_assert_str_eq(u.host, "127.0.0.1");
    cr_assert_str_eq(u.port, "8081");
    cr_assert_str_eq(u.path, "/hooks/a?x=1");
    cr_assert_eq(http_url_parse("http://example.test", &u, &why), 0);
    cr_assert_str_eq(u.port, "80");
    cr_assert_str_eq(u.path, "/");
    cr_assert_eq(http_url_parse("http://[::1]:9/h", &u, &why), 0);
    cr_assert_str_eq(u.host, "::1");
    cr_assert_str_eq(u.port, "9");
}

Test(http_post, bad_urls_say_why) {
    http_url u;
    const char *why = NULL;
    cr_assert_eq(http_url_parse("https://x/", &u, &why), -EINVAL);
    cr_assert_str_eq(why, "only http:// URLs are supported (put a TLS relay in front for https)");
    cr_assert_eq(http_url_parse("http:///x", &u, &why), -EINVAL);
    cr_assert_str_eq(why, "the host is empty or too long");
    cr_assert_eq(http_url_parse("http://h:/x", &u, &why), -EINVAL);
    cr_assert_str_eq(why, "the port must be digits");
    cr_assert_eq(http_url_parse("http://[::1/x", &u, &why), -EINVAL);
    cr_assert_str_eq(why, "an IPv6 host needs its closing ']'");
    cr_assert_eq(http_url_parse("http://h/a b", &u, &why), -EINVAL);
}

Test(http_post, a_refused_connection_is_an_error_not_a_hang) {
    http_url u;
    const char *why = NULL;
    /* port 1 on loopback: nothing listens there */
    cr_assert_eq(http_url_parse("http://127.0.0.1:1/", &u, &why), 0);
    int status = 0;
    cr_assert_eq(http_post(&u, NULL, "{}", 2, 1000, NULL, &status), -ECONNREFUSED);
}
