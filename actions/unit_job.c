/* See unit_job.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions/unit_job.h"

#define SD_DEST "org.freedesktop.systemd1"
#define SD_PATH "/org/freedesktop/systemd1"
#define SD_MANAGER "org.freedesktop.systemd1.Manager"

struct unit_job {
        sd_bus *bus;
        sd_bus_slot *call_slot, *match_slot;
        unit_job_cb cb;
        void *userdata;
        char job[256];
        char early_job[256], early_result[32]; /* a JobRemoved that beat the method reply */
};

static void finish(unit_job *j, int r, const char *detail) {
        j->call_slot = sd_bus_slot_unref(j->call_slot);
        j->job[0] = j->early_job[0] = 0;
        j->cb(j, r, detail, j->userdata); /* may free j */
}

/* "canceled": another job for the unit replaced this one (a start queued over a stop). */
static int job_result(const char *result) {
        return strcmp(result, "done") == 0 ? 0 : strcmp(result, "canceled") == 0 ? -ECANCELED : -EPROTO;
}

static int on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_job *j = userdata;
        const char *path = NULL, *unit = NULL, *result = NULL;
        char detail[400];
        uint32_t id;

        if (sd_bus_message_read(m, "uoss", &id, &path, &unit, &result) < 0)
                return 0;
        if (!j->job[0]) {
                (void) snprintf(j->early_job, sizeof(j->early_job), "%s", path);
                (void) snprintf(j->early_result, sizeof(j->early_result), "%s", result);
                return 0;
        }
        if (strcmp(path, j->job) != 0)
                return 0;
        (void) snprintf(detail, sizeof(detail), "%.200s: job %.100s", unit, result);
        finish(j, job_result(result), detail);
        return 0;
}

static int on_job(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_job *j = userdata;
        const sd_bus_error *e = sd_bus_message_get_error(m);
        const char *job = NULL;
        char detail[400];

        j->call_slot = sd_bus_slot_unref(j->call_slot);
        if (e) {
                (void) snprintf(detail, sizeof(detail), "systemd refused: %.300s", e->message ? e->message : e->name);
                finish(j, -sd_bus_message_get_errno(m) ?: -EIO, detail);
                return 0;
        }
        if (sd_bus_message_read(m, "o", &job) < 0) {
                finish(j, -EBADMSG, "systemd's answer does not name a job");
                return 0;
        }
        (void) snprintf(j->job, sizeof(j->job), "%s", job); /* JobRemoved for it ends the wait */
        if (strcmp(j->early_job, job) == 0) {
                (void) snprintf(detail, sizeof(detail), "job %s", j->early_result);
                finish(j, job_result(j->early_result), detail);
        }
        return 0;
}

int unit_job_new(unit_job **ret, sd_bus *bus, unit_job_cb cb, void *userdata) {
        _cleanup_(unit_job_freep) unit_job *j = calloc(1, sizeof(*j));
        int r;

        if (!j)
                return -ENOMEM;
        j->bus = bus;
        j->cb = cb;
        j->userdata = userdata;
        r = sd_bus_match_signal_async(bus, &j->match_slot, SD_DEST, SD_PATH, SD_MANAGER, "JobRemoved", on_job_removed,
                                      NULL, j);
        if (r >= 0)
                r = sd_bus_call_method_async(bus, NULL, SD_DEST, SD_PATH, SD_MANAGER, "Subscribe", NULL, NULL, "");
        if (r < 0)
                return r;
        *ret = TAKE_PTR(j);
        return 0;
}

unit_job *unit_job_free(unit_job *j) {
        if (!j)
                return NULL;
        sd_bus_slot_unref(j->call_slot);
        sd_bus_slot_unref(j->match_slot);
        free(j);
        return NULL;
}

int unit_job_run(unit_job *j, const char *method, const char *unit) {
        j->job[0] = j->early_job[0] = 0;
        return sd_bus_call_method_async(j->bus, &j->call_slot, SD_DEST, SD_PATH, SD_MANAGER, method, on_job, j, "ss", unit,
                                        "replace");
}

static int on_state(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_job *j = userdata;
        const char *state = NULL;

        j->call_slot = sd_bus_slot_unref(j->call_slot);
        if (sd_bus_message_get_error(m) || sd_bus_message_enter_container(m, 'v', "s") < 0 ||
            sd_bus_message_read(m, "s", &state) < 0)
                finish(j, -EIO, "cannot read the unit's ActiveState");
        else
                finish(j, 0, state);
        return 0;
}

static int on_unit_path(sd_bus_message *m, void *userdata, sd_bus_error *ret_error) {
        unit_job *j = userdata;
        const char *path = NULL;
        int r;

        j->call_slot = sd_bus_slot_unref(j->call_slot);
        if (sd_bus_message_get_error(m) || sd_bus_message_read(m, "o", &path) < 0) {
                finish(j, -ENOENT, "systemd does not know the unit");
                return 0;
        }
        r = sd_bus_call_method_async(j->bus, &j->call_slot, SD_DEST, path, "org.freedesktop.DBus.Properties", "Get", on_state,
                                     j, "ss", "org.freedesktop.systemd1.Unit", "ActiveState");
        if (r < 0)
                finish(j, r, "cannot ask systemd for the unit's ActiveState");
        return 0;
}

int unit_job_active_state(unit_job *j, const char *unit) {
        return sd_bus_call_method_async(j->bus, &j->call_slot, SD_DEST, SD_PATH, SD_MANAGER, "LoadUnit", on_unit_path, j,
                                        "s", unit);
}
