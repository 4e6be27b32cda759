#!/usr/bin/env bats
# mq-mv: moving messages to another queue, id, key, group and headers kept.
load test_helper
bats_require_minimum_version 1.5.0

# ids QUEUE... - the ids of every message file of the queues, sorted
ids() {
	local q
	for q in "$@"; do
		find "$S/$q" -path "$S/$q/keys" -prune -o -type f -name '*,*' \
		    -print
	done | sed 's,.*/,,; s/,.*//' | sort
}

@test "mv: a ready, a delayed, a held and a dead message by path: ready (or delayed) in dest, ids kept" {
	four_states q
	mq-init d
	before=$(ids q)
	run mq-mv d "$ready_f" "$delayed_f" "$held_f" "$dead_f"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(msgs q)" -eq 0 ]
	[ "$(ids d)" = "$before" ]
	[ "$(count "$S/d/ready")" -eq 3 ]
	[ "$(count "$S/d/delayed")" -eq 1 ]
	# a fresh start: no attempts, no dead reason
	! find "$S/d" -name '*,a[1-9]*' | grep -q .
	! find "$S/d" -name '*,r*' | grep -q .
}

@test "mv: -a moves a whole state, ready by default; -s picks delayed, held or dead" {
	conf max_attempts=1
	seq 3 | mq-put -l q >/dev/null
	seq 2 | mq-put -l -D 1h q >/dev/null
	mq-put q <<<d1 >/dev/null
	mq-init d
	mq-mv -a q d
	[ "$(count "$S/d/ready")" -eq 4 ]
	[ "$(count "$S/q/delayed")" -eq 2 ]
	mq-get d | mq-nack
	[ "$(count "$S/d/dead")" -eq 1 ]
	mq-ls d | head -n 1 | mq-hold >/dev/null
	mq-mv -a -s dead d q
	mq-mv -a -s held d q
	mq-mv -a -s delayed q d
	[ "$(count "$S/q/delayed")" -eq 0 ]
	[ "$(count "$S/d/delayed")" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/d/ready")" -eq 2 ]
	run mq-mv -a -s inflight q d
	[ "$status" -eq 64 ]
	run mq-mv -s dead d "$(mq-ls q | head -n 1)"
	[ "$status" -eq 64 ]
}

@test "mv: paths from standard input; an empty input moves nothing" {
	seq 5 | mq-put -l q >/dev/null
	mq-init d
	mq-mv d </dev/null
	[ "$(msgs q)" -eq 5 ]
	mq-ls q | head -n 3 | mq-mv d
	[ "$(msgs q)" -eq 2 ]
	[ "$(msgs d)" -eq 3 ]
}

