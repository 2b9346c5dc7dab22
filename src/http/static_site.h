/*
 * The web editor's static files, loaded once at startup and served from memory.
 *
 * Serving never touches the file system (no blocking syscall on an io_uring
 * worker), and nothing outside the loaded set can ever be served. A loaded
 * site is immutable, so every worker thread may share one without locks.
 */
#ifndef RINGPAD_STATIC_SITE_H
#define RINGPAD_STATIC_SITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http.h"

/* Directory levels below the root that are walked. */
#define STATIC_SITE_MAX_DEPTH 8
/* Files (counting .gz variants) loaded at most; more: -EMFILE. */
#define STATIC_SITE_MAX_FILES 1024
/* Room for any reply head, error bodies included. */
#define STATIC_SITE_HEAD_MAX_BYTES 1024

typedef struct static_site static_site;

typedef struct static_reply {
    int status;                              /* 200, 304, 400, 404, 405, 414 */
    char head[STATIC_SITE_HEAD_MAX_BYTES];   /* response head (errors: head and body) */
    size_t head_len;
    const uint8_t *body;                     /* bytes inside the site, NULL when none */
    size_t body_len;                         /* send head then body_len bytes of body */
    bool close_connection;                   /* the head says Connection: close */
} static_reply;

/*
 * Loads every regular file under web_root (depth <= STATIC_SITE_MAX_DEPTH)
 * into memory. Skipped: names starting with '.', anything that is not a
 * regular file or directory, and symlinks whose target resolves outside the
 * root. "<file>.gz" next to "<file>" becomes that file's gzip variant (served
 * only to clients that accept gzip) and is not served on its own.
 * Returns 0 and *out, -EFBIG when the files (variants included) exceed
 * max_total_bytes, -EMFILE past STATIC_SITE_MAX_FILES, or the -errno of a
 * failing call (the root missing: -ENOENT). Call once, before the workers start.
 */
int static_site_load(const char *web_root, size_t max_total_bytes, static_site **out);

/*
 * Answers one request from memory. GET and HEAD only (else 405 with
 * Allow: GET, HEAD); "/" and a directory give its index.html; a bad path is
 * 400 (414 when too long), an unknown one 404. 200 replies carry
 * Content-Type, Content-Length, ETag (strong, SHA-256 of the bytes sent),
 * Last-Modified, Cache-Control: no-cache, and Vary: Accept-Encoding (+
 * Content-Encoding: gzip) when a gzip variant exists. If-None-Match ("*" or a
 * list, weak comparison) and, without it, If-Modified-Since give 304.
 * HEAD gets the GET head with no body. Errors carry Connection: close; 200 and
 * 304 follow req->keep_alive. Returns 0 (reply filled) or -ENOSPC (cannot
 * happen with the sizes above; the caller answers 500).
 */
int static_site_respond(const static_site *site, const http_request *req, static_reply *reply);

/* Files that can be served (gzip variants not counted). */
size_t static_site_count_files(const static_site *site);

/* Frees a site from static_site_load (NULL is fine). */
void static_site_free(static_site *site);

#endif /* RINGPAD_STATIC_SITE_H */
