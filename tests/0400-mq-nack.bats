#!/usr/bin/env bats
# mq-nack: giving claimed messages back.
load test_helper
bats_require_minimum_version 1.5.0


snapshot() {
	(cd "$S" && find . -print0 | sort -z | xargs -0 ls -ld --time-style=+%s.%N &&
	    find . -type f -print0 | sort -z | xargs -0 -r md5sum)
}

# cycle QUEUE N - claim and nack -D 0 the only message N times; leaves it
# ready with aN
cycle() {
	local i h
	for ((i = 0; i < $2; i++)); do
		h=$(mq-get "$1") && mq-nack -D 0 "$h" || return 1
	done
}

NAME=1700000000.000001.AAAAAAAA,p4,a1,s6,tTOKEN123

@test "nack: -D 0 puts it back in ready at once, attempts kept, token dropped" {
	id=$(mq-put q <<<retry)
	h=$(mq-get q)
	run mq-nack -D 0 "$h"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$h" ]
	f=$(only q ready)
	[ "$(basename "$f")" = "$id,p4,a1,s6" ]
	[ "$(cat "$f")" = retry ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/q/delayed")" -eq 0 ]
}

@test "nack: the next mq-get delivers it again with attempts a2" {
	id=$(mq-put q <<<retry)
	mq-nack -D 0 "$(mq-get q)"
	run mq-get q
	[ "$status" -eq 0 ]
	[[ "$(basename "$output")" =~ ^$id,p4,a2,s6,l[0-9]+,t[0-9A-Za-z]{6,16}$ ]]
	[ "$(cat "$output")" = retry ]
}

@test "nack: priority and expiry are kept" {
	id=$(mq-put -p 8 -T 1h q <<<x)
	x=$(field x "$(only q ready)")
	mq-nack -D 0 "$(mq-get q)"
	[ "$(basename "$(only q ready)")" = "$id,p8,a1,s2,x$x" ]
	[ -d "$S/q/ready/8.0000000001" ]
}

@test "nack: default backoff (backoff = 1s) puts it in delayed/, delivered after" {
	conf backoff=1s
	id=$(mq-put q <<<x)
	h=$(mq-get q)
	before=$(date +%s)
	run mq-nack "$h"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	f=$(only q delayed)
	n=$(field n "$f")
	[ "$n" -ge $((before + 1)) ] && [ "$n" -le $((before + 3)) ]
	[ "$(basename "$f")" = "$id,p4,a1,s2,n$n" ]
	w=$(basename "$(dirname "$f")")
	[ "$w" = "$(printf '%010d' $((n - n % 60)))" ]
	wait_for 5 try_get q
	[[ "$(basename "$h")" == "$id,p4,a2,s2,l"* ]]
}

@test "nack: without configuration the backoff is 1s" {
	mq-put q <<<x >/dev/null
	before=$(date +%s)
	mq-nack "$(mq-get q)"
	n=$(field n "$(only q delayed)")
	[ "$n" -ge $((before + 1)) ] && [ "$n" -le $((before + 3)) ]
}

@test "nack: backoff doubles per attempt: backoff * 2^(attempts-1)" {
	conf backoff=10s
	mq-put q <<<x >/dev/null
	cycle q 2
	h=$(mq-get q)
	[[ "$h" == *,a3,* ]]
	before=$(date +%s)
	mq-nack "$h"
	n=$(field n "$(only q delayed)")
	[ "$n" -ge $((before + 40)) ] && [ "$n" -le $((before + 42)) ]
}

@test "nack: backoff is capped at backoff_max" {
	conf backoff=10s backoff_max=25s
	mq-put q <<<x >/dev/null
	cycle q 2
	before=$(date +%s)
	mq-nack "$(mq-get q)"
	n=$(field n "$(only q delayed)")
	[ "$n" -ge $((before + 25)) ] && [ "$n" -le $((before + 27)) ]
}

