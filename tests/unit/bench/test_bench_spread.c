/* bench_spread: `--port` lists and how connections are spread over them
 * (the writer on the first server in fanout, readers in turn over all). */
#include <criterion/criterion.h>

#include <string.h>

#include "spread.h"

Test(bench_spread, one_port_parses_as_before) {
    uint16_t p[LG_MAX_SERVERS];
    cr_assert_eq(lg_parse_ports("8080", p, LG_MAX_SERVERS), 1);
    cr_assert_eq(p[0], 8080);
    cr_assert_eq(lg_parse_ports("1", p, LG_MAX_SERVERS), 1);
    cr_assert_eq(p[0], 1);
    cr_assert_eq(lg_parse_ports("65535", p, LG_MAX_SERVERS), 1);
    cr_assert_eq(p[0], 65535);
}

Test(bench_spread, a_comma_list_keeps_its_order) {
    uint16_t p[LG_MAX_SERVERS];
    cr_assert_eq(lg_parse_ports("8083,8081,8082", p, LG_MAX_SERVERS), 3);
    cr_assert_eq(p[0], 8083);
    cr_assert_eq(p[1], 8081);
    cr_assert_eq(p[2], 8082);
}

Test(bench_spread, bad_lists_are_refused) {
    uint16_t p[LG_MAX_SERVERS];
    const char *bad[] = {"", ",", "8080,", ",8080", "8080,,8081", "0", "65536", "99999999999999999999",
                         "-1", "+80", " 80", "80 ", "80a", "80;81", "8080, 8081", "8080,8081,8080"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_assert_eq(lg_parse_ports(bad[i], p, LG_MAX_SERVERS), -1, "'%s'", bad[i]);
}

Test(bench_spread, at_most_max_ports) {
    uint16_t p[3];
    cr_assert_eq(lg_parse_ports("1,2,3", p, 3), 3);
    cr_assert_eq(lg_parse_ports("1,2,3,4", p, 3), -1);
}

Test(bench_spread, one_server_takes_everything) {
    for (uint32_t g = 0; g < 100; g++) {
        cr_assert_eq(lg_server_of(LG_SC_FANOUT, 1, 1, g), 0);
        cr_assert_eq(lg_server_of(LG_SC_DOCS, 25, 1, g), 0);
    }
    cr_assert_not(lg_readers_wait_for_writers(LG_SC_FANOUT, 1));
}

Test(bench_spread, fanout_writer_on_the_first_readers_in_turn) {
    /* 1 writer + 1,500 readers over 3 servers */
    uint32_t per[3] = {0, 0, 0};
    cr_assert_eq(lg_server_of(LG_SC_FANOUT, 1, 3, 0), 0, "the writer");
    for (uint32_t g = 1; g <= 1500; g++) {
        uint32_t s = lg_server_of(LG_SC_FANOUT, 1, 3, g);
        cr_assert_lt(s, 3);
        cr_assert_eq(s, (g - 1) % 3, "reader %u", g);
        per[s]++;
    }
    cr_assert_eq(per[0], 500);
    cr_assert_eq(per[1], 500);
    cr_assert_eq(per[2], 500);
    cr_assert(lg_readers_wait_for_writers(LG_SC_FANOUT, 3));
}

Test(bench_spread, fanout_every_writer_on_the_first) {
    for (uint32_t g = 0; g < 4; g++) cr_assert_eq(lg_server_of(LG_SC_FANOUT, 4, 2, g), 0, "writer %u", g);
    cr_assert_eq(lg_server_of(LG_SC_FANOUT, 4, 2, 4), 0);
    cr_assert_eq(lg_server_of(LG_SC_FANOUT, 4, 2, 5), 1);
    cr_assert_eq(lg_server_of(LG_SC_FANOUT, 4, 2, 6), 0);
}

Test(bench_spread, other_scenarios_take_servers_in_turn) {
    for (uint32_t g = 0; g < 30; g++) {
        cr_assert_eq(lg_server_of(LG_SC_DOCS, 7, 3, g), g % 3);
        cr_assert_eq(lg_server_of(LG_SC_HOT, 1, 2, g), g % 2);
        cr_assert_eq(lg_server_of(LG_SC_ECHO, 0, 4, g), g % 4);
    }
    cr_assert_not(lg_readers_wait_for_writers(LG_SC_HOT, 3));
    cr_assert_not(lg_readers_wait_for_writers(LG_SC_DOCS, 3));
}
