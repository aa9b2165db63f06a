/* The certificate check's survey reused while it stands (agent/checks/cert_cache.c): the files'
 * fingerprint moves with every change the survey could see (content rewritten in place with the
 * same size, mode, owner, a file added or removed, a directory appearing) and not otherwise; a
 * kept finding is refused past its next instant, across a day count, before its survey, with
 * another fingerprint or when old; reused, its seconds left follow the clock. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/checks/cert_cache.h"
#include "now.h"
#include "tap.h"

static void write_file(const char *path, const char *text) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd >= 0) {
                (void) !write(fd, text, strlen(text));
                close(fd);
        }
}

int main(void) {
        char dir[] = "/tmp/test-cert-cache-XXXXXX", path[256], sub[256];
        char *standby[] = { path, NULL };
        uint64_t a, b;
        cert_cache c = {};
        finding *f = NULL, *g = NULL;
        time_t t0 = 1900000000;

        if (!mkdtemp(dir))
                return 1;
        snprintf(sub, sizeof(sub), "%s/x509", dir);
        mkdir(sub, 0755);
        snprintf(path, sizeof(path), "%s/x509/gw.pem", dir);
        write_file(path, "AAAA");

        a = cert_cache_fingerprint(dir, NULL);
        CHECK(a == cert_cache_fingerprint(dir, NULL), "nothing changed: the same fingerprint");
        write_file(path, "BBBB"); /* same size, same inode */
        b = cert_cache_fingerprint(dir, NULL);
        CHECK(a != b, "content rewritten in place, same size: another fingerprint");
        chmod(path, 0644);
        a = cert_cache_fingerprint(dir, NULL);
        CHECK(a != b, "mode changed: another fingerprint");
        snprintf(sub, sizeof(sub), "%s/x509/new.pem", dir);
        write_file(sub, "C");
        b = cert_cache_fingerprint(dir, NULL);
        CHECK(a != b, "a file added: another fingerprint");
        unlink(sub);
        a = cert_cache_fingerprint(dir, NULL);
        CHECK(a != b, "a file removed: another fingerprint");
        snprintf(sub, sizeof(sub), "%s/private", dir);
        mkdir(sub, 0700);
        b = cert_cache_fingerprint(dir, NULL);
        CHECK(a != b, "a directory appeared: another fingerprint");
        a = cert_cache_fingerprint(dir, standby);
        CHECK(a != b, "a standby list: another fingerprint");
        CHECK(a == cert_cache_fingerprint(dir, standby), "and stable");

        /* a survey at t0: 10 days and 100 s left, its next instant a day ahead */
        (void) finding_new(&f);
        (void) finding_set(f, CHECK_WARN, "x expires in 10 days");
        (void) finding_fact_set(f, "expiry_s /x", "%lld", 10LL * 86400 + 100);
        (void) finding_fact_set(f, "days_left", "10");
        (void) finding_fact_set(f, "next_change_usec", "%llu", (unsigned long long) (t0 + 86400) * USEC_PER_SEC);
        cert_cache_store(&c, f, a, t0);

        CHECK(cert_cache_reuse(&c, a, t0 + 60, &g) == 0 && g && g->status == CHECK_WARN &&
                      strcmp(finding_fact_get(g, "expiry_s /x"), "864040") == 0 &&
                      strcmp(finding_fact_get(g, "days_left"), "10") == 0 && strcmp(g->summary, f->summary) == 0,
              "reused a minute later: the same finding, seconds left %s", g ? finding_fact_get(g, "expiry_s /x") : "-");
        g = finding_free(g);
        CHECK(cert_cache_reuse(&c, a, t0 + 100, &g) == 0, "reused up to the day count's change");
        g = finding_free(g);
        CHECK(cert_cache_reuse(&c, a, t0 + 101, &g) == -ESTALE, "a day less left: surveyed again");
        CHECK(cert_cache_reuse(&c, a + 1, t0 + 1, &g) == -ESTALE, "another fingerprint: surveyed again");
        CHECK(cert_cache_reuse(&c, a, t0 - 1, &g) == -ESTALE, "the clock before the survey: surveyed again");
        (void) finding_fact_set(f, "next_change_usec", "%llu", (unsigned long long) (t0 + 50) * USEC_PER_SEC);
        cert_cache_store(&c, f, a, t0);
        CHECK(cert_cache_reuse(&c, a, t0 + 49, &g) == 0, "before the next instant: reused");
        g = finding_free(g);
        CHECK(cert_cache_reuse(&c, a, t0 + 50, &g) == -ESTALE, "at the next instant: surveyed again");
        c.made_usec -= CERT_CACHE_MAX_AGE_USEC;
        CHECK(cert_cache_reuse(&c, a, t0 + 1, &g) == -ESTALE, "older than CERT_CACHE_MAX_AGE_USEC: surveyed again");
        cert_cache_clear(&c);
        CHECK(cert_cache_reuse(&c, a, t0 + 1, &g) == -ESTALE, "nothing kept: surveyed");

        finding_free(f);
        snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
        (void) !system(sub);
        return TAP_END();
}
