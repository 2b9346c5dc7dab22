#include "tlsc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lg_tls_ctx {
    tls_client *client;
};

struct lg_tls {
    tls_conn *conn;
    rbuf *flight;             /* taken output being sent, from flight_off; NULL: none */
    size_t flight_off;
    bool out_full;            /* a write did not fit: the session is dead */
};

const char *lg_tls_status_str(int status) {
    if (status == LG_TLS_ERR_CONFIG) return "TLS client configuration rejected";
    return tls_status_str(status);
}

int lg_tls_ctx_new(const lg_tls_options *o, lg_tls_ctx **out, char *err, size_t err_len) {
    int version = o->version ? o->version : TLS_V13;
    if (version != TLS_V12 && version != TLS_V13) {
        snprintf(err, err_len, "TLS version must be 1.2 or 1.3");
        return LG_TLS_ERR_CONFIG;
    }
    lg_tls_ctx *x = calloc(1, sizeof *x);
    if (x == NULL) return LG_TLS_ERR_NOMEM;
    tls_client_options co = {
        .min_version = version,
        .max_version = version,
        .ca_path = o->ca_path,
        .server_name = o->server_name != NULL ? o->server_name : "localhost",
        .alpn = TLS_ALPN_HTTP11,
    };
    int rc = tls_client_new(&co, &x->client, err, err_len);
    if (rc != TLS_OK) {
        free(x);
        return rc;
    }
    *out = x;
    return LG_TLS_OK;
}

void lg_tls_ctx_free(lg_tls_ctx *x) {
    if (x == NULL) return;
    tls_client_free(x->client);
    free(x);
}

lg_tls *lg_tls_new(lg_tls_ctx *x, lg_tls_session *resume) {
    lg_tls *t = calloc(1, sizeof *t);
    if (t == NULL) return NULL;
    t->conn = tls_conn_new_client(x->client, resume);
    if (t->conn == NULL) {
        free(t);
        return NULL;
    }
    return t;
}

void lg_tls_free(lg_tls *t) {
    if (t == NULL) return;
    tls_conn_free(t->conn);
    rbuf_unref(t->flight);
    free(t);
}

static size_t flight_left(const lg_tls *t) { return t->flight != NULL ? t->flight->len - t->flight_off : 0; }

/* The session may collect only what the buffer in flight leaves of the bound. */
static tls_conn *bounded(lg_tls *t) {
    tls_conn_set_output_limit(t->conn, LG_TLS_OUT_MAX_BYTES - flight_left(t));
    return t->conn;
}

int lg_tls_start(lg_tls *t) { return tls_conn_start(bounded(t)); }

int lg_tls_input(lg_tls *t, const uint8_t *cipher, size_t len, lg_tls_sink sink, void *arg) {
    if (t->out_full) return LG_TLS_ERR_STATE;
    return tls_conn_input(bounded(t), cipher, len, sink, arg);
}

int lg_tls_write(lg_tls *t, const uint8_t *plain, size_t len) {
    if (t->out_full) return LG_TLS_ERR_STATE;
    if (len > LG_TLS_OUT_MAX_BYTES) return LG_TLS_ERR_OUTPUT_FULL;   /* refused whole: the session lives on */
    tls_piece piece = {plain, len};
    int rc = tls_conn_write(bounded(t), &piece, 1);
    /* A write that fits the bound but not what is held: the engine would only
     * fall further behind, so the session ends here. */
    if (rc == LG_TLS_ERR_OUTPUT_FULL) t->out_full = true;
    return rc;
}

int lg_tls_shutdown(lg_tls *t) {
    if (t->out_full) return LG_TLS_ERR_STATE;
    return tls_conn_shutdown(bounded(t));
}

size_t lg_tls_flight(lg_tls *t, const uint8_t **p) {
    if (t->flight == NULL) {
        t->flight = tls_conn_take_output(t->conn);
        t->flight_off = 0;
        if (t->flight == NULL) return 0;
    }
    *p = t->flight->data + t->flight_off;
    return flight_left(t);
}

void lg_tls_sent(lg_tls *t, size_t n) {
    if (t->flight == NULL) return;
    t->flight_off += n;
    if (t->flight_off >= t->flight->len) {
        rbuf_unref(t->flight);
        t->flight = NULL;
        t->flight_off = 0;
    }
}

size_t lg_tls_unsent_bytes(const lg_tls *t) { return flight_left(t) + tls_conn_output_bytes(t->conn); }

bool lg_tls_handshake_done(const lg_tls *t) { return tls_conn_handshake_done(t->conn); }
bool lg_tls_failed(const lg_tls *t) { return t->out_full || tls_conn_failed(t->conn); }
bool lg_tls_session_reused(const lg_tls *t) { return tls_conn_session_reused(t->conn); }
const char *lg_tls_version_str(const lg_tls *t) { return tls_conn_version_str(t->conn); }
const char *lg_tls_cipher_str(const lg_tls *t) { return tls_conn_cipher_str(t->conn); }
const char *lg_tls_alpn(const lg_tls *t) { return tls_conn_alpn(t->conn); }

const char *lg_tls_error_str(const lg_tls *t) {
    return t->out_full ? tls_status_str(TLS_ERR_OUTPUT_FULL) : tls_conn_error_str(t->conn);
}

lg_tls_session *lg_tls_get_session(lg_tls *t) {
    if (t->out_full) return NULL;
    return tls_conn_get_session(t->conn);
}

void lg_tls_session_free(lg_tls_session *s) { tls_session_free(s); }
