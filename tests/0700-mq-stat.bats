#!/usr/bin/env bats
load test_helper
bats_require_minimum_version 1.5.0

# populate - one message in each state of queue q:
# ready "ready\n" (6 bytes), delayed "later\n" (6), in flight
# "in flight\n" (10), dead "to die\n" (7)
populate() {
	conf max_attempts=1 lease=1h
	mq-put q <<<'to die' >/dev/null
	mq-nack "$(mq-get q)"
	mq-put q <<<'in flight' >/dev/null
	I=$(mq-get q)
	mq-put -D 1h q <<<'later' >/dev/null
	mq-put q <<<'ready' >/dev/null
}

# words - the output with runs of blanks squeezed
words() {
	printf '%s\n' "$output" | awk '{ $1 = $1; print }'
}

# plant_ready QUEUE AGE BODY [FIELDS] - a foreign producer's ready message,
# enqueued AGE seconds ago; FIELDS defaults to ",p4,a0,sSIZE"
plant_ready() {
	local t=$(($(date +%s) - $2)) id f
	id=$(printf '%010d.000001.Plant%03d' "$t" $((RANDOM % 1000)))
	f=${4-,p4,a0,s${#3}}
	mkdir -p "$S/$1/ready/4.0000000001"
	printf '%s' "$3" >"$S/$1/ready/4.0000000001/$id$f"
}

# json_check - every line of $output is a JSON object with exactly the keys
# of mq-stat -j, of the right types
json_check() {
	printf '%s\n' "$output" | python3 -c '
import json, sys
for line in sys.stdin:
    o = json.loads(line)
    assert isinstance(o, dict), line
    assert list(o) == ["queue", "ready", "delayed", "inflight", "dead",
        "held", "done", "prepared", "oldest", "bytes", "done_bytes", "paused"], line
    assert type(o["paused"]) is bool, line
    assert isinstance(o["queue"], str), line
    for k in ("ready", "delayed", "inflight", "dead", "held", "done",
        "prepared", "bytes", "done_bytes"):
        assert type(o[k]) is int and o[k] >= 0, line
    assert o["oldest"] is None or (type(o["oldest"]) is int and
        o["oldest"] >= 0), line
'
}

# field KEY - the value of KEY in the one JSON line of $output
field() {
	printf '%s\n' "$output" | python3 -c '
import json, sys
v = json.loads(sys.stdin.read())[sys.argv[1]]
print("null" if v is None else v)' "$1"
}

@test "stat: header QUEUE READY DELAYED INFLIGHT DEAD HELD DONE PREPARED OLDEST BYTES" {
	mq-init q
	run mq-stat q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	[ "$(words | head -1)" = "QUEUE READY DELAYED INFLIGHT DEAD HELD DONE PREPARED OLDEST BYTES" ]
	[ "$(words | sed -n 2p)" = "q 0 0 0 0 0 0 0 - 0" ]
}

@test "stat: counts per state and bytes of all bodies" {
	populate
	run mq-stat q
	[ "$status" -eq 0 ]
	[[ "$(words | sed -n 2p)" =~ ^q\ 1\ 1\ 1\ 1\ 0\ 0\ 0\ [0-9]+s\ 29$ ]]
	run mq-stat -j q
	[ "$status" -eq 0 ]
	json_check
	[ "$(field ready)" -eq 1 ]
	[ "$(field delayed)" -eq 1 ]
	[ "$(field inflight)" -eq 1 ]
	[ "$(field dead)" -eq 1 ]
	[ "$(field bytes)" -eq 29 ]
	[ "$(field oldest)" -ge 0 ]
	[ "$(field oldest)" -le 5 ]
}

@test "stat: many messages, bytes add up" {
	seq 1 100 | mq-put -l q >/dev/null # 9*1 + 90*2 + 1*3 = 192 bytes
	mq-put -p 9 q <<<'' >/dev/null     # 1 byte
	printf '' | mq-put q >/dev/null    # 0 bytes
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[ "$(field ready)" -eq 102 ]
	[ "$(field bytes)" -eq 193 ]
}

@test "stat: OLDEST is - when nothing is ready (even with other states)" {
	conf max_attempts=1 lease=1h
	mq-put -D 1h q <<<'later' >/dev/null
	mq-put q <<<'x' >/dev/null
	mq-get q >/dev/null
	run mq-stat q
	[ "$status" -eq 0 ]
	[ "$(words | sed -n 2p)" = "q 0 1 1 0 0 0 0 - 8" ]
	run mq-stat -j q
	[ "$(field oldest)" = null ]
}

@test "stat: OLDEST is the age of the oldest ready message: s, m, h, d" {
	mq-init s42 m5 h3 d2 mix
	plant_ready s42 42 abc
	plant_ready m5 330 abc
	plant_ready h3 $((3 * 3600 + 600)) abc
	plant_ready d2 $((2 * 86400 + 3600)) abc
	# the oldest one counts, not the newest
	mq-put mix <<<'new' >/dev/null
	plant_ready mix 400 abc
	run mq-stat s42 m5 h3 d2 mix
	[ "$status" -eq 0 ]
	[[ "$(words | sed -n 2p)" =~ ^s42\ 1\ 0\ 0\ 0\ 0\ 0\ 0\ 4[2-9]s\ 3$ ]]
	[ "$(words | sed -n 3p)" = "m5 1 0 0 0 0 0 0 5m 3" ]
	[ "$(words | sed -n 4p)" = "h3 1 0 0 0 0 0 0 3h 3" ]
	[ "$(words | sed -n 5p)" = "d2 1 0 0 0 0 0 0 2d 3" ]
	[ "$(words | sed -n 6p)" = "mix 2 0 0 0 0 0 0 6m 7" ]
	run mq-stat -j m5
	[ "$(field oldest)" -ge 330 ]
	[ "$(field oldest)" -le 340 ]
}

@test "stat: no operands shows every queue of the spool" {
	mq-init a b.c z_9
	mq-put b.c <<<'x' >/dev/null
	run mq-stat
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 4 ]
	[ "$(words | sed 1d | awk '{ print $1, $2 }' | sort | tr '\n' ' ')" = "a 0 b.c 1 z_9 0 " ]
	run mq-stat -j
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	json_check
}

@test "stat: no operands skips what is not a queue" {
	mq-init a
	mkdir "$S/notaqueue" "$S/.hidden"
	: >"$S/afile"
	run mq-stat -j
	[ "$status" -eq 0 ]
	[ "$output" = '{"queue":"a","ready":0,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":null,"bytes":0,"done_bytes":0,"paused":false}' ]
}

@test "stat: no operands and no spool: just the header" {
	run mq-stat
	[ "$status" -eq 0 ]
	[ "$(words)" = "QUEUE READY DELAYED INFLIGHT DEAD HELD DONE PREPARED OLDEST BYTES" ]
	run mq-stat -j
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$S" ]
}

@test "stat: -j one JSON object per line, exact format" {
	mq-init orders
	run mq-stat -j orders
	[ "$status" -eq 0 ]
	[ "$output" = '{"queue":"orders","ready":0,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":null,"bytes":0,"done_bytes":0,"paused":false}' ]
	populate
	run mq-stat -j orders q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
	json_check
	[[ "${lines[1]}" =~ ^\{\"queue\":\"q\",\"ready\":1,\"delayed\":1,\"inflight\":1,\"dead\":1,\"held\":0,\"done\":0,\"prepared\":0,\"oldest\":[0-9]+,\"bytes\":29,\"done_bytes\":0,\"paused\":false\}$ ]]
}

@test "stat: missing queue named exits 66, the others are still shown" {
	run mq-stat nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
	mq-init a
	run mq-stat -j a nosuch
	[ "$status" -eq 66 ]
	[[ "$output" == *'{"queue":"a",'* ]]
	[[ "$output" == *nosuch* ]] # the complaint
	[ ! -e "$S/nosuch" ]
}

@test "stat: bad queue name exits 64" {
	mq-init a
	run mq-stat a ../a
	[ "$status" -eq 64 ]
}

@test "stat: never reads bodies: BYTES comes from the s field of the name" {
	printf 'hello' | mq-put q >/dev/null
	f=$(find "$S/q/ready" -type f)
	[[ "$f" == *,s5 ]]
	truncate -s 3 "$f"
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[ "$(field bytes)" -eq 5 ]
	[ "$(field ready)" -eq 1 ]
}

@test "stat: a foreign message without s field is counted by its size" {
	mq-init q
	plant_ready q 10 'abcdefg' ',p4,a0'
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[ "$(field ready)" -eq 1 ]
	[ "$(field bytes)" -eq 7 ]
}

@test "stat: names outside the grammar are not counted" {
	mq-put q <<<'x' >/dev/null
	mkdir -p "$S/q/ready/4.0000000001" "$S/q/delayed/1732437600"
	echo junk >"$S/q/ready/4.0000000001/junk"
	echo junk >"$S/q/ready/4.0000000001/1732437600.000123.x7QkT3bZ,p4,a0,s5,junk"
	echo junk >"$S/q/ready/4.0000000001/1732437600.000123.x7QkT3b,p4,a0,s5"
	echo junk >"$S/q/delayed/1732437600/junk"
	echo junk >"$S/q/dead/junk"
	echo junk >"$S/q/dead/1732437600.000123.x7QkT3bZ,a0,p4"
	echo junk >"$S/q/inflight/junk"
	echo junk >"$S/q/inflight/.1732437600.000123.x7QkT3bZ,p4,a1,tABCDEFGH"
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '{"queue":"q","ready":1,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":%s,"bytes":2,"done_bytes":0,"paused":false}' "$(field oldest)")" ]
}

@test "stat: names valid only in another state are not counted" {
	# a claim token belongs in inflight/ only and is required there; a
	# reason belongs in dead/ only (mq-spec: message names)
	mq-put q <<<'x' >/dev/null
	mkdir -p "$S/q/ready/4.0000000001"
	echo junk >"$S/q/ready/4.0000000001/1732437600.000123.x7QkT3bZ,p4,a1,tABCDEFGH"
	echo junk >"$S/q/ready/4.0000000001/1732437600.000124.x7QkT3bZ,p4,a1,rattempts"
	echo junk >"$S/q/inflight/1732437600.000125.x7QkT3bZ,p4,a1"
	echo junk >"$S/q/dead/1732437600.000126.x7QkT3bZ,p4,a1,tABCDEFGH"
	echo junk >"$S/q/held/1732437600.000127.x7QkT3bZ,p4,a1,tABCDEFGH"
	echo junk >"$S/q/held/1732437600.000128.x7QkT3bZ,p4,a1,rattempts"
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '{"queue":"q","ready":1,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":%s,"bytes":2,"done_bytes":0,"paused":false}' "$(field oldest)")" ]
}

# ready_inflight R I - mq-stat -j q shows R ready and I in flight
ready_inflight() {
	run mq-stat -j q
	[ "$status" -eq 0 ] && [ "$(field ready)" -eq "$1" ] &&
	    [ "$(field inflight)" -eq "$2" ]
}

@test "stat: reclaims expired leases (back to ready, attempt counted)" {
	mq-put q <<<'slow' >/dev/null
	h=$(mq-get -L 1 q)
	ready_inflight 0 1
	wait_for 10 ready_inflight 1 0
	f=$(find "$S/q/ready" -type f)
	[[ "$f" == */*,p4,a1,s5 ]]
	[ ! -e "$h" ]
	[ "$(cat "$f")" = slow ]
	run mq-ack "$h"
	[ "$status" -eq 1 ]
}

@test "stat: an expired lease at max_attempts goes to dead" {
	conf max_attempts=1
	mq-put q <<<'slow' >/dev/null
	mq-get -L 1 q >/dev/null
	dead1() {
		run mq-stat -j q
		[ "$(field dead)" -eq 1 ] && [ "$(field inflight)" -eq 0 ]
	}
	wait_for 10 dead1
	[ "$(field ready)" -eq 0 ]
	[[ "$(find "$S/q/dead" -type f)" == */*,p4,a1,s5,rattempts ]]
}

@test "stat: a live lease is left alone" {
	mq-put q <<<'busy' >/dev/null
	h=$(mq-get -L 1h q)
	sleep 1.1
	ready_inflight 0 1
	[ -f "$h" ]
}

# prom_check - $output is the Prometheus text format: every line a HELP or
# TYPE comment or a sample "name{label="value",...} integer"; each family
# has one HELP and one TYPE, before its samples, which are contiguous
prom_check() {
	printf '%s\n' "$output" | python3 -c '
import re, sys
NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*=\"(?:[^\"\\\n]|\\[\\\"n])*\""
SAMPLE = re.compile(r"(%s)\{%s(?:,%s)*\} -?[0-9]+$" % (NAME, LABEL, LABEL))
help, typ, done, cur = {}, {}, set(), None
for line in sys.stdin.read().splitlines():
    m = re.match(r"# (HELP|TYPE) (%s) (.+)$" % NAME, line)
    if m:
        kind, name, rest = m.groups()
        d = help if kind == "HELP" else typ
        assert name not in d, "second %s of %s" % (kind, name)
        assert name not in done, "%s after the samples of %s" % (kind, name)
        if kind == "TYPE":
            assert rest in ("gauge", "counter"), line
            assert rest != "counter" or name.endswith("_total"), line
        d[name] = rest
        continue
    m = SAMPLE.match(line)
    assert m, "not a sample: %r" % line
    name = m.group(1)
    assert name in help and name in typ, "no HELP or TYPE: %s" % name
    if name != cur:
        assert name not in done, "samples of %s apart" % name
        done.add(name)
        cur = name
assert set(help) == set(typ), "HELP without TYPE or back"
'
}

# prom_value SAMPLE - the value of the sample named exactly SAMPLE
prom_value() {
	printf '%s\n' "$output" | awk -v s="$1" '$1 == s { print $2 }'
}

@test "stat: -P prints the Prometheus text format, each family once" {
	populate
	mq-init empty
	run mq-stat -P
	[ "$status" -eq 0 ]
	prom_check
	for f in mq_messages mq_oldest_ready_age_seconds mq_body_bytes \
	    mq_ready_in_total mq_paused mq_done_bytes; do
		[ "$(grep -c "^# HELP $f " <<<"$output")" -eq 1 ]
		[ "$(grep -c "^# TYPE $f " <<<"$output")" -eq 1 ]
	done
	[ "$(prom_value 'mq_messages{queue="empty",state="ready"}')" = 0 ]
	[ "$(prom_value 'mq_oldest_ready_age_seconds{queue="empty"}')" = 0 ]
}

@test "stat: -P values are those of -j, a series for every state" {
	populate
	run mq-stat -j q
	json=$output
	run mq-stat -P q
	[ "$status" -eq 0 ]
	prom_check
	# every state of -j has its series with the same count; the library
	# may know more states than -j shows, with nothing in them here
	python3 -c '
import json, re, sys
j, seen = json.loads(sys.argv[1]), {}
for line in sys.argv[2].splitlines():
    m = re.match(r"mq_messages\{queue=\"q\",state=\"([a-z]+)\"\} ([0-9]+)$", line)
    if m:
        seen[m.group(1)] = int(m.group(2))
states = [k for k in j if k not in ("queue", "oldest", "bytes", "done_bytes",
    "paused")]
assert set(states) <= set(seen), (states, seen)
for s in seen:
    assert seen[s] == j.get(s, 0), (s, seen[s], j.get(s))
' "$json" "$output"
	[ "$(prom_value 'mq_messages{queue="q",state="dead"}')" -eq 1 ]
	[ "$(prom_value 'mq_body_bytes{queue="q"}')" -eq 29 ]
	age=$(prom_value 'mq_oldest_ready_age_seconds{queue="q"}')
	[ "$age" -ge 0 ] && [ "$age" -le 5 ]
	# made ready: three puts; the delayed one is not ready yet
	[ "$(prom_value 'mq_ready_in_total{queue="q"}')" -eq 3 ]
}

@test "stat: -P counts what became ready again: a nack, a kick" {
	conf max_attempts=2
	mq-put q <<<'x' >/dev/null
	mq-nack -D 0s "$(mq-get q)"
	mq-nack "$(mq-get q)" # the second attempt: dead
	mq-kick q
	run mq-stat -P q
	prom_check
	[ "$(prom_value 'mq_ready_in_total{queue="q"}')" -eq 3 ]
	[ "$(prom_value 'mq_messages{queue="q",state="ready"}')" -eq 1 ]
}

@test "stat: -P with no queue prints the families without samples" {
	run mq-stat -P
	[ "$status" -eq 0 ]
	prom_check
	[ "$(grep -vc '^# ' <<<"$output")" -eq 0 ]
	[ "$(grep -c '^# TYPE ' <<<"$output")" -eq 6 ]
}

@test "stat: -P of a missing queue exits 66, the others are still shown" {
	mq-init a
	run --separate-stderr mq-stat -P a nosuch
	[ "$status" -eq 66 ]
	prom_check
	[ "$(prom_value 'mq_body_bytes{queue="a"}')" -eq 0 ]
	[[ "$stderr" == *nosuch* ]]
}

@test "stat: -w with -c prints that many tables, an empty line apart" {
	mq-put q <<<'x' >/dev/null
	run --separate-stderr mq-stat -w 100ms -c 3 q
	[ "$status" -eq 0 ]
	[ "$(grep -c '^QUEUE ' <<<"$output")" -eq 3 ]
	[ "$(grep -c '^$' <<<"$output")" -eq 2 ]
	[ "$(words | head -1)" = "QUEUE READY DELAYED INFLIGHT DEAD HELD DONE PREPARED OLDEST BYTES IN/s OUT/s" ]
	[[ "$(words | sed -n 2p)" =~ ^q\ 1\ 0\ 0\ 0\ 0\ 0\ 0\ [0-9]+s\ 2\ -\ -$ ]]
	# later tables have rates: nothing happened
	[[ "$(words | sed -n 5p)" =~ ^q\ 1\ 0\ 0\ 0\ 0\ 0\ 0\ [0-9]+s\ 2\ 0\.0\ 0\.0$ ]]
	[[ "$(words | sed -n 8p)" =~ ^q\ 1\ 0\ 0\ 0\ 0\ 0\ 0\ [0-9]+s\ 2\ 0\.0\ 0\.0$ ]]
	# not a terminal: no escape sequences
	[[ "$output" != *$'\033'* ]]
	[ -z "$stderr" ]
}

@test "stat: -w on a terminal clears the screen before each table" {
	command -v script >/dev/null || skip "no script(1)"
	mq-init q
	run script -qec "mq-stat -w 100ms -c 2 q" /dev/null
	[ "$status" -eq 0 ]
	[ "$(grep -o $'\033\\[H\033\\[2J' <<<"$output" | wc -l)" -eq 2 ]
}

# watch_tables ARGS... - run mq-stat -w 1 ARGS in the background into $W;
# return once its first table is there
watch_tables() {
	W=$BATS_TEST_TMPDIR/watch
	mq-stat -w 1 "$@" >"$W" &
	WPID=$!
	wait_for 10 grep -q '^q ' "$W"
}

# rates - "IN OUT" of queue q in each table of $W
rates() {
	awk '$1 == "q" { print $11, $12 }' "$W"
}

@test "stat: -w rates: messages put between tables are in, none out" {
	conf sync=none
	mq-init q
	watch_tables -c 3 q
	seq 1 50 | mq-put -l q >/dev/null
	wait "$WPID"
	run rates
	echo "$output"
	[ "${#lines[@]}" -eq 3 ]
	[ "${lines[0]}" = "- -" ]
	# the puts fall between the first table and the last, in one interval
	# or two, however slow the machine is
	in=$(sed 1d <<<"$output" | awk '{ s += $1 } END { print s }')
	awk -v x="$in" 'BEGIN { exit !(x > 0) }'
	[ "$(sed 1d <<<"$output" | awk '{ print $2 }' | sort -u)" = 0.0 ]
	[ "$(awk '$1 == "q" { r = $2 } END { print r }' "$W")" -eq 50 ]
}

@test "stat: -w rates: messages claimed between tables are out, none in" {
	conf sync=none
	seq 1 50 | mq-put -l q >/dev/null
	watch_tables -c 3 q
	mq-get -n 20 q >/dev/null
	wait "$WPID"
	run rates
	echo "$output"
	[ "${lines[0]}" = "- -" ]
	out=$(sed 1d <<<"$output" | awk '{ s += $2 } END { print s }')
	awk -v x="$out" 'BEGIN { exit !(x > 0) }'
	[ "$(sed 1d <<<"$output" | awk '{ print $1 }' | sort -u)" = 0.0 ]
}

@test "stat: -w rates: a foreign producer's messages still ready are in" {
	mq-init q
	watch_tables -c 3 q
	plant_ready q 0 abc
	wait "$WPID"
	run rates
	echo "$output"
	in=$(sed 1d <<<"$output" | awk '{ s += $1 } END { print s }')
	awk -v x="$in" 'BEGIN { exit !(x > 0) }'
	[ "$(sed 1d <<<"$output" | awk '{ print $2 }' | sort -u)" = 0.0 ]
}

@test "stat: bad -w and -c values, and -w, -j, -P together exit 64" {
	mq-init q
	for args in "-w 0" "-w 0s" "-w -1" "-w abc" "-w 1x" "-w ''" "-c 0" \
	    "-w 1 -c 0" "-w 1 -c -1" "-w 1 -c x" "-c 2" "-w 1 -j" "-w 1 -P" \
	    "-j -P"; do
		eval "run --separate-stderr mq-stat $args q"
		[ "$status" -eq 64 ] || {
			echo "mq-stat $args: status $status"
			return 1
		}
		[ -z "$output" ]
		[ -n "$stderr" ]
	done
}
