#include "collab/doc_history.h"

#include "proto/protocol.h"
#include "store/store.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* Ops were accepted under the limits of their day: read them whatever the flags say now. */
static ot_limits read_limits(void) {
    ot_limits l = ot_limits_default();
    l.max_op_bytes = UINT32_MAX;
    l.max_op_components = UINT32_MAX;
    return l;
}

/* ---- sessions -------------------------------------------------------------------- */

typedef struct session_sum {
    char by[256];
    size_t by_len;
    uint64_t from, to;
    int64_t start_ms, end_ms;
    uint64_t count_ops, added, removed;
} session_sum;

typedef struct sessions_ctx {
    ot_limits limits;
    ot_op op;
    ot_buf *out;
    uint32_t max, count;
    uint32_t gap_ms;
    bool open;
    session_sum cur;
    uint64_t next;
} sessions_ctx;

static int emit_session(sessions_ctx *c) {
    const session_sum *s = &c->cur;
    proto_session_item it = {.by = {s->by, s->by_len}, .from = s->from, .to = s->to, .start_ms = s->start_ms,
                             .end_ms = s->end_ms, .count_ops = s->count_ops, .added = s->added, .removed = s->removed};
    if (proto_enc_rest_session_item(c->out, c->count == 0, &it) != 0) return -ENOMEM;
    c->count++;
    return 0;
}

static int sum_record(void *ctx, const store_record *rec, size_t offset_bytes) {
    (void)offset_bytes;
    sessions_ctx *c = ctx;
    size_t by_len = rec->author_len < sizeof c->cur.by ? rec->author_len : sizeof c->cur.by - 1;
    bool same = c->open && c->cur.by_len == by_len && memcmp(c->cur.by, rec->author, by_len) == 0 &&
                rec->time_ms - c->cur.end_ms <= (int64_t)c->gap_ms && rec->time_ms >= c->cur.start_ms;
    if (c->open && !same) {
        int rc = emit_session(c);
        if (rc != 0) return rc;
        c->open = false;
        if (c->count == c->max) {
            c->next = rec->base_version;   /* a full answer: this op starts the next one */
            return 1;
        }
    }
    if (ot_op_parse_json(&c->op, rec->op_json, rec->op_len, &c->limits, NULL) != OT_OK) return STORE_ERR_REPLAY;
    if (!c->open) {
        memset(&c->cur, 0, sizeof c->cur);
        memcpy(c->cur.by, rec->author, by_len);
        c->cur.by_len = by_len;
        c->cur.from = rec->base_version;
        c->cur.start_ms = rec->time_ms;
        c->open = true;
    }
    for (uint32_t i = 0; i < c->op.count_components; i++) {
        const ot_component *k = &c->op.components[i];
        if (k->kind == OT_INSERT) c->cur.added += k->count_codepoints;
        else if (k->kind == OT_DELETE) c->cur.removed += k->count_codepoints;
    }
    c->cur.to = rec->base_version + 1;
    c->cur.end_ms = rec->time_ms;
    c->cur.count_ops++;
    return 0;
}

struct doc_sessions {
    sessions_ctx c;
};

doc_sessions *doc_sessions_new(uint64_t from, uint32_t max_sessions, uint32_t gap_ms, ot_buf *out) {
    doc_sessions *s = calloc(1, sizeof *s);
    if (s == NULL) return NULL;
    s->c = (sessions_ctx){.limits = read_limits(), .out = out, .max = max_sessions, .gap_ms = gap_ms, .next = from};
    ot_op_init(&s->c.op);
    return s;
}

int doc_sessions_feed(doc_sessions *s, const store_record *rec) { return sum_record(&s->c, rec, 0); }

int doc_sessions_end(doc_sessions *s, bool full, uint64_t to, uint32_t *count, uint64_t *next) {
    int rc = !full && s->c.open ? emit_session(&s->c) : 0;
    *count = s->c.count;
    *next = full ? s->c.next : to;
    return rc;
}

void doc_sessions_free(doc_sessions *s) {
    if (s == NULL) return;
    ot_op_free(&s->c.op);
    free(s);
}

