#!/usr/bin/env bats
# A full disk and a read-only spool: mq-put fails clearly and leaves no
# partial message.  Needs root to mount a small tmpfs.
load test_helper

setup() {
	export MQ_CONF=$BATS_TEST_TMPDIR/mq.conf
	: >"$MQ_CONF"
	[ "$(id -u)" -eq 0 ] || skip "needs root to mount a tmpfs"
	M=$BATS_TEST_TMPDIR/mnt
	mkdir -p "$M"
	mount -t tmpfs -o size=256k tmpfs "$M" || skip "cannot mount tmpfs"
	export MQ_SPOOL=$M/spool
	S=$MQ_SPOOL
}

teardown() {
	[ -n "${M:-}" ] && umount "$M" 2>/dev/null || true
}

@test "put: a full disk fails with 73 and leaves no partial message" {
	echo small | mq-put q
	run mq-put q < <(head -c 1000000 /dev/zero)
	[ "$status" -eq 73 ]
	[[ "$output" == *"q: cannot put message: No space left on device"* ]]
	[ "$(count "$S/q/tmp")" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 1 ]
	# once there is room again, puts work
	run mq-put q <<<"after"
	[ "$status" -eq 0 ]
	[ "$(count "$S/q/ready")" -eq 2 ]
}

@test "put: a full disk in the middle of a batch keeps what was printed" {
	conf sync=batch
	run mq-put -l q < <(for i in $(seq 400); do head -c 2000 /dev/zero | tr '\0' x; echo; done)
	[ "$status" -eq 73 ]
	printed=$(printf '%s\n' "$output" | grep -c '^[0-9]\{10\}\.')
	[ "$(count "$S/q/ready")" -eq "$printed" ]
	[ "$(count "$S/q/tmp")" -eq 0 ]
}

@test "put: a read-only spool fails with 73; readers still work" {
	echo one | mq-put q
	mount -o remount,ro "$M"
	run mq-put q <<<"two"
	[ "$status" -eq 73 ]
	[[ "$output" == *"Read-only file system"* ]]
	run mq-stat -j q
	[ "$status" -eq 0 ]
	[[ "$output" == *'"ready":1'* ]]
	run mq-ls q
	[ "$status" -eq 0 ]
	[ "${#lines[@]}" -eq 1 ]
	run mq-get q
	[ "$status" -ne 0 ]
	[ "$status" -ne 1 ]
	mount -o remount,rw "$M"
	[ "$(count "$S/q/ready")" -eq 1 ]
}
