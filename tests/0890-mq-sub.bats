#!/usr/bin/env bats
# mq-sub and fan-out: one put to a topic reaches every subscriber.
load test_helper
bats_require_minimum_version 1.5.0

# the helper's teardown, kept: ours unmounts what a test mounted first
eval "$(declare -f teardown | sed '1s/^teardown/helper_teardown/')"
teardown() {
	if [ -n "${FAR:-}" ] && mountpoint -q "$FAR" 2>/dev/null; then
		umount "$FAR"
	fi
	helper_teardown
}

# body FILE - a body that is not text: NUL, high bytes, no final newline
body() {
	printf 'order 42 paid\0\377\001\nline two' >"$1"
}

# ids QUEUE STATE - the ids of the messages of a state, in order
ids() {
	files "$1" "$2" | sed 's,.*/,,; s/,.*//'
}

@test "sub: fan-out to three subscribers, each acked on its own" {
	body "$BATS_TEST_TMPDIR/msg"
	mq-sub orders billing shipping search
	id=$(mq-put orders <"$BATS_TEST_TMPDIR/msg")
	[[ $id =~ ^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}$ ]]
	# the topic keeps nothing, not even in tmp/
	[ "$(msgs orders)" -eq 0 ]
	[ "$(count "$S/orders/tmp")" -eq 0 ]
	for q in billing shipping search; do
		[ "$(ids $q ready)" = "$id" ]
	done
	hb=$(mq-get billing)
	hs=$(mq-get shipping)
	cmp "$BATS_TEST_TMPDIR/msg" "$hb"
	mq-ack "$hb"
	[ ! -e "$hb" ]
	# shipping's and search's copies are intact, and work on their own
	cmp "$BATS_TEST_TMPDIR/msg" "$hs"
	cmp "$BATS_TEST_TMPDIR/msg" "$(only search ready)"
	mq-nack -D 0 "$hs"
	hs=$(mq-get shipping)
	cmp "$BATS_TEST_TMPDIR/msg" "$hs"
	mq-ack "$hs"
	h=$(mq-get search)
	cmp "$BATS_TEST_TMPDIR/msg" "$h"
	mq-ack "$h"
	for q in billing shipping search; do
		[ "$(msgs $q)" -eq 0 ]
	done
}

@test "sub: one inode on disk, read-only, ,f in every name; links fall with acks" {
	mq-sub orders billing shipping search
	id=$(echo 'order 43' | mq-put orders)
	b=$(only billing ready) s=$(only shipping ready) r=$(only search ready)
	[ "${b##*/}" = "$id,p4,a0,s9,f" ]
	[ "$(stat -c %i "$b")" = "$(stat -c %i "$s")" ]
	[ "$(stat -c %i "$b")" = "$(stat -c %i "$r")" ]
	[ "$(stat -c %h "$b")" -eq 3 ]
	# no write permission for anyone (0666 & ~umask, less the write bits)
	[ "$(stat -c %A "$b")" = "-r--r--r--" ]
	h=$(mq-get billing)
	[[ $h == */billing/inflight/$id,p4,a1,s9,f,l*,t* ]]
	mq-ack "$h"
	[ "$(stat -c %h "$s")" -eq 2 ]
	mq-purge -s ready shipping
	[ "$(stat -c %h "$r")" -eq 1 ]
	[ "$(cat "$r")" = 'order 43' ]
}

@test "sub: the same id in every subscriber for a batch put (-l), in order" {
	for sync in full batch none; do
		conf "sync=$sync"
		mq-sub "t$sync" a$sync b$sync
		run --separate-stderr mq-put -l "t$sync" < <(seq 5)
		[ "$status" -eq 0 ]
		[ "${#lines[@]}" -eq 5 ]
		[ "$(ids a$sync ready)" = "$output" ]
		[ "$(ids b$sync ready)" = "$output" ]
		[ "$(each_body $(files b$sync ready))" = "$(seq 5)" ]
		[ "$(msgs "t$sync")" -eq 0 ]
	done
	# -0, and one message per file operand
	mq-sub t a b
	printf 'x\0y\0' | mq-put -0 t >/dev/null
	echo z >"$BATS_TEST_TMPDIR/z"
	mq-put t "$BATS_TEST_TMPDIR/z" "$BATS_TEST_TMPDIR/z" >/dev/null
	[ "$(each_body $(files a ready))" = "$(printf '%s\n' x y z z)" ]
	[ "$(ids a ready)" = "$(ids b ready)" ]
}

@test "sub: twenty subscribers, opened again for each commit" {
	subs=$(printf 's%02d ' $(seq 20))
	mq-sub t $subs
	run mq-put -l t < <(seq 3)
	[ "$status" -eq 0 ] && [ "${#lines[@]}" -eq 3 ]
	for q in $subs; do
		[ "$(ids $q ready)" = "$output" ]
	done
	[ "$(stat -c %h "$(files s07 ready | head -1)")" -eq 20 ]
}

@test "sub: ,f is a flag in its place of the grammar; other spellings are not delivered" {
	mq-init q
	b=$S/q/ready/4.0000000001
	mkdir -p "$b"
	for n in fx f1 f,f f,k0123456789abcdef0123456789abcdef f,s1 f,a1; do
		echo bad >"$b/1700000000.000001.AAAAAAAA,p4,$n"
	done
	echo good >"$b/1700000000.000002.AAAAAAAA,p4,a0,s5,k0123456789abcdef0123456789abcdef,f"
	h=$(mq-get q)
	[[ $h == */1700000000.000002.AAAAAAAA,p4,a1,s5,k0123456789abcdef0123456789abcdef,f,l*,t* ]]
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(count "$b")" -eq 6 ]
}

