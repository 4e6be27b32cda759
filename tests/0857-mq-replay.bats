#!/usr/bin/env bats
# mq-replay: done messages (retain) copied back into ready.
load test_helper
bats_require_minimum_version 1.5.0

setup() {
	export MQ_SPOOL=$BATS_TEST_TMPDIR/spool
	export MQ_CONF=$BATS_TEST_TMPDIR/mq.conf
	S=$MQ_SPOOL
	conf retain=1h
}

# acked BODY... - put each body with -p 7 -g G -H h=v, then ack them all
acked() {
	local b
	for b; do
		mq-put -p 7 -g G -H h=v q <<<"$b" >/dev/null
		mq-ack "$(mq-get q)"
	done
}

@test "replay: a path gets a copy in ready: a new id, body, priority, group, headers and original-id; 0 attempts" {
	acked one
	d=$(only q done)
	run mq-replay "$d"
	[ "$status" -eq 0 ]
	id=$output
	[ "$id" != "$(basename "$d" | cut -d, -f1)" ]
	r=$(only q ready)
	[ "$(basename "$r" | cut -d, -f1)" = "$id" ]
	[ "$(cat "$r")" = one ]
	[ "$(field p "$r")" -eq 7 ]
	[ "$(field a "$r")" -eq 0 ]
	[ "$(field g "$r")" = "$(hash G)" ]
	run mq-show "$r"
	[[ "$output" == *"h: v"* ]]
	[[ "$output" == *"original-id: $(basename "$d" | cut -d, -f1)"* ]]
	# the done message stays, and replays again
	[ -e "$d" ]
	run mq-replay "$d"
	[ "$status" -eq 0 ]
	[ "$output" != "$id" ]
}

@test "replay: the copy of a copy keeps the first original-id" {
	acked one
	first=$(basename "$(only q done)" | cut -d, -f1)
	mq-replay "$(only q done)" >/dev/null
	mq-ack "$(mq-get q)"
	copy=$(mq-ls -s done q | grep -v "/$first,")
	mq-replay "$copy" >/dev/null
	run mq-show "$(only q ready)"
	[[ "$output" == *"original-id: $first"* ]]
}

@test "replay: paths from standard input; an empty input replays nothing" {
	acked a b c
	mq-replay </dev/null
	[ -z "$(files q ready)" ]
	mq-ls -s done q | head -n 2 | mq-replay >/dev/null
	[ "$(files q ready | wc -l)" -eq 1 ]
	# the second waits its group's turn: admit() took it
	[ "$(mq-stat -j q | sed 's/.*"ready":\([0-9]*\).*/\1/')" -eq 2 ]
}

@test "replay: a keyed message's copy is not swallowed by dedup" {
	conf retain=1h dedup_window=1h
	mq-put -k K q <<<x >/dev/null
	mq-ack "$(mq-get q)"
	run mq-put -k K q <<<x
	[ -z "$(files q ready)" ]
	mq-replay "$(only q done)" >/dev/null
	r=$(only q ready)
	[[ "$(basename "$r")" != *,k* ]]
}

@test "replay: -a replays a queue's range, -S and -U as times or durations ago" {
	acked a b c
	run mq-replay -a -S 10m q
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(mq-stat -j q | sed 's/.*"ready":\([0-9]*\).*/\1/')" -eq 3 ]
	mq-purge -s ready q >/dev/null
	mq-replay -a -U 1h q
	[ -z "$(files q ready)" ]
	mq-replay -a -S "@$(($(date +%s) + 3600))" q
	[ -z "$(files q ready)" ]
	mq-replay -a -S 2020-01-01T00:00:00Z -U "@$(($(date +%s) + 60))" q
	[ "$(mq-stat -j q | sed 's/.*"ready":\([0-9]*\).*/\1/')" -eq 3 ]
}

