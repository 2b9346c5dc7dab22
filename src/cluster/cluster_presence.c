/* Presence between nodes: a session's cursor or leave is PUBLISHed on the
 * document's channel; every node that has the document loaded listens on a
 * connection of its own (subscriber mode takes the whole connection) and
 * hands frames from other nodes to its sessions. Pub/sub drops messages when
 * a node is slow or reconnecting: a cursor's next move replaces a lost one,
 * which is why ops never travel this way. */
#include "cluster/cluster_internal.h"

#include "base/log.h"

#include <stdio.h>
#include <string.h>

static void listen_cmd(cluster *c, const cluster_doc *d, bool on) {
    const char *argv[] = {on ? "SUBSCRIBE" : "UNSUBSCRIBE", d->keys[CLUSTER_KEY_PRESENCE]};
    size_t lens[] = {on ? 9u : 11u, d->key_lens[CLUSTER_KEY_PRESENCE]};
    redis_conn_command(&c->sub, 2, argv, lens, NULL, NULL);
}

void cluster_presence_listen(cluster_doc *d, bool on) {
    if (d->listening == on) return;
    d->listening = on;
    if (redis_conn_up(&d->c->sub)) listen_cmd(d->c, d, on);
}

void cluster_doc_publish(cluster_doc *d, const char *json, size_t len) {
    cluster *c = d->c;
    if (d->phase != PHASE_OWNED && d->phase != PHASE_FOLLOWING) return;
    /* "<sender>\n<frame>": a node skips its own messages */
    size_t me = strlen(c->me);
    char stack[2048];
    char *payload = me + 1 + len <= sizeof stack ? stack : NULL;
    if (payload == NULL) return;   /* a cursor frame is small; a larger one is not relayed */
    memcpy(payload, c->me, me);
    payload[me] = '\n';
    memcpy(payload + me + 1, json, len);
    const char *argv[] = {"PUBLISH", d->keys[CLUSTER_KEY_PRESENCE], payload};
    size_t lens[] = {7, d->key_lens[CLUSTER_KEY_PRESENCE], me + 1 + len};
    redis_conn_command(&c->conn, 3, argv, lens, NULL, NULL);
}

static void on_message(void *ctx, const redisReply *r) {
    cluster *c = ctx;
    const redisReply *channel = r->element[1], *payload = r->element[2];
    if (c->stopping || channel->type != REDIS_REPLY_STRING || payload->type != REDIS_REPLY_STRING) return;
    const char *nl = memchr(payload->str, '\n', payload->len);
    if (nl == NULL) return;
    size_t sender = (size_t)(nl - payload->str);
    if (sender == strlen(c->me) && memcmp(payload->str, c->me, sender) == 0) return;
    for (cluster_doc *d = c->docs; d != NULL; d = d->next) {
        if (d->key_lens[CLUSTER_KEY_PRESENCE] != channel->len ||
            memcmp(d->keys[CLUSTER_KEY_PRESENCE], channel->str, channel->len) != 0)
            continue;
        if (cluster_doc_live(d) && (d->phase == PHASE_OWNED || d->phase == PHASE_FOLLOWING))
            d->ev->presence(d->ctx, nl + 1, payload->len - sender - 1);
        return;
    }
}

/* A new connection listens again to every loaded document's channel. */
static void on_sub_state(void *ctx, bool up) {
    cluster *c = ctx;
    if (!up || c->stopping) return;
    for (cluster_doc *d = c->docs; d != NULL; d = d->next)
        if (d->listening) listen_cmd(c, d, true);
}

int cluster_presence_init(cluster *c, const char *host, uint32_t port, uint32_t db) {
    int rc = redis_conn_init(&c->sub, c->w, host, port, db, on_sub_state, c);
    c->sub.on_push = on_message;
    c->sub.push_ctx = c;
    c->sub.blocking = true;
    return rc;
}