@test "sub: a subscriber added later sees only messages put after mq-sub" {
	mq-sub t early
	old=$(echo old | mq-put t)
	mq-sub t late
	new=$(echo new | mq-put t)
	[ "$(ids early ready)" = "$(printf '%s\n' "$old" "$new")" ]
	[ "$(ids late ready)" = "$new" ]
}

@test "sub: mq-sub lists subscribers; -r unsubscribes and leaves the queue alone" {
	mq-sub t c a b
	[ -f "$S/t/subs/a" ] && [ ! -s "$S/t/subs/a" ]
	run mq-sub t
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '%s\n' a b c)" ]
	mq-sub t a # again: no error
	echo one | mq-put t >/dev/null
	mq-sub -r t b c
	[ "$(mq-sub t)" = a ]
	[ ! -e "$S/t/subs/b" ]
	echo two | mq-put t >/dev/null
	[ "$(msgs a)" -eq 2 ]
	[ "$(msgs b)" -eq 1 ] && [ "$(msgs c)" -eq 1 ]
	# the last one gone: an ordinary queue again
	mq-sub -r t a
	[ -z "$(mq-sub t)" ]
	echo three | mq-put t >/dev/null
	[ "$(cat "$(only t ready)")" = three ]
	[ "$(msgs a)" -eq 2 ]
}

@test "sub: missing topic, not a subscriber, bad names" {
	run --separate-stderr mq-sub nosuch
	[ "$status" -eq 66 ]
	[ "$stderr" = "mq-sub: nosuch: no such queue" ]
	run mq-sub -r nosuch a
	[ "$status" -eq 66 ]
	[ ! -e "$S/nosuch" ]
	mq-sub t a
	run --separate-stderr mq-sub -r t b a
	[ "$status" -eq 1 ]
	[ "$stderr" = "mq-sub: b: not a subscriber of t" ]
	[ -z "$(mq-sub t)" ]
	before=$(tree_state "$S")
	for args in '../x a' 't a/b' 't ok .hidden' '-r t -x' 't -- -y' "t ''"; do
		eval "run mq-sub $args"
		echo "mq-sub $args: $status"
		[ "$status" -eq 64 ]
	done
	run mq-sub -r t
	[ "$status" -eq 64 ]
	[ "$(tree_state "$S")" = "$before" ]
}

@test "sub: a topic cannot subscribe to itself or to a topic (64), nothing changes" {
	run --separate-stderr mq-sub t t
	[ "$status" -eq 64 ]
	[ "$stderr" = "mq-sub: t: a topic cannot subscribe to itself" ]
	[ ! -e "$S/t" ]
	mq-sub t a
	before=$(tree_state "$S")
	# a subscriber cannot become a topic: no chain t -> a -> x
	run --separate-stderr mq-sub a x
	[ "$status" -eq 64 ]
	[ "$stderr" = "mq-sub: x: cannot subscribe to a: the topic is a subscriber: fan-out goes one level deep" ]
	# a topic cannot subscribe: no chain y -> t -> a
	run --separate-stderr mq-sub y t
	[ "$status" -eq 64 ]
	[ "$stderr" = "mq-sub: t: cannot subscribe to y: the queue is a topic: fan-out goes one level deep" ]
	[ ! -e "$S/a/subs" ] && [ ! -e "$S/y/subs/t" ]
	# a queue may subscribe to two topics
	mq-sub u a
	echo 1 | mq-put t >/dev/null
	echo 2 | mq-put u >/dev/null
	[ "$(msgs a)" -eq 2 ]
}

# refused QUEUE N - the words of mq-sub refusing QUEUE's first subscriber
refused() {
	local s=s
	[ "$2" -eq 1 ] && s=
	echo "mq-sub: $1: holds $2 message$s (ready, delayed or in flight); drain or purge it first"
}

@test "sub: a queue holding ready messages does not become a topic (65); nothing changes" {
	for i in 1 2 3; do
		echo "$i" | mq-put orders >/dev/null
	done
	before=$(tree_state "$S")
	run --separate-stderr mq-sub orders billing shipping
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused orders 3)" ] # once, not once per queue
	[ -z "$output" ]
	# no subs/, no subscriber queue, the messages where they were
	[ "$(tree_state "$S")" = "$before" ]
	[ ! -e "$S/orders/subs" ] && [ ! -e "$S/billing" ]
	# still an ordinary queue: a put stays in it, a get finds the first
	echo 4 | mq-put orders >/dev/null
	[ "$(msgs orders)" -eq 4 ]
	[ "$(cat "$(mq-get orders)")" = 1 ]
}

@test "sub: a queue holding delayed messages does not become a topic" {
	echo later | mq-put -D 1h orders >/dev/null
	before=$(tree_state "$S")
	run --separate-stderr mq-sub orders billing
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused orders 1)" ]
	[ "$(tree_state "$S")" = "$before" ]
	[ ! -e "$S/orders/subs" ] && [ ! -e "$S/billing" ]
}

@test "sub: a queue with a message in flight does not become a topic; the lease goes on" {
	echo x | mq-put orders >/dev/null
	h=$(mq-get -L 1h orders)
	before=$(tree_state "$S")
	run --separate-stderr mq-sub orders billing
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused orders 1)" ]
	[ "$(tree_state "$S")" = "$before" ]
	mq-ack "$h"
	# drained: now it may
	mq-sub orders billing
	[ "$(mq-sub orders)" = billing ]
}

