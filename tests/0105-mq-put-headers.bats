#!/usr/bin/env bats
# mq-put -H, -r: headers, kept in the message file's extended attribute
# user.mq.h (mq(7) Headers), and carried by every move of the spool.
load test_helper
bats_require_minimum_version 1.5.0

# hdrs FILE - the file's headers, one name=value a line, as stored
hdrs() {
	getfattr --only-values -n user.mq.h "$1" 2>/dev/null | tr '\0' '\n'
}

nothing_put() {
	[ "$(find "$S" -type f ! -name lock | wc -l)" -eq 0 ]
}

@test "headers: -H and -r are stored in put order, the body unchanged" {
	printf 'a\0b\nc' >"$BATS_TEST_TMPDIR/body"
	run mq-put -H content-type=text/plain -H 'note=a b=c, d' -r orders.paid \
	    -H empty= q "$BATS_TEST_TMPDIR/body"
	[ "$status" -eq 0 ]
	f=$(only q ready)
	cmp "$BATS_TEST_TMPDIR/body" "$f"
	[ "$(hdrs "$f")" = "$(printf '%s\n' content-type=text/plain 'note=a b=c, d' \
	    routing-key=orders.paid empty=)" ]
}

@test "headers: non-ASCII, control bytes and '=' in values are kept byte for byte" {
	v=$(printf 'caf\303\251 \033[31m=\001\tx')
	mq-put -H "v=$v" q <<<x
	f=$(only q ready)
	getfattr --only-values -n user.mq.h "$f" >"$BATS_TEST_TMPDIR/raw"
	printf 'v=%s\0' "$v" | cmp - "$BATS_TEST_TMPDIR/raw"
}

@test "headers: a message without headers has no attribute" {
	mq-put q <<<x
	f=$(only q ready)
	run getfattr -d -m - "$f"
	[[ "$output" != *user.mq* ]]
}

@test "headers: -l gives every message the same headers" {
	printf 'a\nb\nc\n' | mq-put -l -H k=v q
	for f in $(files q ready); do [ "$(hdrs "$f")" = k=v ]; done
	[ "$(count "$S/q/ready")" -eq 3 ]
}

@test "headers: bad names, no '=', names given twice are refused with 65, nothing put" {
	mq-init q
	for h in 'bad name=1' '=1' 'a/b=1' "$(printf 'a\033=1')" noeq \
	    "$(head -c 129 /dev/zero | tr '\0' n)=1"; do
		run mq-put -H "$h" q <<<x
		[ "$status" -eq 65 ]
		[[ "$output" == "mq-put: header "* ]]
		[ "${#lines[@]}" -eq 1 ]
		# shown escaped, never raw
		[[ "$output" != *$'\033'* ]]
	done
	run mq-put -H a=1 -H a=2 q <<<x
	[ "$status" -eq 65 ] && [[ "$output" == *"given twice"* ]]
	# the same once '-' and '.' are '_': MQ_H_a_b either way
	run mq-put -H a-b=1 -H a.b=2 q <<<x
	[ "$status" -eq 65 ]
	run mq-put -H a_b=1 -r x -H routing_key=2 q <<<x
	[ "$status" -eq 65 ]
	# case matters: these are two
	mq-put -H A=1 -H a=2 q <<<x
	nothing_put_but_one() { [ "$(count "$S/q/ready")" -eq 1 ]; }
	nothing_put_but_one
}

