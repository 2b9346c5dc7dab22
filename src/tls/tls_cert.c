#include <wolfssl/options.h>
#include <wolfssl/wolfcrypt/settings.h>
#include <wolfssl/wolfcrypt/asn_public.h>
#include <wolfssl/wolfcrypt/ecc.h>
#include <wolfssl/wolfcrypt/error-crypt.h>
#include <wolfssl/wolfcrypt/random.h>

#include "tls/tls_cert.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#if !defined(WOLFSSL_CERT_GEN) || !defined(WOLFSSL_KEY_GEN) || !defined(WOLFSSL_ALT_NAMES) || \
    !defined(WOLFSSL_CERT_EXT) || !defined(HAVE_ECC)
#error "tls_cert.c needs wolfSSL with certgen, keygen, altnames, certext and ECC (Debian's build has them)"
#endif

#define TLS_CERT_DER_MAX_BYTES 2048u
#define TLS_CERT_SERIAL_BYTES 16u

/* GeneralNames: dNSName "localhost", iPAddress 127.0.0.1, iPAddress ::1 (DER). */
static const uint8_t san_localhost[] = {
    0x30, 0x23,
    0x82, 0x09, 'l', 'o', 'c', 'a', 'l', 'h', 'o', 's', 't',
    0x87, 0x04, 127, 0, 0, 1,
    0x87, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1,
};

const char *tls_cert_error_str(int code) {
    if (code == -EINVAL) return "invalid certificate parameters";
    return wc_GetErrorString(code);
}

/* UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 4.1.2.5), tag and length included. */
static int encode_time(int64_t unix_s, uint8_t *out, int *out_len) {
    time_t t = (time_t)unix_s;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL) return -EINVAL;
    int year = tm.tm_year + 1900;
    char text[20];
    int n;
    if (year >= 1950 && year <= 2049) {
        n = snprintf(text, sizeof text, "%02d%02d%02d%02d%02d%02dZ", year % 100, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec);
        out[0] = 0x17;
    } else if (year >= 0 && year <= 9999) {
        n = snprintf(text, sizeof text, "%04d%02d%02d%02d%02d%02dZ", year, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
        out[0] = 0x18;
    } else {
        return -EINVAL;
    }
    if (n <= 0 || n + 2 > CTC_DATE_SIZE) return -EINVAL;
    out[1] = (uint8_t)n;
    memcpy(out + 2, text, (size_t)n);
    *out_len = n + 2;
    return 0;
}

static int load_issuer(const tls_cert_params *p, Cert *cert, ecc_key *issuer_key, uint8_t *der, int *der_len) {
    int n = wc_CertPemToDer((const unsigned char *)p->issuer_cert_pem, (int)strlen(p->issuer_cert_pem), der,
                            (int)TLS_CERT_DER_MAX_BYTES, CERT_TYPE);
    if (n <= 0) return n < 0 ? n : -EINVAL;
    *der_len = n;
    uint8_t key_der[TLS_CERT_DER_MAX_BYTES];
    int k = wc_KeyPemToDer((const unsigned char *)p->issuer_key_pem, (int)strlen(p->issuer_key_pem), key_der,
                           (int)sizeof key_der, NULL);
    if (k <= 0) return k < 0 ? k : -EINVAL;
    word32 idx = 0;
    int rc = wc_EccPrivateKeyDecode(key_der, &idx, issuer_key, (word32)k);
    memset(key_der, 0, sizeof key_der);
    if (rc != 0) return rc;
    rc = wc_SetIssuerBuffer(cert, der, n);
    if (rc != 0) return rc;
    return wc_SetAuthKeyIdFromCert(cert, der, n);
}