@test "sub: messages waiting their group's turn count as ready" {
	for i in 1 2 3; do
		echo "$i" | mq-put -g customer-42 orders >/dev/null
	done
	run --separate-stderr mq-sub orders billing
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused orders 3)" ]
}

@test "sub: held and dead messages do not stop a topic; they stay in it" {
	conf max_attempts=1
	echo held | mq-put orders >/dev/null
	held=$(mq-hold "$(only orders ready)")
	echo dead | mq-put orders >/dev/null
	mq-nack "$(mq-get orders)"
	echo ready | mq-put orders >/dev/null
	# only the ready one counts
	run --separate-stderr mq-sub orders billing
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused orders 1)" ]
	mq-ack "$(mq-get orders)"
	mq-sub orders billing
	[ "$(cat "$(only orders held)")" = held ]
	[ "$(cat "$(only orders dead)")" = dead ]
	id=$(echo new | mq-put orders)
	[ "$(ids billing ready)" = "$id" ]
	# released or kicked, they come back to the topic itself, not fanned out
	mq-release "$held"
	mq-kick orders
	[ "$(each_body $(files orders ready))" = "$(printf 'held\ndead')" ]
	[ "$(msgs billing)" -eq 1 ]
}

@test "sub: refused, purged, then a topic" {
	echo x | mq-put orders >/dev/null
	echo y | mq-put -D 1h orders >/dev/null
	run mq-sub orders billing
	[ "$status" -eq 65 ]
	mq-purge -s ready orders
	run --separate-stderr mq-sub orders billing
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused orders 1)" ]
	mq-purge -s delayed orders
	mq-sub orders billing shipping
	id=$(echo z | mq-put orders)
	[ "$(msgs orders)" -eq 0 ]
	[ "$(ids billing ready)" = "$id" ] && [ "$(ids shipping ready)" = "$id" ]
}

@test "sub: more subscribers for a topic whatever it holds; its first again when it is no topic" {
	echo held | mq-put t >/dev/null
	held=$(mq-hold "$(only t ready)")
	mq-sub t a
	# a topic with a message of its own (released) still takes subscribers
	mq-release "$held"
	[ "$(msgs t)" -eq 1 ]
	mq-sub t b
	[ "$(mq-sub t)" = "$(printf '%s\n' a b)" ]
	id=$(echo x | mq-put t)
	[ "$(ids a ready)" = "$id" ] && [ "$(ids b ready)" = "$id" ]
	# every subscriber gone: an ordinary queue, whose next first is checked
	mq-sub -r t a b
	run --separate-stderr mq-sub t c
	[ "$status" -eq 65 ]
	[ "$stderr" = "$(refused t 1)" ]
	[ -z "$(mq-sub t)" ] && [ ! -e "$S/c" ]
}

@test "sub: -p, -D, -A, -T apply to every copy; a configured ttl is each subscriber's" {
	mq-sub t a b
	echo 'ttl = 1h' >"$S/a/mq.conf"
	id=$(echo x | mq-put -p 7 t)
	[[ $(only a ready) == */7.0000000001/$id,p7,a0,s2,x*,f ]]
	[[ $(only b ready) == */7.0000000001/$id,p7,a0,s2,f ]]
	mq-purge -s ready a && mq-purge -s ready b
	id=$(echo x | mq-put -T 1d -D 1h t)
	for q in a b; do
		[[ $(only $q delayed) =~ /$id,p4,a0,s2,x[0-9]+,n[0-9]+,f$ ]]
	done
	id=$(echo x | mq-put -A 2001-01-01T00:00:00Z t)
	[ "$(ids a ready)" = "$id" ] && [ "$(ids b ready)" = "$id" ]
}

@test "sub: -k: a retried fan-out fills in the subscriber that lacks it, same id" {
	mq-sub orders billing shipping
	id=$(echo paid | mq-put -k order-1 orders)
	run mq-put -k order-1 orders <<<paid
	[ "$status" -eq 0 ] && [ "$output" = "$id" ]
	[ "$(msgs billing)" -eq 1 ] && [ "$(msgs shipping)" -eq 1 ]
	# a subscriber added since lacks it: a retry puts it there alone
	mq-sub orders search
	run mq-put -k order-1 orders <<<paid
	[ "$status" -eq 0 ] && [ "$output" = "$id" ]
	[ "$(msgs billing)" -eq 1 ] && [ "$(msgs shipping)" -eq 1 ]
	[ "$(ids search ready)" = "$id" ]
	h=$(printf %s order-1 | sha256sum | cut -c1-32)
	for q in billing shipping search; do
		[ "$(cat "$S/$q/keys/${h:0:2}/$h")" = "$id" ]
		[[ $(only $q ready) == */$id,p4,a0,s5,k$h,f ]]
	done
	# acked in one: still known there (dedup window), nothing new anywhere
	mq-ack "$(mq-get billing)"
	run mq-put -k order-1 orders <<<paid
	[ "$output" = "$id" ]
	[ "$(msgs billing)" -eq 0 ] && [ "$(msgs search)" -eq 1 ]
	[ "$(count "$S/orders/tmp")" -eq 0 ]
}

