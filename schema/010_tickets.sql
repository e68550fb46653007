-- 010: maintenance records (tickets) and what hangs off them: attached
-- devices, linked alarm transitions, grade history, the audit trail, and
-- maintenance windows with the alarms they suppressed.
--
-- One open ticket per fault: the partial unique index on dedupe_key admits
-- one row per key that is not resolved or closed, so collectors sharing this
-- database can never open two tickets for one fault; fm_ticket_open() joins,
-- reopens or inserts atomically on top of it.

CREATE TABLE tickets (
    ticket_id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedupe_key          text NOT NULL,
    kind                text NOT NULL
                        CHECK (kind IN ('device', 'root', 'site', 'system', 'group', 'manual')),
    grade               smallint NOT NULL CHECK (grade BETWEEN 1 AND 4),
    site_id             text,
    device              text,
    code                text,
    title               text NOT NULL,
    rule                text,
    state               text NOT NULL DEFAULT 'open'
                        CHECK (state IN ('open', 'acknowledged', 'dispatched', 'on_site',
                                         'resolved', 'closed')),
    flapping            boolean NOT NULL DEFAULT false,
    first_seen          timestamptz NOT NULL,
    last_seen           timestamptz NOT NULL,
    cleared_at          timestamptz,
    occurrences         integer NOT NULL DEFAULT 1 CHECK (occurrences >= 1),
    reopen_count        integer NOT NULL DEFAULT 0,
    opened_at           timestamptz NOT NULL DEFAULT now(),
    opened_by           text NOT NULL,
    acknowledged_at     timestamptz,
    acknowledged_by     text,
    dispatched_at       timestamptz,
    dispatched_by       text,
    dispatched_to       text,
    on_site_at          timestamptz,
    on_site_by          text,
    resolved_at         timestamptz,
    resolved_by         text,
    cause               text,
    action_taken        text,
    prevention          text,
    closed_at           timestamptz,
    closed_by           text,
    customer_confirmed  boolean,
    confirmed_by        text,
    satisfaction        smallint CHECK (satisfaction BETWEEN 1 AND 5),
    updated_at          timestamptz NOT NULL DEFAULT now(),
    CHECK (state <> 'closed' OR (satisfaction IS NOT NULL AND resolved_at IS NOT NULL)),
    CHECK (state NOT IN ('resolved', 'closed') OR (cause IS NOT NULL AND action_taken IS NOT NULL))
);
CREATE UNIQUE INDEX tickets_one_open_per_fault ON tickets (dedupe_key)
    WHERE state NOT IN ('resolved', 'closed');
CREATE INDEX tickets_key ON tickets (dedupe_key, ticket_id);
CREATE INDEX tickets_state_grade ON tickets (state, grade);
CREATE INDEX tickets_site ON tickets (site_id, opened_at);

-- Devices (and child faults) attached to a ticket: the devices of a dead
-- site, the cameras behind a dead switch, the faults of a grade-4 group.
CREATE TABLE ticket_devices (
    ticket_id    bigint NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    site_id      text NOT NULL,
    device       text NOT NULL,        -- '' when the child is a whole site
    child_key    text,                 -- dedupe key of the child fault, if any
    attached_at  timestamptz NOT NULL,
    detached_at  timestamptz,          -- the child surfaced on its own
    PRIMARY KEY (ticket_id, site_id, device)
);

