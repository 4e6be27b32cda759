#!/usr/bin/env bats
# mq-work's rate: -r of one process, and rate in mq.conf, one token bucket
# shared by every mq-work and mq-forward of the queue (the rate record of
# the lock file, Locks in mq(7)).  Timed checks are bounds with slack, read
# over a window measured by the test: the machines are shared and noisy.

bats_require_minimum_version 1.5.0
load test_helper

# ready_count QUEUE - messages not yet claimed
ready_count() {
	find "$S/$1/ready" -type f | wc -l | tr -d ' '
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

# window SECONDS QUEUE - how many messages of QUEUE were claimed in about
# SECONDS, after a second to settle; sets $started and $ms (the window)
window() {
	local a b t0 t1
	sleep 1
	t0=$(now_ms)
	a=$(ready_count "$2")
	sleep "$1"
	b=$(ready_count "$2")
	t1=$(now_ms)
	started=$((a - b))
	ms=$((t1 - t0))
	echo "claimed $started in $ms ms"
}

# work_window SECONDS QUEUE ARG... - window with mq-work ARG... QUEUE true
# running, then stopped
work_window() {
	local secs=$1 q=$2 w
	shift 2
	mq-work "$@" "$q" true &
	w=$!
	window "$secs" "$q"
	kill "$w"
	wait "$w"
}

# record QUEUE - the rate record: the 32 bytes at 320 of the lock file
record() {
	dd if="$S/$1/lock" bs=32 skip=10 count=1 2>/dev/null
}

# plant QUEUE TEXT - write TEXT as the rate record, padded as mq pads it
plant() {
	mq-init "$1"
	printf '%-31s\n' "$2" | dd of="$S/$1/lock" bs=32 seek=10 \
	    conv=notrunc 2>/dev/null
}

@test "rate: -r is exact: 50/s with -j 8 starts 50 a second over a window (was 45-87%: each start was spaced from the last one's end, not from when it was due)" {
	conf sync=none
	seq 2000 | mq-put -l q >/dev/null
	work_window 4 q -j 8 -r 50/s
	# 8% below, or a burst and 2 above, the target over the window
	[ $((started * 1000)) -ge $((50 * ms * 92 / 100)) ]
	[ $((started * 1000)) -le $((50 * ms + 11 * 1000)) ]
}

@test "rate: rate = 20/s in mq.conf is shared: two workers start no more than 20 a second together" {
	conf sync=none rate=20/s
	seq 1000 | mq-put -l q >/dev/null
	mq-work -j 2 q true &
	w1=$!
	mq-work -j 2 q true &
	w2=$!
	window 3 q
	kill "$w1" "$w2"
	wait "$w1" "$w2"
	# an upper bound: each worker's burst (3), and 5% over the rate
	[ $((started * 1000)) -le $((20 * ms * 105 / 100 + 6 * 1000)) ]
	# and they did work
	[ "$started" -ge 10 ]
}

@test "rate: -r lower than rate wins; -r higher than rate does not raise it" {
	conf sync=none rate=100/s
	seq 1000 | mq-put -l q >/dev/null
	work_window 2 q -r 10/s
	[ $((started * 1000)) -le $((10 * ms * 105 / 100 + 3 * 1000)) ]
	[ "$started" -ge 5 ]
	conf sync=none rate=10/s
	work_window 2 q -r 1000/s
	[ $((started * 1000)) -le $((10 * ms * 105 / 100 + 3 * 1000)) ]
}

@test "rate: mq-get by hand is not limited by rate" {
	conf rate=1/h
	seq 5 | mq-put -l q >/dev/null
	run mq-get -n 5 q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 5 ]
}