int doc_history_sessions(int data_dir_fd, const char *name, size_t name_len, uint64_t from, uint64_t to,
                         uint32_t max_sessions, uint32_t gap_ms, ot_buf *out, uint32_t *count, uint64_t *next) {
    *count = 0;
    *next = from;
    if (from >= to) return 0;
    doc_sessions *s = doc_sessions_new(from, max_sessions, gap_ms, out);
    if (s == NULL) return -ENOMEM;
    int rc = store_read_ops(data_dir_fd, name, name_len, from, to, sum_record, &s->c);
    bool full = rc == 1;
    if (full) rc = 0;
    uint32_t n = 0;
    uint64_t at = from;
    if (rc == 0) rc = doc_sessions_end(s, full, to, &n, &at);
    doc_sessions_free(s);
    if (rc != 0) return rc;
    *count = n;
    *next = at;
    return 0;
}

/* ---- authorship ------------------------------------------------------------------- */

typedef struct run {
    uint32_t author;            /* index into authors; 0 = unknown (before the oldest retained version) */
    uint64_t len;               /* code points */
} run;

typedef struct runs {
    run *items;
    size_t count, cap;
} runs;

typedef struct authors_ctx {
    ot_limits limits;
    ot_op op;
    ot_text *text;
    runs cur, next;
    char **names;               /* [0] unused (unknown) */
    size_t *name_lens;
    uint32_t count_names;
    uint64_t applied;
} authors_ctx;

static int runs_push(runs *r, uint32_t author, uint64_t len) {
    if (len == 0) return 0;
    if (r->count > 0 && r->items[r->count - 1].author == author) {
        r->items[r->count - 1].len += len;
        return 0;
    }
    if (r->count == r->cap) {
        size_t cap = r->cap == 0 ? 64 : r->cap * 2;
        run *items = realloc(r->items, cap * sizeof *items);
        if (items == NULL) return -ENOMEM;
        r->items = items;
        r->cap = cap;
    }
    r->items[r->count++] = (run){.author = author, .len = len};
    return 0;
}

static uint32_t author_index(authors_ctx *c, const char *by, size_t len) {
    for (uint32_t i = 1; i < c->count_names; i++)
        if (c->name_lens[i] == len && memcmp(c->names[i], by, len) == 0) return i;
    if (c->count_names >= DOC_HISTORY_MAX_AUTHORS) return c->count_names - 1;
    char *copy = malloc(len + 1);
    if (copy == NULL) return 0;
    memcpy(copy, by, len);
    copy[len] = '\0';
    c->names[c->count_names] = copy;
    c->name_lens[c->count_names] = len;
    return c->count_names++;
}

/* Walks the op over the runs: retained code points keep their author,
 * deleted ones go, inserted ones get the op's. */
static int apply_runs(authors_ctx *c, uint32_t author) {
    c->next.count = 0;
    size_t i = 0;
    uint64_t used = 0;   /* of cur.items[i] */
    for (uint32_t k = 0; k < c->op.count_components; k++) {
        const ot_component *comp = &c->op.components[k];
        if (comp->kind == OT_INSERT) {
            if (runs_push(&c->next, author, comp->count_codepoints) != 0) return -ENOMEM;
            continue;
        }
        uint64_t left = comp->count_codepoints;
        while (left > 0) {
            if (i >= c->cur.count) return STORE_ERR_REPLAY;   /* the op is longer than the text */
            uint64_t take = c->cur.items[i].len - used;
            if (take > left) take = left;
            if (comp->kind == OT_RETAIN && runs_push(&c->next, c->cur.items[i].author, take) != 0) return -ENOMEM;
            used += take;
            left -= take;
            if (used == c->cur.items[i].len) {
                i++;
                used = 0;
            }
        }
    }
    /* whatever the op did not reach is kept as it was */
    for (; i < c->cur.count; i++, used = 0)
        if (runs_push(&c->next, c->cur.items[i].author, c->cur.items[i].len - used) != 0) return -ENOMEM;
    runs tmp = c->cur;
    c->cur = c->next;
    c->next = tmp;
    return 0;
}