-- Every alarm transition recorded on a ticket. alarm_event_id refers to the
-- collector's alarm_events row when the transition came from one.
CREATE TABLE ticket_alarms (
    ticket_alarm_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ticket_id        bigint NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    ts               timestamptz NOT NULL,
    site_id          text NOT NULL,
    device           text NOT NULL,
    code             text NOT NULL,
    state            text NOT NULL CHECK (state IN ('raised', 'cleared')),
    alarm_event_id   bigint,
    recorded_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_alarms_ticket ON ticket_alarms (ticket_id, ts);

-- Grade history: the first grade (old_grade NULL) and every change.
CREATE TABLE ticket_grades (
    ticket_id   bigint NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    ts          timestamptz NOT NULL,
    old_grade   smallint,
    new_grade   smallint NOT NULL CHECK (new_grade BETWEEN 1 AND 4),
    rule        text,
    actor       text NOT NULL
);
CREATE INDEX ticket_grades_ticket ON ticket_grades (ticket_id, ts);

-- Audit trail: every change to a ticket or a maintenance window, by whom.
CREATE TABLE ticket_audit (
    audit_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    ts          timestamptz NOT NULL DEFAULT now(),
    actor       text NOT NULL,
    ticket_id   bigint REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    window_id   bigint,
    action      text NOT NULL,
    detail      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX ticket_audit_ticket ON ticket_audit (ticket_id, ts);

-- Planned work: alarms of the devices and time a window covers are recorded
-- (suppressed_alarms) but open no ticket.
CREATE TABLE maintenance_windows (
    window_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    site_id       text,                -- NULL: every site
    device_glob   text,                -- NULL: the whole site, including the site itself
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL,
    reason        text NOT NULL,
    created_by    text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    cancelled_at  timestamptz,
    cancelled_by  text,
    CHECK (ends_at > starts_at)
);
CREATE INDEX maintenance_windows_ends ON maintenance_windows (ends_at);

CREATE TABLE suppressed_alarms (
    suppressed_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    window_id       bigint REFERENCES maintenance_windows (window_id) ON DELETE SET NULL,
    ts              timestamptz NOT NULL,
    site_id         text NOT NULL,
    device          text NOT NULL,
    code            text NOT NULL,
    state           text NOT NULL CHECK (state IN ('raised', 'cleared')),
    alarm_event_id  bigint,
    recorded_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX suppressed_alarms_ts ON suppressed_alarms (ts);

-- Raises ticket p_id to grade p_grade if that is more severe, recording
-- the change in ticket_grades and ticket_audit. Returns whether it rose.
CREATE FUNCTION fm_ticket_raise_grade(p_id bigint, p_grade smallint, p_rule text,
                                      p_ts timestamptz, p_actor text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    old smallint;
BEGIN
    SELECT grade INTO old FROM tickets WHERE ticket_id = p_id FOR UPDATE;
    IF old IS NULL OR p_grade >= old THEN
        RETURN false;
    END IF;
    UPDATE tickets SET grade = p_grade, rule = p_rule, updated_at = now()
        WHERE ticket_id = p_id;
    INSERT INTO ticket_grades VALUES (p_id, p_ts, old, p_grade, p_rule, p_actor);
    INSERT INTO ticket_audit (actor, ticket_id, action, detail)
        VALUES (p_actor, p_id, 'grade',
                jsonb_build_object('from', old, 'to', p_grade, 'rule', p_rule));
    RETURN true;
END $$;

-- Opens the ticket of a fault, or joins the open one, or reopens the one
-- resolved within reopen_within. Returns the ticket and what happened
-- ('opened', 'joined', 'reopened'). Safe against concurrent callers: the
-- unique index decides who inserts; the loser joins.
CREATE FUNCTION fm_ticket_open(p_key text, p_kind text, p_grade smallint, p_site text,
                               p_device text, p_code text, p_title text, p_rule text,
                               p_flapping boolean, p_ts timestamptz, p_actor text,
                               p_reopen_within interval,
                               OUT ticket_id bigint, OUT outcome text)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
BEGIN
    FOR attempt IN 1..5 LOOP
        -- Join the open ticket.
        UPDATE tickets t SET occurrences = t.occurrences + 1,
                             last_seen = GREATEST(t.last_seen, p_ts), cleared_at = NULL,
                             flapping = t.flapping OR p_flapping, updated_at = now()
            WHERE t.dedupe_key = p_key AND t.state NOT IN ('resolved', 'closed')
            RETURNING t.ticket_id INTO ticket_id;
        IF FOUND THEN
            outcome := 'joined';
            PERFORM fm_ticket_raise_grade(ticket_id, p_grade, p_rule, p_ts, p_actor);
            RETURN;
        END IF;
        -- Reopen the one resolved recently.
        UPDATE tickets t SET state = 'open', reopen_count = t.reopen_count + 1,
                             occurrences = t.occurrences + 1, last_seen = p_ts,
                             cleared_at = NULL, flapping = t.flapping OR p_flapping,
                             updated_at = now()
            WHERE t.ticket_id = (SELECT r.ticket_id FROM tickets r
                                 WHERE r.dedupe_key = p_key AND r.state = 'resolved'
                                   AND r.resolved_at >= p_ts - p_reopen_within
                                 ORDER BY r.ticket_id DESC LIMIT 1)
              AND t.state = 'resolved'
            RETURNING t.ticket_id INTO ticket_id;
        IF FOUND THEN
            outcome := 'reopened';
            INSERT INTO ticket_audit (actor, ticket_id, action, detail)
                VALUES (p_actor, fm_ticket_open.ticket_id, 'reopen',
                        jsonb_build_object('reason', 'fault recurred', 'at', p_ts));
            PERFORM fm_ticket_raise_grade(ticket_id, p_grade, p_rule, p_ts, p_actor);
            RETURN;
        END IF;
        -- A new ticket.
        INSERT INTO tickets (dedupe_key, kind, grade, site_id, device, code, title, rule,
                             flapping, first_seen, last_seen, opened_by)
            VALUES (p_key, p_kind, p_grade, p_site, p_device, p_code, p_title, p_rule,
                    p_flapping, p_ts, p_ts, p_actor)
            ON CONFLICT (dedupe_key) WHERE state NOT IN ('resolved', 'closed') DO NOTHING
            RETURNING tickets.ticket_id INTO ticket_id;
        IF FOUND THEN
            outcome := 'opened';
            INSERT INTO ticket_grades VALUES (fm_ticket_open.ticket_id, p_ts, NULL, p_grade,
                                              p_rule, p_actor);
            INSERT INTO ticket_audit (actor, ticket_id, action, detail)
                VALUES (p_actor, fm_ticket_open.ticket_id, 'open',
                        jsonb_build_object('grade', p_grade, 'title', p_title, 'rule', p_rule));
            RETURN;
        END IF;
        -- Someone else inserted between our join and our insert: join it.
    END LOOP;
    RAISE EXCEPTION 'fm_ticket_open: % kept changing under us', p_key;
END $$;

-- The ticket an action on fault p_key belongs to: the open one, else the
-- latest one. NULL when the fault never had a ticket.
CREATE FUNCTION fm_ticket_current(p_key text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT ticket_id FROM tickets WHERE dedupe_key = p_key
    ORDER BY (state NOT IN ('resolved', 'closed')) DESC, ticket_id DESC LIMIT 1
$$;
