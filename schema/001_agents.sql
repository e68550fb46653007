-- 001: sites, agents and each agent's committed high-water mark per epoch.
-- The collector applies migrations in order, each in its own transaction,
-- and records them in schema_migrations (see collector/migrate.c).

CREATE TABLE sites (
    site_id      text PRIMARY KEY,
    name         text NOT NULL DEFAULT '',
    distance_km  numeric CHECK (distance_km >= 0),
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    agent_id          text PRIMARY KEY,
    site_id           text NOT NULL REFERENCES sites (site_id),
    software_version  text NOT NULL DEFAULT '',
    config_digest     bytea,
    first_seen        timestamptz NOT NULL DEFAULT now(),
    last_seen         timestamptz
);

-- One row per agent and epoch: every event with seq <= committed_seq is in
-- the database. An agent starting a new spool starts a new epoch at seq 1.
CREATE TABLE agent_progress (
    agent_id       text NOT NULL REFERENCES agents (agent_id) ON DELETE CASCADE,
    epoch          bigint NOT NULL CHECK (epoch > 0),
    committed_seq  bigint NOT NULL DEFAULT 0 CHECK (committed_seq >= 0),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (agent_id, epoch)
);
