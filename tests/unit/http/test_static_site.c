/* Unit tests for the in-memory web root (src/http/static_site.c). Each test builds
 * its own web root in a fresh temp directory and removes it afterwards. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "http/http.h"
#include "http/static_site.h"

#define FILE_MTIME_S 1600000000 /* Sun, 13 Sep 2020 12:26:40 GMT */

/* Criterion runs every test in its own process: plain file-level state is per test. */
static char g_tmp[PATH_MAX];      /* holds root/ and outside/ */
static char g_root[PATH_MAX];
static static_site *g_site;
static char g_req_buf[4096];      /* the request the current http_request points into */

static void write_file(const char *rel, const char *content, size_t len) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    cr_assert_geq(fd, 0, "open %s: %s", p, strerror(errno));
    cr_assert_eq(write(fd, content, len), (ssize_t)len);
    struct timeval tv[2] = {{FILE_MTIME_S, 0}, {FILE_MTIME_S, 0}};
    cr_assert_eq(futimes(fd, tv), 0);
    close(fd);
}

static void write_text(const char *rel, const char *content) {
    write_file(rel, content, strlen(content));
}

static void make_dir(const char *rel) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    cr_assert_eq(mkdir(p, 0755), 0, "mkdir %s", p);
}

static void make_link(const char *target, const char *rel) {
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/%s", g_tmp, rel);
    cr_assert_eq(symlink(target, p), 0, "symlink %s", p);
}

static const char k_gz_bytes[] = "\x1f\x8b\x08\x00GZIPPED-APP-JS"; /* content is opaque to the server */

static void build_root(void) {
    snprintf(g_tmp, sizeof g_tmp, "/tmp/ringpad-static-XXXXXX");
    cr_assert_not_null(mkdtemp(g_tmp));
    snprintf(g_root, sizeof g_root, "%s/root", g_tmp);
    make_dir("root");
    make_dir("outside");
    write_text("outside/secret.txt", "TOP SECRET");
    make_dir("outside/dir");
    write_text("outside/dir/also.txt", "ALSO SECRET");

    write_text("root/index.html", "<!doctype html><title>ringpad</title>");
    write_text("root/editor.html", "<!doctype html><title>editor</title>");
    write_text("root/app.js", "console.log('plain');");
    write_file("root/app.js.gz", k_gz_bytes, sizeof k_gz_bytes - 1);
    write_text("root/style.css", "body{}");
    write_text("root/data.json", "{}");
    write_text("root/img.svg", "<svg/>");
    write_text("root/logo.png", "PNG");
    write_text("root/favicon.ico", "ICO");
    write_text("root/mod.mjs", "export {};");
    write_text("root/x.wasm", "WASM");
    write_text("root/app.js.map", "{\"version\":3}");
    write_text("root/readme.txt", "hello");
    write_text("root/font.woff2", "WOFF2");
    write_text("root/blob.bin", "BIN");
    write_text("root/UPPER.HTML", "<p>upper</p>");
    write_text("root/orphan.gz", "GZ-WITHOUT-BASE");
    write_text("root/empty.txt", "");
    write_text("root/.secret", "dotfile");
    make_dir("root/.git");
    write_text("root/.git/config", "git");
    make_dir("root/sub");
    write_text("root/sub/index.html", "<p>sub</p>");
    make_dir("root/sub/deep");
    write_text("root/sub/deep/file.txt", "deep");
    make_dir("root/noindex");
    write_text("root/noindex/a.txt", "a");

    make_link("../outside/secret.txt", "root/link-out.txt");        /* relative, escapes */
    char abs[PATH_MAX];
    snprintf(abs, sizeof abs, "%s/outside/secret.txt", g_tmp);
    make_link(abs, "root/link-abs-out.txt");                        /* absolute, escapes */
    make_link("../outside/dir", "root/link-dir-out");               /* directory, escapes */
    make_link("index.html", "root/link-in.html");                   /* inside: served */
    make_link("sub", "root/link-dir-in");                           /* directory links: skipped */
    make_link("missing.txt", "root/dangling.txt");
    char fifo[PATH_MAX];
    snprintf(fifo, sizeof fifo, "%s/root/pipe.txt", g_tmp);
    cr_assert_eq(mkfifo(fifo, 0644), 0); /* opening it would block: must be skipped */
}

static int rm_entry(const char *p, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}

