-- 022: the current state of every alarm of every device, one row per
-- (device, code), kept by triggers on the three tables that carry alarm
-- transitions: alarm_events, traps the agent mapped to an alarm code, and
-- device_status (reachability, as the code 'unreachable'). The collector
-- reads it to rebuild a site's correlation state after a restart or a
-- failover (collector/faults/site_load.c) without scanning the site's whole
-- alarm history. A transition older than the one recorded (an event resent
-- late) does not move it back.

CREATE TABLE alarm_current (
    device_id       bigint NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    code            text NOT NULL,
    raised          boolean NOT NULL,
    point           text NOT NULL DEFAULT '',
    since           timestamptz NOT NULL,   -- time of the last transition
    alarm_event_id  bigint,                 -- its alarm_events row, when it has one
    PRIMARY KEY (device_id, code)
);
CREATE INDEX alarm_current_raised ON alarm_current (device_id) WHERE raised;

CREATE FUNCTION fm_alarm_current_set(p_device bigint, p_code text, p_raised boolean,
                                     p_point text, p_ts timestamptz, p_event bigint)
RETURNS void LANGUAGE sql AS $$
    INSERT INTO alarm_current AS c (device_id, code, raised, point, since, alarm_event_id)
    VALUES (p_device, p_code, p_raised, coalesce(p_point, ''), p_ts, p_event)
    ON CONFLICT (device_id, code) DO UPDATE
        SET raised = EXCLUDED.raised, point = EXCLUDED.point, since = EXCLUDED.since,
            alarm_event_id = EXCLUDED.alarm_event_id
        WHERE c.since <= EXCLUDED.since
$$;

CREATE FUNCTION fm_alarm_current_from_event() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.state IN ('raised', 'cleared') THEN
        PERFORM fm_alarm_current_set(NEW.device_id, NEW.code, NEW.state = 'raised', NEW.point,
                                     NEW.ts, NEW.alarm_event_id);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION fm_alarm_current_from_trap() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.device_id IS NOT NULL AND NEW.alarm_code <> ''
       AND NEW.alarm_state IN ('raised', 'cleared') THEN
        PERFORM fm_alarm_current_set(NEW.device_id, NEW.alarm_code, NEW.alarm_state = 'raised',
                                     '', NEW.ts, NULL);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION fm_alarm_current_from_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM fm_alarm_current_set(NEW.device_id, 'unreachable', NOT NEW.reachable, '', NEW.ts,
                                 NULL);
    RETURN NULL;
END $$;

CREATE TRIGGER alarm_events_current AFTER INSERT ON alarm_events
    FOR EACH ROW EXECUTE FUNCTION fm_alarm_current_from_event();
CREATE TRIGGER traps_current AFTER INSERT ON traps
    FOR EACH ROW EXECUTE FUNCTION fm_alarm_current_from_trap();
CREATE TRIGGER device_status_current AFTER INSERT ON device_status
    FOR EACH ROW EXECUTE FUNCTION fm_alarm_current_from_status();

-- What the tables already hold: the last transition of each alarm.
INSERT INTO alarm_current (device_id, code, raised, point, since, alarm_event_id)
SELECT DISTINCT ON (device_id, code) device_id, code, raised, point, ts, id FROM (
    SELECT device_id, code, state = 'raised' AS raised, point, ts, alarm_event_id AS id,
           epoch, seq
      FROM alarm_events WHERE state IN ('raised', 'cleared')
    UNION ALL
    SELECT device_id, alarm_code, alarm_state = 'raised', '', ts, NULL, epoch, seq
      FROM traps WHERE device_id IS NOT NULL AND alarm_code <> ''
       AND alarm_state IN ('raised', 'cleared')
    UNION ALL
    SELECT device_id, 'unreachable', NOT reachable, '', ts, NULL, epoch, seq FROM device_status
) t
ORDER BY device_id, code, ts DESC, epoch DESC, seq DESC;
