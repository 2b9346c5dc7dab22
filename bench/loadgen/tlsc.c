#include <wolfssl/options.h>
#include <wolfssl/ssl.h>

#include "tlsc.h"

#include "tls.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LG_TLS_ERR_TEXT_BYTES 120u
#define LG_TLS_OUT_INITIAL_BYTES 4096u

struct lg_tls_ctx {
    WOLFSSL_CTX *ctx;
    char server_name[LG_TLS_SERVER_NAME_MAX_BYTES + 1];
    bool name_is_ip;
    bool verify;
};

typedef struct out_buf {
    uint8_t *p;
    size_t len, cap;
} out_buf;

struct lg_tls {
    WOLFSSL *ssl;
    const uint8_t *in;        /* ciphertext of the current lg_tls_input call (borrowed) */
    size_t in_len;
    out_buf out[2];           /* out[fl] in flight from fl_off; out[fl ^ 1] collecting */
    int fl;
    size_t fl_off;
    bool started, handshake_done, failed, shutdown_sent, peer_closed, out_full;
    char err[LG_TLS_ERR_TEXT_BYTES];
};

const char *lg_tls_status_str(int status) {
    switch (status) {
    case LG_TLS_OK: return "ok";
    case LG_TLS_PEER_CLOSED: return "peer sent close_notify";
    case LG_TLS_ERR_NOMEM: return "out of memory";
    case LG_TLS_ERR_CONFIG: return "TLS client configuration rejected";
    case LG_TLS_ERR_HANDSHAKE: return "TLS handshake failed";
    case LG_TLS_ERR_PROTOCOL: return "TLS record error";
    case LG_TLS_ERR_OUTPUT_FULL: return "TLS output buffer full";
    case LG_TLS_ERR_STATE: return "TLS session not usable";
    default: return "unknown TLS status";
    }
}

static void wolf_reason(int code, char *buf, size_t len) {
    char tmp[WOLFSSL_MAX_ERROR_SZ];
    wolfSSL_ERR_error_string_n((unsigned long)(long)code, tmp, sizeof tmp);
    snprintf(buf, len, "%s (wolfSSL %d)", tmp, code);
}

int lg_tls_ctx_new(const lg_tls_options *o, lg_tls_ctx **out, char *err, size_t err_len) {
    if (tls_library_init() != TLS_OK) {
        snprintf(err, err_len, "wolfSSL_Init failed");
        return LG_TLS_ERR_CONFIG;
    }
    int version = o->version ? o->version : 13;
    const char *name = o->server_name ? o->server_name : "localhost";
    if ((version != 12 && version != 13) || strlen(name) == 0 || strlen(name) > LG_TLS_SERVER_NAME_MAX_BYTES) {
        snprintf(err, err_len, "TLS version must be 1.2 or 1.3 and the server name 1..%u bytes",
                 LG_TLS_SERVER_NAME_MAX_BYTES);
        return LG_TLS_ERR_CONFIG;
    }
    lg_tls_ctx *x = calloc(1, sizeof *x);
    if (x == NULL) return LG_TLS_ERR_NOMEM;
    x->ctx = wolfSSL_CTX_new(version == 13 ? wolfTLSv1_3_client_method() : wolfTLSv1_2_client_method());
    if (x->ctx == NULL) {
        free(x);
        return LG_TLS_ERR_NOMEM;
    }
    snprintf(x->server_name, sizeof x->server_name, "%s", name);
    uint8_t addr[16];
    x->name_is_ip = inet_pton(AF_INET, name, addr) == 1 || inet_pton(AF_INET6, name, addr) == 1;
    x->verify = o->ca_path != NULL;
    if (x->verify) {
        int r = wolfSSL_CTX_load_verify_locations(x->ctx, o->ca_path, NULL);
        if (r != WOLFSSL_SUCCESS) {
            char reason[LG_TLS_ERR_TEXT_BYTES];
            wolf_reason(r, reason, sizeof reason);
            snprintf(err, err_len, "%s: not a PEM CA certificate: %s", o->ca_path, reason);
            lg_tls_ctx_free(x);
            return LG_TLS_ERR_CONFIG;
        }
        wolfSSL_CTX_set_verify(x->ctx, WOLFSSL_VERIFY_PEER, NULL);
    } else {
        /* a benchmark against a development certificate: the chain is not checked */
        wolfSSL_CTX_set_verify(x->ctx, WOLFSSL_VERIFY_NONE, NULL);
    }
    *out = x;
    return LG_TLS_OK;
}

void lg_tls_ctx_free(lg_tls_ctx *x) {
    if (x == NULL) return;
    wolfSSL_CTX_free(x->ctx);
    free(x);
}

/* ---- one session ------------------------------------------------------------- */

