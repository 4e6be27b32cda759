#!/usr/bin/env bats
# Producers and consumers at the same time: every message is delivered and
# acked exactly once, nothing is lost, nothing is left over.
load test_helper

# producer P N CHUNK - put the bodies P*N .. P*N+N-1, CHUNK per mq-put -l
producer() {
	local p=$1 n=$2 chunk=$3 first i
	for ((i = 0; i < n; i += chunk)); do
		first=$((p * n + i))
		seq "$first" $((first + chunk - 1)) | mq-put -l q >/dev/null ||
		    echo "producer $p: mq-put failed at $first" >>"$W/fail"
	done
}

# consumer C DEADLINE - claim 20 at a time, record each body and handle,
# ack them; stop when the queue is empty and every producer is done (the
# lease is long: nothing is redelivered), or at the deadline
consumer() {
	local c=$1 end=$((SECONDS + $2)) out rc h body
	local -a hs bodies
	while [ "$SECONDS" -lt "$end" ]; do
		rc=0
		out=$(mq-get -n 20 q 2>>"$W/get.err") || rc=$?
		if [ "$rc" -eq 1 ]; then
			[ -e "$W/produced" ] && return 0
			sleep 0.05
			continue
		elif [ "$rc" -ne 0 ]; then
			echo "consumer $c: mq-get exit $rc" >>"$W/fail"
			sleep 0.1
			continue
		fi
		mapfile -t hs <<<"$out"
		bodies=()
		for h in "${hs[@]}"; do
			body=
			IFS= read -r body <"$h" || [ -n "$body" ] ||
			    echo "consumer $c: cannot read $h" >>"$W/fail"
			bodies+=("$body")
		done
		printf '%s\n' "${hs[@]}" >>"$W/handles.$c"
		printf '%s\n' "${bodies[@]}" >>"$W/acked.$c"
		mq-ack "${hs[@]}" 2>>"$W/ack.err" ||
		    echo "consumer $c: mq-ack exit $?" >>"$W/fail"
	done
	echo "consumer $c: deadline reached" >>"$W/fail"
}

# run_mix PRODUCERS CONSUMERS PER_PRODUCER CHUNK DEADLINE
run_mix() {
	local np=$1 nc=$2 n=$3 chunk=$4 deadline=$5 i pid
	local -a prods=() cons=()
	W=$BATS_TEST_TMPDIR/work
	mkdir -p "$W"
	: >"$W/fail"
	mq-init q
	for ((i = 0; i < nc; i++)); do
		consumer "$i" "$deadline" &
		cons+=($!)
	done
	for ((i = 0; i < np; i++)); do
		producer "$i" "$n" "$chunk" &
		prods+=($!)
	done
	for pid in "${prods[@]}"; do
		wait "$pid" || echo "producer pid $pid: exit $?" >>"$W/fail"
	done
	: >"$W/produced"
	for pid in "${cons[@]}"; do
		wait "$pid" || echo "consumer pid $pid: exit $?" >>"$W/fail"
	done
}

# check_all TOTAL - every number 0..TOTAL-1 acked exactly once, on its first
# delivery, and the queue is empty
check_all() {
	local total=$1
	echo "failures:"
	cat "$W/fail" "$W"/*.err
	[ ! -s "$W/fail" ]
	cat "$W"/acked.* >"$W/all"
	echo "duplicates:"
	sort -n "$W/all" | uniq -d | head
	[ -z "$(sort -n "$W/all" | uniq -d)" ]
	[ "$(wc -l <"$W/all")" -eq "$total" ]
	[ "$(sort -n "$W/all")" = "$(seq 0 $((total - 1)))" ]
	# one delivery each: attempts 1, all handles distinct
	cat "$W"/handles.* >"$W/allh"
	[ "$(wc -l <"$W/allh")" -eq "$total" ]
	[ -z "$(grep -v ',a1,s[0-9]*,l[0-9]*,t[0-9A-Za-z]*$' "$W/allh")" ]
	[ -z "$(sort "$W/allh" | uniq -d)" ]
	# nothing left
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[[ "$output" == '{"queue":"q","ready":0,"delayed":0,"inflight":0,"dead":0,"held":0,"done":0,"prepared":0,"oldest":null,"bytes":0,"done_bytes":0,"paused":false}' ]]
	[ "$(find "$S/q/ready" "$S/q/inflight" "$S/q/delayed" "$S/q/dead" "$S/q/tmp" -type f | wc -l)" -eq 0 ]
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "concurrency: 4 producers, 4 consumers, 20000 messages, each acked once" {
	conf sync=none lease=1h
	start=$SECONDS
	run_mix 4 4 5000 100 100
	echo "took $((SECONDS - start)) s"
	check_all 20000
}

@test "concurrency: tiny buckets roll over and drain under contention" {
	conf sync=none lease=1h bucket_size=3
	run_mix 3 3 600 20 60
	check_all 1800
	# drained buckets were removed (the tail of each priority may stay)
	[ "$(find "$S/q/ready" -mindepth 1 -type d | wc -l)" -le 1 ]
}

@test "concurrency: bucket_size=1, one put per process: a producer whose bucket consumers removed takes a new slot, never fails (was EAGAIN, 75, once in bench row 6)" {
	conf sync=none lease=1h bucket_size=1
	# each put reserves the last slot of a bucket, which the next put makes
	# a non-tail bucket that consumers remove once empty: the race between
	# a producer's reservation and its rename, as often as it can come
	run_mix 4 4 150 1 120
	check_all 600
}

@test "concurrency: a ready tail bucket removed by hand is made again by the next put" {
	mq-init q
	echo a | mq-put q >/dev/null
	tail=$(basename "$(find "$S/q/ready" -mindepth 1 -type d)")
	mq-ack "$(mq-get q)"
	# empty, and the tail, which consumers keep: a hand removes it
	[ -d "$S/q/ready/$tail" ]
	rmdir "$S/q/ready/$tail"
	id=$(echo b | mq-put q)
	[ -n "$(find "$S/q/ready/$tail" -name "$id,*")" ]
}

@test "concurrency: concurrent mq-stat during traffic sees consistent totals" {
	conf sync=none lease=1h
	mq-init q
	seq 1 3000 | mq-put -l q >/dev/null
	W=$BATS_TEST_TMPDIR/work
	mkdir -p "$W"
	(
		# move messages around: claim, then nack half, ack the rest
		end=$((SECONDS + 30))
		while [ "$SECONDS" -lt "$end" ] && [ ! -e "$W/stop" ]; do
			out=$(mq-get -n 10 q) || break
			mapfile -t hs <<<"$out"
			mq-nack -D 0 "${hs[@]:0:5}" </dev/null
			if [ "${#hs[@]}" -gt 5 ]; then
				mq-ack "${hs[@]:5}" </dev/null
			fi
		done
	) &
	mover=$!
	for i in $(seq 40); do
		line=$(mq-stat -j q)
		python3 -c '
import json, sys
o = json.loads(sys.argv[1])
print(o["ready"] + o["delayed"] + o["inflight"] + o["dead"])' "$line" >>"$W/totals"
		sleep 0.02
	done
	: >"$W/stop"
	wait "$mover"
	# every total is one the mover could have left between two of its
	# steps: never more than the 3000 put, and never increasing
	sort -n -c -r "$W/totals" || { cat "$W/totals"; false; }
	[ "$(head -1 "$W/totals")" -le 3000 ]
}
