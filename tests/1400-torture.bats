#!/usr/bin/env bats
# Crash torture and power loss: short runs of what make torture runs (see
# tests/torture/README.md).  SIGKILL at random moments loses and corrupts
# nothing; after a simulated power loss every id printed with sync=full or
# batch is there, byte for byte; and the accounting catches what it must.
load test_helper

T=$BATS_TEST_DIRNAME/torture

# The torture's rounds are timed for the plain build: under ASan a tool
# starts ten times slower and LeakSanitizer's ptrace hangs in the PID
# namespace, so the sanitizer pass leaves the SIGKILL rounds to the plain
# one (the power cuts run in both).
sanitized_skip() {
	[ "${MQ_SANITIZE:-}" != 1 ] ||
	    skip "crash rounds run in the plain build (timed for it)"
}
if [ "${MQ_SANITIZE:-}" = 1 ]; then
	export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0
fi

# powerloss_ok - skip unless power loss can be simulated here
powerloss_ok() {
	[ "$(id -u)" = 0 ] || skip "power loss needs root (loop devices, mount)"
	losetup -f >/dev/null 2>&1 || skip "no free loop device"
}

# figure NAME - a figure of the last summary line of $output
figure() {
	printf '%s\n' "$output" | tail -n 1 | grep -o "$1 [0-9]*" | cut -d' ' -f2
}

@test "torture: 10 rounds of SIGKILL lose nothing, corrupt nothing, every duplicate explained" {
	sanitized_skip
	run "$T/torture" -r 10 -d "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"lost 0, corrupt 0, unexplained 0, stuck 0"* ]]
	kills=$(printf '%s\n' "$output" | sed -n 's/.* in [0-9]*s, \([0-9]*\) kills.*/\1/p')
	[ "$kills" -ge 5 ]
}

@test "torture: the accounting catches a lost, a corrupt, a twice-acked and an unexplained message" {
	mkdir "$BATS_TEST_TMPDIR/log"
	cd "$BATS_TEST_TMPDIR/log"
	i() { echo "1000000000.00000$1.aaaaaaaa"; }
	for s in 0 1 2 3 4 5 6; do echo "put 1 $s $(i "$s")"; done >p.1
	{
		# 0: delivered, acked; 1: never delivered (lost)
		echo "proc plain 0 $(i 0) 1 1 0 OK END"
		echo "ack plain 0 $(i 0)"
		# 2: its body is wrong
		echo "proc plain 0 $(i 2) 1 1 2 BAD END"
		echo "ack plain 0 $(i 2)"
		# 3: acked twice
		echo "proc plain 0 $(i 3) 1 1 3 OK END"
		echo "ack plain 0 $(i 3)"
		echo "proc plain 0 $(i 3) 2 1 3 OK END"
		echo "ack plain 0 $(i 3)"
		# 4: processed twice, the first mq-ack was killed: fine
		echo "proc plain 0 $(i 4) 1 1 4 OK END"
		echo "ackfail plain 0 $(i 4) 137"
		echo "proc plain 0 $(i 4) 2 1 4 OK END"
		echo "ack plain 0 $(i 4)"
		# 5: processed twice, with nothing that explains it
		echo "proc plain 0 $(i 5) 1 1 5 OK END"
		echo "proc plain 0 $(i 5) 2 1 5 OK END"
		echo "ack plain 0 $(i 5)"
		# 6: processed, never acked, gone
		echo "proc plain 0 $(i 6) 1 1 6 OK END"
	} >c.0
	run awk -f "$T/check.awk" p.1 c.0
	echo "$output"
	[[ $output == *"error lost: 1 1"* ]]
	[[ $output == *"corrupt 1"* ]]
	[[ $output == *"error acked 2 times, left 0: 1 3"* ]]
	[[ $output == *"error processed 2 times, 0 interrupted: 1 5"* ]]
	[[ $output == *"error vanished without an ack: 1 6"* ]]
	[[ $output == *$'\nunexplained 4\n'* ]]
	[[ $output == *$'\nduplicates 3\n'* ]]
	[[ $output == *$'\ndup_kill 1\n'* ]]
	# without the bad ones, all is well
	grep -v " $(i 1)\| $(i 2)\| $(i 3)\| $(i 5)\| $(i 6)" p.1 >p.2
	grep -v " $(i 2)\| $(i 3)\| $(i 5)\| $(i 6)" c.0 >c.1
	run awk -f "$T/check.awk" p.2 c.1
	echo "$output"
	[[ $output != *error* ]]
	[[ $output == *$'\nlost 0\ncorrupt 0\nunexplained 0\n'* ]]
}

@test "power loss, sync=full: every id printed before the cut is there, byte for byte" {
	powerloss_ok
	run "$T/powerloss" -c 2 -t 1 -y full -d "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(figure acknowledged)" -gt 0 ]
	[ "$(figure lost)" -eq 0 ]
	[ "$(figure corrupt)" -eq 0 ]
}

@test "power loss, sync=batch: every id printed before the cut is there, byte for byte" {
	powerloss_ok
	run "$T/powerloss" -c 2 -t 1 -y batch -d "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(figure acknowledged)" -gt 0 ]
	[ "$(figure lost)" -eq 0 ]
	[ "$(figure corrupt)" -eq 0 ]
}

@test "power loss, sync=none: what was never synced is lost (the simulation does cut the power)" {
	powerloss_ok
	run "$T/powerloss" -c 1 -t 1 -y none -d "$BATS_TEST_TMPDIR"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(figure lost)" -gt 0 ]
}

@test "torture: a message that lost or changed its headers is counted as corrupt (sanity check of tt_check)" {
	. "$T/lib.sh"
	tt_body 3 7
	printf '%s' "$BODY" >"$BATS_TEST_TMPDIR/b"
	mq-put -H tt-p=3 -H tt-kind=producer q "$BATS_TEST_TMPDIR/b" >/dev/null
	f=$(files q ready)
	tt_check "$f" || :
	[ "$TT_OK" = OK ]
	setfattr -x user.mq.h "$f"
	tt_check "$f" || :
	[ "$TT_OK" = BAD ]
	# another producer's headers
	setfattr -n user.mq.h -v "0x$(printf 'tt-p=4\0tt-kind=producer\0' |
	    od -An -tx1 | tr -d ' \n')" "$f"
	getfattr --only-values -n user.mq.h "$f" | grep -q tt-p=4
	tt_check "$f" || :
	[ "$TT_OK" = BAD ]
	TT_HDRS="tt-p=3 tt-kind=producer " tt_check "$f" || :
	[ "$TT_OK" = OK ]
}
