#!/usr/bin/env bash
# Bad peers over TLS with mutual authentication: a malformed frame, a frame
# over the limit, a Hello that breaks the contract, a silent peer, an
# expired certificate, a certificate from another CA, and a Hello for
# another agent's id. Each connection is closed with a logged reason while
# a good agent streams alongside, unaffected, to exactly its rows.
source "$(dirname "$0")/coll_lib.sh"

certs="$T/certs"
"$FM_SOURCE_DIR/deploy/make-test-certs.sh" "$certs" good-1 victim-2 >/dev/null
coll_config "$T/c.yaml" \
    "listen: {transport: tls, address: 127.0.0.1, port: 0, cert: $certs/collector.crt, key: $certs/collector.key, ca: $certs/ca.crt}" \
    "limits: {max_frame: 64KiB, hello_timeout: 1s}"
"$FM_COLLECTOR" -c "$T/c.yaml" -t >/dev/null || fail "-t refused the TLS config"
"$FM_COLLECTOR" -c "$T/c.yaml" --migrate >/dev/null
coll_start "$T/c.yaml"
lg=("$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --cert-dir "$certs" --timeout 20)

# The good agent: slow enough to be streaming while the bad peers come and go.
"${lg[@]}" --agent good-1 --events 30000 --batch 300 --rate 5000 --timeout 60 >"$T/good.out" 2>&1 &
good=$!
sleep 1

# bad MODE_ARGS... | log line expected
check() {
    local want="$1"
    shift
    local before
    before=$(grep -c "closed:" "$T/collector.log" || true)
    "${lg[@]}" "$@" --expect-close >"$T/bad.out" 2>&1 || fail "$* was not closed: $(cat "$T/bad.out")"
    for _ in $(seq 1 30); do
        (($(grep -c "closed:" "$T/collector.log") > before)) && break
        sleep 0.1
    done
    tail -n +"$((before + 1))" "$T/collector.log" | grep "closed:" | grep -q -- "$want" ||
        fail "$*: no log line with \"$want\""
    echo "closed as expected: $* -> $want"
}
check "frame payload is not a valid envelope" --agent good-1 --bad malformed
grep -q "collector said goodbye (reason 2): frame payload is not a valid envelope" "$T/bad.out" ||
    fail "no Goodbye with the reason: $(cat "$T/bad.out")"
check "frame longer than the maximum frame size" --agent good-1 --bad oversize
check "envelope breaks the wire contract: hello: " --agent good-1 --bad invalid
check "no hello within limits.hello_timeout" --agent good-1 --bad silent
check "tls handshake: certificate verify failed: certificate has expired" --agent expired --cert-name expired
check "tls handshake: certificate verify failed: unable to get local issuer certificate" --agent good-1 --cert-name rogue-good-1
check "hello for agent victim-2 but the client certificate is for good-1" --agent victim-2 --cert-name good-1
# Plain TCP against the TLS port: no handshake, closed at the hello timeout.
"$FM_LOADGEN" --connect "127.0.0.1:$COLL_PORT" --agent plain-1 --expect-close --timeout 10 \
    >"$T/plain.out" 2>&1 || fail "plain client against TLS was not closed"

wait "$good" || fail "the good agent was disturbed: $(cat "$T/good.out")"
grep -q "reconnects=0" "$T/good.out" || fail "the good agent had to reconnect: $(cat "$T/good.out")"
expect_rows good- 1 30000
[[ $(q "SELECT count(*) FROM agents WHERE agent_id = 'victim-2'") == 0 ]] || fail "victim-2 registered"
[[ $(metric tls_failures) -ge 3 ]] || fail "metric tls_failures $(metric tls_failures)"
[[ $(metric protocol_errors) -ge 3 ]] || fail "metric protocol_errors $(metric protocol_errors)"
coll_stop
echo "coll_badpeers: ok"
