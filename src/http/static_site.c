/*
 * Static web root in memory (see static_site.h).
 *
 * Loading happens once, before the workers start, so it may block and
 * allocate; serving is a binary search over an immutable sorted array plus a
 * head written into the caller's reply: no file system, no allocation.
 */
#include "http/static_site.h"
#include "base/clock.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/sha256.h>

#include "http/http_date.h"
#include "http/http_response.h"
#include "http/path.h"

/* '"' + 32 hex digits (128 bits of SHA-256) + '"' + NUL */
#define STATIC_SITE_ETAG_BYTES 35
/* SHA-256 input per update call (wolfCrypt lengths are 32-bit). */
#define STATIC_SITE_HASH_CHUNK_BYTES (1u << 20)

typedef struct site_blob {
    uint8_t *bytes;
    size_t len;
    char etag[STATIC_SITE_ETAG_BYTES];
} site_blob;

typedef struct site_file {
    char *path;                /* relative, '/'-separated, e.g. "js/app.js" */
    const char *content_type;
    int64_t mtime_s;
    site_blob plain;
    site_blob gz;              /* len 0 and bytes NULL when there is no variant */
    bool has_gz;
    bool is_variant;           /* while loading: a .gz attached to its base */
} site_file;

struct static_site {
    site_file *files;          /* sorted by path (strcmp) */
    size_t count_files;
};

typedef struct loader {
    char root[PATH_MAX];       /* realpath of the web root */
    size_t root_len;
    size_t max_total_bytes;
    size_t total_bytes;
    site_file *files;
    size_t count_files;
} loader;

static const struct {
    const char *ext;
    const char *type;
} k_types[] = {
    {"html", "text/html; charset=utf-8"},
    {"js", "text/javascript; charset=utf-8"},
    {"mjs", "text/javascript; charset=utf-8"},
    {"css", "text/css; charset=utf-8"},
    {"json", "application/json"},
    {"svg", "image/svg+xml"},
    {"png", "image/png"},
    {"ico", "image/x-icon"},
    {"wasm", "application/wasm"},
    {"map", "application/json"},
    {"txt", "text/plain; charset=utf-8"},
    {"woff2", "font/woff2"},
};

static const char *content_type_for(const char *path) {
    const char *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path;
    const char *dot = strrchr(base, '.');
    if (dot != NULL) {
        for (size_t i = 0; i < sizeof k_types / sizeof k_types[0]; i++)
            if (strcasecmp(dot + 1, k_types[i].ext) == 0)
                return k_types[i].type;
    }
    return "application/octet-stream";
}

static int blob_etag(site_blob *b) {
    wc_Sha256 sha;
    uint8_t digest[WC_SHA256_DIGEST_SIZE];
    if (wc_InitSha256(&sha) != 0)
        return -EIO;
    int rc = 0;
    for (size_t off = 0; off < b->len && rc == 0; off += STATIC_SITE_HASH_CHUNK_BYTES) {
        size_t n = b->len - off;
        if (n > STATIC_SITE_HASH_CHUNK_BYTES)
            n = STATIC_SITE_HASH_CHUNK_BYTES;
        rc = wc_Sha256Update(&sha, b->bytes + off, (word32)n);
    }
    if (rc == 0)
        rc = wc_Sha256Final(&sha, digest);
    wc_Sha256Free(&sha);
    if (rc != 0)
        return -EIO;
    static const char hex[] = "0123456789abcdef";
    char *e = b->etag;
    *e++ = '"';
    for (size_t i = 0; i < 16; i++) {
        *e++ = hex[digest[i] >> 4];
        *e++ = hex[digest[i] & 15];
    }
    *e++ = '"';
    *e = '\0';
    return 0;
}

/* Reads a regular file whole. O_NOFOLLOW and the fstat after open close the
 * gap between the walk's lstat and the read (a file swapped for a link). */
static int read_file(loader *ld, const char *abs_path, site_blob *out, int64_t *mtime_s) {
    int fd = open(abs_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return -errno;
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) != 0) {
        rc = -errno;
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        rc = -EINVAL;
        goto out;
    }
    size_t size = (size_t)st.st_size;
    if (size > ld->max_total_bytes - ld->total_bytes) {
        rc = -EFBIG;
        goto out;
    }
    out->bytes = malloc(size > 0 ? size : 1);
    if (out->bytes == NULL) {
        rc = -ENOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = read(fd, out->bytes + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = -errno;
            goto out;
        }
        if (n == 0)
            break; /* shrank while we read: keep what is there */
        got += (size_t)n;
    }
    out->len = got;
    ld->total_bytes += got;
    *mtime_s = (int64_t)st.st_mtim.tv_sec;
    rc = blob_etag(out);
