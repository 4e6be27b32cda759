#!/usr/bin/env bats
# mq-put -g: ordered groups, one message of a group out at a time.

bats_require_minimum_version 1.5.0
load test_helper

# body HANDLE... - the bodies, space separated
bodies() {
	local h out=
	for h; do
		out="$out${out:+ }$(cat "$h")"
	done
	echo "$out"
}

@test "group: one message of a group is out at a time; other groups go on" {
	for i in 1 2 3; do
		mq-put -g A q <<<"a$i" >/dev/null
		mq-put -g B q <<<"b$i" >/dev/null
	done
	mq-put q <<<free >/dev/null
	run mq-get -n 10 q
	[ "${#lines[@]}" -eq 3 ]
	[ "$(bodies "${lines[@]}")" = "a1 b1 free" ]
	a1=${lines[0]}
	run mq-get q
	[ "$status" -eq 1 ]
	mq-ack "$a1"
	[ "$(bodies "$(mq-get -n 10 q)")" = a2 ]
}

@test "group: the next waits for an ack, then comes in put order" {
	seq 5 | mq-put -l -g G q >/dev/null
	got=
	for i in 1 2 3 4 5; do
		h=$(mq-get -n 5 q)
		[ "$(printf '%s\n' "$h" | wc -l)" -eq 1 ]
		got="$got$(cat "$h")"
		mq-ack "$h"
	done
	[ "$got" = 12345 ]
	run mq-get q
	[ "$status" -eq 1 ]
	# a drained group leaves no directory behind
	[ -z "$(ls "$S/q/groups")" ]
}

