-- 023: tickets a manager can sign.
--
-- * "opened" has one meaning: the instant a ticket's clocks start, the
--   first observation of the fault (for a manual ticket, the time the caller
--   reported it). The old opened_at (when the row was written) is renamed
--   recorded_at.
-- * Visits: a reopened ticket starts a new visit with its own clocks; the
--   finished visit's times and fault report are kept in ticket_visits.
-- * Settled clocks: every clock of every visit ends in ticket_clocks as met,
--   breached or not applicable (with the reason). The collector's SLA
--   scheduler writes these rows; tickets.sla_settled says all four of the
--   current visit are there.
-- * Cancelled and duplicate tickets are closed with closed_as; archived
--   tickets are kept but hidden from lists.
-- * The contracts the collector runs are published in sla_contracts, so
--   fieldmonctl knows each contract's time zone and reopen period.

ALTER TABLE tickets RENAME COLUMN opened_at TO recorded_at;
DROP INDEX tickets_site;
ALTER TABLE tickets
    ADD COLUMN opened_at        timestamptz,
    ADD COLUMN visit            smallint NOT NULL DEFAULT 1 CHECK (visit >= 1),
    ADD COLUMN visit_opened_at  timestamptz,
    ADD COLUMN closed_as        text CHECK (closed_as IN ('cancelled', 'duplicate')),
    ADD COLUMN duplicate_of     bigint REFERENCES tickets (ticket_id),
    ADD COLUMN close_reason     text,
    ADD COLUMN archived_at      timestamptz,
    ADD COLUMN archived_by      text,
    ADD COLUMN caller           text,
    ADD COLUMN contact          text,
    ADD COLUMN description      text,
    ADD COLUMN sla_settled      boolean NOT NULL DEFAULT false;
UPDATE tickets SET opened_at = first_seen, visit_opened_at = first_seen;
ALTER TABLE tickets
    ALTER COLUMN opened_at SET NOT NULL,
    ALTER COLUMN visit_opened_at SET NOT NULL,
    ADD CONSTRAINT tickets_duplicate_of CHECK
        ((closed_as = 'duplicate') = (duplicate_of IS NOT NULL) AND duplicate_of <> ticket_id),
    ADD CONSTRAINT tickets_archived_closed CHECK (archived_at IS NULL OR state = 'closed');
CREATE INDEX tickets_site ON tickets (site_id, opened_at);
CREATE INDEX tickets_opened ON tickets (opened_at);
CREATE INDEX tickets_unsettled ON tickets (ticket_id) WHERE NOT sla_settled;

-- A cancelled or duplicate ticket is closed without fault report or
-- satisfaction: the two CHECKs of 010 are replaced by ones that say so.
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN SELECT conname FROM pg_constraint
             WHERE conrelid = 'tickets'::regclass AND contype = 'c'
               AND (pg_get_constraintdef(oid) LIKE '%satisfaction IS NOT NULL%'
                    OR pg_get_constraintdef(oid) LIKE '%action_taken IS NOT NULL%') LOOP
        EXECUTE format('ALTER TABLE tickets DROP CONSTRAINT %I', c.conname);
    END LOOP;
END $$;
ALTER TABLE tickets
    ADD CONSTRAINT tickets_closed_complete CHECK
        (state <> 'closed' OR closed_as IS NOT NULL
         OR (satisfaction IS NOT NULL AND resolved_at IS NOT NULL)),
    ADD CONSTRAINT tickets_resolved_report CHECK
        (state NOT IN ('resolved', 'closed') OR closed_as IS NOT NULL
         OR (cause IS NOT NULL AND action_taken IS NOT NULL));

-- Fills opened_at (the first observation) and the first visit's start when
-- the writer leaves them out, as fm_ticket_open does.
CREATE FUNCTION fm_ticket_defaults() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.opened_at := coalesce(NEW.opened_at, NEW.first_seen);
    NEW.visit_opened_at := coalesce(NEW.visit_opened_at, NEW.opened_at);
    RETURN NEW;
END $$;
CREATE TRIGGER tickets_defaults BEFORE INSERT ON tickets
    FOR EACH ROW EXECUTE FUNCTION fm_ticket_defaults();

