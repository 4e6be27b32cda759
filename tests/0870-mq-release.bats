#!/usr/bin/env bats
# mq-release: letting held messages be delivered again.
load test_helper
bats_require_minimum_version 1.5.0

# put_hold QUEUE BODY [PUT-OPTION...] - put a message and hold it at once;
# prints its path in held/
put_hold() {
	local q=$1 b=$2 id
	shift 2
	id=$(mq-put "$@" "$q" <<<"$b")
	mq-hold "$(find "$S/$q/ready" "$S/$q/delayed" -type f -name "$id,*")"
}

# order QUEUE - the bodies of every message, claimed one by one
order() {
	local h
	while h=$(mq-get "$1"); do
		each_body "$h"
		mq-ack "$h"
	done | tr '\n' ' '
}

@test "release: a held message is ready again, delivered, prints nothing" {
	held=$(put_hold q one)
	run mq-release "$held"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$held" ]
	f=$(only q ready)
	[ "${f##*/}" = "${held##*/}" ]
	h=$(mq-get q)
	[ "$(cat "$h")" = one ]
}

@test "release: attempts, priority and expiry are kept" {
	conf lease=1h
	id=$(mq-put -p 7 -T 1h q <<<'urgent')
	held=$(mq-get q | mq-hold)
	[[ "$held" == "$S/q/held/$id,p7,a1,s7,x"* ]]
	mq-release "$held"
	f=$(only q ready)
	[[ "$f" == "$S/q/ready/7."*"/${held##*/}" ]]
	h=$(mq-get q)
	[[ "$h" == "$S/q/inflight/$id,p7,a2,s7,x"*",l"*",t"* ]]
}

@test "release: a not-before time still to come sends it back to delayed/" {
	held=$(put_hold q later -D 1h)
	[[ "$held" == *,n* ]]
	run mq-release "$held"
	[ "$status" -eq 0 ]
	f=$(only q delayed)
	[ "${f##*/}" = "${held##*/}" ]
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "release: a not-before time that passed while held: ready, n dropped" {
	held=$(put_hold q soon -D 1s)
	[[ "$held" == *,n* ]]
	sleep 2.1
	mq-release "$held"
	f=$(only q ready)
	n=${held##*/}
	[ "${f##*/}" = "${n%,n*}" ]
	h=$(mq-get q)
	[ "$(cat "$h")" = soon ]
}

@test "release: holding does not stop the clock: expired while held goes dead" {
	held=$(put_hold q stale -T 1s)
	sleep 2.1
	# not dead-lettered while held
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(only q held)" = "$held" ]
	mq-release "$held"
	[ "$(count "$S/q/ready")" -eq 1 ]
	# the next claim buries it, as any expired ready message
	run mq-get q
	[ "$status" -eq 1 ]
	f=$(only q dead)
	[ "${f##*/}" = "${held##*/},rexpired" ]
}

@test "release: joins the tail bucket: after the messages of earlier buckets" {
	conf bucket_size=2
	mq-put -l q < <(printf 'a\nb\nc\nd\n') >/dev/null # buckets {a b} {c d}
	held=$(mq-ls -s ready q | head -n 1 | mq-hold)
	[ "$(cat "$held")" = a ]
	mq-release "$held" # the tail bucket is full: a new one
	mq-put q <<<'e' >/dev/null
	[ "$(order q)" = "b c d a e " ]
}

@test "release: within the tail bucket it goes by id, as kicked messages do" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	held=$(mq-ls -s ready q | head -n 1 | mq-hold)
	mq-put q <<<'c' >/dev/null
	mq-release "$held"
	# one bucket: a's id is the oldest
	[ "$(count "$S/q/ready")" -eq 3 ]
	[ "$(find "$S/q/ready" -mindepth 1 -type d | wc -l)" -eq 1 ]
	[ "$(order q)" = "a b c " ]
}

@test "release: handles from stdin, one per line" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	mq-get -n 3 q | mq-hold >"$BATS_TEST_TMPDIR/held"
	run mq-release <"$BATS_TEST_TMPDIR/held"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(count "$S/q/held")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 3 ]
	# a pipe straight from mq-ls
	mq-ls -s ready q | mq-hold >/dev/null
	mq-ls -s held q | mq-release
	[ "$(count "$S/q/ready")" -eq 3 ]
	[ "$(order q)" = "a b c " ]
}

@test "release: -a releases every held message of one queue" {
	for b in a b c; do put_hold q "$b" >/dev/null; done
	put_hold other x >/dev/null
	run mq-release -a q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(count "$S/q/held")" -eq 0 ]
	[ "$(count "$S/other/held")" -eq 1 ]
	[ "$(order q)" = "a b c " ]
	# nothing held, or no held/ at all: fine
	run mq-release -a q
	[ "$status" -eq 0 ]
	rmdir "$S/q/held"
	run mq-release -a q
	[ "$status" -eq 0 ]
}

