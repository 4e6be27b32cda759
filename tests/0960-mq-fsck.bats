#!/usr/bin/env bats
# mq-fsck: check and repair queues.

bats_require_minimum_version 1.5.0
load test_helper

# tree - every entry of the spool with its type and mtime, for "nothing
# changed" checks
tree() {
	find "$S" -printf '%p %y %T@\n' | sort
}

@test "fsck: a clean queue: all counts 0, exit 0" {
	seq 3 | mq-put -l q >/dev/null
	run mq-fsck q
	[ "$status" -eq 0 ]
	[ "$output" = "q tmp=0 leases=0 buckets=0 quarantined=0 groups=0 keys=0 dropped=0" ]
}

@test "fsck: every queue of the spool when none is named" {
	mq-init a b
	run mq-fsck
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "a tmp=0 leases=0 buckets=0 quarantined=0 groups=0 keys=0 dropped=0" ]
	[ "${lines[1]}" = "b tmp=0 leases=0 buckets=0 quarantined=0 groups=0 keys=0 dropped=0" ]
}

@test "fsck: stale temporary files go, fresh ones stay; -T sets the bound" {
	mq-init q
	echo old >"$S/q/tmp/1795000000.000001.AAAAAAAA"
	touch -d '2 hours ago' "$S/q/tmp/1795000000.000001.AAAAAAAA"
	echo new >"$S/q/tmp/1795000000.000002.BBBBBBBB"
	touch -d '10 minutes ago' "$S/q/tmp/1795000000.000002.BBBBBBBB"
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == "q tmp=1 "* ]]
	[ ! -e "$S/q/tmp/1795000000.000001.AAAAAAAA" ]
	[ -e "$S/q/tmp/1795000000.000002.BBBBBBBB" ]
	run mq-fsck -T 5m q
	[[ "$output" == "q tmp=1 "* ]]
	[ ! -e "$S/q/tmp/1795000000.000002.BBBBBBBB" ]
}

@test "fsck: an expired lease is returned to ready" {
	mq-put q <<<x >/dev/null
	h=$(mq-get -L 1 q)
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" leases=1 "* ]]
	[[ "$(only q ready)" == *",a1,s2" ]]
}

@test "fsck: empty buckets go, the tail bucket of a priority stays" {
	echo 'bucket_size = 2' >"$MQ_CONF"
	seq 5 | mq-put -l q >/dev/null
	mkdir "$S/q/ready/4.0000000099" "$S/q/delayed/1999999980"
	mq-get -n 4 q | mq-ack
	# the two drained buckets, the stray one, the empty window
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" buckets=4 "* ]]
	[ ! -e "$S/q/ready/4.0000000099" ]
	[ ! -e "$S/q/delayed/1999999980" ]
	# the tail (holding the fifth) is still there
	[ "$(ls "$S/q/ready")" = 4.0000000003 ]
}

@test "fsck: foreign entries are quarantined, never deleted; messages stay" {
	seq 3 | mq-put -l q >/dev/null
	b=$(ls "$S/q/ready")
	echo junk >"$S/q/ready/$b/not-a-message"
	echo tok >"$S/q/ready/$b/1795000000.000001.AAAAAAAA,p4,a1,s3,tAAAAAAAA"
	mkdir "$S/q/inflight/a-directory"
	echo stray >"$S/q/ready/stray-file"
	ln -s /etc "$S/q/ready/4.0000000009"
	mkfifo "$S/q/dead/1795000000.000002.BBBBBBBB,p4,a1,rattempts"
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" quarantined=6 "* ]]
	ls "$S/q/quarantine" | sort >"$BATS_TEST_TMPDIR/got"
	cat >"$BATS_TEST_TMPDIR/want" <<-EOF
		dead_1795000000.000002.BBBBBBBB,p4,a1,rattempts
		inflight_a-directory
		ready_${b}_1795000000.000001.AAAAAAAA,p4,a1,s3,tAAAAAAAA
		ready_${b}_not-a-message
		ready_4.0000000009
		ready_stray-file
	EOF
	diff "$BATS_TEST_TMPDIR/want" "$BATS_TEST_TMPDIR/got"
	[ "$(cat "$S/q/quarantine/ready_${b}_not-a-message")" = junk ]
	# the symlink moved, not what it points to
	[ -L "$S/q/quarantine/ready_4.0000000009" ]
	[ -d /etc ]
	[ "$(count "$S/q/ready")" -eq 3 ]
	run mq-fsck q
	[ "$status" -eq 0 ]
}

@test "fsck: a name quarantined twice gets a numbered twin" {
	mq-init q
	echo one >"$S/q/inflight/junk"
	mq-fsck q >/dev/null || true
	echo two >"$S/q/inflight/junk"
	mq-fsck q >/dev/null || true
	[ "$(cat "$S/q/quarantine/inflight_junk")" = one ]
	[ "$(cat "$S/q/quarantine/inflight_junk.1")" = two ]
}