@test "group: a returned message stays first; the next does not overtake it" {
	seq 2 | mq-put -l -g G q >/dev/null
	h=$(mq-get q)
	mq-nack -D 0 "$h"
	h=$(mq-get q)
	[ "$(cat "$h")" = 1 ]
	[[ "$h" == *,a2,* ]]
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "group: an expired lease brings the same message back, not the next" {
	seq 2 | mq-put -l -g G q >/dev/null
	h=$(mq-get -L 1 q)
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	h=$(mq-get q)
	[ "$(cat "$h")" = 1 ]
	[[ "$h" == *,a2,* ]]
}

@test "group: a message that dies lets the next go (nack at max_attempts)" {
	conf max_attempts=1
	seq 2 | mq-put -l -g G q >/dev/null
	mq-nack "$(mq-get q)"
	[[ "$(only q dead)" == *",rattempts" ]]
	[ "$(cat "$(mq-get q)")" = 2 ]
}

@test "group: a lease that runs out at max_attempts lets the next go" {
	conf max_attempts=1
	seq 2 | mq-put -l -g G q >/dev/null
	h=$(mq-get -L 1 q)
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	h=$(mq-get q)
	[ "$(cat "$h")" = 2 ]
	[[ "$(only q dead)" == *",rattempts" ]]
}

@test "group: a rejected message (mq-work exit 100) lets the next go" {
	seq 3 | mq-put -l -g G q >/dev/null
	mq-work -e q sh -c '[ "$(cat)" != 1 ] || exit 100'
	[[ "$(only q dead)" == *",rrejected" ]]
	[ "$(count "$S/q/ready")" -eq 0 ]
	[ -z "$(ls "$S/q/groups")" ]
}

@test "group: an expired message is buried on the way and the next goes" {
	mq-put -g G -T 1 q <<<stale >/dev/null
	mq-put -g G q <<<fresh >/dev/null
	x=$(field x "$(find "$S/q/ready" -name '*,x*')")
	wait_for 5 now_ge "$x"
	# the claim that buries it may find nothing else; the next one is out
	h=$(mq-get q || mq-get q)
	[ "$(cat "$h")" = fresh ]
	[[ "$(only q dead)" == *",rexpired" ]]
}

@test "group: a stale ack does not let the next go" {
	seq 3 | mq-put -l -g G q >/dev/null
	h=$(mq-get -L 1 q)
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	h2=$(mq-get q)
	run mq-ack "$h"
	[ "$status" -eq 1 ]
	run mq-get q
	[ "$status" -eq 1 ]
	mq-ack "$h2"
	[ "$(cat "$(mq-get q)")" = 2 ]
}

@test "group: a held message holds up its group until released and acked" {
	seq 2 | mq-put -l -g G q >/dev/null
	held=$(mq-get q | mq-hold)
	run mq-get q
	[ "$status" -eq 1 ]
	mq-release "$held"
	h=$(mq-get q)
	[ "$(cat "$h")" = 1 ]
	mq-ack "$h"
	[ "$(cat "$(mq-get q)")" = 2 ]
}

@test "group: a kicked dead message goes back through its group" {
	conf max_attempts=1
	seq 3 | mq-put -l -g G q >/dev/null
	mq-nack "$(mq-get q)"
	h=$(mq-get q)
	[ "$(cat "$h")" = 2 ]
	mq-kick q
	# 2 is out: the kicked 1 waits, before 3 (it is older)
	run mq-get q
	[ "$status" -eq 1 ]
	mq-ack "$h"
	h=$(mq-get q)
	[ "$(cat "$h")" = 1 ]
	mq-ack "$h"
	[ "$(cat "$(mq-get q)")" = 3 ]
}

@test "group: mq-stat counts waiting messages as ready; purge of ready removes them" {
	seq 4 | mq-put -l -g G q >/dev/null
	mq-stat -j q | grep -q '"ready":4'
	mq-purge -s ready q
	mq-stat -j q | grep -q '"ready":0'
	[ -z "$(ls "$S/q/groups")" ]
	mq-put -g G q <<<after >/dev/null
	[ "$(cat "$(mq-get q)")" = after ]
}

@test "group: -g with a key: a retried put is one message, order kept" {
	mq-put -g G -k one q <<<1 >/dev/null
	mq-put -g G -k one q <<<1 >/dev/null
	mq-put -g G -k two q <<<2 >/dev/null
	h=$(mq-get q)
	[ "$(cat "$h")" = 1 ]
	mq-ack "$h"
	h=$(mq-get q)
	[ "$(cat "$h")" = 2 ]
	mq-ack "$h"
	run mq-get q
	[ "$status" -eq 1 ]
}

@test "group: bad groups are usage errors" {
	run mq-put -g '' q <<<x
	[ "$status" -eq 64 ]
	run mq-put -g "$(head -c 5000 /dev/zero | tr '\0' x)" q <<<x
	[ "$status" -eq 64 ]
	[ ! -e "$S/q" ]
}

@test "group: the g field is in the name, and survives claim, nack and dead" {
	conf max_attempts=2
	mq-put -g G q <<<x >/dev/null
	[[ "$(only q ready)" =~ ,g[0-9a-f]{32}$ ]]
	h=$(mq-get q)
	[[ "$h" =~ ,g[0-9a-f]{32},l[0-9]+,t ]]
	mq-nack -D 0 "$h"
	mq-nack "$(mq-get q)"
	[[ "$(only q dead)" =~ ,g[0-9a-f]{32},rattempts$ ]]
}

@test "group: two groups interleaved, each strictly ordered under four consumers" {
	conf sync=none
	for i in $(seq 40); do
		echo "A $i" | mq-put -g A q
		echo "B $i" | mq-put -g B q
	done >/dev/null
	L=$BATS_TEST_TMPDIR/log
	for c in 1 2 3 4; do
		(
			n=0
			while h=$(mq-get -w -t 5 q) && [ $n -lt 200 ]; do
				n=$((n + 1))
				read -r g i <"$h"
				echo "start $g $i" >>"$L"
				sleep 0.01
				echo "end $g $i" >>"$L"
				mq-ack "$h"
			done
		) &
	done
	wait
	[ "$(grep -c '^end' "$L")" -eq 80 ]
	# per group: starts in put order, and never a start while one is open
	awk '
		$1 == "start" {
			if (open[$2]) { print "overlap", $0; bad = 1 }
			if ($3 != last[$2] + 1) { print "order", $0; bad = 1 }
			open[$2] = 1; last[$2] = $3
		}
		$1 == "end" { open[$2] = 0 }
		END { exit bad }' "$L"
	[ "$(awk '$1 == "start" { print $2 }' "$L" | sort | uniq -c | awk '{ print $1 }' | sort -u)" = 40 ]
}