@test "mv: priority, expiry, headers and body kept; attempts back to 0" {
	mq-put -p 8 -T 1h -H trace=abc -H x.y=1 q <<<body >/dev/null
	mq-nack -D 0 "$(mq-get q)"
	f=$(mq-ls q)
	[[ "$f" == *,a1,* ]]
	mq-init d
	mq-mv d "$f"
	g=$(mq-ls d)
	[[ "$g" == */ready/8.* ]]
	[[ "$g" == *,a0,* ]]
	[ "${g##*/}" = "$(sed 's/,a1,/,a0,/' <<<"${f##*/}")" ]
	[ "$(cat "$g")" = body ]
	run mq-show "$g"
	[[ "$output" == *"trace: abc"* ]] || [[ "$output" == *"trace=abc"* ]]
	[[ "$output" == *"x.y"* ]]
}

@test "mv: a key moves: dedup in dest, the source's key kept for dedup_window" {
	id=$(mq-put -k order-1 q <<<x)
	mq-init d
	mq-mv -a q d
	[ "$(mq-put -k order-1 d <<<x)" = "$id" ]
	[ "$(msgs d)" -eq 1 ]
	[ "$(mq-put -k order-1 q <<<x)" = "$id" ]
	[ "$(msgs q)" -eq 0 ]
	# live in dest, a deadline in the source
	[ "$(stat -c %Y "$(key_file d order-1)")" -eq 4102444800 ]
	[ "$(stat -c %Y "$(key_file q order-1)")" -lt 4102444800 ]
	conf dedup_window=0
	id2=$(mq-put -k order-2 q <<<y)
	mq-mv -a q d
	[ "$(mq-put -k order-2 q <<<y)" != "$id2" ]
	[ "$(mq-put -k order-2 d <<<y)" = "$id2" ]
}

@test "mv: a key dest knows for another message is refused (65), the message stays" {
	mq-put -k k1 q <<<x >/dev/null
	other=$(mq-put -k k1 d <<<y)
	f=$(mq-ls q)
	run mq-mv d "$f"
	[ "$status" -eq 65 ]
	[[ "$output" == *"knows the message's key for another message"* ]]
	[ -e "$f" ]
	[ "$(msgs d)" -eq 1 ]
	[ "$(mq-put -k k1 d <<<z)" = "$other" ]
	mq-put q <<<free >/dev/null
	run mq-mv -a q d
	[ "$status" -eq 65 ]
	[[ "$output" == *"some kept"* ]]
	[ "$(msgs q)" -eq 1 ]
	[ "$(msgs d)" -eq 2 ]
}

@test "mv: an id dest holds is refused (65): a fan-out copy to a fellow subscriber" {
	mq-init a b
	mq-sub t a b
	mq-put t <<<x >/dev/null
	run mq-mv b "$(mq-ls a)"
	[ "$status" -eq 65 ]
	[[ "$output" == *"holds a message with that id"* ]]
	[ "$(msgs a)" -eq 1 ]
	[ "$(msgs b)" -eq 1 ]
	run mq-mv -a a b
	[ "$status" -eq 65 ]
	[ "$(msgs a)" -eq 1 ]
	# and two of one id in one run: the first goes, the second stays
	mq-init c
	run mq-mv c "$(mq-ls a)" "$(mq-ls b)"
	[ "$status" -eq 65 ]
	[ "$(msgs c)" -eq 1 ]
	[ "$(($(msgs a) + $(msgs b)))" -eq 1 ]
}

@test "mv: a fan-out copy whose put is still on its way to dest is refused" {
	mq-init a b
	mq-sub t a
	mq-put t <<<x >/dev/null
	mq-sub t b
	c=$(mq-ls a)
	id=$(basename "$c" | cut -d, -f1)
	# the topic's body stays in its tmp/ until every subscriber has it
	: >"$S/t/tmp/$id"
	run mq-mv b "$c"
	[ "$status" -eq 65 ]
	[[ "$output" == *"holds a message with that id"* ]]
	[ "$(msgs b)" -eq 0 ]
	rm "$S/t/tmp/$id"
	mq-mv b "$c"
	[ "$(msgs b)" -eq 1 ]
	[ "$(msgs a)" -eq 0 ]
}

@test "mv: two movers into one queue take turns (byte 520), so none doubles an id" {
	[ -r /proc/locks ] || skip "no /proc/locks to see mq-mv wait"
	mq-init d
	mq-put q <<<x >/dev/null
	# a mover into d under way, waiting for its input
	mkfifo "$BATS_TEST_TMPDIR/in"
	mq-mv d <"$BATS_TEST_TMPDIR/in" &
	first=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	wait_for 10 lock_held "$S/d/lock" 520
	# the second waits for the first to end before it lists d's ids
	mq-mv -a q d 5>&- &
	second=$!
	wait_for 10 lock_waits "$S/d/lock" 520
	[ "$(msgs d)" -eq 0 ]
	exec 5>&-
	wait "$first"
	wait "$second"
	[ "$(msgs d)" -eq 1 ]
}

@test "mv: an id moved out of dest since the mover listed it is not refused (movers both ways)" {
	mq-init a b
	id=$(mq-put b <<<x)
	mkfifo "$BATS_TEST_TMPDIR/in"
	# a mover into b that has listed b's ids (it waits for its input)
	mq-mv b <"$BATS_TEST_TMPDIR/in" 2>"$BATS_TEST_TMPDIR/err" &
	m=$!
	exec 5>"$BATS_TEST_TMPDIR/in"
	wait_for 10 bash -c "read -r n fd rest </proc/$m/syscall && [ \"\$n\" = 0 ] && [ \"\$fd\" = 0x0 ]"
	# the other way meanwhile: the message comes to a
	mq-mv -a b a
	[ "$(msgs a)" -eq 1 ]
	mq-ls a >&5
	exec 5>&-
	wait "$m"
	[ ! -s "$BATS_TEST_TMPDIR/err" ]
	[ "$(msgs a)" -eq 0 ]
	[ "$(ids b)" = "$id" ]
}

@test "mv: dest the source, a topic, a bad name or missing: refused, nothing moves" {
	mq-put q <<<x >/dev/null
	f=$(mq-ls q)
	run mq-mv -a q q
	[ "$status" -eq 64 ]
	run mq-mv q "$f"
	[ "$status" -eq 65 ]
	[[ "$output" == *"in the destination queue already"* ]]
	mq-init s
	mq-sub t s
	run mq-mv t "$f"
	[ "$status" -eq 64 ]
	[[ "$output" == *"topic"* ]]
	run mq-mv '../x' "$f"
	[ "$status" -eq 64 ]
	run mq-mv -a q 'a/b'
	[ "$status" -eq 64 ]
	run mq-mv nosuch "$f"
	[ "$status" -eq 66 ]
	run mq-mv -a q
	[ "$status" -eq 64 ]
	[ -e "$f" ]
	[ "$(msgs q)" -eq 1 ]
}

@test "mv: an in-flight handle is refused with 65, a message gone is 1" {
	seq 2 | mq-put -l q >/dev/null
	mq-init d
	mq-ls q >"$BATS_TEST_TMPDIR/paths"
	h=$(mq-get q)
	run mq-mv d "$h"
	[ "$status" -eq 65 ]
	[ -e "$h" ]
	run mq-mv d <"$BATS_TEST_TMPDIR/paths"
	[ "$status" -eq 1 ]
	[[ "$output" == *"message moved meanwhile"* ]]
	[ "$(msgs d)" -eq 1 ]
}

@test "mv: hostile paths are refused with 65 and nothing changes" {
	mq-put q <<<x >/dev/null
	mq-init d
	hostile_paths q
	for p in "${hostile[@]}"; do
		run mq-mv d "$p"
		[ "$status" -eq 65 ] || [ "$status" -eq 1 ]
		[[ "$output" != *$'\033'* ]]
	done
	run mq-mv d "$f"
	[ "$status" -eq 65 ]
	unplant_paths q
	[ "$(msgs d)" -eq 0 ]
	mq-mv d "$f"
	[ "$(cat "$(mq-ls d)")" = x ]
}

@test "mv: groups: the source's next goes, dest's group takes its turn" {
	mq-put -g g q <<<one >/dev/null
	mq-put -g g q <<<two >/dev/null
	mq-put -g g d <<<dfirst >/dev/null
	mq-mv d "$(mq-ls q)"
	# the source's next is out now; the moved one waits behind dest's
	[ "$(cat "$(mq-ls q)")" = two ]
	[ "$(count "$S/d/ready")" -eq 1 ]
	h=$(mq-get d)
	[ "$(cat "$h")" = dfirst ]
	mq-ack "$h"
	h=$(mq-get d)
	[ "$(cat "$h")" = one ]
	mq-ack "$h"
}

@test "mv: -a takes a group's waiting messages along, in their order" {
	for i in 1 2 3; do mq-put -g g q <<<"m$i" >/dev/null; done
	mq-put q <<<plain >/dev/null
	mq-init d
	mq-mv -a q d
	[ "$(msgs q)" -eq 0 ]
	[ ! -e "$S/q/groups/$(hash g)" ]
	out=
	while h=$(mq-get d) && [ -n "$h" ]; do
		out="$out $(cat "$h")"
		mq-ack "$h"
	done
	[ "$(tr ' ' '\n' <<<"$out" | grep m)" = "$(printf 'm1\nm2\nm3')" ]
	[[ "$out" == *plain* ]]
}

@test "mv: what a crash between the steps leaves, mq-fsck repairs" {
	conf dedup_window=1s
	id=$(mq-put -k order-9 q <<<x)
	mq-init d
	# died after recording the key in dest, before the rename
	k=$(key_file q order-9) dk=$(key_file d order-9)
	mkdir -p "${dk%/*}"
	cp -p "$k" "$dk"
	run mq-fsck d
	[ "$status" -eq 1 ]
	[[ "$output" == *" keys=1 dropped=0" ]]
	wait_for 10 bash -c "[ \"\$(mq-put -k order-9 d <<<y)\" != $id ]"
	mq-purge -s ready d
	# a later move records it again, live
	conf dedup_window=1h
	sleep 1.1
	mq-mv -a q d
	[ "$(stat -c %Y "$dk")" -eq 4102444800 ]
	# died after the rename, before the source's key was released
	touch -m -d @4102444800 "$k"
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" keys=1 dropped=0" ]]
	[ "$(stat -c %Y "$k")" -lt 4102444800 ]
	run mq-fsck d
	[ "$status" -eq 0 ]
}

