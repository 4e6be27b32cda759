#!/usr/bin/env bats
# mq-ack: acknowledging claimed messages.
load test_helper
bats_require_minimum_version 1.5.0

# claim QUEUE [BODY] - put a message and claim it, print the handle
claim() {
	mq-put "$1" <<<"${2:-body}" >/dev/null
	mq-get "$1"
}

# snapshot - every path below the spool and every file's content
snapshot() {
	(cd "$S" && find . -print0 | sort -z | xargs -0 ls -ld --time-style=+%s.%N &&
	    find . -type f -print0 | sort -z | xargs -0 -r md5sum)
}

# a valid-looking in-flight name
NAME=1700000000.000001.AAAAAAAA,p4,a1,s6,tTOKEN123

@test "ack: removes the in-flight file, exit 0, no output" {
	mq-put q <<<other >/dev/null
	h=$(claim q)
	run mq-ack "$h"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$h" ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	# the rest of the queue is untouched
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(count "$S/q/dead")" -eq 0 ]
}

@test "ack: several handles as operands" {
	mq-put -l q < <(printf 'a\nb\nc\nd\n') >/dev/null
	mapfile -t hs < <(mq-get -n 3 q)
	[ "${#hs[@]}" -eq 3 ]
	run mq-ack "${hs[@]}"
	[ "$status" -eq 0 ]
	for h in "${hs[@]}"; do
		[ ! -e "$h" ]
	done
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "ack: handles from stdin (mq-get -n 3 q | mq-ack)" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	run bash -c 'mq-get -n 3 q | mq-ack'
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "ack: stdin: empty lines are skipped, last line without newline counts" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 q)
	run mq-ack < <(printf '\n%s\n\n%s' "${hs[0]}" "${hs[1]}")
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

