/* Certificates, CRLs and private keys from files or memory, PEM or DER, as strongSwan accepts
 * them in a swanctl tree. Bounded (X509_FILE_MAX), no passphrase prompt (an encrypted key does
 * not load), OpenSSL's error queue left empty. NULL when the data is not one. Files are read
 * with file_read_all() (common/file_read.h): a symlink is followed, a FIFO or device is refused
 * at once. */
#pragma once

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stddef.h>
#include <time.h>

#define X509_FILE_MAX (4u * 1024u * 1024u)

/* The wall clock's second validity is judged at, read precisely: time() may lag CLOCK_REALTIME
 * by a tick, and a timer armed at notAfter must see that instant when it fires. */
time_t x509_file_now(void);
/* An ASN1_TIME as seconds since the epoch; 0 for NULL or unreadable. */
time_t x509_file_time(const ASN1_TIME *t);
X509 *x509_file_cert(const char *path);
EVP_PKEY *x509_file_key(const char *path);
X509_CRL *x509_file_crl_parse(const void *buf, size_t len);
X509_CRL *x509_file_crl(const char *path);
