#!/usr/bin/env bats
# mq-commit: publishing prepared messages; mq-rm rolling them back.
load test_helper
bats_require_minimum_version 1.5.0

@test "commit: a prepared message goes to ready, durable, nothing printed" {
	h=$(mq-put -P q <<<paid)
	run mq-commit "$h"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	[ ! -e "$h" ]
	f=$(only q ready)
	[ "$(basename "$f" | cut -d, -f1)" = "$(basename "$h" | cut -d, -f1)" ]
	[ "$(cat "$(mq-get q)")" = paid ]
}

@test "commit: handles from standard input; an empty input commits nothing" {
	mq-put -P -l q < <(seq 3) >"$BATS_TEST_TMPDIR/h"
	mq-commit </dev/null
	[ "$(count "$S/q/prepared")" -eq 3 ]
	mq-commit <"$BATS_TEST_TMPDIR/h"
	[ "$(count "$S/q/prepared")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 3 ]
}

@test "commit: a not-before time still to come sends it to delayed/" {
	h=$(mq-put -P -D 1h q <<<later)
	mq-commit "$h"
	only q delayed >/dev/null
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "commit: an ordered group's turn is taken at the commit, not at the prepare" {
	a=$(mq-put -P -g g q <<<prepared-first)
	mq-put -g g q <<<put-second >/dev/null
	mq-commit "$a"
	h=$(mq-get q)
	[ "$(cat "$h")" = put-second ]
	run mq-get q
	[ "$status" -eq 1 ]
	mq-ack "$h"
	h=$(mq-get q)
	[ "$(cat "$h")" = prepared-first ]
}

@test "commit: a rolled back message is 1 (no longer prepared), and so is a second commit" {
	h=$(mq-put -P q <<<x)
	mq-rm "$h"
	run mq-commit "$h"
	[ "$status" -eq 1 ]
	[[ "$output" == *"no longer prepared"* ]]
	h=$(mq-put -P q <<<y)
	mq-commit "$h"
	run mq-commit "$h"
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "commit: the handle holds after a checker's ask renamed the message (,a1)" {
	conf prepare_timeout=1ms
	h=$(mq-put -P q <<<x)
	sleep 0.01
	mq-resolve q -- sh -c 'exit 3'
	[ ! -e "$h" ]
	[ "$(field a "$(only q prepared)")" = 1 ]
	run mq-commit "$h"
	[ "$status" -eq 0 ]
	f=$(only q ready)
	[ "$(field a "$f")" = 0 ]
}

@test "commit: forged handles are 65 and change nothing: another state, outside the spool, ../, a bad name" {
	mq-put q <<<ready >/dev/null
	h=$(mq-put -P q <<<prep)
	r=$(only q ready)
	before=$(tree_state "$S")
	for bad in "$r" "$S/q/prepared/../ready/$(basename "$(dirname "$r")")/$(basename "$r")" \
	    "$BATS_TEST_TMPDIR/prepared/$(basename "$h")" "$S/q/prepared/not-a-name" \
	    "$S/q/prepared/$(basename "$h"),rdead"; do
		run mq-commit "$bad"
		[ "$status" -eq 65 ]
	done
	[ "$before" = "$(tree_state "$S")" ]
}

@test "commit: a symlink or a FIFO planted in prepared/ is 65, never followed or opened" {
	mq-init q
	h=$(mq-put -P q <<<real)
	target=$BATS_TEST_TMPDIR/target
	echo secret >"$target"
	ln -s "$target" "$S/q/prepared/1796000000.000001.AbCdEfGh,p4,a0"
	mkfifo "$S/q/prepared/1796000000.000002.AbCdEfGh,p4,a0"
	run timed 10 mq-commit "$S/q/prepared/1796000000.000001.AbCdEfGh,p4,a0"
	[ "$status" -eq 65 ]
	run timed 10 mq-commit "$S/q/prepared/1796000000.000002.AbCdEfGh,p4,a0"
	[ "$status" -eq 65 ]
	[ "$(cat "$target")" = secret ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	# and mq-fsck quarantines both, leaving the real one prepared
	run mq-fsck q
	[ "$status" -eq 1 ]
	[ -f "$h" ]
	[ ! -L "$S/q/prepared/1796000000.000001.AbCdEfGh,p4,a0" ]
	[ ! -p "$S/q/prepared/1796000000.000002.AbCdEfGh,p4,a0" ]
	[ "$(cat "$target")" = secret ]
}

@test "commit: a queue that does not exist is 66" {
	mq-init q
	run mq-commit "$S/nosuch/prepared/1796000000.000001.AbCdEfGh,p4,a0"
	[ "$status" -eq 66 ]
}

@test "rm: a prepared message is rolled back: gone, never delivered" {
	h=$(mq-put -P q <<<x)
	run mq-rm "$h"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	run mq-rm "$h"
	[ "$status" -eq 1 ]
}

@test "commit: mq-ls lists prepared messages last; mq-purge -s prepared deletes them, no group let go" {
	mq-put -g g q <<<out >/dev/null
	mq-put -g g q <<<waiting >/dev/null
	h=$(mq-put -P -g g q <<<prep)
	run mq-ls q
	[ "${lines[${#lines[@]}-1]}" = "$h" ]
	run mq-purge -s prepared q
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/prepared")" -eq 0 ]
	# the group's out message is still out: the waiting one still waits
	mq-get q >/dev/null
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "rm: a rollback that died after its message left prepared/ leaves a live key; mq-fsck forgets it, so a retry puts" {
	conf dedup_window=1h
	mq-init q
	id=1796000000.000001.AbCdEfGh
	kf=$(key_file q k)
	mkdir -p "$(dirname "$kf")"
	printf '%s\nprepared/%s,p4,a0,s1,k%s\n' "$id" "$id" "$(hash k)" >"$kf"
	touch -d @$LIVE "$kf"
	run mq-fsck q
	[ "$status" -eq 1 ]
	[ ! -e "$kf" ]
	run mq-put -k k q <<<retry
	[ "$status" -eq 0 ]
	[ "$output" != "$id" ]
	only q ready >/dev/null
}
