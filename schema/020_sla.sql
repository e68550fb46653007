-- 020: contract clocks. What the SLA scheduler records about each ticket:
-- escalation steps when they fell due, deadline breaches, pauses, grade
-- changes, and the webhook outbox that carries notifications out exactly
-- once per idempotency key. ticket_id is the ticket's id; foreign keys to
-- the tickets table are added by a later migration.

-- One row per ticket and role engaged by the ladder: a role is engaged at
-- most once per ticket, also across grade changes.
CREATE TABLE ticket_escalations (
    ticket_id   bigint NOT NULL,
    role        text NOT NULL,
    grade       smallint NOT NULL CHECK (grade BETWEEN 1 AND 4),
    step_after  interval NOT NULL,
    due_at      timestamptz NOT NULL,
    fired_at    timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, role)
);

-- One row per ticket and clock whose deadline passed unmet.
CREATE TABLE sla_breaches (
    ticket_id    bigint NOT NULL,
    clock        text NOT NULL CHECK (clock IN ('response', 'remote', 'onsite', 'resolution')),
    grade        smallint NOT NULL CHECK (grade BETWEEN 1 AND 4),
    deadline     timestamptz NOT NULL,
    detected_at  timestamptz NOT NULL,
    PRIMARY KEY (ticket_id, clock)
);

-- Clock pauses with their reason; ended_at is NULL while paused.
CREATE TABLE sla_pauses (
    ticket_id   bigint NOT NULL,
    started_at  timestamptz NOT NULL,
    ended_at    timestamptz CHECK (ended_at >= started_at),
    reason      text NOT NULL CHECK (reason <> ''),
    PRIMARY KEY (ticket_id, started_at)
);
CREATE UNIQUE INDEX sla_pauses_one_open ON sla_pauses (ticket_id) WHERE ended_at IS NULL;

-- Grade changes with the deadlines before and after (JSON object of clock
-- name to timestamp, null for a clock the grade does not have).
CREATE TABLE sla_grade_changes (
    ticket_id   bigint NOT NULL,
    changed_at  timestamptz NOT NULL,
    from_grade  smallint NOT NULL CHECK (from_grade BETWEEN 1 AND 4),
    to_grade    smallint NOT NULL CHECK (to_grade BETWEEN 1 AND 4),
    before      jsonb NOT NULL,
    after       jsonb NOT NULL,
    PRIMARY KEY (ticket_id, changed_at)
);

-- Webhook notifications waiting for delivery, and delivered ones. A row is
-- written in the same transaction as the event it announces; the notifier
-- POSTs it until the receiver answers 2xx, backing off between attempts.
CREATE TABLE notify_outbox (
    id               bigserial PRIMARY KEY,
    idem_key         text NOT NULL UNIQUE,
    url              text NOT NULL,
    body             jsonb NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    delivered_at     timestamptz,
    last_error       text
);
CREATE INDEX notify_outbox_due ON notify_outbox (next_attempt_at) WHERE delivered_at IS NULL;