static void setup(void) {
    build_root();
    int rc = static_site_load(g_root, 1 << 20, &g_site);
    cr_assert_eq(rc, 0, "load: %s", strerror(-rc));
}

static void teardown(void) {
    static_site_free(g_site);
    g_site = NULL;
    if (g_tmp[0] != '\0')
        nftw(g_tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TestSuite(static_site, .init = setup, .fini = teardown);

static http_request request(const char *head) {
    snprintf(g_req_buf, sizeof g_req_buf, "%s", head);
    http_request req;
    http_limits limits = http_limits_default();
    int rc = http_parse_request(g_req_buf, strlen(g_req_buf), &limits, &req);
    cr_assert_gt(rc, 0, "request did not parse (%d): %s", rc, head);
    return req;
}

/* GET <target> with extra header lines (CRLF-terminated). */
static static_reply respond(const char *method, const char *target, const char *headers) {
    char head[2048];
    snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: t\r\n%s\r\n", method, target, headers);
    http_request req = request(head);
    static_reply reply;
    memset(&reply, 0x5a, sizeof reply);
    cr_assert_eq(static_site_respond(g_site, &req, &reply), 0);
    cr_assert_gt(reply.head_len, 0);
    cr_assert_leq(reply.head_len, sizeof reply.head);
    return reply;
}

static bool head_has(const static_reply *r, const char *line) {
    char needle[512];
    snprintf(needle, sizeof needle, "\r\n%s\r\n", line);
    return memmem(r->head, r->head_len, needle, strlen(needle)) != NULL;
}

/* The value of header `name` in the reply head, copied into out. */
static bool head_value(const static_reply *r, const char *name, char *out, size_t cap) {
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *p = memmem(r->head, r->head_len, needle, strlen(needle));
    if (p == NULL)
        return false;
    p += strlen(needle);
    const char *end = memmem(p, r->head_len - (size_t)(p - r->head), "\r\n", 2);
    cr_assert_not_null(end);
    snprintf(out, cap, "%.*s", (int)(end - p), p);
    return true;
}

static bool body_is(const static_reply *r, const char *want, size_t len) {
    return r->body != NULL && r->body_len == len && memcmp(r->body, want, len) == 0;
}

static void assert_status(const static_reply *r, int status) {
    char line[64];
    int n = snprintf(line, sizeof line, "HTTP/1.1 %d ", status);
    cr_assert_eq(r->status, status, "%.*s", (int)r->head_len, r->head);
    cr_assert_eq(strncmp(r->head, line, (size_t)n), 0);
    cr_assert_not_null(memmem(r->head, r->head_len, "\r\n\r\n", 4));
}

Test(static_site, count_files_skips_what_it_must) {
    /* index.html app.js style.css data.json img.svg logo.png favicon.ico mod.mjs
     * x.wasm app.js.map readme.txt font.woff2 blob.bin UPPER.HTML orphan.gz empty.txt
     * sub/index.html sub/deep/file.txt noindex/a.txt link-in.html editor.html = 21; not: app.js.gz
     * (variant), dotfiles, links out, directory links, dangling link, FIFO. */
    cr_assert_eq(static_site_count_files(g_site), 21);
}

Test(static_site, document_urls_serve_the_editor) {
    const char *want = "<!doctype html><title>editor</title>";
    const char *targets[] = {"/d/notes", "/d/notes/2026/plan.md", "/d/a%20b?x=1"};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        static_reply r = respond("GET", targets[i], "");
        assert_status(&r, 200);
        cr_assert(body_is(&r, want, strlen(want)), "%s", targets[i]);
    }
    static_reply bare = respond("GET", "/d/", "");
    assert_status(&bare, 404);
    static_reply escape = respond("GET", "/d/../../etc/passwd", "");
    assert_status(&escape, 400);
}

Test(static_site, get_root_serves_index) {
    static_reply r = respond("GET", "/", "");
    assert_status(&r, 200);
    const char *want = "<!doctype html><title>ringpad</title>";
    cr_assert(body_is(&r, want, strlen(want)));
    cr_assert(head_has(&r, "Content-Type: text/html; charset=utf-8"));
    char v[128];
    snprintf(v, sizeof v, "Content-Length: %zu", strlen(want));
    cr_assert(head_has(&r, v));
    cr_assert(head_has(&r, "Connection: keep-alive"));
    cr_assert(head_has(&r, "Server: ringpad"));
    cr_assert(head_has(&r, "Last-Modified: Sun, 13 Sep 2020 12:26:40 GMT"));
    cr_assert(head_has(&r, "Cache-Control: no-cache"));
    cr_assert(head_has(&r, "X-Content-Type-Options: nosniff"));
    cr_assert(head_value(&r, "Date", v, sizeof v));
    cr_assert_eq(strlen(v), 29);
    cr_assert(head_value(&r, "ETag", v, sizeof v));
    cr_assert_eq(strlen(v), 34);
    cr_assert_eq(v[0], '"');
    cr_assert_eq(v[33], '"');
    cr_assert_not(head_has(&r, "Vary: Accept-Encoding"), "no variant, no Vary");
    cr_assert_not(r.close_connection);

    static_reply same = respond("GET", "/index.html", "");
    assert_status(&same, 200);
    cr_assert_eq(same.body, r.body, "zero-copy: the same bytes inside the site");
}

Test(static_site, head_has_no_body) {
    static_reply get = respond("GET", "/app.js", "");
    static_reply head = respond("HEAD", "/app.js", "");
    assert_status(&head, 200);
    cr_assert_null(head.body);
    cr_assert_eq(head.body_len, 0);
    char cl_get[64], cl_head[64];
    cr_assert(head_value(&get, "Content-Length", cl_get, sizeof cl_get));
    cr_assert(head_value(&head, "Content-Length", cl_head, sizeof cl_head));
    cr_assert_str_eq(cl_head, cl_get);
    cr_assert_str_eq(cl_head, "21");
}

Test(static_site, directories_serve_their_index) {
    static_reply r = respond("GET", "/sub", "");
    assert_status(&r, 200);
    cr_assert(body_is(&r, "<p>sub</p>", 10));
    r = respond("GET", "/sub/", "");
    assert_status(&r, 200);
    cr_assert(body_is(&r, "<p>sub</p>", 10));
    r = respond("GET", "//sub//index.html", "");
    assert_status(&r, 200);
    r = respond("GET", "/sub/deep/file.txt?cache=1", "");
    assert_status(&r, 200);
    cr_assert(body_is(&r, "deep", 4));
    r = respond("GET", "/noindex/", "");
    assert_status(&r, 404);
    r = respond("GET", "/sub/deep", "");
    assert_status(&r, 404);
}

Test(static_site, content_types) {
    static const struct {
        const char *target;
        const char *type;
    } cases[] = {
        {"/index.html", "text/html; charset=utf-8"},
        {"/UPPER.HTML", "text/html; charset=utf-8"},
        {"/app.js", "text/javascript; charset=utf-8"},
        {"/mod.mjs", "text/javascript; charset=utf-8"},
        {"/style.css", "text/css; charset=utf-8"},
        {"/data.json", "application/json"},
        {"/img.svg", "image/svg+xml"},
        {"/logo.png", "image/png"},
        {"/favicon.ico", "image/x-icon"},
        {"/x.wasm", "application/wasm"},
        {"/app.js.map", "application/json"},
        {"/readme.txt", "text/plain; charset=utf-8"},
        {"/font.woff2", "font/woff2"},
        {"/blob.bin", "application/octet-stream"},
        {"/orphan.gz", "application/octet-stream"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        static_reply r = respond("GET", cases[i].target, "");
        assert_status(&r, 200);
        char v[128];
        cr_assert(head_value(&r, "Content-Type", v, sizeof v), "%s", cases[i].target);
        cr_assert_str_eq(v, cases[i].type, "%s", cases[i].target);
    }
}

Test(static_site, empty_file) {
    static_reply r = respond("GET", "/empty.txt", "");
    assert_status(&r, 200);
    cr_assert(head_has(&r, "Content-Length: 0"));
    cr_assert_eq(r.body_len, 0);
}

Test(static_site, methods_other_than_get_head_405) {
    static const char *const methods[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "head"};
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
        static_reply r = respond(methods[i], "/", "");
        assert_status(&r, 405);
        cr_assert(head_has(&r, "Allow: GET, HEAD"), "%s", methods[i]);
        cr_assert(head_has(&r, "Connection: close"));
        cr_assert(r.close_connection);
        cr_assert_null(r.body);
    }
}

Test(static_site, unknown_and_hidden_paths_404) {
    static const char *const targets[] = {
        "/nope.html", "/.secret", "/.git/config", "/app.js.gz", "/link-out.txt",
        "/link-abs-out.txt", "/link-dir-out/also.txt", "/link-dir-in/index.html",
        "/dangling.txt", "/pipe.txt", "/INDEX.HTML", "/index.htm",
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        static_reply r = respond("GET", targets[i], "");
        assert_status(&r, 404);
        cr_assert(r.close_connection, "%s", targets[i]);
        cr_assert(head_has(&r, "Connection: close"));
        cr_assert_null(r.body);
        cr_assert_null(memmem(r.head, r.head_len, "SECRET", 6));
    }
}

Test(static_site, symlink_inside_root_is_served) {
    static_reply r = respond("GET", "/link-in.html", "");
    assert_status(&r, 200);
    const char *want = "<!doctype html><title>ringpad</title>";
    cr_assert(body_is(&r, want, strlen(want)));
}

Test(static_site, traversal_attempts_400) {
    static const char *const targets[] = {
        "/../outside/secret.txt",     "/sub/../../outside/secret.txt",
        "/%2e%2e/outside/secret.txt", "/%2E%2E/outside/secret.txt",
        "/.%2e/outside/secret.txt",   "/sub/%2e%2e/%2e%2e/outside/secret.txt",
        "/..%2foutside%2fsecret.txt", "/%2e%2e%2foutside%2fsecret.txt",
        "/index.html%00.txt",         "/%00",
        "/..\\outside\\secret.txt",   "/sub%5c..%5c..%5coutside",
        "/./index.html",              "/sub/.",
        "/%",                         "/a%0a",
    };
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        static_reply r = respond("GET", targets[i], "");
        assert_status(&r, 400);
        cr_assert(r.close_connection, "%s", targets[i]);
        cr_assert_null(r.body);
    }
}

