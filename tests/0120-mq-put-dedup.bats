#!/usr/bin/env bats
# mq-put -k: idempotent producers.
load test_helper
bats_require_minimum_version 1.5.0

# keyfile KEY - the key file of KEY in queue q
keyfile() {
	key_file q "$1"
}

# window SECONDS - dedup_window of queue q
window() {
	mq-init q
	echo "dedup_window = $1" >"$S/q/mq.conf"
}

# put_new KEY ID - a put with KEY creates a message other than ID (in $id2)
put_new() {
	id2=$(mq-put -k "$1" q </dev/null) && [ "$id2" != "$2" ]
}

# known_then_new ID T0 - with dedup_window = 2s, the message of key K, ID,
# left the queue not before T0 (epoch s): right away a put with K prints ID
# and puts nothing; later, and not before T0 + 2, a put with K is new
known_then_new() {
	run mq-put -k K q <<<two
	[ "$status" -eq 0 ]
	[ "$output" = "$1" ]
	[ -z "$(files q ready)" ]
	wait_for 10 put_new K "$1"
	now_ge $(($2 + 2))
	[[ "$(only q ready)" == */"$id2",* ]]
}

# plant DIR NAME TIME - a key file with mtime TIME (epoch seconds)
plant() {
	mkdir -p "$1"
	echo 1732437600.000123.x7QkT3bZ >"$1/$2"
	touch -d "@$3" "$1/$2"
}

@test "dedup: the same key twice: one message, its id printed twice, nothing on stderr" {
	run --separate-stderr mq-put -k order-42 q <<<'order 42 paid'
	[ "$status" -eq 0 ]
	id=$output
	run --separate-stderr mq-put -k order-42 q <<<'order 42 paid'
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	[ -z "$stderr" ]
	f=$(only q ready)
	[[ "$f" == */"$id",* ]]
	[ -z "$(ls -A "$S/q/tmp")" ]
}

@test "dedup: a duplicate's body is ignored, not compared" {
	id=$(mq-put -k k1 q <<<'first')
	run mq-put -k k1 q <<<'second, different'
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	[ "$(cat "$(only q ready)")" = first ]
}

