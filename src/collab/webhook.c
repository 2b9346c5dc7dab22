#include "collab/webhook.h"
#include "base/clock.h"

#include "base/log.h"
#include "http/http_post.h"
#include "proto/protocol.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/hmac.h>

#define WEBHOOK_MAX_DOC_BYTES 256   /* document names are at most 200 */

/* A text shared by the queue and the thread that sends or writes it. */
typedef struct wh_text {
    atomic_uint refs;
    size_t len;
    char data[];
} wh_text;

typedef struct wh_item {
    uint32_t url;
    uint8_t event;                  /* webhook_event */
    bool sending;                   /* taken by the thread: a new change queues a new item */
    char doc[WEBHOOK_MAX_DOC_BYTES];
    uint64_t v;
    wh_text *text;                  /* NULL: none */
    uint32_t attempts;
    int64_t due_ms;                 /* monotonic */
    int64_t first_ms;               /* the first change this item coalesces */
} wh_item;

struct webhook {
    webhook_config cfg;
    http_url urls[WEBHOOK_MAX_URLS];
    char url_text[WEBHOOK_MAX_URLS][HTTP_URL_MAX_HOST_BYTES + HTTP_URL_MAX_PATH_BYTES + 16];
    uint32_t count_urls;
    char secret[1024];
    char data_dir[4096];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    pthread_t thread;
    bool started;
    bool stop;
    _Atomic bool cancel;            /* set with stop: a POST in flight gives up */
    bool dirty;                     /* the file is behind the queue */
    uint64_t dropped;               /* notifications refused because the queue was full */
    wh_item *items;                 /* [WEBHOOK_MAX_PENDING] */
    uint32_t count_items;
};

static int64_t mono_ms(void) { return (int64_t)clock_mono_ms(); }

static wh_text *text_new(const char *s, size_t len) {
    wh_text *t = malloc(sizeof *t + len + 1);
    if (t == NULL) return NULL;
    atomic_init(&t->refs, 1);
    t->len = len;
    memcpy(t->data, s, len);
    t->data[len] = '\0';
    return t;
}

static wh_text *text_ref(wh_text *t) {
    if (t != NULL) atomic_fetch_add(&t->refs, 1);
    return t;
}

static void text_unref(wh_text *t) {
    if (t != NULL && atomic_fetch_sub(&t->refs, 1) == 1) free(t);
}

static const char *event_name(uint8_t ev) {
    return ev == WEBHOOK_CREATED ? "created" : ev == WEBHOOK_DELETED ? "deleted" : "changed";
}

static uint8_t event_of(const char *s) {
    if (s == NULL) return 0;
    if (strcmp(s, "created") == 0) return WEBHOOK_CREATED;
    if (strcmp(s, "changed") == 0) return WEBHOOK_CHANGED;
    if (strcmp(s, "deleted") == 0) return WEBHOOK_DELETED;
    return 0;
}

int webhook_sign(const char *secret, const char *body, size_t len, char out[72]) {
    unsigned char mac[WC_SHA256_DIGEST_SIZE];
    Hmac hmac;
    if (wc_HmacInit(&hmac, NULL, INVALID_DEVID) != 0) return -EIO;
    int rc = wc_HmacSetKey(&hmac, WC_SHA256, (const byte *)secret, (word32)strlen(secret)) != 0 ||
                     wc_HmacUpdate(&hmac, (const byte *)body, (word32)len) != 0 || wc_HmacFinal(&hmac, mac) != 0
                 ? -EIO
                 : 0;
    wc_HmacFree(&hmac);
    if (rc != 0) return rc;
    static const char hex[] = "0123456789abcdef";
    memcpy(out, "sha256=", 7);
    for (size_t i = 0; i < sizeof mac; i++) {
        out[7 + 2 * i] = hex[mac[i] >> 4];
        out[8 + 2 * i] = hex[mac[i] & 15];
    }
    out[71] = '\0';
    return 0;
}

