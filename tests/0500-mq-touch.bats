#!/usr/bin/env bats
# mq-touch: extending leases.
load test_helper
bats_require_minimum_version 1.5.0

snapshot() {
	(cd "$S" && find . -print0 | sort -z | xargs -0 ls -ld --time-style=+%s.%N &&
	    find . -type f -print0 | sort -z | xargs -0 -r md5sum)
}

# claim QUEUE [GET-OPTIONS...] - put a message and claim it
claim() {
	local q=$1
	shift
	mq-put "$q" <<<body >/dev/null
	mq-get "$@" "$q"
}

NAME=1700000000.000001.AAAAAAAA,p4,a1,s6,tTOKEN123

@test "touch: -L extends the lease: after the old deadline the message is still ours" {
	h=$(claim q -L 1)
	old=$(deadline "$h")
	run mq-touch -L 30 "$h"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	sleep 2
	[ "$(date +%s)" -gt "$old" ]
	run mq-get q
	[ "$status" -eq 1 ]
	[ -f "$h" ]
	run mq-ack "$h"
	[ "$status" -eq 0 ]
}

@test "touch: the new deadline is now + lease" {
	h=$(claim q)
	now=$(date +%s)
	mq-touch -L 10m "$h"
	d=$(deadline "$h")
	[ "$d" -ge $((now + 599)) ] && [ "$d" -le $((now + 602)) ]
	# a shorter lease moves the deadline back, too
	mq-touch -L 5s "$h"
	d=$(deadline "$h")
	[ "$d" -ge $((now + 4)) ] && [ "$d" -le $((now + 7)) ]
}

@test "touch: without -L the claim's own lease starts again (not the config's)" {
	conf lease=2m
	h=$(claim q -L 1h)
	[[ "$h" == *,l3600000,t* ]]
	now=$(date +%s)
	mq-touch "$h"
	d=$(deadline "$h")
	[ "$d" -ge $((now + 3599)) ] && [ "$d" -le $((now + 3602)) ]
}

@test "touch: default lease is 30s (the claim's, from the default config)" {
	h=$(claim q)
	[[ "$h" == *,l30000,t* ]]
	now=$(date +%s)
	mq-touch "$h"
	d=$(deadline "$h")
	[ "$d" -ge $((now + 29)) ] && [ "$d" -le $((now + 32)) ]
}

@test "touch: a claim made before the queue's mq.conf changed keeps its lease" {
	conf lease=2m
	h=$(claim q)
	echo 'lease = 1h' >"$S/q/mq.conf"
	now=$(date +%s)
	mq-touch "$h"
	d=$(deadline "$h")
	[ "$d" -ge $((now + 119)) ] && [ "$d" -le $((now + 122)) ]
}

@test "touch: the name keeps the claim's lease; -L of another length moves the mtime instead" {
	h=$(claim q -L 1m)
	now=$(date +%s)
	mq-touch -L 10m "$h"
	[ -e "$h" ]
	d=$(deadline "$h")
	[ "$d" -ge $((now + 599)) ] && [ "$d" -le $((now + 602)) ]
	[ "$(stat -c %Y "$h")" -ge $((now + 539)) ]
}

@test "touch: the name does not change (no new token, no new attempt)" {
	h=$(claim q)
	mq-touch -L 1m "$h"
	[ -f "$h" ]
	[ "$(ls "$S/q/inflight")" = "$(basename "$h")" ]
	[ "$(cat "$h")" = body ]
}

@test "touch: stale handle (acked) -> 1, lease lost" {
	h=$(claim q)
	mq-ack "$h"
	run mq-touch -L 30 "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	[ ! -e "$h" ]
}

@test "touch: stale handle (lease expired, claimed again) -> 1, the new claim untouched" {
	old=$(claim q -L 1)
	wait_for 5 try_get -L 1m q
	d=$(deadline "$h")
	run mq-touch -L 1h "$old"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	[ "$(deadline "$h")" = "$d" ]
	[ ! -e "$old" ]
}

