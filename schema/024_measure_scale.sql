-- 024: measurements at contractor scale.
--
--   series        one row per (point, labels): labels leave the measurement row
--   measurements  the narrow row: 8 columns, no primary key, one partition-local
--                 index on series_id (see docs/schema.md for the measured bytes)
--   rollup_5m/_1h n, min, max, sum, last of good numeric values per series and
--                 bucket, maintained by a statement trigger as measurements commit
--                 (open buckets in rollup_5m_open/_1h_open until they close)
--   measurement_retention  what the last maintenance kept, for fm_series
--   measurement_values     the readable view (device, point, labels, quality)
--   fm_series / fm_series_of / fm_rollup / fm_rollup_verify  the query path
--                 and its check
--
-- Exactly once is the agent_progress high-water mark, locked FOR UPDATE in the
-- transaction that writes the rows (collector/ingest/dbs_batch.c); a resent
-- event is never inserted. The old primary key (agent_key, epoch, seq, ts) was
-- a second guard that cost a third of the bytes (its index, and the agent_key
-- and epoch columns it needed), and it goes.
--
-- Existing rows are converted in this one transaction: series from the distinct
-- (point_id, labels), quality_detail into text_value for bad quality, raw NULL
-- where it equals value; the insert fires the rollup trigger, so rollups of the
-- kept days exist after the migration.

CREATE TABLE series (
    series_id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    point_id    bigint NOT NULL REFERENCES points (point_id) ON DELETE CASCADE,
    labels      jsonb NOT NULL DEFAULT '{}',
    first_seen  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (point_id, labels)
);