/* ---- the queue (under mu) ------------------------------------------------------- */

static wh_item *find_pending(webhook *h, uint32_t url, uint8_t ev, const char *doc) {
    for (uint32_t i = 0; i < h->count_items; i++) {
        wh_item *it = &h->items[i];
        if (!it->sending && it->url == url && it->event == ev && strcmp(it->doc, doc) == 0) return it;
    }
    return NULL;
}

static void remove_item(webhook *h, wh_item *it) {
    text_unref(it->text);
    *it = h->items[--h->count_items];
}

static void queue_one(webhook *h, uint32_t url, uint8_t ev, const char *doc, uint64_t v, wh_text *text,
                      int64_t now) {
    wh_item *it = ev == WEBHOOK_CHANGED ? find_pending(h, url, ev, doc) : NULL;
    if (it != NULL) {
        /* debounced: the last change wins, sent once the document pauses (or the wait is too long) */
        it->v = v;
        text_unref(it->text);
        it->text = text_ref(text);
        int64_t due = now + h->cfg.debounce_ms;
        int64_t cap = it->first_ms + (int64_t)h->cfg.debounce_ms * WEBHOOK_MAX_WAIT_PERIODS;
        if (it->attempts == 0) it->due_ms = due < cap ? due : cap;
        return;
    }
    if (h->count_items == WEBHOOK_MAX_PENDING) {
        if (h->dropped++ % 1000 == 0)
            log_error("webhooks: the queue holds %u notifications; dropping %s of %s (receivers are down?)",
                      WEBHOOK_MAX_PENDING, event_name(ev), doc);
        return;
    }
    it = &h->items[h->count_items++];
    memset(it, 0, sizeof *it);
    it->url = url;
    it->event = ev;
    snprintf(it->doc, sizeof it->doc, "%s", doc);
    it->v = v;
    it->text = text_ref(text);
    it->first_ms = now;
    it->due_ms = ev == WEBHOOK_CHANGED ? now + h->cfg.debounce_ms : now;
}

void webhook_notify(webhook *h, webhook_event ev, const char *doc, size_t doc_len, uint64_t v, const char *text,
                    size_t text_len) {
    if (h == NULL || doc_len >= WEBHOOK_MAX_DOC_BYTES) return;
    char name[WEBHOOK_MAX_DOC_BYTES];
    memcpy(name, doc, doc_len);
    name[doc_len] = '\0';
    wh_text *t = h->cfg.with_text && text != NULL && ev != WEBHOOK_DELETED ? text_new(text, text_len) : NULL;
    int64_t now = mono_ms();
    pthread_mutex_lock(&h->mu);
    for (uint32_t u = 0; u < h->count_urls; u++) queue_one(h, u, (uint8_t)ev, name, v, t, now);
    h->dirty = true;
    pthread_cond_signal(&h->cv);
    pthread_mutex_unlock(&h->mu);
    text_unref(t);
}

bool webhook_wants_text(const webhook *h) { return h != NULL && h->cfg.with_text; }

/* ---- the queue file ----------------------------------------------------------------- */

/* The queue as JSON, from a copy taken under mu (texts are shared, not copied there). */
static json_t *queue_json(webhook *h, const wh_item *items, uint32_t count) {
    json_t *arr = json_array();
    for (uint32_t i = 0; arr != NULL && i < count; i++) {
        const wh_item *it = &items[i];
        json_t *o = json_pack("{s:s, s:s, s:s, s:I, s:i}", "url", h->url_text[it->url], "event",
                              event_name(it->event), "doc", it->doc, "v", (json_int_t)it->v, "attempts",
                              (int)it->attempts);
        if (o != NULL && it->text != NULL) json_object_set_new(o, "text", json_stringn(it->text->data, it->text->len));
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            return NULL;
        }
    }
    return arr != NULL ? json_pack("{s:i, s:o}", "version", 1, "items", arr) : NULL;
}