-- A finished visit of a reopened ticket, as it stood when it was reopened.
CREATE TABLE ticket_visits (
    ticket_id           bigint NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    visit               smallint NOT NULL,
    opened_at           timestamptz NOT NULL,
    grade               smallint NOT NULL,
    acknowledged_at     timestamptz,
    acknowledged_by     text,
    dispatched_at       timestamptz,
    dispatched_by       text,
    dispatched_to       text,
    remote_started_at   timestamptz,
    on_site_at          timestamptz,
    on_site_by          text,
    resolved_at         timestamptz,
    resolved_by         text,
    cause               text,
    action_taken        text,
    prevention          text,
    closed_at           timestamptz,
    closed_by           text,
    closed_as           text,
    customer_confirmed  boolean,
    confirmed_by        text,
    satisfaction        smallint,
    response_due        timestamptz,
    remote_due          timestamptz,
    onsite_due          timestamptz,
    resolution_due      timestamptz,
    reopened_at         timestamptz NOT NULL,
    reopened_by         text NOT NULL,
    reopen_reason       text NOT NULL,
    sla_settled         boolean NOT NULL DEFAULT false,  -- its four clocks have ended
    PRIMARY KEY (ticket_id, visit)
);
CREATE INDEX ticket_visits_unsettled ON ticket_visits (ticket_id) WHERE NOT sla_settled;

-- The final state of each clock of each visit. A clock has no row while it
-- runs. outcome: met (its event happened by the deadline), breached (the
-- deadline passed first), na (not applicable; reason says why). event_at is
-- when the event happened (also for a breached clock met late); taken_s is
-- the counting time from the visit's opening to the event (the contract's
-- time: pauses, and for 5x8 grades the hours outside business hours, do not
-- count). grade is the grade the clock was judged under. A settled clock
-- stays settled: a later grade change or pause does not change it.
CREATE TABLE ticket_clocks (
    ticket_id   bigint NOT NULL REFERENCES tickets (ticket_id) ON DELETE CASCADE,
    visit       smallint NOT NULL,
    clock       text NOT NULL CHECK (clock IN ('response', 'remote', 'onsite', 'resolution')),
    grade       smallint NOT NULL CHECK (grade BETWEEN 1 AND 4),
    started_at  timestamptz NOT NULL,
    due         timestamptz,
    outcome     text NOT NULL CHECK (outcome IN ('met', 'breached', 'na')),
    reason      text NOT NULL,
    event_at    timestamptz,
    taken_s     bigint CHECK (taken_s >= 0),
    settled_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (ticket_id, visit, clock),
    CHECK (outcome = 'na' OR due IS NOT NULL)
);
CREATE INDEX ticket_clocks_started ON ticket_clocks (started_at);

-- Breaches and ladder steps belong to a visit; a role engaged by the
-- ticket's own steps (engaged_by: dispatch, on-site, ...) is recorded
-- without firing the ladder.
ALTER TABLE sla_breaches ADD COLUMN visit smallint NOT NULL DEFAULT 1;
ALTER TABLE sla_breaches DROP CONSTRAINT sla_breaches_pkey,
    ADD PRIMARY KEY (ticket_id, visit, clock);
ALTER TABLE ticket_escalations ADD COLUMN visit smallint NOT NULL DEFAULT 1,
    ADD COLUMN engaged_by text;
ALTER TABLE ticket_escalations DROP CONSTRAINT ticket_escalations_pkey,
    ADD PRIMARY KEY (ticket_id, visit, role);

-- A pause cannot outlive the ticket's resolution: pauses left open on
-- resolved tickets, or resumed after the resolution, end at it.
UPDATE sla_pauses p SET ended_at = greatest(p.started_at, t.resolved_at)
    FROM tickets t
    WHERE t.ticket_id = p.ticket_id AND t.resolved_at IS NOT NULL
      AND t.state IN ('resolved', 'closed')
      AND (p.ended_at IS NULL OR p.ended_at > t.resolved_at);

-- The contracts the collectors run, published at start and reload (the
-- collector that published last wins; give collectors one contract file).
CREATE TABLE sla_contracts (
    customer       text PRIMARY KEY,
    description    text,
    time_zone      text NOT NULL,      -- "+08:00", "UTC"
    utc_offset_s   integer NOT NULL,
    reopen_within  interval NOT NULL,
    published_at   timestamptz NOT NULL DEFAULT now(),
    published_by   text NOT NULL
);
CREATE TABLE sla_contract_sites (
    site_id   text PRIMARY KEY,
    customer  text NOT NULL REFERENCES sla_contracts (customer) ON DELETE CASCADE
);

-- The contract of a ticket's site: its own, else the default one; NULL if
-- neither is published.
CREATE FUNCTION fm_contract_of_site(p_site text) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT customer FROM sla_contract_sites WHERE site_id = p_site),
                    (SELECT customer FROM sla_contracts WHERE customer = 'default'))
$$;

-- Starts a new visit of ticket p_id at p_at: the current visit is kept in
-- ticket_visits, and the per-visit columns start afresh. p_state is the
-- state of the new visit ('open' when the fault recurred, 'acknowledged'
-- when an operator reopens it: the operator has responded). Returns the new
-- visit number. The caller holds the row (FOR UPDATE) or runs in
-- fm_ticket_open.
CREATE FUNCTION fm_ticket_new_visit(p_id bigint, p_at timestamptz, p_actor text,
                                    p_reason text, p_state text) RETURNS smallint
