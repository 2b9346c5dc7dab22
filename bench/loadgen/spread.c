/* Connections spread over several servers: see spread.h. */
#include "spread.h"

#include <errno.h>
#include <stdlib.h>

int lg_parse_ports(const char *s, uint16_t *ports, uint32_t max) {
    uint32_t n = 0;
    const char *p = s;
    for (;;) {
        if (*p < '0' || *p > '9') return -1;   /* empty item, sign, space */
        char *end;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (errno || v < 1 || v > 65535 || n >= max) return -1;
        for (uint32_t i = 0; i < n; i++)
            if (ports[i] == v) return -1;   /* the same server twice: its readers would be counted as two */
        ports[n++] = (uint16_t)v;
        if (*end == '\0') return (int)n;
        if (*end != ',') return -1;
        p = end + 1;
    }
}

uint32_t lg_server_of(lg_scenario sc, uint32_t docs, uint32_t nservers, uint32_t g) {
    if (nservers <= 1) return 0;
    if (sc == LG_SC_FANOUT) return g < docs ? 0 : (g - docs) % nservers;
    return g % nservers;
}

bool lg_readers_wait_for_writers(lg_scenario sc, uint32_t nservers) {
    return sc == LG_SC_FANOUT && nservers > 1;
}
