#!/usr/bin/env bats
load test_helper

# populate - in queue q: 3 ready (two priorities, two buckets), 2 delayed,
# 2 in flight, 2 dead; queue other gets one message of each state too
populate() {
	conf max_attempts=1 lease=1h bucket_size=2
	local q
	for q in q other; do
		mq-put "$q" <<<'die1' >/dev/null
		mq-put "$q" <<<'die2' >/dev/null
		mq-nack "$(mq-get "$q")" "$(mq-get "$q")"
		mq-put "$q" <<<'fly1' >/dev/null
		mq-put "$q" <<<'fly2' >/dev/null
		mq-get -n 2 "$q" >/dev/null
		mq-put -D 1h "$q" <<<'later1' >/dev/null
		mq-put -D 2h "$q" <<<'later2' >/dev/null
		mq-put "$q" <<<'r1' >/dev/null
		mq-put "$q" <<<'r2' >/dev/null
		mq-put -p 7 "$q" <<<'r3' >/dev/null
	done
	counts q "3 2 2 2"
	counts other "3 2 2 2"
}

# counts QUEUE "R D I X" - mq-stat shows these counts
counts() {
	local got
	got=$(mq-stat -j "$1" | python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
print(o["ready"], o["delayed"], o["inflight"], o["dead"])')
	[ "$got" = "$2" ] || {
		echo "$1: counts $got, expected $2"
		return 1
	}
}

@test "purge: -s is required" {
	mq-put q <<<'x' >/dev/null
	run mq-purge q
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "purge: bad state exits 64, deletes nothing" {
	mq-put q <<<'x' >/dev/null
	for s in bogus all READY tmp ''; do
		run mq-purge -s "$s" q
		[ "$status" -eq 64 ]
	done
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "purge: missing queue exits 66, creates nothing" {
	run mq-purge -s ready nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S" ]
	mq-init q
	run mq-purge -s dead nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
}

@test "purge: one queue operand, a valid name" {
	mq-init a b
	run mq-purge -s ready
	[ "$status" -eq 64 ]
	run mq-purge -s ready a b
	[ "$status" -eq 64 ]
	run mq-purge -s ready ../a
	[ "$status" -eq 64 ]
}

@test "purge: -s ready deletes only the ready messages" {
	populate
	run mq-purge -s ready q
	[ "$status" -eq 0 ]
	counts q "0 2 2 2"
	counts other "3 2 2 2"
	[ "$(count "$S/q/ready")" -eq 0 ]
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "purge: -s delayed deletes only the delayed messages" {
	populate
	run mq-purge -s delayed q
	[ "$status" -eq 0 ]
	counts q "3 0 2 2"
	counts other "3 2 2 2"
	[ "$(count "$S/q/delayed")" -eq 0 ]
}

@test "purge: -s inflight deletes only the in-flight messages" {
	populate
	hs=$(mq-ls -s inflight q)
	run mq-purge -s inflight q
	[ "$status" -eq 0 ]
	counts q "3 2 0 2"
	counts other "3 2 2 2"
	# their handles are stale now
	for h in $hs; do
		run mq-ack "$h"
		[ "$status" -eq 1 ]
	done
}

@test "purge: -s dead deletes only the dead messages" {
	populate
	run mq-purge -s dead q
	[ "$status" -eq 0 ]
	counts q "3 2 2 0"
	counts other "3 2 2 2"
	[ "$(count "$S/q/dead")" -eq 0 ]
}

@test "purge: every state in turn leaves an empty, working queue" {
	populate
	for s in dead inflight delayed ready; do
		run mq-purge -s "$s" q
		[ "$status" -eq 0 ]
	done
	counts q "0 0 0 0"
	[ "$(count "$S/q")" -eq 1 ] # the lock
	[ -d "$S/q/ready" ] && [ -d "$S/q/delayed" ] && [ -d "$S/q/inflight" ] &&
	    [ -d "$S/q/dead" ] && [ -d "$S/q/tmp" ]
	mq-put q <<<'again' >/dev/null
	h=$(mq-get q)
	[ "$(cat "$h")" = again ]
}

@test "purge: an empty state is fine" {
	mq-init q
	for s in ready delayed inflight dead; do
		run mq-purge -s "$s" q
		[ "$status" -eq 0 ]
	done
}

@test "purge: purging twice is fine" {
	populate
	mq-purge -s ready q
	run mq-purge -s ready q
	[ "$status" -eq 0 ]
	counts q "0 2 2 2"
}

@test "purge: many messages across buckets" {
	conf sync=none bucket_size=16
	seq 1 500 | mq-put -l q >/dev/null
	counts q "500 0 0 0"
	run mq-purge -s ready q
	[ "$status" -eq 0 ]
	counts q "0 0 0 0"
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "purge: leaves files outside the grammar alone" {
	mq-put q <<<'x' >/dev/null
	b=$(find "$S/q/ready" -mindepth 1 -type d)
	echo keep >"$b/junk"
	echo keep >"$S/q/dead/junk"
	run mq-purge -s ready q
	[ "$status" -eq 0 ]
	run mq-purge -s dead q
	[ "$status" -eq 0 ]
	[ "$(cat "$b/junk")" = keep ]
	[ "$(cat "$S/q/dead/junk")" = keep ]
}

@test "purge: -d names the spool" {
	sp=$BATS_TEST_TMPDIR/other
	mq-put -d "$sp" q <<<'x' >/dev/null
	mq-put q <<<'x' >/dev/null
	run mq-purge -d "$sp" -s ready q
	[ "$status" -eq 0 ]
	[ "$(count "$sp/q/ready")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}
