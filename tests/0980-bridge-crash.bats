#!/usr/bin/env bats
# End to end through a real broker: mq-put -> mq-forward -> RabbitMQ ->
# mq-recv -> a second spool, with the bridge's own processes killed by
# SIGKILL on the way.  The promise: nothing is lost, and the far spool ends
# with each message once (the mq id travels as the AMQP message-id and
# becomes mq-recv's dedup key, which survives a crash in the middle of a
# put: see tests/0120-mq-put-dedup.bats).

bats_require_minimum_version 1.5.0
load test_helper
load bridge_helper

setup_file() {
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	bridge_setup_file
	[ -z "$BRIDGE_SKIP" ] || return 0
	# declared long before anything is killed
	bq xfwd
	bq xrecv
}

teardown_file() {
	bridge_teardown_file
}

# far_has_more N - the far spool holds more than N messages
far_has_more() {
	[ "$(mq-ls -d "$T/far" in | wc -l)" -gt "$1" ]
}

# forward_all - drain out into the broker; true once out is empty
forward_all() {
	mq-forward -e out "$URL" "" "$BQ" && [ "$(local_count out)" -eq 0 ]
}

# receive_all_once N - mq-recv drains $BQ into the far spool, which then
# holds the bodies 1..N, each once
receive_all_once() {
	run mq-recv -e -d "$T/far" "$URL" "$BQ" in
	[ "$status" -eq 0 ]
	[ "$(bcount "$BQ")" -eq 0 ]
	[ "$(mq-ls -d "$T/far" in | wc -l)" -eq "$1" ]
	mq-get -d "$T/far" -n "$1" in | xargs awk 1 | sort -n >"$T/bodies"
	seq "$1" | cmp - "$T/bodies"
}

@test "bridge: mq-forward killed mid-stream: a second run sends the rest, the far spool has each once" {
	BQ=xfwd
	mq-init out
	mq-init -d "$T/far" in
	mq-forward -L 1s -j 100 out "$URL" "" "$BQ" 2>"$T/fwd.err" 3>&- &
	pid=$!
	# the first 10 go through: confirmed, gone from here
	seq 10 | mq-put -l out >/dev/null
	wait_for 60 bcount_is "$BQ" 10
	wait_for 60 local_count_is out 0
	# the broker stops answering: it confirms nothing from here on, so
	# the forwarder cannot finish whatever the timing (no race with the
	# kill); it claims and publishes up to its window, unconfirmed
	kill -STOP "$(beam_pid)"
	seq 11 1000 | mq-put -l out >/dev/null
	wait_for 60 state_count_is out inflight 100
	kill -0 "$pid"
	kill -KILL "$pid"
	wait "$pid" || true
	kill -CONT "$(beam_pid)"
	# none of the 990 was confirmed, so every one is still here
	left=$(local_count out)
	echo "left in out after the kill: $left"
	[ "$left" -eq 990 ]
	# the killed forwarder's claims come back when their 1 s leases end;
	# the broker may hold some twice (published, never confirmed)
	wait_for 60 forward_all
	n=$(bcount "$BQ")
	echo "in the broker: $n (duplicates allowed)"
	[ "$n" -ge 1000 ]
	receive_all_once 1000
}

# farlock - hold byte 515 of the far queue's lock file exclusive, as mq-sub
# would: every put to it waits (python's lockf conflicts with the tools'
# open file description locks), until $BATS_TEST_TMPDIR/release exists
farlock() {
	python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 515)
open(sys.argv[2] + "/held", "w").close()
while not os.path.exists(sys.argv[2] + "/release"):
    time.sleep(0.01)
' "$T/far/in/lock" "$BATS_TEST_TMPDIR" &
	wait_for 10 test -e "$BATS_TEST_TMPDIR/held"
}

# put_waits - a put to the far queue waits for byte 515 of its lock file
put_waits() {
	lock_waits "$T/far/in/lock" 515 READ
}

@test "bridge: mq-recv killed mid-stream: a second run puts the rest, each once" {
	[ -r /proc/locks ] || skip "no /proc/locks to see mq-recv wait"
	BQ=xrecv
	mq-init out
	mq-init -d "$T/far" in
	# the first 500 go all the way, by construction, not by timing
	seq 500 | mq-put -l out >/dev/null
	run mq-forward -e out "$URL" "" "$BQ"
	[ "$status" -eq 0 ]
	mq-recv -p 50 -d "$T/far" "$URL" "$BQ" in &
	pid=$!
	wait_for 60 far_has_more 499
	# the other 500 reach mq-recv, whose put of them waits for the lock
	farlock
	seq 501 1000 | mq-put -l out >/dev/null
	run mq-forward -e out "$URL" "" "$BQ"
	[ "$status" -eq 0 ]
	wait_for 60 put_waits
	kill -KILL "$pid"
	wait "$pid" || true
	: >"$BATS_TEST_TMPDIR/release"
	wait
	got=$(mq-ls -d "$T/far" in | wc -l)
	echo "put before the kill: $got"
	[ "$got" -eq 500 ]
	# the broker gives back what was delivered and not acked
	receive_all_once 1000
}
