#!/usr/bin/env bats
# mq-get -w: sleeping until a message is ready, without polling.

bats_require_minimum_version 1.5.0
load test_helper

# asleep PID - PID is blocked in poll(2) (mq_wait), not running
asleep() {
	grep -q poll "/proc/$1/wchan" 2>/dev/null &&
	    [ "$(awk '{print $3}' "/proc/$1/stat")" = S ]
}

# gone PID - PID has exited
gone() {
	! kill -0 "$1" 2>/dev/null
}

# cpu PID - user + system clock ticks PID has used
cpu() {
	awk '{print $14 + $15}' "/proc/$1/stat"
}

# waiter QUEUE OUT [ARGS] - start mq-get -w in the background, wait until
# it sleeps; its pid is in $w
waiter() {
	local q=$1 out=$2
	shift 2
	mq-get -w "$@" "$q" >"$out" &
	w=$!
	wait_for 10 asleep "$w"
}

@test "wait: a waiting consumer is woken by a put and claims it" {
	mq-init q
	waiter q "$BATS_TEST_TMPDIR/out"
	id=$(mq-put q <<<hello)
	wait_for 10 gone "$w"
	wait "$w"
	[ "$(cat "$(cat "$BATS_TEST_TMPDIR/out")")" = hello ]
	[[ "$(cat "$BATS_TEST_TMPDIR/out")" == */q/inflight/"$id",* ]]
}

@test "wait: a waiting consumer uses no CPU while it sleeps" {
	mq-init q
	waiter q "$BATS_TEST_TMPDIR/out"
	before=$(cpu "$w")
	# two seconds in which a polling loop would burn ticks
	sleep 2
	asleep "$w"
	after=$(cpu "$w")
	echo "ticks before $before after $after"
	[ "$after" -eq "$before" ]
	mq-put q <<<x >/dev/null
	wait "$w"
}

@test "wait: a message already ready is returned at once" {
	mq-put q <<<ready >/dev/null
	run mq-get -w q
	[ "$status" -eq 0 ]
	[ "$(cat "$output")" = ready ]
}

@test "wait: -t ends the wait with exit 1 and no output" {
	mq-init q
	start=$(date +%s%N)
	run --separate-stderr mq-get -w -t 1 q
	end=$(date +%s%N)
	[ "$status" -eq 1 ]
	[ -z "$output" ]
	[ -z "$stderr" ]
	# checked from below only: noise can only make it later
	[ $(((end - start) / 1000000)) -ge 1000 ]
}

@test "wait: -t alone implies -w; -t 0 does not wait" {
	mq-init q
	run mq-get -t 0 q
	[ "$status" -eq 1 ]
	waiter q "$BATS_TEST_TMPDIR/out" -t 1h
	mq-put q <<<x >/dev/null
	wait_for 10 gone "$w"
	wait "$w"
}

@test "wait: -t with a bad duration -> 64" {
	run mq-get -w -t soon q
	[ "$status" -eq 64 ]
	run mq-get -t -1 q
	[ "$status" -eq 64 ]
}

@test "wait: four waiters, one message: delivered once; the rest keep waiting" {
	mq-init q
	for i in 1 2 3 4; do
		waiter q "$BATS_TEST_TMPDIR/out.$i"
		eval "w$i=$w"
	done
	mq-put q <<<one >/dev/null
	# exactly one waiter wins; wait until one is gone
	wait_for 10 bash -c "! kill -0 $w1 2>/dev/null || ! kill -0 $w2 2>/dev/null || ! kill -0 $w3 2>/dev/null || ! kill -0 $w4 2>/dev/null"
	# the others went back to sleep
	n=0
	for p in $w1 $w2 $w3 $w4; do
		if kill -0 "$p" 2>/dev/null; then
			wait_for 10 asleep "$p"
			n=$((n + 1))
		fi
	done
	[ "$n" -eq 3 ]
	[ "$(count "$S/q/inflight")" -eq 1 ]
	seq 3 | mq-put -l q >/dev/null
	wait "$w1" "$w2" "$w3" "$w4"
	cat "$BATS_TEST_TMPDIR"/out.* | sort -u >"$BATS_TEST_TMPDIR/all"
	[ "$(wc -l <"$BATS_TEST_TMPDIR/all")" -eq 4 ]
	[ "$(count "$S/q/inflight")" -eq 4 ]
	[ "$(count "$S/q/ready")" -eq 0 ]
}

