-- bench/console: a contractor's backlog. psql variables: tickets, alarms.
-- 500 sites of one agent and 10 devices each; :tickets open tickets through
-- fm_ticket_open (grades 1-4, deadlines from the default contract if one is
-- published); :alarms alarm events spread over the last 30 days, loaded
-- with triggers off (they are history, not news).
INSERT INTO sites (site_id, name)
    SELECT format('site-%s', lpad(s::text, 3, '0')), format('Site %s', s)
    FROM generate_series(1, 500) s;
INSERT INTO agents (agent_id, site_id)
    SELECT format('gw-%s', lpad(s::text, 3, '0')), format('site-%s', lpad(s::text, 3, '0'))
    FROM generate_series(1, 500) s;
INSERT INTO devices (agent_id, name, class, protocol)
    SELECT format('gw-%s', lpad(s::text, 3, '0')), format('dev-%s', d),
           (ARRAY['ups', 'sensor', 'camera', 'ddc', 'meter'])[1 + d % 5], 'snmp'
    FROM generate_series(1, 500) s, generate_series(1, 10) d;

SELECT count(*) FROM (
    SELECT fm_ticket_open(format('bench:%s', i), 'device', (1 + i % 4)::smallint,
                          format('site-%s', lpad((1 + i % 500)::text, 3, '0')),
                          format('dev-%s', 1 + i % 10), 'bench_fault',
                          format('Bench fault %s', i), 'bench', false,
                          now() - (i % 1440) * interval '1 minute', 'bench', interval '7 days')
    FROM generate_series(1, :tickets) i) t;

SET session_replication_role = replica;
INSERT INTO alarm_events (ts, device_id, code, point, state, level, value, message,
                          agent_key, epoch, seq)
    SELECT now() - interval '30 days' + i * (interval '30 days' / :alarms),
           d.device_id, 'bench_alarm', 'temperature',
           CASE WHEN i % 2 = 0 THEN 'raised' ELSE 'cleared' END, 'major', 20 + i % 10,
           'bench', 1, 1, i
    FROM generate_series(1, :alarms) i
    JOIN devices d ON d.device_id = 1 + i % 5000;
RESET session_replication_role;
ANALYZE;