# found by fuzz/fuzz-records.c (fuzz/corpus/records/regression-nul-in-line)
@test "ack: a stdin line with a NUL byte is refused whole (65), by mq-touch too (h1 NUL h2 acked h1 and exited 0)" {
	printf 'a\nb\n' | mq-put -l q >/dev/null
	h1=$(mq-get q)
	h2=$(mq-get q)
	run mq-ack < <(printf '%s\0%s\n' "$h1" "$h2")
	[ "$status" -eq 65 ]
	[[ "$output" == *"$h1\\0$h2: not a message of this spool"* ]]
	[ "$(count "$S/q/inflight")" -eq 2 ]
	run mq-touch < <(printf '%s\0\n' "$h1")
	[ "$status" -eq 65 ]
	printf '%s\n%s' "$h1" "$h2" | mq-ack
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "ack: no operands and empty stdin: nothing to do, exit 0" {
	run mq-ack </dev/null
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "ack: handles of several queues in one run" {
	h1=$(claim q1)
	h2=$(claim q2)
	run mq-ack "$h1" "$h2"
	[ "$status" -eq 0 ]
	[ ! -e "$h1" ] && [ ! -e "$h2" ]
}

@test "ack: acked twice -> exit 1, lease lost" {
	h=$(claim q)
	mq-ack "$h"
	run mq-ack "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	[[ "$output" == *"$h"* ]]
}

@test "ack: lease expired and reclaimed -> exit 1, the ready message untouched" {
	h=$(mq-put q <<<x >/dev/null && mq-get -L 1 q)
	reclaimed() {
		mq-stat q >/dev/null && [ "$(count "$S/q/inflight")" -eq 0 ]
	}
	wait_for 5 reclaimed
	f=$(only q ready)
	run mq-ack "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease"* ]]
	[ -f "$f" ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "ack: claimed again by another mq-get -> exit 1, the new claimant's message untouched" {
	mq-put q <<<payload >/dev/null
	old=$(mq-get -L 1 q)
	wait_for 5 try_get q
	new=$h
	[ "$new" != "$old" ]
	run mq-ack "$old"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	[ -f "$new" ]
	[ "$(cat "$new")" = payload ]
	[ "$(count "$S/q/inflight")" -eq 1 ]
	# and the new claimant can still ack
	run mq-ack "$new"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "ack: lease expired but not yet reclaimed: the ack still succeeds" {
	h=$(mq-put q <<<x >/dev/null && mq-get -L 1 q)
	d=$(deadline "$h")
	expired() {
		[ "$(date +%s)" -gt "$d" ]
	}
	wait_for 5 expired
	run mq-ack "$h"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q")" -eq 1 ]	# only the lock file
}

@test "ack: /etc/passwd -> 65, nothing changed" {
	h=$(claim q)
	sum=$(md5sum </etc/passwd)
	before=$(snapshot)
	run mq-ack /etc/passwd
	[ "$status" -eq 65 ]
	[ "$(md5sum </etc/passwd)" = "$sum" ]
	[ "$(snapshot)" = "$before" ]
	[ -f "$h" ]
}

@test "ack: ../ paths escaping the spool -> 65, the target survives" {
	h=$(claim q)
	mkdir -p "$BATS_TEST_TMPDIR/evil/inflight" "$BATS_TEST_TMPDIR/evil/q/inflight"
	printf victim >"$BATS_TEST_TMPDIR/evil/inflight/$NAME"
	printf victim >"$BATS_TEST_TMPDIR/evil/q/inflight/$NAME"
	before=$(snapshot)
	for p in "$S/q/inflight/../../../evil/inflight/$NAME" \
	    "$S/../evil/q/inflight/$NAME" \
	    "$S/q/../../evil/q/inflight/$NAME" \
	    "$S/q/inflight/../../../evil/q/inflight/$NAME" \
	    "../../evil/q/inflight/$NAME"; do
		run mq-ack "$p"
		[ "$status" -eq 65 ] || { echo "[$p]: $status"; false; }
	done
	[ "$(cat "$BATS_TEST_TMPDIR/evil/inflight/$NAME")" = victim ]
	[ "$(cat "$BATS_TEST_TMPDIR/evil/q/inflight/$NAME")" = victim ]
	[ "$(snapshot)" = "$before" ]
}

@test "ack: a sibling directory whose name starts with the spool's -> 65" {
	mkdir -p "${S}2/q/inflight"
	printf victim >"${S}2/q/inflight/$NAME"
	mq-init q
	run mq-ack "${S}2/q/inflight/$NAME"
	[ "$status" -eq 65 ]
	[ -f "${S}2/q/inflight/$NAME" ]
}

@test "ack: a ready message path -> 65, message stays ready" {
	mq-put q <<<x >/dev/null
	f=$(only q ready)
	before=$(snapshot)
	run mq-ack "$f"
	[ "$status" -eq 65 ]
	[ "$(snapshot)" = "$before" ]
}

@test "ack: a delayed message path -> 65, nothing changed" {
	mq-put -D 1h q <<<x >/dev/null
	f=$(only q delayed)
	before=$(snapshot)
	run mq-ack "$f"
	[ "$status" -eq 65 ]
	[ "$(snapshot)" = "$before" ]
}

@test "ack: a dead message path -> 65, nothing changed" {
	mq-init q
	printf x >"$S/q/dead/1700000000.000001.AAAAAAAA,p4,a5,s1,rattempts"
	before=$(snapshot)
	run mq-ack "$S/q/dead/1700000000.000001.AAAAAAAA,p4,a5,s1,rattempts"
	[ "$status" -eq 65 ]
	[ "$(snapshot)" = "$before" ]
}

@test "ack: an in-flight name moved to dead/ (token kept) -> 65" {
	h=$(claim q)
	mv "$h" "$S/q/dead/"
	run mq-ack "$S/q/dead/$(basename "$h")"
	[ "$status" -eq 65 ]
	[ -f "$S/q/dead/$(basename "$h")" ]
}

@test "ack: a symlink planted in inflight/ with a valid name -> 65, the target survives" {
	mq-init q
	printf precious >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$S/q/inflight/$NAME"
	run mq-ack "$S/q/inflight/$NAME"
	[ "$status" -eq 65 ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
	[ -L "$S/q/inflight/$NAME" ]
}

@test "ack: a symlink in inflight/ to another in-flight message -> 65, both survive" {
	h=$(claim q)
	ln -s "$h" "$S/q/inflight/$NAME"
	run mq-ack "$S/q/inflight/$NAME"
	[ "$status" -eq 65 ]
	[ -f "$h" ]
	[ -L "$S/q/inflight/$NAME" ]
}

@test "ack: a queue directory that is a symlink out of the spool -> 65, target survives" {
	mq-init q
	mkdir -p "$BATS_TEST_TMPDIR/outside/inflight"
	printf precious >"$BATS_TEST_TMPDIR/outside/inflight/$NAME"
	ln -s "$BATS_TEST_TMPDIR/outside" "$S/evil"
	run mq-ack "$S/evil/inflight/$NAME"
	[ "$status" -eq 65 ]
	[ "$(cat "$BATS_TEST_TMPDIR/outside/inflight/$NAME")" = precious ]
}

@test "ack: an inflight/ directory that is a symlink out of the spool -> 65, target survives" {
	mq-init q
	mkdir -p "$BATS_TEST_TMPDIR/outside"
	printf precious >"$BATS_TEST_TMPDIR/outside/$NAME"
	# a complete-looking queue whose inflight/ leads out of the spool
	mkdir -p "$S/evil/ready" "$S/evil/delayed" "$S/evil/dead" "$S/evil/tmp"
	: >"$S/evil/lock"
	ln -s "$BATS_TEST_TMPDIR/outside" "$S/evil/inflight"
	run mq-ack "$S/evil/inflight/$NAME"
	# refused (65, or 66 as the queue is not a valid one), never "lease lost"
	[ "$status" -eq 65 ] || [ "$status" -eq 66 ]
	[ "$(cat "$BATS_TEST_TMPDIR/outside/$NAME")" = precious ]
}

@test "ack: a handle of another spool (-d) -> 65, nothing changed" {
	h=$(claim q)
	mq-init -d "$BATS_TEST_TMPDIR/other" q
	before=$(snapshot)
	run mq-ack -d "$BATS_TEST_TMPDIR/other" "$h"
	[ "$status" -eq 65 ]
	[ "$(snapshot)" = "$before" ]
	run mq-ack -d "$BATS_TEST_TMPDIR/nonexistent" "$h"
	[ "$status" -eq 65 ]
	[ "$(snapshot)" = "$before" ]
	[ -f "$h" ]
}

@test "ack: a handle in a queue that does not exist -> 66, no such queue (was 65, as if not of this spool)" {
	mq-init q
	run mq-ack "$S/nosuch/inflight/1795488607.232386.EK2Rnnus,p4,a1,s14,tz08xgzpo"
	[ "$status" -eq 66 ]
	[[ "$output" == *"no such queue"* ]]
}

@test "ack: -d naming the handle's spool works" {
	h=$(claim q)
	run env -u MQ_SPOOL mq-ack -d "$S" "$h"
	[ "$status" -eq 0 ]
	[ ! -e "$h" ]
}

@test "ack: a spool root reached through a symlink works" {
	mkdir "$BATS_TEST_TMPDIR/real"
	ln -s "$BATS_TEST_TMPDIR/real" "$BATS_TEST_TMPDIR/link"
	export MQ_SPOOL=$BATS_TEST_TMPDIR/link
	mq-put q <<<x >/dev/null
	h=$(mq-get q)
	run mq-ack "$h"
	[ "$status" -eq 0 ]
	[ "$(count "$BATS_TEST_TMPDIR/real/q/inflight")" -eq 0 ]
}

@test "ack: malformed names in inflight/ -> 65, nothing changed" {
	h=$(claim q)
	base=$(basename "$h")
	id=${base%%,*}
	i=$S/q/inflight
	printf x >"$i/garbage"
	printf x >"$i/$id,p4,a1,s5"              # no token
	printf x >"$i/$id,p4,a1,s5,tABC"         # token too short
	printf x >"$i/$id,p4,a1,s5,tABCDEFGHIJKLMNOPQ"   # token too long
	printf x >"$i/$id,a1,p4,s5,tTOKEN123"    # fields out of order
	printf x >"$i/$id,p4,a1,s5,tTOKEN123,x"  # trailing junk
	printf x >"$i/$id,p4,a1,s5,tTOK-EN12"    # bad token character
	mkdir "$i/$NAME"                         # a directory
	before=$(snapshot)
	for n in garbage "$id,p4,a1,s5" "$id,p4,a1,s5,tABC" \
	    "$id,p4,a1,s5,tABCDEFGHIJKLMNOPQ" "$id,a1,p4,s5,tTOKEN123" \
	    "$id,p4,a1,s5,tTOKEN123,x" "$id,p4,a1,s5,tTOK-EN12" "$NAME"; do
		run mq-ack "$i/$n"
		[ "$status" -eq 65 ] || { echo "[$n]: $status"; false; }
	done
	[ "$(snapshot)" = "$before" ]
	[ -f "$h" ]
}

@test "ack: paths that are not SPOOL/QUEUE/inflight/NAME -> 65" {
	h=$(claim q)
	base=$(basename "$h")
	cp "$h" "$S/q/tmp/$base"
	cp "$h" "$S/$base"
	before=$(snapshot)
	for p in "$S/q/tmp/$base" "$S/$base" "$base" "" "/" "$S/q/inflight" \
	    "$S/q/inflight/" "$S/q" "$S"; do
		run mq-ack "$p"
		[ "$status" -eq 65 ] || { echo "[$p]: $status"; false; }
	done
	[ "$(snapshot)" = "$before" ]
}

@test "ack: a handle directly under / (/inflight/NAME) -> 65 (was matched against the handle cache before any queue was resolved)" {
	mq-init q
	run mq-ack "/inflight/1795488607.232386.EK2Rnnus,p4,a1,s14,tz08xgzpo"
	[ "$status" -eq 65 ]
}

@test "ack: mixed good and bad handles: good ones acked, status non-zero" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 q)
	run mq-ack "${hs[0]}" /etc/passwd "${hs[1]}"
	[ "$status" -eq 65 ]
	[ ! -e "${hs[0]}" ] && [ ! -e "${hs[1]}" ]
	[ -f /etc/passwd ]
}

@test "ack: mixed good and stale handles: good ones acked, status 1" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	mapfile -t hs < <(mq-get -n 3 q)
	mq-ack "${hs[1]}"
	run mq-ack "${hs[0]}" "${hs[1]}" "${hs[2]}"
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "ack: stale and foreign handles together: status is the worst (65)" {
	h=$(claim q)
	mq-ack "$h"
	run mq-ack "$h" /etc/passwd
	[ "$status" -eq 65 ]
	run mq-ack /etc/passwd "$h"
	[ "$status" -eq 65 ]
}

@test "ack: mixed handles on stdin: good ones acked, status non-zero" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 q)
	run mq-ack < <(printf '%s\n' "${hs[0]}" /etc/passwd "${hs[1]}")
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "ack: works with sync=none and sync=batch" {
	for mode in none batch; do
		conf "sync=$mode"
		h=$(claim "q$mode")
		run mq-ack "$h"
		[ "$status" -eq 0 ]
		[ ! -e "$h" ]
	done
}

