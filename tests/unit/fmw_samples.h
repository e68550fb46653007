/* Sample envelopes for the fmwire unit tests and the fuzz seed generator:
 * one valid envelope of every body, built on the stack. */
#ifndef FMW_SAMPLES_H
#define FMW_SAMPLES_H

#include "fmwire.h"

#include <stdlib.h>
#include <string.h>

#define NOW_MS 1763800000000LL /* 2025-11-22 */

/* ------------------------------------------------------------ sample envelopes */

/* Each builder fills a stack envelope whose sub-messages live in `s`. */
struct sample {
    Fm__Envelope env;
    Fm__Hello hello;
    Fm__HelloAck hello_ack;
    Fm__Inventory inv;
    Fm__Device dev;
    Fm__Device *devp[1];
    Fm__Point pt;
    Fm__Point *ptp[1];
    Fm__Tag tag;
    Fm__Tag *tagp[1];
    Fm__EventBatch batch;
    Fm__Event ev[6];
    Fm__Event *evp[6];
    Fm__Measurement meas;
    Fm__Label label;
    Fm__Label *labelp[1];
    Fm__AlarmTransition alarm;
    Fm__Reachability reach;
    Fm__Trap trap;
    Fm__Varbind vb;
    Fm__Varbind *vbp[1];
    Fm__AgentStatus status;
    Fm__SpoolOverflow overflow;
    Fm__Ack ack;
    Fm__Command cmd;
    Fm__SetCalibration cal;
    Fm__CommandResult res;
    Fm__Heartbeat hb;
    Fm__Goodbye bye;
    uint8_t digest[FMW_DIGEST_LEN];
};

static inline void sample_hello(struct sample *s)
{
    fm__envelope__init(&s->env);
    fm__hello__init(&s->hello);
    fm__inventory__init(&s->inv);
    fm__device__init(&s->dev);
    fm__point__init(&s->pt);
    fm__tag__init(&s->tag);
    s->pt.name = "upsOutputSource";
    s->pt.unit = "";
    s->pt.type = FM__VALUE_TYPE__VALUE_TYPE_ENUM;
    s->ptp[0] = &s->pt;
    s->tag.key = "critical";
    s->tag.value = "true";
    s->tagp[0] = &s->tag;
    s->dev.name = "ups-1";
    s->dev.class_ = FM__DEVICE_CLASS__DEVICE_CLASS_UPS;
    s->dev.protocol = FM__PROTOCOL__PROTOCOL_SNMP;
    s->dev.address = "127.0.0.1:16100";
    s->dev.n_tags = 1;
    s->dev.tags = s->tagp;
    s->dev.n_points = 1;
    s->dev.points = s->ptp;
    s->dev.poll_interval_ms = 10000;
    s->devp[0] = &s->dev;
    s->inv.n_devices = 1;
    s->inv.devices = s->devp;
    memset(s->digest, 0xab, sizeof(s->digest));
    s->hello.agent_id = "agent-site-a";
    s->hello.site_id = "site-a";
    s->hello.site_name = "Site A machine room";
    s->hello.epoch = 42;
    s->hello.software_version = "0.1.0";
    s->hello.config_digest.data = s->digest;
    s->hello.config_digest.len = sizeof(s->digest);
    s->hello.inventory = &s->inv;
    s->hello.max_frame = FMW_MAX_FRAME_DEFAULT;
    s->hello.sent_at_ms = NOW_MS;
    s->env.body_case = FM__ENVELOPE__BODY_HELLO;
    s->env.hello = &s->hello;
}