@test "fsck: -n reports and changes nothing" {
	echo 'bucket_size = 2' >"$MQ_CONF"
	seq 5 | mq-put -l q >/dev/null
	mq-get -n 2 q | mq-ack
	echo junk >"$S/q/inflight/junk"
	echo old >"$S/q/tmp/1795000000.000001.AAAAAAAA"
	touch -d '2 hours ago' "$S/q/tmp/1795000000.000001.AAAAAAAA"
	h=$(mq-get -L 1 q)
	wait_for 15 bash -c "[ \$(date +%s) -gt $(deadline "$h") ]"
	before=$(tree)
	run mq-fsck -n q
	[ "$status" -eq 1 ]
	# (the claim removed the drained first bucket on its way)
	[ "$output" = "q tmp=1 leases=1 buckets=0 quarantined=1 groups=0 keys=0 dropped=0" ]
	[ "$before" = "$(tree)" ]
}

@test "fsck: a stuck ordered group (its out message gone) is released" {
	seq 3 | mq-put -l -g G q >/dev/null
	h=$(mq-get q)
	rm "$h"	# what a crash between a death and its release leaves
	run mq-get q
	[ "$status" -eq 1 ]
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" groups=1 "* ]]
	[ "$(cat "$(mq-get q)")" = 2 ]
	# a busy group with its message out is left alone
	run mq-fsck q
	[ "$status" -eq 0 ]
}

@test "fsck: a group whose release another still owes (byte 4096+H held) is left to it" {
	seq 3 | mq-put -l -g G q >/dev/null
	h=$(mq-get q)
	# a road that made the out message leave, its release not yet made
	# (mq-rm, a purge, a reclaim to dead/, mq-mv: group_flush to come)
	g=$(hash G)
	python3 -c '
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_SH, 1, 4096 + int(sys.argv[2][:4], 16) % 1024)
open(sys.argv[3] + "/held", "w").close()
while not os.path.exists(sys.argv[3] + "/release"):
    time.sleep(0.01)
' "$S/q/lock" "$g" "$BATS_TEST_TMPDIR" &
	wait_for 10 test -e "$BATS_TEST_TMPDIR/held"
	rm "$h"
	run mq-fsck q
	[ "$status" -eq 0 ]
	[[ "$output" == *" groups=0 "* ]]
	run mq-get q
	[ "$status" -eq 1 ]
	# the road died without its release: the group is stuck, and freed
	: >"$BATS_TEST_TMPDIR/release"
	wait
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" groups=1 "* ]]
	[ "$(cat "$(mq-get q)")" = 2 ]
}

@test "fsck: a live key whose message vanished starts its window" {
	echo 'dedup_window = 1s' >"$MQ_CONF"
	id=$(mq-put -k order-7 q <<<x)
	rm "$(find "$S/q/ready" -type f)"
	[ "$(mq-put -k order-7 q <<<x)" = "$id" ]
	run mq-fsck q
	[ "$status" -eq 1 ]
	[[ "$output" == *" keys=1 dropped=0" ]]
	wait_for 10 bash -c "[ \"\$(mq-put -k order-7 q <<<x)\" != $id ]"
}

@test "fsck: a key whose message is still there is left alone" {
	mq-put -k order-8 q <<<x >/dev/null
	run mq-fsck q
	[ "$status" -eq 0 ]
}

@test "fsck: read-only spool: -n works, repair is 73 and changes nothing" {
	mq-init q
	echo junk >"$S/q/inflight/junk"
	ro_spool
	run mq-fsck -n -d "$RO" q
	[ "$status" -eq 1 ]
	[[ "$output" == *" quarantined=1 "* ]]
	run --separate-stderr mq-fsck -d "$RO" q
	[ "$status" -eq 73 ]
	[[ "$stderr" == *"q: cannot repair: "* ]]
	[ -e "$S/q/inflight/junk" ]
}

@test "fsck: usage errors -> 64, missing queue -> 66" {
	run mq-fsck -T soon q
	[ "$status" -eq 64 ]
	run mq-fsck ../q
	[ "$status" -eq 64 ]
	run mq-fsck nosuch
	[ "$status" -eq 66 ]
}

@test "fsck: safe while producers and consumers work: all acked once, nothing quarantined" {
	conf sync=none bucket_size=16
	mq-init q
	T=$BATS_TEST_TMPDIR
	for p in 1 2; do
		seq -f "$p-%g" 400 | mq-put -l q >/dev/null &
	done
	for c in 1 2; do
		(
			n=0
			while [ $n -lt 2000 ]; do
				n=$((n + 1))
				hs=$(mq-get -w -t 3 -n 7 q) || break
				for h in $hs; do cat "$h"; echo; done >>"$T/got.$c"
				printf '%s\n' $hs | mq-ack
			done
		) &
	done
	for i in $(seq 15); do
		mq-fsck q >>"$T/fsck" || true
	done
	wait
	cat "$T"/got.* | sort >"$T/all"
	{ seq -f "1-%g" 400; seq -f "2-%g" 400; } | sort | cmp - "$T/all"
	[ ! -e "$S/q/quarantine" ]
	! grep -v ' quarantined=0 ' "$T/fsck"
}
