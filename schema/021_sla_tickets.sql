-- 021: contract clocks on the tickets themselves. The SLA scheduler in the
-- collector writes each open ticket's deadlines here when it opens and
-- whenever they move (grade change, pause); fieldmonctl reads them.
-- remote_started_at is when remote technical support began (the event the
-- `remote` clock waits for), set by `fieldmonctl remote`.

ALTER TABLE tickets
    ADD COLUMN sla_contract       text,
    ADD COLUMN response_due       timestamptz,
    ADD COLUMN remote_due         timestamptz,
    ADD COLUMN onsite_due         timestamptz,
    ADD COLUMN resolution_due     timestamptz,
    ADD COLUMN sla_updated_at     timestamptz,
    ADD COLUMN remote_started_at  timestamptz;

-- A span of time for people: "2d 4h", "3h 05m", "12m".
CREATE FUNCTION fm_sla_span(i interval) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN s >= 86400 THEN (s / 86400) || 'd ' || (s % 86400 / 3600) || 'h'
                WHEN s >= 3600 THEN (s / 3600) || 'h ' || lpad((s % 3600 / 60)::text, 2, '0') || 'm'
                ELSE (s / 60) || 'm' END
    FROM (SELECT greatest(extract(epoch FROM i)::bigint, 0) AS s) x
$$;

-- The state of one clock at time t: '-' (the grade has no such clock),
-- 'paused', 'met', 'breached' (met late), 'left 3h 05m', 'overdue 12m'.
CREATE FUNCTION fm_sla_state(due timestamptz, met timestamptz, paused boolean, t timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN met IS NOT NULL AND due IS NOT NULL
                    THEN CASE WHEN met <= due THEN 'met' ELSE 'breached' END
                WHEN due IS NULL AND paused THEN 'paused'
                WHEN due IS NULL THEN '-'
                WHEN met IS NOT NULL THEN 'met'
                WHEN t <= due THEN 'left ' || fm_sla_span(due - t)
                ELSE 'overdue ' || fm_sla_span(t - due) END
$$;