@test "headers: 3072 bytes in all are taken, one more is refused with 65" {
	# name (1) + '=' + value + NUL = 3072
	v=$(head -c 3069 /dev/zero | tr '\0' v)
	run mq-put -H "a=$v" q <<<x
	[ "$status" -eq 0 ]
	[ "$(hdrs "$(only q ready)" | wc -c)" -eq 3072 ]
	run mq-put -H "a=${v}v" q <<<x
	[ "$status" -eq 65 ]
	[[ "$output" == *"headers too large"* ]]
	[ "$(count "$S/q/ready")" -eq 1 ]
	# many small ones add up the same way
	args=()
	for i in $(seq 1000); do args+=(-H "h$i=1"); done
	run mq-put "${args[@]}" q <<<x
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "headers: a spool without extended attributes refuses a put with headers (73), takes one without" {
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a ramfs"
	mkdir "$S"
	mount -t ramfs ramfs "$S" || skip "cannot mount a ramfs"
	run mq-put -H a=1 q <<<x
	r=$status out=$output
	run mq-put q <<<y
	r2=$status
	n=$(find "$S/q" -type f ! -name lock | wc -l)
	umount "$S"
	[ "$r" -eq 73 ]
	[[ "$out" == *"extended attributes"* ]]
	[ "$r2" -eq 0 ]
	[ "$n" -eq 1 ]
}

@test "headers: claim, touch, nack, reclaim, dead, kick, hold, release keep them" {
	conf max_attempts=2
	mq-put -H a=1 -H b=two q <<<body
	want=$(printf 'a=1\nb=two')
	h=$(mq-get q)
	[ "$(hdrs "$h")" = "$want" ]
	mq-touch "$h"
	mq-nack -D 0 "$h"
	[ "$(hdrs "$(only q ready)")" = "$want" ]
	# reclaimed: a lease that ran out
	h=$(mq-get -L 1 q)
	in_dead() { mq-stat q >/dev/null; [ "$(count "$S/q/dead")" -eq 1 ]; }
	wait_for 10 in_dead
	d=$(only q dead)
	[ "$(hdrs "$d")" = "$want" ]
	mq-kick q
	r=$(only q ready)
	[ "$(hdrs "$r")" = "$want" ]
	held=$(mq-hold "$r")
	[ "$(hdrs "$held")" = "$want" ]
	mq-release "$held"
	h=$(mq-get q)
	[ "$(hdrs "$h")" = "$want" ]
	[ "$(cat "$h")" = body ]
	mq-ack "$h"
}

@test "headers: a delayed message keeps them when promoted" {
	mq-put -D 1s -H a=1 q <<<x
	[ "$(hdrs "$(only q delayed)")" = a=1 ]
	h=$(mq-get -w -t 10 q)
	[ "$(hdrs "$h")" = a=1 ]
}

@test "headers: fan-out copies carry them, linked or copied to another filesystem" {
	mq-sub t near far
	FAR=$S/far
	if [ "$(id -u)" -eq 0 ] && mount -t tmpfs tmpfs "$FAR" 2>/dev/null; then
		mkdir "$FAR"/{ready,delayed,inflight,dead,held,tmp}
		: >"$FAR/lock"
		copied=1
	fi
	mq-put -H a=1 -r x.y t <<<x
	[ "$(hdrs "$(only near ready)")" = "$(printf 'a=1\nrouting-key=x.y')" ]
	[ "$(hdrs "$(only far ready)")" = "$(printf 'a=1\nrouting-key=x.y')" ]
	if [ -n "${copied:-}" ]; then
		[ "$(stat -c %h "$(only far ready)")" -eq 1 ]
		umount "$FAR"
	fi
}

@test "headers: a message whose attribute is malformed is left as it is" {
	mq-put -H a=1 q <<<x
	f=$(only q ready)
	setfattr -n user.mq.h -v 'no-equals-sign' "$f"
	h=$(mq-get q)
	# the body is still delivered; readers of headers say they are bad
	[ "$(cat "$h")" = x ]
}

@test "headers: a message waiting its ordered group's turn keeps them when released" {
	mq-put -g g -H n=1 q <<<one
	mq-put -g g -H n=2 q <<<two
	h=$(mq-get q)
	[ "$(hdrs "$h")" = n=1 ]
	mq-ack "$h"
	h=$(mq-get q)
	[ "$(cat "$h")" = two ]
	[ "$(hdrs "$h")" = n=2 ]
}

@test "headers: a keyed put (sync=batch group commit and sync=full) keeps them" {
	for s in batch full; do
		conf "sync=$s"
		mq-put -k "k-$s" -H "s=$s" "q$s" <<<x
		[ "$(hdrs "$(only "q$s" ready)")" = "s=$s" ]
	done
}
