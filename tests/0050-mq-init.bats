#!/usr/bin/env bats
load test_helper

# is_queue DIR - DIR is a complete queue: lock file and the seven directories,
# nothing else (no mq.conf is written by mq).
is_queue() {
	[ -d "$1" ] && [ ! -L "$1" ] || return 1
	[ -f "$1/lock" ] || return 1
	local d
	for d in tmp ready delayed inflight dead held prepared; do
		[ -d "$1/$d" ] && [ ! -L "$1/$d" ] || return 1
	done
	[ "$(ls -A "$1" | sort | tr '\n' ' ')" = "dead delayed held inflight lock prepared ready tmp " ]
}

# no_debris SPOOL - no half-built queue (.init.*) is left in SPOOL
no_debris() {
	[ -z "$(find "$1" -maxdepth 1 -name '.init.*')" ]
}

@test "init: creates SPOOL/QUEUE with lock, tmp, ready, delayed, inflight, dead, held" {
	run mq-init orders
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	is_queue "$S/orders"
	no_debris "$S"
	# empty and usable
	[ "$(count "$S/orders")" -eq 1 ]
	run mq-stat -j orders
	[ "$status" -eq 0 ]
	[ "$output" = '{"queue":"orders","ready":0,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":null,"bytes":0,"done_bytes":0,"paused":false}' ]
}

@test "init: idempotent, an existing queue is fine and kept as it is" {
	run mq-init orders
	[ "$status" -eq 0 ]
	mq-put orders <<<'keep me'
	run mq-init orders
	[ "$status" -eq 0 ]
	run mq-init orders
	[ "$status" -eq 0 ]
	is_queue "$S/orders"
	no_debris "$S"
	f=$(find "$S/orders/ready" -type f)
	[ "$(cat "$f")" = "keep me" ]
}

@test "init: several queues at once" {
	run mq-init a b.c d_e f-g H9
	[ "$status" -eq 0 ]
	for q in a b.c d_e f-g H9; do
		is_queue "$S/$q"
	done
	[ "$(ls -A "$S" | wc -l)" -eq 5 ]
	no_debris "$S"
}

@test "init: a 64-character name is accepted" {
	q=$(printf 'q%.0s' $(seq 64))
	run mq-init "$q"
	[ "$status" -eq 0 ]
	is_queue "$S/$q"
}

@test "init: bad names exit 64 and create nothing" {
	for bad in '../x' 'a/b' '' '.hidden' '-x' "$(printf 'q%.0s' $(seq 65))" \
	    'sp ace' $'new\nline' 'a*' 'é'; do
		run mq-init -- "$bad"
		[ "$status" -eq 64 ]
		[ ! -e "$S" ]
		[ ! -e "$BATS_TEST_TMPDIR/x" ]
	done
}

@test "init: one bad name among good ones creates none of them" {
	run mq-init good1 '../bad' good2
	[ "$status" -eq 64 ]
	[ ! -e "$S/good1" ]
	[ ! -e "$S/good2" ]
	[ ! -e "$BATS_TEST_TMPDIR/bad" ]
}

@test "init: no queue operand is a usage error" {
	run mq-init
	[ "$status" -eq 64 ]
	[[ "$output" == *usage:* ]]
	[ ! -e "$S" ]
}

@test "init: -d names the spool root, MQ_SPOOL is then ignored" {
	run mq-init -d "$BATS_TEST_TMPDIR/other" orders
	[ "$status" -eq 0 ]
	is_queue "$BATS_TEST_TMPDIR/other/orders"
	[ ! -e "$S" ]
	no_debris "$BATS_TEST_TMPDIR/other"
}

@test "init: creates a missing spool root with its parents" {
	deep=$BATS_TEST_TMPDIR/a/b/c/spool
	run mq-init -d "$deep" orders
	[ "$status" -eq 0 ]
	is_queue "$deep/orders"
	export MQ_SPOOL=$BATS_TEST_TMPDIR/x/y/z
	run mq-init orders
	[ "$status" -eq 0 ]
	is_queue "$MQ_SPOOL/orders"
}

@test "init: a relative -d is taken from the working directory" {
	cd "$BATS_TEST_TMPDIR"
	run mq-init -d rel orders
	[ "$status" -eq 0 ]
	is_queue "$BATS_TEST_TMPDIR/rel/orders"
}

@test "init: a queue made by init works for put, get and ack" {
	mq-init jobs
	id=$(mq-put jobs <<<'hello')
	h=$(mq-get jobs)
	[[ "$h" == "$S/jobs/inflight/$id,"* ]]
	[ "$(cat "$h")" = hello ]
	mq-ack "$h"
	[ "$(count "$S/jobs")" -eq 1 ]
}

@test "init: 8 concurrent mq-init and mq-put on a fresh queue make one valid queue" {
	conf sync=none
	for round in 1 2 3 4 5; do
		sp=$BATS_TEST_TMPDIR/race$round
		pids=()
		for i in 1 2 3 4; do
			mq-init -d "$sp" q >/dev/null 2>"$BATS_TEST_TMPDIR/init.$round.$i.err" &
			pids+=($!)
			echo "m$i" | mq-put -d "$sp" q >/dev/null 2>"$BATS_TEST_TMPDIR/put.$round.$i.err" &
			pids+=($!)
		done
		for p in "${pids[@]}"; do
			wait "$p" || {
				echo "round $round: pid $p failed"
				cat "$BATS_TEST_TMPDIR"/*."$round".*.err
				return 1
			}
		done
		is_queue "$sp/q"
		no_debris "$sp"
		[ "$(ls -A "$sp")" = q ]
		[ "$(find "$sp/q/ready" -type f | wc -l)" -eq 4 ]
		[ "$(find "$sp/q/ready" -type f -exec cat {} + | sort | tr '\n' ' ')" = "m1 m2 m3 m4 " ]
		run mq-stat -d "$sp" -j q
		[ "$status" -eq 0 ]
		[[ "$output" == '{"queue":"q","ready":4,"delayed":0,"inflight":0,"dead":0,'* ]]
	done
}