Test(static_site, overlong_path_414) {
    char target[1200];
    target[0] = '/';
    memset(target + 1, 'a', sizeof target - 2);
    target[sizeof target - 1] = '\0';
    static_reply r = respond("GET", target, "");
    assert_status(&r, 414);
    cr_assert(r.close_connection);
}

Test(static_site, etag_if_none_match_304) {
    static_reply r = respond("GET", "/style.css", "");
    char etag[64];
    cr_assert(head_value(&r, "ETag", etag, sizeof etag));

    char h[256];
    snprintf(h, sizeof h, "If-None-Match: %s\r\n", etag);
    static_reply nm = respond("GET", "/style.css", h);
    assert_status(&nm, 304);
    cr_assert_null(nm.body);
    cr_assert_eq(nm.body_len, 0);
    cr_assert_not(head_has(&nm, "Content-Length: 6"));
    cr_assert_null(memmem(nm.head, nm.head_len, "Content-Length", 14));
    char v[64];
    cr_assert(head_value(&nm, "ETag", v, sizeof v));
    cr_assert_str_eq(v, etag);
    cr_assert(head_has(&nm, "Connection: keep-alive"));
    cr_assert_not(nm.close_connection);

    snprintf(h, sizeof h, "If-None-Match: W/%s\r\n", etag);
    assert_status((static_reply[]){respond("GET", "/style.css", h)}, 304);
    snprintf(h, sizeof h, "If-None-Match: \"other\", W/\"x\",%s\r\n", etag);
    assert_status((static_reply[]){respond("GET", "/style.css", h)}, 304);
    assert_status((static_reply[]){respond("GET", "/style.css", "If-None-Match: *\r\n")}, 304);
    assert_status((static_reply[]){respond("HEAD", "/style.css", "If-None-Match: *\r\n")}, 304);
    assert_status((static_reply[]){respond("GET", "/style.css", "If-None-Match: \"nope\"\r\n")}, 200);
    assert_status((static_reply[]){respond("GET", "/style.css", "If-None-Match: garbage\r\n")}, 200);
    /* A tag from another file does not match. */
    static_reply other = respond("GET", "/data.json", "");
    cr_assert(head_value(&other, "ETag", v, sizeof v));
    cr_assert_str_neq(v, etag);
    snprintf(h, sizeof h, "If-None-Match: %s\r\n", v);
    assert_status((static_reply[]){respond("GET", "/style.css", h)}, 200);
}