@test "sub: a failing subscriber is named, the others keep it; a -k retry completes it" {
	mq-sub orders billing shipping
	echo 'max_size = 4' >"$S/shipping/mq.conf"
	run --separate-stderr mq-put -k order-2 orders <<<'too big'
	[ "$status" -eq 65 ]
	[ -z "$output" ] # not in every subscriber: no id
	[ "$stderr" = "mq-put: orders: subscriber shipping: cannot put message: message larger than max_size" ]
	[ "$(msgs billing)" -eq 1 ] && [ "$(msgs shipping)" -eq 0 ]
	[ "$(count "$S/shipping/tmp")" -eq 0 ] && [ "$(count "$S/orders/tmp")" -eq 0 ]
	id=$(ids billing ready)
	rm "$S/shipping/mq.conf"
	run --separate-stderr mq-put -k order-2 orders <<<'too big'
	[ "$status" -eq 0 ] && [ "$output" = "$id" ]
	[ "$(msgs billing)" -eq 1 ]
	[ "$(ids shipping ready)" = "$id" ]
	# two failing subscribers: both named, the worst status wins
	echo 'max_size = 1' >"$S/billing/mq.conf"
	echo 'lease = bogus' >"$S/shipping/mq.conf"
	run --separate-stderr mq-put orders <<<'x'
	[ "$status" -eq 78 ]
	[[ $stderr == *"subscriber billing: cannot put message: message larger than max_size"* ]]
	[[ $stderr == *"subscriber shipping: cannot put message: bad configuration"* ]]
}

@test "sub: keyed puts racing to a topic put one message per subscriber" {
	mq-sub t a b c
	for i in $(seq 8); do
		mq-put -k race t <<<"$i" >"$BATS_TEST_TMPDIR/out.$i" &
	done
	wait
	[ "$(cat "$BATS_TEST_TMPDIR"/out.* | sort -u | wc -l)" -eq 1 ]
	id=$(cat "$BATS_TEST_TMPDIR/out.1")
	for q in a b c; do
		[ "$(ids $q ready)" = "$id" ]
	done
}

@test "sub: subscribers follow mq-sub and mq-sub -r while one mq-put -l runs" {
	mq-sub t a b
	mkfifo "$BATS_TEST_TMPDIR/in"
	mq-put -l t <"$BATS_TEST_TMPDIR/in" >"$BATS_TEST_TMPDIR/ids" &
	exec 7>"$BATS_TEST_TMPDIR/in"
	echo one >&7
	wait_for 10 test -s "$BATS_TEST_TMPDIR/ids"
	mq-sub -r t b
	mq-sub t c
	echo two >&7
	exec 7>&-
	wait
	[ "$(each_body $(files a ready))" = "$(printf 'one\ntwo')" ]
	[ "$(each_body $(files b ready))" = one ]
	[ "$(each_body $(files c ready))" = two ]
}

