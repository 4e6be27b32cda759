#!/usr/bin/env bats
# Files planted in a shared spool by a member of its group (real users),
# for the tools of root to open: FIFOs that hung them, a hard link they
# truncated.  Every file of the spool is opened by lib/open.c (issue 12):
# never through a link, never blocking, a regular file or refused.  Every
# tool runs under timeout(1): a regression fails instead of hanging.

bats_require_minimum_version 1.5.0
load test_helper
load bridge_helper
load multiuser_helper

setup_file() {
	users_setup_file
	# a broker for the tests of mq-forward and mq-recv, which some freeze
	export BATS_NO_PARALLELIZE_WITHIN_FILE=true
	bridge_setup_file
}

teardown_file() {
	users_teardown_file
	bridge_teardown_file
}

setup() {
	shared_setup
	command -v timeout >/dev/null || skip "timeout is not installed"
	T=$BATS_TEST_TMPDIR
}

teardown() {
	if [ -n "${BROKER:-}" ]; then
		kill -CONT "$(beam_pid)" 2>/dev/null || true
	fi
	local p f
	for p in $(jobs -p); do
		kill -KILL "$p" 2>/dev/null || true
	done
	# a regression leaves a process blocked opening a FIFO, where no
	# timeout reaches it (mq-work's child, in its own process group):
	# opened read-write here, each FIFO lets it go, and the run ends
	if [ -n "${SHARED:-}" ]; then
		find "$SHARED" -type p >"$BATS_TEST_TMPDIR/fifos" 2>/dev/null || true
		while IFS= read -r f; do
			timeout 5 sh -c ': <>"$1"' sh "$f" || true
		done <"$BATS_TEST_TMPDIR/fifos"
	fi
	shared_teardown
}

# fifo USER PATH - USER replaces PATH (if there) with a FIFO
fifo() {
	as "$1" sh -c 'rm -f "$1" && mkfifo -m 0660 "$1"' sh "$2"
}

# member_fifo PATH - a member of the group plants a FIFO at PATH of the
# queue directory, as any member can where it has no sticky bit; where it
# has one (members may not replace what is not theirs), the owner, root,
# plants it: the tools must refuse a FIFO whoever planted it
member_fifo() {
	fifo mqcons "$1" 2>/dev/null || fifo root "$1"
}

# any TYPE DIR - DIR holds something of find's -type TYPE (for wait_for)
any() {
	[ -n "$(find "$2" -type "$1")" ]
}

# key_of STRING - the hash of a key, as in QUEUE/tmp/HASH.key
key_of() {
	printf '%s' "$1" | sha256sum | cut -c1-32
}

@test "issue 12: a FIFO planted as mq.conf hung every tool: now exit 78 at once, naming the file, nothing changed" {
	as mqprod sh -c 'echo x | mq-put orders' >/dev/null
	member_fifo "$S/orders/mq.conf"
	[ -p "$S/orders/mq.conf" ]
	before=$(tree_state "$S")
	for cmd in "mq-stat orders" "mq-fsck orders" "mq-get orders" \
	    "mq-ls orders" "mq-put orders" "mq-init -g mqshare orders" \
	    "mq-pause orders" "mq-purge -s dead orders"; do
		run -78 --separate-stderr timeout -k 5 10 $cmd </dev/null
		echo "$cmd: $stderr"
		[ "$stderr" = "${cmd%% *}: $S/orders/mq.conf: not a regular file" ]
		[ -z "$output" ]
	done
	# a member's tools too
	run -78 --separate-stderr as mqprod timeout -k 5 10 mq-get orders
	[ "$stderr" = "mq-get: $S/orders/mq.conf: not a regular file" ]
	[ "$(tree_state "$S")" = "$before" ]
}

@test "issue 12: a FIFO as the global config (MQ_CONF): exit 78 at once, naming it" {
	rm "$MQ_CONF"
	mkfifo -m 0644 "$MQ_CONF"
	for cmd in "mq-stat orders" "mq-put orders"; do
		run -78 --separate-stderr timeout -k 5 10 $cmd </dev/null
		[ "$stderr" = "${cmd%% *}: $MQ_CONF: not a regular file" ]
	done
}