out:
    close(fd);
    return rc;
}

static int add_file(loader *ld, const char *abs_path, const char *rel_path) {
    /* A name no request can spell is never served: don't load it. */
    if (strlen(rel_path) > PATH_MAX_DECODED_BYTES)
        return 0;
    if (ld->count_files >= STATIC_SITE_MAX_FILES)
        return -EMFILE;
    site_file *f = &ld->files[ld->count_files];
    memset(f, 0, sizeof *f);
    int rc = read_file(ld, abs_path, &f->plain, &f->mtime_s);
    if (rc == 0) {
        f->path = strdup(rel_path);
        if (f->path == NULL)
            rc = -ENOMEM;
    }
    if (rc < 0) {
        free(f->plain.bytes);
        f->plain.bytes = NULL;
        /* Vanished or not regular by now: skip it; anything else fails the load. */
        return (rc == -ENOENT || rc == -EINVAL || rc == -ELOOP) ? 0 : rc;
    }
    f->content_type = content_type_for(rel_path);
    ld->count_files++;
    return 0;
}

/* True when `resolved` (a realpath) lies strictly inside the root. */
static bool inside_root(const loader *ld, const char *resolved) {
    return strncmp(resolved, ld->root, ld->root_len) == 0 &&
           (ld->root_len == 1 || resolved[ld->root_len] == '/') &&
           resolved[ld->root_len] != '\0';
}

static int walk(loader *ld, const char *abs_dir, const char *rel_dir, int depth) {
    DIR *dir = opendir(abs_dir);
    if (dir == NULL)
        return depth == 0 ? -errno : 0;
    int rc = 0;
    struct dirent *de;
    while (rc == 0 && (de = readdir(dir)) != NULL) {
        if (de->d_name[0] == '.')
            continue; /* ".", "..", and dotfiles (.git, .env, ...) */
        char abs_path[PATH_MAX];
        char rel_path[PATH_MAX];
        int n1 = snprintf(abs_path, sizeof abs_path, "%s/%s", abs_dir, de->d_name);
        int n2 = rel_dir[0] ? snprintf(rel_path, sizeof rel_path, "%s/%s", rel_dir, de->d_name)
                            : snprintf(rel_path, sizeof rel_path, "%s", de->d_name);
        if (n1 < 0 || (size_t)n1 >= sizeof abs_path || n2 < 0 || (size_t)n2 >= sizeof rel_path)
            continue;
        struct stat st;
        if (lstat(abs_path, &st) != 0)
            continue;
        if (S_ISLNK(st.st_mode)) {
            /* Links are followed only to regular files inside the root;
             * directory links are skipped (no cycles, no duplicate trees). */
            char resolved[PATH_MAX];
            if (realpath(abs_path, resolved) == NULL || !inside_root(ld, resolved))
                continue;
            if (stat(resolved, &st) != 0 || !S_ISREG(st.st_mode))
                continue;
            rc = add_file(ld, resolved, rel_path);
        } else if (S_ISDIR(st.st_mode)) {
            if (depth < STATIC_SITE_MAX_DEPTH)
                rc = walk(ld, abs_path, rel_path, depth + 1);
        } else if (S_ISREG(st.st_mode)) {
            rc = add_file(ld, abs_path, rel_path);
        }
    }
    closedir(dir);
    return rc;
}

static int compare_files(const void *a, const void *b) {
    return strcmp(((const site_file *)a)->path, ((const site_file *)b)->path);
}

static int compare_key(const void *key, const void *file) {
    return strcmp((const char *)key, ((const site_file *)file)->path);
}

static site_file *find(site_file *files, size_t count, const char *path) {
    return bsearch(path, files, count, sizeof *files, compare_key);
}

static void free_files(site_file *files, size_t count) {
    for (size_t i = 0; i < count; i++) {
        free(files[i].path);
        free(files[i].plain.bytes);
        free(files[i].gz.bytes);
    }
    free(files);
}