@test "rate: the queue's mq.conf sets it over the global file's; rate = 0 lifts it" {
	conf rate=1/h
	seq 5 | mq-put -l q >/dev/null
	# the burst of -j 1 (2), then an hour for the next
	run timed 3 mq-work -e q true
	[ "$status" -eq 124 ]
	[ "$(ready_count q)" -eq 3 ]
	echo 'rate = 0' >"$S/q/mq.conf"
	run timeout 20 mq-work -e q true
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	# a queue's bucket of its own (q's is still spent for the hour)
	conf
	seq 5 | mq-put -l q2 >/dev/null
	echo 'rate = 1/h' >"$S/q2/mq.conf"
	run timed 3 mq-work -e q2 true
	[ "$status" -eq 124 ]
	[ "$(ready_count q2)" -eq 3 ]
}

@test "rate: the record: 32 bytes at offset 320 of lock, 'r', a space, 16 digits of microseconds no later than now, spaces, a newline" {
	conf rate=100/s
	seq 3 | mq-put -l q >/dev/null
	mq-work -e q true
	rec=$(record q | od -An -c | tr -d ' \n')
	echo "$rec"
	[ "$(record q | wc -c)" -eq 32 ]
	record q | grep -qE '^r [0-9]{16} {13}$'
	spent=$(record q | cut -c3-18)
	[ "$((10#$spent))" -le "$(($(date +%s%N) / 1000))" ]
	# the tail records are as they were
	[ "$(dd if="$S/q/lock" bs=32 skip=4 count=1 2>/dev/null | cut -c1-21)" = "4 0000000001 00000003" ]
	# mq-get leaves it alone
	before=$(record q)
	mq-put q </dev/null >/dev/null
	mq-get q >/dev/null
	[ "$(record q)" = "$before" ]
}

@test "rate: a record planted far in the future is an empty bucket: the next worker waits one token, not until then" {
	conf rate=4/s
	plant q 'r 9999999999999999'
	seq 3 | mq-put -l q >/dev/null
	run timeout 20 mq-work -e q true
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
	spent=$(record q | cut -c3-18)
	[ "$((10#$spent))" -le "$(($(date +%s%N) / 1000))" ]
	# a number no int64 holds, too
	plant q 'r 99999999999999999999999999999'
	seq 3 | mq-put -l q >/dev/null
	run timeout 20 mq-work -e q true
	[ "$status" -eq 0 ]
	[ "$(msgs q)" -eq 0 ]
}

@test "rate: a record planted in the past, negative or garbage is a full bucket: the burst at once, then the rate" {
	conf rate=1/h
	for r in 'r 0000000000000000' 'r -000000000000001' 'garbage' \
	    'r 12x' "$(printf 'r\t1')"; do
		mq-purge -s ready q >/dev/null 2>&1 || true
		plant q "$r"
		seq 6 | mq-put -l q >/dev/null
		# -j 1 holds 2 tokens: two starts, then an hour for the next
		run timed 3 mq-work -e q true
		echo "record '$r': status $status, $(ready_count q) left"
		[ "$status" -eq 124 ]
		[ "$(ready_count q)" -eq 4 ]
		record q | grep -qE '^r [0-9]{16} {13}$'
	done
}

@test "rate: -r holds in batch mode, -j 1 and -j 8: a batch takes no more messages than tokens" {
	conf sync=none
	seq 3000 | mq-put -l q >/dev/null
	for j in 1 8; do
		work_window 3 q -b 10 -j "$j" -r 50/s
		[ $((started * 1000)) -ge $((50 * ms * 92 / 100)) ]
		[ $((started * 1000)) -le $((50 * ms + 11 * 1000)) ]
	done
}

@test "rate: -r holds in stream mode, -j 1 and -j 8" {
	conf sync=none
	seq 3000 | mq-put -l q >/dev/null
	for j in 1 8; do
		mq-work -s -j "$j" -r 50/s q sh -c 'while read -r id a n; do
			head -c $((n + 1)) >/dev/null; echo "ack $id"; done' &
		w=$!
		window 3 q
		kill "$w"
		wait "$w" || true
		[ $((started * 1000)) -ge $((50 * ms * 92 / 100)) ]
		[ $((started * 1000)) -le $((50 * ms + 11 * 1000)) ]
	done
}