@test "wait: a put into a new bucket wakes the waiter (bucket roll-over)" {
	echo 'bucket_size = 2' >"$MQ_CONF"
	seq 2 | mq-put -l q >/dev/null
	mq-get -n 2 q | mq-ack
	waiter q "$BATS_TEST_TMPDIR/out"
	# the tail bucket is full: this put makes a bucket the waiter never saw
	mq-put q <<<third >/dev/null
	wait_for 10 gone "$w"
	wait "$w"
	[ "$(cat "$(cat "$BATS_TEST_TMPDIR/out")")" = third ]
}

@test "wait: a delayed message wakes the waiter when it falls due" {
	mq-init q
	waiter q "$BATS_TEST_TMPDIR/out"
	mq-put -D 2 q <<<later >/dev/null
	wait_for 10 asleep "$w"
	wait_for 15 gone "$w"
	wait "$w"
	[ "$(cat "$(cat "$BATS_TEST_TMPDIR/out")")" = later ]
}

@test "wait: an expired lease wakes the waiter, which gets the message again" {
	mq-put q <<<again >/dev/null
	h=$(mq-get -L 1 q)
	waiter q "$BATS_TEST_TMPDIR/out"
	wait_for 15 gone "$w"
	wait "$w"
	[ "$(cat "$(cat "$BATS_TEST_TMPDIR/out")")" = again ]
	[[ "$(cat "$BATS_TEST_TMPDIR/out")" == *,a2,* ]]
	[ ! -e "$h" ]
}

@test "wait: a lease ending on a read-only spool does not make the waiter spin" {
	mq-put q <<<x >/dev/null
	h=$(mq-get -L 1 q)
	ro_spool
	mq-get -d "$RO" -w -t 3 q >"$BATS_TEST_TMPDIR/out" 2>&1 &
	w=$!
	wait_for 10 asleep "$w"
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	sleep 1
	# a busy loop would have used a second of CPU by now
	[ "$(cpu "$w")" -lt 50 ]
	st=0
	wait "$w" || st=$?
	# nothing could be reclaimed on a read-only spool: none, exit 1
	[ "$st" -eq 1 ]
}

@test "wait: wait = poll in the config polls at poll_interval, and still wakes" {
	conf wait=poll poll_interval=100ms
	mq-init q
	waiter q "$BATS_TEST_TMPDIR/out"
	mq-put q <<<polled >/dev/null
	wait_for 10 gone "$w"
	wait "$w"
	[ "$(cat "$(cat "$BATS_TEST_TMPDIR/out")")" = polled ]
}

@test "wait: bad wait or poll_interval in the config -> 78" {
	mq-init q
	conf wait=sometimes
	run --separate-stderr mq-get -w -t 0 q
	[ "$status" -eq 78 ]
	[[ "$stderr" == *"wait: must be inotify or poll"* ]]
	conf poll_interval=0
	run mq-get -w -t 0 q
	[ "$status" -eq 78 ]
}

@test "wait: -w -n takes what is ready after the first, it does not wait to fill" {
	mq-init q
	waiter q "$BATS_TEST_TMPDIR/out" -n 10
	seq 3 | mq-put -l q >/dev/null
	wait_for 10 gone "$w"
	wait "$w"
	n=$(wc -l <"$BATS_TEST_TMPDIR/out")
	[ "$n" -ge 1 ] && [ "$n" -le 3 ]
}

@test "wait: a missing queue is 66 at once, not a wait" {
	run mq-get -w nosuch
	[ "$status" -eq 66 ]
}