Test(static_site, if_modified_since) {
    assert_status((static_reply[]){respond("GET", "/readme.txt",
                                           "If-Modified-Since: Sun, 13 Sep 2020 12:26:40 GMT\r\n")},
                  304);
    assert_status((static_reply[]){respond("GET", "/readme.txt",
                                           "If-Modified-Since: Sun, 13 Sep 2020 12:26:39 GMT\r\n")},
                  200);
    assert_status((static_reply[]){respond("GET", "/readme.txt",
                                           "If-Modified-Since: Sunday, 13-Sep-20 12:30:00 GMT\r\n")},
                  304);
    /* Unparsable date: ignored. */
    assert_status((static_reply[]){respond("GET", "/readme.txt", "If-Modified-Since: yesterday\r\n")},
                  200);
    /* If-None-Match takes precedence over If-Modified-Since. */
    assert_status((static_reply[]){respond("GET", "/readme.txt",
                                           "If-None-Match: \"nope\"\r\n"
                                           "If-Modified-Since: Fri, 01 Jan 2100 00:00:00 GMT\r\n")},
                  200);
}

Test(static_site, gzip_variant_selection) {
    static_reply plain = respond("GET", "/app.js", "");
    assert_status(&plain, 200);
    cr_assert(body_is(&plain, "console.log('plain');", 21));
    cr_assert(head_has(&plain, "Vary: Accept-Encoding"));
    cr_assert_null(memmem(plain.head, plain.head_len, "Content-Encoding", 16));

    static const char *const accepting[] = {
        "Accept-Encoding: gzip\r\n",
        "Accept-Encoding: gzip, deflate, br\r\n",
        "Accept-Encoding: br;q=1.0, GZIP;q=0.5\r\n",
        "Accept-Encoding: *\r\n",
        "Accept-Encoding: x-gzip\r\n",
        "Accept-Encoding: deflate, gzip ; q=0.001\r\n",
    };
    for (size_t i = 0; i < sizeof accepting / sizeof accepting[0]; i++) {
        static_reply gz = respond("GET", "/app.js", accepting[i]);
        assert_status(&gz, 200);
        cr_assert(body_is(&gz, k_gz_bytes, sizeof k_gz_bytes - 1), "case %zu", i);
        cr_assert(head_has(&gz, "Content-Encoding: gzip"));
        cr_assert(head_has(&gz, "Vary: Accept-Encoding"));
        cr_assert(head_has(&gz, "Content-Type: text/javascript; charset=utf-8"));
        char v[64];
        snprintf(v, sizeof v, "Content-Length: %zu", sizeof k_gz_bytes - 1);
        cr_assert(head_has(&gz, v));
    }
    static const char *const refusing[] = {
        "Accept-Encoding: gzip;q=0\r\n",
        "Accept-Encoding: gzip; q=0.000, br\r\n",
        "Accept-Encoding: br, deflate\r\n",
        "Accept-Encoding: identity\r\n",
        "Accept-Encoding: *, gzip;q=0\r\n",
        "Accept-Encoding: *;q=0\r\n",
        "Accept-Encoding: gzipx\r\n",
        "Accept-Encoding:\r\n",
    };
    for (size_t i = 0; i < sizeof refusing / sizeof refusing[0]; i++) {
        static_reply r = respond("GET", "/app.js", refusing[i]);
        assert_status(&r, 200);
        cr_assert(body_is(&r, "console.log('plain');", 21), "case %zu", i);
        cr_assert_null(memmem(r.head, r.head_len, "Content-Encoding", 16));
    }
    /* A file without a variant ignores Accept-Encoding. */
    static_reply css = respond("GET", "/style.css", "Accept-Encoding: gzip\r\n");
    cr_assert(body_is(&css, "body{}", 6));
    cr_assert_null(memmem(css.head, css.head_len, "Content-Encoding", 16));
}