@test "ack: -h -> 0 with usage on stdout, -V prints the version, bad option -> 64" {
	run --separate-stderr mq-ack -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: mq-ack"* ]]
	[ -z "$stderr" ]
	run mq-ack -V
	[ "$status" -eq 0 ]
	[ "$output" = "mq-ack 0.1.0" ]
	h=$(claim q)
	run mq-ack -x "$h"
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
	[ -f "$h" ]
	run mq-ack -d
	[ "$status" -eq 64 ]
}

@test "ack: read-only spool -> 73, the message stays in flight" {
	h=$(claim q)
	ro_spool
	run mq-ack -d "$RO" "$RO/q/inflight/$(basename "$h")"
	[ "$status" -eq 73 ]
	umount "$RO"
	[ -f "$h" ]
}

@test "ack: stdin from a slow writer: each line is acked as it comes, and no lock is held while mq-ack waits for more" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 q)
	mkfifo "$BATS_TEST_TMPDIR/in"
	mq-ack <"$BATS_TEST_TMPDIR/in" 3>&- &
	pid=$!
	exec 8>"$BATS_TEST_TMPDIR/in"
	echo "${hs[0]}" >&8
	for _ in $(seq 100); do
		[ -e "${hs[0]}" ] || break
		sleep 0.05
	done
	[ ! -e "${hs[0]}" ]
	[ -e "${hs[1]}" ]
	# mq-stat takes the queue lock exclusive: mq-ack, reading, holds none
	run timeout 5 mq-stat q
	[ "$status" -eq 0 ]
	echo "${hs[1]}" >&8
	exec 8>&-
	wait "$pid"
	[ ! -e "${hs[1]}" ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "ack: a run of handles broken by a grouped message and by another queue's: each acked, the group goes on" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mq-put -g G q <<<g1 >/dev/null
	mq-put -g G q <<<g2 >/dev/null
	mq-put r <<<r1 >/dev/null
	mapfile -t hs < <(mq-get -n 3 q)
	[ "${#hs[@]}" -eq 3 ]
	hr=$(mq-get r)
	run mq-ack < <(printf '%s\n' "${hs[0]}" "$hr" "${hs[1]}" "${hs[2]}")
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/r/inflight")" -eq 0 ]
	# the group's next is out now
	h=$(mq-get q)
	[ "$(cat "$h")" = g2 ]
	mq-ack "$h"
}