int tls_cert_make(const tls_cert_params *p, tls_cert_pem *out) {
    const char *cn = p->common_name != NULL ? p->common_name : p->is_ca ? "ringpad development CA" : "localhost";
    if (strlen(cn) >= TLS_CERT_CN_MAX_BYTES || strlen(cn) >= CTC_NAME_SIZE) return -EINVAL;
    if (p->not_after_unix <= p->not_before_unix) return -EINVAL;
    if ((p->issuer_cert_pem == NULL) != (p->issuer_key_pem == NULL)) return -EINVAL;
    memset(out, 0, sizeof *out);

    WC_RNG rng;
    ecc_key key, issuer_key;
    bool have_rng = false, have_key = false, have_issuer_key = false;
    static Cert cert_zero;
    Cert cert = cert_zero;
    uint8_t der[TLS_CERT_DER_MAX_BYTES];
    uint8_t issuer_der[TLS_CERT_DER_MAX_BYTES];
    int issuer_der_len = 0;

    int rc = wc_InitRng(&rng);
    if (rc != 0) goto done;
    have_rng = true;
    rc = wc_ecc_init(&key);
    if (rc != 0) goto done;
    have_key = true;
    rc = wc_ecc_make_key_ex(&rng, 32, &key, ECC_SECP256R1);
    if (rc != 0) goto done;

    rc = wc_InitCert(&cert);
    if (rc != 0) goto done;
    snprintf(cert.subject.org, CTC_NAME_SIZE, "%s", "ringpad development");
    snprintf(cert.subject.commonName, CTC_NAME_SIZE, "%s", cn);
    cert.sigType = CTC_SHA256wECDSA;
    cert.isCA = p->is_ca ? 1 : 0;
    rc = encode_time(p->not_before_unix, cert.beforeDate, &cert.beforeDateSz);
    if (rc == 0) rc = encode_time(p->not_after_unix, cert.afterDate, &cert.afterDateSz);
    if (rc != 0) goto done;
    rc = wc_RNG_GenerateBlock(&rng, cert.serial, TLS_CERT_SERIAL_BYTES);
    if (rc != 0) goto done;
    cert.serial[0] &= 0x7f;   /* a positive INTEGER */
    cert.serial[0] |= 0x01;   /* and no leading zero byte */
    cert.serialSz = TLS_CERT_SERIAL_BYTES;
    if (p->is_ca) {
        rc = wc_SetKeyUsage(&cert, "keyCertSign,cRLSign,digitalSignature");
    } else {
        memcpy(cert.altNames, san_localhost, sizeof san_localhost);
        cert.altNamesSz = (int)sizeof san_localhost;
        rc = wc_SetKeyUsage(&cert, "digitalSignature,keyEncipherment");
        if (rc == 0) rc = wc_SetExtKeyUsage(&cert, "serverAuth");
    }
    if (rc != 0) goto done;
    rc = wc_SetSubjectKeyIdFromPublicKey_ex(&cert, ECC_TYPE, &key);
    if (rc != 0) goto done;

    ecc_key *signer = &key;
    if (p->issuer_cert_pem != NULL) {
        rc = wc_ecc_init(&issuer_key);
        if (rc != 0) goto done;
        have_issuer_key = true;
        rc = load_issuer(p, &cert, &issuer_key, issuer_der, &issuer_der_len);
        if (rc != 0) goto done;
        signer = &issuer_key;
    } else {
        rc = wc_SetAuthKeyIdFromPublicKey_ex(&cert, ECC_TYPE, &key);
        if (rc != 0) goto done;
    }

    rc = wc_MakeCert_ex(&cert, der, sizeof der, ECC_TYPE, &key, &rng);
    if (rc < 0) goto done;
    rc = wc_SignCert_ex(cert.bodySz, cert.sigType, der, sizeof der, ECC_TYPE, signer, &rng);
    if (rc < 0) goto done;
    int n = wc_DerToPem(der, (word32)rc, (byte *)out->cert, sizeof out->cert - 1, CERT_TYPE);
    if (n < 0) {
        rc = n;
        goto done;
    }
    out->cert_len = (size_t)n;
    out->cert[n] = '\0';

    rc = wc_EccKeyToDer(&key, der, sizeof der);
    if (rc < 0) goto done;
    n = wc_DerToPem(der, (word32)rc, (byte *)out->key, sizeof out->key - 1, ECC_PRIVATEKEY_TYPE);
    memset(der, 0, sizeof der);
    if (n < 0) {
        rc = n;
        goto done;
    }
    out->key_len = (size_t)n;
    out->key[n] = '\0';
    rc = 0;
done:
    if (have_issuer_key) wc_ecc_free(&issuer_key);
    if (have_key) wc_ecc_free(&key);
    if (have_rng) wc_FreeRng(&rng);
    if (rc != 0) memset(out, 0, sizeof *out);
    return rc;
}
