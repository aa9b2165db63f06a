/* common/file_read.c: what the agent reads as input never blocks and is a regular file. A FIFO
 * (with no writer: a blocking open would wait forever) is refused at once, by the reader and by
 * everything routed through it (atomic_file_read, ytree_parse_file, x509_file_cert); a symlink
 * is refused unless the caller allows it; a directory, a device and a file over the limit are
 * refused; a file that says size 0 (/proc) is still read whole. Each FIFO case runs under an
 * alarm, so a regression fails instead of hanging. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "atomic_file.h"
#include "file_read.h"
#include "tap.h"
#include "x509_file.h"
#include "yaml_tree.h"

static char dir[] = "/tmp/ikh-test-file-read-XXXXXX";

static void on_alarm(int sig) {
        static const char msg[] = "FAIL a read blocked (alarm after 5 s)\n";
        (void) !write(1, msg, sizeof(msg) - 1);
        _exit(1);
}

static const char *at(const char *name) {
        static char p[4][256];
        static unsigned i;
        char *s = p[i++ % 4];
        snprintf(s, 256, "%s/%s", dir, name);
        return s;
}

int main(void) {
        char *buf = NULL;
        size_t len = 0;
        struct stat st;
        ydiag d;
        ynode *root = NULL;
        int r;

        if (!mkdtemp(dir))
                return 1;
        signal(SIGALRM, on_alarm);
        alarm(5);

        FILE *f = fopen(at("plain.yaml"), "w");
        fputs("a: 1\n", f);
        fclose(f);
        CHECK(mkfifo(at("fifo.yaml"), 0644) == 0, "FIFO made");
        CHECK(symlink(at("plain.yaml"), at("link.yaml")) == 0, "symlink made");

        r = file_read_all(at("plain.yaml"), 100, 0, &buf, &len, &st);
        CHECK(r == 0 && len == 5 && strcmp(buf, "a: 1\n") == 0 && S_ISREG(st.st_mode), "regular file read (%d)", r);
        free(buf);
        buf = NULL;

        r = file_read_all(at("fifo.yaml"), 100, 0, &buf, &len, NULL);
        CHECK(r == -EBADFD && !buf, "FIFO refused at once: %s", file_read_strerror(r));
        r = file_read_all(at("fifo.yaml"), 100, FILE_READ_FOLLOW, &buf, &len, NULL);
        CHECK(r == -EBADFD, "FIFO refused with FOLLOW too (%d)", r);
        r = atomic_file_read(at("fifo.yaml"), 100, &buf, &len);
        CHECK(r == -EBADFD, "atomic_file_read: FIFO refused at once (%d)", r);
        CHECK(!x509_file_cert(at("fifo.yaml")), "x509_file_cert: FIFO refused at once");
        ydiag_init(&d, at("fifo.yaml"));
        r = ytree_parse_file(at("fifo.yaml"), &d, &root);
        CHECK(r == -EBADFD && d.n_msgs == 1 && strstr(d.msgs[0], "fifo.yaml:1:1: cannot open: is a FIFO"),
              "ytree_parse_file: FIFO is a located error: %s", d.n_msgs ? d.msgs[0] : "-");
        ydiag_done(&d);

        r = file_read_open(at("link.yaml"), 0, NULL);
        CHECK(r == -ELOOP, "symlink refused without FOLLOW: %s", file_read_strerror(r));
        r = file_read_open(at("link.yaml"), FILE_READ_FOLLOW, NULL);
        CHECK(r >= 0, "symlink followed with FOLLOW (%d)", r);
        if (r >= 0)
                close(r);
        ydiag_init(&d, at("link.yaml"));
        r = ytree_parse_file(at("link.yaml"), &d, &root);
        CHECK(r == -ELOOP && d.n_msgs == 1 && strstr(d.msgs[0], "symbolic link"),
              "ytree_parse_file: symlink refused: %s", d.n_msgs ? d.msgs[0] : "-");
        ydiag_done(&d);

        r = file_read_open(dir, 0, NULL);
        CHECK(r == -EISDIR, "directory refused (%d)", r);
        r = file_read_open("/dev/zero", FILE_READ_FOLLOW, NULL);
        CHECK(r == -EBADFD, "character device refused (%d)", r);
        r = file_read_all(at("plain.yaml"), 4, 0, &buf, &len, NULL);
        CHECK(r == -EFBIG, "over the limit: -EFBIG (%d)", r);
        r = file_read_all("/proc/self/status", 1 << 20, FILE_READ_FOLLOW, &buf, &len, NULL);
        CHECK(r == 0 && len > 0 && strstr(buf, "Name:"), "a /proc file (size 0) read whole (%zu bytes)", len);
        free(buf);
        buf = NULL;
        r = file_read_all("/proc/self/status", 16, FILE_READ_FOLLOW, &buf, &len, NULL);
        CHECK(r == -EFBIG, "... and past the limit it is -EFBIG (%d)", r);
        r = file_read_all(at("missing"), 10, 0, &buf, &len, NULL);
        CHECK(r == -ENOENT && strcmp(file_read_strerror(r), strerror(ENOENT)) == 0, "missing: -ENOENT");

        unlink(at("plain.yaml"));
        unlink(at("fifo.yaml"));
        unlink(at("link.yaml"));
        rmdir(dir);
        return TAP_END();
}