@test "touch: stale handle (reclaimed to ready) -> 1, nothing recreated" {
	h=$(claim q -L 1)
	reclaimed() {
		mq-stat q >/dev/null && [ "$(count "$S/q/inflight")" -eq 0 ]
	}
	wait_for 5 reclaimed
	run mq-touch -L 1h "$h"
	[ "$status" -eq 1 ]
	[ ! -e "$h" ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "touch: lease expired but not yet reclaimed: touch still succeeds and saves it" {
	h=$(claim q -L 1)
	d=$(deadline "$h")
	expired() {
		[ "$(date +%s)" -gt "$d" ]
	}
	wait_for 5 expired
	run mq-touch -L 1h "$h"
	[ "$status" -eq 0 ]
	run mq-get q
	[ "$status" -eq 1 ]
	[ -f "$h" ]
}

@test "touch: bad -L -> 64, the deadline unchanged" {
	h=$(claim q)
	d=$(stat -c %.3Y "$h")
	for l in 0 0s bogus -1 '' 1x 1.5s 5s3; do
		run mq-touch -L "$l" "$h"
		[ "$status" -eq 64 ] || { echo "lease [$l]: $status"; false; }
	done
	[ "$(stat -c %.3Y "$h")" = "$d" ]
}

@test "touch: handles from stdin" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	mq-get -n 3 -L 1 q >"$BATS_TEST_TMPDIR/hs"
	now=$(date +%s)
	run mq-touch -L 10m <"$BATS_TEST_TMPDIR/hs"
	[ "$status" -eq 0 ]
	while read -r h; do
		d=$(deadline "$h")
		[ "$d" -ge $((now + 599)) ] && [ "$d" -le $((now + 602)) ]
	done <"$BATS_TEST_TMPDIR/hs"
}

@test "touch: several handles as operands" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 -L 1 q)
	now=$(date +%s)
	run mq-touch -L 10m "${hs[@]}"
	[ "$status" -eq 0 ]
	for h in "${hs[@]}"; do
		[ "$(deadline "$h")" -ge $((now + 599)) ]
	done
}

@test "touch: no operands and empty stdin: exit 0" {
	run mq-touch </dev/null
	[ "$status" -eq 0 ]
}

@test "touch: foreign or wrong-state handles -> 65, nothing changed" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	h=$(mq-get q)
	r=$(find "$S/q/ready" -type f)
	printf x >"$S/q/dead/1700000000.000001.AAAAAAAA,p4,a5,s1,rattempts"
	printf precious >"$BATS_TEST_TMPDIR/target"
	touch -d @1000000000 "$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$S/q/inflight/$NAME"
	printf x >"$S/q/inflight/garbage"
	before=$(snapshot)
	for p in /etc/passwd "$r" \
	    "$S/q/dead/1700000000.000001.AAAAAAAA,p4,a5,s1,rattempts" \
	    "$S/q/inflight/$NAME" "$S/q/inflight/garbage" \
	    "$S/q/inflight/../../../x/inflight/$NAME"; do
		run mq-touch -L 1h "$p"
		[ "$status" -eq 65 ] || { echo "[$p]: $status"; false; }
	done
	[ "$(snapshot)" = "$before" ]
	# the symlink's target keeps its time
	[ "$(stat -c %Y "$BATS_TEST_TMPDIR/target")" = 1000000000 ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
}

@test "touch: a handle of another spool (-d) -> 65, deadline unchanged" {
	h=$(claim q)
	d=$(stat -c %.3Y "$h")
	mq-init -d "$BATS_TEST_TMPDIR/other" q
	run mq-touch -L 1h -d "$BATS_TEST_TMPDIR/other" "$h"
	[ "$status" -eq 65 ]
	[ "$(stat -c %.3Y "$h")" = "$d" ]
}

@test "touch: mixed good, stale and bad handles: good ones touched, status is the worst" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	mapfile -t hs < <(mq-get -n 3 -L 1 q)
	mq-ack "${hs[1]}"
	now=$(date +%s)
	run mq-touch -L 10m "${hs[0]}" "${hs[1]}" "${hs[2]}"
	[ "$status" -eq 1 ]
	[ "$(deadline "${hs[0]}")" -ge $((now + 599)) ]
	[ "$(deadline "${hs[2]}")" -ge $((now + 599)) ]
	run mq-touch -L 10m "${hs[0]}" /etc/passwd "${hs[1]}"
	[ "$status" -eq 65 ]
}

@test "touch: -h -> 0 with usage on stdout, -V prints the version, bad option -> 64" {
	run --separate-stderr mq-touch -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: mq-touch"* ]]
	[ -z "$stderr" ]
	run mq-touch -V
	[ "$status" -eq 0 ]
	[ "$output" = "mq-touch 0.1.0" ]
	h=$(claim q)
	d=$(stat -c %.3Y "$h")
	run mq-touch -x "$h"
	[ "$status" -eq 64 ]
	run mq-touch -L
	[ "$status" -eq 64 ]
	[ "$(stat -c %.3Y "$h")" = "$d" ]
}
