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