static int out_append(lg_tls *t, const void *bytes, size_t len) {
    out_buf *b = &t->out[t->fl ^ 1];
    if (len > LG_TLS_OUT_MAX_BYTES || lg_tls_unsent_bytes(t) + len > LG_TLS_OUT_MAX_BYTES) return LG_TLS_ERR_OUTPUT_FULL;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : LG_TLS_OUT_INITIAL_BYTES;
        while (cap < b->len + len) cap *= 2;   /* bounded: len <= LG_TLS_OUT_MAX_BYTES */
        uint8_t *p = realloc(b->p, cap);
        if (p == NULL) return LG_TLS_ERR_NOMEM;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, bytes, len);
    b->len += len;
    return LG_TLS_OK;
}

static int io_recv(WOLFSSL *ssl, char *buf, int sz, void *ctx) {
    (void)ssl;
    lg_tls *t = ctx;
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
    lg_tls *t = ctx;
    if (sz <= 0) return 0;
    if (out_append(t, buf, (size_t)sz) != LG_TLS_OK) {
        /* never WANT_WRITE: a retried write would need the same arguments */
        t->out_full = true;
        return WOLFSSL_CBIO_ERR_GENERAL;
    }
    return sz;
}

lg_tls *lg_tls_new(lg_tls_ctx *x, lg_tls_session *resume) {
    lg_tls *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->ssl = wolfSSL_new(x->ctx);
    if (t->ssl == NULL) {
        free(t);
        return NULL;
    }
    wolfSSL_SSLSetIORecv(t->ssl, io_recv);
    wolfSSL_SSLSetIOSend(t->ssl, io_send);
    wolfSSL_SetIOReadCtx(t->ssl, t);
    wolfSSL_SetIOWriteCtx(t->ssl, t);
    char proto[] = TLS_ALPN_HTTP11;
    bool ok = wolfSSL_UseALPN(t->ssl, proto, (unsigned)strlen(proto), WOLFSSL_ALPN_CONTINUE_ON_MISMATCH) == WOLFSSL_SUCCESS;
    if (ok && !x->name_is_ip)
        ok = wolfSSL_UseSNI(t->ssl, WOLFSSL_SNI_HOST_NAME, x->server_name, (unsigned short)strlen(x->server_name)) ==
             WOLFSSL_SUCCESS;
    if (ok && x->verify) ok = wolfSSL_check_domain_name(t->ssl, x->server_name) == WOLFSSL_SUCCESS;
    /* TLS 1.2 tickets are asked for; TLS 1.3 servers send them unasked */
    if (ok && wolfSSL_UseSessionTicket(t->ssl) != WOLFSSL_SUCCESS) ok = false;
    /* an unusable session (expired, other version) just means a full handshake */
    if (ok && resume != NULL) (void)wolfSSL_set_session(t->ssl, (WOLFSSL_SESSION *)resume);
    if (!ok) {
        wolfSSL_free(t->ssl);
        free(t);
        return NULL;
    }
    return t;
}

void lg_tls_free(lg_tls *t) {
    if (t == NULL) return;
    wolfSSL_free(t->ssl);
    free(t->out[0].p);
    free(t->out[1].p);
    free(t);
}

static int fail(lg_tls *t, int wolf_error, int status) {
    t->failed = true;
    if (t->out_full) {
        snprintf(t->err, sizeof t->err, "%s", lg_tls_status_str(LG_TLS_ERR_OUTPUT_FULL));
        return LG_TLS_ERR_OUTPUT_FULL;
    }
    wolf_reason(wolf_error, t->err, sizeof t->err);
    return status;
}

/* One step of the handshake; LG_TLS_OK also while it waits for input. */
static int connect_step(lg_tls *t) {
    int r = wolfSSL_connect(t->ssl);
    if (r == WOLFSSL_SUCCESS) {
        t->handshake_done = true;
        return LG_TLS_OK;
    }
    int e = wolfSSL_get_error(t->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE) return LG_TLS_OK;
    return fail(t, e, LG_TLS_ERR_HANDSHAKE);
}

int lg_tls_start(lg_tls *t) {
    if (t->started || t->failed) return LG_TLS_ERR_STATE;
    t->started = true;
    return connect_step(t);
}

