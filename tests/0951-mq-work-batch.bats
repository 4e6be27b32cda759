#!/usr/bin/env bats
# mq-work -b: a command per batch of messages, their handles as operands.

bats_require_minimum_version 1.5.0
load test_helper

@test "batch: handles as operands, stdin /dev/null, MQ_QUEUE only; exit 0 acks them all" {
	seq 5 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	# per-message variables mq-work itself inherited are not passed on
	MQ_ID=x MQ_HANDLE=y MQ_ATTEMPT=z mq-work -e -b 3 q sh -c '
		echo "$#" >>"$0/runs"
		for h; do cat "$h"; echo; done >>"$0/bodies"
		cat >"$0/stdin"
		env | grep "^MQ_[IAHQ]" | sort >"$0/env"
		for h; do [ "$(dirname "$h")" = "$MQ_SPOOL/q/inflight" ] || exit 1; done' "$T"
	[ "$(cat "$T/runs" | tr '\n' ' ')" = "3 2 " ]
	seq 5 | cmp - "$T/bodies"
	[ ! -s "$T/stdin" ]
	[ "$(cat "$T/env")" = "MQ_QUEUE=q" ]
	[ "$(msgs q)" -eq 0 ]
}

@test "batch: takes what is ready and does not wait to fill a batch" {
	seq 3 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -b 100 q sh -c 'echo "$#" >>"$0/runs"' "$T" &
	w=$!
	wait_for 10 exists "$T/runs"
	[ "$(cat "$T/runs")" = 3 ]
	wait_for 10 bash -c "[ \$(find '$S/q' -type f -name '*,*' | wc -l) -eq 0 ]"
	kill -TERM "$w"
	wait "$w"
}

@test "batch: exit 100 sends the batch to dead/, another status returns it with backoff" {
	seq 2 | mq-put -l q >/dev/null
	run mq-work -e -b 10 q sh -c 'exit 100'
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/dead")" -eq 2 ]
	seq 2 | mq-put -l r >/dev/null
	run mq-work -e -b 10 r sh -c 'exit 3'
	[ "$status" -eq 0 ]
	[ "$(count "$S/r/delayed")" -eq 2 ]
}

@test "batch: what the command settled itself stays as it left it, quietly; the rest follows the exit status" {
	printf '%s\n' ack nack rest | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	run --separate-stderr mq-work -v -e -b 3 q sh -c '
		for h; do
			case $(cat "$h") in
			ack) mq-ack "$h" ;;
			nack) mq-nack -D 1h "$h" ;;
			esac
		done
		exit 3' _
	[ "$status" -eq 0 ]
	echo "$stderr"
	# one line, the one the exit status settled: no lease-lost warning
	[ "$(printf '%s\n' "$stderr" | wc -l)" -eq 1 ]
	[[ "$stderr" == *" nacked" ]]
	[ "$(count "$S/q/delayed")" -eq 2 ]
	# the command's own delay (1h) and the queue's backoff (much less)
	for f in $(files q delayed); do
		printf '%s %s\n' "$(cat "$f")" "$(field n "$f")"
	done | sort >"$T/delayed"
	nack=$(awk '$1 == "nack" { print $2 }' "$T/delayed")
	rest=$(awk '$1 == "rest" { print $2 }' "$T/delayed")
	[ "$nack" -ge $(($(date +%s) + 3000)) ]
	[ "$rest" -lt $(($(date +%s) + 3000)) ]
}

@test "batch: -n counts messages, not runs" {
	seq 10 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -b 3 -n 5 q sh -c 'for h; do cat "$h"; echo; done >>"$0/bodies"' "$T"
	seq 5 | cmp - "$T/bodies"
	[ "$(count "$S/q/ready")" -eq 5 ]
}

@test "batch: -j runs batches in parallel" {
	seq 4 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	# each batch waits until both have started: only parallelism ends it
	run timeout 60 mq-work -e -b 2 -j 2 q sh -c '
		touch "$0/started.$$"
		n=0
		while [ $(ls "$0" | grep -c started) -lt 2 ]; do
			n=$((n + 1)); [ $n -lt 600 ] || exit 1; sleep 0.05
		done
		[ $# -eq 2 ]' "$T"
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "batch: the leases of a running batch are renewed" {
	seq 2 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	mq-work -e -L 1 -b 2 q sh -c 'touch "$0/running"; while [ ! -e "$0/done" ]; do sleep 0.05; done' "$T" &
	w=$!
	wait_for 10 exists "$T/running"
	# three leases long: without renewal they would be reclaimed
	sleep 3
	run mq-get q
	[ "$status" -eq 1 ]
	[ "$(count "$S/q/inflight")" -eq 2 ]
	touch "$T/done"
	wait "$w"
	[ "$(msgs q)" -eq 0 ]
}

@test "batch: a command killed mid-batch loses nothing: the batch comes back" {
	conf backoff=0
	seq 6 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	# the first run dies of SIGKILL after reading one body
	mq-work -e -b 3 q sh -c '
		if [ ! -e "$0/killed" ]; then
			touch "$0/killed"; cat "$1" >/dev/null; kill -KILL $$
		fi
		for h; do cat "$h"; echo; done >>"$0/bodies"' "$T"
	sort -n "$T/bodies" | cmp - <(seq 6)
	[ "$(msgs q)" -eq 0 ]
}

@test "batch: mq-work killed with SIGKILL mid-batch: the batch comes back after the lease" {
	seq 3 | mq-put -l q >/dev/null
	T=$BATS_TEST_TMPDIR
	sigkill_worker "$T/started" -L 2 -b 3 q sh -c 'touch "$0/started"; exec sleep 60' "$T"
	run mq-get q
	[ "$status" -eq 1 ]
	wait_for 20 try_get -n 3 q
	[ "$(printf '%s\n' "$h" | wc -l)" -eq 3 ]
	[[ "$h" == *,a2,* ]]
}

@test "batch: a command that cannot be run: 127, the batch returned" {
	seq 3 | mq-put -l q >/dev/null
	run -127 --separate-stderr mq-work -e -b 3 q /nonexistent/cmd
	[[ "$stderr" == *"/nonexistent/cmd: No such file or directory"* ]]
	[ "$(count "$S/q/ready")" -eq 3 ]
	run mq-work -e -b 0 q true
	[ "$status" -eq 64 ]
	run mq-work -e -b 4097 q true
	[ "$status" -eq 64 ]
}

@test "batch: no MQ_H_ variables, not even inherited ones" {
	T=$BATS_TEST_TMPDIR
	mq-put -H a=1 q <<<x
	MQ_H_stale=1 mq-work -b 10 --drain q sh -c 'env | grep ^MQ_H_ >"$0/env"; true' "$T"
	[ ! -s "$T/env" ]
	[ "$(msgs q)" -eq 0 ]
}