@test "sub: copies share one mtime: a subscriber's claim or touch lengthens another's lease, never shortens it" {
	mq-sub t a b
	echo x | mq-put t >/dev/null
	ha=$(mq-get -L 1h a)
	t0=$(date +%s)
	hb=$(mq-get -L 1s b)
	# each copy keeps its own lease, from the shared time
	[ "$(deadline "$ha")" -ge $((t0 + 3590)) ]
	[ "$(deadline "$hb")" -le $((t0 + 3)) ]
	mq-touch -L 1s "$hb"
	[ "$(deadline "$ha")" -ge $((t0 + 3590)) ]
	# b's lease runs out: b's copy comes back in b; a's stays claimed
	wait_for 10 try_get b
	[[ "$h" == */b/inflight/*,a2,* ]]
	run mq-get a
	[ "$status" -eq 1 ]
	[ -e "$ha" ]
	# a longer lease asked in b moves the shared time later, for a too
	mq-touch -L 2h "$h"
	[ "$(deadline "$ha")" -ge $((t0 + 7190)) ]
	# and a shorter one moves nothing
	mq-touch -L 1s "$h"
	[ "$(deadline "$ha")" -ge $((t0 + 7190)) ]
}

@test "sub: a copy's lease still ends: reclaimed once the latest deadline has passed" {
	mq-sub t a b
	echo x | mq-put t >/dev/null
	ha=$(mq-get -L 1s a)
	hb=$(mq-get -L 2s b)
	mq-ack "$ha"
	wait_for 10 try_get -L 1h b
	[[ $h == */b/inflight/*,a2,s2,f,l*,t* ]]
	[ "$(cat "$h")" = x ]
}

@test "sub: hold, release, nack, dead and kick keep ,f; mq-work runs on a copy" {
	conf max_attempts=1
	mq-sub t a b
	id=$(echo x | mq-put t)
	held=$(mq-hold "$(only a ready)")
	[ "${held##*/}" = "$id,p4,a0,s2,f" ]
	mq-release "$held"
	h=$(mq-get a)
	mq-nack -D 0 "$h"
	[ "$(ids a dead)" = "$id" ]
	[[ $(only a dead) == *,s2,f,rattempts ]]
	mq-kick a
	[[ $(only a ready) == */$id,p4,a0,s2,f ]]
	run mq-work -e b -- sh -c 'test "$(cat)" = x && test "$MQ_ID" = '"$id"
	[ "$status" -eq 0 ]
	[ "$(msgs b)" -eq 0 ]
	[ "$(stat -c %h "$(only a ready)")" -eq 1 ]
}

@test "sub: a hard link to a copy, without ,f, is still refused (65)" {
	mq-sub t a b
	echo x | mq-put t >/dev/null
	h=$(mq-get a)
	# a twin of a copy, under a name without the flag
	twin=$S/a/inflight/1732437600.000123.x7QkT3bZ,p4,a1,s2,tABCDEFGH
	ln "$h" "$twin"
	before=$(tree_state "$S")
	for tool in mq-touch mq-nack mq-ack mq-hold; do
		run $tool "$twin"
		echo "$tool: $status"
		[ "$status" -eq 65 ]
	done
	[ "$(tree_state "$S")" = "$before" ]
	rm "$twin"
	# the real copy works
	mq-ack "$h"
}

@test "sub: a subscriber on another file system gets a copy of its own" {
	mq-sub t near far
	FAR=$S/far
	mount -t tmpfs tmpfs "$FAR" 2>/dev/null || skip "cannot mount a tmpfs here"
	mkdir "$FAR"/{ready,delayed,inflight,dead,held,tmp}
	: >"$FAR/lock"
	body "$BATS_TEST_TMPDIR/msg"
	id=$(mq-put t <"$BATS_TEST_TMPDIR/msg")
	n=$(only near ready) f=$(only far ready)
	# the link keeps ,f; the copy is an ordinary message, writable
	[ "${n##*/}" = "$id,p4,a0,s25,f" ]
	[ "${f##*/}" = "$id,p4,a0,s25" ]
	[ "$(stat -c %h "$n")" -eq 1 ] && [ "$(stat -c %h "$f")" -eq 1 ]
	[ "$(stat -c %A "$f")" = "-rw-r--r--" ]
	cmp "$BATS_TEST_TMPDIR/msg" "$n"
	cmp "$BATS_TEST_TMPDIR/msg" "$f"
	[ "$(count "$S/t/tmp")" -eq 0 ] && [ "$(count "$FAR/tmp")" -eq 0 ]
	h=$(mq-get far)
	cmp "$BATS_TEST_TMPDIR/msg" "$h"
	mq-ack "$h"
}

@test "sub: consumers waiting on subscribers are woken by a put to the topic" {
	mq-sub t a b
	mq-get -w -t 20s a >"$BATS_TEST_TMPDIR/ha" &
	pa=$!
	mq-get -w -t 20s b >"$BATS_TEST_TMPDIR/hb" &
	pb=$!
	sleep 0.3
	id=$(echo x | mq-put t)
	wait "$pa" && wait "$pb"
	[[ $(cat "$BATS_TEST_TMPDIR/ha") == */a/inflight/$id,* ]]
	[[ $(cat "$BATS_TEST_TMPDIR/hb") == */b/inflight/$id,* ]]
}

@test "sub: a subscriber whose queue was removed is made again" {
	mq-sub t a b
	rm -r "$S/b"
	id=$(echo x | mq-put t)
	[ "$(ids b ready)" = "$id" ]
}

@test "sub: a name in subs/ that is no queue name, or the topic, is ignored" {
	mq-sub t a
	touch "$S/t/subs/t" "$S/t/subs/.hidden" "$S/t/subs/-x"
	mkdir "$S/t/subs/dir"
	[ "$(mq-sub t)" = a ]
	echo x | mq-put t >/dev/null
	[ "$(msgs a)" -eq 1 ] && [ "$(msgs t)" -eq 0 ]
	[ ! -e "$S/dir" ] && [ ! -e "$S/-x" ]
}

# holdlock QUEUE sh|ex - hold byte 515 of QUEUE's lock file, as a put (sh)
# or mq-sub (ex) would, until $BATS_TEST_TMPDIR/release exists; python's
# lockf locks conflict with the tools' open file description locks
holdlock() {
	python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_SH if sys.argv[2] == "sh" else fcntl.LOCK_EX, 1, 515)
open(sys.argv[3] + "/held", "w").close()
while not os.path.exists(sys.argv[3] + "/release"):
    time.sleep(0.01)
' "$S/$1/lock" "$2" "$BATS_TEST_TMPDIR" &
	wait_for 10 test -e "$BATS_TEST_TMPDIR/held"
}

@test "sub: mq-sub waits for puts under way, puts wait for mq-sub (byte 515)" {
	mq-sub t a b
	# a put under way: mq-sub -r waits until it is over
	holdlock t sh
	mq-sub -r t b &
	sub=$!
	sleep 0.3
	kill -0 "$sub"
	[ -e "$S/t/subs/b" ]
	: >"$BATS_TEST_TMPDIR/release"
	wait "$sub"
	[ ! -e "$S/t/subs/b" ]
	wait
	rm "$BATS_TEST_TMPDIR/release" "$BATS_TEST_TMPDIR/held"
	# a subscription being changed: puts wait for it
	holdlock t ex
	echo x | mq-put t >/dev/null &
	put=$!
	sleep 0.3
	kill -0 "$put"
	[ "$(msgs a)" -eq 0 ]
	: >"$BATS_TEST_TMPDIR/release"
	wait "$put"
	[ "$(msgs a)" -eq 1 ] && [ "$(msgs b)" -eq 0 ]
}

# waiter QUEUE - mq-sub (or another) waits for byte 515 of QUEUE's lock file
waiter() {
	lock_waits "$S/$1/lock" 515
}