@test "nack: backoff = 0 puts it back in ready at once" {
	conf backoff=0
	mq-put q <<<x >/dev/null
	mq-nack "$(mq-get q)"
	[ "$(count "$S/q/ready")" -eq 1 ]
	[ "$(count "$S/q/delayed")" -eq 0 ]
}

@test "nack: -D 2s delays the message" {
	id=$(mq-put q <<<x)
	h=$(mq-get q)
	before=$(date +%s)
	run mq-nack -D 2s "$h"
	[ "$status" -eq 0 ]
	f=$(only q delayed)
	n=$(field n "$f")
	[ "$n" -ge $((before + 2)) ] && [ "$n" -le $((before + 4)) ]
	run mq-get q
	[ "$status" -eq 1 ]
	wait_for 6 try_get q
	[[ "$(basename "$h")" == "$id,p4,a2,s2,l"* ]]
}

@test "nack: -D overrides the configured backoff" {
	conf backoff=1h
	mq-put q <<<x >/dev/null
	before=$(date +%s)
	mq-nack -D 1h30m "$(mq-get q)"
	n=$(field n "$(only q delayed)")
	[ "$n" -ge $((before + 5400)) ] && [ "$n" -le $((before + 5402)) ]
}

@test "nack: bad -D -> 64, the message stays in flight" {
	h=$(mq-put q <<<x >/dev/null && mq-get q)
	for d in bogus '' -1 1x 1.5s; do
		run mq-nack -D "$d" "$h"
		[ "$status" -eq 64 ] || { echo "delay [$d]: $status"; false; }
	done
	[ -f "$h" ]
}

@test "nack: max_attempts reached -> dead/ with ,rattempts" {
	conf max_attempts=2
	id=$(mq-put q <<<poison)
	cycle q 1
	h=$(mq-get q)
	[[ "$h" == *,a2,* ]]
	run mq-nack -D 0 "$h"
	[ "$status" -eq 0 ]
	f=$(only q dead)
	[ "$(basename "$f")" = "$id,p4,a2,s7,rattempts" ]
	[ "$(cat "$f")" = poison ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "nack: max_attempts reached with the default backoff -> dead/, not delayed/" {
	conf max_attempts=1
	mq-put q <<<x >/dev/null
	mq-nack "$(mq-get q)"
	[[ "$(only q dead)" == *",a1,s2,rattempts" ]]
	[ "$(count "$S/q/delayed")" -eq 0 ]
}

@test "nack: default max_attempts is 5" {
	mq-put q <<<x >/dev/null
	cycle q 4
	[ "$(count "$S/q/dead")" -eq 0 ]
	h=$(mq-get q)
	[[ "$h" == *,a5,* ]]
	mq-nack -D 0 "$h"
	[[ "$(only q dead)" == *",a5,s2,rattempts" ]]
}

@test "nack: max_attempts = 0 is unlimited" {
	conf max_attempts=0
	mq-put q <<<x >/dev/null
	cycle q 8
	[ "$(count "$S/q/dead")" -eq 0 ]
	[[ "$(only q ready)" == *",a8,s2" ]]
}

@test "nack: the queue's mq.conf max_attempts overrides the global one" {
	conf max_attempts=0
	mq-put q <<<x >/dev/null
	echo 'max_attempts = 1' >"$S/q/mq.conf"
	mq-nack -D 0 "$(mq-get q)"
	[ "$(count "$S/q/dead")" -eq 1 ]
}

@test "nack: an expired message nacked back is dead-lettered by the next get" {
	mq-put -T 1 q <<<x >/dev/null
	x=$(field x "$(only q ready)")
	h=$(mq-get q)
	wait_for 5 now_ge "$x"
	mq-nack -D 0 "$h"
	run mq-get q
	[ "$status" -eq 1 ]
	[[ "$(only q dead)" == *",rexpired" ]]
}

@test "nack: stale handle (acked) -> 1, lease lost" {
	h=$(mq-put q <<<x >/dev/null && mq-get q)
	mq-ack "$h"
	run mq-nack -D 0 "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	[ "$(count "$S/q")" -eq 1 ]
}

@test "nack: nacked twice -> 1 the second time, one copy in ready" {
	h=$(mq-put q <<<x >/dev/null && mq-get q)
	mq-nack -D 0 "$h"
	run mq-nack -D 0 "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"lease lost"* ]]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "nack: stale handle (claimed again) -> 1, the new claim untouched" {
	mq-put q <<<x >/dev/null
	old=$(mq-get -L 1 q)
	wait_for 5 try_get q
	run mq-nack -D 0 "$old"
	[ "$status" -eq 1 ]
	[ -f "$h" ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 1 ]
}

@test "nack: handles from stdin" {
	mq-put -l q < <(printf 'a\nb\nc\n') >/dev/null
	run bash -c 'mq-get -n 3 q | mq-nack -D 0'
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 3 ]
	[ -z "$(find "$S/q/ready" -type f ! -name '*,a1,*')" ]
}

@test "nack: several handles as operands" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 q)
	run mq-nack -D 0 "${hs[@]}"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "nack: no operands and empty stdin: exit 0" {
	run mq-nack </dev/null
	[ "$status" -eq 0 ]
}

