#!/usr/bin/env bats
# mq-work: run a command per message.

bats_require_minimum_version 1.5.0
load test_helper

gone() {
	! kill -0 "$1" 2>/dev/null
}

asleep() {
	grep -q poll "/proc/$1/wchan" 2>/dev/null &&
	    [ "$(awk '{print $3}' "/proc/$1/stat")" = S ]
}

@test "work: body on stdin, MQ_* in the environment, exit 0 acks" {
	id=$(printf 'body\0bytes' | mq-put q)
	T=$BATS_TEST_TMPDIR
	mq-work --drain q sh -c 'cat >"$0/body"; env | grep ^MQ_ | sort >"$0/env"' "$T"
	printf 'body\0bytes' | cmp - "$T/body"
	grep -qx "MQ_QUEUE=q" "$T/env"
	grep -qx "MQ_ID=$id" "$T/env"
	grep -qx "MQ_ATTEMPT=1" "$T/env"
	grep -q "^MQ_HANDLE=$S/q/inflight/$id,p4,a1," "$T/env"
	[ "$(msgs q)" -eq 0 ]
}

@test "work: the command is not run through a shell" {
	mq-put q <<<x >/dev/null
	mq-work -e q printf '%s\n' '$(echo no)' ';' '*' >"$BATS_TEST_TMPDIR/out"
	printf '%s\n' '$(echo no)' ';' '*' | cmp - "$BATS_TEST_TMPDIR/out"
}

@test "work: a failing command returns the message with backoff; 100 sends it to dead/" {
	mq-put q <<<fail >/dev/null
	mq-put q <<<reject >/dev/null
	run mq-work -v -e q sh -c 'b=$(cat); [ "$b" = reject ] && exit 100; exit 3'
	[ "$status" -eq 0 ]
	[[ "$output" == *" nacked"* ]]
	[[ "$output" == *" dead"* ]]
	[[ "$(basename "$(only q dead)")" == *",a1,"*",rrejected" ]]
	# backoff: the failed one waits in delayed/ with its attempt counted
	[[ "$(basename "$(only q delayed)")" == *",a1,"*",n"* ]]
}

@test "work: a command killed by a signal returns its message" {
	mq-put q <<<x >/dev/null
	run mq-work -e q sh -c 'kill -KILL $$'
	[ "$status" -eq 0 ]
	only q delayed >/dev/null
}

@test "work: after max_attempts failures the message is dead" {
	conf max_attempts=2 backoff=0
	mq-put q <<<x >/dev/null
	run mq-work -e q false
	[ "$status" -eq 0 ]
	[[ "$(basename "$(only q dead)")" == *",a2,"*",rattempts" ]]
}

@test "work: --drain exits 0 at once on an empty queue" {
	mq-init q
	run mq-work --drain q true
	[ "$status" -eq 0 ]
	run mq-work -e q true
	[ "$status" -eq 0 ]
}

@test "work: -n stops after that many messages" {
	seq 10 | mq-put -l q >/dev/null
	mq-work -n 4 q sh -c 'cat >>"$0"; echo >>"$0"' "$BATS_TEST_TMPDIR/out"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/out")" -eq 4 ]
	[ "$(count "$S/q/ready")" -eq 6 ]
}

