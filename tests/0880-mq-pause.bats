#!/usr/bin/env bats
# mq-pause and mq-resume: a paused queue takes puts and delivers nothing.

bats_require_minimum_version 1.5.0
load test_helper

asleep() {
	grep -q poll "/proc/$1/wchan" 2>/dev/null &&
	    [ "$(awk '{print $3}' "/proc/$1/stat")" = S ]
}

gone() {
	! kill -0 "$1" 2>/dev/null
}

@test "pause: a paused queue takes puts and mq-get gets nothing (exit 1)" {
	mq-put q <<<before >/dev/null
	mq-pause q
	[ -f "$S/q/paused" ]
	mq-put q <<<during >/dev/null
	run --separate-stderr mq-get q
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "pause: leases still expire on a paused queue; the message waits in ready" {
	mq-put q <<<x >/dev/null
	h=$(mq-get -L 1 q)
	mq-pause q
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ ! -e "$h" ]
}

@test "pause: several queues at once; a missing one is reported, the others paused" {
	mq-init a b
	run --separate-stderr mq-pause a nosuch b
	[ "$status" -eq 66 ]
	[[ "$stderr" == *"nosuch: no such queue"* ]]
	[ -f "$S/a/paused" ]
	[ -f "$S/b/paused" ]
	[ ! -e "$S/nosuch" ]
}

@test "pause: bad queue names -> 64 and nothing changes" {
	mq-init a
	for bad in ../a a/b .a -x ''; do
		run mq-pause -- a "$bad"
		[ "$status" -eq 64 ]
	done
	[ ! -e "$S/a/paused" ]
	run mq-resume
	[ "$status" -eq 64 ]
}

@test "pause: read-only spool -> 73 for pause and resume, nothing changes" {
	mq-init q
	mq-pause q
	ro_spool
	run --separate-stderr mq-resume -d "$RO" q
	[ "$status" -eq 73 ]
	[[ "$stderr" == *"q: cannot resume: "* ]]
	[ -f "$S/q/paused" ]
	mq-resume q
	run mq-pause -d "$RO" q
	[ "$status" -eq 73 ]
	[ ! -e "$S/q/paused" ]
}

@test "pause: a paused queue still reports its messages in mq-stat and mq-ls" {
	seq 2 | mq-put -l q >/dev/null
	mq-pause q
	[ "$(mq-ls -s ready q | wc -l)" -eq 2 ]
	mq-stat -j q | grep -q '"ready":2,.*"paused":true}'
	mq-stat -P q | grep -qx 'mq_paused{queue="q"} 1'
	mq-resume q
	mq-stat -j q | grep -q '"paused":false}'
	mq-stat -P q | grep -qx 'mq_paused{queue="q"} 0'
}