Test(static_site, gzip_variant_has_its_own_etag) {
    static_reply plain = respond("GET", "/app.js", "");
    static_reply gz = respond("GET", "/app.js", "Accept-Encoding: gzip\r\n");
    char e1[64], e2[64];
    cr_assert(head_value(&plain, "ETag", e1, sizeof e1));
    cr_assert(head_value(&gz, "ETag", e2, sizeof e2));
    cr_assert_str_neq(e1, e2);
    char h[256];
    snprintf(h, sizeof h, "Accept-Encoding: gzip\r\nIf-None-Match: %s\r\n", e2);
    static_reply nm = respond("GET", "/app.js", h);
    assert_status(&nm, 304);
    cr_assert(head_has(&nm, "Vary: Accept-Encoding"));
    /* The gzip tag does not validate the plain representation. */
    snprintf(h, sizeof h, "If-None-Match: %s\r\n", e2);
    assert_status((static_reply[]){respond("GET", "/app.js", h)}, 200);
}

Test(static_site, http10_closes) {
    http_request req = request("GET /readme.txt HTTP/1.0\r\n\r\n");
    static_reply r;
    cr_assert_eq(static_site_respond(g_site, &req, &r), 0);
    assert_status(&r, 200);
    cr_assert(r.close_connection);
    cr_assert(head_has(&r, "Connection: close"));
    req = request("GET /readme.txt HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    cr_assert_eq(static_site_respond(g_site, &req, &r), 0);
    cr_assert_not(r.close_connection);
    cr_assert(head_has(&r, "Connection: keep-alive"));
}

Test(static_site, load_errors) {
    static_site *s = (static_site *)0x1;
    cr_assert_eq(static_site_load("/nonexistent/ringpad-web", 1 << 20, &s), -ENOENT);
    cr_assert_null(s);
    /* The whole root (variants included) is a little over 300 bytes. */
    cr_assert_eq(static_site_load(g_root, 100, &s), -EFBIG);
    cr_assert_null(s);
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s/index.html", g_root);
    cr_assert_eq(static_site_load(file, 1 << 20, &s), -ENOTDIR);
    static_site_free(NULL);
}

Test(static_site, load_counts_bytes_exactly) {
    /* Sum of every loaded file (variant included) in this root. */
    size_t total = 0;
    static_site *s = NULL;
    for (size_t cap = 200; cap < 1000 && s == NULL; cap++) {
        if (static_site_load(g_root, cap, &s) == 0)
            total = cap;
    }
    cr_assert_not_null(s);
    cr_assert_eq(static_site_load(g_root, total - 1, &(static_site *){NULL}), -EFBIG);
    static_site_free(s);
}

Test(static_site, file_limit) {
    /* A second root with more files than the limit. */
    char p[PATH_MAX];
    snprintf(p, sizeof p, "%s/many", g_tmp);
    cr_assert_eq(mkdir(p, 0755), 0);
    for (int i = 0; i <= STATIC_SITE_MAX_FILES; i++) {
        char f[PATH_MAX + 32];
        snprintf(f, sizeof f, "%s/f%d.txt", p, i);
        int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        close(fd);
    }
    static_site *s = NULL;
    cr_assert_eq(static_site_load(p, 1 << 20, &s), -EMFILE);
    cr_assert_null(s);
}

Test(static_site, depth_limit) {
    char p[PATH_MAX];
    int n = snprintf(p, sizeof p, "%s/deep", g_tmp);
    cr_assert_eq(mkdir(p, 0755), 0);
    /* deep/d/d/.../file.txt at every level 0..STATIC_SITE_MAX_DEPTH+1 */
    for (int level = 0; level <= STATIC_SITE_MAX_DEPTH + 1; level++) {
        char f[PATH_MAX + 16];
        snprintf(f, sizeof f, "%s/file.txt", p);
        int fd = open(f, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
        cr_assert_geq(fd, 0);
        close(fd);
        n += snprintf(p + n, sizeof p - (size_t)n, "/d");
        cr_assert_eq(mkdir(p, 0755), 0);
    }
    static_site *s = NULL;
    snprintf(p, sizeof p, "%s/deep", g_tmp);
    cr_assert_eq(static_site_load(p, 1 << 20, &s), 0);
    cr_assert_eq(static_site_count_files(s), STATIC_SITE_MAX_DEPTH + 1);
    static_site_free(s);
}

/* The web root this repository ships (tests run from the repository root). */
Test(static_site, shipped_web_root_loads) {
    static_site *s = NULL;
    cr_assert_eq(static_site_load("web/public", 4 << 20, &s), 0);
    cr_assert_geq(static_site_count_files(s), 1);
    static_site *saved = g_site;
    g_site = s;
    static_reply r = respond("GET", "/", "");
    assert_status(&r, 200);
    cr_assert(head_has(&r, "Content-Type: text/html; charset=utf-8"));
    cr_assert_gt(r.body_len, 0);
    g_site = saved;
    static_site_free(s);
}
