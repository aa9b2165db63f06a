/* The daemon check's systemd unit: LoadUnit, then the Unit and Service properties (ActiveState,
 * SubState, Result, MainPID, NRestarts, ExecMainCode/Status) over the system bus,
 * asynchronously. Read at the check's interval and whenever systemd pushes a
 * PropertiesChanged for the unit; the heartbeat's runs in between use what was read. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "agent/checks/daemon_state.h"

#define SD_DEST "org.freedesktop.systemd1"

static int on_properties_changed(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;
        s->props_dirty = true;
        (void) check_trigger(s->check); /* the run reads everything afresh */
        return 0;
}

bool daemon_props_stale(const daemon_state *s) {
        const check_schedule *sc = s->check ? check_get_schedule(s->check) : NULL;
        uint64_t iv = sc && sc->interval_usec ? sc->interval_usec : 30 * USEC_PER_SEC;

        return !s->props_read_usec || s->props_dirty || !s->match_slot ||
               s->match_generation != sysbus_generation(s->env->bus) || mono_usec() - s->props_read_usec >= iv;
}

static int read_props(sd_bus_message *m, daemon_unit_props *p) {
        int r = sd_bus_message_enter_container(m, 'a', "{sv}");
        if (r < 0)
                return r;
        while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
                const char *name, *v;
                if ((r = sd_bus_message_read(m, "s", &name)) < 0)
                        return r;
                if (strcmp(name, "ActiveState") == 0 || strcmp(name, "SubState") == 0 ||
                    strcmp(name, "Result") == 0 || strcmp(name, "LoadState") == 0) {
                        if ((r = sd_bus_message_read(m, "v", "s", &v)) < 0)
                                return r;
                        char *dst = name[0] == 'A' ? p->active : name[0] == 'S' ? p->sub
                                                : name[0] == 'L'          ? p->load
                                                                          : p->result;
                        snprintf(dst, 32, "%s", v);
                } else if (strcmp(name, "MainPID") == 0 || strcmp(name, "NRestarts") == 0) {
                        uint32_t u;
                        if ((r = sd_bus_message_read(m, "v", "u", &u)) < 0)
                                return r;
                        if (name[0] == 'M')
                                p->main_pid = u;
                        else
                                p->n_restarts = u;
                } else if (strcmp(name, "ExecMainCode") == 0 || strcmp(name, "ExecMainStatus") == 0) {
                        int32_t i;
                        if ((r = sd_bus_message_read(m, "v", "i", &i)) < 0)
                                return r;
                        if (strcmp(name, "ExecMainCode") == 0)
                                p->exec_code = i;
                        else
                                p->exec_status = i;
                } else if ((r = sd_bus_message_skip(m, "v")) < 0)
                        return r;
                if ((r = sd_bus_message_exit_container(m)) < 0)
                        return r;
        }
        if (r < 0)
                return r;
        return sd_bus_message_exit_container(m);
}

static void props_read(daemon_state *s) {
        s->props_read_usec = mono_usec();
        s->props_dirty = false;
}

static int on_service_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if (!sd_bus_message_is_method_error(m, NULL) && read_props(m, &s->props) >= 0) {
                s->props.known = true;
                props_read(s);
                daemon_unit_restarts_track(s);
        } else if (s->pending)
                (void) finding_evidence(s->pending, "cannot read unit %s: %s", daemon_unit_name(s),
                                        sd_bus_message_get_error(m) ? sd_bus_message_get_error(m)->message : "bad reply");
        s->props_done(s);
        return 0;
}

static int on_unit_props(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;
        int r;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if (sd_bus_message_is_method_error(m, NULL) || read_props(m, &s->props) < 0 ||
            strcmp(s->props.load, "loaded") != 0) {
                /* no such unit here (charon runs some other way): VICI and the pid decide */
                if (s->pending && s->props.load[0])
                        (void) finding_fact_set(s->pending, "unit_load_state", "%s", s->props.load);
                s->props.known = false;
                s->props.main_pid = 0;
                props_read(s);
                s->props_done(s);
                return 0;
        }
        /* then the Service interface: MainPID, NRestarts, ExecMain* */
        r = sd_bus_call_method_async(sysbus_get(s->env->bus), &s->call_slot, SD_DEST, s->props.path,
                                     "org.freedesktop.DBus.Properties", "GetAll", on_service_props, s, "s",
                                     "org.freedesktop.systemd1.Service");
        if (r < 0)
                s->props_done(s);
        return 0;
}

static int on_load_unit(sd_bus_message *m, void *userdata, sd_bus_error *e) {
        daemon_state *s = userdata;
        const char *path;
        int r;

        s->call_slot = sd_bus_slot_unref(s->call_slot);
        if (sd_bus_message_is_method_error(m, NULL) || sd_bus_message_read(m, "o", &path) < 0) {
                if (s->pending)
                        (void) finding_evidence(s->pending, "systemd does not know unit %s", daemon_unit_name(s));
                s->props_done(s);
                return 0;
        }
        if (strcmp(path, s->props.path) != 0 || !s->match_slot ||
            s->match_generation != sysbus_generation(s->env->bus)) {
                snprintf(s->props.path, sizeof(s->props.path), "%s", path);
                s->match_slot = sd_bus_slot_unref(s->match_slot);
                s->match_generation = sysbus_generation(s->env->bus); /* a new connection: a new match */
                /* push: every change of the unit's properties runs the check */
                (void) sd_bus_match_signal_async(sysbus_get(s->env->bus), &s->match_slot, SD_DEST, path,
                                                 "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                                 on_properties_changed, NULL, s);
        }
        r = sd_bus_call_method_async(sysbus_get(s->env->bus), &s->call_slot, SD_DEST, path, "org.freedesktop.DBus.Properties",
                                     "GetAll", on_unit_props, s, "s", "org.freedesktop.systemd1.Unit");
        if (r < 0)
                s->props_done(s);
        return 0;
}

int daemon_props_refresh(daemon_state *s) {
        return sd_bus_call_method_async(sysbus_get(s->env->bus), &s->call_slot, SD_DEST, "/org/freedesktop/systemd1",
                                        "org.freedesktop.systemd1.Manager", "LoadUnit", on_load_unit, s, "s",
                                        daemon_unit_name(s));
}

void daemon_props_cancel(daemon_state *s) {
        s->call_slot = sd_bus_slot_unref(s->call_slot);
        s->props_busy = false;
}

void daemon_props_done_unit(daemon_state *s) {
        daemon_props_cancel(s);
        s->match_slot = sd_bus_slot_unref(s->match_slot);
}
