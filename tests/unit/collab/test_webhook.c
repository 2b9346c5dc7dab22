/* Webhook signatures: HMAC-SHA256 of the body, as a receiver recomputes it. */
#include <criterion/criterion.h>
#include <string.h>

#include "collab/webhook.h"

Test(webhook, signature_is_hex_hmac_sha256_of_the_body) {
    char sig[72];
    /* RFC 4231 test case 2 */
    cr_assert_eq(webhook_sign("Jefe", "what do ya want for nothing?", 28, sig), 0);
    cr_assert_str_eq(sig, "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

Test(webhook, no_url_means_no_webhooks) {
    webhook *h = (webhook *)1;
    char err[128] = "";
    webhook_config cfg = {.urls = "", .data_dir = "/nonexistent"};
    cr_assert_eq(webhook_new(&cfg, &h, err, sizeof err), 0);
    cr_assert_null(h);
    webhook_notify(NULL, WEBHOOK_CHANGED, "a", 1, 1, NULL, 0);   /* a no-op without webhooks */
    cfg.urls = "http://127.0.0.1:1/a\nftp://x";
    cr_assert_lt(webhook_new(&cfg, &h, err, sizeof err), 0);
    cr_assert_str_eq(err, "--webhook-url 'ftp://x': only http:// URLs are supported (put a TLS relay in front for https)");
}