@test "replay: to another queue of the spool: -a queue dest, -t dest" {
	acked a b
	mq-init fixed
	mq-replay -a q fixed
	[ "$(files fixed ready | wc -l)" -eq 1 ]
	mq-ls -s done q | head -n 1 | mq-replay -t fixed >/dev/null
	[ "$(mq-stat -j fixed | sed 's/.*"ready":\([0-9]*\).*/\1/')" -eq 3 ]
	[ -z "$(files q ready)" ]
	run mq-replay -a q nosuch
	[ "$status" -eq 66 ]
	run mq-replay -t nosuch "$(mq-ls -s done q | head -n 1)"
	[ "$status" -eq 66 ]
	run mq-replay -a q ../x
	[ "$status" -eq 64 ]
}

@test "replay: usage: a whole queue only with -a, -S and -U only with it" {
	run mq-replay -a
	[ "$status" -eq 64 ]
	run mq-replay -S 1h /x
	[ "$status" -eq 64 ]
	run mq-replay -a -t x q
	[ "$status" -eq 64 ]
	run mq-replay -a -S soon q
	[ "$status" -eq 64 ]
	[[ "$output" == *"soon: bad time or duration"* ]]
}

@test "replay: hostile paths are refused with 65 and nothing changes" {
	acked one
	d=$(only q done)
	b=$(dirname "$d")
	t=$(field d "$d")
	mq-put q <<<r >/dev/null
	ln -s "$d" "$b/1700000000.000000.aaaaaaaa,p4,a1,s4,d$t"
	mkfifo "$b/1700000000.000000.bbbbbbbb,p4,a1,s4,d$t"
	ln "$d" "$BATS_TEST_TMPDIR/twin"
	before=$(tree_state "$S")
	for p in "$b/1700000000.000000.aaaaaaaa,p4,a1,s4,d$t" \
	    "$b/1700000000.000000.bbbbbbbb,p4,a1,s4,d$t" \
	    "$d" "$(only q ready)" /etc/passwd "$S/q/done/../done/x" \
	    "$S/q/done/$(basename "$d")" "$b/../$(basename "$b")/x,d1"; do
		run timeout 10 mq-replay "$p"
		[ "$status" -eq 65 ]
	done
	[ "$before" = "$(tree_state "$S")" ]
	run mq-replay "$(printf '%s\n' "$b/evil\033[2J,d1")"
	[ "$status" -eq 65 ]
	[[ "$output" == *'\033'* ]]
}

@test "replay: a done message dropped meanwhile is 1, the others still go" {
	acked a b
	mq-ls -s done q >"$BATS_TEST_TMPDIR/paths"
	mq-rm "$(head -n 1 "$BATS_TEST_TMPDIR/paths")"
	run mq-replay <"$BATS_TEST_TMPDIR/paths"
	[ "$status" -eq 1 ]
	[ "$(mq-stat -j q | sed 's/.*"ready":\([0-9]*\).*/\1/')" -eq 1 ]
}

@test "replay: original-id is mq-replay's: mq-put -H refuses it" {
	run mq-put -H original-id=x q <<<x
	[ "$status" -eq 65 ]
	[[ "$output" == *"original-id"* ]]
	run mq-put -H original_id=x q <<<x
	[ "$status" -eq 65 ]
}

@test "replay: into a topic is refused (64), by path and with -a: its puts go to its subscribers" {
	conf retain=1h
	mq-init t s1
	mq-sub t s1
	mq-put q <<<a >/dev/null
	mq-ack "$(mq-get q)"
	run -64 mq-replay -t t "$(mq-ls -s done q)"
	[[ "$output" == *"the destination is a topic"* ]]
	run -64 mq-replay -a q t
	[[ "$output" == *"q -> t: 0 replayed, then: the destination is a topic"* ]]
	[ "$(count "$S/t/ready")" -eq 0 ]
	[ "$(count "$S/s1/ready")" -eq 0 ]
	[ "$(count "$S/q/done")" -eq 1 ]
}

@test "replay: -a into a full queue says how many went in, and where" {
	conf retain=1h
	mq-init d
	printf 'max_length = 2\n' >"$S/d/mq.conf"
	printf 'a\nb\nc\n' | mq-put -l q >/dev/null
	mq-get -n 3 q | mq-ack
	run -75 mq-replay -a q d
	[[ "$output" == *"q -> d: 2 replayed, then: queue full"* ]]
	[ "$(count "$S/d/ready")" -eq 2 ]
	[ "$(count "$S/q/done")" -eq 3 ]
}
