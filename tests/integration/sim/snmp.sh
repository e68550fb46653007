#!/usr/bin/env bash
# fieldmon-sim SNMP devices, read by net-snmp's snmpget / snmpbulkwalk /
# snmpwalk: values and types from the snmprec data, v1 and v2c, exceptions,
# GETBULK, wrong community, SET refused, sysUpTime advancing.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/../../lib/sim.sh"
fleet="$here/../../sim/fleets/demo.yaml"

sim_start "$fleet"
ups=$(sim_port ups-hq-1)
cam=$(sim_port cam-hq-1)
env=$(sim_port env-hq-1)
G="snmpget -v2c -c public -On -t 1 -r 0"

check "ups outputSource INTEGER" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.33.1.4.1.0)" \
    ".1.3.6.1.2.1.33.1.4.1.0 = INTEGER: 3"
check "ups inputLineBads Counter32" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.33.1.3.1.0)" \
    ".1.3.6.1.2.1.33.1.3.1.0 = Counter32: 3"
check "ups alarmsPresent Gauge32" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.33.1.6.1.0)" \
    ".1.3.6.1.2.1.33.1.6.1.0 = Gauge32: 0"
check "ups testId OID" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.33.1.7.1.0)" \
    ".1.3.6.1.2.1.33.1.7.1.0 = OID: .1.3.6.1.2.1.33.1.7.7.1"
check "ups sysName STRING" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.1.5.0)" \
    '.1.3.6.1.2.1.1.5.0 = STRING: "UPS-CORE-1"'
check "camera ifPhysAddress hex" "$($G 127.0.0.1:$cam 1.3.6.1.2.1.2.2.1.6.2)" \
    ".1.3.6.1.2.1.2.2.1.6.2 = Hex-STRING: BC 9B 5E 1A 2B 3C "
check "camera ifHCInOctets Counter64" "$($G 127.0.0.1:$cam 1.3.6.1.2.1.31.1.1.1.6.2)" \
    ".1.3.6.1.2.1.31.1.1.1.6.2 = Counter64: 17564220117"
check "camera cpuPercent OCTET STRING" "$($G 127.0.0.1:$cam 1.3.6.1.4.1.39165.1.10.0)" \
    '.1.3.6.1.4.1.39165.1.10.0 = STRING: "512"'
check "20 varbinds in one GET" "$($G 127.0.0.1:$ups $(for i in 1 2 3 4 5 6 7; do echo 1.3.6.1.2.1.33.1.2.$i.0; done) \
    1.3.6.1.2.1.33.1.3.1.0 1.3.6.1.2.1.33.1.3.2.0 1.3.6.1.2.1.33.1.4.1.0 1.3.6.1.2.1.33.1.4.2.0 \
    1.3.6.1.2.1.33.1.4.3.0 1.3.6.1.2.1.33.1.5.1.0 1.3.6.1.2.1.33.1.5.2.0 1.3.6.1.2.1.33.1.6.1.0 \
    1.3.6.1.2.1.33.1.9.1.0 1.3.6.1.2.1.33.1.9.2.0 1.3.6.1.2.1.33.1.9.3.0 1.3.6.1.2.1.33.1.9.4.0 \
    1.3.6.1.2.1.33.1.9.5.0 | wc -l)" "20"
check "noSuchObject" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.33.1.99.0)" \
    ".1.3.6.1.2.1.33.1.99.0 = No Such Object available on this agent at this OID"
check "noSuchInstance" "$($G 127.0.0.1:$ups 1.3.6.1.2.1.33.1.4.1.1)" \
    ".1.3.6.1.2.1.33.1.4.1.1 = No Such Instance currently exists at this OID"

# GETBULK: the whole UPS-MIB subtree, in order, and the table of the camera.
walk=$(snmpbulkwalk -v2c -c public -On -t 1 -r 0 -Cr25 127.0.0.1:$ups 1.3.6.1.2.1.33)
# Walking the device's last subtree ends with net-snmp's "No more variables" line.
check "bulkwalk UPS-MIB count" "$(echo "$walk" | grep -vc 'No more variables')" \
    "$(grep -c '^1\.3\.6\.1\.2\.1\.33\.' "$here/../../sim/data/snmp/ups-normal.snmprec")"
check "bulkwalk UPS-MIB last" "$(echo "$walk" | tail -1)" \
    ".1.3.6.1.2.1.33.1.9.10.0 = No more variables left in this MIB View (It is past the end of the MIB tree)"
check "bulkwalk UPS-MIB last value" "$(echo "$walk" | tail -2 | head -1)" \
    ".1.3.6.1.2.1.33.1.9.10.0 = INTEGER: 280"
check "bulkwalk ifOperStatus" "$(snmpbulkwalk -v2c -c public -On -t 1 -r 0 127.0.0.1:$cam \
    1.3.6.1.2.1.2.2.1.8 | tr '\n' ';')" \
    ".1.3.6.1.2.1.2.2.1.8.1 = INTEGER: 1;.1.3.6.1.2.1.2.2.1.8.2 = INTEGER: 1;"
# A GETBULK cut at the message limit (1472 bytes): many repetitions still walk right.
check "bulkwalk big repetitions" "$(snmpbulkwalk -v2c -c public -On -t 1 -r 0 -Cr200 \
    127.0.0.1:$env | grep -vc 'No more variables')" "$(grep -c . "$here/../../sim/data/snmp/env-sensor.snmprec")"
check "walk past the end" "$(snmpbulkwalk -v2c -c public -On -t 1 -r 0 127.0.0.1:$env \
    1.3.6.1.4 2>&1)" ".1.3.6.1.4 = No more variables left in this MIB View (It is past the end of the MIB tree)"

# v1: no Counter64, noSuchName errors.
check "v1 walk skips Counter64" "$(snmpwalk -v1 -c public -On -t 1 -r 0 127.0.0.1:$cam \
    1.3.6.1.2.1.31 | grep -c Counter64)" "0"
check "v1 get" "$(snmpget -v1 -c public -On -t 1 -r 0 127.0.0.1:$ups 1.3.6.1.2.1.33.1.2.3.0)" \
    ".1.3.6.1.2.1.33.1.2.3.0 = INTEGER: 62"
check_match "v1 noSuchName" "$(snmpget -v1 -c public -On -t 1 -r 0 127.0.0.1:$ups \
    1.3.6.1.2.1.33.1.99.0 2>&1)" "noSuchName"

# Wrong community: no answer at all, as snmpd does.
check_match "wrong community times out" "$(snmpget -v2c -c private -t 0.5 -r 0 \
    127.0.0.1:$ups 1.3.6.1.2.1.1.5.0 2>&1)" "^Timeout"
check_match "set is refused" "$(snmpset -v2c -c public -t 1 -r 0 127.0.0.1:$ups \
    1.3.6.1.2.1.1.5.0 s x 2>&1)" "notWritable"

# sysUpTime advances with the clock (recorded 8640000 ticks).
up=$($G -Oqv 127.0.0.1:$ups 1.3.6.1.2.1.1.3.0 -Ot)
check_match "sysUpTime advances" "$up" "^86[4-9][0-9]{4}$"
sim_finish
