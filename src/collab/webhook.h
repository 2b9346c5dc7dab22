/*
 * Webhooks: a POST of {event, doc, v[, text]} to every --webhook-url when a
 * document is created, changed (debounced per document) or deleted, signed
 * with HMAC-SHA256 of the body under --webhook-secret in
 * `X-Ringpad-Signature: sha256=<hex>`.
 *
 * Delivery runs on a thread of its own, never on a worker: the owners only
 * call webhook_notify, which takes a mutex for a copy into the queue. The
 * queue is bounded (WEBHOOK_MAX_PENDING notifications; a change coalesces
 * with the pending change of the same document and URL) and durable: it is
 * written to <data dir>/.webhooks.json (temp file, fsync, rename) before a
 * notification is sent and after it is delivered, and read back at start,
 * so a restart does not drop a pending notification. At least once: a
 * receiver dedupes on (doc, event, v). A failed POST (no 2xx, or no answer
 * within WEBHOOK_TIMEOUT_MS) is retried with exponential backoff.
 */
#ifndef RINGPAD_WEBHOOK_H
#define RINGPAD_WEBHOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WEBHOOK_MAX_URLS 16
#define WEBHOOK_MAX_PENDING 10000u
#define WEBHOOK_TIMEOUT_MS 5000u
#define WEBHOOK_RETRY_FIRST_MS 250u
#define WEBHOOK_RETRY_MAX_MS 60000u
/* A document changing without a pause is still notified this often (in debounce periods). */
#define WEBHOOK_MAX_WAIT_PERIODS 10u
#define WEBHOOK_QUEUE_FILE ".webhooks.json"

typedef enum webhook_event { WEBHOOK_CREATED = 1, WEBHOOK_CHANGED = 2, WEBHOOK_DELETED = 3 } webhook_event;

typedef struct webhook_config {
    const char *urls;               /* newline-separated http:// URLs (none: webhooks off) */
    const char *secret;             /* "" = unsigned */
    uint32_t debounce_ms;
    bool with_text;                 /* created and changed carry the text at v */
    const char *data_dir;           /* where the queue file lives (created when missing) */
} webhook_config;

typedef struct webhook webhook;

/* Parses the URLs and reads the queue file (notifications left by the last
 * run). NULL in *out when no URL is configured. 0, or a negative errno with
 * err holding one line (a bad URL, an unreadable queue file). */
int webhook_new(const webhook_config *cfg, webhook **out, char *err, size_t err_len);
/* Starts the delivery thread. 0 or a negative errno. */
int webhook_start(webhook *h);
/* Writes what is pending, stops the thread (a POST in flight ends within
 * its timeout) and frees everything. NULL is a no-op. */
void webhook_free(webhook *h);

/* From any thread (the document owners): queue a notification. text may be
 * NULL (only kept when with_text). Never waits for the network or the disk. */
void webhook_notify(webhook *h, webhook_event ev, const char *doc, size_t doc_len, uint64_t v, const char *text,
                    size_t text_len);
bool webhook_wants_text(const webhook *h);

/* "sha256=" + hex HMAC-SHA256 of body under secret into out (72 bytes with the NUL). 0 or -EIO. */
int webhook_sign(const char *secret, const char *body, size_t len, char out[72]);

#endif /* RINGPAD_WEBHOOK_H */
