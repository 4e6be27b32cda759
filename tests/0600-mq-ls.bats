#!/usr/bin/env bats
load test_helper

# snapshot QUEUE - every path (with mtime) below the queue, to prove that
# nothing moved
snapshot() {
	(cd "$S/$1" && find . -printf '%p %y %s %T@\n' | sort)
}

# bodies PATH... - the bodies, each followed by one space
bodies() {
	local p
	for p; do
		printf '%s ' "$(cat "$p")"
	done
}

# populate - one message in each state of queue q (needs max_attempts = 1
# for the dead one): prints nothing, sets R D I X to the bodies' paths
populate() {
	conf max_attempts=1 lease=1h
	mq-put q <<<'to die' >/dev/null
	h=$(mq-get q)
	mq-nack "$h"
	X=$(find "$S/q/dead" -type f)
	mq-put q <<<'in flight' >/dev/null
	I=$(mq-get q)
	mq-put -D 1h q <<<'later' >/dev/null
	D=$(find "$S/q/delayed" -type f)
	mq-put q <<<'ready' >/dev/null
	R=$(find "$S/q/ready" -type f)
	[ -n "$X" ] && [ -n "$I" ] && [ -n "$D" ] && [ -n "$R" ]
}

@test "ls: empty queue prints nothing, exit 0" {
	mq-init q
	run mq-ls q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	for s in ready delayed inflight dead; do
		run mq-ls -s "$s" q
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
}

@test "ls: -s STATE prints the absolute paths of that state only" {
	populate
	run mq-ls -s ready q
	[ "$status" -eq 0 ]
	[ "$output" = "$R" ]
	[[ "$output" == "$S/q/ready/4."*/*",p4,a0,s6" ]]
	run mq-ls -s delayed q
	[ "$status" -eq 0 ]
	[ "$output" = "$D" ]
	[[ "$output" == "$S/q/delayed/"*/*",p4,a0,s6,n"* ]]
	run mq-ls -s inflight q
	[ "$status" -eq 0 ]
	[ "$output" = "$I" ]
	run mq-ls -s dead q
	[ "$status" -eq 0 ]
	[ "$output" = "$X" ]
	[[ "$output" == "$S/q/dead/"*",rattempts" ]]
}

@test "ls: without -s lists all states: ready, delayed, inflight, dead" {
	populate
	run mq-ls q
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' "$R" "$D" "$I" "$X")" ]
}

@test "ls: every listed path is an existing file with the listed body" {
	populate
	mq-ls q >"$BATS_TEST_TMPDIR/list"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/list")" -eq 4 ]
	while read -r p; do
		[[ "$p" == /* ]]
		[ -f "$p" ]
	done <"$BATS_TEST_TMPDIR/list"
	[ "$(xargs cat <"$BATS_TEST_TMPDIR/list" | tr '\n' ' ')" = "ready later in flight to die " ]
}

@test "ls: ready in delivery order: priority first, then FIFO" {
	for m in 4a 1a 9a 4b 1b 9b 4c 0a 9c; do
		mq-put -p "${m:0:1}" q <<<"$m" >/dev/null
	done
	run mq-ls -s ready q
	[ "$status" -eq 0 ]
	[ "$(bodies "${lines[@]}")" = "9a 9b 9c 4a 4b 4c 1a 1b 0a " ]
	# and that is the order mq-get delivers in
	run mq-get -n 9 q
	[ "$(bodies "${lines[@]}")" = "9a 9b 9c 4a 4b 4c 1a 1b 0a " ]
}

@test "ls: FIFO across buckets (bucket_size = 2)" {
	conf bucket_size=2
	for i in 1 2 3 4 5 6 7; do
		mq-put q <<<"m$i" >/dev/null
	done
	[ "$(find "$S/q/ready" -mindepth 1 -type d | wc -l)" -eq 4 ]
	run mq-ls -s ready q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 7 ]
	[ "$(bodies "${lines[@]}")" = "m1 m2 m3 m4 m5 m6 m7 " ]
}

@test "ls: a batch keeps its input order" {
	seq 1 50 | mq-put -l q >/dev/null
	run mq-ls -s ready q
	[ "$status" -eq 0 ]
	[ "$(bodies "${lines[@]}")" = "$(seq 1 50 | tr '\n' ' ')" ]
}

@test "ls: claims nothing, moves nothing" {
	populate
	before=$(snapshot q)
	sleep 1.1 # a changed mtime would show
	run mq-ls q
	[ "$status" -eq 0 ]
	for s in ready delayed inflight dead; do
		run mq-ls -s "$s" q
		[ "$status" -eq 0 ]
	done
	[ "$(snapshot q)" = "$before" ]
	# the in-flight handle is still ours
	run mq-ack "$I"
	[ "$status" -eq 0 ]
}

@test "ls: bad state exits 64" {
	mq-init q
	for s in bogus READY tmp '' ready, all; do
		run mq-ls -s "$s" q
		[ "$status" -eq 64 ]
	done
}

@test "ls: missing queue exits 66, creates nothing" {
	run mq-ls nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S" ]
	mq-init other
	run mq-ls -s ready nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
}

@test "ls: bad queue name exits 64" {
	run mq-ls ../q
	[ "$status" -eq 64 ]
}

@test "ls: one queue operand exactly" {
	mq-init a b
	run mq-ls
	[ "$status" -eq 64 ]
	run mq-ls a b
	[ "$status" -eq 64 ]
}

@test "ls: -d names the spool" {
	mq-put -d "$BATS_TEST_TMPDIR/other" q <<<'x' >/dev/null
	run mq-ls -d "$BATS_TEST_TMPDIR/other" q
	[ "$status" -eq 0 ]
	[[ "$output" == "$BATS_TEST_TMPDIR/other/q/ready/"* ]]
}

@test "ls: delayed in due order, not in put order" {
	mq-put -D 3h q <<<'d3h' >/dev/null
	mq-put -D 10m q <<<'d10m' >/dev/null
	mq-put -D 1h q <<<'d1h' >/dev/null
	mq-put -D 11m q <<<'d11m' >/dev/null
	run mq-ls -s delayed q
	[ "$status" -eq 0 ]
	[ "$(bodies "${lines[@]}")" = "d10m d11m d1h d3h " ]
}