static int write_file(webhook *h, const char *bytes, size_t len) {
    if (mkdir(h->data_dir, 0755) != 0 && errno != EEXIST) return -errno;
    char path[4200], tmp[4200];
    snprintf(path, sizeof path, "%s/%s", h->data_dir, WEBHOOK_QUEUE_FILE);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return -errno;
    int rc = 0;
    /* bounded by len: each pass writes bytes or fails */
    for (size_t off = 0; rc == 0 && off < len;) {
        ssize_t n = write(fd, bytes + off, len - off);
        if (n < 0 && errno != EINTR) rc = -errno;
        if (n > 0) off += (size_t)n;
    }
    if (rc == 0 && fdatasync(fd) != 0) rc = -errno;
    close(fd);
    if (rc == 0 && rename(tmp, path) != 0) rc = -errno;
    int dfd = rc == 0 ? open(h->data_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (dfd >= 0) {
        if (fsync(dfd) != 0) rc = -errno;
        close(dfd);
    }
    return rc;
}

/* Called with mu held; writes without it (the owners never wait for the disk). */
static void persist_locked(webhook *h) {
    if (!h->dirty) return;
    h->dirty = false;
    uint32_t count = h->count_items;
    wh_item *copy = malloc(sizeof *copy * (count > 0 ? count : 1));
    for (uint32_t i = 0; copy != NULL && i < count; i++) {
        copy[i] = h->items[i];
        text_ref(copy[i].text);
    }
    pthread_mutex_unlock(&h->mu);
    json_t *root = copy != NULL ? queue_json(h, copy, count) : NULL;
    char *s = root != NULL ? json_dumps(root, JSON_COMPACT) : NULL;
    int rc = s != NULL ? write_file(h, s, strlen(s)) : -ENOMEM;
    if (rc != 0) log_error("webhooks: cannot write %s/%s: %s", h->data_dir, WEBHOOK_QUEUE_FILE, strerror(-rc));
    free(s);
    json_decref(root);
    for (uint32_t i = 0; copy != NULL && i < count; i++) text_unref(copy[i].text);
    free(copy);
    pthread_mutex_lock(&h->mu);
    if (rc != 0) h->dirty = true;
}

static int load_file(webhook *h, char *err, size_t err_len) {
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", h->data_dir, WEBHOOK_QUEUE_FILE);
    if (access(path, F_OK) != 0) return 0;
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    json_t *items = json_object_get(root, "items");
    if (!json_is_array(items)) {
        snprintf(err, err_len, "webhooks: %s is not a queue file (%s); move it away to start without it", path,
                 root == NULL ? jerr.text : "no items");
        json_decref(root);
        return -EINVAL;
    }
    int64_t now = mono_ms();
    size_t i;
    json_t *o;
    uint32_t kept = 0, dropped = 0;
    json_array_foreach(items, i, o) {
        const char *url = json_string_value(json_object_get(o, "url"));
        const char *doc = json_string_value(json_object_get(o, "doc"));
        uint8_t ev = event_of(json_string_value(json_object_get(o, "event")));
        json_t *text = json_object_get(o, "text");
        uint32_t u = 0;
        while (url != NULL && u < h->count_urls && strcmp(h->url_text[u], url) != 0) u++;
        if (url == NULL || u == h->count_urls || doc == NULL || ev == 0 || strlen(doc) >= WEBHOOK_MAX_DOC_BYTES ||
            h->count_items == WEBHOOK_MAX_PENDING) {
            dropped++;   /* a URL no longer configured */
            continue;
        }
        wh_item *it = &h->items[h->count_items++];
        memset(it, 0, sizeof *it);
        it->url = u;
        it->event = ev;
        snprintf(it->doc, sizeof it->doc, "%s", doc);
        it->v = (uint64_t)json_integer_value(json_object_get(o, "v"));
        it->attempts = (uint32_t)json_integer_value(json_object_get(o, "attempts"));
        it->text = json_is_string(text) ? text_new(json_string_value(text), json_string_length(text)) : NULL;
        it->first_ms = now;
        it->due_ms = now;   /* pending before the restart: sent at once */
        kept++;
    }
    json_decref(root);
    if (kept + dropped > 0)
        log_info("webhooks: %u notifications pending from the last run%s", kept,
                 dropped > 0 ? " (some for URLs no longer configured were dropped)" : "");
    return 0;
}

/* ---- delivery ------------------------------------------------------------------------- */

static uint32_t backoff_ms(uint32_t attempts) {
    uint64_t ms = WEBHOOK_RETRY_FIRST_MS;
    for (uint32_t i = 1; i < attempts && ms < WEBHOOK_RETRY_MAX_MS; i++) ms *= 2;
    return ms < WEBHOOK_RETRY_MAX_MS ? (uint32_t)ms : WEBHOOK_RETRY_MAX_MS;
}

/* The body, written by the protocol's encoder (NUL-terminated, malloc'ed). */
static char *payload(const wh_item *it) {
    ot_buf b;
    ot_buf_init(&b);
    proto_str text = it->text != NULL ? (proto_str){it->text->data, it->text->len} : (proto_str){NULL, 0};
    int rc = proto_enc_webhook(&b, proto_cstr(event_name(it->event)), proto_cstr(it->doc), it->v, text);
    if (rc != 0) {
        ot_buf_free(&b);
        return NULL;
    }
    return b.data;   /* NUL-terminated (ot_buf), the caller's now (free) */
}

/* One POST, without mu. true when the receiver took it (2xx). */
static bool deliver(webhook *h, const wh_item *it) {
    char *body = payload(it);
    if (body == NULL) return false;
    size_t len = strlen(body);
    char headers[256];
    char sig[72];
    int n = snprintf(headers, sizeof headers, "X-Ringpad-Event: %s\r\n", event_name(it->event));
    if (h->secret[0] != '\0' && webhook_sign(h->secret, body, len, sig) == 0)
        snprintf(headers + n, sizeof headers - (size_t)n, "X-Ringpad-Signature: %s\r\n", sig);
    int status = 0;
    int rc = http_post(&h->urls[it->url], headers, body, len, WEBHOOK_TIMEOUT_MS, &h->cancel, &status);
    free(body);
    bool ok = rc == 0 && status >= 200 && status < 300;
    if (!ok)
        log_warn("webhooks: %s %s v%llu to %s: %s%s (attempt %u)", event_name(it->event), it->doc,
                 (unsigned long long)it->v, h->url_text[it->url], rc != 0 ? strerror(-rc) : "status ",
                 rc != 0 ? "" : (status >= 500 ? "5xx" : status >= 400 ? "4xx" : "not 2xx"), it->attempts + 1);
    return ok;
}

static wh_item *next_due(webhook *h, int64_t *wait_ms) {
    wh_item *best = NULL;
    for (uint32_t i = 0; i < h->count_items; i++) {
        wh_item *it = &h->items[i];
        if (!it->sending && (best == NULL || it->due_ms < best->due_ms)) best = it;
    }
    int64_t now = mono_ms();
    if (best != NULL && best->due_ms <= now) return best;
    *wait_ms = best != NULL ? best->due_ms - now : -1;
    return NULL;
}

static void *thread_main(void *arg) {
    webhook *h = arg;
    pthread_mutex_lock(&h->mu);
    while (!h->stop) {
        /* the file holds a notification before its POST: a restart resends it */
        persist_locked(h);
        int64_t wait_ms = -1;
        wh_item *it = next_due(h, &wait_ms);
        if (it == NULL) {
            if (h->dirty) continue;
            if (wait_ms < 0) {
                pthread_cond_wait(&h->cv, &h->mu);
            } else {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                ts.tv_sec += wait_ms / 1000;
                ts.tv_nsec += (wait_ms % 1000) * 1000000;
                if (ts.tv_nsec >= 1000000000) {
                    ts.tv_sec++;
                    ts.tv_nsec -= 1000000000;
                }
                pthread_cond_timedwait(&h->cv, &h->mu, &ts);
            }
            continue;
        }
        it->sending = true;
        wh_item copy = *it;
        copy.text = text_ref(it->text);
        pthread_mutex_unlock(&h->mu);
        bool ok = deliver(h, &copy);
        text_unref(copy.text);
        pthread_mutex_lock(&h->mu);
        /* the item may have moved (removals swap the last one in): find it again */
        for (uint32_t i = 0; i < h->count_items; i++) {
            wh_item *x = &h->items[i];
            if (!x->sending || x->url != copy.url || x->event != copy.event || strcmp(x->doc, copy.doc) != 0) continue;
            if (ok || (x->event == WEBHOOK_CHANGED && find_pending(h, x->url, x->event, x->doc) != NULL)) {
                /* delivered, or a later change of the same document supersedes it */
                remove_item(h, x);
            } else {
                x->sending = false;
                x->attempts++;
                x->due_ms = mono_ms() + backoff_ms(x->attempts);
            }
            h->dirty = true;
            break;
        }
    }
    persist_locked(h);
    pthread_mutex_unlock(&h->mu);
    return NULL;
}

/* ---- life ------------------------------------------------------------------------------- */

int webhook_new(const webhook_config *cfg, webhook **out, char *err, size_t err_len) {
    *out = NULL;
    if (cfg->urls == NULL || cfg->urls[0] == '\0') return 0;
    webhook *h = calloc(1, sizeof *h);
    if (h == NULL) return -ENOMEM;
    h->items = calloc(WEBHOOK_MAX_PENDING, sizeof *h->items);
    if (h->items == NULL) {
        free(h);
        return -ENOMEM;
    }
    h->cfg = *cfg;
    snprintf(h->secret, sizeof h->secret, "%s", cfg->secret != NULL ? cfg->secret : "");
    snprintf(h->data_dir, sizeof h->data_dir, "%s", cfg->data_dir);
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv, NULL);
    const char *p = cfg->urls;
    int rc = 0;
    /* bounded by the list's length */
    while (rc == 0 && *p != '\0') {
        size_t n = strcspn(p, "\n");
        if (n > 0) {
            if (h->count_urls == WEBHOOK_MAX_URLS) {
                snprintf(err, err_len, "--webhook-url: at most %d URLs", WEBHOOK_MAX_URLS);
                rc = -EINVAL;
                break;
            }
            char *u = h->url_text[h->count_urls];
            const char *why = "too long";
            if (n >= sizeof h->url_text[0]) rc = -EINVAL;
            if (rc == 0) {
                memcpy(u, p, n);
                u[n] = '\0';
                rc = http_url_parse(u, &h->urls[h->count_urls], &why);
            }
            if (rc != 0) snprintf(err, err_len, "--webhook-url '%.*s': %s", (int)n, p, why);
            else h->count_urls++;
        }
        p += n + (p[n] == '\n');
    }
    if (rc == 0) rc = load_file(h, err, err_len);
    if (rc != 0) {
        webhook_free(h);
        return rc;
    }
    h->dirty = h->count_items > 0;
    *out = h;
    return 0;
}

int webhook_start(webhook *h) {
    if (h == NULL) return 0;
    int rc = pthread_create(&h->thread, NULL, thread_main, h);
    if (rc != 0) return -rc;
    h->started = true;
    return 0;
}

void webhook_free(webhook *h) {
    if (h == NULL) return;
    if (h->started) {
        pthread_mutex_lock(&h->mu);
        h->stop = true;
        atomic_store(&h->cancel, true);
        pthread_cond_signal(&h->cv);
        pthread_mutex_unlock(&h->mu);
        pthread_join(h->thread, NULL);
    }
    for (uint32_t i = 0; i < h->count_items; i++) text_unref(h->items[i].text);
    free(h->items);
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv);
    free(h);
}
