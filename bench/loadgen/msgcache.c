#include "msgcache.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int lg_msgcache_init(lg_msgcache *mc) {
    memset(mc, 0, sizeof *mc);
    mc->slots = calloc(LG_MSGCACHE_SLOTS, sizeof *mc->slots);
    if (mc->slots == NULL) return -ENOMEM;
    for (uint32_t i = 0; i < LG_MSGCACHE_SLOTS; i++) ot_op_init(&mc->slots[i].op);
    ot_op_init(&mc->scratch.op);
    return 0;
}

static void slot_free(lg_msgcache_slot *s) {
    free(s->bytes);
    ot_op_free(&s->op);
}

void lg_msgcache_free(lg_msgcache *mc) {
    if (mc->slots != NULL) {
        for (uint32_t i = 0; i < LG_MSGCACHE_SLOTS; i++) slot_free(&mc->slots[i]);
        free(mc->slots);
    }
    slot_free(&mc->scratch);
    memset(mc, 0, sizeof *mc);
}

/* Eight bytes at a time: the key only picks a slot, the bytes decide. */
uint64_t lg_msgcache_hash(const char *p, size_t len) {
    const uint64_t k = 0x9E3779B97F4A7C15ull;
    uint64_t h = (uint64_t)len * k;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * k;
        h ^= h >> 29;
    }
    uint64_t w = 0;
    if (len > i) memcpy(&w, p + i, len - i);
    h = (h ^ w) * k;
    return h ^ (h >> 32);
}

/* Points a member parsed from `from` at the same bytes in `to`. */
static void rebase(lg_jval *v, const char *from, const char *to) {
    if (v->p != NULL) v->p = to + (v->p - from);
}

static void rebase_msg(lg_msg *pm, const char *from, const char *to) {
    lg_jmsg *m = &pm->m;
    lg_jval *all[] = {&m->type, &m->doc, &m->v, &m->id, &m->op, &m->text, &m->code, &m->message,
                      &m->ref, &m->by, &m->session};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) rebase(all[i], from, to);
}

/* Keeps the scratch parse of json in slot s (a copy of the bytes). */
static int keep(lg_msgcache *mc, lg_msgcache_slot *s, uint64_t h, const char *json, size_t len) {
    if (s->cap < len) {
        char *b = realloc(s->bytes, len);
        if (b == NULL) return -ENOMEM;
        s->bytes = b;
        s->cap = len;
    }
    memcpy(s->bytes, json, len);
    s->len = len;
    s->hash = h;
    s->used = true;
    s->msg = mc->scratch.msg;
    rebase_msg(&s->msg, json, s->bytes);
    /* the parsed op moves with it: scratch gets the slot's old storage */
    ot_op t = s->op;
    s->op = mc->scratch.op;
    mc->scratch.op = t;
    if (s->msg.op != NULL) s->msg.op = &s->op;
    return 0;
}

int lg_msgcache_get(lg_msgcache *mc, const char *json, size_t len, const lg_msg **out) {
    uint64_t h = lg_msgcache_hash(json, len);
    lg_msgcache_slot *s = &mc->slots[h & (LG_MSGCACHE_SLOTS - 1)];
    if (s->used && s->hash == h && s->len == len && memcmp(s->bytes, json, len) == 0) {
        mc->hits++;
        *out = &s->msg;
        return 0;
    }
    if (s->used && s->hash == h) mc->collisions++;
    int rc = lg_msg_parse(&mc->scratch.msg, json, len, &mc->scratch.op);
    if (rc != 0) return rc;
    const lg_jval *t = &mc->scratch.msg.m.type;
    bool broadcast = t->len == 2 && memcmp(t->p, "op", 2) == 0;
    if (broadcast && len <= LG_MSGCACHE_MAX_FRAME_BYTES && keep(mc, s, h, json, len) == 0) {
        mc->misses++;
        *out = &s->msg;
        return 0;
    }
    mc->uncached++;
    *out = &mc->scratch.msg;
    return 0;
}
