#!/usr/bin/env bats
# mq-resume: a paused queue delivers again.

bats_require_minimum_version 1.5.0
load test_helper

asleep() {
	grep -q poll "/proc/$1/wchan" 2>/dev/null &&
	    [ "$(awk '{print $3}' "/proc/$1/stat")" = S ]
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

@test "resume: resume delivers again, in the order put" {
	mq-pause q 2>/dev/null || { mq-init q; mq-pause q; }
	seq 3 | mq-put -l q >/dev/null
	mq-resume q
	[ ! -e "$S/q/paused" ]
	run mq-get -n 3 q
	[ "$status" -eq 0 ]
	[ "$(cat "${lines[0]}")" = 1 ]
	[ "$(cat "${lines[2]}")" = 3 ]
}

@test "resume: pausing twice and resuming a running queue are not errors" {
	mq-init q
	mq-pause q
	mq-pause q
	mq-resume q
	mq-resume q
	[ ! -e "$S/q/paused" ]
}

@test "resume: a waiting consumer sleeps through puts and wakes on resume" {
	mq-init q
	mq-pause q
	mq-get -w q >"$BATS_TEST_TMPDIR/out" &
	w=$!
	wait_for 10 asleep "$w"
	mq-put q <<<held-back >/dev/null
	# the put woke it; it looked at the marker and went back to sleep
	wait_for 10 asleep "$w"
	kill -0 "$w"
	[ "$(count "$S/q/inflight")" -eq 0 ]
	mq-resume q
	wait_for 10 gone "$w"
	wait "$w"
	[ "$(cat "$(cat "$BATS_TEST_TMPDIR/out")")" = held-back ]
}