@test "issue 12: a FIFO as password_file hung mq-forward and mq-recv: now exit 78 at once, naming it" {
	mkdir -m 0755 "$SHARED/cons"
	chown mqcons "$SHARED/cons"
	# the listener is never reached: the password is read first
	port=1
	for who in root mqcons; do
		pass=$SHARED/cons/pass-$who
		fifo "$who" "$pass"
		cat >"$S/orders/mq.conf" <<-EOF
		mode = 0660
		group = mqshare
		[forward]
		url = amqp://fwd@127.0.0.1:$port/
		exchange = x
		password_file = $pass
		[recv]
		url = amqp://fwd@127.0.0.1:$port/
		queue = q
		password_file = $pass
		EOF
		before=$(tree_state "$S")
		for cmd in "mq-forward --drain -t 2s orders" \
		    "mq-recv --drain -t 2s orders"; do
			run -78 --separate-stderr timeout -k 5 10 $cmd
			echo "$who: $cmd: $stderr"
			[[ "$stderr" == "${cmd%% *}: password file $pass: "* ]]
			[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
			# root's own FIFO passes any check of its owner: this one
			if [ "$who" = root ]; then
				[[ "$stderr" == *": not a regular file" ]]
			fi
		done
		[ "$(tree_state "$S")" = "$before" ]
	done
}

@test "issue 12: a FIFO at tmp/HASH.key hung mq-put -k: now the put is made, under its key" {
	member_fifo "$S/orders/tmp/$(key_of K).key"
	run -0 --separate-stderr timeout -k 5 10 sh -c 'echo body | mq-put -k K orders'
	id=$output
	[ -n "$id" ]
	[ -z "$stderr" ]
	f=$(only orders ready)
	[[ "$f" == */"$id",* ]]
	[ "$(cat "$f")" = body ]
	k=$S/orders/keys/$(key_of K | cut -c1-2)/$(key_of K)
	[ -f "$k" ] && [ ! -L "$k" ]
	[ "$(head -1 "$k")" = "$id" ]
	[ ! -e "$S/orders/tmp/$(key_of K).key" ]
	# the key holds: a retry puts nothing and says the same id
	run -0 timeout -k 5 10 sh -c 'echo again | mq-put -k K orders'
	[ "$output" = "$id" ]
	[ "$(msgs orders)" -eq 1 ]
}

@test "issue 12: a hard link planted at tmp/HASH.key: the file it links to is neither truncated, chowned nor chmodded" {
	# the victim: a message of another queue, which a member may link to
	mq-init -g mqshare other
	as mqprod sh -c 'echo precious | mq-put other' >/dev/null
	victim=$(only other ready)
	before=$(tree_state "$S/other")
	meta=$(stat -c '%s %a %U %G %Y' "$victim")
	as mqcons ln "$victim" "$S/orders/tmp/$(key_of K).key"
	run -0 timeout -k 5 10 sh -c 'echo body | mq-put -k K orders'
	id=$output
	[ "$(cat "$victim")" = precious ]
	[ "$(stat -c '%s %a %U %G %Y' "$victim")" = "$meta" ]
	[ "$(tree_state "$S/other")" = "$before" ]
	# and the put is made, its key its own file
	[ "$(cat "$(only orders ready)")" = body ]
	k=$S/orders/keys/$(key_of K | cut -c1-2)/$(key_of K)
	[ "$(head -1 "$k")" = "$id" ]
	[ "$(stat -c %i "$k")" != "$(stat -c %i "$victim")" ]
	[ "$(mq-get other)" != "" ]
}

@test "issue 12: a FIFO planted as paused hung mq-pause: now the queue is paused at once" {
	member_fifo "$S/orders/paused"
	run -0 timeout -k 5 10 mq-pause orders
	[[ "$(mq-stat -j orders)" == *'"paused":true'* ]]
	run -0 timeout -k 5 10 mq-resume orders
	[ ! -e "$S/orders/paused" ]
}

@test "issue 12: a FIFO swapped in for a claimed message hung mq-work: now one line names it and the rest is done" {
	# a bucket listed once serves the claims that follow: the first
	# message's command has a member swap the second for a FIFO before
	# mq-work claims it, as a swap right after the claim would
	as mqprod sh -c 'printf "a\nb\n" | mq-put -l orders' >/dev/null
	cat >"$SHARED/cmd" <<-EOF
	#!/bin/sh
	cat >>"$SHARED/bodies"
	[ "\$(cat "$SHARED/bodies")" = a ] || exit 0
	for f in \$(find "$S/orders/ready" -type f); do
		runuser -u mqcons -- sh -c 'rm -f "\$1" && mkfifo -m 0660 "\$1"' sh "\$f"
	done
	EOF
	chmod 0755 "$SHARED/cmd"
	# into files, and without bats' fd 3: a child of mq-work left hanging
	# (a regression) must not keep the test waiting for its output
	status=0
	timeout -k 5 20 mq-work -e orders "$SHARED/cmd" >"$T/out" \
	    2>"$T/err" 3>&- || status=$?
	stderr=$(cat "$T/err")
	echo "status $status: $stderr"
	[ "$status" -eq 0 ]
	[ "$(cat "$SHARED/bodies")" = a ]
	fifo=$(find "$S/orders/inflight" -type p)
	[ -n "$fifo" ]
	[ "$stderr" = "mq-work: $fifo: cannot read: not a regular file" ]
	# what was planted is foreign debris: mq-fsck puts it aside (status 1)
	run -1 timeout -k 5 10 mq-fsck orders
	[ -z "$(find "$S/orders/inflight" -type p)" ]
}

@test "issue 12: a FIFO swapped in for a claimed message hung mq-forward: now one line names it and it goes on" {
	[ -z "$BRIDGE_SKIP" ] || skip "$BRIDGE_SKIP"
	bq pfwd
	mq-pause orders
	as mqprod sh -c 'printf "a\nb\n" | mq-put -l orders' >"$T/ids"
	mq-forward -j 1 orders "$URL" "" pfwd 2>"$T/err" 3>&- &
	fwd=$!
	sleep 1
	# a broker that does not confirm a yet: mq-forward claims b only
	# after, from the bucket it listed with a in it
	kill -STOP "$(beam_pid)"
	mq-resume orders
	wait_for 10 any f "$S/orders/inflight"
	member_fifo "$(only orders ready)"
	kill -CONT "$(beam_pid)"
	wait_for 10 any p "$S/orders/inflight"
	# still at work: a new message reaches the broker
	echo c | mq-put orders >>"$T/ids"
	wait_for 15 bcount_is pfwd 2
	# a hang in open would outlive a SIGTERM: its handler only sets a flag
	kill -TERM "$fwd"
	wait_for 10 gone "$fwd"
	st=0
	wait "$fwd" || st=$?
	[ "$st" -eq 0 ]
	id=$(sed -n 2p "$T/ids")
	cat "$T/err"
	[ "$(cat "$T/err")" = "mq-forward: $id: cannot read: not a regular file" ]
	peek pfwd | cut -f1,4 >"$T/got"
	# (mq-put -l takes the lines without their newline)
	printf '%s\ta\n%s\tc\\n\n' "$(sed -n 1p "$T/ids")" "$(sed -n 3p "$T/ids")" |
	    diff - "$T/got"
}

@test "issue 12: a FIFO at tmp/HASH.key hung mq-recv: now the message is put under its key" {
	[ -z "$BRIDGE_SKIP" ] || skip "$BRIDGE_SKIP"
	bq precv
	printf 'r1\t4\t-\tbody\n' | publish precv
	member_fifo "$S/orders/tmp/$(key_of r1).key"
	run -0 --separate-stderr timeout -k 5 20 mq-recv --drain "$URL" precv orders
	echo "$stderr"
	f=$(only orders ready)
	[[ "$f" == *",k$(key_of r1)"* ]]
	[ "$(cat "$f")" = body ]
	[ "$(bcount precv)" = 0 ]
}