int lg_tls_input(lg_tls *t, const uint8_t *cipher, size_t len, lg_tls_sink sink, void *arg) {
    if (t->failed || !t->started) return LG_TLS_ERR_STATE;
    if (t->peer_closed) return LG_TLS_PEER_CLOSED;
    t->in = cipher;
    t->in_len = len;
    int rc = LG_TLS_OK;
    if (!t->handshake_done) {
        rc = connect_step(t);
        if (rc != LG_TLS_OK || !t->handshake_done) goto done;
    }
    uint8_t plain[LG_TLS_PLAIN_CHUNK_BYTES];
    /* every record is at least 5 bytes and wolfSSL holds at most one partial
     * record from before: this many reads always exhaust the input */
    size_t max_reads = len / 5 + 16;
    for (size_t i = 0;; i++) {
        if (i == max_reads) {
            rc = fail(t, 0, LG_TLS_ERR_PROTOCOL);
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
            rc = LG_TLS_PEER_CLOSED;
            break;
        }
        rc = fail(t, e, LG_TLS_ERR_PROTOCOL);
        break;
    }
done:
    t->in = NULL;
    t->in_len = 0;
    return rc;
}

int lg_tls_write(lg_tls *t, const uint8_t *plain, size_t len) {
    if (t->failed || t->shutdown_sent || !t->handshake_done) return LG_TLS_ERR_STATE;
    if (len > LG_TLS_OUT_MAX_BYTES) return LG_TLS_ERR_OUTPUT_FULL;
    while (len > 0) {   /* bounded: each pass writes >= 1 byte or fails */
        int n = wolfSSL_write(t->ssl, plain, (int)len);
        if (n <= 0) return fail(t, wolfSSL_get_error(t->ssl, n), LG_TLS_ERR_PROTOCOL);
        plain += n;
        len -= (size_t)n;
    }
    return LG_TLS_OK;
}

int lg_tls_shutdown(lg_tls *t) {
    if (t->shutdown_sent) return LG_TLS_OK;
    if (t->failed || !t->handshake_done) return LG_TLS_ERR_STATE;
    t->shutdown_sent = true;
    int r = wolfSSL_shutdown(t->ssl);   /* sends close_notify, does not wait for the peer's */
    if (r == WOLFSSL_SUCCESS || r == WOLFSSL_SHUTDOWN_NOT_DONE) return LG_TLS_OK;
    int e = wolfSSL_get_error(t->ssl, r);
    if (e == WOLFSSL_ERROR_WANT_READ || e == WOLFSSL_ERROR_WANT_WRITE || e == WOLFSSL_ERROR_ZERO_RETURN) return LG_TLS_OK;
    return fail(t, e, LG_TLS_ERR_PROTOCOL);
}

size_t lg_tls_flight(lg_tls *t, const uint8_t **p) {
    out_buf *f = &t->out[t->fl];
    if (f->len == 0) {
        if (t->out[t->fl ^ 1].len == 0) return 0;
        t->fl ^= 1;
        t->fl_off = 0;
        f = &t->out[t->fl];
    }
    *p = f->p + t->fl_off;
    return f->len - t->fl_off;
}

void lg_tls_sent(lg_tls *t, size_t n) {
    out_buf *f = &t->out[t->fl];
    t->fl_off += n;
    if (t->fl_off >= f->len) {
        f->len = 0;
        t->fl_off = 0;
    }
}

size_t lg_tls_unsent_bytes(const lg_tls *t) {
    return t->out[t->fl].len - t->fl_off + t->out[t->fl ^ 1].len;
}

bool lg_tls_handshake_done(const lg_tls *t) { return t->handshake_done; }
bool lg_tls_failed(const lg_tls *t) { return t->failed; }
bool lg_tls_session_reused(const lg_tls *t) { return wolfSSL_session_reused(t->ssl) == 1; }
const char *lg_tls_version_str(const lg_tls *t) { return wolfSSL_get_version(t->ssl); }
const char *lg_tls_cipher_str(const lg_tls *t) { return wolfSSL_get_cipher_name(t->ssl); }
const char *lg_tls_error_str(const lg_tls *t) { return t->err; }

const char *lg_tls_alpn(const lg_tls *t) {
    char *name = NULL;
    word16 len = 0;
    if (wolfSSL_ALPN_GetProtocol(t->ssl, &name, &len) != WOLFSSL_SUCCESS || name == NULL || len == 0) return NULL;
    return name;
}

lg_tls_session *lg_tls_get_session(lg_tls *t) {
    if (!t->handshake_done || t->failed) return NULL;
    WOLFSSL_SESSION *s = wolfSSL_get1_session(t->ssl);
    if (s == NULL) return NULL;
    /* TLS 1.3 resumes with a ticket only; 1.2 also by session id */
    bool tls13 = strcmp(wolfSSL_get_version(t->ssl), "TLSv1.3") == 0;
    if (wolfSSL_SESSION_is_resumable(s) != 1 || (tls13 && wolfSSL_SESSION_has_ticket(s) != 1)) {
        wolfSSL_SESSION_free(s);
        return NULL;
    }
    return (lg_tls_session *)s;
}

void lg_tls_session_free(lg_tls_session *s) {
    if (s != NULL) wolfSSL_SESSION_free((WOLFSSL_SESSION *)s);
}