@test "sub: a put that saw no subscriber before mq-sub locked is counted: mq-sub refuses" {
	[ -r /proc/locks ] || skip "no /proc/locks to see mq-sub wait"
	mq-init t
	# a put has looked at subs/ and found none (it holds byte 515 shared)
	holdlock t sh
	mq-sub t a 2>"$BATS_TEST_TMPDIR/err" &
	sub=$!
	# mq-sub found t empty, then waits for the lock
	wait_for 10 waiter t
	# a put slips in meanwhile: shared with the first, it goes through
	id=$(echo x | mq-put t)
	[ "$(ids t ready)" = "$id" ]
	: >"$BATS_TEST_TMPDIR/release"
	st=0
	wait "$sub" || st=$?
	[ "$st" -eq 65 ]
	[ "$(cat "$BATS_TEST_TMPDIR/err")" = "$(refused t 1)" ]
	# not a topic: the message is the queue's, and the next put too
	[ -z "$(mq-sub t)" ] && [ ! -e "$S/t/subs/a" ]
	echo y | mq-put t >/dev/null
	[ "$(msgs t)" -eq 2 ] && [ "$(msgs a)" -eq 0 ]
}

@test "sub: puts racing with a queue's first mq-sub: refused, or none stays in the topic" {
	for r in $(seq 20); do
		seq 3 | mq-put -l "t$r" >/dev/null &
		run --separate-stderr mq-sub "t$r" "a$r"
		wait
		echo "round $r: $status, t$r $(msgs "t$r"), a$r $(msgs "a$r" 2>/dev/null)"
		case $status in
		0)
			# a topic before the first put: every message fanned out
			[ "$(msgs "t$r")" -eq 0 ]
			[ "$(msgs "a$r")" -eq 3 ]
			;;
		65)
			# refused: no subscriber, every message in the queue
			[ -z "$(mq-sub "t$r")" ]
			[ "$(msgs "t$r")" -eq 3 ]
			[ ! -e "$S/a$r" ] || [ "$(msgs "a$r")" -eq 0 ]
			;;
		*)
			false
			;;
		esac
	done
}

# routed PATTERN KEY - whether a put with routing key KEY reaches a queue
# bound by PATTERN alone (a topic of its own for each call)
n_route=0
routed() {
	n_route=$((n_route + 1))
	mq-sub -b "$1" "t$n_route" "q$n_route"
	if [ "$2" = - ]; then
		echo m | mq-put "t$n_route" >/dev/null 2>&1 || true
	else
		echo m | mq-put -r "$2" "t$n_route" >/dev/null 2>&1 || true
	fi
	[ "$(count "$S/q$n_route/ready")" -eq 1 ]
}

@test "route: * is one word, # zero or more, other words literal (the AMQP topic table)" {
	# pattern, key, then y if it matches; "-" is a put without -r
	while read -r p k want; do
		[ "$k" = '""' ] && k=
		if routed "$p" "$k"; then got=y; else got=n; fi
		[ "$got" = "$want" ] || { echo "$p ~ '$k': $got, not $want"; return 1; }
	done <<-'TABLE'
	a.* a.b y
	a.* a n
	a.* a.b.c n
	a.# a y
	a.# a.b y
	a.# a.b.c y
	a.# b.a n
	#.c c y
	#.c a.b.c y
	#.c a.c.d n
	*.* a.b y
	*.* a n
	*.* a.b.c n
	# - y
	# "" y
	# a.b.c y
	* "" n
	* - n
	a.b a.b y
	a.b a.bc n
	a.b A.b n
	a..b a..b y
	a.*.b a..b y
	a.b a..b n
	a* ab n
	a* a* y
	#.#.a a y
	#.b.# x.b.y.z y
	TABLE
}

@test "route: -b is repeatable; the first binding replaces the implicit #; the listing" {
	mq-sub orders all
	mq-sub -b 'paid.*' -b 'refund.#' orders billing
	mq-sub -b '#' orders audit
	run mq-sub orders
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'all\naudit\nbilling\tpaid.*\nbilling\trefund.#')" ]
	# a binding given twice is one
	mq-sub -b 'paid.*' orders billing
	[ "$(grep -c 'paid' "$S/orders/subs/billing")" -eq 1 ]
	# a first binding of an implicit subscriber replaces its #
	mq-sub -b 'paid.eu' orders all
	echo r | mq-put -r refund.eu orders
	[ "$(count "$S/all/ready")" -eq 0 ]
	[ "$(count "$S/billing/ready")" -eq 1 ]
	[ "$(count "$S/audit/ready")" -eq 1 ]
	echo p | mq-put -r paid.eu orders
	[ "$(count "$S/all/ready")" -eq 1 ]
	[ "$(count "$S/billing/ready")" -eq 2 ]
}

@test "route: -r -b removes that binding only, its last the subscription; -r alone the whole" {
	mq-sub -b a.x -b b.x -b c.x orders q
	mq-sub -r -b b.x orders q
	[ "$(mq-sub orders)" = "$(printf 'q\ta.x\nq\tc.x')" ]
	run mq-sub -r -b zz orders q
	[ "$status" -eq 1 ]
	[[ "$output" == *"q: not bound to orders by zz"* ]]
	mq-sub -r -b a.x orders q
	mq-sub -r -b c.x orders q
	[ -z "$(mq-sub orders)" ]
	[ ! -e "$S/orders/subs/q" ]
	mq-sub -b a.x -b c.x orders q
	mq-sub -r orders q
	[ -z "$(mq-sub orders)" ]
	# the implicit # is removed as the binding #
	mq-sub orders r
	mq-sub -r -b '#' orders r
	[ -z "$(mq-sub orders)" ]
}

