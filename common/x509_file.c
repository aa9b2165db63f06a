/* See x509_file.h. PEM is tried first, then DER on the same bytes. */
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdlib.h>

#include "file_read.h"
#include "macro.h"
#include "now.h"
#include "x509_file.h"

typedef void *(*pem_fn)(BIO *b);
typedef void *(*der_fn)(BIO *b);

static void *pem_cert(BIO *b) { return PEM_read_bio_X509(b, NULL, NULL, NULL); }
static void *der_cert(BIO *b) { return d2i_X509_bio(b, NULL); }
/* "" as the passphrase: an encrypted key fails instead of prompting on a terminal */
static void *pem_key(BIO *b) { return PEM_read_bio_PrivateKey(b, NULL, NULL, (void *) ""); }
static void *der_key(BIO *b) { return d2i_PrivateKey_bio(b, NULL); }
static void *pem_crl(BIO *b) { return PEM_read_bio_X509_CRL(b, NULL, NULL, NULL); }
static void *der_crl(BIO *b) { return d2i_X509_CRL_bio(b, NULL); }

static void *parse(const void *buf, size_t len, pem_fn pem, der_fn der) {
        BIO *b;
        void *x;

        if (len > X509_FILE_MAX || !(b = BIO_new_mem_buf(buf, (int) len)))
                return NULL;
        x = pem(b);
        if (!x) {
                (void) BIO_reset(b);
                x = der(b);
        }
        BIO_free(b);
        ERR_clear_error();
        return x;
}

static void *load(const char *path, pem_fn pem, der_fn der) {
        _cleanup_(freep) char *buf = NULL;
        size_t len;

        /* a symlinked certificate is usual (certbot's live/ tree); a FIFO or device is not
         * waited on */
        if (file_read_all(path, X509_FILE_MAX, FILE_READ_FOLLOW, &buf, &len, NULL) < 0)
                return NULL;
        return parse(buf, len, pem, der);
}

X509 *x509_file_cert(const char *path) {
        return load(path, pem_cert, der_cert);
}

EVP_PKEY *x509_file_key(const char *path) {
        return load(path, pem_key, der_key);
}

X509_CRL *x509_file_crl_parse(const void *buf, size_t len) {
        return parse(buf, len, pem_crl, der_crl);
}

X509_CRL *x509_file_crl(const char *path) {
        return load(path, pem_crl, der_crl);
}

time_t x509_file_now(void) {
        return (time_t) (real_usec() / USEC_PER_SEC);
}

time_t x509_file_time(const ASN1_TIME *t) {
        struct tm tm = {};
        return t && ASN1_TIME_to_tm(t, &tm) == 1 ? timegm(&tm) : 0;
}
