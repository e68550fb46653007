#!/usr/bin/env bash
# Per-connection limits against peers that behave after their Hello:
# - a peer that goes silent after its Hello is closed at limits.idle_timeout
#   with the reason logged, while a peer sending heartbeats stays;
# - a peer that sends batches but never reads its acks is closed at
#   limits.max_write_queue with the reason logged; what it was acked is
#   in PostgreSQL, and it resends the rest exactly once;
# - a peer flooding batches while PostgreSQL cannot commit (a lock holds the
#   writers) is no longer read once the decoded batches it has waiting reach
#   limits.max_conn_memory; the collector holds a bounded amount for it, and
#   once the lock goes everything it sent is stored exactly once.
# A well-behaved agent streams alongside each of them, undisturbed.
source "$(dirname "$0")/coll_lib.sh"

lg() { "$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" "$@"; }

# closed_with AGENT TEXT: the collector logged the close of AGENT's
# connection with TEXT as its reason.
closed_with() {
    grep "agent $1: closed: " "$T/collector.log" | grep -q -- "$2" ||
        fail "no close of $1 logged with \"$2\""
}

# good_agent NAME EVENTS: a well-behaved agent in the background ($good).
good_agent() {
    lg --agent "$1" --events "$2" --batch 200 --rate 2000 --heartbeat 300 --timeout 60 \
        >"$T/$1.out" 2>&1 &
    good=$!
}

good_done() { # NAME EVENTS
    wait "$good" || fail "the good agent $1 was disturbed: $(cat "$T/$1.out")"
    grep -q "reconnects=0" "$T/$1.out" || fail "the good agent $1 reconnected: $(cat "$T/$1.out")"
    expect_rows "$1" 1 "$2"
}

coll_config "$T/c.yaml" "limits: {idle_timeout: 1s, heartbeat: 1s, max_write_queue: 4KiB}"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"

# ---- idle timeout after the Hello
good_agent good-a 6000
sleep 0.5
t0=$(date +%s.%N)
lg --agent idle-1 --bad idle --expect-close --timeout 20 >"$T/idle.out" 2>&1 ||
    fail "a silent peer after its Hello was not closed: $(cat "$T/idle.out")"
t1=$(date +%s.%N)
closed_with idle-1 "silent for limits.idle_timeout (1000 ms)"
grep -q "collector said goodbye (reason 5)" "$T/idle.out" || fail "no Goodbye IDLE_TIMEOUT: $(cat "$T/idle.out")"
# Closed by the once-a-second sweep: after 1 s of silence, within about 2 s
# (more on a loaded machine).
awk -v a="$t0" -v b="$t1" 'BEGIN { d = b - a; exit !(d >= 1.0 && d < 8.0) }' ||
    fail "idle peer closed after $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') s, want 1..8 s"
# Heartbeats keep a session with nothing to send alive well past the timeout.
lg --agent beat-1 --events 10 --batch 10 --hold 4 --heartbeat 300 --timeout 20 \
    >"$T/beat.out" 2>&1 || fail "a peer sending heartbeats was closed: $(cat "$T/beat.out")"
grep -q "agent beat-1: closed: silent" "$T/collector.log" && fail "beat-1 closed as silent"
[[ $(metric timeouts) == 1 ]] || fail "metric timeouts $(metric timeouts), want 1"
good_done good-a 6000
echo "idle timeout: ok"

# ---- a peer that never reads its acks
good_agent good-b 6000
sleep 0.5
lg --agent noread-1 --bad noread --events 100000 --batch 2 --only-measurements --rcvbuf 4096 \
    --heartbeat 200 --expect-close --timeout 40 >"$T/noread.out" 2>&1 ||
    fail "a peer that does not read was not closed: $(cat "$T/noread.out")"