@test "route: bad patterns and routing keys are refused (65), one line, nothing changed" {
	long=$(printf 'a%.0s' $(seq 256))
	for p in "$long" "$(printf 'a\nb')" "$(printf 'a\tb')" "$(printf 'a\033b')"; do
		run mq-sub -b "$p" orders q
		[ "$status" -eq 65 ]
		[ "${#lines[@]}" -eq 1 ]
		[[ "$output" == *"bad binding pattern"* ]]
		run mq-put -r "$p" orders </dev/null
		[ "$status" -eq 65 ]
		[ "${#lines[@]}" -eq 1 ]
	done
	[ ! -e "$S/orders" ] || [ "$(count "$S/orders/subs" 2>/dev/null || echo 0)" -eq 0 ]
	run mq-sub -b x orders
	[ "$status" -eq 64 ]
	mq-sub -b "${long%a}" orders q
}

@test "route: a put no binding matches goes to the topic's dead/ as unroutable, says so, exits 1" {
	mq-sub -b 'paid.*' orders billing
	run --separate-stderr mq-put -r "$(printf 'refund.\302\240x')" orders <<<m
	[ "$status" -eq 1 ]
	[[ "$output" =~ ^[0-9]{10}\.[0-9]{6}\.[0-9A-Za-z]{8}$ ]]
	[ "$stderr" = 'mq-put: orders: no binding matches routing key "refund.\302\240x": 1 message in dead/ as unroutable' ]
	f=$(only orders dead)
	[[ "$f" == */"$output",p4,a0,s2,runroutable ]]
	[ "$(cat "$f")" = m ]
	[ "$(count "$S/billing/ready")" -eq 0 ]
	# a put without a routing key has the empty key: only # takes it
	run --separate-stderr mq-put orders <<<n
	[ "$status" -eq 1 ]
	[[ "$stderr" == *'routing key "": 1 message in dead/'* ]]
	[ "$(count "$S/orders/dead")" -eq 2 ]
}

@test "route: mq-kick routes an unroutable message again, through the bindings of now" {
	mq-sub -b 'paid.*' orders billing
	id=$(mq-put -r refund.eu orders <<<m 2>/dev/null) || true
	f=$(only orders dead)
	# still unroutable: it stays, and the kick says so
	run mq-kick orders "$f"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no binding of the topic matches its routing key"* ]]
	[ -e "$f" ]
	run mq-kick orders
	[ "$status" -eq 1 ]
	[ -e "$f" ]
	[ "$(count "$S/billing/ready")" -eq 0 ]
	mq-sub -b 'refund.#' orders refunds
	mq-kick orders "$f"
	[ ! -e "$f" ]
	[ "$(count "$S/orders/dead")" -eq 0 ]
	[ "$(count "$S/orders/ready")" -eq 0 ]
	[ "$(ids refunds ready)" = "$id" ]
	[ "$(count "$S/billing/ready")" -eq 0 ]
	# mq-kick of the whole dead/ routes too
	mq-put -r other orders <<<o 2>/dev/null || true
	mq-sub -b other orders billing
	mq-kick orders
	[ "$(count "$S/orders/dead")" -eq 0 ]
	[ "$(count "$S/billing/ready")" -eq 1 ]
}

@test "route: a batch is routed message by message: -l with -r, and puts of several keys" {
	mq-sub -b 'a.*' orders qa
	mq-sub -b 'b.*' orders qb
	mq-sub orders all
	seq 5 | mq-put -l -r a.x orders >/dev/null
	[ "$(count "$S/qa/ready")" -eq 5 ]
	[ "$(count "$S/qb/ready")" -eq 0 ]
	[ "$(count "$S/all/ready")" -eq 5 ]
	for k in a.1 b.1 a.2 c.1 b.2; do
		mq-put -r $k orders <<<"$k" >/dev/null
	done
	[ "$(count "$S/qa/ready")" -eq 7 ]
	[ "$(count "$S/qb/ready")" -eq 2 ]
	[ "$(count "$S/all/ready")" -eq 10 ]
	mq-sub -r orders all
	run --separate-stderr mq-put -l -r c.x orders < <(seq 3)
	[ "$status" -eq 1 ]
	[ "${#lines[@]}" -eq 3 ]
	[[ "$stderr" == *"3 messages in dead/ as unroutable"* ]]
	[ "$(count "$S/orders/dead")" -eq 3 ]
}

@test "route: a topic made before bindings (empty entries in subs/) still fans out to all" {
	mq-init orders one two
	mkdir "$S/orders/subs"
	: >"$S/orders/subs/one"
	: >"$S/orders/subs/two"
	mq-put -r any.key orders <<<m >/dev/null
	mq-put orders <<<n >/dev/null
	[ "$(count "$S/one/ready")" -eq 2 ]
	[ "$(count "$S/two/ready")" -eq 2 ]
	[ "$(mq-sub orders)" = "$(printf 'one\ntwo')" ]
}