@test "nack: foreign or wrong-state handles -> 65, nothing changed" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	h=$(mq-get q)
	r=$(only q ready)
	printf x >"$S/q/dead/1700000000.000001.AAAAAAAA,p4,a5,s1,rattempts"
	printf precious >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$S/q/inflight/$NAME"
	printf x >"$S/q/inflight/garbage"
	before=$(snapshot)
	for p in /etc/passwd "$r" \
	    "$S/q/dead/1700000000.000001.AAAAAAAA,p4,a5,s1,rattempts" \
	    "$S/q/inflight/$NAME" "$S/q/inflight/garbage" \
	    "$S/q/inflight/../../../x/inflight/$NAME"; do
		run mq-nack -D 0 "$p"
		[ "$status" -eq 65 ] || { echo "[$p]: $status"; false; }
	done
	[ "$(snapshot)" = "$before" ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = precious ]
	[ -f "$h" ]
}

@test "nack: a handle of another spool (-d) -> 65, nothing changed" {
	h=$(mq-put q <<<x >/dev/null && mq-get q)
	mq-init -d "$BATS_TEST_TMPDIR/other" q
	run mq-nack -D 0 -d "$BATS_TEST_TMPDIR/other" "$h"
	[ "$status" -eq 65 ]
	[ -f "$h" ]
	[ "$(count "$BATS_TEST_TMPDIR/other/q/ready")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "nack: mixed good and bad handles: good ones nacked, status non-zero" {
	mq-put -l q < <(printf 'a\nb\n') >/dev/null
	mapfile -t hs < <(mq-get -n 2 q)
	run mq-nack -D 0 "${hs[0]}" /etc/passwd "${hs[1]}"
	[ "$status" -eq 65 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "nack: works with sync=none and sync=batch" {
	for mode in none batch; do
		conf "sync=$mode"
		h=$(mq-put "q$mode" <<<x >/dev/null && mq-get "q$mode")
		run mq-nack -D 0 "$h"
		[ "$status" -eq 0 ]
		[ "$(count "$S/q$mode/ready")" -eq 1 ]
	done
}

@test "nack: -h -> 0 with usage on stdout, -V prints the version, bad option -> 64" {
	run --separate-stderr mq-nack -h
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: mq-nack"* ]]
	[ -z "$stderr" ]
	run mq-nack -V
	[ "$status" -eq 0 ]
	[ "$output" = "mq-nack 0.1.0" ]
	h=$(mq-put q <<<x >/dev/null && mq-get q)
	run mq-nack -x "$h"
	[ "$status" -eq 64 ]
	[ -f "$h" ]
	run mq-nack -D
	[ "$status" -eq 64 ]
}