@test "work: -j 4 runs four commands at once" {
	seq 4 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	# each job waits until all four have started: only true parallelism ends it
	run timeout 60 mq-work -e -j 4 q sh -c '
		touch "$0/started.$(cat)"
		n=0
		while [ $(ls "$0" | grep -c started) -lt 4 ]; do
			n=$((n + 1)); [ $n -lt 600 ] || exit 1; sleep 0.05
		done' "$T"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "work: -r 100 takes at least 1.5 s for 200 messages (checked from below)" {
	conf sync=none
	seq 200 | mq-put -l q >/dev/null
	start=$(date +%s%N)
	mq-work -e -j 8 -r 100 q true
	end=$(date +%s%N)
	ms=$(((end - start) / 1000000))
	echo "200 messages at -r 100: $ms ms"
	[ "$ms" -ge 1500 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "work: -r accepts N/s, N/m, N/h and refuses the rest" {
	mq-init q
	for r in 5 5/s 5/m 5/h; do
		mq-work -e -r "$r" q true
	done
	for r in 0 -1 5/d x 5/ /s 1000001; do
		run mq-work -e -r "$r" q true
		[ "$status" -eq 64 ]
	done
}

@test "work: a job longer than its lease keeps the message (lease renewed)" {
	mq-put q <<<long >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -e -L 1 q sh -c 'touch "$0/running"; while [ ! -e "$0/done" ]; do sleep 0.05; done' "$T" &
	w=$!
	wait_for 10 exists "$T/running"
	h=$(find "$S/q/inflight" -type f)
	# three leases long: without renewal it would be reclaimed twice over
	sleep 3
	run mq-get q
	[ "$status" -eq 1 ]
	[ -e "$h" ]
	touch "$T/done"
	wait "$w"
	[ "$(msgs q)" -eq 0 ]
}

@test "work: a worker killed with SIGKILL mid-job: the message comes back after the lease" {
	mq-put q <<<job >/dev/null
	T=$BATS_TEST_TMPDIR
	# (the command dies with its worker: SIGTERM from the parent-death signal)
	sigkill_worker "$T/started" -L 2 q sh -c 'touch "$0/started"; exec sleep 60' "$T"
	# no worker renews the lease now; the message returns when it ends
	run mq-get q
	[ "$status" -eq 1 ]
	wait_for 20 try_get q
	[ "$(cat "$h")" = job ]
	[[ "$h" == *,a2,* ]]
}

@test "work: SIGTERM lets running jobs finish within the grace time, exit 0" {
	seq 3 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -j 1 -k 30s q sh -c 'touch "$0/started"; while [ ! -e "$0/finish" ]; do sleep 0.05; done' "$T" &
	w=$!
	wait_for 10 exists "$T/started"
	kill -TERM "$w"
	sleep 0.5
	kill -0 "$w"	# still waiting for its job
	touch "$T/finish"
	st=0
	wait "$w" || st=$?
	[ "$st" -eq 0 ]
	# the running job was acked; no new message was claimed
	[ "$(count "$S/q/ready")" -eq 2 ]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "work: jobs still running at the end of the grace time are killed, their messages returned, exit 75" {
	mq-put q <<<stuck >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -k 1s q sh -c 'echo $$ >"$0/pid"; exec sleep 60' "$T" &
	w=$!
	wait_for 10 exists "$T/pid"
	kill -INT "$w"
	st=0
	wait "$w" || st=$?
	[ "$st" -eq 75 ]
	# the job is gone and its message is ready again at once, attempt counted
	gone "$(cat "$T/pid")"
	[[ "$(basename "$(only q ready)")" == *",a1,"* ]]
	[ "$(count "$S/q/inflight")" -eq 0 ]
}

@test "work: a second signal cuts the grace time short" {
	mq-put q <<<stuck >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -k 1h q sh -c 'echo $$ >"$0/pid"; exec sleep 60' "$T" &
	w=$!
	wait_for 10 exists "$T/pid"
	kill -TERM "$w"
	sleep 0.2
	kill -TERM "$w"
	st=0
	wait "$w" || st=$?
	[ "$st" -eq 75 ]
	only q ready >/dev/null
}

@test "work: -- between the queue and the command is taken as the end of options" {
	mq-put q <<<x >/dev/null
	mq-work -e q -- sh -c 'cat >"$0/got"' "$BATS_TEST_TMPDIR"
	[ "$(cat "$BATS_TEST_TMPDIR/got")" = x ]
	mq-put q <<<y >/dev/null
	mq-work -e -- q sh -c 'cat >"$0/got"' "$BATS_TEST_TMPDIR"
	[ "$(cat "$BATS_TEST_TMPDIR/got")" = y ]
}

@test "work: a busy worker still promotes due retries and reclaims expired leases" {
	conf backoff=1s sync=none
	mq-put q <<<flaky >/dev/null
	seq 30 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	# the flaky message fails first; the others keep the worker busy for
	# well over its backoff, so the retry must be promoted mid-run
	mq-work -e q sh -c 'b=$(cat); if [ "$b" = flaky ] && [ "$MQ_ATTEMPT" = 1 ]; then exit 1; fi; echo "$b" >>"$0/done"; sleep 0.1' "$T"
	grep -qx flaky "$T/done"
	[ "$(msgs q)" -eq 0 ]
}

@test "work: without --drain it waits for new messages (woken by the put)" {
	mq-init q
	T=$BATS_TEST_TMPDIR
	mq-work q sh -c 'cat >"$0/got"' "$T" &
	w=$!
	wait_for 10 asleep "$w"
	mq-put q <<<late >/dev/null
	wait_for 10 exists "$T/got"
	wait_for 10 bash -c "[ \$(find '$S/q' -type f -name '*,*' | wc -l) -eq 0 ]"
	kill -TERM "$w"
	wait "$w"
	[ "$(cat "$T/got")" = late ]
}

@test "work: a command that cannot be run: 127 (not found) or 126, the message returned" {
	mq-put q <<<x >/dev/null
	run -127 --separate-stderr mq-work -e q /nonexistent/cmd
	[ "$status" -eq 127 ]
	[[ "$stderr" == *"/nonexistent/cmd: No such file or directory"* ]]
	[ "$(count "$S/q/ready")" -eq 1 ]
	run mq-work -e q "$BATS_TEST_TMPDIR"
	[ "$status" -eq 126 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
}

@test "work: usage errors -> 64; missing queue -> 66" {
	run mq-work q
	[ "$status" -eq 64 ]
	run mq-work -j 0 q true
	[ "$status" -eq 64 ]
	run mq-work -n 0 q true
	[ "$status" -eq 64 ]
	run mq-work -L 0 q true
	[ "$status" -eq 64 ]
	run mq-work -k soon q true
	[ "$status" -eq 64 ]
	run mq-work ../q true
	[ "$status" -eq 64 ]
	run mq-work -e nosuch true
	[ "$status" -eq 66 ]
}

@test "work: a paused queue gives the worker nothing until resumed" {
	mq-put q <<<x >/dev/null
	mq-pause q
	T=$BATS_TEST_TMPDIR
	mq-work q sh -c 'cat >"$0/got"' "$T" &
	w=$!
	wait_for 10 asleep "$w"
	[ ! -e "$T/got" ]
	mq-resume q
	wait_for 10 exists "$T/got"
	kill -TERM "$w"
	wait "$w"
}

@test "work: 4 workers with -j 2 each process 400 messages exactly once" {
	conf sync=none
	seq 400 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	for i in 1 2 3 4; do
		mq-work -e -j 2 q sh -c 'cat >>"$0/done.$$"; echo >>"$0/done.$$"' "$T" &
	done
	wait
	cat "$T"/done.* | sort -n >"$T/all"
	seq 400 | cmp - "$T/all"
	[ "$(msgs q)" -eq 0 ]
}

@test "work: PATH is searched once, when mq-work starts" {
	T=$BATS_TEST_TMPDIR
	mkdir "$T/a" "$T/b"
	printf '#!/bin/sh\necho b >>"%s/ran"\n' "$T" >"$T/b/job"
	chmod +x "$T/b/job"
	mq-put q <<<one >/dev/null
	PATH=$T/a:$T/b:$PATH mq-work q job &
	w=$!
	wait_for 10 exists "$T/ran"
	# a job earlier in PATH now: execvp would search again and find it
	printf '#!/bin/sh\necho a >>"%s/ran"\n' "$T" >"$T/a/job"
	chmod +x "$T/a/job"
	mq-put q <<<two >/dev/null
	wait_for 10 bash -c "[ \$(wc -l <'$T/ran') -eq 2 ]"
	kill -TERM "$w"
	wait "$w"
	[ "$(cat "$T/ran" | tr '\n' ' ')" = "b b " ]
}

@test "work: headers as MQ_H_<name>, '-' and '.' as '_', values byte for byte; inherited MQ_H_ removed" {
	T=$BATS_TEST_TMPDIR
	v=$(printf 'two\nlines \033[1m=x')
	mq-put -H content-type=text/plain -H "x.note=$v" -r orders.paid q <<<b
	MQ_H_stale=1 mq-work --drain q python3 -c '
import os, sys
e = {k: v for k, v in os.environb.items() if k.startswith(b"MQ_H_")}
open(sys.argv[1], "wb").write(repr(sorted(e.items())).encode())' "$T/env"
	want="[(b'MQ_H_content_type', b'text/plain'), (b'MQ_H_routing_key', b'orders.paid'), (b'MQ_H_x_note', b'two\\nlines \\x1b[1m=x')]"
	[ "$(cat "$T/env")" = "$want" ]
	[ "$(msgs q)" -eq 0 ]
}

@test "work: a message whose headers no reader can trust goes to dead/, the command not run" {
	T=$BATS_TEST_TMPDIR
	mq-put -H a=1 q <<<x
	setfattr -n user.mq.h -v 'no-equals' "$(files q ready)"
	run --separate-stderr mq-work --drain q touch "$T/ran"
	[ "$status" -eq 0 ]
	[[ "$stderr" == *"cannot read headers: bad header"* ]]
	[ ! -e "$T/ran" ]
	[ "$(count "$S/q/dead")" -eq 1 ]
}

@test "work: an inherited MQ_H_ variable of any length is removed (was kept past 133 bytes of name)" {
	T=$BATS_TEST_TMPDIR
	mq-put -H n=1 q <<<x
	long=MQ_H_$(head -c 129 /dev/zero | tr '\0' x)
	env "$long=inherited" MQ_H_short=inherited mq-work --drain q \
	    sh -c 'env | grep ^MQ_H_ | cut -d= -f1 >"$0/env"' "$T"
	[ "$(cat "$T/env")" = MQ_H_n ]
}
