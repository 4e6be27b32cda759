#!/usr/bin/env bats
# mq-rm: deleting one message by the path mq-ls prints.
load test_helper
bats_require_minimum_version 1.5.0

@test "rm: a ready, a delayed, a held and a dead message are deleted, nothing printed" {
	four_states q
	[ -n "$ready_f" ]
	[ -n "$delayed_f" ]
	[ -n "$dead_f" ]
	[ -e "$held_f" ]
	run mq-rm "$ready_f" "$delayed_f" "$held_f" "$dead_f"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ "$(msgs q)" -eq 0 ]
}

@test "rm: paths from standard input; an empty input deletes nothing" {
	seq 5 | mq-put -l q >/dev/null
	mq-rm </dev/null
	[ "$(msgs q)" -eq 5 ]
	mq-ls q | head -n 3 | mq-rm
	[ "$(msgs q)" -eq 2 ]
}

@test "rm: an in-flight handle is refused with 65, the message stays claimed" {
	mq-put q <<<x >/dev/null
	h=$(mq-get q)
	run mq-rm "$h"
	[ "$status" -eq 65 ]
	[[ "$output" == *"not a message of this spool in that state"* ]]
	[ -e "$h" ]
	mq-ack "$h"
}

@test "rm: a message gone meanwhile is 1 (moved) or, dead, 66; the others still go" {
	seq 2 | mq-put -l q >/dev/null
	mq-ls q >"$BATS_TEST_TMPDIR/paths"
	h=$(mq-get q)
	run mq-rm <"$BATS_TEST_TMPDIR/paths"
	[ "$status" -eq 1 ]
	[[ "$output" == *"message moved meanwhile"* ]]
	[ "$(msgs q)" -eq 1 ]
	[ -e "$h" ]
	conf max_attempts=1
	mq-nack "$h"
	d=$(mq-ls -s dead q)
	mq-rm "$d"
	run mq-rm "$d"
	[ "$status" -eq 66 ]
}

@test "rm: hostile paths are refused with 65 and nothing changes" {
	mq-put q <<<x >/dev/null
	hostile_paths q
	for p in "${hostile[@]}"; do
		run mq-rm "$p"
		[ "$status" -eq 65 ] || [ "$status" -eq 1 ]
		[[ "$output" != *$'\033'* ]]
	done
	# the hard link makes the real one refused as well: no twin is acted on
	run mq-rm "$f"
	[ "$status" -eq 65 ]
	unplant_paths q
	[ "$(cat "$f")" = x ]
	mq-rm "$f"
	[ "$(msgs q)" -eq 0 ]
}

@test "rm: the key stays known for dedup_window, as after an ack" {
	id=$(mq-put -k order-1 q <<<x)
	mq-rm "$(mq-ls q)"
	[ "$(mq-put -k order-1 q <<<x)" = "$id" ]
	[ "$(msgs q)" -eq 0 ]
	conf dedup_window=0
	mq-put -k order-2 q <<<y >/dev/null
	mq-rm "$(mq-ls q)"
	[ "$(mq-put -k order-2 q <<<y)" != "$id" ]
	[ "$(msgs q)" -eq 1 ]
}

@test "rm: deleting its group's ready message lets the group's next go" {
	mq-put -g g q <<<one >/dev/null
	mq-put -g g q <<<two >/dev/null
	[ "$(count "$S/q/ready")" -eq 1 ]
	mq-rm "$(mq-ls q)"
	h=$(mq-get q)
	[ "$(cat "$h")" = two ]
}

@test "rm: a queue of a spool given by -d, and a path outside it refused" {
	mq-put -d "$BATS_TEST_TMPDIR/other" q <<<x >/dev/null
	p=$(mq-ls -d "$BATS_TEST_TMPDIR/other" q)
	run mq-rm "$p"
	[ "$status" -eq 65 ]
	mq-rm -d "$BATS_TEST_TMPDIR/other" "$p"
	[ ! -e "$p" ]
}
