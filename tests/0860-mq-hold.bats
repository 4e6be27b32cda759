#!/usr/bin/env bats
# mq-hold: keeping messages out of delivery.
load test_helper
bats_require_minimum_version 1.5.0

# ready_of QUEUE BODY - the path of the ready message with that body
ready_of() {
	grep -lx -- "$2" $(files "$1" ready)
}

@test "hold: a ready message is skipped by mq-get, the next is delivered" {
	mq-put q <<<'one' >/dev/null
	mq-put q <<<'two' >/dev/null
	one=$(ready_of q one)
	run mq-hold "$one"
	[ "$status" -eq 0 ]
	# the new path, in held/, with the very same name
	[ "$output" = "$S/q/held/${one##*/}" ]
	[ ! -e "$one" ]
	[ "$(cat "$output")" = one ]
	h=$(mq-get q)
	[ "$(cat "$h")" = two ]
	mq-ack "$h"
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/held")" -eq 1 ]
}

@test "hold: every field but the claim token is kept" {
	id=$(mq-put -p 7 -T 1h q <<<'urgent')
	h=$(mq-get -L 1h q)
	[[ "$h" == "$S/q/inflight/$id,p7,a1,s7,x"*",l"*",t"* ]]
	held=$(mq-hold "$h")
	n=${h##*/}
	[ "$held" = "$S/q/held/${n%,l*}" ]
	[ "$(only q held)" = "$held" ]
	# a delayed one keeps its due time
	id=$(mq-put -D 1h q <<<'later')
	d=$(files q delayed)
	[[ "$d" == *"/$id,p4,a0,s6,n"* ]]
	run mq-hold "$d"
	[ "$status" -eq 0 ]
	[ "$output" = "$S/q/held/${d##*/}" ]
}

@test "hold: an in-flight message's lease no longer counts: never reclaimed" {
	conf max_attempts=1
	mq-put q <<<'slow' >/dev/null
	h=$(mq-get -L 1s q)
	held=$(mq-hold "$h")
	# the old handle is gone
	run mq-ack "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	sleep 1.2
	# the reclaimer (mq-get, mq-stat) leaves held/ alone: not ready, not dead
	run mq-get q
	[ "$status" -eq 1 ]
	run mq-stat -j q
	[[ "$output" == *'"ready":0,"delayed":0,"inflight":0,"dead":0,"held":1,'* ]]
	[ "$(only q held)" = "$held" ]
	[[ "$held" == *,a1,s5 ]]
}

@test "hold: a delayed message is not promoted when it comes due" {
	id=$(mq-put -D 1s q <<<'soon')
	held=$(mq-hold "$(files q delayed)")
	[[ "$held" == "$S/q/held/$id,p4,a0,s5,n"* ]]
	sleep 2.1
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(only q held)" = "$held" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "hold: handles from stdin, one per line; prints the new paths in order" {
	mq-put -l q < <(printf 'a\nb\nc\nd\n') >/dev/null
	run bash -c 'mq-get -n 3 q | mq-hold'
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 3 ]
	[ "$(each_body "${lines[@]}" | tr '\n' ' ')" = "a b c " ]
	for p in "${lines[@]}"; do
		[[ "$p" == "$S/q/held/"*,p4,a1,s1 ]]
	done
	# and ready ones, listed
	run bash -c 'mq-ls -s ready q | mq-hold'
	[ "$status" -eq 0 ]
	[ "$(cat "$output")" = d ]
	[ "$(count "$S/q/held")" -eq 4 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	# nothing on stdin: nothing to do
	run mq-hold </dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "hold: a handle that moved meanwhile exits 1, the others are held" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	a=$(ready_of q a)
	b=$(ready_of q b)
	c=$(ready_of q c)
	# a is claimed (and the claim acked), c is held by someone else
	mq-ack "$(mq-get q)"
	mq-hold "$c" >/dev/null
	h=$(mq-put q <<<'d' >/dev/null; mq-get q)
	[ "$(cat "$h")" = b ]
	mq-ack "$h"
	mq-put q <<<'e' >/dev/null
	e=$(ready_of q e)
	run --separate-stderr mq-hold "$a" "$c" "$e" "$b"
	[ "$status" -eq 1 ]
	[ "$output" = "$S/q/held/${e##*/}" ]
	[[ "$stderr" == *"mq-hold: $a: message moved meanwhile"* ]]
	[[ "$stderr" == *"mq-hold: $c: message moved meanwhile"* ]]
	[[ "$stderr" == *"mq-hold: $b: message moved meanwhile"* ]]
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 3 ]
	# an in-flight handle acked meanwhile: the lease is lost
	h=$(mq-get q)
	mq-ack "$h"
	run --separate-stderr mq-hold "$h"
	[ "$status" -eq 1 ]
	[ "$stderr" = "mq-hold: $h: lease lost: message acked, reclaimed or claimed again" ]
	# a delayed one promoted meanwhile, its bucket gone
	mq-put -A "$(($(date +%s) + 1))" q <<<'soon' >/dev/null
	d=$(files q delayed)
	sleep 2.1
	h=$(mq-get q)
	[ "$(cat "$h")" = soon ]
	run mq-hold "$d"
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/held")" -eq 2 ]
}