/* "x.gz" next to "x" becomes x's variant; the array is then compacted. */
static void attach_gzip_variants(loader *ld) {
    for (size_t i = 0; i < ld->count_files; i++) {
        site_file *f = &ld->files[i];
        size_t n = strlen(f->path);
        if (n <= 3 || strcmp(f->path + n - 3, ".gz") != 0 || f->has_gz)
            continue;
        char base[PATH_MAX];
        memcpy(base, f->path, n - 3);
        base[n - 3] = '\0';
        site_file *b = find(ld->files, ld->count_files, base);
        if (b == NULL || b->is_variant || b->has_gz)
            continue;
        b->gz = f->plain;
        b->has_gz = true;
        f->plain.bytes = NULL;
        f->is_variant = true;
    }
    size_t kept = 0;
    for (size_t i = 0; i < ld->count_files; i++) {
        site_file *f = &ld->files[i];
        if (f->is_variant) {
            free(f->path);
            continue;
        }
        ld->files[kept++] = *f;
    }
    ld->count_files = kept;
}

int static_site_load(const char *web_root, size_t max_total_bytes, static_site **out) {
    *out = NULL;
    loader *ld = calloc(1, sizeof *ld);
    if (ld == NULL)
        return -ENOMEM;
    int rc = 0;
    if (realpath(web_root, ld->root) == NULL) {
        rc = -errno;
        goto fail;
    }
    ld->root_len = strlen(ld->root);
    ld->max_total_bytes = max_total_bytes;
    ld->files = calloc(STATIC_SITE_MAX_FILES, sizeof *ld->files);
    if (ld->files == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    rc = walk(ld, ld->root, "", 0);
    if (rc < 0)
        goto fail;
    qsort(ld->files, ld->count_files, sizeof *ld->files, compare_files);
    attach_gzip_variants(ld);

    static_site *site = calloc(1, sizeof *site);
    if (site == NULL) {
        rc = -ENOMEM;
        goto fail;
    }
    site->files = ld->files;
    site->count_files = ld->count_files;
    free(ld);
    *out = site;
    return 0;
fail:
    if (ld->files != NULL)
        free_files(ld->files, ld->count_files);
    free(ld);
    return rc;
}

size_t static_site_count_files(const static_site *site) {
    return site->count_files;
}

void static_site_free(static_site *site) {
    if (site == NULL)
        return;
    free_files(site->files, site->count_files);
    free(site);
}

/* ---- serving --------------------------------------------------------------- */

/* A q-value is zero when it is "0", "0.", "0.0", ... (RFC 9110 12.4.2). */
static bool qvalue_is_zero(const char *v, size_t len) {
    if (len == 0 || v[0] != '0')
        return false;
    for (size_t i = 1; i < len; i++)
        if (v[i] != '.' && v[i] != '0')
            return false;
    return true;
}

static bool token_is(const char *s, size_t len, const char *lit) {
    return strlen(lit) == len && strncasecmp(s, lit, len) == 0;
}

/* Whether Accept-Encoding admits gzip: named with q > 0, or "*" with q > 0
 * and gzip not named. */
static bool accepts_gzip(const http_request *req) {
    const http_header *h = http_find_header(req, "Accept-Encoding");
    if (h == NULL)
        return false;
    int gzip = -1; /* -1 unnamed, 0 refused, 1 accepted */
    int star = -1;
    const char *v = h->value;
    size_t len = h->value_len, i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',' && v[i] != ';' && v[i] != ' ' && v[i] != '\t')
            i++;
        size_t name_len = i - start;
        bool zero = false;
        /* Parameters: only q matters. */
        while (i < len && v[i] != ',') {
            if (v[i] == ';') {
                i++;
                while (i < len && (v[i] == ' ' || v[i] == '\t'))
                    i++;
                if (i + 1 < len && (v[i] == 'q' || v[i] == 'Q') && v[i + 1] == '=') {
                    i += 2;
                    size_t q = i;
                    while (i < len && v[i] != ',' && v[i] != ';' && v[i] != ' ' && v[i] != '\t')
                        i++;
                    zero = qvalue_is_zero(v + q, i - q);
                    continue;
                }
            }
            i++;
        }
        if (token_is(v + start, name_len, "gzip") || token_is(v + start, name_len, "x-gzip"))
            gzip = zero ? 0 : 1;
        else if (token_is(v + start, name_len, "*"))
            star = zero ? 0 : 1;
    }
    return gzip == 1 || (gzip == -1 && star == 1);
}

/* If-None-Match with weak comparison: "*" or a list of [W/]"tag". A
 * malformed list matches nothing (the full response is always safe). */