-- The retention the last maintenance applied, per resolution: fm_series
-- knows from it how far back raw rows and 5-minute rollups reach.
CREATE TABLE measurement_retention (
    resolution  text PRIMARY KEY CHECK (resolution IN ('raw', '5m', '1h')),
    days        integer NOT NULL CHECK (days > 0),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The old table and its partitions step aside under other names.
DROP FUNCTION fm_maintain_measurement_partitions(integer, integer);
ALTER TABLE measurements RENAME TO measurements_v23;
DO $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'measurements_v23'::regclass
    LOOP
        EXECUTE format('ALTER TABLE %I RENAME TO %I', r.relname, 'v23_' || r.relname);
    END LOOP;
END $$;

-- Eight columns: with at most eight the null bitmap fits the tuple header's
-- spare byte, so the header stays 24 bytes. Column order avoids padding.
CREATE TABLE measurements (
    ts          timestamptz NOT NULL,
    series_id   integer NOT NULL,
    quality     smallint NOT NULL,
    seq         bigint NOT NULL,     -- the agent's event sequence (tracing, tests)
    value       double precision,    -- NULL when nothing was read (text, bad quality)
    raw         double precision,    -- NULL when equal to value
    rate        double precision,    -- counters, when configured
    text_value  text                 -- good quality: the text; bad: the quality detail
) PARTITION BY RANGE (ts);
CREATE INDEX measurements_series ON measurements (series_id);

-- Rollups of good-quality numeric values. last_ms: the last value's time as
-- milliseconds after bucket (ties on the same millisecond: the greater value).
CREATE TABLE rollup_5m (
    series_id  integer NOT NULL,
    n          integer NOT NULL,
    bucket     timestamptz NOT NULL,
    min        double precision NOT NULL,
    max        double precision NOT NULL,
    sum        double precision NOT NULL,
    last       double precision NOT NULL,
    last_ms    integer NOT NULL,
    PRIMARY KEY (series_id, bucket)
) PARTITION BY RANGE (bucket);
CREATE TABLE rollup_1h (LIKE rollup_5m) PARTITION BY RANGE (bucket);
ALTER TABLE rollup_1h ADD PRIMARY KEY (series_id, bucket);

-- The buckets still receiving values, one row per series and open bucket
-- (see fm_rollup_batch). Small and updated often: room on each page for
-- updates that stay on it (HOT).
CREATE TABLE rollup_5m_open (LIKE rollup_5m INCLUDING ALL) WITH (fillfactor = 50);
CREATE TABLE rollup_1h_open (LIKE rollup_1h INCLUDING ALL) WITH (fillfactor = 50);

-- Creates partition part of parent for [lo, hi) if missing. Writers of several
-- collectors may ask at once: a transaction lock on the name serialises them,
-- and a creation lost to a race anyway counts as done. Returns part.
CREATE FUNCTION fm_range_partition(parent text, part text, lo timestamptz, hi timestamptz,
                                   fillfactor integer) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    IF to_regclass(part) IS NULL THEN
        PERFORM pg_advisory_xact_lock(hashtext(part));
        BEGIN
            EXECUTE format('CREATE TABLE IF NOT EXISTS %I PARTITION OF %I'
                           ' FOR VALUES FROM (%L) TO (%L) WITH (fillfactor = %s)',
                           part, parent, lo, hi, fillfactor);
        EXCEPTION WHEN duplicate_table OR unique_violation THEN
            NULL;
        END;
    END IF;
    RETURN part;
END $$;

-- Creates the daily measurement partition holding day (UTC) and the monthly
-- rollup partitions of its month, each if missing. Returns the daily name.
-- Stored rollup rows are written once (and merged again only by late
-- events): their pages are filled.
CREATE OR REPLACE FUNCTION fm_measurement_partition(day date) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    m date := date_trunc('month', day)::date;
    m_lo timestamptz := m::timestamp AT TIME ZONE 'UTC';
    m_hi timestamptz := (m + interval '1 month')::timestamp AT TIME ZONE 'UTC';
BEGIN
    PERFORM fm_range_partition('rollup_5m', 'rollup_5m_' || to_char(m, 'YYYYMM'), m_lo, m_hi, 100);
    PERFORM fm_range_partition('rollup_1h', 'rollup_1h_' || to_char(m, 'YYYYMM'), m_lo, m_hi, 100);
    RETURN fm_range_partition('measurements', 'measurements_' || to_char(day, 'YYYYMMDD'),
                              day::timestamp AT TIME ZONE 'UTC',
                              (day + 1)::timestamp AT TIME ZONE 'UTC', 100);
END $$;

-- Creates partitions from today - 1 to today + ahead_days; moves open rollup
-- buckets that ended an hour ago into the stored rollups; drops measurement
-- partitions wholly older than retention_days and rollup partitions wholly
-- older than theirs; records the retentions for fm_series. Rollups must
-- outlive raw rows (a kept raw day needs its month's rollup partitions).
CREATE FUNCTION fm_maintain_measurement_partitions(
    ahead_days integer, retention_days integer,
    rollup_5m_days integer DEFAULT 90, rollup_1h_days integer DEFAULT 1830,
    OUT measurements_dropped integer, OUT rollups_dropped integer)
LANGUAGE plpgsql AS $$
DECLARE
    today date := (now() AT TIME ZONE 'UTC')::date;
    r record;
    keep integer;
BEGIN
    IF retention_days < 1 OR rollup_5m_days < retention_days OR rollup_1h_days < retention_days THEN
        RAISE EXCEPTION 'retention: raw % days, 5m % days, 1h % days: rollups must be kept at least as long as raw rows',
            retention_days, rollup_5m_days, rollup_1h_days;
    END IF;
    measurements_dropped := 0;
    rollups_dropped := 0;
    FOR i IN -1..ahead_days LOOP
        PERFORM fm_measurement_partition(today + i);
    END LOOP;
    PERFORM fm_rollup_flush(now() - interval '1 hour');
    FOR r IN SELECT c.relname, p.relname AS parent FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             JOIN pg_class p ON p.oid = i.inhparent
             WHERE p.relname IN ('measurements', 'rollup_5m', 'rollup_1h')
    LOOP
        IF r.parent = 'measurements' AND r.relname ~ '^measurements_[0-9]{8}$' THEN
            IF to_date(substr(r.relname, 14), 'YYYYMMDD') + 1 <= today - retention_days THEN
                EXECUTE format('DROP TABLE %I', r.relname);
                measurements_dropped := measurements_dropped + 1;
            END IF;
        ELSIF r.relname ~ '^rollup_(5m|1h)_[0-9]{6}$' THEN
            keep := CASE r.parent WHEN 'rollup_5m' THEN rollup_5m_days ELSE rollup_1h_days END;
            IF (to_date(substr(r.relname, 11), 'YYYYMM') + interval '1 month')::date
               <= today - keep THEN
                EXECUTE format('DROP TABLE %I', r.relname);
                rollups_dropped := rollups_dropped + 1;
            END IF;
        END IF;
    END LOOP;
    INSERT INTO measurement_retention AS t (resolution, days)
    VALUES ('raw', retention_days), ('5m', rollup_5m_days), ('1h', rollup_1h_days)
    ON CONFLICT (resolution) DO UPDATE SET days = EXCLUDED.days, updated_at = now()
        WHERE t.days <> EXCLUDED.days;
END $$;

-- The width of a rollup resolution.
CREATE FUNCTION fm__rollup_width(res text) RETURNS interval
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE res WHEN '5m' THEN interval '5 minutes' WHEN '1h' THEN interval '1 hour' END
$$;

-- The merge of a stored bucket r with a partial one (EXCLUDED), for ON
-- CONFLICT: counts and sums add, the last value is the later one (on the
-- same millisecond, the greater). Associative and commutative, so the order
-- in which batches, late events and flushes arrive does not matter.
CREATE FUNCTION fm__rollup_merge_set() RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT 'n = r.n + EXCLUDED.n, min = least(r.min, EXCLUDED.min),'
           ' max = greatest(r.max, EXCLUDED.max), sum = r.sum + EXCLUDED.sum,'
           ' last = CASE WHEN (EXCLUDED.last_ms, EXCLUDED.last) > (r.last_ms, r.last)'
           ' THEN EXCLUDED.last ELSE r.last END,'
           ' last_ms = greatest(r.last_ms, EXCLUDED.last_ms)'
$$;

-- The statement that moves open buckets into the stored rollups of res and
-- returns how many it moved: those of the series in newest (a query of
-- series_id, ts) whose bucket ended by that series' ts. A text, so that the
-- trigger runs it itself: its transition table is visible only there.
CREATE FUNCTION fm__rollup_close_sql(res text, newest text) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
    SELECT format('WITH x AS (%s), gone AS (DELETE FROM %I o USING x'
                  ' WHERE o.series_id = x.series_id AND o.bucket + %L::interval <= x.ts'
                  ' RETURNING o.*), ins AS (INSERT INTO %I AS r'
                  ' (series_id, n, bucket, min, max, sum, last, last_ms)'
                  ' SELECT series_id, n, bucket, min, max, sum, last, last_ms FROM gone'
                  ' ON CONFLICT (series_id, bucket) DO UPDATE SET %s RETURNING 1)'
                  ' SELECT count(*)::integer FROM ins',
                  newest, 'rollup_' || res || '_open', fm__rollup_width(res), 'rollup_' || res,
                  fm__rollup_merge_set())
$$;

-- The rollup trigger, once per INSERT or COPY statement on measurements:
-- aggregates the statement's good numeric values per series and bucket into
-- the open buckets (rollup_5m_open, rollup_1h_open: one small table each,
-- where the updates of a bucket as its values arrive churn), then moves to
-- the stored rollups every open bucket of those series that ended by the
-- series' newest value in the statement. A stored row is so written once,
-- and again only for a late event, never once per batch (measured: updating
-- the stored rows per batch left them 4 to 9 times their size in dead
-- versions). A late event opens its old bucket again and merges into the
-- stored one when it closes. Buckets are UTC, from the Unix epoch, whatever
-- the session's time zone. Transition tables are visible to EXECUTE.
CREATE FUNCTION fm_rollup_batch() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    FOREACH res IN ARRAY ARRAY['5m', '1h'] LOOP
        EXECUTE format('INSERT INTO %I AS r (series_id, n, bucket, min, max, sum, last, last_ms)'
                       ' SELECT series_id, count(*), bucket, min(value), max(value), sum(value),'
                       ' (array_agg(value ORDER BY ts DESC, value DESC))[1],'
                       ' floor(extract(epoch FROM max(ts) - bucket) * 1000)'
                       ' FROM (SELECT series_id, value, date_trunc(''milliseconds'', ts) AS ts,'
                       ' date_bin(%L, ts, timestamptz ''1970-01-01 00:00:00+00'') AS bucket'
                       ' FROM new_rows WHERE quality = 1 AND value IS NOT NULL) g'
                       ' GROUP BY series_id, bucket'
                       ' ON CONFLICT (series_id, bucket) DO UPDATE SET %s',
                       'rollup_' || res || '_open', fm__rollup_width(res),
                       fm__rollup_merge_set());
        EXECUTE fm__rollup_close_sql(res, 'SELECT series_id, max(ts) AS ts FROM new_rows'
                                          ' WHERE quality = 1 AND value IS NOT NULL'
                                          ' GROUP BY series_id');
    END LOOP;
    RETURN NULL;
END $$;

CREATE TRIGGER measurements_rollup AFTER INSERT ON measurements
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION fm_rollup_batch();

-- Moves every open bucket that ended by before into the stored rollups
-- (maintenance does it for buckets an hour old: a series that stopped
-- reporting leaves its last bucket open). Returns the number moved.
CREATE FUNCTION fm_rollup_flush(before timestamptz) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    res text;
    moved integer;
    total integer := 0;
BEGIN
    FOREACH res IN ARRAY ARRAY['5m', '1h'] LOOP
        EXECUTE fm__rollup_close_sql(res, format('SELECT DISTINCT series_id, %L::timestamptz AS ts'
                                                 ' FROM %I', before, 'rollup_' || res || '_open'))
        INTO moved;
        total := total + moved;
    END LOOP;
    RETURN total;
END $$;

-- The buckets of resolution res ('5m' or '1h') starting in [t_from, t_to) of
-- one series (or of all with series NULL): stored and open merged, as
-- readers must see them. Ordered by series and bucket.
CREATE FUNCTION fm_rollup(res text, series integer, t_from timestamptz, t_to timestamptz)
RETURNS TABLE (series_id integer, bucket timestamptz, n integer, min double precision,
               max double precision, sum double precision, last double precision,
               last_ms integer)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF fm__rollup_width(res) IS NULL THEN
        RAISE EXCEPTION 'fm_rollup: resolution %: want 5m or 1h', res;
    END IF;
    RETURN QUERY EXECUTE format(
        'SELECT coalesce(f.series_id, o.series_id), coalesce(f.bucket, o.bucket),'
        ' coalesce(f.n, 0) + coalesce(o.n, 0), least(f.min, o.min), greatest(f.max, o.max),'
        ' coalesce(f.sum, 0) + coalesce(o.sum, 0),'
        ' CASE WHEN o.n IS NULL OR (f.n IS NOT NULL AND (f.last_ms, f.last) > (o.last_ms, o.last))'
        ' THEN f.last ELSE o.last END, greatest(f.last_ms, o.last_ms)'
        ' FROM (SELECT * FROM %1$I WHERE ($1 IS NULL OR series_id = $1)'
        ' AND bucket >= $2 AND bucket < $3) f'
        ' FULL JOIN (SELECT * FROM %2$I WHERE ($1 IS NULL OR series_id = $1)'
        ' AND bucket >= $2 AND bucket < $3) o'
        ' ON o.series_id = f.series_id AND o.bucket = f.bucket ORDER BY 1, 2',
        'rollup_' || res, 'rollup_' || res || '_open')
    USING series, t_from, t_to;
END $$;

-- Recomputes the rollup buckets that lie wholly within [t_from, t_to) from the
-- raw rows and returns each bucket where the rollups (fm_rollup) and the
-- recomputation differ (sum within a relative 1e-9: the order of additions
-- differs). Nothing returned means the rollups are right. The raw rows must
-- still be there.
CREATE FUNCTION fm_rollup_verify(t_from timestamptz, t_to timestamptz)
RETURNS TABLE (resolution text, series_id integer, bucket timestamptz, stored text, recomputed text)
LANGUAGE sql STABLE AS $$
    WITH w (resolution, width) AS (
        VALUES ('5m', interval '5 minutes'), ('1h', interval '1 hour')
    ), good AS (
        SELECT w.resolution, w.width, m.series_id, m.value, date_trunc('milliseconds', m.ts) AS ts,
               date_bin(w.width, m.ts, timestamptz '1970-01-01 00:00:00+00') AS bucket
        FROM w CROSS JOIN measurements m
        WHERE m.ts >= t_from AND m.ts < t_to AND m.quality = 1 AND m.value IS NOT NULL
    ), rc AS (
        SELECT resolution, series_id, bucket, count(*)::integer AS n, min(value) AS min,
               max(value) AS max, sum(value) AS sum,
               (array_agg(value ORDER BY ts DESC, value DESC))[1] AS last,
               floor(extract(epoch FROM max(ts) - bucket) * 1000)::integer AS last_ms
        FROM good WHERE bucket >= t_from AND bucket + width <= t_to
        GROUP BY resolution, series_id, bucket
    ), st AS (
        SELECT w.resolution, r.*
        FROM w CROSS JOIN LATERAL fm_rollup(w.resolution, NULL, t_from, t_to) r
        WHERE r.bucket + w.width <= t_to
    )
    SELECT resolution, series_id, bucket,
           CASE WHEN st.n IS NOT NULL THEN format('n=%s min=%s max=%s sum=%s last=%s last_ms=%s',
                st.n, st.min, st.max, st.sum, st.last, st.last_ms) END,
           CASE WHEN rc.n IS NOT NULL THEN format('n=%s min=%s max=%s sum=%s last=%s last_ms=%s',
                rc.n, rc.min, rc.max, rc.sum, rc.last, rc.last_ms) END
    FROM st FULL JOIN rc USING (resolution, series_id, bucket)
    WHERE st.n IS NULL OR rc.n IS NULL OR st.n <> rc.n OR st.min <> rc.min OR st.max <> rc.max
       OR st.last <> rc.last OR st.last_ms <> rc.last_ms
       OR NOT (st.sum = rc.sum OR abs(st.sum - rc.sum) <= 1e-9 * greatest(1, abs(st.sum), abs(rc.sum)))
    ORDER BY 1, 2, 3
$$;

-- The oldest time a resolution still holds by its retention (UTC midnight).
CREATE FUNCTION fm__retention_floor(res text) RETURNS timestamptz
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT (((now() AT TIME ZONE 'UTC')::date - days)::timestamp AT TIME ZONE 'UTC')
                     FROM measurement_retention WHERE resolution = res), '-infinity')