@test "hold: bad handles exit 65 and move nothing" {
	conf max_attempts=1 lease=1h
	mq-put q <<<'die' >/dev/null
	mq-nack "$(mq-get q)"
	dead=$(files q dead)
	mq-put q <<<'held' >/dev/null
	held=$(mq-hold "$(files q ready)")
	mq-put q <<<'ready' >/dev/null
	ready=$(files q ready)
	b=${ready%/*}
	n=${ready##*/}
	# another spool's message
	mq-put -d "$BATS_TEST_TMPDIR/other" q <<<'theirs' >/dev/null
	theirs=$(find "$BATS_TEST_TMPDIR/other/q/ready" -type f)
	# planted: a symlink and a hard link with valid names, a symlinked bucket
	ln -s "$ready" "$b/1700000000.000001.AAAAAAAA,p4,a0,s6"
	ln "$ready" "$BATS_TEST_TMPDIR/twin"
	ln -s "$b" "$S/q/ready/4.0000000099"
	# forged names: junk, a token outside inflight/, a reason outside dead/
	echo junk >"$b/junk"
	echo junk >"$b/1700000000.000002.AAAAAAAA,p4,a1,tTOKEN123"
	echo junk >"$b/1700000000.000003.AAAAAAAA,p4,a1,rattempts"
	before=$(tree_state "$S" "$BATS_TEST_TMPDIR/other")
	# (while the twin exists, the real one has two links: refused too)
	for p in "$dead" "$held" "$theirs" "$BATS_TEST_TMPDIR/twin" "$ready" \
	    "$b/1700000000.000001.AAAAAAAA,p4,a0,s6" \
	    "$S/q/ready/4.0000000099/$n" "$b/junk" \
	    "$b/1700000000.000002.AAAAAAAA,p4,a1,tTOKEN123" \
	    "$b/1700000000.000003.AAAAAAAA,p4,a1,rattempts" \
	    "$S/q/ready/$n" "$S/q/$n" "$S/q/dead/$n" "$S/q/tmp/$n" \
	    "$S/q/held/$n" "$S/q/delayed/$n" "$S/q/delayed/4.0000000001/$n" \
	    "$S/q/ready/junk/$n" "$S/q/ready/4.1/$n" "$b" "$b/" "$n" \
	    "$b/../../ready/${b##*/}/$n/" "$S/../spool/q/../../x/$n" \
	    "$BATS_TEST_TMPDIR/q/ready/${b##*/}/$n"; do
		run --separate-stderr mq-hold "$p"
		echo "$p: $status $stderr"
		[ "$status" -eq 65 ]
		[ -z "$output" ]
		[ "$stderr" = "mq-hold: $p: not a message of this spool in that state" ]
	done
	[ "$(tree_state "$S" "$BATS_TEST_TMPDIR/other")" = "$before" ]
	# ... and the real one is held, once the twin is gone
	rm "$BATS_TEST_TMPDIR/twin"
	run mq-hold "$ready"
	[ "$status" -eq 0 ]
}

