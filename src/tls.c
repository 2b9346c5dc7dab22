#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>

#include "tls.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
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

struct tls_conn {
    WOLFSSL *ssl;
    const uint8_t *in;         /* ciphertext of the current tls_conn_input call (borrowed) */
    size_t in_len;
    rbuf *out;                 /* ciphertext not yet taken */
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

static void set_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t err_len, const char *fmt, ...) {
    if (err == NULL || err_len == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
}

/* Reads a whole file of at most TLS_PEM_MAX_BYTES into a malloc'd buffer. */
static int read_file(const char *path, uint8_t **out, size_t *out_len, char *err, size_t err_len) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        set_err(err, err_len, "%s: %s", path, strerror(e));
        return TLS_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 || st.st_size > (off_t)TLS_PEM_MAX_BYTES) {
        set_err(err, err_len, "%s: not a regular file of 1..%u bytes", path, TLS_PEM_MAX_BYTES);
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
        set_err(err, err_len, "%s: short read", path);
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
        set_err(err, err_len, "wolfSSL_Init failed");
        return rc;
    }
    if (o->min_version != TLS_V12 && o->min_version != TLS_V13) {
        set_err(err, err_len, "minimum TLS version must be 1.2 or 1.3");
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
        set_err(err, err_len, "wolfSSL_CTX_new failed");
        goto done;
    }
    rc = TLS_ERR_CONFIG;
    int r = wolfSSL_CTX_SetMinVersion(ctx, o->min_version == TLS_V13 ? WOLFSSL_TLSV1_3 : WOLFSSL_TLSV1_2);
    if (r != WOLFSSL_SUCCESS) {
        wolf_reason(r, reason, sizeof reason);
        set_err(err, err_len, "minimum version: %s", reason);
        goto done;
    }
    r = wolfSSL_CTX_use_certificate_chain_buffer_format(ctx, cert, (long)cert_len, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS) {
        wolf_reason(r, reason, sizeof reason);
        set_err(err, err_len, "%s: not a PEM certificate chain: %s", o->cert_path, reason);
        goto done;
    }
    r = wolfSSL_CTX_use_PrivateKey_buffer(ctx, key, (long)key_len, WOLFSSL_FILETYPE_PEM);
    if (r != WOLFSSL_SUCCESS) {
        wolf_reason(r, reason, sizeof reason);
        set_err(err, err_len, "%s: not a PEM private key: %s", o->key_path, reason);
        goto done;
    }
    r = wolfSSL_CTX_check_private_key(ctx);
    if (r != WOLFSSL_SUCCESS) {
        set_err(err, err_len, "%s does not match the certificate in %s", o->key_path, o->cert_path);
        goto done;
    }
    r = wolfSSL_CTX_set_cipher_list(ctx, tls_cipher_list);
    if (r != WOLFSSL_SUCCESS) {
        set_err(err, err_len, "cipher list rejected by this wolfSSL build");
        goto done;
    }
    /* No client certificates: browsers and tokens authenticate users. */
    wolfSSL_CTX_set_verify(ctx, WOLFSSL_VERIFY_NONE, NULL);
    /* wolfSSL_CTX_check_private_key passes mismatched EC pairs in 5.5.4: a
     * handshake with ourselves proves the key signs for the certificate. */
    if (probe_handshake(ctx, reason, sizeof reason) != TLS_OK) {
        set_err(err, err_len, "%s does not match the certificate in %s (%s)", o->key_path, o->cert_path, reason);
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
    if (extra > TLS_OUT_MAX_BYTES || used + extra > TLS_OUT_MAX_BYTES) return TLS_ERR_OUTPUT_FULL;
    size_t need = used + extra;
    if (t->out != NULL && need <= t->out->cap) return TLS_OK;
    size_t cap = t->out != NULL ? (size_t)t->out->cap * 2 : TLS_OUT_INITIAL_BYTES;
    while (cap < need) cap *= 2;   /* bounded: need <= TLS_OUT_MAX_BYTES */
    if (cap > TLS_OUT_MAX_BYTES) cap = TLS_OUT_MAX_BYTES;
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

tls_conn *tls_conn_new(tls_server *s) {
    tls_conn *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    pthread_mutex_lock(&s->mu);
    t->ssl = wolfSSL_new(s->ctx);
    pthread_mutex_unlock(&s->mu);
    if (t->ssl == NULL) {
        free(t);
        return NULL;
    }
    wolfSSL_SSLSetIORecv(t->ssl, io_recv);
    wolfSSL_SSLSetIOSend(t->ssl, io_send);
    wolfSSL_SetIOReadCtx(t->ssl, t);
    wolfSSL_SetIOWriteCtx(t->ssl, t);
    /* A client that offers ALPN without http/1.1 gets no_application_protocol. */
    char proto[] = TLS_ALPN_HTTP11;
    if (wolfSSL_UseALPN(t->ssl, proto, (unsigned)strlen(proto), WOLFSSL_ALPN_FAILED_ON_MISMATCH) != WOLFSSL_SUCCESS) {
        wolfSSL_free(t->ssl);
        free(t);
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

int tls_conn_input(tls_conn *t, const uint8_t *cipher, size_t len, tls_plain_sink sink, void *arg) {
    if (t->failed) return TLS_ERR_STATE;
    if (t->peer_closed) return TLS_PEER_CLOSED;
    t->in = cipher;
    t->in_len = len;
    int rc = TLS_OK;
    if (!t->handshake_done) {
        int r = wolfSSL_accept(t->ssl);
        if (r != WOLFSSL_SUCCESS) {
            int e = wolfSSL_get_error(t->ssl, r);
            if (e != WOLFSSL_ERROR_WANT_READ && e != WOLFSSL_ERROR_WANT_WRITE) rc = fail(t, e, TLS_ERR_HANDSHAKE);
            goto done;
        }
        t->handshake_done = true;
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
    if (total > TLS_OUT_MAX_BYTES) return TLS_ERR_OUTPUT_FULL;
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

/* ---- the load-time self test --------------------------------------------------- */

typedef struct probe_client {
    tls_conn *server;
    const uint8_t *in;       /* server ciphertext not yet read by the client */
    size_t in_len;
    uint8_t to_server[8192];
    size_t to_server_len;
} probe_client;

static int probe_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    probe_client *pc = ctx;
    if (pc->in_len == 0) return WOLFSSL_CBIO_ERR_WANT_READ;
    size_t n = (size_t)sz < pc->in_len ? (size_t)sz : pc->in_len;
    memcpy(buf, pc->in, n);
    pc->in += n;
    pc->in_len -= n;
    return (int)n;
}

static int probe_send(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    probe_client *pc = ctx;
    if ((size_t)sz > sizeof pc->to_server - pc->to_server_len) return WOLFSSL_CBIO_ERR_GENERAL;
    memcpy(pc->to_server + pc->to_server_len, buf, (size_t)sz);
    pc->to_server_len += (size_t)sz;
    return sz;
}

static int probe_sink(void *arg, uint8_t *plain, size_t len) {
    (void)arg;
    (void)plain;
    (void)len;
    return 0;
}

#define TLS_PROBE_ROUNDS_MAX 8

static int probe_handshake(WOLFSSL_CTX *ctx, char *reason, size_t reason_len) {
    snprintf(reason, reason_len, "%s", "out of memory");
    WOLFSSL_CTX *cctx = wolfSSL_CTX_new(wolfSSLv23_client_method());
    WOLFSSL *client = cctx != NULL ? wolfSSL_new(cctx) : NULL;
    tls_conn *t = calloc(1, sizeof *t);
    probe_client *pc = calloc(1, sizeof *pc);
    int rc = TLS_ERR_NOMEM;
    if (client == NULL || t == NULL || pc == NULL) goto done;
    t->ssl = wolfSSL_new(ctx);
    if (t->ssl == NULL) goto done;
    wolfSSL_SSLSetIORecv(t->ssl, io_recv);
    wolfSSL_SSLSetIOSend(t->ssl, io_send);
    wolfSSL_SetIOReadCtx(t->ssl, t);
    wolfSSL_SetIOWriteCtx(t->ssl, t);
    wolfSSL_set_verify(client, WOLFSSL_VERIFY_NONE, NULL);   /* the signature is still checked */
    wolfSSL_SSLSetIORecv(client, probe_recv);
    wolfSSL_SSLSetIOSend(client, probe_send);
    wolfSSL_SetIOReadCtx(client, pc);
    wolfSSL_SetIOWriteCtx(client, pc);
    rc = TLS_ERR_CONFIG;
    snprintf(reason, reason_len, "%s", "test handshake did not finish");
    rbuf *pending = NULL;
    for (int round = 0; round < TLS_PROBE_ROUNDS_MAX; round++) {
        int r = wolfSSL_connect(client);
        int e = r == WOLFSSL_SUCCESS ? 0 : wolfSSL_get_error(client, r);
        if (e != 0 && e != WOLFSSL_ERROR_WANT_READ) {
            wolf_reason(e, reason, reason_len);
            break;
        }
        int s = tls_conn_input(t, pc->to_server, pc->to_server_len, probe_sink, NULL);
        pc->to_server_len = 0;
        if (s != TLS_OK) {
            snprintf(reason, reason_len, "%s", t->err);
            break;
        }
        if (e == 0 && t->handshake_done) {
            rc = TLS_OK;
            break;
        }
        rbuf_unref(pending);
        pending = tls_conn_take_output(t);
        pc->in = pending != NULL ? pending->data : NULL;
        pc->in_len = pending != NULL ? pending->len : 0;
    }
    rbuf_unref(pending);
done:
    if (t != NULL) tls_conn_free(t);
    free(pc);
    wolfSSL_free(client);
    wolfSSL_CTX_free(cctx);
    return rc;
}