@test "mv: SIGKILL at random moments: every message in one queue, none lost or doubled" {
	seq 2000 | mq-put -l q >/dev/null
	mq-init d
	want=$(ids q)
	[ "$(wc -l <<<"$want")" -eq 2000 ]
	from=q to=d
	for i in $(seq 30); do
		mq-mv -a "$from" "$to" &
		sleep "0.0$((RANDOM % 40))"
		kill -9 $! 2>/dev/null || true
		wait $! || true
		[ "$(ids q d)" = "$want" ]
		t=$from from=$to to=$t
	done
	mq-fsck q d >/dev/null || true
	mq-mv -a q d
	[ "$(ids d)" = "$want" ]
	[ "$(msgs q)" -eq 0 ]
	[ "$(mq-stat d | awk '$1 == "d" { print $2 }')" -eq 2000 ]
}

# out_ok QUEUE - no ordered group has two messages out in QUEUE (ready,
# delayed, held or in flight) at once, and one with a message out is busy
out_ok() {
	local g
	for g in $(find "$S/$1/ready" "$S/$1/delayed" "$S/$1/held" \
	    "$S/$1/inflight" -type f -name '*,g*' |
	    sed 's/.*,g\([0-9a-f]*\).*/\1/' | sort | uniq -c |
	    awk '{ print $1 ":" $2 }'); do
		[ "${g%%:*}" -eq 1 ] || return 1
		[ -d "$S/$1/groups/${g#*:}" ] || return 1
	done
}

