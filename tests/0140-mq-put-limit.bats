#!/usr/bin/env bats
# The backlog limit: max_length, max_length_bytes and overflow in
# mq.conf(5), checked by admit() against the count of the lock file's
# backlog record (backlog.c, Backlog limit in mq(7)), on every road in.

bats_require_minimum_version 1.5.0
load test_helper

# backlog QUEUE - the count of the backlog record, as mq-stat -j shows it
backlog() {
	mq-stat -j "$1" | sed -n 's/.*"backlog":\([0-9a-z]*\).*/\1/p'
}

# empty QUEUE STATE - no message in that state
empty() {
	[ "$(count "$S/$1/$2")" -eq 0 ]
}

# record QUEUE - the backlog record of the lock file (bytes 352 to 415)
record() {
	dd if="$S/$1/lock" bs=1 skip=352 count=64 2>/dev/null
}

@test "limit: reject refuses the put past max_length, loudly, writing nothing" {
	conf max_length=3
	for i in 1 2 3; do mq-put q <<<"m$i" >/dev/null; done
	run -75 mq-put q <<<m4
	[ -z "$(printf '%s' "$output" | grep -v 'queue full')" ]
	[[ "$output" == *"q: cannot put message: queue full"* ]]
	[ "$(count "$S/q/ready")" -eq 3 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
	[ "$(count "$S/q/dead")" -eq 0 ]
	[ "$(backlog q)" = 3 ]
}

@test "limit: max_length_bytes counts the bodies; one larger than it is refused" {
	conf max_length_bytes=10 overflow=dead-oldest
	mq-put q <<<12345 >/dev/null
	run -75 mq-put q <<<123456789012
	[ "$(count "$S/q/dead")" -eq 0 ]
	# 6 + 5 bytes: the head goes, as overflow
	mq-put q <<<abcd >/dev/null
	[ "$(count "$S/q/dead")" -eq 1 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "limit: a batch says how many records went in, and which did not" {
	conf max_length=2
	run -75 --separate-stderr mq-put -l q <<<$'a\nb\nc\nd'
	[ "${#lines[@]}" -eq 2 ]
	[[ "$stderr" == *"q: 2 records put, record 3 and after not put"* ]]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "limit: a batch under sync=batch stops at the same record" {
	conf sync=batch max_length=2
	run -75 --separate-stderr mq-put -l q <<<$'a\nb\nc\nd'
	[ "${#lines[@]}" -eq 2 ]
	[[ "$stderr" == *"2 records put, record 3"* ]]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "limit: dead-oldest sends the head in delivery order to dead/ as overflow" {
	conf max_length=2 overflow=dead-oldest
	mq-put -p 2 q <<<low >/dev/null
	mq-put -p 7 q <<<high >/dev/null
	mq-put q <<<new >/dev/null
	run ls "$S/q/dead"
	[ "${#lines[@]}" -eq 1 ]
	[[ "${lines[0]}" == *",roverflow" ]]
	[ "$(cat "$S/q/dead/${lines[0]}")" = high ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "limit: dead-oldest rejects when only delayed messages are over" {
	conf max_length=2 overflow=dead-oldest
	mq-put -D 1h q <<<d1 >/dev/null
	mq-put -D 1h q <<<d2 >/dev/null
	run -75 mq-put q <<<new
	[[ "$output" == *"queue full"* ]]
	[ "$(count "$S/q/dead")" -eq 0 ]
	[ "$(count "$S/q/delayed")" -eq 2 ]
}

@test "limit: messages waiting their group's turn count; a claim makes room" {
	conf max_length=2
	mq-put -g g q <<<g1 >/dev/null
	mq-put -g g q <<<g2 >/dev/null
	run -75 mq-put q <<<x
	h=$(mq-get q)
	mq-put q <<<x >/dev/null
	[ "$(backlog q)" = 2 ]
}

@test "limit: a nack is never refused, and counts" {
	conf max_length=2
	mq-put q <<<a >/dev/null
	mq-put q <<<b >/dev/null
	h=$(mq-get q)
	mq-put q <<<c >/dev/null
	mq-nack -D 0 "$h"
	[ "$(count "$S/q/ready")" -eq 3 ]
	[ "$(backlog q)" = 3 ]
	run -75 mq-put q <<<d
}

@test "limit: a fan-out subscriber that is full fails as a subscriber fails" {
	mq-init t a b
	printf 'max_length = 1\n' >"$S/b/mq.conf"
	mq-sub t a
	mq-sub t b
	mq-put t <<<one >/dev/null
	run -75 mq-put t <<<two
	[[ "$output" == *"t: subscriber b: cannot put message: queue full"* ]]
	[ "$(count "$S/a/ready")" -eq 2 ]
	[ "$(count "$S/b/ready")" -eq 1 ]
}

@test "limit: kick of dead is refused when full; kick -s delayed changes nothing" {
	conf max_length=2 max_attempts=1
	mq-put q <<<a >/dev/null
	mq-nack "$(mq-get q)"
	mq-put q <<<b >/dev/null
	mq-put -D 1h q <<<c >/dev/null
	[ "$(count "$S/q/dead")" -eq 1 ]
	run -75 mq-kick q "$S"/q/dead/*
	[[ "$output" == *"queue full"* ]]
	[ "$(count "$S/q/dead")" -eq 1 ]
	mq-kick -s delayed q "$S"/q/delayed/*/*
	[ "$(count "$S/q/delayed")" -eq 0 ]
	[ "$(backlog q)" = 2 ]
}

@test "limit: held messages do not count; a release is refused when full" {
	conf max_length=2
	mq-put q <<<a >/dev/null
	held=$(mq-hold "$(mq-ls q | head -n 1)")
	mq-put q <<<b >/dev/null
	mq-put q <<<c >/dev/null
	[ "$(backlog q)" = 2 ]
	run -75 mq-release "$held"
	[[ "$output" == *"queue full"* ]]
	[ -e "$held" ]
	mq-ack "$(mq-get q)"
	mq-release "$held"
	[ ! -e "$held" ]
	[ "$(backlog q)" = 2 ]
}

@test "limit: a limit set on a queue that has messages counts them first" {
	for i in 1 2 3; do mq-put q <<<"m$i" >/dev/null; done
	conf max_length=3
	run -75 mq-put q <<<m4
	[ "$(backlog q)" = 3 ]
}

@test "limit: a crash leaves the count off; mq-fsck recounts" {
	conf max_length=5
	mq-put q <<<a >/dev/null
	# as a put killed between its count and its rename leaves it: high
	mq-put q <<<b >/dev/null
	rm "$(mq-ls q | tail -n 1)"
	[ "$(backlog q)" = 2 ]
	mq-fsck q
	[ "$(backlog q)" = 1 ]
}

@test "limit: a planted or corrupt record is never trusted beyond bounds" {
	conf max_length=3
	mq-put q <<<a >/dev/null
	# junk: not a record mq wrote, so the next check recounts
	printf 'b -00000000001 garbage' | dd of="$S/q/lock" bs=1 seek=352 conv=notrunc 2>/dev/null
	mq-put q <<<b >/dev/null
	[ "$(backlog q)" = 2 ]
	# a count past any limit is junk too
	printf 'b 999999999999999' | dd of="$S/q/lock" bs=1 seek=352 conv=notrunc 2>/dev/null
	mq-put q <<<c >/dev/null
	[ "$(backlog q)" = 3 ]
	# a plausible full count with a recount time far back is recounted
	rec=$(record q | awk '{ printf "b %012d %016d %s 00000000001", 3, 0, $4 }')
	printf '%s' "$rec" | dd of="$S/q/lock" bs=1 seek=352 conv=notrunc 2>/dev/null
	mq-ack "$(mq-get q)"
	mq-put q <<<d >/dev/null
	[ "$(backlog q)" = 3 ]
}

@test "limit: mq-stat shows the limit and how full" {
	conf max_length=4 overflow=dead-oldest
	mq-put q <<<a >/dev/null
	run mq-stat q
	[[ "${lines[0]}" == *" LIMIT  FULL" ]]
	[[ "${lines[1]}" == *"         4   25%" ]]
	run mq-stat -j q
	[[ "$output" == *'"max_length":4,"max_length_bytes":0,"overflow":"dead-oldest","backlog":1,"backlog_bytes":2}' ]]
	run mq-stat -P q
	[[ "$output" == *'mq_max_length{queue="q"} 4'* ]]
	[[ "$output" == *'mq_backlog_messages{queue="q"} 1'* ]]
	conf max_length=4 max_length_bytes=1048576
	run mq-stat q
	[[ "${lines[1]}" == *"      4/1M   25%" ]]
	conf max_length_bytes=1000
	run mq-stat q
	[[ "${lines[1]}" == *"     1000B    0%" ]]
}

@test "limit: no limit, no record, no FULL column" {
	mq-put q <<<a >/dev/null
	[ "$(record q | tr -d '\0')" = "" ]
	run mq-stat q
	[[ "${lines[0]}" != *LIMIT* ]]
	run mq-stat -j q
	[[ "$output" != *max_length* ]]
}

@test "limit: bad values in mq.conf are refused" {
	conf max_length=-1
	run -78 mq-put q <<<a
	conf overflow=drop-head
	run -78 mq-put q <<<a
	[[ "$output" == *"overflow: must be reject or dead-oldest"* ]]
	conf max_length_bytes=1x
	run -78 mq-put q <<<a
}

@test "limit: a group commit that fits is counted at once, one that does not record by record" {
	conf sync=batch max_length=10
	seq 4 | mq-put -l q >/dev/null
	[ "$(backlog q)" = 4 ]
	run -75 --separate-stderr mq-put -l q < <(seq 8)
	[ "${#lines[@]}" -eq 6 ]
	[ "$(backlog q)" = 10 ]
	[ "$(count "$S/q/ready")" -eq 10 ]
}

@test "limit: removed, then set again, the count is made anew (mq-stat makes it)" {
	conf max_length=3
	for i in 1 2 3; do mq-put q <<<"m$i" >/dev/null; done
	conf max_length=0
	# claims with no limit keep no count: the record says 3 still
	mq-get -n 3 q | mq-ack
	record q | grep -q '^b 000000000003 '
	conf max_length=3
	run mq-stat q
	[[ "${lines[1]}" == *"    0%" ]]
	[ "$(backlog q)" = 0 ]
	for i in 1 2 3; do mq-put q <<<"n$i" >/dev/null; done
	run -75 mq-put q <<<n4
}

@test "limit: a limit from the global file and one from the queue's, the nearer counts" {
	conf max_length=100 max_length_bytes=8
	mq-put q <<<abc >/dev/null
	run -75 mq-put q <<<abcdef
	printf 'max_length_bytes = 0\nmax_length = 2\n' >"$S/q/mq.conf"
	mq-put q <<<abcdef >/dev/null
	run -75 mq-put q <<<x
	[[ "$output" == *"q: cannot put message: queue full"* ]]
}

@test "limit: a keyed put refused for a full queue leaves its key unknown: the retry goes in" {
	for s in full batch; do
		conf max_length=1 sync=$s
		mq-put "q$s" <<<a >/dev/null
		run -75 mq-put -k "K$s" "q$s" <<<b
		[ "$(count "$S/q$s/tmp")" -eq 0 ]
		mq-ack "$(mq-get "q$s")"
		run -0 mq-put -k "K$s" "q$s" <<<b
		[ "$(cat "$(mq-ls "q$s")")" = b ]
	done
}

@test "limit: dead-oldest over many buckets keeps the newest, in order, and the emptied buckets go" {
	conf max_length=5 overflow=dead-oldest bucket_size=4
	seq 40 | mq-put -l q >/dev/null
	[ "$(count "$S/q/dead")" -eq 35 ]
	[ "$(find "$S/q/ready" -mindepth 1 -type d | wc -l)" -le 3 ]
	run mq-get -n 10 q
	[ "$(each_body "${lines[@]}" | tr '\n' ' ')" = "36 37 38 39 40 " ]
}

@test "limit: dead-oldest passes over junk in the head bucket and does not loop on it" {
	conf max_length=2 overflow=dead-oldest
	mq-put q <<<a >/dev/null
	mq-put q <<<b >/dev/null
	b=$(ls "$S/q/ready")
	: >"$S/q/ready/$b/junk"
	mq-put q <<<c >/dev/null
	[ -e "$S/q/ready/$b/junk" ]
	[ "$(count "$S/q/dead")" -eq 1 ]
	[ "$(cat "$S"/q/dead/*)" = a ]
}

@test "limit: producers and a consumer at once, dead-oldest: nothing lost, the count true at the end" {
	conf max_length=20 overflow=dead-oldest sync=none
	mq-init q
	: >"$BATS_TEST_TMPDIR/done"
	mq-work q -- sh -c "cat >>'$BATS_TEST_TMPDIR/done'; echo >>'$BATS_TEST_TMPDIR/done'" &
	w=$!
	seq 1 300 | mq-put -l q >/dev/null &
	p1=$!
	seq 301 600 | mq-put -l q >/dev/null &
	p2=$!
	wait "$p1"
	wait "$p2"
	wait_for 60 empty q ready
	wait_for 60 empty q inflight
	kill -TERM "$w"
	wait "$w" || true
	[ $(($(grep -c . "$BATS_TEST_TMPDIR/done") + $(count "$S/q/dead"))) -eq 600 ]
	[ "$(backlog q)" = 0 ]
	mq-ls -s dead q | grep -v ',roverflow$' | { ! grep .; }
}

@test "limit: a commit into a full queue is refused (75); the message stays prepared" {
	conf max_length=1
	h=$(mq-put -P q <<<half)
	mq-put q <<<a >/dev/null
	run -75 mq-commit "$h"
	[[ "$output" == *"queue full"* ]]
	[ -e "$h" ]
	[ "$(backlog q)" = 1 ]
	mq-ack "$(mq-get q)"
	mq-commit "$h"
	[ "$(cat "$(mq-ls q)")" = half ]
	[ "$(backlog q)" = 1 ]
}

@test "limit: a replay into a full queue is refused (75) and copies nothing" {
	conf max_length=1 retain=1h
	mq-put q <<<a >/dev/null
	mq-ack "$(mq-get q)"
	mq-put q <<<b >/dev/null
	done=$(mq-ls -s done q)
	run -75 mq-replay "$done"
	[[ "$output" == *"queue full"* ]]
	run -75 mq-replay -a q
	[[ "$output" == *"queue full"* ]]
	[ -e "$done" ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(backlog q)" = 1 ]
	mq-ack "$(mq-get q)"
	mq-replay "$done" >/dev/null
	[ "$(cat "$(mq-ls q)")" = a ]
	[ "$(backlog q)" = 1 ]
}

@test "limit: a move into a full queue is refused (75), the message left in its source; a move out leaves the source's count" {
	mq-init q d
	printf 'max_length = 5\n' >"$S/q/mq.conf"
	printf 'max_length = 1\n' >"$S/d/mq.conf"
	mq-put q <<<a >/dev/null
	mq-put -k K q <<<b >/dev/null
	mq-put d <<<x >/dev/null
	p=$(mq-ls q | tail -n 1)
	run -75 mq-mv d "$p"
	[[ "$output" == *"queue full"* ]]
	[ -e "$p" ]
	run -75 mq-mv -a q d
	[[ "$output" == *"q -> d: 0 moved, then: queue full"* ]]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(backlog q)" = 2 ]
	[ "$(backlog d)" = 1 ]
	mq-ack "$(mq-get d)"
	mq-mv d "$p"
	[ "$(backlog q)" = 1 ]
	[ "$(backlog d)" = 1 ]
	[ "$(cat "$(mq-ls d)")" = b ]
	# the key went with it: a retry of the keyed put to d is a duplicate
	[ "$(mq-put -k K d <<<b)" = "$(basename "$(mq-ls d)" | cut -d, -f1)" ]
}