/* A batch holding one event of every kind. */
static inline void sample_batch(struct sample *s)
{
    fm__envelope__init(&s->env);
    fm__event_batch__init(&s->batch);
    for (int i = 0; i < 6; i++) {
        fm__event__init(&s->ev[i]);
        s->ev[i].seq = 100 + (uint64_t)i;
        s->ev[i].ts_ms = NOW_MS - 1000 + i;
        s->ev[i].device = "ups-1";
        s->evp[i] = &s->ev[i];
    }
    fm__measurement__init(&s->meas);
    fm__label__init(&s->label);
    s->label.key = "line";
    s->label.value = "1";
    s->labelp[0] = &s->label;
    s->meas.point = "upsInputVoltage";
    s->meas.n_labels = 1;
    s->meas.labels = s->labelp;
    s->meas.value = 229.5;
    s->meas.raw = 2295;
    s->meas.has_value = 1;
    s->meas.quality = FM__QUALITY__QUALITY_GOOD;
    s->meas.unit = "V";
    s->ev[0].kind_case = FM__EVENT__KIND_MEASUREMENT;
    s->ev[0].measurement = &s->meas;

    fm__alarm_transition__init(&s->alarm);
    s->alarm.code = "ups_on_battery";
    s->alarm.point = "upsOutputSource";
    s->alarm.state = FM__ALARM_STATE__ALARM_STATE_RAISED;
    s->alarm.level = FM__ALARM_LEVEL__ALARM_LEVEL_STATE;
    s->alarm.value = 5;
    s->alarm.raw = 5;
    s->alarm.since_ms = NOW_MS - 5000;
    s->ev[1].kind_case = FM__EVENT__KIND_ALARM;
    s->ev[1].alarm = &s->alarm;

    fm__reachability__init(&s->reach);
    s->reach.reachable = 0;
    s->reach.reason = "timeout after 2 tries";
    s->reach.consecutive_failures = 3;
    s->ev[2].kind_case = FM__EVENT__KIND_REACHABILITY;
    s->ev[2].reachability = &s->reach;

    fm__trap__init(&s->trap);
    fm__varbind__init(&s->vb);
    s->vb.oid = "1.3.6.1.2.1.33.1.2.2.0";
    s->vb.type = "INTEGER";
    s->vb.value = "180";
    s->vbp[0] = &s->vb;
    s->trap.trap_oid = "1.3.6.1.2.1.33.2.1";
    s->trap.source = "127.0.0.1:40000";
    s->trap.snmp_version = 2;
    s->trap.inform = 1;
    s->trap.n_varbinds = 1;
    s->trap.varbinds = s->vbp;
    s->trap.alarm_code = "ups_on_battery";
    s->ev[3].kind_case = FM__EVENT__KIND_TRAP;
    s->ev[3].trap = &s->trap;

    fm__agent_status__init(&s->status);
    s->status.spool_bytes = 4096;
    s->status.polls_ok = 77;
    s->ev[4].kind_case = FM__EVENT__KIND_STATUS;
    s->ev[4].status = &s->status;
    s->ev[4].device = "";

    fm__spool_overflow__init(&s->overflow);
    s->overflow.dropped = 10;
    s->overflow.first_seq = 1;
    s->overflow.last_seq = 10;
    s->ev[5].kind_case = FM__EVENT__KIND_OVERFLOW;
    s->ev[5].overflow = &s->overflow;

    s->batch.epoch = 42;
    s->batch.n_events = 6;
    s->batch.events = s->evp;
    s->env.body_case = FM__ENVELOPE__BODY_BATCH;
    s->env.batch = &s->batch;
}

static inline void sample_other(struct sample *s, Fm__Envelope__BodyCase which)
{
    fm__envelope__init(&s->env);
    s->env.body_case = which;
    switch (which) {
    case FM__ENVELOPE__BODY_HELLO_ACK:
        fm__hello_ack__init(&s->hello_ack);
        s->hello_ack.epoch = 42;
        s->hello_ack.last_committed_seq = 99;
        s->hello_ack.max_frame = FMW_MAX_FRAME_DEFAULT;
        s->hello_ack.heartbeat_s = 10;
        s->hello_ack.collector_id = "collector-1";
        s->env.hello_ack = &s->hello_ack;
        break;
    case FM__ENVELOPE__BODY_ACK:
        fm__ack__init(&s->ack);
        s->ack.epoch = 42;
        s->ack.committed_seq = 105;
        s->env.ack = &s->ack;
        break;
    case FM__ENVELOPE__BODY_COMMAND:
        fm__command__init(&s->cmd);
        fm__set_calibration__init(&s->cal);
        s->cal.device = "th-1";
        s->cal.point = "temperature";
        s->cal.offset = -0.4;
        s->cal.gain = 1.0;
        s->cal.reason = "biannual calibration";
        s->cmd.id = 7;
        s->cmd.actor = "tech@example";
        s->cmd.kind_case = FM__COMMAND__KIND_SET_CALIBRATION;
        s->cmd.set_calibration = &s->cal;
        s->env.command = &s->cmd;
        break;
    case FM__ENVELOPE__BODY_COMMAND_RESULT:
        fm__command_result__init(&s->res);
        s->res.id = 7;
        s->res.ok = 0;
        s->res.error = "no such point";
        s->env.command_result = &s->res;
        break;
    case FM__ENVELOPE__BODY_HEARTBEAT:
        fm__heartbeat__init(&s->hb);
        s->hb.sent_at_ms = NOW_MS;
        s->env.heartbeat = &s->hb;
        break;
    case FM__ENVELOPE__BODY_GOODBYE:
        fm__goodbye__init(&s->bye);
        s->bye.reason = FM__GOODBYE__REASON__REASON_SHUTDOWN;
        s->bye.detail = "SIGTERM";
        s->env.goodbye = &s->bye;
        break;
    default:
        abort();
    }
}

static inline void sample_any(struct sample *s, Fm__Envelope__BodyCase which)
{
    if (which == FM__ENVELOPE__BODY_HELLO)
        sample_hello(s);
    else if (which == FM__ENVELOPE__BODY_BATCH)
        sample_batch(s);
    else
        sample_other(s, which);
}

#endif