@test "mv: SIGKILL at random moments, mq-fsck alongside, keys, groups and headers, -a and named paths: one queue each, keys and headers kept" {
	declare -A id
	for i in $(seq 40); do
		id[$i]=$(mq-put -k "k$i" -H "n=$i" q <<<"k$i")
	done
	for g in 1 2 3 4; do
		seq 40 | sed "s/^/g$g-/" | mq-put -l -g "g$g" -H "grp=g$g" q \
		    >/dev/null
	done
	seq 60 | mq-put -l -H n=plain q >/dev/null
	mq-init d
	want=$(ids q)
	[ "$(wc -l <<<"$want")" -eq 260 ]
	from=q to=d
	for i in $(seq 30); do
		if [ $((i % 2)) -eq 0 ]; then
			mq-mv -a "$from" "$to" &
		else
			mq-ls "$from" >"$BATS_TEST_TMPDIR/paths"
			mq-mv "$to" <"$BATS_TEST_TMPDIR/paths" &
		fi
		m=$!
		# an mq-fsck meanwhile, which releases a group it finds with
		# none out: not one whose release the mover still owes
		(sleep "0.$((RANDOM % 3))$((RANDOM % 10))"; mq-fsck q d >/dev/null) &
		# every third run may end before its kill
		if [ $((i % 3)) -eq 0 ]; then
			sleep "0.$((RANDOM % 8))"
		else
			sleep "0.0$((RANDOM % 40))"
		fi
		kill -9 "$m" 2>/dev/null || true
		wait "$m" || true
		wait $! || true
		# in one queue or the other, never both, never neither
		[ "$(ids q d)" = "$want" ]
		out_ok q
		out_ok d
		t=$from from=$to to=$t
	done
	mq-fsck q d >/dev/null || true
	mq-mv -a q d
	mq-fsck q d >/dev/null || true
	mq-mv -a q d
	[ "$(ids d)" = "$want" ]
	[ "$(msgs q)" -eq 0 ]
	# keys: live in d, for the message of each
	for i in $(seq 40); do
		[ "$(mq-put -k "k$i" d <<<again)" = "${id[$i]}" ]
	done
	[ "$(msgs d)" -eq 260 ]
	# headers went with each file
	for f in $(find "$S/d" -path "$S/d/keys" -prune -o -type f -name '*,*' -print); do
		h=$(getfattr --only-values -n user.mq.h "$f" | tr '\0' ' ')
		case $(cat "$f") in
		k*) [ "$h" = "n=$(cut -c2- "$f") " ] ;;
		g*) [ "$h" = "grp=$(cut -d- -f1 "$f") " ] ;;
		*) [ "$h" = "n=plain " ] ;;
		esac
	done
	# every message delivered once
	n=0
	while h=$(mq-get d) && [ -n "$h" ]; do
		mq-ack "$h"
		n=$((n + 1))
	done
	[ "$n" -eq 260 ]
}