@test "dedup: different keys: two messages" {
	a=$(mq-put -k a q <<<x)
	b=$(mq-put -k b q <<<x)
	[ "$a" != "$b" ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "dedup: a put without -k is never a duplicate" {
	mq-put -k a q <<<x >/dev/null
	mq-put q <<<x >/dev/null
	mq-put q <<<x >/dev/null
	[ "$(count "$S/q/ready")" -eq 3 ]
}

@test "dedup: name field ,kHASH and key file keys/XX/HASH holding the id and the name, mtime 2100" {
	id=$(mq-put -k 'order 42' q <<<x)
	h=$(hash 'order 42')
	[ "$(only q ready)" = "$S/q/ready/4.0000000001/$id,p4,a0,s2,k$h" ]
	kf=$(keyfile 'order 42')
	[ "$kf" = "$S/q/keys/${h:0:2}/$h" ]
	# the id, then the name it was published under (for a put that dies)
	printf '%s\n%s\n' "$id" "$id,p4,a0,s2,k$h" | cmp - "$kf"
	[ "$(stat -c %Y "$kf")" -eq "$LIVE" ]
	# -k sorts after the other fields a put writes
	id=$(mq-put -k x -p 7 -T 1h -D 1h q <<<x)
	f=$(only q delayed)
	[[ "$f" =~ /$id,p7,a0,s2,x[0-9]+,n[0-9]+,k$(hash x)$ ]]
}

@test "dedup: 8 concurrent producers with one key: one message, all print its id" {
	for i in 1 2 3 4 5 6 7 8; do
		mq-put -k same racing <<<"m$i" >"$BATS_TEST_TMPDIR/out.$i" &
	done
	wait
	[ "$(cat "$BATS_TEST_TMPDIR"/out.* | wc -l)" -eq 8 ]
	[ "$(sort -u "$BATS_TEST_TMPDIR"/out.* | wc -l)" -eq 1 ]
	f=$(only racing ready)
	[[ "$f" == */"$(cat "$BATS_TEST_TMPDIR/out.1")",* ]]
	[ -z "$(ls -A "$S/racing/tmp")" ]
}

@test "dedup: concurrent producers with two keys each: one message per key" {
	for i in 1 2 3 4 5 6; do
		mq-put -k "k$((i % 2))" q <<<"m$i" >"$BATS_TEST_TMPDIR/out.$i" &
	done
	wait
	[ "$(sort -u "$BATS_TEST_TMPDIR"/out.* | wc -l)" -eq 2 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "dedup: after an ack the key is known for dedup_window, then a put is new" {
	window 2s
	id=$(mq-put -k K q <<<one)
	h=$(mq-get q)
	t0=$(date +%s)
	mq-ack "$h"
	known_then_new "$id" "$t0"
	[ "$(cat "$(only q ready)")" = "" ]
	[ "$(head -n1 "$(keyfile K)")" = "$id2" ]
	[ "$(stat -c %Y "$(keyfile K)")" -eq "$LIVE" ]
}

@test "dedup: after a purge the key is known for dedup_window, then a put is new" {
	window 2s
	id=$(mq-put -k K q <<<one)
	t0=$(date +%s)
	mq-purge -s ready q
	known_then_new "$id" "$t0"
}

@test "dedup: purging every state keeps each key known for the window" {
	window 1h
	conf max_attempts=1 lease=1h
	a=$(mq-put -k a q <<<x)
	mq-nack "$(mq-get q)"
	b=$(mq-put -k b q <<<x)
	mq-get q >/dev/null
	c=$(mq-put -k c -D 1h q <<<x)
	for s in dead inflight delayed; do
		mq-purge -s "$s" q
	done
	[ "$(mq-put -k a q </dev/null)" = "$a" ]
	[ "$(mq-put -k b q </dev/null)" = "$b" ]
	[ "$(mq-put -k c q </dev/null)" = "$c" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	for k in a b c; do
		t=$(stat -c %Y "$(keyfile $k)")
		[ "$t" -lt "$LIVE" ] && [ "$t" -gt "$(date +%s)" ]
	done
}

@test "dedup: dedup_window = 0: an acked message's key is forgotten at once" {
	window 0
	id=$(mq-put -k K q <<<x)
	mq-ack "$(mq-get q)"
	id2=$(mq-put -k K q <<<x)
	[ "$id2" != "$id" ]
	[[ "$(only q ready)" == */"$id2",* ]]
}

@test "dedup: a dead message's key stays known" {
	window 1s
	conf max_attempts=1
	id=$(mq-put -k K q <<<x)
	mq-nack "$(mq-get q)"
	only q dead
	run mq-put -k K q <<<y
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]
	[ "$(stat -c %Y "$(keyfile K)")" -eq "$LIVE" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	# kicked back, it is still the same message
	mq-kick q
	[ "$(mq-put -k K q </dev/null)" = "$id" ]
	[[ "$(only q ready)" == */"$id",* ]]
}

@test "dedup: nack keeps the key known, in ready and in delayed" {
	id=$(mq-put -k K q <<<x)
	mq-nack -D 0 "$(mq-get q)"
	[ "$(mq-put -k K q </dev/null)" = "$id" ]
	mq-nack -D 1h "$(mq-get q)"
	[ "$(mq-put -k K q </dev/null)" = "$id" ]
	only q delayed
	[ -z "$(files q ready)" ]
}

@test "dedup: an in-flight message's key is known" {
	id=$(mq-put -k K q <<<x)
	mq-get q >/dev/null
	[ "$(mq-put -k K q </dev/null)" = "$id" ]
	[ -z "$(files q ready)" ]
}

# reclaimed QUEUE - mq-stat has returned the expired lease to ready
reclaimed() {
	mq-stat q >/dev/null
	[ -n "$(files q ready)" ]
}

@test "dedup: the k field survives claim, nack, reclaim, dead-lettering and kick" {
	conf max_attempts=3
	mq-put -k K q <<<x >/dev/null
	k=,k$(hash K)
	[[ "$(only q ready)" == *",a0,s2$k" ]]
	h=$(mq-get q)
	[[ "$h" == *",a1,s2$k,l"* ]]
	mq-nack -D 0 "$h"
	[[ "$(only q ready)" == *",a1,s2$k" ]]
	h=$(mq-get -L 100ms q)
	[[ "$h" == *",a2,s2$k,l"* ]]
	wait_for 10 reclaimed
	[[ "$(only q ready)" == *",a2,s2$k" ]]
	mq-nack "$(mq-get q)"
	[[ "$(only q dead)" == *",a3,s2$k,rattempts" ]]
	mq-kick q
	[[ "$(only q ready)" == *",a0,s2$k" ]]
}

@test "dedup: -k with -l, -0 or several files: usage error 64, nothing put" {
	echo a >"$BATS_TEST_TMPDIR/a"
	echo b >"$BATS_TEST_TMPDIR/b"
	run --separate-stderr mq-put -k K -l q <<<x
	[ "$status" -eq 64 ]
	[[ "$stderr" == *"-k puts one message"* ]]
	run mq-put -0 -k K q <<<x
	[ "$status" -eq 64 ]
	run mq-put -k K q "$BATS_TEST_TMPDIR/a" "$BATS_TEST_TMPDIR/b"
	[ "$status" -eq 64 ]
	[ ! -e "$S/q" ]
}

@test "dedup: -k with one file operand" {
	printf 'body' >"$BATS_TEST_TMPDIR/a"
	id=$(mq-put -k K q "$BATS_TEST_TMPDIR/a")
	[ "$(mq-put -k K q "$BATS_TEST_TMPDIR/a")" = "$id" ]
	[ "$(cat "$(only q ready)")" = body ]
}

@test "dedup: an empty key or one over 4096 bytes: usage error 64; 4096 bytes is fine" {
	run --separate-stderr mq-put -k '' q <<<x
	[ "$status" -eq 64 ]
	[[ "$stderr" == *"key must be 1 to 4096 bytes"* ]]
	long=$(head -c 4097 /dev/zero | tr '\0' k)
	run mq-put -k "$long" q <<<x
	[ "$status" -eq 64 ]
	[ ! -e "$S/q" ]
	id=$(mq-put -k "${long:1}" q <<<x)
	[ "$(mq-put -k "${long:1}" q <<<x)" = "$id" ]
	[ "$(head -n1 "$(keyfile "${long:1}")")" = "$id" ]
}

@test "dedup: keys are arbitrary strings: slashes, dots, newlines, UTF-8" {
	for k in ../../etc/passwd 'a/b' . .. $'two\nlines' ' ' 'ключ' '-k'; do
		id=$(mq-put -k "$k" q <<<x)
		[ "$(mq-put -k "$k" q <<<x)" = "$id" ]
		[ "$(head -n1 "$(keyfile "$k")")" = "$id" ]
	done
	[ "$(count "$S/q/ready")" -eq 8 ]
	[ "$(find "$S" -name passwd | wc -l)" -eq 0 ]
}

@test "dedup: sync = batch and sync = none" {
	for mode in batch none; do
		conf sync=$mode
		id=$(mq-put -k "$mode" q <<<x)
		[ "$(mq-put -k "$mode" q <<<x)" = "$id" ]
		[ "$(head -n1 "$(keyfile "$mode")")" = "$id" ]
	done
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "dedup: a put sweeps expired key files of its keys/XX, keeps live and foreign ones" {
	mq-init q
	h=$(hash K)
	d=$S/q/keys/${h:0:2}
	for i in 1 2 3; do
		plant "$d" "${h:0:2}$(printf '%030d' "$i")" 1000000000
	done
	plant "$d" "${h:0:2}$(printf '%030d' 4)" "$LIVE"
	plant "$d" notahash 1000000000
	plant "$d" "${h:0:2}$(printf '%030d' 5).key" 1000000000
	mq-put -k K q <<<x >/dev/null
	[ "$(ls "$d" | sort | tr '\n' ' ')" = \
	    "$(printf '%s\n' "$h" "${h:0:2}$(printf '%030d' 4)" notahash \
	    "${h:0:2}$(printf '%030d' 5).key" | sort | tr '\n' ' ')" ]
}

@test "dedup: a put looks at no more than 32 key files" {
	mq-init q
	h=$(hash K)
	d=$S/q/keys/${h:0:2}
	for i in $(seq 100); do
		plant "$d" "${h:0:2}$(printf '%030d' "$i")" 1000000000
	done
	mq-put -k K q <<<x >/dev/null
	n=$(ls "$d" | wc -l)
	[ "$n" -ge 69 ] && [ "$n" -lt 101 ]
}

@test "dedup: mq-purge removes the expired key files of every keys/XX" {
	mq-init q
	plant "$S/q/keys/00" "00$(printf '%030d' 1)" 1000000000
	plant "$S/q/keys/ab" "ab$(printf '%030d' 2)" 1000000000
	plant "$S/q/keys/ab" "ab$(printf '%030d' 3)" "$LIVE"
	plant "$S/q/keys/ff" "ff$(printf '%030d' 4)" "$(($(date +%s) + 3600))"
	mq-purge -s dead q
	[ "$(cd "$S/q/keys" && find . -type f | sort | tr '\n' ' ')" = \
	    "./ab/ab$(printf '%030d' 3) ./ff/ff$(printf '%030d' 4) " ]
}

@test "dedup: a known key whose file holds no id: 65, the file named, nothing put" {
	mq-init q
	kf=$(keyfile K)
	for content in 'garbage' '' '1732437600.000123.x7QkT3bZ,p4' \
	    '1732437600.000123.x7QkT3b'; do
		mkdir -p "${kf%/*}"
		printf '%s\n' "$content" >"$kf"
		touch -d "@$LIVE" "$kf"
		run --separate-stderr mq-put -k K q <<<x
		[ "$status" -eq 65 ]
		[ -z "$output" ]
		[ "$stderr" = "mq-put: $kf: corrupt key file: remove it to put with this key" ]
		[ -z "$(files q ready)" ]
		[ -z "$(ls -A "$S/q/tmp")" ]
	done
	# the remedy
	rm "$kf"
	id=$(mq-put -k K q <<<x)
	[ "$(head -n1 "$kf")" = "$id" ]
}

@test "dedup: a known key whose file is a directory or symlink: 65" {
	mq-init q
	kf=$(keyfile K)
	mkdir -p "$kf"
	run mq-put -k K q <<<x
	[ "$status" -eq 65 ]
	rmdir "$kf"
	echo 1732437600.000123.x7QkT3bZ >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$kf"
	run mq-put -k K q <<<x
	[ "$status" -eq 65 ]
	[ -z "$(files q ready)" ]
}

@test "dedup: an expired key file is replaced, whatever it holds" {
	mq-init q
	kf=$(keyfile K)
	mkdir -p "${kf%/*}"
	echo garbage >"$kf"
	touch -d @1000000000 "$kf"
	id=$(mq-put -k K q <<<x)
	[ "$(head -n1 "$kf")" = "$id" ]
	[ "$(stat -c %Y "$kf")" -eq "$LIVE" ]
	[[ "$(only q ready)" == */"$id",* ]]
}

@test "dedup: a lost key record lets a retry put again; the old message's ack leaves the new key alone" {
	# as after a crash between the put and the key record
	window 1h
	id1=$(mq-put -k K q <<<x)
	rm "$(keyfile K)"
	id2=$(mq-put -k K q <<<x)
	[ "$id1" != "$id2" ]
	h=$(mq-get q)
	[[ "$h" == */"$id1",* ]]
	mq-ack "$h"
	[ "$(stat -c %Y "$(keyfile K)")" -eq "$LIVE" ]
	[ "$(head -n1 "$(keyfile K)")" = "$id2" ]
}

@test "dedup: an ack whose key file is missing or corrupt still acks" {
	mq-put -k a q <<<x >/dev/null
	mq-put -k b q <<<x >/dev/null
	rm "$(keyfile a)"
	echo junk >"$(keyfile b)"
	mq-get -n 2 q | mq-ack
	[ -z "$(files q inflight)" ]
	[ "$(head -n1 "$(keyfile b)")" = junk ]
}

@test "dedup: keys/ planted as a symlink is not followed" {
	mq-init q
	mkdir "$BATS_TEST_TMPDIR/elsewhere"
	ln -s "$BATS_TEST_TMPDIR/elsewhere" "$S/q/keys"
	run mq-put -k K q <<<x
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$BATS_TEST_TMPDIR/elsewhere")" ]
	[ -z "$(files q ready)" ]
}

# a keyed put killed between recording its key and publishing its message
# leaves: the body in tmp/ID, the key file naming ID and its name
died_put() {
	local id=1795000000.000001.AAAAAAAA h
	h=$(hash "$1")
	mkdir -p "$S/q/keys/${h:0:2}"
	printf 'body\n' >"$S/q/tmp/$id"
	printf '%s\n%s\n' "$id" "$id,p4,a0,s5,k$h" >"$S/q/keys/${h:0:2}/$h"
	touch -d @"$LIVE" "$S/q/keys/${h:0:2}/$h"
	echo "$id"
}

@test "dedup: a put that died before publishing is finished by the next put with its key" {
	mq-init q
	id=$(died_put K)
	run --separate-stderr mq-put -k K q <<<again
	[ "$status" -eq 0 ]
	[ "$output" = "$id" ]	# the first put's message, not a second one
	[ "$(only q ready)" = "$S/q/ready/4.0000000001/$id,p4,a0,s5,k$(hash K)" ]
	[ "$(cat "$(only q ready)")" = body ]
	[ -z "$(ls "$S/q/tmp")" ]
	# and only once
	run mq-put -k K q <<<again
	[ "$output" = "$id" ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "dedup: a put that died before publishing is finished by mq-fsck, not thrown away" {
	mq-init q
	id=$(died_put K)
	touch -d '-2 hours' "$S/q/tmp/$id"
	run mq-fsck -T 1s q
	echo "$output"
	[ "$(only q ready)" = "$S/q/ready/4.0000000001/$id,p4,a0,s5,k$(hash K)" ]
	run mq-put -k K q <<<again
	[ "$output" = "$id" ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "dedup: a key whose body is gone from tmp/ is a duplicate as before (the message was published)" {
	mq-init q
	id=$(died_put K)
	rm "$S/q/tmp/$id"
	run mq-put -k K q <<<again
	[ "$output" = "$id" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}
