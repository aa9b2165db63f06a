/* Minimal assertions for the unit tests: each check prints one line; the test's exit code is
 * the number of failures (capped at 1), so the runner sees pass/fail. */
#pragma once

#include <stdio.h>
#include <string.h>

static int tap_failures, tap_checks;

#define CHECK(cond, ...)                                                        \
        do {                                                                    \
                tap_checks++;                                                   \
                if (cond)                                                       \
                        printf("ok   ");                                        \
                else {                                                          \
                        tap_failures++;                                         \
                        printf("FAIL %s:%d: (%s) ", __FILE__, __LINE__, #cond); \
                }                                                               \
                printf(__VA_ARGS__);                                            \
                printf("\n");                                                   \
        } while (0)

#define TAP_END()                                                                            \
        ({                                                                                   \
                printf("%d checks, %d failed\n", tap_checks, tap_failures);                  \
                tap_failures ? 1 : 0;                                                        \
        })