static bool none_match_hits(const char *v, size_t len, const char *etag) {
    size_t etag_len = strlen(etag);
    size_t i = 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        if (i == len)
            break;
        if (v[i] == '*')
            return true;
        if (len - i >= 2 && v[i] == 'W' && v[i + 1] == '/')
            i += 2;
        if (i == len || v[i] != '"')
            return false;
        const char *close = memchr(v + i + 1, '"', len - i - 1);
        if (close == NULL)
            return false;
        size_t tag_len = (size_t)(close - (v + i)) + 1;
        if (tag_len == etag_len && memcmp(v + i, etag, etag_len) == 0)
            return true;
        i += tag_len;
    }
    return false;
}

static int error_reply(int status, const char *extra, static_reply *reply) {
    int n = http_error_response(status, NULL, extra, reply->head, sizeof reply->head);
    if (n < 0)
        return n;
    reply->status = status;
    reply->head_len = (size_t)n;
    reply->close_connection = true;
    return 0;
}

static const site_file *lookup(const static_site *site, const char *path, size_t path_len) {
    if (path_len == 0)
        return find(site->files, site->count_files, "index.html");
    const site_file *f = find(site->files, site->count_files, path);
    if (f != NULL)
        return f;
    char index[PATH_MAX_DECODED_BYTES + sizeof "/index.html"];
    snprintf(index, sizeof index, "%s/index.html", path);
    f = find(site->files, site->count_files, index);
    if (f != NULL)
        return f;
    /* The editor's pretty URLs: /d/<document name> is the editor page, which
     * reads the name from the URL. */
    if (path_len > 2 && memcmp(path, "d/", 2) == 0)
        return find(site->files, site->count_files, "editor.html");
    return NULL;
}

int static_site_respond(const static_site *site, const http_request *req, static_reply *reply) {
    reply->status = 0;
    reply->head_len = 0;
    reply->body = NULL;
    reply->body_len = 0;
    reply->close_connection = false;

    /* Methods are case-sensitive (RFC 9110 9.1). */
    bool is_head = req->method_len == 4 && memcmp(req->method, "HEAD", 4) == 0;
    bool is_get = req->method_len == 3 && memcmp(req->method, "GET", 3) == 0;
    if (!is_get && !is_head)
        return error_reply(405, "Allow: GET, HEAD\r\n", reply);

    char path[PATH_MAX_DECODED_BYTES + 1];
    size_t path_len = 0;
    int rc = path_decode(req->target, req->target_len, path, sizeof path, &path_len);
    if (rc == PATH_ERR_TOO_LONG)
        return error_reply(414, NULL, reply);
    if (rc < 0)
        return error_reply(400, NULL, reply);

    const site_file *f = lookup(site, path, path_len);
    if (f == NULL)
        return error_reply(404, NULL, reply);

    bool use_gz = f->has_gz && accepts_gzip(req);
    const site_blob *b = use_gz ? &f->gz : &f->plain;

    bool not_modified = false;
    const http_header *inm = http_find_header(req, "If-None-Match");
    if (inm != NULL) {
        not_modified = none_match_hits(inm->value, inm->value_len, b->etag);
    } else {
        const http_header *ims = http_find_header(req, "If-Modified-Since");
        int64_t since = 0;
        if (ims != NULL && http_date_parse(ims->value, ims->value_len, &since) == 0)
            not_modified = f->mtime_s <= since;
    }

    char last_modified[HTTP_DATE_BYTES];
    if (http_date_format(f->mtime_s, last_modified) < 0)
        snprintf(last_modified, sizeof last_modified, "Thu, 01 Jan 1970 00:00:00 GMT");
    char extra[512];
    int n = snprintf(extra, sizeof extra,
                     "ETag: %s\r\nLast-Modified: %s\r\nCache-Control: no-cache\r\n"
                     "X-Content-Type-Options: nosniff\r\n%s%s",
                     b->etag, last_modified, f->has_gz ? "Vary: Accept-Encoding\r\n" : "",
                     use_gz && !not_modified ? "Content-Encoding: gzip\r\n" : "");
    if (n < 0 || (size_t)n >= sizeof extra)
        return -ENOSPC;

    http_response_head head = {
        .status = not_modified ? 304 : 200,
        .content_type = not_modified ? NULL : f->content_type,
        .content_length = not_modified ? -1 : (int64_t)b->len,
        .keep_alive = req->keep_alive,
        .date_unix_s = clock_wall_s(),
        .extra_headers = extra,
    };
    n = http_response_write_head(&head, reply->head, sizeof reply->head);
    if (n < 0)
        return n;
    reply->status = head.status;
    reply->head_len = (size_t)n;
    reply->close_connection = !req->keep_alive;
    if (!not_modified && is_get) {
        reply->body = b->bytes;
        reply->body_len = b->len;
    }
    return 0;
}
