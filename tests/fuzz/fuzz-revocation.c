/* Fuzz what the revocation check does with an HTTP body: the input is one fetched body, judged
 * both as a CRL from a distribution point (PEM or DER, x509_file_crl_parse(), then the verdict
 * with a CA of the same name whose signature check may fail) and as an OCSP responder's answer
 * for a certificate of that CA (DER, status, signature, coverage, validity). The check's file
 * is included whole so that its own static judges run, not a copy of them; its exported ops
 * table is renamed to stay apart from the library's. Seeds: CRLs (PEM and DER) and OCSP
 * answers (good, revoked, unknown, unauthorized) made with openssl.
 */
#include <stdint.h>
#include <stdlib.h>

#define revocation_check_ops fuzz_revocation_check_ops
#include "agent/checks/revocation.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static X509 *ca, *leaf;

/* The CA "CN=fuzz CA" and a certificate "CN=leaf" (serial 2) it issued: the seeds' OCSP answers
 * are signed by this CA for this certificate, so the fuzzer starts past the signature and
 * coverage checks. */
static const char ca_pem[] =
        "-----BEGIN CERTIFICATE-----\n"
        "MIIBeDCCAR+gAwIBAgIUNpEcWcP4tczIanwubW/EwXXsdZowCgYIKoZIzj0EAwIw\n"
        "EjEQMA4GA1UEAwwHZnV6eiBDQTAeFw0yNjEyMDYwODMyMzFaFw0yNzAxMDUwODMy\n"
        "MzFaMBIxEDAOBgNVBAMMB2Z1enogQ0EwWTATBgcqhkjOPQIBBggqhkjOPQMBBwNC\n"
        "AASj6B9+NPiPQz7iAatj8YdOTi7cdjAJ47TUkvA7jIqAryjGki61ltHQtlpflAMd\n"
        "7/l/kc7b2UkSvlNRGdjPXifRo1MwUTAdBgNVHQ4EFgQUJTa56YM/uFvGOFiWmk8l\n"
        "78mwqlYwHwYDVR0jBBgwFoAUJTa56YM/uFvGOFiWmk8l78mwqlYwDwYDVR0TAQH/\n"
        "BAUwAwEB/zAKBggqhkjOPQQDAgNHADBEAiAmuHZLIY5UcNGlPRkP94cvaE8IzX3r\n"
        "LaCK7HcBy6yjYgIgYS+1AUUCfE7K1IUcaEOx9v30Mk5nVysra3tVHn3ICkA=\n"
        "-----END CERTIFICATE-----\n";
static const char leaf_pem[] =
        "-----BEGIN CERTIFICATE-----\n"
        "MIIBCDCBrwIBAjAKBggqhkjOPQQDAjASMRAwDgYDVQQDDAdmdXp6IENBMB4XDTI2\n"
        "MTIwNjA4MzIzMVoXDTI2MTIxNjA4MzIzMVowDzENMAsGA1UEAwwEbGVhZjBZMBMG\n"
        "ByqGSM49AgEGCCqGSM49AwEHA0IABJ6anNW9LXoMCv8wGe9BO/cjb9PtdBxKA9rr\n"
        "oWM+aW8INB4STptnEc8ECj8YLdUgPKsQXjMWk1d3qB1MPTV2a6cwCgYIKoZIzj0E\n"
        "AwIDSAAwRQIgCNgRG6F6HnvEEzM1lV60VtZU3H9cx/4shqjmi5w1EKUCIQCKXgMP\n"
        "EnBY9N/OmT7I53g7W98dacdU+fcjnT01sjC6DQ==\n"
        "-----END CERTIFICATE-----\n";

static X509 *pem_cert(const char *pem) {
        BIO *b = BIO_new_mem_buf(pem, -1);
        X509 *x = b ? PEM_read_bio_X509(b, NULL, NULL, NULL) : NULL;
        BIO_free(b);
        if (!x)
                abort();
        return x;
}

static void setup(void) {
        ca = pem_cert(ca_pem);
        leaf = pem_cert(leaf_pem);
}

static void state_init(revocation_state *s) {
        *s = (revocation_state){ .crl_warn_usec = 3600 * USEC_PER_SEC, .cache_left_min = -1 };
        s->cas[s->n_cas++] = ca;
        if (finding_new(&s->f) < 0)
                abort();
}

static void state_free(revocation_state *s) {
        for (size_t i = 0; i < s->n_cached; i++)
                X509_NAME_free(s->cached[i].issuer);
        finding_free(s->f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        revocation_state s;

        if (!ca)
                setup();

        /* a distribution point's body, as on_done() judges it */
        state_init(&s);
        X509_CRL *crl = x509_file_crl_parse(data, size);
        if (crl) {
                judge_crl(&s, crl, "http://198.18.0.1/ca.crl", false);
                judge_crl(&s, crl, "/etc/swanctl/x509crl/ca.crl", true);
                X509_CRL_free(crl);
        }
        state_free(&s);

        /* an OCSP responder's body for the leaf certificate */
        state_init(&s);
        task t = { .owner = &s, .kind = TASK_OCSP, .cert = leaf, .issuer = ca };
        snprintf(t.url, sizeof(t.url), "http://198.18.0.1/ocsp");
        t.id = OCSP_cert_to_id(NULL, leaf, ca);
        t.body = (uint8_t *) data;
        t.body_len = size;
        if (t.id)
                judge_ocsp(&s, &t);
        OCSP_CERTID_free(t.id);
        state_free(&s);
        return 0;
}