@test "release: -a with handles, a bad or missing queue" {
	held=$(put_hold q a)
	run mq-release -a q "$held"
	[ "$status" -eq 64 ]
	run mq-release -a ../q
	[ "$status" -eq 64 ]
	run mq-release -a nosuch
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
	run mq-release -a
	[ "$status" -eq 64 ]
	[ -f "$held" ]
}

@test "release: a message no longer held exits 1, the others are released" {
	a=$(put_hold q a)
	b=$(put_hold q b)
	c=$(put_hold q c)
	mq-release "$a"
	mq-purge -s held q
	c=$(put_hold q c2)
	run --separate-stderr mq-release "$a" "$c" "$b"
	[ "$status" -eq 1 ]
	[ "$stderr" = "$(printf '%s\n' "mq-release: $a: message moved meanwhile: claimed, held, released or deleted" \
	    "mq-release: $b: message moved meanwhile: claimed, held, released or deleted")" ]
	[ "$(order q)" = "a c2 " ]
}

@test "release: bad handles exit 65 and move nothing" {
	conf max_attempts=1 lease=1h
	mq-put q <<<'die' >/dev/null
	mq-nack "$(mq-get q)"
	dead=$(only q dead)
	mq-put q <<<'fly' >/dev/null
	fly=$(mq-get q)
	mq-put q <<<'ready' >/dev/null
	ready=$(only q ready)
	held=$(put_hold q held)
	n=${held##*/}
	theirs=$(mq-put -d "$BATS_TEST_TMPDIR/other" q <<<'theirs' >/dev/null
	    mq-get -d "$BATS_TEST_TMPDIR/other" q | mq-hold -d "$BATS_TEST_TMPDIR/other")
	[ -f "$theirs" ]
	# planted: a symlink and a hard link with valid names
	ln -s "$held" "$S/q/held/1700000000.000001.AAAAAAAA,p4,a0,s6"
	ln "$held" "$BATS_TEST_TMPDIR/twin"
	# forged: junk, a claim token or a reason in held/
	echo junk >"$S/q/held/junk"
	echo junk >"$S/q/held/1700000000.000002.AAAAAAAA,p4,a1,tTOKEN123"
	echo junk >"$S/q/held/1700000000.000003.AAAAAAAA,p4,a1,rattempts"
	before=$(tree_state "$S" "$BATS_TEST_TMPDIR/other")
	for p in "$dead" "$fly" "$ready" "$theirs" "$BATS_TEST_TMPDIR/twin" \
	    "$held" "$S/q/held/1700000000.000001.AAAAAAAA,p4,a0,s6" \
	    "$S/q/held/junk" "$S/q/held/1700000000.000002.AAAAAAAA,p4,a1,tTOKEN123" \
	    "$S/q/held/1700000000.000003.AAAAAAAA,p4,a1,rattempts" \
	    "$S/q/dead/$n" "$S/q/tmp/$n" "$S/q/$n" "$S/q/ready/4.0000000001/$n" \
	    "$S/q/held/" "$S/q/held" "$n" "$S/q/held/../../q/$n" \
	    "$S/../x/q/held/$n" "$BATS_TEST_TMPDIR/q/held/$n"; do
		run --separate-stderr mq-release "$p"
		echo "$p: $status $stderr"
		[ "$status" -eq 65 ]
		[ "$stderr" = "mq-release: $p: not a message of this spool in that state" ]
	done
	[ "$(tree_state "$S" "$BATS_TEST_TMPDIR/other")" = "$before" ]
	rm "$BATS_TEST_TMPDIR/twin"
	run mq-release "$held"
	[ "$status" -eq 0 ]
	run mq-release "$S/nosuch/held/$n"
	[ "$status" -eq 66 ]
}

@test "release: -d names the spool" {
	sp=$BATS_TEST_TMPDIR/other
	mq-put -d "$sp" q <<<'x' >/dev/null
	held=$(mq-hold -d "$sp" "$(find "$sp/q/ready" -type f)")
	run mq-release "$held"
	[ "$status" -eq 65 ]
	run mq-release -d "$sp" "$held"
	[ "$status" -eq 0 ]
	[ "$(find "$sp/q/ready" -type f | wc -l)" -eq 1 ]
	put_hold q y >/dev/null
	run mq-release -d "$sp" -a q
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/held")" -eq 1 ]
}

@test "release: usage errors exit 64" {
	run --separate-stderr mq-release -x
	[ "$status" -eq 64 ]
	[ "$stderr" = "$(printf '%s\n' "mq-release: invalid option -- 'x'" "usage: mq-release [-d dir] [-a queue | handle ...]")" ]
}