@test "hold: a handle through .. inside the spool is fine; the queue must exist" {
	mq-put q <<<'x' >/dev/null
	f=$(files q ready)
	b=${f%/*}
	run mq-hold "$S/q/tmp/../ready/${b##*/}/${f##*/}"
	[ "$status" -eq 0 ]
	[ "$output" = "$S/q/held/${f##*/}" ]
	run mq-hold "$S/nosuch/ready/4.0000000001/${f##*/}"
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
}

@test "hold: mq-stat counts, mq-ls lists and mq-purge deletes held messages" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	mq-ls -s ready q | head -n 2 | mq-hold >/dev/null
	run mq-stat -j q
	[[ "$output" == '{"queue":"q","ready":1,"delayed":0,"inflight":0,"dead":0,"held":2,'* ]]
	run mq-stat q
	[ "$(printf '%s\n' "$output" | tr -s ' ' | cut -d' ' -f1-6)" = "$(printf 'QUEUE READY DELAYED INFLIGHT DEAD HELD\nq 1 0 0 0 2')" ]
	run mq-ls -s held q
	[ "${#lines[@]}" -eq 2 ]
	[ "$(each_body "${lines[@]}" | tr '\n' ' ')" = "a b " ]
	# held messages come last in a full listing
	run mq-ls q
	[ "$(each_body "${lines[@]}" | tr '\n' ' ')" = "c a b " ]
	run mq-purge -s held q
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/held")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "hold: a queue made before held/ existed works with every tool" {
	conf max_attempts=1 lease=1h backoff=0
	mq-put -l q < <(printf 'a\nb\nc\nd\n') >/dev/null
	rmdir "$S/q/held"
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[[ "$output" == *'"ready":4,"delayed":0,"inflight":0,"dead":0,"held":0,'* ]]
	run mq-ls -s held q
	[ "$status" -eq 0 ] && [ -z "$output" ]
	run mq-ls q
	[ "$status" -eq 0 ] && [ "${#lines[@]}" -eq 4 ]
	run mq-purge -s held q
	[ "$status" -eq 0 ]
	run mq-release -a q
	[ "$status" -eq 0 ]
	run mq-release "$S/q/held/1700000000.000001.AAAAAAAA,p4,a0"
	[ "$status" -eq 1 ]
	mq-put q <<<'e' >/dev/null
	mq-ack "$(mq-get q)"
	mq-nack "$(mq-get q)" # dead: max_attempts 1
	mq-kick q
	mq-touch "$(mq-get q)"
	[ ! -e "$S/q/held" ]
	# the first hold makes it
	h=$(mq-get q)
	run mq-hold "$h"
	[ "$status" -eq 0 ]
	[ -d "$S/q/held" ] && [ ! -L "$S/q/held" ]
	[ "$(only q held)" = "$output" ]
	mq-release "$output"
	[ "$(count "$S/q/held")" -eq 0 ]
	# and with sync = none too
	rmdir "$S/q/held"
	conf sync=none
	run mq-hold "$(files q ready | head -n 1)"
	[ "$status" -eq 0 ]
	[ -f "$output" ]
}

@test "hold: holds racing consumers: every message ends up held or claimed, once" {
	conf bucket_size=16
	seq 1 300 | mq-put -l q >/dev/null
	# consumers take from the front, the hold from the back: they meet
	mq-ls -s ready q | tac >"$BATS_TEST_TMPDIR/paths"
	for i in 1 2 3; do
		(while mq-get -n 10 q; do :; done >"$BATS_TEST_TMPDIR/got$i") &
	done
	mq-hold <"$BATS_TEST_TMPDIR/paths" >"$BATS_TEST_TMPDIR/held" 2>/dev/null || :
	wait
	got=$(cat "$BATS_TEST_TMPDIR"/got* | wc -l)
	held=$(wc -l <"$BATS_TEST_TMPDIR/held")
	echo "got $got held $held"
	[ $((got + held)) -eq 300 ]
	[ "$(count "$S/q/held")" -eq "$held" ]
	[ "$(count "$S/q/inflight")" -eq "$got" ]
	[ "$(cat "$BATS_TEST_TMPDIR"/got* "$BATS_TEST_TMPDIR/held" | while read -r f; do each_body "$f"; done | sort -n | uniq | wc -l)" -eq 300 ]
}

@test "hold: -d names the spool" {
	sp=$BATS_TEST_TMPDIR/other
	mq-put -d "$sp" q <<<'x' >/dev/null
	f=$(find "$sp/q/ready" -type f)
	run mq-hold "$f"
	[ "$status" -eq 65 ]
	run mq-hold -d "$sp" "$f"
	[ "$status" -eq 0 ]
	[ "$output" = "$sp/q/held/${f##*/}" ]
}

@test "hold: usage errors exit 64" {
	run --separate-stderr mq-hold -x
	[ "$status" -eq 64 ]
	[ "$stderr" = "$(printf '%s\n' "mq-hold: invalid option -- 'x'" "usage: mq-hold [-d dir] [handle ...]")" ]
}
