/* The MESSAGE_IDs of ikeheald's main journal records, for `journalctl MESSAGE_ID=…` (sd-id128,
 * written as log_fields() fields). An id names one kind of event for good: a record whose
 * meaning changes gets a new one. Listed with their other fields in ikeheald(8), JOURNAL FIELDS. */
#pragma once

#define LOG_MID(id) "MESSAGE_ID=" id

#define LOG_MID_STARTED LOG_MID("e5d8c3c6cd1541089717436de76bcc0b")          /* the agent is up */
#define LOG_MID_RELOADED LOG_MID("b5e679adac4444b3967b0bbfffc4816e")         /* a configuration taken */
#define LOG_MID_RELOAD_REFUSED LOG_MID("b99f83fbd9c44218879d9f95092a3ced")   /* one refused, the old kept */
#define LOG_MID_CHECK_STATUS LOG_MID("b5c3bd67b23e48079a51d2d310772039")     /* a check's reported status changed */
#define LOG_MID_INCIDENT_OPENED LOG_MID("42a42dd7a8a84891ab178502010d6795")
#define LOG_MID_INCIDENT_UPDATED LOG_MID("bebf4979622f4bfd842cb6acdd68970b")
#define LOG_MID_INCIDENT_STATE LOG_MID("43b1db4fb2bb4fbd8967e5592df053b0")   /* resolved, escalated, … */
#define LOG_MID_RUN_STEP LOG_MID("0de501bd301c49e59e065e0253d13005")         /* a runbook step starts */
#define LOG_MID_RUN_SUCCEEDED LOG_MID("b86566984f8b4ed398f2308eb8df908b")    /* or done, for observe */
#define LOG_MID_RUN_ROLLBACK LOG_MID("2c6c0e2fa62349f383b80b513e16ea9f")     /* a run failed: rolling back */
#define LOG_MID_AUDIT LOG_MID("a00b5892b3754065a33f3509a12e1e3f")            /* an audit record, mirrored */
