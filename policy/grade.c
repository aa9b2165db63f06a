/* Grade names and the one rule about them: raising only (see grade.h). */
#include <errno.h>
#include <string.h>

#include "macro.h"
#include "policy/grade.h"

static const char *const names[_GRADE_MAX] = {
        [GRADE_OBSERVE] = "observe",
        [GRADE_AUTO] = "auto",
        [GRADE_APPROVE] = "approve",
        [GRADE_MANUAL] = "manual",
};

const char *grade_to_string(grade g) {
        return g >= 0 && g < _GRADE_MAX ? names[g] : NULL;
}

grade grade_from_string(const char *s) {
        for (int i = 0; s && i < _GRADE_MAX; i++)
                if (strcmp(s, names[i]) == 0)
                        return (grade) i;
        return _GRADE_INVALID;
}

grade grade_raise(grade g, grade to) {
        if (g == GRADE_OBSERVE || to == GRADE_OBSERVE)
                return g;
        return to > g ? to : g;
}
