/* The malformed-file corpora of the parser tests (tests/fixtures/.../bad/): each file's first
 * line is "# expect: LINE:COL: text", and loading the file alone must fail with an error at
 * exactly FILE:LINE:COL whose line contains text. `load` loads one set from explicit files and
 * returns its errors (malloc'ed) or NULL if it loaded. */
#pragma once

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "atomic_file.h"
#include "tap.h"

static int expect_corpus_filter(const struct dirent *de) {
        return strstr(de->d_name, ".yaml") != NULL;
}

static void expect_corpus(const char *dir, int min, char *(*load)(char *const *files)) {
        struct dirent **list = NULL;
        int n = scandir(dir, &list, expect_corpus_filter, alphasort);

        CHECK(n >= min, "at least %d malformed files in %s (%d)", min, dir, n);
        for (int i = 0; i < n; i++) {
                char path[512], want[640], *file = NULL, *err, *nl;
                size_t len = 0;
                char *files[] = { path, NULL };

                (void) snprintf(path, sizeof(path), "%s%s", dir, list[i]->d_name);
                if (atomic_file_read(path, 1 << 20, &file, &len) < 0 || strncmp(file, "# expect: ", 10) != 0) {
                        CHECK(false, "%s has an '# expect: ' first line", path);
                        free(file);
                        free(list[i]);
                        continue;
                }
                nl = strchr(file, '\n');
                if (nl)
                        *nl = 0;
                char *text = strstr(file + 10, ": ");
                text = text ? text + 2 : file + strlen(file);
                (void) snprintf(want, sizeof(want), "%s:%.*s: ", path, (int) (text - 2 - (file + 10)), file + 10);
                err = load(files);
                CHECK(err, "%s refused", list[i]->d_name);
                const char *at = err ? strstr(err, want) : NULL;
                const char *eol = at ? strchrnul(at, '\n') : NULL;
                char line[1024] = "";
                if (at)
                        (void) snprintf(line, sizeof(line), "%.*s", (int) (eol - at), at);
                CHECK(at && strstr(line, text), "%s: error at '%s' saying '%s' (got: %s)", list[i]->d_name, want, text,
                      err ? err : "none");
                free(err);
                free(file);
                free(list[i]);
        }
        free(list);
}