$$;

-- The resolution fm_series reads for [t_from, t_to) when asked for 'auto':
-- raw for a range of at most a day that raw rows still cover, 5m for at most
-- ten days that 5-minute rollups still cover, else 1h. Coverage comes from
-- the retention the last maintenance applied (all of it before any ran).
CREATE FUNCTION fm_series_resolution(t_from timestamptz, t_to timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN t_to - t_from <= interval '1 day' AND t_from >= fm__retention_floor('raw') THEN 'raw'
        WHEN t_to - t_from <= interval '10 days' AND t_from >= fm__retention_floor('5m') THEN '5m'
        ELSE '1h' END
$$;

-- One series over [t_from, t_to) at a resolution ('raw', '5m', '1h' or 'auto',
-- see fm_series_resolution): one row per value (raw: good numeric values
-- only, n = 1) or per bucket overlapping the range (ts = the bucket's start).
CREATE FUNCTION fm_series(series integer, t_from timestamptz, t_to timestamptz,
                          want text DEFAULT 'auto')
RETURNS TABLE (ts timestamptz, resolution text, n bigint, min double precision,
               max double precision, avg double precision, last double precision)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    res text := CASE WHEN want = 'auto' THEN fm_series_resolution(t_from, t_to) ELSE want END;
BEGIN
    IF res = 'raw' THEN
        RETURN QUERY SELECT m.ts, res, 1::bigint, m.value, m.value, m.value, m.value
            FROM measurements m
            WHERE m.series_id = series AND m.ts >= t_from AND m.ts < t_to
              AND m.quality = 1 AND m.value IS NOT NULL
            ORDER BY m.ts;
    ELSIF res IN ('5m', '1h') THEN
        RETURN QUERY SELECT r.bucket, res, r.n::bigint, r.min, r.max, r.sum / r.n, r.last
            FROM fm_rollup(res, series,
                           date_bin(fm__rollup_width(res), t_from, timestamptz '1970-01-01 00:00:00+00'),
                           t_to) r
            ORDER BY r.bucket;
    ELSE
        RAISE EXCEPTION 'fm_series: resolution %: want raw, 5m, 1h or auto', want;
    END IF;
END $$;

-- The series of an agent's device point with these labels, or NULL.
CREATE FUNCTION fm_series_of(agent_id text, device text, point text, labels jsonb DEFAULT '{}')
RETURNS integer LANGUAGE sql STABLE AS $$
    SELECT s.series_id FROM series s
    JOIN points p ON p.point_id = s.point_id
    JOIN devices d ON d.device_id = p.device_id
    WHERE d.agent_id = $1 AND d.name = $2 AND p.name = $3 AND s.labels = $4
$$;

-- Measurements as people read them.
CREATE VIEW measurement_values AS
SELECT m.ts, m.series_id, s.point_id, p.device_id, d.agent_id, d.name AS device,
       p.name AS point, s.labels, p.unit, m.quality, q.name AS quality_name, m.value,
       coalesce(m.raw, m.value) AS raw, m.rate,
       CASE WHEN m.quality = 1 THEN m.text_value END AS text_value,
       CASE WHEN m.quality <> 1 THEN m.text_value END AS quality_detail,
       m.seq
FROM measurements m
JOIN series s ON s.series_id = m.series_id
JOIN points p ON p.point_id = s.point_id
JOIN devices d ON d.device_id = p.device_id
LEFT JOIN quality_codes q ON q.quality = m.quality;

-- Convert the existing rows, day by day partition as they were.
INSERT INTO series (point_id, labels, first_seen)
SELECT m.point_id, coalesce(m.labels, '{}'), min(m.ts)
FROM measurements_v23 m JOIN points p ON p.point_id = m.point_id
GROUP BY 1, 2;

SELECT fm_measurement_partition(to_date(substr(c.relname, 18), 'YYYYMMDD'))
FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
WHERE i.inhparent = 'measurements_v23'::regclass AND c.relname ~ '^v23_measurements_[0-9]{8}$';

INSERT INTO measurements (ts, series_id, quality, seq, value, raw, rate, text_value)
SELECT m.ts, s.series_id, m.quality, m.seq, m.value,
       CASE WHEN m.raw IS NOT DISTINCT FROM m.value THEN NULL ELSE m.raw END, m.rate,
       CASE WHEN m.quality = 1 THEN nullif(m.text_value, '') ELSE nullif(m.quality_detail, '') END
FROM measurements_v23 m
JOIN series s ON s.point_id = m.point_id AND s.labels = coalesce(m.labels, '{}')
ORDER BY m.ts;

DROP TABLE measurements_v23;
