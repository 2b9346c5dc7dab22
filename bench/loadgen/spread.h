/*
 * Several servers for one run: `--port 8081,8082,8083` spreads the
 * connections over servers on one host (cluster mode: every node serves
 * every document). In fanout the writers go to the first server, so that
 * the document's owner is the node the writer talks to, and the readers
 * take the servers in turn; in the other scenarios connection g goes to
 * server g mod n. With one port nothing changes.
 */
#ifndef RINGPAD_LG_SPREAD_H
#define RINGPAD_LG_SPREAD_H

#include "engine.h"

#include <stdint.h>

/* Parses "P" or "P,P,...": ports 1..65535, at most `max`, no empty item, none twice.
 * Returns the count (>= 1), or -1 with nothing promised about `ports`. */
int lg_parse_ports(const char *s, uint16_t *ports, uint32_t max);

/* The server (index into the ports) of global connection g. Writers in
 * fanout are the connections g < docs; readers are the rest. */
uint32_t lg_server_of(lg_scenario sc, uint32_t docs, uint32_t nservers, uint32_t g);

/* Whether readers wait to connect until every writer has its snapshot: with
 * several servers in fanout, so that the writer's node takes the document's
 * lease first (a reader's node would otherwise own it and the writer's ops
 * would be forwarded). */
bool lg_readers_wait_for_writers(lg_scenario sc, uint32_t nservers);

#endif