LANGUAGE plpgsql AS $$
DECLARE
    v smallint;
BEGIN
    UPDATE sla_pauses SET ended_at = greatest(started_at, p_at)
        WHERE ticket_id = p_id AND ended_at IS NULL;
    INSERT INTO ticket_visits
        SELECT ticket_id, visit, visit_opened_at, grade, acknowledged_at, acknowledged_by,
               dispatched_at, dispatched_by, dispatched_to, remote_started_at, on_site_at,
               on_site_by, resolved_at, resolved_by, cause, action_taken, prevention, closed_at,
               closed_by, closed_as, customer_confirmed, confirmed_by, satisfaction,
               response_due, remote_due, onsite_due, resolution_due, p_at, p_actor, p_reason,
               sla_settled
        FROM tickets WHERE ticket_id = p_id
        RETURNING visit INTO v;
    IF v IS NULL THEN
        RAISE EXCEPTION 'fm_ticket_new_visit: no ticket %', p_id;
    END IF;
    UPDATE tickets SET visit = v + 1, visit_opened_at = p_at, state = p_state,
        acknowledged_at = CASE WHEN p_state = 'acknowledged' THEN p_at END,
        acknowledged_by = CASE WHEN p_state = 'acknowledged' THEN p_actor END,
        dispatched_at = NULL, dispatched_by = NULL, dispatched_to = NULL,
        remote_started_at = NULL, on_site_at = NULL, on_site_by = NULL,
        resolved_at = NULL, resolved_by = NULL, cause = NULL, action_taken = NULL,
        prevention = NULL, closed_at = NULL, closed_by = NULL, closed_as = NULL,
        duplicate_of = NULL, close_reason = NULL, customer_confirmed = NULL,
        confirmed_by = NULL, satisfaction = NULL, response_due = NULL, remote_due = NULL,
        onsite_due = NULL, resolution_due = NULL, sla_updated_at = NULL, sla_settled = false,
        reopen_count = reopen_count + 1, updated_at = now()
        WHERE ticket_id = p_id;
    RETURN v + 1;
END $$;

-- fm_ticket_open (010) reopened a recently resolved ticket in place, which
-- overwrote the first visit's times; it now starts a new visit.
CREATE OR REPLACE FUNCTION fm_ticket_open(p_key text, p_kind text, p_grade smallint, p_site text,
                               p_device text, p_code text, p_title text, p_rule text,
                               p_flapping boolean, p_ts timestamptz, p_actor text,
                               p_reopen_within interval,
                               OUT ticket_id bigint, OUT outcome text)
LANGUAGE plpgsql AS $$
#variable_conflict use_variable
DECLARE
    rid bigint;
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
        -- Reopen the one resolved recently: a new visit.
        SELECT r.ticket_id INTO rid FROM tickets r
            WHERE r.dedupe_key = p_key AND r.state = 'resolved'
              AND r.resolved_at >= p_ts - p_reopen_within
            ORDER BY r.ticket_id DESC LIMIT 1 FOR UPDATE;
        IF rid IS NOT NULL AND (SELECT state FROM tickets r WHERE r.ticket_id = rid) = 'resolved'
        THEN
            ticket_id := rid;
            PERFORM fm_ticket_new_visit(rid, greatest(p_ts, (SELECT resolved_at FROM tickets r
                                                             WHERE r.ticket_id = rid)),
                                        p_actor, 'fault recurred', 'open');
            UPDATE tickets t SET occurrences = t.occurrences + 1, last_seen = p_ts,
                                 cleared_at = NULL, flapping = t.flapping OR p_flapping
                WHERE t.ticket_id = rid;
            outcome := 'reopened';
            INSERT INTO ticket_audit (actor, ticket_id, action, detail)
                VALUES (p_actor, rid, 'reopen',
                        jsonb_build_object('reason', 'fault recurred', 'at', p_ts));
            PERFORM fm_ticket_raise_grade(rid, p_grade, p_rule, p_ts, p_actor);
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

-- The state of one clock for people: the settled outcome ('met',
-- 'breached', 'n/a'), else 'paused' (an open pause holds a deadline not yet
-- reached), '-' (the grade has no such clock), 'left 3h 05m', 'overdue 12m'.
CREATE FUNCTION fm_clock_state(outcome text, due timestamptz, paused boolean, t timestamptz)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN outcome = 'na' THEN 'n/a'
                WHEN outcome IS NOT NULL THEN outcome
                WHEN due IS NULL AND paused THEN 'paused'
                WHEN due IS NULL THEN '-'
                WHEN t <= due THEN 'left ' || fm_sla_span(due - t)
                ELSE 'overdue ' || fm_sla_span(t - due) END
$$;