@test "route: planted bindings are not trusted: a symlink, a FIFO, a group-writable or linked entry" {
	mq-sub -b a.x orders q
	echo 'a.x' >"$BATS_TEST_TMPDIR/elsewhere"
	# a symlink in subs/ is no subscriber, and mq-sub -b will not write through it
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$S/orders/subs/sym"
	run mq-sub -b a.x orders sym
	[ "$status" -eq 65 ]
	[[ "$output" == *"sym: cannot bind to orders: not a regular file"* ]]
	[ -L "$S/orders/subs/sym" ]
	[ "$(cat "$BATS_TEST_TMPDIR/elsewhere")" = a.x ]
	# a FIFO: no hang, refused
	mkfifo "$S/orders/subs/fifo"
	run timeout 5 mq-sub -b a.x orders fifo
	[ "$status" -eq 65 ]
	run timeout 5 mq-put -r a.x orders <<<m
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	rm "$S/orders/subs/sym" "$S/orders/subs/fifo"
	# writable by the group: refused by every put, named, 78
	chmod g+w "$S/orders/subs/q"
	run timeout 5 mq-put -r a.x orders <<<m
	[ "$status" -eq 78 ]
	[[ "$output" == *"orders: subscriber q: cannot put message: bindings not trusted"* ]]
	run mq-sub orders
	[ "$status" -eq 78 ]
	[[ "$output" == *"orders: bindings of q: bindings not trusted"*"writable by its group"* ]]
	chmod g-w "$S/orders/subs/q"
	# a hard link: another name could change it
	ln "$S/orders/subs/q" "$BATS_TEST_TMPDIR/link"
	run mq-put -r a.x orders <<<m
	[ "$status" -eq 78 ]
	rm "$BATS_TEST_TMPDIR/link"
	mq-put -r a.x orders <<<m >/dev/null
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "route: bindings of another user are not trusted; a member may subscribe but not bind" {
	load multiuser_helper
	users_setup_file
	shared_setup
	mq-init -g mqshare q m1 m2 m3
	mq-sub -b a.x orders q
	# a member's own subscription, without bindings, still works
	as mqprod mq-sub orders m1
	# a member cannot bind: its file would not be trusted
	run as mqprod mq-sub -b a.x orders m2
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"only the topic's owner or root may change bindings"* ]]
	# a member's planted bindings: refused, named, 78; others still get theirs
	as mqprod sh -c "echo a.x >'$S/orders/subs/m3'"
	run as mqprod mq-put -r a.x orders <<<m
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"subscriber m3: cannot put message: bindings not trusted"* ]]
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(count "$S/m1/ready")" -eq 1 ]
	run mq-sub orders
	[ "$status" -eq 78 ]
	[[ "$output" == *"bindings of m3"*"owned by mqprod"* ]]
	# what is not trusted is not built on: removed first, then bound by root
	run mq-sub -b a.x orders m3
	[ "$status" -eq 78 ]
	[[ "$output" == *"m3: cannot bind to orders: bindings not trusted"* ]]
	mq-sub -r orders m3
	mq-sub -b a.x orders m3
	[ "$(stat -c %U "$S/orders/subs/m3")" = root ]
	as mqprod mq-put -r a.x orders <<<m >/dev/null
	[ "$(count "$S/m3/ready")" -eq 1 ]
	shared_teardown
	users_teardown_file
}

@test "route: a kick that crashed after its fan-out (the dead file still there, the subscriber has its copy) is finished by the next kick, no twin left (was stuck: 73 File exists)" {
	mq-sub -b a t q1
	echo x | mq-put -r b t >/dev/null || true
	echo y | mq-put -r c t >/dev/null || true
	[ "$(count "$S/t/dead")" -eq 2 ]
	d=$(files t dead | head -n 1)
	cp --preserve=all "$d" "$BATS_TEST_TMPDIR/dead"
	mq-sub -b b -b c t q1
	mq-kick t
	[ "$(count "$S/q1/ready")" -eq 2 ] && [ "$(count "$S/t/dead")" -eq 0 ]
	# what a kick killed between the fan-out and the unlink of dead/ left
	cp --preserve=all "$BATS_TEST_TMPDIR/dead" "$d"
	[ "$(stat -c %h "$d")" -eq 1 ]
	run mq-kick t
	[ "$status" -eq 0 ]
	[ "$(count "$S/t/dead")" -eq 0 ]
	[ "$(count "$S/q1/ready")" -eq 2 ]
}

@test "route: a kick that crashed before its fan-out (tmp/ID left) holds that message only: the others are kicked (exit 1); mq-fsck clears it" {
	mq-sub -b a t q1
	echo x | mq-put -r b t >/dev/null || true
	echo y | mq-put -r b t >/dev/null || true
	mq-sub -b b t q1
	d=$(files t dead | head -n 1)
	id=${d##*/}; id=${id%%,*}
	: >"$S/t/tmp/$id"
	touch -d '1 hour ago' "$S/t/tmp/$id"
	run mq-kick t
	[ "$status" -eq 1 ]
	[[ "$output" == *"moved meanwhile"* ]]
	[ "$(count "$S/q1/ready")" -eq 1 ] && [ "$(count "$S/t/dead")" -eq 1 ]
	run mq-fsck -T 5m t
	[[ "$output" == *"tmp=1"* ]]
	mq-kick t
	[ "$(count "$S/q1/ready")" -eq 2 ] && [ "$(count "$S/t/dead")" -eq 0 ]
}

@test "route: a subscriber's tmp/ID left by a crashed kick does not stop the next kick" {
	mq-sub -b a t q1
	echo x | mq-put -r b t >/dev/null || true
	d=$(files t dead)
	id=${d##*/}; id=${id%%,*}
	: >"$S/q1/tmp/$id"
	mq-sub -b b t q1
	mq-kick t
	[ "$(count "$S/q1/ready")" -eq 1 ] && [ "$(count "$S/t/dead")" -eq 0 ]
	[ "$(cat "$(files q1 ready)")" = x ]
	[ "$(count "$S/q1/tmp")" -eq 0 ]
}
