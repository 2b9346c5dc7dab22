#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "tls/tls.h"

#include "base/errmsg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * TLS 1.3 suites first (all AEAD), then TLS 1.2 with forward secrecy and AEAD
 * only: no CBC, no static RSA key exchange, no SHA-1 MACs. wolfSSL picks in
 * this (the server's) order. ChaCha20-Poly1305 leads because Debian's wolfSSL
 * is built without AES-NI: its software AES-GCM is the slower of the two here
 * (bench/tls_bench.mjs on the shared dev box: about 1.3x the wss messages/s).
 */
static const char tls_cipher_list[] =
    "TLS13-CHACHA20-POLY1305-SHA256:TLS13-AES128-GCM-SHA256:TLS13-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";

/* Initial ciphertext buffer: a whole server handshake flight with a short chain fits. */
#define TLS_OUT_INITIAL_BYTES 4096u
#define TLS_ERR_TEXT_BYTES 120u

struct tls_server {
    pthread_mutex_t mu;        /* guards ctx and generation */
    WOLFSSL_CTX *ctx;          /* for new connections; each WOLFSSL holds its own reference */
    tls_options opts;
    uint64_t generation;
};

struct tls_client {
    WOLFSSL_CTX *ctx;
    char server_name[TLS_SERVER_NAME_MAX_BYTES + 1];   /* "" = none */
    char alpn[32];                                     /* "" = none */
    bool name_is_ip;
    bool verify;
};

struct tls_conn {
    WOLFSSL *ssl;
    const uint8_t *in;         /* ciphertext of the current tls_conn_input call (borrowed) */
    size_t in_len;
    rbuf *out;                 /* ciphertext not yet taken */
    size_t out_max_bytes;      /* bound on out; TLS_OUT_MAX_BYTES unless lowered */
    bool client;               /* connects instead of accepting */
    bool started;              /* a server session always; a client one after tls_conn_start */
    bool handshake_done;
    bool failed;
    bool shutdown_sent;
    bool peer_closed;
    bool out_full;
    char err[TLS_ERR_TEXT_BYTES];
};

const char *tls_status_str(int status) {
    switch (status) {
    case TLS_OK: return "ok";
    case TLS_PEER_CLOSED: return "peer sent close_notify";
    case TLS_ERR_NOMEM: return "out of memory";
    case TLS_ERR_IO: return "cannot read file";
    case TLS_ERR_CONFIG: return "certificate, key or version rejected";
    case TLS_ERR_HANDSHAKE: return "TLS handshake failed";
    case TLS_ERR_PROTOCOL: return "TLS record error";
    case TLS_ERR_OUTPUT_FULL: return "TLS output buffer full";
    case TLS_ERR_STATE: return "TLS session not usable";
    default: return "unknown TLS status";
    }
}

int tls_version_parse(const char *text) {
    if (strcmp(text, "1.2") == 0) return TLS_V12;
    if (strcmp(text, "1.3") == 0) return TLS_V13;
    return -1;
}

static pthread_once_t library_once = PTHREAD_ONCE_INIT;
static int library_rc;

static void library_init_once(void) {
    library_rc = wolfSSL_Init() == WOLFSSL_SUCCESS ? TLS_OK : TLS_ERR_CONFIG;
}

int tls_library_init(void) {
    pthread_once(&library_once, library_init_once);
    return library_rc;
}

void tls_thread_exit(void) {
#ifdef FP_ECC
    wc_ecc_fp_free();   /* thread-local with HAVE_THREAD_LS: lost when the thread ends */
#endif
}

static void wolf_reason(int code, char *buf, size_t len) {
    char tmp[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n((unsigned long)(long)code, tmp, sizeof tmp);
    snprintf(buf, len, "%s (wolfSSL %d)", tmp, code);
}

/* Reads a whole file of at most TLS_PEM_MAX_BYTES into a malloc'd buffer. */
static int read_file(const char *path, uint8_t **out, size_t *out_len, char *err, size_t err_len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        errmsg_set(err, err_len, "%s: %s", path, strerror(e));
        return TLS_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (off_t)TLS_PEM_MAX_BYTES) {
        errmsg_set(err, err_len, "%s: not a regular file of 1..%u bytes", path, TLS_PEM_MAX_BYTES);
        close(fd);
        return TLS_ERR_IO;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc(size);
    if (buf == NULL) {
        close(fd);
        return TLS_ERR_NOMEM;
    }
    size_t got = 0;
    while (got < size) {   /* bounded: every pass reads >= 1 byte or leaves */
        ssize_t n = read(fd, buf + got, size - got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(fd);
    if (got != size) {
        errmsg_set(err, err_len, "%s: short read", path);
        free(buf);
        return TLS_ERR_IO;
    }
    *out = buf;
    *out_len = size;
    return TLS_OK;
}

static void free_secret(uint8_t *buf, size_t len) {
    if (buf == NULL) return;
    explicit_bzero(buf, len);
    free(buf);
}

static int probe_handshake(WOLFSSL_CTX *ctx, char *reason, size_t reason_len);

static int build_ctx(const tls_options *o, WOLFSSL_CTX **out, char *err, size_t err_len) {
    int rc = tls_library_init();
    if (rc != TLS_OK) {
        errmsg_set(err, err_len, "wolfSSL_Init failed");
        return rc;
    }
    if (o->min_version != TLS_V12 && o->min_version != TLS_V13) {
        errmsg_set(err, err_len, "minimum TLS version must be 1.2 or 1.3");
        return TLS_ERR_CONFIG;
    }
    uint8_t *cert = NULL, *key = NULL;
    size_t cert_len = 0, key_len = 0;
    rc = read_file(o->cert_path, &cert, &cert_len, err, err_len);
    if (rc == TLS_OK) rc = read_file(o->key_path, &key, &key_len, err, err_len);
    if (rc != TLS_OK) {
        free(cert);
        free_secret(key, key_len);
        return rc;
    }
    WOLFSSL_CTX *ctx = wolfSSL_CTX_new(wolfSSLv23_server_method());
    char reason[TLS_ERR_TEXT_BYTES];
    if (ctx == NULL) {
        rc = TLS_ERR_NOMEM;
        errmsg_set(err, err_len, "wolfSSL_CTX_new failed");
        goto done;
    }
    rc = TLS_ERR_CONFIG;
    int r = wolfSSL_CTX_SetMinVersion(ctx, o->min_version == TLS_V13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2);
    if (r != WOLFSSL_SUCCESS) {
        wolf_reason(r, reason, sizeof reason);
        errmsg_set(err, err_len, "minimum version: %s", reason);
        goto done;
    }
    r = wolfSSL_CTX_use_certificate_chain_buffer_format(ctx, cert, (long)cert_len, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS) {
        wolf_reason(r, reason, sizeof reason);
        errmsg_set(err, err_len, "%s: not a PEM certificate chain: %s", o->cert_path, reason);
        goto done;
    }
    r = wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, (long)key_len, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS) {
        wolf_reason(r, reason, sizeof reason);
        errmsg_set(err, err_len, "%s: not a PEM private key: %s", o->key_path, reason);
        goto done;
    }
    r = wolfSSL_CTX_check_private_key(ctx);
    if (r != WOLFSSL_SUCCESS) {
        errmsg_set(err, err_len, "%s does not match the certificate in %s", o->key_path, o->cert_path);
        goto done;
    }
    r = wolfSSL_CTX_set_cipher_list(ctx, tls_cipher_list);
    if (r != WOLFSSL_SUCCESS) {
        errmsg_set(err, err_len, "cipher list rejected by this wolfSSL build");
        goto done;
    }
    /* No client certificates: browsers and tokens authenticate users. */
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    /* wolfSSL_CTX_check_private_key passes mismatched EC pairs in 5.5.4: a
     * handshake with ourselves proves the key signs for the certificate. */
    if (probe_handshake(ctx, reason, sizeof reason) != TLS_OK) {
        errmsg_set(err, err_len, "%s does not match the certificate in %s (%s)", o->key_path, o->cert_path, reason);
        goto done;
    }
    rc = TLS_OK;
done:
    free(cert);
    free_secret(key, key_len);
    if (rc != TLS_OK) {
        if (ctx != NULL) wolfSSL_CTX_free(ctx);
        return rc;
    }
    *out = ctx;
    return TLS_OK;
}

int tls_server_new(const tls_options *opts, tls_server **out, char *err, size_t err_len) {
    tls_server *s = calloc(1, sizeof *s);
    if (s == NULL) return TLS_ERR_NOMEM;
    s->opts = *opts;
    int rc = build_ctx(&s->opts, &s->ctx, err, err_len);
    if (rc != TLS_OK) {
        free(s);
        return rc;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->generation = 1;
    *out = s;
    return TLS_OK;
}

int tls_server_reload(tls_server *s, char *err, size_t err_len) {
    /* Built outside the lock: reading files must not stall accepting workers. */
    WOLFSSL_CTX *fresh = NULL;
    int rc = build_ctx(&s->opts, &fresh, err, err_len);
    if (rc != TLS_OK) return rc;
    pthread_mutex_lock(&s->mu);
    WOLFSSL_CTX *old = s->ctx;
    s->ctx = fresh;
    s->generation++;
    pthread_mutex_unlock(&s->mu);
    wolfSSL_CTX_free(old);   /* sessions on it hold their own references */
    return TLS_OK;
}

uint64_t tls_server_generation(tls_server *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t g = s->generation;
    pthread_mutex_unlock(&s->mu);
    return g;
}

void tls_server_free(tls_server *s) {
    if (s == NULL) return;
    wolfSSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- one session ------------------------------------------------------------- */

static int out_reserve(tls_conn *t, size_t extra) {
    size_t used = t->out != NULL ? t->out->len : 0;
    if (extra > t->out_max_bytes || used + extra > t->out_max_bytes) return TLS_ERR_OUTPUT_FULL;
    size_t need = used + extra;
    if (t->out != NULL && need <= t->out->cap) return TLS_OK;
    size_t cap = t->out != NULL ? (size_t)t->out->cap * 2 : TLS_OUT_INITIAL_BYTES;
    while (cap < need) cap *= 2;   /* bounded: need <= out_max_bytes */
    if (cap > t->out_max_bytes) cap = t->out_max_bytes;
    rbuf *b = rbuf_new(cap);
    if (b == NULL) return TLS_ERR_NOMEM;
    if (t->out != NULL) {
        memcpy(b->data, t->out->data, t->out->len);
        b->len = t->out->len;
        rbuf_unref(t->out);
    }
    t->out = b;
    return TLS_OK;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    tls_conn *t = ctx;
    if (t->in_len == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = sz < 0 ? 0 : (size_t)sz;
    if (n > t->in_len) n = t->in_len;
    memcpy(buf, t->in, n);
    t->in += n;
    t->in_len -= n;
    return (int)n;
}

static int io_send(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    tls_conn *t = ctx;
    if (sz <= 0) return 0;
    if (out_reserve(t, (size_t)sz) != TLS_OK) {
        /* Never WANT_WRITE: a retried write would need the same arguments,
         * and a session this far behind is dropped instead. */
        t->out_full = true;
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
    memcpy(t->out->data + t->out->len, buf, (size_t)sz);
    t->out->len += (uint32_t)sz;
    return sz;
}

/* Wraps a fresh WOLFSSL (taken over, freed on failure) in a session whose I/O
 * goes through the callbacks above. */
static tls_conn *conn_wrap(WOLFSSL *ssl, bool client) {
    if (ssl == NULL) return NULL;
    tls_conn *t = calloc(1, sizeof *t);
    if (t == NULL) {
        wolfSSL_free(ssl);
        return NULL;
    }
    t->ssl = ssl;
    t->out_max_bytes = TLS_OUT_MAX_BYTES;
    t->client = client;
    t->started = !client;
    wolfSSL_SSLSetIORecv(ssl, io_recv);
    wolfSSL_SSLSetIOSend(ssl, io_send);
    wolfSSL_SetIOReadCtx(ssl, t);
    wolfSSL_SetIOWriteCtx(ssl, t);
    return t;
}

tls_conn *tls_conn_new(tls_server *s) {
    pthread_mutex_lock(&s->mu);
    WOLFSSL *ssl = wolfSSL_new(s->ctx);
    pthread_mutex_unlock(&s->mu);
    tls_conn *t = conn_wrap(ssl, false);
    if (t == NULL) return NULL;
    /* A client that offers ALPN without http/1.1 gets no_application_protocol. */
    char proto[] = TLS_ALPN_HTTP11;
    if (wolfSSL_UseALPN(t->ssl, proto, (unsigned)strlen(proto), WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS) {
        tls_conn_free(t);
        return NULL;
    }
    return t;
}

void tls_conn_free(tls_conn *t) {
    if (t == NULL) return;
    wolfSSL_free(t->ssl);
    rbuf_unref(t->out);
    free(t);
}

static int fail(tls_conn *t, int wolf_error, int status) {
    t->failed = true;
    if (t->out_full) snprintf(t->err, sizeof t->err, "%s", tls_status_str(TLS_ERR_OUTPUT_FULL));
    else wolf_reason(wolf_error, t->err, sizeof t->err);
    return t->out_full ? TLS_ERR_OUTPUT_FULL : status;
}

/* One step of the handshake; TLS_OK also while it waits for input. */
static int handshake_step(tls_conn *t) {
    int r = t->client ? wolfSSL_connect(t->ssl) : wolfSSL_accept(t->ssl);
    if (r == WOLFSSL_SUCCESS) {
        t->handshake_done = true;
        return TLS_OK;
    }
    int e = wolfSSL_get_error(t->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) return TLS_OK;
    return fail(t, e, TLS_ERR_HANDSHAKE);
}

int tls_conn_start(tls_conn *t) {
    if (!t->client || t->started || t->failed) return TLS_ERR_STATE;
    t->started = true;
    return handshake_step(t);
}

int tls_conn_input(tls_conn *t, const uint8_t *cipher, size_t len, tls_plain_sink sink, void *arg) {
    if (t->failed || !t->started) return TLS_ERR_STATE;
    if (t->peer_closed) return TLS_PEER_CLOSED;
    t->in = cipher;
    t->in_len = len;
    int rc = TLS_OK;
    if (!t->handshake_done) {
        rc = handshake_step(t);
        if (rc != TLS_OK || !t->handshake_done) goto done;
    }
    uint8_t plain[TLS_PLAIN_CHUNK_BYTES];
    /* Every record is at least 5 bytes, and wolfSSL holds at most one partial
     * record from before: this many reads always exhaust the input. */
    size_t max_reads = len / 5 + 16;
    for (size_t i = 0;; i++) {
        if (i == max_reads) {
            rc = fail(t, 0, TLS_ERR_PROTOCOL);
            snprintf(t->err, sizeof t->err, "input not consumed after %zu reads", max_reads);
            break;
        }
        int n = wolfSSL_read(t->ssl, plain, (int)sizeof plain);
        if (n > 0) {
            if (sink(arg, plain, (size_t)n) != 0) break;
            continue;
        }
        int e = wolfSSL_get_error(t->ssl, n);
        if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) break;
        if (e == WOLFSSL_ERROR_ZERO_RETURN) {
            t->peer_closed = true;
            rc = TLS_PEER_CLOSED;
            break;
        }
        rc = fail(t, e, TLS_ERR_PROTOCOL);
        break;
    }
done:
    t->in = NULL;
    t->in_len = 0;
    return rc;
}

/* Writes `len` bytes as records; our send callback never asks to retry. */
static int write_records(tls_conn *t, const uint8_t *p, size_t len) {
    while (len > 0) {   /* bounded: each pass writes >= 1 byte or fails */
        int chunk = len > (size_t)INT32_MAX / 2 ? INT32_MAX / 2 : (int)len;
        int n = wolfSSL_write(t->ssl, p, chunk);
        if (n <= 0) return fail(t, wolfSSL_get_error(t->ssl, n), TLS_ERR_PROTOCOL);
        p += n;
        len -= (size_t)n;
    }
    return TLS_OK;
}

int tls_conn_write(tls_conn *t, const tls_piece *parts, size_t count_parts) {
    if (t->failed || t->shutdown_sent || !t->handshake_done) return TLS_ERR_STATE;
    size_t total = 0;
    for (size_t i = 0; i < count_parts; i++) total += parts[i].len;
    if (total == 0) return TLS_OK;
    size_t records = total / TLS_PLAIN_CHUNK_BYTES + count_parts + 1;
    if (total > t->out_max_bytes) return TLS_ERR_OUTPUT_FULL;
    int rc = out_reserve(t, total + records * TLS_RECORD_OVERHEAD_MAX_BYTES);
    if (rc != TLS_OK) return rc;
    /* Small pieces are gathered into full records; a piece that fills whole
     * records by itself is encrypted from where it lies. */
    uint8_t stage[TLS_PLAIN_CHUNK_BYTES];
    size_t fill = 0;
    for (size_t i = 0; i < count_parts; i++) {
        const uint8_t *p = parts[i].ptr;
        size_t left = parts[i].len;
        while (left > 0) {   /* bounded: each pass consumes >= 1 byte */
            if (fill == 0 && left >= TLS_PLAIN_CHUNK_BYTES) {
                size_t whole = left - left % TLS_PLAIN_CHUNK_BYTES;
                rc = write_records(t, p, whole);
                if (rc != TLS_OK) return rc;
                p += whole;
                left -= whole;
                continue;
            }
            size_t take = TLS_PLAIN_CHUNK_BYTES - fill;
            if (take > left) take = left;
            memcpy(stage + fill, p, take);
            fill += take;
            p += take;
            left -= take;
            if (fill == TLS_PLAIN_CHUNK_BYTES) {
                rc = write_records(t, stage, fill);
                if (rc != TLS_OK) return rc;
                fill = 0;
            }
        }
    }
    if (fill > 0) rc = write_records(t, stage, fill);
    return rc;
}

int tls_conn_shutdown(tls_conn *t) {
    if (t->shutdown_sent) return TLS_OK;
    if (t->failed || !t->handshake_done) return TLS_ERR_STATE;
    t->shutdown_sent = true;
    /* Sends close_notify and returns without waiting for the peer's. */
    int r = wolfSSL_shutdown(t->ssl);
    if (r == WOLFSSL_SUCCESS || r == WOLFSSL_SHUTDOWN_NOT_DONE) return TLS_OK;
    int e = wolfSSL_get_error(t->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE || e == WOLFSSL_ERROR_ZERO_RETURN) return TLS_OK;
    return fail(t, e, TLS_ERR_PROTOCOL);
}

void tls_conn_set_output_limit(tls_conn *t, size_t max_bytes) {
    t->out_max_bytes = max_bytes < TLS_OUT_MAX_BYTES ? max_bytes : TLS_OUT_MAX_BYTES;
}

size_t tls_conn_output_bytes(const tls_conn *t) { return t->out != NULL ? t->out->len : 0; }

rbuf *tls_conn_take_output(tls_conn *t) {
    rbuf *b = t->out;
    if (b == NULL || b->len == 0) return NULL;
    t->out = NULL;
    return b;
}

bool tls_conn_handshake_done(const tls_conn *t) { return t->handshake_done; }
bool tls_conn_failed(const tls_conn *t) { return t->failed; }
bool tls_conn_session_reused(const tls_conn *t) { return wolfSSL_session_reused(t->ssl) == 1; }

const char *tls_conn_version_str(const tls_conn *t) { return wolfSSL_get_version(t->ssl); }

const char *tls_conn_cipher_str(const tls_conn *t) { return wolfSSL_get_cipher_name(t->ssl); }

const char *tls_conn_alpn(const tls_conn *t) {
    char *name = NULL;
    word16 len = 0;
    if (wolfSSL_ALPN_GetProtocol(t->ssl, &name, &len) != WOLFSSL_SUCCESS || name == NULL || len == 0) return NULL;
    /* wolfSSL keeps the agreed name NUL-terminated in the session. */
    return name;
}

const char *tls_conn_error_str(const tls_conn *t) { return t->err; }

/* ---- the client role ------------------------------------------------------------ */

static WOLFSSL_METHOD *client_method(int min_version, int max_version) {
    if (min_version == TLS_V13) return wolfTLSv1_3_client_method();
    if (max_version == TLS_V12) return wolfTLSv1_2_client_method();
    return wolfSSLv23_client_method();   /* 1.2 up to 1.3: the minimum is set below */
}

int tls_client_new(const tls_client_options *o, tls_client **out, char *err, size_t err_len) {
    int rc = tls_library_init();
    if (rc != TLS_OK) {
        errmsg_set(err, err_len, "wolfSSL_Init failed");
        return rc;
    }
    int lo = o->min_version ? o->min_version : TLS_V12;
    int hi = o->max_version ? o->max_version : TLS_V13;
    const char *name = o->server_name != NULL ? o->server_name : "";
    const char *alpn = o->alpn != NULL ? o->alpn : "";
    if ((lo != TLS_V12 && lo != TLS_V13) || (hi != TLS_V12 && hi != TLS_V13) || lo > hi) {
        errmsg_set(err, err_len, "TLS versions must be 1.2 or 1.3, the minimum not above the maximum");
        return TLS_ERR_CONFIG;
    }
    if (strlen(name) > TLS_SERVER_NAME_MAX_BYTES || (o->server_name != NULL && name[0] == '\0')) {
        errmsg_set(err, err_len, "the server name must be 1..%u bytes", TLS_SERVER_NAME_MAX_BYTES);
        return TLS_ERR_CONFIG;
    }
    tls_client *c = calloc(1, sizeof *c);
    if (c == NULL) return TLS_ERR_NOMEM;
    if (strlen(alpn) >= sizeof c->alpn) {
        errmsg_set(err, err_len, "ALPN protocol longer than %zu bytes", sizeof c->alpn - 1);
        free(c);
        return TLS_ERR_CONFIG;
    }
    c->ctx = wolfSSL_CTX_new(client_method(lo, hi));
    if (c->ctx == NULL) {
        errmsg_set(err, err_len, "wolfSSL_CTX_new failed");
        free(c);
        return TLS_ERR_NOMEM;
    }
    snprintf(c->server_name, sizeof c->server_name, "%s", name);
    snprintf(c->alpn, sizeof c->alpn, "%s", alpn);
    uint8_t addr[16];
    c->name_is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
    c->verify = o->ca_path != NULL;
    char reason[TLS_ERR_TEXT_BYTES];
    if (lo != hi) {
        int r = wolfSSL_CTX_SetMinVersion(c->ctx, lo == TLS_V13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2);
        if (r != WOLFSSL_SUCCESS) {
            wolf_reason(r, reason, sizeof reason);
            errmsg_set(err, err_len, "minimum version: %s", reason);
            tls_client_free(c);
            return TLS_ERR_CONFIG;
        }
    }
    if (c->verify) {
        int r = wolfSSL_CTX_load_verify_locations(c->ctx, o->ca_path, NULL);
        if (r != WOLFSSL_SUCCESS) {
            wolf_reason(r, reason, sizeof reason);
            errmsg_set(err, err_len, "%s: not a PEM CA certificate: %s", o->ca_path, reason);
            tls_client_free(c);
            return TLS_ERR_CONFIG;
        }
        wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_PEER, NULL);
    } else {
        /* A development certificate or the self test: the chain is not checked
         * (the server's signature over the handshake still is). */
        wolfSSL_CTX_set_verify(c->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    *out = c;
    return TLS_OK;
}

void tls_client_free(tls_client *c) {
    if (c == NULL) return;
    wolfSSL_CTX_free(c->ctx);
    free(c);
}

tls_conn *tls_conn_new_client(tls_client *c, tls_session *resume) {
    tls_conn *t = conn_wrap(wolfSSL_new(c->ctx), true);
    if (t == NULL) return NULL;
    bool ok = true;
    if (c->alpn[0] != '\0')
        ok = wolfSSL_UseALPN(t->ssl, c->alpn, (unsigned)strlen(c->alpn), WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) ==
             WOLFSSL_SUCCESS;
    if (ok && c->server_name[0] != '\0' && !c->name_is_ip)
        ok = wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, c->server_name, (unsigned short)strlen(c->server_name)) ==
             WOLFSSL_SUCCESS;
    if (ok && c->verify && c->server_name[0] != '\0')
        ok = wolfSSL_check_domain_name(t->ssl, c->server_name) == WOLFSSL_SUCCESS;
    /* TLS 1.2 tickets are asked for; TLS 1.3 servers send them unasked. */
    if (ok) ok = wolfSSL_UseSessionTicket(t->ssl) == WOLFSSL_SUCCESS;
    /* An unusable session (expired, other version) just means a full handshake. */
    if (ok && resume != NULL) (void)wolfSSL_set_session(t->ssl, (WOLFSSL_SESSION *)resume);
    if (!ok) {
        tls_conn_free(t);
        return NULL;
    }
    return t;
}

tls_session *tls_conn_get_session(tls_conn *t) {
    if (!t->client || !t->handshake_done || t->failed) return NULL;
    WOLFSSL_SESSION *s = wolfSSL_get1_session(t->ssl);
    if (s == NULL) return NULL;
    /* TLS 1.3 resumes with a ticket only; 1.2 also by session id. */
    bool tls13 = strcmp(wolfSSL_get_version(t->ssl), "TLSv1.3") == 0;
    if (wolfSSL_SESSION_is_resumable(s) != 1 || (tls13 && wolfSSL_SESSION_has_ticket(s) != 1)) {
        wolfSSL_SESSION_free(s);
        return NULL;
    }
    return (tls_session *)s;
}

void tls_session_free(tls_session *s) {
    if (s != NULL) wolfSSL_SESSION_free((WOLFSSL_SESSION *)s);
}

/* ---- the load-time self test --------------------------------------------------- */

static int probe_sink(void *arg, uint8_t *plain, size_t len) {
    (void)arg;
    (void)plain;
    (void)len;
    return 0;
}

/* Hands everything `from` wrote to `to`. */
static int probe_pass(tls_conn *from, tls_conn *to) {
    rbuf *b = tls_conn_take_output(from);
    if (b == NULL) return TLS_OK;
    int rc = tls_conn_input(to, b->data, b->len, probe_sink, NULL);
    rbuf_unref(b);
    return rc;
}

#define TLS_PROBE_ROUNDS_MAX 8

/* A handshake between a client session and a server session on `ctx`, in memory. */
static int probe_handshake(WOLFSSL_CTX *ctx, char *reason, size_t reason_len) {
    snprintf(reason, reason_len, "%s", "out of memory");
    tls_client_options co = {.min_version = TLS_V12, .max_version = TLS_V13};
    tls_client *cc = NULL;
    int rc = tls_client_new(&co, &cc, reason, reason_len);
    if (rc != TLS_OK) return rc;
    rc = TLS_ERR_NOMEM;
    tls_conn *client = tls_conn_new_client(cc, NULL);
    tls_conn *server = conn_wrap(wolfSSL_new(ctx), false);
    if (client == NULL || server == NULL) goto done;
    rc = TLS_ERR_CONFIG;
    snprintf(reason, reason_len, "%s", "test handshake did not finish");
    int s = tls_conn_start(client);
    for (int round = 0; s == TLS_OK && round < TLS_PROBE_ROUNDS_MAX; round++) {
        s = probe_pass(client, server);
        if (s != TLS_OK) {
            snprintf(reason, reason_len, "%s", server->err);
            break;
        }
        if (client->handshake_done && server->handshake_done) {
            rc = TLS_OK;
            break;
        }
        s = probe_pass(server, client);
    }
    if (s != TLS_OK && client->failed) snprintf(reason, reason_len, "%s", client->err);
done:
    tls_conn_free(client);
    tls_conn_free(server);
    tls_client_free(cc);
    return rc;
}
