#!/usr/bin/env bats
# mq-resolve: a checker asked about prepared messages whose producer went
# quiet; exit 0 commits, 1 rolls back, anything else asks again later.
load test_helper
bats_require_minimum_version 1.5.0

@test "resolve: a message not yet prepare_timeout old is not asked about" {
	conf prepare_timeout=1h
	mq-put -P q <<<x >/dev/null
	run mq-resolve q -- touch "$BATS_TEST_TMPDIR/asked"
	[ "$status" -eq 0 ]
	[ ! -e "$BATS_TEST_TMPDIR/asked" ]
	[ "$(count "$S/q/prepared")" -eq 1 ]
}

@test "resolve: the checker gets MQ_ID, MQ_HANDLE, MQ_QUEUE and the headers as mq-work sets them" {
	conf prepare_timeout=1ms
	h=$(mq-put -P -H order-id=42 -H x.y=z q <<<x)
	sleep 0.01
	mq-resolve q -- sh -c 'printf "%s|%s|%s|%s|%s\n" "$MQ_ID" "$MQ_HANDLE" "$MQ_QUEUE" "$MQ_H_order_id" "$MQ_H_x_y" >"$0"; exit 3' "$BATS_TEST_TMPDIR/env"
	id=$(basename "$h" | cut -d, -f1)
	[ "$(cat "$BATS_TEST_TMPDIR/env")" = "$id|$h|q|42|z" ]
}

@test "resolve: exit 0 commits, 1 rolls back (its key freed), 3 asks again later (,a counts)" {
	conf prepare_timeout=1ms
	mq-put -P -H a=commit q <<<c >/dev/null
	mq-put -P -H a=rollback -k k q <<<r >/dev/null
	mq-put -P -H a=later q <<<l >/dev/null
	sleep 0.01
	run mq-resolve -v q -- sh -c 'case $MQ_H_a in commit) exit 0;; rollback) exit 1;; *) exit 3;; esac'
	[ "$status" -eq 0 ]
	[[ "$output" == *"committed $S/q/prepared/"* ]]
	[[ "$output" == *"rolled back $S/q/prepared/"* ]]
	[[ "$output" == *"unresolved $S/q/prepared/"* ]]
	[ "$(cat "$(only q ready)")" = c ]
	[ "$(field a "$(only q prepared)")" = 1 ]
	[ ! -e "$(key_file q k)" ]
}

@test "resolve: an unanswered ask is not repeated before prepare_timeout again" {
	conf prepare_timeout=1h
	h=$(mq-put -P q <<<x)
	touch -d '2 hours ago' "$h"
	mq-resolve q -- sh -c 'echo >>"$0"; exit 3' "$BATS_TEST_TMPDIR/n"
	mq-resolve q -- sh -c 'echo >>"$0"; exit 3' "$BATS_TEST_TMPDIR/n"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/n")" -eq 1 ]
	[ "$(field a "$(only q prepared)")" = 1 ]
}

@test "resolve: after prepare_max unanswered asks it is dead as unresolved; mq-kick returns it to prepared, not ready" {
	conf prepare_timeout=1ms prepare_max=2
	mq-put -P q <<<x >/dev/null
	sleep 0.01
	mq-resolve q -- sh -c 'exit 2'
	sleep 0.01
	mq-resolve q -- sh -c 'exit 2'
	d=$(only q dead)
	[ "$(field r "$d")" = unresolved ]
	[ "$(count "$S/q/prepared")" -eq 0 ]
	mq-kick q "$d"
	p=$(only q prepared)
	[ "$(field a "$p")" = 0 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
	# and so does mq-kick of the whole of dead/
	sleep 0.01
	mq-resolve q -- sh -c 'exit 2'
	sleep 0.01
	mq-resolve q -- sh -c 'exit 2'
	only q dead >/dev/null
	mq-kick q
	only q prepared >/dev/null
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "resolve: two at once never run a checker twice for one message" {
	conf prepare_timeout=1ms
	for i in 1 2 3 4 5 6; do mq-put -P q <<<"$i" >/dev/null; done
	sleep 0.01
	chk='echo "$MQ_ID" >>"$0"; sleep 0.2; exit 0'
	mq-resolve q -- sh -c "$chk" "$BATS_TEST_TMPDIR/ids" &
	mq-resolve q -- sh -c "$chk" "$BATS_TEST_TMPDIR/ids" &
	wait
	[ "$(count "$S/q/ready")" -eq 6 ]
	[ "$(sort "$BATS_TEST_TMPDIR/ids" | uniq -d | wc -l)" -eq 0 ]
	[ "$(wc -l <"$BATS_TEST_TMPDIR/ids")" -eq 6 ]
}

@test "resolve: a checker that hangs is killed after -t, and the ask counts as unanswered" {
	conf prepare_timeout=1ms
	mq-put -P q <<<x >/dev/null
	sleep 0.01
	run timed 20 mq-resolve -t 200ms q -- sleep 60
	[ "$status" -eq 0 ]
	[[ "$output" == *"timed out"* ]]
	[ "$(field a "$(only q prepared)")" = 1 ]
}

@test "resolve: a command that cannot run stops it (127) and leaves the message as it was" {
	conf prepare_timeout=1ms
	h=$(mq-put -P q <<<x)
	sleep 0.01
	run -127 mq-resolve q -- /nonexistent/checker
	[ "$status" -eq 127 ]
	[ -f "$h" ]
}

@test "resolve: -w keeps watching and asks about what comes due later" {
	conf prepare_timeout=100ms
	mq-init q
	mq-resolve -w q -- true &
	mq-put -P q <<<x >/dev/null
	wait_for 20 sh -c '[ -n "$(find "$0" -type f)" ]' "$S/q/ready"
	kill %1
}

@test "resolve: usage: a queue and a command are needed (64); no such queue is 66" {
	run mq-resolve q
	[ "$status" -eq 64 ]
	run mq-resolve q --
	[ "$status" -eq 64 ]
	run mq-resolve nosuch -- true
	[ "$status" -eq 66 ]
}

@test "resolve: a symlink, a FIFO and a hard link planted in prepared/ get no checker and stay as they are" {
	conf prepare_timeout=1ms
	mq-init q
	echo secret >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$S/q/prepared/1796000000.000001.AbCdEfGh,p4,a0"
	mkfifo "$S/q/prepared/1796000000.000002.AbCdEfGh,p4,a0"
	ln "$BATS_TEST_TMPDIR/target" "$S/q/prepared/1796000000.000003.AbCdEfGh,p4,a0"
	sleep 0.01
	run timed 20 mq-resolve q -- sh -c 'echo "$MQ_ID" >>"$0"' "$BATS_TEST_TMPDIR/asked"
	[ ! -e "$BATS_TEST_TMPDIR/asked" ]
	[ -L "$S/q/prepared/1796000000.000001.AbCdEfGh,p4,a0" ]
	[ -p "$S/q/prepared/1796000000.000002.AbCdEfGh,p4,a0" ]
	[ "$(cat "$BATS_TEST_TMPDIR/target")" = secret ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "resolve: a message committed by its producer while the checker runs stays committed" {
	conf prepare_timeout=1ms
	h=$(mq-put -P q <<<x)
	sleep 0.01
	run mq-resolve q -- sh -c 'mq-commit "$MQ_HANDLE"; exit 1'
	[ "$status" -eq 0 ]
	only q ready >/dev/null
}