static int author_record(void *ctx, const store_record *rec, size_t offset_bytes) {
    (void)offset_bytes;
    authors_ctx *c = ctx;
    if (ot_op_parse_json(&c->op, rec->op_json, rec->op_len, &c->limits, NULL) != OT_OK) return STORE_ERR_REPLAY;
    if (ot_apply(&c->op, c->text) != OT_OK) return STORE_ERR_REPLAY;
    uint32_t author = author_index(c, rec->author, rec->author_len);
    int rc = apply_runs(c, author);
    if (rc != 0) return rc;
    c->applied++;
    return 0;
}

static int render_authors(const authors_ctx *c, uint64_t base, ot_buf *out) {
    ot_buf text;
    ot_buf_init(&text);
    proto_author_span *spans = c->cur.count > 0 ? malloc(c->cur.count * sizeof *spans) : NULL;
    int rc = ot_text_to_buf(c->text, &text) == OT_OK && (spans != NULL || c->cur.count == 0) ? 0 : -ENOMEM;
    uint64_t at = 0;
    for (size_t i = 0; rc == 0 && i < c->cur.count; i++) {
        const run *r = &c->cur.items[i];
        spans[i] = (proto_author_span){.from = at, .to = at + r->len};   /* author 0: unknown, null */
        if (r->author != 0) spans[i].by = (proto_str){c->names[r->author], c->name_lens[r->author]};
        at += r->len;
    }
    if (rc == 0 && proto_enc_rest_authors(out, (proto_str){text.data, text.len}, base, spans, c->cur.count) != 0)
        rc = -ENOMEM;
    free(spans);
    ot_buf_free(&text);
    return rc;
}

struct doc_authors {
    authors_ctx c;
    uint64_t base;
};

doc_authors *doc_authors_new(uint64_t base, const char *text, size_t len) {
    doc_authors *a = calloc(1, sizeof *a);
    if (a == NULL) return NULL;
    a->base = base;
    authors_ctx *c = &a->c;
    c->limits = read_limits();
    ot_op_init(&c->op);
    c->names = calloc(DOC_HISTORY_MAX_AUTHORS, sizeof *c->names);
    c->name_lens = calloc(DOC_HISTORY_MAX_AUTHORS, sizeof *c->name_lens);
    c->count_names = 1;
    c->text = ot_text_from_utf8(text != NULL ? text : "", len);
    if (c->names == NULL || c->name_lens == NULL || c->text == NULL ||
        runs_push(&c->cur, 0, ot_text_len_codepoints(c->text)) != 0) {
        doc_authors_free(a);
        return NULL;
    }
    return a;
}

int doc_authors_feed(doc_authors *a, const store_record *rec) { return author_record(&a->c, rec, 0); }

int doc_authors_end(doc_authors *a, uint64_t v, ot_buf *out) {
    if (a->c.applied != v - a->base) return -ERANGE;
    return render_authors(&a->c, a->base, out);
}

void doc_authors_free(doc_authors *a) {
    if (a == NULL) return;
    authors_ctx *c = &a->c;
    for (uint32_t i = 1; c->names != NULL && i < c->count_names; i++) free(c->names[i]);
    free(c->names);
    free(c->name_lens);
    free(c->cur.items);
    free(c->next.items);
    if (c->text != NULL) ot_text_free(c->text);
    ot_op_free(&c->op);
    free(a);
}

int doc_history_authors(int data_dir_fd, const char *name, size_t name_len, uint64_t base, uint64_t v,
                        ot_buf *out) {
    if (v < base) return -ERANGE;
    ot_buf start;
    ot_buf_init(&start);
    int rc = store_text_at(data_dir_fd, name, name_len, base, &start, NULL);
    doc_authors *a = rc == 0 ? doc_authors_new(base, start.data, start.len) : NULL;
    if (rc == 0 && a == NULL) rc = -ENOMEM;
    if (rc == 0 && v > base) rc = store_read_ops(data_dir_fd, name, name_len, base, v, author_record, &a->c);
    if (rc == 0) rc = doc_authors_end(a, v, out);
    doc_authors_free(a);
    ot_buf_free(&start);
    return rc;
}
