#!/usr/bin/env bats
# Faults from outside: files changed behind mq's back, clocks, configs,
# descriptors. Each: a clear error or a documented outcome, nothing lost,
# and the next run works once the fault is gone.

bats_require_minimum_version 1.5.0
load test_helper

# faked OFFSET CMD... - run CMD with the clock moved by OFFSET (e.g. -1h)
# (libfaketime's clock interception hangs ASan-instrumented tools at start:
# those tests run in the plain build only)
faked() {
	local off=$1
	shift
	faketime -f "$off" "$@"
}

@test "faults: a claimed message removed behind mq's back: ack says lease lost (1), the rest go on" {
	seq 2 | mq-put -l q >/dev/null
	mq-get -n 2 q >"$BATS_TEST_TMPDIR/h"
	rm "$(head -1 "$BATS_TEST_TMPDIR/h")"
	run --separate-stderr mq-ack <"$BATS_TEST_TMPDIR/h"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"lease lost"* ]]
	[ "$(msgs q)" -eq 0 ]
}

@test "faults: a ready message removed behind mq's back is simply not delivered" {
	seq 3 | mq-put -l q >/dev/null
	rm "$(files q ready | sed -n 2p)"
	run mq-get -n 3 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "faults: a message truncated behind mq's back is found by mq-fsck (size in its name) and quarantined" {
	mq-put q <<<"a long enough body" >/dev/null
	mq-put q <<<intact >/dev/null
	f=$(files q ready | head -1)
	: >"$f"
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" quarantined=1 "* ]]
	[ ! -s "$(ls -d "$S"/q/quarantine/*)" ]
	[ "$(cat "$(mq-get q)")" = intact ]
}

@test "faults: a clock stepped back: messages put after it are delivered, none lost" {
	[ "${MQ_SANITIZE:-}" != 1 ] || skip "libfaketime hangs ASan builds; run in the plain build"
	seq 3 | mq-put -l q >/dev/null
	seq 4 6 | faked -1h mq-put -l q >/dev/null
	run faked -1h mq-get -n 10 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 6 ]
	printf '%s\n' "${lines[@]}" | mq-ack
	[ "$(msgs q)" -eq 0 ]
}

@test "faults: a clock stepped back does not expire or delay what it should not" {
	[ "${MQ_SANITIZE:-}" != 1 ] || skip "libfaketime hangs ASan builds; run in the plain build"
	mq-put -T 1h q <<<ttl >/dev/null
	mq-put -D 1h q <<<later >/dev/null
	run faked -2h mq-get -n 10 q
	[ "${#lines[@]}" -eq 1 ]
	[ "$(cat "${lines[0]}")" = ttl ]
}

@test "faults: the global config disappearing mid-run: a clear 78, nothing written; back, it works" {
	echo 'sync = none' >"$MQ_CONF"
	mq-put q <<<one >/dev/null
	rm "$MQ_CONF"
	run --separate-stderr mq-put q <<<two
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"$MQ_CONF: No such file or directory"* ]]
	[ "$(msgs q)" -eq 1 ]
	[ -z "$(ls "$S/q/tmp")" ]
	: >"$MQ_CONF"
	mq-put q <<<two >/dev/null
	[ "$(msgs q)" -eq 2 ]
}

@test "faults: a queue's mq.conf removed while mq-work runs: the worker goes on with what it read" {
	mq-init q
	echo 'lease = 1m' >"$S/q/mq.conf"
	T=$BATS_TEST_TMPDIR
	mq-work q sh -c 'cat >>"$0/got"; echo >>"$0/got"' "$T" &
	w=$!
	mq-put q <<<first >/dev/null
	wait_for 10 grep -qx first "$T/got"
	rm "$S/q/mq.conf"
	mq-put q <<<second >/dev/null
	wait_for 10 grep -qx second "$T/got"
	kill -TERM "$w"
	wait "$w"
}

@test "faults: too many open files: mq-put -l and mq-ack fail with 75, nothing lost or half-written" {
	seq 100 | mq-put -l q >/dev/null
	seq 5 >"$BATS_TEST_TMPDIR/lines"
	# stdin opened before the limit; bats' own descriptors closed
	run bash -c 'exec <"$1" 3>&- 4>&-; ulimit -n 5; exec mq-put -l q' _ "$BATS_TEST_TMPDIR/lines"
	[ "$status" -eq 75 ]
	[ -z "$(ls "$S/q/tmp")" ]
	[ "$(msgs q)" -eq 100 ]
	mq-get -n 10 q >"$BATS_TEST_TMPDIR/h"
	run bash -c 'exec <"$1" 3>&- 4>&-; ulimit -n 5; exec mq-ack' _ "$BATS_TEST_TMPDIR/h"
	[ "$status" -eq 75 ]
	[ "$(msgs q)" -eq 100 ]
	mq-ack <"$BATS_TEST_TMPDIR/h"
	[ "$(msgs q)" -eq 90 ]
}

@test "faults: a stray file and a stray directory in the spool and the queue change nothing" {
	mq-put q <<<x >/dev/null
	echo stray >"$S/stray-file"
	mkdir "$S/stray-dir" "$S/q/stray-dir"
	echo stray >"$S/q/ready/stray"
	run mq-stat
	[ "$status" -eq 0 ]
	[[ "$output" == *"q "* ]]
	[ "$(cat "$(mq-get q)")" = x ]
	mq-put q <<<y >/dev/null
	[ "$(cat "$S/q/ready/stray")" = stray ]
}