closed_with noread-1 "peer does not read: over 4096 bytes queued"
acked=$(sed -n 's/.* acked=\([0-9]*\) .*/\1/p' "$T/noread.out")
committed=$(q "SELECT committed_seq FROM agent_progress WHERE agent_id = 'noread-1'")
echo "noread-1: acked $acked before the close, $committed committed"
((acked > 0 && committed >= acked)) || fail "acked $acked but $committed committed: acked events lost"
stored=$(q "SELECT count(*) FROM measurement_values WHERE agent_id = 'noread-1' AND seq <= $acked")
[[ "$stored" == "$acked" ]] || fail "$stored measurements stored of the $acked acked"
# The same agent again, reading: resumes after what was committed.
lg --agent noread-1 --events 100000 --batch 500 --window 8 --only-measurements --timeout 40 >"$T/noread2.out" 2>&1 ||
    fail "resume after the close: $(cat "$T/noread2.out")"
expect_rows noread- 1 100000 1
good_done good-b 6000
echo "slow reader: ok"
coll_stop

# ---- a flood while PostgreSQL cannot commit: reading stops at the memory limit
limit=$((2 * 1024 * 1024))
coll_config "$T/mem.yaml" "limits: {max_frame: 64KiB, max_conn_memory: 2MiB}" \
    "database: {dsn: \"$FM_PG_DSN\", queue_max_events: 10000000}"
coll_start "$T/mem.yaml"
# The lock keeps every writer's COPY waiting (Hellos do not touch measurements).
psql -XAtq -c "BEGIN; LOCK TABLE measurements IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(10); COMMIT" \
    >/dev/null &
locker=$!
for _ in $(seq 1 50); do
    [[ $(q "SELECT count(*) FROM pg_locks WHERE relation = 'measurements'::regclass AND granted") -ge 1 ]] && break
    sleep 0.1
done
rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$COLL_PID/status"; }
rss0=$(rss)
# 64 batches of 1,000 events in flight: about 3 MB of frames, tens of MB decoded.
lg --agent flood --events 200000 --batch 1000 --window 64 --only-measurements --timeout 60 \
    >"$T/flood.out" 2>&1 &
flood=$!
sleep 3
in1=$(metric events_in)
sleep 2
in2=$(metric events_in)
paused=$(metric conns_paused)
held=$(metric conn_memory)
peak=$(metric conn_memory_peak)
grown=$(($(rss) - rss0))
echo "flood while locked: $in2 events received and held, $held bytes held, peak $peak," \
    "paused $paused, resident memory grew by $grown kB"
[[ "$paused" == 1 ]] || fail "the flooding connection is read on (conns_paused=$paused)"
[[ "$in1" == "$in2" ]] || fail "events_in moved from $in1 to $in2 while the connection was paused"
((in2 > 0 && in2 < 64000)) || fail "$in2 events received: the window of 64,000 was read whole"
[[ $(metric events_committed) == 0 ]] || fail "something was committed under the lock"
# Paused because what it held (decoded batches and a split frame) reached
# the limit, and not much past it: one read (64 KiB) and one frame decoded.
((peak >= limit)) || fail "paused with at most $peak bytes held, below the limit $limit"
((peak <= 2 * limit)) || fail "one connection held $peak bytes, limit $limit"
# The process itself grew by a few times that: 5 MB under AddressSanitizer
# on a quiet machine, up to 11 MB in a loaded full run (allocator and
# sanitizer bookkeeping); holding the whole window takes 20 MB and more.
((grown < 8 * limit / 1024)) || fail "resident memory grew by $grown kB, limit $((limit / 1024)) kB"
# A decoded event costs well over its ~50 bytes on the wire.
((held / in2 >= 100)) || fail "$((held / in2)) bytes charged per event held: frame bytes, not decoded"
wait "$locker"
wait "$flood" || fail "the flood after the lock: $(cat "$T/flood.out")"
grep -q "reconnects=0" "$T/flood.out" || fail "the flooding agent was disconnected: $(cat "$T/flood.out")"
expect_rows flood 1 200000 1
[[ $(metric conn_memory) == 0 ]] || fail "conn_memory $(metric conn_memory) after everything was acked"
echo "memory limit: ok"
coll_stop
echo "coll_limits: ok"