@test "mv: -a -s done and -s prepared are refused (64): neither is published by a move" {
	conf retain=1h
	mq-init d
	mq-put q <<<a >/dev/null
	mq-ack "$(mq-get q)"
	mq-put -P q <<<half >/dev/null
	for s in done prepared inflight; do
		run -64 mq-mv -a -s "$s" q d
		[[ "$output" == *"$s: not a state mq-mv takes messages from"* ]]
	done
	[ "$(count "$S/q/done")" -eq 1 ]
	[ "$(count "$S/q/prepared")" -eq 1 ]
	[ "$(count "$S/d/ready")" -eq 0 ]
}

# Two movers opposite ways, each holding its key lock in the other's queue,
# then both finding their destination's backlog record stale (the config
# changed): each counts its destination anew, under that queue's lock held
# exclusive, which neither may wait for while holding its source's shared
# (review of the merge: both waited for good, and so did every mq-stat).
@test "mv: two movers opposite ways that both count their destination anew do not wait for each other for good" {
	conf max_length=100
	mq-init d
	mq-put -k KA q <<<a >/dev/null
	mq-put -k KB d <<<b >/dev/null
	mq-stat q d >/dev/null
	pa=$(mq-ls q) pb=$(mq-ls d)
	sleep 1
	conf max_length=101
	python3 - "$S" "$(field k "$pa")" "$(field k "$pb")" <<'PY' &
import fcntl, os, sys, time
sp, ka, kb = sys.argv[1:]
fq = os.open(sp + "/q/lock", os.O_RDWR)
fd = os.open(sp + "/d/lock", os.O_RDWR)
kbyte = lambda h: 1024 + int(h[:4], 16) % 1024
fcntl.lockf(fd, fcntl.LOCK_EX, 1, kbyte(ka))
fcntl.lockf(fq, fcntl.LOCK_EX, 1, kbyte(kb))
fcntl.lockf(fq, fcntl.LOCK_EX, 1, 517)
fcntl.lockf(fd, fcntl.LOCK_EX, 1, 517)
open(sp + "/held", "w").close()
time.sleep(2)
fcntl.lockf(fd, fcntl.LOCK_UN, 1, kbyte(ka))
fcntl.lockf(fq, fcntl.LOCK_UN, 1, kbyte(kb))
time.sleep(2)
PY
	holder=$!
	wait_for 10 test -e "$S/held"
	timed 30 mq-mv d "$pa" &
	a=$!
	timed 30 mq-mv q "$pb" &
	b=$!
	wait "$holder"
	wait "$a"
	wait "$b"
	[ "$(cat "$(mq-ls d)")" = a ]
	[ "$(cat "$(mq-ls q)")" = b ]
	[ "$(mq-stat -j q | sed 's/.*"backlog":\([0-9]*\).*/\1/')" = 1 ]
	[ "$(mq-stat -j d | sed 's/.*"backlog":\([0-9]*\).*/\1/')" = 1 ]
}
