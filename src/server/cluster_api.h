/*
 * GET /api/cluster in cluster mode: the nodes (a worker each) that wrote the
 * registry lately, with the documents each owns and follows. Answered from
 * the worker's copy of the registry, never waiting for Redis. With auth on,
 * document names are left out (the counts stay).
 */
#ifndef RINGPAD_CLUSTER_API_H
#define RINGPAD_CLUSTER_API_H

#include "http/http.h"

#include <stdbool.h>

struct conn;

/* The request is for /api/cluster and this node runs in cluster mode. */
bool cluster_api_matches(const struct conn *c, const http_request *req);
/* Answers it (keep-alive kept). */
void cluster_api_answer(struct conn *c, const http_request *req);

#endif /* RINGPAD_CLUSTER_API_H */
