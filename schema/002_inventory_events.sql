-- 002: collectors, devices and points from agent inventories, and the event
-- tables the collector writes: measurements (range-partitioned by day),
-- alarm transitions, device reachability history, traps, agent status and
-- spool overflows. Every event row carries (agent, epoch, seq), unique, so a
-- resent event can never be stored twice.

-- Several collectors may share one database; each registers itself.
CREATE TABLE collectors (
    collector_id      text PRIMARY KEY,
    hostname          text NOT NULL DEFAULT '',
    software_version  text NOT NULL DEFAULT '',
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_seen         timestamptz NOT NULL DEFAULT now()
);

-- A compact number per agent for the high-volume tables, and where the agent
-- is connected now.
ALTER TABLE agents
    ADD COLUMN agent_key integer GENERATED ALWAYS AS IDENTITY UNIQUE,
    ADD COLUMN collector_id text REFERENCES collectors (collector_id) ON DELETE SET NULL,
    ADD COLUMN connected boolean NOT NULL DEFAULT false,
    ADD COLUMN peer_address text,
    ADD COLUMN current_epoch bigint;

CREATE TABLE devices (
    device_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_id          text NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,
    name              text NOT NULL,            -- '' is the agent itself
    class             text NOT NULL DEFAULT 'unspecified',
    protocol          text NOT NULL DEFAULT 'unspecified',
    address           text NOT NULL DEFAULT '',
    parent            text NOT NULL DEFAULT '',
    profile           text NOT NULL DEFAULT '',
    poll_interval_ms  integer NOT NULL DEFAULT 0,
    tags              jsonb NOT NULL DEFAULT '{}',
    in_inventory      boolean NOT NULL DEFAULT true,
    reachable         boolean,
    reachable_since   timestamptz,
    first_seen        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_id, name)
);

CREATE TABLE points (
    point_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    device_id   bigint NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    name        text NOT NULL,
    unit        text NOT NULL DEFAULT '',
    value_type  text NOT NULL DEFAULT 'unspecified',
    tabular     boolean NOT NULL DEFAULT false,
    enum_text   text[] NOT NULL DEFAULT '{}',
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (device_id, name)
);

-- Measurements: one row per value read. Daily partitions are created ahead
-- of time and dropped after the retention period by
-- fm_maintain_measurement_partitions(), which the collector calls.
CREATE TABLE measurements (
    ts              timestamptz NOT NULL,
    point_id        bigint NOT NULL,
    labels          jsonb,
    value           double precision,
    raw             double precision,
    rate            double precision,
    text_value      text,
    quality         smallint NOT NULL DEFAULT 1,
    quality_detail  text,
    agent_key       integer NOT NULL,
    epoch           bigint NOT NULL,
    seq             bigint NOT NULL,
    -- ts is part of the key because every unique key of a partitioned table
    -- must contain the partition key; an event's ts never changes on resend.
    PRIMARY KEY (agent_key, epoch, seq, ts)
) PARTITION BY RANGE (ts);
CREATE INDEX measurements_point_ts ON measurements (point_id, ts);

-- Measurement quality codes (the wire's Quality enum).
CREATE TABLE quality_codes (
    quality  smallint PRIMARY KEY,
    name     text NOT NULL
);
INSERT INTO quality_codes VALUES
    (0, 'unspecified'), (1, 'good'), (2, 'no_such_object'), (3, 'no_such_instance'),
    (4, 'end_of_mib_view'), (5, 'device_error'), (6, 'timeout'), (7, 'decode_error'),
    (8, 'stale'), (9, 'out_of_range'), (10, 'comm_loss');

-- Creates the daily partition holding day (UTC) if missing. Returns its name.
-- Writers of several collectors may ask for one day at once: a transaction
-- lock on the name serialises them, and a creation lost to a race anyway
-- counts as done.
CREATE FUNCTION fm_measurement_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    part text := 'measurements_' || to_char(day, 'YYYYMMDD');
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext(part));
        BEGIN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF measurements'
                           ' FOR VALUES FROM (%L) TO (%L)', part,
                           (day::timestamp AT TIME ZONE 'UTC'),
                           ((day + 1)::timestamp AT TIME ZONE 'UTC'));
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
        END;
    END IF;
    RETURN part;
END $$;

-- Creates partitions from today - 1 to today + ahead_days and drops those
-- wholly older than retention_days. Returns the number dropped.
CREATE FUNCTION fm_maintain_measurement_partitions(ahead_days integer, retention_days integer)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    r record;
    dropped integer := 0;
BEGIN
    FOR i IN -1..ahead_days LOOP
        PERFORM fm_measurement_partition(today + i);
    END LOOP;
    FOR r IN SELECT c.relname FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname = 'measurements' AND c.relname ~ '^measurements_[0-9]{8}$'
    LOOP
        IF to_date(substr(r.relname, 14), 'YYYYMMDD') + 1 <= today - retention_days THEN
            EXECUTE format('DROP TABLE %I', r.relname);
            dropped := dropped + 1;
        END IF;
    END LOOP;
    RETURN dropped;
END $$;

-- Alarm transitions as the agent judged them. Grading and tickets refer to
-- these rows by alarm_event_id.
CREATE TABLE alarm_events (
    alarm_event_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts              timestamptz NOT NULL,
    device_id       bigint NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    code            text NOT NULL,
    point           text NOT NULL DEFAULT '',
    labels          jsonb,
    state           text NOT NULL CHECK (state IN ('raised', 'cleared', 'unspecified')),
    level           text NOT NULL,
    value           double precision,
    raw             double precision,
    limit_value     double precision,
    message         text NOT NULL DEFAULT '',
    since           timestamptz,
    agent_key       integer NOT NULL,
    epoch           bigint NOT NULL,
    seq             bigint NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_key, epoch, seq)
);
CREATE INDEX alarm_events_device_ts ON alarm_events (device_id, ts);
CREATE INDEX alarm_events_ts ON alarm_events (ts);

-- Reachability changes of devices (and the agent's view of them).
CREATE TABLE device_status (
    ts                    timestamptz NOT NULL,
    device_id             bigint NOT NULL REFERENCES devices (device_id) ON DELETE CASCADE,
    reachable             boolean NOT NULL,
    reason                text NOT NULL DEFAULT '',
    consecutive_failures  integer NOT NULL DEFAULT 0,
    agent_key             integer NOT NULL,
    epoch                 bigint NOT NULL,
    seq                   bigint NOT NULL,
    received_at           timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_key, epoch, seq)
);
CREATE INDEX device_status_device_ts ON device_status (device_id, ts);

CREATE TABLE traps (
    trap_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts            timestamptz NOT NULL,
    device_id     bigint REFERENCES devices (device_id) ON DELETE CASCADE,
    trap_oid      text NOT NULL,
    source        text NOT NULL DEFAULT '',
    snmp_version  smallint NOT NULL DEFAULT 0,
    inform        boolean NOT NULL DEFAULT false,
    varbinds      jsonb NOT NULL DEFAULT '[]',
    alarm_code    text NOT NULL DEFAULT '',
    alarm_state   text NOT NULL DEFAULT 'unspecified',
    agent_key     integer NOT NULL,
    epoch         bigint NOT NULL,
    seq           bigint NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    UNIQUE (agent_key, epoch, seq)
);
CREATE INDEX traps_ts ON traps (ts);

-- The agent's own health, as it reports it.
CREATE TABLE agent_status (
    ts              timestamptz NOT NULL,
    agent_key       integer NOT NULL,
    spool_bytes     bigint NOT NULL DEFAULT 0,
    spool_events    bigint NOT NULL DEFAULT 0,
    spool_cap_bytes bigint NOT NULL DEFAULT 0,
    events_per_s    double precision NOT NULL DEFAULT 0,
    polls_ok        bigint NOT NULL DEFAULT 0,
    polls_failed    bigint NOT NULL DEFAULT 0,
    reconnects      bigint NOT NULL DEFAULT 0,
    rss_bytes       bigint NOT NULL DEFAULT 0,
    dropped_events  bigint NOT NULL DEFAULT 0,
    traps_dropped   bigint NOT NULL DEFAULT 0,
    epoch           bigint NOT NULL,
    seq             bigint NOT NULL,
    UNIQUE (agent_key, epoch, seq)
);
CREATE INDEX agent_status_agent_ts ON agent_status (agent_key, ts);

-- Measurements an agent dropped because its spool was full.
CREATE TABLE spool_overflows (
    ts         timestamptz NOT NULL,
    agent_key  integer NOT NULL,
    dropped    bigint NOT NULL,
    first_seq  bigint NOT NULL,
    last_seq   bigint NOT NULL,
    epoch      bigint NOT NULL,
    seq        bigint NOT NULL,
    UNIQUE (agent_key, epoch, seq)
);
